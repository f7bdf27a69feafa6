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
  decodeExchange,
  decodeMarginAccount,
  decodeMarket,
  deriveExchangeAddresses,
  eventsNamed,
  type ExchangeAddresses,
  findMarginAccountAddress,
  findMarketAddress,
  getMicroliqErrorFromSolanaError,
  healthAccountsFor,
  type ListedMarket,
  type MarginAccount,
  type Market,
  marketName,
  type OraclePrice,
  type OrderFilledV2,
  parseMicroliqEvents,
  placeOrder,
  readOraclePrice,
} from "../src/index.js";

/** What the example needs of a chain: account bytes, and sending instructions signed by their signers. */
export interface Chain {
  getAccountData(account: Address): Promise<Uint8Array | null>;
  /** Sends the instructions; resolves to the transaction's log lines, or throws on failure. */
  send(instructions: Instruction[]): Promise<string[]>;
}

export interface MarketView extends ListedMarket {
  name: string;
  state: Market;
  price: OraclePrice;
}

export interface AccountView {
  ex: ExchangeAddresses;
  marginAccount: Address;
  account: MarginAccount;
  markets: MarketView[];
}

/** Every market of the exchange with its oracle's price (pinned markets: `market.oracle`). */
export async function loadMarkets(chain: Chain, ex: ExchangeAddresses): Promise<MarketView[]> {
  const exchangeData = await chain.getAccountData(ex.exchange);
  if (!exchangeData) throw new Error(`no exchange for quote mint ${ex.quoteMint}`);
  const { marketCount } = decodeExchange(exchangeData);
  const markets: MarketView[] = [];
  for (let index = 0; index < marketCount; index++) {
    const market = await findMarketAddress(ex.exchange, index);
    const state = decodeMarket((await chain.getAccountData(market))!);
    const oracleData = await chain.getAccountData(state.oracle);
    if (!oracleData) throw new Error(`market ${index}: no price account at ${state.oracle}`);
    markets.push({ index, market, oracle: state.oracle, name: marketName(state.name as Uint8Array), state, price: readOraclePrice(state.oracleKind, oracleData) });
  }
  return markets;
}

/** An owner's margin account number `id` on the exchange of `quoteMint`, with every market. */
export async function loadAccount(chain: Chain, quoteMint: Address, owner: Address, id = 0): Promise<AccountView> {
  const ex = await deriveExchangeAddresses(quoteMint);
  const marginAccount = await findMarginAccountAddress(ex.exchange, owner, id);
  const data = await chain.getAccountData(marginAccount);
  if (!data) throw new Error(`${owner} has no margin account ${id}: create_margin_account first`);
  return { ex, marginAccount, account: decodeMarginAccount(data), markets: await loadMarkets(chain, ex) };
}

/** Quote atoms as a decimal string (6 decimals, like USDC). */
const units = (atoms: bigint, decimals: number) => {
  const sign = atoms < 0n ? "-" : "";
  const abs = atoms < 0n ? -atoms : atoms;
  const scale = 10n ** BigInt(decimals);
  return `${sign}${abs / scale}.${(abs % scale).toString().padStart(decimals, "0")}`;
};

/** The account as lines of text: collateral, then each position with its market's oracle price. */
export function describe(view: AccountView, quoteDecimals = 6): string[] {
  const lines = [`margin account ${view.marginAccount}`, `  collateral ${units(view.account.collateral, quoteDecimals)}`];
  for (const position of view.account.positions.filter((p) => p.base !== 0n)) {
    const market = view.markets.find((m) => m.index === position.marketIndex)!;
    const price = market.price;
    lines.push(
      `  ${market.name}: ${position.base > 0n ? "long" : "short"} ${units(position.base < 0n ? -position.base : position.base, market.state.baseDecimals)}` +
        ` entry ${units(position.entryQuote < 0n ? -position.entryQuote : position.entryQuote, quoteDecimals)}` +
        ` oracle ${units(price.price, -price.exponent)}`,
    );
  }
  // Health (equity, maintenance and initial requirements, liquidation price, max withdrawable):
  // the SDK's math module (src/math, ported from the program) computes it from this same view;
  // wire it here when it lands: lines.push(...healthLines(view)).
  return lines;
}

/**
 * A market order on `marketIndex` for `baseDelta` base atoms with `limitPrice` (fixed point,
 * quote atoms per base atom × 1e12), with the account's other markets as health accounts.
 * Resolves to the fill, or rejects with the program's error name.
 */
export async function sendOrder(
  chain: Chain,
  view: AccountView,
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
