use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::PauseChanged;
use crate::state::{pause, Exchange, Market};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct SetPauseArgs {
    /// The new set of paused action classes (bits of [`crate::state::pause`]).
    pub paused: u16,
}

/// Sets the exchange-wide pause flags.
#[derive(Accounts)]
pub struct SetExchangePause<'info> {
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
}

impl SetExchangePause<'_> {
    pub fn validate(&self, args: &SetPauseArgs) -> Result<()> {
        require!(args.paused & !pause::ALL == 0, MicroliqError::ParameterOutOfBounds);
        Ok(())
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: SetPauseArgs) -> Result<()> {
        let mut exchange = ctx.accounts.exchange.load_mut()?;
        // Funding is not charged while the exchange's closes are paused (the close-pause clock).
        exchange.set_paused(args.paused, Clock::get()?.unix_timestamp);
        exchange.invariant()?;
        emit!(PauseChanged {
            exchange: ctx.accounts.exchange.key(),
            market_index: None,
            paused: args.paused,
        });
        Ok(())
    }
}

/// Sets one market's pause flags (trading and liquidation classes apply per market).
#[derive(Accounts)]
pub struct SetMarketPause<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub market: AccountLoader<'info, Market>,
}

impl SetMarketPause<'_> {
    pub fn validate(&self, args: &SetPauseArgs) -> Result<()> {
        require!(args.paused & !pause::ALL == 0, MicroliqError::ParameterOutOfBounds);
        Ok(())
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: SetPauseArgs) -> Result<()> {
        let mut market = ctx.accounts.market.load_mut()?;
        // Funding accrues only while closes are allowed: charge the interval so far under the
        // flags that held during it.
        let now = Clock::get()?.unix_timestamp;
        crate::settlement::advance_funding(&mut market, &*ctx.accounts.exchange.load()?, now)?;
        market.paused = args.paused;
        market.invariant()?;
        emit!(PauseChanged {
            exchange: ctx.accounts.exchange.key(),
            market_index: Some(market.market_index),
            paused: args.paused,
        });
        Ok(())
    }
}
