//! Regression tests for the money-safety defects of issue 8, each reproduced with real
//! transactions as a hostile user would, and each failing on the code before the fix.

use microliq::error::MicroliqError;
use microliq::events::{LiquidationEpisodeEnded, LiquidationEpisodeEndedV2, LiquidationSliceV3};
use microliq::math::{target_margin_scaled, MaintenanceHealth};
use microliq::state::MarketParams;
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::Signer;

/// Liquidates one lot of `account`'s SOL position: a slice far short of the target, so the
/// account is left flagged (a liquidation episode runs).
async fn one_lot_slice(ctx: &mut TestContext, keeper: &Keeper, account: &anchor_lang::prelude::Pubkey) {
    let mut liquidation = ctx.liquidation(keeper, account, 0).await;
    liquidation.max_base = default_params().base_lot_size;
    let instruction = liquidation.instruction(&ctx.ex);
    ctx.send(&[instruction], &[&keeper.owner]).await.unwrap();
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(slice.base_closed, default_params().base_lot_size);
    assert_ne!(slice.episode_start_slot, 0);
    assert_eq!(ctx.margin_account(account).await.being_liquidated, 1);
}

/// The 10x long flagged by a one-lot slice at $142 (E 467.05 < M 468.60), and the keeper.
async fn flagged_at_142(ctx: &mut TestContext) -> (Trader, Keeper) {
    let alice = ten_x_long(ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 142.0).await;
    one_lot_slice(ctx, &keeper, &alice.account).await;
    (alice, keeper)
}

fn margin_to_target(health: &MaintenanceHealth) -> i128 {
    target_margin_scaled(health, default_params().liquidation_buffer).unwrap()
}

// --- 1. the liquidation episode -------------------------------------------------------------

#[tokio::test]
async fn an_episode_lapses_so_a_later_dip_above_maintenance_is_not_liquidated() {
    // SETUP: a one-lot slice at $142 flags alice; SOL recovers to $150; 1,000 slots later it dips
    // to $143.50, where she is above maintenance (but below the 1.2·M end target).
    let mut ctx = crate::standard().await;
    let (alice, keeper) = flagged_at_142(&mut ctx).await;
    ctx.set_price_usd(0, 150.0).await;
    ctx.advance(1_000, 400).await;
    ctx.set_price_usd(0, 143.5).await;
    let health = ctx.health(&alice.account).await;
    assert!(!health.is_liquidatable() && margin_to_target(&health) < 0, "{health:?}");
    let bonus_before = ctx.token_balance(&keeper.token).await;
    let base_before = ctx.margin_account(&alice.account).await.positions[0].base;

    // ACT: a keeper tries.
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: nothing was closed; the lapsed episode was ended and recorded.
    assert!(ctx.events::<LiquidationSliceV3>().is_empty());
    let ended = ctx.events::<LiquidationEpisodeEndedV2>().remove(0);
    assert_eq!(ended.margin_account, alice.account);
    assert_eq!(
        (ended.equity, ended.maintenance_requirement),
        (health.equity, health.maintenance_requirement)
    );
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!((account.being_liquidated, account.liquidation_start_slot), (0, 0));
    assert_eq!(account.positions[0].base, base_before);
    assert_eq!(ctx.token_balance(&keeper.token).await, bonus_before);
    // A second try is an ordinary refusal that changes nothing.
    assert_refused!(
        ctx,
        &[keeper.token],
        ctx.liquidate(&keeper, &alice.account, 0),
        MicroliqError::NotLiquidatable
    );
}

#[tokio::test]
async fn an_episode_ends_when_a_price_move_is_seen_at_the_target() {
    // SETUP: flagged at $142; within the episode window SOL is back at $150, far above target.
    let mut ctx = crate::standard().await;
    let (alice, keeper) = flagged_at_142(&mut ctx).await;
    ctx.set_price_usd(0, 150.0).await;

    // ACT: any liquidation attempt at $150 ends the episode (and succeeds, so the end sticks).
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    assert_eq!(ctx.events::<LiquidationEpisodeEndedV2>().len(), 1);
    assert_eq!(ctx.margin_account(&alice.account).await.being_liquidated, 0);

    // CHECK: the dip to $143.50 right after finds an account above maintenance: refused.
    ctx.set_price_usd(0, 143.5).await;
    assert_refused!(
        ctx,
        &[keeper.token],
        ctx.liquidate(&keeper, &alice.account, 0),
        MicroliqError::NotLiquidatable
    );
}

#[tokio::test]
async fn a_new_breach_after_a_lapsed_episode_starts_the_bonus_ramp_again() {
    // SETUP: flagged at $142 long ago (the 150-slot ramp would be at its maximum by now); a new
    // breach at $141.
    let mut ctx = crate::standard().await;
    let (alice, keeper) = flagged_at_142(&mut ctx).await;
    ctx.advance(1_000, 400).await;
    ctx.set_price_usd(0, 141.0).await;
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;

    // ACT
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: the bonus is the severity rate of a fresh episode, not the ramp's maximum.
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(slice.bonus_rate, plan.bonus_rate);
    assert!(slice.bonus_rate < default_params().bonus_max_rate / 2, "bonus {}", slice.bonus_rate);
    assert_eq!(slice.slot, ctx.clock().await.slot);
}

#[tokio::test]
async fn a_deposit_that_reaches_the_target_ends_the_episode() {
    // SETUP: flagged at $142; the owner deposits 400 USDC (E ≈ 867 ≥ 1.2·M ≈ 562).
    let mut ctx = crate::standard().await;
    let alice = ctx.trader_with_wallet(1_000 * USDC, 400 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 142.0).await;
    one_lot_slice(&mut ctx, &keeper, &alice.account).await;

    // ACT: the deposit passes the account's health accounts (the client always does).
    ctx.deposit(&alice, 400 * USDC).await.unwrap();

    // CHECK: the episode ended with the deposit ...
    let ended = ctx.events::<LiquidationEpisodeEnded>().remove(0);
    assert_eq!(ended.margin_account, alice.account);
    assert_eq!(ctx.margin_account(&alice.account).await.being_liquidated, 0);
    // ... so at $136.50, above maintenance but below the end target, nobody may liquidate her.
    ctx.set_price_usd(0, 136.5).await;
    let health = ctx.health(&alice.account).await;
    assert!(!health.is_liquidatable() && margin_to_target(&health) < 0, "{health:?}");
    assert_refused!(
        ctx,
        &[keeper.token],
        ctx.liquidate(&keeper, &alice.account, 0),
        MicroliqError::NotLiquidatable
    );
}

#[tokio::test]
async fn a_withdrawal_or_an_order_that_leaves_the_account_at_its_target_ends_the_episode_and_says_so() {
    for by_order in [false, true] {
        // SETUP: flagged at $142, then SOL back at $160 (E ≈ 1,650 ≥ 1.2·M ≈ 634).
        let mut ctx = crate::standard().await;
        let (alice, _keeper) = flagged_at_142(&mut ctx).await;
        ctx.set_price_usd(0, 160.0).await;

        // ACT: a withdrawal, or an order that adds a little risk (both check health).
        if by_order {
            ctx.trade(&alice, 0, SOL).await.unwrap();
        } else {
            ctx.withdraw(&alice, 100 * USDC).await.unwrap();
        }

        // CHECK: the episode is over, and the event says so (a keeper or indexer sees the end).
        let ended = ctx.events::<LiquidationEpisodeEnded>();
        assert_eq!(ended.len(), 1, "by order: {by_order}");
        assert_eq!(ended[0].margin_account, alice.account);
        assert_ne!(ended[0].episode_start_slot, 0);
        let health = ctx.health(&alice.account).await;
        assert_eq!(
            (ended[0].equity, ended[0].maintenance_requirement),
            (health.equity, health.maintenance_requirement)
        );
        assert_eq!(ctx.margin_account(&alice.account).await.being_liquidated, 0);
    }
}

// --- 2. the first LP out and a pending bankruptcy -------------------------------------------

#[tokio::test]
async fn the_first_lp_out_does_not_escape_a_pending_bankruptcy() {
    // SETUP: two LPs with 10,000 shares each, no insurance; alice gaps to E = −984.95 before any
    // keeper acts.
    let mut ctx =
        crate::builder().with_market(MarketSpec::sol()).with_pool_liquidity(10_000 * USDC).build().await;
    let lp1 = ctx.lp.take().unwrap();
    let lp2 = ctx.liquidity_provider(10_000 * USDC).await;
    ctx.deposit_liquidity(&lp2, 10_000 * USDC).await.unwrap();
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 120.0).await;
    assert_eq!(ctx.health(&alice.account).await.equity, -984_950_000);

    // ACT: LP1 leaves first; then the keeper closes alice and her deficit is socialized; LP2
    // leaves.
    ctx.withdraw_liquidity(&lp1, 10_000 * USDC).await.unwrap();
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    ctx.withdraw_liquidity(&lp2, 10_000 * USDC).await.unwrap();

    // CHECK: LP1 was paid half the pool without alice's loss (20,004.95 / 2), never a share of a
    // loss that could not be collected; LP2 got the rest, including the 995.05 collected.
    let (paid1, paid2) = (ctx.token_balance(&lp1.token).await, ctx.token_balance(&lp2.token).await);
    assert_eq!(paid1, 10_002_475_000);
    assert_eq!(paid2, 10_997_525_000);
    let fair_share = (20_004_950_000 + 995_050_000) / 2;
    assert!(paid1 <= fair_share && paid1 < paid2);
    assert_eq!(ctx.exchange().await.pool_balance, 0);
}

// --- 3. a realized deficit -----------------------------------------------------------------

#[tokio::test]
async fn an_lp_cannot_withdraw_a_realized_deficit_and_the_pool_never_goes_negative() {
    // SETUP: bob holds 5,000 USDC of collateral and never trades; alice gaps to $120 and closes
    // her own position at collateral −988.91 (995.05 − 1,980 − fee 3.96). No insurance.
    let mut ctx =
        crate::builder().with_market(MarketSpec::sol()).with_pool_liquidity(10_000 * USDC).build().await;
    let lp = ctx.lp.take().unwrap();
    let bob = ctx.trader(5_000 * USDC).await;
    let alice = ten_x_long(&mut ctx).await;
    ctx.set_price_usd(0, 120.0).await;
    ctx.trade(&alice, 0, -66 * SOL).await.unwrap();
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, -988_910_000);
    assert_eq!(ctx.exchange().await.negative_collateral, 988_910_000);

    // ACT + CHECK: no new LP buys into the hole ...
    let newcomer = ctx.liquidity_provider(1_000 * USDC).await;
    let keys = [newcomer.token, newcomer.shares];
    assert_refused!(
        ctx,
        &keys,
        ctx.deposit_liquidity(&newcomer, 1_000 * USDC),
        MicroliqError::UnresolvedDeficit
    );
    // ... and no LP leaves while the deficit is neither resolved nor covered by insurance.
    let keys = [lp.token, lp.shares];
    assert_refused!(ctx, &keys, ctx.withdraw_liquidity(&lp, 10_000 * USDC), MicroliqError::UnresolvedDeficit);
    // Anyone resolves it: the pool absorbs the 988.91 it had been credited.
    let resolve = ix::ResolveBankruptcy { caller: bob.owner.pubkey(), margin_account: alice.account }
        .instruction(&ctx.ex);
    ctx.send(&[resolve], &[&bob.owner]).await.unwrap();
    // The only LP is paid the pool: 11,988.91 − 988.91, and the pool ends at 0, not below.
    ctx.withdraw_liquidity(&lp, 10_000 * USDC).await.unwrap();
    assert_eq!(ctx.token_balance(&lp.token).await, 11_000 * USDC);
    let exchange = ctx.exchange().await;
    assert_eq!((exchange.pool_balance, exchange.total_socialized_loss), (0, 988_910_000));
    // Bob, who never traded, withdraws everything.
    ctx.withdraw(&bob, 5_000 * USDC).await.unwrap();
    assert_eq!(ctx.token_balance(&bob.token).await, 5_000 * USDC);
    // A new LP now gets back what it puts in.
    ctx.deposit_liquidity(&newcomer, 1_000 * USDC).await.unwrap();
    ctx.withdraw_liquidity(&newcomer, 1_000 * USDC).await.unwrap();
    assert_eq!(ctx.token_balance(&newcomer.token).await, 1_000 * USDC);
}

// --- 4. the insolvent remainder -------------------------------------------------------------

#[tokio::test]
async fn a_slice_that_takes_all_equity_closes_the_whole_position() {
    // SETUP: at $135 alice has E = 5.05 on 66 SOL; the close factor is 50 %.
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 135.0).await;
    assert_eq!(ctx.health(&alice.account).await.equity, 5_050_000);

    // ACT
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: all 66 SOL closed at once (code 4), the keeper paid the 5.05 left; no remainder
    // sits at zero equity waiting for a keeper nobody pays.
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!((slice.whole_close, slice.base_closed, slice.remaining_base), (4, 66 * SOL as u64, 0));
    assert_eq!(slice.keeper_bonus + slice.insurance_fee, 5_050_000);
    assert_eq!(ctx.token_balance(&keeper.token).await, slice.keeper_bonus);
    assert_eq!(slice.equity_after, 0);
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 0);
}

#[tokio::test]
async fn an_insolvent_remainder_pays_the_keeper_a_reward_bounded_by_its_size() {
    // SETUP: a tiny account (2 USDC, 0.05 SOL) gapped to $100: E < 0, nothing for a penalty.
    let mut ctx = crate::standard().await;
    let tiny = ctx.trader(2 * USDC).await;
    ctx.trade(&tiny, 0, SOL / 20).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 100.0).await;
    let fund_before = ctx.insurance_fund().await.balance;

    // ACT
    ctx.liquidate(&keeper, &tiny.account, 0).await.unwrap();

    // CHECK: the reward is 5 notional · 5 % = 0.25 USDC, below the 1 USDC cap: closing tiny
    // insolvent accounts cannot drain the fund faster than their owners lose.
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!((slice.whole_close, slice.keeper_bonus, slice.insolvent_reward), (2, 0, 250_000));
    assert_eq!(ctx.token_balance(&keeper.token).await, 250_000);
    let fund = ctx.insurance_fund().await;
    assert_eq!(fund.total_keeper_rewards, 250_000);
    assert_eq!(fund.balance, fund_before - 250_000 - slice.insurance_draw);
}

// --- 5. lot changes -------------------------------------------------------------------------

#[tokio::test]
async fn a_lot_change_leaves_every_position_closable() {
    // SETUP: alice holds 1.001 SOL; the admin doubles the lot to 0.002 SOL.
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 1_001_000_000).await.unwrap();
    let params = MarketParams { base_lot_size: 2_000_000, ..default_params() };
    let update = ix::UpdateMarket { admin: ctx.admin.pubkey(), market: ctx.markets[0].market, params }
        .instruction(&ctx.ex);
    ctx.admin_send(update).await.unwrap();

    // ACT + CHECK: an off-lot partial close is refused, the exact close is not.
    let keys = [alice.token];
    assert_refused!(ctx, &keys, ctx.trade(&alice, 0, -1_000_000), MicroliqError::NotLotMultiple);
    ctx.trade(&alice, 0, -1_001_000_000).await.unwrap();
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!(account.open_position_count(), 0);
    assert_eq!(ctx.market(0).await.long_base, 0);
}

// --- 6. ledger range ------------------------------------------------------------------------

#[tokio::test]
async fn a_quote_mint_with_more_than_nine_decimals_is_refused() {
    // 12 decimals would cap every i64 ledger at 9.2 million units: positions of ~$18M notional
    // could no longer be liquidated.
    let mut ctx = crate::builder().with_quote_decimals(12).start().await;
    let init = ix::InitializeExchange {
        admin: ctx.admin.pubkey(),
        pyth_program: PYTH_PROGRAM,
        insurance_cap_per_event: 0,
    }
    .instruction(&ctx.ex);
    let admin = ctx.admin.insecure_clone();
    let before = ctx.snapshot(&[ctx.ex.exchange, ctx.admin.pubkey()]).await;
    assert_error(ctx.send(&[init], &[&admin]).await, MicroliqError::UnsupportedDecimals);
    before.assert_unchanged(&ctx.snapshot(&[ctx.ex.exchange, ctx.admin.pubkey()]).await);
    // Nine decimals are fine.
    let mut ctx = crate::builder().with_quote_decimals(9).start().await;
    let init = ix::InitializeExchange {
        admin: ctx.admin.pubkey(),
        pyth_program: PYTH_PROGRAM,
        insurance_cap_per_event: 0,
    }
    .instruction(&ctx.ex);
    let admin = ctx.admin.insecure_clone();
    ctx.send(&[init], &[&admin]).await.unwrap();
    assert_eq!(ctx.exchange().await.quote_decimals, 9);
}

#[tokio::test]
async fn a_position_larger_than_one_call_can_take_is_closed_over_several_calls() {
    // SETUP: a 9-decimal quote; a 40M SOL short at $150 (6.0e18 quote atoms of notional)
    // gapped to $170, where its notional (6.8e18) exceeds MAX_SLICE_NOTIONAL (2^62 ≈ 4.6e18)
    // and its equity is negative.
    const UNIT: u64 = 1_000_000_000;
    let params = MarketParams { max_open_interest: 100_000_000 * SOL as u64, ..default_params() };
    let mut ctx = crate::builder()
        .with_quote_decimals(9)
        .with_market(MarketSpec::sol().with_params(params))
        .with_pool_liquidity(1_000_000_000 * UNIT)
        .with_insurance(1_000_000 * UNIT)
        .build()
        .await;
    let whale = ctx.trader(700_000_000 * UNIT).await;
    ctx.trade(&whale, 0, -40_000_000 * SOL).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 170.0).await;
    assert!(ctx.health(&whale.account).await.equity < 0);

    // ACT: liquidate until the position is gone.
    let mut slices = Vec::new();
    while ctx.margin_account(&whale.account).await.open_position_count() > 0 {
        ctx.liquidate(&keeper, &whale.account, 0).await.unwrap();
        slices.push(ctx.events::<LiquidationSliceV3>().remove(0));
        assert!(slices.len() <= 3);
    }

    // CHECK: two calls, the first capped at 2^62 of notional, each an insolvent whole close
    // paying the 1-unit reward; the deficit was resolved with the second.
    assert_eq!(slices.len(), 2);
    let first = &slices[0];
    assert_eq!(first.whole_close, 2);
    assert!(first.base_closed as u128 * 170 <= microliq::math::MAX_SLICE_NOTIONAL);
    assert!(first.base_closed as u128 * 170 > microliq::math::MAX_SLICE_NOTIONAL - 170 * 1_000_000);
    assert!(slices.iter().all(|s| s.insolvent_reward == UNIT));
    assert!(slices[1].bankrupt && !first.bankrupt);
    assert_eq!(ctx.margin_account(&whale.account).await.collateral, 0);
    assert!(ctx.exchange().await.pool_balance >= 0);
}

// --- 7. remaining accounts ------------------------------------------------------------------

#[tokio::test]
async fn remaining_accounts_errors_name_the_real_mistake() {
    // SETUP: alice holds BTC (1) and SOL-2 (2); an order in SOL (0) must pass [BTC, SOL-2].
    let mut ctx = crate::standard().await;
    let third = ctx.add_market(MarketSpec::sol()).await;
    let alice = ctx.trader(10_000 * USDC).await;
    ctx.trade(&alice, 1, 10_000_000).await.unwrap();
    ctx.trade(&alice, 2, SOL).await.unwrap();
    let (sol, btc, sol2) = (ctx.markets[0].pair(), ctx.markets[1].pair(), third.pair());
    let keys = [alice.token];
    let cases = [
        // The first needed market left out: missing, not "out of order".
        (vec![sol2], MicroliqError::HealthAccountsMissing),
        // The order's own market repeated: a named error, not a failed borrow.
        (vec![sol, btc, sol2], MicroliqError::HealthAccountsRepeatNamedMarket),
        (vec![btc, sol, sol2], MicroliqError::HealthAccountsRepeatNamedMarket),
        (vec![sol2, btc], MicroliqError::HealthAccountsOutOfOrder),
    ];
    for (pairs, expected) in cases {
        let mut order = ctx.order(&alice, 0, SOL).await;
        order.health_accounts = pairs;
        let instruction = order.instruction(&ctx.ex);
        let before = ctx.snapshot_with(&keys).await;
        assert_error(ctx.send(&[instruction], &[&alice.owner]).await, expected);
        before.assert_unchanged(&ctx.snapshot_with(&keys).await);
    }
    // The same for a keeper's liquidate.
    ctx.set_price_usd(1, 20_000.0).await;
    let keeper = ctx.keeper().await;
    let mut liquidation = ctx.liquidation(&keeper, &alice.account, 1).await;
    liquidation.health_accounts = vec![btc, sol2];
    let instruction = liquidation.instruction(&ctx.ex);
    let before = ctx.snapshot_with(&[keeper.token]).await;
    assert_error(
        ctx.send(&[instruction], &[&keeper.owner]).await,
        MicroliqError::HealthAccountsRepeatNamedMarket,
    );
    before.assert_unchanged(&ctx.snapshot_with(&[keeper.token]).await);
}

// --- found by the hostile review of the fixes ---------------------------------------------

#[tokio::test]
async fn naming_a_low_buffer_market_does_not_end_an_episode() {
    // SETUP: BTC's β is 0, SOL's 20 %. Alice holds 66 SOL and 0.001 BTC; a one-lot SOL slice at
    // $140 flags her; at $141 she is above maintenance but below the account's 1.2·M target.
    let mut ctx = crate::standard().await;
    let btc_params = MarketParams {
        liquidation_buffer: 0,
        base_lot_size: 10_000,
        max_open_interest: 1_000 * 100_000_000,
        ..default_params()
    };
    let update =
        ix::UpdateMarket { admin: ctx.admin.pubkey(), market: ctx.markets[1].market, params: btc_params }
            .instruction(&ctx.ex);
    ctx.admin_send(update).await.unwrap();
    let alice = ctx.trader(1_100 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.trade(&alice, 1, 100_000).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 140.0).await;
    one_lot_slice(&mut ctx, &keeper, &alice.account).await;
    ctx.set_price_usd(0, 141.0).await;
    let health = ctx.health(&alice.account).await;
    assert!(!health.is_liquidatable() && margin_to_target(&health) < 0, "{health:?}");

    // ACT: a liquidation naming BTC.
    ctx.liquidate(&keeper, &alice.account, 1).await.unwrap();

    // CHECK: it sliced BTC against the account's 20 % target instead of ending the episode,
    // and the SOL liquidation still goes through.
    assert!(ctx.events::<LiquidationEpisodeEndedV2>().is_empty());
    let btc_slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!((btc_slice.market_index, btc_slice.liquidation_buffer), (1, 200_000));
    assert_eq!(ctx.margin_account(&alice.account).await.being_liquidated, 1);
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    assert_eq!(ctx.events::<LiquidationSliceV3>().remove(0).market_index, 0);
}

#[tokio::test]
async fn a_withdrawal_below_a_large_buffer_target_does_not_end_the_episode() {
    // SETUP: β = 140 % (the target 2.4·M = 12 % of notional sits above 10 % initial margin);
    // flagged at $142, SOL back at $151: initial health passes, the end target does not.
    let params = MarketParams { liquidation_buffer: 1_400_000, ..default_params() };
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_params(params))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let (alice, keeper) = flagged_at_142(&mut ctx).await;
    ctx.set_price_usd(0, 151.0).await;

    // ACT: the owner withdraws one atom (it passes the initial-margin check).
    ctx.withdraw(&alice, 1).await.unwrap();

    // CHECK: still flagged, and a keeper may continue the episode.
    assert_eq!(ctx.margin_account(&alice.account).await.being_liquidated, 1);
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert!(slice.base_closed > 0 && slice.equity_before >= slice.maintenance_before as i128);
}

#[tokio::test]
async fn pool_shares_cannot_be_inflated_to_round_a_deposit_away() {
    // SETUP: a pool emptied by its only LP while traders still hold positions.
    let mut ctx =
        crate::builder().with_market(MarketSpec::sol()).with_pool_liquidity(10_000 * USDC).build().await;
    let lp = ctx.lp.take().unwrap();
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    ctx.set_price_usd(0, 160.0).await;

    // ACT + CHECK: withdrawing all but a dust of shares is refused ...
    let keys = [lp.token, lp.shares];
    assert_refused!(
        ctx,
        &keys,
        ctx.withdraw_liquidity(&lp, 10_000 * USDC - 1),
        MicroliqError::PoolSharesDust
    );
    // ... and so is a slippage guard that is not met.
    let mut withdraw = ix::WithdrawLiquidity {
        provider: lp.owner.pubkey(),
        provider_token: lp.token,
        provider_shares: lp.shares,
        shares: 10_000 * USDC,
        min_amount: 10_000 * USDC,
        all_markets: ctx.all_market_pairs(),
    };
    let instruction = withdraw.instruction(&ctx.ex);
    assert_refused!(ctx, &keys, ctx.send(&[instruction], &[&lp.owner]), MicroliqError::SlippageExceeded);
    withdraw.min_amount = 0;
    let instruction = withdraw.instruction(&ctx.ex);
    ctx.send(&[instruction], &[&lp.owner]).await.unwrap();
    assert_eq!(ctx.mint_supply(&ctx.ex.lp_mint.clone()).await, 0);

    // A 1-atom "sniper" deposit into the empty pool is refused; a real first deposit mints 1:1.
    let sniper = ctx.liquidity_provider(USDC).await;
    let keys = [sniper.token, sniper.shares];
    assert_refused!(ctx, &keys, ctx.deposit_liquidity(&sniper, 1), MicroliqError::PoolDepositTooSmall);
    ctx.deposit_liquidity(&sniper, USDC).await.unwrap();
    assert_eq!(ctx.token_balance(&sniper.shares).await, USDC);
    // A victim's deposit now loses at most one share atom to rounding, and can demand a minimum.
    let victim = ctx.liquidity_provider(150 * USDC).await;
    let deposit = ix::DepositLiquidity {
        provider: victim.owner.pubkey(),
        provider_token: victim.token,
        provider_shares: victim.shares,
        amount: 150 * USDC,
        min_shares: u64::MAX,
        all_markets: ctx.all_market_pairs(),
    }
    .instruction(&ctx.ex);
    let keys = [victim.token, victim.shares];
    assert_refused!(ctx, &keys, ctx.send(&[deposit], &[&victim.owner]), MicroliqError::SlippageExceeded);
    ctx.deposit_liquidity(&victim, 150 * USDC).await.unwrap();
    let shares = ctx.token_balance(&victim.shares).await;
    ctx.withdraw_liquidity(&victim, shares).await.unwrap();
    // What the pool held before her (≈ 100 USDC owed to alice + fees) is not hers, nor is hers
    // anyone else's: she gets back 150 USDC less at most a share atom's worth of rounding.
    let back = ctx.token_balance(&victim.token).await;
    assert!(back <= 150 * USDC && back + 200 >= 150 * USDC, "got {back}");
}

#[tokio::test]
async fn one_call_closes_every_losing_position_of_an_insolvent_account() {
    // SETUP: alice holds 66 SOL and 0.1 BTC long on 2,000 USDC; SOL gaps to $120 and BTC to
    // $54,000: E ≈ 1,992.05 − 1,980 − 600 < 0.
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(2_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.trade(&alice, 1, 10_000_000).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 120.0).await;
    ctx.set_price_usd(1, 54_000.0).await;
    let health = ctx.health(&alice.account).await;
    assert!(health.equity < 0);

    // ACT: one keeper call naming SOL (BTC passed writable, as the client does).
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: both positions closed, SOL's event first; one reward each; the deficit resolved.
    let slices = ctx.events::<LiquidationSliceV3>();
    assert_eq!(slices.len(), 2);
    assert_eq!((slices[0].market_index, slices[1].market_index), (0, 1));
    assert!(slices.iter().all(|s| s.whole_close == 2 && s.remaining_base == 0 && s.insolvent_reward == USDC));
    assert_eq!(slices[1].base_closed, 10_000_000);
    assert_eq!(slices[1].realized_pnl, -600 * USDC as i64);
    assert_eq!(slices[1].maintenance_after, 0);
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!((account.open_position_count(), account.collateral), (0, 0));
    assert_eq!(ctx.token_balance(&keeper.token).await, 2 * USDC);
    assert_eq!(ctx.market(1).await.long_base, 0);
    assert_eq!(ctx.exchange().await.negative_collateral, 0);
    assert_eq!(ctx.insurance_fund().await.total_keeper_rewards, 2 * USDC);
}

#[tokio::test]
async fn other_markets_passed_read_only_stay_open() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(2_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.trade(&alice, 1, 10_000_000).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 120.0).await;
    ctx.set_price_usd(1, 54_000.0).await;
    let mut instruction = ctx.liquidation(&keeper, &alice.account, 0).await.instruction(&ctx.ex);
    let count = instruction.accounts.len();
    instruction.accounts[count - 2].is_writable = false;

    ctx.send(&[instruction], &[&keeper.owner]).await.unwrap();

    // Only SOL closed; BTC waits for the next call, which closes it as insolvent too.
    assert_eq!(ctx.events::<LiquidationSliceV3>().len(), 1);
    assert_eq!(ctx.margin_account(&alice.account).await.open_position_count(), 1);
    ctx.liquidate(&keeper, &alice.account, 1).await.unwrap();
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert!(slice.bankrupt && slice.whole_close == 2);
}

#[tokio::test]
async fn the_whole_account_close_skips_a_market_whose_liquidations_are_paused() {
    // SETUP: the insolvent account of the test above; the admin pauses liquidations in BTC.
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(2_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.trade(&alice, 1, 10_000_000).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 120.0).await;
    ctx.set_price_usd(1, 54_000.0).await;
    let pause = ix::SetPause {
        admin: ctx.admin.pubkey(),
        market: Some(ctx.markets[1].market),
        paused: microliq::state::pause::LIQUIDATE,
    }
    .instruction(&ctx.ex);
    ctx.admin_send(pause).await.unwrap();

    // ACT: a keeper names SOL.
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: SOL closed; BTC untouched.
    assert_eq!(ctx.events::<LiquidationSliceV3>().len(), 1);
    assert_eq!(ctx.market(1).await.long_base, 10_000_000);
    assert_eq!(ctx.margin_account(&alice.account).await.open_position_count(), 1);
}
