// Pyth price accounts as the program reads them (programs/microliq/src/oracle.rs, docs/ORACLES.md):
// the Pyth Solana Receiver's `PriceUpdateV2` (pyth-solana-receiver-sdk 1.0.0) and the legacy
// push-oracle price account (pyth-sdk-solana 0.10.6). Readers here; writers for tests are in
// `@microliq/sdk/testing`.
import {
  type Address,
  address,
  getAddressDecoder,
  getProgramDerivedAddress,
  getU16Encoder,
  type ReadonlyUint8Array,
} from "@solana/kit";
import { OracleKind } from "./generated/types.js";

/** The Pyth Solana Receiver program: owner of every `PriceUpdateV2` account. */
export const PYTH_RECEIVER_PROGRAM_ADDRESS = address("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ");
/** The Pyth push-oracle program: its feed accounts (one per shard and feed id) are `PriceUpdateV2`. */
export const PYTH_PUSH_ORACLE_PROGRAM_ADDRESS = address("pythWSnswVUd12oZpeFP8e9CVaEqJg25g1Vtc2biRsT");
/** The mainnet legacy Pyth oracle program (an exchange names its own in `initialize_exchange`). */
export const PYTH_LEGACY_PROGRAM_ADDRESS = address("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH");

/** `sha256("account:PriceUpdateV2")[..8]`. */
export const PRICE_UPDATE_V2_DISCRIMINATOR = new Uint8Array([34, 241, 35, 99, 157, 126, 244, 205]);
/** A `PriceUpdateV2` account's size on chain (the SDK reserves two bytes for the level). */
export const PRICE_UPDATE_V2_LEN = 134;
/** A legacy price account's size (`SolanaPriceAccount`, 32 publisher slots). */
export const LEGACY_PRICE_ACCOUNT_LEN = 3312;
export const LEGACY_MAGIC = 0xa1b2c3d4;
export const LEGACY_VERSION = 2;
/** `AccountType::Price`. */
export const LEGACY_ACCOUNT_TYPE_PRICE = 3;

/** Legacy `PriceStatus`: only `Trading` prices are accepted. */
export enum PythPriceStatus {
  Unknown = 0,
  Trading = 1,
  Halted = 2,
  Auction = 3,
  Ignored = 4,
}

/** Byte offsets of the legacy account (`#[repr(C)]`, checked against the Rust writer by the e2e tests). */
export const LEGACY_LAYOUT = {
  magic: 0,
  version: 4,
  accountType: 8,
  size: 12,
  priceType: 16,
  exponent: 20,
  emaPrice: 48,
  emaConf: 72,
  timestamp: 96,
  prevPrice: 184,
  prevConf: 192,
  prevTimestamp: 200,
  aggPrice: 208,
  aggConf: 216,
  aggStatus: 224,
  aggPubSlot: 232,
} as const;

/** Byte offsets of a `Full` `PriceUpdateV2` (borsh; a `Partial` level is one byte longer). */
export const PRICE_UPDATE_V2_LAYOUT = {
  writeAuthority: 8,
  level: 40,
  feedId: 41,
  price: 73,
  conf: 81,
  exponent: 89,
  publishTime: 93,
  prevPublishTime: 101,
  emaPrice: 109,
  emaConf: 117,
  postedSlot: 125,
  end: 133,
} as const;

/** The price fields both formats share: what the program's guards and the health math read. */
export interface OraclePrice {
  /** Mantissa; the price is `price · 10^exponent` quote units per base unit. */
  price: bigint;
  conf: bigint;
  exponent: number;
  publishTime: bigint;
  emaPrice: bigint;
  emaConf: bigint;
}

export type VerificationLevel = { kind: "Full" } | { kind: "Partial"; numSignatures: number };

export interface PriceUpdateV2 extends OraclePrice {
  writeAuthority: Address;
  verificationLevel: VerificationLevel;
  feedId: Uint8Array;
  prevPublishTime: bigint;
  postedSlot: bigint;
}

export interface LegacyPriceAccount extends OraclePrice {
  version: number;
  accountType: number;
  priceType: number;
  status: PythPriceStatus;
  prevPrice: bigint;
  prevConf: bigint;
  prevTimestamp: bigint;
  pubSlot: bigint;
}

function view(data: ReadonlyUint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Decodes a `PriceUpdateV2` account (either verification level). Throws on a wrong discriminator
 * or a short account. The program accepts only `Full` updates of its market's feed id.
 */
export function decodePriceUpdateV2(data: ReadonlyUint8Array): PriceUpdateV2 {
  if (data.length < 8 || !PRICE_UPDATE_V2_DISCRIMINATOR.every((b, i) => data[i] === b)) {
    throw new Error("not a PriceUpdateV2 account: wrong discriminator");
  }
  const tag = data[PRICE_UPDATE_V2_LAYOUT.level];
  let level: VerificationLevel;
  let shift: number;
  if (tag === 1) {
    level = { kind: "Full" };
    shift = 0;
  } else if (tag === 0) {
    level = { kind: "Partial", numSignatures: data[PRICE_UPDATE_V2_LAYOUT.level + 1] };
    shift = 1;
  } else {
    throw new Error(`PriceUpdateV2: unknown verification level ${tag}`);
  }
  if (data.length < PRICE_UPDATE_V2_LAYOUT.end + shift) throw new Error("PriceUpdateV2: account too short");
  const v = view(data);
  const L = PRICE_UPDATE_V2_LAYOUT;
  return {
    writeAuthority: getAddressDecoder().decode(data, L.writeAuthority),
    verificationLevel: level,
    feedId: Uint8Array.from(data.slice(L.feedId + shift, L.feedId + shift + 32)),
    price: v.getBigInt64(L.price + shift, true),
    conf: v.getBigUint64(L.conf + shift, true),
    exponent: v.getInt32(L.exponent + shift, true),
    publishTime: v.getBigInt64(L.publishTime + shift, true),
    prevPublishTime: v.getBigInt64(L.prevPublishTime + shift, true),
    emaPrice: v.getBigInt64(L.emaPrice + shift, true),
    emaConf: v.getBigUint64(L.emaConf + shift, true),
    postedSlot: v.getBigUint64(L.postedSlot + shift, true),
  };
}

/** Decodes a legacy Pyth price account, with pyth-sdk-solana's checks (magic, version, type). */
export function decodeLegacyPriceAccount(data: ReadonlyUint8Array): LegacyPriceAccount {
  if (data.length < LEGACY_PRICE_ACCOUNT_LEN) throw new Error("legacy Pyth price account: too short");
  const v = view(data);
  const L = LEGACY_LAYOUT;
  if (v.getUint32(L.magic, true) !== LEGACY_MAGIC) throw new Error("legacy Pyth price account: wrong magic");
  const version = v.getUint32(L.version, true);
  if (version !== LEGACY_VERSION) throw new Error(`legacy Pyth price account: version ${version}`);
  const accountType = v.getUint32(L.accountType, true);
  if (accountType !== LEGACY_ACCOUNT_TYPE_PRICE) throw new Error("legacy Pyth account: not a price account");
  return {
    version,
    accountType,
    priceType: data[L.priceType],
    exponent: v.getInt32(L.exponent, true),
    emaPrice: v.getBigInt64(L.emaPrice, true),
    emaConf: v.getBigUint64(L.emaConf, true),
    publishTime: v.getBigInt64(L.timestamp, true),
    prevPrice: v.getBigInt64(L.prevPrice, true),
    prevConf: v.getBigUint64(L.prevConf, true),
    prevTimestamp: v.getBigInt64(L.prevTimestamp, true),
    price: v.getBigInt64(L.aggPrice, true),
    conf: v.getBigUint64(L.aggConf, true),
    status: data[L.aggStatus] as PythPriceStatus,
    pubSlot: v.getBigUint64(L.aggPubSlot, true),
  };
}

/** The shared price fields of an oracle account of `kind`. */
export function readOraclePrice(kind: OracleKind, data: ReadonlyUint8Array): OraclePrice {
  const decoded = kind === OracleKind.PythLegacy ? decodeLegacyPriceAccount(data) : decodePriceUpdateV2(data);
  const { price, conf, exponent, publishTime, emaPrice, emaConf } = decoded;
  return { price, conf, exponent, publishTime, emaPrice, emaConf };
}

/** The push oracle's feed account for a feed id on a shard: PDA `[shard as u16 LE, feed_id]`. */
export async function findPushFeedAddress(feedId: ReadonlyUint8Array, shardId = 0): Promise<Address> {
  if (feedId.length !== 32) throw new Error("a Pyth feed id is 32 bytes");
  const [found] = await getProgramDerivedAddress({
    programAddress: PYTH_PUSH_ORACLE_PROGRAM_ADDRESS,
    seeds: [getU16Encoder().encode(shardId), feedId],
  });
  return found;
}

/** A feed id from its 64 hex digits (an optional `0x` prefix allowed). */
export function feedIdFromHex(hex: string): Uint8Array {
  const digits = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (!/^[0-9a-fA-F]{64}$/.test(digits)) throw new Error(`not a 32-byte hex feed id: ${hex}`);
  return Uint8Array.from(digits.match(/../g)!.map((pair) => parseInt(pair, 16)));
}

/** Pyth's feed ids (the same on every chain). */
export const FEED_IDS = {
  SOL_USD: feedIdFromHex("ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d"),
  BTC_USD: feedIdFromHex("e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"),
  ETH_USD: feedIdFromHex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace"),
} as const;
