// Run by `anchor migrate` after `anchor deploy` (needs the official Anchor toolchain and the IDL
// that `anchor build` writes to target/idl). Creates the exchange for the configured quote mint
// and lists every market in migrations/config.json that is not listed yet. Safe to re-run: an
// existing exchange is kept and markets are matched by oracle.
//
// Markets read Pyth PriceUpdateV2 accounts (docs/ORACLES.md): `feedId` is the Pyth feed id (hex);
// `mode` is "pinned" (the default: the push oracle's feed account of `shardId`, 0 for Pyth's
// sponsored feeds, derived here) or "pull" (any fresh update of the feed; `oracle` is then the
// account to read at listing, and `maxStalenessSecs` must be at most 10).

import * as anchor from "@coral-xyz/anchor";
import { PublicKey, SystemProgram, SYSVAR_RENT_PUBKEY } from "@solana/web3.js";
import * as fs from "fs";
import * as path from "path";

const TOKEN_PROGRAM_ID = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
const PYTH_PUSH_ORACLE = new PublicKey("pythWSnswVUd12oZpeFP8e9CVaEqJg25g1Vtc2biRsT");

/// The push oracle's feed account of a feed id on a shard: [shard u16 LE, feed id].
function pushFeedAddress(shardId: number, feedId: Buffer): PublicKey {
  const shard = Buffer.alloc(2);
  shard.writeUInt16LE(shardId);
  return PublicKey.findProgramAddressSync([shard, feedId], PYTH_PUSH_ORACLE)[0];
}

interface MarketConfig {
  name: string;
  feedId: string;
  mode?: "pinned" | "pull";
  shardId?: number;
  /** Pull markets only: the account read at listing. */
  oracle?: string;
  /** Oldest price orders, withdrawals and LP actions accept, seconds (0 = maxStalenessSecs). */
  tradingStalenessSecs?: number;
  /** Funding, RATE_PRECISION (1e6 = 100 %) per hour: rate at 100 % skew and the clamp (docs/FUNDING.md). */
  funding?: { rateScale: number; maxRate: number };
  baseDecimals: number;
  params: Record<string, number | string>;
}

interface Config {
  quoteMint: string;
  pythProgram: string;
  insuranceCapPerEvent: string;
  markets: MarketConfig[];
}

const bn = (v: number | string) => new anchor.BN(v.toString());

module.exports = async function (provider: anchor.AnchorProvider) {
  anchor.setProvider(provider);
  const idl = JSON.parse(fs.readFileSync(path.join(__dirname, "../target/idl/microliq.json"), "utf8"));
  const program = new anchor.Program(idl, provider);
  const config: Config = JSON.parse(
    fs.readFileSync(process.env.MICROLIQ_CONFIG ?? path.join(__dirname, "config.json"), "utf8"),
  );
  const admin = provider.wallet.publicKey;
  const quoteMint = new PublicKey(config.quoteMint);
  const pda = (...seeds: Buffer[]) => PublicKey.findProgramAddressSync(seeds, program.programId)[0];
  const exchange = pda(Buffer.from("exchange"), quoteMint.toBuffer());

  if ((await provider.connection.getAccountInfo(exchange)) === null) {
    await program.methods
      .initializeExchange({
        pythProgram: new PublicKey(config.pythProgram),
        insuranceCapPerEvent: bn(config.insuranceCapPerEvent),
      })
      .accounts({
        admin,
        exchange,
        quoteMint,
        quoteVault: pda(Buffer.from("quote_vault"), exchange.toBuffer()),
        insuranceVault: pda(Buffer.from("insurance_vault"), exchange.toBuffer()),
        insuranceFund: pda(Buffer.from("insurance_fund"), exchange.toBuffer()),
        lpMint: pda(Buffer.from("lp_mint"), exchange.toBuffer()),
        tokenProgram: TOKEN_PROGRAM_ID,
        systemProgram: SystemProgram.programId,
        rent: SYSVAR_RENT_PUBKEY,
      })
      .rpc();
    console.log(`exchange ${exchange.toBase58()} created`);
  }

  for (const market of config.markets) {
    const feedId = Buffer.from(market.feedId.replace(/^0x/, ""), "hex");
    if (feedId.length !== 32) throw new Error(`${market.name}: feedId must be 32 bytes of hex`);
    const pull = market.mode === "pull";
    const shardId = pull ? 0 : market.shardId ?? 0;
    if (pull && !market.oracle) throw new Error(`${market.name}: a pull market needs an oracle account to read at listing`);
    const oracle = pull ? new PublicKey(market.oracle!) : pushFeedAddress(shardId, feedId);
    const state: any = await (program.account as any).exchange.fetch(exchange);
    const count: number = state.marketCount;
    const listed: PublicKey[] = [];
    for (let i = 0; i < count; i++) {
      const index = Buffer.alloc(2);
      index.writeUInt16LE(i);
      const existing: any = await (program.account as any).market.fetch(pda(Buffer.from("market"), exchange.toBuffer(), index));
      listed.push(existing.oracle);
    }
    if (listed.some((existing) => existing.equals(oracle))) {
      console.log(`${market.name} already listed`);
      continue;
    }
    const index = Buffer.alloc(2);
    index.writeUInt16LE(count);
    const params = Object.fromEntries(
      Object.entries(market.params).map(([k, v]) => [k, typeof v === "string" ? bn(v) : v]),
    );
    await program.methods
      .addMarket({
        params,
        baseDecimals: market.baseDecimals,
        name: market.name,
        oracleConfig: {
          kind: { pythPriceUpdateV2: {} },
          mode: pull ? { pull: {} } : { pinned: {} },
          feedId: Array.from(feedId),
          shardId,
          tradingStalenessSecs: market.tradingStalenessSecs ?? 0,
        },
        funding: market.funding ?? { rateScale: 0, maxRate: 0 },
      })
      .accounts({
        admin,
        exchange,
        market: pda(Buffer.from("market"), exchange.toBuffer(), index),
        oracle,
        systemProgram: SystemProgram.programId,
      })
      .rpc();
    console.log(`${market.name} listed at index ${count}`);
  }
};
