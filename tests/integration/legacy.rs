//! The integration suite's modules again, with every market priced by a legacy Pyth price
//! account (the kind markets listed before the `PriceUpdateV2` migration keep). See main.rs.

use microliq::oracle::OracleKind;
use microliq_tests::{LocalExchangeBuilder, TestContext};

/// The oracle kind of every market this binary builds, unless a case names another.
pub const ORACLE_KIND: OracleKind = OracleKind::PythLegacy;

pub fn builder() -> LocalExchangeBuilder {
    microliq_tests::builder_for(ORACLE_KIND)
}

pub async fn standard() -> TestContext {
    microliq_tests::standard_for(ORACLE_KIND).await
}

#[path = "admin.rs"]
mod admin;
#[path = "bad_inputs.rs"]
mod bad_inputs;
#[path = "collateral.rs"]
mod collateral;
mod funding;
mod funding_attacks;
mod funding_review2;
#[path = "liquidation.rs"]
mod liquidation;
#[path = "liquidity.rs"]
mod liquidity;
#[path = "money_safety.rs"]
mod money_safety;
#[path = "repeat_breach.rs"]
mod repeat_breach;
#[path = "trading.rs"]
mod trading;
