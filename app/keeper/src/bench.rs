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
