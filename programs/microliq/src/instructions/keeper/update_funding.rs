use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::settlement::advance_funding;
use crate::state::{Exchange, Market};

/// Permissionless crank: advances a market's funding index to the clock (emitting
/// `FundingUpdated` when it moves). Needs no price and no signer but the fee payer: the index is
/// a fraction of notional (math::funding), so every instruction that writes the market would
/// do the same; the crank only keeps the index fresh for readers of a quiet market.
#[derive(Accounts)]
pub struct UpdateFunding<'info> {
    /// Its close-pause clock: seconds its closes were paused are not charged.
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub market: AccountLoader<'info, Market>,
}

impl UpdateFunding<'_> {
    pub fn handle(ctx: Context<Self>) -> Result<()> {
        let mut market = ctx.accounts.market.load_mut()?;
        advance_funding(&mut market, &*ctx.accounts.exchange.load()?, Clock::get()?.unix_timestamp)?;
        market.invariant()
    }
}
