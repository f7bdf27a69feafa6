// Port of the guards of programs/microliq/src/oracle.rs that turn an oracle's fields into the
// low/high prices the math uses, for both oracle kinds. Decoding the account bytes (the Anchor
// discriminator, the Borsh layout of `PriceUpdateV2`, the legacy Pyth layout) and the address
// and owner checks are the account decoders' part; these functions take the decoded fields and
// refuse exactly what the program refuses, with its error names.

import { RATE_PRECISION, absDiff, saturatingSubI64 } from "./fixed.js";
import { MicroliqRefusal } from "./errors.js";
import { type MarketPrice, marketPriceFromOracle } from "./health.js";

/** The program's refusals of a price (their codes come with them, from the IDL). */
export type OracleErrorName =
  | "OracleNotTrading"
  | "OracleNonPositivePrice"
  | "OracleStale"
  | "OracleConfidenceTooWide"
  | "OraclePriceOutOfRange"
  | "OracleNotFullyVerified"
  | "OracleWrongFeed"
  | "OraclePostedInFuture";

/** A price the program refuses, named and numbered as the program does. */
export class OracleError extends MicroliqRefusal<OracleErrorName> {
  constructor(errorName: OracleErrorName) {
    super(errorName);
    this.name = "OracleError";
  }
}

/** Which price format a market reads (`Market::oracle_kind`): the IDL's enum, one name per concept. */
export { OracleKind } from "../generated/types.js";

/** A price as either format carries it, before the shared guards (Rust `RawPrice`). */
export interface RawPrice {
  price: bigint;
  conf: bigint;
  expo: number;
  publishTime: bigint;
  emaPrice: bigint;
}

/** Pyth legacy aggregate status (`pyth_sdk_solana::state::PriceStatus`). */
export enum LegacyPriceStatus {
  Unknown = 0,
  Trading = 1,
  Halted = 2,
  Auction = 3,
  Ignored = 4,
}

/** The fields of a legacy price account the program reads. */
export interface LegacyPriceFields {
  /** `agg.status`. */
  status: LegacyPriceStatus | number;
  /** `agg.price`, `agg.conf`. */
  price: bigint;
  conf: bigint;
  expo: number;
  /** `timestamp`. */
  publishTime: bigint;
  /** `ema_price.val`. */
  emaPrice: bigint;
}

/** A legacy account's aggregate, refused unless it is trading (Rust `legacy_raw_price`). */
export function legacyRawPrice(account: LegacyPriceFields): RawPrice {
  if (account.status !== LegacyPriceStatus.Trading) throw new OracleError("OracleNotTrading");
  const { price, conf, expo, publishTime, emaPrice } = account;
  return { price, conf, expo, publishTime, emaPrice };
}

/** The fields of a `PriceUpdateV2` account the program reads. */
export interface PriceUpdateV2Fields {
  /** `verification_level` is `Full`. */
  fullyVerified: boolean;
  feedId: Uint8Array;
  price: bigint;
  conf: bigint;
  exponent: number;
  publishTime: bigint;
  emaPrice: bigint;
  postedSlot: bigint;
}

/**
 * A `PriceUpdateV2`'s price after the program's checks past decoding: `Full` verification, the
 * market's feed id, `posted_slot` not in the future (Rust `FullPriceUpdate::decode` and
 * `decode_price_update_v2`).
 */
export function priceUpdateV2RawPrice(update: PriceUpdateV2Fields, marketFeedId: Uint8Array, slot: bigint): RawPrice {
  if (!update.fullyVerified) throw new OracleError("OracleNotFullyVerified");
  const sameFeed = update.feedId.length === 32 && marketFeedId.every((byte, i) => update.feedId[i] === byte);
  if (!sameFeed || marketFeedId.length !== 32) throw new OracleError("OracleWrongFeed");
  if (update.postedSlot > slot) throw new OracleError("OraclePostedInFuture");
  return {
    price: update.price,
    conf: update.conf,
    expo: update.exponent,
    publishTime: update.publishTime,
    emaPrice: update.emaPrice,
  };
}

/** What the price guards read of a market. */
export interface OracleMarket {
  maxStalenessSecs: number;
  maxConfRate: number;
  maxEmaDivergence: number;
  /** `Market::oracle_trading_staleness_secs` (0: the staleness window). */
  oracleTradingStalenessSecs: number;
  baseDecimals: number;
}

/** The trading window in seconds (Rust `Market::trading_staleness_secs`). */
export function tradingStalenessSecs(market: OracleMarket): number {
  return market.oracleTradingStalenessSecs === 0
    ? market.maxStalenessSecs
    : Math.min(market.oracleTradingStalenessSecs, market.maxStalenessSecs);
}

/** A validated oracle read, converted to fixed point (Rust `OracleReading`). */
export interface OracleReading {
  price: MarketPrice;
  rawPrice: bigint;
  rawConf: bigint;
  expo: number;
  publishTime: bigint;
  /** `|price − ema| / ema > max_ema_divergence`: risk-adding actions are refused. */
  emaDiverged: boolean;
  /** Older than the trading window: orders, withdrawals and LP actions are refused. */
  staleForTrading: boolean;
}

/** The guards both kinds share, and the conversion to fixed point (Rust `validate_price`). */
export function validatePrice(raw: RawPrice, market: OracleMarket, quoteDecimals: number, now: bigint): OracleReading {
  if (!(raw.price > 0n && raw.emaPrice > 0n)) throw new OracleError("OracleNonPositivePrice");
  const age = saturatingSubI64(now, raw.publishTime);
  if (age > BigInt(market.maxStalenessSecs)) throw new OracleError("OracleStale");
  const staleForTrading = age > BigInt(tradingStalenessSecs(market));
  const price = raw.price;
  const ema = raw.emaPrice;
  const conf = raw.conf;
  if (conf * RATE_PRECISION > BigInt(market.maxConfRate) * price) throw new OracleError("OracleConfidenceTooWide");
  const emaDiverged = absDiff(price, ema) * RATE_PRECISION > BigInt(market.maxEmaDivergence) * ema;
  let fixed: MarketPrice;
  try {
    fixed = marketPriceFromOracle(price, conf, ema, raw.expo, quoteDecimals, market.baseDecimals);
  } catch {
    throw new OracleError("OraclePriceOutOfRange");
  }
  if (fixed.oracleLow <= 0n) throw new OracleError("OraclePriceOutOfRange");
  return {
    price: fixed,
    rawPrice: raw.price,
    rawConf: conf,
    expo: raw.expo,
    publishTime: raw.publishTime,
    emaDiverged,
    staleForTrading,
  };
}

/** Whether orders, withdrawals and LP actions may use it (else the program refuses with `OracleTooStaleToTrade`). */
export const freshForTrading = (reading: OracleReading) => !reading.staleForTrading;
/** Whether a risk-adding action may use it (else `OracleTooStaleToTrade` or `OracleEmaDivergence`). */
export const fitToAddRisk = (reading: OracleReading) => !reading.staleForTrading && !reading.emaDiverged;
