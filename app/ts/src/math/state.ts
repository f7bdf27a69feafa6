// The parts of programs/microliq/src/state/{exchange,market,margin_account}.rs the math reads:
// the funding clock, a market's funding index projected to now, an account's positions as
// `PositionRisk`s (unsettled funding included), the liquidation episode and the account's β.
// Field names are the accounts' (camelCase); only the fields the math needs are required.

import { MicroliqRefusal } from "./errors.js";
import { max, saturatingAddI64, saturatingSubI64 } from "./fixed.js";
import {
  type FundingAdvance,
  type FundingParams,
  type FundingState,
  type FundingTime,
  fundingAdvanceTo,
  fundingApply,
  positionFunding,
} from "./funding.js";
import type { MarketPrice, PositionRisk } from "./health.js";

/** `pause::REDUCE`: closes paused (funding does not accrue). */
export const PAUSE_REDUCE = 1 << 3;
/** `pause::LIQUIDATE`. */
export const PAUSE_LIQUIDATE = 1 << 6;
/** Position slots per margin account. */
export const MAX_POSITIONS = 8;

/** A program rule (not arithmetic) refused the inputs, named and numbered as the program does. */
export class AccountRuleError extends MicroliqRefusal<"HealthAccountsMissing"> {
  constructor(errorName: "HealthAccountsMissing") {
    super(errorName);
    this.name = "AccountRuleError";
  }
}

/** What funding reads of the exchange. */
export interface ExchangeFundingFields {
  fundingPausedSecs: bigint;
  fundingPausedSince: bigint;
}

/** The moment `now` for funding (Rust `Exchange::funding_time`). */
export function fundingTime(exchange: ExchangeFundingFields, now: bigint): FundingTime {
  const ongoing = exchange.fundingPausedSince !== 0n ? max(saturatingSubI64(now, exchange.fundingPausedSince), 0n) : 0n;
  return { now, pausedSecs: saturatingAddI64(exchange.fundingPausedSecs, ongoing) };
}

/** What funding reads of a market. */
export interface MarketFundingFields {
  longBase: bigint;
  shortBase: bigint;
  paused: number;
  fundingIndex: bigint;
  fundingUpdatedAt: bigint;
  fundingPausedSecsAtUpdate: bigint;
  /** `funding_long_accrued` / `funding_short_accrued` as i128 (`SplitI128::get`). */
  fundingLongAccrued: bigint;
  fundingShortAccrued: bigint;
  fundingRateScale: number;
  fundingMaxRate: number;
}

export const marketFundingParams = (m: MarketFundingFields): FundingParams => ({
  rateScale: m.fundingRateScale,
  maxRate: m.fundingMaxRate,
});

/** Funding accrues unless the market's closes are paused (Rust `Market::funding_accruing`). */
export const marketFundingAccruing = (m: MarketFundingFields) => (m.paused & PAUSE_REDUCE) === 0;

export function marketFundingState(m: MarketFundingFields): FundingState {
  return {
    index: m.fundingIndex,
    updatedAt: m.fundingUpdatedAt,
    pausedSecsAtUpdate: m.fundingPausedSecsAtUpdate,
    longAccrued: m.fundingLongAccrued,
    shortAccrued: m.fundingShortAccrued,
  };
}

/** The index advance to `time` an advance would apply (Rust `Market::funding_advance`). */
export function marketFundingAdvance(m: MarketFundingFields, time: FundingTime): FundingAdvance {
  return fundingAdvanceTo(
    marketFundingState(m),
    time,
    m.longBase,
    m.shortBase,
    marketFundingParams(m),
    marketFundingAccruing(m),
  );
}

/**
 * The funding state as it would stand at `time` (Rust `Market::funding_state_at`); its `index` is
 * the market's funding index projected to now. `time` is `fundingTime(exchange, now)`.
 */
export function fundingStateAt(m: MarketFundingFields, time: FundingTime): FundingState {
  return fundingApply(marketFundingState(m), marketFundingAdvance(m, time), time, m.longBase, m.shortBase);
}

/** One position slot (Rust `Position`). */
export interface AccountPosition {
  base: bigint;
  entryQuote: bigint;
  marketIndex: number;
}

/** What the math reads of a margin account. */
export interface MarginAccountFields {
  collateral: bigint;
  positions: readonly AccountPosition[];
  /** The market's funding index at each slot's last settlement (parallel to `positions`). */
  fundingIndexes: readonly bigint[];
  beingLiquidated: number;
  liquidationStartSlot: bigint;
  liquidationLastSlot: bigint;
  /** 1 when the live episode started as a repeat breach (closes losing positions whole). */
  episodeEscalated: number;
  /** Slot and unix time of the latest recovery (an episode that ended at its target); 0: none. */
  lastRecoverySlot: bigint;
  lastRecoveryTime: bigint;
}

/** What health needs of one market: price, rates and its funding index as it stands now. */
export interface MarketRiskInputs {
  price: MarketPrice;
  maintenanceRate: number;
  initialRate: number;
  fundingIndex: bigint;
}

/**
 * The health inputs of every open position, in slot order, unsettled funding included (Rust
 * `MarginAccount::position_risks`). `market` returns undefined for a market without a valid
 * price: the program then refuses (`HealthAccountsMissing`).
 */
export function positionRisks(
  account: MarginAccountFields,
  market: (marketIndex: number) => MarketRiskInputs | undefined,
): PositionRisk[] {
  const risks: PositionRisk[] = [];
  account.positions.forEach((position, slot) => {
    if (position.base === 0n) return;
    const inputs = market(position.marketIndex);
    if (inputs === undefined) throw new AccountRuleError("HealthAccountsMissing");
    const funding = positionFunding(position.base, inputs.fundingIndex, account.fundingIndexes[slot], inputs.price);
    risks.push({
      base: position.base,
      entryQuote: position.entryQuote,
      price: inputs.price,
      maintenanceRate: inputs.maintenanceRate,
      initialRate: inputs.initialRate,
      funding,
    });
  });
  return risks;
}

/** Index, among `positionRisks`, of the position in `marketIndex` (Rust `risk_index`). */
export function riskIndex(account: MarginAccountFields, marketIndex: number): number | undefined {
  const index = account.positions.filter((p) => p.base !== 0n).findIndex((p) => p.marketIndex === marketIndex);
  return index < 0 ? undefined : index;
}

/** Whether a liquidation episode is running at `slot` (Rust `MarginAccount::episode_live`). */
export function episodeLive(account: MarginAccountFields, slot: bigint, episodeSlots: bigint): boolean {
  return account.beingLiquidated === 1 && max(slot - account.liquidationLastSlot, 0n) <= episodeSlots;
}

/**
 * Whether a liquidation at `slot` is a repeat breach, whose losing positions are closed whole
 * (Rust `MarginAccount::liquidation_escalated`, docs/LIQUIDATION.md "Repeat breaches"). A live
 * episode keeps what it started with; a new one is a repeat when the latest recovery is at most
 * `repeatWindow` slots old (0: off) and every price the breach is judged on was published after it
 * (`oldestPriceTime`: the oldest publish time among the prices of the account's positions).
 */
export function liquidationEscalated(
  account: MarginAccountFields,
  slot: bigint,
  episodeSlots: bigint,
  repeatWindow: bigint,
  oldestPriceTime: bigint,
): boolean {
  if (episodeLive(account, slot, episodeSlots)) return account.episodeEscalated === 1;
  return (
    repeatWindow !== 0n &&
    account.lastRecoverySlot !== 0n &&
    max(slot - account.lastRecoverySlot, 0n) <= repeatWindow &&
    oldestPriceTime > account.lastRecoveryTime
  );
}

/** Slots since the live episode started, 0 when none: what the bonus ramp reads. */
export function slotsInEpisode(account: MarginAccountFields, slot: bigint, episodeSlots: bigint): bigint {
  return episodeLive(account, slot, episodeSlots) ? max(slot - account.liquidationStartSlot, 0n) : 0n;
}

/** β of the account's liquidation: the largest buffer among its markets (Rust `liquidation_buffer`). */
export function accountLiquidationBuffer(
  account: MarginAccountFields,
  bufferOf: (marketIndex: number) => number | undefined,
): number {
  let beta = 0;
  for (const position of account.positions) {
    if (position.base === 0n) continue;
    const buffer = bufferOf(position.marketIndex);
    if (buffer !== undefined) beta = Math.max(beta, buffer);
  }
  return beta;
}

