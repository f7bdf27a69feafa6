// Which `(market, oracle)` pairs an instruction's remaining accounts need (docs/HEALTH.md).
import type { Address } from "@solana/kit";
import type { MarketPair } from "./builders.js";
import type { MarginAccount } from "./generated/types.js";

/** A listed market: its index, address and the price account to read it with. */
export interface ListedMarket extends MarketPair {
  index: number;
}

/** The market indexes an account holds a position in, ascending. */
export function heldMarketIndexes(account: Pick<MarginAccount, "positions">): number[] {
  return account.positions
    .filter((position) => position.base !== 0n)
    .map((position) => position.marketIndex)
    .sort((a, b) => a - b);
}

/**
 * The remaining accounts of a health-checked instruction on `account`: a pair for every market it
 * holds, ascending index, without `exclude` (the market the instruction names: an order's or a
 * liquidation's). `markets` must list every market the account holds.
 */
export function healthAccountsFor(
  account: Pick<MarginAccount, "positions">,
  markets: readonly ListedMarket[],
  exclude?: number,
): MarketPair[] {
  return heldMarketIndexes(account)
    .filter((index) => index !== exclude)
    .map((index) => {
      const listed = markets.find((m) => m.index === index);
      if (!listed) throw new Error(`market ${index} is held but not among the markets given`);
      return { market: listed.market, oracle: listed.oracle };
    });
}

/** The remaining accounts of an LP instruction: every market of the exchange, `0..marketCount`. */
export function allMarketsFor(markets: readonly ListedMarket[], marketCount: number): MarketPair[] {
  const pairs: MarketPair[] = [];
  for (let index = 0; index < marketCount; index++) {
    const listed = markets.find((m) => m.index === index);
    if (!listed) throw new Error(`market ${index} is missing from the markets given`);
    pairs.push({ market: listed.market, oracle: listed.oracle });
  }
  return pairs;
}

/** A market's display name (the zero-padded 16 bytes of `Market.name`). */
export function marketName(name: Uint8Array | ArrayLike<number>): string {
  const bytes = Uint8Array.from(name as ArrayLike<number>);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}

export type { Address };
