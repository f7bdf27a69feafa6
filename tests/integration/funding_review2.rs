//! Second hostile review of funding: attacks on the fixes of the first (the exchange's
//! close-pause clock, pool coverage on the net payout, the deposit that leaves a payment
//! unsettled). The `attack_` case reproduced a defect of those fixes (it failed on them; fixed
//! since); the `hold_` cases are hostile paths that held.

use crate::funding::{
    sol_and_btc_with, sol_with, CLAMPED_1PCT, HOUR, HOUR_SLOTS, ONE_PERCENT, ONE_PERCENT_PER_HOUR,
};
use microliq::error::MicroliqError;
use microliq::events::{CollateralDepositedV2, LiquidationSliceV3, OrderFilledV2};
use microliq::state::{pause, FundingConfig};
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::Signer;

async fn set_exchange_pause(ctx: &mut TestContext, paused: u16) {
    let ix = ix::SetPause { admin: ctx.admin.pubkey(), market: None, paused }.instruction(&ctx.ex);
    ctx.admin_send(ix).await.unwrap();
}

fn pool_covers(ex: &microliq::state::Exchange) -> bool {
    ex.pool_balance >= 0 && ex.pool_balance as u64 >= ex.negative_collateral
}

// --- R2-1: liquidate's "episode over" early return pays a funding receipt unchecked -----------

/// Failed on the fixes of the first review (fixed: that return now checks the pool and runs the
/// exchange's invariant, and `LiquidationEpisodeEndedV2` carries the funding). `Liquidate::handle` settles the named position's funding
/// (`settle_funding`, which no longer checks the pool since fix 2) *before* deciding whether the
/// account is liquidatable. When the account is flagged but above its target (or its episode
/// lapsed above maintenance), the handler takes the early `return Ok(())` after
/// `LiquidationEpisodeEnded`: the net-payout check (`realized + funding > 0 ⇒
/// require_pool_covers_deficits`) and `exchange.invariant()` (`pool_balance ≥ 0`) are both
/// skipped. Anyone (a second wallet of the owner) can so move a receipt larger than the pool's
/// slack into collateral, withdraw it (the withdrawal settles nothing more, so it checks
/// nothing), and leave `pool_balance` negative: every other trader's collateral is then partly
/// unbacked and every instruction that runs `exchange.invariant()` fails (trading halts).
#[tokio::test]
async fn attack_an_episode_end_pays_no_funding_receipt_the_pool_cannot_cover() {
    // SETUP: a 50 USDC pool. carol 20 SOL long, bob 10 SOL short on 200 USDC, $150.
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_funding(CLAMPED_1PCT))
        .with_pool_liquidity(50 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let carol = ctx.trader(2_000 * USDC).await;
    let bob = ctx.trader(200 * USDC).await;
    let dave = ctx.trader(1_000 * USDC).await; // an uninvolved trader, no position
    ctx.trade(&carol, 0, 20 * SOL).await.unwrap();
    ctx.trade(&bob, 0, -10 * SOL).await.unwrap();

    // SOL to $165: bob (E ≈ 49, M = 82.5) is liquidatable. A keeper takes one SOL only: bob is
    // left short of his target, flagged.
    ctx.advance(3, 1).await;
    ctx.set_price_usd(0, 165.0).await;
    assert!(ctx.health(&bob.account).await.is_liquidatable());
    let keeper = ctx.keeper().await;
    let mut slice = ctx.liquidation(&keeper, &bob.account, 0).await;
    slice.max_base = SOL as u64;
    let owner = keeper.owner.insecure_clone();
    let slice = slice.instruction(&ctx.ex);
    ctx.send(&[slice], &[&owner]).await.unwrap();
    assert_eq!(ctx.margin_account(&bob.account).await.being_liquidated, 1, "bob flagged");

    // Ten hours at $130, longs crowded: bob (9 SOL short) is owed 10 % of 1,170 = 117 USDC of
    // funding, more than the pool holds. He is far above his target.
    ctx.advance(HOUR_SLOTS * 10, HOUR * 10).await;
    ctx.set_price_usd(0, 130.0).await;
    assert!(!ctx.health(&bob.account).await.is_liquidatable());
    let pool_before = ctx.exchange().await.pool_balance;
    assert!(pool_before < 117 * USDC as i64, "pool {pool_before}");
    // Control: bob's own close (the checked path) is refused, the receipt is not paid.
    assert_refused!(ctx, &[bob.account], ctx.trade(&bob, 0, 9 * SOL), MicroliqError::PoolInsufficient);

    // ACT / CHECK: bob's second wallet "liquidates" him (the episode-over branch). The funding
    // it would settle is a payout the pool cannot cover: refused, nothing changed (the first
    // fixes paid it and left the pool at −49.75 USDC).
    let mallory = ctx.keeper().await;
    assert_refused!(
        ctx,
        &[bob.account, mallory.token],
        ctx.liquidate(&mallory, &bob.account, 0),
        MicroliqError::PoolInsufficient
    );
    assert!(pool_covers(&ctx.exchange().await));
    // The uninvolved trader can still trade (the pool ledger is intact).
    ctx.trade(&dave, 0, SOL).await.unwrap();
    ctx.assert_vaults_match_ledgers().await;
}

// --- The close-pause clock ------------------------------------------------------------------

/// Held. Pause → crank during the pause → unpause → one hour → the index moves by exactly one
/// hour; a pause set and lifted in the same second costs nothing; the client's projection (the
/// keeper's arithmetic) equals the program's state at every step, paused or not; the exchange
/// clock and the market's copy of it move only forward.
#[tokio::test]
async fn hold_pause_clock_is_exact_across_toggles_and_projections_agree() {
    let mut ctx = sol_with(ONE_PERCENT).await;
    let alice = ten_x_long(&mut ctx).await; // 99 USDC/h at 1 %/h
    let e0 = ctx.health(&alice.account).await.equity;

    set_exchange_pause(&mut ctx, pause::REDUCE).await;
    ctx.advance(HOUR_SLOTS * 2, HOUR * 2).await;
    ctx.set_price_usd(0, 150.0).await;
    assert_eq!(ctx.health(&alice.account).await.equity, e0, "projection during the pause");
    ctx.update_funding(0).await.unwrap();
    let market = ctx.market(0).await;
    assert_eq!((market.funding_index, market.funding_paused_secs_at_update), (0, 2 * HOUR));
    // Other flags toggled while closes stay paused: the clock keeps its start.
    set_exchange_pause(&mut ctx, pause::REDUCE | pause::DEPOSIT).await;
    ctx.advance(HOUR_SLOTS, HOUR).await;
    set_exchange_pause(&mut ctx, 0).await;
    assert_eq!(ctx.exchange().await.funding_paused_secs, 3 * HOUR);
    ctx.advance(HOUR_SLOTS, HOUR).await;
    ctx.set_price_usd(0, 150.0).await;
    let projected = ctx.health(&alice.account).await.equity;
    assert_eq!(projected, e0 - 99 * USDC as i128, "projection: one unpaused hour");
    ctx.update_funding(0).await.unwrap();
    assert_eq!(ctx.market(0).await.funding_index, ONE_PERCENT_PER_HOUR);
    assert_eq!(ctx.health(&alice.account).await.equity, projected);

    // A pause set and lifted within one second, twice: nothing is skipped.
    set_exchange_pause(&mut ctx, pause::REDUCE).await;
    set_exchange_pause(&mut ctx, 0).await;
    ctx.advance(HOUR_SLOTS, HOUR).await;
    set_exchange_pause(&mut ctx, pause::REDUCE).await;
    set_exchange_pause(&mut ctx, 0).await;
    ctx.set_price_usd(0, 150.0).await;
    ctx.update_funding(0).await.unwrap();
    assert_eq!(ctx.market(0).await.funding_index, 2 * ONE_PERCENT_PER_HOUR);

    // The clock stepping back while paused: the pause length never goes negative, the market's
    // copy never goes back, and the index never moves backwards.
    set_exchange_pause(&mut ctx, pause::REDUCE).await;
    let now = ctx.clock().await.unix_timestamp;
    ctx.set_unix_timestamp(now - 600).await;
    ctx.update_funding(0).await.unwrap();
    set_exchange_pause(&mut ctx, 0).await;
    let ex = ctx.exchange().await;
    assert_eq!((ex.funding_paused_secs, ex.funding_paused_since), (3 * HOUR, 0));
    ctx.set_unix_timestamp(now + HOUR).await;
    ctx.set_price_usd(0, 150.0).await;
    ctx.update_funding(0).await.unwrap();
    let market = ctx.market(0).await;
    assert_eq!(market.funding_index, 3 * ONE_PERCENT_PER_HOUR);
    assert_eq!(market.funding_paused_secs_at_update, 3 * HOUR);
    ctx.assert_vaults_match_ledgers().await;
}

/// Held (latent, cosmetic). `add_market` sets `funding_updated_at` but not
/// `funding_paused_secs_at_update` (0) while the exchange's clock is already > 0: the first
/// advance subtracts the exchange's whole pause history from the market's first interval. The
/// first interval has no open interest (an order advances the market before it opens), so no
/// funding is lost; a listing while paused, then an order, charges from the order on.
#[tokio::test]
async fn hold_a_market_listed_after_a_pause_charges_from_its_first_order() {
    let mut ctx = sol_with(ONE_PERCENT).await;
    set_exchange_pause(&mut ctx, pause::REDUCE).await;
    ctx.advance(HOUR_SLOTS * 5, HOUR * 5).await;
    set_exchange_pause(&mut ctx, 0).await;
    ctx.set_price_usd(0, 150.0).await;
    let btc = ctx
        .add_market(MarketSpec::btc().with_funding(FundingConfig { rate_scale: 10_000, max_rate: 10_000 }))
        .await;
    // Listed with the exchange's clock as of now (the review found it left at 0; harmless, since
    // the first order advances the market before it opens, but now exact from the start).
    assert_eq!(ctx.market(btc.index).await.funding_paused_secs_at_update, 5 * HOUR);
    let alice = ctx.trader(10_000 * USDC).await;
    ctx.trade(&alice, btc.index, 5_000_000).await.unwrap(); // 0.05 BTC = 3,000
    assert_eq!(ctx.market(btc.index).await.funding_paused_secs_at_update, 5 * HOUR);
    ctx.advance(HOUR_SLOTS, HOUR).await;
    ctx.set_price_usd(btc.index, 60_000.0).await;
    ctx.update_funding(btc.index).await.unwrap();
    assert_eq!(ctx.market(btc.index).await.funding_index, ONE_PERCENT_PER_HOUR);
}

// --- The deposit rule, withdrawal ordering ---------------------------------------------------

/// Held. alice owes more funding than her collateral (healthy thanks to unrealized profit). A
/// deposit (hers or a stranger's) leaves it unsettled, but it cannot be dodged: the withdrawal
/// settles first and compares the amount with what is left (`InsufficientCollateral`), and her
/// close pays the whole amount. Depositing first changes nothing she pays.
#[tokio::test]
async fn hold_a_deposit_cannot_dodge_funding_and_withdraw_compares_after_settlement() {
    let mut ctx = sol_with(CLAMPED_1PCT).await;
    let alice = ctx.trader_with_wallet(200 * USDC, 10 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    ctx.advance(HOUR_SLOTS * 10, HOUR * 10).await;
    ctx.set_price_usd(0, 300.0).await; // +1,500 PnL; 300 of funding owed
    let collateral = ctx.margin_account(&alice.account).await.collateral;

    // Her own deposit of one atom: the 300 stays unsettled.
    ctx.deposit(&alice, 1).await.unwrap();
    let deposited = ctx.events::<CollateralDepositedV2>().remove(0);
    assert_eq!((deposited.funding_settled, deposited.collateral_after), (0, collateral + 1));

    // A withdrawal below the stale collateral but above what is left after funding: refused.
    assert_refused!(
        ctx,
        &[alice.account],
        ctx.withdraw(&alice, 100 * USDC),
        MicroliqError::InsufficientCollateral
    );

    // Her close settles the whole 300 (10 SOL · 10 % · $300).
    ctx.trade(&alice, 0, -10 * SOL).await.unwrap();
    let fill = ctx.events::<OrderFilledV2>().remove(0);
    assert_eq!(fill.funding_settled, -300_000_000);
    let ex = ctx.exchange().await;
    assert!(pool_covers(&ex));
    assert_eq!(ctx.market(0).await.funding_long_accrued.get(), 0);
}

/// Held. A deposit passing several markets settles a receipt and leaves a payment that would take
/// the collateral negative; the net receipt is checked against the pool; the side sums stay
/// equal to the positions'.
#[tokio::test]
async fn hold_a_deposit_settles_receipts_and_keeps_side_sums() {
    let mut ctx = sol_and_btc_with(CLAMPED_1PCT).await;
    let whale = ctx.trader(100_000 * USDC).await;
    let alice = ctx.trader(300 * USDC).await;
    ctx.trade(&whale, 1, 10_000_000).await.unwrap(); // 0.1 BTC long: longs crowded in BTC
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap(); // alone long SOL: pays
    ctx.trade(&alice, 1, -1_000_000).await.unwrap(); // 0.01 BTC short: receives
    ctx.advance(HOUR_SLOTS * 10, HOUR * 10).await;
    ctx.set_price_usd(0, 300.0).await; // SOL owes 300 > collateral
    ctx.set_price_usd(1, 60_000.0).await; // BTC receipt 0.01 · 10 % · 60,000 = 60

    let mallory = ctx.trader_with_wallet(0, USDC).await;
    let deposit = ix::DepositCollateral {
        depositor: mallory.owner.pubkey(),
        margin_account: alice.account,
        depositor_token: mallory.token,
        amount: 1,
        health_accounts: ctx.all_market_pairs(),
    }
    .instruction(&ctx.ex);
    ctx.send(&[deposit], &[&mallory.owner]).await.unwrap();
    let deposited = ctx.events::<CollateralDepositedV2>().remove(0);
    // SOL is first: −300 would take ~299 below zero, left; BTC's +60 settles.
    assert_eq!(deposited.funding_settled, 60_000_000);
    assert!(pool_covers(&ctx.exchange().await));
    let account = ctx.margin_account(&alice.account).await;
    assert!(account.collateral >= 0);
    let sol = ctx.market(0).await;
    assert_eq!(
        sol.funding_long_accrued.get(),
        microliq::math::funding_accrued(10 * SOL, sol.funding_index, account.funding_indexes[0])
    );
    ctx.assert_vaults_match_ledgers().await;
}

// --- The net-payout rule -----------------------------------------------------------------

/// Held. A liquidation slice whose realized profit is outweighed by funding paid (a short owing
/// funding, liquidated after the price fell back) is not checked (net ≤ 0), and the pool's slack
/// over the deficits does not shrink.
#[tokio::test]
async fn hold_net_payout_rule_keeps_pool_over_deficits_in_liquidation() {
    let mut ctx = sol_with(ONE_PERCENT).await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.advance(HOUR_SLOTS * 6, HOUR * 6).await;
    ctx.set_price_usd(0, 151.0).await; // small profit, 6 % funding owed
    let ex = ctx.exchange().await;
    let slack = ex.pool_balance - ex.negative_collateral as i64;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let slice = ctx.events::<LiquidationSliceV3>().remove(0);
    assert!(slice.realized_pnl > 0 && slice.funding_settled + slice.realized_pnl < 0, "{slice:?}");
    let ex = ctx.exchange().await;
    assert!(ex.pool_balance - ex.negative_collateral as i64 >= slack);
}
