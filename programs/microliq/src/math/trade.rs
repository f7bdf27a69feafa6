//! A market order against the pool at the oracle price: how it changes a position.
//!
//! A trade of signed size `Δ` (buy > 0, sell < 0) on a position `(q, e)` first reduces the
//! position by `r = min(|Δ|, |q|)` when the signs differ, realizing
//!
//! ```text
//! realized = value(r) − e · r / |q|
//! ```
//!
//! and then opens the rest of `Δ` in its own direction, adding its cost to `e`. Every rounding
//! goes against the trader: a long sells at the price rounded down and buys at the price rounded
//! up, the entry share removed rounds toward +∞ (a long is charged more cost basis, a short is
//! credited less), so a trader can never gain an atom by splitting one trade into many.

use super::fixed::*;
use super::health::MarketPrice;

/// The result of applying a trade to a position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TradeOutcome {
    pub new_base: i64,
    pub new_entry_quote: i64,
    /// PnL realized by the reducing part, quote atoms (moves between collateral and pool). Kept
    /// wide: a liquidation plan simulates slices larger than any ledger could take, and only the
    /// slice actually executed is narrowed to the `i64` ledgers.
    pub realized_pnl: i128,
    /// Base atoms of the old position that were closed.
    pub closed_base: u64,
    /// Base atoms newly opened (in the direction of the trade).
    pub opened_base: u64,
    /// `|Δ| · P` rounded up: the notional on which the taker fee is charged (wide, as above).
    pub traded_notional: u128,
}

impl TradeOutcome {
    /// Whether the trade adds risk (opens or increases exposure, including a flip).
    pub fn adds_risk(&self) -> bool {
        self.opened_base > 0
    }
}

/// Applies a trade of `delta` base atoms at `price` to position `(base, entry_quote)`.
pub fn apply_trade(base: i64, entry_quote: i64, delta: i64, price: &MarketPrice) -> MathResult<TradeOutcome> {
    if delta == 0 {
        return Err(MathError::here());
    }
    let new_base = base.checked_add(delta).ok_or_else(MathError::here)?;
    let reduces = base != 0 && (base > 0) != (delta > 0);
    let closed_base = if reduces { delta.unsigned_abs().min(base.unsigned_abs()) } else { 0 };
    let opened_base = delta.unsigned_abs() - closed_base;

    let mut entry = entry_quote as i128;
    let mut realized = 0i128;
    if closed_base > 0 {
        // Share of the entry that leaves with the closed base, rounded toward +∞.
        let entry_closed = if closed_base == base.unsigned_abs() {
            entry
        } else {
            div_i128(entry.mul_or_err(closed_base as i128)?, base.unsigned_abs() as u128, Rounding::Up)?
        };
        // A long closes by selling (receives, rounded down); a short by buying (pays, rounded up).
        let close_value = if base > 0 {
            notional(closed_base, price.oracle_low, Rounding::Down)? as i128
        } else {
            -(notional(closed_base, price.oracle_high, Rounding::Up)? as i128)
        };
        realized = close_value.sub_or_err(entry_closed)?;
        entry = entry.sub_or_err(entry_closed)?;
    }
    if opened_base > 0 {
        // Buying costs the price rounded up; selling short receives it rounded down.
        if delta > 0 {
            entry = entry.add_or_err(notional(opened_base, price.oracle_high, Rounding::Up)? as i128)?;
        } else {
            entry = entry.sub_or_err(notional(opened_base, price.oracle_low, Rounding::Down)? as i128)?;
        }
    }
    if new_base == 0 {
        debug_assert_eq!(entry, 0);
    }
    Ok(TradeOutcome {
        new_base,
        new_entry_quote: to_i64(entry)?,
        realized_pnl: realized,
        closed_base,
        opened_base,
        traded_notional: notional(delta.unsigned_abs(), price.oracle_high, Rounding::Up)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u128 = PRICE_PRECISION;

    #[test]
    fn open_reduce_flip_close() {
        let price = MarketPrice::exact(2 * P); // 2 quote atoms per base atom
        let open = apply_trade(0, 0, 100, &price).unwrap();
        assert_eq!((open.new_base, open.new_entry_quote, open.realized_pnl), (100, 200, 0));
        assert!(open.adds_risk());

        let higher = MarketPrice::exact(3 * P);
        let reduce = apply_trade(100, 200, -40, &higher).unwrap();
        assert_eq!((reduce.new_base, reduce.new_entry_quote, reduce.realized_pnl), (60, 120, 40));
        assert!(!reduce.adds_risk());

        let flip = apply_trade(60, 120, -100, &higher).unwrap();
        assert_eq!(flip.closed_base, 60);
        assert_eq!(flip.opened_base, 40);
        assert_eq!((flip.new_base, flip.new_entry_quote, flip.realized_pnl), (-40, -120, 60));

        let close = apply_trade(-40, -120, 40, &price).unwrap();
        assert_eq!((close.new_base, close.new_entry_quote, close.realized_pnl), (0, 0, 40));
    }

    #[test]
    fn partial_close_charges_the_rounded_up_entry_share() {
        let price = MarketPrice::exact(P);
        // Entry 10 for 3 atoms; closing 1 removes ceil(10/3) = 4 of entry.
        let outcome = apply_trade(3, 10, -1, &price).unwrap();
        assert_eq!(outcome.realized_pnl, 1 - 4);
        assert_eq!(outcome.new_entry_quote, 6);
    }
}
