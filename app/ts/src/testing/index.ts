// Test helpers: crafted Pyth accounts for local runtimes (litesvm, solana-test-validator).
export * from "./pyth.js";
