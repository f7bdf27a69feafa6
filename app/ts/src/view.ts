// Decoded chain accounts to the math's inputs: what lies between `decodeExchange` /
// `decodeMarket` / `decodeMarginAccount` (and the oracle accounts' bytes, and the Clock sysvar)
// and `accountView` / `previewLiquidation` of src/math. A decoded `Exchange` is already an
// `ExchangeView` and a decoded `MarginAccount` a `MarginAccountFields`; a market needs its price
// read through the program's guards and its split funding accumulators joined.
//
// The oracle account's address and owner are the caller's part (pass the market's `oracle` for
// a pinned market, as `healthAccountsFor` does): the program refuses any other account by name.
import { address, type ReadonlyUint8Array } from "@solana/kit";
import { type Market, OracleKind, type SplitI128 } from "./generated/types.js";
import {
  type MarketView,
  OracleError,
  type OracleReading,
  type RawPrice,
  type ViewClock,
  legacyRawPrice,
  priceUpdateV2RawPrice,
  validatePrice,
} from "./math/index.js";
import { decodeLegacyPriceAccount, decodePriceUpdateV2 } from "./pyth.js";

/** The Clock sysvar: what the program reads as `Clock::get()`. */
export const CLOCK_SYSVAR_ADDRESS = address("SysvarC1ock11111111111111111111111111111111");

/** The slot and unix time of a Clock sysvar account's data (slot at byte 0, unix time at 32). */
export function decodeClockSysvar(data: ReadonlyUint8Array): ViewClock {
  if (data.length < 40) throw new Error("not a Clock sysvar: too short");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { slot: view.getBigUint64(0, true), unixTimestamp: view.getBigInt64(32, true) };
}

/** `SplitI128::get`: the funding accumulators are stored as a low `u64` and a high `i64`. */
export const splitI128 = (value: SplitI128): bigint => (BigInt.asIntN(64, value.hi) << 64n) + BigInt.asUintN(64, value.lo);

/**
 * A market's price as `read_oracle_account` reads it, for the market's oracle kind: the account
 * decoded, then the kind's checks (legacy: trading status; `PriceUpdateV2`: full verification,
 * the market's feed id, not posted after `clock.slot`), then the guards both share (staleness,
 * confidence, EMA divergence, fixed point). Throws `OracleError` with the program's error name.
 */
export function readOracleReading(
  market: Market,
  oracleData: ReadonlyUint8Array,
  quoteDecimals: number,
  clock: ViewClock,
): OracleReading {
  let raw: RawPrice;
  if (market.oracleKind === OracleKind.PythLegacy) {
    const legacy = decodeLegacyPriceAccount(oracleData);
    raw = legacyRawPrice({
      status: legacy.status,
      price: legacy.price,
      conf: legacy.conf,
      expo: legacy.exponent,
      publishTime: legacy.publishTime,
      emaPrice: legacy.emaPrice,
    });
  } else {
    const update = decodePriceUpdateV2(oracleData);
    raw = priceUpdateV2RawPrice(
      {
        fullyVerified: update.verificationLevel.kind === "Full",
        feedId: update.feedId,
        price: update.price,
        conf: update.conf,
        exponent: update.exponent,
        publishTime: update.publishTime,
        emaPrice: update.emaPrice,
        postedSlot: update.postedSlot,
      },
      Uint8Array.from(market.oracleFeedId),
      clock.slot,
    );
  }
  const oracleMarket = {
    maxStalenessSecs: market.params.maxStalenessSecs,
    maxConfRate: market.params.maxConfRate,
    maxEmaDivergence: market.params.maxEmaDivergence,
    oracleTradingStalenessSecs: market.oracleTradingStalenessSecs,
    baseDecimals: market.baseDecimals,
  };
  return validatePrice(raw, oracleMarket, quoteDecimals, clock.unixTimestamp);
}

/**
 * A decoded market as the math reads it: its parameters, funding state and price. A price the
 * program refuses leaves `oracle` null (the program would refuse a health check that needs it
 * with that error, `refusal` says which).
 */
export function marketView(
  market: Market,
  oracleData: ReadonlyUint8Array,
  quoteDecimals: number,
  clock: ViewClock,
): MarketView & { refusal: OracleError | null } {
  let oracle: OracleReading | null = null;
  let refusal: OracleError | null = null;
  try {
    oracle = readOracleReading(market, oracleData, quoteDecimals, clock);
  } catch (e) {
    if (!(e instanceof OracleError)) throw e;
    refusal = e;
  }
  return {
    marketIndex: market.marketIndex,
    params: market.params,
    oracle,
    refusal,
    longBase: market.longBase,
    shortBase: market.shortBase,
    paused: market.paused,
    fundingIndex: market.fundingIndex,
    fundingUpdatedAt: market.fundingUpdatedAt,
    fundingPausedSecsAtUpdate: market.fundingPausedSecsAtUpdate,
    fundingLongAccrued: splitI128(market.fundingLongAccrued),
    fundingShortAccrued: splitI128(market.fundingShortAccrued),
    fundingRateScale: market.fundingRateScale,
    fundingMaxRate: market.fundingMaxRate,
  };
}
