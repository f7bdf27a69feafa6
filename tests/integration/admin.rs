use microliq::error::MicroliqError;
use microliq::instructions::OracleConfig;
use microliq::oracle::{OracleKind, PYTH_RECEIVER_PROGRAM};
use microliq::state::{pause, MarketParams};
use microliq_tests::ix;
use microliq_tests::*;
use pyth_solana_receiver_sdk::price_update::VerificationLevel;
use solana_sdk::signature::{Keypair, Signer};

#[tokio::test]
async fn initialize_exchange_creates_vaults_fund_and_share_mint() {
    // SETUP / ACT
    let mut ctx = crate::builder().with_insurance_cap(123).build().await;
    // CHECK
    let exchange = ctx.exchange().await;
    assert_eq!(exchange.admin, ctx.admin.pubkey());
    assert_eq!(exchange.quote_mint, ctx.ex.quote_mint);
    assert_eq!(exchange.quote_vault, ctx.ex.quote_vault);
    assert_eq!(exchange.insurance_vault, ctx.ex.insurance_vault);
    assert_eq!(exchange.lp_mint, ctx.ex.lp_mint);
    assert_eq!(exchange.pyth_program, PYTH_PROGRAM);
    assert_eq!(exchange.insurance_cap_per_event, 123);
    assert_eq!(exchange.quote_decimals, 6);
    assert_eq!((exchange.total_collateral, exchange.pool_balance, exchange.market_count), (0, 0, 0));
    assert_eq!(ctx.token_balance(&ctx.ex.quote_vault.clone()).await, 0);
    assert_eq!(ctx.mint_supply(&ctx.ex.lp_mint.clone()).await, 0);
}

#[tokio::test]
async fn add_market_stores_oracle_and_params() {
    let mut ctx = crate::builder().build().await;
    let sol = ctx.add_market(MarketSpec::sol()).await;
    let btc = ctx.add_market(MarketSpec::btc()).await;
    let market = ctx.market(1).await;
    assert_eq!((sol.index, btc.index), (0, 1));
    assert_eq!(market.oracle, btc.oracle);
    assert_eq!(market.params, MarketSpec::btc().params);
    assert_eq!(market.base_decimals, 8);
    assert_eq!(&market.name[..8], b"BTC-PERP");
    assert_eq!(ctx.exchange().await.market_count, 2);
}

#[tokio::test]
async fn update_market_replaces_params_within_bounds() {
    let mut ctx = crate::builder().with_market(MarketSpec::sol()).build().await;
    let params = MarketParams { initial_rate: 200_000, maintenance_rate: 100_000, ..default_params() };
    let market = ctx.markets[0].market;
    let update = ix::UpdateMarket { admin: ctx.admin.pubkey(), market, params }.instruction(&ctx.ex);
    ctx.admin_send(update).await.unwrap();
    assert_eq!(ctx.market(0).await.params, params);
}

#[tokio::test]
async fn update_market_rejects_each_broken_rule_and_changes_nothing() {
    let mut ctx = crate::builder().with_market(MarketSpec::sol()).build().await;
    let base = default_params();
    let cases = [
        // im ≤ mm
        (MarketParams { initial_rate: 50_000, ..base }, MicroliqError::InitialNotAboveMaintenance),
        // (1 + β)·mm ≤ max penalty: 1.0 · 2 % ≤ 2.5 % + 1 %
        (
            MarketParams { maintenance_rate: 20_000, liquidation_buffer: 0, ..base },
            MicroliqError::PenaltyNotBelowMaintenance,
        ),
        (MarketParams { bonus_min_rate: 30_000, ..base }, MicroliqError::BonusRangeInverted),
        (
            MarketParams { maintenance_rate: 600_000, initial_rate: 700_000, ..base },
            MicroliqError::ParameterOutOfBounds,
        ),
        (MarketParams { close_factor: 0, ..base }, MicroliqError::ParameterOutOfBounds),
        (MarketParams { max_staleness_secs: 0, ..base }, MicroliqError::ParameterOutOfBounds),
        (MarketParams { base_lot_size: 0, ..base }, MicroliqError::ParameterOutOfBounds),
        (MarketParams { taker_fee_rate: 20_000, ..base }, MicroliqError::ParameterOutOfBounds),
    ];
    let market = ctx.markets[0].market;
    for (params, expected) in cases {
        let before = ctx.snapshot_with(&[]).await;
        let update = ix::UpdateMarket { admin: ctx.admin.pubkey(), market, params }.instruction(&ctx.ex);
        assert_error(ctx.admin_send(update).await, expected);
        before.assert_unchanged(&ctx.snapshot_with(&[]).await);
    }
}

#[tokio::test]
async fn admin_only_instructions_refuse_other_signers() {
    let mut ctx = crate::builder().with_market(MarketSpec::sol()).build().await;
    let mallory = Keypair::new();
    ctx.fund(&mallory.pubkey(), 1_000_000_000).await;
    let market = ctx.markets[0].market;
    let instructions = [
        ix::UpdateMarket { admin: mallory.pubkey(), market, params: default_params() }.instruction(&ctx.ex),
        ix::SetPause { admin: mallory.pubkey(), market: None, paused: pause::ALL }.instruction(&ctx.ex),
        ix::SetPause { admin: mallory.pubkey(), market: Some(market), paused: pause::ALL }
            .instruction(&ctx.ex),
        ix::UpdateExchange {
            admin: mallory.pubkey(),
            insurance_cap_per_event: 0,
            insolvent_close_reward: 0,
            liquidation_episode_slots: 150,
        }
        .instruction(&ctx.ex),
        ix::TransferAdmin { admin: mallory.pubkey(), new_admin: mallory.pubkey() }.instruction(&ctx.ex),
    ];
    for instruction in instructions {
        let before = ctx.snapshot_with(&[]).await;
        assert_error(ctx.send(&[instruction], &[&mallory]).await, MicroliqError::NotAdmin);
        before.assert_unchanged(&ctx.snapshot_with(&[]).await);
    }
}

#[tokio::test]
async fn transfer_admin_needs_both_keys_and_hands_over() {
    let mut ctx = crate::builder().build().await;
    let new_admin = Keypair::new();
    let transfer =
        ix::TransferAdmin { admin: ctx.admin.pubkey(), new_admin: new_admin.pubkey() }.instruction(&ctx.ex);
    let admin = ctx.admin.insecure_clone();
    ctx.send(&[transfer], &[&admin, &new_admin]).await.unwrap();
    assert_eq!(ctx.exchange().await.admin, new_admin.pubkey());
    // The old admin can no longer pause.
    let pause_ix =
        ix::SetPause { admin: admin.pubkey(), market: None, paused: pause::ALL }.instruction(&ctx.ex);
    let before = ctx.snapshot_with(&[]).await;
    assert_error(ctx.send(&[pause_ix], &[&admin]).await, MicroliqError::NotAdmin);
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);
}

#[tokio::test]
async fn pause_flags_are_set_exchange_wide_and_per_market() {
    let mut ctx = crate::builder().with_market(MarketSpec::sol()).build().await;
    let market = ctx.markets[0].market;
    let admin = ctx.admin.pubkey();
    ctx.admin_send(ix::SetPause { admin, market: None, paused: pause::WITHDRAW }.instruction(&ctx.ex))
        .await
        .unwrap();
    ctx.admin_send(
        ix::SetPause { admin, market: Some(market), paused: pause::INCREASE }.instruction(&ctx.ex),
    )
    .await
    .unwrap();
    assert_eq!(ctx.exchange().await.paused, pause::WITHDRAW);
    assert_eq!(ctx.market(0).await.paused, pause::INCREASE);
    // Unknown bits are refused.
    let bad = ix::SetPause { admin, market: None, paused: 1 << 15 }.instruction(&ctx.ex);
    let before = ctx.snapshot_with(&[]).await;
    assert_error(ctx.admin_send(bad).await, MicroliqError::ParameterOutOfBounds);
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);
}

#[tokio::test]
async fn add_market_refuses_a_foreign_or_garbage_oracle() {
    let mut ctx = crate::builder().build().await;
    let market = ctx.ex.market(0);
    // (account, config, owner, data, error): owned by another program; owned by the right Pyth
    // program but not a price account; for PriceUpdateV2, also an account that is not the push
    // oracle's feed account of the feed and shard.
    let v2 = |shard_id| OracleConfig { shard_id, ..OracleConfig::sponsored(SOL_USD_FEED_ID) };
    let foreign_owner = Keypair::new().pubkey();
    let cases = match crate::ORACLE_KIND {
        OracleKind::PythLegacy => vec![
            (
                Keypair::new().pubkey(),
                OracleConfig::legacy(),
                foreign_owner,
                PythPrice::usd(1.0).to_bytes(),
                MicroliqError::OracleWrongOwner,
            ),
            (
                Keypair::new().pubkey(),
                OracleConfig::legacy(),
                PYTH_PROGRAM,
                vec![7u8; 3312],
                MicroliqError::OracleInvalid,
            ),
        ],
        OracleKind::PythPriceUpdateV2 => {
            let valid = PythPrice::usd(1.0).to_price_update_v2(SOL_USD_FEED_ID, VerificationLevel::Full);
            vec![
                (
                    push_feed_address(0, &SOL_USD_FEED_ID),
                    v2(0),
                    foreign_owner,
                    valid.clone(),
                    MicroliqError::OracleWrongOwner,
                ),
                (
                    push_feed_address(1, &SOL_USD_FEED_ID),
                    v2(1),
                    PYTH_RECEIVER_PROGRAM,
                    vec![7u8; 134],
                    MicroliqError::OracleWrongAccountType,
                ),
                // A valid update, but at an address of the wrong shard, or no push feed at all.
                (
                    push_feed_address(2, &SOL_USD_FEED_ID),
                    v2(3),
                    PYTH_RECEIVER_PROGRAM,
                    valid.clone(),
                    MicroliqError::OracleNotPushFeed,
                ),
                (
                    Keypair::new().pubkey(),
                    v2(0),
                    PYTH_RECEIVER_PROGRAM,
                    valid,
                    MicroliqError::OracleNotPushFeed,
                ),
            ]
        }
    };
    for (oracle, config, owner, data, expected) in cases {
        ctx.write_account(&oracle, owner, data);
        let before = ctx.snapshot_with(&[market]).await;
        let add = ix::AddMarket {
            admin: ctx.admin.pubkey(),
            market,
            oracle,
            params: default_params(),
            base_decimals: 9,
            name: "X".into(),
            oracle_config: config,
            funding: default_funding(),
        }
        .instruction(&ctx.ex);
        assert_error(ctx.admin_send(add).await, expected);
        before.assert_unchanged(&ctx.snapshot_with(&[market]).await);
    }
}
