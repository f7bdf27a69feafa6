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
        funding: 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The SBF-friendly signed 128-bit checked multiply agrees with the standard library, and
    /// `signed_value` with the plain signed product, over the whole range.
    #[test]
    fn wide_signed_products_match_the_standard_library(
        a in any::<i128>(),
        b in any::<i128>(),
        shift in 0u32..127,
        base in any::<i64>(),
        price in 0u128..=MAX_PRICE,
    ) {
        prop_assert_eq!(checked_mul_i128(a, b), a.checked_mul(b));
        prop_assert_eq!(checked_mul_i128(a >> shift, b), (a >> shift).checked_mul(b));
        for rounding in [Rounding::Down, Rounding::Up] {
            let exact = div_i128((base as i128) * (price as i128), PRICE_PRECISION, rounding).unwrap();
            prop_assert_eq!(signed_value(base, price, rounding).unwrap(), exact);
        }
    }

    /// The 64-bit-digit division agrees with the standard library's for every magnitude of
    /// numerator and divisor (each shifted to exercise 1- to 128-bit operands).
    #[test]
    fn fast_division_matches_the_standard_library(
        n in any::<u128>(),
        d in 1u128..=u128::MAX,
        n_shift in 0u32..128,
        d_shift in 0u32..128,
        rounding in prop_oneof![Just(Rounding::Down), Just(Rounding::Up)],
    ) {
        let (n, d) = (n >> n_shift, (d >> d_shift).max(1));
        prop_assert_eq!(div_rem_u128(n, d), (n / d, n % d));
        let signed = n as i128;
        let reference = i128::try_from(d).ok().map(|di| {
            let q = signed.div_euclid(di);
            if rounding == Rounding::Up && signed.rem_euclid(di) != 0 { q + 1 } else { q }
        });
        prop_assert_eq!(div_i128(signed, d, rounding).ok(), reference);
    }

    /// `MarketPrice::from_oracle` (one scale, one division per mantissa) equals converting each
    /// bound on its own with `oracle_to_fixed`, errors included.
    #[test]
    fn from_oracle_matches_per_bound_conversion(
        price in any::<u64>(),
        conf in any::<u64>(),
        ema in any::<u64>(),
        expo in -60i32..=20,
        quote_decimals in 0u8..=12,
        base_decimals in 0u8..=18,
        small in any::<bool>(),
    ) {
        // Half the cases with realistic magnitudes, where conversions succeed.
        let (price, conf, ema) = if small { (price >> 24, conf >> 40, ema >> 24) } else { (price, conf, ema) };
        let fixed = |m, r| oracle_to_fixed(m, expo, quote_decimals, base_decimals, r);
        let reference = (|| -> MathResult<MarketPrice> {
            let oracle_low = fixed(price, Rounding::Down)?;
            let oracle_high = fixed(price, Rounding::Up)?;
            let below = price.checked_sub(conf).ok_or_else(MathError::here)?;
            let above = price.checked_add(conf).ok_or_else(MathError::here)?;
            Ok(MarketPrice {
                oracle_low,
                oracle_high,
                conservative_long: fixed(below, Rounding::Down)?.min(fixed(ema, Rounding::Down)?),
                conservative_short: fixed(above, Rounding::Up)?.max(fixed(ema, Rounding::Up)?),
            })
        })();
        let fast = MarketPrice::from_oracle(price, conf, ema, expo, quote_decimals, base_decimals);
        prop_assert_eq!(fast.ok(), reference.ok());
    }

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

/// Market parameters within every bound, with `(1 + β)·mm > b_max + fee`.
fn liquidation_params() -> impl Strategy<Value = (u32, LiquidationParams)> {
    (
        bounds::MAINTENANCE_RATE.0..=200_000u32,
        0..=bounds::LIQUIDATION_BUFFER_MAX,
        0u32..=1_000,
        0u32..=1_000,
        0u32..=1_000,
        0..=bounds::BONUS_RAMP_SLOTS_MAX,
        bounds::CLOSE_FACTOR.0..=bounds::CLOSE_FACTOR.1,
        0u64..=10_000_000,
        prop_oneof![Just(1u64), Just(1_000u64), Just(1_000_000u64)],
    )
        .prop_map(|(mm, buffer, min_share, max_share, fee_share, ramp, close_factor, dust, lot)| {
            // Penalty room: (1 + β)·mm, kept strictly above b_max + fee.
            let room = ((1_000_000u64 + buffer as u64) * mm as u64 / 1_000_000 - 1) as u32;
            let bonus_max = (room / 2).min(bounds::BONUS_RATE_MAX) * max_share / 1_000;
            let bonus_min = bonus_max * min_share / 1_000;
            let fee = (room - bonus_max - 1).min(bounds::INSURANCE_FEE_RATE_MAX) * fee_share / 1_000;
            (
                mm,
                LiquidationParams {
                    liquidation_buffer: buffer,
                    bonus_min_rate: bonus_min,
                    bonus_max_rate: bonus_max,
                    insurance_fee_rate: fee,
                    bonus_ramp_slots: ramp,
                    close_factor,
                    dust_notional: dust,
                    base_lot_size: lot,
                },
            )
        })
}

/// A liquidatable account: one position to slice (long or short, size a lot multiple),
/// optionally a second one in another market, and collateral chosen so that equity lands at a
/// drawn fraction of the maintenance requirement (mostly in `(0, M)`, sometimes `≤ 0`).
fn liquidatable_account() -> impl Strategy<Value = (i64, Vec<PositionRisk>, u32, LiquidationParams, u64)> {
    (
        liquidation_params(),
        1u64..=1_000_000,        // lots
        1_000u128..=1u128 << 44, // price
        any::<bool>(),           // long?
        -300i64..=300,           // entry offset, per mille of notional
        proptest::option::of((-(1i64 << 36)..=1i64 << 36, 1_000u128..=1u128 << 40)),
        prop_oneof![8 => 1i128..1_000, 1 => -200i128..=0], // equity, per mille of M
        0u64..=400,
    )
        .prop_map(|((mm, params), lots, price, long, offset, other, equity_per_mille, slots)| {
            let size = (lots * params.base_lot_size) as i64;
            let base = if long { size } else { -size };
            let value = base as i128 * price as i128 / PRICE_PRECISION as i128;
            let entry = (value + value.abs() * offset as i128 / 1_000) as i64;
            let mut positions = vec![position(base, entry, price, (mm, mm + 1))];
            if let Some((other_base, other_price)) = other {
                let other_value = (other_base as i128 * other_price as i128 / PRICE_PRECISION as i128) as i64;
                positions.push(position(other_base, other_value, other_price, (mm, mm + 1)));
            }
            let without_collateral = maintenance_health(0, &positions).unwrap();
            let wanted_equity = without_collateral.maintenance_requirement as i128 * equity_per_mille / 1_000;
            let collateral = (wanted_equity - without_collateral.equity) as i64;
            (collateral, positions, mm, params, slots)
        })
        .prop_filter("liquidatable", |(collateral, positions, ..)| {
            maintenance_health(*collateral, positions).map(|h| h.is_liquidatable()).unwrap_or(false)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    /// The exact slice is minimal (one lot less misses the target) and sufficient (it reaches
    /// it); every call improves health or closes the whole position; no liquidation creates bad
    /// debt; the bonus stays in range; the keeper's bonus rounds down.
    #[test]
    fn liquidation_plan_properties((collateral, positions, _mm, params, slots) in liquidatable_account(), max_lots in 1u64..=u64::MAX / 2_000_000) {
        let target = LiquidationTarget { collateral, positions: &positions, index: 0, escalated: false };
        let plan = plan_liquidation(&target, slots, max_lots.saturating_mul(params.base_lot_size), &params).unwrap();
        let size = positions[0].base.unsigned_abs();
        let lot = params.base_lot_size;
        let outcome = plan.outcome;
        let before = target_margin_scaled(&plan.health_before, params.liquidation_buffer).unwrap();
        let after = target_margin_scaled(&outcome.health_after, params.liquidation_buffer).unwrap();

        // Bonus within [min, max].
        prop_assert!(plan.bonus_rate >= params.bonus_min_rate && plan.bonus_rate <= params.bonus_max_rate);
        // Never more than the exact slice (plus one lot) unless a whole-close rule applies.
        prop_assert!(outcome.closed_base <= plan.exact_slice.saturating_add(lot) || plan.whole_close.is_some());
        prop_assert!(outcome.closed_base > 0 && outcome.closed_base <= size);
        // Health strictly improves, or the position is fully closed.
        prop_assert!(after > before || outcome.closed_base == size);
        // The liquidation never creates bad debt.
        if plan.health_before.equity > 0 {
            prop_assert!(outcome.health_after.equity >= 0);
        }
        // Rounding: the keeper is paid at most the exact bonus; the penalty is what the account lost.
        prop_assert!(outcome.keeper_bonus as u128 * RATE_PRECISION <= outcome.closed_notional as u128 * plan.bonus_rate as u128);
        let charged = (collateral as i128 + outcome.trade.realized_pnl as i128) - outcome.collateral_after as i128;
        prop_assert_eq!(charged, (outcome.keeper_bonus + outcome.insurance_fee) as i128);

        // The penalty never takes collateral below zero (negative collateral is owed to the pool).
        prop_assert!(outcome.keeper_bonus + outcome.insurance_fee == 0 || outcome.collateral_after >= 0);
        // No remainder is left open at zero equity by a capped slice: the whole position goes.
        if outcome.closed_base < size && plan.whole_close.is_none() {
            prop_assert!(!outcome.equity_exhausted);
        }
        // One call never closes more notional than the ledgers can take.
        prop_assert!(outcome.closed_notional <= MAX_SLICE_NOTIONAL || outcome.closed_base <= lot);

        // A whole close takes the whole position, unless the per-call notional cap cut it.
        if plan.whole_close.is_some() && outcome.closed_base < size {
            prop_assert!(outcome.closed_notional > MAX_SLICE_NOTIONAL / 2);
        }
        if plan.whole_close == Some(WholeClose::TargetUnreachable) && outcome.closed_base == size {
            prop_assert!(after < 0);
        }
        if plan.whole_close.is_none() {
            let others = MaintenanceHealth {
                equity: plan.health_before.equity - collateral as i128 - positions[0].unrealized_pnl().unwrap(),
                maintenance_requirement: plan.health_before.maintenance_requirement - positions[0].maintenance_requirement().unwrap(),
            };
            let reaches = |closed: u64| {
                let o = simulate_slice(&target, &others, closed, plan.bonus_rate, &params).unwrap();
                target_margin_scaled(&o.health_after, params.liquidation_buffer).unwrap() >= 0
            };
            // Sufficient: the exact slice reaches the target.
            prop_assert!(reaches(plan.exact_slice));
            // Minimal: one lot less does not.
            if plan.exact_slice > lot {
                prop_assert!(!reaches(plan.exact_slice - lot));
            }
            // Uncapped, the call closes exactly that slice and lands on target.
            if outcome.closed_base == plan.exact_slice {
                prop_assert!(after >= 0);
            }
        }
    }

    /// The bonus rate never falls as equity falls (for the same requirement and elapsed slots).
    #[test]
    fn bonus_is_monotonic_in_shortfall(
        (_, params) in liquidation_params(),
        requirement in 1u128..=1u128 << 80,
        equity_high in -(1i128 << 80)..=(1i128 << 80),
        drop in 0i128..=(1i128 << 80),
        slots in 0u64..=1_000,
    ) {
        let high = MaintenanceHealth { equity: equity_high, maintenance_requirement: requirement };
        let low = MaintenanceHealth { equity: equity_high - drop, maintenance_requirement: requirement };
        prop_assert!(bonus_rate(&low, slots, &params).unwrap() >= bonus_rate(&high, slots, &params).unwrap());
        prop_assert!(bonus_rate(&high, slots + 1, &params).unwrap() >= bonus_rate(&high, slots, &params).unwrap());
    }
}

/// Funding parameters anywhere within their bounds (including off).
fn funding_params() -> impl Strategy<Value = FundingParams> {
    prop_oneof![
        Just(FundingParams::default()),
        (1u32..=bounds::FUNDING_RATE_SCALE_MAX, 1u32..=bounds::FUNDING_MAX_RATE_MAX)
            .prop_map(|(rate_scale, max_rate)| FundingParams { rate_scale, max_rate }),
    ]
}

const TEN_YEARS_SECS: u64 = 10 * 365 * 24 * 3_600;

/// What the pool received from settlements, against the exact accruals settled.
#[derive(Default)]
struct PoolLedger {
    /// −Σ payments (quote atoms).
    received_by_pool: i128,
    /// Σ settled accruals (base atoms × 1e15).
    exact_share: i128,
    settlements: i128,
}

impl PoolLedger {
    /// Settles a position `(base, settled_at)` against `state` at `price`.
    fn settle(&mut self, state: &mut FundingState, base: i64, settled_at: i64, price: &MarketPrice) {
        let accrued = funding_accrued(base, state.index, settled_at);
        if base != 0 && accrued != 0 {
            self.received_by_pool -= funding_payment(accrued, price).unwrap();
            self.exact_share += accrued;
            self.settlements += 1;
            state.settle(base, accrued).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Ten years at the largest rate and the largest open interest, in one advance or in many:
    /// the index stays inside `i64`, each side's accrual inside `i128`, and a position's payment
    /// (at a notional the `i64` ledgers hold) is computed without overflow.
    #[test]
    fn ten_years_of_the_largest_rate_do_not_overflow(
        steps in prop_oneof![Just(1u64), Just(24u64), Just(3_650u64), 1u64..=20_000],
        long_heavy in any::<bool>(),
        price in 1u128..=MAX_PRICE,
    ) {
        let params = FundingParams {
            rate_scale: bounds::FUNDING_RATE_SCALE_MAX,
            max_rate: bounds::FUNDING_MAX_RATE_MAX,
        };
        let largest = i64::MAX as u64; // `max_open_interest` is bounded by i64::MAX
        let (long_base, short_base) = if long_heavy { (largest, 0) } else { (0, largest) };
        let mut state = FundingState { updated_at: 1, ..FundingState::default() };
        let step = TEN_YEARS_SECS / steps;
        let mut now = 1i64;
        for _ in 0..steps {
            now += step as i64;
            let advance = state.advance_to(FundingTime::at(now), long_base, short_base, params, true).unwrap();
            state.apply(&advance, FundingTime::at(now), long_base, short_base).unwrap();
        }
        let bound = (TEN_YEARS_SECS as u128 * bounds::FUNDING_MAX_RATE_MAX as u128 * 1_000_000_000 / 3_600) as i64;
        prop_assert!(state.index.abs() <= bound && bound < i64::MAX / 10);
        prop_assert_eq!(state.long_accrued + state.short_accrued, largest as i128 * state.index.abs() as i128);
        // A position whose notional is the largest the ledgers hold pays 876× it at most.
        let base = (i64::MAX as u128 * PRICE_PRECISION / price).min(i64::MAX as u128) as i64;
        let base = if long_heavy { base } else { -base };
        let payment = position_funding(base, state.index, 0, &MarketPrice::exact(price)).unwrap();
        prop_assert!(payment <= 0);
        prop_assert!(payment.unsigned_abs() <= i64::MAX as u128 * 877);
    }

    /// The rate has the sign of the skew, never exceeds the clamp, and grows with the skew.
    #[test]
    fn the_crowded_side_pays_within_the_clamp(
        params in funding_params(),
        long_base in 0u64..=i64::MAX as u64,
        short_base in 0u64..=i64::MAX as u64,
        more in 0u64..=1u64 << 40,
    ) {
        let rate = funding_rate_per_hour(long_base, short_base, params).unwrap();
        prop_assert!(rate.unsigned_abs() as u128 <= params.max_rate as u128 * 1_000_000_000);
        let sign_ok = match long_base.cmp(&short_base) {
            core::cmp::Ordering::Greater => rate >= 0,
            core::cmp::Ordering::Less => rate <= 0,
            core::cmp::Ordering::Equal => rate == 0,
        };
        prop_assert!(sign_ok);
        let heavier = funding_rate_per_hour(long_base.saturating_add(more), short_base, params).unwrap();
        prop_assert!(heavier >= rate);
    }

    /// A payment is the exact value `−q·ΔK·P / 1e27` rounded against the account: never more
    /// than exact for what it receives, never less for what it owes, and within one atom.
    #[test]
    fn funding_rounds_against_the_account(
        base in -100_000_000_000i64..=100_000_000_000,
        index_now in -100_000_000_000_000i64..=100_000_000_000_000,
        index_then in -100_000_000_000_000i64..=100_000_000_000_000,
        low in 1u128..=5_000_000_000_000,
        spread in 0u128..=1_000,
    ) {
        let price = MarketPrice { oracle_low: low, oracle_high: low + spread, ..MarketPrice::exact(low) };
        let payment = position_funding(base, index_now, index_then, &price).unwrap();
        let accrued = base as i128 * (index_now as i128 - index_then as i128);
        // |accrued| ≤ 2e25 and price ≤ 5e12: the exact numerator fits i128.
        let used = if accrued > 0 { price.oracle_high } else { price.oracle_low };
        let exact_numerator = -accrued * used as i128;
        let scale = (PRICE_PRECISION * FUNDING_PRECISION) as i128;
        prop_assert!(payment * scale <= exact_numerator);
        prop_assert!(exact_numerator - payment * scale < scale);
        // The same accrual in the holder's favour is never less.
        prop_assert!(funding_value(accrued, &price, Rounding::Up).unwrap() >= payment);
    }

    /// Open, move the index, settle, close, in any order: each side's accrual in the market equals
    /// the sum over its open positions of `q·(K − K_q)`, and when every position has settled the
    /// pool has received at least its exact share `Σ_sides accrued·P` and at most one atom per
    /// settlement more (the rest of each rounding).
    #[test]
    fn both_sides_sum_to_the_pool_share(
        params in funding_params(),
        ops in proptest::collection::vec((0usize..6, -1_000_000_000i64..=1_000_000_000, 0u64..=7_200), 1..60),
        price in 1_000u128..=100_000_000_000,
    ) {
        let price = MarketPrice::exact(price);
        let mut state = FundingState { updated_at: 1, ..FundingState::default() };
        let mut positions = [(0i64, 0i64); 6]; // (base, index at settlement)
        let (mut long_base, mut short_base) = (0u64, 0u64);
        let mut now = 1i64;
        let mut ledger = PoolLedger::default();
        for (slot, change, elapsed) in ops {
            now += elapsed as i64;
            let advance = state.advance_to(FundingTime::at(now), long_base, short_base, params, true).unwrap();
            state.apply(&advance, FundingTime::at(now), long_base, short_base).unwrap();
            // Settle the touched position, then change its size.
            let (base, settled_at) = positions[slot];
            ledger.settle(&mut state, base, settled_at, &price);
            let new_base = base.saturating_add(change);
            for (b, add) in [(base, false), (new_base, true)] {
                let side = if b > 0 { &mut long_base } else { &mut short_base };
                if add { *side += b.unsigned_abs() } else { *side -= b.unsigned_abs() }
            }
            positions[slot] = (new_base, state.index);
            let long_sum: i128 = positions.iter().filter(|p| p.0 > 0).map(|p| funding_accrued(p.0, state.index, p.1)).sum();
            let short_sum: i128 = positions.iter().filter(|p| p.0 < 0).map(|p| funding_accrued(p.0, state.index, p.1)).sum();
            prop_assert_eq!((state.long_accrued, state.short_accrued), (long_sum, short_sum));
        }
        // Settle everything that is left.
        now += 3_600;
        let advance = state.advance_to(FundingTime::at(now), long_base, short_base, params, true).unwrap();
        state.apply(&advance, FundingTime::at(now), long_base, short_base).unwrap();
        for (base, settled_at) in positions {
            ledger.settle(&mut state, base, settled_at, &price);
        }
        prop_assert_eq!((state.long_accrued, state.short_accrued), (0, 0));
        let scale = (PRICE_PRECISION * FUNDING_PRECISION) as i128;
        let exact_numerator = ledger.exact_share * price.oracle_low as i128;
        prop_assert!(ledger.received_by_pool * scale >= exact_numerator);
        prop_assert!(ledger.received_by_pool * scale <= exact_numerator + ledger.settlements * scale);
        // The pool never pays out net: the crowded side pays at least what the other receives.
        prop_assert!(ledger.exact_share >= 0);
    }
}

proptest! {
    /// The two-product multiply by a 64-bit factor agrees with `u128::checked_mul`.
    #[test]
    fn multiply_by_a_64_bit_factor_matches_the_standard_library(a in any::<u128>(), b in any::<u64>(), shift in 0u32..128) {
        prop_assert_eq!(checked_mul_u128_u64(a >> shift, b), (a >> shift).checked_mul(b as u128));
    }
}
