// An exchange on npm litesvm, driven only through the SDK: the program's SBF build
// (target/sbf-kit/deploy/microliq.so, or $MICROLIQ_SO), the SPL Token program litesvm ships, Pyth
// price accounts written byte for byte. The TypeScript counterpart of app/client/src/local.rs.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Address,
  appendTransactionMessageInstructions,
  createTransactionMessage,
  generateKeyPairSigner,
  type Instruction,
  type KeyPairSigner,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  signTransactionMessageWithSigners,
  type TransactionSigner,
} from "@solana/kit";
import { getCreateAccountInstruction } from "@solana-program/system";
import {
  getInitializeAccount3Instruction,
  getInitializeMint2Instruction,
  getMintSize,
  getMintToInstruction,
  getTokenDecoder,
  getTokenSize,
  TOKEN_PROGRAM_ADDRESS,
} from "@solana-program/token";
import { Clock, FailedTransactionMetadata, LiteSVM, type TransactionMetadata } from "litesvm";
import {
  decodeExchange,
  decodeInsuranceFund,
  decodeMarginAccount,
  decodeMarket,
  type Exchange,
  type InsuranceFund,
  type MarginAccount,
  type Market,
  MICROLIQ_PROGRAM_ADDRESS,
  type MicroliqEvent,
  parseAnchorError,
  parseMicroliqEvents,
  PYTH_LEGACY_PROGRAM_ADDRESS,
  PYTH_RECEIVER_PROGRAM_ADDRESS,
} from "../../src/index.js";
import { encodeLegacyPriceAccount, encodePriceUpdateV2, type PythPrice } from "../../src/testing/index.js";

/** The package root (app/ts) from dist/test/e2e. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const PROGRAM_SO =
  process.env.MICROLIQ_SO ?? join(PACKAGE_ROOT, "..", "..", "target", "sbf-kit", "deploy", "microliq.so");

export const USDC = 1_000_000n;
export const SOL = 1_000_000_000n;

/** What a sent transaction left: its logs, the program's events, or the error it ended with. */
export interface Sent {
  ok: boolean;
  logs: string[];
  events: MicroliqEvent[];
  computeUnits: bigint;
  /** The custom error code, when the transaction failed with one. */
  customCode?: number;
  /** The error as Anchor logged it (name, number, message), when it failed with one. */
  anchorError?: ReturnType<typeof parseAnchorError>;
  failure?: string;
}

export class LocalExchange {
  readonly svm: LiteSVM;
  private constructor(
    svm: LiteSVM,
    readonly payer: KeyPairSigner,
  ) {
    this.svm = svm;
  }

  /** A fresh runtime with the program loaded and a funded fee payer; the clock at `unixTimestamp`. */
  static async start(unixTimestamp = 1_750_000_000n): Promise<LocalExchange> {
    if (!existsSync(PROGRAM_SO)) {
      throw new Error(
        `${PROGRAM_SO} is missing: build the program with scripts/test.sh (or point MICROLIQ_SO at a microliq.so)`,
      );
    }
    const svm = new LiteSVM();
    svm.addProgramFromFile(MICROLIQ_PROGRAM_ADDRESS, PROGRAM_SO);
    const payer = await generateKeyPairSigner();
    svm.airdrop(payer.address, lamports(100_000_000_000n));
    const ctx = new LocalExchange(svm, payer);
    ctx.setClock({ unixTimestamp, slot: 1_000n });
    return ctx;
  }

  setClock({ unixTimestamp, slot }: { unixTimestamp?: bigint; slot?: bigint }): void {
    const clock = this.svm.getClock();
    this.svm.setClock(
      new Clock(slot ?? clock.slot, clock.epochStartTimestamp, clock.epoch, clock.leaderScheduleEpoch, unixTimestamp ?? clock.unixTimestamp),
    );
  }

  clock(): { slot: bigint; unixTimestamp: bigint } {
    const clock = this.svm.getClock();
    return { slot: clock.slot, unixTimestamp: clock.unixTimestamp };
  }

  /** Sends `instructions` paid by the payer and signed by every signer their accounts carry. */
  async send(instructions: Instruction[]): Promise<Sent> {
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(this.payer, m),
      (m) => this.svm.setTransactionMessageLifetimeUsingLatestBlockhash(m),
      (m) => appendTransactionMessageInstructions(instructions, m),
    );
    const transaction = await signTransactionMessageWithSigners(message);
    const result = this.svm.sendTransaction(transaction);
    // Each transaction of a test gets a new blockhash, so that a repeated one is a real retry.
    this.svm.expireBlockhash();
    if (result instanceof FailedTransactionMetadata) {
      const meta = result.meta();
      const logs = meta.logs();
      const err = result.err() as unknown;
      let customCode: number | undefined;
      // An instruction error carries its index and the instruction's own error, a custom code among them.
      if (typeof err === "object" && err !== null && "index" in err && "err" in err && typeof err.err === "function") {
        const inner = (err as { err(): unknown }).err();
        if (inner && typeof inner === "object" && "code" in inner) customCode = Number((inner as { code: number }).code);
      }
      return {
        ok: false,
        logs,
        events: [],
        computeUnits: meta.computeUnitsConsumed(),
        customCode,
        anchorError: parseAnchorError(logs),
        failure: result.toString(),
      };
    }
    const meta = result as TransactionMetadata;
    const logs = meta.logs();
    return { ok: true, logs, events: parseMicroliqEvents(logs), computeUnits: meta.computeUnitsConsumed() };
  }

  /** Sends and throws with the logs unless the transaction succeeded. */
  async sendOk(instructions: Instruction[]): Promise<Sent> {
    const sent = await this.send(instructions);
    if (!sent.ok) throw new Error(`transaction failed: ${sent.failure}\n${sent.logs.join("\n")}`);
    return sent;
  }

  async newSigner(sol = 10n): Promise<KeyPairSigner> {
    const signer = await generateKeyPairSigner();
    this.svm.airdrop(signer.address, lamports(sol * 1_000_000_000n));
    return signer;
  }

  // --- SPL Token -------------------------------------------------------------------------------

  async createMint(authority: Address, decimals: number): Promise<Address> {
    const mint = await generateKeyPairSigner();
    const space = BigInt(getMintSize());
    await this.sendOk([
      getCreateAccountInstruction({
        payer: this.payer,
        newAccount: mint,
        lamports: lamports(this.svm.minimumBalanceForRentExemption(space)),
        space,
        programAddress: TOKEN_PROGRAM_ADDRESS,
      }),
      getInitializeMint2Instruction({ mint: mint.address, decimals, mintAuthority: authority }),
    ]);
    return mint.address;
  }

  async createTokenAccount(mint: Address, owner: Address): Promise<Address> {
    const account = await generateKeyPairSigner();
    const space = BigInt(getTokenSize());
    await this.sendOk([
      getCreateAccountInstruction({
        payer: this.payer,
        newAccount: account,
        lamports: lamports(this.svm.minimumBalanceForRentExemption(space)),
        space,
        programAddress: TOKEN_PROGRAM_ADDRESS,
      }),
      getInitializeAccount3Instruction({ account: account.address, mint, owner }),
    ]);
    return account.address;
  }

  async mintTo(mint: Address, authority: TransactionSigner, destination: Address, amount: bigint): Promise<void> {
    await this.sendOk([getMintToInstruction({ mint, token: destination, mintAuthority: authority, amount })]);
  }

  tokenBalance(account: Address): bigint {
    return getTokenDecoder().decode(this.data(account)).amount;
  }

  // --- accounts -------------------------------------------------------------------------------

  data(address: Address): Uint8Array {
    const account = this.svm.getAccount(address);
    if (!account.exists) throw new Error(`account ${address} does not exist`);
    return account.data as Uint8Array;
  }

  exchange(address: Address): Exchange {
    return decodeExchange(this.data(address));
  }
  market(address: Address): Market {
    return decodeMarket(this.data(address));
  }
  marginAccount(address: Address): MarginAccount {
    return decodeMarginAccount(this.data(address));
  }
  insuranceFund(address: Address): InsuranceFund {
    return decodeInsuranceFund(this.data(address));
  }

  /** Writes an account as the runtime would hold it (foreign-owned oracles). */
  writeAccount(address: Address, owner: Address, data: Uint8Array): void {
    this.svm.setAccount({
      address,
      data,
      executable: false,
      lamports: lamports(1_000_000_000n),
      programAddress: owner,
      space: BigInt(data.length),
    });
  }

  /** A `Full` `PriceUpdateV2` of `feedId` at `address`, owned by the Pyth receiver. */
  writePriceUpdateV2(address: Address, price: PythPrice, feedId: Uint8Array): void {
    this.writeAccount(address, PYTH_RECEIVER_PROGRAM_ADDRESS, encodePriceUpdateV2(price, feedId));
  }

  /** A legacy price account at `address`, owned by the legacy Pyth program the exchange names. */
  writeLegacyPrice(address: Address, price: PythPrice, owner: Address = PYTH_LEGACY_PROGRAM_ADDRESS): void {
    this.writeAccount(address, owner, encodeLegacyPriceAccount(price));
  }
}
