// From a quote mint and an owner to an account's state and a market order, with @microliq/sdk
// on @solana/kit. docs/INTEGRATING.md walks through it; test/example.test.ts runs it against the
// program in litesvm so that it cannot rot.
//
//   RPC_URL=https://api.devnet.solana.com WS_URL=wss://api.devnet.solana.com \
//   QUOTE_MINT=<mint> KEYPAIR=~/.config/solana/id.json node dist/examples/health-and-order.js [market] [base atoms]
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Address,
  address,
  appendTransactionMessageInstructions,
  createKeyPairSignerFromBytes,
  createSolanaRpc,
  createSolanaRpcSubscriptions,
  createTransactionMessage,
  getSignatureFromTransaction,
  type Instruction,
  pipe,
  sendAndConfirmTransactionFactory,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type TransactionSigner,
} from "@solana/kit";
import {
  accountPositionRisks,
  accountView,
  CLOCK_SYSVAR_ADDRESS,
  decodeClockSysvar,
  decodeExchange,
  decodeMarginAccount,
  decodeMarket,
  deriveExchangeAddresses,
  eventsNamed,
  type Exchange,
  type ExchangeAddresses,
  findMarginAccountAddress,
  findMarketAddress,
  getMicroliqErrorFromSolanaError,
  healthAccountsFor,
  type ListedMarket,
  type MarginAccount,
  type Market,
  marketName,
  type MarketView as MathMarketView,
  marketView,
  MicroliqRefusal,
  type OraclePrice,
  type OrderFilledV2,
  parseMicroliqEvents,
  placeOrder,
  previewLiquidation,
  readOraclePrice,
  type ViewClock,
  wholeCloseCode,
} from "../src/index.js";

/** What the example needs of a chain: account bytes, and sending instructions signed by their signers. */
export interface Chain {
  getAccountData(account: Address): Promise<Uint8Array | null>;
  /** Sends the instructions; resolves to the transaction's log lines, or throws on failure. */
  send(instructions: Instruction[]): Promise<string[]>;
}

export interface LoadedMarket extends ListedMarket {
  name: string;
  state: Market;
  price: OraclePrice;
  /** The market as the health math reads it: its price through the program's guards (null: refused). */
  math: MathMarketView;
}

export interface LoadedAccount {
  ex: ExchangeAddresses;
  exchange: Exchange;
  /** The Clock sysvar when the accounts were read: the program values the account at this moment. */
  clock: ViewClock;
  marginAccount: Address;
  account: MarginAccount;
  markets: LoadedMarket[];
}

/** Every market of the exchange with its oracle's price (pinned markets: `market.oracle`). */
export async function loadMarkets(
  chain: Chain,
  ex: ExchangeAddresses,
  exchange: Exchange,
  clock: ViewClock,
): Promise<LoadedMarket[]> {
  const markets: LoadedMarket[] = [];
  for (let index = 0; index < exchange.marketCount; index++) {
    const market = await findMarketAddress(ex.exchange, index);
    const state = decodeMarket((await chain.getAccountData(market))!);
    const oracleData = await chain.getAccountData(state.oracle);
    if (!oracleData) throw new Error(`market ${index}: no price account at ${state.oracle}`);
    markets.push({
      index,
      market,
      oracle: state.oracle,
      name: marketName(state.name as Uint8Array),
      state,
      price: readOraclePrice(state.oracleKind, oracleData),
      math: marketView(state, oracleData, exchange.quoteDecimals, clock),
    });
  }
  return markets;
}

/** An owner's margin account number `id` on the exchange of `quoteMint`, with every market. */
export async function loadAccount(chain: Chain, quoteMint: Address, owner: Address, id = 0): Promise<LoadedAccount> {
  const ex = await deriveExchangeAddresses(quoteMint);
  const exchangeData = await chain.getAccountData(ex.exchange);
  if (!exchangeData) throw new Error(`no exchange for quote mint ${ex.quoteMint}`);
  const exchange = decodeExchange(exchangeData);
  const clock = decodeClockSysvar((await chain.getAccountData(CLOCK_SYSVAR_ADDRESS))!);
  const marginAccount = await findMarginAccountAddress(ex.exchange, owner, id);
  const data = await chain.getAccountData(marginAccount);
  if (!data) throw new Error(`${owner} has no margin account ${id}: create_margin_account first`);
  const markets = await loadMarkets(chain, ex, exchange, clock);
  return { ex, exchange, clock, marginAccount, account: decodeMarginAccount(data), markets };
}

/** Quote atoms as a decimal string (6 decimals, like USDC). */
const units = (atoms: bigint, decimals: number) => {
  const sign = atoms < 0n ? "-" : "";
  const abs = atoms < 0n ? -atoms : atoms;
  const scale = 10n ** BigInt(decimals);
  return `${sign}${abs / scale}.${(abs % scale).toString().padStart(decimals, "0")}`;
};

/** A fixed-point price (quote atoms per base atom × 1e12) in quote units per base unit, rounded down. */
const priceUnits = (fixed: bigint, baseDecimals: number, quoteDecimals: number) =>
  units((fixed * 10n ** BigInt(baseDecimals)) / 10n ** 12n, quoteDecimals);

/** What each `whole_close` code of the slice event means (0 = a slice). */
export const WHOLE_CLOSE_MEANING = [
  "a slice",
  "whole: what would remain is dust",
  "whole: equity ≤ 0, the insurance fund pays the keeper",
  "whole: this position alone cannot restore the target",
  "whole: the penalty would take all the equity left",
  "whole: a losing position in a repeat breach",
] as const;

/**
 * The account as lines of text: collateral; equity, maintenance and initial requirements, margin
 * ratio and the most it can withdraw; each position with its oracle and liquidation prices; and,
 * for each position a keeper may liquidate now, what its next `liquidate` call would close.
 */
export function describe(view: LoadedAccount): string[] {
  const quoteDecimals = view.exchange.quoteDecimals;
  const lines = [`margin account ${view.marginAccount}`, `  collateral ${units(view.account.collateral, quoteDecimals)}`];
  const markets = view.markets.map((m) => m.math);
  let figures;
  try {
    figures = accountView(view.account, markets, view.exchange, view.clock);
  } catch (error) {
    // A held market's price the program refuses (stale, too wide...): so would every health check.
    if (!(error instanceof MicroliqRefusal)) throw error;
    return [...lines, `  health: refused (${error.errorName})`];
  }
  const { health } = figures;
  lines.push(
    `  equity ${units(health.equity, quoteDecimals)}, maintenance requirement ${units(health.maintenanceRequirement, quoteDecimals)}` +
      `, initial requirement ${units(figures.initialRequirement, quoteDecimals)}`,
    `  margin ratio ${figures.marginRatio === null ? "n/a (equity ≤ 0)" : `${units(figures.marginRatio, 4)} %`} (M / E; liquidatable above 100 %)`,
    `  max withdrawable ${units(figures.maxWithdrawable, quoteDecimals)}`,
  );
  for (const position of figures.positions) {
    const market = view.markets.find((m) => m.index === position.marketIndex)!;
    const { base, entryQuote } = position.risk;
    const baseDecimals = market.state.baseDecimals;
    const liquidation =
      position.liquidationPrice === null ? "none" : priceUnits(position.liquidationPrice, baseDecimals, quoteDecimals);
    lines.push(
      `  ${market.name}: ${base > 0n ? "long" : "short"} ${units(base < 0n ? -base : base, baseDecimals)}` +
        ` entry ${units(entryQuote < 0n ? -entryQuote : entryQuote, quoteDecimals)}` +
        ` oracle ${units(market.price.price, -market.price.exponent)} liquidation price ${liquidation}`,
    );
  }
  const risks = accountPositionRisks(view.account, markets, view.exchange, view.clock);
  for (const position of figures.positions) {
    const market = view.markets.find((m) => m.index === position.marketIndex)!;
    const preview = previewLiquidation(view.account, risks, markets, view.exchange, view.clock, position.marketIndex);
    if (!preview.liquidatable) continue;
    const { plan } = preview;
    const code = wholeCloseCode(plan.wholeClose);
    lines.push(
      `  next liquidation of ${market.name}${preview.paused ? " (paused)" : ""}: closes ${units(plan.outcome.closedBase, market.state.baseDecimals)}` +
        ` (whole_close ${code}: ${WHOLE_CLOSE_MEANING[code]}${preview.escalated ? "; escalated" : ""})` +
        `, keeper bonus ${units(plan.outcome.keeperBonus, quoteDecimals)}, insurance fee ${units(plan.outcome.insuranceFee, quoteDecimals)}` +
        `, equity after ${units(plan.outcome.healthAfter.equity, quoteDecimals)}`,
    );
  }
  return lines;
}

/**
 * A market order on `marketIndex` for `baseDelta` base atoms with `limitPrice` (fixed point,
 * quote atoms per base atom × 1e12), with the account's other markets as health accounts.
 * Resolves to the fill, or rejects with the program's error name.
 */
export async function sendOrder(
  chain: Chain,
  view: LoadedAccount,
  trader: TransactionSigner,
  marketIndex: number,
  baseDelta: bigint,
  limitPrice: bigint,
): Promise<OrderFilledV2> {
  const market = view.markets.find((m) => m.index === marketIndex);
  if (!market) throw new Error(`no market ${marketIndex}`);
  const order = placeOrder({
    ex: view.ex,
    trader,
    marginAccount: view.marginAccount,
    market: market.market,
    oracle: market.oracle,
    baseDelta,
    limitPrice,
    healthAccounts: healthAccountsFor(view.account, view.markets, marketIndex),
  });
  let logs: string[];
  try {
    logs = await chain.send([order]);
  } catch (error) {
    const name = getMicroliqErrorFromSolanaError(error);
    throw name ? new Error(`order refused: ${name}`, { cause: error }) : error;
  }
  const [fill] = eventsNamed(parseMicroliqEvents(logs), "OrderFilledV2");
  return fill;
}

/** A Chain on an RPC node. */
export function rpcChain(rpcUrl: string, wsUrl: string, payer: TransactionSigner): Chain {
  const rpc = createSolanaRpc(rpcUrl);
  const rpcSubscriptions = createSolanaRpcSubscriptions(wsUrl);
  const sendAndConfirm = sendAndConfirmTransactionFactory({ rpc, rpcSubscriptions });
  return {
    async getAccountData(account) {
      const { value } = await rpc.getAccountInfo(account, { encoding: "base64" }).send();
      return value ? Uint8Array.from(Buffer.from(value.data[0], "base64")) : null;
    },
    async send(instructions) {
      const { value: blockhash } = await rpc.getLatestBlockhash().send();
      const message = pipe(
        createTransactionMessage({ version: 0 }),
        (m) => setTransactionMessageFeePayerSigner(payer, m),
        (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
        (m) => appendTransactionMessageInstructions(instructions, m),
      );
      const transaction = await signTransactionMessageWithSigners(message);
      await sendAndConfirm(transaction as Parameters<typeof sendAndConfirm>[0], { commitment: "confirmed" });
      const signature = getSignatureFromTransaction(transaction);
      const confirmed = await rpc.getTransaction(signature, { commitment: "confirmed", encoding: "json", maxSupportedTransactionVersion: 0 }).send();
      return [...(confirmed?.meta?.logMessages ?? [])];
    },
  };
}

async function main() {
  const { RPC_URL, WS_URL, QUOTE_MINT, KEYPAIR } = process.env;
  if (!RPC_URL || !WS_URL || !QUOTE_MINT || !KEYPAIR) {
    console.error("set RPC_URL, WS_URL, QUOTE_MINT and KEYPAIR (a JSON keypair file)");
    process.exit(2);
  }
  const signer = await createKeyPairSignerFromBytes(Uint8Array.from(JSON.parse(readFileSync(KEYPAIR, "utf8"))));
  const chain = rpcChain(RPC_URL, WS_URL, signer);
  const view = await loadAccount(chain, address(QUOTE_MINT), signer.address);
  console.log(describe(view).join("\n"));
  const [marketArg, baseArg] = process.argv.slice(2);
  if (marketArg !== undefined && baseArg !== undefined) {
    const base = BigInt(baseArg);
    // No price limit of our own here: buys at any price, sells at any price.
    const fill = await sendOrder(chain, view, signer, Number(marketArg), base, base > 0n ? 2n ** 64n - 1n : 0n);
    console.log(`filled ${fill.baseDelta} at ${fill.fillPrice} (fee ${fill.fee})`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
