//! Microliq's stateful adversarial fuzzer.
//!
//! One [`world::World`] — an exchange on the in-process runtime with SOL and BTC markets, a small
//! pool, an insurance fund with a per-event cap, traders, LPs, keepers and the admin — is driven
//! for N steps. Each step draws one weighted random action by a random actor from one seeded
//! ChaCha RNG ([`actions::generate`]): trader, LP, insurer, keeper and admin instructions with bad
//! inputs mixed in, oracle moves and time passing, and a sensible keeper pass that liquidates with
//! the program's own math. After every step the watched accounts are read once
//! ([`snapshot::Snapshot`]) and every invariant ([`invariants::INVARIANTS`]) is derived from that
//! read and the one before it.
//!
//! A run is reproducible from its seed: stop at a failing step with `steps`, and watch the
//! lead-up with `verbose_from`.

#![allow(deprecated)]

pub mod actions;
pub mod errors;
pub mod events;
pub mod exec;
pub mod invariants;
pub mod oracle;
pub mod snapshot;
pub mod world;

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::actions::{describe, generate, Action, View};
use crate::invariants::{Failure, Invariants};
use crate::snapshot::{Snapshot, Valuation};
use crate::world::{World, WorldConfig};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub steps: u64,
    /// Log every action from this step on.
    pub verbose_from: Option<u64>,
    /// Print a progress line every N steps.
    pub report_every: Option<u64>,
    /// Keep going past failures (counting them per invariant) instead of stopping at the first.
    pub keep_going: bool,
    /// Read every watched account after every transaction, not only the ones it could write.
    pub full_reads: bool,
    pub world: WorldConfig,
}

impl Config {
    pub fn new(seed: u64, steps: u64) -> Self {
        Config {
            seed,
            steps,
            verbose_from: None,
            report_every: None,
            keep_going: false,
            full_reads: false,
            world: WorldConfig::default(),
        }
    }
}

/// Outcomes of one action kind: successes and refusals by error name.
#[derive(Clone, Debug, Default)]
pub struct KindStats {
    pub ok: u64,
    pub refused: BTreeMap<String, u64>,
}

/// A failure with the action that caused it.
#[derive(Clone, Debug)]
pub struct FailureReport {
    pub failure: Failure,
    pub action: String,
    pub outcome: String,
}

pub struct Report {
    pub seed: u64,
    pub steps_requested: u64,
    pub steps_run: u64,
    pub setup: Duration,
    pub elapsed: Duration,
    pub transactions: u64,
    /// Time spent sending transactions (the bank executing them) and reading snapshots.
    pub time_executing: Duration,
    pub time_reading: Duration,
    pub kinds: BTreeMap<&'static str, KindStats>,
    pub invariants: Invariants,
    /// The first failure of each invariant, in the order they happened.
    pub failures: Vec<FailureReport>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.invariants.total_failures() > 0
    }

    pub fn steps_per_second(&self) -> f64 {
        self.steps_run as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The end-of-run summary.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out)?;
        writeln!(
            out,
            "seed {}: {} of {} steps ({} transactions)",
            self.seed, self.steps_run, self.steps_requested, self.transactions
        )?;
        writeln!(
            out,
            "elapsed {:.2} s (setup {:.2} s), {:.0} steps/s",
            self.elapsed.as_secs_f64(),
            self.setup.as_secs_f64(),
            self.steps_per_second()
        )?;
        let other = self.elapsed.saturating_sub(self.time_executing + self.time_reading);
        writeln!(
            out,
            "time: executing actions {:.2} s, reading snapshots {:.2} s, generating and checking {:.2} s",
            self.time_executing.as_secs_f64(),
            self.time_reading.as_secs_f64(),
            other.as_secs_f64()
        )?;
        writeln!(out, "\nactions (ok / refused by error):")?;
        for (kind, stats) in &self.kinds {
            let refused: u64 = stats.refused.values().sum();
            writeln!(out, "  {kind:<26} {:>7} ok {:>7} refused", stats.ok, refused)?;
            let mut by_count: Vec<_> = stats.refused.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (name, count) in by_count {
                writeln!(out, "      {name:<40} {count:>7}")?;
            }
        }
        writeln!(out, "\ninvariants (checked / failed, first failure):")?;
        for (name, stat) in &self.invariants.stats {
            let status = if stat.failed == 0 { "ok  " } else { "FAIL" };
            write!(out, "  {status} {name:<48} {:>8} {:>7}", stat.checked, stat.failed)?;
            match &stat.first {
                Some(f) => writeln!(out, "  first at step {}", f.step)?,
                None => writeln!(out)?,
            }
        }
        writeln!(out, "\nobservations (soft checks, never a failure; seen / checked):")?;
        for (name, stat) in &self.invariants.observations {
            write!(out, "  {name:<62} {:>7} / {:<8}", stat.failed, stat.checked)?;
            match &stat.first {
                Some(f) => writeln!(out, " first at step {}: {}", f.step, f.message)?,
                None => writeln!(out)?,
            }
        }
        let inv = &self.invariants;
        writeln!(
            out,
            "  LP withdrawals checked {}: paid above shares·NAV_counted/supply {} (today's rule), above shares·V/supply {}",
            inv.lp_payouts, inv.lp_payouts_above_counted_nav, inv.lp_payouts_above_collectable
        )?;
        if self.failed() {
            writeln!(out, "\nfirst failure of each failing invariant:")?;
            for f in &self.failures {
                writeln!(
                    out,
                    "  step {:>7}  {}: {}",
                    f.failure.step, f.failure.invariant, f.failure.message
                )?;
                writeln!(out, "               action: {} -> {}", f.action, f.outcome)?;
            }
            writeln!(out, "\nRESULT: FAIL ({} invariant failures)", self.invariants.total_failures())?;
        } else {
            writeln!(out, "\nRESULT: ok, every invariant held")?;
        }
        Ok(())
    }
}

/// A one-line picture of the state, for verbose logs.
fn state_line(world: &World, s: &Snapshot, v: &Valuation) -> String {
    let mut line = format!(
        "    pool {:.2} NAV_counted {:.2} V {:.2} fund {:.2} neg {:.2} | SOL {:.2} BTC {:.2} | slot {} t {}",
        s.exchange.pool_balance as f64 / 1e6,
        v.nav_counted as f64 / 1e6,
        v.collectable as f64 / 1e6,
        s.fund.balance as f64 / 1e6,
        s.exchange.negative_collateral as f64 / 1e6,
        world.oracles[0].dollars,
        world.oracles.get(1).map(|o| o.dollars).unwrap_or(0.0),
        world.clock.slot,
        world.clock.unix_timestamp
    );
    for (i, a) in s.accounts.iter().enumerate() {
        match v.accounts[i] {
            Some(value) => line.push_str(&format!(
                "\n      trader{i}: C {:.2} E {:.2} M {:.2}{} pos [{}]",
                a.collateral as f64 / 1e6,
                value.health.equity as f64 / 1e6,
                value.health.maintenance_requirement as f64 / 1e6,
                if a.being_liquidated == 1 {
                    format!(" flagged@{}", a.liquidation_start_slot)
                } else {
                    String::new()
                },
                a.positions
                    .iter()
                    .filter(|p| p.is_open())
                    .map(|p| format!("m{} {}", p.market_index, p.base))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => {
                line.push_str(&format!("\n      trader{i}: C {:.2} (not valued)", a.collateral as f64 / 1e6))
            }
        }
    }
    line
}

/// Runs the fuzzer; progress, failures and verbose logs go to `out`.
pub async fn run(config: &Config, out: &mut dyn Write) -> anyhow::Result<Report> {
    // solana-program-test logs every instruction at debug level unless RUST_LOG says otherwise:
    // that costs more than the fuzzing itself.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "error");
    }
    let setup_start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut world = World::new(&config.world).await?;
    for m in 0..world.oracles.len() {
        world.write_oracle(m);
    }
    let mut pre = world.snapshot().await?;
    let mut pre_v = Valuation::new(&pre, world.prices());
    let mut invariants = Invariants::new(world.accounts.len());
    let mut report = Report {
        seed: config.seed,
        steps_requested: config.steps,
        steps_run: 0,
        setup: setup_start.elapsed(),
        elapsed: Duration::ZERO,
        transactions: 0,
        time_executing: Duration::ZERO,
        time_reading: Duration::ZERO,
        kinds: BTreeMap::new(),
        invariants: Invariants::new(0),
        failures: Vec::new(),
    };
    invariants.check_state(0, &world, &pre, &pre_v);
    let mut recent: VecDeque<String> = VecDeque::with_capacity(12);
    let start = Instant::now();
    let mut stop = !invariants.step_failures.is_empty();
    for f in invariants.step_failures.drain(..) {
        report.failures.push(FailureReport { failure: f, action: "setup".into(), outcome: "ok".into() });
    }
    let mut step = 0;
    while !stop && step < config.steps {
        step += 1;
        let action = generate(&mut rng, &View { world: &world, snapshot: &pre, valuation: &pre_v });
        let timer = Instant::now();
        let executed = exec::execute(&mut world, &action, &pre).await;
        report.time_executing += timer.elapsed();
        let outcome = match &executed.sent {
            None => "—".to_string(),
            Some(sent) => match &sent.result {
                Ok(()) => "ok".to_string(),
                Err(error) => errors::error_name(error, &sent.logs),
            },
        };
        let stats = report.kinds.entry(action.kind()).or_default();
        match &executed.sent {
            Some(sent) => {
                report.transactions += 1;
                match sent.result {
                    Ok(()) => stats.ok += 1,
                    Err(_) => *stats.refused.entry(outcome.clone()).or_default() += 1,
                }
            }
            None => stats.ok += 1,
        }
        let timer = Instant::now();
        let post = match &executed.sent {
            Some(_) if config.full_reads => Some(world.snapshot().await?),
            Some(sent) => Some(pre.refresh(&world.ctx.bank.banks_client, &world.keys, &sent.writable).await?),
            // No account changed, but the clock did: funding is projected to the new time.
            None if matches!(action, Action::Time { .. }) => {
                Some(Snapshot { unix_timestamp: world.clock.unix_timestamp, ..pre.clone() })
            }
            None => None,
        };
        report.time_reading += timer.elapsed();
        let post_ref = post.as_ref().unwrap_or(&pre);
        let post_v = Valuation::new(post_ref, world.prices());
        invariants.check_transition(step, &world, &action, &executed, &pre, &pre_v, post_ref);
        invariants.check_state(step, &world, post_ref, &post_v);
        invariants.observe_insolvent(step, post_ref, &post_v);

        let verbose = config.verbose_from.is_some_and(|from| step >= from);
        let described = describe(&action, &world);
        if verbose {
            writeln!(out, "[{step}] {described} -> {outcome}")?;
            if let (Some(sent), Action::Liquidate { .. }) = (&executed.sent, &action) {
                for e in events::slices(&sent.logs) {
                    writeln!(out, "    slice: {e:?}")?;
                }
            }
            writeln!(out, "{}", state_line(&world, post_ref, &post_v))?;
        }
        if recent.len() == 12 {
            recent.pop_front();
        }
        recent.push_back(format!("[{step}] {described} -> {outcome}"));

        let failures: Vec<Failure> = invariants.step_failures.drain(..).collect();
        for failure in failures {
            let first_of_kind = !report.failures.iter().any(|f| f.failure.invariant == failure.invariant);
            if first_of_kind {
                report.failures.push(FailureReport {
                    failure: failure.clone(),
                    action: described.clone(),
                    outcome: outcome.clone(),
                });
            }
            if first_of_kind || !config.keep_going {
                writeln!(out, "\nFAILURE seed {} step {step}: {}", config.seed, failure.invariant)?;
                writeln!(out, "  action:  {described} -> {outcome}")?;
                if let Some(reason) = &executed.must_fail {
                    writeln!(out, "  (the program had to refuse it: {reason})")?;
                }
                writeln!(out, "  check:   {}", failure.message)?;
                writeln!(
                    out,
                    "  replay:  microliq-fuzz --seed {} --steps {step} --verbose-from {}",
                    config.seed,
                    step.saturating_sub(20).max(1)
                )?;
                if !verbose {
                    writeln!(out, "  state after the step:\n{}", state_line(&world, post_ref, &post_v))?;
                    writeln!(out, "  the steps before:")?;
                    for line in recent.iter().rev().skip(1).take(8).collect::<Vec<_>>().into_iter().rev() {
                        writeln!(out, "    {line}")?;
                    }
                }
            }
            if !config.keep_going {
                stop = true;
            }
        }
        if let Some(every) = config.report_every {
            if every > 0 && step % every == 0 {
                writeln!(
                    out,
                    "step {step}: {:.0} steps/s, {} failures, SOL {:.2} BTC {:.2}, pool {:.2}, fund {:.2}, socialized {:.2}",
                    step as f64 / start.elapsed().as_secs_f64(),
                    invariants.total_failures(),
                    world.oracles[0].dollars,
                    world.oracles.get(1).map(|o| o.dollars).unwrap_or(0.0),
                    post_ref.exchange.pool_balance as f64 / 1e6,
                    post_ref.fund.balance as f64 / 1e6,
                    post_ref.exchange.total_socialized_loss as f64 / 1e6
                )?;
            }
        }
        if let Some(post) = post {
            pre = post;
        }
        pre_v = post_v;
    }
    report.steps_run = step;
    report.elapsed = start.elapsed();
    report.invariants = invariants;
    Ok(report)
}
