//! Microliq's integration suite: the program running natively in solana-program-test with the
//! real SPL Token program. Each case reads SETUP / ACT / CHECK; every failing case checks the
//! named error and that no account changed.
//!
//! This binary prices markets with Pyth `PriceUpdateV2` accounts (the default for new markets);
//! `integration_legacy` (legacy.rs) runs the same modules on legacy Pyth price accounts, so every
//! happy path runs on both kinds. `oracles` holds the cases specific to `PriceUpdateV2`.

use microliq::oracle::OracleKind;
use microliq_tests::{LocalExchangeBuilder, TestContext};

/// The oracle kind of every market this binary builds, unless a case names another.
pub const ORACLE_KIND: OracleKind = OracleKind::PythPriceUpdateV2;

pub fn builder() -> LocalExchangeBuilder {
    microliq_tests::builder_for(ORACLE_KIND)
}

pub async fn standard() -> TestContext {
    microliq_tests::standard_for(ORACLE_KIND).await
}

mod admin;
mod bad_inputs;
mod collateral;
mod funding;
mod funding_attacks;
mod funding_review2;
mod liquidation;
mod liquidity;
mod money_safety;
mod oracles;
mod repeat_breach;
mod trading;
