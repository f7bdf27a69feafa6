// The exchange most e2e cases start from, built only through the SDK: app/client's
// `LocalExchange::standard()` (SOL-PERP and BTC-PERP, a 1,000,000 USDC pool, 50,000 USDC of
// insurance), except that BTC-PERP reads a legacy Pyth price account so that both oracle
// kinds are exercised on chain. The market parameters are app/client's `default_params`.
import type { Address, KeyPairSigner } from "@solana/kit";
import {
  addMarket,
  depositInsurance,
  depositLiquidity,
  deriveExchangeAddresses,
  type ExchangeAddresses,
  FEED_IDS,
  findMarketAddress,
  findPushFeedAddress,
  type FundingConfigArgs,
  initializeExchange,
  type ListedMarket,
  type MarketParamsArgs,
  OracleKind,
  OracleMode,
  PYTH_LEGACY_PROGRAM_ADDRESS,
  U64_MAX,
} from "../../src/index.js";
import { type PythPrice, usdPrice } from "../../src/testing/index.js";
import { LocalExchange, USDC } from "./harness.js";

/** `default_params()` of app/client/src/local.rs (rates in 1e6 = 100 %). */
export const DEFAULT_PARAMS: MarketParamsArgs = {
  initialRate: 100_000, // 10 % → 10x
  maintenanceRate: 50_000, // 5 %
  liquidationBuffer: 200_000, // restore E ≥ 1.2 · M
  bonusMinRate: 5_000, // 0.5 %
  bonusMaxRate: 25_000, // 2.5 %
  insuranceFeeRate: 10_000, // 1 %
  bonusRampSlots: 150,
  closeFactor: 500_000, // 50 % per call
  takerFeeRate: 500, // 0.05 %
  maxStalenessSecs: 60,
  maxConfRate: 20_000, // 2 %
  maxEmaDivergence: 100_000, // 10 %
  maxOpenInterest: 1_000_000_000_000_000n, // 1M SOL
  dustNotional: USDC,
  baseLotSize: 1_000_000n, // 0.001 SOL
};

/** 0.02 %/h at a skew of 100 %, clamped at 0.01 %/h (`default_funding`). */
export const DEFAULT_FUNDING: FundingConfigArgs = { rateScale: 200, maxRate: 100 };

export interface MarketFixture extends ListedMarket {
  kind: OracleKind;
  feedId: Uint8Array;
}

export interface StandardExchange {
  ctx: LocalExchange;
  admin: KeyPairSigner;
  quoteMint: Address;
  ex: ExchangeAddresses;
  sol: MarketFixture;
  btc: MarketFixture;
  markets: MarketFixture[];
  lp: { owner: KeyPairSigner; token: Address; shares: Address };
}

/** Writes `price` (published now, posted at the current slot) to a market's oracle account. */
export function setPrice(ctx: LocalExchange, market: MarketFixture, dollars: number): PythPrice {
  const { unixTimestamp, slot } = ctx.clock();
  const price = usdPrice(dollars, unixTimestamp, slot);
  if (market.kind === OracleKind.PythPriceUpdateV2) ctx.writePriceUpdateV2(market.oracle, price, market.feedId);
  else ctx.writeLegacyPrice(market.oracle, price);
  return price;
}

export async function standardExchange(): Promise<StandardExchange> {
  const ctx = await LocalExchange.start();
  const admin = await ctx.newSigner();
  const quoteMint = await ctx.createMint(admin.address, 6);
  const ex = await deriveExchangeAddresses(quoteMint);
  await ctx.sendOk([
    initializeExchange({ ex, admin, pythProgram: PYTH_LEGACY_PROGRAM_ADDRESS, insuranceCapPerEvent: U64_MAX }),
  ]);

  // SOL-PERP: pinned to the push oracle's SOL/USD feed account (shard 0), a PriceUpdateV2.
  const sol: MarketFixture = {
    index: 0,
    market: await findMarketAddress(ex.exchange, 0),
    oracle: await findPushFeedAddress(FEED_IDS.SOL_USD, 0),
    kind: OracleKind.PythPriceUpdateV2,
    feedId: FEED_IDS.SOL_USD,
  };
  setPrice(ctx, sol, 150);
  await ctx.sendOk([
    addMarket({
      ex,
      admin,
      market: sol.market,
      oracle: sol.oracle,
      params: DEFAULT_PARAMS,
      baseDecimals: 9,
      name: "SOL-PERP",
      oracleConfig: {
        kind: OracleKind.PythPriceUpdateV2,
        mode: OracleMode.Pinned,
        feedId: FEED_IDS.SOL_USD,
        shardId: 0,
        tradingStalenessSecs: 0,
      },
      funding: DEFAULT_FUNDING,
    }),
  ]);

  // BTC-PERP: a legacy price account owned by the exchange's Pyth program.
  const btcOracle = (await ctx.newSigner(0n)).address;
  const btc: MarketFixture = {
    index: 1,
    market: await findMarketAddress(ex.exchange, 1),
    oracle: btcOracle,
    kind: OracleKind.PythLegacy,
    feedId: new Uint8Array(32),
  };
  setPrice(ctx, btc, 60_000);
  await ctx.sendOk([
    addMarket({
      ex,
      admin,
      market: btc.market,
      oracle: btc.oracle,
      params: { ...DEFAULT_PARAMS, baseLotSize: 10_000n, maxOpenInterest: 1_000n * 100_000_000n },
      baseDecimals: 8,
      name: "BTC-PERP",
      oracleConfig: {
        kind: OracleKind.PythLegacy,
        mode: OracleMode.Pinned,
        feedId: new Uint8Array(32),
        shardId: 0,
        tradingStalenessSecs: 0,
      },
      funding: DEFAULT_FUNDING,
    }),
  ]);
  const markets = [sol, btc];

  // The pool: 1,000,000 USDC from a liquidity provider.
  const lpOwner = await ctx.newSigner();
  const lp = {
    owner: lpOwner,
    token: await ctx.createTokenAccount(quoteMint, lpOwner.address),
    shares: await ctx.createTokenAccount(ex.lpMint, lpOwner.address),
  };
  await ctx.mintTo(quoteMint, admin, lp.token, 1_000_000n * USDC);
  await ctx.sendOk([
    depositLiquidity({
      ex,
      provider: lpOwner,
      providerToken: lp.token,
      providerShares: lp.shares,
      amount: 1_000_000n * USDC,
      allMarkets: markets,
    }),
  ]);

  // The insurance fund: 50,000 USDC from the admin.
  const adminToken = await ctx.createTokenAccount(quoteMint, admin.address);
  await ctx.mintTo(quoteMint, admin, adminToken, 50_000n * USDC);
  await ctx.sendOk([depositInsurance({ ex, depositor: admin, depositorToken: adminToken, amount: 50_000n * USDC })]);

  return { ctx, admin, quoteMint, ex, sol, btc, markets, lp };
}

/** A trader with a margin account (id 0) and `wallet` quote atoms in a token account. */
export async function trader(s: StandardExchange, wallet: bigint) {
  const owner = await s.ctx.newSigner();
  const token = await s.ctx.createTokenAccount(s.quoteMint, owner.address);
  if (wallet > 0n) await s.ctx.mintTo(s.quoteMint, s.admin, token, wallet);
  return { owner, token };
}
