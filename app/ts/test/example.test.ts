// examples/health-and-order.ts against the program in litesvm: its Chain is the runtime, the
// rest is the example's own code, as an integrator runs it on an RPC node.
import test from "node:test";
import assert from "node:assert/strict";
import { type Instruction, SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM, SolanaError } from "@solana/kit";
import {
  createMarginAccount,
  depositCollateral,
  eventsNamed,
  findMarginAccountAddress,
  healthAccountsFor,
  liquidate,
} from "../src/index.js";
import { type Chain, describe, loadAccount, sendOrder } from "../examples/health-and-order.js";
import { SOL, USDC } from "./e2e/harness.js";
import { setPrice, standardExchange, trader } from "./e2e/fixture.js";

test("example: shows an account, sends an order, and names a refused one", async () => {
  const s = await standardExchange();
  const { ctx, ex } = s;
  const carol = await trader(s, 2_000n * USDC);
  const account = await findMarginAccountAddress(ex.exchange, carol.owner.address, 0);
  await ctx.sendOk([
    createMarginAccount({ ex, owner: carol.owner, marginAccount: account, id: 0 }),
    depositCollateral({ ex, depositor: carol.owner, marginAccount: account, depositorToken: carol.token, amount: 2_000n * USDC }),
  ]);
  const chain: Chain = {
    async getAccountData(address) {
      const found = ctx.svm.getAccount(address);
      return found.exists ? Uint8Array.from(found.data) : null;
    },
    async send(instructions: Instruction[]) {
      const sent = await ctx.send(instructions);
      // As @solana/kit reports a program's custom error (one instruction per transaction here).
      if (!sent.ok && sent.customCode !== undefined) {
        throw new Error(sent.failure, { cause: new SolanaError(SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM, { code: sent.customCode, index: 0 }) });
      }
      if (!sent.ok) throw new Error(sent.failure);
      return sent.logs;
    },
  };

  const view = await loadAccount(chain, s.quoteMint, carol.owner.address);
  assert.deepEqual(view.markets.map((m) => [m.index, m.name]), [
    [0, "SOL-PERP"],
    [1, "BTC-PERP"],
  ]);
  assert.deepEqual(describe(view), [
    `margin account ${account}`,
    "  collateral 2000.000000",
    "  equity 2000.000000, maintenance requirement 0.000000, initial requirement 0.000000",
    "  margin ratio 0.0000 % (M / E; liquidatable above 100 %)",
    "  max withdrawable 2000.000000",
  ]);

  // Short 5 SOL at $150 (any price above $149): fee 750 · 0.05 % = 0.375 USDC.
  const fill = await sendOrder(chain, view, carol.owner, 0, -5n * SOL, (149n * USDC * 10n ** 12n) / SOL);
  assert.equal(fill.baseDelta, -5n * SOL);
  assert.equal(fill.fee, 375_000n);
  const after = await loadAccount(chain, s.quoteMint, carol.owner.address);
  // E = 1,999.625 (entry 750 = value 750); M = 750 · 5 % = 37.5; I = 750 · 10 % = 75 (no
  // confidence: the conservative price is the price); M / E = 1.87535… % rounded up in 1e6;
  // withdrawable E − I = 1,924.625. The short is liquidatable from the lowest P with
  // 1,999.625 + 750 − 5·P < 5·P·5 %: P > 2,749.625 / 5.25 = 523.738095238… USDC.
  assert.deepEqual(describe(after), [
    `margin account ${account}`,
    "  collateral 1999.625000",
    "  equity 1999.625000, maintenance requirement 37.500000, initial requirement 75.000000",
    "  margin ratio 1.8754 % (M / E; liquidatable above 100 %)",
    "  max withdrawable 1924.625000",
    "  SOL-PERP: short 5.000000000 entry 750.000000 oracle 150.00000000 liquidation price 523.738095",
  ]);

  // 200 SOL more would break initial margin (30,750 USDC of notional needs 3,075 at 10 %).
  await assert.rejects(sendOrder(chain, after, carol.owner, 0, -200n * SOL, 0n), /order refused: InitialHealthViolated/);
  assert.equal(ctx.marginAccount(account).collateral, 1_999_625_000n);

  // SOL at $530: E = 1,999.625 + 750 − 2,650 = 99.625 < M = 132.5. The example shows the next
  // liquidation; a keeper's call then does exactly that.
  setPrice(ctx, s.sol, 530);
  const squeezed = await loadAccount(chain, s.quoteMint, carol.owner.address);
  const lines = describe(squeezed);
  assert.deepEqual(lines.slice(2, 5), [
    "  equity 99.625000, maintenance requirement 132.500000, initial requirement 265.000000",
    "  margin ratio 132.9988 % (M / E; liquidatable above 100 %)",
    "  max withdrawable 0.000000",
  ]);
  const keeper = await ctx.newSigner();
  const keeperToken = await ctx.createTokenAccount(s.quoteMint, keeper.address);
  const sent = await ctx.sendOk([
    liquidate({
      ex,
      keeper,
      marginAccount: account,
      market: s.sol.market,
      oracle: s.sol.oracle,
      keeperToken,
      marketIndex: 0,
      healthAccounts: healthAccountsFor(ctx.marginAccount(account), s.markets, 0),
    }),
  ]);
  const [slice] = eventsNamed(sent.events, "LiquidationSliceV3");
  const atoms = (v: bigint, decimals: number) => `${v / 10n ** BigInt(decimals)}.${(v % 10n ** BigInt(decimals)).toString().padStart(decimals, "0")}`;
  assert.equal(slice.wholeClose, 0);
  assert.deepEqual(lines.slice(6), [
    `  next liquidation of SOL-PERP: closes ${atoms(slice.baseClosed, 9)} (whole_close 0: a slice)` +
      `, keeper bonus ${atoms(slice.keeperBonus, 6)}, insurance fee ${atoms(slice.insuranceFee, 6)}, equity after ${atoms(slice.equityAfter, 6)}`,
  ]);
});
