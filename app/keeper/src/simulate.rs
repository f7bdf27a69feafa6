//! The cascade simulator: the same price paths through the real program twice, once with
//! micro-liquidation as built and once with a full-liquidation policy (close the whole position
//! on the first breach at the maximum penalty, as most peers do), and what each leaves users,
//! the insurance fund and keepers.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::demo::usdc;
use crate::keeper::{settled_funding, KeeperConfig, SliceRecord};
use crate::world::{Policy, World, START_PRICES};

#[derive(Clone, Debug)]
pub struct SimulateConfig {
    pub seed: u64,
    pub paths: usize,
    pub steps: usize,
    pub traders: usize,
    /// Prices to replay instead of generated paths (one path).
    pub prices_csv: Option<PathBuf>,
    /// Where to write the SVG plot of user equity over time.
    pub plot: Option<PathBuf>,
    /// Override of the markets' liquidation buffer β (1e6 = 100 %); default 20 %.
    pub liquidation_buffer: Option<u32>,
    /// Chain time per step, seconds (funding accrues over it; slots follow at 400 ms).
    pub step_secs: i64,
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
            step_secs: crate::world::DEFAULT_STEP_SECS,
        }
    }
}

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
    pub bad_debt_created_by_liquidation: u64,
    /// Funding the traders paid and received, settled or not at the end.
    pub funding_paid: u64,
    pub funding_received: u64,
    pub vaults_match_ledgers: bool,
    /// Average over paths of Σ user equity (USDC) at each step, step 0 first.
    pub equity_curve: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SimulationReport {
    pub seed: u64,
    pub paths: usize,
    pub steps: usize,
    pub traders: usize,
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

/// Reads prices from a CSV: one row per step, one column per market (SOL, then BTC); a header
/// row is skipped; a single column moves SOL only.
pub fn read_prices_csv(path: &Path) -> Result<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Result<Vec<f64>, _> = fields.iter().map(|f| f.parse::<f64>()).collect();
        match parsed {
            Ok(mut values) => {
                if values.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                    bail!("line {}: prices must be positive numbers", number + 1);
                }
                if values.len() == 1 {
                    values.push(START_PRICES[1]);
                }
                values.truncate(2);
                rows.push(values);
            }
            Err(_) if number == 0 => continue, // header
            Err(_) => bail!("line {}: not a number: {line}", number + 1),
        }
    }
    if rows.is_empty() {
        bail!("{} holds no prices", path.display());
    }
    Ok(rows)
}

async fn run_policy(
    policy: Policy,
    paths: &[Vec<Vec<f64>>],
    config: &SimulateConfig,
) -> Result<PolicyResult> {
    let keeper = KeeperConfig::default();
    let steps = paths.iter().map(Vec::len).max().unwrap_or(0);
    let mut result =
        PolicyResult { vaults_match_ledgers: true, equity_curve: vec![0.0; steps + 1], ..Default::default() };
    for (index, path) in paths.iter().enumerate() {
        // The same traders on every policy for a path.
        let mut world = World::with_buffer(
            config.seed.wrapping_add(index as u64),
            config.traders,
            policy,
            config.liquidation_buffer,
        )
        .await?;
        world.step_secs = config.step_secs;
        result.user_deposits += world.deposits();
        result.equity_curve[0] += world.user_equity().await? as f64 / 1e6 / paths.len() as f64;
        let mut records: Vec<SliceRecord> = Vec::new();
        for (step, prices) in path.iter().enumerate() {
            world.set_prices(prices).await;
            records.extend(world.keeper_pass(&keeper).await?.slices);
            result.equity_curve[step + 1] += world.user_equity().await? as f64 / 1e6 / paths.len() as f64;
        }
        result.user_equity_end += world.user_equity().await?.max(0) as u64;
        result.liquidation_txs += records.len();
        // The keeper's bonus plus the insurance fund's insolvent-close rewards.
        result.keeper_revenue += records
            .iter()
            .map(|r| {
                r.event.keeper_bonus
                    + r.event.insolvent_reward
                    + r.also_closed.iter().map(|e| e.insolvent_reward).sum::<u64>()
            })
            .sum::<u64>();
        result.insurance_fees += records.iter().map(|r| r.event.insurance_fee).sum::<u64>();
        result.insurance_draws += records.iter().map(|r| r.event.insurance_draw).sum::<u64>();
        result.socialized_loss += records.iter().map(|r| r.event.socialized_loss).sum::<u64>();
        result.bad_debt_created_by_liquidation +=
            records.iter().map(|r| r.bad_debt_created() as u64).sum::<u64>();
        let (settled_paid, settled_received) = settled_funding(&records);
        let (unsettled_paid, unsettled_received) = world.unsettled_funding().await?;
        result.funding_paid += settled_paid + unsettled_paid;
        result.funding_received += settled_received + unsettled_received;
        result.vaults_match_ledgers &= world.vaults_match_ledgers().await;
    }
    result.bad_debt = result.insurance_draws + result.socialized_loss;
    result.user_equity_preserved = result.user_equity_end as f64 / result.user_deposits.max(1) as f64;
    Ok(result)
}

/// Runs both policies over the same paths and prints the comparison table.
pub async fn run(config: &SimulateConfig, out: &mut dyn Write) -> Result<SimulationReport> {
    let paths: Vec<Vec<Vec<f64>>> = match &config.prices_csv {
        Some(csv) => vec![read_prices_csv(csv)?],
        None => (0..config.paths)
            .map(|i| gbm_with_jumps(config.seed.wrapping_add(1_000 + i as u64), config.steps))
            .collect(),
    };
    writeln!(
        out,
        "Cascade simulator (seed {}): {} path(s) of {} steps of {} s, {} traders per path, run through the program twice.",
        config.seed,
        paths.len(),
        paths.iter().map(Vec::len).max().unwrap_or(0),
        config.step_secs,
        config.traders
    )?;
    let micro = run_policy(Policy::Micro, &paths, config).await?;
    let full = run_policy(Policy::Full, &paths, config).await?;
    let report = SimulationReport {
        seed: config.seed,
        paths: paths.len(),
        steps: paths.iter().map(Vec::len).max().unwrap_or(0),
        traders: config.traders,
        micro,
        full,
    };
    print_table(&report, out)?;
    if let Some(plot) = &config.plot {
        plot_equity(&report, plot)?;
        writeln!(out, "\nplot of user equity over time: {}", plot.display())?;
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

/// An SVG line chart of average user equity per step under both policies.
pub fn plot_equity(report: &SimulationReport, path: &Path) -> Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let curves = [
        (&report.micro.equity_curve, "micro-liquidation", BLUE),
        (&report.full.equity_curve, "full liquidation", RED),
    ];
    let steps = curves.iter().map(|(c, _, _)| c.len()).max().unwrap_or(1).max(2) - 1;
    let (low, high) = curves
        .iter()
        .flat_map(|(c, _, _)| c.iter().copied())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((high - low) * 0.1).max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption("Σ user equity over time (USDC, average over paths)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(0..steps, (low - pad)..(high + pad))?;
    chart.configure_mesh().x_desc("step").y_desc("user equity (USDC)").draw()?;
    for (curve, name, color) in curves {
        chart
            .draw_series(LineSeries::new(
                curve.iter().enumerate().map(|(i, v)| (i, *v)),
                color.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
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
        let good = dir.join("good.csv");
        std::fs::write(&good, "sol\n150\n\n149.5\n").unwrap();
        assert_eq!(
            read_prices_csv(&good).unwrap(),
            vec![vec![150.0, START_PRICES[1]], vec![149.5, START_PRICES[1]]]
        );
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "150,60000\n-1,60000\n").unwrap();
        assert!(read_prices_csv(&bad).is_err());
        std::fs::write(&bad, "150,60000\nabc,1\n").unwrap();
        assert!(read_prices_csv(&bad).is_err());
    }

    #[test]
    fn paths_are_seeded_and_positive() {
        let a = gbm_with_jumps(3, 50);
        assert_eq!(a, gbm_with_jumps(3, 50));
        assert_ne!(a, gbm_with_jumps(4, 50));
        assert!(a.iter().flatten().all(|p| *p > 0.0));
    }
}
