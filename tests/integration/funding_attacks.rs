//! Hostile cases against funding (docs/FUNDING.md), written by the review of issue 10. The
//! `attack_` cases each reproduced a defect of the first version (each failed on it; the
//! comments say what it was and the fix); the `hold_` cases are hostile paths that held.

use crate::funding::{
    sol_and_btc_with, sol_with, CLAMPED_1PCT, HOUR, HOUR_SLOTS, ONE_PERCENT, ONE_PERCENT_PER_HOUR,
};
use microliq::error::MicroliqError;
use microliq::events::{BankruptcyResolved, CollateralDepositedV2, LiquidationSliceV3, OrderFilledV2};
use microliq::state::{pause, MarginAccount, Market};
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::Signer;

async fn wait_hours_at(ctx: &mut TestContext, market: u16, hours: i64, dollars: f64) {
    ctx.advance(HOUR_SLOTS * hours as u64, HOUR * hours).await;
    ctx.set_price_usd(market, dollars).await;
}

/// `Σ q·(K − K_q)` over `accounts`' positions in `market`, per side (longs, shorts).
fn positions_accrued(market: &Market, index: u16, accounts: &[MarginAccount]) -> (i128, i128) {
    let (mut long, mut short) = (0i128, 0i128);
    for account in accounts {
        for (slot, p) in account.positions.iter().enumerate() {
            if p.is_open() && p.market_index == index {
                let a = microliq::math::funding_accrued(
                    p.base,
                    market.funding_index,
                    account.funding_indexes[slot],
                );
                if p.base > 0 {
                    long += a
                } else {
                    short += a
                }
            }
        }
    }
    (long, short)
}

/// A stranger's one-atom deposit into `account`, its market passed writable (which settles the
/// account's funding there).
async fn strangers_deposit(ctx: &mut TestContext, stranger: &Trader, account: &anchor_lang::prelude::Pubkey) {
    let deposit = ix::DepositCollateral {
        depositor: stranger.owner.pubkey(),
        margin_account: *account,
        depositor_token: stranger.token,
        amount: 1,
        health_accounts: vec![ctx.markets[0].pair()],
    }
    .instruction(&ctx.ex);
    let owner = stranger.owner.insecure_clone();
    ctx.send(&[deposit], &[&owner]).await.unwrap();
}

// --- F1: an exchange-wide pause of closes does not stop funding -------------------------------

/// Failed on the first version (fixed: the exchange's close-pause clock). `Market::funding_accruing` reads only the market's own
/// `pause::REDUCE`; `set_exchange_pause(REDUCE)` leaves every index running, so traders who cannot
/// close keep paying and can be liquidated by funding alone (LIQUIDATE is a separate flag).
#[tokio::test]
async fn attack_an_exchange_wide_pause_of_closes_charges_no_funding() {
    // SETUP: alice 66 SOL long alone at 1 %/h (99 USDC/h), 1,000 USDC.
    let mut ctx = sol_with(ONE_PERCENT).await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    let index_before = ctx.market(0).await.funding_index;

    // ACT: the admin pauses closes exchange-wide; alice cannot leave.
    let pause_closes =
        ix::SetPause { admin: ctx.admin.pubkey(), market: None, paused: pause::REDUCE }.instruction(&ctx.ex);
    ctx.admin_send(pause_closes).await.unwrap();
    assert_refused!(ctx, &[alice.account], ctx.trade(&alice, 0, -66 * SOL), MicroliqError::Paused);
    wait_hours_at(&mut ctx, 0, 6, 150.0).await;
    ctx.update_funding(0).await.unwrap();

    // CHECK (docs/FUNDING.md "a trader who cannot leave pays nothing"): no accrual.
    let index_after = ctx.market(0).await.funding_index;
    assert_eq!(
        index_after,
        index_before,
        "funding accrued {} (x1e-15 of notional) while closes were paused exchange-wide",
        index_after - index_before
    );
    // ...and so no liquidation by funding alone while she could not close.
    assert_refused!(
        ctx,
        &[alice.account],
        ctx.liquidate(&keeper, &alice.account, 0),
        MicroliqError::NotLiquidatable
    );
}

// --- F2: a funding receipt blocks the liquidation (and the close) of a losing position ----------

/// A 1,000 USDC pool. carol 20 SOL long, bob 10 SOL short at $150: skew 33 %, longs pay the
/// clamp (1 %/h). Five hours (K = 5 %) and SOL at $210, then carol takes her profit (+1,200, pays
/// 210 of funding): the pool keeps ~14.35, and bob is owed 105 of funding.
async fn thin_pool_with_a_short_owed_funding() -> (TestContext, Trader) {
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_funding(CLAMPED_1PCT))
        .with_pool_liquidity(1_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let carol = ctx.trader(1_000 * USDC).await;
    let bob = ctx.trader(1_000 * USDC).await;
    ctx.trade(&carol, 0, 20 * SOL).await.unwrap();
    ctx.trade(&bob, 0, -10 * SOL).await.unwrap();
    wait_hours_at(&mut ctx, 0, 5, 210.0).await;
    let time = ctx.exchange().await.funding_time(ctx.clock().await.unix_timestamp);
    assert_eq!(ctx.market(0).await.funding_state_at(time).unwrap().index, 5 * ONE_PERCENT_PER_HOUR);
    ctx.trade(&carol, 0, -20 * SOL).await.unwrap();
    let pool = ctx.exchange().await.pool_balance;
    assert!(pool < 20 * USDC as i64, "pool slack {pool}");
    (ctx, bob)
}

/// Failed on the first version (fixed: coverage is checked on the instruction's net payout).
/// `settle_funding` required `pool ≥ negative_collateral` on its own payment before the slice's
/// realized loss was booked, so when the pool's slack was thin a short *owed* funding could not
/// be liquidated (nor close) although the whole instruction paid the pool; bad debt then grew
/// with the price.
#[tokio::test]
async fn attack_a_funding_receipt_does_not_block_a_liquidation_on_a_thin_pool() {
    let (mut ctx, bob) = thin_pool_with_a_short_owed_funding().await;

    // SOL to $250, same second: bob (short, owed 125 of funding) is below maintenance.
    ctx.advance(1, 0).await;
    ctx.set_price_usd(0, 250.0).await;
    let health = ctx.health(&bob.account).await;
    assert!(health.is_liquidatable(), "{health:?}");

    // ACT / CHECK: a liquidation of a losing position pays the pool on balance and
    // must go through (the first version refused it with PoolInsufficient).
    let keeper = ctx.keeper().await;
    let result = ctx.liquidate(&keeper, &bob.account, 0).await;
    assert_eq!(result, Ok(()), "bob's liquidation refused: {result:?}");
}

/// Failed on the first version, same root cause and fix: a reduce-only close of a losing short
/// owed funding was refused (`PlaceOrder` says "Reducing is always allowed").
#[tokio::test]
async fn attack_a_funding_receipt_does_not_block_a_losing_close_on_a_thin_pool() {
    let (mut ctx, bob) = thin_pool_with_a_short_owed_funding().await;

    // bob closes at $210: −600 of PnL, +105 of funding: the pool gains ~495.
    let result = ctx.trade(&bob, 0, 10 * SOL).await;
    assert_eq!(result, Ok(()), "bob's losing close refused: {result:?}");
    let fill = ctx.events::<OrderFilledV2>().remove(0);
    assert_eq!((fill.funding_settled, fill.realized_pnl), (105_000_000, -600_000_000));
}

// --- F3: anyone can push a healthy account's collateral negative and freeze the LPs ------------

/// Failed on the first version (fixed: a deposit leaves unsettled what would take the collateral
/// below zero). `deposit_collateral` is permissionless and settles funding in every
/// market passed writable; settling more owed funding than the collateral makes `collateral < 0`
/// on a *healthy* account with an open position. `negative_collateral` then exceeds
/// `min(insurance, insurance_cap_per_event)` and `deficits_covered` refuses every LP deposit and
/// withdrawal (`UnresolvedDeficit`) for as long as alice keeps her position: she is neither
/// liquidatable nor bankrupt, and nothing else resolves it. The stranger pays one atom.
#[tokio::test]
async fn attack_a_strangers_deposit_settles_no_funding_into_negative_collateral() {
    // SETUP: insurance cap 50 USDC per event. alice 10 SOL long alone at 1 %/h on 200 USDC.
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_funding(CLAMPED_1PCT))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .with_insurance_cap(50 * USDC)
        .build()
        .await;
    let alice = ctx.trader(200 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    // Ten hours, SOL doubles: +1,500 of PnL, 300 of funding owed (10 % of 3,000), unsettled.
    wait_hours_at(&mut ctx, 0, 10, 300.0).await;
    let health = ctx.health(&alice.account).await;
    assert_eq!(health.equity, 200_000_000 - 750_000 + 1_500_000_000 - 300_000_000);
    assert!(!health.is_liquidatable());
    let lp = ctx.liquidity_provider(20_000 * USDC).await;
    ctx.deposit_liquidity(&lp, 10_000 * USDC).await.unwrap(); // control: LP flows work

    // ACT: mallory deposits one atom into alice's account, market passed writable.
    let mallory = ctx.trader_with_wallet(0, USDC).await;
    strangers_deposit(&mut ctx, &mallory, &alice.account).await;

    // CHECK: the 300 owed stays unsettled (settling it would take the collateral below zero);
    // alice is as healthy as before and LP flows do not depend on a stranger's deposit.
    let deposited = ctx.events::<CollateralDepositedV2>().remove(0);
    assert_eq!((deposited.funding_settled, deposited.collateral_after), (0, 200_000_000 - 750_000 + 1));
    let health_after = ctx.health(&alice.account).await;
    assert_eq!(health_after.equity, health.equity + 1);
    assert_eq!(ctx.exchange().await.negative_collateral, 0);
    let result = ctx.deposit_liquidity(&lp, 10_000 * USDC).await;
    assert_eq!(result, Ok(()), "LP deposit after the stranger's settlement: {result:?}");
}

// --- Hostile paths that hold ---------------------------------------------------------------

/// Held. An insolvent account across two markets with unsettled funding in both: one
/// `liquidate` closes both (the other via `close_insolvent_others`), settles both fundings,
/// resolves the bankruptcy, and leaves each market's side accrual equal to the positions' sum.
/// The second slice carries the other market's settled funding (events.rs said 0 until the review;
/// the doc was fixed).
#[tokio::test]
async fn hold_insolvent_close_of_others_settles_funding_and_keeps_side_sums() {
    let mut ctx = sol_and_btc_with(CLAMPED_1PCT).await;
    let alice = ctx.trader(1_000 * USDC).await;
    let other = ctx.trader(10_000 * USDC).await; // a short in BTC so its side sums are non-trivial
    ctx.trade(&alice, 0, 30 * SOL).await.unwrap(); // 4,500
    ctx.trade(&alice, 1, 5_000_000).await.unwrap(); // 0.05 BTC, 3,000
    ctx.trade(&other, 1, -1_000_000).await.unwrap(); // 0.01 BTC short
    ctx.advance(HOUR_SLOTS * 4, HOUR * 4).await;
    ctx.set_price_usd(0, 120.0).await;
    ctx.set_price_usd(1, 57_000.0).await;
    let health = ctx.health(&alice.account).await;
    assert!(health.equity <= 0, "{health:?}");

    let keeper = ctx.keeper().await;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let slices = ctx.events::<LiquidationSliceV3>();
    assert_eq!(slices.len(), 2);
    // SOL: 30 · 4 % · 120 = 144; BTC: 0.05 · 4 % · 57,000 = 114.
    assert_eq!((slices[0].funding_settled, slices[1].funding_settled), (-144_000_000, -114_000_000));
    assert_eq!(ctx.events::<BankruptcyResolved>().len(), 1);
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!((account.collateral, account.open_position_count()), (0, 0));

    let accounts = [ctx.margin_account(&alice.account).await, ctx.margin_account(&other.account).await];
    for index in 0..2u16 {
        ctx.update_funding(index).await.unwrap();
        let market = ctx.market(index).await;
        assert_eq!(
            (market.funding_long_accrued.get(), market.funding_short_accrued.get()),
            positions_accrued(&market, index, &accounts),
            "market {index}"
        );
    }
    assert!(ctx.exchange().await.pool_balance >= 0);
    ctx.assert_vaults_match_ledgers().await;
}

/// Held. A flip (long → short in one order), a liquidation slice and a re-open in a slot freed
/// by another market keep `Σ q·(K − K_q)` equal to the market's side sums, and a stranger forcing
/// settlements every second does not change what the account pays beyond one atom per settlement.
#[tokio::test]
async fn hold_flip_reuse_and_forced_settlements_keep_side_sums() {
    let mut ctx = sol_and_btc_with(CLAMPED_1PCT).await;
    let alice = ctx.trader(5_000 * USDC).await;
    let bob = ctx.trader(5_000 * USDC).await;
    ctx.trade(&alice, 1, 1_000_000).await.unwrap(); // slot 0: BTC
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap(); // slot 1: SOL
    ctx.trade(&bob, 0, -3 * SOL).await.unwrap();
    wait_hours_at(&mut ctx, 0, 2, 150.0).await;
    ctx.set_price_usd(1, 60_000.0).await;
    // Flip alice's SOL long 10 → short 5.
    ctx.trade(&alice, 0, -15 * SOL).await.unwrap();
    // Close BTC (frees slot 0), wait, then open BTC again into slot 0.
    ctx.trade(&alice, 1, -1_000_000).await.unwrap();
    wait_hours_at(&mut ctx, 0, 1, 150.0).await;
    ctx.set_price_usd(1, 60_000.0).await;
    ctx.trade(&alice, 1, -2_000_000).await.unwrap(); // BTC short into the freed slot
    assert_eq!(ctx.events::<OrderFilledV2>().remove(0).funding_settled, 0, "a reused slot starts at K");

    // A stranger forces settlement of bob every second for ten seconds.
    let mallory = ctx.trader_with_wallet(0, USDC).await;
    for _ in 0..10 {
        ctx.advance(3, 1).await;
        ctx.set_price_usd(0, 150.0).await;
        strangers_deposit(&mut ctx, &mallory, &bob.account).await;
    }
    ctx.set_price_usd(1, 60_000.0).await;
    let accounts = [ctx.margin_account(&alice.account).await, ctx.margin_account(&bob.account).await];
    for index in 0..2u16 {
        ctx.update_funding(index).await.unwrap();
        let market = ctx.market(index).await;
        assert_eq!(
            (market.funding_long_accrued.get(), market.funding_short_accrued.get()),
            positions_accrued(&market, index, &accounts),
            "market {index}"
        );
    }
    ctx.assert_vaults_match_ledgers().await;
}
