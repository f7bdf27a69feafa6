use microliq::error::MicroliqError;
use microliq::state::pause;
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::Signer;

#[tokio::test]
async fn first_deposit_mints_one_to_one_and_withdraw_pays_back() {
    // SETUP
    let mut ctx = crate::builder().with_market(MarketSpec::sol()).build().await;
    let lp = ctx.liquidity_provider(10_000 * USDC).await;
    // ACT
    ctx.deposit_liquidity(&lp, 10_000 * USDC).await.unwrap();
    // CHECK
    assert_eq!(ctx.token_balance(&lp.shares).await, 10_000 * USDC);
    assert_eq!(ctx.exchange().await.pool_balance, 10_000 * USDC as i64);
    assert_eq!(ctx.token_balance(&lp.token).await, 0);
    ctx.withdraw_liquidity(&lp, 4_000 * USDC).await.unwrap();
    assert_eq!(ctx.token_balance(&lp.token).await, 4_000 * USDC);
    assert_eq!(ctx.token_balance(&lp.shares).await, 6_000 * USDC);
    assert_eq!(ctx.mint_supply(&ctx.ex.lp_mint.clone()).await, 6_000 * USDC);
}

#[tokio::test]
async fn shares_are_priced_at_nav_including_traders_unrealized_pnl() {
    // SETUP: a 10,000 USDC pool, a trader long 10 SOL who is up 100 USDC unrealized.
    let mut ctx =
        crate::builder().with_market(MarketSpec::sol()).with_pool_liquidity(10_000 * USDC).build().await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap(); // fee 0.75 to the pool
    ctx.set_price_usd(0, 160.0).await;
    // NAV = 10,000.75 − 100 = 9,900.75; supply 10,000.
    let bob = ctx.liquidity_provider(9_900_750_000).await;
    // ACT
    ctx.deposit_liquidity(&bob, 9_900_750_000).await.unwrap();
    // CHECK: 9,900.75 · 10,000 / 9,900.75 = 10,000 shares exactly.
    assert_eq!(ctx.token_balance(&bob.shares).await, 10_000 * USDC);
    // With no price move, bob's shares are worth what he paid: pool 19,901.5, NAV 19,801.5,
    // half of it is 9,900.75.
    ctx.withdraw_liquidity(&bob, 10_000 * USDC).await.unwrap();
    assert_eq!(ctx.token_balance(&bob.token).await, 9_900_750_000);
    // The price falls back to $150: the trader's gain is gone and the seed LP's shares are worth
    // the pool: 10,000.75.
    ctx.set_price_usd(0, 150.0).await;
    let lp = ctx.lp.take().unwrap();
    ctx.withdraw_liquidity(&lp, 10_000 * USDC).await.unwrap();
    assert_eq!(ctx.token_balance(&lp.token).await, 10_000_750_000);
}

#[tokio::test]
async fn liquidity_bad_inputs_change_nothing() {
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol())
        .with_market(MarketSpec::btc())
        .with_pool_liquidity(10_000 * USDC)
        .build()
        .await;
    let lp = ctx.liquidity_provider(100 * USDC).await;
    ctx.deposit_liquidity(&lp, 50 * USDC).await.unwrap();
    let all = ctx.all_market_pairs();
    let deposit = |amount, markets: Vec<_>| ix::DepositLiquidity {
        provider: lp.owner.pubkey(),
        provider_token: lp.token,
        provider_shares: lp.shares,
        amount,
        min_shares: 0,
        all_markets: markets,
    };
    let withdraw = |shares, markets: Vec<_>| ix::WithdrawLiquidity {
        provider: lp.owner.pubkey(),
        provider_token: lp.token,
        provider_shares: lp.shares,
        shares,
        min_amount: 0,
        all_markets: markets,
    };
    let ex = ctx.ex;
    let cases = [
        (deposit(0, all.clone()).instruction(&ex), MicroliqError::ZeroAmount),
        (deposit(51 * USDC, all.clone()).instruction(&ex), MicroliqError::InsufficientCollateral),
        (deposit(USDC, vec![all[0]]).instruction(&ex), MicroliqError::HealthAccountsMissing),
        (deposit(USDC, vec![all[1], all[0]]).instruction(&ex), MicroliqError::HealthAccountsOutOfOrder),
        (withdraw(0, all.clone()).instruction(&ex), MicroliqError::ZeroAmount),
        (withdraw(50 * USDC + 1, all.clone()).instruction(&ex), MicroliqError::InsufficientShares),
        (withdraw(USDC, vec![]).instruction(&ex), MicroliqError::HealthAccountsMissing),
    ];
    for (instruction, expected) in cases {
        let before = ctx.snapshot_with(&[lp.token, lp.shares]).await;
        assert_error(ctx.send(&[instruction], &[&lp.owner]).await, expected);
        before.assert_unchanged(&ctx.snapshot_with(&[lp.token, lp.shares]).await);
    }
    // Paused.
    let admin = ctx.admin.pubkey();
    ctx.admin_send(ix::SetPause { admin, market: None, paused: pause::LP_WITHDRAW }.instruction(&ex))
        .await
        .unwrap();
    let before = ctx.snapshot_with(&[lp.token, lp.shares]).await;
    assert_error(ctx.withdraw_liquidity(&lp, USDC).await, MicroliqError::Paused);
    before.assert_unchanged(&ctx.snapshot_with(&[lp.token, lp.shares]).await);
}

#[tokio::test]
async fn insurance_deposit_credits_the_fund() {
    let mut ctx = crate::builder().build().await;
    ctx.deposit_insurance(1_234 * USDC).await.unwrap();
    let fund = ctx.insurance_fund().await;
    assert_eq!((fund.balance, fund.total_contributions), (1_234 * USDC, 1_234 * USDC));
    assert_eq!(ctx.token_balance(&ctx.ex.insurance_vault.clone()).await, 1_234 * USDC);
    let before = ctx.snapshot_with(&[]).await;
    assert_error(ctx.deposit_insurance(0).await, MicroliqError::ZeroAmount);
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);
}

#[tokio::test]
async fn lps_are_paid_without_the_profit_owed_to_winning_traders() {
    // SETUP: alice wins 100 USDC in SOL, bob loses 100 USDC in BTC: net PnL 0, but the pool
    // owes alice 100 if she closes before bob pays.
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol())
        .with_market(MarketSpec::btc())
        .with_pool_liquidity(10_000 * USDC)
        .build()
        .await;
    let alice = ctx.trader(1_000 * USDC).await;
    let bob = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap(); // fee 0.75
    ctx.trade(&bob, 1, 10_000_000).await.unwrap(); // 0.1 BTC, fee 3
    ctx.set_price_usd(0, 160.0).await;
    ctx.set_price_usd(1, 59_000.0).await;
    let lp = ctx.lp.take().unwrap();

    // ACT: the only LP burns every share. The collectable NAV counts alice's profit as owed and
    // bob's unpaid loss as nothing: 10,003.75 − 100 = 9,903.75 (docs/POOL.md).
    ctx.withdraw_liquidity(&lp, 10_000 * USDC).await.unwrap();

    // CHECK: the pool keeps exactly alice's profit, and she is paid in full.
    assert_eq!(ctx.token_balance(&lp.token).await, 9_903_750_000);
    assert_eq!(ctx.exchange().await.pool_balance, 100 * USDC as i64);
    ctx.trade(&alice, 0, -10 * SOL).await.unwrap();
    assert_eq!(
        ctx.margin_account(&alice.account).await.collateral,
        (1_100 * USDC - 750_000 - 800_000) as i64
    );
    // Bob's loss, once realized, is the pool's (the LP left before it was collected).
    ctx.trade(&bob, 1, -10_000_000).await.unwrap();
    assert_eq!(ctx.exchange().await.pool_balance, (800_000 + 100 * USDC + 2_950_000) as i64);
}
