// Unit tests of the SDK that need no program: every IDL instruction's builder against the IDL,
// Pyth layouts against a real mainnet account, events from logs, errors by name.
import test from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  AccountRole,
  type Address,
  getAddressDecoder,
  getBase64Encoder,
  getBase64Decoder,
  type Instruction,
  SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM,
  SolanaError,
} from "@solana/kit";
import * as sdk from "../src/index.js";
import { readIdl } from "../scripts/generate.js";
import { encodeLegacyPriceAccount, encodePriceUpdateV2, usdPrice } from "../src/testing/index.js";

const idl = readIdl();
/** A distinct address per number. */
const A = (n: number): Address => getAddressDecoder().decode(new Uint8Array(32).fill(n));
const sha8 = (text: string) => Uint8Array.from(createHash("sha256").update(text).digest().subarray(0, 8));

const ex: sdk.ExchangeAddresses = {
  exchange: A(1),
  quoteMint: A(2),
  quoteVault: A(3),
  insuranceVault: A(4),
  insuranceFund: A(5),
  lpMint: A(6),
};
const pairs: sdk.MarketPair[] = [
  { market: A(20), oracle: A(21) },
  { market: A(22), oracle: A(23) },
];
const params: sdk.MarketParamsArgs = {
  initialRate: 100_000,
  maintenanceRate: 50_000,
  liquidationBuffer: 200_000,
  bonusMinRate: 5_000,
  bonusMaxRate: 25_000,
  insuranceFeeRate: 10_000,
  bonusRampSlots: 150,
  closeFactor: 500_000,
  takerFeeRate: 500,
  maxStalenessSecs: 60,
  maxConfRate: 20_000,
  maxEmaDivergence: 100_000,
  maxOpenInterest: 1n,
  dustNotional: 1n,
  baseLotSize: 1n,
};
const oracleConfig: sdk.OracleConfigArgs = {
  kind: sdk.OracleKind.PythPriceUpdateV2,
  mode: sdk.OracleMode.Pinned,
  feedId: sdk.FEED_IDS.SOL_USD,
  shardId: 0,
  tradingStalenessSecs: 0,
};
const funding = { rateScale: 200, maxRate: 100 };

/**
 * Every instruction of the IDL, built with the SDK's builder, and what its remaining accounts
 * must be: `null` for none, else whether the pairs' markets are writable.
 */
const BUILT: Record<string, { ix: Instruction; markets: "writable" | "read-only" | null }> = {
  initialize_exchange: {
    ix: sdk.initializeExchange({ ex, admin: A(9), pythProgram: A(10), insuranceCapPerEvent: 7n }),
    markets: null,
  },
  add_market: {
    ix: sdk.addMarket({ ex, admin: A(9), market: A(11), oracle: A(12), params, baseDecimals: 9, name: "SOL-PERP", oracleConfig, funding }),
    markets: null,
  },
  set_market_oracle: { ix: sdk.setMarketOracle({ ex, admin: A(9), market: A(11), oracle: A(12), config: oracleConfig }), markets: null },
  update_market: { ix: sdk.updateMarket({ ex, admin: A(9), market: A(11), params }), markets: null },
  set_market_funding: { ix: sdk.setMarketFunding({ ex, admin: A(9), market: A(11), funding }), markets: null },
  update_exchange: {
    ix: sdk.updateExchange({ ex, admin: A(9), insuranceCapPerEvent: 1n, insolventCloseReward: 2n, liquidationEpisodeSlots: 3n }),
    markets: null,
  },
  set_exchange_pause: { ix: sdk.setExchangePause({ ex, admin: A(9), paused: sdk.PAUSE.ALL }), markets: null },
  set_market_pause: { ix: sdk.setMarketPause({ ex, admin: A(9), market: A(11), paused: sdk.PAUSE.INCREASE }), markets: null },
  set_repeat_liquidation_window: { ix: sdk.setRepeatLiquidationWindow({ ex, admin: A(9), windowSlots: 216_000n }), markets: null },
  transfer_admin: { ix: sdk.transferAdmin({ ex, admin: A(9), newAdmin: A(13) }), markets: null },
  withdraw_insurance: { ix: sdk.withdrawInsurance({ ex, admin: A(9), destination: A(14), amount: 5n }), markets: null },
  create_margin_account: { ix: sdk.createMarginAccount({ ex, owner: A(15), marginAccount: A(16), id: 3 }), markets: null },
  set_delegate: { ix: sdk.setDelegate({ owner: A(15), marginAccount: A(16), delegate: A(17) }), markets: null },
  deposit_collateral: {
    ix: sdk.depositCollateral({ ex, depositor: A(15), marginAccount: A(16), depositorToken: A(18), amount: 1n, healthAccounts: pairs }),
    markets: "writable",
  },
  withdraw_collateral: {
    ix: sdk.withdrawCollateral({ ex, owner: A(15), marginAccount: A(16), ownerToken: A(18), amount: 1n, healthAccounts: pairs }),
    markets: "writable",
  },
  place_order: {
    ix: sdk.placeOrder({
      ex,
      trader: A(15),
      marginAccount: A(16),
      market: A(11),
      oracle: A(12),
      baseDelta: -5n,
      limitPrice: 0n,
      healthAccounts: pairs,
    }),
    markets: "read-only",
  },
  deposit_liquidity: {
    ix: sdk.depositLiquidity({ ex, provider: A(15), providerToken: A(18), providerShares: A(19), amount: 1n, allMarkets: pairs }),
    markets: "read-only",
  },
  withdraw_liquidity: {
    ix: sdk.withdrawLiquidity({ ex, provider: A(15), providerToken: A(18), providerShares: A(19), shares: 1n, allMarkets: pairs }),
    markets: "read-only",
  },
  deposit_insurance: { ix: sdk.depositInsurance({ ex, depositor: A(15), depositorToken: A(18), amount: 1n }), markets: null },
  liquidate: {
    ix: sdk.liquidate({
      ex,
      keeper: A(24),
      marginAccount: A(16),
      market: A(11),
      oracle: A(12),
      keeperToken: A(25),
      marketIndex: 0,
      healthAccounts: pairs,
    }),
    markets: "writable",
  },
  resolve_bankruptcy: { ix: sdk.resolveBankruptcy({ ex, caller: A(24), marginAccount: A(16) }), markets: null },
  update_funding: { ix: sdk.updateFunding({ ex, market: A(11) }), markets: null },
};

test("every IDL instruction has a builder, and no builder is for an instruction the IDL lacks", () => {
  assert.deepEqual(Object.keys(BUILT).sort(), idl.instructions.map((ix) => ix.name).sort());
});

for (const ix of idl.instructions) {
  test(`builder of ${ix.name}: program, discriminator, named accounts as the IDL says, remaining accounts`, () => {
    const { ix: built, markets } = BUILT[ix.name];
    assert.equal(built.programAddress, sdk.MICROLIQ_PROGRAM_ADDRESS);
    assert.equal(built.programAddress, idl.address);
    // Anchor's instruction discriminator is sha256("global:<name>")[..8].
    assert.deepEqual(Uint8Array.from(built.data!.subarray(0, 8)), Uint8Array.from(ix.discriminator));
    assert.deepEqual(Uint8Array.from(ix.discriminator), sha8(`global:${ix.name}`));
    const accounts = built.accounts!;
    ix.accounts.forEach((expected, i) => {
      const meta = accounts[i];
      const role = expected.writable
        ? expected.signer
          ? AccountRole.WRITABLE_SIGNER
          : AccountRole.WRITABLE
        : expected.signer
          ? AccountRole.READONLY_SIGNER
          : AccountRole.READONLY;
      assert.equal(meta.role, role, `${ix.name}.${expected.name}: role`);
      if (expected.address) assert.equal(meta.address, expected.address, `${ix.name}.${expected.name}: fixed address`);
    });
    const remaining = accounts.slice(ix.accounts.length);
    if (markets === null) {
      assert.equal(remaining.length, 0);
    } else {
      const role = markets === "writable" ? AccountRole.WRITABLE : AccountRole.READONLY;
      assert.deepEqual(
        remaining.map((m) => [m.address, m.role]),
        pairs.flatMap((p) => [
          [p.market, role],
          [p.oracle, AccountRole.READONLY],
        ]),
      );
    }
  });
}

test("named accounts land where the IDL puts them (the liquidate and exchange PDAs by name)", () => {
  const names = idl.instructions.find((ix) => ix.name === "liquidate")!.accounts.map((a) => a.name);
  const at = (name: string) => BUILT.liquidate.ix.accounts![names.indexOf(name)].address;
  assert.deepEqual(
    [at("keeper"), at("exchange"), at("margin_account"), at("market"), at("oracle"), at("insurance_fund"), at("keeper_token"), at("quote_vault"), at("insurance_vault")],
    [A(24), ex.exchange, A(16), A(11), A(12), ex.insuranceFund, A(25), ex.quoteVault, ex.insuranceVault],
  );
  // liquidate's arguments: market_index u16, then max_base u64 (u64::MAX when not given).
  const data = BUILT.liquidate.ix.data!;
  assert.equal(data.length, 8 + 2 + 8);
  assert.deepEqual([...data.subarray(8)], [0, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
});

test("place_order's arguments: base_delta i64 and limit_price u64, little-endian", () => {
  const data = BUILT.place_order.ix.data!;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  assert.equal(data.length, 8 + 16);
  assert.equal(view.getBigInt64(8, true), -5n);
  assert.equal(view.getBigUint64(16, true), 0n);
});

test("add_market refuses a name over 16 bytes", () => {
  assert.throws(
    () => sdk.addMarket({ ex, admin: A(9), market: A(11), oracle: A(12), params, baseDecimals: 9, name: "X".repeat(17), oracleConfig, funding }),
    /longer than 16 bytes/,
  );
});

test("account discriminators are sha256(\"account:<Name>\")[..8]; decoders refuse other accounts", () => {
  const all = [
    ["Exchange", sdk.EXCHANGE_DISCRIMINATOR],
    ["InsuranceFund", sdk.INSURANCE_FUND_DISCRIMINATOR],
    ["MarginAccount", sdk.MARGIN_ACCOUNT_DISCRIMINATOR],
    ["Market", sdk.MARKET_DISCRIMINATOR],
  ] as const;
  for (const [name, discriminator] of all) assert.deepEqual(discriminator, sha8(`account:${name}`), name);
  const market = new Uint8Array(sdk.MARKET_ACCOUNT_SIZE);
  market.set(sdk.MARKET_DISCRIMINATOR);
  assert.equal(sdk.decodeMarket(market).marketIndex, 0);
  assert.throws(() => sdk.decodeExchange(market), /not a Exchange account: wrong discriminator/);
  assert.throws(() => sdk.decodeMarket(market.subarray(0, 100)), /100 bytes, expected 344/);
});

// A real mainnet PriceUpdateV2 (Pyth's sponsored SOL/USD feed account), as in app/client/src/pyth.rs.
const MAINNET = {
  address: "7UVimffxr9ow1uXYxsr4LHAcV58mLzhmwaeKvJ1pjLiE",
  data: "IvEjY51+9M1gMUcENA3t3zcf1CRyFI8kjp0abRpesqw6zYt/1dayQwHvDYtv2izrpB2hXUCV0do5Kg0vjtDGx7wPTPrIwoC1bW2njwUFAAAARTozAQAAAAD4////1wN5ZwAAAADXA3lnAAAAAIRKaggFAAAAk1kTAQAAAAA8qpUSAAAAAAA=",
};

test("PriceUpdateV2: the mainnet account decodes to its known fields, and the writer reproduces it byte for byte", async () => {
  const bytes = Uint8Array.from(getBase64Encoder().encode(MAINNET.data));
  assert.equal(bytes.length, sdk.PRICE_UPDATE_V2_LEN);
  assert.deepEqual(sdk.PRICE_UPDATE_V2_DISCRIMINATOR, sha8("account:PriceUpdateV2"));
  const decoded = sdk.decodePriceUpdateV2(bytes);
  assert.deepEqual(decoded.verificationLevel, { kind: "Full" });
  assert.deepEqual(decoded.feedId, sdk.FEED_IDS.SOL_USD);
  assert.equal(decoded.price, 21_568_137_069n);
  assert.equal(decoded.conf, 20_134_469n);
  assert.equal(decoded.exponent, -8);
  assert.equal(decoded.publishTime, 1_735_984_087n);
  assert.equal(decoded.prevPublishTime, 1_735_984_087n);
  assert.equal(decoded.emaPrice, 21_616_020_100n);
  assert.equal(decoded.emaConf, 18_045_331n);
  assert.equal(decoded.postedSlot, 311_798_332n);
  // It is the push oracle's shard-0 account of the SOL/USD feed.
  assert.equal(await sdk.findPushFeedAddress(sdk.FEED_IDS.SOL_USD, 0), MAINNET.address);
  const written = encodePriceUpdateV2(
    { ...decoded, status: sdk.PythPriceStatus.Trading },
    decoded.feedId,
    { writeAuthority: decoded.writeAuthority, prevPublishTime: decoded.prevPublishTime, emaConf: decoded.emaConf },
  );
  assert.deepEqual(written, bytes);
  assert.deepEqual(sdk.readOraclePrice(sdk.OracleKind.PythPriceUpdateV2, written), {
    price: decoded.price,
    conf: decoded.conf,
    exponent: -8,
    publishTime: decoded.publishTime,
    emaPrice: decoded.emaPrice,
    emaConf: decoded.emaConf,
  });
});

test("PriceUpdateV2: a partially verified update is one byte longer before the message, and decodes as such", () => {
  const price = usdPrice(142.5, 1_700_000_000n, 9n);
  const partial = encodePriceUpdateV2(price, sdk.FEED_IDS.BTC_USD, { level: { kind: "Partial", numSignatures: 5 } });
  const decoded = sdk.decodePriceUpdateV2(partial);
  assert.deepEqual(decoded.verificationLevel, { kind: "Partial", numSignatures: 5 });
  assert.equal(decoded.price, 14_250_000_000n);
  assert.equal(decoded.postedSlot, 9n);
  assert.deepEqual(decoded.feedId, sdk.FEED_IDS.BTC_USD);
  assert.throws(() => sdk.decodePriceUpdateV2(new Uint8Array(134)), /wrong discriminator/);
});

test("legacy price account: 3,312 bytes (240 of header, 32 publishers of 96), the writer and reader agree", () => {
  assert.equal(sdk.LEGACY_PRICE_ACCOUNT_LEN, 240 + 32 * 96);
  const price = { ...usdPrice(60_000, 1_700_000_123n), conf: 1_500_000n, emaPrice: 5_990_000_000_000n };
  const bytes = encodeLegacyPriceAccount(price);
  assert.equal(bytes.length, 3312);
  const decoded = sdk.decodeLegacyPriceAccount(bytes);
  assert.equal(decoded.price, 6_000_000_000_000n);
  assert.equal(decoded.conf, 1_500_000n);
  assert.equal(decoded.emaPrice, 5_990_000_000_000n);
  assert.equal(decoded.exponent, -8);
  assert.equal(decoded.publishTime, 1_700_000_123n);
  assert.equal(decoded.status, sdk.PythPriceStatus.Trading);
  assert.equal(bytes[224], 1, "agg.status (a u8) at 208 + 16");
  const halted = encodeLegacyPriceAccount({ ...price, status: sdk.PythPriceStatus.Halted });
  assert.equal(sdk.decodeLegacyPriceAccount(halted).status, sdk.PythPriceStatus.Halted);
  const wrongMagic = Uint8Array.from(bytes);
  wrongMagic[0] ^= 1;
  assert.throws(() => sdk.decodeLegacyPriceAccount(wrongMagic), /wrong magic/);
});

test("events: only the program's own `Program data:` lines, decoded by discriminator", () => {
  const event: sdk.AdminTransferredArgs = { exchange: A(1), previousAdmin: A(2), newAdmin: A(3) };
  const data = new Uint8Array([...sdk.EVENTS.AdminTransferred.discriminator, ...sdk.getAdminTransferredCodec().encode(event)]);
  const line = `Program data: ${getBase64Decoder().decode(data)}`;
  const program = sdk.MICROLIQ_PROGRAM_ADDRESS;
  const other = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
  const logs = [
    `Program ${program} invoke [1]`,
    "Program log: Instruction: TransferAdmin",
    `Program ${other} invoke [2]`,
    line, // logged inside a CPI: not ours
    `Program ${other} success`,
    line,
    "Program data: AAAAAAAAAAA=", // unknown discriminator
    `Program ${program} consumed 5000 of 200000 compute units`,
    `Program ${program} success`,
    line, // after the program returned
  ];
  const events = sdk.parseMicroliqEvents(logs);
  assert.equal(events.length, 1);
  assert.equal(events[0].name, "AdminTransferred");
  assert.deepEqual(sdk.eventsNamed(events, "AdminTransferred")[0], event);
  assert.equal(sdk.decodeMicroliqEvent(new Uint8Array(8)), null);
});

test("errors: every IDL error by name and code, Anchor's log line parsed, kit's error unwrapped", () => {
  assert.equal(Object.keys(sdk.MICROLIQ_ERROR_NAMES).length, idl.errors.length);
  for (const { code, name, msg } of idl.errors) {
    assert.equal(sdk.getMicroliqErrorName(code), name);
    assert.equal(sdk.getMicroliqErrorCode(name as sdk.MicroliqErrorName), code);
    assert.equal(sdk.getMicroliqErrorMessage(code), msg);
  }
  assert.equal(sdk.MICROLIQ_ERROR__NOT_LIQUIDATABLE, sdk.getMicroliqErrorCode("NotLiquidatable"));
  assert.equal(sdk.getMicroliqErrorName(2001), undefined);

  const logs = [
    "Program log: Instruction: Liquidate",
    "Program log: AnchorError thrown in programs/microliq/src/instructions/keeper/liquidate.rs:120. Error Code: NotLiquidatable. Error Number: 6043. Error Message: Account is not liquidatable.",
  ];
  assert.deepEqual(sdk.parseAnchorError(logs), {
    name: "NotLiquidatable",
    code: 6043,
    message: "Account is not liquidatable",
  });
  assert.deepEqual(
    sdk.parseAnchorError([
      "Program log: AnchorError caused by account: exchange. Error Code: ConstraintHasOne. Error Number: 2001. Error Message: A has one constraint was violated.",
    ]),
    { name: "ConstraintHasOne", code: 2001, message: "A has one constraint was violated", account: "exchange" },
  );
  assert.equal(sdk.parseAnchorError(["Program log: hello"]), undefined);

  const custom = new SolanaError(SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM, { code: 6043, index: 1 });
  const wrapped = new Error("transaction failed", { cause: custom });
  assert.equal(sdk.getMicroliqErrorFromSolanaError(wrapped), "NotLiquidatable");
  assert.equal(sdk.getMicroliqErrorFromSolanaError(wrapped, [1]), "NotLiquidatable");
  assert.equal(sdk.getMicroliqErrorFromSolanaError(wrapped, [0]), undefined, "instruction 1 is another program's");
  assert.equal(sdk.getMicroliqErrorFromSolanaError(new Error("no")), undefined);
});

test("health accounts: held markets ascending, the named market left out, every market for LP instructions", () => {
  const position = (marketIndex: number, base: bigint) => ({ base, entryQuote: 0n, marketIndex, padding: new Uint8Array(6) });
  const account = {
    positions: [position(2, 5n), position(0, -3n), position(1, 0n), position(3, 1n)],
  };
  const markets = [0, 1, 2, 3].map((index) => ({ index, market: A(40 + index), oracle: A(50 + index) }));
  assert.deepEqual(sdk.heldMarketIndexes(account), [0, 2, 3]);
  assert.deepEqual(sdk.healthAccountsFor(account, markets, 2), [
    { market: A(40), oracle: A(50) },
    { market: A(43), oracle: A(53) },
  ]);
  assert.throws(() => sdk.healthAccountsFor(account, markets.slice(0, 2)), /market 2 is held/);
  assert.equal(sdk.allMarketsFor(markets, 4).length, 4);
  assert.equal(sdk.marketName(new Uint8Array([83, 79, 76, 0, 0])), "SOL");
});
