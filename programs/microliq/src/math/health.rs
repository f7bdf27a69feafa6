//! Account health, as in DESIGN.md §Health, for a margin account with collateral `C` and
//! positions `(q_i, e_i)` (signed base, signed entry quote; a short has `q < 0`, `e < 0`):
//!
//! ```text
//! unrealized_i = q_i · P_i − e_i
//! funding_i    = what settling the position's funding now adds to C (≤ 0 when it owes;
//!                math::funding, rounded against the account)
//! equity       E = C + Σ unrealized_i + Σ funding_i
//! maint_req    M = Σ |q_i| · P_i · mm_i
//! init_req     I = Σ |q_i| · P'_i · im_i        (P' conservative, also used for E')
//! ```
//!
//! The account is liquidatable when `E < M`; a risk-adding instruction must leave `E' − I ≥ 0`.
//!
//! Rounding is always against the account: a long is valued at the oracle price rounded down and
//! a short at the oracle price rounded up, `q·P` rounds toward −∞, and requirements round up
//! (the notional first, then the rate), so the computed health is never better than the exact one.

use super::fixed::*;

/// One market's oracle prices in fixed point ([`PRICE_PRECISION`]), each rounded against the
/// holder of the side that uses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarketPrice {
    /// Oracle (maintenance) price rounded down: what a long is worth.
    pub oracle_low: u128,
    /// Oracle price rounded up: what a short owes, and the notional behind requirements.
    pub oracle_high: u128,
    /// `min(price − conf, ema)` rounded down: a long's value when adding risk.
    pub conservative_long: u128,
    /// `max(price + conf, ema)` rounded up: a short's value when adding risk.
    pub conservative_short: u128,
}

impl MarketPrice {
    /// A price with no confidence band and no EMA gap (tests, simulations).
    pub fn exact(price: u128) -> Self {
        MarketPrice {
            oracle_low: price,
            oracle_high: price,
            conservative_long: price,
            conservative_short: price,
        }
    }

    /// Converts an oracle reading (`price ± conf`, `ema`, all `· 10^expo` dollars per whole base
    /// unit; `price > conf ≥ 0`, `ema > 0`) into fixed point, each bound rounded against the
    /// holder that uses it. Shared by the program and off-chain code.
    ///
    /// Equal to converting each bound with [`oracle_to_fixed`], but the scale is looked up once
    /// and each mantissa is multiplied or divided once (both roundings come from one division).
    pub fn from_oracle(
        price: u64,
        conf: u64,
        ema: u64,
        expo: i32,
        quote_decimals: u8,
        base_decimals: u8,
    ) -> MathResult<Self> {
        let below = price.checked_sub(conf).ok_or_else(MathError::here)?;
        let above = price.checked_add(conf).ok_or_else(MathError::here)?;
        let exponent =
            expo as i64 + quote_decimals as i64 - base_decimals as i64 + PRICE_PRECISION_EXP as i64;
        // (rounded down, rounded up) of mantissa · 10^exponent, each ≤ MAX_PRICE.
        let convert = |mantissa: u64| -> MathResult<(u128, u128)> {
            if exponent >= 0 {
                let scale = pow10(u32::try_from(exponent).map_err(|_| MathError::here())?)?;
                let value = checked_mul_u128(mantissa as u128, scale).ok_or_else(MathError::here)?;
                if value > MAX_PRICE {
                    return Err(MathError::here());
                }
                Ok((value, value))
            } else if exponent < -38 {
                // 10^39 exceeds u128 and any u64 mantissa: the value rounds to 0 or 1.
                Ok((0, u128::from(mantissa != 0)))
            } else {
                // A quotient of a u64 mantissa never exceeds MAX_PRICE.
                let (quotient, remainder) = div_rem_u128(mantissa as u128, pow10(-exponent as u32)?);
                Ok((quotient, quotient + (remainder != 0) as u128))
            }
        };
        let (oracle_low, oracle_high) = convert(price)?;
        let (below_down, _) = convert(below)?;
        let (_, above_up) = convert(above)?;
        let (ema_down, ema_up) = convert(ema)?;
        Ok(MarketPrice {
            oracle_low,
            oracle_high,
            conservative_long: below_down.min(ema_down),
            conservative_short: above_up.max(ema_up),
        })
    }

    /// The maintenance price that values a position of this sign against its holder.
    #[inline]
    pub fn mark_for(&self, base: i64) -> u128 {
        if base >= 0 {
            self.oracle_low
        } else {
            self.oracle_high
        }
    }

    /// The conservative price that values a position of this sign against its holder.
    #[inline]
    pub fn conservative_for(&self, base: i64) -> u128 {
        if base >= 0 {
            self.conservative_long
        } else {
            self.conservative_short
        }
    }
}

/// What the health code needs of one position: its size, entry, the market's price and rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionRisk {
    pub base: i64,
    pub entry_quote: i64,
    pub price: MarketPrice,
    /// Maintenance margin fraction `mm` ([`RATE_PRECISION`]).
    pub maintenance_rate: u32,
    /// Initial margin fraction `im` ([`RATE_PRECISION`]).
    pub initial_rate: u32,
    /// Unsettled funding: the collateral change its settlement now would make, quote atoms
    /// (negative when the position owes; [`super::funding::position_funding`]).
    pub funding: i128,
}

impl PositionRisk {
    /// `q · P − e` at the maintenance price, rounded toward −∞.
    pub fn unrealized_pnl(&self) -> MathResult<i128> {
        signed_value(self.base, self.price.mark_for(self.base), Rounding::Down)?
            .sub_or_err(self.entry_quote as i128)
    }

    /// `|q| · P` at the maintenance price, rounded up.
    pub fn notional(&self) -> MathResult<u128> {
        notional(self.base.unsigned_abs(), self.price.oracle_high, Rounding::Up)
    }

    /// `|q| · P · mm`, rounded up.
    pub fn maintenance_requirement(&self) -> MathResult<u128> {
        apply_rate(self.notional()?, self.maintenance_rate, Rounding::Up)
    }

    /// `q · P' − e` at the conservative price, rounded toward −∞.
    pub fn conservative_unrealized_pnl(&self) -> MathResult<i128> {
        signed_value(self.base, self.price.conservative_for(self.base), Rounding::Down)?
            .sub_or_err(self.entry_quote as i128)
    }

    /// `|q| · P' · im`, rounded up.
    pub fn initial_requirement(&self) -> MathResult<u128> {
        let conservative_notional =
            notional(self.base.unsigned_abs(), self.price.conservative_for(self.base), Rounding::Up)?;
        apply_rate(conservative_notional, self.initial_rate, Rounding::Up)
    }
}

/// Equity and maintenance requirement of an account at maintenance prices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceHealth {
    /// `E = C + Σ (q·P − e) + Σ unsettled funding`, quote atoms.
    pub equity: i128,
    /// `M = Σ |q|·P·mm`, quote atoms.
    pub maintenance_requirement: u128,
}

impl MaintenanceHealth {
    /// `E < M`.
    pub fn is_liquidatable(&self) -> bool {
        self.equity < self.maintenance_requirement as i128
    }

    /// `E − M` (negative when liquidatable).
    pub fn margin(&self) -> i128 {
        self.equity - self.maintenance_requirement as i128
    }

    /// The margin ratio `M / E` in [`RATE_PRECISION`] (1e6 = 100 %), rounded up: above 100 %
    /// exactly when the account is liquidatable (`⌈M·1e6/E⌉ > 1e6 ⇔ M > E`). `None` when
    /// `E ≤ 0` (no ratio: with any requirement the account is liquidatable).
    pub fn margin_ratio(&self) -> MathResult<Option<u128>> {
        if self.equity <= 0 {
            return Ok(None);
        }
        mul_div_wide(self.maintenance_requirement, RATE_PRECISION, self.equity as u128, Rounding::Up)
            .map(Some)
    }

    /// `M − E` clamped at zero: how far below maintenance the account is.
    pub fn shortfall(&self) -> u128 {
        let margin = self.margin();
        if margin < 0 {
            margin.unsigned_abs()
        } else {
            0
        }
    }
}

/// Computes `E` and `M` for an account.
pub fn maintenance_health(collateral: i64, positions: &[PositionRisk]) -> MathResult<MaintenanceHealth> {
    let mut equity = collateral as i128;
    let mut maintenance_requirement = 0u128;
    for position in positions.iter().filter(|p| p.base != 0) {
        equity = equity.add_or_err(position.unrealized_pnl()?)?.add_or_err(position.funding)?;
        maintenance_requirement = maintenance_requirement.add_or_err(position.maintenance_requirement()?)?;
    }
    Ok(MaintenanceHealth { equity, maintenance_requirement })
}

/// `E' − I` at conservative prices: must be ≥ 0 after any risk-adding instruction.
pub fn initial_health(collateral: i64, positions: &[PositionRisk]) -> MathResult<i128> {
    let mut health = collateral as i128;
    for position in positions.iter().filter(|p| p.base != 0) {
        health = health
            .add_or_err(position.conservative_unrealized_pnl()?)?
            .add_or_err(position.funding)?
            .sub_or_err(i128::try_from(position.initial_requirement()?).map_err(|_| MathError::here())?)?;
    }
    Ok(health)
}

/// The most collateral (quote atoms) `withdraw_collateral` lets the account take now.
///
/// The instruction first settles every position's funding into collateral (each payment narrowed
/// to `i64`, as `settle_funding` does), then requires `amount ≤ C` and `E' − I ≥ 0` afterwards.
/// Collateral enters initial health linearly, so the answer is
///
/// ```text
/// max_withdrawable = max(0, min(C_settled, initial_health(C_settled, positions settled)))
/// ```
///
/// exact to the atom (one more atom is refused, this many is accepted). The program also refuses
/// any withdrawal while a held market's price is older than its trading window or its EMA
/// circuit breaker is tripped, and when a funding receipt would leave the pool short of the open
/// deficits; those depend on state beyond the account, and the caller checks them.
pub fn max_withdrawable(collateral: i64, positions: &[PositionRisk]) -> MathResult<u64> {
    let mut settled = collateral;
    for position in positions.iter().filter(|p| p.base != 0) {
        settled = settled.add_or_err(to_i64(position.funding)?)?;
    }
    // Initial health once settled: every position's funding is then zero.
    let mut health = settled as i128;
    for position in positions.iter().filter(|p| p.base != 0) {
        let requirement = i128::try_from(position.initial_requirement()?).map_err(|_| MathError::here())?;
        health = health.add_or_err(position.conservative_unrealized_pnl()?)?.sub_or_err(requirement)?;
    }
    let most = health.min(settled as i128);
    Ok(if most <= 0 { 0 } else { most as u64 })
}

/// The liquidation price of position `index`: the price of its market (fixed point,
/// [`PRICE_PRECISION`], one exact price with no confidence band) past which the program finds
/// the account liquidatable (`E < M`), every other input held: the other positions at their
/// prices, every unsettled funding amount as it stands now.
///
/// - A long: the **highest** price at which the account is liquidatable; at every price above
///   it, it is not. `None` when it is not liquidatable at any price in `0..=MAX_PRICE`.
/// - A short: the **lowest** price at which it is liquidatable; at every price above it, it is.
///   `Some(0)` when it is liquidatable at any price, `None` when at no price up to `MAX_PRICE`.
///
/// Exact to the atom of price, with the health code's own rounding. With `B` the margin without
/// this position's value and requirement (collateral, its funding and `−e`, and the other
/// positions' `q·P − e + funding − ⌈|q|·P·mm⌉`), `T = 1e12`, and `n = ⌈|q|·P / T⌉` the rounded-up
/// notional, the margin at price `P` is:
///
/// ```text
/// long:  B + ⌊q·P/T⌋ − ⌈n·mm/1e6⌉ = B + ⌊n·(1e6 − mm)/1e6⌋ − [q·P not a multiple of T]
/// short: B − n − ⌈n·mm/1e6⌉       = B − ⌈n·(1e6 + mm)/1e6⌉
/// ```
///
/// The short's margin falls with `n`, so the answer is the first price whose `n` reaches the
/// first failing notional, `n_min = ⌊B·1e6/(1e6 + mm)⌋ + 1`. The long's margin rises with `n`
/// except that a price whose `q·P` is an exact multiple of `T` is worth one atom more than its
/// neighbours: with `N1` the largest `n` at which `⌊n·(1e6 − mm)/1e6⌋ ≤ −B` (liquidatable unless
/// exact) and `N0` the largest at which it is `< −B` (liquidatable even then), the answer is the
/// largest price with `n ≤ N1` (`⌊N1·T/q⌋`) unless that one is exact and above `N0`; then one
/// price less, which is not exact, unless every price is (`q` a multiple of `T`): then `⌊N0·T/q⌋`.
/// Each candidate is confirmed with the margin itself.
pub fn liquidation_price(
    collateral: i64,
    positions: &[PositionRisk],
    index: usize,
) -> MathResult<Option<u128>> {
    let position = positions.get(index).ok_or_else(MathError::here)?;
    if position.base == 0 {
        return Ok(None);
    }
    let mut rest =
        (collateral as i128).add_or_err(position.funding)?.sub_or_err(position.entry_quote as i128)?;
    for (i, other) in positions.iter().enumerate() {
        if i != index && other.base != 0 {
            let requirement =
                i128::try_from(other.maintenance_requirement()?).map_err(|_| MathError::here())?;
            rest = rest
                .add_or_err(other.unrealized_pnl()?)?
                .add_or_err(other.funding)?
                .sub_or_err(requirement)?;
        }
    }
    let size = position.base.unsigned_abs() as u128;
    let maintenance = position.maintenance_rate as u128;
    // ⌊m·T/size⌋, or anything above MAX_PRICE when m > 2^64 (then m·T/size > 2^64·1e12/2^63).
    let price_below = |m: u128| -> u128 {
        if m > 1 << 64 {
            MAX_PRICE + 1
        } else {
            (m * PRICE_PRECISION) / size
        }
    };
    // ⌊a·1e6/k⌋ (or ⌈ ⌉), or anything above 2^64 when a ≥ 2^100 (k ≤ 1.5e6).
    let scaled = |a: u128, k: u128, rounding: Rounding| -> MathResult<u128> {
        if a >= 1 << 100 {
            Ok((1 << 64) + 1)
        } else {
            div_u128(a * RATE_PRECISION, k, rounding)
        }
    };
    if position.base < 0 {
        if rest < 0 {
            return Ok(Some(0));
        }
        // n_min − 1 = ⌊B·1e6/(1e6 + mm)⌋; the first price with ⌈|q|·P/T⌉ ≥ n_min.
        let below = scaled(rest as u128, RATE_PRECISION + maintenance, Rounding::Down)?;
        let price = price_below(below) + 1;
        return Ok((price <= MAX_PRICE).then_some(price));
    }
    if rest > 0 {
        return Ok(None);
    }
    let keep = RATE_PRECISION.sub_or_err(maintenance)?; // 1e6 − mm > 0 (mm ≤ 50 % by the bounds)
    if keep == 0 {
        return Err(MathError::here());
    }
    let deficit = rest.unsigned_abs(); // −B ≥ 0
    let margin_at = |price: u128| -> MathResult<i128> {
        let moved =
            PositionRisk { price: MarketPrice::exact(price), funding: 0, entry_quote: 0, ..*position };
        let requirement = i128::try_from(moved.maintenance_requirement()?).map_err(|_| MathError::here())?;
        rest.add_or_err(moved.unrealized_pnl()?)?.sub_or_err(requirement)
    };
    // N1 = ⌈(1 − B)·1e6/k⌉ − 1, and the largest price whose notional is at most N1.
    let n1 = scaled(deficit + 1, keep, Rounding::Up)? - 1;
    let highest = price_below(n1).min(MAX_PRICE);
    if margin_at(highest)? < 0 {
        return Ok(Some(highest));
    }
    if highest > 0 && margin_at(highest - 1)? < 0 {
        return Ok(Some(highest - 1));
    }
    // Every price is an exact multiple: liquidatable up to the notional N0 = ⌈−B·1e6/k⌉ − 1.
    if deficit == 0 {
        return Ok(None);
    }
    let n0 = scaled(deficit, keep, Rounding::Up)? - 1;
    let highest = price_below(n0).min(MAX_PRICE);
    Ok((margin_at(highest)? < 0).then_some(highest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u128 = PRICE_PRECISION;

    fn long(base: i64, entry: i64, price: u128) -> PositionRisk {
        PositionRisk {
            base,
            entry_quote: entry,
            price: MarketPrice::exact(price),
            maintenance_rate: 50_000, // 5 %
            initial_rate: 100_000,    // 10 %
            funding: 0,
        }
    }

    #[test]
    fn worked_example_from_docs() {
        // docs/HEALTH.md: 1,000 USDC collateral, long 10 SOL bought at 150, SOL now 140.
        // 1 SOL = 1e9 base atoms; 1 USDC = 1e6 quote atoms; price 140 → 0.14 quote atoms/atom.
        let position = long(10_000_000_000, 1_500_000_000, 140 * P / 1000);
        let health = maintenance_health(1_000_000_000, &[position]).unwrap();
        assert_eq!(health.equity, 900_000_000); // 1000 + (1400 − 1500) USDC
        assert_eq!(health.maintenance_requirement, 70_000_000); // 1400 · 5 %
        assert!(!health.is_liquidatable());
        assert_eq!(initial_health(1_000_000_000, &[position]).unwrap(), 760_000_000);
        // 900 − 140
    }

    #[test]
    fn rounding_is_against_the_account() {
        // 3 base atoms at 1/3 quote atom each, long: value floors to 0, requirement ceils to 1.
        let position = long(3, 0, P / 3 + 1);
        assert_eq!(position.unrealized_pnl().unwrap(), 1); // 3·(P/3+1)/P = 1.000…003 → 1
        let short = PositionRisk { base: -3, ..long(0, 0, P / 3) };
        // −3·(P/3)/P = −0.999… → −1 (toward −∞)
        assert_eq!(short.unrealized_pnl().unwrap(), -1);
        assert_eq!(short.maintenance_requirement().unwrap(), 1);
    }

    #[test]
    fn margin_ratio_is_above_one_exactly_when_liquidatable() {
        let ratio = |equity: i128, maintenance_requirement: u128| {
            MaintenanceHealth { equity, maintenance_requirement }.margin_ratio().unwrap()
        };
        assert_eq!(ratio(900_000_000, 70_000_000), Some(77_778)); // 7.7778 %, rounded up
        assert_eq!(ratio(100, 100), Some(1_000_000));
        assert_eq!(ratio(99, 100), Some(1_010_102));
        assert_eq!(ratio(3, 0), Some(0));
        assert_eq!(ratio(0, 5), None);
        assert_eq!(ratio(-1, 0), None);
        for (equity, requirement) in
            [(1_000_000i128, 1_000_000u128), (999_999, 1_000_000), (1_000_001, 1_000_000)]
        {
            let health = MaintenanceHealth { equity, maintenance_requirement: requirement };
            assert_eq!(ratio(equity, requirement).unwrap() > 1_000_000, health.is_liquidatable());
        }
    }

    #[test]
    fn empty_account_is_healthy() {
        let health = maintenance_health(0, &[]).unwrap();
        assert!(!health.is_liquidatable());
        assert_eq!(initial_health(0, &[]).unwrap(), 0);
    }
    #[test]
    fn max_withdrawable_is_the_last_atom_initial_health_allows() {
        // The worked example: initial health 760 USDC, collateral 1,000.
        let position = long(10_000_000_000, 1_500_000_000, 140 * P / 1000);
        let most = max_withdrawable(1_000_000_000, &[position]).unwrap();
        assert_eq!(most, 760_000_000);
        assert_eq!(initial_health(1_000_000_000 - most as i64, &[position]).unwrap(), 0);
        // Owed funding settles first and comes off both bounds.
        let owing = PositionRisk { funding: -10_000_000, ..position };
        assert_eq!(max_withdrawable(1_000_000_000, &[owing]).unwrap(), 750_000_000);
        // A winning position's unrealized profit cannot be withdrawn: collateral bounds it.
        let winner = long(10_000_000_000, 1_000_000_000, 140 * P / 1000);
        assert_eq!(max_withdrawable(100_000_000, &[winner]).unwrap(), 100_000_000);
        // No positions: all of it; negative or underwater: nothing.
        assert_eq!(max_withdrawable(5, &[]).unwrap(), 5);
        assert_eq!(max_withdrawable(-5, &[]).unwrap(), 0);
        assert_eq!(max_withdrawable(10_000_000, &[position]).unwrap(), 0);
        // A funding payment beyond the i64 ledgers is an error, as settling it would be.
        let huge = PositionRisk { funding: i64::MIN as i128 - 1, ..position };
        assert!(max_withdrawable(0, &[huge]).is_err());
    }

    /// The slowest possible reference: the account's margin at each price, by the health code.
    fn margin_at(collateral: i64, positions: &[PositionRisk], index: usize, price: u128) -> i128 {
        let mut moved = positions.to_vec();
        moved[index].price = MarketPrice::exact(price);
        maintenance_health(collateral, &moved).unwrap().margin()
    }

    #[test]
    fn liquidation_price_of_the_docs_long_and_short() {
        // 1,000 USDC on 10 SOL long bought at $150, mm 5 %: E − M = 1000 − 1500 + 10·P·0.95 = 0
        // at P = $52.6315…, 0.0526315… quote atoms per base atom.
        let position = long(10_000_000_000, 1_500_000_000, 140 * P / 1000);
        let price = liquidation_price(1_000_000_000, &[position], 0).unwrap().unwrap();
        // The exact crossing is 52,631,578,947.4; the program's rounding of q·P and |q|·P·mm
        // (each price atom moves the value by 0.01 quote atoms) keeps it liquidatable to here.
        assert_eq!(price, 52_631_578_999);
        assert!(margin_at(1_000_000_000, &[position], 0, price) < 0);
        for above in price + 1..price + 3_000 {
            assert!(margin_at(1_000_000_000, &[position], 0, above) >= 0, "{above}");
        }
        // Collateral one atom above the entry: never. At exactly the entry, the rounded-up
        // requirement (one atom) beats the value (zero) while 10 SOL are worth under one atom.
        assert_eq!(liquidation_price(1_500_000_001, &[position], 0).unwrap(), None);
        assert_eq!(liquidation_price(1_500_000_000, &[position], 0).unwrap(), Some(99));
        // A short of 10 SOL entered at $150 with 1,000 USDC: 1000 + 1500 − 10·P·1.05 = 0 at
        // P = $238.095…
        let short = PositionRisk { base: -10_000_000_000, entry_quote: -1_500_000_000, ..position };
        let price = liquidation_price(1_000_000_000, &[short], 0).unwrap().unwrap();
        assert_eq!(price, 238_095_238_001);
        assert!(margin_at(1_000_000_000, &[short], 0, price) < 0);
        assert!(margin_at(1_000_000_000, &[short], 0, price - 1) >= 0);
        // Another position's loss moves it; a deficit makes a short liquidatable at any price.
        let loser = long(10_000_000_000, 2_000_000_000, 140 * P / 1000);
        assert!(liquidation_price(1_000_000_000, &[position, loser], 0).unwrap().unwrap() > 52_631_578_947);
        assert_eq!(liquidation_price(-1_500_000_001, &[short], 0).unwrap(), Some(0));
        assert_eq!(liquidation_price(0, &[PositionRisk::default()], 0).unwrap(), None);
        assert!(liquidation_price(0, &[position], 1).is_err());
    }

    /// Against a scan of every price on small positions, where each price atom moves the
    /// notional (and exact multiples of 1e12 are frequent): the long's answer is the highest
    /// liquidatable price and the short's the lowest.
    #[test]
    fn liquidation_price_matches_a_scan_of_every_price() {
        for base in [1i64, 3, 7, 1_000, 4_000_000_000, 1_000_000_000_000, 3_000_000_000_000] {
            for maintenance_rate in [5_000u32, 50_000, 333_333, 500_000] {
                for collateral in [-3i64, -1, 0, 1, 2, 5, 40] {
                    for sign in [1i64, -1] {
                        let position = PositionRisk {
                            base: base * sign,
                            entry_quote: 0,
                            price: MarketPrice::exact(P),
                            maintenance_rate,
                            initial_rate: 600_000,
                            funding: 0,
                        };
                        let positions = [position];
                        let answer = liquidation_price(collateral, &positions, 0).unwrap();
                        // Scan far enough that the margin's trend has settled (≥ 60 atoms).
                        let top = 100u128 * P / base as u128 + 10;
                        let case = format!("base {} mm {maintenance_rate} C {collateral}", base * sign);
                        if top < 100_000 {
                            let liquidatable: Vec<u128> =
                                (0..=top).filter(|&p| margin_at(collateral, &positions, 0, p) < 0).collect();
                            let want = if sign > 0 {
                                liquidatable.last().copied()
                            } else {
                                liquidatable.first().copied()
                            };
                            assert_eq!(answer, want, "{case}");
                        } else if let Some(price) = answer {
                            // Too many prices to scan: the answer is liquidatable, and its side
                            // of it is not (a window of 2,000 price atoms).
                            assert!(margin_at(collateral, &positions, 0, price) < 0, "{case}");
                            let safe = if sign > 0 {
                                (price + 1..price + 2_000).collect::<Vec<_>>()
                            } else {
                                (price.saturating_sub(2_000)..price).collect()
                            };
                            assert!(
                                safe.iter().all(|&p| margin_at(collateral, &positions, 0, p) >= 0),
                                "{case}"
                            );
                        } else {
                            // Never: a long whose account is healthy even at a price of zero.
                            assert!(sign > 0 && margin_at(collateral, &positions, 0, 0) >= 0, "{case}");
                        }
                    }
                }
            }
        }
    }
}
