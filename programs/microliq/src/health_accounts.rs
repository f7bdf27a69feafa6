//! Loading the markets and prices an account's health needs.
//!
//! Instructions that check health take the market they act on as a named account (with its
//! oracle), and every *other* market the margin account holds a position in as remaining
//! accounts: `(market, oracle)` pairs in strictly ascending market index. Instructions that value
//! the whole pool (LP deposit / withdraw) take every market of the exchange that way,
//! `0..market_count`. Anything missing, extra, duplicated or out of order is a named error, and
//! so is the instruction's own market repeated among them.

use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::math::{self, Checked, MaintenanceHealth, MarketPrice, PositionRisk};
use crate::oracle::{read_oracle, OracleClock, OracleReading};
use crate::state::{Exchange, MarginAccount, Market, MAX_POSITIONS};

/// What health needs of one market: its index, rates, validated prices and whether its EMA
/// circuit breaker is tripped (not the whole [`OracleReading`]: snapshots are copied around, and
/// SBF copies word by word).
#[derive(Clone, Copy, Debug, Default)]
pub struct MarketSnapshot {
    pub market_index: u16,
    pub maintenance_rate: u32,
    pub initial_rate: u32,
    /// β of the market: a liquidation episode ends at `E ≥ (1 + β)·M`.
    pub liquidation_buffer: u32,
    pub price: MarketPrice,
    pub ema_diverged: bool,
    pub stale_for_trading: bool,
    /// The raw oracle price, confidence and exponent (for events).
    pub raw_price: i64,
    pub raw_conf: u64,
    pub expo: i32,
    /// The market's funding index as it stands at the clock (advanced or projected).
    pub funding_index: i64,
}

impl MarketSnapshot {
    /// `market` as it stands at `time` (its funding index projected: the market is only read).
    pub fn new(market: &Market, oracle: &OracleReading, time: math::FundingTime) -> Result<Self> {
        Ok(Self::advanced(market, oracle, market.funding_advance(time)?.index_after))
    }

    /// `market` just advanced to the clock (`settlement::advance_funding`): its stored index.
    pub fn advanced(market: &Market, oracle: &OracleReading, funding_index: i64) -> Self {
        MarketSnapshot {
            market_index: market.market_index,
            maintenance_rate: market.params.maintenance_rate,
            initial_rate: market.params.initial_rate,
            liquidation_buffer: market.params.liquidation_buffer,
            price: oracle.price,
            ema_diverged: oracle.ema_diverged,
            stale_for_trading: oracle.stale_for_trading,
            raw_price: oracle.raw_price,
            raw_conf: oracle.raw_conf,
            expo: oracle.expo,
            funding_index,
        }
    }
}

/// Reads `(market, oracle)` pairs from `remaining`, which must be exactly the markets in
/// `expected` (ascending). Calls `visit` with each loaded market and its validated price.
/// `named_market` is the instruction's own market account, which must not appear again.
pub fn load_market_pairs<'info>(
    remaining: &'info [AccountInfo<'info>],
    exchange_key: &Pubkey,
    exchange: &Exchange,
    expected: &[u16],
    named_market: Option<&Pubkey>,
    clock: &OracleClock,
    mut visit: impl FnMut(&Market, OracleReading) -> Result<()>,
) -> Result<()> {
    require!(remaining.len() % 2 == 0, MicroliqError::HealthAccountsOddCount);
    let pairs = remaining.len() / 2;
    let mut previous: Option<u16> = None;
    for (position, pair) in remaining.chunks_exact(2).enumerate() {
        // Checked before loading: the named market is already borrowed mutably.
        require!(Some(pair[0].key) != named_market, MicroliqError::HealthAccountsRepeatNamedMarket);
        let loader = AccountLoader::<Market>::try_from(&pair[0])?;
        let market = loader.load()?;
        require_keys_eq!(market.exchange, *exchange_key, MicroliqError::WrongExchange);
        if let Some(previous) = previous {
            require!(market.market_index > previous, MicroliqError::HealthAccountsOutOfOrder);
        }
        previous = Some(market.market_index);
        match expected.get(position) {
            Some(&want) if want == market.market_index => {}
            // A smaller needed index should be here: out of order when a later pair holds it,
            // missing otherwise.
            Some(&want) if want < market.market_index => {
                let later = remaining[(position + 1) * 2..]
                    .chunks_exact(2)
                    .any(|later| peek_market_index(&later[0], named_market) == Some(want));
                return if later {
                    err!(MicroliqError::HealthAccountsOutOfOrder)
                } else {
                    err!(MicroliqError::HealthAccountsMissing)
                };
            }
            // A needed market, but not where the ascending order puts it.
            _ if expected.contains(&market.market_index) => {
                return err!(MicroliqError::HealthAccountsOutOfOrder)
            }
            _ => return err!(MicroliqError::HealthAccountsUnexpected),
        }
        let oracle = read_oracle(&pair[1], &market, exchange, clock)?;
        visit(&market, oracle)?;
    }
    require!(pairs == expected.len(), MicroliqError::HealthAccountsMissing);
    Ok(())
}

/// The market index of a remaining account, if it is a market other than `named_market` (used
/// only to name an error precisely).
fn peek_market_index<'info>(info: &'info AccountInfo<'info>, named_market: Option<&Pubkey>) -> Option<u16> {
    if Some(info.key) == named_market {
        return None;
    }
    let loader = AccountLoader::<Market>::try_from(info).ok()?;
    let index = loader.load().ok()?.market_index;
    Some(index)
}

/// The markets an account's health was computed with.
#[derive(Default)]
pub struct HealthMarkets {
    snapshots: [MarketSnapshot; MAX_POSITIONS + 1],
    count: usize,
    /// The oldest and newest `publish_time` among the prices read (see
    /// [`Self::note_price_time`]).
    oldest_price_time: Option<i64>,
    newest_price_time: Option<i64>,
}

impl HealthMarkets {
    /// Records the publish time of a price the health is computed with.
    pub fn note_price_time(&mut self, publish_time: i64) {
        self.oldest_price_time = Some(self.oldest_price_time.map_or(publish_time, |t| t.min(publish_time)));
        self.newest_price_time = Some(self.newest_price_time.map_or(publish_time, |t| t.max(publish_time)));
    }

    /// The time a recovery seen with these prices is stamped with: the clock's, or the newest
    /// price's when a publisher's clock runs ahead of the cluster's (a price may be published
    /// "after" `now`), so that no price already readable can make the next breach a repeat.
    pub fn recovery_time(&self, now: i64) -> i64 {
        self.newest_price_time.map_or(now, |t| t.max(now))
    }

    /// The oldest publish time among the prices noted (`None` when none was).
    pub fn oldest_price_time(&self) -> Option<i64> {
        self.oldest_price_time
    }

    pub fn push(&mut self, snapshot: MarketSnapshot) -> Result<()> {
        require!(self.count < self.snapshots.len(), MicroliqError::HealthAccountsUnexpected);
        self.snapshots[self.count] = snapshot;
        self.count += 1;
        Ok(())
    }

    /// Loads the remaining-account pairs for every open position of `account` except the
    /// instruction's named market `(index, key)`, which the caller pushes itself.
    pub fn load_others<'info>(
        &mut self,
        remaining: &'info [AccountInfo<'info>],
        exchange_key: &Pubkey,
        exchange: &Exchange,
        account: &MarginAccount,
        named: Option<(u16, &Pubkey)>,
        clock: &OracleClock,
    ) -> Result<()> {
        let (indexes, count) = account.other_market_indexes(named.map(|(index, _)| index));
        let time = exchange.funding_time(clock.unix_timestamp);
        let named_market = named.map(|(_, key)| key);
        load_market_pairs(
            remaining,
            exchange_key,
            exchange,
            &indexes[..count],
            named_market,
            clock,
            |market, oracle| {
                self.note_price_time(oracle.publish_time);
                self.push(MarketSnapshot::new(market, &oracle, time)?)
            },
        )
    }

    /// After [`Self::load_others`]: advances every remaining market passed **writable** to the
    /// clock and settles `account`'s funding there (`settle_funding`); read-only ones keep it
    /// unsettled (health counts it either way). Returns the total settled (negative = paid).
    ///
    /// With `keep_collateral_nonnegative` (a deposit, which anyone may make), a payment that
    /// would take the collateral below zero is left unsettled: a stranger's deposit must not
    /// turn a healthy account's owed funding into a realized deficit (which would hold up LP
    /// flows, docs/POOL.md).
    pub fn settle_writable<'info>(
        &self,
        remaining: &'info [AccountInfo<'info>],
        exchange: &mut Exchange,
        account: &mut MarginAccount,
        now: i64,
        keep_collateral_nonnegative: bool,
    ) -> Result<i64> {
        let mut total = 0i64;
        for pair in remaining.chunks_exact(2).filter(|pair| pair[0].is_writable) {
            // `load_others` checked the exchange, the index and the order of every pair.
            let loader = AccountLoader::<Market>::try_from(&pair[0])?;
            let mut market = loader.load_mut()?;
            crate::settlement::advance_funding(&mut market, exchange, now)?;
            let (Some(snapshot), Some(slot)) =
                (self.get(market.market_index), account.position_index(market.market_index))
            else {
                continue;
            };
            if keep_collateral_nonnegative {
                let payment = math::position_funding(
                    account.positions[slot].base,
                    market.funding_index,
                    account.funding_indexes[slot],
                    &snapshot.price,
                )?;
                if (account.collateral as i128).add_or_err(payment)? < 0 {
                    market.invariant()?;
                    continue;
                }
            }
            let paid =
                crate::settlement::settle_funding(exchange, &mut market, account, slot, &snapshot.price)?;
            total = total.add_or_err(paid)?;
            market.invariant()?;
        }
        Ok(total)
    }

    /// β of `account`'s liquidation: the largest buffer among its markets.
    pub fn liquidation_buffer(&self, account: &MarginAccount) -> u32 {
        account.liquidation_buffer(|index| self.get(index).map(|s| s.liquidation_buffer))
    }

    /// Whether `account` is at or above the end target of a liquidation episode,
    /// `E ≥ (1 + β)·M`, with β the largest of its markets' buffers (so the episode ends only
    /// when no market's liquidation could still run).
    pub fn at_end_target(&self, account: &MarginAccount) -> Result<bool> {
        let health = self.maintenance_health(account)?;
        Ok(math::target_margin_scaled(&health, self.liquidation_buffer(account))? >= 0)
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
            self.get(index).map(|s| (s.price, s.maintenance_rate, s.initial_rate, s.funding_index))
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
    /// has a price older than its trading window or has tripped the EMA-divergence circuit
    /// breaker (the action adds risk).
    pub fn require_initial_health(&self, account: &MarginAccount) -> Result<()> {
        for position in account.positions.iter().filter(|p| p.is_open()) {
            if let Some(snapshot) = self.get(position.market_index) {
                require!(!snapshot.stale_for_trading, MicroliqError::OracleTooStaleToTrade);
                require!(!snapshot.ema_diverged, MicroliqError::OracleEmaDivergence);
            }
        }
        require!(self.initial_health(account)? >= 0, MicroliqError::InitialHealthViolated);
        Ok(())
    }
}

/// The `LiquidationEpisodeEnded` of `account` (still flagged) at `slot`, with its health by
/// `markets`: emitted by an order or a withdrawal that leaves the account at its end target.
pub fn episode_end(
    margin_account: &Pubkey,
    account: &MarginAccount,
    markets: &HealthMarkets,
    slot: u64,
) -> Result<crate::events::LiquidationEpisodeEnded> {
    let health = markets.maintenance_health(account)?;
    Ok(crate::events::LiquidationEpisodeEnded {
        margin_account: *margin_account,
        episode_start_slot: account.liquidation_start_slot,
        equity: health.equity,
        maintenance_requirement: health.maintenance_requirement,
        slot,
    })
}
