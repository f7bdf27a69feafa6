// The program's math in TypeScript (`bigint`, exact to the atom): programs/microliq/src/math and
// the parts of oracle.rs and state/ it reads. Checked by the golden vectors the Rust generator
// writes (tests/golden.rs, test/golden.test.ts).
export * from "./errors.js";
export * from "./fixed.js";
export * from "./health.js";
export * from "./funding.js";
export * from "./trade.js";
export * from "./liquidation.js";
export * from "./oracle.js";
export * from "./state.js";
export * from "./account.js";
