// Two markets, both oracle kinds and funding on the real program, through the SDK: the remaining
// accounts the builders fill (a legacy Pyth account read as another market's health account),
// refusals for missing, misordered and read-only pairs by name with nothing changed, and an
// hour of funding settled to the unit by a withdrawal.
import test from "node:test";
import assert from "node:assert/strict";
import type { Address } from "@solana/kit";
import {
  createMarginAccount,
  depositCollateral,
  eventsNamed,
  findMarginAccountAddress,
  getMicroliqErrorName,
  getWithdrawCollateralInstructionRaw,
  healthAccountsFor,
  placeOrder,
  remainingPairs,
  updateFunding,
  withdrawCollateral,
} from "../src/index.js";
import { SOL, USDC } from "./e2e/harness.js";
import { setPrice, standardExchange, trader, type StandardExchange } from "./e2e/fixture.js";

const PRICE_PRECISION = 10n ** 12n;
const BTC = 100_000_000n; // 8 decimals
/** Fixed-point price of $`dollars` per whole base unit of `baseUnit` atoms (6-decimal quote). */
const fixedPrice = (dollars: bigint, baseUnit: bigint) => (dollars * USDC * PRICE_PRECISION) / baseUnit;

function snapshot(s: StandardExchange, accounts: Address[]) {
  return {
    data: [s.ex.exchange, s.ex.insuranceFund, s.sol.market, s.btc.market, ...accounts].map((a) => s.ctx.data(a)),
    vault: s.ctx.tokenBalance(s.ex.quoteVault),
  };
}

test("e2e: a trader in SOL (PriceUpdateV2) and BTC (legacy Pyth): health accounts, their refusals, an hour of funding", async () => {
  // SETUP: bob deposits 10,000 USDC and buys 0.1 BTC, then 10 SOL with BTC as a health account.
  const s = await standardExchange();
  const { ctx, ex, sol, btc } = s;
  const bob = await trader(s, 10_000n * USDC);
  const account = await findMarginAccountAddress(ex.exchange, bob.owner.address, 0);
  await ctx.sendOk([
    createMarginAccount({ ex, owner: bob.owner, marginAccount: account, id: 0 }),
    depositCollateral({ ex, depositor: bob.owner, marginAccount: account, depositorToken: bob.token, amount: 10_000n * USDC }),
  ]);
  const buyBtc = await ctx.sendOk([
    placeOrder({
      ex,
      trader: bob.owner,
      marginAccount: account,
      market: btc.market,
      oracle: btc.oracle,
      baseDelta: BTC / 10n,
      limitPrice: fixedPrice(61_000n, BTC),
      healthAccounts: healthAccountsFor(ctx.marginAccount(account), s.markets, btc.index),
    }),
  ]);
  assert.equal(eventsNamed(buyBtc.events, "OrderFilledV2")[0].fillPrice, fixedPrice(60_000n, BTC));

  const buySol = (healthAccounts: { market: Address; oracle: Address }[]) =>
    placeOrder({
      ex,
      trader: bob.owner,
      marginAccount: account,
      market: sol.market,
      oracle: sol.oracle,
      baseDelta: 10n * SOL,
      limitPrice: fixedPrice(151n, SOL),
      healthAccounts,
    });
  const health = healthAccountsFor(ctx.marginAccount(account), s.markets, sol.index);
  assert.deepEqual(health, [{ market: btc.market, oracle: btc.oracle }], "the other market held: BTC, with its legacy account");

  // A REFUSAL: the same order without BTC's pair.
  {
    const before = snapshot(s, [account]);
    const refused = await ctx.send([buySol([])]);
    assert.equal(getMicroliqErrorName(refused.customCode!), "HealthAccountsMissing");
    assert.equal(refused.anchorError?.name, "HealthAccountsMissing");
    assert.deepEqual(snapshot(s, [account]), before);
  }
  const order = await ctx.sendOk([buySol(health)]);
  assert.equal(eventsNamed(order.events, "OrderFilledV2")[0].baseDelta, 10n * SOL);

  // Taker fees at 0.05 %: 0.1 BTC · 60,000 = 6,000 USDC → 3; 10 SOL · 150 = 1,500 → 0.75.
  const fees = 3n * USDC + 750_000n;
  const opened = ctx.marginAccount(account);
  assert.equal(opened.collateral, 10_000n * USDC - fees);
  assert.deepEqual(
    opened.positions.filter((p) => p.base !== 0n).map((p) => [p.marketIndex, p.base]),
    [
      [1, BTC / 10n],
      [0, 10n * SOL],
    ],
  );
  const everyMarket = healthAccountsFor(opened, s.markets);
  assert.deepEqual(everyMarket.map((p) => p.market), [sol.market, btc.market], "ascending market index");

  // ACT: an hour passes; the prices are republished; the crank advances both funding indexes.
  const start = ctx.clock();
  ctx.setClock({ unixTimestamp: start.unixTimestamp + 3_600n, slot: start.slot + 9_000n });
  setPrice(ctx, sol, 150);
  setPrice(ctx, btc, 60_000);
  const crank = await ctx.sendOk([updateFunding({ ex, market: sol.market }), updateFunding({ ex, market: btc.market })]);
  // Only longs: a skew of 100 %, 0.02 %/h clamped at 0.01 %/h = 1e11 in FUNDING_PRECISION (1e15).
  const oneHourAtTheClamp = 100_000_000_000n;
  const funding = eventsNamed(crank.events, "FundingUpdated");
  assert.deepEqual(
    funding.map((f) => [f.marketIndex, f.ratePerHour, f.elapsedSecs, f.indexDelta, f.fundingIndex, f.longBase, f.shortBase]),
    [
      [0, oneHourAtTheClamp, 3_600n, oneHourAtTheClamp, oneHourAtTheClamp, 10n * SOL, 0n],
      [1, oneHourAtTheClamp, 3_600n, oneHourAtTheClamp, oneHourAtTheClamp, BTC / 10n, 0n],
    ],
  );
  assert.equal(ctx.market(sol.market).fundingIndex, oneHourAtTheClamp);

  // Two REFUSALS of a withdrawal: pairs out of order, and markets passed read-only.
  const withdraw = (pairs: typeof everyMarket) =>
    withdrawCollateral({ ex, owner: bob.owner, marginAccount: account, ownerToken: bob.token, amount: 100n * USDC, healthAccounts: pairs });
  {
    const before = snapshot(s, [account, bob.token]);
    const misordered = await ctx.send([withdraw([...everyMarket].reverse())]);
    assert.equal(getMicroliqErrorName(misordered.customCode!), "HealthAccountsOutOfOrder");
    const readOnly = await ctx.send([
      getWithdrawCollateralInstructionRaw(
        { owner: bob.owner, exchange: ex.exchange, marginAccount: account, ownerToken: bob.token, quoteVault: ex.quoteVault },
        { amount: 100n * USDC },
        remainingPairs(everyMarket, false),
      ),
    ]);
    assert.equal(getMicroliqErrorName(readOnly.customCode!), "MarketNotWritable");
    assert.deepEqual(snapshot(s, [account, bob.token]), before);
  }

  // A withdrawal of 100 USDC with both markets writable settles the hour's funding:
  // 10 SOL · $150 · 0.01 % = 0.15 USDC and 0.1 BTC · $60,000 · 0.01 % = 0.60 USDC, paid by bob.
  const sent = await ctx.sendOk([withdraw(everyMarket)]);
  const [withdrawn] = eventsNamed(sent.events, "CollateralWithdrawnV2");
  const paid = 150_000n + 600_000n;
  assert.equal(withdrawn.fundingSettled, -paid);
  assert.equal(withdrawn.amount, 100n * USDC);
  const collateral = 10_000n * USDC - fees - paid - 100n * USDC;
  assert.equal(withdrawn.collateralAfter, collateral);
  assert.equal(ctx.marginAccount(account).collateral, collateral);
  assert.equal(ctx.tokenBalance(bob.token), 100n * USDC);
  assert.equal(ctx.tokenBalance(ex.quoteVault), 1_000_000n * USDC + 10_000n * USDC - 100n * USDC);
});
