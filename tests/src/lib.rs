//! The integration suite's harness is the client crate's local exchange: the program runs
//! natively in solana-program-test with the real SPL Token program, Pyth price accounts are
//! crafted byte for byte, and every successful transaction is followed by the vault == ledger
//! check. The tests call it `TestContext`.

pub use microliq_client::*;

/// The tests' name for [`microliq_client::LocalExchange`].
pub type TestContext = microliq_client::LocalExchange;
