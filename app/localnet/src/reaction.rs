//! End-to-end reaction on the local validator: a fresh validator with `background` idle traders
//! and the event-driven keeper; each round opens a 66 SOL long at $150 for a new trader
//! (docs/LIQUIDATION.md's worked example), publishes $142, and measures until the keeper's slice
//! is visible at `confirmed`:
//! - **price sent → slice confirmed**: from handing the price transaction to the node;
//! - **price confirmed → slice confirmed**: from the price transaction's confirmation as the
//!   feeder sees it;
//! - the keeper's own update-to-send time for that slice.
//!
//! Then the trader closes what is left and the price returns to $150 for the next round.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::harness::{wait_for, RunningKeeper};
use crate::{margin_account, start, trade, trader, Feeder, LocalnetConfig};

#[derive(Debug, Serialize)]
pub struct ReactionReport {
    pub rounds: usize,
    /// The keeper's commitment (subscriptions, snapshot, preflight, confirmation).
    pub keeper_commitment: String,
    pub background_accounts: usize,
    pub validator_start_secs: f64,
    /// Per round, seconds.
    pub price_sent_to_slice_confirmed: Vec<f64>,
    pub price_confirmed_to_slice_confirmed: Vec<f64>,
    pub median_price_sent_to_slice_confirmed: f64,
    pub median_price_confirmed_to_slice_confirmed: f64,
    pub max_price_sent_to_slice_confirmed: f64,
    /// The keeper's update-to-send times (seconds) for the transactions it sent.
    pub keeper_update_to_send_median: f64,
    pub keeper_update_to_send_max: f64,
    pub slices_landed: usize,
    pub compute_units: Vec<u64>,
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        0.0
    } else {
        sorted[sorted.len() / 2]
    }
}

pub fn run(ledger: &Path, rounds: usize, background: usize, commitment: &str) -> Result<ReactionReport> {
    let commitment: solana_sdk::commitment_config::CommitmentConfig =
        commitment.parse().map_err(|_| anyhow::anyhow!("commitment: processed, confirmed or finalized"))?;
    if ledger.exists() {
        std::fs::remove_dir_all(ledger)?;
    }
    let config = LocalnetConfig::with_default_programs(ledger.to_path_buf(), None);
    let localnet = start(&config, background, 11)?;
    let manifest = localnet.manifest.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let report = runtime.block_on(async {
        let rpc = crate::rpc_client(&manifest.rpc_url);
        let feeder = Feeder::new(&manifest);
        let keeper = RunningKeeper::spawn_with(
            &manifest,
            manifest.keeper(),
            manifest.keeper_token.parse()?,
            None,
            commitment,
        );
        let mut sent_to_slice = Vec::new();
        let mut confirmed_to_slice = Vec::new();
        for round in 0..rounds {
            feeder.publish(&rpc, 0, 150.0).await?;
            let trader = trader(&rpc, &manifest, 1_000 * microliq_client::USDC).await?;
            trade(&rpc, &manifest, &trader, 0, 66_000_000_000, Vec::new()).await?;
            // Let the keeper see the new account before the price moves.
            tokio::time::sleep(Duration::from_millis(800)).await;
            let sent = Instant::now();
            feeder.publish(&rpc, 0, 142.0).await.context("publishing $142")?;
            let confirmed = Instant::now();
            let account = trader.account;
            wait_for("the slice", Duration::from_secs(30), || {
                let rpc = &rpc;
                async move {
                    Ok(margin_account(rpc, &account).await?.positions[0]
                        .base
                        .lt(&66_000_000_000)
                        .then_some(()))
                }
            })
            .await?;
            let seen = Instant::now();
            sent_to_slice.push((seen - sent).as_secs_f64());
            confirmed_to_slice.push((seen - confirmed).as_secs_f64());
            tracing::info!(round, secs = (seen - sent).as_secs_f64(), "slice confirmed");
            // Close the rest so that the next round's price move concerns only the next trader.
            let left = margin_account(&rpc, &account).await?.positions[0].base;
            if left != 0 {
                trade(&rpc, &manifest, &trader, 0, -left, Vec::new()).await.context("closing the rest")?;
            }
        }
        let node = keeper.stop().await?;
        Ok::<ReactionReport, anyhow::Error>(ReactionReport {
            rounds,
            keeper_commitment: format!("{:?}", commitment.commitment).to_lowercase(),
            background_accounts: background,
            validator_start_secs: localnet.start_secs,
            median_price_sent_to_slice_confirmed: median(&sent_to_slice),
            median_price_confirmed_to_slice_confirmed: median(&confirmed_to_slice),
            max_price_sent_to_slice_confirmed: sent_to_slice.iter().copied().fold(0.0, f64::max),
            price_sent_to_slice_confirmed: sent_to_slice,
            price_confirmed_to_slice_confirmed: confirmed_to_slice,
            keeper_update_to_send_median: median(&node.update_to_send),
            keeper_update_to_send_max: node.update_to_send.iter().copied().fold(0.0, f64::max),
            slices_landed: node.slices.len(),
            compute_units: node.compute_units,
        })
    })?;
    drop(runtime);
    drop(localnet);
    Ok(report)
}
