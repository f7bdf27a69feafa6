// What the math refuses, named and numbered as the program names it (src/generated/errors.ts, from
// the IDL): one base class, so that a caller catches every refusal of the math alike and reads the
// same `errorName` / `code` that `getMicroliqErrorName` gives for a failed transaction.
import { MICROLIQ_ERROR_MESSAGES, MICROLIQ_ERROR_NAMES, type MicroliqErrorName } from "../generated/errors.js";

const CODES = new Map(Object.entries(MICROLIQ_ERROR_NAMES).map(([code, name]) => [name, Number(code)]));

/** A refusal the program would answer with `MicroliqError::<errorName>` (custom code `code`). */
export class MicroliqRefusal<N extends MicroliqErrorName = MicroliqErrorName> extends Error {
  readonly code: number;
  constructor(
    readonly errorName: N,
    detail?: string,
  ) {
    const code = CODES.get(errorName);
    if (code === undefined) throw new Error(`not an error of the program: ${errorName}`);
    super(`${errorName} (${code}): ${MICROLIQ_ERROR_MESSAGES[code]}${detail ? ` [${detail}]` : ""}`);
    this.code = code;
    this.name = "MicroliqRefusal";
  }
}
