//! A short fixed-seed fuzz run: fails if any invariant fails. The summary (actions, refusals,
//! invariants) is printed on stderr; `cargo test -p microliq-fuzz -- --nocapture` shows it.

use microliq_fuzz::{run, Config};

#[tokio::test]
async fn short_fuzz_run_keeps_every_invariant() {
    let mut config = Config::new(7, 2_500);
    config.keep_going = true;
    let mut out = std::io::stderr();
    let report = run(&config, &mut out).await.expect("harness");
    report.print(&mut out).unwrap();
    assert!(
        !report.failed(),
        "{} invariant failure(s) in seed {}; replay with `cargo run -p microliq-fuzz --release -- --seed {} --steps <step> --verbose-from <step-20>`",
        report.invariants.total_failures(),
        report.seed,
        report.seed
    );
}
