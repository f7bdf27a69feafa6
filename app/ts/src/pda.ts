// Program-derived addresses of the program (programs/microliq/src/state/mod.rs, `seeds`).
import {
  type Address,
  getAddressEncoder,
  getProgramDerivedAddress,
  getU16Encoder,
  getU32Encoder,
  getUtf8Encoder,
} from "@solana/kit";
import { MICROLIQ_PROGRAM_ADDRESS } from "./generated/instructions.js";

/** The seeds' prefixes, as the program spells them. */
export const SEEDS = {
  exchange: "exchange",
  quoteVault: "quote_vault",
  insuranceVault: "insurance_vault",
  insuranceFund: "insurance_fund",
  lpMint: "lp_mint",
  market: "market",
  marginAccount: "margin_account",
} as const;

const utf8 = getUtf8Encoder();
const addressBytes = getAddressEncoder();

async function pda(seeds: Array<Uint8Array | ReturnType<typeof utf8.encode>>, program: Address): Promise<Address> {
  const [found] = await getProgramDerivedAddress({ programAddress: program, seeds });
  return found;
}

/** The addresses every instruction of one exchange shares: all derived from the quote mint. */
export interface ExchangeAddresses {
  /** PDA `["exchange", quote_mint]`. */
  exchange: Address;
  quoteMint: Address;
  /** PDA `["quote_vault", exchange]`: the token account holding collateral and the pool. */
  quoteVault: Address;
  /** PDA `["insurance_vault", exchange]`. */
  insuranceVault: Address;
  /** PDA `["insurance_fund", exchange]`: the insurance fund's ledger. */
  insuranceFund: Address;
  /** PDA `["lp_mint", exchange]`: the pool share mint. */
  lpMint: Address;
}

/** Every address of the exchange whose quote token is `quoteMint`. */
export async function deriveExchangeAddresses(
  quoteMint: Address,
  program: Address = MICROLIQ_PROGRAM_ADDRESS,
): Promise<ExchangeAddresses> {
  const exchange = await pda([utf8.encode(SEEDS.exchange), addressBytes.encode(quoteMint)], program);
  const of = (prefix: string) => pda([utf8.encode(prefix), addressBytes.encode(exchange)], program);
  const [quoteVault, insuranceVault, insuranceFund, lpMint] = await Promise.all([
    of(SEEDS.quoteVault),
    of(SEEDS.insuranceVault),
    of(SEEDS.insuranceFund),
    of(SEEDS.lpMint),
  ]);
  return { exchange, quoteMint, quoteVault, insuranceVault, insuranceFund, lpMint };
}

/** PDA `["market", exchange, market_index as u16 LE]`. */
export function findMarketAddress(
  exchange: Address,
  marketIndex: number,
  program: Address = MICROLIQ_PROGRAM_ADDRESS,
): Promise<Address> {
  return pda(
    [utf8.encode(SEEDS.market), addressBytes.encode(exchange), getU16Encoder().encode(marketIndex)],
    program,
  );
}

/** PDA `["margin_account", exchange, owner, id as u32 LE]`: an owner may hold several accounts. */
export function findMarginAccountAddress(
  exchange: Address,
  owner: Address,
  id: number,
  program: Address = MICROLIQ_PROGRAM_ADDRESS,
): Promise<Address> {
  return pda(
    [
      utf8.encode(SEEDS.marginAccount),
      addressBytes.encode(exchange),
      addressBytes.encode(owner),
      getU32Encoder().encode(id),
    ],
    program,
  );
}
