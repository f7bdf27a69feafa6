//! A short fixed-seed fuzz run (2,500 steps, a few seconds in the debug build): fails if any
//! invariant fails. The summary (actions, refusals by error, invariants) goes to stderr;
//! `cargo test -p microliq-fuzz -- --nocapture` shows it.

use microliq_fuzz::{run, Config};

#[tokio::test]
async fn short_fuzz_run_keeps_every_invariant() {
    short_run(Config::new(5, 2_500)).await;
}

/// The same on legacy Pyth price accounts (markets listed before the PriceUpdateV2 migration).
#[tokio::test]
async fn short_fuzz_run_on_legacy_oracles_keeps_every_invariant() {
    let mut config = Config::new(6, 2_500);
    config.world.oracle_kind = microliq::oracle::OracleKind::PythLegacy;
    short_run(config).await;
}

async fn short_run(mut config: Config) {
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

/// The checks have teeth: a tampered ledger, collateral and open interest, and a failed
/// transaction that changed an account, are each reported under their invariant.
#[tokio::test]
async fn the_checks_catch_tampered_state() {
    use microliq_fuzz::actions::Action;
    use microliq_fuzz::exec::Executed;
    use microliq_fuzz::invariants::Invariants;
    use microliq_fuzz::snapshot::Valuation;
    use microliq_fuzz::world::{Sent, World, WorldConfig};

    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "error");
    }
    let world = World::new(&WorldConfig::default()).await.expect("world");
    let clean = world.snapshot().await.expect("snapshot");
    let valuation = Valuation::new(&clean, world.prices());
    let mut invariants = Invariants::new(world.accounts.len());
    invariants.check_state(0, &world, &clean, &valuation);
    assert!(invariants.step_failures.is_empty(), "{:?}", invariants.step_failures);

    let mut tampered = clean.clone();
    tampered.exchange.pool_balance += 1;
    tampered.accounts[0].collateral -= 1;
    tampered.markets[0].long_base += 1;
    let tampered_valuation = Valuation::new(&tampered, world.prices());
    invariants.check_state(1, &world, &tampered, &tampered_valuation);
    let failed: Vec<&str> = invariants.step_failures.drain(..).map(|f| f.invariant).collect();
    for name in [
        "1a.quote_vault_eq_collateral_plus_pool",
        "3a.sum_collateral_eq_total_collateral",
        "4.open_interest_eq_sum_of_positions",
    ] {
        assert!(failed.contains(&name), "{name} not reported: {failed:?}");
    }

    let mut changed = clean.clone();
    changed.raw[0].as_mut().expect("exchange").data[100] ^= 1;
    let executed = Executed {
        sent: Some(Sent {
            result: Err(solana_sdk::transaction::TransactionError::AccountInUse),
            logs: Vec::new(),
            writable: Vec::new(),
        }),
        must_fail: None,
    };
    invariants.check_transition(2, &world, &Action::KeeperIdle, &executed, &clean, &valuation, &changed);
    let failed: Vec<&str> = invariants.step_failures.drain(..).map(|f| f.invariant).collect();
    assert_eq!(failed, vec!["8.failed_tx_changed_nothing"]);
}
