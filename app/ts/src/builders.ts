// One builder per instruction, filling the named accounts from an exchange's addresses and the
// remaining accounts in the order the program documents (docs/HEALTH.md "Remaining accounts",
// docs/LIQUIDATION.md "Accounts of liquidate"); the same builders as app/client/src/ix.rs.
//
// Remaining accounts are `(market, oracle)` pairs in strictly ascending market index:
//   - health-checked instructions (place_order, withdraw_collateral, liquidate; deposit_collateral
//     optionally) take every market the margin account holds a position in, *except* the market
//     the instruction names itself;
//   - LP instructions (deposit_liquidity, withdraw_liquidity) take every market of the exchange,
//     0..market_count.
// `healthAccountsFor` (./health-accounts.ts) lists them from a decoded margin account.
import { AccountRole, type AccountMeta, type Address, type Instruction, type TransactionSigner } from "@solana/kit";
import * as raw from "./generated/instructions.js";
import type {
  FundingConfigArgs,
  MarketParamsArgs,
  OracleConfigArgs,
} from "./generated/types.js";
import type { ExchangeAddresses } from "./pda.js";
import { U64_MAX } from "./math/fixed.js";

/** A market and the price account it is read with (for a pinned market, `market.oracle`). */
export interface MarketPair {
  market: Address;
  oracle: Address;
}

type Signer = TransactionSigner | Address;

/** `(market, oracle)` pairs as remaining accounts; the markets writable when the instruction settles funding there. */
export function remainingPairs(pairs: readonly MarketPair[], marketsWritable: boolean): AccountMeta[] {
  return pairs.flatMap(({ market, oracle }) => [
    { address: market, role: marketsWritable ? AccountRole.WRITABLE : AccountRole.READONLY },
    { address: oracle, role: AccountRole.READONLY },
  ]);
}

const utf8 = new TextEncoder();

/** Pause flags (`set_exchange_pause`, `set_market_pause`): each pauses one class of action. */
export const PAUSE = {
  DEPOSIT: 1 << 0,
  WITHDRAW: 1 << 1,
  INCREASE: 1 << 2,
  REDUCE: 1 << 3,
  LP_DEPOSIT: 1 << 4,
  LP_WITHDRAW: 1 << 5,
  LIQUIDATE: 1 << 6,
  INSURANCE: 1 << 7,
  ALL: (1 << 8) - 1,
} as const;

/** `u64::MAX` (math/fixed.ts): `liquidate`'s `maxBase` for no cap of the keeper's own. */
export { U64_MAX };

// --- admin --------------------------------------------------------------------------------------

/**
 * `initialize_exchange`: creates the exchange of `ex.quoteMint` with its vaults, insurance fund
 * and pool share mint (all PDAs of `ex`). `pythProgram` owns the legacy price accounts its
 * markets may read. No remaining accounts.
 */
export function initializeExchange(p: {
  ex: ExchangeAddresses;
  admin: Signer;
  pythProgram: Address;
  insuranceCapPerEvent: number | bigint;
}): Instruction {
  return raw.getInitializeExchangeInstructionRaw(
    {
      admin: p.admin,
      exchange: p.ex.exchange,
      quoteMint: p.ex.quoteMint,
      quoteVault: p.ex.quoteVault,
      insuranceVault: p.ex.insuranceVault,
      insuranceFund: p.ex.insuranceFund,
      lpMint: p.ex.lpMint,
    },
    { pythProgram: p.pythProgram, insuranceCapPerEvent: p.insuranceCapPerEvent },
  );
}

/**
 * `add_market`: lists market number `exchange.market_count`; `market` must be its PDA
 * (`findMarketAddress(ex.exchange, exchange.marketCount)`), `oracle` a price account that reads
 * under `oracleConfig` now. `name` is at most 16 bytes of UTF-8. No remaining accounts.
 */
export function addMarket(p: {
  ex: ExchangeAddresses;
  admin: Signer;
  market: Address;
  oracle: Address;
  params: MarketParamsArgs;
  baseDecimals: number;
  name: string;
  oracleConfig: OracleConfigArgs;
  funding: FundingConfigArgs;
}): Instruction {
  if (utf8.encode(p.name).length > 16) throw new Error(`market name longer than 16 bytes: ${p.name}`);
  return raw.getAddMarketInstructionRaw(
    { admin: p.admin, exchange: p.ex.exchange, market: p.market, oracle: p.oracle },
    {
      params: p.params,
      baseDecimals: p.baseDecimals,
      name: p.name,
      oracleConfig: p.oracleConfig,
      funding: p.funding,
    },
  );
}

/** `set_market_oracle`: sets or switches a market's oracle; `oracle` must read under `config`. No remaining accounts. */
export function setMarketOracle(p: {
  ex: ExchangeAddresses;
  admin: Signer;
  market: Address;
  oracle: Address;
  config: OracleConfigArgs;
}): Instruction {
  return raw.getSetMarketOracleInstructionRaw(
    { admin: p.admin, exchange: p.ex.exchange, market: p.market, oracle: p.oracle },
    p.config,
  );
}

/** `update_market`: replaces a market's risk and fee parameters (bounded by the program). No remaining accounts. */
export function updateMarket(p: { ex: ExchangeAddresses; admin: Signer; market: Address; params: MarketParamsArgs }): Instruction {
  return raw.getUpdateMarketInstructionRaw(
    { admin: p.admin, exchange: p.ex.exchange, market: p.market },
    { params: p.params },
  );
}

/** `set_market_funding`: a market's funding parameters (the index advances under the old ones first). No remaining accounts. */
export function setMarketFunding(p: {
  ex: ExchangeAddresses;
  admin: Signer;
  market: Address;
  funding: FundingConfigArgs;
}): Instruction {
  return raw.getSetMarketFundingInstructionRaw(
    { admin: p.admin, exchange: p.ex.exchange, market: p.market },
    p.funding,
  );
}

/** `update_exchange`: insurance cap per event, insolvent-close reward, liquidation episode lapse. No remaining accounts. */
export function updateExchange(p: {
  ex: ExchangeAddresses;
  admin: Signer;
  insuranceCapPerEvent: number | bigint;
  insolventCloseReward: number | bigint;
  liquidationEpisodeSlots: number | bigint;
}): Instruction {
  return raw.getUpdateExchangeInstructionRaw(
    { admin: p.admin, exchange: p.ex.exchange },
    {
      insuranceCapPerEvent: p.insuranceCapPerEvent,
      insolventCloseReward: p.insolventCloseReward,
      liquidationEpisodeSlots: p.liquidationEpisodeSlots,
    },
  );
}

/** `set_exchange_pause`: the exchange-wide paused classes ({@link PAUSE} flags). No remaining accounts. */
export function setExchangePause(p: { ex: ExchangeAddresses; admin: Signer; paused: number }): Instruction {
  return raw.getSetExchangePauseInstructionRaw({ admin: p.admin, exchange: p.ex.exchange }, { paused: p.paused });
}

/** `set_market_pause`: one market's paused classes ({@link PAUSE} flags). No remaining accounts. */
export function setMarketPause(p: { ex: ExchangeAddresses; admin: Signer; market: Address; paused: number }): Instruction {
  return raw.getSetMarketPauseInstructionRaw(
    { admin: p.admin, exchange: p.ex.exchange, market: p.market },
    { paused: p.paused },
  );
}

/**
 * `set_repeat_liquidation_window`: a new breach of maintenance within `windowSlots` of an
 * account's last recovery closes its losing positions whole (0: off; the program bounds it at
 * ~30 days of slots). Emits `RepeatLiquidationWindowSet`. No remaining accounts.
 */
export function setRepeatLiquidationWindow(p: { ex: ExchangeAddresses; admin: Signer; windowSlots: number | bigint }): Instruction {
  return raw.getSetRepeatLiquidationWindowInstructionRaw(
    { admin: p.admin, exchange: p.ex.exchange },
    { windowSlots: p.windowSlots },
  );
}

/** `transfer_admin`: hands the exchange to `newAdmin`; both sign. No remaining accounts. */
export function transferAdmin(p: { ex: ExchangeAddresses; admin: Signer; newAdmin: Signer }): Instruction {
  return raw.getTransferAdminInstructionRaw({ admin: p.admin, newAdmin: p.newAdmin, exchange: p.ex.exchange });
}

/** `withdraw_insurance`: admin takes from the insurance fund (never below open negative collateral) to `destination`. No remaining accounts. */
export function withdrawInsurance(p: {
  ex: ExchangeAddresses;
  admin: Signer;
  destination: Address;
  amount: number | bigint;
}): Instruction {
  return raw.getWithdrawInsuranceInstructionRaw(
    {
      admin: p.admin,
      exchange: p.ex.exchange,
      insuranceFund: p.ex.insuranceFund,
      destination: p.destination,
      insuranceVault: p.ex.insuranceVault,
    },
    { amount: p.amount },
  );
}

// --- users --------------------------------------------------------------------------------------

/**
 * `create_margin_account`: opens `owner`'s account number `id`; `marginAccount` must be
 * `findMarginAccountAddress(ex.exchange, owner, id)`. No remaining accounts.
 */
export function createMarginAccount(p: {
  ex: ExchangeAddresses;
  owner: Signer;
  marginAccount: Address;
  id: number;
}): Instruction {
  return raw.getCreateMarginAccountInstructionRaw(
    { owner: p.owner, exchange: p.ex.exchange, marginAccount: p.marginAccount },
    { id: p.id },
  );
}

/** `set_delegate`: lets `delegate` place orders for the account (the default address clears it). No remaining accounts. */
export function setDelegate(p: { owner: Signer; marginAccount: Address; delegate: Address }): Instruction {
  return raw.getSetDelegateInstructionRaw({ owner: p.owner, marginAccount: p.marginAccount }, { delegate: p.delegate });
}

/**
 * `deposit_collateral`: moves `amount` quote atoms from `depositorToken` into the quote vault,
 * credited to `marginAccount` (anyone may top up any account).
 *
 * Remaining accounts (optional): `(market, oracle)` for **every** market the account holds,
 * ascending index, markets **writable** — the account's funding is then settled in each, and a
 * deposit that brings an account in a liquidation episode to its end target ends the episode.
 * Empty, the deposit needs no price.
 */
export function depositCollateral(p: {
  ex: ExchangeAddresses;
  depositor: Signer;
  marginAccount: Address;
  depositorToken: Address;
  amount: number | bigint;
  healthAccounts?: readonly MarketPair[];
}): Instruction {
  return raw.getDepositCollateralInstructionRaw(
    {
      depositor: p.depositor,
      exchange: p.ex.exchange,
      marginAccount: p.marginAccount,
      depositorToken: p.depositorToken,
      quoteVault: p.ex.quoteVault,
    },
    { amount: p.amount },
    remainingPairs(p.healthAccounts ?? [], true),
  );
}

/**
 * `withdraw_collateral`: pays `amount` quote atoms to `ownerToken`; initial health must hold
 * afterwards.
 *
 * Remaining accounts: `(market, oracle)` for **every** market the account holds, ascending
 * index, markets **writable** (funding is settled in each; `MarketNotWritable` otherwise).
 */
export function withdrawCollateral(p: {
  ex: ExchangeAddresses;
  owner: Signer;
  marginAccount: Address;
  ownerToken: Address;
  amount: number | bigint;
  healthAccounts: readonly MarketPair[];
}): Instruction {
  return raw.getWithdrawCollateralInstructionRaw(
    {
      owner: p.owner,
      exchange: p.ex.exchange,
      marginAccount: p.marginAccount,
      ownerToken: p.ownerToken,
      quoteVault: p.ex.quoteVault,
    },
    { amount: p.amount },
    remainingPairs(p.healthAccounts, true),
  );
}

/**
 * `place_order`: a market order against the pool at the oracle price. `baseDelta` is signed base
 * atoms (buy > 0, sell < 0), a multiple of the market's lot (or exactly the opposite of the
 * open position); `limitPrice` is the worst fill accepted, fixed point in quote atoms per base
 * atom × 1e12: the most a buy pays, the least a sell receives ({@link U64_MAX} buys and 0 sells
 * at any price). `trader` is the owner or the delegate.
 *
 * Remaining accounts: `(market, oracle)` for every **other** market the account holds, ascending
 * index, read-only (the order's own market is the named `market` and must not repeat).
 */
export function placeOrder(p: {
  ex: ExchangeAddresses;
  trader: Signer;
  marginAccount: Address;
  market: Address;
  oracle: Address;
  baseDelta: number | bigint;
  limitPrice: number | bigint;
  healthAccounts?: readonly MarketPair[];
}): Instruction {
  return raw.getPlaceOrderInstructionRaw(
    { trader: p.trader, exchange: p.ex.exchange, marginAccount: p.marginAccount, market: p.market, oracle: p.oracle },
    { baseDelta: p.baseDelta, limitPrice: p.limitPrice },
    remainingPairs(p.healthAccounts ?? [], false),
  );
}

// --- liquidity providers --------------------------------------------------------------------------

/**
 * `deposit_liquidity`: deposits `amount` quote atoms into the pool for shares at NAV, minted to
 * `providerShares` (a token account of `ex.lpMint`); refused below `minShares` (0 for no guard).
 *
 * Remaining accounts: `(market, oracle)` for **every** market of the exchange, `0..market_count`,
 * read-only.
 */
export function depositLiquidity(p: {
  ex: ExchangeAddresses;
  provider: Signer;
  providerToken: Address;
  providerShares: Address;
  amount: number | bigint;
  minShares?: number | bigint;
  allMarkets: readonly MarketPair[];
}): Instruction {
  return raw.getDepositLiquidityInstructionRaw(
    {
      provider: p.provider,
      exchange: p.ex.exchange,
      providerToken: p.providerToken,
      providerShares: p.providerShares,
      lpMint: p.ex.lpMint,
      quoteVault: p.ex.quoteVault,
      insuranceFund: p.ex.insuranceFund,
    },
    { amount: p.amount, minShares: p.minShares ?? 0 },
    remainingPairs(p.allMarkets, false),
  );
}

/**
 * `withdraw_liquidity`: burns `shares` for quote at NAV; refused below `minAmount` quote atoms.
 *
 * Remaining accounts: `(market, oracle)` for **every** market of the exchange, `0..market_count`,
 * read-only.
 */
export function withdrawLiquidity(p: {
  ex: ExchangeAddresses;
  provider: Signer;
  providerToken: Address;
  providerShares: Address;
  shares: number | bigint;
  minAmount?: number | bigint;
  allMarkets: readonly MarketPair[];
}): Instruction {
  return raw.getWithdrawLiquidityInstructionRaw(
    {
      provider: p.provider,
      exchange: p.ex.exchange,
      providerToken: p.providerToken,
      providerShares: p.providerShares,
      lpMint: p.ex.lpMint,
      quoteVault: p.ex.quoteVault,
      insuranceFund: p.ex.insuranceFund,
    },
    { shares: p.shares, minAmount: p.minAmount ?? 0 },
    remainingPairs(p.allMarkets, false),
  );
}

/** `deposit_insurance`: adds `amount` quote atoms to the insurance fund. No remaining accounts. */
export function depositInsurance(p: {
  ex: ExchangeAddresses;
  depositor: Signer;
  depositorToken: Address;
  amount: number | bigint;
}): Instruction {
  return raw.getDepositInsuranceInstructionRaw(
    {
      depositor: p.depositor,
      exchange: p.ex.exchange,
      insuranceFund: p.ex.insuranceFund,
      depositorToken: p.depositorToken,
      insuranceVault: p.ex.insuranceVault,
    },
    { amount: p.amount },
  );
}

// --- keepers ------------------------------------------------------------------------------------

/**
 * `liquidate`: closes the smallest slice of the position in market `marketIndex` that restores
 * `E ≥ (1 + β)·M` and pays the keeper's bonus to `keeperToken` (a quote token account the keeper
 * owns; the keeper is not the account's owner or delegate). `maxBase` caps the slice in base
 * atoms ({@link U64_MAX} for no cap).
 *
 * Remaining accounts: `(market, oracle)` for every **other** market the account holds, ascending
 * index, markets **writable** — an insolvent account's other losing positions are then closed in
 * the same call (docs/LIQUIDATION.md). Budget compute units for the number of pairs.
 */
export function liquidate(p: {
  ex: ExchangeAddresses;
  keeper: Signer;
  marginAccount: Address;
  market: Address;
  oracle: Address;
  keeperToken: Address;
  marketIndex: number;
  maxBase?: number | bigint;
  healthAccounts?: readonly MarketPair[];
}): Instruction {
  return raw.getLiquidateInstructionRaw(
    {
      keeper: p.keeper,
      exchange: p.ex.exchange,
      marginAccount: p.marginAccount,
      market: p.market,
      oracle: p.oracle,
      insuranceFund: p.ex.insuranceFund,
      keeperToken: p.keeperToken,
      quoteVault: p.ex.quoteVault,
      insuranceVault: p.ex.insuranceVault,
    },
    { marketIndex: p.marketIndex, maxBase: p.maxBase ?? U64_MAX },
    remainingPairs(p.healthAccounts ?? [], true),
  );
}

/** `resolve_bankruptcy`: covers a bankrupt account's deficit, insurance fund first, then the pool. Needs no prices; no remaining accounts. */
export function resolveBankruptcy(p: { ex: ExchangeAddresses; caller: Signer; marginAccount: Address }): Instruction {
  return raw.getResolveBankruptcyInstructionRaw({
    caller: p.caller,
    exchange: p.ex.exchange,
    marginAccount: p.marginAccount,
    insuranceFund: p.ex.insuranceFund,
    quoteVault: p.ex.quoteVault,
    insuranceVault: p.ex.insuranceVault,
  });
}

/** `update_funding`: advances a market's funding index to the clock (anyone; no price). No remaining accounts. */
export function updateFunding(p: { ex: ExchangeAddresses; market: Address }): Instruction {
  return raw.getUpdateFundingInstructionRaw({ exchange: p.ex.exchange, market: p.market });
}
