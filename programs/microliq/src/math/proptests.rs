//! Property tests of the pure math: direction of health in price, rounding against the account,
//! no overflow across the full range of bounded inputs, and trades that cannot be gamed by
//! splitting.

use proptest::prelude::*;

use super::*;
use crate::state::bounds;

fn rates() -> impl Strategy<Value = (u32, u32)> {
    (bounds::MAINTENANCE_RATE.0..=bounds::MAINTENANCE_RATE.1)
        .prop_flat_map(|mm| (Just(mm), (mm + 1)..=bounds::INITIAL_RATE_MAX))
}

fn position(base: i64, entry: i64, price: u128, (mm, im): (u32, u32)) -> PositionRisk {
    PositionRisk {
        base,
        entry_quote: entry,
        price: MarketPrice::exact(price),
        maintenance_rate: mm,
        initial_rate: im,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// A long's margin `E − M` never falls when its price rises; a short's never rises.
    #[test]
    fn margin_is_monotonic_in_price(
        base in 1i64..=1i64 << 50,
        entry in -(1i64 << 55)..(1i64 << 55),
        collateral in -(1i64 << 55)..(1i64 << 55),
        low in 1u128..=1u128 << 60,
        step in 0u128..=1u128 << 60,
        rates in rates(),
        is_long in any::<bool>(),
    ) {
        let signed = if is_long { base } else { -base };
        let at = |price| maintenance_health(collateral, &[position(signed, entry, price, rates)]).unwrap().margin();
        let (before, after) = (at(low), at(low + step));
        if is_long { prop_assert!(after >= before) } else { prop_assert!(after <= before) }
    }

    /// Computed equity never exceeds the exact rational equity, and computed requirements are
    /// never below the exact ones (checked in exact integer arithmetic on a range that fits).
    #[test]
    fn rounding_is_always_against_the_account(
        base in -(1i64 << 40)..=(1i64 << 40),
        entry in -(1i64 << 40)..(1i64 << 40),
        collateral in -(1i64 << 40)..(1i64 << 40),
        price in 1u128..=1u128 << 50,
        rates in rates(),
    ) {
        let p = position(base, entry, price, rates);
        let health = maintenance_health(collateral, &[p]).unwrap();
        let precision = PRICE_PRECISION as i128;
        let exact_equity_scaled = collateral as i128 * precision + base as i128 * price as i128 - entry as i128 * precision;
        prop_assert!(health.equity * precision <= exact_equity_scaled);
        // M · 1e12 · 1e6 ≥ |q| · P · mm
        let exact_requirement = base.unsigned_abs() as u128 * price * rates.0 as u128;
        prop_assert!(health.maintenance_requirement * PRICE_PRECISION * RATE_PRECISION >= exact_requirement);
        // And by less than one atom of each rounding step (the error stays tiny).
        prop_assert!(health.equity * precision > exact_equity_scaled - 2 * precision);
        let initial = initial_health(collateral, &[p]).unwrap();
        let exact_initial_requirement = base.unsigned_abs() as u128 * price * rates.1 as u128;
        prop_assert!((health.equity - initial) as u128 * PRICE_PRECISION * RATE_PRECISION >= exact_initial_requirement);
    }

    /// Health never overflows across the whole range: any i64 base, entry and collateral, any
    /// representable price, any bounded rates, eight positions.
    #[test]
    fn health_never_overflows_in_range(
        positions in proptest::collection::vec((any::<i64>(), any::<i64>(), 1u128..=MAX_PRICE, rates()), 0..=8),
        collateral in any::<i64>(),
    ) {
        let risks: Vec<_> = positions.iter().map(|&(b, e, p, r)| position(b, e, p, r)).collect();
        prop_assert!(maintenance_health(collateral, &risks).is_ok());
        prop_assert!(initial_health(collateral, &risks).is_ok());
    }

    /// Closing a position in two pieces never realizes more than closing it at once, and the
    /// whole entry always leaves with the last piece.
    #[test]
    fn split_closes_never_gain(
        base in 2i64..=1i64 << 45,
        entry in 0i64..(1i64 << 50),
        first_fraction in 1u32..1_000,
        price in 1u128..=1u128 << 50,
        is_long in any::<bool>(),
    ) {
        let price = MarketPrice::exact(price);
        let (signed, entry) = if is_long { (base, entry) } else { (-base, -entry) };
        let close = |q: i64| if q > 0 { -q.abs() } else { q.abs() };
        let once = apply_trade(signed, entry, close(signed), &price).unwrap();
        let first_base = (base as i128 * first_fraction as i128 / 1_000).max(1) as i64;
        let first_signed = if is_long { first_base } else { -first_base };
        let first = apply_trade(signed, entry, close(first_signed), &price).unwrap();
        let second = apply_trade(first.new_base, first.new_entry_quote, close(first.new_base), &price).unwrap();
        prop_assert_eq!(once.new_base, 0);
        prop_assert_eq!(once.new_entry_quote, 0);
        prop_assert_eq!(second.new_entry_quote, 0);
        prop_assert!(first.realized_pnl as i128 + second.realized_pnl as i128 <= once.realized_pnl as i128);
    }

    /// A round trip (open then close at the same price) never makes money.
    #[test]
    fn round_trip_never_profits(
        delta in -(1i64 << 45)..=(1i64 << 45),
        price in 1u128..=1u128 << 50,
    ) {
        prop_assume!(delta != 0);
        let price = MarketPrice { oracle_low: price, oracle_high: price + 1, ..MarketPrice::exact(price) };
        let open = apply_trade(0, 0, delta, &price).unwrap();
        let close = apply_trade(open.new_base, open.new_entry_quote, -delta, &price).unwrap();
        prop_assert!(close.realized_pnl <= 0);
        prop_assert_eq!(close.new_base, 0);
    }
}
