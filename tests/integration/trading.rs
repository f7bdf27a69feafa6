use microliq::error::MicroliqError;
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::{Keypair, Signer};

/// 0.15 quote atoms per base atom (SOL at $150) in fixed point.
const SOL_150: u128 = 150_000_000_000;

#[tokio::test]
async fn open_long_charges_the_fee_and_records_the_entry() {
    // SETUP
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    let pool_before = ctx.exchange().await.pool_balance;
    // ACT: buy 10 SOL at $150 → 1,500 USDC notional, 0.05 % fee = 0.75 USDC.
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    // CHECK
    let account = ctx.margin_account(&alice.account).await;
    let position = account.positions[0];
    assert_eq!(
        (position.market_index, position.base, position.entry_quote),
        (0, 10 * SOL, 1_500 * USDC as i64)
    );
    assert_eq!(account.collateral, (1_000 * USDC - 750_000) as i64);
    assert_eq!(ctx.exchange().await.pool_balance, pool_before + 750_000);
    let market = ctx.market(0).await;
    assert_eq!((market.long_base, market.long_entry_quote), (10 * SOL as u64, 1_500 * USDC as i64));
    assert_eq!((market.total_fees, market.total_volume_base), (750_000, 10 * SOL as u64));
}

#[tokio::test]
async fn reduce_realizes_pnl_against_the_pool_and_close_frees_the_slot() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 10 * SOL).await.unwrap();
    ctx.set_price_usd(0, 160.0).await;
    let pool_before = ctx.exchange().await.pool_balance;
    // Sell 4 SOL at $160: proceeds 640, entry share 600 → +40 realized, fee 0.32.
    ctx.trade(&alice, 0, -4 * SOL).await.unwrap();
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!((account.positions[0].base, account.positions[0].entry_quote), (6 * SOL, 900 * USDC as i64));
    assert_eq!(account.collateral, (1_000 * USDC - 750_000 + 40 * USDC - 320_000) as i64);
    assert_eq!(ctx.exchange().await.pool_balance, pool_before - 40 * USDC as i64 + 320_000);
    // Close the rest at $140: −60 realized, fee 0.42.
    ctx.set_price_usd(0, 140.0).await;
    ctx.trade(&alice, 0, -6 * SOL).await.unwrap();
    let account = ctx.margin_account(&alice.account).await;
    assert!(!account.positions[0].is_open());
    assert_eq!(account.positions[0].entry_quote, 0);
    assert_eq!(
        account.collateral,
        (1_000 * USDC - 750_000 + 40 * USDC - 320_000 - 60 * USDC - 420_000) as i64
    );
    let market = ctx.market(0).await;
    assert_eq!((market.long_base, market.long_entry_quote), (0, 0));
    // Everything is withdrawable again with no health accounts.
    let collateral = account.collateral as u64;
    ctx.withdraw(&alice, collateral).await.unwrap();
    assert_eq!(ctx.token_balance(&alice.token).await, collateral);
}

#[tokio::test]
async fn short_then_flip_long_in_one_order() {
    let mut ctx = crate::standard().await;
    let bob = ctx.trader(2_000 * USDC).await;
    ctx.trade(&bob, 0, -5 * SOL).await.unwrap();
    let account = ctx.margin_account(&bob.account).await;
    assert_eq!((account.positions[0].base, account.positions[0].entry_quote), (-5 * SOL, -750 * USDC as i64));
    assert_eq!(ctx.market(0).await.short_base, 5 * SOL as u64);
    // Price falls to $100: buying 8 closes the short (+250) and opens 3 long at 100.
    ctx.set_price_usd(0, 100.0).await;
    ctx.trade(&bob, 0, 8 * SOL).await.unwrap();
    let account = ctx.margin_account(&bob.account).await;
    assert_eq!((account.positions[0].base, account.positions[0].entry_quote), (3 * SOL, 300 * USDC as i64));
    let fees = 375_000 + 400_000; // 0.05 % of 750 and of 800
    assert_eq!(account.collateral, (2_000 * USDC + 250 * USDC - fees) as i64);
    let market = ctx.market(0).await;
    assert_eq!((market.short_base, market.short_entry_quote, market.long_base), (0, 0, 3 * SOL as u64));
}

#[tokio::test]
async fn cross_margin_positions_in_two_markets() {
    let mut ctx = crate::standard().await;
    let carol = ctx.trader(3_000 * USDC).await;
    ctx.trade(&carol, 0, 10 * SOL).await.unwrap(); // 1,500 USDC
    ctx.trade(&carol, 1, -20_000_000).await.unwrap(); // 0.2 BTC short = 12,000 USDC
    let account = ctx.margin_account(&carol.account).await;
    assert_eq!(account.open_position_count(), 2);
    assert_eq!(account.positions[1].market_index, 1);
    assert_eq!(account.positions[1].entry_quote, -12_000 * USDC as i64);
    // A third order in SOL needs BTC as a remaining account; the harness passes it.
    ctx.trade(&carol, 0, SOL).await.unwrap();
}

#[tokio::test]
async fn delegate_may_trade() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    let delegate = Keypair::new();
    let set = ix::SetDelegate {
        owner: alice.owner.pubkey(),
        margin_account: alice.account,
        delegate: delegate.pubkey(),
    }
    .instruction(&ctx.ex);
    ctx.send(&[set], &[&alice.owner]).await.unwrap();
    let mut order = ctx.order(&alice, 0, SOL).await;
    order.trader = delegate.pubkey();
    ctx.send(&[order.instruction(&ctx.ex)], &[&delegate]).await.unwrap();
    assert_eq!(ctx.margin_account(&alice.account).await.positions[0].base, SOL);
}

#[tokio::test]
async fn limit_price_is_honoured_at_the_boundary() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    let mut order = ctx.order(&alice, 0, SOL).await;
    order.limit_price = SOL_150 as u64; // exactly the fill price
    ctx.send(&[order.instruction(&ctx.ex)], &[&alice.owner]).await.unwrap();
    let mut sell = ctx.order(&alice, 0, -SOL).await;
    sell.limit_price = SOL_150 as u64;
    ctx.send(&[sell.instruction(&ctx.ex)], &[&alice.owner]).await.unwrap();
}

#[tokio::test]
async fn conservative_price_tightens_the_open_check() {
    // With a 1.5 % confidence band the long is valued at price − conf; an order that fits at the
    // oracle price is refused when it does not fit at the conservative price.
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    let price = PythPrice::usd(150.0).with_conf(225_000_000); // $2.25
    ctx.set_price(0, price).await;
    // 66 SOL: I at 147.75 = 975.15, E' = 1,000 − 4.95 fee − 66·2.25 = 846.55 < I.
    let before = ctx.snapshot_with(&[]).await;
    assert_error(ctx.trade(&alice, 0, 66 * SOL).await, MicroliqError::InitialHealthViolated);
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);
    // 50 SOL: I = 738.75, E' = 1,000 − 3.75 − 112.5 = 883.75 ≥ I.
    ctx.trade(&alice, 0, 50 * SOL).await.unwrap();
}
