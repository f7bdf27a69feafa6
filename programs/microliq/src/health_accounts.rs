//! Loading the markets and prices an account's health needs.
//!
//! Instructions that check health take the market they act on as a named account (with its
//! oracle), and every *other* market the margin account holds a position in as remaining
//! accounts: `(market, oracle)` pairs in strictly ascending market index. Instructions that value
//! the whole pool (LP deposit / withdraw) take every market of the exchange that way,
//! `0..market_count`. Anything missing, extra, duplicated or out of order is a named error.

use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::math::{self, MaintenanceHealth, MarketPrice, PositionRisk};
use crate::oracle::{read_oracle, OracleReading};
use crate::state::{Exchange, MarginAccount, Market, MAX_POSITIONS};

/// What health needs of one market: its index, rates, validated prices and whether its EMA
/// circuit breaker is tripped (not the whole [`OracleReading`]: snapshots are copied around, and
/// SBF copies word by word).
#[derive(Clone, Copy, Debug, Default)]
pub struct MarketSnapshot {
    pub market_index: u16,
    pub maintenance_rate: u32,
    pub initial_rate: u32,
    pub price: MarketPrice,
    pub ema_diverged: bool,
}

impl MarketSnapshot {
    pub fn new(market: &Market, oracle: &OracleReading) -> Self {
        MarketSnapshot {
            market_index: market.market_index,
            maintenance_rate: market.params.maintenance_rate,
            initial_rate: market.params.initial_rate,
            price: oracle.price,
            ema_diverged: oracle.ema_diverged,
        }
    }
}

/// Reads `(market, oracle)` pairs from `remaining`, which must be exactly the markets in
/// `expected` (ascending). Calls `visit` with each loaded market and its validated price.
pub fn load_market_pairs<'info>(
    remaining: &'info [AccountInfo<'info>],
    exchange_key: &Pubkey,
    exchange: &Exchange,
    expected: &[u16],
    now: i64,
    mut visit: impl FnMut(&Market, OracleReading) -> Result<()>,
) -> Result<()> {
    require!(remaining.len() % 2 == 0, MicroliqError::HealthAccountsOddCount);
    let pairs = remaining.len() / 2;
    let mut previous: Option<u16> = None;
    for (position, pair) in remaining.chunks_exact(2).enumerate() {
        let loader = AccountLoader::<Market>::try_from(&pair[0])?;
        let market = loader.load()?;
        require_keys_eq!(market.exchange, *exchange_key, MicroliqError::WrongExchange);
        if let Some(previous) = previous {
            require!(market.market_index > previous, MicroliqError::HealthAccountsOutOfOrder);
        }
        previous = Some(market.market_index);
        match expected.get(position) {
            Some(&want) if want == market.market_index => {}
            // A needed market, but not where the ascending order puts it.
            _ if expected.contains(&market.market_index) => {
                return err!(MicroliqError::HealthAccountsOutOfOrder)
            }
            // A smaller needed index was skipped: that market is missing.
            Some(&want) if want < market.market_index => return err!(MicroliqError::HealthAccountsMissing),
            _ => return err!(MicroliqError::HealthAccountsUnexpected),
        }
        let oracle = read_oracle(&pair[1], &market, &exchange.pyth_program, exchange.quote_decimals, now)?;
        visit(&market, oracle)?;
    }
    require!(pairs == expected.len(), MicroliqError::HealthAccountsMissing);
    Ok(())
}

/// The markets an account's health was computed with.
#[derive(Default)]
pub struct HealthMarkets {
    snapshots: [MarketSnapshot; MAX_POSITIONS + 1],
    count: usize,
}

impl HealthMarkets {
    pub fn push(&mut self, snapshot: MarketSnapshot) -> Result<()> {
        require!(self.count < self.snapshots.len(), MicroliqError::HealthAccountsUnexpected);
        self.snapshots[self.count] = snapshot;
        self.count += 1;
        Ok(())
    }

    /// Loads the remaining-account pairs for every open position of `account` except
    /// `except` (the instruction's named market, pushed by the caller).
    pub fn load_others<'info>(
        &mut self,
        remaining: &'info [AccountInfo<'info>],
        exchange_key: &Pubkey,
        exchange: &Exchange,
        account: &MarginAccount,
        except: Option<u16>,
        now: i64,
    ) -> Result<()> {
        let (indexes, count) = account.other_market_indexes(except);
        load_market_pairs(remaining, exchange_key, exchange, &indexes[..count], now, |market, oracle| {
            self.push(MarketSnapshot::new(market, &oracle))
        })
    }

    pub fn get(&self, market_index: u16) -> Option<&MarketSnapshot> {
        self.snapshots[..self.count].iter().find(|s| s.market_index == market_index)
    }

    /// The risk inputs of every open position of `account`, written into `risks`; returns how
    /// many.
    pub fn fill_positions(
        &self,
        account: &MarginAccount,
        risks: &mut [PositionRisk; MAX_POSITIONS],
    ) -> Result<usize> {
        account.fill_position_risks(risks, |index| {
            self.get(index).map(|s| (s.price, s.maintenance_rate, s.initial_rate))
        })
    }

    pub fn maintenance_health(&self, account: &MarginAccount) -> Result<MaintenanceHealth> {
        let mut risks = [PositionRisk::default(); MAX_POSITIONS];
        let count = self.fill_positions(account, &mut risks)?;
        Ok(math::maintenance_health(account.collateral, &risks[..count])?)
    }

    pub fn initial_health(&self, account: &MarginAccount) -> Result<i128> {
        let mut risks = [PositionRisk::default(); MAX_POSITIONS];
        let count = self.fill_positions(account, &mut risks)?;
        Ok(math::initial_health(account.collateral, &risks[..count])?)
    }

    /// Fails unless `E' − I ≥ 0`; also refuses when any market the account holds a position in
    /// has tripped the EMA-divergence circuit breaker (the action adds risk).
    pub fn require_initial_health(&self, account: &MarginAccount) -> Result<()> {
        for position in account.positions.iter().filter(|p| p.is_open()) {
            if let Some(snapshot) = self.get(position.market_index) {
                require!(!snapshot.ema_diverged, MicroliqError::OracleEmaDivergence);
            }
        }
        require!(self.initial_health(account)? >= 0, MicroliqError::InitialHealthViolated);
        Ok(())
    }
}
