//! Scan benchmark: N synthetic margin accounts in their on-chain byte layout, decoded, valued and
//! ranked on one core with the same code the keeper runs. A benchmark that prints figures, not a
//! timed test.

use std::io::Write;
use std::time::Instant;

use anchor_lang::prelude::Pubkey;
use anchor_lang::Discriminator;
use anyhow::Result;
use microliq::math::MarketPrice;
use microliq::oracle::OracleReading;
use microliq::state::{Exchange, MarginAccount, Market, Position, MAX_POSITIONS};
use microliq_client::{default_params, ix::ExchangeAddresses};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scan::{decode_margin_accounts, rank, MarketView, Snapshot};

pub const MARKETS: usize = 8;

/// Synthetic accounts as `(address, bytes)`: 1–8 positions over 8 markets, leverage up to ~12x
/// at the snapshot's prices so that a few percent are liquidatable.
pub fn synthetic_accounts(count: usize, seed: u64) -> Vec<(Pubkey, Vec<u8>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
            let positions = rng.gen_range(1..=MAX_POSITIONS);
            let mut notional = 0i64;
            for (slot, market) in (0..MARKETS).take(positions).enumerate() {
                let base =
                    rng.gen_range(1_000_000i64..50_000_000_000) * if rng.gen_bool(0.7) { 1 } else { -1 };
                let entry_price = rng.gen_range(130..170) as i64; // quote atoms per 1,000 base atoms
                let entry = base * entry_price / 1_000;
                account.positions[slot] =
                    Position { base, entry_quote: entry, market_index: market as u16, _padding: [0; 6] };
                notional += entry.abs();
            }
            account.collateral = notional / rng.gen_range(3..=12);
            let mut data = MarginAccount::DISCRIMINATOR.to_vec();
            data.extend_from_slice(bytemuck::bytes_of(&account));
            (Pubkey::new_unique(), data)
        })
        .collect()
}

/// A snapshot with 8 markets at 0.15 quote atoms per base atom (SOL at $150).
pub fn synthetic_snapshot() -> Snapshot {
    let addresses = ExchangeAddresses::derive(Pubkey::new_unique());
    let markets = (0..MARKETS)
        .map(|index| {
            let mut state: Market = bytemuck::Zeroable::zeroed();
            state.params = default_params();
            state.market_index = index as u16;
            MarketView {
                index: index as u16,
                key: Pubkey::new_unique(),
                state,
                oracle_key: Pubkey::new_unique(),
                oracle: Some(OracleReading {
                    price: MarketPrice::exact(150_000_000_000),
                    ..OracleReading::default()
                }),
            }
        })
        .collect();
    let mut exchange: Exchange = bytemuck::Zeroable::zeroed();
    exchange.market_count = MARKETS as u16;
    Snapshot { addresses, exchange, markets, slot: 1, unix_timestamp: 0 }
}

#[derive(Debug, Clone, Copy)]
pub struct BenchResult {
    pub accounts: usize,
    pub liquidatable: usize,
    pub decode_secs: f64,
    pub health_and_rank_secs: f64,
}

impl BenchResult {
    pub fn accounts_per_second(&self) -> f64 {
        self.accounts as f64 / (self.decode_secs + self.health_and_rank_secs)
    }
}

pub fn run(count: usize, out: &mut dyn Write) -> Result<BenchResult> {
    let raw = synthetic_accounts(count, 42);
    let snapshot = synthetic_snapshot();
    let started = Instant::now();
    let decoded = decode_margin_accounts(&raw);
    let decode_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let ranked = rank(&decoded, &snapshot);
    let health_and_rank_secs = started.elapsed().as_secs_f64();
    let result = BenchResult {
        accounts: decoded.len(),
        liquidatable: ranked.len(),
        decode_secs,
        health_and_rank_secs,
    };
    writeln!(
        out,
        "scan bench: {} accounts ({} bytes each, 1-8 positions over {} markets) on one core\n  \
         decode           {:>9.1} ms\n  health + plan + rank {:>5.1} ms  ({} liquidatable, each with its slice planned)\n  \
         throughput       {:>9.0} accounts/s",
        result.accounts,
        MarginAccount::SPACE,
        MARKETS,
        decode_secs * 1e3,
        health_and_rank_secs * 1e3,
        result.liquidatable,
        result.accounts_per_second()
    )?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_accounts_decode_and_some_are_liquidatable() {
        let raw = synthetic_accounts(2_000, 1);
        let decoded = decode_margin_accounts(&raw);
        assert_eq!(decoded.len(), 2_000);
        let ranked = rank(&decoded, &synthetic_snapshot());
        assert!(!ranked.is_empty() && ranked.len() < 2_000, "{} liquidatable", ranked.len());
        assert!(ranked.windows(2).all(|w| w[0].0.shortfall() >= w[1].0.shortfall()));
    }
}

/// Synthetic accounts for the reaction benchmark over the first two markets of
/// [`synthetic_snapshot`] (SOL-like at $150): 90 % hold one position, 10 % two; entries within
/// 1 % of $150, 70 % long, leverage 2–10x, so that liquidation prices spread below (longs) and
/// above (shorts) the price the way a live book's do.
pub fn reaction_accounts(count: usize, seed: u64, exchange: Pubkey) -> Vec<(Pubkey, MarginAccount)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
            account.exchange = exchange;
            let positions = if rng.gen_bool(0.9) { 1 } else { 2 };
            let mut notional = 0i64;
            for (slot, market) in (0..positions).enumerate() {
                let base =
                    rng.gen_range(1_000i64..100_000) * 1_000_000 * if rng.gen_bool(0.7) { 1 } else { -1 };
                let entry_price = rng.gen_range(148_500i64..151_500); // quote atoms per 1e6 base atoms
                let entry = base / 1_000_000 * entry_price;
                account.positions[slot] =
                    Position { base, entry_quote: entry, market_index: market as u16, _padding: [0; 6] };
                notional += entry.abs();
            }
            account.collateral = (notional as f64 / rng.gen_range(2.0..10.0)) as i64;
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            key[8..16].copy_from_slice(&seed.to_le_bytes());
            (Pubkey::new_from_array(key), account)
        })
        .collect()
}

/// Figures of one population size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReactionResult {
    pub accounts: usize,
    pub index_build_secs: f64,
    pub updates: usize,
    /// Per update: seconds from the price account's bytes to every signed transaction.
    pub median_secs: f64,
    pub p99_secs: f64,
    pub max_secs: f64,
    /// Accounts each update made liquidatable (= signed transactions), median and total.
    pub median_jobs: usize,
    pub total_jobs: usize,
    /// Candidates valued per update (crossed band + watch sets), median.
    pub median_candidates: usize,
    /// A full revaluation of every account (what a polling keeper does per pass), seconds.
    pub full_scan_secs: f64,
}

/// The reaction benchmark: `count` accounts in the event-driven keeper's index, opened around
/// $150; the SOL price, first read at $143 (just above the highest liquidation price), falls in
/// `updates` steps of `step_bps`; each update is handed to the engine as the
/// price account's bytes (a `PriceUpdateV2`, as a websocket notification carries it) and timed
/// until the signed `liquidate` transaction of every account it made liquidatable is ready.
pub fn reaction(count: usize, updates: usize, step_bps: u32) -> Result<ReactionResult> {
    use crate::live::{Engine, EngineConfig};
    use microliq::oracle::{OracleKind, OracleMode};
    use microliq_client::{PythPrice, SOL_USD_FEED_ID};
    use pyth_solana_receiver_sdk::price_update::VerificationLevel;

    let mut snapshot = synthetic_snapshot();
    snapshot.unix_timestamp = 1_700_000_000;
    snapshot.slot = 1_000;
    snapshot.exchange.liquidation_episode_slots = 150;
    let feed = SOL_USD_FEED_ID;
    let price_account = |usd: f64, slot: u64| {
        let mut price = PythPrice::usd(usd);
        price.publish_time = 1_700_000_000;
        price.posted_slot = slot;
        price.to_price_update_v2(feed, VerificationLevel::Full)
    };
    let sol = &mut snapshot.markets[0];
    sol.state.oracle_kind = OracleKind::PythPriceUpdateV2 as u8;
    sol.state.oracle_mode = OracleMode::Pinned as u8;
    sol.state.oracle_feed_id = feed;
    sol.state.params.max_staleness_secs = 60;
    sol.state.oracle = sol.oracle_key;
    sol.state.base_decimals = 9;
    let oracle_key = sol.oracle_key;
    snapshot.exchange.quote_decimals = 6;
    let accounts = reaction_accounts(count, 42, snapshot.addresses.exchange);

    let started = Instant::now();
    let full = rank(&accounts, &snapshot);
    let full_scan_secs = started.elapsed().as_secs_f64();
    drop(full);

    let liquidator = crate::keeper::Liquidator {
        keeper: solana_sdk::signature::Keypair::new(),
        keeper_token: Pubkey::new_unique(),
        addresses: snapshot.addresses,
    };
    let config =
        EngineConfig { max_in_flight: usize::MAX, in_flight_timeout_slots: u64::MAX, retry_slots: 5 };
    let mut engine = Engine::new(snapshot, liquidator, 100, config);
    let started = Instant::now();
    for (address, account) in &accounts {
        engine.index.upsert(*address, *account, &engine.snapshot);
    }
    let index_build_secs = started.elapsed().as_secs_f64();
    // The first reading (every account already liquidatable there is found now).
    let owner = microliq::oracle::PYTH_RECEIVER_PROGRAM;
    let mut usd = 143.0;
    // Its jobs are not timed: the benchmark measures the moves that follow.
    engine.on_price(&oracle_key, &owner, &price_account(usd, 1_001), 1_001);
    anyhow::ensure!(engine.snapshot.markets[0].oracle.is_some(), "the synthetic price account does not read");

    let mut times = Vec::with_capacity(updates);
    let mut jobs_per_update = Vec::with_capacity(updates);
    let mut candidates = Vec::with_capacity(updates);
    for step in 0..updates {
        usd *= 1.0 - step_bps as f64 / 10_000.0;
        let slot = 1_002 + step as u64;
        let bytes = price_account(usd, slot);
        let old = engine.snapshot.markets[0].oracle.map(|r| r.price);
        let started = Instant::now();
        let jobs = engine.on_price(&oracle_key, &owner, &bytes, slot);
        times.push(started.elapsed().as_secs_f64());
        jobs_per_update.push(jobs.len());
        if let (Some(old), Some(new)) = (old, engine.snapshot.markets[0].oracle) {
            candidates.push(engine.index.crossed(0, Some(&old), &new.price).len());
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    jobs_per_update.sort_unstable();
    candidates.sort_unstable();
    Ok(ReactionResult {
        accounts: count,
        index_build_secs,
        updates,
        median_secs: pick(0.5),
        p99_secs: pick(0.99),
        max_secs: pick(1.0),
        median_jobs: jobs_per_update[jobs_per_update.len() / 2],
        total_jobs: jobs_per_update.iter().sum(),
        median_candidates: candidates.get(candidates.len() / 2).copied().unwrap_or(0),
        full_scan_secs,
    })
}

/// Prints [`reaction`] for each population size.
pub fn run_reaction(
    counts: &[usize],
    updates: usize,
    step_bps: u32,
    out: &mut dyn Write,
) -> Result<Vec<ReactionResult>> {
    writeln!(
        out,
        "reaction bench: SOL falls from $143 in {updates} updates of {step_bps} bp (positions opened near $150); per update, the time from the \
         price account's bytes to a signed liquidate for every account it made liquidatable (one core)"
    )?;
    writeln!(
        out,
        "{:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>11} {:>12}",
        "accounts", "index ms", "median ms", "p99 ms", "max ms", "txs/upd", "valued/upd", "full scan ms"
    )?;
    let mut results = Vec::new();
    for &count in counts {
        let r = reaction(count, updates, step_bps)?;
        writeln!(
            out,
            "{:>10} {:>10.1} {:>10.3} {:>10.3} {:>10.3} {:>9} {:>11} {:>12.1}",
            r.accounts,
            r.index_build_secs * 1e3,
            r.median_secs * 1e3,
            r.p99_secs * 1e3,
            r.max_secs * 1e3,
            r.median_jobs,
            r.median_candidates,
            r.full_scan_secs * 1e3
        )?;
        results.push(r);
    }
    Ok(results)
}
