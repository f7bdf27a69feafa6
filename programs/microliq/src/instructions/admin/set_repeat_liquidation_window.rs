use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::RepeatLiquidationWindowSet;
use crate::state::{exchange_bounds, Exchange};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct SetRepeatLiquidationWindowArgs {
    /// Slots after an account's last recovery from a liquidation (its episode ended at its end
    /// target) within which a new breach of maintenance closes its losing positions whole, one
    /// per call (0 turns repeat breaches off; at most
    /// `exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX`, ~30 days).
    pub window_slots: u64,
}

/// Sets the exchange's repeat-breach window (docs/LIQUIDATION.md, "Repeat breaches"). Takes
/// effect at the next liquidation call; an episode already running keeps what it started with.
#[derive(Accounts)]
pub struct SetRepeatLiquidationWindow<'info> {
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
}

impl SetRepeatLiquidationWindow<'_> {
    pub fn handle(ctx: Context<Self>, args: SetRepeatLiquidationWindowArgs) -> Result<()> {
        require!(
            args.window_slots <= exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX,
            MicroliqError::ExchangeParameterOutOfBounds
        );
        let mut exchange = ctx.accounts.exchange.load_mut()?;
        let previous_window_slots = exchange.repeat_liquidation_window_slots;
        exchange.repeat_liquidation_window_slots = args.window_slots;
        exchange.invariant()?;
        emit!(RepeatLiquidationWindowSet {
            exchange: ctx.accounts.exchange.key(),
            previous_window_slots,
            window_slots: args.window_slots,
        });
        Ok(())
    }
}
