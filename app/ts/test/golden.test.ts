// The TS math against the program on generated cases: tests/golden/main.rs runs the program's
// own code (oracle reader on crafted accounts of both kinds, Market::funding_state_at,
// MarginAccount::position_risks, math::*, liquidate's plan inputs) and records every output or
// error; this recomputes each from the inputs and requires the same value, to the atom.
//
// Generate first (from the repository root):
//   cargo run -p microliq-tests --bin golden --locked -- app/ts/test/golden/vectors.json
// MICROLIQ_GOLDEN=<path> reads another file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  MicroliqRefusal,
  OracleKind,
  accountPositionRisks,
  fundingStateAt,
  fundingTime,
  initialHealth,
  legacyRawPrice,
  liquidationPrice,
  maintenanceHealth,
  marginRatio,
  maxWithdrawable,
  previewLiquidation,
  priceUpdateV2RawPrice,
  validatePrice,
  wholeCloseCode,
  type ExchangeView,
  type LiquidationPlan,
  type MaintenanceHealth,
  type MarginAccountFields,
  type MarketPrice,
  type MarketView,
  type OracleReading,
  type PositionRisk,
  type RawPrice,
} from "../src/math/index.js";

// From dist/test/ (compiled) or test/ (sources): the package's test/golden/vectors.json.
const root = fileURLToPath(new URL(import.meta.url.includes("/dist/") ? "../../" : "../", import.meta.url));
const path = process.env.MICROLIQ_GOLDEN ?? `${root}test/golden/vectors.json`;

type J = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const b = (v: string) => BigInt(v);
const str = (v: bigint) => v.toString();
const hexBytes = (hex: string) => Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));

/** `{ ok: f(value) }`, or `{ err: name }` for the errors the program names. */
function result<T>(compute: () => T, ok: (value: T) => unknown): unknown {
  let value: T;
  try {
    value = compute();
  } catch (e) {
    if (e instanceof MicroliqRefusal) return { err: e.errorName };
    throw e;
  }
  return { ok: ok(value) };
}

const priceJson = (p: MarketPrice) => ({
  oracleLow: str(p.oracleLow),
  oracleHigh: str(p.oracleHigh),
  conservativeLong: str(p.conservativeLong),
  conservativeShort: str(p.conservativeShort),
});
const healthJson = (h: MaintenanceHealth) => ({
  equity: str(h.equity),
  maintenanceRequirement: str(h.maintenanceRequirement),
});
const riskJson = (r: PositionRisk) => ({
  base: str(r.base),
  entryQuote: str(r.entryQuote),
  price: priceJson(r.price),
  maintenanceRate: r.maintenanceRate,
  initialRate: r.initialRate,
  funding: str(r.funding),
});
const readingJson = (r: OracleReading) => ({
  price: priceJson(r.price),
  rawPrice: str(r.rawPrice),
  rawConf: str(r.rawConf),
  expo: r.expo,
  publishTime: str(r.publishTime),
  emaDiverged: r.emaDiverged,
  staleForTrading: r.staleForTrading,
});
const planJson = (p: LiquidationPlan) => ({
  healthBefore: healthJson(p.healthBefore),
  bonusRate: p.bonusRate,
  exactSlice: str(p.exactSlice),
  wholeClose: wholeCloseCode(p.wholeClose),
  outcome: {
    closedBase: str(p.outcome.closedBase),
    trade: {
      newBase: str(p.outcome.trade.newBase),
      newEntryQuote: str(p.outcome.trade.newEntryQuote),
      realizedPnl: str(p.outcome.trade.realizedPnl),
      closedBase: str(p.outcome.trade.closedBase),
      openedBase: str(p.outcome.trade.openedBase),
      tradedNotional: str(p.outcome.trade.tradedNotional),
    },
    closedNotional: str(p.outcome.closedNotional),
    keeperBonus: str(p.outcome.keeperBonus),
    insuranceFee: str(p.outcome.insuranceFee),
    equityExhausted: p.outcome.equityExhausted,
    collateralAfter: str(p.outcome.collateralAfter),
    healthAfter: healthJson(p.outcome.healthAfter),
  },
});

/** Reads one market's oracle as the program does for its kind, then the shared guards. */
function readOracle(m: J, quoteDecimals: number, clock: { unixTimestamp: bigint; slot: bigint }): OracleReading {
  const o = m.oracle;
  const fields = {
    price: b(o.price),
    conf: b(o.conf),
    expo: o.expo as number,
    publishTime: b(o.publishTime),
    emaPrice: b(o.emaPrice),
  };
  let raw: RawPrice;
  if (m.oracleKind === OracleKind.PythLegacy) {
    raw = legacyRawPrice({ status: o.status, ...fields });
  } else {
    raw = priceUpdateV2RawPrice(
      {
        fullyVerified: o.fullyVerified,
        feedId: hexBytes(o.feedId),
        price: fields.price,
        conf: fields.conf,
        exponent: fields.expo,
        publishTime: fields.publishTime,
        emaPrice: fields.emaPrice,
        postedSlot: b(o.postedSlot),
      },
      hexBytes(m.oracleFeedId),
      clock.slot,
    );
  }
  const market = {
    maxStalenessSecs: m.params.maxStalenessSecs,
    maxConfRate: m.params.maxConfRate,
    maxEmaDivergence: m.params.maxEmaDivergence,
    oracleTradingStalenessSecs: m.oracleTradingStalenessSecs,
    baseDecimals: m.baseDecimals,
  };
  return validatePrice(raw, market, quoteDecimals, clock.unixTimestamp);
}

/** Every output of one case, in the generator's JSON shape. */
function compute(input: J): J {
  const clock = { unixTimestamp: b(input.clock.unixTimestamp), slot: b(input.clock.slot) };
  const exchange: ExchangeView = {
    paused: input.exchange.paused,
    liquidationEpisodeSlots: b(input.exchange.liquidationEpisodeSlots),
    repeatLiquidationWindowSlots: b(input.exchange.repeatLiquidationWindowSlots),
    insolventCloseReward: b(input.exchange.insolventCloseReward),
    fundingPausedSecs: b(input.exchange.fundingPausedSecs),
    fundingPausedSince: b(input.exchange.fundingPausedSince),
  };
  const time = fundingTime(exchange, clock.unixTimestamp);
  const marketOutputs: J[] = [];
  const markets: MarketView[] = input.markets.map((m: J) => {
    let oracle: OracleReading | null = null;
    const oracleOut = result(
      () => readOracle(m, input.exchange.quoteDecimals, clock),
      (r) => {
        oracle = r;
        return readingJson(r);
      },
    );
    const view: MarketView = {
      marketIndex: m.marketIndex,
      params: {
        initialRate: m.params.initialRate,
        maintenanceRate: m.params.maintenanceRate,
        liquidationBuffer: m.params.liquidationBuffer,
        bonusMinRate: m.params.bonusMinRate,
        bonusMaxRate: m.params.bonusMaxRate,
        insuranceFeeRate: m.params.insuranceFeeRate,
        bonusRampSlots: m.params.bonusRampSlots,
        closeFactor: m.params.closeFactor,
        dustNotional: b(m.params.dustNotional),
        baseLotSize: b(m.params.baseLotSize),
      },
      oracle,
      longBase: b(m.longBase),
      shortBase: b(m.shortBase),
      paused: m.paused,
      fundingIndex: b(m.fundingIndex),
      fundingUpdatedAt: b(m.fundingUpdatedAt),
      fundingPausedSecsAtUpdate: b(m.fundingPausedSecsAtUpdate),
      fundingLongAccrued: b(m.fundingLongAccrued),
      fundingShortAccrued: b(m.fundingShortAccrued),
      fundingRateScale: m.fundingRateScale,
      fundingMaxRate: m.fundingMaxRate,
    };
    const fundingOut = result(
      () => fundingStateAt(view, time),
      (f) => ({
        index: str(f.index),
        updatedAt: str(f.updatedAt),
        pausedSecsAtUpdate: str(f.pausedSecsAtUpdate),
        longAccrued: str(f.longAccrued),
        shortAccrued: str(f.shortAccrued),
      }),
    );
    marketOutputs.push({ oracle: oracleOut, fundingNow: fundingOut });
    return view;
  });
  const a = input.account;
  const account: MarginAccountFields = {
    collateral: b(a.collateral),
    positions: a.positions.map((p: J) => ({ base: b(p.base), entryQuote: b(p.entryQuote), marketIndex: p.marketIndex })),
    fundingIndexes: a.fundingIndexes.map(b),
    beingLiquidated: a.beingLiquidated,
    liquidationStartSlot: b(a.liquidationStartSlot),
    liquidationLastSlot: b(a.liquidationLastSlot),
    episodeEscalated: a.episodeEscalated,
    lastRecoverySlot: b(a.lastRecoverySlot),
    lastRecoveryTime: b(a.lastRecoveryTime),
  };
  // A market whose index cannot be projected has no risk inputs either (the keeper's lookup).
  const usable = markets.map((m, i) => ((marketOutputs[i].fundingNow as J).err ? { ...m, oracle: null } : m));
  let risks: PositionRisk[];
  try {
    risks = accountPositionRisks(account, usable, exchange, clock);
  } catch (e) {
    if (e instanceof MicroliqRefusal) {
      return { fundingTime: { now: str(time.now), pausedSecs: str(time.pausedSecs) }, markets: marketOutputs, account: { err: e.errorName } };
    }
    throw e;
  }
  const collateral = account.collateral;
  const open = account.positions.filter((p) => p.base !== 0n);
  return {
    fundingTime: { now: str(time.now), pausedSecs: str(time.pausedSecs) },
    markets: marketOutputs,
    account: {
      ok: {
        risks: risks.map(riskJson),
        health: result(() => maintenanceHealth(collateral, risks), healthJson),
        initialHealth: result(() => initialHealth(collateral, risks), str),
        marginRatio: result(
          () => marginRatio(maintenanceHealth(collateral, risks)),
          (r) => (r === null ? null : str(r)),
        ),
        maxWithdrawable: result(() => maxWithdrawable(collateral, risks), str),
        liquidationPrices: risks.map((_, i) =>
          result(
            () => liquidationPrice(collateral, risks, i),
            (p) => (p === null ? null : str(p)),
          ),
        ),
        previews: open.map((p) => ({
          marketIndex: p.marketIndex,
          result: result(
            () => previewLiquidation(account, risks, usable, exchange, clock, p.marketIndex, b(input.maxBase), b(input.fundBalance)),
            (v) => ({
              liquidatable: v.liquidatable,
              paused: v.paused,
              liquidationBuffer: v.liquidationBuffer,
              slotsSinceFlagged: str(v.slotsSinceFlagged),
              escalated: v.escalated,
              insolventReward: str(v.insolventReward),
              plan: planJson(v.plan),
            }),
          ),
        })),
      },
    },
  };
}

test("golden vectors: every output equals the program's, to the atom", () => {
  assert.ok(
    existsSync(path),
    `golden vectors missing at ${path}: run \`cargo run -p microliq-tests --bin golden --locked -- app/ts/test/golden/vectors.json\` from the repository root first`,
  );
  const document = JSON.parse(readFileSync(path, "utf8"));
  assert.ok(document.cases.length >= 10_000, `only ${document.cases.length} cases`);
  const failures: string[] = [];
  for (const c of document.cases) {
    let got: J;
    try {
      got = compute(c.inputs);
    } catch (e) {
      failures.push(`case ${c.id}: threw ${String(e)}`);
      continue;
    }
    try {
      assert.deepStrictEqual(got, c.outputs);
    } catch (e) {
      failures.push(`case ${c.id}: ${(e as Error).message.slice(0, 2_000)}`);
    }
  }
  assert.equal(failures.length, 0, `${failures.length} of ${document.cases.length} cases differ:\n${failures.slice(0, 3).join("\n")}`);
});

test("golden vectors cover what they claim", () => {
  assert.ok(existsSync(path), `golden vectors missing at ${path}`);
  const cases: J[] = JSON.parse(readFileSync(path, "utf8")).cases;
  const count = (pred: (c: J) => boolean) => cases.filter(pred).length;
  const previews = cases.flatMap((c) => c.outputs.account.ok?.previews ?? []);
  const plans = previews.map((p: J) => p.result.ok).filter(Boolean);
  // Every whole-close rule, slices, and errors of each kind appear.
  for (const code of [0, 1, 2, 3, 4, 5]) {
    assert.ok(plans.filter((p: J) => p.plan.wholeClose === code && p.liquidatable).length > 5, `whole_close ${code}`);
  }
  assert.ok(previews.filter((p: J) => p.result.err).length > 5, "plans that overflow");
  // Repeat breaches: escalated plans of losers (whole) and winners (sliced), from live escalated
  // episodes and from new breaches after a recovery; recoveries that make no repeat.
  const escalated = plans.filter((p: J) => p.escalated && p.liquidatable);
  assert.ok(escalated.filter((p: J) => p.plan.wholeClose === 5).length > 20, "escalated losers");
  assert.ok(escalated.filter((p: J) => p.plan.wholeClose === 0).length > 20, "escalated winners, sliced");
  const withPlans = (pred: (c: J) => boolean) =>
    cases.filter((c) => pred(c) && (c.outputs.account.ok?.previews ?? []).some((p: J) => p.result.ok?.liquidatable));
  const live = (c: J) =>
    c.inputs.account.beingLiquidated === 1 &&
    b(c.inputs.clock.slot) - b(c.inputs.account.liquidationLastSlot) <= b(c.inputs.exchange.liquidationEpisodeSlots);
  const escalatedCase = (c: J) => c.outputs.account.ok.previews.some((p: J) => p.result.ok?.escalated);
  assert.ok(withPlans((c) => live(c) && c.inputs.account.episodeEscalated === 1).filter(escalatedCase).length > 20, "live escalated episodes");
  const recovered = withPlans((c) => !live(c) && c.inputs.account.lastRecoverySlot !== "0");
  assert.ok(recovered.filter(escalatedCase).length > 20, "new repeat breaches");
  assert.ok(recovered.filter((c) => !escalatedCase(c)).length > 20, "recoveries that make no repeat");
  for (const window of ["0", "216000", "6480000"]) {
    assert.ok(count((c) => c.inputs.exchange.repeatLiquidationWindowSlots === window) > 500, `window ${window}`);
  }
  const oracles = cases.flatMap((c) => c.outputs.markets.map((m: J) => m.oracle));
  for (const name of ["OracleStale", "OracleConfidenceTooWide", "OraclePriceOutOfRange", "OracleNotTrading", "OracleNotFullyVerified", "OracleWrongFeed", "OraclePostedInFuture", "OracleNonPositivePrice"]) {
    assert.ok(oracles.filter((o: J) => o.err === name).length > 0, name);
  }
  assert.ok(count((c) => c.inputs.markets.some((m: J) => m.oracleKind === 0)) > 1_000, "legacy oracles");
  assert.ok(count((c) => c.inputs.markets.some((m: J) => m.oracleKind === 1)) > 1_000, "PriceUpdateV2 oracles");
  assert.ok(count((c) => c.outputs.account.ok?.risks.length === 8) > 50, "accounts with 8 positions");
  assert.ok(count((c) => c.outputs.account.ok?.risks.length === 0) > 50, "accounts with no position");
  assert.ok(count((c) => c.outputs.account.ok?.liquidationPrices.some((p: J) => p.ok !== undefined && p.ok !== null)) > 1_000);
  assert.ok(count((c) => c.outputs.account.ok?.risks.some((r: J) => r.funding !== "0")) > 1_000, "unsettled funding");
});
