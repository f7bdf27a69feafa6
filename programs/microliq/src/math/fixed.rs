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

// The small helpers below are `#[inline(always)]`: as calls, their `u128` arguments, rounding,
// `#[track_caller]` location and returned `Result` need more than SBF's five argument registers
// and go through memory; inlined, the constant divisors fold. It saves ~10 % of `liquidate`
// (docs/PERFORMANCE.md).

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
    ($($t:ty => $mul:path),*) => {$(
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
                match $mul(self, rhs) { Some(v) => Ok(v), None => Err(MathError::here()) }
            }
        }
    )*};
}
impl_checked!(u64 => u64::checked_mul, i64 => i64::checked_mul, u128 => u128::checked_mul,
    i128 => checked_mul_i128);

/// `i128::checked_mul` computed on magnitudes: one unsigned overflow-checked 128-bit multiply and
/// a sign. Same result as `checked_mul`; it exists for the SBF build, where the signed 128-bit
/// overflow check (`llvm.smul.with.overflow.i128`) becomes a `__muloti4`/`__multi3` libcall that
/// returns 128 bits, which upstream LLVM's BPF backend cannot lower (see docs/PERFORMANCE.md).
#[inline(always)]
pub fn checked_mul_i128(a: i128, b: i128) -> Option<i128> {
    let magnitude = checked_mul_u128(a.unsigned_abs(), b.unsigned_abs())?;
    if (a < 0) != (b < 0) {
        // Down to −2^127 = i128::MIN, whose magnitude wraps back to itself.
        (magnitude <= i128::MIN.unsigned_abs()).then(|| (magnitude as i128).wrapping_neg())
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// `numerator / denominator` for unsigned values, rounded as asked.
#[track_caller]
#[inline(always)]
pub fn div_u128(numerator: u128, denominator: u128, rounding: Rounding) -> MathResult<u128> {
    if denominator == 0 {
        return Err(MathError::here());
    }
    let (quotient, remainder) = div_rem_u128(numerator, denominator);
    match rounding {
        Rounding::Up if remainder != 0 => Ok(quotient + 1),
        _ => Ok(quotient),
    }
}

/// `numerator / denominator` for a signed numerator and positive denominator; `Down` rounds toward
/// negative infinity and `Up` toward positive infinity (not toward zero), so that a signed
/// quantity of value rounds against its holder whatever its sign.
#[track_caller]
#[inline(always)]
pub fn div_i128(numerator: i128, denominator: u128, rounding: Rounding) -> MathResult<i128> {
    if denominator == 0 || denominator > i128::MAX as u128 {
        return Err(MathError::here());
    }
    let (quotient, remainder) = div_rem_u128(numerator.unsigned_abs(), denominator);
    // Rounding moves the magnitude up when it moves away from zero: floor of a negative value,
    // ceiling of a positive one. |numerator| ≤ 2^127, and a remainder means denominator ≥ 2, so
    // the magnitude stays ≤ 2^127 (−2^127 is i128::MIN; `wrapping_neg` maps it to itself).
    let away = remainder != 0 && ((numerator < 0) == (rounding == Rounding::Down));
    let magnitude = (quotient + away as u128) as i128;
    Ok(if numerator < 0 { magnitude.wrapping_neg() } else { magnitude })
}

/// `(n / d, n % d)` for `d != 0`.
///
/// SBF has a native 64-bit division but no 128-bit one: `u128 / u128` is a software routine of
/// hundreds of instructions (a bit-by-bit loop in upstream-LLVM builds). Every divisor in the
/// protocol's formulas but one fits in 64 bits (PRICE_PRECISION, RATE_PRECISION, lot and position
/// sizes, supplies), so this divides with two native 64-bit divisions per 64-bit quotient digit
/// (Knuth's algorithm D as in Hacker's Delight `divlu`), and divisors of 64 bits or more with one
/// normalized estimate and one correction.
#[inline(always)]
pub fn div_rem_u128(n: u128, d: u128) -> (u128, u128) {
    let (n_hi, n_lo) = ((n >> 64) as u64, n as u64);
    if d >> 64 == 0 {
        let d = d as u64;
        if n_hi == 0 {
            return ((n_lo / d) as u128, (n_lo % d) as u128);
        }
        let (q_hi, r_hi) = (n_hi / d, n_hi % d);
        let (q_lo, r) = div_128_by_64(r_hi, n_lo, d);
        return (((q_hi as u128) << 64) | q_lo as u128, r as u128);
    }
    // d ≥ 2^64, so the quotient is < 2^64. Estimate it from the top 64 bits of d normalized
    // (≥ 2^63) and n / 2 (whose high half is < 2^63, below them): the estimate is the quotient
    // or one more, so one less is the quotient or one less, which one comparison settles.
    let shift = ((d >> 64) as u64).leading_zeros(); // 0..=63
    let d_top = ((d << shift) >> 64) as u64;
    let half = n >> 1;
    let (estimate, _) = div_128_by_64((half >> 64) as u64, half as u64, d_top);
    let mut q = (estimate >> (63 - shift)) as u128;
    q = q.saturating_sub(1);
    let r = n - q * d; // q ≤ n / d
    if r >= d {
        (q + 1, r - d)
    } else {
        (q, r)
    }
}

/// `(u1·2^64 + u0) / v` and the remainder, for `u1 < v` (so the quotient fits in 64 bits).
/// Hacker's Delight `divlu`: normalize `v`, then two quotient digits of 32 bits, each estimated
/// with one native 64-bit division and corrected at most twice.
#[inline(always)]
fn div_128_by_64(u1: u64, u0: u64, v: u64) -> (u64, u64) {
    const B: u64 = 1 << 32;
    const MASK: u64 = B - 1;
    let s = v.leading_zeros();
    let v = v << s;
    let (vn1, vn0) = (v >> 32, v & MASK); // vn1 ≥ 2^31
    let un32 = if s == 0 { u1 } else { (u1 << s) | (u0 >> (64 - s)) };
    let un10 = u0 << s;
    let (un1, un0) = (un10 >> 32, un10 & MASK);

    // First digit. q1 < 2^33; inside the loop q1 < B and rhat < B, so neither product nor
    // sum below can overflow 64 bits.
    let mut q1 = un32 / vn1;
    let mut rhat = un32 - q1 * vn1;
    while q1 >= B || q1.wrapping_mul(vn0) > (rhat << 32) | un1 {
        q1 -= 1;
        rhat += vn1;
        if rhat >= B {
            break;
        }
    }
    // The partial remainder (un32·B + un1 − q1·v) is < v: modular arithmetic is exact.
    let un21 = (un32 << 32).wrapping_add(un1).wrapping_sub(q1.wrapping_mul(v));

    let mut q0 = un21 / vn1;
    let mut rhat = un21 - q0 * vn1;
    while q0 >= B || q0.wrapping_mul(vn0) > (rhat << 32) | un0 {
        q0 -= 1;
        rhat += vn1;
        if rhat >= B {
            break;
        }
    }
    let r = (un21 << 32).wrapping_add(un0).wrapping_sub(q0.wrapping_mul(v)) >> s;
    ((q1 << 32) | q0, r)
}

/// `a · b`, or `None` on overflow. When both factors fit in 64 bits (amounts, prices ≤
/// `MAX_PRICE`, rates) the product cannot overflow and is one widening multiply, without the
/// 128-bit overflow check (a dozen 64-bit multiplies on SBF).
#[inline(always)]
pub fn checked_mul_u128(a: u128, b: u128) -> Option<u128> {
    if (a | b) >> 64 == 0 {
        Some((a as u64 as u128) * (b as u64 as u128))
    } else {
        a.checked_mul(b)
    }
}

/// `a · b` for a 64-bit `b`, or `None` on overflow: two 64×64-bit widening products and one
/// carry check (`u128::checked_mul` is a long routine on SBF).
#[inline(always)]
pub fn checked_mul_u128_u64(a: u128, b: u64) -> Option<u128> {
    let low = (a as u64 as u128) * b as u128;
    let high = (a >> 64) * b as u128;
    if high >> 64 != 0 {
        return None;
    }
    low.checked_add(high << 64)
}

/// `a · b / c` in unsigned 128-bit arithmetic with explicit rounding. The product must fit.
#[track_caller]
#[inline(always)]
pub fn mul_div_u128(a: u128, b: u128, c: u128, rounding: Rounding) -> MathResult<u128> {
    let product = checked_mul_u128(a, b).ok_or_else(MathError::here)?;
    div_u128(product, c, rounding)
}

/// `a · b / c` with a 256-bit intermediate product, for formulas whose numerator can exceed
/// 128 bits on extreme inputs. Fails only when the quotient itself exceeds `u128` or `c == 0`.
#[track_caller]
pub fn mul_div_wide(a: u128, b: u128, c: u128, rounding: Rounding) -> MathResult<u128> {
    if let Some(product) = checked_mul_u128(a, b) {
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
#[inline(always)]
pub fn notional(base: u64, price: u128, rounding: Rounding) -> MathResult<u128> {
    mul_div_u128(base as u128, price, PRICE_PRECISION, rounding)
}

/// `signed_base · price / PRICE_PRECISION` in quote atoms, rounded toward ±∞ as asked.
#[track_caller]
#[inline(always)]
pub fn signed_value(base: i64, price: u128, rounding: Rounding) -> MathResult<i128> {
    // |base| ≤ 2^63 and price ≤ 2^64 keep the product below 2^127.
    if price > MAX_PRICE {
        return Err(MathError::here());
    }
    // A 64×64-bit unsigned product (< 2^127, cannot overflow) and the base's sign.
    let magnitude = (base.unsigned_abs() as u128 * price as u64 as u128) as i128;
    let product = if base < 0 { -magnitude } else { magnitude };
    div_i128(product, PRICE_PRECISION, rounding)
}

/// `amount · rate / RATE_PRECISION`.
#[track_caller]
#[inline(always)]
pub fn apply_rate(amount: u128, rate: u32, rounding: Rounding) -> MathResult<u128> {
    mul_div_u128(amount, rate as u128, RATE_PRECISION, rounding)
}

/// Narrowing conversions that fail instead of truncating.
#[track_caller]
#[inline(always)]
pub fn to_u64(value: u128) -> MathResult<u64> {
    u64::try_from(value).map_err(|_| MathError::here())
}

#[track_caller]
#[inline(always)]
pub fn to_i64(value: i128) -> MathResult<i64> {
    i64::try_from(value).map_err(|_| MathError::here())
}

#[track_caller]
#[inline]
pub fn i128_to_u128(value: i128) -> MathResult<u128> {
    u128::try_from(value).map_err(|_| MathError::here())
}

/// `10^0 ..= 10^38`, every power of ten a `u128` holds.
const POW10: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// `10^exp` as `u128`, for `exp` in 0..=38 (a table lookup: no multiplication loop on chain).
#[track_caller]
#[inline]
pub fn pow10(exp: u32) -> MathResult<u128> {
    POW10.get(exp as usize).copied().ok_or_else(MathError::here)
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

    /// The reference: what `div_i128` computed before it had a 64-bit fast path.
    fn div_i128_reference(numerator: i128, denominator: u128, rounding: Rounding) -> Option<i128> {
        let denominator = i128::try_from(denominator).ok().filter(|d| *d != 0)?;
        let quotient = numerator.div_euclid(denominator);
        let exact = numerator.rem_euclid(denominator) == 0;
        Some(if rounding == Rounding::Up && !exact { quotient + 1 } else { quotient })
    }

    #[test]
    fn fast_division_matches_the_standard_library_on_edges() {
        let edges = [
            1u128,
            2,
            3,
            7,
            10,
            1_000_000,
            PRICE_PRECISION,
            (1 << 32) - 1,
            1 << 32,
            (1 << 32) + 1,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX as u128 - 1,
            u64::MAX as u128,
            1 << 64,
            (1 << 64) + 1,
            (1 << 64) * 3 + 12_345,
            (1 << 96) - 1,
            1 << 100,
            (1 << 127) - 1,
            1 << 127,
            u128::MAX - 1,
            u128::MAX,
            0x8000_0000_0000_0001_ffff_ffff_0000_0001,
            0xffff_ffff_0000_0000_ffff_ffff_0000_0000,
        ];
        for &n in edges.iter().chain(&[0u128]) {
            for &d in &edges {
                assert_eq!(div_rem_u128(n, d), (n / d, n % d), "{n} / {d}");
                for rounding in [Rounding::Down, Rounding::Up] {
                    assert_eq!(
                        div_u128(n, d, rounding).ok(),
                        Some(n / d + (rounding == Rounding::Up && n % d != 0) as u128)
                    );
                    for signed in
                        [n as i128, (n as i128).wrapping_neg(), (n >> 1) as i128, -((n >> 1) as i128)]
                    {
                        assert_eq!(
                            div_i128(signed, d, rounding).ok(),
                            div_i128_reference(signed, d, rounding),
                            "{signed} / {d} {rounding:?}"
                        );
                    }
                }
            }
        }
        assert!(div_i128(5, 0, Rounding::Down).is_err());
        assert!(div_i128(5, 1 << 127, Rounding::Down).is_err());
        assert_eq!(pow10(0).unwrap(), 1);
        assert_eq!(pow10(38).unwrap(), 10u128.pow(38));
        assert!(pow10(39).is_err());
    }

    #[test]
    fn checked_mul_i128_matches_the_standard_library() {
        let values = [
            0i128,
            1,
            -1,
            2,
            -2,
            3,
            1 << 63,
            -(1 << 63),
            1 << 64,
            -(1 << 64),
            (1 << 126) - 1,
            1 << 126,
            -(1 << 126),
            i128::MAX,
            i128::MIN,
            i128::MIN + 1,
            i128::MAX / 3,
            -(i128::MAX / 3),
            123_456_789_012_345_678_901_234_567,
        ];
        for &a in &values {
            for &b in &values {
                assert_eq!(checked_mul_i128(a, b), a.checked_mul(b), "{a} · {b}");
            }
        }
    }

    #[test]
    fn math_error_records_the_failing_line() {
        let err = u64::MAX.add_or_err(1).unwrap_err();
        assert!(err.location.file().ends_with("fixed.rs"));
    }
}
