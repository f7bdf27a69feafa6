// Port of programs/microliq/src/math/health.rs: account health (docs/HEALTH.md).
//
//   unrealized_i = q_i · P_i − e_i
//   funding_i    = what settling the position's funding now adds to C (≤ 0 when it owes)
//   equity       E = C + Σ unrealized_i + Σ funding_i
//   maint_req    M = Σ |q_i| · P_i · mm_i
//   init_req     I = Σ |q_i| · P'_i · im_i        (P' conservative, also used for E')
//
// Liquidatable when E < M; a risk-adding instruction must leave E' − I ≥ 0. Rounding is always
// against the account.

import {
  MAX_PRICE,
  MathError,
  PRICE_PRECISION,
  PRICE_PRECISION_EXP,
  RATE_PRECISION,
  Rounding,
  abs,
  applyRate,
  divU128,
  i128,
  i64,
  max,
  min,
  mulDivWide,
  notional,
  pow10,
  signedValue,
  toI64,
  u128,
  u64,
} from "./fixed.js";

/** One market's oracle prices in fixed point (PRICE_PRECISION), each rounded against its user. */
export interface MarketPrice {
  /** Oracle price rounded down: what a long is worth. */
  oracleLow: bigint;
  /** Oracle price rounded up: what a short owes, and the notional behind requirements. */
  oracleHigh: bigint;
  /** `min(price − conf, ema)` rounded down: a long's value when adding risk. */
  conservativeLong: bigint;
  /** `max(price + conf, ema)` rounded up: a short's value when adding risk. */
  conservativeShort: bigint;
}

/** A price with no confidence band and no EMA gap (Rust `MarketPrice::exact`). */
export function exactPrice(price: bigint): MarketPrice {
  return { oracleLow: price, oracleHigh: price, conservativeLong: price, conservativeShort: price };
}

/**
 * Converts an oracle reading (`price ± conf`, `ema`, all `· 10^expo` per whole base unit) into
 * fixed point, each bound rounded against the holder that uses it (Rust `MarketPrice::from_oracle`).
 */
export function marketPriceFromOracle(
  price: bigint,
  conf: bigint,
  ema: bigint,
  expo: number,
  quoteDecimals: number,
  baseDecimals: number,
): MarketPrice {
  const below = u64(price - conf, "MarketPrice::from_oracle below");
  const above = u64(price + conf, "MarketPrice::from_oracle above");
  const exponent = BigInt(expo) + BigInt(quoteDecimals) - BigInt(baseDecimals) + BigInt(PRICE_PRECISION_EXP);
  // (rounded down, rounded up) of mantissa · 10^exponent, each ≤ MAX_PRICE.
  const convert = (mantissa: bigint): [bigint, bigint] => {
    if (exponent >= 0n) {
      const value = u128(mantissa * pow10(exponent), "MarketPrice::from_oracle scale");
      if (value > MAX_PRICE) throw new MathError("MarketPrice::from_oracle range");
      return [value, value];
    } else if (exponent < -38n) {
      return [0n, mantissa !== 0n ? 1n : 0n];
    } else {
      return [divU128(mantissa, pow10(-exponent), Rounding.Down), divU128(mantissa, pow10(-exponent), Rounding.Up)];
    }
  };
  const [oracleLow, oracleHigh] = convert(price);
  const [belowDown] = convert(below);
  const [, aboveUp] = convert(above);
  const [emaDown, emaUp] = convert(ema);
  return {
    oracleLow,
    oracleHigh,
    conservativeLong: min(belowDown, emaDown),
    conservativeShort: max(aboveUp, emaUp),
  };
}

/** The maintenance price that values a position of this sign against its holder. */
export const markFor = (price: MarketPrice, base: bigint) => (base >= 0n ? price.oracleLow : price.oracleHigh);

/** The conservative price that values a position of this sign against its holder. */
export const conservativeFor = (price: MarketPrice, base: bigint) =>
  base >= 0n ? price.conservativeLong : price.conservativeShort;

/** What the health code needs of one position (Rust `PositionRisk`). */
export interface PositionRisk {
  base: bigint;
  entryQuote: bigint;
  price: MarketPrice;
  /** Maintenance margin fraction `mm` (RATE_PRECISION). */
  maintenanceRate: number;
  /** Initial margin fraction `im` (RATE_PRECISION). */
  initialRate: number;
  /** Unsettled funding: the collateral change its settlement now would make (negative = owes). */
  funding: bigint;
}

/** `q · P − e` at the maintenance price, rounded toward −∞. */
export function unrealizedPnl(p: PositionRisk): bigint {
  return i128(signedValue(p.base, markFor(p.price, p.base), Rounding.Down) - p.entryQuote, "unrealized_pnl");
}

/** `|q| · P` at the maintenance price, rounded up. */
export function positionNotional(p: PositionRisk): bigint {
  return notional(abs(p.base), p.price.oracleHigh, Rounding.Up);
}

/** `|q| · P · mm`, rounded up. */
export function maintenanceRequirement(p: PositionRisk): bigint {
  return applyRate(positionNotional(p), p.maintenanceRate, Rounding.Up);
}

/** `q · P' − e` at the conservative price, rounded toward −∞. */
export function conservativeUnrealizedPnl(p: PositionRisk): bigint {
  return i128(
    signedValue(p.base, conservativeFor(p.price, p.base), Rounding.Down) - p.entryQuote,
    "conservative_unrealized_pnl",
  );
}

/** `|q| · P' · im`, rounded up. */
export function initialRequirement(p: PositionRisk): bigint {
  const conservativeNotional = notional(abs(p.base), conservativeFor(p.price, p.base), Rounding.Up);
  return applyRate(conservativeNotional, p.initialRate, Rounding.Up);
}

/** Equity and maintenance requirement of an account at maintenance prices. */
export interface MaintenanceHealth {
  /** `E = C + Σ (q·P − e) + Σ unsettled funding`, quote atoms. */
  equity: bigint;
  /** `M = Σ |q|·P·mm`, quote atoms. */
  maintenanceRequirement: bigint;
}

/** `E < M`. */
export const isLiquidatable = (h: MaintenanceHealth) => h.equity < h.maintenanceRequirement;
/** `E − M` (negative when liquidatable). */
export const healthMargin = (h: MaintenanceHealth) => h.equity - h.maintenanceRequirement;
/** `M − E` clamped at zero. */
export const shortfall = (h: MaintenanceHealth) => max(h.maintenanceRequirement - h.equity, 0n);

/**
 * The margin ratio `M / E` in RATE_PRECISION (1e6 = 100 %), rounded up: above 100 % exactly when
 * the account is liquidatable. `null` when `E ≤ 0` (Rust `MaintenanceHealth::margin_ratio`).
 */
export function marginRatio(h: MaintenanceHealth): bigint | null {
  if (h.equity <= 0n) return null;
  return mulDivWide(h.maintenanceRequirement, RATE_PRECISION, h.equity, Rounding.Up);
}

/** Computes `E` and `M` for an account (Rust `maintenance_health`). */
export function maintenanceHealth(collateral: bigint, positions: readonly PositionRisk[]): MaintenanceHealth {
  let equity = collateral;
  let requirement = 0n;
  for (const p of positions) {
    if (p.base === 0n) continue;
    equity = i128(equity + unrealizedPnl(p), "maintenance_health equity");
    equity = i128(equity + p.funding, "maintenance_health funding");
    requirement = u128(requirement + maintenanceRequirement(p), "maintenance_health requirement");
  }
  return { equity, maintenanceRequirement: requirement };
}

/** `E' − I` at conservative prices: must be ≥ 0 after any risk-adding instruction. */
export function initialHealth(collateral: bigint, positions: readonly PositionRisk[]): bigint {
  let health = collateral;
  for (const p of positions) {
    if (p.base === 0n) continue;
    health = i128(health + conservativeUnrealizedPnl(p), "initial_health pnl");
    health = i128(health + p.funding, "initial_health funding");
    const requirement = i128(initialRequirement(p), "initial_health requirement");
    health = i128(health - requirement, "initial_health");
  }
  return health;
}

/**
 * The most collateral (quote atoms) `withdraw_collateral` lets the account take now (Rust
 * `max_withdrawable`): every position's funding settled first (each payment narrowed to i64),
 * then `max(0, min(C_settled, initial health settled))`. The program also refuses while a held
 * market's price is stale for trading or its EMA breaker is tripped, and when a funding receipt
 * would leave the pool short: the caller checks those (`OracleReading` flags).
 */
export function maxWithdrawable(collateral: bigint, positions: readonly PositionRisk[]): bigint {
  let settled = collateral;
  for (const p of positions) {
    if (p.base === 0n) continue;
    settled = i64(settled + toI64(p.funding), "max_withdrawable settle");
  }
  let health = settled;
  for (const p of positions) {
    if (p.base === 0n) continue;
    const requirement = i128(initialRequirement(p), "max_withdrawable requirement");
    health = i128(health + conservativeUnrealizedPnl(p), "max_withdrawable pnl");
    health = i128(health - requirement, "max_withdrawable");
  }
  const most = min(health, settled);
  return most <= 0n ? 0n : most;
}

/**
 * The liquidation price of position `index` (Rust `liquidation_price`, whose doc comment derives
 * it): the price of its market (fixed point, one exact price) past which the program finds the
 * account liquidatable, every other input held. A long: the highest liquidatable price (`null`
 * when none in 0..=MAX_PRICE); a short: the lowest (`0n` when at any price, `null` when at none).
 */
export function liquidationPrice(collateral: bigint, positions: readonly PositionRisk[], index: number): bigint | null {
  const position = positions[index];
  if (position === undefined) throw new MathError("liquidation_price index");
  if (position.base === 0n) return null;
  let rest = i128(collateral + position.funding, "liquidation_price funding");
  rest = i128(rest - position.entryQuote, "liquidation_price entry");
  positions.forEach((other, i) => {
    if (i === index || other.base === 0n) return;
    const requirement = i128(maintenanceRequirement(other), "liquidation_price requirement");
    rest = i128(rest + unrealizedPnl(other), "liquidation_price pnl");
    rest = i128(rest + other.funding, "liquidation_price other funding");
    rest = i128(rest - requirement, "liquidation_price other");
  });
  const size = abs(position.base);
  const maintenance = BigInt(position.maintenanceRate);
  // ⌊m·T/size⌋ (above MAX_PRICE when m > 2^64, as in Rust).
  const priceBelow = (m: bigint) => (m > 1n << 64n ? MAX_PRICE + 1n : (m * PRICE_PRECISION) / size);
  const scaled = (a: bigint, k: bigint, rounding: Rounding) =>
    a >= 1n << 100n ? (1n << 64n) + 1n : divU128(a * RATE_PRECISION, k, rounding);
  if (position.base < 0n) {
    if (rest < 0n) return 0n;
    const below = scaled(rest, RATE_PRECISION + maintenance, Rounding.Down);
    const price = priceBelow(below) + 1n;
    return price <= MAX_PRICE ? price : null;
  }
  if (rest > 0n) return null;
  const keep = RATE_PRECISION - maintenance;
  if (keep <= 0n) throw new MathError("liquidation_price keep");
  const deficit = -rest;
  const marginAt = (price: bigint) => {
    const moved: PositionRisk = { ...position, price: exactPrice(price), funding: 0n, entryQuote: 0n };
    const requirement = i128(maintenanceRequirement(moved), "liquidation_price margin requirement");
    return i128(i128(rest + unrealizedPnl(moved), "liquidation_price margin") - requirement, "liquidation_price margin");
  };
  const n1 = scaled(deficit + 1n, keep, Rounding.Up) - 1n;
  let highest = min(priceBelow(n1), MAX_PRICE);
  if (marginAt(highest) < 0n) return highest;
  if (highest > 0n && marginAt(highest - 1n) < 0n) return highest - 1n;
  if (deficit === 0n) return null;
  const n0 = scaled(deficit, keep, Rounding.Up) - 1n;
  highest = min(priceBelow(n0), MAX_PRICE);
  return marginAt(highest) < 0n ? highest : null;
}
