//! A short fixed-seed fuzz run (2,500 steps, a few seconds in the debug build): fails if any
//! invariant fails. The summary (actions, refusals by error, invariants) goes to stderr;
//! `cargo test -p microliq-fuzz -- --nocapture` shows it.

use microliq_fuzz::{run, Config};

#[tokio::test]
async fn short_fuzz_run_keeps_every_invariant() {
    let mut config = Config::new(5, 2_500);
    config.keep_going = true;
    let mut out = std::io::stderr();
    let report = run(&config, &mut out).await.expect("harness");
    report.print(&mut out).unwrap();
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("  {} first at step {}: {}", f.failure.invariant, f.failure.step, f.failure.message))
        .collect();
    assert!(
        !report.failed(),
        "{} invariant failure(s) in seed {}:\n{}\nreplay: cargo run -p microliq-fuzz --profile perf -- --seed {} --steps <step> --verbose-from <step - 20>",
        report.invariants.total_failures(),
        report.seed,
        failures.join("\n"),
        report.seed
    );
}
