//! The actions a step can take, and how one is drawn: a weighted random kind, a random actor,
//! sensible inputs most of the time and bad ones mixed in. Every choice comes from the run's one
//! seeded RNG and from the state before the step, so a seed replays the same run.

use microliq::math::{MarketPrice, PRICE_PRECISION};
use microliq::state::{pause, MarketParams};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::oracle::OracleMove;
use crate::snapshot::{Snapshot, Valuation};
use crate::world::{Role, World};

/// How the `(market, oracle)` remaining accounts of an instruction are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Correct,
    /// One needed pair left out.
    Missing,
    /// A market that is not needed added (the instruction's own market when nothing else is left).
    Extra,
    /// A needed pair repeated.
    Duplicated,
    /// The instruction's own market repeated in the remaining accounts.
    OwnMarket,
    /// Pairs in descending order.
    OutOfOrder,
    /// A market with the other market's oracle.
    WrongOracle,
    /// One key too many (an odd count).
    Odd,
}

/// What an action's liquidate targets instead of the right market account / oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Correct,
    /// `market_index` argument differs from the market account.
    WrongIndex,
    /// The other market's oracle.
    WrongOracle,
}

#[derive(Clone, Debug)]
pub enum Action {
    DepositCollateral {
        depositor: usize,
        account: usize,
        amount: u64,
    },
    WithdrawCollateral {
        signer: usize,
        account: usize,
        amount: u64,
        health: Health,
    },
    SetDelegate {
        signer: usize,
        account: usize,
        delegate: Option<usize>,
    },
    PlaceOrder {
        signer: usize,
        account: usize,
        market: u16,
        base_delta: i64,
        limit_price: u64,
        health: Health,
    },
    DepositLiquidity {
        signer: usize,
        lp: usize,
        amount: u64,
    },
    WithdrawLiquidity {
        signer: usize,
        lp: usize,
        shares: u64,
    },
    DepositInsurance {
        signer: usize,
        amount: u64,
    },
    WithdrawInsurance {
        signer: usize,
        destination: usize,
        amount: u64,
    },
    Liquidate {
        keeper: usize,
        account: usize,
        market: u16,
        target: Target,
        health: Health,
        max_base: u64,
        sensible: bool,
    },
    ResolveBankruptcy {
        caller: usize,
        account: usize,
    },
    UpdateMarket {
        signer: usize,
        market: u16,
        params: MarketParams,
        label: &'static str,
    },
    UpdateExchange {
        signer: usize,
        cap: u64,
        /// The insolvent-close reward (quote atoms) and the episode lapse (slots).
        reward: u64,
        episode_slots: u64,
    },
    SetExchangePause {
        signer: usize,
        paused: u16,
    },
    SetMarketPause {
        signer: usize,
        market: u16,
        paused: u16,
    },
    /// The permissionless funding crank.
    UpdateFunding {
        market: u16,
    },
    SetMarketFunding {
        signer: usize,
        market: u16,
        rate_scale: u32,
        max_rate: u32,
    },
    /// The repeat-breach window (slots; 0 = off).
    SetRepeatWindow {
        signer: usize,
        window_slots: u64,
    },
    Oracle {
        market: u16,
        movement: OracleMove,
    },
    Time {
        slots: u64,
        seconds: i64,
        refresh: bool,
    },
    Faucet {
        party: usize,
        amount: u64,
    },
    /// The sensible keeper found nothing to do.
    KeeperIdle,
}

impl Action {
    /// The kind under which outcomes are counted.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::DepositCollateral { .. } => "deposit_collateral",
            Action::WithdrawCollateral { .. } => "withdraw_collateral",
            Action::SetDelegate { .. } => "set_delegate",
            Action::PlaceOrder { .. } => "place_order",
            Action::DepositLiquidity { .. } => "deposit_liquidity",
            Action::WithdrawLiquidity { .. } => "withdraw_liquidity",
            Action::DepositInsurance { .. } => "deposit_insurance",
            Action::WithdrawInsurance { .. } => "withdraw_insurance",
            Action::Liquidate { sensible: true, .. } => "liquidate(keeper pass)",
            Action::Liquidate { .. } => "liquidate(random)",
            Action::ResolveBankruptcy { .. } => "resolve_bankruptcy",
            Action::UpdateMarket { .. } => "update_market",
            Action::UpdateExchange { .. } => "update_exchange",
            Action::SetExchangePause { .. } => "set_exchange_pause",
            Action::SetMarketPause { .. } => "set_market_pause",
            Action::UpdateFunding { .. } => "update_funding",
            Action::SetMarketFunding { .. } => "set_market_funding",
            Action::SetRepeatWindow { .. } => "set_repeat_liquidation_window",
            Action::Oracle { .. } => "oracle",
            Action::Time { .. } => "time",
            Action::Faucet { .. } => "faucet",
            Action::KeeperIdle => "keeper_idle",
        }
    }

    /// Whether the step sends a transaction.
    pub fn sends(&self) -> bool {
        !matches!(self, Action::Oracle { .. } | Action::Time { .. } | Action::KeeperIdle)
    }
}

/// What the generator sees: the world (parties, oracles, clock) and the state before the step.
pub struct View<'a> {
    pub world: &'a World,
    pub snapshot: &'a Snapshot,
    pub valuation: &'a Valuation,
}

impl View<'_> {
    fn trader_count(&self) -> usize {
        self.world.accounts.len()
    }

    fn party_count(&self) -> usize {
        self.world.parties.len()
    }

    /// A party other than `not`.
    fn stranger(&self, rng: &mut ChaCha8Rng, not: usize) -> usize {
        loop {
            let p = rng.gen_range(0..self.party_count());
            if p != not {
                return p;
            }
        }
    }

    fn delegate_party(&self, account: usize) -> Option<usize> {
        let delegate = self.snapshot.accounts[account].delegate;
        if delegate == Default::default() {
            None
        } else {
            self.world.party_of(&delegate)
        }
    }

    fn price(&self, market: u16) -> Option<MarketPrice> {
        self.valuation.prices.get(market as usize).copied().flatten()
    }

    fn equity(&self, account: usize) -> i128 {
        self.valuation.accounts[account].map(|v| v.health.equity).unwrap_or(0)
    }

    /// Whether the sensible keeper would consider account `i` liquidatable through `market` (the
    /// program's math on the pre-state; the account's oracles must all be valid).
    pub fn liquidatable(&self, i: usize, market: u16) -> bool {
        let Some(value) = self.valuation.accounts[i] else { return false };
        let account = &self.snapshot.accounts[i];
        if account.position_index(market).is_none() {
            return false;
        }
        let now = self.world.clock.unix_timestamp;
        let oracles_ok = account.positions.iter().filter(|p| p.is_open()).all(|p| {
            self.world.oracles[p.market_index as usize]
                .valid(&self.snapshot.markets[p.market_index as usize].params, now)
        });
        if !oracles_ok {
            return false;
        }
        let beta = self.snapshot.markets[market as usize].params.liquidation_buffer;
        let margin = microliq::math::target_margin_scaled(&value.health, beta).unwrap_or(0);
        value.health.is_liquidatable() || (account.being_liquidated == 1 && margin < 0)
    }
}

/// Rounds `base` down to a multiple of `lot`.
fn to_lot(base: u64, lot: u64) -> u64 {
    base / lot * lot
}

/// Draws one action.
pub fn generate(rng: &mut ChaCha8Rng, view: &View) -> Action {
    let snapshot = view.snapshot;
    let any_paused = snapshot.exchange.paused != 0 || snapshot.markets.iter().any(|m| m.paused != 0);
    let liquidatable =
        (0..view.trader_count()).any(|i| (0..snapshot.markets.len() as u16).any(|m| view.liquidatable(i, m)));
    let bankrupt = snapshot.accounts.iter().any(|a| a.collateral < 0 && a.open_position_count() == 0);
    let broke = poorest(view).is_some();
    // Visible stress: an account with negative equity or a pending deficit (LPs run for the door),
    // and accounts below maintenance or flagged (their owners answer the margin call).
    let stressed = (0..view.trader_count()).any(|i| {
        snapshot.accounts[i].collateral < 0 || view.valuation.accounts[i].is_some_and(|v| v.health.equity < 0)
    });
    let margin_call = (0..view.trader_count()).filter(|&i| in_margin_call(view, i)).count() > 0;
    // (kind, weight)
    let weights: [(u8, u32); 22] = [
        (0, 150),                                              // oracle move
        (1, 60),                                               // time passes
        (2, 220),                                              // place order
        (3, 60),                                               // deposit collateral
        (4, 60),                                               // withdraw collateral
        (5, 12),                                               // set delegate
        (6, 30),                                               // deposit liquidity
        (7, 60),                                               // withdraw liquidity
        (8, 10),                                               // deposit insurance
        (9, 10),                                               // withdraw insurance
        (10, 45),                                              // random liquidate
        (11, if liquidatable || bankrupt { 120 } else { 40 }), // keeper pass
        (12, 15),                                              // resolve bankruptcy (any account)
        (13, 14),                                              // update market
        (14, if any_paused { 40 } else { 8 }),                 // pauses (set or lift)
        (15, 4),                                               // update exchange
        (16, if broke { 25 } else { 2 }),                      // faucet
        (17, if stressed { 50 } else { 0 }),                   // LP run: withdraw everything
        (18, if margin_call { 40 } else { 0 }),                // margin call answered with a deposit
        (19, 8),                                               // funding crank
        (20, 4),                                               // funding parameters
        (21, 4),                                               // repeat-breach window
    ];
    let total: u32 = weights.iter().map(|w| w.1).sum();
    let mut roll = rng.gen_range(0..total);
    let mut kind = 0;
    for (k, w) in weights {
        if roll < w {
            kind = k;
            break;
        }
        roll -= w;
    }
    match kind {
        0 => {
            let market = rng.gen_range(0..snapshot.markets.len()) as u16;
            Action::Oracle { market, movement: view.world.oracles[market as usize].random_move(rng) }
        }
        1 => {
            let (slots, seconds) = if rng.gen_bool(0.85) {
                let slots = rng.gen_range(1..150u64);
                (slots, (slots as f64 * 0.4).ceil() as i64)
            } else {
                (rng.gen_range(150..3_000), rng.gen_range(60..1_200))
            };
            Action::Time { slots, seconds, refresh: rng.gen_bool(0.85) }
        }
        2 => place_order(rng, view),
        3 => deposit_collateral(rng, view),
        4 => withdraw_collateral(rng, view),
        5 => {
            let account = rng.gen_range(0..view.trader_count());
            let signer = if rng.gen_bool(0.85) {
                view.world.trader_party(account)
            } else {
                view.stranger(rng, account)
            };
            let delegate = if rng.gen_bool(0.3) { None } else { Some(view.stranger(rng, account)) };
            Action::SetDelegate { signer, account, delegate }
        }
        6 => {
            let lp = rng.gen_range(0..view.world.lps.len());
            let party = view.world.lps[lp].0;
            let wallet = snapshot.wallets[party];
            let amount = match rng.gen_range(0..10) {
                0 => 0,
                1 => wallet.saturating_add(rng.gen_range(1..1_000_000)),
                2 => u64::MAX,
                3 => 1,
                _ => rng.gen_range(0..=wallet.min(60_000 * microliq_client::USDC)),
            };
            Action::DepositLiquidity { signer: party, lp, amount }
        }
        7 if {
            let lp = rng.gen_range(0..view.world.lps.len());
            snapshot.shares[lp] == 0 && rng.gen_bool(0.8)
        } =>
        {
            // Nothing to withdraw: the LP comes back with a deposit.
            let lp = (0..view.world.lps.len()).find(|&l| snapshot.shares[l] == 0).unwrap_or(0);
            let party = view.world.lps[lp].0;
            let wallet = snapshot.wallets[party];
            Action::DepositLiquidity {
                signer: party,
                lp,
                amount: rng.gen_range(0..=wallet.min(80_000 * microliq_client::USDC)),
            }
        }
        7 => {
            let lp = rng.gen_range(0..view.world.lps.len());
            let party = view.world.lps[lp].0;
            let held = snapshot.shares[lp];
            let shares = match rng.gen_range(0..12) {
                0 => 0,
                1 => held.saturating_add(rng.gen_range(1..1_000)),
                2..=3 => held,
                4 => 1,
                _ => rng.gen_range(1..=held.max(1)),
            };
            let signer = if rng.gen_bool(0.92) { party } else { view.stranger(rng, party) };
            Action::WithdrawLiquidity { signer, lp, shares }
        }
        8 => {
            let signer =
                if rng.gen_bool(0.7) { view.world.insurer } else { rng.gen_range(0..view.party_count()) };
            let wallet = snapshot.wallets[signer];
            let amount = match rng.gen_range(0..8) {
                0 => 0,
                1 => wallet.saturating_add(1),
                _ => rng.gen_range(0..=wallet.min(3_000 * microliq_client::USDC)),
            };
            Action::DepositInsurance { signer, amount }
        }
        9 => {
            let admin = view.world.admin;
            let signer = if rng.gen_bool(0.85) { admin } else { view.stranger(rng, admin) };
            let destination = if rng.gen_bool(0.8) { admin } else { rng.gen_range(0..view.party_count()) };
            let balance = snapshot.fund.balance;
            let spare = balance.saturating_sub(snapshot.exchange.negative_collateral);
            let amount = match rng.gen_range(0..8) {
                0 => 0,
                1 => balance.saturating_add(1),
                2 => spare.saturating_add(1),
                3 => spare,
                _ => rng.gen_range(0..=spare / 4 + 1),
            };
            Action::WithdrawInsurance { signer, destination, amount }
        }
        10 => random_liquidation(rng, view),
        11 => keeper_pass(rng, view),
        12 => {
            let account = rng.gen_range(0..view.trader_count());
            Action::ResolveBankruptcy { caller: rng.gen_range(0..view.party_count()), account }
        }
        13 => update_market(rng, view),
        14 => pause_action(rng, view, any_paused),
        15 => {
            let admin = view.world.admin;
            let signer = if rng.gen_bool(0.85) { admin } else { view.stranger(rng, admin) };
            let cap = match rng.gen_range(0..5) {
                0 => 0,
                1 => u64::MAX,
                _ => rng.gen_range(100..5_000) * microliq_client::USDC,
            };
            // Mostly within bounds; sometimes above the 100-unit reward or outside 1..=216,000 slots.
            let reward = match rng.gen_range(0..6) {
                0 => 0,
                1 => 101 * microliq_client::USDC,
                _ => rng.gen_range(0..=3 * microliq_client::USDC),
            };
            let episode_slots = match rng.gen_range(0..6) {
                0 => 0,
                1 => 216_001,
                2 => 1,
                _ => rng.gen_range(10..=600),
            };
            Action::UpdateExchange { signer, cap, reward, episode_slots }
        }
        19 => Action::UpdateFunding { market: rng.gen_range(0..snapshot.markets.len()) as u16 },
        20 => {
            let admin = view.world.admin;
            let signer = if rng.gen_bool(0.9) { admin } else { view.stranger(rng, admin) };
            let market = rng.gen_range(0..snapshot.markets.len()) as u16;
            let (rate_scale, max_rate) = match rng.gen_range(0..8) {
                0 => (0, 0),                               // off
                1 => (rng.gen_range(0..=200), 0),          // one without the other
                2 => (100_001, rng.gen_range(1..=10_000)), // scale out of bounds
                3 => (rng.gen_range(1..=100_000), 10_001), // clamp out of bounds
                4 => (100_000, 10_000),                    // the largest
                _ => (rng.gen_range(1..=5_000), rng.gen_range(1..=1_000)),
            };
            Action::SetMarketFunding { signer, market, rate_scale, max_rate }
        }
        21 => {
            let admin = view.world.admin;
            let signer = if rng.gen_bool(0.9) { admin } else { view.stranger(rng, admin) };
            let max = microliq::state::exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX;
            let window_slots = match rng.gen_range(0..6) {
                0 => 0,       // off
                1 => max + 1, // out of bounds
                2 => max,
                3 => microliq::state::exchange_bounds::DEFAULT_REPEAT_LIQUIDATION_WINDOW_SLOTS,
                _ => rng.gen_range(1..=600), // short enough for the fuzzer's clock to leave it
            };
            Action::SetRepeatWindow { signer, window_slots }
        }
        17 => {
            let lp = rng.gen_range(0..view.world.lps.len());
            let party = view.world.lps[lp].0;
            Action::WithdrawLiquidity { signer: party, lp, shares: snapshot.shares[lp] }
        }
        18 => {
            let calls: Vec<usize> = (0..view.trader_count()).filter(|&i| in_margin_call(view, i)).collect();
            let account = *calls.choose(rng).unwrap();
            let depositor = if rng.gen_bool(0.8) {
                view.world.trader_party(account)
            } else {
                view.stranger(rng, account)
            };
            let wallet = snapshot.wallets[depositor];
            let amount = (wallet as f64 * rng.gen_range(0.2..1.0)) as u64;
            Action::DepositCollateral { depositor, account, amount }
        }
        _ => {
            // Faucet: refill a party whose wallet ran low, else a random trader or LP.
            let party = poorest(view).unwrap_or_else(|| rng.gen_range(0..view.world.insurer));
            Action::Faucet { party, amount: rng.gen_range(5_000..30_000) * microliq_client::USDC }
        }
    }
}

/// Whether account `i` is below maintenance or flagged as being liquidated.
fn in_margin_call(view: &View, i: usize) -> bool {
    view.snapshot.accounts[i].being_liquidated == 1
        || view.valuation.accounts[i].is_some_and(|v| v.open_positions > 0 && v.health.is_liquidatable())
}

/// A party whose wallet is below what its role needs to keep acting.
fn poorest(view: &View) -> Option<usize> {
    const USDC: u64 = microliq_client::USDC;
    (0..view.party_count()).find(|&p| {
        let wallet = view.snapshot.wallets[p];
        match view.world.parties[p].role {
            // A trader is broke when wallet and collateral together are low (the faucet does not
            // pile money into accounts that are never at risk).
            Role::Trader(i) => {
                wallet.saturating_add(view.snapshot.accounts[i].collateral.max(0) as u64) < 5_000 * USDC
            }
            Role::Lp(_) => wallet < 10_000 * USDC,
            Role::Insurer => wallet < 2_000 * USDC,
            Role::Keeper(_) | Role::Admin => false,
        }
    })
}

fn deposit_collateral(rng: &mut ChaCha8Rng, view: &View) -> Action {
    let account = rng.gen_range(0..view.trader_count());
    let depositor =
        if rng.gen_bool(0.85) { view.world.trader_party(account) } else { view.stranger(rng, account) };
    let wallet = view.snapshot.wallets[depositor];
    let amount = match rng.gen_range(0..12) {
        0 => 0,
        1 => wallet.saturating_add(rng.gen_range(1..1_000_000)),
        2 => u64::MAX,
        3 => wallet,
        _ => rng.gen_range(0..=(wallet / 2).min(10_000 * microliq_client::USDC)),
    };
    Action::DepositCollateral { depositor, account, amount }
}

fn withdraw_collateral(rng: &mut ChaCha8Rng, view: &View) -> Action {
    let account = rng.gen_range(0..view.trader_count());
    let signer =
        if rng.gen_bool(0.88) { view.world.trader_party(account) } else { view.stranger(rng, account) };
    let collateral = view.snapshot.accounts[account].collateral.max(0) as u64;
    let equity = view.equity(account).max(0) as u64;
    let amount = match rng.gen_range(0..12) {
        0 => 0,
        1 => collateral.saturating_add(1),
        2 => u64::MAX,
        3 => collateral,
        // Profits above 40,000 USDC of equity are taken out.
        4..=6 if equity > 40_000 * microliq_client::USDC => {
            (equity - 40_000 * microliq_client::USDC).min(collateral)
        }
        _ => rng.gen_range(0..=equity.min(collateral) / 3 + 1),
    };
    Action::WithdrawCollateral { signer, account, amount, health: random_health(rng, 0.85) }
}

fn random_health(rng: &mut ChaCha8Rng, correct: f64) -> Health {
    if rng.gen_bool(correct) {
        return Health::Correct;
    }
    *[
        Health::Missing,
        Health::Extra,
        Health::Duplicated,
        Health::OwnMarket,
        Health::OutOfOrder,
        Health::WrongOracle,
        Health::Odd,
    ]
    .choose(rng)
    .unwrap()
}

fn place_order(rng: &mut ChaCha8Rng, view: &View) -> Action {
    let snapshot = view.snapshot;
    let account = rng.gen_range(0..view.trader_count());
    let owner = view.world.trader_party(account);
    let signer = match rng.gen_range(0..20) {
        0 => view.stranger(rng, owner),
        1..=3 => view.delegate_party(account).unwrap_or(owner),
        _ => owner,
    };
    let market = rng.gen_range(0..snapshot.markets.len()) as u16;
    let lot = snapshot.markets[market as usize].params.base_lot_size.max(1);
    let state = &snapshot.accounts[account];
    let base = state.position_index(market).map(|s| state.positions[s].base).unwrap_or(0);
    let equity = view.equity(account).max(0) as f64;
    let price_per_atom =
        view.price(market).map(|p| p.oracle_low as f64 / PRICE_PRECISION as f64).unwrap_or(1.0).max(1e-12);
    let sensible_open = |rng: &mut ChaCha8Rng| -> i64 {
        // Up to 7x the account's equity, and at most 150,000 USDC of notional: positions stay on
        // the scale of the pool they trade against.
        let leverage = rng.gen_range(0.3..7.0);
        let notional = (equity * leverage).min(150_000.0 * microliq_client::USDC as f64);
        let atoms = (notional / price_per_atom).min(i64::MAX as f64 / 4.0) as u64;
        let long = rng.gen_bool(0.55);
        // A trader sizes the order within the open interest left on its side.
        let m = &snapshot.markets[market as usize];
        let used = if long { m.long_base } else { m.short_base };
        let room = m.params.max_open_interest.saturating_sub(used);
        let atoms = to_lot(atoms.min(room), lot).max(lot) as i64;
        if long {
            atoms
        } else {
            -atoms
        }
    };
    let base_delta: i64 = match rng.gen_range(0..40) {
        0 => 0,
        1 => i64::MAX / lot as i64 * lot as i64,
        2 => -(i64::MAX / lot as i64 * lot as i64),
        3..=4 => {
            // Not a lot multiple.
            let d = sensible_open(rng);
            d + rng.gen_range(1..lot.max(2)) as i64 * d.signum()
        }
        5..=12 if base != 0 => -base, // close exactly (may not be a lot multiple after a lot change)
        13..=18 if base != 0 => {
            // Reduce part of the position.
            let part = to_lot((base.unsigned_abs() as f64 * rng.gen_range(0.05..0.95)) as u64, lot).max(lot);
            -(part.min(i64::MAX as u64) as i64) * base.signum()
        }
        19..=20 if base != 0 => {
            // Flip.
            let open = sensible_open(rng).abs();
            -base - open * base.signum()
        }
        _ => sensible_open(rng),
    };
    let limit_price = match rng.gen_range(0..25) {
        0 => {
            // A limit the fill cannot meet.
            if base_delta > 0 {
                0
            } else {
                u64::MAX
            }
        }
        _ => {
            if base_delta > 0 {
                u64::MAX
            } else {
                0
            }
        }
    };
    Action::PlaceOrder { signer, account, market, base_delta, limit_price, health: random_health(rng, 0.88) }
}

/// Whether an order of `base_delta` on a position of `base` adds risk (opens, increases or flips:
/// the program then reads the remaining accounts and checks initial health).
pub fn order_adds_risk(base: i64, base_delta: i64) -> bool {
    base == 0 || (base > 0) == (base_delta > 0) || base_delta.unsigned_abs() > base.unsigned_abs()
}

fn random_liquidation(rng: &mut ChaCha8Rng, view: &View) -> Action {
    let account = rng.gen_range(0..view.trader_count());
    let owner = view.world.trader_party(account);
    let keeper = match rng.gen_range(0..12) {
        0 => owner,
        1 => view.delegate_party(account).unwrap_or(owner),
        2..=5 => view.stranger(rng, owner),
        _ => view.world.keepers[rng.gen_range(0..view.world.keepers.len())],
    };
    let state = &view.snapshot.accounts[account];
    let open: Vec<u16> = state.positions.iter().filter(|p| p.is_open()).map(|p| p.market_index).collect();
    let market = if !open.is_empty() && rng.gen_bool(0.8) {
        *open.choose(rng).unwrap()
    } else {
        rng.gen_range(0..view.snapshot.markets.len()) as u16
    };
    let target = match rng.gen_range(0..10) {
        0 => Target::WrongIndex,
        1 => Target::WrongOracle,
        _ => Target::Correct,
    };
    let max_base = match rng.gen_range(0..8) {
        0 => 0,
        1 => rng.gen_range(1..10) * view.snapshot.markets[market as usize].params.base_lot_size,
        2 => rng.gen_range(1..1_000_000),
        _ => u64::MAX,
    };
    Action::Liquidate {
        keeper,
        account,
        market,
        target,
        health: random_health(rng, 0.8),
        max_base,
        sensible: false,
    }
}

/// The sensible keeper: the most underwater liquidatable account (by `M − E`), through its largest
/// position, with the right accounts; else a bankrupt account to resolve; else nothing.
fn keeper_pass(rng: &mut ChaCha8Rng, view: &View) -> Action {
    let snapshot = view.snapshot;
    let keeper = view.world.keepers[rng.gen_range(0..view.world.keepers.len())];
    let mut best: Option<(i128, usize, u16)> = None;
    for i in 0..view.trader_count() {
        let Some(value) = view.valuation.accounts[i] else { continue };
        let account = &snapshot.accounts[i];
        // A keeper does not liquidate an account it is the delegate of.
        if view.delegate_party(i) == Some(keeper) {
            continue;
        }
        // Largest position by notional.
        let mut largest: Option<(u128, u16)> = None;
        for p in account.positions.iter().filter(|p| p.is_open()) {
            let Some(price) = view.price(p.market_index) else { continue };
            let notional = p.base.unsigned_abs() as u128 * price.oracle_high / PRICE_PRECISION;
            if largest.is_none_or(|(n, _)| notional > n) {
                largest = Some((notional, p.market_index));
            }
        }
        let Some((_, market)) = largest else { continue };
        let market = if rng.gen_bool(0.8) {
            market
        } else {
            let open: Vec<u16> =
                account.positions.iter().filter(|p| p.is_open()).map(|p| p.market_index).collect();
            *open.choose(rng).unwrap()
        };
        if !view.liquidatable(i, market) {
            continue;
        }
        // An insolvent account pays no bonus: a profit-seeking keeper sometimes leaves it.
        if value.health.equity <= 0 && rng.gen_bool(0.25) {
            continue;
        }
        let gap = value.health.maintenance_requirement as i128 - value.health.equity;
        if best.is_none_or(|(g, _, _)| gap > g) {
            best = Some((gap, i, market));
        }
    }
    if let Some((_, account, market)) = best {
        let lot = snapshot.markets[market as usize].params.base_lot_size;
        let max_base = if rng.gen_bool(0.85) { u64::MAX } else { rng.gen_range(1..50) * lot };
        return Action::Liquidate {
            keeper,
            account,
            market,
            target: Target::Correct,
            health: Health::Correct,
            max_base,
            sensible: true,
        };
    }
    if let Some(account) =
        snapshot.accounts.iter().position(|a| a.collateral < 0 && a.open_position_count() == 0)
    {
        return Action::ResolveBankruptcy { caller: keeper, account };
    }
    Action::KeeperIdle
}

fn update_market(rng: &mut ChaCha8Rng, view: &View) -> Action {
    let admin = view.world.admin;
    let signer = if rng.gen_bool(0.9) { admin } else { view.stranger(rng, admin) };
    let market = rng.gen_range(0..view.snapshot.markets.len()) as u16;
    let current = view.snapshot.markets[market as usize].params;
    let initial = view.world.initial_params[market as usize];
    let mut p = current;
    let label = match rng.gen_range(0..10) {
        0..=2 => {
            p = initial;
            "restore"
        }
        3..=5 => {
            // Within bounds: a few risk parameters redrawn, cross-rules respected.
            p.maintenance_rate = rng.gen_range(10_000..120_000);
            p.initial_rate = (p.maintenance_rate as f64 * rng.gen_range(1.2..3.0)) as u32;
            p.initial_rate = p.initial_rate.min(1_000_000).max(p.maintenance_rate + 1);
            p.liquidation_buffer = *[0, 100_000, 200_000, 500_000, 1_400_000, 3_000_000].choose(rng).unwrap();
            p.bonus_min_rate = rng.gen_range(0..10_000);
            p.bonus_max_rate = p.bonus_min_rate + rng.gen_range(0..30_000);
            p.insurance_fee_rate = rng.gen_range(0..20_000);
            // (1 + β)·mm must exceed bonus_max + fee.
            let buffered = (1_000_000 + p.liquidation_buffer as u64) * p.maintenance_rate as u64 / 1_000_000;
            if buffered <= p.max_penalty_rate() {
                p.bonus_max_rate = (buffered as u32 / 2).max(p.bonus_min_rate);
                p.insurance_fee_rate = (buffered as u32 / 4).min(p.insurance_fee_rate);
                p.bonus_min_rate = p.bonus_min_rate.min(p.bonus_max_rate);
            }
            p.close_factor = *[10_000, 100_000, 500_000, 1_000_000].choose(rng).unwrap();
            p.bonus_ramp_slots = *[0, 10, 150, 10_000].choose(rng).unwrap();
            p.taker_fee_rate = rng.gen_range(0..2_000);
            p.dust_notional = rng.gen_range(0..20) * microliq_client::USDC;
            p.max_staleness_secs = *[30, 60, 120].choose(rng).unwrap();
            "within_bounds"
        }
        6 => {
            // A base-lot change: ×10 or ÷10, open interest cap kept a multiple.
            p.base_lot_size = if rng.gen_bool(0.5) {
                p.base_lot_size.saturating_mul(10)
            } else {
                (p.base_lot_size / 10).max(1)
            };
            p.base_lot_size = p.base_lot_size.min(initial.base_lot_size * 1_000);
            p.max_open_interest = p.max_open_interest / p.base_lot_size * p.base_lot_size;
            "base_lot"
        }
        7 => {
            // A tight open-interest cap.
            let m = &view.snapshot.markets[market as usize];
            let used = m.long_base.max(m.short_base);
            let lot = p.base_lot_size;
            p.max_open_interest = (to_lot(used, lot) + lot * rng.gen_range(10..100_000)).max(lot);
            "oi_cap"
        }
        _ => {
            // One field outside its bounds (or a cross-rule broken).
            match rng.gen_range(0..16) {
                0 => p.maintenance_rate = 0,
                1 => p.maintenance_rate = 600_000,
                2 => p.initial_rate = p.maintenance_rate,
                3 => p.liquidation_buffer = 3_000_001,
                4 => p.bonus_max_rate = 200_001,
                5 => p.insurance_fee_rate = 100_001,
                6 => p.close_factor = if rng.gen_bool(0.5) { 0 } else { 1_000_001 },
                7 => p.max_staleness_secs = if rng.gen_bool(0.5) { 0 } else { 3_601 },
                8 => p.max_conf_rate = if rng.gen_bool(0.5) { 99 } else { 200_001 },
                9 => p.max_ema_divergence = if rng.gen_bool(0.5) { 999 } else { 1_000_001 },
                10 => p.bonus_ramp_slots = 216_001,
                11 => p.base_lot_size = 0,
                12 => p.max_open_interest = 0,
                13 => p.max_open_interest = p.base_lot_size * 7 + 1,
                14 => {
                    p.bonus_min_rate = p.bonus_max_rate + 1;
                }
                _ => {
                    // (1 + β)·mm ≤ bonus_max + fee.
                    p.liquidation_buffer = 0;
                    p.maintenance_rate = 10_000;
                    p.initial_rate = 20_000;
                    p.bonus_max_rate = 10_000;
                    p.bonus_min_rate = 0;
                    p.insurance_fee_rate = 1_000;
                }
            }
            "out_of_bounds"
        }
    };
    Action::UpdateMarket { signer, market, params: p, label }
}

fn pause_action(rng: &mut ChaCha8Rng, view: &View, any_paused: bool) -> Action {
    let admin = view.world.admin;
    let signer = if rng.gen_bool(0.9) { admin } else { view.stranger(rng, admin) };
    let lift = any_paused && rng.gen_bool(0.75);
    let paused = if lift {
        0
    } else {
        match rng.gen_range(0..10) {
            0 => pause::ALL,
            1 => 1 << rng.gen_range(8..16), // an unknown bit
            _ => 1 << rng.gen_range(0..8),
        }
    };
    if rng.gen_bool(0.5) {
        let market = rng.gen_range(0..view.snapshot.markets.len()) as u16;
        let paused = if lift { 0 } else { paused };
        Action::SetMarketPause { signer, market, paused }
    } else {
        Action::SetExchangePause { signer, paused }
    }
}

/// A short description of an action with party names, for logs and failure reports.
pub fn describe(action: &Action, world: &World) -> String {
    let name = |p: &usize| world.parties.get(*p).map(|p| p.name.as_str()).unwrap_or("?");
    let usdc = |a: &u64| {
        if *a == u64::MAX {
            "u64::MAX".to_string()
        } else {
            format!("{:.6}", *a as f64 / 1e6)
        }
    };
    match action {
        Action::DepositCollateral { depositor, account, amount } => {
            format!("deposit_collateral by {} into trader{account}: {} USDC", name(depositor), usdc(amount))
        }
        Action::WithdrawCollateral { signer, account, amount, health } => {
            format!("withdraw_collateral by {} from trader{account}: {} USDC, health accounts {health:?}", name(signer), usdc(amount))
        }
        Action::SetDelegate { signer, account, delegate } => format!(
            "set_delegate by {} on trader{account} to {}",
            name(signer),
            delegate.as_ref().map(name).unwrap_or("none")
        ),
        Action::PlaceOrder { signer, account, market, base_delta, limit_price, health } => format!(
            "place_order by {} for trader{account} market {market}: {base_delta} base atoms, limit {limit_price}, health accounts {health:?}",
            name(signer)
        ),
        Action::DepositLiquidity { signer, lp, amount } => {
            format!("deposit_liquidity by {} (lp{lp}): {} USDC", name(signer), usdc(amount))
        }
        Action::WithdrawLiquidity { signer, lp, shares } => {
            format!("withdraw_liquidity by {} from lp{lp}'s shares: {shares} shares", name(signer))
        }
        Action::DepositInsurance { signer, amount } => {
            format!("deposit_insurance by {}: {} USDC", name(signer), usdc(amount))
        }
        Action::WithdrawInsurance { signer, destination, amount } => format!(
            "withdraw_insurance by {} to {}'s wallet: {} USDC",
            name(signer),
            name(destination),
            usdc(amount)
        ),
        Action::Liquidate { keeper, account, market, target, health, max_base, sensible } => format!(
            "liquidate{} by {} of trader{account} market {market}: target {target:?}, health accounts {health:?}, max_base {max_base}",
            if *sensible { " (keeper pass)" } else { "" },
            name(keeper)
        ),
        Action::ResolveBankruptcy { caller, account } => {
            format!("resolve_bankruptcy by {} of trader{account}", name(caller))
        }
        Action::UpdateMarket { signer, market, params, label } => {
            format!("update_market by {} market {market} ({label}): {params:?}", name(signer))
        }
        Action::UpdateExchange { signer, cap, reward, episode_slots } => {
            format!(
                "update_exchange by {}: insurance cap per event {}, insolvent reward {}, episode {episode_slots} slots",
                name(signer),
                usdc(cap),
                usdc(reward)
            )
        }
        Action::SetExchangePause { signer, paused } => {
            format!("set_exchange_pause by {}: {paused:#06x}", name(signer))
        }
        Action::SetMarketPause { signer, market, paused } => {
            format!("set_market_pause by {} market {market}: {paused:#06x}", name(signer))
        }
        Action::UpdateFunding { market } => format!("update_funding market {market}"),
        Action::SetMarketFunding { signer, market, rate_scale, max_rate } => {
            format!("set_market_funding by {} market {market}: scale {rate_scale} max {max_rate}", name(signer))
        }
        Action::SetRepeatWindow { signer, window_slots } => {
            format!("set_repeat_liquidation_window by {}: {window_slots} slots", name(signer))
        }
        Action::Oracle { market, movement } => format!("oracle market {market}: {movement:?}"),
        Action::Time { slots, seconds, refresh } => {
            format!("time +{slots} slots +{seconds} s{}", if *refresh { ", prices refreshed" } else { "" })
        }
        Action::Faucet { party, amount } => format!("faucet {} USDC to {}", usdc(amount), name(party)),
        Action::KeeperIdle => "keeper pass: nothing to do".to_string(),
    }
}

/// Roles are used by the runner's failure report.
pub fn role_of(world: &World, party: usize) -> Role {
    world.parties[party].role
}
