// Port of programs/microliq/src/math/liquidation.rs, function by function (the module doc there
// derives every rule): the smallest lot multiple of one position that brings the account back to
// `E ≥ (1 + β)·M`, the Dutch-auction bonus, the penalty caps, the whole-close rules.

import {
  PRICE_PRECISION,
  RATE_PRECISION,
  Rounding,
  MathError,
  abs,
  applyRate,
  divU128,
  i128,
  max,
  min,
  mulDivU128,
  mulDivWide,
  notional,
  u128,
  U64_MAX,
} from "./fixed.js";
import {
  type MaintenanceHealth,
  type PositionRisk,
  maintenanceRequirement,
  shortfall,
  unrealizedPnl,
} from "./health.js";
import { type TradeOutcome, applyTrade } from "./trade.js";

/** The market parameters liquidation reads (Rust `LiquidationParams`, rates in RATE_PRECISION). */
export interface LiquidationParams {
  liquidationBuffer: number;
  bonusMinRate: number;
  bonusMaxRate: number;
  insuranceFeeRate: number;
  bonusRampSlots: number;
  closeFactor: number;
  dustNotional: bigint;
  baseLotSize: bigint;
}

/** `E · 1e6 − (1e6 + β) · M`: ≥ 0 when the account is back at its target. */
export function targetMarginScaled(health: MaintenanceHealth, liquidationBuffer: number): bigint {
  const buffered = RATE_PRECISION + BigInt(liquidationBuffer);
  // `maintenance_requirement as i128`: a wrapping cast in Rust (never reached: M < 2^127).
  const requirement = i128(BigInt.asIntN(128, health.maintenanceRequirement) * buffered, "target_margin_scaled M");
  return i128(i128(health.equity * RATE_PRECISION, "target_margin_scaled E") - requirement, "target_margin_scaled");
}

/** The keeper bonus rate: `b_min + (b_max − b_min) · max(severity, elapsed)` (Rust `bonus_rate`). */
export function bonusRate(health: MaintenanceHealth, slotsSinceFlagged: bigint, params: LiquidationParams): number {
  const range = BigInt(Math.max(params.bonusMaxRate - params.bonusMinRate, 0));
  const severity =
    health.maintenanceRequirement === 0n || health.equity <= 0n
      ? RATE_PRECISION
      : min(mulDivWide(shortfall(health), RATE_PRECISION, health.maintenanceRequirement, Rounding.Down), RATE_PRECISION);
  const elapsed =
    params.bonusRampSlots === 0
      ? 0n
      : min(mulDivU128(slotsSinceFlagged, RATE_PRECISION, BigInt(params.bonusRampSlots), Rounding.Down), RATE_PRECISION);
  const extra = mulDivU128(range, max(severity, elapsed), RATE_PRECISION, Rounding.Down);
  return params.bonusMinRate + Number(extra);
}

/** `ceil(((1 + β)·M − E) / (P · ((1 + β)·mm − b)))`, zero at target (Rust `exact_slice_estimate`). */
export function exactSliceEstimate(
  health: MaintenanceHealth,
  price: bigint,
  maintenanceRate: number,
  penaltyRate: bigint,
  liquidationBuffer: number,
): bigint {
  const shortfallScaled = -targetMarginScaled(health, liquidationBuffer);
  if (shortfallScaled <= 0n) return 0n;
  const bufferedMm = u128((RATE_PRECISION + BigInt(liquidationBuffer)) * BigInt(maintenanceRate), "estimate mm");
  const penalty = u128(penaltyRate * RATE_PRECISION, "estimate penalty");
  const k = u128(bufferedMm - penalty, "estimate k");
  if (k === 0n || price === 0n) throw new MathError("exact_slice_estimate");
  return mulDivWide(shortfallScaled, RATE_PRECISION * PRICE_PRECISION, u128(k * price, "estimate k·P"), Rounding.Up);
}

/** Most notional (quote atoms) one liquidation call closes: 2^62. */
export const MAX_SLICE_NOTIONAL = 1n << 62n;

/** Why the whole position is closed instead of a slice (Rust `WholeClose`). */
export enum WholeClose {
  Dust = "Dust",
  Insolvent = "Insolvent",
  TargetUnreachable = "TargetUnreachable",
  EquityExhausted = "EquityExhausted",
  /**
   * A repeat breach of a losing position: the account fell below maintenance again within the
   * exchange's `repeatLiquidationWindowSlots` of its last recovery (docs/LIQUIDATION.md, "Repeat
   * breaches"), so this episode closes losing positions whole.
   */
  Repeat = "Repeat",
}

/** The `whole_close` code of the slice event (0 = a slice). */
export function wholeCloseCode(wholeClose: WholeClose | null): number {
  switch (wholeClose) {
    case null:
      return 0;
    case WholeClose.Dust:
      return 1;
    case WholeClose.Insolvent:
      return 2;
    case WholeClose.TargetUnreachable:
      return 3;
    case WholeClose.EquityExhausted:
      return 4;
    case WholeClose.Repeat:
      return 5;
  }
}

/** The effect of closing `closedBase` of the chosen position (Rust `SliceOutcome`; wide amounts). */
export interface SliceOutcome {
  closedBase: bigint;
  trade: TradeOutcome;
  closedNotional: bigint;
  keeperBonus: bigint;
  insuranceFee: bigint;
  equityExhausted: boolean;
  collateralAfter: bigint;
  healthAfter: MaintenanceHealth;
}

/** A liquidation call's plan (Rust `LiquidationPlan`). */
export interface LiquidationPlan {
  healthBefore: MaintenanceHealth;
  bonusRate: number;
  exactSlice: bigint;
  wholeClose: WholeClose | null;
  outcome: SliceOutcome;
}

/** The account and the position a liquidation acts on (Rust `LiquidationTarget`). */
export interface LiquidationTarget {
  collateral: bigint;
  /** Every open position of the account. */
  positions: readonly PositionRisk[];
  /** Index into `positions` of the position to slice. */
  index: number;
  /** A repeat breach (`liquidationEscalated`): a losing chosen position is closed whole. */
  escalated: boolean;
}

/** The collateral with the chosen position's unsettled funding settled into it. */
function settledCollateral(target: LiquidationTarget): bigint {
  return i128(target.collateral + target.positions[target.index].funding, "settled_collateral");
}

/** Equity and requirement of every position but the chosen one (funding included). */
function others(target: LiquidationTarget): MaintenanceHealth {
  let equity = 0n;
  let requirement = 0n;
  target.positions.forEach((position, i) => {
    if (i === target.index || position.base === 0n) return;
    equity = i128(equity + unrealizedPnl(position), "others pnl");
    equity = i128(equity + position.funding, "others funding");
    requirement = u128(requirement + maintenanceRequirement(position), "others requirement");
  });
  return { equity, maintenanceRequirement: requirement };
}

/** Closes `closedBase` of the chosen position with the penalty capped twice (Rust `simulate_slice`). */
export function simulateSlice(
  target: LiquidationTarget,
  othersHealth: MaintenanceHealth,
  closedBase: bigint,
  bonus: number,
  params: LiquidationParams,
): SliceOutcome {
  const position = target.positions[target.index];
  // `closed_base as i64` (wrapping, as in Rust) for a short.
  const closeDelta = position.base > 0n ? -closedBase : BigInt.asIntN(64, closedBase);
  const trade = applyTrade(position.base, position.entryQuote, closeDelta, position.price);
  const remaining: PositionRisk = { ...position, base: trade.newBase, entryQuote: trade.newEntryQuote, funding: 0n };

  const closedNotional = trade.tradedNotional;
  const penaltyRate = BigInt(bonus) + BigInt(params.insuranceFeeRate);
  const fullPenalty = mulDivU128(closedNotional, penaltyRate, RATE_PRECISION, Rounding.Up);
  const fullBonus = applyRate(closedNotional, bonus, Rounding.Down);

  const collateralAfterTrade = i128(settledCollateral(target) + trade.realizedPnl, "simulate_slice collateral");
  const remainingPnl = remaining.base !== 0n ? unrealizedPnl(remaining) : 0n;
  const equityAfterTrade = i128(
    i128(collateralAfterTrade + othersHealth.equity, "simulate_slice equity") + remainingPnl,
    "simulate_slice equity",
  );
  const equityLeft = max(equityAfterTrade, 0n);
  const penalty = min(min(fullPenalty, equityLeft), max(collateralAfterTrade, 0n));
  const keeperBonus = min(fullBonus, penalty);
  const insuranceFee = penalty - keeperBonus;

  const remainingRequirement = remaining.base !== 0n ? maintenanceRequirement(remaining) : 0n;
  const healthAfter: MaintenanceHealth = {
    equity: i128(equityAfterTrade - penalty, "simulate_slice equity after"),
    maintenanceRequirement: u128(othersHealth.maintenanceRequirement + remainingRequirement, "simulate_slice M"),
  };
  return {
    closedBase,
    trade,
    closedNotional,
    keeperBonus,
    insuranceFee,
    equityExhausted: penalty < fullPenalty && penalty === equityLeft,
    collateralAfter: i128(collateralAfterTrade - penalty, "simulate_slice collateral after"),
    healthAfter,
  };
}

/** `min(reward_cap, closed notional · mm, fund balance)` (Rust `insolvent_close_reward`). */
export function insolventCloseReward(
  closedNotional: bigint,
  maintenanceRate: number,
  rewardCap: bigint,
  fundBalance: bigint,
): bigint {
  return min(min(applyRate(closedNotional, maintenanceRate, Rounding.Down), rewardCap), fundBalance);
}

/** `to_u64(v).unwrap_or(u64::MAX)`. */
const toU64OrMax = (v: bigint) => (v > U64_MAX ? U64_MAX : v);

/**
 * Plans one liquidation call on `target` (Rust `plan_liquidation`). `maxBase` is the caller's cap
 * (base atoms, rounded down to the lot; at least one lot). Follows the Rust body step by step.
 */
export function planLiquidation(
  target: LiquidationTarget,
  slotsSinceFlagged: bigint,
  maxBase: bigint,
  params: LiquidationParams,
): LiquidationPlan {
  const position = target.positions[target.index];
  const size = abs(position.base);
  const lot = max(params.baseLotSize, 1n);
  const othersHealth = others(target);
  const healthBefore: MaintenanceHealth = {
    equity: i128(
      i128(settledCollateral(target) + othersHealth.equity, "plan equity") + unrealizedPnl(position),
      "plan equity",
    ),
    maintenanceRequirement: u128(othersHealth.maintenanceRequirement + maintenanceRequirement(position), "plan M"),
  };
  const bonus = bonusRate(healthBefore, slotsSinceFlagged, params);
  const simulate = (closed: bigint) => simulateSlice(target, othersHealth, closed, bonus, params);
  const reached = (outcome: SliceOutcome) => targetMarginScaled(outcome.healthAfter, params.liquidationBuffer) >= 0n;
  let atSlice: SliceOutcome | null = null;

  let wholeClose: WholeClose | null = null;
  let exactSlice: bigint;
  if (healthBefore.equity <= 0n) {
    wholeClose = WholeClose.Insolvent;
    exactSlice = size;
  } else if (target.escalated && unrealizedPnl(position) <= 0n) {
    // A repeat breach closes a losing position whole (on price alone, as the program: it settles
    // the chosen position's funding before planning); a winner is sliced like any other.
    wholeClose = WholeClose.Repeat;
    exactSlice = size;
  } else {
    const penaltyRate = BigInt(bonus) + BigInt(params.insuranceFeeRate);
    const estimate = exactSliceEstimate(
      healthBefore,
      position.price.oracleHigh,
      position.maintenanceRate,
      penaltyRate,
      params.liquidationBuffer,
    );
    const roundUp = (base: bigint) => toU64OrMax(u128(divU128(base, lot, Rounding.Up) * lot, "round_up"));
    let slice = min(max(roundUp(estimate), min(lot, size)), size);
    // Up a lot at a time, then (after two steps) doubling the step, exactly as the program
    // searches (a lot worth less than the health code's rounding would otherwise take size/lot
    // simulations); an overshoot is walked back by the search below.
    let step = lot;
    let stepsTaken = 0;
    while (slice < size) {
      const outcome = simulate(slice);
      if (reached(outcome)) {
        atSlice = outcome;
        break;
      }
      slice = min(min(slice + step, U64_MAX), size);
      stepsTaken += 1;
      if (stepsTaken >= 2) step = min(step * 2n, U64_MAX);
    }
    if (slice > lot) {
      const less = simulate(slice - lot);
      if (reached(less)) {
        const floor = exactSliceEstimate(
          healthBefore,
          position.price.oracleHigh,
          position.maintenanceRate,
          0n,
          params.liquidationBuffer,
        );
        let low = min(max(roundUp(floor), lot), slice - lot);
        let high = slice - lot;
        atSlice = less;
        while (low < high) {
          const middle = low + ((high - low) / lot / 2n) * lot;
          const outcome = simulate(middle);
          if (reached(outcome)) {
            high = middle;
            atSlice = outcome;
          } else {
            low = middle + lot;
          }
        }
        slice = high;
        // Below the zero-penalty estimate (rounding can put it many lots high): gallop down,
        // doubling the step, until a slice misses, then bisect between the miss and the hit,
        // exactly as the program does.
        let downStep = lot;
        let miss: bigint | null = null;
        while (slice > lot) {
          const probe = max(slice > downStep ? slice - downStep : 0n, lot);
          const outcome = simulate(probe);
          if (!reached(outcome)) {
            miss = probe;
            break;
          }
          slice = probe;
          atSlice = outcome;
          downStep = min(downStep * 2n, U64_MAX);
        }
        if (miss !== null) {
          let lowMiss = miss + lot;
          let highHit = slice;
          while (lowMiss < highHit) {
            const middle = lowMiss + ((highHit - lowMiss) / lot / 2n) * lot;
            const outcome = simulate(middle);
            if (reached(outcome)) {
              highHit = middle;
              atSlice = outcome;
            } else {
              lowMiss = middle + lot;
            }
          }
          slice = highHit;
        }
      }
    }
    if (slice === size) {
      const outcome = atSlice ?? simulate(size);
      if (!reached(outcome)) wholeClose = WholeClose.TargetUnreachable;
      atSlice = outcome;
    }
    exactSlice = slice;
  }

  let closed = exactSlice;
  if (wholeClose === null) {
    const factorCap = u128(
      divU128(applyRate(size, params.closeFactor, Rounding.Up), lot, Rounding.Up) * lot,
      "close factor cap",
    );
    const callerCap = max(min((maxBase / lot) * lot, U64_MAX), lot);
    closed = min(min(min(closed, toU64OrMax(factorCap)), callerCap), size);
    const remaining = size - closed;
    if (remaining > 0n && notional(remaining, position.price.oracleHigh, Rounding.Up) < params.dustNotional) {
      wholeClose = WholeClose.Dust;
      closed = size;
    }
  } else {
    closed = size;
  }

  let outcome = atSlice !== null && closed === exactSlice ? atSlice : simulate(closed);
  if (wholeClose === null && closed < size && outcome.equityExhausted) {
    wholeClose = WholeClose.EquityExhausted;
    closed = size;
    outcome = simulate(closed);
  }
  if (outcome.closedNotional > MAX_SLICE_NOTIONAL) {
    const most = divU128(u128(MAX_SLICE_NOTIONAL * PRICE_PRECISION, "most"), position.price.oracleHigh, Rounding.Down);
    const mostLots = toU64OrMax(max(u128((most / lot) * lot, "most lots"), lot));
    if (mostLots < closed) {
      closed = mostLots;
      outcome = simulate(closed);
    }
  }
  return { healthBefore, bonusRate: bonus, exactSlice, wholeClose, outcome };
}

