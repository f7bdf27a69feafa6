//! What the end-to-end tests and the reaction benchmark share: a keeper running against the
//! local validator in the background, the exchange's state read back through RPC, and bounded
//! waits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, bail, Result};
use microliq::math::target_margin_scaled;
use microliq::state::{Exchange, InsuranceFund, MarginAccount};
use microliq_client::ix::ExchangeAddresses;
use microliq_keeper::chain::{Chain, RpcChain};
use microliq_keeper::keeper::Liquidator;
use microliq_keeper::node::{self, Metrics, NodeConfig, NodeReport};
use microliq_keeper::scan::{decode, decode_margin_accounts, Assessment, Snapshot};
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_sdk::commitment_config::CommitmentConfig;
use solana_sdk::signature::Keypair;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Manifest;

/// An event-driven keeper running in the background.
pub struct RunningKeeper {
    stop: watch::Sender<bool>,
    handle: JoinHandle<Result<NodeReport>>,
    pub metrics: Arc<Metrics>,
    pub metrics_addr: Option<SocketAddr>,
}

impl RunningKeeper {
    /// Starts `keeper` (paid to `keeper_token`) against the manifest's node; serves metrics on
    /// `metrics_addr` if given. Call inside a tokio runtime.
    pub fn spawn(
        manifest: &Manifest,
        keeper: Keypair,
        keeper_token: Pubkey,
        metrics_addr: Option<SocketAddr>,
    ) -> Self {
        Self::spawn_with(manifest, keeper, keeper_token, metrics_addr, CommitmentConfig::confirmed())
    }

    /// [`RunningKeeper::spawn`] at another commitment.
    pub fn spawn_with(
        manifest: &Manifest,
        keeper: Keypair,
        keeper_token: Pubkey,
        metrics_addr: Option<SocketAddr>,
        commitment: CommitmentConfig,
    ) -> Self {
        let mut config = NodeConfig::new(manifest.rpc_url.clone(), manifest.ws_url.clone());
        config.commitment = commitment;
        config.metrics_addr = metrics_addr;
        // Tests read the failsafe snapshot as a second path; keep it slow enough that the
        // subscriptions are what finds the accounts.
        config.snapshot_secs = 30;
        let liquidator = Liquidator { keeper, keeper_token, addresses: manifest.addresses() };
        let metrics = Arc::new(Metrics::default());
        let (stop, receiver) = watch::channel(false);
        let handle = tokio::spawn(node::run(config, liquidator, metrics.clone(), receiver));
        RunningKeeper { stop, handle, metrics, metrics_addr }
    }

    /// Stops the keeper and returns its report.
    pub async fn stop(self) -> Result<NodeReport> {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .map_err(|_| anyhow!("the keeper did not stop within 30 s"))??
    }
}

/// A free loopback port whose successor is free too (JSON-RPC and websocket).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else { continue };
        let Ok(addr) = listener.local_addr() else { continue };
        let port = addr.port();
        if port < 65_000 && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair on 127.0.0.1");
}

/// Polls `check` every 100 ms until it returns `Some`, at most `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {:?} waiting for {what}", limit);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The exchange as the program would value it now, read through RPC.
pub async fn snapshot(manifest: &Manifest) -> Result<Snapshot> {
    let mut chain = RpcChain::new(manifest.rpc_url.clone(), microliq::ID);
    Snapshot::load(&mut chain, manifest.addresses()).await
}

/// `account`'s health now; `liquidatable` is whether the program would slice it in any market.
pub async fn assess(manifest: &Manifest, account: &Pubkey) -> Result<(Assessment, bool)> {
    let snapshot = snapshot(manifest).await?;
    let rpc = crate::rpc_client(&manifest.rpc_url);
    let state: MarginAccount =
        decode(&rpc.get_account_data(account).await?).ok_or_else(|| anyhow!("not a margin account"))?;
    let assessment = Assessment::new(*account, state, &snapshot).ok_or_else(|| anyhow!("no valid price"))?;
    let liquidatable = assessment.best_plan(&snapshot, u64::MAX).is_some();
    Ok((assessment, liquidatable))
}

/// `E ≥ (1 + β)·M`: at the liquidation target (or above) at the current prices.
pub fn at_target(assessment: &Assessment, snapshot: &Snapshot) -> bool {
    let beta = assessment
        .account
        .liquidation_buffer(|i| snapshot.markets.get(i as usize).map(|m| m.state.params.liquidation_buffer));
    target_margin_scaled(&assessment.health, beta).is_ok_and(|m| m >= 0)
}

/// Waits (at most `limit`) until `account` is back at its liquidation target and the program
/// would not slice it; returns its health then.
pub async fn wait_at_target(manifest: &Manifest, account: &Pubkey, limit: Duration) -> Result<Assessment> {
    wait_for("the account back at its target", limit, || async {
        let snapshot = snapshot(manifest).await?;
        let (assessment, liquidatable) = assess(manifest, account).await?;
        Ok((!liquidatable && at_target(&assessment, &snapshot)).then_some(assessment))
    })
    .await
}

/// Quote vault == Σ collateral + pool, Σ collateral of every margin account == the ledger's
/// total, insurance vault == the fund's balance, and the pool balance ≥ 0.
pub async fn vaults_match_ledgers(manifest: &Manifest) -> Result<()> {
    let rpc = crate::rpc_client(&manifest.rpc_url);
    let ex: ExchangeAddresses = manifest.addresses();
    let exchange: Exchange =
        decode(&rpc.get_account_data(&ex.exchange).await?).ok_or_else(|| anyhow!("exchange"))?;
    let fund: InsuranceFund =
        decode(&rpc.get_account_data(&ex.insurance_fund).await?).ok_or_else(|| anyhow!("fund"))?;
    let balance = |key: Pubkey| {
        let rpc = &rpc;
        async move { Ok::<u64, anyhow::Error>(rpc.get_token_account_balance(&key).await?.amount.parse()?) }
    };
    let quote = balance(ex.quote_vault).await?;
    let insurance = balance(ex.insurance_vault).await?;
    let mut chain = RpcChain::new(manifest.rpc_url.clone(), microliq::ID);
    let accounts = decode_margin_accounts(&chain.margin_accounts().await?);
    let collateral: i128 = accounts.iter().map(|(_, a)| a.collateral as i128).sum();
    anyhow::ensure!(
        quote as i128 == exchange.total_collateral as i128 + exchange.pool_balance as i128,
        "quote vault {quote} != total collateral {} + pool {}",
        exchange.total_collateral,
        exchange.pool_balance
    );
    anyhow::ensure!(
        collateral == exchange.total_collateral as i128,
        "Σ collateral {collateral} != ledger {}",
        exchange.total_collateral
    );
    anyhow::ensure!(insurance == fund.balance, "insurance vault {insurance} != fund {}", fund.balance);
    anyhow::ensure!(exchange.pool_balance >= 0, "pool balance {} < 0", exchange.pool_balance);
    Ok(())
}

/// Reads `GET /metrics` from the keeper's endpoint.
pub async fn scrape(addr: SocketAddr) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    socket.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await?;
    let mut body = String::new();
    socket.read_to_string(&mut body).await?;
    Ok(body)
}

/// The value of an unlabelled metric in a scrape.
pub fn metric(scrape: &str, name: &str) -> Option<f64> {
    scrape.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A nonblocking RPC client for `manifest`'s node.
pub fn rpc(manifest: &Manifest) -> RpcClient {
    crate::rpc_client(&manifest.rpc_url)
}
