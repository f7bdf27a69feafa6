//! `microliq-fuzz`: runs the stateful fuzzer and prints its summary. Exits 1 when an invariant
//! failed, 2 on a harness error.

use std::io::{self, Write};

use clap::Parser;
use microliq_fuzz::{run, Config};

#[derive(Parser, Debug)]
#[command(name = "microliq-fuzz", about = "Stateful adversarial fuzzer for Microliq (in-process runtime)")]
struct Args {
    /// Seed of the run's one ChaCha RNG: the same seed replays the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Steps to run (stop at a failing step to inspect it).
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    /// Log every action, its outcome and the state after it, from this step on.
    #[arg(long)]
    verbose_from: Option<u64>,
    /// Print a progress line every N steps.
    #[arg(long)]
    report_every: Option<u64>,
    /// Keep going past failures, counting them per invariant (default: stop at the first).
    #[arg(long)]
    keep_going: bool,
    /// Read every watched account after every transaction (default: only those it lists as
    /// writable; the runtime lets it change no other).
    #[arg(long)]
    full_reads: bool,
    /// Price both markets with legacy Pyth accounts instead of `PriceUpdateV2`.
    #[arg(long)]
    legacy_oracles: bool,
    /// Let the program's own stdout output through (natively, `msg!` lines print to stdout).
    #[arg(long)]
    program_output: bool,
}

fn main() {
    let args = Args::parse();
    let mut out: Box<dyn Write> = if args.program_output {
        Box::new(io::stdout())
    } else {
        microliq_client::quiet::story_stdout().unwrap_or_else(|_| Box::new(io::stdout()))
    };
    let mut config = Config {
        seed: args.seed,
        steps: args.steps,
        verbose_from: args.verbose_from,
        report_every: args.report_every,
        keep_going: args.keep_going,
        full_reads: args.full_reads,
        ..Config::new(args.seed, args.steps)
    };
    if args.legacy_oracles {
        config.world.oracle_kind = microliq::oracle::OracleKind::PythLegacy;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(run(&config, &mut *out));
    match result {
        Ok(report) => {
            report.print(&mut *out).expect("print report");
            out.flush().ok();
            std::process::exit(if report.failed() { 1 } else { 0 });
        }
        Err(error) => {
            writeln!(out, "harness error: {error:#}").ok();
            out.flush().ok();
            std::process::exit(2);
        }
    }
}
