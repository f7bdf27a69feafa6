// examples/health-and-order.ts against the program in litesvm: its Chain is the runtime, the
// rest is the example's own code, as an integrator runs it on an RPC node.
import test from "node:test";
import assert from "node:assert/strict";
import { type Instruction, SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM, SolanaError } from "@solana/kit";
import { createMarginAccount, depositCollateral, findMarginAccountAddress } from "../src/index.js";
import { type Chain, describe, loadAccount, sendOrder } from "../examples/health-and-order.js";
import { SOL, USDC } from "./e2e/harness.js";
import { standardExchange, trader } from "./e2e/fixture.js";

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
  assert.deepEqual(describe(view), [`margin account ${account}`, "  collateral 2000.000000"]);

  // Short 5 SOL at $150 (any price above $149): fee 750 · 0.05 % = 0.375 USDC.
  const fill = await sendOrder(chain, view, carol.owner, 0, -5n * SOL, (149n * USDC * 10n ** 12n) / SOL);
  assert.equal(fill.baseDelta, -5n * SOL);
  assert.equal(fill.fee, 375_000n);
  const after = await loadAccount(chain, s.quoteMint, carol.owner.address);
  assert.deepEqual(describe(after), [
    `margin account ${account}`,
    "  collateral 1999.625000",
    "  SOL-PERP: short 5.000000000 entry 750.000000 oracle 150.00000000",
  ]);

  // 200 SOL more would break initial margin (30,750 USDC of notional needs 3,075 at 10 %).
  await assert.rejects(sendOrder(chain, after, carol.owner, 0, -200n * SOL, 0n), /order refused: InitialHealthViolated/);
  assert.equal(ctx.marginAccount(account).collateral, 1_999_625_000n);
});
