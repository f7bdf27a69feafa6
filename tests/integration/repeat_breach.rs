//! Repeat breaches (issue 11): an account that falls below maintenance again within the
//! exchange's `repeat_liquidation_window_slots` of its last recovery (its previous episode ended
//! at its target) has its losing position closed whole, at the bonus the ramp gives, instead of
//! being sliced again (docs/LIQUIDATION.md).

use microliq::error::MicroliqError;
use microliq::events::{LiquidationSliceV3, RepeatLiquidationWindowSet};
use microliq::math::WholeClose;
use microliq::state::{exchange_bounds, FundingConfig, MarketParams};
use microliq_tests::*;
use pyth_solana_receiver_sdk::price_update::VerificationLevel;
use solana_sdk::signature::{Keypair, Signer};

/// One day of slots at 400 ms.
const DAY_SLOTS: u64 = 216_000;

/// Alice's 10x long sliced once at $142 (back at her target, episode over: a recovery);
/// returns the slot of that slice.
async fn sliced_once(ctx: &mut TestContext, alice: &Trader, keeper: &Keeper) -> u64 {
    ctx.set_price_usd(0, 142.0).await;
    ctx.liquidate(keeper, &alice.account, 0).await.unwrap();
    let first = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(first.whole_close, 0, "the first breach is sliced");
    assert!(first.remaining_base > 0);
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!(account.being_liquidated, 0, "at its target: the episode is over");
    assert_eq!(account.last_recovery_slot, first.slot, "a slice that reached the target is a recovery");
    first.slot
}

/// A standard exchange with a one-day window and alice's 10x long, and a keeper.
async fn with_one_day_window() -> (TestContext, Trader, Keeper) {
    let mut ctx = crate::standard().await;
    ctx.set_repeat_liquidation_window(DAY_SLOTS).await.unwrap();
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    (ctx, alice, keeper)
}

/// At $142 a keeper takes a hundredth of a SOL, far short of the exact slice, and walks away:
/// the account stays below its target (flagged) until the episode lapses.
async fn sliced_a_hundredth_and_left(ctx: &mut TestContext, alice: &Trader, keeper: &Keeper) {
    ctx.set_price_usd(0, 142.0).await;
    let mut liquidate = ctx.liquidation(keeper, &alice.account, 0).await;
    liquidate.max_base = SOL as u64 / 100;
    let instruction = liquidate.instruction(&ctx.ex);
    ctx.send(&[instruction], &[&keeper.owner]).await.unwrap();
}

#[tokio::test]
async fn a_second_breach_within_the_window_closes_the_position_whole() {
    // SETUP: a one-day window; alice is sliced at $142, then SOL falls to $139 an hour later
    // (9,000 slots), below maintenance again.
    let (mut ctx, alice, keeper) = with_one_day_window().await;
    sliced_once(&mut ctx, &alice, &keeper).await;
    let bonus_before = ctx.token_balance(&keeper.token).await;
    ctx.advance(9_000, 3_600).await;
    ctx.set_price_usd(0, 139.0).await;
    let health = ctx.health(&alice.account).await;
    assert!(health.is_liquidatable());
    let remaining = ctx.margin_account(&alice.account).await.positions[0].base;
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, Some(WholeClose::Repeat));
    let fund_before = ctx.insurance_fund().await.balance;
    let pool_before = ctx.exchange().await.pool_balance;

    // ACT
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: the whole remainder closed in one call (the close factor does not apply), at the
    // planned bonus, and she keeps what is left of her equity.
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(e.whole_close, WholeClose::code(Some(WholeClose::Repeat)));
    assert_eq!(e.whole_close, 5);
    assert_eq!(e.base_closed as i64, remaining);
    assert_eq!(e.remaining_base, 0);
    assert_eq!(e.exact_slice as i64, remaining);
    assert_eq!(e.bonus_rate, plan.bonus_rate);
    assert_eq!(
        (e.keeper_bonus as u128, e.insurance_fee as u128),
        (plan.outcome.keeper_bonus, plan.outcome.insurance_fee)
    );
    assert_eq!(e.equity_after, plan.outcome.health_after.equity);
    assert!(e.equity_after > 0, "a repeat close never takes more than the equity left");
    assert_eq!(e.maintenance_after, 0);
    assert!(!e.bankrupt);
    assert_eq!(ctx.token_balance(&keeper.token).await, bonus_before + e.keeper_bonus);
    assert_eq!(ctx.insurance_fund().await.balance, fund_before + e.insurance_fee);
    // An hour of funding settled first (she pays it to the pool).
    assert!(e.funding_settled < 0);
    assert_eq!(ctx.exchange().await.pool_balance, pool_before - e.realized_pnl - e.funding_settled);
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!(account.positions[0].base, 0);
    assert_eq!(account.collateral as i128, plan.outcome.collateral_after);
    assert_eq!(account.collateral as i128, e.equity_after);
    assert_eq!(account.being_liquidated, 0);
    assert_eq!((account.last_recovery_slot, account.last_recovery_time), (0, 0), "flat: nothing to repeat");
    assert_eq!(ctx.market(0).await.long_base, 0);
}

#[tokio::test]
async fn a_breach_after_the_window_is_sliced_again_and_the_window_is_inclusive() {
    // SETUP: a 100-slot window.
    let mut ctx = crate::standard().await;
    ctx.set_repeat_liquidation_window(100).await.unwrap();
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    let first_slot = sliced_once(&mut ctx, &alice, &keeper).await;

    // CHECK: exactly 100 slots after the slice it is still a repeat …
    let now = ctx.clock().await.slot;
    ctx.advance(first_slot + 100 - now, 40).await;
    ctx.set_price_usd(0, 139.0).await;
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, Some(WholeClose::Repeat));
    // … one slot later it is a new first breach: sliced.
    ctx.advance(1, 1).await;
    ctx.set_price_usd(0, 139.0).await;
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, None);
    let remaining = ctx.margin_account(&alice.account).await.positions[0].base;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(e.whole_close, 0);
    assert_eq!(e.base_closed, plan.outcome.closed_base);
    assert!((e.base_closed as i64) < remaining && e.remaining_base > 0);
}

#[tokio::test]
async fn an_episode_left_to_lapse_below_its_target_makes_no_repeat() {
    // SETUP: a one-day window. A keeper takes one lot at $142 and walks away: the account stays
    // below its target (flagged) until the episode lapses 150 slots later.
    let (mut ctx, alice, keeper) = with_one_day_window().await;
    sliced_a_hundredth_and_left(&mut ctx, &alice, &keeper).await;
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!((account.being_liquidated, account.last_recovery_slot), (1, 0));
    ctx.advance(151, 61).await;
    ctx.set_price_usd(0, 142.0).await;

    // CHECK: the next call starts a new episode, which is no repeat: it is sliced, not closed.
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, None);
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(e.whole_close, 0);
    assert!(e.remaining_base > 0);
    assert_eq!(e.base_closed, plan.outcome.closed_base);
}

#[tokio::test]
async fn window_zero_slices_every_breach() {
    let mut ctx = crate::standard().await;
    ctx.set_repeat_liquidation_window(0).await.unwrap();
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    sliced_once(&mut ctx, &alice, &keeper).await;
    ctx.advance(10, 4).await;
    ctx.set_price_usd(0, 139.0).await;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(e.whole_close, 0);
    assert!(e.remaining_base > 0);
}

#[tokio::test]
async fn the_first_episode_stays_sliced_however_many_calls_it_takes() {
    // SETUP: a 10 % close factor and a drop to $140 (E = 335.05, M = 462): the first episode
    // takes several capped slices, all within the window. They are one episode, not repeats.
    let params = MarketParams { close_factor: 100_000, ..default_params() };
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_params(params))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    ctx.set_repeat_liquidation_window(DAY_SLOTS).await.unwrap();
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 140.0).await;

    // ACT: liquidate until the episode ends.
    let mut slices = Vec::new();
    while ctx.liquidate(&keeper, &alice.account, 0).await.is_ok() {
        if let Some(event) = ctx.events::<LiquidationSliceV3>().pop() {
            slices.push(event);
        }
        ctx.advance(1, 1).await;
        ctx.set_price_usd(0, 140.0).await;
        assert!(slices.len() < 50);
    }

    // CHECK: several slices, none whole; most of the position survives.
    assert!(slices.len() >= 3, "{} slices", slices.len());
    assert!(slices.iter().all(|s| s.whole_close == 0));
    assert!(ctx.margin_account(&alice.account).await.positions[0].base > 0);
    // Then a new breach inside the window is a repeat.
    ctx.set_price_usd(0, 137.0).await;
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, Some(WholeClose::Repeat));
}

#[tokio::test]
async fn only_the_admin_sets_the_window_within_its_bound() {
    let mut ctx = crate::builder().build().await;
    let mallory = Keypair::new();
    ctx.fund(&mallory.pubkey(), 1_000_000_000).await;

    // A stranger: NotAdmin, nothing changes.
    let stranger =
        ix::SetRepeatLiquidationWindow { admin: mallory.pubkey(), window_slots: 1 }.instruction(&ctx.ex);
    let before = ctx.snapshot_with(&[]).await;
    assert_error(ctx.send(&[stranger], &[&mallory]).await, MicroliqError::NotAdmin);
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);

    // Above ~30 days: refused, nothing changes.
    let before = ctx.snapshot_with(&[]).await;
    assert_error(
        ctx.set_repeat_liquidation_window(exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX + 1).await,
        MicroliqError::ExchangeParameterOutOfBounds,
    );
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);

    // The admin: stored, and the event carries the old and new windows.
    let previous = ctx.exchange().await.repeat_liquidation_window_slots;
    assert_eq!(previous, exchange_bounds::DEFAULT_REPEAT_LIQUIDATION_WINDOW_SLOTS);
    ctx.set_repeat_liquidation_window(exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX).await.unwrap();
    assert_eq!(
        ctx.events::<RepeatLiquidationWindowSet>(),
        vec![RepeatLiquidationWindowSet {
            exchange: ctx.ex.exchange,
            previous_window_slots: previous,
            window_slots: exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX,
        }]
    );
    assert_eq!(
        ctx.exchange().await.repeat_liquidation_window_slots,
        exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX
    );
}

// --- The hostile review's cases (each once showed the problem; now each guards against it) ----

/// Liquidates `market` of `account` until the program refuses; returns the slice events.
async fn liquidate_until_refused(
    ctx: &mut TestContext,
    keeper: &Keeper,
    account: &solana_sdk::pubkey::Pubkey,
    market: u16,
) -> Vec<LiquidationSliceV3> {
    let mut slices = Vec::new();
    while ctx.liquidate(keeper, account, market).await.is_ok() {
        slices.extend(ctx.events::<LiquidationSliceV3>());
        assert!(slices.len() < 50);
    }
    slices
}

#[tokio::test]
async fn a_repeat_closes_the_losing_position_whole_and_only_slices_a_winner() {
    // SETUP: 66 SOL and 0.15 BTC long on 2,000 USDC. BTC rises to $61,000 (in profit), SOL
    // falls to $131 and is sliced back to the target (a recovery); a minute later SOL is at $126.
    let mut ctx = crate::standard().await;
    ctx.set_repeat_liquidation_window(DAY_SLOTS).await.unwrap();
    let alice = ctx.trader(2_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.trade(&alice, 1, 15_000_000).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(1, 61_000.0).await;
    ctx.set_price_usd(0, 131.0).await;
    let first = liquidate_until_refused(&mut ctx, &keeper, &alice.account, 0).await;
    assert!(!first.is_empty() && first.iter().all(|e| e.whole_close == 0));
    assert_eq!(ctx.margin_account(&alice.account).await.last_recovery_slot, first.last().unwrap().slot);
    ctx.advance(200, 80).await;
    ctx.set_price_usd(1, 61_000.0).await;
    ctx.set_price_usd(0, 126.0).await;
    assert!(ctx.health(&alice.account).await.is_liquidatable());

    // CHECK: naming the winner (BTC) slices it like any breach; naming the loser (SOL) closes it
    // whole.
    let btc = ctx.expected_liquidation(&alice.account, 1, u64::MAX).await;
    assert_eq!(btc.whole_close, None, "a winner is never closed whole by a repeat");
    assert!((btc.outcome.closed_base as i64) < 15_000_000);
    let sol = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(sol.whole_close, Some(WholeClose::Repeat));
    // (The reference keeper's choice: app/keeper/tests/keeper.rs,
    // `keeper_names_the_losing_position_in_a_repeat`.)
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!((e.whole_close, e.remaining_base), (5, 0));
    assert!(ctx
        .margin_account(&alice.account)
        .await
        .positions
        .iter()
        .any(|p| p.market_index == 1 && p.base > 0));
}

#[tokio::test]
async fn no_repeat_on_prices_published_before_the_recovery() {
    // SETUP: sliced at $142 (a recovery at the clock's time T); in the same second a $139 price
    // is published (a lagging or older update).
    let (mut ctx, alice, keeper) = with_one_day_window().await;
    sliced_once(&mut ctx, &alice, &keeper).await;
    let recovery_time = ctx.margin_account(&alice.account).await.last_recovery_time;
    assert_eq!(recovery_time, ctx.clock().await.unix_timestamp);
    ctx.advance(2, 0).await;
    ctx.set_price_usd(0, 139.0).await;

    // CHECK: a breach judged on a price no newer than the recovery is an ordinary one: sliced.
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, None);
    // One second later, a fresh price makes the same breach a repeat.
    ctx.advance(1, 1).await;
    ctx.set_price_usd(0, 139.0).await;
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, Some(WholeClose::Repeat));
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    assert_eq!(ctx.events::<LiquidationSliceV3>().remove(0).whole_close, 5);
}

#[tokio::test]
async fn a_lapsed_episode_found_at_its_target_later_records_no_recovery() {
    // SETUP: a keeper takes a hundredth of a SOL at $142 and walks away; three days later SOL is
    // back at $150 (the account at its target) and a keeper calls `liquidate`.
    let (mut ctx, alice, keeper) = with_one_day_window().await;
    sliced_a_hundredth_and_left(&mut ctx, &alice, &keeper).await;
    ctx.advance(3 * DAY_SLOTS, 3 * 86_400).await;
    ctx.set_price_usd(0, 150.0).await;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap(); // ends the (lapsed) episode

    // CHECK: no recovery recorded, so the next breach is sliced.
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!((account.being_liquidated, account.last_recovery_slot), (0, 0));
    ctx.advance(100, 40).await;
    ctx.set_price_usd(0, 142.0).await;
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, None);
}

#[tokio::test]
async fn a_flat_account_starts_afresh() {
    // SETUP: sliced once (a recovery), then alice closes the rest herself and opens a new long.
    let (mut ctx, alice, keeper) = with_one_day_window().await;
    sliced_once(&mut ctx, &alice, &keeper).await;
    let remaining = ctx.margin_account(&alice.account).await.positions[0].base;
    ctx.trade(&alice, 0, -remaining).await.unwrap();
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!((account.last_recovery_slot, account.last_recovery_time), (0, 0), "flat: forgotten");
    ctx.trade(&alice, 0, 20 * SOL).await.unwrap();

    // CHECK: the new position's first breach within the day is sliced, not closed whole.
    ctx.advance(100, 40).await;
    ctx.set_price_usd(0, 125.0).await;
    assert!(ctx.health(&alice.account).await.is_liquidatable());
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, None);
}

// --- The second hostile review's cases -------------------------------------------------------

/// A publisher's clock may run ahead of the cluster's (the program accepts a `publish_time`
/// after the clock). Two updates of a pull market's window then both look "newer" than a
/// recovery stamped with the clock: the recovery is stamped with the newest price read instead.
#[tokio::test]
async fn no_recovery_then_repeat_in_one_transaction_even_when_prices_lead_the_clock() {
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().pull())
        .with_market(MarketSpec::btc())
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    ctx.set_repeat_liquidation_window(DAY_SLOTS).await.unwrap();
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    let now = ctx.clock().await.unix_timestamp;
    // The clock lags the publishers by 5 s: $139 published at now + 2, $142 at now + 4.
    let older = ctx
        .post_price_update(
            0,
            PythPrice { publish_time: now + 2, ..PythPrice::usd(139.0) },
            VerificationLevel::Full,
        )
        .await;
    let newer = ctx
        .post_price_update(
            0,
            PythPrice { publish_time: now + 4, ..PythPrice::usd(142.0) },
            VerificationLevel::Full,
        )
        .await;

    let mut first = ctx.liquidation(&keeper, &alice.account, 0).await;
    first.oracle = newer;
    let mut second = ctx.liquidation(&keeper, &alice.account, 0).await;
    second.oracle = older;
    let instructions = [first.instruction(&ctx.ex), second.instruction(&ctx.ex)];
    let owner = keeper.owner.insecure_clone();
    let sent = ctx.send(&instructions, &[&owner]).await;

    // CHECK: the second call is an ordinary breach (sliced) or refused, never a repeat.
    let events = ctx.events::<LiquidationSliceV3>();
    let account = ctx.margin_account(&alice.account).await;
    // A second call that reached the target again stamps its own newest price (now + 2).
    assert!(sent.is_err() || account.last_recovery_time >= now + 2);
    assert!(
        sent.is_err() || events.iter().all(|e| e.whole_close != 5),
        "a recovery at $142 (published now+4) and a repeat at the older $139 (now+2) in one transaction"
    );
}

/// The program settles the chosen position's funding before planning; the repeat rule's
/// "losing" test is on price alone, so the program and the mirrors agree.
#[tokio::test]
async fn the_loser_test_is_on_price_alike_in_the_program_and_its_mirrors() {
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_funding(FundingConfig { rate_scale: 10_000, max_rate: 10_000 }))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    ctx.set_repeat_liquidation_window(DAY_SLOTS).await.unwrap();
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 142.0).await;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let first = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(first.whole_close, 0);
    assert_ne!(ctx.margin_account(&alice.account).await.last_recovery_slot, 0, "a recovery");

    // SOL back a little above her $150 entry, while she pays 1 %/h of funding: hours later she
    // breaches maintenance on funding alone, her price PnL positive.
    let mut hours = 0;
    loop {
        hours += 1;
        assert!(hours < 20);
        ctx.advance(9_000, 3_600).await;
        ctx.set_price_usd(0, 150.5).await;
        if ctx.health(&alice.account).await.is_liquidatable() {
            break;
        }
    }
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    // In profit on price (SOL above her entry), so a winner: sliced, though funding made the
    // breach; the mirror predicts exactly what the program does.
    assert_eq!(plan.whole_close, None);
    assert_eq!(e.base_closed, plan.outcome.closed_base);
    assert!(e.funding_settled < 0 && e.remaining_base > 0);
    assert_eq!(
        e.whole_close,
        WholeClose::code(plan.whole_close),
        "the program must do what expected_liquidation (and the keeper) predicted"
    );
}
