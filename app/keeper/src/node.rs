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
use anyhow::{anyhow, Context as _, Result};
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
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};
use solana_sdk::commitment_config::CommitmentConfig;
use solana_sdk::signature::Signature;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::chain::margin_account_query;
use crate::keeper::Liquidator;
use crate::live::{priority_fee_from_recent, Engine, EngineConfig, Job, JobKind};
use crate::scan::{decode, MarketView, Snapshot};
use microliq::oracle::{read_oracle_account, OracleAccount, OracleClock};
use microliq_client::ix::ExchangeAddresses;

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
            // A transaction's blockhash lives 150 blocks (about 60 s): it is awaited until it
            // cannot land any more.
            confirm_timeout_secs: 75,
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
            Ok(port) if port < u16::MAX => format!("{name}:{}", port + 1),
            _ => host.to_string(),
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
    /// Transactions answered (landed or failed).
    pub answered: AtomicU64,
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
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let simple: [(&str, &str, &str, &AtomicU64); 13] = [
            ("accounts_tracked", "gauge", "Margin accounts in the index.", &self.accounts_tracked),
            (
                "liquidatable",
                "gauge",
                "Accounts found liquidatable at the last update that found any.",
                &self.liquidatable,
            ),
            ("in_flight", "gauge", "Transactions sent and not yet answered.", &self.in_flight),
            ("slices_sent_total", "counter", "liquidate transactions sent.", &self.slices_sent),
            (
                "slices_landed_total",
                "counter",
                "liquidate transactions that landed with a slice.",
                &self.slices_landed,
            ),
            (
                "resolutions_sent_total",
                "counter",
                "resolve_bankruptcy transactions sent.",
                &self.resolutions_sent,
            ),
            (
                "resolutions_landed_total",
                "counter",
                "resolve_bankruptcy transactions that landed.",
                &self.resolutions_landed,
            ),
            (
                "bonus_earned_atoms_total",
                "counter",
                "Keeper bonus received, quote atoms.",
                &self.bonus_earned_atoms,
            ),
            ("price_updates_total", "counter", "Price-account notifications received.", &self.price_updates),
            (
                "account_updates_total",
                "counter",
                "Program-account notifications received.",
                &self.account_updates,
            ),
            ("snapshots_total", "counter", "getProgramAccounts snapshots taken.", &self.snapshots),
            ("reconnects_total", "counter", "Websocket subscriptions re-established.", &self.reconnects),
            (
                "priority_fee_micro_lamports",
                "gauge",
                "Priority fee of the next transactions.",
                &self.priority_fee,
            ),
        ];
        for (name, kind, help, value) in simple {
            let _ =
                writeln!(out, "# HELP microliq_keeper_{name} {help}\n# TYPE microliq_keeper_{name} {kind}");
            let _ = writeln!(out, "microliq_keeper_{name} {}", get(value));
        }
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
            let Ok((mut socket, _)) = listener.accept().await else {
                // Out of file descriptors or similar: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                // The request line is all that matters; a client that sends nothing in 2 s is
                // dropped.
                let mut request = Vec::with_capacity(256);
                let mut buffer = [0u8; 512];
                let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                while !request.windows(2).any(|w| w == b"\r\n") && request.len() < 4_096 {
                    match tokio::time::timeout_at(deadline, socket.read(&mut buffer)).await {
                        Ok(Ok(n)) if n > 0 => request.extend_from_slice(&buffer[..n]),
                        _ => break,
                    }
                }
                let line = String::from_utf8_lossy(&request);
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
    Exchange {
        key: Pubkey,
        data: Vec<u8>,
        slot: u64,
    },
    Clock {
        slot: u64,
        unix_timestamp: i64,
    },
    /// A subscription is established (first time or after a drop): updates may have been
    /// missed before it, so a snapshot follows.
    Subscribed(String),
}

/// A snapshot: the exchange's state, its margin accounts' bytes, and the slot before they were read.
type Taken = (Snapshot, Vec<(Pubkey, Vec<u8>)>, u64);

/// What a background fetch reports.
enum Fetched {
    Snapshot(Box<Result<Taken>>),
    Blockhash(solana_sdk::hash::Hash),
    Fee(Vec<u64>),
}

/// What a send task reports.
#[derive(Debug)]
struct Outcome {
    account: Pubkey,
    generation: u64,
    kind: JobKind,
    result: std::result::Result<Landed, String>,
}

#[derive(Debug, Default)]
struct Landed {
    slot: u64,
    /// The transaction's logs were read (the events below are complete).
    events_read: bool,
    slices: Vec<LiquidationSliceV3>,
    bankruptcy: Option<BankruptcyResolved>,
    compute_units: Option<u64>,
}

/// What a run did (returned when it is stopped). The lists keep the latest 100,000 entries.
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

const REPORT_CAP: usize = 100_000;

fn push_capped<T>(list: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    list.extend(items);
    if list.len() > REPORT_CAP {
        list.drain(..list.len() - REPORT_CAP);
    }
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

/// The program accounts whose field at offset 8 is `exchange`: this exchange's margin accounts
/// and markets (both start with their exchange), not another exchange's.
fn program_filter(exchange: &Pubkey) -> Vec<RpcFilterType> {
    vec![RpcFilterType::Memcmp(Memcmp::new_raw_bytes(8, exchange.to_bytes().to_vec()))]
}

/// `programSubscribe` on this exchange's accounts, forever (reconnecting with backoff).
async fn program_feed(
    url: String,
    program_id: Pubkey,
    exchange: Pubkey,
    commitment: CommitmentConfig,
    tx: mpsc::Sender<Event>,
) {
    let mut attempt = 0;
    loop {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt - 1)).await;
        }
        attempt += 1;
        let Ok(client) = PubsubClient::new(&url).await else { continue };
        let config = RpcProgramAccountsConfig {
            filters: Some(program_filter(&exchange)),
            account_config: account_config(commitment),
            with_context: None,
            sort_results: None,
        };
        let Ok((mut stream, _unsubscribe)) = client.program_subscribe(&program_id, Some(config)).await else {
            continue;
        };
        if tx.send(Event::Subscribed("program".into())).await.is_err() {
            return;
        }
        let since = Instant::now();
        while let Some(update) = stream.next().await {
            let at = Instant::now();
            let Ok(key) = update.value.pubkey.parse::<Pubkey>() else { continue };
            let data = update.value.account.data.decode().unwrap_or_default();
            if tx.send(Event::Program { key, data, slot: update.context.slot, at }).await.is_err() {
                return;
            }
        }
        // A stream that lived a while starts its backoff afresh; one dropped at once backs off.
        if since.elapsed() > Duration::from_secs(10) {
            attempt = 1;
        }
        warn!("program subscription dropped; reconnecting");
    }
}

/// What an `accountSubscribe` feeds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Feed {
    Price,
    Clock,
    Exchange,
}

/// `accountSubscribe` on one account, forever (reconnecting with backoff).
async fn account_feed(
    url: String,
    key: Pubkey,
    feed: Feed,
    commitment: CommitmentConfig,
    tx: mpsc::Sender<Event>,
) {
    let mut attempt = 0;
    loop {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt - 1)).await;
        }
        attempt += 1;
        let Ok(client) = PubsubClient::new(&url).await else { continue };
        let Ok((mut stream, _unsubscribe)) =
            client.account_subscribe(&key, Some(account_config(commitment))).await
        else {
            continue;
        };
        if tx.send(Event::Subscribed(format!("account {key}"))).await.is_err() {
            return;
        }
        let since = Instant::now();
        while let Some(update) = stream.next().await {
            let at = Instant::now();
            let slot = update.context.slot;
            let Some(data) = update.value.data.decode() else { continue };
            let event = match feed {
                Feed::Clock => {
                    let Ok((slot, unix_timestamp)) = clock_fields(&data) else { continue };
                    Event::Clock { slot, unix_timestamp }
                }
                Feed::Exchange => Event::Exchange { key, data, slot },
                Feed::Price => {
                    let Ok(owner) = update.value.owner.parse::<Pubkey>() else { continue };
                    Event::Price { key, owner, data, slot, at }
                }
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
        if since.elapsed() > Duration::from_secs(10) {
            attempt = 1;
        }
        warn!(account = %key, "account subscription dropped; reconnecting");
    }
}

/// `(slot, unix_timestamp)` of the clock sysvar's bytes.
fn clock_fields(data: &[u8]) -> Result<(u64, i64)> {
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

/// A short name for a transaction error: the program's error name (from the IDL), else the
/// runtime's variant.
fn transaction_error_name(
    error: &solana_sdk::transaction::TransactionError,
    names: &HashMap<u32, String>,
) -> String {
    use solana_sdk::instruction::InstructionError;
    use solana_sdk::transaction::TransactionError;
    let variant = |debug: String| debug.split(['(', ' ', '{']).next().unwrap_or("Failed").to_string();
    match error {
        TransactionError::InstructionError(_, InstructionError::Custom(code)) => {
            names.get(code).cloned().unwrap_or_else(|| format!("Custom{code}"))
        }
        TransactionError::InstructionError(_, other) => variant(format!("{other:?}")),
        other => variant(format!("{other:?}")),
    }
}

fn failure_name(error: &solana_rpc_client_api::client_error::Error, names: &HashMap<u32, String>) -> String {
    match error.get_transaction_error() {
        Some(error) => transaction_error_name(&error, names),
        None => "Rpc".to_string(),
    }
}

/// Sends one job and waits for its fate, resending it every 2 s until it lands or its
/// blockhash expires (never blocks the engine: runs in its own task).
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
        confirm(&rpc, &job, &signature, send_config, &config, &names).await
    }
    .await;
    let _ = results
        .send(Outcome { account: job.account, generation: job.generation, kind: job.kind, result })
        .await;
}

async fn confirm(
    rpc: &RpcClient,
    job: &Job,
    signature: &Signature,
    send_config: RpcSendTransactionConfig,
    config: &NodeConfig,
    names: &HashMap<u32, String>,
) -> std::result::Result<Landed, String> {
    let deadline = Instant::now() + Duration::from_secs(config.confirm_timeout_secs);
    let mut resent = Instant::now();
    let slot = loop {
        let status = rpc
            .get_signature_statuses(&[*signature])
            .await
            .ok()
            .and_then(|r| r.value.into_iter().next().flatten());
        match status {
            Some(status) if status.satisfies_commitment(config.commitment) => match status.err {
                None => break status.slot,
                Some(error) => return Err(transaction_error_name(&error, names)),
            },
            _ if Instant::now() > deadline => return Err("Expired".into()),
            _ => {
                if resent.elapsed() > Duration::from_secs(2) {
                    // Dropped packets are common under load; the node dedups a signature it has.
                    let send_again = RpcSendTransactionConfig { skip_preflight: true, ..send_config };
                    let _ = rpc.send_transaction_with_config(&job.transaction, send_again).await;
                    resent = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    // Nodes serve transactions from `confirmed` up only.
    let commitment =
        if config.commitment.is_finalized() { config.commitment } else { CommitmentConfig::confirmed() };
    let tx_config = RpcTransactionConfig {
        encoding: Some(solana_transaction_status_client_types::UiTransactionEncoding::Base64),
        commitment: Some(commitment),
        max_supported_transaction_version: Some(0),
    };
    // A node may answer the status before it serves the transaction itself: ask a few times.
    let mut meta = None;
    let mut error = String::new();
    for _ in 0..20 {
        match rpc.get_transaction_with_config(signature, tx_config).await {
            Ok(tx) => {
                meta = tx.transaction.meta;
                break;
            }
            Err(e) => error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let Some(meta) = meta else {
        warn!(%signature, %error, "landed, but the node did not return the transaction; its events are not counted");
        return Ok(Landed { slot, ..Landed::default() });
    };
    let logs = Option::<Vec<String>>::from(meta.log_messages).unwrap_or_default();
    debug!(?logs, "transaction logs");
    Ok(Landed {
        slot,
        events_read: true,
        slices: decode_events::<LiquidationSliceV3>(&logs),
        bankruptcy: decode_events::<BankruptcyResolved>(&logs).into_iter().next(),
        compute_units: Option::<u64>::from(meta.compute_units_consumed),
    })
}

/// Reads the exchange, its markets and their prices (valued against the cluster's clock sysvar,
/// read after them), then this exchange's margin accounts; returns them with the slot before
/// the margin-account read (notifications newer than it win).
async fn take_snapshot(
    rpc: &RpcClient,
    program_id: Pubkey,
    addresses: ExchangeAddresses,
    commitment: CommitmentConfig,
) -> Result<Taken> {
    let many = |keys: Vec<Pubkey>| async move {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let accounts = rpc
                .get_multiple_accounts_with_commitment(chunk, commitment)
                .await
                .context("getMultipleAccounts")?;
            out.extend(accounts.value);
        }
        Ok::<_, anyhow::Error>(out)
    };
    let exchange_account = many(vec![addresses.exchange]).await?.remove(0);
    let exchange: Exchange = exchange_account
        .as_ref()
        .and_then(|a| decode(&a.data))
        .ok_or_else(|| anyhow!("exchange {} not found", addresses.exchange))?;
    let keys: Vec<Pubkey> = (0..exchange.market_count).map(|i| addresses.market(i)).collect();
    let mut markets = Vec::new();
    for (index, (key, account)) in keys.iter().zip(many(keys.clone()).await?).enumerate() {
        let state: Market = account
            .as_ref()
            .and_then(|a| decode(&a.data))
            .ok_or_else(|| anyhow!("market {index} missing"))?;
        markets.push(MarketView {
            index: index as u16,
            key: *key,
            state,
            oracle_key: state.oracle,
            oracle: None,
        });
    }
    let mut oracle_keys: Vec<Pubkey> = markets.iter().map(|m| m.oracle_key).collect();
    oracle_keys.push(solana_sdk::sysvar::clock::ID);
    let mut accounts = many(oracle_keys.clone()).await?;
    let clock_account = accounts.pop().flatten().ok_or_else(|| anyhow!("no clock sysvar"))?;
    let (slot, unix_timestamp) = clock_fields(&clock_account.data)?;
    let clock = OracleClock { unix_timestamp, slot };
    for ((market, account), key) in markets.iter_mut().zip(accounts).zip(&oracle_keys) {
        market.oracle = account.and_then(|a| {
            let oracle = OracleAccount { key, owner: &a.owner, data: &a.data };
            read_oracle_account(&oracle, &market.state, &exchange, &clock).ok()
        });
    }
    let snapshot = Snapshot { addresses, exchange, markets, slot, unix_timestamp };
    let before = rpc.get_slot_with_commitment(commitment).await.context("getSlot")?;
    let mut query = margin_account_query();
    query.filters.get_or_insert_with(Vec::new).extend(program_filter(&addresses.exchange));
    query.account_config.commitment = Some(commitment);
    let margin =
        rpc.get_program_accounts_with_config(&program_id, query).await.context("getProgramAccounts")?;
    Ok((snapshot, margin.into_iter().map(|(k, a)| (k, a.data)).collect(), before))
}

/// The background tasks feeding one keeper.
struct Feeds {
    url: String,
    commitment: CommitmentConfig,
    tx: mpsc::Sender<Event>,
    tasks: Vec<JoinHandle<()>>,
    prices: Vec<Pubkey>,
}

impl Feeds {
    fn start(config: &NodeConfig, exchange: Pubkey, tx: mpsc::Sender<Event>) -> Self {
        let (url, commitment) = (config.ws_url.clone(), config.commitment);
        let tasks = vec![
            tokio::spawn(program_feed(url.clone(), config.program_id, exchange, commitment, tx.clone())),
            tokio::spawn(account_feed(
                url.clone(),
                solana_sdk::sysvar::clock::ID,
                Feed::Clock,
                commitment,
                tx.clone(),
            )),
            tokio::spawn(account_feed(url.clone(), exchange, Feed::Exchange, commitment, tx.clone())),
        ];
        Feeds { url, commitment, tx, tasks, prices: Vec::new() }
    }

    /// Subscribes to `oracle` unless it already is.
    fn price(&mut self, oracle: Pubkey) {
        if !self.prices.contains(&oracle) {
            self.prices.push(oracle);
            self.tasks.push(tokio::spawn(account_feed(
                self.url.clone(),
                oracle,
                Feed::Price,
                self.commitment,
                self.tx.clone(),
            )));
        }
    }

    fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

/// Starts a snapshot in the background; if one is running, another follows it (what asked for
/// it may have changed after the running one read the accounts).
fn request_snapshot(
    running: &mut SnapshotState,
    rpc: &Arc<RpcClient>,
    config: &NodeConfig,
    addresses: ExchangeAddresses,
    fetched: &mpsc::Sender<Fetched>,
    delay: Duration,
) {
    if running.running {
        running.again = true;
        return;
    }
    running.running = true;
    let (rpc, fetched, program_id, commitment) =
        (rpc.clone(), fetched.clone(), config.program_id, config.commitment);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let result = take_snapshot(&rpc, program_id, addresses, commitment).await;
        let _ = fetched.send(Fetched::Snapshot(Box::new(result))).await;
    });
}

/// Whether a snapshot is running, and whether another was asked for meanwhile.
#[derive(Default)]
struct SnapshotState {
    running: bool,
    again: bool,
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
    let addresses = liquidator.addresses;
    let mut report = NodeReport::default();
    if let Some(addr) = config.metrics_addr {
        let bound = serve_metrics(addr, metrics.clone()).await?;
        info!(%bound, "metrics at http://{bound}/metrics");
    }

    // Subscribe first, then read: nothing that changes between the two is missed.
    let (events_tx, mut events) = mpsc::channel::<Event>(65_536);
    let (results_tx, mut results) = mpsc::channel::<Outcome>(4_096);
    let (fetched_tx, mut fetched) = mpsc::channel::<Fetched>(64);
    let mut feeds = Feeds::start(&config, addresses.exchange, events_tx.clone());

    // The first snapshot, retried until the node answers.
    let mut attempt = 0;
    let (snapshot, accounts, slot) = loop {
        match take_snapshot(&rpc, config.program_id, addresses, config.commitment).await {
            Ok(taken) => break taken,
            Err(error) => {
                warn!(%error, "snapshot failed; retrying");
                if *stop.borrow() {
                    feeds.stop();
                    return Ok(report);
                }
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    };
    let mut engine = Engine::new(snapshot.clone(), liquidator, config.margin_bps, config.engine.clone());
    engine.blockhash = rpc.get_latest_blockhash().await.context("getLatestBlockhash")?;
    for market in &engine.snapshot.markets {
        feeds.price(market.oracle_key);
    }
    metrics.snapshots.fetch_add(1, Ordering::Relaxed);
    report.snapshots += 1;
    let started = Instant::now();
    let jobs = engine.load_snapshot(snapshot, &accounts, slot);
    info!(
        accounts = engine.index.len(),
        markets = engine.snapshot.markets.len(),
        "keeper running (event-driven)"
    );
    dispatch(&mut engine, jobs, started, &rpc, &config, &names, &results_tx, &metrics, &mut report);

    let mut snapshot_tick = tokio::time::interval(Duration::from_secs(config.snapshot_secs.max(1)));
    snapshot_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    snapshot_tick.tick().await;
    let mut fee_tick = tokio::time::interval(Duration::from_secs(config.fee_refresh_secs.max(1)));
    fee_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut blockhash_tick = tokio::time::interval(Duration::from_secs(2));
    blockhash_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watchdog = tokio::time::interval(Duration::from_secs(5));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_clock = Instant::now();
    let mut snapshot_running = SnapshotState::default();
    let mut snapshot_failures = 0u32;
    let mut subscribed_once = 0usize;
    loop {
        tokio::select! {
            changed = stop.changed() => {
                // A dropped sender stops the keeper too (it could never be stopped otherwise).
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            Some(first) = events.recv() => {
                // Everything already queued, with only the newest bytes of each price account:
                // a keeper that fell behind acts on the latest prices, not on each stale one.
                let mut batch = vec![first];
                while batch.len() < 4_096 {
                    match events.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(_) => break,
                    }
                }
                let mut newest_price: HashMap<Pubkey, usize> = HashMap::new();
                for (i, event) in batch.iter().enumerate() {
                    if let Event::Price { key, .. } = event {
                        newest_price.insert(*key, i);
                    }
                }
                for (i, event) in batch.into_iter().enumerate() {
                    let jobs = match event {
                        Event::Program { key, data, slot, at } => {
                            metrics.account_updates.fetch_add(1, Ordering::Relaxed);
                            if data.starts_with(MarginAccount::DISCRIMINATOR) || data.is_empty() {
                                Some((engine.on_margin_account(key, &data, slot), at))
                            } else if data.starts_with(Market::DISCRIMINATOR) {
                                let change = engine.on_market(&key, &data, slot);
                                if let Some((index, oracle)) = change.new_oracle {
                                    info!(market = index, %oracle, "market's price account changed; subscribing");
                                    feeds.price(oracle);
                                }
                                if change.revalue_all {
                                    // At once in memory, and a fresh read behind it.
                                    request_snapshot(&mut snapshot_running, &rpc, &config, addresses, &fetched_tx, Duration::ZERO);
                                    Some((engine.revalue_all(), at))
                                } else {
                                    None
                                }
                            } else {
                                None
                            }
                        }
                        Event::Exchange { key, data, slot } => {
                            if engine.on_exchange(&key, &data, slot).revalue_all {
                                request_snapshot(&mut snapshot_running, &rpc, &config, addresses, &fetched_tx, Duration::ZERO);
                                Some((engine.revalue_all(), Instant::now()))
                            } else {
                                None
                            }
                        }
                        Event::Price { key, owner, data, slot, at } => {
                            metrics.price_updates.fetch_add(1, Ordering::Relaxed);
                            (newest_price.get(&key) == Some(&i)).then(|| (engine.on_price(&key, &owner, &data, slot), at))
                        }
                        Event::Clock { slot, unix_timestamp } => {
                            last_clock = Instant::now();
                            Some((engine.on_clock(slot, unix_timestamp), Instant::now()))
                        }
                        Event::Subscribed(which) => {
                            // The first subscriptions are covered by the first snapshot, taken
                            // after they were requested; a later one follows a drop.
                            subscribed_once += 1;
                            if subscribed_once > 3 + engine.snapshot.markets.len() {
                                info!(%which, "subscription re-established; taking a snapshot");
                                metrics.reconnects.fetch_add(1, Ordering::Relaxed);
                                report.reconnects += 1;
                            }
                            request_snapshot(&mut snapshot_running, &rpc, &config, addresses, &fetched_tx, Duration::from_millis(200));
                            None
                        }
                    };
                    if let Some((jobs, at)) = jobs {
                        dispatch(&mut engine, jobs, at, &rpc, &config, &names, &results_tx, &metrics, &mut report);
                    }
                }
            }
            Some(outcome) = results.recv() => {
                record(&outcome, &metrics, &mut report);
                let at = Instant::now();
                let landed = outcome.result.as_ref().ok().map(|l| l.slot);
                let jobs = engine.finished(&outcome.account, outcome.generation, landed);
                dispatch(&mut engine, jobs, at, &rpc, &config, &names, &results_tx, &metrics, &mut report);
            }
            Some(result) = fetched.recv() => match result {
                Fetched::Snapshot(taken) => {
                    snapshot_running.running = false;
                    if std::mem::take(&mut snapshot_running.again) {
                        request_snapshot(&mut snapshot_running, &rpc, &config, addresses, &fetched_tx, Duration::ZERO);
                    }
                    match *taken {
                        Ok((snapshot, accounts, slot)) => {
                            snapshot_failures = 0;
                            let at = Instant::now();
                            for market in &snapshot.markets {
                                feeds.price(market.oracle_key);
                            }
                            let jobs = engine.load_snapshot(snapshot, &accounts, slot);
                            metrics.snapshots.fetch_add(1, Ordering::Relaxed);
                            report.snapshots += 1;
                            debug!(accounts = engine.index.len(), "snapshot taken");
                            dispatch(&mut engine, jobs, at, &rpc, &config, &names, &results_tx, &metrics, &mut report);
                        }
                        Err(error) => {
                            warn!(%error, "snapshot failed; retrying with backoff");
                            snapshot_failures += 1;
                            request_snapshot(&mut snapshot_running, &rpc, &config, addresses, &fetched_tx, backoff(snapshot_failures));
                        }
                    }
                }
                Fetched::Blockhash(hash) => engine.blockhash = hash,
                Fetched::Fee(recent) => {
                    engine.priority_fee = priority_fee_from_recent(&recent, config.fee_percentile, config.priority_fee_floor, config.priority_fee_cap);
                    metrics.priority_fee.store(engine.priority_fee, Ordering::Relaxed);
                }
            },
            _ = snapshot_tick.tick() => {
                request_snapshot(&mut snapshot_running, &rpc, &config, addresses, &fetched_tx, Duration::ZERO);
            }
            _ = fee_tick.tick() => {
                // The accounts every liquidate writes: the exchange, the fund, the markets.
                let mut keys: Vec<Pubkey> = engine.snapshot.markets.iter().map(|m| m.key).collect();
                keys.extend([addresses.exchange, addresses.insurance_fund]);
                let (rpc, fetched) = (rpc.clone(), fetched_tx.clone());
                tokio::spawn(async move {
                    match rpc.get_recent_prioritization_fees(&keys).await {
                        Ok(fees) => { let _ = fetched.send(Fetched::Fee(fees.iter().map(|f| f.prioritization_fee).collect())).await; }
                        Err(error) => debug!(%error, "getRecentPrioritizationFees failed"),
                    }
                });
            }
            _ = blockhash_tick.tick() => {
                let (rpc, fetched) = (rpc.clone(), fetched_tx.clone());
                tokio::spawn(async move {
                    if let Ok(hash) = rpc.get_latest_blockhash().await {
                        let _ = fetched.send(Fetched::Blockhash(hash)).await;
                    }
                });
            }
            _ = watchdog.tick() => {
                // The clock sysvar changes every slot: silence means a dead connection that the
                // websocket has not noticed (no pong check); start every feed afresh.
                if last_clock.elapsed() > Duration::from_secs(15) {
                    warn!(silent_secs = last_clock.elapsed().as_secs(), "no clock update; restarting the subscriptions");
                    feeds.stop();
                    let prices = std::mem::take(&mut feeds.prices);
                    feeds = Feeds::start(&config, addresses.exchange, events_tx.clone());
                    for oracle in prices {
                        feeds.price(oracle);
                    }
                    subscribed_once = 0;
                    last_clock = Instant::now();
                    metrics.reconnects.fetch_add(1, Ordering::Relaxed);
                    report.reconnects += 1;
                }
            }
        }
        metrics.accounts_tracked.store(engine.index.len() as u64, Ordering::Relaxed);
        metrics.in_flight.store(engine.in_flight() as u64, Ordering::Relaxed);
    }
    feeds.stop();
    // Sent transactions are awaited (at most their confirmation timeout) so that the report and
    // the metrics count every landing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.confirm_timeout_secs);
    while metrics.slices_sent.load(Ordering::Relaxed) + metrics.resolutions_sent.load(Ordering::Relaxed)
        > pending_answered(&metrics)
    {
        match tokio::time::timeout_at(deadline, results.recv()).await {
            Ok(Some(outcome)) => record(&outcome, &metrics, &mut report),
            _ => break,
        }
    }
    report.failures = metrics.failures();
    Ok(report)
}

/// Transactions answered so far (landed or failed).
fn pending_answered(metrics: &Metrics) -> u64 {
    metrics.answered.load(Ordering::Relaxed)
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
    let mut latencies = Vec::with_capacity(jobs.len());
    for job in jobs {
        let elapsed = received.elapsed();
        metrics.observe_latency(elapsed);
        latencies.push(elapsed.as_secs_f64());
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
    push_capped(&mut report.update_to_send, latencies);
    metrics.in_flight.store(engine.in_flight() as u64, Ordering::Relaxed);
}

fn record(outcome: &Outcome, metrics: &Metrics, report: &mut NodeReport) {
    metrics.answered.fetch_add(1, Ordering::Relaxed);
    match (&outcome.result, &outcome.kind) {
        (Ok(landed), JobKind::Liquidate { .. }) => {
            if landed.slices.is_empty() && landed.events_read {
                info!(account = %outcome.account, "liquidate landed without a slice (episode ended)");
            }
            for slice in &landed.slices {
                metrics.bonus_earned_atoms.fetch_add(slice.keeper_bonus, Ordering::Relaxed);
                info!(account = %outcome.account, market = slice.market_index, base_closed = slice.base_closed, remaining = slice.remaining_base, bonus = slice.keeper_bonus, bankrupt = slice.bankrupt, "slice landed");
            }
            if !landed.slices.is_empty() {
                metrics.slices_landed.fetch_add(1, Ordering::Relaxed);
            }
            push_capped(&mut report.slices, landed.slices.iter().cloned());
            push_capped(&mut report.resolved, landed.bankruptcy.clone());
            push_capped(&mut report.compute_units, landed.compute_units);
        }
        (Ok(landed), JobKind::ResolveBankruptcy) => {
            metrics.resolutions_landed.fetch_add(1, Ordering::Relaxed);
            if let Some(event) = &landed.bankruptcy {
                info!(account = %outcome.account, deficit = event.deficit, insurance_draw = event.insurance_draw, socialized = event.socialized_loss, "bankruptcy resolved");
            }
            push_capped(&mut report.resolved, landed.bankruptcy.clone());
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
        assert_eq!(default_ws_url("http://localhost:65535"), "ws://localhost:65535");
    }

    #[test]
    fn error_names_come_from_the_idl() {
        use solana_sdk::instruction::InstructionError;
        use solana_sdk::transaction::TransactionError;
        let names = error_names();
        let code = 6000 + microliq::error::MicroliqError::NotLiquidatable as u32;
        assert_eq!(names.get(&code).map(String::as_str), Some("NotLiquidatable"));
        let custom = TransactionError::InstructionError(2, InstructionError::Custom(code));
        assert_eq!(transaction_error_name(&custom, &names), "NotLiquidatable");
        let budget = TransactionError::InstructionError(2, InstructionError::ComputationalBudgetExceeded);
        assert_eq!(transaction_error_name(&budget, &names), "ComputationalBudgetExceeded");
        assert_eq!(
            transaction_error_name(&TransactionError::InsufficientFundsForFee, &names),
            "InsufficientFundsForFee"
        );
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
