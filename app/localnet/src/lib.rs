//! A real local Solana validator for Microliq: the `solana-test-validator` crate (agave 2.3, an
//! in-process validator with JSON-RPC and websocket servers on 127.0.0.1) with Microliq's SBF
//! program, the SPL Token program it ships, a quote mint, an exchange with SOL and BTC markets
//! priced by `PriceUpdateV2` accounts at the push oracle's feed addresses, a funded pool and
//! insurance fund, and optionally a seeded population of traders. A [`Feeder`] moves the prices.
//!
//! Prices: a local validator has neither Wormhole nor Pyth's programs, so the feed accounts are
//! written by a stand-in (`programs/localnet-oracle`, loaded at the receiver's and the push
//! oracle's program ids) in the receiver's exact format. Microliq reads them with every mainnet
//! check (owner, pinned address, discriminator, `Full` verification, feed id, staleness).
//!
//! Everything needed to reconnect (keypairs, addresses) is written to `<ledger>/localnet.json`,
//! so a validator restarted on the same ledger keeps its exchange.

pub mod harness;
pub mod reaction;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::program_pack::Pack;
use anchor_spl::token::spl_token;
use anyhow::{anyhow, bail, Context as _, Result};
use microliq::instructions::OracleConfig;
use microliq::oracle::{OracleKind, OracleMode};
use microliq::state::MarginAccount;
use microliq_client::ix::{self, ExchangeAddresses};
use microliq_client::{MarketSpec, BTC_USD_FEED_ID, PYTH_PROGRAM, SOL_USD_FEED_ID, USDC};
use microliq_localnet_oracle as oracle;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_sdk::commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{read_keypair_file, write_keypair_file, Keypair, Signature, Signer};
#[allow(deprecated)]
use solana_sdk::system_instruction;
use solana_sdk::transaction::Transaction;
use solana_streamer::socket::SocketAddrSpace;
use solana_test_validator::{TestValidator, TestValidatorGenesis, UpgradeableProgramInfo};

/// Where to find the two SBF programs and where to keep the ledger.
#[derive(Clone, Debug)]
pub struct LocalnetConfig {
    pub ledger: PathBuf,
    /// JSON-RPC port (websocket = port + 1); `None` picks free ports.
    pub rpc_port: Option<u16>,
    /// Microliq's SBF build for the agave 2.x runtime (`SBPF_ARCH=v0` with the sbf-kit).
    pub microliq_so: PathBuf,
    /// The price stand-in's SBF build.
    pub oracle_so: PathBuf,
}

impl LocalnetConfig {
    /// The `.so` files where `scripts/localnet-e2e.sh` and `scripts/localnet.sh` build them
    /// (`$MICROLIQ_SO_V0` / `$ORACLE_SO_V0` override).
    pub fn with_default_programs(ledger: PathBuf, rpc_port: Option<u16>) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let deploy = root.join("target/sbf-kit-v0/deploy");
        let pick = |var: &str, name: &str| {
            std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| deploy.join(name))
        };
        LocalnetConfig {
            ledger,
            rpc_port,
            microliq_so: pick("MICROLIQ_SO_V0", "microliq.so"),
            oracle_so: pick("ORACLE_SO_V0", "microliq_localnet_oracle.so"),
        }
    }
}

/// One market of the local exchange.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LocalMarket {
    pub index: u16,
    pub name: String,
    pub market: String,
    pub oracle: String,
    pub feed_id: String,
    pub base_decimals: u8,
    pub price_usd: f64,
}

impl LocalMarket {
    pub fn market_key(&self) -> Pubkey {
        self.market.parse().expect("market address")
    }
    pub fn oracle_key(&self) -> Pubkey {
        self.oracle.parse().expect("oracle address")
    }
    pub fn feed(&self) -> [u8; 32] {
        microliq_client::feed_id_from_hex(&self.feed_id).expect("feed id")
    }
}

/// What `<ledger>/localnet.json` records.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub rpc_url: String,
    pub ws_url: String,
    pub program_id: String,
    pub quote_mint: String,
    pub exchange: String,
    pub markets: Vec<LocalMarket>,
    /// Genesis mint, payer of setup, quote mint authority, exchange admin and price authority.
    pub authority_keypair: String,
    /// A funded keeper with a quote token account.
    pub keeper_keypair: String,
    pub keeper_token: String,
    pub traders: usize,
}

impl Manifest {
    pub fn addresses(&self) -> ExchangeAddresses {
        ExchangeAddresses::derive(self.quote_mint.parse().expect("quote mint"))
    }
    pub fn authority(&self) -> Keypair {
        read_keypair_file(&self.authority_keypair).expect("authority keypair")
    }
    pub fn keeper(&self) -> Keypair {
        read_keypair_file(&self.keeper_keypair).expect("keeper keypair")
    }
}

/// A running local validator with Microliq deployed and its exchange set up.
pub struct Localnet {
    pub validator: TestValidator,
    pub manifest: Manifest,
    pub config: LocalnetConfig,
    /// Seconds the validator took to start (genesis or ledger replay included).
    pub start_secs: f64,
}

fn manifest_path(ledger: &Path) -> PathBuf {
    ledger.join("localnet.json")
}

/// Starts (or, on an existing ledger, restarts) the validator. Blocking: call it outside any
/// async runtime (the validator starts its own), e.g. from `spawn_blocking`.
pub fn start_validator(config: &LocalnetConfig) -> Result<(TestValidator, Keypair, f64)> {
    for so in [&config.microliq_so, &config.oracle_so] {
        if !so.exists() {
            bail!(
                "{} not found: build the SBF programs for the local validator first \
                 (scripts/localnet.sh or scripts/localnet-e2e.sh do: SBPF_ARCH=v0 scripts/build-sbf.sh)",
                so.display()
            );
        }
    }
    std::fs::create_dir_all(&config.ledger)?;
    let authority_path = config.ledger.join("authority.json");
    let existing = TestValidatorGenesis::ledger_exists(&config.ledger);
    let authority = if existing {
        read_keypair_file(&authority_path).map_err(|e| anyhow!("{}: {e}", authority_path.display()))?
    } else {
        let authority = Keypair::new();
        write_keypair_file(&authority, &authority_path).map_err(|e| anyhow!("{e}"))?;
        authority
    };
    let mut genesis = TestValidatorGenesis::default();
    genesis.ledger_path(&config.ledger);
    // Keepers read their transactions' events back (`getTransaction` with the log messages,
    // which a node keeps only with extended metadata storage).
    genesis.rpc_config(solana_rpc::rpc::JsonRpcConfig {
        enable_rpc_transaction_history: true,
        enable_extended_tx_metadata_storage: true,
        ..solana_rpc::rpc::JsonRpcConfig::default_for_test()
    });
    if let Some(port) = config.rpc_port {
        genesis.rpc_port(port);
    }
    let program = |program_id: Pubkey, path: &Path| UpgradeableProgramInfo {
        program_id,
        loader: solana_sdk::bpf_loader_upgradeable::id(),
        upgrade_authority: authority.pubkey(),
        program_path: path.to_path_buf(),
    };
    genesis.add_upgradeable_programs_with_path(&[
        program(microliq::ID, &config.microliq_so),
        program(oracle::RECEIVER_PROGRAM, &config.oracle_so),
        program(oracle::PUSH_ORACLE_PROGRAM, &config.oracle_so),
    ]);
    let started = Instant::now();
    let validator = genesis
        .start_with_mint_address(authority.pubkey(), SocketAddrSpace::new(true))
        .map_err(|e| anyhow!("the validator did not start: {e}"))?;
    Ok((validator, authority, started.elapsed().as_secs_f64()))
}

/// A nonblocking RPC client at `confirmed`.
pub fn rpc_client(url: &str) -> RpcClient {
    RpcClient::new_with_commitment(url.to_string(), CommitmentConfig::confirmed())
}

/// Sends one transaction and waits until it is confirmed.
pub async fn send(rpc: &RpcClient, instructions: &[Instruction], signers: &[&Keypair]) -> Result<Signature> {
    let payer = signers.first().ok_or_else(|| anyhow!("no signer"))?;
    let blockhash = rpc.get_latest_blockhash().await?;
    let tx = Transaction::new_signed_with_payer(instructions, Some(&payer.pubkey()), signers, blockhash);
    rpc.send_and_confirm_transaction(&tx).await.map_err(|e| anyhow!("{e}"))
}

/// Sends every transaction at once, then waits until all are confirmed (setup of many traders).
pub async fn send_all(rpc: &RpcClient, transactions: Vec<(Vec<Instruction>, Vec<Keypair>)>) -> Result<()> {
    let blockhash = rpc.get_latest_blockhash().await?;
    let mut signatures = Vec::new();
    for (instructions, signers) in &transactions {
        let refs: Vec<&Keypair> = signers.iter().collect();
        let tx = Transaction::new_signed_with_payer(instructions, Some(&refs[0].pubkey()), &refs, blockhash);
        signatures.push(rpc.send_transaction(&tx).await.map_err(|e| anyhow!("{e}"))?);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for chunk in signatures.chunks(200) {
        loop {
            let statuses = rpc.get_signature_statuses(chunk).await?.value;
            if let Some(error) = statuses.iter().flatten().find_map(|s| s.err.clone()) {
                bail!("a setup transaction failed: {error:?}");
            }
            if statuses
                .iter()
                .all(|s| s.as_ref().is_some_and(|s| s.satisfies_commitment(CommitmentConfig::confirmed())))
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("setup transactions not confirmed within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Creates `account`, a token account of `mint` owned by `owner`, paid by `payer`.
fn token_account_instructions(
    payer: &Pubkey,
    account: &Pubkey,
    mint: &Pubkey,
    owner: &Pubkey,
    rent: u64,
) -> Result<[Instruction; 2]> {
    Ok([
        system_instruction::create_account(
            payer,
            account,
            rent,
            spl_token::state::Account::LEN as u64,
            &spl_token::ID,
        ),
        spl_token::instruction::initialize_account(&spl_token::ID, account, mint, owner)?,
    ])
}

/// Funds `owner` with `lamports`, creates its quote token account `token` and mints `quote` atoms
/// into it (the authority pays and mints).
fn wallet_instructions(
    authority: &Pubkey,
    owner: &Pubkey,
    token: &Pubkey,
    quote_mint: &Pubkey,
    rent: u64,
    lamports: u64,
    quote: u64,
) -> Result<Vec<Instruction>> {
    let mut instructions = vec![system_instruction::transfer(authority, owner, lamports)];
    instructions.extend(token_account_instructions(authority, token, quote_mint, owner, rent)?);
    if quote > 0 {
        instructions.push(spl_token::instruction::mint_to(
            &spl_token::ID,
            quote_mint,
            token,
            authority,
            &[],
            quote,
        )?);
    }
    Ok(instructions)
}

/// The quote token account of a new wallet, funded with SOL and `quote` atoms.
pub async fn wallet(
    rpc: &RpcClient,
    authority: &Keypair,
    quote_mint: &Pubkey,
    quote: u64,
) -> Result<(Keypair, Pubkey)> {
    let owner = Keypair::new();
    let token = Keypair::new();
    let rent = rpc.get_minimum_balance_for_rent_exemption(spl_token::state::Account::LEN).await?;
    let instructions = wallet_instructions(
        &authority.pubkey(),
        &owner.pubkey(),
        &token.pubkey(),
        quote_mint,
        rent,
        2_000_000_000,
        quote,
    )?;
    send(rpc, &instructions, &[authority, &token]).await?;
    Ok((owner, token.pubkey()))
}

/// A trader of the local exchange: a wallet, its margin account, its collateral deposited.
pub struct LocalTrader {
    pub owner: Keypair,
    pub token: Pubkey,
    pub account: Pubkey,
}

/// Creates a margin account for a new wallet and deposits `collateral` atoms.
pub async fn trader(rpc: &RpcClient, manifest: &Manifest, collateral: u64) -> Result<LocalTrader> {
    let authority = manifest.authority();
    let ex = manifest.addresses();
    let (owner, token) = wallet(rpc, &authority, &ex.quote_mint, collateral).await?;
    let account = ex.margin_account(&owner.pubkey(), 0);
    let create = ix::CreateMarginAccount { owner: owner.pubkey(), id: 0 }.instruction(&ex);
    let deposit = ix::DepositCollateral {
        depositor: owner.pubkey(),
        margin_account: account,
        depositor_token: token,
        amount: collateral,
        health_accounts: Vec::new(),
    }
    .instruction(&ex);
    send(rpc, &[create, deposit], &[&owner]).await?;
    Ok(LocalTrader { owner, token, account })
}

/// Opens (or changes) `trader`'s position in `market` by `base_delta` atoms at the oracle price.
/// `others` are the `(market, oracle)` pairs of the trader's other positions, ascending.
pub async fn trade(
    rpc: &RpcClient,
    manifest: &Manifest,
    trader: &LocalTrader,
    market: u16,
    base_delta: i64,
    others: Vec<(Pubkey, Pubkey)>,
) -> Result<Signature> {
    let m = &manifest.markets[market as usize];
    let order = ix::PlaceOrder {
        trader: trader.owner.pubkey(),
        margin_account: trader.account,
        market: m.market_key(),
        oracle: m.oracle_key(),
        base_delta,
        limit_price: if base_delta > 0 { u64::MAX } else { 0 },
        health_accounts: others,
    }
    .instruction(&manifest.addresses());
    send(rpc, &[order], &[&trader.owner]).await
}

/// Reads and decodes a margin account.
pub async fn margin_account(rpc: &RpcClient, key: &Pubkey) -> Result<MarginAccount> {
    let data = rpc.get_account_data(key).await?;
    microliq_keeper::scan::decode(&data).ok_or_else(|| anyhow!("{key} is not a margin account"))
}

/// Moves the prices of the local exchange (the price authority signs).
pub struct Feeder {
    pub authority: Keypair,
    pub markets: Vec<LocalMarket>,
}

impl Feeder {
    pub fn new(manifest: &Manifest) -> Self {
        Feeder { authority: manifest.authority(), markets: manifest.markets.clone() }
    }

    /// The price message of `usd` dollars for `market` (exponent −8, a 0.01 % confidence band,
    /// the EMA at the price).
    pub fn price(&self, market: u16, usd: f64) -> oracle::Price {
        let mantissa = (usd * 1e8).round() as i64;
        oracle::Price {
            feed_id: self.markets[market as usize].feed(),
            price: mantissa,
            conf: (mantissa / 10_000) as u64,
            exponent: -8,
            ema_price: mantissa,
            ema_conf: (mantissa / 10_000) as u64,
        }
    }

    /// The write instruction that publishes `usd` for `market`.
    pub fn instruction(&self, market: u16, usd: f64) -> Instruction {
        let m = &self.markets[market as usize];
        oracle::write_instruction(&m.oracle_key(), &self.authority.pubkey(), &self.price(market, usd))
    }

    /// Publishes `usd` for `market` and waits for confirmation.
    pub async fn publish(&self, rpc: &RpcClient, market: u16, usd: f64) -> Result<Signature> {
        send(rpc, &[self.instruction(market, usd)], &[&self.authority]).await
    }

    /// Publishes every market's price in one transaction.
    pub async fn publish_all(&self, rpc: &RpcClient, usd: &[f64]) -> Result<Signature> {
        let instructions: Vec<Instruction> =
            usd.iter().enumerate().map(|(i, &p)| self.instruction(i as u16, p)).collect();
        send(rpc, &instructions, &[&self.authority]).await
    }
}

/// Sets up the exchange on a fresh validator: quote mint, exchange, SOL and BTC markets on
/// `PriceUpdateV2` feed accounts, a 1,000,000 USDC pool, 50,000 USDC insurance, a funded keeper,
/// and `traders` seeded traders (random sides and leverage 2–8x, seed `seed`).
pub async fn set_up_exchange(
    rpc: &RpcClient,
    authority: &Keypair,
    ledger: &Path,
    rpc_url: String,
    ws_url: String,
    traders: usize,
    seed: u64,
) -> Result<Manifest> {
    // Quote mint (USDC-like, 6 decimals), minted by the authority. Right after genesis a node
    // may not run its genesis programs yet ("Unsupported program id" for SPL Token in the first
    // slots, seen once in a cold run): wait for a few slots, then retry the first transaction.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rpc.get_slot().await.unwrap_or(0) < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mint = Keypair::new();
    let rent = rpc.get_minimum_balance_for_rent_exemption(spl_token::state::Mint::LEN).await?;
    let create_mint = [
        system_instruction::create_account(
            &authority.pubkey(),
            &mint.pubkey(),
            rent,
            spl_token::state::Mint::LEN as u64,
            &spl_token::ID,
        ),
        spl_token::instruction::initialize_mint(
            &spl_token::ID,
            &mint.pubkey(),
            &authority.pubkey(),
            None,
            6,
        )?,
    ];
    let mut attempt = 0;
    loop {
        match send(rpc, &create_mint, &[authority, &mint]).await {
            Ok(_) => break,
            Err(error) if attempt < 10 && error.to_string().contains("Unsupported program id") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => return Err(error.context("creating the quote mint")),
        }
    }
    let ex = ExchangeAddresses::derive(mint.pubkey());
    let init = ix::InitializeExchange {
        admin: authority.pubkey(),
        pyth_program: PYTH_PROGRAM,
        insurance_cap_per_event: u64::MAX,
    }
    .instruction(&ex);
    send(rpc, &[init], &[authority]).await.context("initialize_exchange")?;

    let mut markets = Vec::new();
    for (index, (spec, feed_id, price)) in
        [(MarketSpec::sol(), SOL_USD_FEED_ID, 150.0), (MarketSpec::btc(), BTC_USD_FEED_ID, 60_000.0)]
            .into_iter()
            .enumerate()
    {
        let (feed_account, _) = oracle::feed_address(0, &feed_id);
        let local = LocalMarket {
            index: index as u16,
            name: spec.name.clone(),
            market: ex.market(index as u16).to_string(),
            oracle: feed_account.to_string(),
            feed_id: feed_id.iter().map(|b| format!("{b:02x}")).collect(),
            base_decimals: spec.base_decimals,
            price_usd: price,
        };
        let feeder =
            Feeder { authority: authority.insecure_clone(), markets: vec![local.clone(); index + 1] };
        send(
            rpc,
            &[
                oracle::create_instruction(&authority.pubkey(), 0, &feed_id),
                feeder.instruction(index as u16, price),
            ],
            &[authority],
        )
        .await
        .context("creating a feed account")?;
        let add = ix::AddMarket {
            admin: authority.pubkey(),
            market: ex.market(index as u16),
            oracle: feed_account,
            params: spec.params,
            base_decimals: spec.base_decimals,
            name: spec.name.clone(),
            oracle_config: OracleConfig {
                kind: OracleKind::PythPriceUpdateV2,
                mode: OracleMode::Pinned,
                feed_id,
                shard_id: 0,
                trading_staleness_secs: 0,
            },
            funding: spec.funding,
        }
        .instruction(&ex);
        send(rpc, &[add], &[authority]).await.with_context(|| format!("add_market {}", spec.name))?;
        markets.push(local);
    }
    let pairs: Vec<(Pubkey, Pubkey)> = markets.iter().map(|m| (m.market_key(), m.oracle_key())).collect();

    // The pool and the insurance fund.
    let (lp, lp_token) = wallet(rpc, authority, &ex.quote_mint, 1_000_000 * USDC).await?;
    let shares = Keypair::new();
    let share_rent = rpc.get_minimum_balance_for_rent_exemption(spl_token::state::Account::LEN).await?;
    let create_shares = token_account_instructions(
        &authority.pubkey(),
        &shares.pubkey(),
        &ex.lp_mint,
        &lp.pubkey(),
        share_rent,
    )?;
    send(rpc, &create_shares, &[authority, &shares]).await?;
    let deposit = ix::DepositLiquidity {
        provider: lp.pubkey(),
        provider_token: lp_token,
        provider_shares: shares.pubkey(),
        amount: 1_000_000 * USDC,
        min_shares: 0,
        all_markets: pairs.clone(),
    }
    .instruction(&ex);
    send(rpc, &[deposit], &[&lp]).await.context("deposit_liquidity")?;
    let (insurer, insurer_token) = wallet(rpc, authority, &ex.quote_mint, 50_000 * USDC).await?;
    let insure = ix::DepositInsurance {
        depositor: insurer.pubkey(),
        depositor_token: insurer_token,
        amount: 50_000 * USDC,
    }
    .instruction(&ex);
    send(rpc, &[insure], &[&insurer]).await.context("deposit_insurance")?;

    // A keeper with a token account for its bonus.
    let (keeper, keeper_token) = wallet(rpc, authority, &ex.quote_mint, 0).await?;
    let keeper_path = ledger.join("keeper.json");
    write_keypair_file(&keeper, &keeper_path).map_err(|e| anyhow!("{e}"))?;

    let manifest = Manifest {
        rpc_url,
        ws_url,
        program_id: microliq::ID.to_string(),
        quote_mint: ex.quote_mint.to_string(),
        exchange: ex.exchange.to_string(),
        markets,
        authority_keypair: ledger.join("authority.json").display().to_string(),
        keeper_keypair: keeper_path.display().to_string(),
        keeper_token: keeper_token.to_string(),
        traders,
    };
    seed_traders(rpc, &manifest, traders, seed).await?;
    std::fs::write(manifest_path(ledger), serde_json::to_string_pretty(&manifest)?)?;
    Ok(manifest)
}

/// `count` traders with 1,000–20,000 USDC each, one position in SOL or BTC (70 % long) at 2–8x.
pub async fn seed_traders(rpc: &RpcClient, manifest: &Manifest, count: usize, seed: u64) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ex = manifest.addresses();
    let authority = manifest.authority();
    let rent = rpc.get_minimum_balance_for_rent_exemption(spl_token::state::Account::LEN).await?;
    let mut planned = Vec::new();
    for _ in 0..count {
        let collateral = rng.gen_range(1_000..=20_000) * USDC;
        let market = rng.gen_range(0..manifest.markets.len());
        let leverage = rng.gen_range(2.0..8.0);
        let long = rng.gen_bool(0.7);
        planned.push((Keypair::new(), Keypair::new(), collateral, market, leverage, long));
    }
    // Wallets, then accounts and deposits, then orders: three rounds of parallel transactions.
    let mut round = Vec::new();
    for (owner, token, collateral, _, _, _) in &planned {
        let instructions = wallet_instructions(
            &authority.pubkey(),
            &owner.pubkey(),
            &token.pubkey(),
            &ex.quote_mint,
            rent,
            1_000_000_000,
            *collateral,
        )?;
        round.push((instructions, vec![authority.insecure_clone(), token.insecure_clone()]));
    }
    send_all(rpc, round).await.context("seeding wallets")?;
    let mut round = Vec::new();
    for (owner, token, collateral, _, _, _) in &planned {
        let account = ex.margin_account(&owner.pubkey(), 0);
        round.push((
            vec![
                ix::CreateMarginAccount { owner: owner.pubkey(), id: 0 }.instruction(&ex),
                ix::DepositCollateral {
                    depositor: owner.pubkey(),
                    margin_account: account,
                    depositor_token: token.pubkey(),
                    amount: *collateral,
                    health_accounts: Vec::new(),
                }
                .instruction(&ex),
            ],
            vec![owner.insecure_clone()],
        ));
    }
    send_all(rpc, round).await.context("seeding margin accounts")?;
    let mut round = Vec::new();
    for (owner, _, collateral, market, leverage, long) in &planned {
        let m = &manifest.markets[*market];
        let notional_usd = *collateral as f64 / USDC as f64 * leverage;
        let lot = if *market == 0 { 1_000_000i64 } else { 10_000 };
        let base =
            ((notional_usd / m.price_usd * 10f64.powi(m.base_decimals as i32)) as i64 / lot * lot).max(lot);
        let order = ix::PlaceOrder {
            trader: owner.pubkey(),
            margin_account: ex.margin_account(&owner.pubkey(), 0),
            market: m.market_key(),
            oracle: m.oracle_key(),
            base_delta: if *long { base } else { -base },
            limit_price: if *long { u64::MAX } else { 0 },
            health_accounts: Vec::new(),
        }
        .instruction(&ex);
        round.push((vec![order], vec![owner.insecure_clone()]));
    }
    send_all(rpc, round).await.context("seeding positions")?;
    Ok(())
}

/// Starts the validator and, on a fresh ledger, sets up the exchange; on an existing one, reads
/// the manifest back (with the validator's URLs of this run). Blocking (see [`start_validator`]).
pub fn start(config: &LocalnetConfig, traders: usize, seed: u64) -> Result<Localnet> {
    let fresh = !TestValidatorGenesis::ledger_exists(&config.ledger);
    let (validator, authority, start_secs) = start_validator(config)?;
    let rpc_url = validator.rpc_url();
    let ws_url = validator.rpc_pubsub_url();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let manifest = if fresh {
        let ledger = config.ledger.clone();
        runtime.block_on(set_up_exchange(
            &rpc_client(&rpc_url),
            &authority,
            &ledger,
            rpc_url,
            ws_url,
            traders,
            seed,
        ))?
    } else {
        let text = std::fs::read_to_string(manifest_path(&config.ledger)).context("reading localnet.json")?;
        let mut manifest: Manifest = serde_json::from_str(&text)?;
        manifest.rpc_url = rpc_url;
        manifest.ws_url = ws_url;
        manifest
    };
    Ok(Localnet { validator, manifest, config: config.clone(), start_secs })
}
