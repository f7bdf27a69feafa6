//! Microliq's integration suite: one binary, the program running natively in
//! solana-program-test with the real SPL Token program. Each case reads SETUP / ACT / CHECK; every
//! failing case checks the named error and that no account changed.

mod admin;
mod bad_inputs;
mod collateral;
mod liquidation;
mod liquidity;
mod money_safety;
mod trading;
