//! Finding liquidatable accounts with the program's own code: accounts are decoded from their
//! on-chain bytes, prices go through the program's oracle guards, health and the expected slice
//! come from `microliq::math`. Nothing here is a second implementation.

use std::collections::BTreeMap;

use anchor_lang::prelude::Pubkey;
use anchor_lang::Discriminator;
use anyhow::{anyhow, Result};
use microliq::math::{
    self, target_margin_scaled, LiquidationPlan, LiquidationTarget, MaintenanceHealth, PositionRisk,
};
use microliq::oracle::{read_oracle_account, OracleAccount, OracleClock, OracleReading};
use microliq::state::{Exchange, MarginAccount, Market, MAX_POSITIONS};
use microliq_client::ix::ExchangeAddresses;

use crate::chain::Chain;

/// Decodes a zero-copy account of type `T` (Anchor discriminator, then the struct's bytes).
pub fn decode<T: bytemuck::Pod + Discriminator>(data: &[u8]) -> Option<T> {
    let size = std::mem::size_of::<T>();
    if data.len() < 8 + size || !data.starts_with(T::DISCRIMINATOR) {
        return None;
    }
    Some(bytemuck::pod_read_unaligned(&data[8..8 + size]))
}

/// One market as the keeper sees it: its state and, when the oracle passes every guard, its
/// price. A market without a valid price cannot be used to liquidate (the program would refuse).
#[derive(Clone, Debug)]
pub struct MarketView {
    pub index: u16,
    pub key: Pubkey,
    pub state: Market,
    /// The price account the keeper reads and passes for this market: the stored `oracle`, or
    /// for a pull market an update the keeper posted itself.
    pub oracle_key: Pubkey,
    pub oracle: Option<OracleReading>,
}

impl MarketView {
    /// A pull market (any fresh update of its feed is accepted, see docs/ORACLES.md).
    pub fn is_pull(&self) -> bool {
        self.state.oracle_kind == microliq::oracle::OracleKind::PythPriceUpdateV2 as u8
            && self.state.oracle_mode == microliq::oracle::OracleMode::Pull as u8
    }
}

/// The exchange, its markets and prices at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub addresses: ExchangeAddresses,
    pub exchange: Exchange,
    pub markets: Vec<MarketView>,
    pub slot: u64,
    pub unix_timestamp: i64,
}

impl Snapshot {
    /// Reads the exchange, every market and every oracle.
    pub async fn load(chain: &mut dyn Chain, addresses: ExchangeAddresses) -> Result<Snapshot> {
        Self::load_with(chain, addresses, &BTreeMap::new()).await
    }

    /// [`Snapshot::load`], reading `oracle_overrides[market index]` instead of the stored account
    /// where given (the keeper's own fresh update of a pull market).
    pub async fn load_with(
        chain: &mut dyn Chain,
        addresses: ExchangeAddresses,
        oracle_overrides: &BTreeMap<u16, Pubkey>,
    ) -> Result<Snapshot> {
        let exchange_data = chain.accounts(&[addresses.exchange]).await?.remove(0);
        let exchange: Exchange =
            exchange_data.as_deref().and_then(decode).ok_or_else(|| anyhow!("exchange account not found"))?;
        let market_keys: Vec<Pubkey> = (0..exchange.market_count).map(|i| addresses.market(i)).collect();
        let market_data = chain.accounts(&market_keys).await?;
        let mut markets = Vec::new();
        for (index, (key, data)) in market_keys.iter().zip(market_data).enumerate() {
            let state: Market =
                data.as_deref().and_then(decode).ok_or_else(|| anyhow!("market {index} missing"))?;
            let oracle_key = oracle_overrides.get(&(index as u16)).copied().unwrap_or(state.oracle);
            markets.push(MarketView { index: index as u16, key: *key, state, oracle_key, oracle: None });
        }
        let oracle_keys: Vec<Pubkey> = markets.iter().map(|m| m.oracle_key).collect();
        let oracle_data = chain.owned_accounts(&oracle_keys).await?;
        // The clock after the accounts: an oracle account updated between the two reads would
        // otherwise look posted in the future, though the program (running later still) accepts
        // it; staleness is judged against the later time too (the stricter reading).
        let (slot, unix_timestamp) = chain.clock().await?;
        let clock = OracleClock { unix_timestamp, slot };
        for ((market, data), key) in markets.iter_mut().zip(oracle_data).zip(&oracle_keys) {
            // The program's own reader, for either oracle kind.
            market.oracle = data.and_then(|(owner, data)| {
                let account = OracleAccount { key, owner: &owner, data: &data };
                read_oracle_account(&account, &market.state, &exchange, &clock).ok()
            });
        }
        Ok(Snapshot { addresses, exchange, markets, slot, unix_timestamp })
    }

    /// A market's health inputs: price, rates and its funding index projected to the snapshot's
    /// clock (what the program computes for a market it reads, or writes when it advances it).
    pub fn lookup(&self, index: u16) -> Option<(math::MarketPrice, u32, u32, i64)> {
        let market = self.markets.get(index as usize)?;
        let oracle = market.oracle?;
        let funding_index =
            market.state.funding_state_at(self.exchange.funding_time(self.unix_timestamp)).ok()?.index;
        Some((
            oracle.price,
            market.state.params.maintenance_rate,
            market.state.params.initial_rate,
            funding_index,
        ))
    }

    /// The oldest publish time among the prices of the markets `account` holds positions in
    /// (what the program compares with the account's last recovery); `None` when one has no
    /// valid price (the program would refuse the call).
    pub fn oldest_price_time(&self, account: &MarginAccount) -> Option<i64> {
        let mut oldest: Option<i64> = None;
        for position in account.positions.iter().filter(|p| p.is_open()) {
            let time = self.markets.get(position.market_index as usize)?.oracle?.publish_time;
            oldest = Some(oldest.map_or(time, |t| t.min(time)));
        }
        oldest
    }

    /// `(market, oracle)` pairs for every market `account` holds a position in except `except`,
    /// ascending: the remaining accounts of `liquidate`.
    pub fn health_pairs(&self, account: &MarginAccount, except: u16) -> Vec<(Pubkey, Pubkey)> {
        let (indexes, count) = account.other_market_indexes(Some(except));
        indexes[..count]
            .iter()
            .map(|&i| {
                let market = &self.markets[i as usize];
                (market.key, market.oracle_key)
            })
            .collect()
    }
}

/// An account's health at the snapshot's prices.
#[derive(Clone, Copy, Debug)]
pub struct Assessment {
    pub address: Pubkey,
    pub account: MarginAccount,
    pub health: MaintenanceHealth,
    risks: [PositionRisk; MAX_POSITIONS],
    count: usize,
}

impl Assessment {
    /// Health of `account`, or `None` when a market it holds has no valid price.
    pub fn new(address: Pubkey, account: MarginAccount, snapshot: &Snapshot) -> Option<Assessment> {
        let (risks, count) = account.position_risks(|i| snapshot.lookup(i)).ok()?;
        let health = math::maintenance_health(account.collateral, &risks[..count]).ok()?;
        Some(Assessment { address, account, health, risks, count })
    }

    pub fn positions(&self) -> &[PositionRisk] {
        &self.risks[..self.count]
    }

    /// `M − E`: how far below maintenance (0 when above).
    pub fn shortfall(&self) -> u128 {
        self.health.shortfall()
    }

    /// The plan the program would execute for a `liquidate` of `market_index` now, if it would
    /// slice (the same rule as the program: `E < M`, or in a live episode and below its target;
    /// the episode's liveness and ramp come from the program's own `MarginAccount` methods).
    pub fn plan(&self, snapshot: &Snapshot, market_index: u16, max_base: u64) -> Option<LiquidationPlan> {
        let index = self.account.risk_index(market_index)?;
        let market = snapshot.markets.get(market_index as usize)?;
        // The program refuses a market whose liquidations are paused (here or exchange-wide).
        if (snapshot.exchange.paused | market.state.paused) & microliq::state::pause::LIQUIDATE != 0 {
            return None;
        }
        let mut params = market.state.params.liquidation();
        params.liquidation_buffer = self.account.liquidation_buffer(|i| {
            snapshot.markets.get(i as usize).map(|m| m.state.params.liquidation_buffer)
        });
        let episode_slots = snapshot.exchange.liquidation_episode_slots;
        let live = self.account.episode_live(snapshot.slot, episode_slots);
        let slots = self.account.slots_in_episode(snapshot.slot, episode_slots);
        let escalated = self.account.liquidation_escalated(
            snapshot.slot,
            episode_slots,
            snapshot.exchange.repeat_liquidation_window_slots,
            snapshot.oldest_price_time(&self.account)?,
        );
        let target = LiquidationTarget {
            collateral: self.account.collateral,
            positions: self.positions(),
            index,
            escalated,
        };
        let plan = math::plan_liquidation(&target, slots, max_base, &params).ok()?;
        let below_target = target_margin_scaled(&plan.health_before, params.liquidation_buffer).ok()? < 0;
        (plan.health_before.is_liquidatable() || (live && below_target)).then_some(plan)
    }

    /// Which position to slice: a plan that reaches the target with the smallest closed notional
    /// if there is one (the least disruption for the trader), else the largest requirement. In a
    /// repeat breach a losing position's whole close comes first, one that reaches the target
    /// before one that does not (what the rule is for: the loser goes, the trader keeps the
    /// winner).
    pub fn best_plan(&self, snapshot: &Snapshot, max_base: u64) -> Option<(u16, LiquidationPlan)> {
        let beta = self.account.liquidation_buffer(|i| {
            snapshot.markets.get(i as usize).map(|m| m.state.params.liquidation_buffer)
        });
        let mut best: Option<(u16, LiquidationPlan)> = None;
        for position in self.account.positions.iter().filter(|p| p.is_open()) {
            let Some(plan) = self.plan(snapshot, position.market_index, max_base) else { continue };
            let score = |p: &LiquidationPlan| {
                let reaches = match p.whole_close {
                    None => p.outcome.closed_base == p.exact_slice,
                    Some(microliq::math::WholeClose::Repeat) => {
                        target_margin_scaled(&p.outcome.health_after, beta).is_ok_and(|m| m >= 0)
                    }
                    Some(_) => false,
                };
                (
                    p.whole_close == Some(microliq::math::WholeClose::Repeat),
                    reaches,
                    std::cmp::Reverse(if reaches {
                        p.outcome.closed_notional
                    } else {
                        u128::MAX - p.outcome.closed_notional
                    }),
                )
            };
            if best.as_ref().is_none_or(|(_, b)| score(&plan) > score(b)) {
                best = Some((position.market_index, plan));
            }
        }
        best
    }
}

/// Every account the program would let a keeper liquidate now, most under water first
/// (`M − E` descending, then address for a stable order).
pub fn rank(
    accounts: &[(Pubkey, MarginAccount)],
    snapshot: &Snapshot,
) -> Vec<(Assessment, u16, LiquidationPlan)> {
    let mut out: Vec<_> = accounts
        .iter()
        .filter(|(_, account)| account.open_position_count() > 0)
        .filter_map(|(address, account)| Assessment::new(*address, *account, snapshot))
        .filter_map(|assessment| {
            let (market, plan) = assessment.best_plan(snapshot, u64::MAX)?;
            Some((assessment, market, plan))
        })
        .collect();
    out.sort_by(|a, b| b.0.shortfall().cmp(&a.0.shortfall()).then(a.0.address.cmp(&b.0.address)));
    out
}

/// Decodes `(address, bytes)` pairs into margin accounts, skipping anything that is not one.
pub fn decode_margin_accounts(raw: &[(Pubkey, Vec<u8>)]) -> Vec<(Pubkey, MarginAccount)> {
    raw.iter().filter_map(|(key, data)| decode::<MarginAccount>(data).map(|a| (*key, a))).collect()
}
