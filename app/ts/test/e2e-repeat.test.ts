// A repeat breach on the real program (its SBF build in npm litesvm), driven only through the
// SDK (docs/LIQUIDATION.md, "Repeat breaches"): the admin sets the window, a keeper slices a 10x
// long back to its target (a recovery), time passes and a fresh, lower price breaks maintenance
// again, and the keeper's next call closes the losing position whole (`whole_close` 5). Before
// each call the SDK's `previewLiquidation`, fed only decoded accounts, predicts the event field
// by field; the balances are recomputed from the documented formulas.
import test from "node:test";
import assert from "node:assert/strict";
import {
  accountPositionRisks,
  createMarginAccount,
  depositCollateral,
  eventsNamed,
  findMarginAccountAddress,
  healthAccountsFor,
  type LiquidationPreview,
  type LiquidationSliceV3,
  liquidate,
  marketView,
  placeOrder,
  previewLiquidation,
  setRepeatLiquidationWindow,
  U64_MAX,
  WholeClose,
  wholeCloseCode,
} from "../src/index.js";
import { SOL, USDC } from "./e2e/harness.js";
import { setPrice, standardExchange, trader } from "./e2e/fixture.js";

const PRICE_PRECISION = 10n ** 12n;
const solPrice = (dollars: bigint) => (dollars * USDC * PRICE_PRECISION) / SOL;
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** The event a preview predicts, field by field (the program's `LiquidationSliceV3`). */
function assertPredicted(preview: LiquidationPreview, event: LiquidationSliceV3, fundingSettled: bigint) {
  const { plan } = preview;
  assert.equal(preview.liquidatable, true);
  assert.equal(event.equityBefore, plan.healthBefore.equity);
  assert.equal(event.maintenanceBefore, plan.healthBefore.maintenanceRequirement);
  assert.equal(event.bonusRate, plan.bonusRate);
  assert.equal(event.exactSlice, plan.exactSlice);
  assert.equal(event.wholeClose, wholeCloseCode(plan.wholeClose));
  assert.equal(event.baseClosed, plan.outcome.closedBase);
  assert.equal(event.realizedPnl, plan.outcome.trade.realizedPnl);
  assert.equal(event.remainingBase, plan.outcome.trade.newBase < 0n ? -plan.outcome.trade.newBase : plan.outcome.trade.newBase);
  assert.equal(event.keeperBonus, plan.outcome.keeperBonus);
  assert.equal(event.insuranceFee, plan.outcome.insuranceFee);
  assert.equal(event.insolventReward, preview.insolventReward);
  assert.equal(event.equityAfter, plan.outcome.healthAfter.equity);
  assert.equal(event.maintenanceAfter, plan.outcome.healthAfter.maintenanceRequirement);
  assert.equal(event.liquidationBuffer, preview.liquidationBuffer);
  assert.equal(event.fundingSettled, fundingSettled);
}

test("e2e: a repeat breach closes the losing position whole, as previewLiquidation predicts", async () => {
  // SETUP: the standard exchange; the admin sets a 1,000-slot repeat window (from the default day).
  const s = await standardExchange();
  const { ctx, ex, sol } = s;
  const windowSet = await ctx.sendOk([setRepeatLiquidationWindow({ ex, admin: s.admin, windowSlots: 1_000n })]);
  assert.deepEqual(eventsNamed(windowSet.events, "RepeatLiquidationWindowSet"), [
    { exchange: ex.exchange, previousWindowSlots: 216_000n, windowSlots: 1_000n },
  ]);
  assert.equal(ctx.exchange(ex.exchange).repeatLiquidationWindowSlots, 1_000n);

  // Alice: 1,000 USDC, 66 SOL long at $150 (taker fee 4.95 USDC).
  const alice = await trader(s, 1_000n * USDC);
  const aliceAccount = await findMarginAccountAddress(ex.exchange, alice.owner.address, 0);
  await ctx.sendOk([
    createMarginAccount({ ex, owner: alice.owner, marginAccount: aliceAccount, id: 0 }),
    depositCollateral({ ex, depositor: alice.owner, marginAccount: aliceAccount, depositorToken: alice.token, amount: 1_000n * USDC }),
  ]);
  await ctx.sendOk([
    placeOrder({
      ex,
      trader: alice.owner,
      marginAccount: aliceAccount,
      market: sol.market,
      oracle: sol.oracle,
      baseDelta: 66n * SOL,
      limitPrice: solPrice(151n),
      healthAccounts: healthAccountsFor(ctx.marginAccount(aliceAccount), s.markets, sol.index),
    }),
  ]);
  const keeper = await ctx.newSigner();
  const keeperToken = await ctx.createTokenAccount(s.quoteMint, keeper.address);
  const liquidateAlice = () =>
    liquidate({
      ex,
      keeper,
      marginAccount: aliceAccount,
      market: sol.market,
      oracle: sol.oracle,
      keeperToken,
      marketIndex: sol.index,
      maxBase: U64_MAX,
      healthAccounts: healthAccountsFor(ctx.marginAccount(aliceAccount), s.markets, sol.index),
    });
  /** What the SDK predicts from the decoded accounts alone (as a front end or keeper reads them). */
  const preview = () => {
    const clock = ctx.clock();
    const exchange = ctx.exchange(ex.exchange);
    const markets = s.markets.map((m) => marketView(ctx.market(m.market), ctx.data(m.oracle), exchange.quoteDecimals, clock));
    const account = ctx.marginAccount(aliceAccount);
    const risks = accountPositionRisks(account, markets, exchange, clock);
    const fundBalance = ctx.insuranceFund(ex.insuranceFund).balance;
    return { risks, preview: previewLiquidation(account, risks, markets, exchange, clock, sol.index, U64_MAX, fundBalance) };
  };

  // ACT 1: SOL at $142 (docs/LIQUIDATION.md's worked example): a slice back to E ≥ 1.2 · M.
  setPrice(ctx, sol, 142);
  const first = preview();
  assert.equal(first.preview.escalated, false, "no recovery yet: not a repeat");
  assert.equal(first.preview.plan.wholeClose, null);
  const { slot: recoverySlot, unixTimestamp: recoveryTime } = ctx.clock();
  const sliced = await ctx.sendOk([liquidateAlice()]);
  const [slice] = eventsNamed(sliced.events, "LiquidationSliceV3");
  assertPredicted(first.preview, slice, 0n);
  assert.equal(slice.baseClosed, 14_932n * (SOL / 1_000n));
  assert.equal(slice.episodeStartSlot, 0n, "the target was reached: the episode ended");
  // CHECK: the recovery is on the account, as the SDK decodes it.
  const recovered = ctx.marginAccount(aliceAccount);
  assert.deepEqual(
    [recovered.lastRecoverySlot, recovered.lastRecoveryTime, recovered.beingLiquidated, recovered.episodeEscalated],
    [recoverySlot, recoveryTime, 0, 0],
  );
  const remaining = 66n * SOL - slice.baseClosed;
  assert.equal(remaining, 51_068n * (SOL / 1_000n));

  // ACT 2: 100 slots and 40 seconds later, a fresh price of $138: 51.068 SOL bought at $150
  // lose 612.816 USDC, E ≈ 230.8 < M ≈ 352.4, within the window of the recovery, on a price
  // published after it: a repeat breach.
  ctx.setClock({ slot: recoverySlot + 100n, unixTimestamp: recoveryTime + 40n });
  setPrice(ctx, sol, 138);
  const second = preview();
  assert.equal(second.preview.escalated, true);
  assert.equal(second.preview.plan.wholeClose, WholeClose.Repeat);
  assert.equal(second.preview.plan.outcome.closedBase, remaining);
  const before = {
    collateral: ctx.marginAccount(aliceAccount).collateral,
    keeper: ctx.tokenBalance(keeperToken),
    quoteVault: ctx.tokenBalance(ex.quoteVault),
    insuranceVault: ctx.tokenBalance(ex.insuranceVault),
    fund: ctx.insuranceFund(ex.insuranceFund).balance,
    pool: ctx.exchange(ex.exchange).poolBalance,
  };
  const closed = await ctx.sendOk([liquidateAlice()]);

  // CHECK: one whole close, code 5, exactly as predicted (funding of the 40 seconds included).
  const slices = eventsNamed(closed.events, "LiquidationSliceV3");
  assert.equal(slices.length, 1);
  const [repeat] = slices;
  assert.equal(repeat.wholeClose, 5);
  assert.equal(repeat.baseClosed, remaining);
  assert.equal(repeat.exactSlice, remaining);
  assert.equal(repeat.remainingBase, 0n);
  assert.equal(second.risks[0].funding, repeat.fundingSettled, "the preview's unsettled funding is what was settled");
  assertPredicted(second.preview, repeat, second.risks[0].funding);

  // The documented formulas: realized PnL 51.068 · (138 − 150); the bonus rate
  // b_min + (b_max − b_min)·(M − E)/M (floored), the penalty ⌈notional · (b + fee)⌉, the keeper
  // ⌊notional · b⌋, the insurance fund the rest; nothing capped (E − penalty > 0).
  const realizedPnl = -(remaining * 12n * USDC) / SOL;
  assert.equal(repeat.realizedPnl, realizedPnl);
  assert.equal(realizedPnl, -612_816_000n);
  const notional = (remaining * 138n * USDC) / SOL;
  assert.equal(notional, 7_047_384_000n);
  assert.equal(repeat.maintenanceBefore, ceilDiv(notional * 50_000n, 1_000_000n));
  assert.equal(repeat.equityBefore, before.collateral + repeat.fundingSettled + realizedPnl);
  const bonusRate = 5_000n + (20_000n * (repeat.maintenanceBefore - repeat.equityBefore)) / repeat.maintenanceBefore;
  assert.equal(BigInt(repeat.bonusRate), bonusRate);
  const penalty = ceilDiv(notional * (bonusRate + 10_000n), 1_000_000n);
  const keeperBonus = (notional * bonusRate) / 1_000_000n;
  assert.equal(repeat.keeperBonus, keeperBonus);
  assert.equal(repeat.insuranceFee, penalty - keeperBonus);
  assert.ok(repeat.equityBefore > penalty);
  assert.equal(repeat.equityAfter, repeat.equityBefore - penalty);
  assert.equal(repeat.maintenanceAfter, 0n);

  // Balances to the unit.
  const after = ctx.marginAccount(aliceAccount);
  assert.equal(after.collateral, before.collateral + repeat.fundingSettled + realizedPnl - penalty);
  assert.equal(after.collateral, second.preview.plan.outcome.collateralAfter);
  assert.equal(ctx.tokenBalance(keeperToken), before.keeper + keeperBonus);
  assert.equal(ctx.tokenBalance(ex.insuranceVault), before.insuranceVault + penalty - keeperBonus);
  assert.equal(ctx.tokenBalance(ex.quoteVault), before.quoteVault - penalty);
  assert.equal(ctx.insuranceFund(ex.insuranceFund).balance, before.fund + penalty - keeperBonus);
  assert.equal(ctx.exchange(ex.exchange).poolBalance, before.pool - realizedPnl - repeat.fundingSettled);
  assert.equal(ctx.market(sol.market).longBase, 0n);
  // Flat: the account forgets its recovery (a new position starts afresh).
  assert.deepEqual(
    [after.positions.every((p) => p.base === 0n), after.lastRecoverySlot, after.lastRecoveryTime, after.beingLiquidated],
    [true, 0n, 0n, 0],
  );
});
