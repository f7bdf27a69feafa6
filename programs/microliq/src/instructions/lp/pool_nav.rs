//! The pool's net asset value: `NAV = pool_balance − Σ_markets traders' unrealized PnL`.

use anchor_lang::prelude::*;

use crate::health_accounts::load_market_pairs;
use crate::math::{Checked, Rounding};
use crate::state::Exchange;

/// NAV from every market's `(market, oracle)` pair in `remaining` (`0..market_count`, ascending).
///
/// `rounding` is applied to the traders' PnL: `Down` makes the NAV larger (used when minting
/// shares, so the depositor gets no more than fair), `Up` makes it smaller (used when burning).
/// Any market's EMA circuit breaker refuses the action: both mints and burns at a manipulated
/// price would move value between LPs.
pub fn pool_nav<'info>(
    remaining: &'info [AccountInfo<'info>],
    exchange_key: &Pubkey,
    exchange: &Exchange,
    rounding: Rounding,
    now: i64,
) -> Result<i128> {
    let all: Vec<u16> = (0..exchange.market_count).collect();
    let mut traders_pnl = 0i128;
    load_market_pairs(remaining, exchange_key, exchange, &all, now, |market, oracle| {
        oracle.require_no_divergence()?;
        traders_pnl = traders_pnl.add_or_err(market.traders_unrealized_pnl(&oracle.price, rounding)?)?;
        Ok(())
    })?;
    Ok((exchange.pool_balance as i128).sub_or_err(traders_pnl)?)
}
