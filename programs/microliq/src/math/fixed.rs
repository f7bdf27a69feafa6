//! Fixed-point precisions, checked arithmetic that reports where it failed, and explicit rounding.
//!
//! Amounts of quote are integers of the quote mint's smallest unit ("quote atoms"); base amounts
//! are integers of the market's base unit ("base atoms", `10^-base_decimals` of one asset unit).
//! Prices are quote atoms per base atom as a fixed-point number with [`PRICE_PRECISION`].
//! Rates (margin, fees, bonus, oracle guards) are fractions with [`RATE_PRECISION`].

use core::panic::Location;

/// Fixed-point scale of every price: quote atoms per base atom × 1e12.
pub const PRICE_PRECISION: u128 = 1_000_000_000_000; // 1e12
/// Decimal exponent of [`PRICE_PRECISION`].
pub const PRICE_PRECISION_EXP: i32 = 12;
/// Scale of every rate (margin fractions, fees, bonus, oracle guards): 1e6 = 100 %.
pub const RATE_PRECISION: u128 = 1_000_000; // 1e6
/// Largest price the program accepts (quote atoms per base atom × 1e12), so that
/// `|base| · price` always fits in 128 bits for any `i64` base amount: 2^63 · 2^64 = 2^127.
pub const MAX_PRICE: u128 = u64::MAX as u128;

/// An arithmetic failure (overflow, division by zero, out-of-range conversion), with the source
/// location of the call that failed so that a log line points at the formula.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MathError {
    pub location: &'static Location<'static>,
}

impl MathError {
    #[track_caller]
    #[inline(never)]
    pub fn here() -> Self {
        MathError { location: Location::caller() }
    }
}

impl core::fmt::Display for MathError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "math error at {}:{}", self.location.file(), self.location.line())
    }
}

pub type MathResult<T> = Result<T, MathError>;

/// Which way a division rounds. Every division in the protocol names one, chosen against the
/// account being valued: what it owes rounds [`Rounding::Up`], what it is worth or is paid rounds
/// [`Rounding::Down`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    Down,
    Up,
}

/// Checked arithmetic whose errors carry the caller's location (like Drift's `SafeMath`).
pub trait Checked: Sized + Copy {
    fn add_or_err(self, rhs: Self) -> MathResult<Self>;
    fn sub_or_err(self, rhs: Self) -> MathResult<Self>;
    fn mul_or_err(self, rhs: Self) -> MathResult<Self>;
}

macro_rules! impl_checked {
    ($($t:ty),*) => {$(
        impl Checked for $t {
            #[track_caller]
            #[inline(always)]
            fn add_or_err(self, rhs: Self) -> MathResult<Self> {
                match self.checked_add(rhs) { Some(v) => Ok(v), None => Err(MathError::here()) }
            }
            #[track_caller]
            #[inline(always)]
            fn sub_or_err(self, rhs: Self) -> MathResult<Self> {
                match self.checked_sub(rhs) { Some(v) => Ok(v), None => Err(MathError::here()) }
            }
            #[track_caller]
            #[inline(always)]
            fn mul_or_err(self, rhs: Self) -> MathResult<Self> {
                match self.checked_mul(rhs) { Some(v) => Ok(v), None => Err(MathError::here()) }
            }
        }
    )*};
}
impl_checked!(u64, i64, u128, i128);

/// `numerator / denominator` for unsigned values, rounded as asked.
#[track_caller]
#[inline]
pub fn div_u128(numerator: u128, denominator: u128, rounding: Rounding) -> MathResult<u128> {
    if denominator == 0 {
        return Err(MathError::here());
    }
    let quotient = numerator / denominator;
    match rounding {
        Rounding::Down => Ok(quotient),
        Rounding::Up if numerator % denominator != 0 => Ok(quotient + 1),
        Rounding::Up => Ok(quotient),
    }
}

/// `numerator / denominator` for a signed numerator and positive denominator; `Down` rounds toward
/// negative infinity and `Up` toward positive infinity (not toward zero), so that a signed
/// quantity of value rounds against its holder whatever its sign.
#[track_caller]
#[inline]
pub fn div_i128(numerator: i128, denominator: u128, rounding: Rounding) -> MathResult<i128> {
    let denominator = i128::try_from(denominator).map_err(|_| MathError::here())?;
    if denominator == 0 {
        return Err(MathError::here());
    }
    let quotient = numerator.div_euclid(denominator); // floor, since denominator > 0
    let exact = numerator.rem_euclid(denominator) == 0;
    match rounding {
        Rounding::Down => Ok(quotient),
        Rounding::Up if !exact => Ok(quotient + 1),
        Rounding::Up => Ok(quotient),
    }
}

/// `a · b / c` in unsigned 128-bit arithmetic with explicit rounding. The product must fit.
#[track_caller]
#[inline]
pub fn mul_div_u128(a: u128, b: u128, c: u128, rounding: Rounding) -> MathResult<u128> {
    let product = a.checked_mul(b).ok_or_else(MathError::here)?;
    div_u128(product, c, rounding)
}

/// `a · b / c` with a 256-bit intermediate product, for formulas whose numerator can exceed
/// 128 bits on extreme inputs. Fails only when the quotient itself exceeds `u128` or `c == 0`.
#[track_caller]
pub fn mul_div_wide(a: u128, b: u128, c: u128, rounding: Rounding) -> MathResult<u128> {
    if let Some(product) = a.checked_mul(b) {
        return div_u128(product, c, rounding);
    }
    if c == 0 {
        return Err(MathError::here());
    }
    // 256-bit product from 64-bit limbs.
    let (a_hi, a_lo) = (a >> 64, a & u64::MAX as u128);
    let (b_hi, b_lo) = (b >> 64, b & u64::MAX as u128);
    let lo_lo = a_lo * b_lo;
    let mid1 = a_hi * b_lo;
    let mid2 = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let (mid, mid_carry) = mid1.overflowing_add(mid2);
    let (lo, lo_carry) = lo_lo.overflowing_add(mid << 64);
    let hi = hi_hi + (mid >> 64) + ((mid_carry as u128) << 64) + lo_carry as u128;
    if hi >= c {
        return Err(MathError::here()); // quotient ≥ 2^128
    }
    // Long division of (hi, lo) by c, one bit at a time; hi < c keeps the remainder below 2c.
    let mut remainder = hi;
    let mut quotient = 0u128;
    for bit in (0..128).rev() {
        let carry = remainder >> 127;
        remainder = (remainder << 1) | ((lo >> bit) & 1);
        quotient <<= 1;
        if carry == 1 || remainder >= c {
            remainder = remainder.wrapping_sub(c);
            quotient |= 1;
        }
    }
    match rounding {
        Rounding::Up if remainder != 0 => quotient.checked_add(1).ok_or_else(MathError::here),
        _ => Ok(quotient),
    }
}

/// `|base| · price / PRICE_PRECISION`: the notional value in quote atoms of a base amount.
#[track_caller]
#[inline]
pub fn notional(base: u64, price: u128, rounding: Rounding) -> MathResult<u128> {
    mul_div_u128(base as u128, price, PRICE_PRECISION, rounding)
}

/// `signed_base · price / PRICE_PRECISION` in quote atoms, rounded toward ±∞ as asked.
#[track_caller]
#[inline]
pub fn signed_value(base: i64, price: u128, rounding: Rounding) -> MathResult<i128> {
    // |base| ≤ 2^63 and price ≤ 2^64 keep the product below 2^127.
    if price > MAX_PRICE {
        return Err(MathError::here());
    }
    let product = (base as i128).checked_mul(price as i128).ok_or_else(MathError::here)?;
    div_i128(product, PRICE_PRECISION, rounding)
}

/// `amount · rate / RATE_PRECISION`.
#[track_caller]
#[inline]
pub fn apply_rate(amount: u128, rate: u32, rounding: Rounding) -> MathResult<u128> {
    mul_div_u128(amount, rate as u128, RATE_PRECISION, rounding)
}

/// Narrowing conversions that fail instead of truncating.
#[track_caller]
#[inline]
pub fn to_u64(value: u128) -> MathResult<u64> {
    u64::try_from(value).map_err(|_| MathError::here())
}

#[track_caller]
#[inline]
pub fn to_i64(value: i128) -> MathResult<i64> {
    i64::try_from(value).map_err(|_| MathError::here())
}

#[track_caller]
#[inline]
pub fn i128_to_u128(value: i128) -> MathResult<u128> {
    u128::try_from(value).map_err(|_| MathError::here())
}

/// `10^exp` as `u128`, for `exp` in 0..=38.
#[track_caller]
pub fn pow10(exp: u32) -> MathResult<u128> {
    10u128.checked_pow(exp).ok_or_else(MathError::here)
}

/// Converts an oracle value `mantissa · 10^expo` (in whole quote units per whole base unit) into
/// the program's fixed-point price: quote atoms per base atom × [`PRICE_PRECISION`].
///
/// `price_fixed = mantissa · 10^(expo + quote_decimals − base_decimals + 12)`; when the exponent
/// is negative the division rounds as asked. Fails when the result exceeds [`MAX_PRICE`].
#[track_caller]
pub fn oracle_to_fixed(
    mantissa: u64,
    expo: i32,
    quote_decimals: u8,
    base_decimals: u8,
    rounding: Rounding,
) -> MathResult<u128> {
    let exponent = expo as i64 + quote_decimals as i64 - base_decimals as i64 + PRICE_PRECISION_EXP as i64;
    let value = if exponent >= 0 {
        let scale = pow10(u32::try_from(exponent).map_err(|_| MathError::here())?)?;
        (mantissa as u128).checked_mul(scale).ok_or_else(MathError::here)?
    } else {
        let exp = u32::try_from(-exponent).map_err(|_| MathError::here())?;
        if exp > 38 {
            // 10^39 exceeds u128 and any u64 mantissa: the value rounds to 0 or 1.
            return Ok(match rounding {
                Rounding::Down => 0,
                Rounding::Up => u128::from(mantissa != 0),
            });
        }
        div_u128(mantissa as u128, pow10(exp)?, rounding)?
    };
    if value > MAX_PRICE {
        return Err(MathError::here());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_division_rounds_toward_the_named_infinity() {
        assert_eq!(div_i128(7, 2, Rounding::Down).unwrap(), 3);
        assert_eq!(div_i128(7, 2, Rounding::Up).unwrap(), 4);
        assert_eq!(div_i128(-7, 2, Rounding::Down).unwrap(), -4);
        assert_eq!(div_i128(-7, 2, Rounding::Up).unwrap(), -3);
        assert_eq!(div_i128(-8, 2, Rounding::Up).unwrap(), -4);
        assert!(div_i128(1, 0, Rounding::Up).is_err());
    }

    #[test]
    fn oracle_conversion_table() {
        // (mantissa, expo, quote_dec, base_dec, rounding, expected)
        let cases: &[(u64, i32, u8, u8, Rounding, u128)] = &[
            // SOL at $150.00000000 (expo −8), USDC 6 decimals, SOL 9 decimals:
            // 150e6 atoms / 1e9 atoms = 0.15 quote atoms per base atom → 0.15e12.
            (15_000_000_000, -8, 6, 9, Rounding::Down, 150_000_000_000),
            // BTC at $100,000 (expo −8), base 8 decimals: 1000 quote atoms per sat.
            (10_000_000_000_000, -8, 6, 8, Rounding::Down, 1_000 * PRICE_PRECISION),
            // A sub-unit remainder rounds as asked.
            (1, -20, 6, 0, Rounding::Down, 0),
            (1, -20, 6, 0, Rounding::Up, 1),
            (12_345, -10, 6, 9, Rounding::Down, 1_234), // 12345 · 10^−1
            (12_345, -10, 6, 9, Rounding::Up, 1_235),
        ];
        for &(m, e, q, b, r, want) in cases {
            assert_eq!(oracle_to_fixed(m, e, q, b, r).unwrap(), want, "{m} {e} {q} {b} {r:?}");
        }
        assert!(oracle_to_fixed(u64::MAX, 10, 6, 0, Rounding::Down).is_err());
    }

    #[test]
    fn wide_mul_div_matches_narrow_and_handles_256_bit_products() {
        assert_eq!(mul_div_wide(10, 20, 7, Rounding::Down).unwrap(), 28);
        assert_eq!(mul_div_wide(10, 20, 7, Rounding::Up).unwrap(), 29);
        // (2^100 · 2^60) / 2^90 = 2^70 exactly.
        assert_eq!(mul_div_wide(1 << 100, 1 << 60, 1 << 90, Rounding::Up).unwrap(), 1 << 70);
        // (2^127 · 3) / 2^127 = 3; (u128::MAX · u128::MAX) / u128::MAX = u128::MAX.
        assert_eq!(mul_div_wide(1 << 127, 3, 1 << 127, Rounding::Down).unwrap(), 3);
        assert_eq!(mul_div_wide(u128::MAX, u128::MAX, u128::MAX, Rounding::Down).unwrap(), u128::MAX);
        // (2^128 − 1) · 5 / 7: 2^128 − 1 ≡ 3 (mod 7), so the quotient is 5·⌊max/7⌋ + 2, remainder 1.
        let max = std::hint::black_box(u128::MAX);
        assert_eq!(mul_div_wide(max, 5, 7, Rounding::Down).unwrap(), 5 * (max / 7) + 2);
        assert_eq!(mul_div_wide(max, 5, 7, Rounding::Up).unwrap(), 5 * (max / 7) + 3);
        assert!(mul_div_wide(u128::MAX, 2, 1, Rounding::Down).is_err());
    }

    #[test]
    fn math_error_records_the_failing_line() {
        let err = u64::MAX.add_or_err(1).unwrap_err();
        assert!(err.location.file().ends_with("fixed.rs"));
    }
}
