//! The embedded demo: an exchange on the in-process runtime, a few dozen traders, a seeded price
//! crash, and the keeper liquidating in slices — told as a story, then summarized.

use std::io::Write;

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::keeper::{settled_funding, KeeperConfig, SliceRecord};
use crate::world::{Policy, World, DEFAULT_STEP_SECS, START_PRICES};

#[derive(Clone, Debug)]
pub struct DemoConfig {
    pub seed: u64,
    pub traders: usize,
    pub steps: usize,
    /// Chain time per price step, seconds.
    pub step_secs: i64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig { seed: 7, traders: 36, steps: 40, step_secs: DEFAULT_STEP_SECS }
    }
}

/// The demo's summary (also written as JSON with `--json`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DemoSummary {
    pub seed: u64,
    pub accounts: usize,
    pub liquidated_accounts: usize,
    pub slices: usize,
    pub full_closures: usize,
    /// Quote atoms.
    pub bonus_paid: u64,
    /// Paid by the insurance fund to the keeper for closing insolvent positions.
    pub insolvent_rewards: u64,
    pub insurance_fees: u64,
    pub insurance_draws: u64,
    pub socialized_loss: u64,
    pub bad_debt_created_by_liquidation: u64,
    pub vaults_match_ledgers: bool,
    pub health_improved_every_slice: bool,
    /// The keeper's prediction (same code as the program) matched every slice the program closed.
    pub keeper_predicted_every_slice: bool,
    pub user_deposits: u64,
    pub user_equity_end: u64,
    /// Funding the traders paid and received over the run, settled or not (quote atoms).
    pub funding_paid: u64,
    pub funding_received: u64,
    pub final_prices: Vec<f64>,
}

/// The demo's price path: a crash with a gap, then a partial recovery, with seeded noise.
/// SOL falls ~28 % by step 60 % of the way (with a 6 % gap at 40 %), BTC ~18 %.
pub fn crash_path(seed: u64, steps: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let bottom = (steps as f64 * 0.6).max(1.0);
    let gap = (steps as f64 * 0.4) as usize;
    (1..=steps)
        .map(|step| {
            let t = step as f64;
            let shape = |depth: f64, recovered: f64| {
                if t <= bottom {
                    1.0 - depth * (t / bottom).powf(1.3)
                } else {
                    let back = (t - bottom) / (steps as f64 - bottom).max(1.0);
                    (1.0 - depth) + (recovered - (1.0 - depth)) * back
                }
            };
            let gap_factor = if step >= gap { 0.94 } else { 1.0 };
            let noise_sol = 1.0 + rng.gen_range(-0.006..0.006);
            let noise_btc = 1.0 + rng.gen_range(-0.004..0.004);
            vec![
                START_PRICES[0] * shape(0.28 - 0.06, 0.83) * gap_factor * noise_sol,
                START_PRICES[1] * shape(0.18, 0.88) * noise_btc,
            ]
        })
        .collect()
}

/// Formats quote atoms as USDC with two decimals and thousands separators.
pub fn usdc(atoms: i128) -> String {
    let negative = atoms < 0;
    let cents = (atoms.unsigned_abs() + 5_000) / 10_000;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{frac:02}", if negative { "-" } else { "" })
}

fn base_units(atoms: i64, market: u16) -> String {
    let decimals = if market == 0 { 9 } else { 8 };
    format!("{:.3}", atoms as f64 / 10f64.powi(decimals))
}

/// Runs the demo, writing the story to `out`.
pub async fn run(config: &DemoConfig, out: &mut dyn Write) -> Result<DemoSummary> {
    writeln!(
        out,
        "Microliq embedded demo (seed {}): SOL-PERP and BTC-PERP on the in-process runtime, {} traders,\n\
         pool 5,000,000 USDC, insurance fund 20,000 USDC. The price crashes; the keeper liquidates in slices.\n\
         Each step is {} s of chain time; funding accrues over it (0.02 %/h at full skew, clamped at 0.01 %/h).",
        config.seed, config.traders, config.step_secs
    )?;
    let mut world = World::new(config.seed, config.traders, Policy::Micro).await?;
    world.step_secs = config.step_secs;
    let kinds: Vec<String> = world
        .exchange
        .markets
        .iter()
        .map(|m| match m.oracle_kind {
            microliq::oracle::OracleKind::PythPriceUpdateV2 => format!("PriceUpdateV2 at {}", m.oracle),
            microliq::oracle::OracleKind::PythLegacy => format!("legacy account {}", m.oracle),
        })
        .collect();
    writeln!(out, "Prices: Pyth {} (SOL), {} (BTC).\n", kinds[0], kinds[1])?;
    let deposits = world.deposits();
    let longs = world.participants.iter().filter(|p| p.long).count();
    let average_leverage =
        world.participants.iter().map(|p| p.leverage).sum::<f64>() / config.traders.max(1) as f64;
    writeln!(
        out,
        "{} accounts opened: {} long, {} short, average leverage {:.1}x, deposits {} USDC.\n",
        config.traders,
        longs,
        config.traders - longs,
        average_leverage,
        usdc(deposits as i128)
    )?;

    let keeper_config = KeeperConfig::default();
    let mut records: Vec<SliceRecord> = Vec::new();
    for (step, prices) in crash_path(config.seed, config.steps).into_iter().enumerate() {
        world.set_prices(&prices).await;
        let report = world.keeper_pass(&keeper_config).await?;
        writeln!(
            out,
            "step {:>2}  SOL ${:>8.2}  BTC ${:>10.2}  {}",
            step + 1,
            prices[0],
            prices[1],
            if report.slices.is_empty() {
                "—".to_string()
            } else {
                format!("{} slice(s)", report.slices.len())
            }
        )?;
        for record in &report.slices {
            let e = &record.event;
            let participant = world.participant(&record.account);
            let name = participant.map(|p| p.name.as_str()).unwrap_or("?");
            let leverage = participant.map(|p| p.leverage).unwrap_or(0.0);
            let market = world.market_names[e.market_index as usize];
            let size_before = e.remaining_base.unsigned_abs() + e.base_closed;
            let side =
                if e.remaining_base > 0 || (e.remaining_base == 0 && participant.is_some_and(|p| p.long)) {
                    "long"
                } else {
                    "short"
                };
            writeln!(
                out,
                "    {name} ({leverage:.1}x) {side} {} {market}: closed {} ({:.1} %){} · bonus {} · insurance fee {} · equity {} → {} (maintenance {} → {})",
                base_units(size_before as i64, e.market_index),
                base_units(e.base_closed as i64, e.market_index),
                e.base_closed as f64 * 100.0 / size_before.max(1) as f64,
                match e.whole_close {
                    1 => ", whole: dust",
                    2 => ", whole: no equity left",
                    3 => ", whole: target unreachable in this market",
                    4 => ", whole: the penalty took all equity left",
                    5 => ", whole: a repeat breach within a day of its last recovery",
                    _ => "",
                },
                if e.insolvent_reward > 0 {
                    format!("{} (insolvent-close reward)", usdc(e.insolvent_reward as i128))
                } else {
                    usdc(e.keeper_bonus as i128)
                },
                usdc(e.insurance_fee as i128),
                usdc(e.equity_before),
                usdc(e.equity_after),
                usdc(e.maintenance_before as i128),
                usdc(e.maintenance_after as i128),
            )?;
            if let Some(b) = &record.bankruptcy {
                writeln!(
                    out,
                    "      bankrupt: deficit {} USDC, insurance paid {}, socialized {}",
                    usdc(b.deficit as i128),
                    usdc(b.insurance_draw as i128),
                    usdc(b.socialized_loss as i128)
                )?;
            }
        }
        records.extend(report.slices);
    }

    let buffer = world.exchange.market(0).await.params.liquidation_buffer;
    let mut liquidated: Vec<_> = records.iter().map(|r| r.account).collect();
    liquidated.sort();
    liquidated.dedup();
    let equity_end = world.user_equity().await?;
    let (settled_paid, settled_received) = settled_funding(&records);
    let (unsettled_paid, unsettled_received) = world.unsettled_funding().await?;
    let summary = DemoSummary {
        seed: config.seed,
        accounts: config.traders,
        liquidated_accounts: liquidated.len(),
        slices: records.iter().map(|r| 1 + r.also_closed.len()).sum(),
        full_closures: records
            .iter()
            .map(|r| (r.event.whole_close != 0) as usize + r.also_closed.len())
            .sum(),
        bonus_paid: records.iter().map(|r| r.event.keeper_bonus).sum(),
        insolvent_rewards: records
            .iter()
            .map(|r| r.event.insolvent_reward + r.also_closed.iter().map(|e| e.insolvent_reward).sum::<u64>())
            .sum(),
        insurance_fees: records.iter().map(|r| r.event.insurance_fee).sum(),
        insurance_draws: records.iter().map(|r| r.event.insurance_draw).sum(),
        socialized_loss: records.iter().map(|r| r.event.socialized_loss).sum(),
        bad_debt_created_by_liquidation: records.iter().map(|r| r.bad_debt_created() as u64).sum(),
        vaults_match_ledgers: world.vaults_match_ledgers().await,
        health_improved_every_slice: records.iter().all(|r| r.health_improved(buffer)),
        keeper_predicted_every_slice: records.iter().all(SliceRecord::matches_prediction),
        user_deposits: deposits,
        user_equity_end: equity_end.max(0) as u64,
        funding_paid: settled_paid + unsettled_paid,
        funding_received: settled_received + unsettled_received,
        final_prices: world.prices.clone(),
    };
    print_summary(&summary, out)?;
    Ok(summary)
}

fn print_summary(s: &DemoSummary, out: &mut dyn Write) -> Result<()> {
    let yes = |b: bool| if b { "yes" } else { "NO" };
    writeln!(out, "\nsummary")?;
    let rows: Vec<(&str, String)> = vec![
        ("accounts", s.accounts.to_string()),
        ("liquidated accounts", s.liquidated_accounts.to_string()),
        ("liquidation slices", s.slices.to_string()),
        ("whole-position closes", s.full_closures.to_string()),
        ("keeper bonus paid (USDC)", usdc(s.bonus_paid as i128)),
        ("insolvent-close rewards (USDC)", usdc(s.insolvent_rewards as i128)),
        ("insurance fees (USDC)", usdc(s.insurance_fees as i128)),
        ("insurance draws (USDC)", usdc(s.insurance_draws as i128)),
        ("socialized loss (USDC)", usdc(s.socialized_loss as i128)),
        ("bad debt created by liquidation", usdc(s.bad_debt_created_by_liquidation as i128)),
        ("vaults match ledgers", yes(s.vaults_match_ledgers).into()),
        ("health improved every slice", yes(s.health_improved_every_slice).into()),
        ("keeper predicted every slice", yes(s.keeper_predicted_every_slice).into()),
        ("user deposits (USDC)", usdc(s.user_deposits as i128)),
        ("user equity at the end (USDC)", usdc(s.user_equity_end as i128)),
        ("funding paid by traders (USDC)", usdc(s.funding_paid as i128)),
        ("funding received by traders (USDC)", usdc(s.funding_received as i128)),
    ];
    for (name, value) in rows {
        writeln!(out, "  {name:<34}{value:>16}")?;
    }
    Ok(())
}
