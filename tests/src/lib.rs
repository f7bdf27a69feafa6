//! The integration suite's harness is the client crate's local exchange: the program runs
//! natively in solana-program-test with the real SPL Token program, Pyth price accounts are
//! crafted byte for byte, and every successful transaction is followed by the vault == ledger
//! check. The tests call it `TestContext`.

pub use microliq_client::*;

/// The tests' name for [`microliq_client::LocalExchange`].
pub type TestContext = microliq_client::LocalExchange;

/// An exchange builder whose markets read `kind` unless a case names another (each integration
/// binary fixes its kind: main.rs `PriceUpdateV2`, legacy.rs legacy accounts).
pub fn builder_for(kind: microliq::oracle::OracleKind) -> LocalExchangeBuilder {
    TestContext::builder().with_oracle_kind(kind)
}

/// [`TestContext::standard`] on `kind`.
pub async fn standard_for(kind: microliq::oracle::OracleKind) -> TestContext {
    TestContext::standard_builder().with_oracle_kind(kind).build().await
}

/// The 10x long of the liquidation stories: 1,000 USDC and 66 SOL bought at $150 in market 0
/// (9,900 USDC, ~9.9x; fee 4.95, so collateral 995.05).
pub async fn ten_x_long(ctx: &mut TestContext) -> Trader {
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    alice
}

/// Asserts that `$action` (a future of a send) fails with the named `$error` and that the
/// exchange's accounts and `$keys` are byte-for-byte unchanged.
#[macro_export]
macro_rules! assert_refused {
    ($ctx:expr, $keys:expr, $action:expr, $error:expr) => {{
        let before = $ctx.snapshot_with($keys).await;
        $crate::assert_error($action.await, $error);
        before.assert_unchanged(&$ctx.snapshot_with($keys).await);
    }};
}
