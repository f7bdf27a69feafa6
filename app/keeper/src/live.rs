//! The event-driven keeper's core, free of I/O: an index of every margin account ordered by
//! liquidation price per market, and an engine that turns one update (a price, a margin account,
//! a market, the clock) into signed `liquidate` transactions for exactly the accounts that update
//! made liquidatable. `node.rs` feeds it from a real node's websockets; the reaction benchmark
//! (`bench.rs`) feeds it synthetic updates.
//!
//! **Why an index.** A price update of market `m` changes the health of the accounts holding a
//! position in `m` and of nobody else. An account with one open position is liquidatable at a
//! price of `m` exactly when that price is past its liquidation price
//! ([`microliq::math::liquidation_price`], the program's own rounding), so the index keeps it in
//! one of two ordered sets per market (longs: liquidatable at or below their key; shorts: at or
//! above) and a price update reads the crossed range only, in `O(log n + k)`. An account with
//! several positions has a liquidation price in `m` that moves with the other markets' prices: it
//! is keyed by a bound, the liquidation price with its other positions' prices moved
//! `stress_bps` (10 %) against it; once a band crosses that bound it is *armed* (valued on every
//! update of `m` until rekeyed), and a market's multi-position accounts are rekeyed when its price
//! has moved `s / (2 + s)` from where they were keyed ([`LiquidationIndex::move_anchor`]).
//! Accounts in a live liquidation episode (liquidatable above maintenance while below their
//! target), with large unsettled funding or with an unknown price sit in a per-market watch set,
//! valued on every update of a market they hold. Every candidate is then valued exactly with the
//! program's code ([`Assessment`]): the index only has to never miss an account, and extra
//! candidates cost one valuation each.
//!
//! A price update reads only the band its move crossed (a fall of `m` from `p₀` to `p₁` reads the
//! longs keyed in `[p₁, p₀)`): an account liquidatable at `p₀` was found at `p₀` and is in
//! flight, cooling down after a failure, or deferred behind the in-flight bound, and the engine
//! retries each of those itself ([`Engine::on_clock`], [`Engine::finished`]); the next snapshot
//! values every account again.
//!
//! **What moves a key besides a price.** Unsettled funding changes equity slowly (at most the
//! market's funding clamp per hour of notional). Bands are therefore widened by a margin
//! (`margin_bps`, default 1 %) on both sides, and keys recomputed whenever the account changes and
//! on every periodic snapshot, so funding drift between two snapshots cannot hide an account.

use std::collections::{BTreeSet, HashMap, HashSet};

use anchor_lang::prelude::Pubkey;
use microliq::math::{self, LiquidationPlan, MarketPrice};
use microliq::oracle::{read_oracle_account, OracleAccount, OracleClock};
use microliq::state::{Exchange, MarginAccount, Market};
use microliq_client::ix;
use solana_sdk::hash::Hash;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::Transaction;

use crate::chain::with_budget;
use crate::keeper::Liquidator;
use crate::scan::{decode, Assessment, Snapshot};

/// Where one account sits in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// Liquidatable when the market's price is at or below `price` (a long).
    Long { market: u16, price: u128 },
    /// Liquidatable when the market's price is at or above `price` (a short).
    Short { market: u16, price: u128 },
    /// Revalued on every update of the market.
    Watch { market: u16 },
    /// Holds a position in this market besides others: its keys elsewhere assume this market's
    /// price within the stress of where it was; rekeyed when the price moves further.
    Multi { market: u16 },
    /// A stressed key in this market was crossed: revalued on every update of the market until
    /// the account is rekeyed.
    Armed { market: u16 },
}

/// Every margin account the keeper tracks, with its place in the per-market orders.
pub struct LiquidationIndex {
    accounts: HashMap<Pubkey, (MarginAccount, Vec<Key>)>,
    longs: Vec<BTreeSet<(u128, Pubkey)>>,
    shorts: Vec<BTreeSet<(u128, Pubkey)>>,
    watch: Vec<HashSet<Pubkey>>,
    multi: Vec<HashSet<Pubkey>>,
    armed: Vec<HashSet<Pubkey>>,
    /// Per market, the price at which its multi-position accounts were last keyed.
    anchor: Vec<Option<u128>>,
    /// Bankrupt accounts (no position, negative collateral): `resolve_bankruptcy` candidates.
    bankrupt: HashSet<Pubkey>,
    /// Bands are widened by this many basis points on both sides, to cover funding accrued
    /// between two revaluations.
    pub margin_bps: u32,
    /// A multi-position account's key in one market assumes its other positions' prices moved
    /// against it by this many basis points `s`; a market's multi-position accounts are keyed
    /// again when its price moves `s / (2 + s)` from where they were keyed.
    pub stress_bps: u32,
}

impl LiquidationIndex {
    pub fn new(margin_bps: u32) -> Self {
        LiquidationIndex {
            accounts: HashMap::new(),
            longs: Vec::new(),
            shorts: Vec::new(),
            watch: Vec::new(),
            multi: Vec::new(),
            armed: Vec::new(),
            anchor: Vec::new(),
            bankrupt: HashSet::new(),
            margin_bps,
            stress_bps: 1_000,
        }
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    pub fn get(&self, address: &Pubkey) -> Option<&MarginAccount> {
        self.accounts.get(address).map(|(account, _)| account)
    }

    pub fn addresses(&self) -> impl Iterator<Item = &Pubkey> {
        self.accounts.keys()
    }

    /// Accounts revalued on each update of `market` whatever its move (watch set and armed).
    pub fn watched(&self, market: u16) -> usize {
        let m = market as usize;
        self.watch.get(m).map_or(0, HashSet::len) + self.armed.get(m).map_or(0, HashSet::len)
    }

    pub fn bankrupt(&self) -> impl Iterator<Item = &Pubkey> {
        self.bankrupt.iter()
    }

    fn grow(&mut self, markets: usize) {
        while self.longs.len() < markets {
            self.longs.push(BTreeSet::new());
            self.shorts.push(BTreeSet::new());
            self.watch.push(HashSet::new());
            self.multi.push(HashSet::new());
            self.armed.push(HashSet::new());
            self.anchor.push(None);
        }
    }

    fn unkey(&mut self, address: &Pubkey, keys: &[Key]) {
        for key in keys {
            match *key {
                Key::Long { market, price } => {
                    self.longs[market as usize].remove(&(price, *address));
                }
                Key::Short { market, price } => {
                    self.shorts[market as usize].remove(&(price, *address));
                }
                Key::Watch { market } => {
                    self.watch[market as usize].remove(address);
                }
                Key::Multi { market } => {
                    self.multi[market as usize].remove(address);
                }
                Key::Armed { market } => {
                    self.armed[market as usize].remove(address);
                }
            }
        }
    }

    pub fn remove(&mut self, address: &Pubkey) {
        if let Some((_, keys)) = self.accounts.remove(address) {
            self.unkey(address, &keys);
        }
        self.bankrupt.remove(address);
    }

    /// Adds or replaces `address`, keyed at `snapshot`'s prices and clock.
    pub fn upsert(&mut self, address: Pubkey, account: MarginAccount, snapshot: &Snapshot) {
        // Markets the snapshot does not know yet (listed since) still get their sets.
        let highest =
            account.positions.iter().filter(|p| p.is_open()).map(|p| p.market_index as usize + 1).max();
        self.grow(snapshot.markets.len().max(highest.unwrap_or(0)));
        if let Some((_, old)) = self.accounts.remove(&address) {
            self.unkey(&address, &old);
        }
        if microliq::instructions::keeper::bankruptcy::is_bankrupt(&account) {
            self.bankrupt.insert(address);
        } else {
            self.bankrupt.remove(&address);
        }
        let mut keys = self.keys(&account, snapshot);
        // A multi-position account whose stressed key is already crossed is armed at once.
        let multi = keys.iter().any(|k| matches!(k, Key::Multi { .. }));
        if multi {
            let mut armed = Vec::new();
            for key in &keys {
                let crossed = match *key {
                    Key::Long { market, price } => snapshot
                        .markets
                        .get(market as usize)
                        .and_then(|m| m.oracle)
                        .is_some_and(|r| r.price.oracle_low <= self.widen(price, true)),
                    Key::Short { market, price } => snapshot
                        .markets
                        .get(market as usize)
                        .and_then(|m| m.oracle)
                        .is_some_and(|r| r.price.oracle_high >= self.widen(price, false)),
                    _ => false,
                };
                if let (true, Key::Long { market, .. } | Key::Short { market, .. }) = (crossed, *key) {
                    armed.push(Key::Armed { market });
                }
            }
            keys.extend(armed);
        }
        for key in &keys {
            match *key {
                Key::Long { market, price } => {
                    self.longs[market as usize].insert((price, address));
                }
                Key::Short { market, price } => {
                    self.shorts[market as usize].insert((price, address));
                }
                Key::Watch { market } => {
                    self.watch[market as usize].insert(address);
                }
                Key::Multi { market } => {
                    self.multi[market as usize].insert(address);
                }
                Key::Armed { market } => {
                    self.armed[market as usize].insert(address);
                }
            }
        }
        self.accounts.insert(address, (account, keys));
    }

    /// Recomputes every key at `snapshot` (after a periodic snapshot: funding has moved).
    pub fn rekey_all(&mut self, snapshot: &Snapshot) {
        let all: Vec<(Pubkey, MarginAccount)> = self.accounts.iter().map(|(k, (a, _))| (*k, *a)).collect();
        for (address, account) in all {
            self.upsert(address, account, snapshot);
        }
        for (anchor, market) in self.anchor.iter_mut().zip(&snapshot.markets) {
            *anchor = market.oracle.map(|r| r.price.oracle_low);
        }
    }

    /// `market`'s price is now `price` (already in `snapshot`): when it has moved more than
    /// half the stress from where the multi-position accounts holding it were keyed, they are
    /// keyed again and returned (the caller values them: their old keys elsewhere assumed this
    /// price within the stress).
    pub fn move_anchor(&mut self, market: u16, price: &MarketPrice, snapshot: &Snapshot) -> Vec<Pubkey> {
        self.grow(market as usize + 1);
        let m = market as usize;
        let now = price.oracle_low;
        // Keys computed at any price within t of the anchor stay valid for every price within t
        // of it when t ≤ s / (2 + s) (a short leg's stress is the tighter case).
        let stress = self.stress_bps as u128;
        let far = |anchor: u128| {
            anchor.abs_diff(now).saturating_mul(20_000 + stress) > anchor.saturating_mul(stress)
        };
        match self.anchor[m] {
            Some(anchor) if !far(anchor) => Vec::new(),
            _ => {
                // No anchor yet (the market had no price): key them now as well.
                self.anchor[m] = Some(now);
                let accounts: Vec<Pubkey> = self.multi[m].iter().copied().collect();
                for address in &accounts {
                    if let Some((account, _)) = self.accounts.get(address) {
                        let account = *account;
                        self.upsert(*address, account, snapshot);
                    }
                }
                accounts
            }
        }
    }

    fn keys(&self, account: &MarginAccount, snapshot: &Snapshot) -> Vec<Key> {
        let open: Vec<u16> =
            account.positions.iter().filter(|p| p.is_open()).map(|p| p.market_index).collect();
        let watch_all = || open.iter().map(|&market| Key::Watch { market }).collect::<Vec<_>>();
        if open.is_empty() {
            return Vec::new();
        }
        if account.episode_live(snapshot.slot, snapshot.exchange.liquidation_episode_slots)
            || open.iter().any(|&m| m as usize >= snapshot.markets.len())
        {
            return watch_all();
        }
        let Ok((risks, count)) = account.position_risks(|i| snapshot.lookup(i)) else { return watch_all() };
        if count != open.len() {
            return watch_all();
        }
        let risks = &risks[..count];
        let mut keys = Vec::with_capacity(2 * count);
        for (index, (risk, &market)) in risks.iter().zip(&open).enumerate() {
            // Unsettled funding is a fixed amount in the liquidation price, but it scales with
            // the price; an account whose funding is large against its notional is watched.
            let notional = risk.entry_quote.unsigned_abs() as u128;
            if risk.funding.unsigned_abs() * 20_000 > notional * self.margin_bps as u128 {
                return watch_all();
            }
            // The other positions at prices moved against the account by the stress.
            let mut stressed = [microliq::math::PositionRisk::default(); microliq::state::MAX_POSITIONS];
            stressed[..count].copy_from_slice(risks);
            if count > 1 {
                for (other, item) in stressed[..count].iter_mut().enumerate() {
                    if other != index {
                        item.price = stress(&item.price, item.base > 0, self.stress_bps);
                    }
                }
            }
            let Ok(price) = math::liquidation_price(account.collateral, &stressed[..count], index) else {
                return watch_all();
            };
            match (risk.base > 0, price) {
                // Never liquidatable through this market's price alone: only a change of the
                // account, funding or another price can alter that, and each rekeys.
                (_, None) => {}
                (true, Some(price)) => keys.push(Key::Long { market, price }),
                (false, Some(price)) => keys.push(Key::Short { market, price }),
            }
        }
        if count > 1 {
            keys.extend(open.iter().map(|&market| Key::Multi { market }));
        }
        keys
    }

    /// `price` moved by the key margin (funding drift): up when `up`, else down.
    fn widen(&self, price: u128, up: bool) -> u128 {
        let delta = mul_div(price, self.margin_bps as u128, 10_000) + 1;
        if up {
            price.saturating_add(delta)
        } else {
            price.saturating_sub(delta)
        }
    }

    /// The accounts that may be liquidatable at `price` in `market`: longs whose liquidation
    /// price is at or above it, shorts at or below it (each widened by the margin), the
    /// market's watch set and its armed accounts.
    pub fn candidates(&mut self, market: u16, price: &MarketPrice) -> Vec<Pubkey> {
        self.crossed(market, None, price)
    }

    /// The accounts the move of `market`'s price from `old` to `new` may have made liquidatable:
    /// longs whose (stressed) liquidation price lies in `[new, old)` and shorts in `(old, new]`
    /// (widened by the margin on both sides), the market's watch set and its armed accounts;
    /// with no `old` price, everything [`candidates`](Self::candidates) returns. Multi-position
    /// accounts in the band are armed (their stressed key is only a bound). Accounts already
    /// liquidatable at `old` were found then: they are in flight, deferred, or retried by the
    /// snapshot.
    pub fn crossed(&mut self, market: u16, old: Option<&MarketPrice>, new: &MarketPrice) -> Vec<Pubkey> {
        let m = market as usize;
        self.grow(m + 1);
        let (low, top) = (Pubkey::default(), Pubkey::new_from_array([0xff; 32]));
        let mut band = Vec::new();
        let from = (self.widen(new.oracle_low, false), low);
        match old {
            None => band.extend(self.longs[m].range(from..).map(|(_, a)| *a)),
            Some(old) if new.oracle_low < old.oracle_low => {
                let to = (self.widen(old.oracle_low, true), top);
                band.extend(self.longs[m].range(from..to).map(|(_, a)| *a));
            }
            Some(_) => {}
        }
        let to = (self.widen(new.oracle_high, true), top);
        match old {
            None => band.extend(self.shorts[m].range(..=to).map(|(_, a)| *a)),
            Some(old) if new.oracle_high > old.oracle_high => {
                let from = (self.widen(old.oracle_high, false), low);
                band.extend(self.shorts[m].range(from..=to).map(|(_, a)| *a));
            }
            Some(_) => {}
        }
        for address in &band {
            if self.multi[m].contains(address) && self.armed[m].insert(*address) {
                if let Some((_, keys)) = self.accounts.get_mut(address) {
                    keys.push(Key::Armed { market });
                }
            }
        }
        band.extend(self.watch[m].iter().copied());
        band.extend(self.armed[m].iter().copied());
        band
    }
}

/// `⌊a·b/c⌋`, multiplying first unless that overflows.
fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    match a.checked_mul(b) {
        Some(product) => product / c,
        None => a / c * b,
    }
}

/// `price` moved against a long (down) or a short (up) by `bps`, each bound rounded against
/// the holder.
fn stress(price: &MarketPrice, long: bool, bps: u32) -> MarketPrice {
    let scale = |p: u128| {
        if long {
            mul_div(p, 10_000 - bps.min(10_000) as u128, 10_000)
        } else {
            mul_div(p, 10_000 + bps as u128, 10_000).saturating_add(1)
        }
    };
    MarketPrice {
        oracle_low: scale(price.oracle_low),
        oracle_high: scale(price.oracle_high),
        conservative_long: scale(price.conservative_long),
        conservative_short: scale(price.conservative_short),
    }
}

/// Compute units a `liquidate` is predicted to use with `others` health pairs (positions in
/// other markets): the most of the SBF builds measured, plus 3,000 CU of headroom and 25 % on
/// top. The SBPF v3 build on agave 4.2 (docs/PERFORMANCE.md) costs 24,684 with one position and
/// 46,451 with eight; the SBPF v0 build on the agave 2.3 local validator costs 33,000 with one
/// (docs/KEEPER.md), so the slope is scaled by the same 1.34. A call that closes an insolvent
/// account's other positions too gets twice that.
pub fn predicted_liquidate_cu(others: usize, insolvent: bool) -> u32 {
    let measured = 33_100 + 4_170 * others as u32;
    let limit = (measured + 3_000) * 5 / 4;
    let limit = if insolvent { limit * 2 } else { limit };
    limit.min(1_400_000)
}

/// Compute units of `resolve_bankruptcy` with headroom (it moves tokens and writes four accounts).
pub const RESOLVE_BANKRUPTCY_CU: u32 = 60_000;

/// What the engine wants sent.
#[derive(Debug)]
pub struct Job {
    pub account: Pubkey,
    /// Identifies this transaction among the account's (see [`Engine::finished`]).
    pub generation: u64,
    pub kind: JobKind,
    pub transaction: Transaction,
    pub compute_unit_limit: u32,
    pub priority_fee: u64,
}

#[derive(Debug, Clone)]
pub enum JobKind {
    Liquidate { market: u16, plan: Box<LiquidationPlan> },
    ResolveBankruptcy,
}

/// An account with a transaction in flight.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    /// Which transaction: an outcome of an older one (timed out, resent) is ignored.
    generation: u64,
    /// The newest slot the engine knew when it signed.
    slot: u64,
    /// The transaction landed in this slot; the account's own notification of that slot or
    /// later (which shows its effect) has not arrived yet. Valuing the account before it would
    /// see the state from before the slice.
    landed: Option<u64>,
}

/// The engine's limits.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Most transactions in flight at once (each account has at most one).
    pub max_in_flight: usize,
    /// Slots after which an in-flight transaction with no answer is forgotten (the account may
    /// be sent again; the blockhash it was signed with has about expired).
    pub in_flight_timeout_slots: u64,
    /// After a failure the account waits this many slots (doubling per consecutive failure, at
    /// most 64 times) before it is sent again, unless the account itself changes.
    pub retry_slots: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { max_in_flight: 32, in_flight_timeout_slots: 200, retry_slots: 5 }
    }
}

/// An account whose last transaction failed.
#[derive(Clone, Copy, Debug)]
struct Cooldown {
    /// Not sent again before this slot...
    until: u64,
    /// ...unless a notification newer than this slot shows the account changed.
    seen: u64,
    failures: u32,
    /// The account was valued again when the wait ended.
    retried: bool,
}

/// What [`Engine::on_market`] / [`Engine::on_exchange`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RulesChange {
    /// A market's price account changed: subscribe to this one.
    pub new_oracle: Option<(u16, Pubkey)>,
    /// Pause flags, parameters or the market list changed: every account should be valued
    /// again (a fresh snapshot does it).
    pub revalue_all: bool,
}

/// The index plus the exchange's state, turning updates into jobs.
pub struct Engine {
    pub snapshot: Snapshot,
    pub index: LiquidationIndex,
    pub config: EngineConfig,
    pub liquidator: Liquidator,
    pub blockhash: Hash,
    /// Micro-lamports per compute unit for the next transactions.
    pub priority_fee: u64,
    in_flight: HashMap<Pubkey, InFlight>,
    generation: u64,
    cooldown: HashMap<Pubkey, Cooldown>,
    /// Last slot each margin account was seen at: older data (a late snapshot) is ignored.
    seen_slot: HashMap<Pubkey, u64>,
    /// Last slot each market (by index) and the exchange were seen at.
    market_slot: HashMap<u16, u64>,
    exchange_slot: u64,
    /// Accounts found liquidatable that did not fit in the in-flight bound; retried first when a
    /// transaction finishes.
    deferred: BTreeSet<Pubkey>,
}

impl Engine {
    pub fn new(snapshot: Snapshot, liquidator: Liquidator, margin_bps: u32, config: EngineConfig) -> Self {
        Engine {
            snapshot,
            index: LiquidationIndex::new(margin_bps),
            config,
            liquidator,
            blockhash: Hash::default(),
            priority_fee: 0,
            in_flight: HashMap::new(),
            generation: 0,
            cooldown: HashMap::new(),
            seen_slot: HashMap::new(),
            market_slot: HashMap::new(),
            exchange_slot: 0,
            deferred: BTreeSet::new(),
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub fn is_in_flight(&self, account: &Pubkey) -> bool {
        self.in_flight.contains_key(account)
    }

    /// A margin account of this keeper's exchange (anyone may create another exchange under the
    /// same program; its accounts are not ours to value).
    fn ours(&self, account: &MarginAccount) -> bool {
        account.exchange == self.liquidator.addresses.exchange
    }

    /// Replaces the exchange's state with a fresh snapshot taken at `slot` and every margin
    /// account with those it read: accounts gone from it are dropped, the rest rekeyed at the
    /// new prices; every account is valued. Returns the jobs it finds.
    pub fn load_snapshot(
        &mut self,
        snapshot: Snapshot,
        accounts: &[(Pubkey, Vec<u8>)],
        slot: u64,
    ) -> Vec<Job> {
        let now = self.snapshot.unix_timestamp.max(snapshot.unix_timestamp);
        let newest = self.snapshot.slot.max(snapshot.slot);
        self.snapshot = snapshot;
        self.snapshot.unix_timestamp = now;
        self.snapshot.slot = newest;
        self.market_slot.clear();
        self.exchange_slot = slot;
        self.index.rekey_all(&self.snapshot);
        self.load_accounts(accounts, slot)
    }

    /// Replaces every margin account (a `getProgramAccounts` snapshot at `slot`): accounts gone
    /// from it are dropped, the rest rekeyed at the current prices. Returns the jobs it finds.
    pub fn load_accounts(&mut self, accounts: &[(Pubkey, Vec<u8>)], slot: u64) -> Vec<Job> {
        // A landed transaction whose effect the snapshot shows: the account may be sent again.
        self.in_flight.retain(|_, f| f.landed.is_none_or(|landed| landed > slot));
        let mut present = HashSet::with_capacity(accounts.len());
        for (address, data) in accounts {
            present.insert(*address);
            if self.seen_slot.get(address).is_some_and(|&s| s > slot) {
                continue; // a newer notification already gave this account
            }
            if let Some(account) = decode::<MarginAccount>(data).filter(|a| self.ours(a)) {
                self.seen_slot.insert(*address, slot);
                self.index.upsert(*address, account, &self.snapshot);
            }
        }
        let gone: Vec<Pubkey> = self.index.addresses().filter(|a| !present.contains(a)).copied().collect();
        for address in gone {
            if self.seen_slot.get(&address).is_none_or(|&s| s <= slot) {
                self.index.remove(&address);
                self.seen_slot.remove(&address);
            }
        }
        let all: Vec<Pubkey> = self.index.addresses().copied().collect();
        self.evaluate(all)
    }

    /// The clock moved (slot, unix time): in-flight transactions past their blockhash's life are
    /// forgotten, and prices past their market's staleness window are dropped (the program would
    /// refuse them; the market's next price update then reads every candidate).
    /// Returns jobs for the accounts whose wait ended: cooled down after a failure, timed out in
    /// flight, or deferred behind the in-flight bound (nothing else would value them again before
    /// the next snapshot: their keys are behind the price).
    pub fn on_clock(&mut self, slot: u64, unix_timestamp: i64) -> Vec<Job> {
        self.snapshot.slot = self.snapshot.slot.max(slot);
        self.snapshot.unix_timestamp = self.snapshot.unix_timestamp.max(unix_timestamp);
        let now = self.snapshot.unix_timestamp;
        for market in &mut self.snapshot.markets {
            let window = market.state.params.max_staleness_secs as i64;
            if market.oracle.is_some_and(|r| now.saturating_sub(r.publish_time) > window) {
                market.oracle = None;
            }
        }
        let timeout = self.config.in_flight_timeout_slots;
        let slot = self.snapshot.slot;
        let mut due: Vec<Pubkey> = Vec::new();
        self.in_flight.retain(|address, f| {
            let keep = slot.saturating_sub(f.slot) <= timeout;
            if !keep {
                due.push(*address);
            }
            keep
        });
        for (address, cooldown) in self.cooldown.iter_mut() {
            if !cooldown.retried && cooldown.until <= slot {
                cooldown.retried = true;
                due.push(*address);
            }
        }
        // The failure count is kept a while after the wait, so that repeated failures back off.
        self.cooldown.retain(|_, c| c.until + 10_000 > slot);
        if due.is_empty() && (self.deferred.is_empty() || self.in_flight.len() >= self.config.max_in_flight) {
            return Vec::new();
        }
        due.extend(self.take_deferred());
        self.evaluate(due)
    }

    /// The deferred accounts when an in-flight place is free (all of them are valued: their
    /// order is by shortfall, known only then; evaluate defers again whatever does not fit).
    fn take_deferred(&mut self) -> Vec<Pubkey> {
        if self.in_flight.len() >= self.config.max_in_flight {
            return Vec::new();
        }
        std::mem::take(&mut self.deferred).into_iter().collect()
    }

    /// Rekeys and values every account (pause flags, parameters or the market list changed).
    pub fn revalue_all(&mut self) -> Vec<Job> {
        self.index.rekey_all(&self.snapshot);
        let all: Vec<Pubkey> = self.index.addresses().copied().collect();
        self.evaluate(all)
    }

    /// A price account changed at `slot`: re-reads every market priced by it and returns jobs
    /// for the accounts the move made liquidatable in those markets.
    pub fn on_price(&mut self, oracle: &Pubkey, owner: &Pubkey, data: &[u8], slot: u64) -> Vec<Job> {
        // The update is visible at `slot`: the program reading it then sees a posted slot ≤ its own.
        self.snapshot.slot = self.snapshot.slot.max(slot);
        let clock = OracleClock { unix_timestamp: self.snapshot.unix_timestamp, slot: self.snapshot.slot };
        let mut touched = Vec::new();
        for market in self.snapshot.markets.iter_mut().filter(|m| m.oracle_key == *oracle) {
            let account = OracleAccount { key: oracle, owner, data };
            let old = market.oracle.map(|r| r.price);
            market.oracle =
                read_oracle_account(&account, &market.state, &self.snapshot.exchange, &clock).ok();
            touched.push((market.index, old));
        }
        let mut candidates = Vec::new();
        for (market, old) in touched {
            if let Some(reading) = self.snapshot.markets[market as usize].oracle {
                candidates.extend(self.index.move_anchor(market, &reading.price, &self.snapshot));
                candidates.extend(self.index.crossed(market, old.as_ref(), &reading.price));
            }
        }
        self.evaluate(candidates)
    }

    /// A margin account changed at `slot` (or was created, or closed when `data` is empty).
    pub fn on_margin_account(&mut self, address: Pubkey, data: &[u8], slot: u64) -> Vec<Job> {
        // The effect of a landed transaction: the account may be sent again (checked before the
        // age test: a snapshot may already have recorded a later slot for the account).
        let mut freed = false;
        if self.in_flight.get(&address).is_some_and(|f| f.landed.is_some_and(|landed| slot >= landed)) {
            self.in_flight.remove(&address);
            freed = true;
        }
        if self.seen_slot.get(&address).is_some_and(|&s| s > slot) {
            return if freed { self.evaluate(vec![address]) } else { Vec::new() };
        }
        let account = decode::<MarginAccount>(data);
        if account.is_some_and(|a| !self.ours(&a)) {
            return Vec::new();
        }
        self.seen_slot.insert(address, slot);
        self.snapshot.slot = self.snapshot.slot.max(slot);
        // A changed account ends its cooldown: the failure may not hold any more.
        if self.cooldown.get(&address).is_some_and(|c| slot > c.seen) {
            self.cooldown.remove(&address);
        }
        let Some(account) = account else {
            self.index.remove(&address);
            return Vec::new();
        };
        self.index.upsert(address, account, &self.snapshot);
        let mut candidates = vec![address];
        if freed {
            candidates.extend(self.take_deferred());
        }
        self.evaluate(candidates)
    }

    /// A market account changed at `slot`: its state (funding index, parameters, pause flags) is
    /// replaced. Says whether its price account moved and whether every account should be
    /// valued again.
    pub fn on_market(&mut self, key: &Pubkey, data: &[u8], slot: u64) -> RulesChange {
        let Some(state) = decode::<Market>(data) else { return RulesChange::default() };
        if state.exchange != self.liquidator.addresses.exchange {
            return RulesChange::default();
        }
        let Some(market) = self.snapshot.markets.iter_mut().find(|m| m.key == *key) else {
            // A market listed since the snapshot.
            return RulesChange { new_oracle: None, revalue_all: true };
        };
        if self.market_slot.get(&market.index).is_some_and(|&s| s > slot) {
            return RulesChange::default();
        }
        self.market_slot.insert(market.index, slot);
        let mut change = RulesChange {
            new_oracle: None,
            revalue_all: market.state.paused != state.paused
                || bytemuck::bytes_of(&market.state.params) != bytemuck::bytes_of(&state.params),
        };
        if market.state.oracle != state.oracle && !market.is_pull() {
            market.oracle_key = state.oracle;
            market.oracle = None;
            change.new_oracle = Some((market.index, state.oracle));
        }
        market.state = state;
        change
    }

    /// The exchange account changed at `slot`.
    pub fn on_exchange(&mut self, key: &Pubkey, data: &[u8], slot: u64) -> RulesChange {
        if *key != self.liquidator.addresses.exchange || slot < self.exchange_slot {
            return RulesChange::default();
        }
        let Some(exchange) = decode::<Exchange>(data) else { return RulesChange::default() };
        self.exchange_slot = slot;
        let old = self.snapshot.exchange;
        self.snapshot.exchange = exchange;
        RulesChange {
            new_oracle: None,
            revalue_all: old.paused != exchange.paused
                || old.market_count != exchange.market_count
                || old.liquidation_episode_slots != exchange.liquidation_episode_slots,
        }
    }

    /// Transaction `generation` for `account` finished: landed in `landed_slot`, or failed.
    /// Failed: the account cools down (it is sent again after a few slots, at once if the
    /// account changes). Landed: it may be sent again once its own notification of that slot or
    /// later is in (it may have come first), so that the engine never values the state from
    /// before its own slice. An outcome of an older transaction of the account is ignored.
    /// Deferred accounts get their turn. Returns jobs for those still liquidatable.
    pub fn finished(&mut self, account: &Pubkey, generation: u64, landed_slot: Option<u64>) -> Vec<Job> {
        let Some(flight) = self.in_flight.get_mut(account).filter(|f| f.generation == generation) else {
            return Vec::new();
        };
        let seen = self.seen_slot.get(account).copied().unwrap_or(0);
        match landed_slot {
            Some(landed) if seen < landed => {
                flight.landed = Some(landed);
                self.cooldown.remove(account);
            }
            Some(_) => {
                self.in_flight.remove(account);
                self.cooldown.remove(account);
            }
            None => {
                self.in_flight.remove(account);
                let failures = self.cooldown.get(account).map_or(0, |c| c.failures) + 1;
                let wait = self.config.retry_slots << (failures - 1).min(6);
                self.cooldown.insert(
                    *account,
                    Cooldown { until: self.snapshot.slot + wait, seen, failures, retried: false },
                );
            }
        }
        let mut waiting = self.take_deferred();
        waiting.push(*account);
        self.evaluate(waiting)
    }

    /// Values `candidates` exactly and returns a signed job for every liquidatable one not
    /// already in flight or cooling down, most under water first, within the in-flight bound
    /// (the rest are deferred); bankrupt accounts get `resolve_bankruptcy`.
    pub fn evaluate(&mut self, mut candidates: Vec<Pubkey>) -> Vec<Job> {
        candidates.sort_unstable();
        candidates.dedup();
        let mut found: Vec<(u128, Assessment, u16, LiquidationPlan)> = Vec::new();
        let mut bankrupt = Vec::new();
        for address in candidates {
            let cooling = self.cooldown.get(&address).is_some_and(|c| c.until > self.snapshot.slot);
            if self.in_flight.contains_key(&address) || cooling {
                continue;
            }
            let Some(account) = self.index.get(&address) else { continue };
            if account.open_position_count() == 0 {
                if microliq::instructions::keeper::bankruptcy::is_bankrupt(account) {
                    bankrupt.push(address);
                }
                continue;
            }
            let Some(assessment) = Assessment::new(address, *account, &self.snapshot) else { continue };
            // The program slices below maintenance, or in a live episode below its target: an
            // account that is neither needs no plan (the cheap test first).
            let live =
                account.episode_live(self.snapshot.slot, self.snapshot.exchange.liquidation_episode_slots);
            if !live && !assessment.health.is_liquidatable() {
                continue;
            }
            let Some((market, plan)) = assessment.best_plan(&self.snapshot, u64::MAX) else { continue };
            found.push((assessment.shortfall(), assessment, market, plan));
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.address.cmp(&b.1.address)));
        let mut jobs = Vec::with_capacity(found.len() + bankrupt.len());
        for (_, assessment, market, plan) in found {
            if self.in_flight.len() >= self.config.max_in_flight {
                self.deferred.insert(assessment.address);
                continue;
            }
            self.deferred.remove(&assessment.address);
            jobs.push(self.liquidate_job(&assessment, market, plan));
        }
        for address in bankrupt {
            if self.in_flight.len() >= self.config.max_in_flight {
                self.deferred.insert(address);
                continue;
            }
            self.deferred.remove(&address);
            jobs.push(self.resolve_job(address));
        }
        jobs
    }

    fn track(&mut self, address: Pubkey) -> u64 {
        self.generation += 1;
        self.in_flight.insert(
            address,
            InFlight { generation: self.generation, slot: self.snapshot.slot, landed: None },
        );
        self.generation
    }

    fn liquidate_job(&mut self, assessment: &Assessment, market_index: u16, plan: LiquidationPlan) -> Job {
        let market = &self.snapshot.markets[market_index as usize];
        let health_accounts = self.snapshot.health_pairs(&assessment.account, market_index);
        let insolvent = plan.health_before.equity <= 0;
        let limit = predicted_liquidate_cu(health_accounts.len(), insolvent);
        let instruction = ix::Liquidate {
            keeper: self.liquidator.keeper.pubkey(),
            margin_account: assessment.address,
            market: market.key,
            oracle: market.oracle_key,
            keeper_token: self.liquidator.keeper_token,
            market_index,
            max_base: u64::MAX,
            health_accounts,
        }
        .instruction(&self.liquidator.addresses);
        let transaction = self.sign(&[instruction], limit);
        let generation = self.track(assessment.address);
        Job {
            account: assessment.address,
            generation,
            kind: JobKind::Liquidate { market: market_index, plan: Box::new(plan) },
            transaction,
            compute_unit_limit: limit,
            priority_fee: self.priority_fee,
        }
    }

    fn resolve_job(&mut self, address: Pubkey) -> Job {
        let instruction =
            ix::ResolveBankruptcy { caller: self.liquidator.keeper.pubkey(), margin_account: address }
                .instruction(&self.liquidator.addresses);
        let transaction = self.sign(&[instruction], RESOLVE_BANKRUPTCY_CU);
        let generation = self.track(address);
        Job {
            account: address,
            generation,
            kind: JobKind::ResolveBankruptcy,
            transaction,
            compute_unit_limit: RESOLVE_BANKRUPTCY_CU,
            priority_fee: self.priority_fee,
        }
    }

    fn sign(&self, instructions: &[solana_sdk::instruction::Instruction], limit: u32) -> Transaction {
        let keeper: &Keypair = &self.liquidator.keeper;
        let all = with_budget(instructions, limit, self.priority_fee);
        Transaction::new_signed_with_payer(&all, Some(&keeper.pubkey()), &[keeper], self.blockhash)
    }
}

/// The priority fee to pay from recent fees (micro-lamports per CU): the `percentile` of the
/// recent slots' fees (zeros included: an idle cluster pays nothing), clamped to `[floor, cap]`.
pub fn priority_fee_from_recent(recent: &[u64], percentile: u32, floor: u64, cap: u64) -> u64 {
    if recent.is_empty() {
        return floor.min(cap);
    }
    let mut fees = recent.to_vec();
    fees.sort_unstable();
    let rank = (fees.len() - 1) * percentile.min(100) as usize / 100;
    fees[rank].clamp(floor.min(cap), cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bench::{reaction_accounts, synthetic_snapshot};
    use rand::{Rng, SeedableRng};

    fn liquidatable(account: &MarginAccount, address: Pubkey, snapshot: &Snapshot) -> bool {
        account.open_position_count() > 0
            && Assessment::new(address, *account, snapshot)
                .is_some_and(|a| a.best_plan(snapshot, u64::MAX).is_some())
    }

    fn set_price(snapshot: &mut Snapshot, market: usize, fixed: u128) {
        snapshot.markets[market].oracle.as_mut().unwrap().price = MarketPrice::exact(fixed);
    }

    /// The index never misses: after every move of a random walk (falls and rises, both
    /// markets), every account the program would liquidate at the new price and not at the old
    /// one is among the candidates of the crossed band, and a first reading finds every
    /// liquidatable account.
    #[test]
    fn the_crossed_band_holds_every_account_a_move_made_liquidatable() {
        walk(100, 5);
    }

    /// With no margin the keys themselves must be exact (single positions) or bounds (several).
    #[test]
    fn the_keys_are_exact_without_a_margin() {
        walk(0, 6);
    }

    fn walk(margin_bps: u32, seed: u64) {
        let accounts = reaction_accounts(3_000, 9, Pubkey::new_unique());
        let mut snapshot = synthetic_snapshot();
        let mut index = LiquidationIndex::new(margin_bps);
        for (address, account) in &accounts {
            index.upsert(*address, *account, &snapshot);
        }
        index.rekey_all(&snapshot);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut checked = 0;
        for market in [0usize, 1] {
            let first = snapshot.markets[market].oracle.unwrap().price;
            let all: HashSet<Pubkey> = index.candidates(market as u16, &first).into_iter().collect();
            for (address, account) in &accounts {
                if liquidatable(account, *address, &snapshot)
                    && account.position_index(market as u16).is_some()
                {
                    assert!(all.contains(address), "first reading missed {address}");
                }
            }
        }
        // Both markets fall about 40 % and climb back far above the start: every liquidation price
        // of the book is crossed, in both directions, by moves of 0.1–1.5 %.
        let mut keyed = 0;
        for step in 0..400 {
            let market = rng.gen_range(0..2usize);
            let old_snapshot = snapshot.clone();
            let old = snapshot.markets[market].oracle.unwrap().price;
            let factor = if step < 150 {
                1.0 - rng.gen_range(0.001..0.015)
            } else {
                1.0 + rng.gen_range(0.001..0.015)
            };
            let new = ((old.oracle_low as f64) * factor) as u128;
            set_price(&mut snapshot, market, new);
            // As the engine does: multi-position accounts rekeyed when the price moved far,
            // then the crossed band.
            let price = snapshot.markets[market].oracle.unwrap().price;
            let mut crossed: HashSet<Pubkey> =
                index.move_anchor(market as u16, &price, &snapshot).into_iter().collect();
            crossed.extend(index.crossed(market as u16, Some(&old), &price));
            for (address, account) in &accounts {
                if liquidatable(account, *address, &snapshot)
                    && !liquidatable(account, *address, &old_snapshot)
                {
                    assert!(
                        crossed.contains(address),
                        "missed {address} on a move of market {market} by {factor}"
                    );
                    checked += 1;
                    keyed += usize::from(account.open_position_count() == 1);
                }
            }
        }
        assert!(
            checked > 500 && keyed > 400,
            "the walk made {checked} accounts liquidatable ({keyed} keyed)"
        );
        // Accounts are keyed, not watched: the band is what keeps updates cheap.
        assert!(
            index.watched(0) + index.watched(1) < accounts.len() / 10,
            "{} watched",
            index.watched(0) + index.watched(1)
        );
    }

    fn engine(max_in_flight: usize) -> Engine {
        let snapshot = synthetic_snapshot();
        let liquidator = Liquidator {
            keeper: Keypair::new(),
            keeper_token: Pubkey::new_unique(),
            addresses: snapshot.addresses,
        };
        Engine::new(
            snapshot,
            liquidator,
            100,
            EngineConfig { max_in_flight, in_flight_timeout_slots: 150, retry_slots: 5 },
        )
    }

    fn bytes(account: &MarginAccount) -> Vec<u8> {
        let mut data = <MarginAccount as anchor_lang::Discriminator>::DISCRIMINATOR.to_vec();
        data.extend_from_slice(bytemuck::bytes_of(account));
        data
    }

    /// Accounts of the synthetic book the program would liquidate at the snapshot's prices.
    fn underwater(engine: &Engine, count: usize) -> Vec<(Pubkey, MarginAccount)> {
        let mut snapshot = engine.snapshot.clone();
        set_price(&mut snapshot, 0, 120_000_000_000);
        set_price(&mut snapshot, 1, 120_000_000_000);
        reaction_accounts(2_000, 3, engine.liquidator.addresses.exchange)
            .into_iter()
            .filter(|(a, account)| liquidatable(account, *a, &snapshot))
            .take(count)
            .collect()
    }

    #[test]
    fn one_transaction_per_account_in_flight_and_none_before_the_slice_is_seen() {
        let mut engine = engine(32);
        set_price(&mut engine.snapshot, 0, 120_000_000_000);
        set_price(&mut engine.snapshot, 1, 120_000_000_000);
        let (address, account) = underwater(&engine, 1)[0];
        let jobs = engine.on_margin_account(address, &bytes(&account), 10);
        assert_eq!(jobs.len(), 1);
        let tx = &jobs[0].transaction;
        assert!(tx.is_signed());
        assert_eq!(
            tx.message.account_keys[0],
            engine.liquidator.keeper.pubkey(),
            "the keeper signs and pays"
        );
        assert!(jobs[0].compute_unit_limit >= predicted_liquidate_cu(0, false));
        let first = jobs[0].generation;
        // The same account again (a price tick, a repeated notification): nothing while in flight.
        assert!(engine.on_margin_account(address, &bytes(&account), 10).is_empty());
        assert!(engine.evaluate(vec![address, address]).is_empty());
        // Landed in slot 12, but the notification showing the slice is not in: still nothing.
        assert!(engine.finished(&address, first, Some(12)).is_empty());
        assert!(engine.is_in_flight(&address));
        // A notification of slot 11 is not the slice's effect.
        assert!(engine.on_margin_account(address, &bytes(&account), 11).is_empty());
        // The slot-12 notification arrives (unchanged, as if the slice were too small): sent again.
        let again = engine.on_margin_account(address, &bytes(&account), 12);
        assert_eq!(again.len(), 1);
        assert!(again[0].generation > first);
        // The outcome of an older transaction does not free the new one.
        assert!(engine.finished(&address, first, None).is_empty());
        assert!(engine.is_in_flight(&address));
    }

    #[test]
    fn a_failed_account_cools_down_instead_of_being_resent_at_once() {
        let mut engine = engine(32);
        set_price(&mut engine.snapshot, 0, 120_000_000_000);
        set_price(&mut engine.snapshot, 1, 120_000_000_000);
        let (address, account) = underwater(&engine, 1)[0];
        let generation = engine.on_margin_account(address, &bytes(&account), 10)[0].generation;
        assert!(engine.finished(&address, generation, None).is_empty(), "no resend in the same slot");
        assert!(engine.on_clock(14, 0).is_empty(), "still cooling down");
        assert!(engine.evaluate(vec![address]).is_empty(), "still cooling down");
        // The clock itself sends it again when the wait ends (nothing else would: its key is
        // behind the price).
        let retry = engine.on_clock(15, 0);
        assert_eq!(retry.len(), 1, "sent again after retry_slots");
        // A second failure doubles the wait; a change of the account ends it at once.
        assert!(engine.finished(&address, retry[0].generation, None).is_empty());
        assert!(engine.on_clock(24, 0).is_empty());
        assert_eq!(engine.on_margin_account(address, &bytes(&account), 16).len(), 1);
    }

    #[test]
    fn another_exchanges_accounts_are_ignored() {
        let mut engine = engine(32);
        set_price(&mut engine.snapshot, 0, 120_000_000_000);
        set_price(&mut engine.snapshot, 1, 120_000_000_000);
        let (address, mut account) = underwater(&engine, 1)[0];
        account.exchange = Pubkey::new_unique();
        // Even with a position in a market index this exchange does not have.
        account.positions[1].market_index = 40;
        account.positions[1].base = 1_000_000;
        assert!(engine.on_margin_account(address, &bytes(&account), 10).is_empty());
        assert!(engine.load_accounts(&[(address, bytes(&account))], 11).is_empty());
        assert!(engine.index.is_empty());
        // Our own account in a market listed after the snapshot: indexed, watched, no panic.
        let (address, mut account) = underwater(&engine, 1)[0];
        account.positions[1].market_index = 40;
        account.positions[1].base = 1_000_000;
        let _ = engine.on_margin_account(address, &bytes(&account), 12);
        assert_eq!(engine.index.watched(40), 1);
    }

    #[test]
    fn the_in_flight_bound_defers_and_a_finished_transaction_lets_the_next_go() {
        let mut engine = engine(2);
        set_price(&mut engine.snapshot, 0, 120_000_000_000);
        set_price(&mut engine.snapshot, 1, 120_000_000_000);
        let accounts = underwater(&engine, 5);
        assert_eq!(accounts.len(), 5);
        let mut sent = Vec::new();
        for (slot, (address, account)) in accounts.iter().enumerate() {
            sent.extend(
                engine
                    .on_margin_account(*address, &bytes(account), 10 + slot as u64)
                    .into_iter()
                    .map(|j| j.account),
            );
        }
        assert_eq!(sent.len(), 2, "two in flight at most");
        assert_eq!(engine.in_flight(), 2);
        let generation = 1; // the first job's
        let next = engine.finished(&sent[0], generation, None);
        // The failed one and the deferred ones compete for the freed place: one more goes.
        assert_eq!(next.len(), 1);
        assert_eq!(engine.in_flight(), 2);
    }

    #[test]
    fn priority_fee_takes_the_percentile_and_clamps() {
        assert_eq!(priority_fee_from_recent(&[], 75, 100, 10_000), 100);
        assert_eq!(priority_fee_from_recent(&[0, 0, 0, 0], 75, 0, 10_000), 0);
        assert_eq!(priority_fee_from_recent(&[10, 20, 30, 40, 50], 75, 0, 10_000), 40);
        assert_eq!(priority_fee_from_recent(&[10, 20, 30, 40, 5_000_000], 100, 0, 10_000), 10_000);
        assert_eq!(priority_fee_from_recent(&[1, 2], 50, 500, 10_000), 500);
    }

    #[test]
    fn predicted_compute_units_cover_the_measured_cost() {
        // docs/PERFORMANCE.md: 24,684 CU with one position, 46,451 with eight (SBPF v3); the
        // local validator's SBPF v0 build: 33,000 with one (docs/KEEPER.md).
        assert!(predicted_liquidate_cu(0, false) >= 33_000 * 5 / 4);
        assert!(predicted_liquidate_cu(7, false) >= 46_451 * 4 / 3 * 5 / 4);
        assert!(predicted_liquidate_cu(7, true) <= 1_400_000);
    }
}
