//! The cascade simulator: the same price paths through the real program twice, once with
//! micro-liquidation as built and once with a full-liquidation policy (close the whole position
//! on the first breach at the maximum penalty, as most peers do), and what each leaves users,
//! the insurance fund and keepers.
//!
//! **Cascades.** Prices are exogenous paths (seeded GBM with jumps, or a replayed CSV) moved by a
//! price-impact model: the base a liquidation closes is hedged into an external market of finite
//! depth, which moves that market's price by `coefficient · √(closed notional / depth)` (down for
//! closed longs, up for closed shorts). Within a step the impacted price is published again and
//! the keeper passes again, until a pass liquidates nothing (or [`MAX_CASCADE_ROUNDS`]); the
//! accumulated impact decays by half every `half_life_steps` steps. A coefficient of 0 gives
//! exogenous prices and one keeper pass per step (docs/SIMULATOR.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::demo::usdc;
use crate::keeper::{settled_funding, KeeperConfig, SliceRecord};
use crate::world::{Policy, World, START_PRICES};

/// Keeper passes in one step at most (a cascade that has not settled by then continues at the
/// next step).
pub const MAX_CASCADE_ROUNDS: usize = 12;

/// The price-impact model (see the module docs).
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct ImpactConfig {
    /// Price move (fraction) of liquidating one `depth` of notional in a step; 0 = exogenous.
    pub coefficient: f64,
    /// Depth of each market's external venue, USD of notional (SOL, BTC).
    pub depth_usd: [f64; 2],
    /// Steps for half of the accumulated impact to decay.
    pub half_life_steps: f64,
    /// How liquidations add up: the impact of the decayed liquidated volume as one metaorder
    /// (`false`, the default), or the sum of each round's own impact (`true`, the first model).
    pub additive: bool,
}

impl Default for ImpactConfig {
    /// 10 % for liquidating one depth; depths of 2,000,000 USD (SOL) and 5,000,000 USD (BTC),
    /// against a population of ~500,000 USD of open notional; half-life 2 steps.
    fn default() -> Self {
        ImpactConfig {
            coefficient: 0.1,
            depth_usd: [2_000_000.0, 5_000_000.0],
            half_life_steps: 2.0,
            additive: false,
        }
    }
}

impl ImpactConfig {
    pub fn exogenous() -> Self {
        ImpactConfig { coefficient: 0.0, ..Self::default() }
    }

    fn is_on(&self) -> bool {
        self.coefficient > 0.0
    }

    /// The log-price move of closing `notional_usd` (signed: positive for closed longs, which
    /// are sold) in `market`.
    fn impact_of(&self, market: usize, notional_usd: f64) -> f64 {
        if notional_usd == 0.0 {
            return 0.0;
        }
        let size = (notional_usd.abs() / self.depth_usd[market]).sqrt();
        -notional_usd.signum() * (1.0 + self.coefficient * size).ln()
    }
}

/// The price impact carried through a path: a log-price offset per market, and for the metaorder
/// model the decayed liquidated volume it is the square root of.
struct ImpactState {
    config: ImpactConfig,
    /// Per step: the factor the log offset (additive model) decays by.
    decay: f64,
    log_impact: [f64; 2],
    /// Liquidated notional per market (USD, signed: positive for closed longs, which are sold),
    /// decaying by `decay²` per step so that a single liquidation's impact halves every
    /// half-life, as in the additive model.
    volume: [f64; 2],
}

impl ImpactState {
    fn new(config: ImpactConfig) -> Self {
        let decay =
            if config.half_life_steps > 0.0 { 0.5f64.powf(1.0 / config.half_life_steps) } else { 0.0 };
        ImpactState { config, decay, log_impact: [0.0; 2], volume: [0.0; 2] }
    }

    /// A new step: what was accumulated decays.
    fn next_step(&mut self) {
        for m in 0..2 {
            if self.config.additive {
                self.log_impact[m] *= self.decay;
            } else {
                self.volume[m] *= self.decay * self.decay;
                self.log_impact[m] = self.config.impact_of(m, self.volume[m]);
            }
        }
    }

    /// A keeper pass closed `closed` (USD per market, signed as `volume`).
    fn add(&mut self, closed: [f64; 2]) {
        for (m, usd) in closed.into_iter().enumerate() {
            if self.config.additive {
                self.log_impact[m] += self.config.impact_of(m, usd);
            } else {
                self.volume[m] += usd;
                self.log_impact[m] = self.config.impact_of(m, self.volume[m]);
            }
        }
    }

    /// The exogenous prices moved by the impact.
    fn prices(&self, exogenous: &[f64]) -> Vec<f64> {
        (0..2).map(|m| exogenous[m] * self.log_impact[m].exp()).collect()
    }
}

#[derive(Clone, Debug)]
pub struct SimulateConfig {
    pub seed: u64,
    pub paths: usize,
    pub steps: usize,
    pub traders: usize,
    /// Prices to replay instead of generated paths (under `paths` populations).
    pub prices_csv: Option<PathBuf>,
    /// Where to write the SVG plot (prices, liquidated notional, user equity).
    pub plot: Option<PathBuf>,
    /// Override of the markets' liquidation buffer β (1e6 = 100 %); default 20 %.
    pub liquidation_buffer: Option<u32>,
    /// Chain time per step, seconds (funding accrues over it; slots follow at 400 ms). `None`:
    /// the CSV's own step for a replay, 30 s for generated paths.
    pub step_secs: Option<i64>,
    pub impact: ImpactConfig,
    /// Both markets' funding parameters (default: the markets' own, docs/FUNDING.md).
    pub funding: Option<microliq::state::FundingConfig>,
    /// The exchange's repeat-breach window, seconds of chain time (slots at 400 ms; 0 = off).
    pub repeat_window_secs: u64,
    /// A replay coarser than this (seconds per row) is refined to about this step with a
    /// Brownian bridge between its rows ([`bridge_refine`]); 0 replays the rows as they are.
    pub substep_secs: i64,
}

impl Default for SimulateConfig {
    fn default() -> Self {
        SimulateConfig {
            seed: 7,
            paths: 6,
            steps: 48,
            traders: 30,
            prices_csv: None,
            plot: None,
            liquidation_buffer: None,
            step_secs: None,
            impact: ImpactConfig::default(),
            funding: None,
            repeat_window_secs: DEFAULT_REPEAT_WINDOW_SECS,
            substep_secs: DEFAULT_SUBSTEP_SECS,
        }
    }
}

/// The simulator's default resolution for replays: 5 minutes.
pub const DEFAULT_SUBSTEP_SECS: i64 = 300;

/// The simulator's default repeat-breach window: one day.
pub const DEFAULT_REPEAT_WINDOW_SECS: u64 = 86_400;

/// One policy's totals over every path (quote atoms unless said).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PolicyResult {
    /// Σ final user equity / Σ deposits (1.0 = users kept everything they put in).
    pub user_equity_preserved: f64,
    pub user_equity_end: u64,
    pub user_deposits: u64,
    /// Σ bankruptcy deficits (insurance draws + socialized loss).
    pub bad_debt: u64,
    pub insurance_draws: u64,
    pub socialized_loss: u64,
    pub liquidation_txs: usize,
    pub keeper_revenue: u64,
    pub insurance_fees: u64,
    /// What liquidation took from the liquidated users: keeper bonus + insurance fee.
    pub liquidation_cost_to_users: u64,
    /// Σ notional closed by liquidation (quote atoms, at the fill price).
    pub notional_liquidated: u64,
    /// The largest notional liquidated in one step of one path (all its cascade rounds).
    pub max_liquidated_notional_in_one_step: u64,
    /// Average over paths of (deepest drawdown of the impacted path) / (deepest drawdown of the
    /// exogenous path), over both markets; 1.0 = no amplification.
    pub cascade_amplification: f64,
    /// Accounts whose equity reached zero at some step (Σ over paths).
    pub accounts_wiped_out: usize,
    /// Of those: first at zero after a liquidation in an earlier step (the position it left).
    pub wiped_out_after_an_earlier_liquidation: usize,
    /// Of those: first at zero in the step of their first liquidation (gapped through, or the
    /// penalty took what was left); the rest were at zero before any liquidation.
    pub wiped_out_at_their_first_liquidation: usize,
    /// Bad debt of accounts that had been liquidated in an earlier step.
    pub bad_debt_after_an_earlier_liquidation: u64,
    /// Positions still open at the end (Σ over paths).
    pub positions_open_at_end: usize,
    pub bad_debt_created_by_liquidation: u64,
    /// Funding the traders paid and received, settled or not at the end.
    pub funding_paid: u64,
    pub funding_received: u64,
    pub vaults_match_ledgers: bool,
    /// Average over paths of Σ user equity (USDC) at each step, step 0 first.
    pub equity_curve: Vec<f64>,
    /// Average over paths of the notional liquidated at each step (USDC), step 1 first.
    pub liquidated_curve: Vec<f64>,
    /// The first path's prices as impacted, per step (SOL, BTC in dollars).
    pub impacted_path: Vec<Vec<f64>>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SimulationReport {
    pub seed: u64,
    pub paths: usize,
    pub steps: usize,
    pub traders: usize,
    pub step_secs: i64,
    /// Steps per row of a replayed series (1: its rows as they are; see [`bridge_refine`]).
    pub substeps_per_row: usize,
    pub impact: ImpactConfig,
    /// The first path's exogenous prices (what the impacted paths are compared with).
    pub exogenous_path: Vec<Vec<f64>>,
    /// Steps (both policies, all paths) per second of wall time.
    pub steps_per_second: f64,
    pub micro: PolicyResult,
    pub full: PolicyResult,
}

/// Seeded geometric Brownian motion with jumps for SOL and BTC (correlated 0.6), per step:
/// `r = μ − σ²/2 + σ·z (+ J with probability λ)`. SOL: σ 2 %, μ −0.2 %, λ 4 %, J ~ N(−7 %, 3 %);
/// BTC: σ 1.2 %, μ −0.1 %, λ 3 %, J ~ N(−5 %, 2 %).
pub fn gbm_with_jumps(seed: u64, steps: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = |rng: &mut ChaCha8Rng| {
        // Box–Muller.
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen_range(0.0..1.0);
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let specs = [(0.02, -0.002, 0.04, -0.07, 0.03), (0.012, -0.001, 0.03, -0.05, 0.02)];
    let mut prices = START_PRICES.to_vec();
    let mut path = Vec::with_capacity(steps);
    for _ in 0..steps {
        let z_sol = normal(&mut rng);
        let z_other = normal(&mut rng);
        let z = [z_sol, 0.6 * z_sol + (1.0f64 - 0.36).sqrt() * z_other];
        for (i, &(sigma, mu, lambda, jump_mean, jump_sd)) in specs.iter().enumerate() {
            let mut r = mu - sigma * sigma / 2.0 + sigma * z[i];
            if rng.gen_bool(lambda) {
                r += jump_mean + jump_sd * normal(&mut rng);
            }
            prices[i] *= r.exp();
        }
        path.push(prices.clone());
    }
    path
}

/// Refines a replayed series to `substeps` steps per row. Between two closes each market's
/// log-price follows a Brownian bridge: it starts at one close and ends exactly at the next, with
/// the series' own volatility (the standard deviation of its row-to-row log returns, spread over
/// the substeps) and the two markets' return correlation. An hourly close-to-close move is not a
/// gap a keeper lives through: the oracle moves every slot and keepers act within seconds, so
/// replaying hourly closes as instantaneous jumps would catch every account deep below
/// maintenance. Seeded; `substeps ≤ 1` returns the rows unchanged.
pub fn bridge_refine(rows: &[Vec<f64>], substeps: usize, seed: u64) -> Vec<Vec<f64>> {
    if substeps <= 1 || rows.len() < 2 {
        return rows.to_vec();
    }
    let returns: Vec<[f64; 2]> =
        rows.windows(2).map(|w| [(w[1][0] / w[0][0]).ln(), (w[1][1] / w[0][1]).ln()]).collect();
    let n = returns.len() as f64;
    let mean = |m: usize| returns.iter().map(|r| r[m]).sum::<f64>() / n;
    let (mean_sol, mean_btc) = (mean(0), mean(1));
    let var = |m: usize, mu: f64| returns.iter().map(|r| (r[m] - mu).powi(2)).sum::<f64>() / n;
    let sigma = [var(0, mean_sol).sqrt(), var(1, mean_btc).sqrt()];
    let covariance = returns.iter().map(|r| (r[0] - mean_sol) * (r[1] - mean_btc)).sum::<f64>() / n;
    let rho = if sigma[0] > 0.0 && sigma[1] > 0.0 {
        (covariance / (sigma[0] * sigma[1])).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = |rng: &mut ChaCha8Rng| {
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen_range(0.0..1.0);
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let steps = substeps as f64;
    let mut path = Vec::with_capacity(1 + (rows.len() - 1) * substeps);
    path.push(rows[0].clone());
    let mut walk = vec![[0.0f64; 2]; substeps + 1];
    for pair in rows.windows(2) {
        // A random walk with the substep volatility, then pinned to end at zero (the bridge).
        for k in 1..=substeps {
            let z_sol = normal(&mut rng);
            let z_btc = rho * z_sol + (1.0 - rho * rho).sqrt() * normal(&mut rng);
            for (m, z) in [z_sol, z_btc].into_iter().enumerate() {
                walk[k][m] = walk[k - 1][m] + sigma[m] / steps.sqrt() * z;
            }
        }
        for k in 1..=substeps {
            let t = k as f64 / steps;
            let row = (0..2)
                .map(|m| {
                    if k == substeps {
                        return pair[1][m];
                    }
                    let drift = (pair[1][m] / pair[0][m]).ln() * t;
                    let bridge = walk[k][m] - t * walk[substeps][m];
                    pair[0][m] * (drift + bridge).exp()
                })
                .collect();
            path.push(row);
        }
    }
    path
}

/// A replayed price series: per step, SOL and BTC in dollars, rescaled so that the first row is
/// the simulator's start prices (the path's *returns* are replayed; the traders open at the
/// start prices), and the series' own step when it has timestamps.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceSeries {
    pub rows: Vec<Vec<f64>>,
    /// Median spacing of the `timestamp_utc` column, seconds.
    pub step_secs: Option<i64>,
}

/// Seconds since 1970 of an ISO-8601 UTC time `YYYY-MM-DDTHH:MM[:SS]Z` (days from civil, as in
/// Howard Hinnant's algorithm).
fn parse_utc(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = text.split_once(['T', ' '])?;
    let mut d = date.split('-').map(|v| v.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':').map(|v| v.parse::<f64>());
    let (h, min, sec) = (t.next()?.ok()?, t.next()?.ok()?, t.next().and_then(|v| v.ok()).unwrap_or(0.0));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + (h * 3_600.0 + min * 60.0 + sec) as i64)
}

/// Reads prices from a CSV. With a header row, the columns are found by name: `sol` and `btc`
/// (case-insensitive; `timestamp_utc` gives the step; other columns are ignored; without `btc`,
/// BTC does not move). Without a header, one row per step, SOL then BTC (a single column moves
/// SOL only). Every price must be a positive number. The rows are rescaled to the start prices.
pub fn read_prices_csv(path: &Path) -> Result<PriceSeries> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).peekable();
    let first: Vec<String> = match lines.peek() {
        Some((_, line)) => line.split(',').map(|f| f.trim().to_ascii_lowercase()).collect(),
        None => bail!("{} holds no prices", path.display()),
    };
    let header = first.iter().any(|f| f.parse::<f64>().is_err());
    let (sol, btc, time) = if header {
        lines.next();
        let find = |name: &str| first.iter().position(|f| f == name);
        let sol =
            find("sol").with_context(|| format!("{}: no `sol` column in the header", path.display()))?;
        (sol, find("btc"), find("timestamp_utc"))
    } else {
        (0, if first.len() > 1 { Some(1) } else { None }, None)
    };
    let mut raw: Vec<Vec<f64>> = Vec::new();
    let mut times: Vec<i64> = Vec::new();
    for (number, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let price = |column: usize| -> Result<f64> {
            let field = fields.get(column).with_context(|| format!("line {}: missing column", number + 1))?;
            let value: f64 =
                field.parse().with_context(|| format!("line {}: not a number: {field}", number + 1))?;
            if !(value.is_finite() && value > 0.0) {
                bail!("line {}: prices must be positive numbers", number + 1);
            }
            Ok(value)
        };
        let row = vec![price(sol)?, btc.map(price).transpose()?.unwrap_or(START_PRICES[1])];
        if let Some(column) = time {
            let field = fields.get(column).copied().unwrap_or("");
            times.push(
                parse_utc(field).with_context(|| format!("line {}: bad timestamp {field}", number + 1))?,
            );
        }
        raw.push(row);
    }
    if raw.is_empty() {
        bail!("{} holds no prices", path.display());
    }
    let base = raw[0].clone();
    let rows = raw.iter().map(|r| (0..2).map(|m| START_PRICES[m] * r[m] / base[m]).collect()).collect();
    let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let step_secs = gaps.get(gaps.len() / 2).copied().filter(|g| *g > 0);
    Ok(PriceSeries { rows, step_secs })
}

/// The deepest fall from a running peak over the path, over both markets (0.25 = −25 %).
fn max_drawdown(path: &[Vec<f64>]) -> f64 {
    let mut deepest: f64 = 0.0;
    for market in 0..2 {
        let mut peak = START_PRICES[market];
        for row in path {
            peak = peak.max(row[market]);
            deepest = deepest.max(1.0 - row[market] / peak);
        }
    }
    deepest
}

/// What one path left under one policy.
struct PathOutcome {
    equity_curve: Vec<f64>,
    liquidated_curve: Vec<f64>,
    impacted: Vec<Vec<f64>>,
    records: Vec<SliceRecord>,
    wiped_out: usize,
    /// Of `wiped_out`: accounts first at zero after a liquidation in an earlier step.
    wiped_after_earlier: usize,
    /// Of `wiped_out`: accounts first at zero in the step of their first liquidation.
    wiped_at_first: usize,
    /// Bad debt of accounts that had been liquidated in an earlier step.
    bad_debt_after_earlier: u64,
    positions_open: usize,
    user_equity_end: u64,
    deposits: u64,
    funding: (u64, u64),
    vaults_match: bool,
}

/// Notional closed by a slice in dollars, signed: positive when longs were closed (sold).
fn closed_notional_usd(event: &microliq::events::LiquidationSliceV3, long: bool) -> f64 {
    let quote_atoms = event.base_closed as f64 * event.fill_price as f64 / 1e12;
    let usd = quote_atoms / 1e6;
    if long {
        usd
    } else {
        -usd
    }
}

async fn run_path(
    policy: Policy,
    index: usize,
    path: &[Vec<f64>],
    config: &SimulateConfig,
    step_secs: i64,
) -> Result<PathOutcome> {
    let keeper = KeeperConfig::default();
    // The same traders on every policy for a path.
    let mut world = World::with_overrides(
        config.seed.wrapping_add(index as u64),
        config.traders,
        policy,
        config.liquidation_buffer,
        config.funding,
    )
    .await?;
    world.step_secs = step_secs;
    let window_slots = (config.repeat_window_secs.saturating_mul(5)).div_ceil(2);
    world.exchange.set_repeat_liquidation_window(window_slots).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let impact = config.impact;
    let mut impact_state = ImpactState::new(impact);
    let mut equities = world.equities().await?;
    let mut wiped: Vec<bool> = equities.iter().map(|e| *e <= 0).collect();
    // Attribution: liquidated in an earlier step / in this one, by participant.
    let mut liquidated_before = vec![false; equities.len()];
    let mut liquidated_now = vec![false; equities.len()];
    let mut outcome = PathOutcome {
        equity_curve: vec![equities.iter().map(|e| (*e).max(0)).sum::<i128>() as f64 / 1e6],
        liquidated_curve: Vec::with_capacity(path.len()),
        impacted: Vec::with_capacity(path.len()),
        records: Vec::new(),
        wiped_out: 0,
        wiped_after_earlier: 0,
        wiped_at_first: 0,
        bad_debt_after_earlier: 0,
        positions_open: 0,
        user_equity_end: 0,
        deposits: world.deposits(),
        funding: (0, 0),
        vaults_match: true,
    };
    for exogenous in path {
        impact_state.next_step();
        let mut step_notional = 0.0f64;
        let mut prices = impact_state.prices(exogenous);
        world.set_prices(&prices).await;
        for round in 0..MAX_CASCADE_ROUNDS {
            if round > 0 {
                world.publish_round_prices(&prices).await;
            }
            let report = world.keeper_pass(&keeper).await?;
            if report.slices.is_empty() {
                break;
            }
            let mut closed = [0.0f64; 2];
            for record in &report.slices {
                if let Some(i) = world.participants.iter().position(|p| p.trader.account == record.account) {
                    if liquidated_before[i] {
                        outcome.bad_debt_after_earlier +=
                            record.event.insurance_draw + record.event.socialized_loss;
                    }
                    liquidated_now[i] = true;
                }
                let long = world.participant(&record.account).is_some_and(|p| p.long);
                for event in std::iter::once(&record.event).chain(&record.also_closed) {
                    let usd = closed_notional_usd(event, long);
                    closed[event.market_index as usize] += usd;
                    step_notional += usd.abs();
                }
            }
            outcome.records.extend(report.slices);
            if !impact.is_on() {
                break;
            }
            impact_state.add(closed);
            prices = impact_state.prices(exogenous);
        }
        outcome.impacted.push(prices);
        outcome.liquidated_curve.push(step_notional);
        equities = world.equities().await?;
        for (i, equity) in equities.iter().enumerate() {
            if *equity <= 0 && !wiped[i] {
                wiped[i] = true;
                if liquidated_before[i] {
                    outcome.wiped_after_earlier += 1;
                } else if liquidated_now[i] {
                    outcome.wiped_at_first += 1;
                }
            }
            liquidated_before[i] |= liquidated_now[i];
            liquidated_now[i] = false;
        }
        outcome.equity_curve.push(equities.iter().map(|e| (*e).max(0)).sum::<i128>() as f64 / 1e6);
    }
    outcome.wiped_out = wiped.iter().filter(|w| **w).count();
    outcome.positions_open = world.open_positions().await?;
    outcome.user_equity_end = equities.iter().map(|e| (*e).max(0) as u64).sum();
    let (settled_paid, settled_received) = settled_funding(&outcome.records);
    let (unsettled_paid, unsettled_received) = world.unsettled_funding().await?;
    outcome.funding = (settled_paid + unsettled_paid, settled_received + unsettled_received);
    outcome.vaults_match = world.vaults_match_ledgers().await;
    Ok(outcome)
}

async fn run_policy(
    policy: Policy,
    paths: &[Vec<Vec<f64>>],
    config: &SimulateConfig,
    step_secs: i64,
) -> Result<PolicyResult> {
    let steps = paths.iter().map(Vec::len).max().unwrap_or(0);
    let mut result = PolicyResult {
        vaults_match_ledgers: true,
        equity_curve: vec![0.0; steps + 1],
        liquidated_curve: vec![0.0; steps],
        ..Default::default()
    };
    let share = 1.0 / paths.len().max(1) as f64;
    for (index, path) in paths.iter().enumerate() {
        let outcome = run_path(policy, index, path, config, step_secs).await?;
        let records = &outcome.records;
        for (slot, value) in result.equity_curve.iter_mut().zip(&outcome.equity_curve) {
            *slot += value * share;
        }
        for (slot, value) in result.liquidated_curve.iter_mut().zip(&outcome.liquidated_curve) {
            *slot += value * share;
        }
        if index == 0 {
            result.impacted_path = outcome.impacted.clone();
        }
        let exogenous_drawdown = max_drawdown(path);
        let ratio =
            if exogenous_drawdown > 0.0 { max_drawdown(&outcome.impacted) / exogenous_drawdown } else { 1.0 };
        result.cascade_amplification += ratio * share;
        result.user_deposits += outcome.deposits;
        result.user_equity_end += outcome.user_equity_end;
        result.liquidation_txs += records.len();
        let events = || records.iter().flat_map(|r| std::iter::once(&r.event).chain(&r.also_closed));
        // The keeper's bonus plus the insurance fund's insolvent-close rewards.
        result.keeper_revenue += events().map(|e| e.keeper_bonus + e.insolvent_reward).sum::<u64>();
        result.insurance_fees += events().map(|e| e.insurance_fee).sum::<u64>();
        result.liquidation_cost_to_users += events().map(|e| e.keeper_bonus + e.insurance_fee).sum::<u64>();
        result.notional_liquidated += events()
            .map(|e| (e.base_closed as u128 * e.fill_price as u128 / 1_000_000_000_000) as u64)
            .sum::<u64>();
        let step_max = outcome.liquidated_curve.iter().copied().fold(0.0f64, f64::max);
        result.max_liquidated_notional_in_one_step =
            result.max_liquidated_notional_in_one_step.max((step_max * 1e6) as u64);
        result.insurance_draws += records.iter().map(|r| r.event.insurance_draw).sum::<u64>();
        result.socialized_loss += records.iter().map(|r| r.event.socialized_loss).sum::<u64>();
        result.bad_debt_created_by_liquidation +=
            records.iter().map(|r| r.bad_debt_created() as u64).sum::<u64>();
        result.accounts_wiped_out += outcome.wiped_out;
        result.wiped_out_after_an_earlier_liquidation += outcome.wiped_after_earlier;
        result.wiped_out_at_their_first_liquidation += outcome.wiped_at_first;
        result.bad_debt_after_an_earlier_liquidation += outcome.bad_debt_after_earlier;
        result.positions_open_at_end += outcome.positions_open;
        result.funding_paid += outcome.funding.0;
        result.funding_received += outcome.funding.1;
        result.vaults_match_ledgers &= outcome.vaults_match;
    }
    result.bad_debt = result.insurance_draws + result.socialized_loss;
    result.user_equity_preserved = result.user_equity_end as f64 / result.user_deposits.max(1) as f64;
    Ok(result)
}

/// Runs both policies over the same paths and prints the comparison table.
pub async fn run(config: &SimulateConfig, out: &mut dyn Write) -> Result<SimulationReport> {
    let mut substeps = 1;
    let (paths, csv_step): (Vec<Vec<Vec<f64>>>, Option<i64>) = match &config.prices_csv {
        // A replay runs the one price path under `paths` populations (seeds), since one
        // population of 30 traders is a noisy sample; refined, each population gets its own
        // bridge between the same closes.
        Some(csv) => {
            let series = read_prices_csv(csv)?;
            let row_secs = config.step_secs.or(series.step_secs).unwrap_or(crate::world::DEFAULT_STEP_SECS);
            if config.substep_secs > 0 && row_secs > config.substep_secs {
                substeps = (row_secs as f64 / config.substep_secs as f64).round().max(1.0) as usize;
            }
            let paths = (0..config.paths.max(1))
                .map(|i| bridge_refine(&series.rows, substeps, config.seed.wrapping_add(2_000 + i as u64)))
                .collect();
            (paths, Some(row_secs / substeps as i64))
        }
        None => (
            (0..config.paths)
                .map(|i| gbm_with_jumps(config.seed.wrapping_add(1_000 + i as u64), config.steps))
                .collect(),
            None,
        ),
    };
    let step_secs = csv_step.or(config.step_secs).unwrap_or(crate::world::DEFAULT_STEP_SECS);
    // The impact's half-life is in rows of the series: the same time however finely it is run.
    let mut impact = config.impact;
    impact.half_life_steps *= substeps as f64;
    let config = &SimulateConfig { impact, ..config.clone() };
    writeln!(
        out,
        "Cascade simulator (seed {}): {} path(s) of {} steps of {} s, {} traders per path, run through the program twice.\n\
         Price impact: {} (coefficient {}, depth SOL {} / BTC {} USD, half-life {} steps, {}).",
        config.seed,
        paths.len(),
        paths.iter().map(Vec::len).max().unwrap_or(0),
        step_secs,
        config.traders,
        if impact.is_on() { "on" } else { "off (exogenous prices)" },
        impact.coefficient,
        impact.depth_usd[0],
        impact.depth_usd[1],
        impact.half_life_steps,
        if impact.additive { "each round's impact added" } else { "square root of the decayed liquidated volume" },
    )?;
    if substeps > 1 {
        writeln!(
            out,
            "Replay refined: {substeps} steps per row of the series, a Brownian bridge between its closes (--substep-secs {}; 0 = its rows as they are).",
            config.substep_secs
        )?;
    }
    let started = Instant::now();
    let micro = run_policy(Policy::Micro, &paths, config, step_secs).await?;
    let full = run_policy(Policy::Full, &paths, config, step_secs).await?;
    let total_steps: usize = paths.iter().map(Vec::len).sum::<usize>() * 2;
    let report = SimulationReport {
        seed: config.seed,
        paths: paths.len(),
        steps: paths.iter().map(Vec::len).max().unwrap_or(0),
        traders: config.traders,
        step_secs,
        substeps_per_row: substeps,
        impact,
        exogenous_path: paths[0].clone(),
        steps_per_second: total_steps as f64 / started.elapsed().as_secs_f64().max(1e-9),
        micro,
        full,
    };
    print_table(&report, out)?;
    writeln!(out, "\n{:.1} steps/s ({} steps, both policies)", report.steps_per_second, total_steps)?;
    if let Some(plot) = &config.plot {
        plot_report(&report, plot)?;
        writeln!(out, "plot: {}", plot.display())?;
    }
    Ok(report)
}

fn print_table(r: &SimulationReport, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "\n{:<34}{:>18}{:>18}", "", "micro-liquidation", "full liquidation")?;
    let rows: Vec<(&str, String, String)> = vec![
        (
            "user equity preserved",
            format!("{:.2} %", r.micro.user_equity_preserved * 100.0),
            format!("{:.2} %", r.full.user_equity_preserved * 100.0),
        ),
        (
            "user equity at the end (USDC)",
            usdc(r.micro.user_equity_end as i128),
            usdc(r.full.user_equity_end as i128),
        ),
        ("bad debt (USDC)", usdc(r.micro.bad_debt as i128), usdc(r.full.bad_debt as i128)),
        (
            "insurance-fund draws (USDC)",
            usdc(r.micro.insurance_draws as i128),
            usdc(r.full.insurance_draws as i128),
        ),
        (
            "socialized loss (USDC)",
            usdc(r.micro.socialized_loss as i128),
            usdc(r.full.socialized_loss as i128),
        ),
        ("liquidation transactions", r.micro.liquidation_txs.to_string(), r.full.liquidation_txs.to_string()),
        ("keeper revenue (USDC)", usdc(r.micro.keeper_revenue as i128), usdc(r.full.keeper_revenue as i128)),
        ("insurance fees (USDC)", usdc(r.micro.insurance_fees as i128), usdc(r.full.insurance_fees as i128)),
        (
            "liquidation cost to users (USDC)",
            usdc(r.micro.liquidation_cost_to_users as i128),
            usdc(r.full.liquidation_cost_to_users as i128),
        ),
        (
            "notional liquidated (USDC)",
            usdc(r.micro.notional_liquidated as i128),
            usdc(r.full.notional_liquidated as i128),
        ),
        (
            "most liquidated in one step (USDC)",
            usdc(r.micro.max_liquidated_notional_in_one_step as i128),
            usdc(r.full.max_liquidated_notional_in_one_step as i128),
        ),
        (
            "cascade amplification",
            format!("{:.3}", r.micro.cascade_amplification),
            format!("{:.3}", r.full.cascade_amplification),
        ),
        ("accounts wiped out", r.micro.accounts_wiped_out.to_string(), r.full.accounts_wiped_out.to_string()),
        (
            "  … after an earlier liquidation",
            r.micro.wiped_out_after_an_earlier_liquidation.to_string(),
            r.full.wiped_out_after_an_earlier_liquidation.to_string(),
        ),
        (
            "  … at their first liquidation",
            r.micro.wiped_out_at_their_first_liquidation.to_string(),
            r.full.wiped_out_at_their_first_liquidation.to_string(),
        ),
        (
            "bad debt after an earlier liquidation",
            usdc(r.micro.bad_debt_after_an_earlier_liquidation as i128),
            usdc(r.full.bad_debt_after_an_earlier_liquidation as i128),
        ),
        (
            "positions open at the end",
            r.micro.positions_open_at_end.to_string(),
            r.full.positions_open_at_end.to_string(),
        ),
        (
            "bad debt created by liquidation",
            usdc(r.micro.bad_debt_created_by_liquidation as i128),
            usdc(r.full.bad_debt_created_by_liquidation as i128),
        ),
        (
            "funding paid by traders (USDC)",
            usdc(r.micro.funding_paid as i128),
            usdc(r.full.funding_paid as i128),
        ),
        (
            "funding received by traders (USDC)",
            usdc(r.micro.funding_received as i128),
            usdc(r.full.funding_received as i128),
        ),
        (
            "vaults match ledgers",
            if r.micro.vaults_match_ledgers { "yes" } else { "NO" }.into(),
            if r.full.vaults_match_ledgers { "yes" } else { "NO" }.into(),
        ),
    ];
    for (name, micro, full) in rows {
        writeln!(out, "{name:<34}{micro:>18}{full:>18}")?;
    }
    Ok(())
}

/// One line of a panel: values (the first at step `first`), legend, colour.
type Line<'a> = (&'a [f64], &'a str, plotters::style::RGBColor);

/// Most points a plotted line keeps: longer runs (a refined month of replay is 9,217 steps) are
/// drawn from every `stride`-th step, so the SVG stays a readable size.
const PLOT_POINTS: usize = 800;

/// Every `stride`-th value (the last of each group of `stride` steps).
fn every(values: &[f64], stride: usize) -> Vec<f64> {
    values.iter().skip(stride - 1).step_by(stride).copied().collect()
}

/// Sums over consecutive groups of `stride` steps (what was liquidated in each group).
fn summed(values: &[f64], stride: usize) -> Vec<f64> {
    values.chunks(stride).map(|c| c.iter().sum()).collect()
}

/// Draws `lines` into `area` as one captioned line chart over steps `first..steps`, one point per
/// `stride` steps, the y axis from `low` to the data's maximum (padded), or fitted to the data
/// when `low` is `None`.
fn line_panel(
    area: &plotters::drawing::DrawingArea<plotters::prelude::SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    (first, steps, stride): (usize, usize, usize),
    low: Option<f64>,
    lines: &[Line<'_>],
) -> Result<()> {
    use plotters::prelude::*;
    let values = || lines.iter().flat_map(|(l, _, _)| l.iter().copied());
    let (min, max) = values().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((max - min) * 0.08).max(1e-9);
    let y = match low {
        Some(low) => low..(max.max(low + 1.0) + pad),
        None => (min - pad)..(max + pad),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(first..steps.max(first + 1), y)?;
    chart.configure_mesh().x_desc("step").draw()?;
    for &(line, name, color) in lines {
        chart
            .draw_series(LineSeries::new(
                line.iter().enumerate().map(|(i, v)| (first + i * stride, *v)),
                color.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
    Ok(())
}

/// The run as an SVG: (1) the first path's SOL price, exogenous and as impacted under each
/// policy; (2) the notional liquidated per step (average over paths); (3) Σ user equity per step
/// (average over paths).
pub fn plot_report(report: &SimulationReport, path: &Path) -> Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (960, 1080)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((3, 1));
    let steps = report.exogenous_path.len().max(1);
    let stride = steps.div_ceil(PLOT_POINTS).max(1);
    let sol = |p: &Vec<Vec<f64>>| every(&p.iter().map(|r| r[0]).collect::<Vec<f64>>(), stride);
    let (exogenous, micro, full) =
        (sol(&report.exogenous_path), sol(&report.micro.impacted_path), sol(&report.full.impacted_path));
    line_panel(
        &panels[0],
        "SOL price, first path (USD)",
        (stride, steps, stride),
        None,
        &[
            (&exogenous, "exogenous", RGBColor(120, 120, 120)),
            (&micro, "impacted, micro-liquidation", BLUE),
            (&full, "impacted, full liquidation", RED),
        ],
    )?;
    let per = if stride == 1 { "per step".to_string() } else { format!("per {stride} steps") };
    line_panel(
        &panels[1],
        &format!("notional liquidated {per} (USDC, average over paths)"),
        (1, steps, stride),
        Some(0.0),
        &[
            (&summed(&report.micro.liquidated_curve, stride), "micro-liquidation", BLUE),
            (&summed(&report.full.liquidated_curve, stride), "full liquidation", RED),
        ],
    )?;
    // The equity curve starts at step 0 (before the first price move).
    let equity = |curve: &[f64]| {
        let mut points = vec![curve.first().copied().unwrap_or(0.0)];
        points.extend(every(curve.get(1..).unwrap_or(&[]), stride));
        points
    };
    let (micro_equity, full_equity) = (equity(&report.micro.equity_curve), equity(&report.full.equity_curve));
    line_panel(
        &panels[2],
        "Σ user equity (USDC, average over paths)",
        (0, steps, stride),
        None,
        &[(&micro_equity, "micro-liquidation", BLUE), (&full_equity, "full liquidation", RED)],
    )?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header_single_column_and_bad_values() {
        let dir = std::env::temp_dir().join(format!("microliq-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Named columns in any order, extra columns ignored, returns replayed from the start
        // prices, the step from the timestamps.
        let named = dir.join("named.csv");
        std::fs::write(
            &named,
            "btc,extra,timestamp_utc,sol\n20000,x,2022-11-08T00:00:00Z,30\n19000,y,2022-11-08T00:05:00Z,27\n",
        )
        .unwrap();
        let series = read_prices_csv(&named).unwrap();
        assert_eq!(series.step_secs, Some(300));
        assert_eq!(series.rows[0], START_PRICES.to_vec());
        assert!((series.rows[1][0] - 135.0).abs() < 1e-9 && (series.rows[1][1] - 57_000.0).abs() < 1e-6);
        // Without a header: SOL then BTC; a single column moves SOL only.
        let good = dir.join("good.csv");
        std::fs::write(&good, "300\n\n299\n").unwrap();
        let series = read_prices_csv(&good).unwrap();
        assert_eq!(series.rows, vec![START_PRICES.to_vec(), vec![149.5, START_PRICES[1]]]);
        assert_eq!(series.step_secs, None);
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "150,60000\n-1,60000\n").unwrap();
        assert!(read_prices_csv(&bad).is_err());
        std::fs::write(&bad, "150,60000\nabc,1\n").unwrap();
        assert!(read_prices_csv(&bad).is_err());
        std::fs::write(&bad, "timestamp_utc,btc\n2022-11-08T00:00:00Z,1\n").unwrap();
        assert!(read_prices_csv(&bad).is_err(), "no sol column");
    }

    #[test]
    fn timestamps_parse_to_unix_seconds() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2022-11-08T00:00:00Z"), Some(1_667_865_600));
        assert_eq!(parse_utc("2024-02-29T12:30:00Z"), Some(1_709_209_800));
        assert_eq!(parse_utc("nope"), None);
    }

    #[test]
    fn impact_is_square_root_signed_and_off_at_zero() {
        let impact = ImpactConfig {
            coefficient: 0.1,
            depth_usd: [1_000_000.0, 1_000_000.0],
            half_life_steps: 2.0,
            additive: true,
        };
        // Closing 250,000 USD of longs: a sale, 0.1 · √0.25 = 5 %: the price divides by 1.05.
        assert!((impact.impact_of(0, 250_000.0) - -(1.05f64).ln()).abs() < 1e-12);
        assert!((impact.impact_of(0, -250_000.0) - (1.05f64).ln()).abs() < 1e-12);
        assert_eq!(ImpactConfig::exogenous().impact_of(0, 250_000.0), 0.0);
        assert!(!ImpactConfig::exogenous().is_on());
        assert!((max_drawdown(&[vec![120.0, 60_000.0], vec![135.0, 30_000.0]]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn metaorder_impact_does_not_charge_splitting_and_the_additive_one_does() {
        let metaorder = ImpactConfig { depth_usd: [1_000_000.0; 2], ..ImpactConfig::default() };
        let additive = ImpactConfig { additive: true, ..metaorder };
        let start = [100.0, 100.0];
        let after = |config: ImpactConfig, rounds: &[f64]| {
            let mut state = ImpactState::new(config);
            for &usd in rounds {
                state.add([usd, 0.0]);
            }
            state.prices(&start)[0]
        };
        // One liquidation of 250,000 USD: both models move the price to 100 / 1.05.
        for config in [metaorder, additive] {
            assert!((after(config, &[250_000.0]) - 100.0 / 1.05).abs() < 1e-9);
        }
        // The same volume in four rounds: the metaorder moves it as far as at once; the
        // additive model twice as far in log terms (4 · ln(1 + 0.1·√0.0625) vs ln(1.05)).
        let quarter = [62_500.0; 4];
        assert!((after(metaorder, &quarter) - 100.0 / 1.05).abs() < 1e-9);
        let additive_split = after(additive, &quarter);
        assert!((additive_split - 100.0 / 1.025f64.powi(4)).abs() < 1e-9);
        assert!(additive_split < 100.0 / 1.05);
        // Purchases (closed shorts) cancel sales in the metaorder; the price is back.
        assert!((after(metaorder, &[250_000.0, -250_000.0]) - 100.0).abs() < 1e-9);
        // Decay: two steps (one half-life) halve the metaorder's √-volume term exactly.
        let mut state = ImpactState::new(metaorder);
        state.add([250_000.0, 0.0]);
        state.next_step();
        state.next_step();
        assert!((state.prices(&start)[0] - 100.0 / 1.025).abs() < 1e-9);
    }

    #[test]
    fn bridge_keeps_every_close_and_the_series_volatility() {
        // 2,000 hourly rows of a seeded walk (SOL σ 2 %, BTC σ 1 %, correlated).
        let rows = gbm_with_jumps(9, 2_000);
        assert_eq!(bridge_refine(&rows, 1, 5), rows, "one substep: the rows as they are");
        let refined = bridge_refine(&rows, 12, 5);
        assert_eq!(refined.len(), 1 + (rows.len() - 1) * 12);
        // Every 12th step is the series' own close, exactly.
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(&refined[i * 12], row);
        }
        assert_eq!(refined, bridge_refine(&rows, 12, 5), "seeded");
        assert_ne!(refined, bridge_refine(&rows, 12, 6));
        assert!(refined.iter().flatten().all(|p| p.is_finite() && *p > 0.0));
        // The substeps carry the series' variance: over a row of return R, the squared
        // sub-returns sum to R²/n from the drift plus, on average, (n − 1)/n · σ² from the bridge,
        // so over the whole series the realized variance is the series' own.
        let log_returns = |path: &[Vec<f64>], m: usize| -> Vec<f64> {
            path.windows(2).map(|w| (w[1][m] / w[0][m]).ln()).collect()
        };
        for m in 0..2 {
            let rows_var = log_returns(&rows, m).iter().map(|r| r * r).sum::<f64>();
            let refined_var = log_returns(&refined, m).iter().map(|r| r * r).sum::<f64>();
            let ratio = refined_var / rows_var;
            assert!((0.9..1.1).contains(&ratio), "market {m}: variance ratio {ratio}");
        }
    }

    #[test]
    fn paths_are_seeded_and_positive() {
        let a = gbm_with_jumps(3, 50);
        assert_eq!(a, gbm_with_jumps(3, 50));
        assert_ne!(a, gbm_with_jumps(4, 50));
        assert!(a.iter().flatten().all(|p| *p > 0.0));
    }
}
