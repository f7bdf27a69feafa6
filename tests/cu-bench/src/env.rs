//! An exchange on litesvm running the SBF build: setup, one builder per instruction (through the
//! program crate's `microliq::accounts` / `microliq::instruction`), state reads, and the ledger
//! checks made after every successful transaction.

#![allow(deprecated)] // solana-program 2.x `system_instruction`

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::{AccountMeta as AccountMeta2, Instruction as Instruction2};
use anchor_lang::solana_program::program_pack::Pack;
use anchor_lang::solana_program::system_instruction;
use anchor_lang::{system_program, AnchorDeserialize, Event, InstructionData, ToAccountMetas};
use anchor_spl::token::spl_token;
use litesvm::LiteSVM;
use microliq::instructions as args;
use microliq::oracle::OracleKind;
use microliq::math::{LiquidationPlan, LiquidationTarget, MaintenanceHealth, MarketPrice};
use microliq::state::{seeds, Exchange, InsuranceFund, MarginAccount, Market, MarketParams};
use pyth_sdk_solana::state::{AccountType, PriceStatus, PriceType, SolanaPriceAccount, MAGIC, VERSION_2};
use solana_account::Account;
use solana_keypair::Keypair;
use solana_signer::Signer;
use solana_transaction::Transaction;

use crate::convert::{addr, instruction, pubkey};

pub type Res<T> = Result<T, String>;

/// A deterministic keypair (the n-th of the run): PDA bump searches, and so the compute units of
/// instructions that derive PDAs (`initialize_exchange`, `add_market`, `create_margin_account`),
/// are then the same on every run.
pub fn keypair() -> Keypair {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    Keypair::new_from_array(seed)
}

#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("check failed at {}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $what:expr) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!("check failed at {}:{}: {}: {:?} != {:?}", file!(), line!(), $what, l, r));
        }
    }};
}

/// One USDC in quote atoms (6 decimals).
pub const USDC: u64 = 1_000_000;
/// One SOL-like base unit (9 decimals) in base atoms.
pub const SOL: i64 = 1_000_000_000;
/// The Pyth program id the exchange is configured with (mainnet legacy oracle program).
pub const PYTH_PROGRAM: Pubkey =
    anchor_lang::solana_program::pubkey!("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH");
/// A realistic wall clock (the oracle's publish time follows it).
pub const START_UNIX_TIMESTAMP: i64 = 1_750_000_000;
pub const START_SLOT: u64 = 350_000_000;

/// The parameters the native integration tests use for every SOL-like market.
pub fn default_params() -> MarketParams {
    MarketParams {
        initial_rate: 100_000,
        maintenance_rate: 50_000,
        liquidation_buffer: 200_000,
        bonus_min_rate: 5_000,
        bonus_max_rate: 25_000,
        insurance_fee_rate: 10_000,
        bonus_ramp_slots: 150,
        close_factor: 500_000,
        taker_fee_rate: 500,
        max_staleness_secs: 60,
        max_conf_rate: 20_000,
        max_ema_divergence: 100_000,
        max_open_interest: 1_000_000_000_000_000,
        dust_notional: USDC,
        base_lot_size: 1_000_000,
    }
}

/// A `PriceUpdateV2` in dollars for `feed_id` (expo −8, zero confidence, EMA at the price,
/// fully verified), serialized by the receiver SDK.
pub fn price_update_v2_bytes(dollars: f64, publish_time: i64, posted_slot: u64, feed_id: [u8; 32]) -> (i64, Vec<u8>) {
    use anchor_lang::AccountSerialize;
    use pyth_solana_receiver_sdk::price_update::{PriceFeedMessage, PriceUpdateV2, VerificationLevel};
    let mantissa = (dollars * 1e8).round() as i64;
    let update = PriceUpdateV2 {
        write_authority: Pubkey::new_from_array([7; 32]),
        verification_level: VerificationLevel::Full,
        price_message: PriceFeedMessage {
            feed_id,
            price: mantissa,
            conf: 0,
            exponent: -8,
            publish_time,
            prev_publish_time: publish_time - 1,
            ema_price: mantissa,
            ema_conf: 0,
        },
        posted_slot,
    };
    let mut data = Vec::with_capacity(PriceUpdateV2::LEN);
    update.try_serialize(&mut data).expect("serialize PriceUpdateV2");
    data.resize(PriceUpdateV2::LEN, 0);
    (mantissa, data)
}

/// A legacy Pyth price in dollars (expo −8, zero confidence, EMA at the price).
pub fn pyth_price_bytes(dollars: f64, publish_time: i64) -> (i64, Vec<u8>) {
    let mantissa = (dollars * 1e8).round() as i64;
    let mut account = SolanaPriceAccount {
        magic: MAGIC,
        ver: VERSION_2,
        atype: AccountType::Price as u32,
        ptype: PriceType::Price,
        expo: -8,
        timestamp: publish_time,
        prev_price: mantissa,
        prev_conf: 0,
        prev_timestamp: publish_time,
        ..Default::default()
    };
    account.ema_price.val = mantissa;
    account.agg.price = mantissa;
    account.agg.conf = 0;
    account.agg.status = PriceStatus::Trading;
    let bytes = bytemuck::bytes_of(&account).to_vec();
    (mantissa, bytes)
}

#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    pub exchange: Pubkey,
    pub quote_mint: Pubkey,
    pub quote_vault: Pubkey,
    pub insurance_vault: Pubkey,
    pub insurance_fund: Pubkey,
    pub lp_mint: Pubkey,
}

impl Addresses {
    fn derive(quote_mint: Pubkey) -> Self {
        let pda = |s: &[&[u8]]| Pubkey::find_program_address(s, &microliq::ID).0;
        let exchange = pda(&[seeds::EXCHANGE, quote_mint.as_ref()]);
        Addresses {
            exchange,
            quote_mint,
            quote_vault: pda(&[seeds::QUOTE_VAULT, exchange.as_ref()]),
            insurance_vault: pda(&[seeds::INSURANCE_VAULT, exchange.as_ref()]),
            insurance_fund: pda(&[seeds::INSURANCE_FUND, exchange.as_ref()]),
            lp_mint: pda(&[seeds::LP_MINT, exchange.as_ref()]),
        }
    }

    pub fn market(&self, index: u16) -> Pubkey {
        Pubkey::find_program_address(
            &[seeds::MARKET, self.exchange.as_ref(), &index.to_le_bytes()],
            &microliq::ID,
        )
        .0
    }

    pub fn margin_account(&self, owner: &Pubkey, id: u32) -> Pubkey {
        Pubkey::find_program_address(
            &[seeds::MARGIN_ACCOUNT, self.exchange.as_ref(), owner.as_ref(), &id.to_le_bytes()],
            &microliq::ID,
        )
        .0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct MarketFixture {
    pub market: Pubkey,
    pub oracle: Pubkey,
    /// The feed id (`PriceUpdateV2` markets).
    pub feed_id: [u8; 32],
    pub base_decimals: u8,
    /// Pyth mantissa (expo −8).
    pub mantissa: i64,
}

pub struct Wallet {
    pub owner: Keypair,
    pub token: Pubkey,
}

pub struct Trader {
    pub owner: Keypair,
    pub token: Pubkey,
    pub account: Pubkey,
}

pub struct Lp {
    pub owner: Keypair,
    pub token: Pubkey,
    pub shares: Pubkey,
}

/// A successful transaction: the program's own compute units (from its `consumed` log line,
/// CPIs included) and the logs.
pub struct Sent {
    pub cu: Option<u64>,
    pub logs: Vec<String>,
}

pub struct Env {
    pub svm: LiteSVM,
    pub payer: Keypair,
    pub admin: Keypair,
    pub ex: Addresses,
    pub markets: Vec<MarketFixture>,
    pub margin_accounts: Vec<Pubkey>,
    pub lp: Option<Lp>,
    /// Compute units of the setup instructions (exchange, markets, first liquidity, insurance).
    pub setup_cu: Vec<(&'static str, u64)>,
    /// The format every market's price is written in.
    pub oracle_kind: OracleKind,
}

/// Every bench market's funding: the integration tests' default (0.02 %/h at full skew, clamped
/// at 0.01 %/h).
pub fn bench_funding() -> microliq::state::FundingConfig {
    microliq::state::FundingConfig { rate_scale: 200, max_rate: 100 }
}

fn ix2(
    accounts: impl ToAccountMetas,
    data: impl InstructionData,
    remaining: &[(Pubkey, Pubkey)],
) -> Instruction2 {
    let mut metas = accounts.to_account_metas(None);
    for (market, oracle) in remaining {
        metas.push(AccountMeta2::new_readonly(*market, false));
        metas.push(AccountMeta2::new_readonly(*oracle, false));
    }
    Instruction2 { program_id: microliq::ID, accounts: metas, data: data.data() }
}

fn set_compute_unit_limit(units: u32) -> solana_instruction::Instruction {
    let mut data = vec![2u8];
    data.extend_from_slice(&units.to_le_bytes());
    solana_instruction::Instruction {
        program_id: solana_address::Address::from_str_const("ComputeBudget111111111111111111111111111111"),
        accounts: vec![],
        data,
    }
}

impl Env {
    /// A fresh SVM with the program at its id, an exchange, `market_count` SOL-like markets at
    /// $150, a 1,000,000 USDC pool and a 50,000 USDC insurance fund.
    pub fn new(so: &[u8], market_count: u16, oracle_kind: OracleKind) -> Res<Env> {
        let mut svm = LiteSVM::new();
        svm.add_program(addr(&microliq::ID), so).map_err(|e| format!("loading the .so: {e:?}"))?;
        let mut clock: solana_clock::Clock = svm.get_sysvar();
        clock.slot = START_SLOT;
        clock.unix_timestamp = START_UNIX_TIMESTAMP;
        svm.set_sysvar(&clock);

        let payer = keypair();
        let admin = keypair();
        svm.airdrop(&payer.pubkey(), 1_000_000_000_000).map_err(|e| format!("{e:?}"))?;
        svm.airdrop(&admin.pubkey(), 10_000_000_000).map_err(|e| format!("{e:?}"))?;
        let quote_mint = keypair();
        let ex = Addresses::derive(pubkey(&quote_mint.pubkey()));
        let mut env = Env {
            svm,
            payer,
            admin,
            ex,
            markets: Vec::new(),
            margin_accounts: Vec::new(),
            lp: None,
            setup_cu: vec![],
            oracle_kind,
        };
        env.create_mint(&quote_mint, 6)?;

        let init = ix2(
            microliq::accounts::InitializeExchange {
                admin: env.admin_key(),
                exchange: ex.exchange,
                quote_mint: ex.quote_mint,
                quote_vault: ex.quote_vault,
                insurance_vault: ex.insurance_vault,
                insurance_fund: ex.insurance_fund,
                lp_mint: ex.lp_mint,
                token_program: spl_token::ID,
                system_program: system_program::ID,
                rent: anchor_lang::solana_program::sysvar::rent::ID,
            },
            microliq::instruction::InitializeExchange {
                args: args::InitializeExchangeArgs {
                    pyth_program: PYTH_PROGRAM,
                    insurance_cap_per_event: u64::MAX,
                },
            },
            &[],
        );
        let admin = env.admin.insecure_clone();
        let cu = env.send(&[init], &[&admin])?.cu.unwrap_or(0);
        env.setup_cu.push(("initialize_exchange", cu));

        for i in 0..market_count {
            let cu = env.add_market(&format!("M{i}-PERP"))?;
            if i == 0 {
                env.setup_cu.push(("add_market", cu));
            }
        }
        let lp = env.liquidity_provider(2_000_000 * USDC)?;
        let cu = env.deposit_liquidity(&lp, 1_000_000 * USDC)?;
        env.setup_cu.push(("deposit_liquidity_first", cu));
        env.lp = Some(lp);
        let cu = env.deposit_insurance(50_000 * USDC)?;
        env.setup_cu.push(("deposit_insurance", cu));
        Ok(env)
    }

    pub fn admin_key(&self) -> Pubkey {
        pubkey(&self.admin.pubkey())
    }

    // --- transactions ------------------------------------------------------------------------

    /// Sends one transaction paid by the payer; on success checks every vault against its ledger.
    pub fn send(&mut self, ixs: &[Instruction2], signers: &[&Keypair]) -> Res<Sent> {
        let mut all = vec![set_compute_unit_limit(1_400_000)];
        all.extend(ixs.iter().cloned().map(instruction));
        let mut keys: Vec<&Keypair> = vec![&self.payer];
        keys.extend(signers.iter().copied().filter(|k| k.pubkey() != self.payer.pubkey()));
        let tx = Transaction::new_signed_with_payer(
            &all,
            Some(&self.payer.pubkey()),
            &keys,
            self.svm.latest_blockhash(),
        );
        let result = self.svm.send_transaction(tx);
        self.svm.expire_blockhash();
        let meta = match result {
            Ok(meta) => {
                if std::env::var_os("CU_BENCH_LOGS").is_some() {
                    eprintln!("  {}", meta.logs.join("\n  "));
                }
                meta
            }
            Err(failed) => {
                return Err(format!(
                    "transaction failed: {:?}\n  {}",
                    failed.err,
                    failed.meta.logs.join("\n  ")
                ));
            }
        };
        let needle = format!("Program {} consumed ", microliq::ID);
        let cu = meta
            .logs
            .iter()
            .filter_map(|l| l.strip_prefix(&needle))
            .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .reduce(|a, b| a + b);
        if self.svm.get_account(&addr(&self.ex.exchange)).is_some() {
            self.check_ledgers()?;
        }
        Ok(Sent { cu, logs: meta.logs })
    }

    /// Sends and returns the program's compute units (fails if the program did not run).
    pub fn measure(&mut self, ix: Instruction2, signers: &[&Keypair]) -> Res<(u64, Vec<String>)> {
        let sent = self.send(&[ix], signers)?;
        let cu = sent.cu.ok_or("no compute-unit log line for the program")?;
        Ok((cu, sent.logs))
    }

    /// After every successful transaction: quote vault == Σ collateral + pool ledger, Σ of the
    /// known margin accounts == the exchange's Σ collateral, insurance vault == fund ledger.
    pub fn check_ledgers(&self) -> Res<()> {
        let exchange = self.exchange()?;
        let vault = self.token_balance(&self.ex.quote_vault)?;
        ensure_eq!(
            vault as i128,
            exchange.total_collateral as i128 + exchange.pool_balance as i128,
            "quote vault vs Σ collateral + pool ledger"
        );
        let mut sum = 0i128;
        for account in &self.margin_accounts {
            sum += self.margin_account(account)?.collateral as i128;
        }
        ensure_eq!(sum, exchange.total_collateral as i128, "Σ margin-account collateral vs ledger");
        let fund = self.insurance_fund()?;
        ensure_eq!(
            self.token_balance(&self.ex.insurance_vault)?,
            fund.balance,
            "insurance vault vs fund ledger"
        );
        ensure!(fund.invariant().is_ok(), "insurance fund invariant");
        Ok(())
    }

    // --- state -------------------------------------------------------------------------------

    pub fn data(&self, key: &Pubkey) -> Res<Vec<u8>> {
        self.svm.get_account(&addr(key)).map(|a| a.data).ok_or_else(|| format!("account {key} missing"))
    }

    fn zero_copy<T: bytemuck::Pod>(&self, key: &Pubkey) -> Res<T> {
        let data = self.data(key)?;
        Ok(bytemuck::pod_read_unaligned(&data[8..8 + std::mem::size_of::<T>()]))
    }

    pub fn exchange(&self) -> Res<Exchange> {
        self.zero_copy(&self.ex.exchange)
    }

    pub fn insurance_fund(&self) -> Res<InsuranceFund> {
        self.zero_copy(&self.ex.insurance_fund)
    }

    pub fn market(&self, index: u16) -> Res<Market> {
        self.zero_copy(&self.markets[index as usize].market)
    }

    pub fn margin_account(&self, key: &Pubkey) -> Res<MarginAccount> {
        self.zero_copy(key)
    }

    pub fn token_balance(&self, key: &Pubkey) -> Res<u64> {
        let data = self.data(key)?;
        Ok(spl_token::state::Account::unpack(&data).map_err(|e| format!("{e:?}"))?.amount)
    }

    pub fn mint_supply(&self, key: &Pubkey) -> Res<u64> {
        let data = self.data(key)?;
        Ok(spl_token::state::Mint::unpack(&data).map_err(|e| format!("{e:?}"))?.supply)
    }

    pub fn clock(&self) -> solana_clock::Clock {
        self.svm.get_sysvar()
    }

    /// Every event of type `T` in `logs` (`Program data:` lines: discriminator + Borsh).
    pub fn events<T: Event + AnchorDeserialize>(logs: &[String]) -> Vec<T> {
        use base64::Engine;
        logs.iter()
            .filter_map(|line| line.strip_prefix("Program data: "))
            .filter_map(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
            .filter(|bytes| bytes.starts_with(T::DISCRIMINATOR))
            .filter_map(|bytes| T::deserialize(&mut &bytes[T::DISCRIMINATOR.len()..]).ok())
            .collect()
    }

    // --- prices ------------------------------------------------------------------------------

    pub fn write_oracle(&mut self, oracle: &Pubkey, feed_id: [u8; 32], dollars: f64) -> Res<i64> {
        let clock = self.clock();
        let (owner, (mantissa, data)) = match self.oracle_kind {
            OracleKind::PythLegacy => (PYTH_PROGRAM, pyth_price_bytes(dollars, clock.unix_timestamp)),
            OracleKind::PythPriceUpdateV2 => (
                microliq::oracle::PYTH_RECEIVER_PROGRAM,
                price_update_v2_bytes(dollars, clock.unix_timestamp, clock.slot, feed_id),
            ),
        };
        let account = Account {
            lamports: 1_000_000_000,
            data,
            owner: addr(&owner),
            executable: false,
            rent_epoch: 0,
        };
        self.svm.set_account(addr(oracle), account).map_err(|e| format!("{e:?}"))?;
        Ok(mantissa)
    }

    /// Moves the clock by `slots` and `seconds` (prices keep their publish time).
    pub fn advance_clock(&mut self, slots: u64, seconds: i64) {
        let mut clock = self.clock();
        clock.slot += slots;
        clock.unix_timestamp += seconds;
        self.svm.set_sysvar(&clock);
    }

    /// The permissionless funding crank on market `index`.
    pub fn update_funding(&mut self, index: u16) -> Res<(u64, Vec<String>)> {
        let market = self.markets[index as usize].market;
        let ix = ix2(
            microliq::accounts::UpdateFunding { exchange: self.ex.exchange, market },
            microliq::instruction::UpdateFunding {},
            &[],
        );
        self.measure(ix, &[])
    }

    pub fn set_price_usd(&mut self, index: u16, dollars: f64) -> Res<()> {
        let MarketFixture { oracle, feed_id, .. } = self.markets[index as usize];
        self.markets[index as usize].mantissa = self.write_oracle(&oracle, feed_id, dollars)?;
        Ok(())
    }

    pub fn market_price(&self, index: u16) -> MarketPrice {
        let m = &self.markets[index as usize];
        MarketPrice::from_oracle(m.mantissa as u64, 0, m.mantissa as u64, -8, 6, m.base_decimals).unwrap()
    }

    fn risks(&self, account: &MarginAccount) -> Res<([microliq::math::PositionRisk; 8], usize)> {
        let time = self.exchange()?.funding_time(self.clock().unix_timestamp);
        let mut rates = Vec::new();
        for i in 0..self.markets.len() as u16 {
            let market = self.market(i)?;
            let funding_index = market.funding_state_at(time).map_err(|e| format!("{e:?}"))?.index;
            let params = market.params;
            rates.push((self.market_price(i), params.maintenance_rate, params.initial_rate, funding_index));
        }
        account.position_risks(|i| rates.get(i as usize).copied()).map_err(|e| format!("{e:?}"))
    }

    /// The account's maintenance health at current prices, with the program's own math (native).
    pub fn health(&self, account: &Pubkey) -> Res<MaintenanceHealth> {
        let state = self.margin_account(account)?;
        let (risks, count) = self.risks(&state)?;
        microliq::math::maintenance_health(state.collateral, &risks[..count]).map_err(|e| format!("{e:?}"))
    }

    /// The plan a `liquidate` of `market` would execute now, computed natively.
    pub fn expected_liquidation(&self, account: &Pubkey, market: u16) -> Res<LiquidationPlan> {
        let state = self.margin_account(account)?;
        let (risks, count) = self.risks(&state)?;
        let mut params = self.market(market)?.params.liquidation();
        let mut buffers = Vec::new();
        for i in 0..self.markets.len() as u16 {
            buffers.push(self.market(i)?.params.liquidation_buffer);
        }
        params.liquidation_buffer = state.liquidation_buffer(|i| buffers.get(i as usize).copied());
        let slot = self.clock().slot;
        let exchange = self.exchange()?;
        let slots = state.slots_in_episode(slot, exchange.liquidation_episode_slots);
        // The bench's prices are written at the clock's time before each measured call.
        let escalated = state.liquidation_escalated(
            slot,
            exchange.liquidation_episode_slots,
            exchange.repeat_liquidation_window_slots,
            self.clock().unix_timestamp,
        );
        let index = state.risk_index(market).ok_or("no position in the market")?;
        let target =
            LiquidationTarget { collateral: state.collateral, positions: &risks[..count], index, escalated };
        microliq::math::plan_liquidation(&target, slots, u64::MAX, &params).map_err(|e| format!("{e:?}"))
    }

    // --- setup helpers -----------------------------------------------------------------------

    fn create_mint(&mut self, mint: &Keypair, decimals: u8) -> Res<()> {
        let payer = pubkey(&self.payer.pubkey());
        let mint_key = pubkey(&mint.pubkey());
        let len = spl_token::state::Mint::LEN;
        let ixs = [
            system_instruction::create_account(
                &payer,
                &mint_key,
                self.svm.minimum_balance_for_rent_exemption(len),
                len as u64,
                &spl_token::ID,
            ),
            spl_token::instruction::initialize_mint2(&spl_token::ID, &mint_key, &payer, None, decimals)
                .map_err(|e| format!("{e:?}"))?,
        ];
        self.send(&ixs, &[mint]).map(|_| ())
    }

    pub fn token_account(&mut self, mint: &Pubkey, owner: &Pubkey) -> Res<Pubkey> {
        let account = keypair();
        let key = pubkey(&account.pubkey());
        let payer = pubkey(&self.payer.pubkey());
        let len = spl_token::state::Account::LEN;
        let ixs = [
            system_instruction::create_account(
                &payer,
                &key,
                self.svm.minimum_balance_for_rent_exemption(len),
                len as u64,
                &spl_token::ID,
            ),
            spl_token::instruction::initialize_account3(&spl_token::ID, &key, mint, owner)
                .map_err(|e| format!("{e:?}"))?,
        ];
        self.send(&ixs, &[&account])?;
        Ok(key)
    }

    pub fn mint_quote(&mut self, to: &Pubkey, amount: u64) -> Res<()> {
        let payer = pubkey(&self.payer.pubkey());
        let ix =
            spl_token::instruction::mint_to(&spl_token::ID, &self.ex.quote_mint, to, &payer, &[], amount)
                .map_err(|e| format!("{e:?}"))?;
        self.send(&[ix], &[]).map(|_| ())
    }

    /// A funded signer with a quote token account holding `amount`.
    pub fn wallet(&mut self, amount: u64) -> Res<Wallet> {
        let owner = keypair();
        self.svm.airdrop(&owner.pubkey(), 1_000_000_000).map_err(|e| format!("{e:?}"))?;
        let mint = self.ex.quote_mint;
        let token = self.token_account(&mint, &pubkey(&owner.pubkey()))?;
        if amount > 0 {
            self.mint_quote(&token, amount)?;
        }
        Ok(Wallet { owner, token })
    }

    pub fn liquidity_provider(&mut self, amount: u64) -> Res<Lp> {
        let Wallet { owner, token } = self.wallet(amount)?;
        let lp_mint = self.ex.lp_mint;
        let shares = self.token_account(&lp_mint, &pubkey(&owner.pubkey()))?;
        Ok(Lp { owner, token, shares })
    }

    pub fn all_market_pairs(&self) -> Vec<(Pubkey, Pubkey)> {
        self.markets.iter().map(|m| (m.market, m.oracle)).collect()
    }

    /// `(market, oracle)` pairs of the markets `account` holds positions in, except `except`.
    pub fn health_pairs(&self, account: &Pubkey, except: Option<u16>) -> Res<Vec<(Pubkey, Pubkey)>> {
        let state = self.margin_account(account)?;
        let (indexes, count) = state.other_market_indexes(except);
        Ok(indexes[..count]
            .iter()
            .map(|&i| (self.markets[i as usize].market, self.markets[i as usize].oracle))
            .collect())
    }

    // --- instructions (each returns the program's compute units) ------------------------------

    pub fn add_market(&mut self, name: &str) -> Res<u64> {
        let index = self.markets.len() as u16;
        let feed_id = [index as u8 + 1; 32];
        // A pinned PriceUpdateV2 market's account is its feed's push-oracle account (shard 0).
        let oracle = match self.oracle_kind {
            OracleKind::PythLegacy => pubkey(&keypair().pubkey()),
            OracleKind::PythPriceUpdateV2 => microliq::oracle::push_feed_address(0, &feed_id),
        };
        let market = self.ex.market(index);
        let mantissa = self.write_oracle(&oracle, feed_id, 150.0)?;
        let oracle_config = match self.oracle_kind {
            OracleKind::PythLegacy => args::OracleConfig::legacy(),
            OracleKind::PythPriceUpdateV2 => args::OracleConfig::sponsored(feed_id),
        };
        let ix = ix2(
            microliq::accounts::AddMarket {
                admin: self.admin_key(),
                exchange: self.ex.exchange,
                market,
                oracle,
                system_program: system_program::ID,
            },
            microliq::instruction::AddMarket {
                args: args::AddMarketArgs {
                    params: default_params(),
                    base_decimals: 9,
                    name: name.into(),
                    oracle_config,
                    funding: bench_funding(),
                },
            },
            &[],
        );
        let admin = self.admin.insecure_clone();
        let (cu, _) = self.measure(ix, &[&admin])?;
        self.markets.push(MarketFixture { market, oracle, feed_id, base_decimals: 9, mantissa });
        Ok(cu)
    }

    pub fn deposit_liquidity(&mut self, lp: &Lp, amount: u64) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::DepositLiquidity {
                provider: pubkey(&lp.owner.pubkey()),
                exchange: self.ex.exchange,
                provider_token: lp.token,
                provider_shares: lp.shares,
                lp_mint: self.ex.lp_mint,
                quote_vault: self.ex.quote_vault,
                insurance_fund: self.ex.insurance_fund,
                token_program: spl_token::ID,
            },
            microliq::instruction::DepositLiquidity { args: args::DepositLiquidityArgs { amount, min_shares: 0 } },
            &self.all_market_pairs(),
        );
        let owner = lp.owner.insecure_clone();
        Ok(self.measure(ix, &[&owner])?.0)
    }

    pub fn withdraw_liquidity(&mut self, lp: &Lp, shares: u64) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::WithdrawLiquidity {
                provider: pubkey(&lp.owner.pubkey()),
                exchange: self.ex.exchange,
                provider_token: lp.token,
                provider_shares: lp.shares,
                lp_mint: self.ex.lp_mint,
                quote_vault: self.ex.quote_vault,
                insurance_fund: self.ex.insurance_fund,
                token_program: spl_token::ID,
            },
            microliq::instruction::WithdrawLiquidity { args: args::WithdrawLiquidityArgs { shares, min_amount: 0 } },
            &self.all_market_pairs(),
        );
        let owner = lp.owner.insecure_clone();
        Ok(self.measure(ix, &[&owner])?.0)
    }

    pub fn deposit_insurance(&mut self, amount: u64) -> Res<u64> {
        let Wallet { owner, token } = self.wallet(amount)?;
        let ix = ix2(
            microliq::accounts::DepositInsurance {
                depositor: pubkey(&owner.pubkey()),
                exchange: self.ex.exchange,
                insurance_fund: self.ex.insurance_fund,
                depositor_token: token,
                insurance_vault: self.ex.insurance_vault,
                token_program: spl_token::ID,
            },
            microliq::instruction::DepositInsurance { args: args::DepositInsuranceArgs { amount } },
            &[],
        );
        Ok(self.measure(ix, &[&owner])?.0)
    }

    /// A trader with a funded wallet and margin account id 0 (not yet funded); returns the CU of
    /// `create_margin_account`.
    pub fn trader(&mut self, wallet: u64) -> Res<(Trader, u64)> {
        let Wallet { owner, token } = self.wallet(wallet)?;
        let owner_key = pubkey(&owner.pubkey());
        let account = self.ex.margin_account(&owner_key, 0);
        let ix = ix2(
            microliq::accounts::CreateMarginAccount {
                owner: owner_key,
                exchange: self.ex.exchange,
                margin_account: account,
                system_program: system_program::ID,
            },
            microliq::instruction::CreateMarginAccount { args: args::CreateMarginAccountArgs { id: 0 } },
            &[],
        );
        let (cu, _) = self.measure(ix, &[&owner])?;
        self.margin_accounts.push(account);
        Ok((Trader { owner, token, account }, cu))
    }

    pub fn deposit(&mut self, trader: &Trader, amount: u64) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::DepositCollateral {
                depositor: pubkey(&trader.owner.pubkey()),
                exchange: self.ex.exchange,
                margin_account: trader.account,
                depositor_token: trader.token,
                quote_vault: self.ex.quote_vault,
                token_program: spl_token::ID,
            },
            microliq::instruction::DepositCollateral { args: args::DepositCollateralArgs { amount } },
            &[],
        );
        let owner = trader.owner.insecure_clone();
        Ok(self.measure(ix, &[&owner])?.0)
    }

    pub fn withdraw(&mut self, trader: &Trader, amount: u64) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::WithdrawCollateral {
                owner: pubkey(&trader.owner.pubkey()),
                exchange: self.ex.exchange,
                margin_account: trader.account,
                owner_token: trader.token,
                quote_vault: self.ex.quote_vault,
                token_program: spl_token::ID,
            },
            microliq::instruction::WithdrawCollateral { args: args::WithdrawCollateralArgs { amount } },
            &self.health_pairs(&trader.account, None)?,
        );
        // The markets go writable: a withdrawal settles the account's funding in each.
        let mut ix = ix;
        let named = ix.accounts.len() - 2 * self.margin_account(&trader.account)?.open_position_count();
        for market in ix.accounts[named..].iter_mut().step_by(2) {
            market.is_writable = true;
        }
        let owner = trader.owner.insecure_clone();
        Ok(self.measure(ix, &[&owner])?.0)
    }

    /// A market order with the right health accounts and a limit that always passes.
    pub fn trade(&mut self, trader: &Trader, market: u16, base_delta: i64) -> Res<(u64, Vec<String>)> {
        let fixture = self.markets[market as usize];
        let ix = ix2(
            microliq::accounts::PlaceOrder {
                trader: pubkey(&trader.owner.pubkey()),
                exchange: self.ex.exchange,
                margin_account: trader.account,
                market: fixture.market,
                oracle: fixture.oracle,
            },
            microliq::instruction::PlaceOrder {
                args: args::PlaceOrderArgs {
                    base_delta,
                    limit_price: if base_delta > 0 { u64::MAX } else { 0 },
                },
            },
            &self.health_pairs(&trader.account, Some(market))?,
        );
        let owner = trader.owner.insecure_clone();
        self.measure(ix, &[&owner])
    }

    pub fn liquidate(&mut self, keeper: &Wallet, account: &Pubkey, market: u16) -> Res<(u64, Vec<String>)> {
        let fixture = self.markets[market as usize];
        let ix = ix2(
            microliq::accounts::Liquidate {
                keeper: pubkey(&keeper.owner.pubkey()),
                exchange: self.ex.exchange,
                margin_account: *account,
                market: fixture.market,
                oracle: fixture.oracle,
                insurance_fund: self.ex.insurance_fund,
                keeper_token: keeper.token,
                quote_vault: self.ex.quote_vault,
                insurance_vault: self.ex.insurance_vault,
                token_program: spl_token::ID,
            },
            microliq::instruction::Liquidate {
                args: args::LiquidateArgs { market_index: market, max_base: u64::MAX },
            },
            &self.health_pairs(account, Some(market))?,
        );
        let owner = keeper.owner.insecure_clone();
        self.measure(ix, &[&owner])
    }

    pub fn resolve_bankruptcy(&mut self, caller: &Wallet, account: &Pubkey) -> Res<(u64, Vec<String>)> {
        let ix = ix2(
            microliq::accounts::ResolveBankruptcy {
                caller: pubkey(&caller.owner.pubkey()),
                exchange: self.ex.exchange,
                margin_account: *account,
                insurance_fund: self.ex.insurance_fund,
                quote_vault: self.ex.quote_vault,
                insurance_vault: self.ex.insurance_vault,
                token_program: spl_token::ID,
            },
            microliq::instruction::ResolveBankruptcy {},
            &[],
        );
        let owner = caller.owner.insecure_clone();
        self.measure(ix, &[&owner])
    }

    pub fn set_delegate(&mut self, trader: &Trader, delegate: Pubkey) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::SetDelegate {
                owner: pubkey(&trader.owner.pubkey()),
                margin_account: trader.account,
            },
            microliq::instruction::SetDelegate { args: args::SetDelegateArgs { delegate } },
            &[],
        );
        let owner = trader.owner.insecure_clone();
        Ok(self.measure(ix, &[&owner])?.0)
    }

    fn admin_measure(&mut self, ix: Instruction2) -> Res<u64> {
        let admin = self.admin.insecure_clone();
        Ok(self.measure(ix, &[&admin])?.0)
    }

    pub fn update_market(&mut self, index: u16, params: MarketParams) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::UpdateMarket {
                admin: self.admin_key(),
                exchange: self.ex.exchange,
                market: self.markets[index as usize].market,
            },
            microliq::instruction::UpdateMarket { args: args::UpdateMarketArgs { params } },
            &[],
        );
        self.admin_measure(ix)
    }

    pub fn update_exchange(&mut self, insurance_cap_per_event: u64) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::UpdateExchange { admin: self.admin_key(), exchange: self.ex.exchange },
            microliq::instruction::UpdateExchange {
                args: args::UpdateExchangeArgs {
                    insurance_cap_per_event,
                    insolvent_close_reward: USDC,
                    liquidation_episode_slots: 150,
                },
            },
            &[],
        );
        self.admin_measure(ix)
    }

    pub fn set_exchange_pause(&mut self, paused: u16) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::SetExchangePause { admin: self.admin_key(), exchange: self.ex.exchange },
            microliq::instruction::SetExchangePause { args: args::SetPauseArgs { paused } },
            &[],
        );
        self.admin_measure(ix)
    }

    pub fn set_market_pause(&mut self, index: u16, paused: u16) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::SetMarketPause {
                admin: self.admin_key(),
                exchange: self.ex.exchange,
                market: self.markets[index as usize].market,
            },
            microliq::instruction::SetMarketPause { args: args::SetPauseArgs { paused } },
            &[],
        );
        self.admin_measure(ix)
    }

    pub fn withdraw_insurance(&mut self, destination: Pubkey, amount: u64) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::WithdrawInsurance {
                admin: self.admin_key(),
                exchange: self.ex.exchange,
                insurance_fund: self.ex.insurance_fund,
                destination,
                insurance_vault: self.ex.insurance_vault,
                token_program: spl_token::ID,
            },
            microliq::instruction::WithdrawInsurance { args: args::WithdrawInsuranceArgs { amount } },
            &[],
        );
        self.admin_measure(ix)
    }

    /// Hands the exchange to `new_admin` (both sign) and keeps the new key as the admin.
    pub fn transfer_admin(&mut self, new_admin: Keypair) -> Res<u64> {
        let ix = ix2(
            microliq::accounts::TransferAdmin {
                admin: self.admin_key(),
                new_admin: pubkey(&new_admin.pubkey()),
                exchange: self.ex.exchange,
            },
            microliq::instruction::TransferAdmin {},
            &[],
        );
        let admin = self.admin.insecure_clone();
        let (cu, _) = self.measure(ix, &[&admin, &new_admin])?;
        self.admin = new_admin;
        Ok(cu)
    }
}
