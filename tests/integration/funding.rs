//! Funding (docs/FUNDING.md): the skew sets the rate, the index advances with time at every touch
//! and at the crank, positions settle lazily into collateral, and health counts what is not yet
//! settled. Every figure below is computed by hand from the formula; the comments show how.

use microliq::error::MicroliqError;
use microliq::events::{
    CollateralWithdrawnV2, FundingUpdated, LiquidationSliceV3, LiquidityDeposited, MarketFundingSet,
    OrderFilledV2,
};
use microliq::state::{pause, FundingConfig};
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::Signer;

pub(crate) const HOUR: i64 = 3_600;
/// Slots in an hour at 400 ms.
pub(crate) const HOUR_SLOTS: u64 = 9_000;
/// 1 %/h at 1e15 = 100 %.
pub(crate) const ONE_PERCENT_PER_HOUR: i64 = 10_000_000_000_000;
/// The largest rate (1 %/h) at a skew of 100 %.
pub(crate) const ONE_PERCENT: FundingConfig = FundingConfig { rate_scale: 10_000, max_rate: 10_000 };
/// The largest rate from any skew of 10 % or more.
pub(crate) const CLAMPED_1PCT: FundingConfig = FundingConfig { rate_scale: 100_000, max_rate: 10_000 };

/// An exchange with SOL-PERP only, at `funding`.
pub(crate) async fn sol_with(funding: FundingConfig) -> TestContext {
    crate::builder()
        .with_market(MarketSpec::sol().with_funding(funding))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await
}

/// An exchange with SOL-PERP and BTC-PERP, both at `funding`.
pub(crate) async fn sol_and_btc_with(funding: FundingConfig) -> TestContext {
    crate::builder()
        .with_market(MarketSpec::sol().with_funding(funding))
        .with_market(MarketSpec::btc().with_funding(funding))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await
}

/// Moves the clock by `hours` and republishes SOL at $150 (the price does not move).
async fn wait_hours(ctx: &mut TestContext, hours: i64) {
    ctx.advance(HOUR_SLOTS * hours as u64, HOUR * hours).await;
    ctx.set_price_usd(0, 150.0).await;
}

#[tokio::test]
async fn funding_alone_makes_an_account_liquidatable_and_the_slice_is_predicted_to_the_atom() {
    // SETUP: the largest rate (1 %/h), alice the only trader: 66 SOL long at $150 (notional
    // 9,900) on 1,000 USDC, fee 4.95. A skew of 100 % pays the clamp: 99 USDC an hour.
    let mut ctx = sol_with(FundingConfig { rate_scale: 10_000, max_rate: 10_000 }).await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    let health = ctx.health(&alice.account).await;
    assert_eq!((health.equity, health.maintenance_requirement), (995_050_000, 495_000_000));

    // Five hours: 495 owed, E = 500.05 ≥ M = 495. Nothing is settled yet.
    wait_hours(&mut ctx, 5).await;
    let health = ctx.health(&alice.account).await;
    assert_eq!(health.equity, 995_050_000 - 495_000_000);
    assert!(!health.is_liquidatable());
    assert_refused!(ctx, &[], ctx.liquidate(&keeper, &alice.account, 0), MicroliqError::NotLiquidatable);

    // ACT: one more hour (594 owed, E = 401.05 < M = 495), no price move.
    wait_hours(&mut ctx, 1).await;
    let health = ctx.health(&alice.account).await;
    assert_eq!((health.equity, health.maintenance_requirement), (401_050_000, 495_000_000));
    assert!(health.is_liquidatable());
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 995_050_000, "not settled yet");
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    let pool_before = ctx.exchange().await.pool_balance;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: the index moved by 6 % over six hours, and the slice is the one predicted.
    let updated = ctx.events::<FundingUpdated>().remove(0);
    assert_eq!(
        (updated.rate_per_hour, updated.elapsed_secs, updated.index_delta, updated.funding_index),
        (ONE_PERCENT_PER_HOUR, 6 * HOUR as u64, 6 * ONE_PERCENT_PER_HOUR, 6 * ONE_PERCENT_PER_HOUR)
    );
    assert_eq!((updated.long_base, updated.short_base), (66 * SOL as u64, 0));
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(slice.funding_settled, -594_000_000);
    assert_eq!((slice.equity_before, slice.maintenance_before), (401_050_000, 495_000_000));
    assert_eq!(slice.base_closed, plan.outcome.closed_base);
    assert_eq!(slice.exact_slice, plan.exact_slice);
    assert_eq!(slice.bonus_rate, plan.bonus_rate);
    assert_eq!(
        (slice.keeper_bonus as u128, slice.insurance_fee as u128),
        (plan.outcome.keeper_bonus, plan.outcome.insurance_fee)
    );
    assert_eq!(slice.equity_after, plan.outcome.health_after.equity);
    assert_eq!(slice.maintenance_after, plan.outcome.health_after.maintenance_requirement);
    assert!(
        slice.equity_after * 1_000_000 >= 1_200_000 * slice.maintenance_after as i128,
        "back at E ≥ 1.2·M"
    );
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!(account.collateral as i128, plan.outcome.collateral_after);
    assert_eq!(account.funding_indexes[0], 6 * ONE_PERCENT_PER_HOUR);
    // The pool took the 594 and the slice's PnL; nothing else moved it.
    assert_eq!(ctx.exchange().await.pool_balance, pool_before + 594_000_000 - slice.realized_pnl);
    let market = ctx.market(0).await;
    assert_eq!((market.funding_long_accrued.get(), market.funding_short_accrued.get()), (0, 0));
    ctx.assert_vaults_match_ledgers().await;
}

#[tokio::test]
async fn funding_flips_sign_with_the_skew_and_the_crowded_side_pays() {
    // SETUP: 0.1 %/h at a skew of 100 % (no clamp below it).
    let mut ctx = sol_with(FundingConfig { rate_scale: 1_000, max_rate: 1_000 }).await;
    let alice = ctx.trader(1_000 * USDC).await;
    let bob = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    let pool_start = ctx.exchange().await.pool_balance;

    // Hour 1: longs only (skew +100 %): the index rises by 0.1 %.
    wait_hours(&mut ctx, 1).await;
    ctx.update_funding(0).await.unwrap();
    let up = ctx.events::<FundingUpdated>().remove(0);
    assert_eq!((up.rate_per_hour, up.index_delta), (ONE_PERCENT_PER_HOUR / 10, ONE_PERCENT_PER_HOUR / 10));

    // Hour 2: bob shorts 30 SOL, skew (10 − 30) / 40 = −50 %: the index falls by 0.05 %.
    ctx.trade(&bob, 0, -30 * SOL).await.unwrap();
    assert_eq!(ctx.events::<OrderFilledV2>().remove(0).funding_settled, 0, "a new position owes nothing");
    wait_hours(&mut ctx, 1).await;
    ctx.update_funding(0).await.unwrap();
    let down = ctx.events::<FundingUpdated>().remove(0);
    assert_eq!(
        (down.rate_per_hour, down.index_delta),
        (-ONE_PERCENT_PER_HOUR / 20, -ONE_PERCENT_PER_HOUR / 20)
    );
    assert_eq!(ctx.market(0).await.funding_index, ONE_PERCENT_PER_HOUR / 20);

    // ACT / CHECK: alice paid 0.1 % of 1,500 and got 0.05 % back: −0.75. Bob, crowded in hour
    // 2, pays 0.05 % of 4,500: −2.25.
    ctx.trade(&alice, 0, -10 * SOL).await.unwrap();
    let alice_fill = ctx.events::<OrderFilledV2>().remove(0);
    assert_eq!((alice_fill.funding_settled, alice_fill.realized_pnl), (-750_000, 0));
    ctx.trade(&bob, 0, 30 * SOL).await.unwrap();
    let bob_fill = ctx.events::<OrderFilledV2>().remove(0);
    assert_eq!((bob_fill.funding_settled, bob_fill.realized_pnl), (-2_250_000, 0));
    // The pool received the net: 1.5 (hour 1) + 2.25 − 0.75 = 3.00, besides the three fees.
    let fees = alice_fill.fee + bob_fill.fee + 2_250_000; // bob's opening fee: 4,500 · 0.05 %
    assert_eq!(ctx.exchange().await.pool_balance, pool_start + 3_000_000 + fees as i64);
    let market = ctx.market(0).await;
    assert_eq!((market.funding_long_accrued.get(), market.funding_short_accrued.get()), (0, 0));
    ctx.assert_vaults_match_ledgers().await;
}

#[tokio::test]
async fn a_position_opened_and_closed_in_one_slot_pays_nothing() {
    // SETUP: the largest rate; some time has passed since the market was listed.
    let mut ctx = sol_with(FundingConfig { rate_scale: 10_000, max_rate: 10_000 }).await;
    let alice = ctx.trader(1_000 * USDC).await;
    wait_hours(&mut ctx, 3).await;

    // ACT: open and close in one transaction (one slot, one clock).
    let open = ctx.order(&alice, 0, 10 * SOL).await.instruction(&ctx.ex);
    let close =
        ix::PlaceOrder { base_delta: -10 * SOL, limit_price: 0, ..ctx.order(&alice, 0, 10 * SOL).await }
            .instruction(&ctx.ex);
    let owner = alice.owner.insecure_clone();
    ctx.send(&[open, close], &[&owner]).await.unwrap();

    // CHECK: two fills, no funding either way; only the two fees (0.75 each) left the account.
    let fills = ctx.events::<OrderFilledV2>();
    assert_eq!(fills.len(), 2);
    assert_eq!((fills[0].funding_settled, fills[1].funding_settled), (0, 0));
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 1_000 * USDC as i64 - 1_500_000);
    ctx.assert_vaults_match_ledgers().await;
}

#[tokio::test]
async fn the_crank_advances_the_index_and_a_market_with_closes_paused_accrues_nothing() {
    // SETUP: alice long alone at 0.1 %/h.
    let mut ctx = sol_with(FundingConfig { rate_scale: 1_000, max_rate: 1_000 }).await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    wait_hours(&mut ctx, 2).await;

    // ACT: the crank, then a pause of closes (which charges the two hours first).
    ctx.update_funding(0).await.unwrap();
    assert_eq!(ctx.market(0).await.funding_index, ONE_PERCENT_PER_HOUR / 5);
    let (admin, market) = (ctx.admin.pubkey(), ctx.markets[0].market);
    let set_pause = ix::SetPause { admin, market: Some(market), paused: pause::REDUCE }.instruction(&ctx.ex);
    ctx.admin_send(set_pause).await.unwrap();
    wait_hours(&mut ctx, 5).await;
    ctx.update_funding(0).await.unwrap();

    // CHECK: five paused hours moved the clock, not the index; no event for a still index.
    assert!(ctx.events::<FundingUpdated>().is_empty());
    let paused = ctx.market(0).await;
    assert_eq!(paused.funding_index, ONE_PERCENT_PER_HOUR / 5);
    assert_eq!(paused.funding_updated_at, ctx.clock().await.unix_timestamp);
    assert_eq!(ctx.health(&alice.account).await.equity, 1_000_000_000 - 750_000 - 3_000_000);

    // Lifted: the next hour accrues again.
    let lift = ix::SetPause { admin, market: Some(market), paused: 0 }.instruction(&ctx.ex);
    ctx.admin_send(lift).await.unwrap();
    wait_hours(&mut ctx, 1).await;
    ctx.update_funding(0).await.unwrap();
    assert_eq!(ctx.market(0).await.funding_index, 3 * ONE_PERCENT_PER_HOUR / 10);
}

#[tokio::test]
async fn funding_parameters_are_bounded_and_never_retroactive() {
    // SETUP: alice long alone at 0.1 %/h for one hour.
    let mut ctx = sol_with(FundingConfig { rate_scale: 1_000, max_rate: 1_000 }).await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    wait_hours(&mut ctx, 1).await;

    // Refused, each with its error and nothing changed (not even the index).
    let market = ctx.markets[0].market;
    for (config, error) in [
        (FundingConfig { rate_scale: 100_001, max_rate: 1_000 }, MicroliqError::FundingParamsInvalid),
        (FundingConfig { rate_scale: 1_000, max_rate: 10_001 }, MicroliqError::FundingParamsInvalid),
        (FundingConfig { rate_scale: 1_000, max_rate: 0 }, MicroliqError::FundingParamsInvalid),
        (FundingConfig { rate_scale: 0, max_rate: 1_000 }, MicroliqError::FundingParamsInvalid),
    ] {
        assert_refused!(ctx, &[], ctx.set_market_funding(0, config), error);
    }
    let stranger = ctx.keeper().await;
    let not_admin = ix::SetMarketFunding {
        admin: stranger.owner.pubkey(),
        market,
        config: FundingConfig { rate_scale: 10_000, max_rate: 10_000 },
    }
    .instruction(&ctx.ex);
    let owner = stranger.owner.insecure_clone();
    assert_refused!(ctx, &[], ctx.send(&[not_admin], &[&owner]), MicroliqError::NotAdmin);

    // ACT: ten times the rate. The hour before is charged at the old one.
    ctx.set_market_funding(0, FundingConfig { rate_scale: 10_000, max_rate: 10_000 }).await.unwrap();
    let set = ctx.events::<MarketFundingSet>().remove(0);
    assert_eq!(
        (set.old_rate_scale, set.old_max_rate, set.rate_scale, set.max_rate),
        (1_000, 1_000, 10_000, 10_000)
    );
    assert_eq!(ctx.market(0).await.funding_index, ONE_PERCENT_PER_HOUR / 10);
    wait_hours(&mut ctx, 1).await;
    ctx.update_funding(0).await.unwrap();
    assert_eq!(ctx.market(0).await.funding_index, ONE_PERCENT_PER_HOUR / 10 + ONE_PERCENT_PER_HOUR);

    // Off: the index stops.
    ctx.set_market_funding(0, FundingConfig::default()).await.unwrap();
    wait_hours(&mut ctx, 1).await;
    ctx.update_funding(0).await.unwrap();
    assert_eq!(ctx.market(0).await.funding_index, ONE_PERCENT_PER_HOUR / 10 + ONE_PERCENT_PER_HOUR);
}

#[tokio::test]
async fn a_withdrawal_settles_funding_first_and_needs_its_markets_writable() {
    // SETUP: alice long 10 SOL alone at 0.1 %/h for four hours: 6.00 owed.
    let mut ctx = sol_with(FundingConfig { rate_scale: 1_000, max_rate: 1_000 }).await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    wait_hours(&mut ctx, 4).await;
    let collateral = ctx.margin_account(&alice.account).await.collateral;

    // Read-only markets: refused, nothing changed.
    let mut withdraw = ix::WithdrawCollateral {
        owner: alice.owner.pubkey(),
        margin_account: alice.account,
        owner_token: alice.token,
        amount: 100 * USDC,
        health_accounts: vec![ctx.markets[0].pair()],
    }
    .instruction(&ctx.ex);
    let last = withdraw.accounts.len() - 2;
    withdraw.accounts[last].is_writable = false;
    let owner = alice.owner.insecure_clone();
    assert_refused!(
        ctx,
        &[alice.account],
        ctx.send(&[withdraw], &[&owner]),
        MicroliqError::MarketNotWritable
    );

    // ACT / CHECK: the client's withdrawal passes them writable; 6.00 settles first.
    ctx.withdraw(&alice, 100 * USDC).await.unwrap();
    let event = ctx.events::<CollateralWithdrawnV2>().remove(0);
    assert_eq!(event.funding_settled, -6_000_000);
    assert_eq!(event.collateral_after, collateral - 6_000_000 - 100 * USDC as i64);
    ctx.assert_vaults_match_ledgers().await;
}

#[tokio::test]
async fn the_pool_is_valued_with_the_funding_it_is_owed() {
    // SETUP: alice long alone at 1 %/h for two hours: 198 owed, unsettled, price unchanged.
    let mut ctx = sol_with(FundingConfig { rate_scale: 10_000, max_rate: 10_000 }).await;
    let _alice = ten_x_long(&mut ctx).await;
    wait_hours(&mut ctx, 2).await;
    let pool_balance = ctx.exchange().await.pool_balance;

    // ACT: an LP deposit values the pool.
    let lp = ctx.liquidity_provider(10_000 * USDC).await;
    ctx.deposit_liquidity(&lp, 10_000 * USDC).await.unwrap();

    // CHECK: the NAV counts the 198 alice owes (her price PnL is 0 at an unchanged price).
    let deposited = ctx.events::<LiquidityDeposited>().remove(0);
    assert_eq!(deposited.pool_nav_before, pool_balance + 198_000_000);
}

#[tokio::test]
async fn an_exchange_wide_pause_of_closes_stops_funding_for_its_length() {
    // SETUP: alice long alone at 0.1 %/h; two hours accrue.
    let mut ctx = sol_with(FundingConfig { rate_scale: 1_000, max_rate: 1_000 }).await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    wait_hours(&mut ctx, 2).await;
    let admin = ctx.admin.pubkey();
    let pause = |paused| ix::SetPause { admin, market: None, paused };

    // ACT: the exchange pauses closes for five hours (the index is not advanced when it does:
    // the close-pause clock keeps the time), then lifts the pause; one more hour.
    let pause_closes = pause(pause::REDUCE).instruction(&ctx.ex);
    ctx.admin_send(pause_closes).await.unwrap();
    wait_hours(&mut ctx, 5).await;
    assert_eq!(ctx.health(&alice.account).await.equity, 1_000_000_000 - 750_000 - 3_000_000, "2 h owed");
    let lift = pause(0).instruction(&ctx.ex);
    ctx.admin_send(lift).await.unwrap();
    wait_hours(&mut ctx, 1).await;
    ctx.update_funding(0).await.unwrap();

    // CHECK: three hours charged out of eight (0.3 %), in one advance.
    let updated = ctx.events::<FundingUpdated>().remove(0);
    assert_eq!((updated.elapsed_secs, updated.index_delta), (3 * HOUR as u64, 3 * ONE_PERCENT_PER_HOUR / 10));
    let exchange = ctx.exchange().await;
    assert_eq!((exchange.funding_paused_secs, exchange.funding_paused_since), (5 * HOUR, 0));
    ctx.trade(&alice, 0, -10 * SOL).await.unwrap();
    assert_eq!(ctx.events::<OrderFilledV2>().remove(0).funding_settled, -4_500_000); // 0.3 % of 1,500
    ctx.assert_vaults_match_ledgers().await;
}
