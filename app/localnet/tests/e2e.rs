//! End-to-end tests of the event-driven keeper on a real local validator: every transaction and
//! every update goes through JSON-RPC and websockets on 127.0.0.1, and the program runs as its
//! SBF build. Each test starts its own validator on a fresh ledger (run them one at a time:
//! `scripts/localnet-e2e.sh` passes `--test-threads=1`). Every wait is bounded.

use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use anyhow::Result;
use microliq::state::InsuranceFund;
use microliq_client::USDC;
use microliq_keeper::scan::{decode, Assessment};
use microliq_localnet::harness::{self, assess, free_port_pair, wait_for, RunningKeeper};
use microliq_localnet::{
    margin_account, start, trade, trader, wallet, Feeder, LocalTrader, Localnet, LocalnetConfig, Manifest,
};
use solana_sdk::signature::{Keypair, Signer};

const WAIT: Duration = Duration::from_secs(60);
/// 66 SOL, docs/LIQUIDATION.md's worked example (with 1,000 USDC at $150).
const BASE: i64 = 66_000_000_000;

fn localnet(ledger: &std::path::Path, port: Option<u16>, traders: usize) -> Localnet {
    // The keeper's logs (RUST_LOG, default info for the keeper) show in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,microliq_keeper=info,microliq_localnet=info".into()),
        )
        .with_test_writer()
        .try_init();
    let config = LocalnetConfig::with_default_programs(ledger.to_path_buf(), port);
    start(&config, traders, 3).expect("local validator")
}

/// A trader with 1,000 USDC and a 66 SOL long at $150 (docs/LIQUIDATION.md's worked example).
async fn open_victim(
    rpc: &solana_rpc_client::nonblocking::rpc_client::RpcClient,
    manifest: &Manifest,
) -> Result<LocalTrader> {
    let victim = trader(rpc, manifest, 1_000 * USDC).await?;
    trade(rpc, manifest, &victim, 0, BASE, Vec::new()).await?;
    Ok(victim)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The account's state before a price move and the plan the program will execute at the new
/// price for a first slice, computed off chain with the program's code.
async fn expected_first_slice(
    manifest: &Manifest,
    account: &Pubkey,
    before: microliq::state::MarginAccount,
) -> Result<microliq::math::LiquidationPlan> {
    let snapshot = harness::snapshot(manifest).await?;
    let assessment = Assessment::new(*account, before, &snapshot).expect("priced");
    Ok(assessment.best_plan(&snapshot, u64::MAX).expect("liquidatable at the new price").1)
}

#[test]
fn keeper_finds_an_underwater_account_from_a_price_update_and_slices_it_until_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let net = localnet(&dir.path().join("ledger"), None, 8);
    let manifest = net.manifest.clone();
    runtime()
        .block_on(async {
            let rpc = harness::rpc(&manifest);
            let feeder = Feeder::new(&manifest);
            let victim = open_victim(&rpc, &manifest).await?;
            let metrics_addr = format!("127.0.0.1:{}", free_port_pair()).parse()?;
            let keeper = RunningKeeper::spawn(
                &manifest,
                manifest.keeper(),
                manifest.keeper_token.parse()?,
                Some(metrics_addr),
            );
            // The keeper has taken its snapshot and subscribed; nothing is liquidatable at $150.
            wait_for("the keeper's metrics", WAIT, || async {
                Ok(harness::scrape(metrics_addr)
                    .await
                    .ok()
                    .filter(|s| harness::metric(s, "microliq_keeper_accounts_tracked").unwrap_or(0.0) >= 9.0))
            })
            .await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (_, liquidatable) = assess(&manifest, &victim.account).await?;
            assert!(!liquidatable, "healthy at $150");

            let before = margin_account(&rpc, &victim.account).await?;
            feeder.publish(&rpc, 0, 142.0).await?;
            let plan = expected_first_slice(&manifest, &victim.account, before).await?;
            let healthy = harness::wait_at_target(&manifest, &victim.account, WAIT).await?;
            // The keeper counts the landing once it has read the transaction back.
            let scrape = wait_for("the landing in the keeper's metrics", WAIT, || async {
                let scrape = harness::scrape(metrics_addr).await?;
                let landed = harness::metric(&scrape, "microliq_keeper_slices_landed_total").unwrap_or(0.0);
                Ok((landed >= 1.0).then_some(scrape))
            })
            .await?;
            let report = keeper.stop().await?;

            let slices: Vec<_> =
                report.slices.iter().filter(|s| s.margin_account == victim.account).collect();
            assert!(!slices.is_empty(), "the keeper sliced the account");
            assert_eq!(
                slices[0].base_closed, plan.outcome.closed_base,
                "the first slice is the program's exact slice"
            );
            let closed: u64 = slices.iter().map(|s| s.base_closed).sum();
            assert!(closed < BASE as u64 / 2, "a slice, not a full liquidation: {closed} of {BASE}");
            assert_eq!(
                healthy.account.positions[0].base,
                BASE - closed as i64,
                "on-chain position = opened − sliced"
            );
            let keeper_balance: u64 =
                rpc.get_token_account_balance(&manifest.keeper_token.parse()?).await?.amount.parse()?;
            assert_eq!(
                keeper_balance,
                slices.iter().map(|s| s.keeper_bonus).sum::<u64>(),
                "the bonus reached the keeper"
            );
            assert!(keeper_balance > 0);
            assert!(harness::metric(&scrape, "microliq_keeper_slices_landed_total").unwrap() >= 1.0);
            assert!(
                harness::metric(&scrape, "microliq_keeper_bonus_earned_atoms_total").unwrap()
                    >= keeper_balance as f64
            );
            assert!(harness::metric(&scrape, "microliq_keeper_price_updates_total").unwrap() >= 1.0);
            assert!(harness::metric(&scrape, "microliq_keeper_update_to_send_seconds_count").unwrap() >= 1.0);
            assert!(
                report.compute_units.iter().all(|&cu| cu > 0 && cu < 60_000),
                "{:?}",
                report.compute_units
            );
            harness::vaults_match_ledgers(&manifest).await?;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
    drop(net);
}

#[test]
fn keeper_resolves_a_bankruptcy_with_the_insurance_fund() {
    let dir = tempfile::tempdir().unwrap();
    let net = localnet(&dir.path().join("ledger"), None, 0);
    let manifest = net.manifest.clone();
    runtime()
        .block_on(async {
            let rpc = harness::rpc(&manifest);
            let feeder = Feeder::new(&manifest);
            let victim = open_victim(&rpc, &manifest).await?;
            let fund_key = manifest.addresses().insurance_fund;
            let fund_before: InsuranceFund = decode(&rpc.get_account_data(&fund_key).await?).unwrap();
            let keeper =
                RunningKeeper::spawn(&manifest, manifest.keeper(), manifest.keeper_token.parse()?, None);
            tokio::time::sleep(Duration::from_secs(2)).await;
            // $150 → $130: a loss of 1,320 USDC on 1,000 of collateral.
            feeder.publish(&rpc, 0, 130.0).await?;
            let account = victim.account;
            let after = wait_for("the account closed and its deficit resolved", WAIT, || {
                let rpc = &rpc;
                async move {
                    let state = margin_account(rpc, &account).await?;
                    Ok((state.open_position_count() == 0 && state.collateral == 0).then_some(state))
                }
            })
            .await?;
            let report = keeper.stop().await?;
            assert_eq!(after.collateral, 0);
            let resolved = report
                .resolved
                .iter()
                .find(|r| r.margin_account == account)
                .expect("a BankruptcyResolved event");
            assert!(resolved.deficit > 0);
            let fund_after: InsuranceFund = decode(&rpc.get_account_data(&fund_key).await?).unwrap();
            // The fund paid the keeper's insolvent-close reward (docs/LIQUIDATION.md: the account
            // had no equity left for a bonus) and the draw; it took no insurance fee.
            let ours = |s: &&microliq::events::LiquidationSliceV3| s.margin_account == account;
            let closing: Vec<_> = report.slices.iter().filter(ours).collect();
            assert!(closing.iter().any(|s| s.bankrupt), "{closing:?}");
            let fees: u64 = closing.iter().map(|s| s.insurance_fee).sum();
            let rewards = fund_after.total_keeper_rewards - fund_before.total_keeper_rewards;
            assert!(rewards > 0, "the keeper was paid for closing an insolvent account");
            assert_eq!(
                fund_before.balance + fees - fund_after.balance,
                resolved.insurance_draw + rewards,
                "the fund paid the draw and the reward"
            );
            let keeper_balance: u64 =
                rpc.get_token_account_balance(&manifest.keeper_token.parse()?).await?.amount.parse()?;
            assert_eq!(keeper_balance, rewards);
            assert_eq!(resolved.insurance_draw + resolved.socialized_loss, resolved.deficit);
            harness::vaults_match_ledgers(&manifest).await?;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
    drop(net);
}

#[test]
fn two_racing_keepers_do_not_double_liquidate() {
    let dir = tempfile::tempdir().unwrap();
    let net = localnet(&dir.path().join("ledger"), None, 0);
    let manifest = net.manifest.clone();
    runtime()
        .block_on(async {
            let rpc = harness::rpc(&manifest);
            let feeder = Feeder::new(&manifest);
            let victim = open_victim(&rpc, &manifest).await?;
            let authority = manifest.authority();
            let (second, second_token): (Keypair, Pubkey) =
                wallet(&rpc, &authority, &manifest.addresses().quote_mint, 0).await?;
            let first =
                RunningKeeper::spawn(&manifest, manifest.keeper(), manifest.keeper_token.parse()?, None);
            let other = RunningKeeper::spawn(&manifest, second, second_token, None);
            tokio::time::sleep(Duration::from_secs(2)).await;

            let before = margin_account(&rpc, &victim.account).await?;
            feeder.publish(&rpc, 0, 142.0).await?;
            let plan = expected_first_slice(&manifest, &victim.account, before).await?;
            harness::wait_at_target(&manifest, &victim.account, WAIT).await?;
            // Both keepers had the price update; give any late transaction time to land.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let a = first.stop().await?;
            let b = other.stop().await?;
            let slices: Vec<_> =
                a.slices.iter().chain(&b.slices).filter(|s| s.margin_account == victim.account).collect();
            assert_eq!(
                slices.len(),
                1,
                "one slice restores the account; the racing one must not land a second: {slices:?}"
            );
            assert_eq!(slices[0].base_closed, plan.outcome.closed_base);
            let state = margin_account(&rpc, &victim.account).await?;
            assert_eq!(
                state.positions[0].base,
                BASE - plan.outcome.closed_base as i64,
                "nothing closed beyond the one slice"
            );
            // A real race: both keepers got the update and sent a liquidate for the account.
            eprintln!(
                "racing keepers: sent {} and {}, {} slice(s), failures {:?} / {:?}",
                a.update_to_send.len(),
                b.update_to_send.len(),
                slices.len(),
                a.failures,
                b.failures
            );
            assert!(!a.update_to_send.is_empty() && !b.update_to_send.is_empty(), "both keepers sent");
            harness::vaults_match_ledgers(&manifest).await?;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
    drop(net);
}

#[test]
fn keeper_survives_a_validator_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let port = free_port_pair();
    let net = localnet(&ledger, Some(port), 0);
    let manifest = net.manifest.clone();
    let runtime = runtime();
    let (victim, keeper) = runtime
        .block_on(async {
            let rpc = harness::rpc(&manifest);
            let victim = open_victim(&rpc, &manifest).await?;
            let keeper =
                RunningKeeper::spawn(&manifest, manifest.keeper(), manifest.keeper_token.parse()?, None);
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok::<_, anyhow::Error>((victim, keeper))
        })
        .unwrap();
    // The validator goes away under the running keeper, and comes back on the same ledger and
    // ports a few seconds later.
    drop(net);
    std::thread::sleep(Duration::from_secs(3));
    let net = localnet(&ledger, Some(port), 0);
    assert_eq!(net.manifest.exchange, manifest.exchange, "the restarted ledger keeps the exchange");
    let manifest = net.manifest.clone();
    runtime
        .block_on(async {
            let rpc = harness::rpc(&manifest);
            let feeder = Feeder::new(&manifest);
            // The keeper reconnects by itself: wait until it has, then move the price.
            wait_for("the keeper's reconnection", WAIT, || async {
                Ok((keeper.metrics.reconnects.load(std::sync::atomic::Ordering::Relaxed) >= 1).then_some(()))
            })
            .await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            feeder.publish(&rpc, 0, 142.0).await?;
            harness::wait_at_target(&manifest, &victim.account, WAIT).await?;
            let report = keeper.stop().await?;
            assert!(report.reconnects >= 1);
            assert!(report.snapshots >= 2, "a reconnect takes a fresh snapshot");
            assert!(
                report.slices.iter().any(|s| s.margin_account == victim.account),
                "sliced after the restart"
            );
            let state = margin_account(&rpc, &victim.account).await?;
            assert!(state.positions[0].base > 0 && state.positions[0].base < BASE);
            harness::vaults_match_ledgers(&manifest).await?;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
    drop(net);
}

/// The price stand-in refuses a write by anyone but the feed account's write authority, and a
/// write of another feed's price, with its named errors and the account's bytes unchanged; the
/// authority's own write goes through.
#[test]
fn the_price_stand_in_refuses_other_writers() {
    let dir = tempfile::tempdir().unwrap();
    let net = localnet(&dir.path().join("ledger"), None, 0);
    let manifest = net.manifest.clone();
    runtime()
        .block_on(async {
            let rpc = harness::rpc(&manifest);
            let feeder = Feeder::new(&manifest);
            let feed = manifest.markets[0].oracle_key();
            let before = rpc.get_account_data(&feed).await?;
            let custom = |error: anyhow::Error| error.to_string();

            let intruder = Feeder { authority: Keypair::new(), markets: manifest.markets.clone() };
            let authority = manifest.authority();
            let fund = solana_sdk::system_instruction::transfer(
                &authority.pubkey(),
                &intruder.authority.pubkey(),
                1_000_000_000,
            );
            microliq_localnet::send(&rpc, &[fund], &[&authority]).await?;
            let refused = custom(intruder.publish(&rpc, 0, 1.0).await.unwrap_err());
            let code = microliq_localnet_oracle::OracleError::NotWriteAuthority as u32;
            assert!(refused.contains(&format!("custom program error: {code:#x}")), "{refused}");
            assert_eq!(rpc.get_account_data(&feed).await?, before, "the feed account is unchanged");

            // Another feed's price into this feed's account.
            let mut wrong = feeder.price(0, 1.0);
            wrong.feed_id = manifest.markets[1].feed();
            let write =
                microliq_localnet_oracle::write_instruction(&feed, &feeder.authority.pubkey(), &wrong);
            let refused =
                custom(microliq_localnet::send(&rpc, &[write], &[&feeder.authority]).await.unwrap_err());
            let code = microliq_localnet_oracle::OracleError::WrongFeed as u32;
            assert!(refused.contains(&format!("custom program error: {code:#x}")), "{refused}");
            assert_eq!(rpc.get_account_data(&feed).await?, before, "the feed account is unchanged");

            feeder.publish(&rpc, 0, 151.0).await?;
            let after = rpc.get_account_data(&feed).await?;
            assert_eq!(
                i64::from_le_bytes(after[73..81].try_into()?),
                15_100_000_000,
                "the authority's price is in"
            );
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
    drop(net);
}
