use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::ExchangeUpdated;
use crate::state::{exchange_bounds, Exchange};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct UpdateExchangeArgs {
    /// Most the insurance fund pays for one bankruptcy, quote atoms.
    pub insurance_cap_per_event: u64,
    /// Most the insurance fund pays a keeper for closing an insolvent position, quote atoms
    /// (at most 100 whole quote units).
    pub insolvent_close_reward: u64,
    /// Slots after its latest slice at which a liquidation episode lapses (1 … 216,000).
    pub liquidation_episode_slots: u64,
}

impl UpdateExchangeArgs {
    /// The bounds of `exchange_bounds`, for a quote mint of `quote_decimals`.
    pub fn validate(&self, quote_decimals: u8) -> Result<()> {
        use exchange_bounds::*;
        let reward_max = INSOLVENT_CLOSE_REWARD_MAX_UNITS.saturating_mul(10u64.pow(quote_decimals as u32));
        let (episode_min, episode_max) = LIQUIDATION_EPISODE_SLOTS;
        require!(
            self.insolvent_close_reward <= reward_max
                && (episode_min..=episode_max).contains(&self.liquidation_episode_slots),
            MicroliqError::ExchangeParameterOutOfBounds
        );
        Ok(())
    }
}

/// Updates exchange-wide parameters.
#[derive(Accounts)]
pub struct UpdateExchange<'info> {
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
}

impl UpdateExchange<'_> {
    pub fn validate(&self, args: &UpdateExchangeArgs) -> Result<()> {
        args.validate(self.exchange.load()?.quote_decimals)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: UpdateExchangeArgs) -> Result<()> {
        let mut exchange = ctx.accounts.exchange.load_mut()?;
        exchange.insurance_cap_per_event = args.insurance_cap_per_event;
        exchange.insolvent_close_reward = args.insolvent_close_reward;
        exchange.liquidation_episode_slots = args.liquidation_episode_slots;
        exchange.invariant()?;
        emit!(ExchangeUpdated {
            exchange: ctx.accounts.exchange.key(),
            insurance_cap_per_event: args.insurance_cap_per_event,
            insolvent_close_reward: args.insolvent_close_reward,
            liquidation_episode_slots: args.liquidation_episode_slots,
        });
        Ok(())
    }
}
