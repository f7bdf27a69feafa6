//! `microliq-localnet`: a real local validator with Microliq, its exchange and a price feeder;
//! `microliq-localnet reaction`: the end-to-end reaction time of the event-driven keeper on it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use microliq_localnet::{start, Feeder, LocalnetConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracing::{info, warn};

#[derive(Parser)]
#[command(name = "microliq-localnet", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    start: StartArgs,
}

#[derive(clap::Args, Clone)]
struct StartArgs {
    /// Ledger directory (kept between runs: a second start on it restarts the same chain).
    #[arg(long, default_value = "target/localnet/ledger")]
    ledger: PathBuf,
    /// Start from an empty ledger (deletes the directory first).
    #[arg(long)]
    reset: bool,
    /// JSON-RPC port; the websocket is on the next one.
    #[arg(long, default_value_t = 8899)]
    rpc_port: u16,
    /// Traders seeded on a fresh ledger (one position each, 2–8x, random side).
    #[arg(long, default_value_t = 40)]
    traders: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// How the prices move: hold them (republished to stay fresh), a seeded random walk, or a
    /// CSV's moves (`timestamp_utc,sol,btc`, scaled to start at the current prices).
    #[arg(long, value_enum, default_value_t = Feed::Hold)]
    feed: Feed,
    /// The CSV of `--feed csv`.
    #[arg(long)]
    prices: Option<PathBuf>,
    /// Milliseconds between price updates.
    #[arg(long, default_value_t = 2_000)]
    feed_interval_ms: u64,
    /// Volatility of `--feed walk` per update (fraction).
    #[arg(long, default_value_t = 0.004)]
    walk_vol: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Feed {
    Hold,
    Walk,
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// Starts the validator and keeps it running (the default).
    Start,
    /// End-to-end reaction benchmark: the time from a price update landing to the keeper's
    /// slice landing, over `--rounds` crafted accounts, on a fresh validator.
    Reaction {
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Idle margin accounts seeded beside the crafted ones.
        #[arg(long, default_value_t = 200)]
        background: usize,
        #[arg(long, default_value = "target/localnet/reaction-ledger")]
        ledger: PathBuf,
        /// The keeper's commitment: processed, confirmed or finalized.
        #[arg(long, default_value = "confirmed")]
        commitment: String,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,solana=warn,agave=warn,solana_metrics=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Start) {
        Command::Start => run_start(cli.start),
        Command::Reaction { rounds, background, ledger, commitment } => {
            let report = microliq_localnet::reaction::run(&ledger, rounds, background, &commitment)?;
            // The validator crate prints its own lines on stdout: the report is one JSON line,
            // last, marked.
            println!("reaction: {}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}

fn run_start(args: StartArgs) -> Result<()> {
    if args.reset && args.ledger.exists() {
        std::fs::remove_dir_all(&args.ledger)
            .with_context(|| format!("removing {}", args.ledger.display()))?;
    }
    if matches!(args.feed, Feed::Csv) && args.prices.is_none() {
        bail!("--feed csv needs --prices FILE");
    }
    let config = LocalnetConfig::with_default_programs(args.ledger.clone(), Some(args.rpc_port));
    let started = Instant::now();
    let localnet = start(&config, args.traders, args.seed)?;
    let manifest = &localnet.manifest;
    println!(
        "Microliq local validator is running ({:.1} s to start, {:.1} s with the exchange)",
        localnet.start_secs,
        started.elapsed().as_secs_f64()
    );
    println!("  JSON-RPC   {}", manifest.rpc_url);
    println!("  websocket  {}", manifest.ws_url);
    println!("  program    {}", manifest.program_id);
    println!("  quote mint {}", manifest.quote_mint);
    println!("  exchange   {}", manifest.exchange);
    for m in &manifest.markets {
        println!("  market {} {:<9} {}  price account {}", m.index, m.name, m.market, m.oracle);
    }
    println!("  keeper     {} (token {})", manifest.keeper_keypair, manifest.keeper_token);
    println!("  manifest   {}", args.ledger.join("localnet.json").display());
    println!("Run the keeper against it:");
    println!(
        "  cargo run -p microliq-keeper --release -- run --rpc {} --keypair {} --quote-mint {} --keeper-token {}",
        manifest.rpc_url, manifest.keeper_keypair, manifest.quote_mint, manifest.keeper_token
    );
    println!(
        "Ctrl-C stops the validator; the ledger stays in {} (--reset starts afresh).",
        args.ledger.display()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let feeder = Feeder::new(manifest);
    let rpc = microliq_localnet::rpc_client(&manifest.rpc_url);
    let mut prices: Vec<f64> = manifest.markets.iter().map(|m| m.price_usd).collect();
    // Prices of a restarted ledger: what the feed accounts hold now.
    runtime.block_on(async {
        for (i, m) in manifest.markets.iter().enumerate() {
            if let Ok(data) = rpc.get_account_data(&m.oracle_key()).await {
                if data.len() >= 81 {
                    let mantissa = i64::from_le_bytes(data[73..81].try_into().unwrap_or_default());
                    if mantissa > 0 {
                        prices[i] = mantissa as f64 / 1e8;
                    }
                }
            }
        }
    });
    let path: Option<Vec<Vec<f64>>> = match (args.feed, &args.prices) {
        (Feed::Csv, Some(file)) => {
            let series = microliq_keeper::simulate::read_prices_csv(file)?;
            let first = series.rows.first().cloned().context("empty CSV")?;
            Some(
                series
                    .rows
                    .iter()
                    .map(|row| row.iter().zip(&first).zip(&prices).map(|((p, f), now)| now * p / f).collect())
                    .collect(),
            )
        }
        _ => None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut step = 0usize;
    runtime.block_on(async {
        let interval = Duration::from_millis(args.feed_interval_ms.max(200));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = tokio::time::sleep(interval) => {}
            }
            match (args.feed, &path) {
                (Feed::Hold, _) => {}
                (Feed::Walk, _) => {
                    for p in prices.iter_mut() {
                        let z: f64 = rng.gen_range(-1.0..1.0) * 3f64.sqrt();
                        *p *= (args.walk_vol * z).exp();
                    }
                }
                (Feed::Csv, Some(rows)) => {
                    if step >= rows.len() {
                        info!("price path replayed; holding the last prices");
                    } else {
                        prices = rows[step].clone();
                    }
                }
                (Feed::Csv, None) => unreachable!(),
            }
            step += 1;
            match feeder.publish_all(&rpc, &prices).await {
                Ok(_) => info!(step, sol = prices[0], btc = prices[1], "prices published"),
                Err(error) => warn!(%error, "publishing prices failed"),
            }
        }
    });
    println!("stopping the validator");
    drop(localnet);
    Ok(())
}
