//! Funding: what makes a perpetual perpetual (docs/FUNDING.md).
//!
//! The pool trades at the oracle price, so there is no mark/oracle premium to charge: the rate
//! comes from the open-interest skew of a market,
//!
//! ```text
//! skew         = (L − S) / (L + S)                    (L, S: long and short base; 0 when both 0)
//! rate_per_hour = clamp(funding_rate_scale · skew, −funding_max_rate, +funding_max_rate)
//! ```
//!
//! A positive rate means longs pay and shorts receive; the crowded side always pays. The pool is
//! the counterparty of the imbalance, so it nets `(L − S) · rate` per unit of notional: never
//! negative when it accrues.
//!
//! **The index is a fraction of notional, not an amount of quote.** `K` (one signed `i64` per
//! market, [`FUNDING_PRECISION`] = 1e15 = 100 %) grows by `rate_per_hour · Δt / 3600` at every
//! advance; a position of `q` base atoms that last settled at `K_q` owes `q · (K − K_q)` of its
//! notional, valued at the price of the moment it is valued or settled:
//!
//! ```text
//! funding owed = q · (K − K_q) · P / (1e15 · 1e12)          (quote atoms; P fixed point 1e12)
//! ```
//!
//! Advancing `K` needs no price, so the permissionless crank and the admin need no oracle, and a
//! ten-year run at the largest rate (1 %/h) moves `K` by 8.76e17, inside `i64` (so a position
//! stores its `K_q` in 8 bytes). Rounding is against the account: what it owes is valued at the
//! oracle price rounded up and rounds up, what it receives at the price rounded down and rounds
//! down; the index itself rounds toward zero (nobody is charged more than the rate says).

use super::fixed::*;
use super::health::MarketPrice;

/// Scale of the funding index and of funding rates: 1e15 = 100 % of notional.
pub const FUNDING_PRECISION: u128 = 1_000_000_000_000_000; // 1e15
/// [`RATE_PRECISION`] (1e6) to [`FUNDING_PRECISION`] (1e15).
const RATE_TO_FUNDING: u128 = FUNDING_PRECISION / RATE_PRECISION;
const SECS_PER_HOUR: u128 = 3_600;

/// A market's funding parameters ([`RATE_PRECISION`] per hour; both 0 = no funding).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FundingParams {
    /// Rate per hour at a skew of 100 % (every open base on one side).
    pub rate_scale: u32,
    /// Largest rate per hour in either direction.
    pub max_rate: u32,
}

/// The funding rate per hour ([`FUNDING_PRECISION`]) of a market with `long_base` and
/// `short_base` open: positive when longs pay. Rounded toward zero.
#[inline(always)]
pub fn funding_rate_per_hour(long_base: u64, short_base: u64, params: FundingParams) -> MathResult<i64> {
    let total = (long_base as u128).add_or_err(short_base as u128)?;
    if total == 0 || params.rate_scale == 0 || params.max_rate == 0 {
        return Ok(0);
    }
    let imbalance = long_base.abs_diff(short_base) as u128;
    let (scale, max) =
        (params.rate_scale as u128 * RATE_TO_FUNDING, params.max_rate as u128 * RATE_TO_FUNDING);
    // scale, max ≤ 4.3e18 < 2^64 and imbalance, total < 2^65: no product overflows. When the
    // clamp binds (`scale · imbalance ≥ max · total`) there is nothing to divide.
    let magnitude = if scale * imbalance >= max * total {
        max
    } else {
        let (quotient, _) = div_rem_u128(scale * imbalance, total);
        quotient
    };
    let magnitude = magnitude as i64; // ≤ max ≤ 4.3e18
    Ok(if long_base >= short_base { magnitude } else { -magnitude })
}

/// How much the index moves at `rate_per_hour` over `elapsed_secs`, rounded toward zero.
#[inline(always)]
pub fn funding_index_delta(rate_per_hour: i64, elapsed_secs: u64) -> MathResult<i64> {
    if rate_per_hour == 0 || elapsed_secs == 0 {
        return Ok(0);
    }
    let product = checked_mul_u128(rate_per_hour.unsigned_abs() as u128, elapsed_secs as u128)
        .ok_or_else(MathError::here)?;
    // Not `/`: a `u128` division is a ~2,600 CU software loop on SBF (docs/PERFORMANCE.md).
    let (magnitude, _) = div_rem_u128(product, SECS_PER_HOUR);
    let magnitude = i64::try_from(magnitude).map_err(|_| MathError::here())?;
    Ok(if rate_per_hour > 0 { magnitude } else { -magnitude })
}

/// One advance of a market's index: the state it starts from and what it moves by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FundingAdvance {
    /// Rate in force over the interval ([`FUNDING_PRECISION`] per hour; 0 while paused).
    pub rate_per_hour: i64,
    /// Seconds accrued.
    pub elapsed_secs: u64,
    /// Index change.
    pub index_delta: i64,
    /// Index after the advance.
    pub index_after: i64,
}

/// The moment funding is computed at: unix time, and the exchange's close-pause clock then (the
/// seconds its closes have been paused in all, [`crate::state::Exchange::funding_time`]), so that
/// an interval is charged only for the time the exchange let traders close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FundingTime {
    pub now: i64,
    pub paused_secs: i64,
}

impl FundingTime {
    /// A time with no exchange-wide pause ever (tests, simulations).
    pub fn at(now: i64) -> Self {
        FundingTime { now, paused_secs: 0 }
    }
}

/// A market's funding state, as the program stores it ([`crate::state::Market`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FundingState {
    pub index: i64,
    /// Unix time of the last advance (0: never; the first advance only starts the clock).
    pub updated_at: i64,
    /// The exchange's close-pause clock at the last advance ([`FundingTime::paused_secs`]).
    pub paused_secs_at_update: i64,
    /// Σ over longs of `q · (K − K_q)`: funding accrued to longs, not yet settled (base atoms ×
    /// [`FUNDING_PRECISION`]; positive = owed by them).
    pub long_accrued: i128,
    /// The same over shorts (`q < 0`).
    pub short_accrued: i128,
}

impl FundingState {
    /// The advance to `time` for a market with `long_base`/`short_base` open. `accruing` is
    /// false while the market's closes are paused, and the seconds the exchange's closes were
    /// paused since the last advance are not charged either (a trader who cannot leave pays
    /// nothing): the clock moves, the index does not.
    #[inline(always)]
    pub fn advance_to(
        &self,
        time: FundingTime,
        long_base: u64,
        short_base: u64,
        params: FundingParams,
        accruing: bool,
    ) -> MathResult<FundingAdvance> {
        let elapsed_secs = if self.updated_at == 0 {
            0
        } else {
            let elapsed = time.now.saturating_sub(self.updated_at).max(0);
            let paused = time.paused_secs.saturating_sub(self.paused_secs_at_update).max(0);
            elapsed.saturating_sub(paused).max(0) as u64
        };
        let rate_per_hour = if accruing && elapsed_secs > 0 {
            funding_rate_per_hour(long_base, short_base, params)?
        } else {
            0
        };
        let index_delta = funding_index_delta(rate_per_hour, elapsed_secs)?;
        Ok(FundingAdvance {
            rate_per_hour,
            elapsed_secs,
            index_delta,
            index_after: self.index.add_or_err(index_delta)?,
        })
    }

    /// Applies `advance` (from [`Self::advance_to`]) at `time`: the index, each side's accrual,
    /// the clocks (which never move back).
    pub fn apply(
        &mut self,
        advance: &FundingAdvance,
        time: FundingTime,
        long_base: u64,
        short_base: u64,
    ) -> MathResult<()> {
        if advance.index_delta != 0 {
            let (delta, negative) = (advance.index_delta.unsigned_abs(), advance.index_delta < 0);
            // Open interest ≤ i64::MAX (max_open_interest) and |delta| < 2^63: each product < 2^126.
            let (long, short) = (i64::try_from(long_base), i64::try_from(short_base));
            let (long, short) = (long.map_err(|_| MathError::here())?, short.map_err(|_| MathError::here())?);
            self.long_accrued = self.long_accrued.add_or_err(signed_product(long, delta, negative))?;
            self.short_accrued = self.short_accrued.sub_or_err(signed_product(short, delta, negative))?;
        }
        self.index = advance.index_after;
        self.updated_at = self.updated_at.max(time.now);
        self.paused_secs_at_update = self.paused_secs_at_update.max(time.paused_secs);
        Ok(())
    }

    /// Removes a position's accrual when it settles (`q · (K − K_q)`).
    pub fn settle(&mut self, base: i64, accrued: i128) -> MathResult<()> {
        if base > 0 {
            self.long_accrued = self.long_accrued.sub_or_err(accrued)?;
        } else {
            self.short_accrued = self.short_accrued.sub_or_err(accrued)?;
        }
        Ok(())
    }
}

/// `q · (K − K_q)`: a position's accrued funding in base atoms × [`FUNDING_PRECISION`] (positive
/// = it owes). Always fits: both factors are below 2^64 in magnitude.
#[inline(always)]
pub fn funding_accrued(base: i64, index_now: i64, index_at_settlement: i64) -> i128 {
    signed_product(base, index_now.abs_diff(index_at_settlement), index_now < index_at_settlement)
}

/// `base · delta` (negated when `negative`) as one 64×64-bit widening product of magnitudes (a
/// signed 128-bit multiply is a software routine on SBF). `|result| < 2^127`.
#[inline(always)]
fn signed_product(base: i64, delta: u64, negative: bool) -> i128 {
    let magnitude = (base.unsigned_abs() as u128 * delta as u128) as i128;
    if (base < 0) != negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The collateral change that settling `accrued` (from [`funding_accrued`], or a side's sum) at
/// `price` makes, in quote atoms: negative when it owes. Owed amounts are valued at the price
/// rounded up and round up; received ones at the price rounded down and round down.
#[inline(always)]
pub fn funding_payment(accrued: i128, price: &MarketPrice) -> MathResult<i128> {
    funding_value(accrued, price, Rounding::Down)
}

/// [`funding_payment`] rounded as asked: `Down` against the holders of `accrued` (what a
/// settlement pays), `Up` in their favour (the pool's liability at its largest).
#[inline(always)]
pub fn funding_value(accrued: i128, price: &MarketPrice, rounding: Rounding) -> MathResult<i128> {
    if accrued == 0 {
        return Ok(0);
    }
    let owes = accrued > 0;
    let (price, rounding) = match (owes, rounding) {
        (true, Rounding::Down) => (price.oracle_high, Rounding::Up),
        (false, Rounding::Down) => (price.oracle_low, Rounding::Down),
        (true, Rounding::Up) => (price.oracle_low, Rounding::Down),
        (false, Rounding::Up) => (price.oracle_high, Rounding::Up),
    };
    // Two divisions rounded the same way equal one by the product (⌈⌈x/a⌉/b⌉ = ⌈x/(ab)⌉).
    let price = u64::try_from(price).map_err(|_| MathError::here())?; // ≤ MAX_PRICE
    let quote_scaled = match checked_mul_u128_u64(accrued.unsigned_abs(), price) {
        Some(product) => div_u128(product, PRICE_PRECISION, rounding)?,
        None => mul_div_wide(accrued.unsigned_abs(), price as u128, PRICE_PRECISION, rounding)?,
    };
    let magnitude = div_u128(quote_scaled, FUNDING_PRECISION, rounding)?;
    let magnitude = i128::try_from(magnitude).map_err(|_| MathError::here())?;
    Ok(if owes { -magnitude } else { magnitude })
}

/// [`funding_payment`] of one position: what settling it now would add to its collateral.
#[inline(always)]
pub fn position_funding(
    base: i64,
    index_now: i64,
    index_at_settlement: i64,
    price: &MarketPrice,
) -> MathResult<i128> {
    if base == 0 || index_now == index_at_settlement {
        return Ok(0);
    }
    funding_payment(funding_accrued(base, index_now, index_at_settlement), price)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600;

    #[test]
    fn rate_follows_the_skew_and_is_clamped() {
        // 0.01 %/h at full skew, capped at 0.005 %/h.
        let params = FundingParams { rate_scale: 100, max_rate: 50 };
        assert_eq!(funding_rate_per_hour(0, 0, params).unwrap(), 0);
        assert_eq!(funding_rate_per_hour(100, 100, params).unwrap(), 0);
        // skew 1/3 → 0.00333 %/h = 3.33e-5 → 3.33e10 at 1e15.
        assert_eq!(funding_rate_per_hour(200, 100, params).unwrap(), 33_333_333_333);
        assert_eq!(funding_rate_per_hour(100, 200, params).unwrap(), -33_333_333_333);
        // Full skew hits the clamp (0.005 %/h = 5e10).
        assert_eq!(funding_rate_per_hour(100, 0, params).unwrap(), 50_000_000_000);
        assert_eq!(funding_rate_per_hour(0, 7, params).unwrap(), -50_000_000_000);
        assert_eq!(funding_rate_per_hour(100, 0, FundingParams::default()).unwrap(), 0);
    }

    #[test]
    fn index_moves_by_rate_times_time() {
        assert_eq!(funding_index_delta(50_000_000_000, HOUR).unwrap(), 50_000_000_000);
        assert_eq!(funding_index_delta(-50_000_000_000, 1).unwrap(), -13_888_888); // toward zero
        assert_eq!(funding_index_delta(7, 0).unwrap(), 0);
    }

    #[test]
    fn payment_rounds_against_the_account() {
        // 1 SOL (1e9 atoms) at $150 (0.15 quote atoms per atom), 0.01 % accrued: 0.015 USDC.
        let price = MarketPrice::exact(150_000_000_000);
        let k = 100_000_000_000; // 1e-4 at 1e15
        assert_eq!(position_funding(1_000_000_000, k, 0, &price).unwrap(), -15_000);
        assert_eq!(position_funding(-1_000_000_000, k, 0, &price).unwrap(), 15_000);
        // One atom owing a sliver pays one quote atom; receiving it gets nothing.
        assert_eq!(position_funding(1, 1, 0, &price).unwrap(), -1);
        assert_eq!(position_funding(-1, 1, 0, &price).unwrap(), 0);
        // Unchanged index: nothing either way.
        assert_eq!(position_funding(1_000_000_000, k, k, &price).unwrap(), 0);
    }

    #[test]
    fn the_first_advance_starts_the_clock() {
        let params = FundingParams { rate_scale: 100, max_rate: 100 };
        let state = FundingState::default();
        let advance = state.advance_to(FundingTime::at(1_000), 10, 0, params, true).unwrap();
        assert_eq!(
            advance,
            FundingAdvance { rate_per_hour: 0, elapsed_secs: 0, index_delta: 0, index_after: 0 }
        );
        let mut state = FundingState { updated_at: 1_000, ..state };
        let advance = state.advance_to(FundingTime::at(1_000 + HOUR as i64), 10, 0, params, true).unwrap();
        assert_eq!(advance.index_delta, 100_000_000_000);
        state.apply(&advance, FundingTime::at(1_000 + HOUR as i64), 10, 0).unwrap();
        assert_eq!(state.long_accrued, 1_000_000_000_000);
        // Paused: the clock moves, the index does not.
        let paused =
            state.advance_to(FundingTime::at(1_000 + 2 * HOUR as i64), 10, 0, params, false).unwrap();
        assert_eq!((paused.index_delta, paused.elapsed_secs), (0, HOUR));
        // The exchange's closes paused for 40 minutes of the next hour: 20 minutes are charged.
        let time = FundingTime { now: 1_000 + 2 * HOUR as i64, paused_secs: 2_400 };
        let partly = state.advance_to(time, 10, 0, params, true).unwrap();
        assert_eq!((partly.elapsed_secs, partly.index_delta), (1_200, 100_000_000_000 / 3));
    }
}
