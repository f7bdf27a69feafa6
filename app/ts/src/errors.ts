// Errors by name: the program's own (Anchor custom codes from 6000, programs/microliq/src/error.rs)
// and Anchor's framework errors, which the program's account constraints raise (has_one, seeds,
// owner...), read from the log line Anchor writes for every error.
import {
  type Address,
  isSolanaError,
  SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM,
} from "@solana/kit";
import { MICROLIQ_ERROR_MESSAGES, MICROLIQ_ERROR_NAMES, type MicroliqErrorName } from "./generated/errors.js";

export type { MicroliqErrorName } from "./generated/errors.js";

/** The program error's name for a custom error code, or `undefined` if it is not one of ours. */
export function getMicroliqErrorName(code: number): MicroliqErrorName | undefined {
  return MICROLIQ_ERROR_NAMES[code];
}

/** The message the program attaches to a custom error code. */
export function getMicroliqErrorMessage(code: number): string | undefined {
  return MICROLIQ_ERROR_MESSAGES[code];
}

/** The custom error code of a program error name. */
export function getMicroliqErrorCode(name: MicroliqErrorName): number {
  for (const [code, value] of Object.entries(MICROLIQ_ERROR_NAMES)) if (value === name) return Number(code);
  throw new Error(`unknown error ${name}`);
}

/** An Anchor error as its log line states it. */
export interface AnchorLoggedError {
  /** The error's name: ours (`InsufficientCollateral`) or Anchor's (`ConstraintHasOne`). */
  name: string;
  code: number;
  message: string;
  /** The account a constraint failed on, when Anchor names one. */
  account?: string;
}

const ANCHOR_ERROR =
  /AnchorError (?:caused by account: (\S+)\. |thrown in \S+ )?.*?Error Code: (\w+)\. Error Number: (\d+)\. Error Message: (.*?)\.?$/;

/**
 * The Anchor error a failed transaction's logs report (the last one, the error that ended it):
 * name, number, message and the account it was raised on. `undefined` if there is none.
 */
export function parseAnchorError(logs: readonly string[]): AnchorLoggedError | undefined {
  for (let i = logs.length - 1; i >= 0; i--) {
    const match = ANCHOR_ERROR.exec(logs[i]);
    if (match) {
      const [, account, name, code, message] = match;
      return { name, code: Number(code), message, ...(account ? { account } : {}) };
    }
  }
  return undefined;
}

/**
 * The custom error code inside an error thrown by @solana/kit when a transaction or its
 * simulation failed (`sendAndConfirmTransaction`, `simulateTransaction` preflight), or
 * `undefined`. Check the failing instruction's program before naming it: see
 * {@link getMicroliqErrorFromSolanaError}.
 */
export function getCustomErrorFromSolanaError(error: unknown): { code: number; instructionIndex?: number } | undefined {
  // kit wraps it: a preflight failure or transaction error whose `cause` chain ends at it.
  let cursor: unknown = error;
  for (let depth = 0; cursor && depth < 8; depth++) {
    if (isSolanaError(cursor, SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM)) {
      return { code: cursor.context.code as number, instructionIndex: cursor.context.index as number };
    }
    cursor = (cursor as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The program error's name inside an error thrown by @solana/kit, when the failing instruction is
 * one of `programInstructions` (the instruction indexes of the transaction that call the program;
 * a custom code of another program is not ours) or when no indexes are given.
 */
export function getMicroliqErrorFromSolanaError(
  error: unknown,
  programInstructions?: readonly number[],
): MicroliqErrorName | undefined {
  const custom = getCustomErrorFromSolanaError(error);
  if (!custom) return undefined;
  if (programInstructions && custom.instructionIndex !== undefined && !programInstructions.includes(custom.instructionIndex)) {
    return undefined;
  }
  return getMicroliqErrorName(custom.code);
}

/** The instruction indexes of `instructions` that call `program` (for {@link getMicroliqErrorFromSolanaError}). */
export function instructionIndexesOf(instructions: readonly { programAddress: Address }[], program: Address): number[] {
  return instructions.flatMap((ix, index) => (ix.programAddress === program ? [index] : []));
}
