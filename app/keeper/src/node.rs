//! The event-driven keeper on a real node: a `getProgramAccounts` snapshot at start and on a slow
//! period, websocket subscriptions for everything that moves health (`programSubscribe` on the
//! program's accounts, `accountSubscribe` on each market's price account and on the clock
//! sysvar), the [`Engine`] turning each update into signed transactions, and sends that never
//! block the next update. Subscriptions reconnect with exponential backoff and a reconnect
//! triggers a fresh snapshot (updates may have been missed). Metrics in Prometheus' text format
//! on `127.0.0.1`, logs through `tracing`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anchor_lang::prelude::Pubkey;
use anchor_lang::Discriminator;
use anyhow::{Context as _, Result};
use futures_util::StreamExt;
use microliq::events::{BankruptcyResolved, LiquidationSliceV3};
use microliq::state::{Exchange, MarginAccount, Market};
use microliq_client::decode_events;
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSendTransactionConfig, RpcTransactionConfig,
};
use solana_sdk::commitment_config::CommitmentConfig;
use solana_sdk::signature::Signature;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::chain::{margin_account_query, RpcChain};
use crate::keeper::Liquidator;
use crate::live::{priority_fee_from_recent, Engine, EngineConfig, Job, JobKind};
use crate::scan::Snapshot;

/// How the event-driven keeper talks to its node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub rpc_url: String,
    pub ws_url: String,
    pub program_id: Pubkey,
    /// Commitment of snapshots, subscriptions and preflight (`confirmed` by default).
    pub commitment: CommitmentConfig,
    /// Seconds between failsafe `getProgramAccounts` snapshots.
    pub snapshot_secs: u64,
    /// Seconds between `getRecentPrioritizationFees` reads.
    pub fee_refresh_secs: u64,
    /// The recent fee paid: this percentile of the recent slots' fees on the markets...
    pub fee_percentile: u32,
    /// ...but never less than this...
    pub priority_fee_floor: u64,
    /// ...nor more than this (micro-lamports per CU).
    pub priority_fee_cap: u64,
    /// Margin of the liquidation-price keys, basis points (funding drift between snapshots).
    pub margin_bps: u32,
    pub engine: EngineConfig,
    /// Where to serve `/metrics` (`127.0.0.1:9464` by default in the CLI; `None` = nowhere).
    pub metrics_addr: Option<SocketAddr>,
    /// Send without the node's simulation first (faster; failures then cost fees).
    pub skip_preflight: bool,
    /// Seconds a sent transaction is awaited before it counts as expired.
    pub confirm_timeout_secs: u64,
}

impl NodeConfig {
    pub fn new(rpc_url: String, ws_url: String) -> Self {
        NodeConfig {
            rpc_url,
            ws_url,
            program_id: microliq::ID,
            commitment: CommitmentConfig::confirmed(),
            snapshot_secs: 60,
            fee_refresh_secs: 10,
            fee_percentile: 75,
            priority_fee_floor: 0,
            priority_fee_cap: 100_000,
            margin_bps: 100,
            engine: EngineConfig::default(),
            metrics_addr: None,
            skip_preflight: false,
            confirm_timeout_secs: 30,
        }
    }
}

/// The websocket URL of a JSON-RPC URL by the usual convention (`http` → `ws`, port + 1, as
/// `solana-test-validator` and the Solana CLI do).
pub fn default_ws_url(rpc_url: &str) -> String {
    let (scheme, rest) = match rpc_url.split_once("://") {
        Some(("https", rest)) => ("wss", rest),
        Some((_, rest)) => ("ws", rest),
        None => ("ws", rpc_url),
    };
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let host = match host.rsplit_once(':') {
        Some((name, port)) => match port.parse::<u16>() {
            Ok(port) => format!("{name}:{}", port + 1),
            Err(_) => host.to_string(),
        },
        None => host.to_string(),
    };
    if path.is_empty() {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}/{path}")
    }
}

/// Upper bounds (seconds) of the update-to-send histogram.
const LATENCY_BUCKETS: [f64; 10] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0];

/// The keeper's counters, rendered in Prometheus' text format.
#[derive(Default)]
pub struct Metrics {
    pub accounts_tracked: AtomicU64,
    pub liquidatable: AtomicU64,
    pub in_flight: AtomicU64,
    pub slices_sent: AtomicU64,
    pub slices_landed: AtomicU64,
    pub resolutions_sent: AtomicU64,
    pub resolutions_landed: AtomicU64,
    pub bonus_earned_atoms: AtomicU64,
    pub price_updates: AtomicU64,
    pub account_updates: AtomicU64,
    pub snapshots: AtomicU64,
    pub reconnects: AtomicU64,
    pub priority_fee: AtomicU64,
    failed: Mutex<BTreeMap<String, u64>>,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
}

impl Metrics {
    pub fn failed(&self, reason: &str) {
        *self.failed.lock().expect("metrics lock").entry(reason.to_string()).or_default() += 1;
    }

    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failed.lock().expect("metrics lock").clone()
    }

    pub fn observe_latency(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut one = |name: &str, kind: &str, help: &str, value: u64| {
            let _ =
                writeln!(out, "# HELP microliq_keeper_{name} {help}\n# TYPE microliq_keeper_{name} {kind}");
            let _ = writeln!(out, "microliq_keeper_{name} {value}");
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        one("accounts_tracked", "gauge", "Margin accounts in the index.", get(&self.accounts_tracked));
        one(
            "liquidatable",
            "gauge",
            "Accounts found liquidatable at the last update.",
            get(&self.liquidatable),
        );
        one("in_flight", "gauge", "Transactions sent and not yet answered.", get(&self.in_flight));
        one("slices_sent_total", "counter", "liquidate transactions sent.", get(&self.slices_sent));
        one(
            "slices_landed_total",
            "counter",
            "liquidate transactions that landed with a slice.",
            get(&self.slices_landed),
        );
        one(
            "resolutions_sent_total",
            "counter",
            "resolve_bankruptcy transactions sent.",
            get(&self.resolutions_sent),
        );
        one(
            "resolutions_landed_total",
            "counter",
            "resolve_bankruptcy transactions that landed.",
            get(&self.resolutions_landed),
        );
        one(
            "bonus_earned_atoms_total",
            "counter",
            "Keeper bonus received, quote atoms.",
            get(&self.bonus_earned_atoms),
        );
        one(
            "price_updates_total",
            "counter",
            "Price-account notifications received.",
            get(&self.price_updates),
        );
        one(
            "account_updates_total",
            "counter",
            "Program-account notifications received.",
            get(&self.account_updates),
        );
        one("snapshots_total", "counter", "getProgramAccounts snapshots taken.", get(&self.snapshots));
        one("reconnects_total", "counter", "Websocket subscriptions re-established.", get(&self.reconnects));
        one(
            "priority_fee_micro_lamports",
            "gauge",
            "Priority fee of the next transactions.",
            get(&self.priority_fee),
        );
        let _ = writeln!(out, "# HELP microliq_keeper_failed_total Transactions that failed, by error.\n# TYPE microliq_keeper_failed_total counter");
        for (reason, count) in self.failures() {
            let _ = writeln!(out, "microliq_keeper_failed_total{{error=\"{reason}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP microliq_keeper_update_to_send_seconds From receiving an update to handing its signed transaction to the node.\n# TYPE microliq_keeper_update_to_send_seconds histogram");
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(
                out,
                "microliq_keeper_update_to_send_seconds_bucket{{le=\"{bound}\"}} {}",
                get(bucket)
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(out, "microliq_keeper_update_to_send_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "microliq_keeper_update_to_send_seconds_sum {}",
            get(&self.latency_sum_ns) as f64 / 1e9
        );
        let _ = writeln!(out, "microliq_keeper_update_to_send_seconds_count {count}");
        out
    }
}

/// Serves `GET /metrics` on `addr` (refused unless a loopback address); returns the bound address.
pub async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    anyhow::ensure!(addr.ip().is_loopback(), "the metrics endpoint listens on loopback only, not {addr}");
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&request[..n]);
                let (status, body) = if line.starts_with("GET /metrics") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "try GET /metrics\n".to_string())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(bound)
}

/// What the subscription tasks report.
enum Event {
    Program {
        key: Pubkey,
        data: Vec<u8>,
        slot: u64,
        at: Instant,
    },
    Price {
        key: Pubkey,
        owner: Pubkey,
        data: Vec<u8>,
        slot: u64,
        at: Instant,
    },
    Clock {
        slot: u64,
        unix_timestamp: i64,
    },
    /// A subscription (re)connected after a drop: updates may have been missed.
    Reconnected(String),
}

/// What a send task reports.
#[derive(Debug)]
struct Outcome {
    account: Pubkey,
    kind: JobKind,
    result: std::result::Result<Landed, String>,
}

#[derive(Debug, Default)]
struct Landed {
    slices: Vec<LiquidationSliceV3>,
    bankruptcy: Option<BankruptcyResolved>,
    compute_units: Option<u64>,
}

/// What a run did (returned when it is stopped).
#[derive(Debug, Default, Clone)]
pub struct NodeReport {
    pub slices: Vec<LiquidationSliceV3>,
    pub resolved: Vec<BankruptcyResolved>,
    pub failures: BTreeMap<String, u64>,
    pub compute_units: Vec<u64>,
    pub snapshots: u64,
    pub reconnects: u64,
    /// Seconds from receiving each update to sending the transactions it caused.
    pub update_to_send: Vec<f64>,
}

/// Backoff of reconnects: 250 ms doubling to 8 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(5)))
}

fn account_config(commitment: CommitmentConfig) -> RpcAccountInfoConfig {
    RpcAccountInfoConfig {
        encoding: Some(UiAccountEncoding::Base64),
        commitment: Some(commitment),
        ..RpcAccountInfoConfig::default()
    }
}

/// `programSubscribe` on every account of the program, forever (reconnecting).
async fn program_feed(
    url: String,
    program_id: Pubkey,
    commitment: CommitmentConfig,
    tx: mpsc::Sender<Event>,
) {
    let mut attempt = 0;
    let mut dropped = false;
    loop {
        let client = match PubsubClient::new(&url).await {
            Ok(client) => client,
            Err(error) => {
                debug!(%error, "program subscription: connect failed");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
        };
        let config = RpcProgramAccountsConfig {
            filters: None,
            account_config: account_config(commitment),
            with_context: None,
            sort_results: None,
        };
        let subscribed = client.program_subscribe(&program_id, Some(config)).await;
        let Ok((mut stream, _unsubscribe)) = subscribed else {
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
            continue;
        };
        attempt = 0;
        if dropped && tx.send(Event::Reconnected("program".into())).await.is_err() {
            return;
        }
        while let Some(update) = stream.next().await {
            let at = Instant::now();
            let Ok(key) = update.value.pubkey.parse::<Pubkey>() else { continue };
            let data = update.value.account.data.decode().unwrap_or_default();
            if tx.send(Event::Program { key, data, slot: update.context.slot, at }).await.is_err() {
                return;
            }
        }
        dropped = true;
        warn!("program subscription dropped; reconnecting");
    }
}

/// `accountSubscribe` on a price account (or the clock sysvar), forever (reconnecting).
async fn account_feed(url: String, key: Pubkey, commitment: CommitmentConfig, tx: mpsc::Sender<Event>) {
    let clock = key == solana_sdk::sysvar::clock::ID;
    let mut attempt = 0;
    let mut dropped = false;
    loop {
        let client = match PubsubClient::new(&url).await {
            Ok(client) => client,
            Err(_) => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
        };
        let Ok((mut stream, _unsubscribe)) =
            client.account_subscribe(&key, Some(account_config(commitment))).await
        else {
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
            continue;
        };
        attempt = 0;
        if dropped && tx.send(Event::Reconnected(format!("account {key}"))).await.is_err() {
            return;
        }
        while let Some(update) = stream.next().await {
            let at = Instant::now();
            let slot = update.context.slot;
            let Some(data) = update.value.data.decode() else { continue };
            let event = if clock {
                let Ok(clock) = bincode_clock(&data) else { continue };
                Event::Clock { slot: clock.0, unix_timestamp: clock.1 }
            } else {
                let Ok(owner) = update.value.owner.parse::<Pubkey>() else { continue };
                Event::Price { key, owner, data, slot, at }
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
        dropped = true;
        warn!(account = %key, "account subscription dropped; reconnecting");
    }
}

/// `(slot, unix_timestamp)` of the clock sysvar's bytes.
fn bincode_clock(data: &[u8]) -> Result<(u64, i64)> {
    anyhow::ensure!(data.len() >= 40, "clock sysvar too short");
    let slot = u64::from_le_bytes(data[0..8].try_into()?);
    let unix_timestamp = i64::from_le_bytes(data[32..40].try_into()?);
    Ok((slot, unix_timestamp))
}

/// Program error names by code, from the committed IDL (`idl/microliq.json`).
fn error_names() -> HashMap<u32, String> {
    let idl: serde_json::Value =
        serde_json::from_str(include_str!("../../../idl/microliq.json")).unwrap_or_default();
    idl["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["code"].as_u64()? as u32, e["name"].as_str()?.to_string())))
        .collect()
}

/// A short name for why a send failed: the program's error name, else the runtime's.
fn failure_name(error: &solana_rpc_client_api::client_error::Error, names: &HashMap<u32, String>) -> String {
    use solana_sdk::instruction::InstructionError;
    use solana_sdk::transaction::TransactionError;
    match error.get_transaction_error() {
        Some(TransactionError::InstructionError(_, InstructionError::Custom(code))) => {
            names.get(&code).cloned().unwrap_or_else(|| format!("Custom{code}"))
        }
        Some(TransactionError::InstructionError(_, other)) => {
            format!("{other:?}").split('(').next().unwrap_or("Instruction").to_string()
        }
        Some(other) => format!("{other:?}").split('(').next().unwrap_or("Transaction").to_string(),
        None => "Rpc".to_string(),
    }
}

/// Sends one job and waits for its fate (never blocks the engine: runs in its own task).
async fn send_job(
    rpc: Arc<RpcClient>,
    job: Job,
    config: Arc<NodeConfig>,
    names: Arc<HashMap<u32, String>>,
    results: mpsc::Sender<Outcome>,
) {
    let send_config = RpcSendTransactionConfig {
        skip_preflight: config.skip_preflight,
        preflight_commitment: Some(config.commitment.commitment),
        max_retries: Some(0),
        ..RpcSendTransactionConfig::default()
    };
    let result = async {
        let signature = rpc
            .send_transaction_with_config(&job.transaction, send_config)
            .await
            .map_err(|e| failure_name(&e, &names))?;
        let landed = confirm(&rpc, &signature, &config).await?;
        Ok(landed)
    }
    .await;
    let _ = results.send(Outcome { account: job.account, kind: job.kind, result }).await;
}

async fn confirm(
    rpc: &RpcClient,
    signature: &Signature,
    config: &NodeConfig,
) -> std::result::Result<Landed, String> {
    let deadline = Instant::now() + Duration::from_secs(config.confirm_timeout_secs);
    loop {
        match rpc.get_signature_status_with_commitment(signature, config.commitment).await {
            Ok(Some(Ok(()))) => break,
            Ok(Some(Err(error))) => {
                return Err(format!("{error:?}").split('(').next().unwrap_or("Failed").to_string())
            }
            _ if Instant::now() > deadline => return Err("Expired".into()),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let tx_config = RpcTransactionConfig {
        encoding: Some(solana_transaction_status_client_types::UiTransactionEncoding::Base64),
        commitment: Some(config.commitment),
        max_supported_transaction_version: Some(0),
    };
    let meta =
        rpc.get_transaction_with_config(signature, tx_config).await.ok().and_then(|tx| tx.transaction.meta);
    let Some(meta) = meta else { return Ok(Landed::default()) };
    let logs = Option::<Vec<String>>::from(meta.log_messages).unwrap_or_default();
    Ok(Landed {
        slices: decode_events::<LiquidationSliceV3>(&logs),
        bankruptcy: decode_events::<BankruptcyResolved>(&logs).into_iter().next(),
        compute_units: Option::<u64>::from(meta.compute_units_consumed),
    })
}

/// Reads the exchange, markets and prices, then every margin account.
async fn take_snapshot(
    chain: &mut RpcChain,
    liquidator: &Liquidator,
) -> Result<(Snapshot, Vec<(Pubkey, Vec<u8>)>, u64)> {
    let snapshot = Snapshot::load(chain, liquidator.addresses).await?;
    let slot = chain.client.get_slot().await.context("getSlot")?;
    let accounts = chain
        .client
        .get_program_accounts_with_config(&chain.program_id, margin_account_query())
        .await
        .context("getProgramAccounts")?;
    Ok((snapshot, accounts.into_iter().map(|(k, a)| (k, a.data)).collect(), slot))
}

/// Runs the event-driven keeper until `stop` turns true; returns what it did.
pub async fn run(
    config: NodeConfig,
    liquidator: Liquidator,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<NodeReport> {
    let config = Arc::new(config);
    let names = Arc::new(error_names());
    let rpc = Arc::new(RpcClient::new_with_commitment(config.rpc_url.clone(), config.commitment));
    let mut chain = RpcChain::new(config.rpc_url.clone(), config.program_id);
    chain.client = RpcClient::new_with_commitment(config.rpc_url.clone(), config.commitment);
    let mut report = NodeReport::default();

    // The first snapshot, retried until the node answers.
    let mut attempt = 0;
    let (snapshot, accounts, slot) = loop {
        match take_snapshot(&mut chain, &liquidator).await {
            Ok(taken) => break taken,
            Err(error) => {
                warn!(%error, "snapshot failed; retrying");
                if *stop.borrow() {
                    return Ok(report);
                }
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    };
    let mut engine = Engine::new(snapshot, liquidator, config.margin_bps, config.engine.clone());
    engine.blockhash = rpc.get_latest_blockhash().await.context("getLatestBlockhash")?;

    let (events_tx, mut events) = mpsc::channel::<Event>(65_536);
    let (results_tx, mut results) = mpsc::channel::<Outcome>(1_024);
    let mut feeds = vec![
        tokio::spawn(program_feed(
            config.ws_url.clone(),
            config.program_id,
            config.commitment,
            events_tx.clone(),
        )),
        tokio::spawn(account_feed(
            config.ws_url.clone(),
            solana_sdk::sysvar::clock::ID,
            config.commitment,
            events_tx.clone(),
        )),
    ];
    let mut priced: Vec<Pubkey> = Vec::new();
    for market in &engine.snapshot.markets {
        if !priced.contains(&market.oracle_key) {
            priced.push(market.oracle_key);
            feeds.push(tokio::spawn(account_feed(
                config.ws_url.clone(),
                market.oracle_key,
                config.commitment,
                events_tx.clone(),
            )));
        }
    }
    if let Some(addr) = config.metrics_addr {
        let bound = serve_metrics(addr, metrics.clone()).await?;
        info!(%bound, "metrics at http://{bound}/metrics");
    }
    metrics.snapshots.fetch_add(1, Ordering::Relaxed);
    report.snapshots += 1;
    let started = Instant::now();
    let jobs = engine.load_accounts(&accounts, slot);
    info!(
        accounts = engine.index.len(),
        markets = engine.snapshot.markets.len(),
        "keeper running (event-driven)"
    );
    dispatch(&mut engine, jobs, started, &rpc, &config, &names, &results_tx, &metrics, &mut report);

    let mut snapshot_tick = tokio::time::interval(Duration::from_secs(config.snapshot_secs.max(1)));
    snapshot_tick.tick().await;
    let mut fee_tick = tokio::time::interval(Duration::from_secs(config.fee_refresh_secs.max(1)));
    let mut blockhash_tick = tokio::time::interval(Duration::from_secs(2));
    let mut resnapshot = false;
    loop {
        tokio::select! {
            _ = stop.changed() => {
                if *stop.borrow() { break; }
            }
            Some(event) = events.recv() => {
                let jobs = match event {
                    Event::Program { key, data, slot, at } => {
                        metrics.account_updates.fetch_add(1, Ordering::Relaxed);
                        let jobs = if data.starts_with(MarginAccount::DISCRIMINATOR) {
                            engine.on_margin_account(key, &data, slot)
                        } else if data.starts_with(Market::DISCRIMINATOR) {
                            if let Some((index, oracle)) = engine.on_market(&key, &data) {
                                info!(market = index, %oracle, "market's price account changed; subscribing");
                                if !priced.contains(&oracle) {
                                    priced.push(oracle);
                                    feeds.push(tokio::spawn(account_feed(config.ws_url.clone(), oracle, config.commitment, events_tx.clone())));
                                }
                            }
                            Vec::new()
                        } else if data.starts_with(Exchange::DISCRIMINATOR) {
                            engine.on_exchange(&data);
                            Vec::new()
                        } else {
                            Vec::new()
                        };
                        Some((jobs, at))
                    }
                    Event::Price { key, owner, data, slot, at } => {
                        metrics.price_updates.fetch_add(1, Ordering::Relaxed);
                        Some((engine.on_price(&key, &owner, &data, slot), at))
                    }
                    Event::Clock { slot, unix_timestamp } => {
                        engine.on_clock(slot, unix_timestamp);
                        None
                    }
                    Event::Reconnected(which) => {
                        info!(%which, "subscription re-established; taking a snapshot");
                        metrics.reconnects.fetch_add(1, Ordering::Relaxed);
                        report.reconnects += 1;
                        resnapshot = true;
                        None
                    }
                };
                if let Some((jobs, at)) = jobs {
                    dispatch(&mut engine, jobs, at, &rpc, &config, &names, &results_tx, &metrics, &mut report);
                }
            }
            Some(outcome) = results.recv() => {
                record(&outcome, &metrics, &mut report);
                let at = Instant::now();
                let jobs = engine.finished(&outcome.account, outcome.result.is_ok());
                dispatch(&mut engine, jobs, at, &rpc, &config, &names, &results_tx, &metrics, &mut report);
            }
            _ = snapshot_tick.tick() => { resnapshot = true; }
            _ = fee_tick.tick() => {
                let keys: Vec<Pubkey> = engine.snapshot.markets.iter().map(|m| m.key).collect();
                match rpc.get_recent_prioritization_fees(&keys).await {
                    Ok(fees) => {
                        let recent: Vec<u64> = fees.iter().map(|f| f.prioritization_fee).collect();
                        engine.priority_fee = priority_fee_from_recent(&recent, config.fee_percentile, config.priority_fee_floor, config.priority_fee_cap);
                        metrics.priority_fee.store(engine.priority_fee, Ordering::Relaxed);
                    }
                    Err(error) => debug!(%error, "getRecentPrioritizationFees failed"),
                }
            }
            _ = blockhash_tick.tick() => {
                if let Ok(hash) = rpc.get_latest_blockhash().await { engine.blockhash = hash; }
            }
        }
        if resnapshot {
            match take_snapshot(&mut chain, &engine.liquidator).await {
                Ok((snapshot, accounts, slot)) => {
                    resnapshot = false;
                    let at = Instant::now();
                    engine.snapshot = snapshot;
                    engine.index.rekey_all(&engine.snapshot);
                    if let Ok(hash) = rpc.get_latest_blockhash().await {
                        engine.blockhash = hash;
                    }
                    let jobs = engine.load_accounts(&accounts, slot);
                    metrics.snapshots.fetch_add(1, Ordering::Relaxed);
                    report.snapshots += 1;
                    debug!(accounts = engine.index.len(), "snapshot taken");
                    dispatch(
                        &mut engine,
                        jobs,
                        at,
                        &rpc,
                        &config,
                        &names,
                        &results_tx,
                        &metrics,
                        &mut report,
                    );
                }
                Err(error) => warn!(%error, "snapshot failed; will retry"),
            }
        }
        metrics.accounts_tracked.store(engine.index.len() as u64, Ordering::Relaxed);
        metrics.in_flight.store(engine.in_flight() as u64, Ordering::Relaxed);
    }
    for feed in feeds {
        feed.abort();
    }
    report.failures = metrics.failures();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    engine: &mut Engine,
    jobs: Vec<Job>,
    received: Instant,
    rpc: &Arc<RpcClient>,
    config: &Arc<NodeConfig>,
    names: &Arc<HashMap<u32, String>>,
    results: &mpsc::Sender<Outcome>,
    metrics: &Arc<Metrics>,
    report: &mut NodeReport,
) {
    if jobs.is_empty() {
        return;
    }
    metrics.liquidatable.store(jobs.len() as u64, Ordering::Relaxed);
    for job in jobs {
        let elapsed = received.elapsed();
        metrics.observe_latency(elapsed);
        report.update_to_send.push(elapsed.as_secs_f64());
        match &job.kind {
            JobKind::Liquidate { market, plan } => {
                metrics.slices_sent.fetch_add(1, Ordering::Relaxed);
                info!(account = %job.account, market, base = plan.outcome.closed_base, bonus = plan.outcome.keeper_bonus as u64, cu_limit = job.compute_unit_limit, priority_fee = job.priority_fee, "sending liquidate");
            }
            JobKind::ResolveBankruptcy => {
                metrics.resolutions_sent.fetch_add(1, Ordering::Relaxed);
                info!(account = %job.account, "sending resolve_bankruptcy");
            }
        }
        tokio::spawn(send_job(rpc.clone(), job, config.clone(), names.clone(), results.clone()));
    }
    metrics.in_flight.store(engine.in_flight() as u64, Ordering::Relaxed);
}

fn record(outcome: &Outcome, metrics: &Metrics, report: &mut NodeReport) {
    match (&outcome.result, &outcome.kind) {
        (Ok(landed), JobKind::Liquidate { .. }) => {
            if landed.slices.is_empty() {
                info!(account = %outcome.account, "liquidate landed without a slice (episode ended)");
            }
            for slice in &landed.slices {
                metrics.bonus_earned_atoms.fetch_add(slice.keeper_bonus, Ordering::Relaxed);
                info!(account = %outcome.account, market = slice.market_index, base_closed = slice.base_closed, remaining = slice.remaining_base, bonus = slice.keeper_bonus, bankrupt = slice.bankrupt, "slice landed");
            }
            if !landed.slices.is_empty() {
                metrics.slices_landed.fetch_add(1, Ordering::Relaxed);
            }
            report.slices.extend(landed.slices.iter().cloned());
            report.resolved.extend(landed.bankruptcy.clone());
            report.compute_units.extend(landed.compute_units);
        }
        (Ok(landed), JobKind::ResolveBankruptcy) => {
            metrics.resolutions_landed.fetch_add(1, Ordering::Relaxed);
            if let Some(event) = &landed.bankruptcy {
                info!(account = %outcome.account, deficit = event.deficit, insurance_draw = event.insurance_draw, socialized = event.socialized_loss, "bankruptcy resolved");
            }
            report.resolved.extend(landed.bankruptcy.clone());
        }
        (Err(reason), _) => {
            metrics.failed(reason);
            info!(account = %outcome.account, %reason, "transaction failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_url_follows_the_validator_convention() {
        assert_eq!(default_ws_url("http://127.0.0.1:8899"), "ws://127.0.0.1:8900");
        assert_eq!(default_ws_url("https://rpc.example.com"), "wss://rpc.example.com");
        assert_eq!(default_ws_url("http://localhost:8899/path"), "ws://localhost:8900/path");
    }

    #[test]
    fn error_names_come_from_the_idl() {
        let names = error_names();
        let code = 6000 + microliq::error::MicroliqError::NotLiquidatable as u32;
        assert_eq!(names.get(&code).map(String::as_str), Some("NotLiquidatable"));
    }

    #[test]
    fn metrics_render_in_prometheus_text_format() {
        let metrics = Metrics::default();
        metrics.slices_sent.fetch_add(3, Ordering::Relaxed);
        metrics.failed("NotLiquidatable");
        metrics.observe_latency(Duration::from_micros(300));
        let text = metrics.render();
        assert!(text.contains("microliq_keeper_slices_sent_total 3\n"));
        assert!(text.contains("microliq_keeper_failed_total{error=\"NotLiquidatable\"} 1\n"));
        assert!(text.contains("microliq_keeper_update_to_send_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("microliq_keeper_update_to_send_seconds_bucket{le=\"0.00025\"} 0\n"));
        assert!(text.contains("microliq_keeper_update_to_send_seconds_count 1\n"));
    }

    #[tokio::test]
    async fn metrics_endpoint_serves_on_loopback_only() {
        let metrics = Arc::new(Metrics::default());
        assert!(serve_metrics("0.0.0.0:0".parse().unwrap(), metrics.clone()).await.is_err());
        let addr = serve_metrics("127.0.0.1:0".parse().unwrap(), metrics.clone()).await.unwrap();
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut body = String::new();
        socket.read_to_string(&mut body).await.unwrap();
        assert!(body.starts_with("HTTP/1.1 200 OK"));
        assert!(body.contains("microliq_keeper_accounts_tracked 0"));
    }
}
