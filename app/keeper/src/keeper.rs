//! One keeper pass: scan, rank, and liquidate each account slice by slice until the program
//! says it is no longer liquidatable.

use anchor_lang::prelude::Pubkey;
use anyhow::Result;
use microliq::error::MicroliqError;
use microliq::events::{BankruptcyResolved, LiquidationEpisodeEndedV2, LiquidationSliceV3};
use microliq::math::{target_margin_scaled, LiquidationPlan};
use microliq_client::decode_events;
use microliq_client::ix::{self, ExchangeAddresses};
use solana_sdk::signature::{Keypair, Signer};
use tracing::{info, warn};

use std::collections::BTreeMap;

use crate::chain::{Chain, SendError};
use crate::pull::PriceUpdater;
use crate::scan::{self, decode, Assessment, Snapshot};

/// How the keeper sends.
#[derive(Clone, Debug)]
pub struct KeeperConfig {
    /// Compute-unit limit for a liquidation with no other position; each remaining-account pair
    /// adds `compute_units_per_market`.
    pub compute_unit_limit: u32,
    pub compute_units_per_market: u32,
    /// Priority fee, micro-lamports per compute unit.
    pub priority_fee: u64,
    /// Retries of a transaction that failed for a transient reason.
    pub max_retries: u32,
    /// Most slices sent for one account in one pass.
    pub max_slices_per_account: u32,
}

impl Default for KeeperConfig {
    fn default() -> Self {
        KeeperConfig {
            compute_unit_limit: 120_000,
            compute_units_per_market: 15_000,
            priority_fee: 1_000,
            max_retries: 3,
            max_slices_per_account: 20,
        }
    }
}

/// The keeper's identity: the signer and the token account its bonus goes to.
pub struct Liquidator {
    pub keeper: Keypair,
    pub keeper_token: Pubkey,
    pub addresses: ExchangeAddresses,
}

/// One executed slice: what the keeper predicted, and what the program reported.
#[derive(Clone, Debug)]
pub struct SliceRecord {
    pub account: Pubkey,
    pub expected: LiquidationPlan,
    pub event: LiquidationSliceV3,
    /// An insolvent account's other positions closed by the same call (one event each).
    pub also_closed: Vec<LiquidationSliceV3>,
    pub bankruptcy: Option<BankruptcyResolved>,
}

/// Funding the slices of `records` settled, as `(paid by the accounts, received by them)` in
/// quote atoms (every closed position's `funding_settled`).
pub fn settled_funding(records: &[SliceRecord]) -> (u64, u64) {
    let mut totals = (0u64, 0u64);
    for event in records.iter().flat_map(|r| std::iter::once(&r.event).chain(&r.also_closed)) {
        if event.funding_settled < 0 {
            totals.0 += event.funding_settled.unsigned_abs();
        } else {
            totals.1 += event.funding_settled as u64;
        }
    }
    totals
}

impl SliceRecord {
    /// The program closed exactly the slice the keeper computed with the same code, from the
    /// same equity (unsettled funding included) to the same equity after.
    pub fn matches_prediction(&self) -> bool {
        self.event.base_closed == self.expected.outcome.closed_base
            && self.event.keeper_bonus as u128 == self.expected.outcome.keeper_bonus
            && self.event.insurance_fee as u128 == self.expected.outcome.insurance_fee
            && self.event.equity_before == self.expected.health_before.equity
            && self.event.equity_after == self.expected.outcome.health_after.equity
    }

    /// `E − (1 + β)·M` strictly improved, or the position was closed.
    pub fn health_improved(&self, liquidation_buffer: u32) -> bool {
        let health = |equity: i128, requirement: u128| microliq::math::MaintenanceHealth {
            equity,
            maintenance_requirement: requirement,
        };
        let before = target_margin_scaled(
            &health(self.event.equity_before, self.event.maintenance_before),
            liquidation_buffer,
        );
        let after = target_margin_scaled(
            &health(self.event.equity_after, self.event.maintenance_after),
            liquidation_buffer,
        );
        matches!((before, after), (Ok(b), Ok(a)) if a > b) || self.event.remaining_base == 0
    }

    /// Penalty taken beyond the equity the account had (must be zero: the liquidation itself
    /// never creates bad debt).
    pub fn bad_debt_created(&self) -> u128 {
        if self.event.equity_before > 0 && self.event.equity_after < 0 {
            self.event.equity_after.unsigned_abs()
        } else {
            0
        }
    }
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    pub scanned: usize,
    pub liquidatable: Vec<Pubkey>,
    pub slices: Vec<SliceRecord>,
    /// Bankrupt accounts (no position, negative collateral) this pass resolved: until they are,
    /// LPs cannot mint new pool shares once deficits exceed the insurance fund.
    pub resolved: Vec<BankruptcyResolved>,
    pub failures: Vec<(Pubkey, SendError)>,
}

/// Scans every margin account and liquidates the liquidatable ones, most under water first.
pub async fn run_pass(
    chain: &mut dyn Chain,
    liquidator: &Liquidator,
    config: &KeeperConfig,
) -> Result<PassReport> {
    run_pass_with(chain, liquidator, config, None).await
}

/// [`run_pass`] with pull markets kept priced through `updater` (docs/ORACLES.md): for a pull
/// market whose configured account no longer reads and in which some account holds a position,
/// the keeper first reads its own earlier post; if that is stale too it asks `updater` for the
/// newest price off chain, values the accounts with it, and posts it only when a liquidation
/// needs that market (as the market sliced or as a health pair).
pub async fn run_pass_with(
    chain: &mut dyn Chain,
    liquidator: &Liquidator,
    config: &KeeperConfig,
    updater: Option<&mut dyn PriceUpdater>,
) -> Result<PassReport> {
    let mut snapshot = Snapshot::load(chain, liquidator.addresses).await?;
    let accounts = scan::decode_margin_accounts(&chain.margin_accounts().await?);
    if let Some(updater) = updater {
        snapshot = price_pull_markets(chain, liquidator, config, updater, snapshot, &accounts).await?;
    }
    let ranked = scan::rank(&accounts, &snapshot);
    let mut report = PassReport { scanned: accounts.len(), ..PassReport::default() };
    report.liquidatable = ranked.iter().map(|(a, _, _)| a.address).collect();
    for (assessment, _, _) in ranked {
        info!(account = %assessment.address, equity = assessment.health.equity, maintenance = assessment.health.maintenance_requirement as u64, "liquidatable");
        liquidate_account(chain, liquidator, config, &snapshot, assessment, &mut report).await?;
    }
    for (address, account) in &accounts {
        if microliq::instructions::keeper::bankruptcy::is_bankrupt(account) {
            resolve_account(chain, liquidator, config, *address, &mut report).await;
        }
    }
    Ok(report)
}

/// Seconds kept between a price's age and a pull market's staleness limit before the keeper
/// relies on it (a liquidation sent with a price at the limit would land stale): a quarter of
/// the window, at most 3 s, so that short windows keep most of their length.
pub fn pull_freshness_margin_secs(max_staleness_secs: u32) -> i64 {
    (max_staleness_secs as i64 / 4).min(3)
}

/// `reading` is comfortably inside `market`'s staleness window at `now`.
fn comfortably_fresh(
    reading: &microliq::oracle::OracleReading,
    market: &crate::scan::MarketView,
    now: i64,
) -> bool {
    let window = market.state.params.max_staleness_secs;
    now.saturating_sub(reading.publish_time) <= window as i64 - pull_freshness_margin_secs(window)
}

/// The snapshot with every pull market in which some account holds a position priced as well as
/// the keeper can (docs/ORACLES.md): the newer of the market's configured account and the
/// keeper's own earlier post, where comfortably fresh; replaced by the newest price off chain,
/// posted, when that is newer and a liquidation needs the market (sliced there, or as the
/// health pair of a liquidation elsewhere). Pause flags decide which market is liquidated
/// (`Assessment::plan`), not which market is priced.
async fn price_pull_markets(
    chain: &mut dyn Chain,
    liquidator: &Liquidator,
    config: &KeeperConfig,
    updater: &mut dyn PriceUpdater,
    mut snapshot: Snapshot,
    accounts: &[(Pubkey, microliq::state::MarginAccount)],
) -> Result<Snapshot> {
    let candidates: Vec<u16> = snapshot
        .markets
        .iter()
        .filter(|m| m.is_pull())
        .filter(|m| accounts.iter().any(|(_, a)| a.position_index(m.index).is_some()))
        .map(|m| m.index)
        .collect();
    if candidates.is_empty() {
        return Ok(snapshot);
    }
    let keeper = &liquidator.keeper;
    let feed = |snapshot: &Snapshot, index: u16| snapshot.markets[index as usize].state.oracle_feed_id;
    let own: BTreeMap<u16, Pubkey> =
        candidates.iter().map(|&i| (i, updater.account(keeper, &feed(&snapshot, i)))).collect();
    // The better of the configured account and the keeper's own earlier post, each only where
    // comfortably fresh.
    let own_snapshot = Snapshot::load_with(chain, liquidator.addresses, &own).await?;
    let now = snapshot.unix_timestamp;
    for &index in &candidates {
        let i = index as usize;
        let configured =
            snapshot.markets[i].oracle.filter(|r| comfortably_fresh(r, &snapshot.markets[i], now));
        let posted =
            own_snapshot.markets[i].oracle.filter(|r| comfortably_fresh(r, &snapshot.markets[i], now));
        match (configured, posted) {
            (c, Some(p)) if c.is_none_or(|c| p.publish_time > c.publish_time) => {
                snapshot.markets[i] = own_snapshot.markets[i].clone();
            }
            (c, _) => snapshot.markets[i].oracle = c,
        }
    }
    // The newest price off chain (one request per feed), as the program would read it once
    // posted; it stands in only when newer, and comfortably fresh itself.
    let mut quotes: BTreeMap<[u8; 32], Option<microliq::oracle::RawPrice>> = BTreeMap::new();
    let mut before_quotes = BTreeMap::new();
    let mut quoted = Vec::new();
    for &index in &candidates {
        let feed_id = feed(&snapshot, index);
        if let std::collections::btree_map::Entry::Vacant(slot) = quotes.entry(feed_id) {
            let quote = match updater.latest(&feed_id, now).await {
                Ok(quote) => quote,
                Err(error) => {
                    warn!(market = index, %error, "fetching a price failed");
                    None
                }
            };
            slot.insert(quote);
        }
        let market = &snapshot.markets[index as usize];
        let Some(raw) = quotes[&feed_id] else { continue };
        if market.oracle.is_some_and(|current| current.publish_time >= raw.publish_time) {
            continue;
        }
        match microliq::oracle::validate_price(&raw, &market.state, snapshot.exchange.quote_decimals, now) {
            Ok(reading) if comfortably_fresh(&reading, market, now) => {
                before_quotes.insert(index, market.clone());
                let market = &mut snapshot.markets[index as usize];
                market.oracle = Some(reading);
                market.oracle_key = own[&index];
                quoted.push(index);
            }
            Ok(_) => warn!(market = index, "the newest price is too close to the staleness limit to post"),
            Err(error) => warn!(market = index, %error, "the newest price would be refused"),
        }
    }
    if quoted.is_empty() {
        return Ok(snapshot);
    }
    // Post only what a liquidation needs, once per feed; a quote not posted is forgotten.
    let ranked = scan::rank(accounts, &snapshot);
    let mut posted_feeds = Vec::new();
    for &index in &quoted {
        let feed_id = feed(&snapshot, index);
        let needed = ranked.iter().any(|(a, _, _)| a.account.position_index(index).is_some());
        if needed && !posted_feeds.contains(&feed_id) {
            match updater.post(chain, keeper, &feed_id, config.priority_fee).await {
                Ok(account) => {
                    info!(market = index, %account, "posted a fresh price for a pull market");
                    posted_feeds.push(feed_id);
                }
                Err(error) => warn!(market = index, %error, "posting a fresh price failed"),
            }
        }
    }
    let mut posted = Vec::new();
    for (index, before) in before_quotes {
        if posted_feeds.contains(&before.state.oracle_feed_id) {
            posted.push(index);
        } else {
            snapshot.markets[index as usize] = before;
        }
    }
    if posted.is_empty() {
        return Ok(snapshot);
    }
    // Read the posts back, as the program will read them now (no margin: they are seconds old).
    let reread: BTreeMap<u16, Pubkey> = posted.iter().map(|&i| (i, own[&i])).collect();
    let fresh = Snapshot::load_with(chain, liquidator.addresses, &reread).await?;
    for index in posted {
        snapshot.markets[index as usize] = fresh.markets[index as usize].clone();
    }
    Ok(snapshot)
}

/// Sends `resolve_bankruptcy` for a bankrupt account (permissionless; it pays nothing, but keeps
/// the pool open to new LPs and its ledger honest).
async fn resolve_account(
    chain: &mut dyn Chain,
    liquidator: &Liquidator,
    config: &KeeperConfig,
    address: Pubkey,
    report: &mut PassReport,
) {
    let instruction = ix::ResolveBankruptcy { caller: liquidator.keeper.pubkey(), margin_account: address }
        .instruction(&liquidator.addresses);
    match chain
        .send(
            std::slice::from_ref(&instruction),
            &liquidator.keeper,
            config.compute_unit_limit,
            config.priority_fee,
        )
        .await
    {
        Ok(logs) => {
            if let Some(event) = decode_events::<BankruptcyResolved>(&logs).into_iter().next() {
                info!(account = %address, deficit = event.deficit, insurance_draw = event.insurance_draw, socialized = event.socialized_loss, "resolved a bankruptcy");
                report.resolved.push(event);
            }
        }
        Err(error) => {
            warn!(account = %address, ?error, "resolve_bankruptcy failed");
            report.failures.push((address, error));
        }
    }
}

async fn liquidate_account(
    chain: &mut dyn Chain,
    liquidator: &Liquidator,
    config: &KeeperConfig,
    snapshot: &Snapshot,
    mut assessment: Assessment,
    report: &mut PassReport,
) -> Result<()> {
    for _ in 0..config.max_slices_per_account {
        let Some((market_index, plan)) = assessment.best_plan(snapshot, u64::MAX) else { return Ok(()) };
        let market = &snapshot.markets[market_index as usize];
        let health_accounts = snapshot.health_pairs(&assessment.account, market_index);
        let limit =
            config.compute_unit_limit + config.compute_units_per_market * health_accounts.len() as u32;
        let instruction = ix::Liquidate {
            keeper: liquidator.keeper.pubkey(),
            margin_account: assessment.address,
            market: market.key,
            oracle: market.oracle_key,
            keeper_token: liquidator.keeper_token,
            market_index,
            max_base: u64::MAX,
            health_accounts,
        }
        .instruction(&liquidator.addresses);

        let mut attempt = 0;
        let logs = loop {
            match chain
                .send(std::slice::from_ref(&instruction), &liquidator.keeper, limit, config.priority_fee)
                .await
            {
                Ok(logs) => break logs,
                Err(SendError::Program(code)) if code == 6000 + MicroliqError::NotLiquidatable as u32 => {
                    info!(account = %assessment.address, "no longer liquidatable");
                    return Ok(());
                }
                Err(SendError::Transient(reason)) if attempt < config.max_retries => {
                    attempt += 1;
                    warn!(account = %assessment.address, attempt, %reason, "retrying");
                }
                Err(error) => {
                    warn!(account = %assessment.address, ?error, "liquidation failed");
                    report.failures.push((assessment.address, error));
                    return Ok(());
                }
            }
        };
        let mut slices = decode_events::<LiquidationSliceV3>(&logs).into_iter();
        let Some(event) = slices.next() else {
            // A call that found the account back at its target ends the episode without a slice.
            if decode_events::<LiquidationEpisodeEndedV2>(&logs).is_empty() {
                warn!(account = %assessment.address, "liquidation sent but no event in the log");
            } else {
                info!(account = %assessment.address, "liquidation episode ended, nothing to close");
            }
            return Ok(());
        };
        let record = SliceRecord {
            account: assessment.address,
            expected: plan,
            bankruptcy: decode_events::<BankruptcyResolved>(&logs).into_iter().next(),
            event,
            also_closed: slices.collect(),
        };
        info!(
            account = %record.account,
            market = market_index,
            base_closed = record.event.base_closed,
            remaining = record.event.remaining_base,
            bonus = record.event.keeper_bonus,
            insurance_fee = record.event.insurance_fee,
            bankrupt = record.event.bankrupt,
            matches_prediction = record.matches_prediction(),
            "liquidated a slice"
        );
        report.slices.push(record);

        // Re-read the account and go again while the program still allows it.
        let data = chain.accounts(&[assessment.address]).await?.remove(0);
        let Some(account) = data.as_deref().and_then(decode) else { return Ok(()) };
        let Some(next) = Assessment::new(assessment.address, account, snapshot) else { return Ok(()) };
        if next.account.open_position_count() == 0 {
            return Ok(());
        }
        assessment = next;
    }
    Ok(())
}
