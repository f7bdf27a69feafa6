use anchor_lang::prelude::*;

use crate::settlement::advance_funding;
use crate::state::Market;

/// Permissionless crank: advances a market's funding index to the clock (emitting
/// `FundingUpdated` when it moves). Needs no price and no signer but the fee payer: the index is
/// a fraction of notional (math::funding), so every instruction that writes the market would
/// do the same; the crank only keeps the index fresh for readers of a quiet market.
#[derive(Accounts)]
pub struct UpdateFunding<'info> {
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
}

impl UpdateFunding<'_> {
    pub fn handle(ctx: Context<Self>) -> Result<()> {
        let mut market = ctx.accounts.market.load_mut()?;
        advance_funding(&mut market, Clock::get()?.unix_timestamp)?;
        market.invariant()
    }
}
