// Port of programs/microliq/src/math/funding.rs (docs/FUNDING.md).
//
//   skew          = (L − S) / (L + S)
//   rate_per_hour = clamp(funding_rate_scale · skew, ±funding_max_rate)
//   funding owed  = q · (K − K_q) · P / (1e15 · 1e12)      (quote atoms)
//
// The index K is a fraction of notional (FUNDING_PRECISION = 1e15 = 100 %); it rounds toward
// zero. What an account owes is valued at the price rounded up and rounds up; what it receives
// at the price rounded down and rounds down.

import {
  PRICE_PRECISION,
  RATE_PRECISION,
  Rounding,
  abs,
  absDiff,
  divU128,
  i128,
  i64,
  max,
  saturatingSubI64,
  u128,
  u64,
} from "./fixed.js";
import type { MarketPrice } from "./health.js";

/** Scale of the funding index and of funding rates: 1e15 = 100 % of notional. */
export const FUNDING_PRECISION = 1_000_000_000_000_000n; // 1e15
const RATE_TO_FUNDING = FUNDING_PRECISION / RATE_PRECISION;
const SECS_PER_HOUR = 3_600n;

/** A market's funding parameters (RATE_PRECISION per hour; both 0 = no funding). */
export interface FundingParams {
  rateScale: number;
  maxRate: number;
}

/** The funding rate per hour (FUNDING_PRECISION) with `longBase`/`shortBase` open; + = longs pay. */
export function fundingRatePerHour(longBase: bigint, shortBase: bigint, params: FundingParams): bigint {
  const total = longBase + shortBase; // < 2^65: a u128 add cannot overflow
  if (total === 0n || params.rateScale === 0 || params.maxRate === 0) return 0n;
  const imbalance = absDiff(longBase, shortBase);
  const scale = BigInt(params.rateScale) * RATE_TO_FUNDING;
  const cap = BigInt(params.maxRate) * RATE_TO_FUNDING;
  const magnitude = scale * imbalance >= cap * total ? cap : (scale * imbalance) / total;
  return longBase >= shortBase ? magnitude : -magnitude;
}

/** How much the index moves at `ratePerHour` over `elapsedSecs`, rounded toward zero. */
export function fundingIndexDelta(ratePerHour: bigint, elapsedSecs: bigint): bigint {
  if (ratePerHour === 0n || elapsedSecs === 0n) return 0n;
  const product = u128(abs(ratePerHour) * elapsedSecs, "funding_index_delta product");
  const magnitude = i64(product / SECS_PER_HOUR, "funding_index_delta");
  return ratePerHour > 0n ? magnitude : -magnitude;
}

/** One advance of a market's index (Rust `FundingAdvance`). */
export interface FundingAdvance {
  ratePerHour: bigint;
  elapsedSecs: bigint;
  indexDelta: bigint;
  indexAfter: bigint;
}

/** The moment funding is computed at: unix time and the exchange's close-pause clock then. */
export interface FundingTime {
  now: bigint;
  pausedSecs: bigint;
}

/** A market's funding state as the program stores it (Rust `FundingState`). */
export interface FundingState {
  index: bigint;
  updatedAt: bigint;
  pausedSecsAtUpdate: bigint;
  longAccrued: bigint;
  shortAccrued: bigint;
}

/**
 * The advance to `time` (Rust `FundingState::advance_to`): nothing accrues while `accruing` is
 * false (the market's closes paused) nor for the seconds the exchange's closes were paused.
 */
export function fundingAdvanceTo(
  state: FundingState,
  time: FundingTime,
  longBase: bigint,
  shortBase: bigint,
  params: FundingParams,
  accruing: boolean,
): FundingAdvance {
  let elapsedSecs = 0n;
  if (state.updatedAt !== 0n) {
    const elapsed = max(saturatingSubI64(time.now, state.updatedAt), 0n);
    const paused = max(saturatingSubI64(time.pausedSecs, state.pausedSecsAtUpdate), 0n);
    elapsedSecs = max(saturatingSubI64(elapsed, paused), 0n);
  }
  const ratePerHour = accruing && elapsedSecs > 0n ? fundingRatePerHour(longBase, shortBase, params) : 0n;
  const indexDelta = fundingIndexDelta(ratePerHour, elapsedSecs);
  return { ratePerHour, elapsedSecs, indexDelta, indexAfter: i64(state.index + indexDelta, "advance_to index") };
}

/** Applies `advance` at `time` (Rust `FundingState::apply`); returns the new state. */
export function fundingApply(
  state: FundingState,
  advance: FundingAdvance,
  time: FundingTime,
  longBase: bigint,
  shortBase: bigint,
): FundingState {
  let { longAccrued, shortAccrued } = state;
  if (advance.indexDelta !== 0n) {
    const delta = advance.indexDelta;
    const long = i64(longBase, "apply long_base");
    const short = i64(shortBase, "apply short_base");
    longAccrued = i128(longAccrued + long * delta, "apply long_accrued");
    shortAccrued = i128(shortAccrued - short * delta, "apply short_accrued");
  }
  return {
    index: advance.indexAfter,
    updatedAt: max(state.updatedAt, time.now),
    pausedSecsAtUpdate: max(state.pausedSecsAtUpdate, time.pausedSecs),
    longAccrued,
    shortAccrued,
  };
}

/** `q · (K − K_q)`: accrued funding in base atoms × FUNDING_PRECISION (+ = owes). Always fits. */
export function fundingAccrued(base: bigint, indexNow: bigint, indexAtSettlement: bigint): bigint {
  return base * (indexNow - indexAtSettlement);
}

/**
 * The collateral change that settling `accrued` at `price` makes (negative when it owes), rounded
 * as asked: `Down` against the holders (what a settlement pays), `Up` in their favour (Rust
 * `funding_value`).
 */
export function fundingValue(accrued: bigint, price: MarketPrice, rounding: Rounding): bigint {
  if (accrued === 0n) return 0n;
  const owes = accrued > 0n;
  let p: bigint;
  let r: Rounding;
  if (owes === (rounding === Rounding.Down)) [p, r] = [price.oracleHigh, Rounding.Up];
  else [p, r] = [price.oracleLow, Rounding.Down];
  p = u64(p, "funding_value price");
  // One product, two divisions rounded the same way (the quotient must fit u128).
  const quoteScaled = u128(divU128(abs(accrued) * p, PRICE_PRECISION, r), "funding_value wide");
  const magnitude = i128(divU128(quoteScaled, FUNDING_PRECISION, r), "funding_value");
  return owes ? -magnitude : magnitude;
}

/** What settling `accrued` pays into collateral now (Rust `funding_payment`). */
export const fundingPayment = (accrued: bigint, price: MarketPrice) => fundingValue(accrued, price, Rounding.Down);

/** A position's unsettled funding: what settling it now adds to its collateral (Rust `position_funding`). */
export function positionFunding(
  base: bigint,
  indexNow: bigint,
  indexAtSettlement: bigint,
  price: MarketPrice,
): bigint {
  if (base === 0n || indexNow === indexAtSettlement) return 0n;
  return fundingPayment(fundingAccrued(base, indexNow, indexAtSettlement), price);
}

