// Port of programs/microliq/src/math/trade.rs: a market order against the pool at the oracle
// price. A trade reduces the position first (realizing `value(r) − e·r/|q|`, the entry share
// rounded toward +∞), then opens the rest; every rounding goes against the trader.

import { MathError, Rounding, abs, divI128, i128, i64, min, notional, toI64 } from "./fixed.js";
import type { MarketPrice } from "./health.js";

/** The result of applying a trade to a position (Rust `TradeOutcome`). */
export interface TradeOutcome {
  newBase: bigint;
  newEntryQuote: bigint;
  /** PnL realized by the reducing part (wide: i128). */
  realizedPnl: bigint;
  closedBase: bigint;
  openedBase: bigint;
  /** `|Δ| · P` rounded up (wide: u128). */
  tradedNotional: bigint;
}

/** Applies a trade of `delta` base atoms at `price` to `(base, entryQuote)` (Rust `apply_trade`). */
export function applyTrade(base: bigint, entryQuote: bigint, delta: bigint, price: MarketPrice): TradeOutcome {
  if (delta === 0n) throw new MathError("apply_trade zero");
  const newBase = i64(base + delta, "apply_trade new_base");
  const reduces = base !== 0n && base > 0n !== delta > 0n;
  const closedBase = reduces ? min(abs(delta), abs(base)) : 0n;
  const openedBase = abs(delta) - closedBase;

  let entry = entryQuote;
  let realized = 0n;
  if (closedBase > 0n) {
    const entryClosed =
      closedBase === abs(base)
        ? entry
        : divI128(i128(entry * closedBase, "apply_trade entry share"), abs(base), Rounding.Up);
    const closeValue =
      base > 0n
        ? notional(closedBase, price.oracleLow, Rounding.Down)
        : -notional(closedBase, price.oracleHigh, Rounding.Up);
    realized = i128(closeValue - entryClosed, "apply_trade realized");
    entry = i128(entry - entryClosed, "apply_trade entry");
  }
  if (openedBase > 0n) {
    if (delta > 0n) entry = i128(entry + notional(openedBase, price.oracleHigh, Rounding.Up), "apply_trade buy");
    else entry = i128(entry - notional(openedBase, price.oracleLow, Rounding.Down), "apply_trade sell");
  }
  return {
    newBase,
    newEntryQuote: toI64(entry),
    realizedPnl: realized,
    closedBase,
    openedBase,
    tradedNotional: notional(abs(delta), price.oracleHigh, Rounding.Up),
  };
}

/** Whether the trade adds risk (opens or increases exposure, including a flip). */
export const addsRisk = (t: TradeOutcome) => t.openedBase > 0n;
