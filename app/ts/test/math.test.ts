// Hand-checked cases for the TS port of the program's math: figures from docs/FUNDING.md,
// docs/HEALTH.md and the Rust unit tests, worked out by hand. The golden test checks the port
// against the program on thousands of generated cases; these say what the numbers mean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { getMicroliqErrorName } from "../src/errors.js";
import {
  AccountRuleError,
  MathError,
  MicroliqRefusal,
  OracleError,
  PRICE_PRECISION,
  Rounding,
  WholeClose,
  applyTrade,
  bonusRate,
  divI128,
  exactPrice,
  fundingIndexDelta,
  fundingRatePerHour,
  fundingStateAt,
  initialHealth,
  isLiquidatable,
  liquidationEscalated,
  liquidationPrice,
  maintenanceHealth,
  marginRatio,
  marketPriceFromOracle,
  maxWithdrawable,
  mulDivWide,
  oracleToFixed,
  planLiquidation,
  simulateSlice,
  positionFunding,
  targetMarginScaled,
  validatePrice,
  type LiquidationParams,
  type MarginAccountFields,
  type MarketFundingFields,
  type PositionRisk,
} from "../src/math/index.js";

const P = PRICE_PRECISION;

function long(base: bigint, entryQuote: bigint, price: bigint): PositionRisk {
  return { base, entryQuote, price: exactPrice(price), maintenanceRate: 50_000, initialRate: 100_000, funding: 0n };
}

test("FUNDING.md worked example: 10 SOL long at $150, ΔK 8e11 owes 1,200,000 atoms", () => {
  // 0.02 %/h scale, 0.01 %/h cap, longs 300 SOL vs shorts 100: skew 50 % → capped at 1e11/h.
  const params = { rateScale: 200, maxRate: 100 };
  const rate = fundingRatePerHour(300_000_000_000n, 100_000_000_000n, params);
  assert.equal(rate, 100_000_000_000n);
  assert.equal(fundingIndexDelta(rate, 8n * 3_600n), 800_000_000_000n);
  const sol = exactPrice(150_000_000_000n); // $150 = 0.15 quote atoms per base atom
  assert.equal(positionFunding(10_000_000_000n, 800_000_000_000n, 0n, sol), -1_200_000n);
  assert.equal(positionFunding(-5_000_000_000n, 800_000_000_000n, 0n, sol), 600_000n); // bob receives 0.60
  // At $160 alice would pay 1.28.
  assert.equal(positionFunding(10_000_000_000n, 800_000_000_000n, 0n, exactPrice(160_000_000_000n)), -1_280_000n);
});

test("the market's funding index projected to now, and a paused exchange's seconds not charged", () => {
  const market: MarketFundingFields = {
    longBase: 10n,
    shortBase: 0n,
    paused: 0,
    fundingIndex: 0n,
    fundingUpdatedAt: 1_000n,
    fundingPausedSecsAtUpdate: 0n,
    fundingLongAccrued: 0n,
    fundingShortAccrued: 0n,
    fundingRateScale: 100,
    fundingMaxRate: 100,
  };
  const hour = fundingStateAt(market, { now: 1_000n + 3_600n, pausedSecs: 0n });
  assert.equal(hour.index, 100_000_000_000n); // 0.01 %/h for one hour
  assert.equal(hour.longAccrued, 1_000_000_000_000n);
  // 40 of the 60 minutes paused exchange-wide: 20 minutes charged.
  const partly = fundingStateAt(market, { now: 1_000n + 3_600n, pausedSecs: 2_400n });
  assert.equal(partly.index, 100_000_000_000n / 3n);
  // The market's own closes paused (pause::REDUCE): the clock moves, the index does not.
  const paused = fundingStateAt({ ...market, paused: 1 << 3 }, { now: 1_000n + 3_600n, pausedSecs: 0n });
  assert.deepEqual([paused.index, paused.updatedAt], [0n, 4_600n]);
  // Never advanced: the first advance only starts the clock.
  assert.equal(fundingStateAt({ ...market, fundingUpdatedAt: 0n }, { now: 99_999n, pausedSecs: 0n }).index, 0n);
});

test("HEALTH.md worked example: 1,000 USDC, 10 SOL long bought at 150, SOL at 140", () => {
  const position = long(10_000_000_000n, 1_500_000_000n, (140n * P) / 1000n);
  const health = maintenanceHealth(1_000_000_000n, [position]);
  assert.deepEqual(health, { equity: 900_000_000n, maintenanceRequirement: 70_000_000n });
  assert.equal(isLiquidatable(health), false);
  assert.equal(initialHealth(1_000_000_000n, [position]), 760_000_000n);
  assert.equal(marginRatio(health), 77_778n); // 70/900 = 7.7778 %, rounded up
  assert.equal(maxWithdrawable(1_000_000_000n, [position]), 760_000_000n);
  assert.equal(maxWithdrawable(1_000_000_000n, [{ ...position, funding: -10_000_000n }]), 750_000_000n);
  // E − M = 1000 − 1500 + 10·P·0.95 crosses 0 at $52.6315…; the program's rounding keeps the
  // account liquidatable up to 0.052631578999 quote atoms per base atom.
  const price = liquidationPrice(1_000_000_000n, [position], 0);
  assert.equal(price, 52_631_578_999n);
  const at = (p: bigint) => maintenanceHealth(1_000_000_000n, [{ ...position, price: exactPrice(p) }]);
  assert.equal(isLiquidatable(at(price!)), true);
  assert.equal(isLiquidatable(at(price! + 1n)), false);
  const short = { ...position, base: -10_000_000_000n, entryQuote: -1_500_000_000n };
  assert.equal(liquidationPrice(1_000_000_000n, [short], 0), 238_095_238_001n);
  assert.equal(liquidationPrice(1_500_000_001n, [position], 0), null);
});

test("rounding is against the account", () => {
  assert.equal(divI128(-7n, 2n, Rounding.Down), -4n);
  assert.equal(divI128(-7n, 2n, Rounding.Up), -3n);
  // SOL $150.00000000 (expo −8), USDC 6 decimals, SOL 9: 0.15 quote atoms per base atom.
  assert.equal(oracleToFixed(15_000_000_000n, -8, 6, 9, Rounding.Down), 150_000_000_000n);
  assert.equal(oracleToFixed(12_345n, -10, 6, 9, Rounding.Up), 1_235n);
  // $150 ± $0.5, EMA $151: conservative long min(149.5, 151), short max(150.5, 151).
  const price = marketPriceFromOracle(15_000_000_000n, 50_000_000n, 15_100_000_000n, -8, 6, 9);
  assert.deepEqual(price, {
    oracleLow: 150_000_000_000n,
    oracleHigh: 150_000_000_000n,
    conservativeLong: 149_500_000_000n,
    conservativeShort: 151_000_000_000n,
  });
  // Entry 10 for 3 atoms; closing 1 removes ⌈10/3⌉ = 4 of entry.
  const trade = applyTrade(3n, 10n, -1n, exactPrice(P));
  assert.deepEqual([trade.realizedPnl, trade.newEntryQuote], [-3n, 6n]);
});

test("checked arithmetic throws MathError where Rust returns it", () => {
  assert.throws(() => mulDivWide((1n << 128n) - 1n, 2n, 1n, Rounding.Down), MathError);
  assert.throws(() => applyTrade(1n << 62n, 0n, (1n << 63n) - 1n, exactPrice(P)), MathError); // new base > i64
  assert.throws(() => oracleToFixed((1n << 64n) - 1n, 10, 6, 0, Rounding.Down), MathError);
  assert.throws(() => liquidationPrice(0n, [long(1n, 0n, P)], 1), MathError);
});

test("the math's refusals carry the program's error name and custom code", () => {
  for (const [refusal, name, code] of [
    [new MathError("here"), "MathOverflow", 6000],
    [new OracleError("OracleStale"), "OracleStale", 6015],
    [new OracleError("OraclePostedInFuture"), "OraclePostedInFuture", 6057],
    [new AccountRuleError("HealthAccountsMissing"), "HealthAccountsMissing", 6021],
  ] as const) {
    assert.ok(refusal instanceof MicroliqRefusal);
    assert.deepEqual([refusal.errorName, refusal.code], [name, code]);
    assert.equal(getMicroliqErrorName(refusal.code), name);
  }
});

test("oracle guards name the program's errors", () => {
  const market = { maxStalenessSecs: 60, maxConfRate: 10_000, maxEmaDivergence: 50_000, oracleTradingStalenessSecs: 10, baseDecimals: 9 };
  const raw = { price: 15_000_000_000n, conf: 1_000_000n, expo: -8, publishTime: 1_000n, emaPrice: 15_000_000_000n };
  const reading = validatePrice(raw, market, 6, 1_005n);
  assert.equal(reading.price.oracleLow, 150_000_000_000n);
  assert.equal(reading.staleForTrading, false);
  assert.equal(validatePrice(raw, market, 6, 1_011n).staleForTrading, true);
  const refused = (f: () => unknown, name: string) =>
    assert.throws(f, (e: unknown) => e instanceof OracleError && e.errorName === name);
  refused(() => validatePrice(raw, market, 6, 1_061n), "OracleStale");
  refused(() => validatePrice({ ...raw, conf: 150_000_001n }, market, 6, 1_000n), "OracleConfidenceTooWide");
  refused(() => validatePrice({ ...raw, emaPrice: 0n }, market, 6, 1_000n), "OracleNonPositivePrice");
  refused(() => validatePrice({ ...raw, expo: 20 }, market, 6, 1_000n), "OraclePriceOutOfRange");
  assert.equal(validatePrice({ ...raw, emaPrice: 14_000_000_000n }, market, 6, 1_000n).emaDiverged, true);
});

const params: LiquidationParams = {
  liquidationBuffer: 200_000,
  bonusMinRate: 5_000,
  bonusMaxRate: 25_000,
  insuranceFeeRate: 10_000,
  bonusRampSlots: 150,
  closeFactor: 1_000_000,
  dustNotional: 1_000_000n,
  baseLotSize: 1_000_000n,
};

test("liquidation: a 10x long just under maintenance closes the smallest lot multiple", () => {
  // 66.666 SOL bought at $150 on 1,000 USDC; SOL at $142: E = 466.67 < M = 473.33.
  const position = long(66_666_000_000n, 9_999_900_000n, 142_000_000_000n);
  const target = { collateral: 1_000_000_000n, positions: [position], index: 0, escalated: false };
  const plan = planLiquidation(target, 0n, (1n << 64n) - 1n, params);
  assert.equal(isLiquidatable(plan.healthBefore), true);
  assert.equal(plan.wholeClose, null);
  assert.ok(plan.outcome.closedBase * 10n < 66_666_000_000n * 3n);
  assert.ok(targetMarginScaled(plan.outcome.healthAfter, 200_000) >= 0n);
  // Bonus: severity (M − E)/M ≈ 1.4 % of the 2 % range above the 0.5 % minimum.
  assert.equal(bonusRate({ equity: 99n, maintenanceRequirement: 100n }, 0n, params), 5_200);
  assert.equal(bonusRate({ equity: 99n, maintenanceRequirement: 100n }, 75n, params), 15_000);
});

test("liquidation: an insolvent account closes the whole position without penalty", () => {
  // Long 10 SOL bought at $150, now $50, 500 collateral.
  const position = long(10_000_000_000n, 1_500_000_000n, 50_000_000_000n);
  const plan = planLiquidation({ collateral: 500_000_000n, positions: [position], index: 0, escalated: false }, 0n, 1_000_000n, params);
  assert.equal(plan.wholeClose, WholeClose.Insolvent);
  assert.equal(plan.outcome.closedBase, 10_000_000_000n);
  assert.deepEqual([plan.outcome.keeperBonus, plan.outcome.insuranceFee], [0n, 0n]);
  assert.equal(plan.outcome.collateralAfter, -500_000_000n);
});

test("liquidation: the penalty is capped at the equity left", () => {
  const position = long(10_000_000_000n, 1_000_000_000n, (100n * P) / 1000n);
  const plan = planLiquidation({ collateral: 2_000_000n, positions: [position], index: 0, escalated: false }, 0n, (1n << 64n) - 1n, params);
  assert.equal(plan.outcome.keeperBonus + plan.outcome.insuranceFee, 2_000_000n);
  assert.equal(plan.outcome.healthAfter.equity, 0n);
});

test("liquidation: a lot worth less than the rounding is planned in few steps (the galloping search)", () => {
  // The program's unit test of the same name: a price of 2e-12 quote atoms per base atom and a
  // one-atom lot, so a lot moves the margin by ~1e-13 of an atom. One lot at a time from the
  // estimate would take ~1e12 simulations; doubling the step after two lots takes a few dozen.
  const lotParams = { ...params, baseLotSize: 1n, dustNotional: 0n };
  const base = 100_000_000_000_000_000n; // notional 200,000 atoms at P = 2
  const target = { collateral: 9_000n, positions: [long(base, 200_000n, 2n)], index: 0, escalated: false };
  const started = Date.now();
  const plan = planLiquidation(target, 0n, (1n << 64n) - 1n, lotParams);
  assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
  assert.equal(isLiquidatable(plan.healthBefore), true);
  const reached = (closed: bigint) =>
    targetMarginScaled(
      simulateSlice(target, { equity: 0n, maintenanceRequirement: 0n }, closed, plan.bonusRate, lotParams).healthAfter,
      lotParams.liquidationBuffer,
    ) >= 0n;
  if (plan.wholeClose === null) {
    assert.ok(reached(plan.outcome.closedBase));
    assert.ok(!reached(plan.outcome.closedBase - 1n), "one lot less does not reach the target");
  } else {
    assert.equal(plan.outcome.closedBase, base);
  }
});

test("liquidation: a repeat breach closes a losing position whole and slices a winner", () => {
  // Two 10-SOL longs at $142 on 100 USDC: one bought for 1,500 (−80), one for 1,300 (+120).
  // E = 100 − 80 + 120 = 140 < M = 2 · 71 = 142.
  const loser = long(10_000_000_000n, 1_500_000_000n, 142_000_000_000n);
  const winner = long(10_000_000_000n, 1_300_000_000n, 142_000_000_000n);
  const account = { collateral: 100_000_000n, positions: [loser, winner] };
  const repeat = planLiquidation({ ...account, index: 0, escalated: true }, 0n, (1n << 64n) - 1n, params);
  assert.deepEqual([repeat.healthBefore.equity, repeat.healthBefore.maintenanceRequirement], [140_000_000n, 142_000_000n]);
  assert.equal(repeat.wholeClose, WholeClose.Repeat);
  assert.equal(repeat.exactSlice, 10_000_000_000n);
  assert.equal(repeat.outcome.closedBase, 10_000_000_000n);
  assert.equal(repeat.outcome.trade.realizedPnl, -80_000_000n);
  // The same loser outside a repeat, and the winner inside one, are sliced.
  for (const plan of [
    planLiquidation({ ...account, index: 0, escalated: false }, 0n, (1n << 64n) - 1n, params),
    planLiquidation({ ...account, index: 1, escalated: true }, 0n, (1n << 64n) - 1n, params),
  ]) {
    assert.equal(plan.wholeClose, null);
    assert.ok(plan.outcome.closedBase < 10_000_000_000n);
  }
});

test("liquidationEscalated: a new breach within the window of a recovery, on prices published after it", () => {
  const account: MarginAccountFields = {
    collateral: 0n,
    positions: [],
    fundingIndexes: [],
    beingLiquidated: 0,
    liquidationStartSlot: 0n,
    liquidationLastSlot: 0n,
    episodeEscalated: 0,
    lastRecoverySlot: 1_000n,
    lastRecoveryTime: 5_000n,
  };
  const window = 100n;
  assert.equal(liquidationEscalated(account, 1_100n, 150n, window, 5_001n), true); // at the window's edge
  assert.equal(liquidationEscalated(account, 1_101n, 150n, window, 5_001n), false); // past it
  assert.equal(liquidationEscalated(account, 1_050n, 150n, window, 5_000n), false); // a price from the recovery
  assert.equal(liquidationEscalated(account, 1_050n, 150n, 0n, 5_001n), false); // repeats off
  assert.equal(liquidationEscalated({ ...account, lastRecoverySlot: 0n }, 50n, 150n, window, 5_001n), false); // none
  // A live episode keeps what it started with, whatever the recovery says.
  const live = { ...account, beingLiquidated: 1, liquidationStartSlot: 1_040n, liquidationLastSlot: 1_040n };
  assert.equal(liquidationEscalated({ ...live, episodeEscalated: 1 }, 1_190n, 150n, window, 0n), true);
  assert.equal(liquidationEscalated(live, 1_050n, 150n, window, 5_001n), false);
});
