//! The keeper against the real program on the in-process runtime.

use microliq::error::MicroliqError;
use microliq_client::*;
use microliq_keeper::chain::Chain;
use microliq_keeper::demo::{self, DemoConfig};
use microliq_keeper::keeper::{run_pass, KeeperConfig, Liquidator};
use microliq_keeper::scan::{decode_margin_accounts, rank, Snapshot};
use microliq_keeper::simulate::{self, ImpactConfig, SimulateConfig};
use solana_sdk::signature::Signer;

async fn liquidator(ctx: &mut LocalExchange) -> Liquidator {
    let keeper = ctx.keeper().await;
    Liquidator { keeper: keeper.owner.insecure_clone(), keeper_token: keeper.token, addresses: ctx.ex }
}

#[tokio::test]
async fn keeper_finds_exactly_the_liquidatable_accounts() {
    // SETUP: five accounts; after SOL falls to $142 and BTC to $55,000 only the 10x SOL long and
    // the 10x BTC long are under maintenance.
    let mut ctx = LocalExchange::standard().await;
    let sol_10x = ctx.trader(1_000 * USDC).await;
    ctx.trade(&sol_10x, 0, 66 * SOL).await.unwrap();
    let sol_2x = ctx.trader(1_000 * USDC).await;
    ctx.trade(&sol_2x, 0, 13 * SOL).await.unwrap();
    let sol_short = ctx.trader(1_000 * USDC).await;
    ctx.trade(&sol_short, 0, -66 * SOL).await.unwrap();
    let idle = ctx.trader(1_000 * USDC).await;
    let btc_10x = ctx.trader(1_000 * USDC).await;
    ctx.trade(&btc_10x, 1, 16_500_000).await.unwrap(); // 0.165 BTC = 9,900 USDC
    ctx.set_price_usd(0, 142.0).await;
    ctx.set_price_usd(1, 55_000.0).await;
    let liquidator = liquidator(&mut ctx).await;

    // ACT
    let snapshot = Snapshot::load(&mut ctx, liquidator.addresses).await.unwrap();
    let accounts = decode_margin_accounts(&ctx.margin_accounts().await.unwrap());
    let ranked = rank(&accounts, &snapshot);

    // CHECK: the keeper's set is {sol_10x, btc_10x}, most under water first …
    let found: Vec<_> = ranked.iter().map(|(a, _, _)| a.address).collect();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0], btc_10x.account, "BTC is further below maintenance");
    assert_eq!(found[1], sol_10x.account);
    // … and the program agrees: it refuses every account the keeper skipped.
    let keeper = Keeper { owner: liquidator.keeper.insecure_clone(), token: liquidator.keeper_token };
    for skipped in [&sol_2x, &sol_short] {
        let before = ctx.snapshot_with(&[keeper.token]).await;
        assert_error(ctx.liquidate(&keeper, &skipped.account, 0).await, MicroliqError::NotLiquidatable);
        before.assert_unchanged(&ctx.snapshot_with(&[keeper.token]).await);
    }
    let _ = idle;
    // The pass liquidates both, and the program closes exactly what the keeper predicted.
    let report = run_pass(&mut ctx, &liquidator, &KeeperConfig::default()).await.unwrap();
    assert_eq!(report.liquidatable, found);
    assert!(report.failures.is_empty());
    assert!(report.slices.iter().all(|r| r.matches_prediction()), "{:?}", report.slices);
    let liquidated: std::collections::BTreeSet<_> = report.slices.iter().map(|r| r.account).collect();
    assert_eq!(liquidated.len(), 2);
    assert_eq!(
        ctx.token_balance(&liquidator.keeper_token).await,
        report.slices.iter().map(|r| r.event.keeper_bonus).sum::<u64>()
    );
    // A second pass finds nothing left to do.
    let again = run_pass(&mut ctx, &liquidator, &KeeperConfig::default()).await.unwrap();
    assert!(again.liquidatable.is_empty() && again.slices.is_empty());
}

#[tokio::test]
async fn keeper_slices_an_account_made_liquidatable_by_funding_alone() {
    // SETUP: 1 %/h, alice the only trader (66 SOL long at $150 on 1,000 USDC): 99 USDC an hour.
    let funding = microliq::state::FundingConfig { rate_scale: 10_000, max_rate: 10_000 };
    let mut ctx = LocalExchange::builder()
        .with_market(MarketSpec::sol().with_funding(funding))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    let liquidator = liquidator(&mut ctx).await;

    // Five hours, no price move: E = 500.05 ≥ M = 495, nothing to do.
    ctx.advance(45_000, 5 * 3_600).await;
    ctx.set_price_usd(0, 150.0).await;
    let idle = run_pass(&mut ctx, &liquidator, &KeeperConfig::default()).await.unwrap();
    assert!(idle.liquidatable.is_empty() && idle.slices.is_empty());

    // ACT: a sixth hour (E = 401.05 < 495).
    ctx.advance(9_000, 3_600).await;
    ctx.set_price_usd(0, 150.0).await;
    let report = run_pass(&mut ctx, &liquidator, &KeeperConfig::default()).await.unwrap();

    // CHECK: found, sliced as predicted to the atom, the 594 of funding settled first.
    assert_eq!(report.liquidatable, vec![alice.account]);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.slices.is_empty());
    assert!(report.slices.iter().all(|r| r.matches_prediction()), "{:?}", report.slices);
    let first = &report.slices[0].event;
    assert_eq!((first.funding_settled, first.equity_before), (-594_000_000, 401_050_000));
    assert!(report.slices[1..].iter().all(|r| r.event.funding_settled == 0));
    assert!(!ctx.health(&alice.account).await.is_liquidatable());
    ctx.assert_vaults_match_ledgers().await;
}

#[tokio::test]
async fn expected_slice_equals_what_the_program_closes() {
    let mut ctx = LocalExchange::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.set_price_usd(0, 141.0).await;
    let liquidator = liquidator(&mut ctx).await;
    let snapshot = Snapshot::load(&mut ctx, liquidator.addresses).await.unwrap();
    let accounts = decode_margin_accounts(&ctx.margin_accounts().await.unwrap());
    let (_, market, plan) = rank(&accounts, &snapshot).remove(0);
    // The harness computes the same plan from the account and prices independently.
    let harness_plan = ctx.expected_liquidation(&alice.account, market, u64::MAX).await;
    assert_eq!(plan, harness_plan);
    let report = run_pass(&mut ctx, &liquidator, &KeeperConfig::default()).await.unwrap();
    let first = &report.slices[0];
    assert_eq!(first.event.base_closed, plan.outcome.closed_base);
    assert_eq!(first.event.keeper_bonus as u128, plan.outcome.keeper_bonus);
    assert_eq!(first.event.equity_after as i128, plan.outcome.health_after.equity);
    assert_eq!(ctx.margin_account(&alice.account).await.positions[0].base, first.event.remaining_base);
}

#[tokio::test]
async fn keeper_names_the_losing_position_in_a_repeat() {
    // 66 SOL and 0.15 BTC long; BTC in profit at $61,000; SOL sliced at $131 (a recovery), then
    // at $126 a minute later: a repeat breach, in which only the loser may be closed whole.
    let mut ctx = LocalExchange::standard().await;
    ctx.set_repeat_liquidation_window(216_000).await.unwrap();
    let alice = ctx.trader(2_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.trade(&alice, 1, 15_000_000).await.unwrap();
    ctx.set_price_usd(1, 61_000.0).await;
    ctx.set_price_usd(0, 131.0).await;
    let liquidator = liquidator(&mut ctx).await;
    run_pass(&mut ctx, &liquidator, &KeeperConfig::default()).await.unwrap();
    let account = ctx.margin_account(&alice.account).await;
    assert!(account.last_recovery_slot != 0 && account.being_liquidated == 0);
    ctx.advance(200, 80).await;
    ctx.set_price_usd(1, 61_000.0).await;
    ctx.set_price_usd(0, 126.0).await;

    let snapshot = Snapshot::load(&mut ctx, liquidator.addresses).await.unwrap();
    let accounts = decode_margin_accounts(&ctx.margin_accounts().await.unwrap());
    let (_, market, plan) = rank(&accounts, &snapshot).remove(0);
    assert_eq!((market, plan.whole_close), (0, Some(microliq::math::WholeClose::Repeat)));
    assert_eq!(plan, ctx.expected_liquidation(&alice.account, 0, u64::MAX).await);
    let report = run_pass(&mut ctx, &liquidator, &KeeperConfig::default()).await.unwrap();
    assert_eq!((report.slices[0].event.market_index, report.slices[0].event.whole_close), (0, 5));
    let account = ctx.margin_account(&alice.account).await;
    assert!(
        account.positions.iter().any(|p| p.market_index == 1 && p.base == 15_000_000),
        "the winner stays"
    );
}

#[tokio::test]
async fn demo_runs_and_its_invariants_hold() {
    let mut out = Vec::new();
    let summary =
        demo::run(&DemoConfig { seed: 3, traders: 10, steps: 16, step_secs: 30 }, &mut out).await.unwrap();
    let story = String::from_utf8(out).unwrap();
    assert!(summary.slices > 0, "{story}");
    assert!(summary.liquidated_accounts > 0 && summary.liquidated_accounts <= 10);
    assert!(summary.vaults_match_ledgers);
    assert_eq!(summary.bad_debt_created_by_liquidation, 0);
    assert!(summary.health_improved_every_slice);
    assert!(summary.keeper_predicted_every_slice);
    assert!(summary.funding_paid > 0 && summary.funding_paid >= summary.funding_received, "{summary:?}");
    assert!(story.contains("summary") && story.contains("closed") && story.contains("funding paid"));
    let json = serde_json::to_value(&summary).unwrap();
    for key in [
        "accounts",
        "liquidated_accounts",
        "slices",
        "full_closures",
        "bonus_paid",
        "insurance_fees",
        "insurance_draws",
        "socialized_loss",
        "bad_debt_created_by_liquidation",
        "vaults_match_ledgers",
        "health_improved_every_slice",
        "funding_paid",
        "funding_received",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
}

#[tokio::test]
async fn simulator_runs_both_policies_and_writes_its_plot() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("equity.svg");
    let config = SimulateConfig {
        seed: 11,
        paths: 1,
        steps: 14,
        traders: 8,
        prices_csv: None,
        plot: Some(plot.clone()),
        liquidation_buffer: None,
        step_secs: None,
        impact: ImpactConfig::default(),
        funding: None,
        repeat_window_secs: microliq_keeper::simulate::DEFAULT_REPEAT_WINDOW_SECS,
        substep_secs: microliq_keeper::simulate::DEFAULT_SUBSTEP_SECS,
    };
    let report = simulate::run(&config, &mut Vec::new()).await.unwrap();
    for result in [&report.micro, &report.full] {
        assert!(result.vaults_match_ledgers);
        assert_eq!(result.bad_debt_created_by_liquidation, 0);
        assert_eq!(result.equity_curve.len(), 15);
        assert_eq!((result.liquidated_curve.len(), result.impacted_path.len()), (14, 14));
        assert_eq!(result.bad_debt, result.insurance_draws + result.socialized_loss);
        // The cost to users is what the keepers and the insurance fund took from them.
        assert!(result.liquidation_cost_to_users <= result.keeper_revenue + result.insurance_fees);
        assert!(result.max_liquidated_notional_in_one_step <= result.notional_liquidated);
        assert!(result.cascade_amplification >= 0.999, "{}", result.cascade_amplification);
        // Liquidations moved the price: the impacted path leaves the exogenous one.
        if result.liquidation_txs > 0 {
            assert_ne!(result.impacted_path, report.exogenous_path);
        }
    }
    let json = serde_json::to_value(&report).unwrap();
    for policy in ["micro", "full"] {
        for key in [
            "user_equity_preserved",
            "bad_debt",
            "insurance_draws",
            "liquidation_txs",
            "keeper_revenue",
            "liquidation_cost_to_users",
            "notional_liquidated",
            "max_liquidated_notional_in_one_step",
            "cascade_amplification",
            "accounts_wiped_out",
            "positions_open_at_end",
        ] {
            assert!(json[policy].get(key).is_some(), "missing {policy}.{key}");
        }
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("micro-liquidation") && svg.contains("full liquidation"));
    assert!(svg.contains("SOL price") && svg.contains("notional liquidated per step"));
}

#[tokio::test]
async fn simulator_replays_a_csv_price_path() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("prices.csv");
    // Named columns, an extra one, returns replayed from the start prices (150 / 60,000).
    std::fs::write(&csv, "timestamp_utc,btc,sol,note\n2022-11-08T00:00:00Z,30000,75,a\n2022-11-08T01:00:00Z,29000,70,b\n2022-11-08T02:00:00Z,26000,60,c\n2022-11-08T03:00:00Z,26500,62.5,d\n").unwrap();
    let config = SimulateConfig {
        seed: 5,
        paths: 9,
        steps: 99,
        traders: 6,
        prices_csv: Some(csv),
        plot: None,
        liquidation_buffer: None,
        step_secs: None, // the CSV's own step: one hour
        impact: ImpactConfig::exogenous(),
        funding: None,
        repeat_window_secs: microliq_keeper::simulate::DEFAULT_REPEAT_WINDOW_SECS,
        substep_secs: 0, // its rows as they are
    };
    let report = simulate::run(&config, &mut Vec::new()).await.unwrap();
    // Nine populations on the one path, the CSV's hourly step.
    assert_eq!((report.paths, report.steps, report.step_secs), (9, 4, 3_600));
    // No impact: the prices the program saw are the replayed ones (rescaled to the start).
    assert_eq!(report.micro.impacted_path, report.exogenous_path);
    assert!((report.full.cascade_amplification - 1.0).abs() < 1e-12);
    assert!(report.micro.liquidation_txs > 0 || report.full.liquidation_txs > 0);
    // Hourly steps: the crowded side pays funding over the four hours, under both policies.
    for result in [&report.micro, &report.full] {
        assert!(result.funding_paid > 0, "{result:?}");
        assert!(result.funding_paid >= result.funding_received, "the pool nets the imbalance: {result:?}");
        assert!(result.vaults_match_ledgers);
    }
}

#[tokio::test]
async fn simulator_refines_an_hourly_replay_to_five_minutes_through_its_closes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("prices.csv");
    std::fs::write(&csv, "timestamp_utc,btc,sol\n2022-11-08T00:00:00Z,30000,75\n2022-11-08T01:00:00Z,29000,70\n2022-11-08T02:00:00Z,26000,60\n2022-11-08T03:00:00Z,26500,62.5\n").unwrap();
    let config = SimulateConfig {
        seed: 5,
        paths: 2,
        steps: 99,
        traders: 6,
        prices_csv: Some(csv),
        plot: None,
        liquidation_buffer: None,
        step_secs: None,
        impact: ImpactConfig::exogenous(),
        funding: None,
        repeat_window_secs: microliq_keeper::simulate::DEFAULT_REPEAT_WINDOW_SECS,
        substep_secs: microliq_keeper::simulate::DEFAULT_SUBSTEP_SECS,
    };
    let report = simulate::run(&config, &mut Vec::new()).await.unwrap();
    // Three hourly rows become 36 steps of 300 s; every 12th step is the series' own close.
    assert_eq!((report.steps, report.step_secs, report.substeps_per_row), (37, 300, 12));
    let closes = [[150.0, 60_000.0], [140.0, 58_000.0], [120.0, 52_000.0], [125.0, 53_000.0]];
    for (row, close) in closes.iter().enumerate() {
        let step = &report.exogenous_path[row * 12];
        assert!((step[0] - close[0]).abs() < 1e-9 && (step[1] - close[1]).abs() < 1e-6, "{step:?}");
    }
    // Between the closes the bridge moves: not a straight line.
    let (a, b, mid) = (&report.exogenous_path[12], &report.exogenous_path[24], &report.exogenous_path[18]);
    assert!((mid[0] - (a[0] * b[0]).sqrt()).abs() > 1e-6);
    assert!(report.micro.vaults_match_ledgers && report.full.vaults_match_ledgers);
}

#[tokio::test]
async fn chain_trait_reads_the_local_exchange() {
    let mut ctx = LocalExchange::standard().await;
    let alice = ctx.trader(10 * USDC).await;
    let chain: &mut dyn Chain = &mut ctx;
    let accounts = chain.margin_accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].0, alice.account);
    let decoded = decode_margin_accounts(&accounts);
    assert_eq!(decoded[0].1.owner, alice.owner.pubkey());
}

/// A poster that writes what the Pyth receiver's `post_update` would: a fully verified update of
/// the feed, published and posted now, at the keeper's own account. (The receiver and Wormhole
/// programs are not available in the in-process runtime; `pull::post_update_plan` is checked for
/// shape in the unit tests.)
struct LocalPoster {
    dollars: f64,
    account: anchor_lang::prelude::Pubkey,
    quotes: u32,
    posts: u32,
}

impl LocalPoster {
    fn new(dollars: f64) -> Self {
        LocalPoster { dollars, account: solana_sdk::pubkey::Pubkey::new_unique(), quotes: 0, posts: 0 }
    }
}

#[async_trait::async_trait(?Send)]
impl microliq_keeper::pull::PriceUpdater for LocalPoster {
    fn account(
        &self,
        _payer: &solana_sdk::signature::Keypair,
        _feed_id: &[u8; 32],
    ) -> anchor_lang::prelude::Pubkey {
        self.account
    }

    async fn latest(
        &mut self,
        _feed_id: &[u8; 32],
        now: i64,
    ) -> anyhow::Result<Option<microliq::oracle::RawPrice>> {
        self.quotes += 1;
        let p = PythPrice { publish_time: now, ..PythPrice::usd(self.dollars) };
        Ok(Some(microliq::oracle::RawPrice {
            price: p.price,
            conf: p.conf,
            expo: p.expo,
            publish_time: p.publish_time,
            ema_price: p.ema,
        }))
    }

    async fn post(
        &mut self,
        chain: &mut dyn Chain,
        _payer: &solana_sdk::signature::Keypair,
        feed_id: &[u8; 32],
        _priority_fee: u64,
    ) -> anyhow::Result<anchor_lang::prelude::Pubkey> {
        let ctx = chain.as_local().expect("in-process chain");
        let clock = ctx.clock().await;
        let price = PythPrice {
            publish_time: clock.unix_timestamp,
            posted_slot: clock.slot,
            ..PythPrice::usd(self.dollars)
        };
        let data = price
            .to_price_update_v2(*feed_id, pyth_solana_receiver_sdk::price_update::VerificationLevel::Full);
        ctx.write_account(&self.account, microliq::oracle::PYTH_RECEIVER_PROGRAM, data);
        self.posts += 1;
        Ok(self.account)
    }
}

/// SOL-PERP in pull mode (10 s window) with a pool and insurance; the configured account goes
/// stale 11 s after the trader opens `base` SOL with `collateral`.
async fn pull_exchange_with_trader(collateral: u64, base: i64) -> (LocalExchange, Trader) {
    let mut ctx = LocalExchange::builder()
        .with_market(MarketSpec::sol().pull())
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let trader = ctx.trader(collateral).await;
    ctx.trade(&trader, 0, base).await.unwrap();
    ctx.advance(30, 11).await;
    (ctx, trader)
}

#[tokio::test]
async fn keeper_posts_a_fresh_price_for_a_stale_pull_market_then_liquidates() {
    use microliq_keeper::keeper::run_pass_with;
    // SETUP: alice ~9.9x long; the configured account is stale and SOL trades at $140.
    let (mut ctx, alice) = pull_exchange_with_trader(1_000 * USDC, 66 * SOL).await;
    let liquidator = liquidator(&mut ctx).await;
    let config = KeeperConfig::default();

    // Without a poster the keeper has no price for the market and leaves it alone.
    let report = run_pass(&mut ctx, &liquidator, &config).await.unwrap();
    assert!(report.liquidatable.is_empty() && report.slices.is_empty() && report.failures.is_empty());

    // ACT: with one, it quotes $140, finds alice liquidatable, posts, and liquidates with it.
    let mut poster = LocalPoster::new(140.0);
    let report = run_pass_with(&mut ctx, &liquidator, &config, Some(&mut poster)).await.unwrap();

    // CHECK
    assert_eq!((poster.quotes, poster.posts), (1, 1));
    assert_eq!(report.liquidatable, vec![alice.account]);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.slices.is_empty());
    assert!(report.slices.iter().all(|r| r.matches_prediction() && r.event.oracle_price == 14_000_000_000));

    // 2 s later, same price: the keeper quotes again (free), finds nothing to do, posts nothing.
    ctx.advance(5, 2).await;
    let again = run_pass_with(&mut ctx, &liquidator, &config, Some(&mut poster)).await.unwrap();
    assert_eq!((poster.quotes, poster.posts), (2, 1));
    assert!(again.slices.is_empty() && again.failures.is_empty());
    // A crash while its own post is still fresh: the quote is newer and lower, alice is under
    // water again, so the keeper posts $128 and liquidates with it.
    poster.dollars = 128.0;
    ctx.advance(5, 2).await;
    let crash = run_pass_with(&mut ctx, &liquidator, &config, Some(&mut poster)).await.unwrap();
    assert_eq!((poster.quotes, poster.posts), (3, 2));
    assert!(!crash.slices.is_empty() && crash.failures.is_empty(), "{:?}", crash.failures);
    assert!(crash.slices.iter().all(|r| r.event.oracle_price == 12_800_000_000));
    // A market whose configured account reads again needs nothing from the poster.
    ctx.set_price_usd(0, 128.0).await;
    run_pass_with(&mut ctx, &liquidator, &config, Some(&mut poster)).await.unwrap();
    assert_eq!((poster.quotes, poster.posts), (3, 2));
}

#[tokio::test]
async fn keeper_leaves_a_pull_market_alone_while_its_liquidations_are_paused() {
    use microliq_keeper::keeper::run_pass_with;
    let (mut ctx, _alice) = pull_exchange_with_trader(1_000 * USDC, 66 * SOL).await;
    let admin = ctx.admin.pubkey();
    let market = ctx.markets[0].market;
    let pause = ix::SetPause { admin, market: Some(market), paused: microliq::state::pause::LIQUIDATE };
    ctx.admin_send(pause.instruction(&ctx.ex)).await.unwrap();
    let liquidator = liquidator(&mut ctx).await;
    let mut poster = LocalPoster::new(140.0);
    let report =
        run_pass_with(&mut ctx, &liquidator, &KeeperConfig::default(), Some(&mut poster)).await.unwrap();
    // Quoted (free), but nothing may be liquidated there, so nothing is posted or sent.
    assert_eq!((poster.quotes, poster.posts), (1, 0));
    assert!(report.slices.is_empty() && report.failures.is_empty());
}

#[tokio::test]
async fn keeper_prices_a_paused_pull_market_a_liquidation_elsewhere_needs() {
    use microliq_keeper::keeper::run_pass_with;
    // SETUP: SOL-PERP pull (liquidations paused there, its configured account stale), BTC-PERP
    // pinned; alice ~9x long BTC and a little SOL; BTC falls to $55,000.
    let mut ctx = LocalExchange::builder()
        .with_market(MarketSpec::sol().pull())
        .with_market(MarketSpec::btc())
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let alice = ctx.trader(1_100 * USDC).await;
    ctx.trade(&alice, 1, 16_500_000).await.unwrap(); // 0.165 BTC = 9,900 USDC
    ctx.trade(&alice, 0, SOL).await.unwrap();
    let pause = ix::SetPause {
        admin: ctx.admin.pubkey(),
        market: Some(ctx.markets[0].market),
        paused: microliq::state::pause::LIQUIDATE,
    };
    ctx.admin_send(pause.instruction(&ctx.ex)).await.unwrap();
    ctx.advance(30, 11).await;
    ctx.set_price_usd(1, 55_000.0).await;
    let liquidator = liquidator(&mut ctx).await;
    // ACT: liquidating BTC needs SOL's price as a health pair.
    let mut poster = LocalPoster::new(150.0);
    let report =
        run_pass_with(&mut ctx, &liquidator, &KeeperConfig::default(), Some(&mut poster)).await.unwrap();
    // CHECK
    assert_eq!(poster.posts, 1);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.slices.is_empty() && report.slices.iter().all(|r| r.event.market_index == 1));
}

#[tokio::test]
async fn keeper_keeps_liquidating_on_a_short_pull_window() {
    use microliq_keeper::keeper::run_pass_with;
    // A 3 s pull window: the keeper's margin shrinks with it (0 s here), and a post read back
    // right away is used.
    let params = microliq::state::MarketParams { max_staleness_secs: 3, ..default_params() };
    let mut ctx = LocalExchange::builder()
        .with_market(MarketSpec::sol().with_params(params).pull())
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.advance(10, 4).await;
    let liquidator = liquidator(&mut ctx).await;
    let mut poster = LocalPoster::new(140.0);
    let report =
        run_pass_with(&mut ctx, &liquidator, &KeeperConfig::default(), Some(&mut poster)).await.unwrap();
    assert_eq!(poster.posts, 1);
    assert!(!report.slices.is_empty() && report.failures.is_empty(), "{:?}", report.failures);
}

#[tokio::test]
async fn keeper_quotes_a_pull_market_whose_configured_account_still_reads() {
    use microliq_keeper::keeper::run_pass_with;
    // The configured account still reads ($150, a second old) but the market is at $140.
    let (mut ctx, _alice) = pull_exchange_with_trader(1_000 * USDC, 66 * SOL).await;
    let now = ctx.clock().await.unix_timestamp;
    ctx.set_price(0, PythPrice { publish_time: now - 1, ..PythPrice::usd(150.0) }).await;
    let liquidator = liquidator(&mut ctx).await;
    let mut poster = LocalPoster::new(140.0);
    let report =
        run_pass_with(&mut ctx, &liquidator, &KeeperConfig::default(), Some(&mut poster)).await.unwrap();
    assert_eq!((poster.quotes, poster.posts), (1, 1));
    assert!(!report.slices.is_empty() && report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.slices.iter().all(|r| r.event.oracle_price == 14_000_000_000));
}

#[tokio::test]
async fn keeper_quotes_but_does_not_post_when_nothing_is_liquidatable() {
    use microliq_keeper::keeper::run_pass_with;
    // SETUP: a 0.15x long in a stale pull market.
    let (mut ctx, _bob) = pull_exchange_with_trader(10_000 * USDC, 10 * SOL).await;
    let liquidator = liquidator(&mut ctx).await;
    let config = KeeperConfig::default();
    let mut poster = LocalPoster::new(150.0);
    // ACT: three passes, 2 s apart.
    for _ in 0..3 {
        let report = run_pass_with(&mut ctx, &liquidator, &config, Some(&mut poster)).await.unwrap();
        assert!(report.liquidatable.is_empty() && report.failures.is_empty());
        ctx.advance(5, 2).await;
    }
    // CHECK: a quote each pass (off chain, free), no post (two transactions and a fee each).
    assert_eq!((poster.quotes, poster.posts), (3, 0));
}

/// The in-process exchange where SOL's feed account is updated to $140, one slot later, each
/// time the keeper fetches price accounts: on a real cluster the sponsored feeds update about
/// every slot, so an account fetched after the keeper's clock read can be newer than it.
struct FeedUpdatesOnFetch<'a>(&'a mut LocalExchange);

#[async_trait::async_trait(?Send)]
impl Chain for FeedUpdatesOnFetch<'_> {
    async fn accounts(
        &mut self,
        keys: &[solana_sdk::pubkey::Pubkey],
    ) -> anyhow::Result<Vec<Option<Vec<u8>>>> {
        Chain::accounts(self.0, keys).await
    }
    async fn owned_accounts(
        &mut self,
        keys: &[solana_sdk::pubkey::Pubkey],
    ) -> anyhow::Result<Vec<Option<(solana_sdk::pubkey::Pubkey, Vec<u8>)>>> {
        self.0.advance(1, 0).await;
        let slot = self.0.clock().await.slot;
        self.0.set_price(0, PythPrice { posted_slot: slot, ..PythPrice::usd(140.0) }).await;
        Chain::owned_accounts(self.0, keys).await
    }
    async fn margin_accounts(&mut self) -> anyhow::Result<Vec<(solana_sdk::pubkey::Pubkey, Vec<u8>)>> {
        Chain::margin_accounts(self.0).await
    }
    async fn clock(&mut self) -> anyhow::Result<(u64, i64)> {
        Chain::clock(self.0).await
    }
    async fn send(
        &mut self,
        instructions: &[solana_sdk::instruction::Instruction],
        signer: &solana_sdk::signature::Keypair,
        compute_unit_limit: u32,
        priority_fee: u64,
    ) -> Result<Vec<String>, microliq_keeper::chain::SendError> {
        Chain::send(self.0, instructions, signer, compute_unit_limit, priority_fee).await
    }
    async fn send_signed(
        &mut self,
        instructions: &[solana_sdk::instruction::Instruction],
        signers: &[&solana_sdk::signature::Keypair],
    ) -> Result<Vec<String>, microliq_keeper::chain::SendError> {
        Chain::send_signed(self.0, instructions, signers).await
    }
}

#[tokio::test]
async fn keeper_reads_the_clock_after_the_price_accounts() {
    // SETUP: the 10x long; SOL's feed moves to $140 in a slot that starts while the keeper reads.
    let mut ctx = LocalExchange::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    let liquidator = liquidator(&mut ctx).await;
    // ACT
    let mut chain = FeedUpdatesOnFetch(&mut ctx);
    let snapshot = Snapshot::load(&mut chain, liquidator.addresses).await.unwrap();
    let report = run_pass(&mut chain, &liquidator, &KeeperConfig::default()).await.unwrap();
    // CHECK: the market is priced and the account liquidated (the program, running later still,
    // accepts that account).
    assert!(snapshot.markets[0].oracle.is_some());
    assert_eq!(report.liquidatable, vec![alice.account]);
    assert!(!report.slices.is_empty() && report.failures.is_empty(), "{:?}", report.failures);
}

/// A poster whose posts always fail (Hermes answers, the chain refuses).
struct FailingPoster(LocalPoster);

#[async_trait::async_trait(?Send)]
impl microliq_keeper::pull::PriceUpdater for FailingPoster {
    fn account(
        &self,
        payer: &solana_sdk::signature::Keypair,
        feed_id: &[u8; 32],
    ) -> anchor_lang::prelude::Pubkey {
        self.0.account(payer, feed_id)
    }
    async fn latest(
        &mut self,
        feed_id: &[u8; 32],
        now: i64,
    ) -> anyhow::Result<Option<microliq::oracle::RawPrice>> {
        self.0.latest(feed_id, now).await
    }
    async fn post(
        &mut self,
        _chain: &mut dyn Chain,
        _payer: &solana_sdk::signature::Keypair,
        _feed_id: &[u8; 32],
        _priority_fee: u64,
    ) -> anyhow::Result<anchor_lang::prelude::Pubkey> {
        anyhow::bail!("the post did not land")
    }
}

#[tokio::test]
async fn keeper_does_not_liquidate_with_a_quote_it_could_not_post() {
    use microliq_keeper::keeper::run_pass_with;
    let (mut ctx, _alice) = pull_exchange_with_trader(1_000 * USDC, 66 * SOL).await;
    let liquidator = liquidator(&mut ctx).await;
    let mut poster = FailingPoster(LocalPoster::new(140.0));
    let report =
        run_pass_with(&mut ctx, &liquidator, &KeeperConfig::default(), Some(&mut poster)).await.unwrap();
    // The quote showed a liquidation, but no price is on chain: nothing is sent.
    assert_eq!(poster.0.quotes, 1);
    assert!(report.liquidatable.is_empty() && report.slices.is_empty() && report.failures.is_empty());
}
