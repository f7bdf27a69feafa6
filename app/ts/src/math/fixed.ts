// Port of programs/microliq/src/math/fixed.rs: precisions, checked arithmetic that names where
// it failed, explicit rounding. Every value is a `bigint`; the Rust type a value has there is
// checked here at each operation that Rust checks, so that an input the program refuses with
// `MathError` (reported as `MathOverflow`) throws `MathError` here.
//
// Amounts of quote are integers of the quote mint's smallest unit ("quote atoms"); base amounts
// are integers of the market's base unit ("base atoms"). Prices are quote atoms per base atom as
// a fixed-point number with PRICE_PRECISION. Rates are fractions with RATE_PRECISION.

import { MicroliqRefusal } from "./errors.js";

/** Fixed-point scale of every price: quote atoms per base atom × 1e12. */
export const PRICE_PRECISION = 1_000_000_000_000n; // 1e12
/** Decimal exponent of PRICE_PRECISION. */
export const PRICE_PRECISION_EXP = 12;
/** Scale of every rate (margin fractions, fees, bonus, oracle guards): 1e6 = 100 %. */
export const RATE_PRECISION = 1_000_000n; // 1e6
/** Largest price the program accepts (u64::MAX): `|base| · price` always fits in 128 bits. */
export const MAX_PRICE = (1n << 64n) - 1n;

export const U32_MAX = (1n << 32n) - 1n;
export const U64_MAX = (1n << 64n) - 1n;
export const I64_MIN = -(1n << 63n);
export const I64_MAX = (1n << 63n) - 1n;
export const U128_MAX = (1n << 128n) - 1n;
export const I128_MIN = -(1n << 127n);
export const I128_MAX = (1n << 127n) - 1n;

/**
 * An arithmetic failure (overflow, division by zero, out-of-range conversion) where the program's
 * math returns `MathError`; the program reports it as `MathOverflow` (6000). `location` names the
 * formula (the TS function), as Rust's `MathError` records the source line.
 */
export class MathError extends MicroliqRefusal<"MathOverflow"> {
  constructor(readonly location: string) {
    super("MathOverflow", location);
    this.name = "MathError";
  }
}

/** Which way a division rounds: against the account being valued. */
export enum Rounding {
  Down = "Down",
  Up = "Up",
}

function range(value: bigint, min: bigint, max: bigint, location: string): bigint {
  if (value < min || value > max) throw new MathError(location);
  return value;
}

// Checked arithmetic per Rust integer type (`add_or_err`, `sub_or_err`, `mul_or_err`,
// `checked_*`, `try_from`). The result must fit the type, as in Rust.
export const u64 = (v: bigint, at: string) => range(v, 0n, U64_MAX, at);
export const i64 = (v: bigint, at: string) => range(v, I64_MIN, I64_MAX, at);
export const u128 = (v: bigint, at: string) => range(v, 0n, U128_MAX, at);
export const i128 = (v: bigint, at: string) => range(v, I128_MIN, I128_MAX, at);

/** `numerator / denominator` for unsigned values, rounded as asked (Rust `div_u128`). */
export function divU128(numerator: bigint, denominator: bigint, rounding: Rounding): bigint {
  if (denominator === 0n) throw new MathError("div_u128");
  const quotient = numerator / denominator;
  return rounding === Rounding.Up && quotient * denominator !== numerator ? quotient + 1n : quotient;
}

/** Floor (toward −∞) of `n / d` for d > 0. */
export function floorDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return q * d !== n && n < 0n ? q - 1n : q;
}

/** Ceiling (toward +∞) of `n / d` for d > 0. */
export function ceilDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return q * d !== n && n > 0n ? q + 1n : q;
}

/**
 * `numerator / denominator` for a signed numerator and positive denominator; `Down` rounds toward
 * −∞ and `Up` toward +∞ (Rust `div_i128`).
 */
export function divI128(numerator: bigint, denominator: bigint, rounding: Rounding): bigint {
  if (denominator === 0n || denominator > I128_MAX) throw new MathError("div_i128");
  return rounding === Rounding.Down ? floorDiv(numerator, denominator) : ceilDiv(numerator, denominator);
}

/** `a · b`, checked to u128 (Rust `checked_mul_u128`). */
export function mulU128(a: bigint, b: bigint, at = "checked_mul_u128"): bigint {
  return u128(a * b, at);
}

/** `a · b / c` in unsigned 128-bit arithmetic: the product must fit (Rust `mul_div_u128`). */
export function mulDivU128(a: bigint, b: bigint, c: bigint, rounding: Rounding): bigint {
  return divU128(mulU128(a, b, "mul_div_u128"), c, rounding);
}

/**
 * `a · b / c` with a 256-bit intermediate product (Rust `mul_div_wide`): fails only when the
 * quotient exceeds u128 or `c == 0`.
 */
export function mulDivWide(a: bigint, b: bigint, c: bigint, rounding: Rounding): bigint {
  if (c === 0n) throw new MathError("mul_div_wide");
  return u128(divU128(a * b, c, rounding), "mul_div_wide");
}

/** `|base| · price / PRICE_PRECISION`: the notional in quote atoms of a base amount. */
export function notional(base: bigint, price: bigint, rounding: Rounding): bigint {
  return mulDivU128(base, price, PRICE_PRECISION, rounding);
}

/** `signedBase · price / PRICE_PRECISION` in quote atoms, rounded toward ±∞ as asked. */
export function signedValue(base: bigint, price: bigint, rounding: Rounding): bigint {
  if (price > MAX_PRICE) throw new MathError("signed_value");
  return divI128(base * price, PRICE_PRECISION, rounding);
}

/** `amount · rate / RATE_PRECISION`. */
export function applyRate(amount: bigint, rate: bigint | number, rounding: Rounding): bigint {
  return mulDivU128(amount, BigInt(rate), RATE_PRECISION, rounding);
}

/** Narrowing conversions that fail instead of truncating. */
export const toU64 = (v: bigint) => u64(v, "to_u64");
export const toI64 = (v: bigint) => i64(v, "to_i64");
export const i128ToU128 = (v: bigint) => u128(v, "i128_to_u128");

/** `10^exp` for `exp` in 0..=38 (Rust `pow10`). */
export function pow10(exp: bigint | number): bigint {
  const e = BigInt(exp);
  if (e < 0n || e > 38n) throw new MathError("pow10");
  return 10n ** e;
}

/**
 * Converts an oracle value `mantissa · 10^expo` (whole quote units per whole base unit) into the
 * program's fixed-point price; fails when the result exceeds MAX_PRICE (Rust `oracle_to_fixed`).
 */
export function oracleToFixed(
  mantissa: bigint,
  expo: number,
  quoteDecimals: number,
  baseDecimals: number,
  rounding: Rounding,
): bigint {
  const exponent = BigInt(expo) + BigInt(quoteDecimals) - BigInt(baseDecimals) + BigInt(PRICE_PRECISION_EXP);
  let value: bigint;
  if (exponent >= 0n) {
    value = u128(mantissa * pow10(exponent), "oracle_to_fixed");
  } else {
    if (-exponent > 38n) return rounding === Rounding.Down ? 0n : mantissa !== 0n ? 1n : 0n;
    value = divU128(mantissa, pow10(-exponent), rounding);
  }
  if (value > MAX_PRICE) throw new MathError("oracle_to_fixed");
  return value;
}

/** `a.abs_diff(b)`. */
export const absDiff = (a: bigint, b: bigint) => (a > b ? a - b : b - a);
/** `|v|` (Rust `unsigned_abs`). */
export const abs = (v: bigint) => (v < 0n ? -v : v);
export const min = (a: bigint, b: bigint) => (a < b ? a : b);
export const max = (a: bigint, b: bigint) => (a > b ? a : b);
/** `u64 as i64` (two's-complement reinterpretation, as Rust's `as`). */
export const u64AsI64 = (v: bigint) => BigInt.asIntN(64, v);
/** `i64.saturating_sub(i64)`. */
export const saturatingSubI64 = (a: bigint, b: bigint) => max(I64_MIN, min(I64_MAX, a - b));
/** `i64.saturating_add(i64)`. */
export const saturatingAddI64 = (a: bigint, b: bigint) => max(I64_MIN, min(I64_MAX, a + b));
