// What a front end shows for one margin account, computed the way the program (and the keeper,
// app/keeper/src/scan.rs) computes it: each market's price through the oracle guards and its
// funding index projected to now (`Market::funding_state_at`), the account's positions as
// `PositionRisk`s, then health, margin ratio, maximum withdrawable, liquidation prices, funding
// and the next liquidation slice of each position (`plan_liquidation` with the inputs the
// `liquidate` instruction builds: the account's β, the episode's ramp slots).

import { U64_MAX, u128 } from "./fixed.js";
import type { FundingState } from "./funding.js";
import {
  type MaintenanceHealth,
  type PositionRisk,
  initialHealth,
  initialRequirement,
  isLiquidatable,
  liquidationPrice,
  maintenanceHealth,
  marginRatio,
  maxWithdrawable,
} from "./health.js";
import {
  type LiquidationParams,
  type LiquidationPlan,
  WholeClose,
  insolventCloseReward,
  planLiquidation,
  targetMarginScaled,
} from "./liquidation.js";
import type { OracleReading } from "./oracle.js";
import {
  type ExchangeFundingFields,
  type MarginAccountFields,
  type MarketFundingFields,
  PAUSE_LIQUIDATE,
  AccountRuleError,
  accountLiquidationBuffer,
  episodeLive,
  fundingStateAt,
  fundingTime,
  liquidationEscalated,
  positionRisks,
  riskIndex,
  slotsInEpisode,
} from "./state.js";

/** The market parameters the account math reads (`MarketParams`). */
export interface MarketRiskParams {
  initialRate: number;
  maintenanceRate: number;
  liquidationBuffer: number;
  bonusMinRate: number;
  bonusMaxRate: number;
  insuranceFeeRate: number;
  bonusRampSlots: number;
  closeFactor: number;
  dustNotional: bigint;
  baseLotSize: bigint;
}

/** `MarketParams::liquidation`. */
export function liquidationParams(params: MarketRiskParams): LiquidationParams {
  const { liquidationBuffer, bonusMinRate, bonusMaxRate, insuranceFeeRate, bonusRampSlots, closeFactor } = params;
  return {
    liquidationBuffer,
    bonusMinRate,
    bonusMaxRate,
    insuranceFeeRate,
    bonusRampSlots,
    closeFactor,
    dustNotional: params.dustNotional,
    baseLotSize: params.baseLotSize,
  };
}

/** One market at the moment of the view: its state and its validated price (null: refused). */
export interface MarketView extends MarketFundingFields {
  marketIndex: number;
  params: MarketRiskParams;
  oracle: OracleReading | null;
}

/** What the view reads of the exchange. */
export interface ExchangeView extends ExchangeFundingFields {
  paused: number;
  liquidationEpisodeSlots: bigint;
  /** 0: repeat breaches off. */
  repeatLiquidationWindowSlots: bigint;
  insolventCloseReward: bigint;
}

/** The clock the view is computed at. */
export interface ViewClock {
  unixTimestamp: bigint;
  slot: bigint;
}

/** Each market's funding state projected to the clock (`Market::funding_state_at`). */
export function marketFundingNow(market: MarketView, exchange: ExchangeView, clock: ViewClock): FundingState {
  return fundingStateAt(market, fundingTime(exchange, clock.unixTimestamp));
}

/**
 * The account's positions as the program values them (the keeper's `Snapshot::lookup`): a market
 * with no valid price makes the program refuse (`HealthAccountsMissing`).
 */
export function accountPositionRisks(
  account: MarginAccountFields,
  markets: readonly MarketView[],
  exchange: ExchangeView,
  clock: ViewClock,
): PositionRisk[] {
  const time = fundingTime(exchange, clock.unixTimestamp);
  return positionRisks(account, (index) => {
    const market = markets.find((m) => m.marketIndex === index);
    if (market === undefined || market.oracle === null) return undefined;
    return {
      price: market.oracle.price,
      maintenanceRate: market.params.maintenanceRate,
      initialRate: market.params.initialRate,
      fundingIndex: fundingStateAt(market, time).index,
    };
  });
}

/** The next `liquidate` call on one position, as the program would plan it now. */
export interface LiquidationPreview {
  marketIndex: number;
  /** The program would slice (`E < M`, or a live episode below its end target). */
  liquidatable: boolean;
  /** Liquidations of this market are paused (here or exchange-wide): the program refuses. */
  paused: boolean;
  /** The account's β (largest buffer among its markets) and the episode's ramp slots. */
  liquidationBuffer: number;
  slotsSinceFlagged: bigint;
  /**
   * A repeat breach (`liquidationEscalated`): a losing position is closed whole
   * (`plan.wholeClose === WholeClose.Repeat`, event code 5), a winning one sliced.
   */
  escalated: boolean;
  plan: LiquidationPlan;
  /** Paid by the insurance fund for an insolvent close (needs the fund's balance). */
  insolventReward: bigint;
}

/**
 * The oldest publish time among the prices of the markets `account` holds positions in (the
 * keeper's `Snapshot::oldest_price_time`, what the program compares with the last recovery).
 * A market without a valid price makes the program refuse (`HealthAccountsMissing`).
 */
export function oldestPriceTime(account: MarginAccountFields, markets: readonly MarketView[]): bigint | null {
  let oldest: bigint | null = null;
  for (const position of account.positions) {
    if (position.base === 0n) continue;
    const oracle = markets.find((m) => m.marketIndex === position.marketIndex)?.oracle;
    if (oracle === undefined || oracle === null) throw new AccountRuleError("HealthAccountsMissing");
    if (oldest === null || oracle.publishTime < oldest) oldest = oracle.publishTime;
  }
  return oldest;
}

/**
 * The plan of `liquidate(marketIndex, maxBase)` now (the keeper's `Assessment::plan`, the
 * instruction's inputs): the account's β, the episode's liveness and ramp, `plan_liquidation`.
 */
export function previewLiquidation(
  account: MarginAccountFields,
  risks: readonly PositionRisk[],
  markets: readonly MarketView[],
  exchange: ExchangeView,
  clock: ViewClock,
  marketIndex: number,
  maxBase: bigint = U64_MAX,
  fundBalance: bigint = 0n,
): LiquidationPreview {
  const index = riskIndex(account, marketIndex);
  const market = markets.find((m) => m.marketIndex === marketIndex);
  if (index === undefined || market === undefined) throw new Error(`no position in market ${marketIndex}`);
  const params = liquidationParams(market.params);
  params.liquidationBuffer = accountLiquidationBuffer(
    account,
    (i) => markets.find((m) => m.marketIndex === i)?.params.liquidationBuffer,
  );
  const episodeSlots = exchange.liquidationEpisodeSlots;
  const live = episodeLive(account, clock.slot, episodeSlots);
  const slotsSinceFlagged = slotsInEpisode(account, clock.slot, episodeSlots);
  // The account holds a position here, so there is a price time (or the call above refused).
  const escalated = liquidationEscalated(
    account,
    clock.slot,
    episodeSlots,
    exchange.repeatLiquidationWindowSlots,
    oldestPriceTime(account, markets) as bigint,
  );
  const plan = planLiquidation(
    { collateral: account.collateral, positions: risks, index, escalated },
    slotsSinceFlagged,
    maxBase,
    params,
  );
  const belowTarget = targetMarginScaled(plan.healthBefore, params.liquidationBuffer) < 0n;
  const insolventReward =
    plan.wholeClose === WholeClose.Insolvent
      ? insolventCloseReward(
          plan.outcome.closedNotional,
          risks[index].maintenanceRate,
          exchange.insolventCloseReward,
          fundBalance,
        )
      : 0n;
  return {
    marketIndex,
    liquidatable: isLiquidatable(plan.healthBefore) || (live && belowTarget),
    paused: ((exchange.paused | market.paused) & PAUSE_LIQUIDATE) !== 0,
    liquidationBuffer: params.liquidationBuffer,
    slotsSinceFlagged,
    escalated,
    plan,
    insolventReward,
  };
}

/** One position's figures. */
export interface PositionView {
  marketIndex: number;
  risk: PositionRisk;
  /** Unsettled funding (quote atoms; negative = owes), at the market's index projected to now. */
  funding: bigint;
  liquidationPrice: bigint | null;
}

/** Every figure of the account (`accountView`). */
export interface AccountView {
  health: MaintenanceHealth;
  initialHealth: bigint;
  /** `I = Σ |q|·P'·im` at conservative prices (`initialHealth = E' − I`). */
  initialRequirement: bigint;
  marginRatio: bigint | null;
  maxWithdrawable: bigint;
  positions: PositionView[];
}

/** Health, margin ratio, maximum withdrawable, and per position funding and liquidation price. */
export function accountView(
  account: MarginAccountFields,
  markets: readonly MarketView[],
  exchange: ExchangeView,
  clock: ViewClock,
): AccountView {
  const risks = accountPositionRisks(account, markets, exchange, clock);
  const health = maintenanceHealth(account.collateral, risks);
  const open = account.positions.filter((p) => p.base !== 0n);
  return {
    health,
    initialHealth: initialHealth(account.collateral, risks),
    initialRequirement: risks.reduce((sum, risk) => u128(sum + initialRequirement(risk), "initial requirement"), 0n),
    marginRatio: marginRatio(health),
    maxWithdrawable: maxWithdrawable(account.collateral, risks),
    positions: risks.map((risk, i) => ({
      marketIndex: open[i].marketIndex,
      risk,
      funding: risk.funding,
      liquidationPrice: liquidationPrice(account.collateral, risks, i),
    })),
  };
}

