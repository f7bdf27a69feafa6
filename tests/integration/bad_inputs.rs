//! The order and oracle bad-input catalogue. Every case asserts the named error and that no
//! account (exchange, vaults, fund, markets, every margin account, the trader's wallet) changed.

use microliq::error::MicroliqError;
use microliq::oracle::{OracleKind, PYTH_RECEIVER_PROGRAM};
use microliq::state::{pause, MarketParams};
use microliq_tests::ix;
use microliq_tests::*;
use pyth_sdk_solana::state::PriceStatus;
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{Keypair, Signer};

/// Sends `instruction` signed by `signer`, asserts `expected`, and that nothing changed.
async fn refused(
    ctx: &mut TestContext,
    instruction: Instruction,
    signer: &Keypair,
    extra: &[anchor_lang::prelude::Pubkey],
    expected: MicroliqError,
) {
    let before = ctx.snapshot_with(extra).await;
    assert_error(ctx.send(&[instruction], &[signer]).await, expected);
    before.assert_unchanged(&ctx.snapshot_with(extra).await);
}

async fn alice_with_long(ctx: &mut TestContext) -> Trader {
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 2 * SOL).await.unwrap();
    alice
}

#[tokio::test]
async fn order_by_a_stranger_is_refused() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    let mallory = Keypair::new();
    let mut order = ctx.order(&alice, 0, SOL).await;
    order.trader = mallory.pubkey();
    let order = order.instruction(&ctx.ex);
    refused(&mut ctx, order, &mallory, &[], MicroliqError::NotOwnerOrDelegate).await;
}

#[tokio::test]
async fn zero_and_off_lot_sizes_are_refused() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    let zero = ctx.order(&alice, 0, 0).await.instruction(&ctx.ex);
    refused(&mut ctx, zero, &alice.owner, &[], MicroliqError::ZeroAmount).await;
    let off_lot = ctx.order(&alice, 0, SOL + 1).await.instruction(&ctx.ex);
    refused(&mut ctx, off_lot, &alice.owner, &[], MicroliqError::NotLotMultiple).await;
}

#[tokio::test]
async fn position_beyond_initial_margin_is_refused() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    // 70 SOL = 10,500 USDC notional needs 1,050 USDC of initial margin.
    let order = ctx.order(&alice, 0, 70 * SOL).await.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::InitialHealthViolated).await;
}

#[tokio::test]
async fn amounts_that_would_overflow_are_refused() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    // i64::MIN has no absolute value in i64; the largest lot multiple overflows the position.
    let max_lots = i64::MAX - i64::MAX % 1_000_000;
    let order = ctx.order(&alice, 0, max_lots).await.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::MathOverflow).await;
}

#[tokio::test]
async fn open_interest_cap_is_enforced_per_side() {
    let params = MarketParams { max_open_interest: 5 * SOL as u64, ..default_params() };
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_params(params))
        .with_pool_liquidity(100_000 * USDC)
        .build()
        .await;
    let alice = ctx.trader(10_000 * USDC).await;
    ctx.trade(&alice, 0, 5 * SOL).await.unwrap();
    let order = ctx.order(&alice, 0, 1_000_000).await.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::OpenInterestCap).await;
    // The short side has its own cap.
    let bob = ctx.trader(10_000 * USDC).await;
    ctx.trade(&bob, 0, -5 * SOL).await.unwrap();
}

#[tokio::test]
async fn slippage_guard_refuses_a_worse_price() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    let mut buy = ctx.order(&alice, 0, SOL).await;
    buy.limit_price = 149_999_999_999; // below the $150 fill
    let buy = buy.instruction(&ctx.ex);
    refused(&mut ctx, buy, &alice.owner, &[], MicroliqError::SlippageExceeded).await;
    let mut sell = ctx.order(&alice, 0, -SOL).await;
    sell.limit_price = 150_000_000_001;
    let sell = sell.instruction(&ctx.ex);
    refused(&mut ctx, sell, &alice.owner, &[], MicroliqError::SlippageExceeded).await;
}

#[tokio::test]
async fn paused_increase_still_allows_reducing() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    let admin = ctx.admin.pubkey();
    let market = ctx.markets[0].market;
    ctx.admin_send(
        ix::SetPause { admin, market: Some(market), paused: pause::INCREASE }.instruction(&ctx.ex),
    )
    .await
    .unwrap();
    let order = ctx.order(&alice, 0, SOL).await.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::Paused).await;
    ctx.trade(&alice, 0, -SOL).await.unwrap();
    // Exchange-wide reduce pause stops that too.
    ctx.admin_send(ix::SetPause { admin, market: None, paused: pause::REDUCE }.instruction(&ctx.ex))
        .await
        .unwrap();
    let order = ctx.order(&alice, 0, -SOL).await.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::Paused).await;
}

#[tokio::test]
async fn oracle_guards_refuse_bad_prices() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    let now = ctx.clock().await.unix_timestamp;
    let mut cases = vec![
        (PythPrice { publish_time: now - 61, ..PythPrice::usd(150.0) }, MicroliqError::OracleStale),
        (PythPrice::usd(150.0).with_conf(300_000_001), MicroliqError::OracleConfidenceTooWide), // > 2 %
        (PythPrice { price: 0, ..PythPrice::usd(150.0) }, MicroliqError::OracleNonPositivePrice),
        (PythPrice { price: -5, ..PythPrice::usd(150.0) }, MicroliqError::OracleNonPositivePrice),
        (PythPrice { ema: 0, ..PythPrice::usd(150.0) }, MicroliqError::OracleNonPositivePrice),
    ];
    // Only the legacy format carries a trading status (PriceUpdateV2 has none; see oracles.rs
    // for that format's own refusals).
    if crate::ORACLE_KIND == OracleKind::PythLegacy {
        cases.push((PythPrice::usd(150.0).with_status(PriceStatus::Halted), MicroliqError::OracleNotTrading));
        cases
            .push((PythPrice::usd(150.0).with_status(PriceStatus::Unknown), MicroliqError::OracleNotTrading));
    }
    for (price, expected) in cases {
        ctx.set_price(0, price).await;
        // Both risk-adding and reducing orders need a valid price.
        for delta in [SOL, -SOL] {
            let order = ctx.order(&alice, 0, delta).await.instruction(&ctx.ex);
            refused(&mut ctx, order, &alice.owner, &[alice.token], expected).await;
        }
    }
    // Exactly at the staleness limit is accepted.
    ctx.set_price(0, PythPrice { publish_time: now - 60, ..PythPrice::usd(150.0) }).await;
    ctx.trade(&alice, 0, SOL).await.unwrap();
}

#[tokio::test]
async fn ema_divergence_refuses_opening_but_not_reducing() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    // Price $150 against an EMA of $130: 15.4 % > 10 %.
    ctx.set_price(0, PythPrice::usd(150.0).with_ema(13_000_000_000)).await;
    let open = ctx.order(&alice, 0, SOL).await.instruction(&ctx.ex);
    refused(&mut ctx, open, &alice.owner, &[], MicroliqError::OracleEmaDivergence).await;
    // Withdrawing adds risk too.
    let before = ctx.snapshot_with(&[alice.token]).await;
    assert_error(ctx.withdraw(&alice, USDC).await, MicroliqError::OracleEmaDivergence);
    before.assert_unchanged(&ctx.snapshot_with(&[alice.token]).await);
    ctx.trade(&alice, 0, -SOL).await.unwrap();
}

#[tokio::test]
async fn wrong_or_foreign_oracle_accounts_are_refused() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    // Another market's oracle.
    let mut order = ctx.order(&alice, 0, SOL).await;
    order.oracle = ctx.markets[1].oracle;
    let order = order.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::WrongOracle).await;
    // The market itself (already borrowed by the instruction): named, not a borrow failure.
    let mut order = ctx.order(&alice, 0, SOL).await;
    order.oracle = ctx.markets[0].market;
    let order = order.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::WrongOracle).await;
    // The configured key, but now owned by another program.
    let oracle = ctx.markets[0].oracle;
    let (_, bytes) = ctx.markets[0].oracle_bytes(&ctx.markets[0].price);
    ctx.write_account(&oracle, Keypair::new().pubkey(), bytes);
    let order = ctx.order(&alice, 0, SOL).await.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], MicroliqError::OracleWrongOwner).await;
    // Owned by the right Pyth program, but not a price account.
    let (owner, garbage, expected) = match crate::ORACLE_KIND {
        OracleKind::PythLegacy => (PYTH_PROGRAM, vec![1u8; 3312], MicroliqError::OracleInvalid),
        OracleKind::PythPriceUpdateV2 => {
            (PYTH_RECEIVER_PROGRAM, vec![1u8; PRICE_UPDATE_V2_LEN], MicroliqError::OracleWrongAccountType)
        }
    };
    ctx.write_account(&oracle, owner, garbage);
    let order = ctx.order(&alice, 0, SOL).await.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[], expected).await;
}

#[tokio::test]
async fn market_of_the_wrong_kind_or_index_is_refused() {
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    // Passing the insurance fund where a market belongs: Anchor's discriminator check.
    let mut order = ctx.order(&alice, 0, SOL).await;
    order.market = ctx.ex.insurance_fund;
    let order = order.instruction(&ctx.ex);
    let before = ctx.snapshot_with(&[]).await;
    assert_anchor_error(
        ctx.send(&[order], &[&alice.owner]).await,
        anchor_lang::error::ErrorCode::AccountDiscriminatorMismatch,
    );
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);
}

#[tokio::test]
async fn remaining_accounts_missing_out_of_order_or_extra_are_refused() {
    let mut ctx = crate::standard().await;
    let third = ctx.add_market(MarketSpec::sol()).await;
    let alice = ctx.trader(10_000 * USDC).await;
    ctx.trade(&alice, 1, 10_000_000).await.unwrap(); // BTC
    ctx.trade(&alice, 2, SOL).await.unwrap(); // SOL-2
    let btc = ctx.markets[1].pair();
    let sol2 = third.pair();
    let sol = ctx.markets[0].pair();
    let base = ctx.order(&alice, 0, SOL).await;
    let with = |pairs: Vec<_>| ix::PlaceOrder { health_accounts: pairs, ..clone_order(&base) };
    let mut odd = with(vec![btc, sol2]).instruction(&ctx.ex);
    odd.accounts.pop();
    let cases = [
        (with(vec![btc]).instruction(&ctx.ex), MicroliqError::HealthAccountsMissing),
        (with(vec![]).instruction(&ctx.ex), MicroliqError::HealthAccountsMissing),
        (with(vec![sol2, btc]).instruction(&ctx.ex), MicroliqError::HealthAccountsOutOfOrder),
        (with(vec![btc, sol2, sol2]).instruction(&ctx.ex), MicroliqError::HealthAccountsOutOfOrder),
        (with(vec![btc, (sol2.0, btc.1)]).instruction(&ctx.ex), MicroliqError::WrongOracle),
        (odd, MicroliqError::HealthAccountsOddCount),
    ];
    for (instruction, expected) in cases {
        refused(&mut ctx, instruction, &alice.owner, &[], expected).await;
    }
    // An account with no other position must not pass any.
    let bob = ctx.trader(1_000 * USDC).await;
    let mut extra = ctx.order(&bob, 0, SOL).await;
    extra.health_accounts = vec![btc];
    let extra = extra.instruction(&ctx.ex);
    refused(&mut ctx, extra, &bob.owner, &[], MicroliqError::HealthAccountsUnexpected).await;
    let _ = sol;
    // The right set goes through.
    ctx.trade(&alice, 0, SOL).await.unwrap();
}

fn clone_order(order: &ix::PlaceOrder) -> ix::PlaceOrder {
    ix::PlaceOrder {
        trader: order.trader,
        margin_account: order.margin_account,
        market: order.market,
        oracle: order.oracle,
        base_delta: order.base_delta,
        limit_price: order.limit_price,
        health_accounts: order.health_accounts.clone(),
    }
}

#[tokio::test]
async fn accounts_of_another_exchange_are_refused() {
    // SETUP: a second exchange (another quote mint) in the same bank, with its own market and a
    // margin account of alice's.
    let mut ctx = crate::standard().await;
    let alice = alice_with_long(&mut ctx).await;
    let other_mint = Keypair::new();
    ctx.create_mint(&other_mint, 6).await;
    let other = ix::ExchangeAddresses::derive(other_mint.pubkey());
    let init = ix::InitializeExchange {
        admin: ctx.admin.pubkey(),
        pyth_program: PYTH_PROGRAM,
        insurance_cap_per_event: 0,
    }
    .instruction(&other);
    ctx.admin_send(init).await.unwrap();
    let other_oracle = ctx.markets[0].oracle;
    let add = ix::AddMarket {
        admin: ctx.admin.pubkey(),
        market: other.market(0),
        oracle: other_oracle,
        params: default_params(),
        base_decimals: 9,
        name: "OTHER".into(),
        oracle_config: ctx.markets[0].oracle_config(),
        funding: default_funding(),
    }
    .instruction(&other);
    ctx.admin_send(add).await.unwrap();
    let create = ix::CreateMarginAccount { owner: alice.owner.pubkey(), id: 0 }.instruction(&other);
    ctx.send(&[create], &[&alice.owner]).await.unwrap();
    let foreign_account = other.margin_account(&alice.owner.pubkey(), 0);

    // ACT / CHECK: the other exchange's margin account on this exchange.
    let deposit = ix::DepositCollateral {
        health_accounts: vec![],
        depositor: alice.owner.pubkey(),
        margin_account: foreign_account,
        depositor_token: alice.token,
        amount: USDC,
    }
    .instruction(&ctx.ex);
    refused(&mut ctx, deposit, &alice.owner, &[alice.token, foreign_account], MicroliqError::WrongExchange)
        .await;
    // The other exchange's market for an order on this one.
    let mut order = ctx.order(&alice, 0, SOL).await;
    order.market = other.market(0);
    let order = order.instruction(&ctx.ex);
    refused(&mut ctx, order, &alice.owner, &[other.market(0)], MicroliqError::WrongExchange).await;
    // This exchange's vault passed as the other exchange's: the quote vault of another PDA.
    let mut wrong_vault = ix::DepositCollateral {
        health_accounts: vec![],
        depositor: alice.owner.pubkey(),
        margin_account: alice.account,
        depositor_token: alice.token,
        amount: USDC,
    }
    .instruction(&ctx.ex);
    wrong_vault.accounts[4].pubkey = other.quote_vault;
    refused(
        &mut ctx,
        wrong_vault,
        &alice.owner,
        &[alice.token, other.quote_vault],
        MicroliqError::WrongVault,
    )
    .await;
}
