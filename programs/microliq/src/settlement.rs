//! Settling funding into collateral (math::funding, docs/FUNDING.md).
//!
//! Every instruction that writes a market first advances its funding index to the clock
//! ([`advance_funding`]), and every instruction that touches a position in a market it writes
//! settles that position's funding ([`settle_funding`]) before anything else changes (except a
//! deposit, which anyone may make, for a payment that would take the collateral below zero): the
//! account's collateral takes the payment, the pool's ledger the opposite, both in the one quote
//! vault (no token moves). Whoever settles checks the pool's coverage on the instruction's net
//! payout before returning success. Positions in markets an instruction only reads keep their funding
//! unsettled, and health counts it (`PositionRisk::funding`), so it makes no difference to any
//! decision which of the two happened.

use anchor_lang::prelude::*;

use crate::events::FundingUpdated;
use crate::math::{self, Checked, MarketPrice};
use crate::state::{Exchange, MarginAccount, Market};

/// Advances `market`'s funding index to `now` (the seconds `exchange`'s closes were paused not
/// charged) and emits [`FundingUpdated`] when it moved.
///
/// Never inlined (nor [`settle_funding`]): `liquidate`'s frame is close to SBF's 4 KiB limit, and
/// an event's serialization inlined there exceeds it.
#[inline(never)]
pub fn advance_funding(market: &mut Market, exchange: &Exchange, now: i64) -> Result<()> {
    let (long_base, short_base) = (market.long_base, market.short_base);
    let advance = market.advance_funding(exchange.funding_time(now))?;
    if advance.index_delta != 0 {
        crate::event_log::emit_funding_updated(&FundingUpdated {
            market_index: market.market_index,
            funding_index: advance.index_after,
            index_delta: advance.index_delta,
            rate_per_hour: advance.rate_per_hour,
            elapsed_secs: advance.elapsed_secs,
            long_base,
            short_base,
            unix_timestamp: now,
        });
    }
    Ok(())
}

/// Settles the funding of `account`'s position slot `slot` against `market` (advanced to now) at
/// `price`, and records the market's index as the slot's settlement point (also for a free slot,
/// so a position opened there starts from now). Returns the collateral change (negative = paid).
///
/// A payment to the trader comes out of the pool like a realized profit; the instruction checks
/// that the pool still covers every realized deficit once, on its net payout at the end
/// (`PoolInsufficient`), so that a receipt never blocks a liquidation or a close that pays the
/// pool more than it takes. **Every caller must make that check on every path that returns
/// success after a settlement** (the second hostile review found an early return that did not).
#[inline(never)]
pub fn settle_funding(
    exchange: &mut Exchange,
    market: &mut Market,
    account: &mut MarginAccount,
    slot: usize,
    price: &MarketPrice,
) -> Result<i64> {
    let index = market.funding_index;
    let position = account.positions[slot];
    let settled_at = account.funding_indexes[slot];
    account.funding_indexes[slot] = index;
    if !position.is_open() || settled_at == index {
        return Ok(0);
    }
    let accrued = math::funding_accrued(position.base, index, settled_at);
    let payment = math::to_i64(math::funding_payment(accrued, price)?)?;
    let side =
        if position.base > 0 { &mut market.funding_long_accrued } else { &mut market.funding_short_accrued };
    side.set(side.get().sub_or_err(accrued)?);
    exchange.change_collateral(&mut account.collateral, payment)?;
    exchange.pool_balance = exchange.pool_balance.sub_or_err(payment)?;
    Ok(payment)
}
