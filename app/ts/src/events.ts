// Events from transaction logs. The program emits each event as Anchor's `emit!` does (and the
// hot-path events of `liquidate` byte for byte the same, programs/microliq/src/event_log.rs): a
// `Program data: <base64>` log line holding the 8-byte discriminator and the Borsh fields.
import { type Address, getBase64Encoder, type ReadonlyUint8Array } from "@solana/kit";
import { EVENTS, type MicroliqEvent, type MicroliqEventName } from "./generated/events.js";
import { MICROLIQ_PROGRAM_ADDRESS } from "./generated/instructions.js";

const NAMES = Object.keys(EVENTS) as MicroliqEventName[];

/** Decodes one event's bytes (discriminator first); `null` if no event of the program has that discriminator. */
export function decodeMicroliqEvent(bytes: ReadonlyUint8Array): MicroliqEvent | null {
  if (bytes.length < 8) return null;
  for (const name of NAMES) {
    const { discriminator, decoder } = EVENTS[name];
    if (discriminator.every((b, i) => bytes[i] === b)) {
      return { name, data: decoder().decode(bytes, 8) } as MicroliqEvent;
    }
  }
  return null;
}

const INVOKE = /^Program (\S+) invoke \[\d+\]$/;
const EXIT = /^Program (\S+) (success|failed)/;
const DATA = "Program data: ";

/**
 * Every event the program emitted, in order, from a transaction's log lines (`meta.logMessages`).
 * Only `Program data:` lines logged while the program itself is the running one count (a CPI's
 * data lines are not its events; nor are another program's). A log truncated by the runtime
 * ("Log truncated") loses the events after the cut.
 */
export function parseMicroliqEvents(
  logs: readonly string[],
  program: Address = MICROLIQ_PROGRAM_ADDRESS,
): MicroliqEvent[] {
  const stack: string[] = [];
  const events: MicroliqEvent[] = [];
  const base64 = getBase64Encoder();
  for (const line of logs) {
    const invoke = INVOKE.exec(line);
    if (invoke) {
      stack.push(invoke[1]);
      continue;
    }
    const exit = EXIT.exec(line);
    if (exit && stack[stack.length - 1] === exit[1]) {
      stack.pop();
      continue;
    }
    if (line.startsWith(DATA) && stack[stack.length - 1] === program) {
      // One `Program data:` line may hold several base64 fields separated by spaces; events use one.
      const [first] = line.slice(DATA.length).split(" ");
      const event = decodeMicroliqEvent(base64.encode(first));
      if (event) events.push(event);
    }
  }
  return events;
}

/** Each event's data type by name. */
export type MicroliqEventData = { [E in MicroliqEvent as E["name"]]: E["data"] };

/** The data of the events named `name`, in order. */
export function eventsNamed<N extends MicroliqEventName>(
  events: readonly MicroliqEvent[],
  name: N,
): MicroliqEventData[N][] {
  return events.filter((e) => e.name === name).map((e) => e.data as MicroliqEventData[N]);
}
