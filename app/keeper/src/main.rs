use std::io::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, Context as _, Result};
use clap::{Parser, Subcommand};
use microliq_client::ix::ExchangeAddresses;
use microliq_keeper::chain::RpcChain;
use microliq_keeper::keeper::{run_pass_with, KeeperConfig, Liquidator};
use microliq_keeper::{bench, demo, node, simulate};
use solana_sdk::signature::{read_keypair_file, Signer};
use tracing::{info, warn};

/// Microliq keeper: liquidates under-margined accounts slice by slice. Without a subcommand it
/// runs the embedded demo.
#[derive(Parser)]
#[command(name = "microliq-keeper", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The default job: an exchange on the in-process runtime, a few dozen traders, a price
    /// crash, and the keeper liquidating in slices. Needs no setup.
    Demo {
        /// Also write the summary as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, default_value_t = 36)]
        traders: usize,
        #[arg(long, default_value_t = 40)]
        steps: usize,
        /// Chain time per price step in seconds (funding accrues over it).
        #[arg(long, default_value_t = 30)]
        step_secs: i64,
    },
    /// The real keeper against a cluster: event-driven (websocket subscriptions, a periodic
    /// snapshot as a failsafe) unless `--poll`.
    Run {
        /// JSON-RPC URL of the cluster.
        #[arg(long)]
        rpc: String,
        /// Websocket URL (default: the RPC URL with ws:// and port + 1, as the validator serves).
        #[arg(long)]
        ws: Option<String>,
        /// The keeper's keypair file (signs and pays fees).
        #[arg(long)]
        keypair: PathBuf,
        #[arg(long, default_value_t = microliq::ID)]
        program_id: Pubkey,
        /// The exchange's quote mint (the exchange is the PDA `["exchange", quote_mint]`).
        #[arg(long)]
        quote_mint: Pubkey,
        /// Token account (quote mint) that receives the bonus; defaults to the keeper's
        /// associated token account.
        #[arg(long)]
        keeper_token: Option<Pubkey>,
        /// Poll `getProgramAccounts` every `--interval-ms` instead of subscribing (the first
        /// keeper's loop; also the mode that posts pull-market prices from `--hermes`).
        #[arg(long)]
        poll: bool,
        /// Event-driven: the priority fee is this percentile of recent fees on the markets...
        #[arg(long, default_value_t = 75)]
        fee_percentile: u32,
        /// ...at least this (micro-lamports per CU)...
        #[arg(long, default_value_t = 0)]
        priority_fee_floor: u64,
        /// ...and at most this.
        #[arg(long, default_value_t = 100_000)]
        priority_fee_cap: u64,
        /// Event-driven: seconds between failsafe snapshots.
        #[arg(long, default_value_t = 60)]
        snapshot_secs: u64,
        /// Event-driven: most transactions in flight at once (one per account at most).
        #[arg(long, default_value_t = 32)]
        max_in_flight: usize,
        /// Event-driven: Prometheus metrics address (loopback only; "off" for none).
        #[arg(long, default_value = "127.0.0.1:9464")]
        metrics: String,
        /// processed, confirmed or finalized.
        #[arg(long, default_value = "confirmed")]
        commitment: String,
        /// Polling: micro-lamports per compute unit.
        #[arg(long, default_value_t = 1_000)]
        priority_fee: u64,
        /// Polling: compute-unit limit of a liquidation with no other position (+15,000 per
        /// other market).
        #[arg(long, default_value_t = 120_000)]
        compute_unit_limit: u32,
        /// Polling: milliseconds between passes.
        #[arg(long, default_value_t = 2_000)]
        interval_ms: u64,
        /// Polling: run one pass and exit.
        #[arg(long)]
        once: bool,
        /// Polling: Hermes endpoint (e.g. https://hermes.pyth.network): for a pull market whose
        /// account no longer reads, post a fully verified update through Wormhole and the Pyth
        /// receiver before liquidating (docs/ORACLES.md). Without it such markets are skipped.
        #[arg(long)]
        hermes: Option<String>,
    },
    /// The cascade simulator: the same price paths under micro- and full liquidation.
    Simulate {
        /// Also write the results as JSON here (`micro` and `full` objects).
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 6)]
        paths: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Replay these prices instead (CSV with `timestamp_utc,sol,btc` columns, or one row per
        /// step, SOL then BTC in dollars), under `--paths` populations.
        #[arg(long)]
        prices: Option<PathBuf>,
        #[arg(long, default_value_t = 48)]
        steps: usize,
        #[arg(long, default_value_t = 30)]
        traders: usize,
        /// The SVG plot: prices (exogenous and impacted), liquidated notional, user equity.
        #[arg(long, default_value = "microliq-simulation.svg")]
        plot: PathBuf,
        /// Liquidation buffer β of both markets, in millionths (200000 = 20 %, the default).
        #[arg(long)]
        liquidation_buffer: Option<u32>,
        /// Chain time per step in seconds (funding accrues over it). Default: the CSV's own
        /// step (its `timestamp_utc` column), else 30 s.
        #[arg(long)]
        step_secs: Option<i64>,
        /// Price impact of liquidating one depth of notional in a step (fraction; 0 = exogenous
        /// prices, as before the impact model).
        #[arg(long, default_value_t = 0.1)]
        impact: f64,
        /// Depth of SOL's external venue, USD of notional.
        #[arg(long, default_value_t = 2_000_000.0)]
        depth_sol: f64,
        /// Depth of BTC's external venue, USD of notional.
        #[arg(long, default_value_t = 5_000_000.0)]
        depth_btc: f64,
        /// Steps for half of the accumulated impact to decay.
        #[arg(long, default_value_t = 2.0)]
        impact_half_life: f64,
        /// Add up each cascade round's own square-root impact (the first impact model) instead
        /// of taking the square root of the decayed liquidated volume as one metaorder.
        #[arg(long)]
        impact_additive: bool,
        /// Funding of both markets: rate per hour at full skew and its clamp, in millionths
        /// (`200,100` = 0.02 %/h clamped at 0.01 %/h, the markets' default; `0,0` = none).
        #[arg(long, value_parser = parse_funding)]
        funding: Option<microliq::state::FundingConfig>,
        /// Repeat-breach window in seconds: an account that falls below maintenance again
        /// within it after a liquidation slice is closed whole (0 = off).
        #[arg(long, default_value_t = simulate::DEFAULT_REPEAT_WINDOW_SECS)]
        repeat_window_secs: u64,
        /// Replays coarser than this many seconds per row are refined to about this step with a
        /// Brownian bridge between their closes (0 = replay the rows as they are).
        #[arg(long, default_value_t = simulate::DEFAULT_SUBSTEP_SECS)]
        substep_secs: i64,
    },
    /// Scan throughput: decode + health + rank of synthetic accounts on one core.
    Bench {
        #[arg(long, default_value_t = 100_000)]
        accounts: usize,
    },
    /// Reaction benchmark of the event-driven keeper: price update to signed transactions, with
    /// this many accounts in its index (comma-separated sizes).
    BenchReaction {
        #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
        accounts: Vec<usize>,
        /// Price updates per size.
        #[arg(long, default_value_t = 200)]
        updates: usize,
        /// Each update's fall, basis points.
        #[arg(long, default_value_t = 5)]
        step_bps: u32,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// `SCALE,MAX` (millionths per hour) as funding parameters, validated like the program does.
fn parse_funding(text: &str) -> std::result::Result<microliq::state::FundingConfig, String> {
    let (scale, max) = text.split_once(',').ok_or("expected SCALE,MAX")?;
    let config = microliq::state::FundingConfig {
        rate_scale: scale.trim().parse().map_err(|e| format!("{e}"))?,
        max_rate: max.trim().parse().map_err(|e| format!("{e}"))?,
    };
    config
        .validate()
        .map_err(|_| "out of bounds: scale ≤ 100000, max ≤ 10000, both 0 or both > 0".to_string())?;
    Ok(config)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Some(Command::Run { .. }) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            // tarpc (inside the in-process runtime) warns on every request without OpenTelemetry.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| format!("{default_level},tarpc=error").into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let embedded = !matches!(
        cli.command,
        Some(Command::Run { .. }) | Some(Command::Bench { .. }) | Some(Command::BenchReaction { .. })
    );
    // Natively, the program's `msg!` lines go to stdout (on chain they go to the transaction
    // log): the embedded commands write their own output to a copy of stdout and send fd 1 to
    // /dev/null while the runtime runs.
    let mut stdout: Box<dyn std::io::Write> =
        if embedded { microliq_client::quiet::story_stdout()? } else { Box::new(std::io::stdout()) };
    match cli.command.unwrap_or(Command::Demo { json: None, seed: 7, traders: 36, steps: 40, step_secs: 30 })
    {
        Command::Demo { json, seed, traders, steps, step_secs } => {
            let config = demo::DemoConfig { seed, traders, steps, step_secs };
            let summary = runtime.block_on(demo::run(&config, &mut stdout))?;
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&summary)?)?;
                writeln!(stdout, "\nsummary written to {}", path.display())?;
            }
        }
        Command::Simulate {
            json,
            paths,
            seed,
            prices,
            steps,
            traders,
            plot,
            liquidation_buffer,
            step_secs,
            impact,
            depth_sol,
            depth_btc,
            impact_half_life,
            impact_additive,
            funding,
            repeat_window_secs,
            substep_secs,
        } => {
            let config = simulate::SimulateConfig {
                seed,
                paths,
                steps,
                traders,
                prices_csv: prices,
                plot: Some(plot),
                liquidation_buffer,
                step_secs,
                impact: simulate::ImpactConfig {
                    coefficient: impact,
                    depth_usd: [depth_sol, depth_btc],
                    half_life_steps: impact_half_life,
                    additive: impact_additive,
                },
                funding,
                repeat_window_secs,
                substep_secs,
            };
            let report = runtime.block_on(simulate::run(&config, &mut stdout))?;
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
                writeln!(stdout, "results written to {}", path.display())?;
            }
        }
        Command::Bench { accounts } => {
            bench::run(accounts, &mut stdout)?;
        }
        Command::BenchReaction { accounts, updates, step_bps, json } => {
            let results = bench::run_reaction(&accounts, updates, step_bps, &mut stdout)?;
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
            }
        }
        Command::Run {
            rpc,
            ws,
            keypair,
            program_id,
            quote_mint,
            keeper_token,
            poll,
            fee_percentile,
            priority_fee_floor,
            priority_fee_cap,
            snapshot_secs,
            max_in_flight,
            metrics,
            commitment,
            priority_fee,
            compute_unit_limit,
            interval_ms,
            once,
            hermes,
        } => {
            if program_id != microliq::ID {
                return Err(anyhow!(
                    "this build derives PDAs for program {}; rebuild with the other id in declare_id!",
                    microliq::ID
                ));
            }
            let keeper =
                read_keypair_file(&keypair).map_err(|e| anyhow!("reading {}: {e}", keypair.display()))?;
            let keeper_token = keeper_token.unwrap_or_else(|| {
                anchor_spl::associated_token::get_associated_token_address(&keeper.pubkey(), &quote_mint)
            });
            let liquidator =
                Liquidator { keeper, keeper_token, addresses: ExchangeAddresses::derive(quote_mint) };
            if !poll {
                let commitment = solana_sdk::commitment_config::CommitmentConfig::from_str(&commitment)
                    .map_err(|_| anyhow!("--commitment: processed, confirmed or finalized"))?;
                let mut config =
                    node::NodeConfig::new(rpc.clone(), ws.unwrap_or_else(|| node::default_ws_url(&rpc)));
                config.program_id = program_id;
                config.commitment = commitment;
                config.fee_percentile = fee_percentile;
                config.priority_fee_floor = priority_fee_floor;
                config.priority_fee_cap = priority_fee_cap;
                config.snapshot_secs = snapshot_secs;
                config.engine.max_in_flight = max_in_flight;
                config.metrics_addr = match metrics.as_str() {
                    "off" | "" => None,
                    addr => Some(addr.parse().context("--metrics: an address like 127.0.0.1:9464")?),
                };
                info!(keeper = %liquidator.keeper.pubkey(), exchange = %liquidator.addresses.exchange, rpc = %config.rpc_url, ws = %config.ws_url, "keeper started");
                let runtime =
                    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                runtime.block_on(async {
                    let (stop_tx, stop) = tokio::sync::watch::channel(false);
                    tokio::spawn(async move {
                        let _ = tokio::signal::ctrl_c().await;
                        let _ = stop_tx.send(true);
                    });
                    let report = node::run(config, liquidator, Default::default(), stop).await?;
                    info!(slices = report.slices.len(), resolved = report.resolved.len(), failures = ?report.failures, "keeper stopped");
                    Ok::<(), anyhow::Error>(())
                })?;
                return Ok(());
            }
            let config = KeeperConfig { priority_fee, compute_unit_limit, ..KeeperConfig::default() };
            let mut chain = RpcChain::new(rpc, program_id);
            let mut updater = hermes.map(microliq_keeper::pull::HermesUpdater::new);
            info!(keeper = %liquidator.keeper.pubkey(), exchange = %liquidator.addresses.exchange, "keeper started (polling)");
            runtime.block_on(async {
                loop {
                    let updater = updater.as_mut().map(|u| u as &mut dyn microliq_keeper::pull::PriceUpdater);
                    match run_pass_with(&mut chain, &liquidator, &config, updater).await {
                        Ok(report) => info!(
                            scanned = report.scanned,
                            liquidatable = report.liquidatable.len(),
                            slices = report.slices.len(),
                            failures = report.failures.len(),
                            "pass done"
                        ),
                        Err(error) => warn!(%error, "pass failed"),
                    }
                    if once {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(interval_ms)).await;
                }
                Ok::<(), anyhow::Error>(())
            })?;
        }
    }
    Ok(())
}

#[allow(dead_code)]
fn parse_pubkey(s: &str) -> Result<Pubkey> {
    Pubkey::from_str(s).context("not a public key")
}
