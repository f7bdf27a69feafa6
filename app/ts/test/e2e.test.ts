// The whole story on the real program (its SBF build in npm litesvm), driven only through the
// SDK: exchange, markets with their price accounts, LP and insurance deposits, a trader's 10x
// long, a price drop, a keeper's liquidation, the decoded LiquidationSliceV3, balances to the
// unit, and refusals decoded to their named errors with nothing changed.
//
// The expected numbers are docs/LIQUIDATION.md's worked example (the Rust case
// `ten_x_long_just_under_maintenance_loses_one_small_slice`), recomputed here from the
// documented formulas and rounding, not read back from the program.
import test from "node:test";
import assert from "node:assert/strict";
import type { Address } from "@solana/kit";
import {
  depositCollateral,
  eventsNamed,
  findMarginAccountAddress,
  getMicroliqErrorCode,
  getMicroliqErrorName,
  healthAccountsFor,
  liquidate,
  placeOrder,
  createMarginAccount,
  withdrawCollateral,
  U64_MAX,
} from "../src/index.js";
import { SOL, USDC } from "./e2e/harness.js";
import { setPrice, standardExchange, trader, type StandardExchange } from "./e2e/fixture.js";

/** Fixed point of prices: quote atoms per base atom × 1e12 (`PRICE_PRECISION`). */
const PRICE_PRECISION = 10n ** 12n;
/** $`dollars` per SOL as a fixed-point price (6-decimal quote, 9-decimal base). */
const solPrice = (dollars: bigint) => (dollars * USDC * PRICE_PRECISION) / SOL;
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** Everything a refused instruction must leave as it was. */
function snapshot(s: StandardExchange, marginAccount: Address, tokens: Address[]) {
  const { ctx, ex } = s;
  return {
    exchange: ctx.data(ex.exchange),
    fund: ctx.data(ex.insuranceFund),
    account: ctx.data(marginAccount),
    sol: ctx.data(s.sol.market),
    btc: ctx.data(s.btc.market),
    vaults: [ctx.tokenBalance(ex.quoteVault), ctx.tokenBalance(ex.insuranceVault)],
    tokens: tokens.map((t) => ctx.tokenBalance(t)),
  };
}

test("e2e: a 10x long at $150 loses one small slice at $142, the keeper is paid to the unit", async () => {
  // SETUP: the standard exchange; alice deposits 1,000 USDC and buys 66 SOL at $150.
  const s = await standardExchange();
  const { ctx, ex, sol } = s;
  const alice = await trader(s, 1_000n * USDC);
  const aliceAccount = await findMarginAccountAddress(ex.exchange, alice.owner.address, 0);
  await ctx.sendOk([createMarginAccount({ ex, owner: alice.owner, marginAccount: aliceAccount, id: 0 })]);
  const deposit = await ctx.sendOk([
    depositCollateral({ ex, depositor: alice.owner, marginAccount: aliceAccount, depositorToken: alice.token, amount: 1_000n * USDC }),
  ]);
  assert.equal(eventsNamed(deposit.events, "CollateralDepositedV2")[0].amount, 1_000n * USDC);

  const order = await ctx.sendOk([
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
  const [fill] = eventsNamed(order.events, "OrderFilledV2");
  assert.equal(fill.baseDelta, 66n * SOL);
  assert.equal(fill.fillPrice, solPrice(150n));
  // Taker fee: 66 · 150 = 9,900 USDC of notional at 0.05 % = 4.95 USDC.
  const takerFee = (66n * 150n * USDC * 500n) / 1_000_000n;
  assert.equal(takerFee, 4_950_000n);
  assert.equal(fill.fee, takerFee);
  const opened = ctx.marginAccount(aliceAccount);
  assert.equal(opened.collateral, 1_000n * USDC - takerFee);
  assert.equal(opened.positions[0].base, 66n * SOL);
  assert.equal(opened.positions[0].marketIndex, 0);
  assert.equal(ctx.tokenBalance(alice.token), 0n);

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

  // A REFUSAL: at $150 alice is healthy; the keeper's call fails by name and changes nothing.
  {
    const before = snapshot(s, aliceAccount, [keeperToken, alice.token]);
    const refused = await ctx.send([liquidateAlice()]);
    assert.equal(refused.ok, false);
    assert.equal(refused.customCode, getMicroliqErrorCode("NotLiquidatable"));
    assert.equal(getMicroliqErrorName(refused.customCode!), "NotLiquidatable");
    assert.equal(refused.anchorError?.name, "NotLiquidatable");
    assert.deepEqual(snapshot(s, aliceAccount, [keeperToken, alice.token]), before);
  }

  // ACT: SOL falls to $142 (E = 995.05 − 66 · 8 = 467.05 < M = 66 · 142 · 5 % = 468.6); the
  // keeper liquidates with the SDK's builder.
  setPrice(ctx, sol, 142);
  const fundBefore = ctx.insuranceFund(ex.insuranceFund).balance;
  const poolBefore = ctx.exchange(ex.exchange).poolBalance;
  const quoteVaultBefore = ctx.tokenBalance(ex.quoteVault);
  const insuranceVaultBefore = ctx.tokenBalance(ex.insuranceVault);
  const slot = ctx.clock().slot;
  const sent = await ctx.sendOk([liquidateAlice()]);

  // CHECK: one LiquidationSliceV3, its fields from the documented formulas.
  const slices = eventsNamed(sent.events, "LiquidationSliceV3");
  assert.equal(slices.length, 1);
  assert.deepEqual(
    sent.events.map((e) => e.name),
    ["LiquidationSliceV3"],
  );
  const e = slices[0];
  const equityBefore = 1_000n * USDC - takerFee - 66n * 8n * USDC;
  const maintenanceBefore = (66n * 142n * USDC * 50_000n) / 1_000_000n;
  assert.equal(e.equityBefore, 467_050_000n);
  assert.equal(e.maintenanceBefore, maintenanceBefore);
  assert.equal(e.maintenanceBefore, 468_600_000n);
  // Bonus rate at the episode's first slot: 0.5 % + 2 % · (M − E)/M, floored in 1e6.
  const bonusRate = 5_000n + (20_000n * (maintenanceBefore - equityBefore)) / maintenanceBefore;
  assert.equal(BigInt(e.bonusRate), bonusRate);
  assert.equal(e.bonusRate, 5_066);
  // The slice (docs/LIQUIDATION.md): (1.2·M − E) / (P · (1.2·mm − b)) = 14.931 SOL, up to the
  // lot: 14.932 SOL.
  const slice = 14_932n * (SOL / 1_000n);
  assert.equal(e.baseClosed, slice);
  assert.equal(e.exactSlice, slice);
  assert.equal(e.wholeClose, 0);
  assert.equal(e.fillPrice, solPrice(142n));
  assert.equal(e.fillPrice, 142_000_000_000n);
  assert.deepEqual([e.oraclePrice, e.oracleConf, e.oracleExpo], [14_200_000_000n, 0n, -8]);
  // Closed notional |Δ|·P = 2,120.344 USDC; penalty ⌈notional · (bonus + 1 %)⌉ (owed, rounded
  // up), keeper bonus ⌊notional · bonus⌋ (paid, rounded down), the insurance fee the rest.
  const notional = (slice * 142n * USDC) / SOL;
  assert.equal(notional, 2_120_344_000n);
  const penalty = ceilDiv(notional * (bonusRate + 10_000n), 1_000_000n);
  const keeperBonus = (notional * bonusRate) / 1_000_000n;
  const insuranceFee = penalty - keeperBonus;
  assert.deepEqual([keeperBonus, insuranceFee], [10_741_662n, 21_203_441n]);
  assert.equal(e.keeperBonus, keeperBonus);
  assert.equal(e.insuranceFee, insuranceFee);
  assert.equal(e.insolventReward, 0n);
  const realizedPnl = -(slice * 8n * USDC) / SOL; // 14.932 SOL bought at $150, closed at $142
  assert.equal(e.realizedPnl, realizedPnl);
  assert.equal(e.realizedPnl, -119_456_000n);
  const remaining = 66n * SOL - slice;
  assert.equal(e.remainingBase, remaining);
  const collateralAfter = 1_000n * USDC - takerFee + realizedPnl - penalty;
  const equityAfter = collateralAfter - (remaining * 8n * USDC) / SOL;
  const maintenanceAfter = (remaining * 142n * USDC * 50_000n) / 1_000_000n / SOL;
  assert.equal(e.equityAfter, equityAfter);
  assert.equal(e.equityAfter, 435_104_897n); // docs: 435.10 USDC left to alice
  assert.equal(e.maintenanceAfter, maintenanceAfter);
  assert.equal(e.maintenanceAfter, 362_582_800n); // docs: M' = 362.58
  assert.ok(e.equityAfter * 1_000_000n >= 1_200_000n * e.maintenanceAfter, "back at E ≥ 1.2 · M");
  assert.equal(e.liquidationBuffer, 200_000);
  assert.equal(e.fundingSettled, 0n, "no time passed since the order");
  assert.equal(e.bankrupt, false);
  assert.deepEqual([e.insuranceDraw, e.socializedLoss], [0n, 0n]);
  assert.equal(e.episodeStartSlot, 0n, "the target was reached: the episode ended");
  assert.equal(e.slot, slot);
  assert.equal(e.marginAccount, aliceAccount);
  assert.equal(e.owner, alice.owner.address);
  assert.equal(e.keeper, keeper.address);
  assert.equal(e.marketIndex, 0);

  // Balances to the unit: tokens moved only for the keeper's bonus and the insurance fee; the
  // realized loss moved from alice's ledger to the pool's inside the quote vault.
  assert.equal(ctx.tokenBalance(keeperToken), keeperBonus);
  assert.equal(ctx.tokenBalance(ex.insuranceVault), insuranceVaultBefore + insuranceFee);
  assert.equal(ctx.tokenBalance(ex.quoteVault), quoteVaultBefore - keeperBonus - insuranceFee);
  assert.equal(ctx.tokenBalance(ex.quoteVault), 1_000_000n * USDC + 1_000n * USDC - keeperBonus - insuranceFee);
  assert.equal(ctx.tokenBalance(ex.insuranceVault), 50_000n * USDC + insuranceFee);
  assert.equal(ctx.insuranceFund(ex.insuranceFund).balance, fundBefore + insuranceFee);
  assert.equal(ctx.exchange(ex.exchange).poolBalance, poolBefore - realizedPnl);
  const after = ctx.marginAccount(aliceAccount);
  assert.equal(after.collateral, collateralAfter);
  assert.equal(after.collateral, 843_648_897n);
  assert.equal(after.positions[0].base, remaining);
  assert.equal(after.beingLiquidated, 0);
  assert.equal(ctx.market(sol.market).longBase, remaining);

  // A REFUSAL after the slice: the account is healthy again.
  {
    const before = snapshot(s, aliceAccount, [keeperToken]);
    const again = await ctx.send([liquidateAlice()]);
    assert.equal(again.anchorError?.name, "NotLiquidatable");
    assert.equal(getMicroliqErrorName(again.customCode!), "NotLiquidatable");
    assert.deepEqual(snapshot(s, aliceAccount, [keeperToken]), before);
  }

  // A REFUSAL of alice's own: withdrawing 500 USDC would break initial margin.
  {
    const before = snapshot(s, aliceAccount, [alice.token]);
    const refused = await ctx.send([
      withdrawCollateral({
        ex,
        owner: alice.owner,
        marginAccount: aliceAccount,
        ownerToken: alice.token,
        amount: 500n * USDC,
        healthAccounts: healthAccountsFor(ctx.marginAccount(aliceAccount), s.markets),
      }),
    ]);
    assert.equal(getMicroliqErrorName(refused.customCode!), "InitialHealthViolated");
    assert.deepEqual(snapshot(s, aliceAccount, [alice.token]), before);
  }
});
