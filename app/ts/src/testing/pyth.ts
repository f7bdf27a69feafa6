// Crafted Pyth price accounts, byte for byte as app/client/src/pyth.rs writes them (the
// receiver SDK's serializer for `PriceUpdateV2`, pyth-sdk-solana's struct for legacy accounts).
// For tests and local runtimes: real prices come from Pyth.
import { type Address, getAddressEncoder, type ReadonlyUint8Array } from "@solana/kit";
import {
  LEGACY_ACCOUNT_TYPE_PRICE,
  LEGACY_LAYOUT,
  LEGACY_MAGIC,
  LEGACY_PRICE_ACCOUNT_LEN,
  LEGACY_VERSION,
  PRICE_UPDATE_V2_DISCRIMINATOR,
  PRICE_UPDATE_V2_LAYOUT,
  PRICE_UPDATE_V2_LEN,
  PythPriceStatus,
} from "../pyth.js";

/** What a test controls of a Pyth price: mantissa, confidence, EMA (all with `exponent`), status and times. */
export interface PythPrice {
  price: bigint;
  conf: bigint;
  emaPrice: bigint;
  exponent: number;
  status: PythPriceStatus;
  publishTime: bigint;
  /** The slot a `PriceUpdateV2` was posted at (ignored by the legacy format). */
  postedSlot: bigint;
}

/** A trading price of `dollars` with exponent −8, zero confidence and the EMA at the price (`PythPrice::usd`). */
export function usdPrice(dollars: number, publishTime = 0n, postedSlot = 0n): PythPrice {
  const mantissa = BigInt(Math.round(dollars * 1e8));
  return {
    price: mantissa,
    conf: 0n,
    emaPrice: mantissa,
    exponent: -8,
    status: PythPriceStatus.Trading,
    publishTime,
    postedSlot,
  };
}

/** The Rust fixtures' write authority (`[7; 32]`). */
export const TEST_WRITE_AUTHORITY = new Uint8Array(32).fill(7);

/**
 * A `PriceUpdateV2` account's 134 bytes for `feedId`: discriminator, write authority, level
 * (`Full`, or `Partial` with its signature count), the price message and the posted slot; the
 * status is not part of this format. `prevPublishTime` is `publishTime − 1` and `emaConf` is
 * `conf`, as the Rust writer does.
 */
export function encodePriceUpdateV2(
  price: PythPrice,
  feedId: ReadonlyUint8Array,
  options: {
    level?: { kind: "Full" } | { kind: "Partial"; numSignatures: number };
    writeAuthority?: Address | ReadonlyUint8Array;
    prevPublishTime?: bigint;
    emaConf?: bigint;
  } = {},
): Uint8Array {
  const data = new Uint8Array(PRICE_UPDATE_V2_LEN);
  const v = new DataView(data.buffer);
  const L = PRICE_UPDATE_V2_LAYOUT;
  data.set(PRICE_UPDATE_V2_DISCRIMINATOR, 0);
  const authority = options.writeAuthority ?? TEST_WRITE_AUTHORITY;
  data.set(typeof authority === "string" ? getAddressEncoder().encode(authority) : authority, L.writeAuthority);
  const level = options.level ?? { kind: "Full" };
  let shift = 0;
  if (level.kind === "Full") {
    data[L.level] = 1;
  } else {
    data[L.level] = 0;
    data[L.level + 1] = level.numSignatures;
    shift = 1;
  }
  data.set(feedId, L.feedId + shift);
  v.setBigInt64(L.price + shift, price.price, true);
  v.setBigUint64(L.conf + shift, price.conf, true);
  v.setInt32(L.exponent + shift, price.exponent, true);
  v.setBigInt64(L.publishTime + shift, price.publishTime, true);
  const previous = options.prevPublishTime ?? (price.publishTime > -(2n ** 63n) ? price.publishTime - 1n : price.publishTime);
  v.setBigInt64(L.prevPublishTime + shift, previous, true);
  v.setBigInt64(L.emaPrice + shift, price.emaPrice, true);
  v.setBigUint64(L.emaConf + shift, options.emaConf ?? price.conf, true);
  v.setBigUint64(L.postedSlot + shift, price.postedSlot, true);
  return data;
}

/** A legacy price account's 3,312 bytes (`PythPrice::to_bytes`): everything the Rust writer sets, zero elsewhere. */
export function encodeLegacyPriceAccount(price: PythPrice): Uint8Array {
  const data = new Uint8Array(LEGACY_PRICE_ACCOUNT_LEN);
  const v = new DataView(data.buffer);
  const L = LEGACY_LAYOUT;
  v.setUint32(L.magic, LEGACY_MAGIC, true);
  v.setUint32(L.version, LEGACY_VERSION, true);
  v.setUint32(L.accountType, LEGACY_ACCOUNT_TYPE_PRICE, true);
  data[L.priceType] = 1; // PriceType::Price
  v.setInt32(L.exponent, price.exponent, true);
  v.setBigInt64(L.emaPrice, price.emaPrice, true);
  v.setBigUint64(L.emaConf, price.conf, true);
  v.setBigInt64(L.timestamp, price.publishTime, true);
  v.setBigInt64(L.prevPrice, price.price, true);
  v.setBigUint64(L.prevConf, price.conf, true);
  v.setBigInt64(L.prevTimestamp, price.publishTime, true);
  v.setBigInt64(L.aggPrice, price.price, true);
  v.setBigUint64(L.aggConf, price.conf, true);
  data[L.aggStatus] = price.status;
  return data;
}
