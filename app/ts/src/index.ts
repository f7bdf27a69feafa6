// @microliq/sdk: the Microliq program from TypeScript, on @solana/kit.
//
// - generated from idl/microliq.json (src/generated): codecs of every type, account decoders,
//   event decoders, error names and one raw builder per instruction;
// - by hand: PDAs, builders that fill remaining accounts in the documented order, events from
//   logs, errors by name, Pyth price account readers.
// Writers of Pyth accounts for tests are in "@microliq/sdk/testing".
export * from "./generated/index.js";
export * from "./builders.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./health-accounts.js";
export * from "./pda.js";
export * from "./pyth.js";

// The health math (src/math, ported from programs/microliq/src/math and checked against the
// program by golden vectors): health, margin ratio, liquidation price, max withdrawable, the
// next liquidation slice (`previewLiquidation`).
export * from "./math/index.js";
export * from "./view.js";
