// Admin instructions on the real program through the SDK: pause flags (the variable-size
// PauseChanged event, `market_index: None` for the exchange), a paused deposit refused by name,
// a handover of the exchange that both admins sign, and the old admin refused afterwards.
import test from "node:test";
import assert from "node:assert/strict";
import {
  createMarginAccount,
  depositCollateral,
  eventsNamed,
  findMarginAccountAddress,
  getMicroliqErrorName,
  PAUSE,
  setExchangePause,
  setMarketPause,
  transferAdmin,
} from "../src/index.js";
import { USDC } from "./e2e/harness.js";
import { standardExchange, trader } from "./e2e/fixture.js";

test("e2e: pauses, a refused deposit, and the admin handed over", async () => {
  const s = await standardExchange();
  const { ctx, ex, admin } = s;
  const dave = await trader(s, 100n * USDC);
  const account = await findMarginAccountAddress(ex.exchange, dave.owner.address, 0);
  await ctx.sendOk([createMarginAccount({ ex, owner: dave.owner, marginAccount: account, id: 0 })]);
  const deposit = () =>
    depositCollateral({ ex, depositor: dave.owner, marginAccount: account, depositorToken: dave.token, amount: 100n * USDC });

  // Exchange-wide: deposits paused.
  const paused = await ctx.sendOk([setExchangePause({ ex, admin, paused: PAUSE.DEPOSIT })]);
  assert.deepEqual(eventsNamed(paused.events, "PauseChanged"), [{ exchange: ex.exchange, marketIndex: null, paused: PAUSE.DEPOSIT }]);
  assert.equal(ctx.exchange(ex.exchange).paused, PAUSE.DEPOSIT);
  const refused = await ctx.send([deposit()]);
  assert.equal(getMicroliqErrorName(refused.customCode!), "Paused");
  assert.equal(ctx.tokenBalance(dave.token), 100n * USDC);
  assert.equal(ctx.marginAccount(account).collateral, 0n);

  // One market: increases paused on BTC-PERP.
  const market = await ctx.sendOk([setMarketPause({ ex, admin, market: s.btc.market, paused: PAUSE.INCREASE })]);
  assert.deepEqual(eventsNamed(market.events, "PauseChanged"), [{ exchange: ex.exchange, marketIndex: 1, paused: PAUSE.INCREASE }]);
  assert.equal(ctx.market(s.btc.market).paused, PAUSE.INCREASE);

  // Unpaused, the deposit goes through.
  await ctx.sendOk([setExchangePause({ ex, admin, paused: 0 })]);
  await ctx.sendOk([deposit()]);
  assert.equal(ctx.marginAccount(account).collateral, 100n * USDC);
  assert.equal(ctx.tokenBalance(dave.token), 0n);

  // The exchange handed to a new admin (both sign); the old one is refused by name.
  const successor = await ctx.newSigner();
  const handover = await ctx.sendOk([transferAdmin({ ex, admin, newAdmin: successor })]);
  assert.deepEqual(eventsNamed(handover.events, "AdminTransferred"), [
    { exchange: ex.exchange, previousAdmin: admin.address, newAdmin: successor.address },
  ]);
  assert.equal(ctx.exchange(ex.exchange).admin, successor.address);
  const stale = await ctx.send([setExchangePause({ ex, admin, paused: PAUSE.ALL })]);
  assert.equal(stale.ok, false);
  assert.equal(stale.anchorError?.name, "NotAdmin");
  assert.equal(ctx.exchange(ex.exchange).paused, 0);
  await ctx.sendOk([setExchangePause({ ex, admin: successor, paused: PAUSE.ALL })]);
  assert.equal(ctx.exchange(ex.exchange).paused, PAUSE.ALL);
});
