//! The pool's value: `NAV = pool_balance − Σ_markets traders' unrealized PnL`.

use anchor_lang::prelude::*;

use crate::health_accounts::load_market_pairs;
use crate::math::{Checked, Rounding};
use crate::state::Exchange;

/// The pool valued at current prices.
pub struct PoolValuation {
    /// `pool_balance − Σ traders' unrealized PnL` (quote atoms, may be ≤ 0).
    pub nav: i128,
    /// `Σ_markets max(traders' unrealized PnL, 0)`: what the pool would owe if every winning
    /// market closed now. LP withdrawals must leave at least this much in the pool, so traders'
    /// profits stay payable.
    pub owed_to_traders: i128,
}

/// Values the pool from every market's `(market, oracle)` pair in `remaining`
/// (`0..market_count`, ascending).
///
/// `rounding` is applied to the traders' PnL: `Down` makes the NAV larger (used when minting
/// shares, so the depositor gets no more than fair), `Up` makes it smaller (used when burning).
/// Any market's EMA circuit breaker refuses the action: both mints and burns at a manipulated
/// price would move value between LPs.
pub fn value_pool<'info>(
    remaining: &'info [AccountInfo<'info>],
    exchange_key: &Pubkey,
    exchange: &Exchange,
    rounding: Rounding,
    now: i64,
) -> Result<PoolValuation> {
    let all: Vec<u16> = (0..exchange.market_count).collect();
    let mut traders_pnl = 0i128;
    let mut owed_to_traders = 0i128;
    load_market_pairs(remaining, exchange_key, exchange, &all, now, |market, oracle| {
        oracle.require_no_divergence()?;
        let pnl = market.traders_unrealized_pnl(&oracle.price, rounding)?;
        traders_pnl = traders_pnl.add_or_err(pnl)?;
        owed_to_traders = owed_to_traders.add_or_err(pnl.max(0))?;
        Ok(())
    })?;
    Ok(PoolValuation { nav: (exchange.pool_balance as i128).sub_or_err(traders_pnl)?, owed_to_traders })
}
