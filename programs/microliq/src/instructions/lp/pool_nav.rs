//! The pool's value, against the LP who moves (docs/POOL.md).
//!
//! The pool is the counterparty of every position, so its value depends on what traders owe it
//! and what it owes them. A loss a trader cannot pay is not the pool's to spend, and a profit is
//! owed whether or not the losers pay. Deposits and withdrawals therefore see two values:
//!
//! ```text
//! nav_counted     = pool_balance − Σ_markets (long PnL + short PnL)
//! nav_collectable = pool_balance − negative_collateral − Σ_markets,sides max(side PnL, 0)
//! ```
//!
//! A side's PnL includes the funding it has accrued and not yet settled (math::funding), valued
//! at the current price: funding owed to the pool is counted like a trader loss, funding owed by
//! it like a trader profit.
//!
//! A depositor buys shares at `nav_counted` (every unrealized trader loss counted as the pool's,
//! the higher value); a withdrawing LP is paid from `nav_collectable` (no unrealized loss
//! counted, every realized deficit `Σ max(−collateral, 0)` written off, every side's profit
//! owed: the lower value). Neither LP can take value from the other by timing a move around a
//! loss that is not yet collected. (On a pull-oracle market the LP also picks the price, within
//! a staleness window the program caps at 10 s; docs/ORACLES.md.)

use anchor_lang::prelude::*;

use crate::health_accounts::load_market_pairs;
use crate::math::{Checked, Rounding};
use crate::oracle::OracleClock;
use crate::state::Exchange;

/// The pool valued at current prices, both ways.
pub struct PoolValuation {
    /// `pool_balance − Σ traders' unrealized PnL`: what a depositor pays for (quote atoms).
    pub nav_counted: i128,
    /// `pool_balance − negative_collateral − Σ max(side PnL, 0)`: what withdrawing LPs are paid
    /// from (quote atoms, may be ≤ 0).
    pub nav_collectable: i128,
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
    clock: &OracleClock,
) -> Result<PoolValuation> {
    let all: Vec<u16> = (0..exchange.market_count).collect();
    let mut traders_pnl = 0i128;
    let mut owed_to_traders = 0i128;
    load_market_pairs(remaining, exchange_key, exchange, &all, None, clock, |market, oracle| {
        oracle.require_fit_to_add_risk()?;
        let (long, short) = market.traders_unrealized_pnl_by_side(&oracle.price, rounding)?;
        // Funding accrued and not yet settled is owed to or by the pool like PnL.
        let (long_funding, short_funding) = market.traders_funding_by_side(
            &oracle.price,
            exchange.funding_time(clock.unix_timestamp),
            rounding,
        )?;
        let (long, short) = (long.add_or_err(long_funding)?, short.add_or_err(short_funding)?);
        traders_pnl = traders_pnl.add_or_err(long)?.add_or_err(short)?;
        owed_to_traders = owed_to_traders.add_or_err(long.max(0))?.add_or_err(short.max(0))?;
        Ok(())
    })?;
    let pool = exchange.pool_balance as i128;
    Ok(PoolValuation {
        nav_counted: pool.sub_or_err(traders_pnl)?,
        nav_collectable: pool
            .sub_or_err(exchange.negative_collateral as i128)?
            .sub_or_err(owed_to_traders)?,
    })
}
