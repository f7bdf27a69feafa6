//! A local exchange on the in-process runtime, with fixtures and checks.

use std::collections::BTreeMap;

use anchor_lang::prelude::{Clock, Pubkey};
use anchor_lang::solana_program::instruction::{Instruction, InstructionError};
use anchor_lang::solana_program::program_pack::Pack;
use anchor_lang::solana_program::{system_instruction, sysvar};
use anchor_spl::token::spl_token;
use microliq::error::MicroliqError;
use microliq::instructions::OracleConfig;
use microliq::math::{LiquidationPlan, LiquidationTarget, MaintenanceHealth, MarketPrice};
use microliq::oracle::{OracleKind, OracleMode, PYTH_RECEIVER_PROGRAM};
use microliq::state::FundingConfig;
use microliq::state::{Exchange, InsuranceFund, MarginAccount, Market, MarketParams};
use solana_program_test::{processor, ProgramTest, ProgramTestContext};
use solana_sdk::account::{Account, AccountSharedData, ReadableAccount};
use solana_sdk::compute_budget::ComputeBudgetInstruction;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::{Transaction, TransactionError};

use crate::ix::{self, ExchangeAddresses};
use crate::pyth::{push_feed_address, PythPrice, BTC_USD_FEED_ID, SOL_USD_FEED_ID};
use crate::{PYTH_PROGRAM, USDC};
use pyth_sdk_solana::state::PriceStatus;
use pyth_solana_receiver_sdk::price_update::VerificationLevel;

/// What a test lists in a market.
#[derive(Clone, Debug)]
pub struct MarketSpec {
    pub name: String,
    pub base_decimals: u8,
    pub params: MarketParams,
    pub price: PythPrice,
    /// The oracle kind; `None` takes the exchange's default (`PriceUpdateV2` unless the builder
    /// says otherwise).
    pub oracle_kind: Option<OracleKind>,
    /// Pinned (the default) or pull; pull applies to `PriceUpdateV2` markets only.
    pub oracle_mode: OracleMode,
    /// The Pyth feed id a `PriceUpdateV2` market reads.
    pub feed_id: [u8; 32],
    /// Oldest price orders, withdrawals and LP actions accept (0 = the max staleness).
    pub trading_staleness_secs: u32,
    /// Funding parameters ([`default_funding`] unless changed).
    pub funding: FundingConfig,
}

impl MarketSpec {
    /// A SOL-like market: 9 base decimals, $150, 10 % initial and 5 % maintenance margin.
    pub fn sol() -> Self {
        MarketSpec {
            name: "SOL-PERP".into(),
            base_decimals: 9,
            params: default_params(),
            price: PythPrice::usd(150.0),
            oracle_kind: None,
            oracle_mode: OracleMode::Pinned,
            feed_id: SOL_USD_FEED_ID,
            trading_staleness_secs: 0,
            funding: default_funding(),
        }
    }

    /// A BTC-like market: 8 base decimals, $60,000.
    pub fn btc() -> Self {
        MarketSpec {
            name: "BTC-PERP".into(),
            base_decimals: 8,
            params: MarketParams {
                base_lot_size: 10_000, // 0.0001 BTC
                max_open_interest: 1_000 * 100_000_000,
                ..default_params()
            },
            price: PythPrice::usd(60_000.0),
            oracle_kind: None,
            oracle_mode: OracleMode::Pinned,
            feed_id: BTC_USD_FEED_ID,
            trading_staleness_secs: 0,
            funding: default_funding(),
        }
    }

    pub fn with_params(mut self, params: MarketParams) -> Self {
        self.params = params;
        self
    }

    pub fn with_funding(mut self, funding: FundingConfig) -> Self {
        self.funding = funding;
        self
    }

    /// Prices this market with `kind` whatever the exchange's default.
    pub fn with_oracle_kind(mut self, kind: OracleKind) -> Self {
        self.oracle_kind = Some(kind);
        self
    }

    /// A `PriceUpdateV2` market in pull mode: any fresh, fully verified update of its feed.
    /// Its staleness window is cut to the program's pull limit (10 s) if longer.
    pub fn pull(mut self) -> Self {
        self.oracle_kind = Some(OracleKind::PythPriceUpdateV2);
        self.oracle_mode = OracleMode::Pull;
        let limit = microliq::oracle::PULL_MAX_STALENESS_SECS;
        self.params.max_staleness_secs = self.params.max_staleness_secs.min(limit);
        self
    }
}

/// Funding of the test markets: 0.02 %/h at a skew of 100 %, clamped at 0.01 %/h (so a skew of
/// 50 % or more pays the clamp; docs/FUNDING.md).
pub fn default_funding() -> FundingConfig {
    FundingConfig { rate_scale: 200, max_rate: 100 }
}

/// Parameters used by most tests (rates in 1e6 = 100 %).
pub fn default_params() -> MarketParams {
    MarketParams {
        initial_rate: 100_000,       // 10 % → 10x
        maintenance_rate: 50_000,    // 5 %
        liquidation_buffer: 200_000, // restore E ≥ 1.2 · M
        bonus_min_rate: 5_000,       // 0.5 %
        bonus_max_rate: 25_000,      // 2.5 %
        insurance_fee_rate: 10_000,  // 1 %
        bonus_ramp_slots: 150,
        close_factor: 500_000, // 50 % per call
        taker_fee_rate: 500,   // 0.05 %
        max_staleness_secs: 60,
        max_conf_rate: 20_000,                    // 2 %
        max_ema_divergence: 100_000,              // 10 %
        max_open_interest: 1_000_000_000_000_000, // 1M SOL
        dust_notional: USDC,
        base_lot_size: 1_000_000, // 0.001 SOL
    }
}

/// A listed market in the test exchange.
#[derive(Clone, Debug)]
pub struct MarketFixture {
    pub index: u16,
    pub base_decimals: u8,
    pub market: Pubkey,
    pub oracle: Pubkey,
    pub price: PythPrice,
    pub oracle_kind: OracleKind,
    pub oracle_mode: OracleMode,
    /// The feed id (`PriceUpdateV2`); zero for legacy markets.
    pub feed_id: [u8; 32],
    /// The push-oracle shard of a pinned `PriceUpdateV2` market's account; 0 otherwise.
    pub shard_id: u16,
    /// Oldest price orders, withdrawals and LP actions accept (0 = the max staleness).
    pub trading_staleness_secs: u32,
}

impl MarketFixture {
    /// The configuration `add_market` / `set_market_oracle` take for this market.
    pub fn oracle_config(&self) -> OracleConfig {
        OracleConfig {
            kind: self.oracle_kind,
            mode: self.oracle_mode,
            feed_id: self.feed_id,
            shard_id: self.shard_id,
            trading_staleness_secs: self.trading_staleness_secs,
        }
    }

    /// The bytes of this market's oracle account holding `price`, in the market's format (a
    /// `PriceUpdateV2` is fully verified).
    pub fn oracle_bytes(&self, price: &PythPrice) -> (Pubkey, Vec<u8>) {
        match self.oracle_kind {
            OracleKind::PythLegacy => (PYTH_PROGRAM, price.to_bytes()),
            OracleKind::PythPriceUpdateV2 => {
                (PYTH_RECEIVER_PROGRAM, price.to_price_update_v2(self.feed_id, VerificationLevel::Full))
            }
        }
    }

    pub fn pair(&self) -> (Pubkey, Pubkey) {
        (self.market, self.oracle)
    }
}

/// A trader with a funded wallet and one margin account.
pub struct Trader {
    pub owner: Keypair,
    /// The owner's quote token account.
    pub token: Pubkey,
    pub account: Pubkey,
}

/// A keeper bot: a signer and the token account its bonus is paid to.
pub struct Keeper {
    pub owner: Keypair,
    pub token: Pubkey,
}

/// A liquidity provider with quote and pool-share token accounts.
pub struct LiquidityProvider {
    pub owner: Keypair,
    pub token: Pubkey,
    pub shares: Pubkey,
}

pub struct LocalExchangeBuilder {
    markets: Vec<MarketSpec>,
    pool_liquidity: u64,
    insurance: u64,
    insurance_cap_per_event: u64,
    quote_decimals: u8,
    oracle_kind: OracleKind,
}

impl LocalExchangeBuilder {
    pub fn with_market(mut self, spec: MarketSpec) -> Self {
        self.markets.push(spec);
        self
    }

    /// Seeds the pool with this many quote atoms from a liquidity provider.
    pub fn with_pool_liquidity(mut self, amount: u64) -> Self {
        self.pool_liquidity = amount;
        self
    }

    /// Seeds the insurance fund with this many quote atoms.
    pub fn with_insurance(mut self, amount: u64) -> Self {
        self.insurance = amount;
        self
    }

    pub fn with_insurance_cap(mut self, cap: u64) -> Self {
        self.insurance_cap_per_event = cap;
        self
    }

    /// The oracle kind of markets whose spec does not name one (`PriceUpdateV2` by default).
    pub fn with_oracle_kind(mut self, kind: OracleKind) -> Self {
        self.oracle_kind = kind;
        self
    }

    /// Decimals of the quote mint (6 by default, like USDC).
    pub fn with_quote_decimals(mut self, decimals: u8) -> Self {
        self.quote_decimals = decimals;
        self
    }

    /// Starts the bank and creates the quote mint, without initializing the exchange (for tests
    /// of `initialize_exchange` itself).
    pub async fn start(self) -> LocalExchange {
        let mut program_test = ProgramTest::default();
        program_test.prefer_bpf(false);
        program_test.add_program("microliq", microliq::ID, processor!(crate::process_instruction));
        let bank = program_test.start_with_context().await;
        crate::log_capture::install();
        let quote_mint = Keypair::new();
        let admin = Keypair::new();
        let ex = ExchangeAddresses::derive(quote_mint.pubkey());
        let mut ctx = LocalExchange {
            bank,
            admin,
            ex,
            quote_decimals: self.quote_decimals,
            default_oracle_kind: self.oracle_kind,
            markets: Vec::new(),
            margin_accounts: Vec::new(),
            nonce: 0,
            lp: None,
            last_logs: Vec::new(),
            sent: Default::default(),
            blockhash_at: std::time::Instant::now(),
        };
        ctx.fund(&ctx.admin.pubkey(), 10_000_000_000).await;
        ctx.create_mint(&quote_mint, self.quote_decimals).await;
        ctx
    }

    pub async fn build(self) -> LocalExchange {
        let (markets, pool_liquidity, insurance, insurance_cap_per_event) =
            (self.markets.clone(), self.pool_liquidity, self.insurance, self.insurance_cap_per_event);
        let mut ctx = self.start().await;
        let init = ix::InitializeExchange {
            admin: ctx.admin.pubkey(),
            pyth_program: PYTH_PROGRAM,
            insurance_cap_per_event,
        }
        .instruction(&ctx.ex);
        ctx.send(&[init], &[&ctx.admin.insecure_clone()]).await.expect("initialize exchange");
        for spec in markets {
            ctx.add_market(spec).await;
        }
        if pool_liquidity > 0 {
            let lp = ctx.liquidity_provider(pool_liquidity).await;
            ctx.deposit_liquidity(&lp, pool_liquidity).await.expect("seed pool");
            ctx.lp = Some(lp);
        }
        if insurance > 0 {
            ctx.deposit_insurance(insurance).await.expect("seed insurance");
        }
        ctx
    }
}

/// An exchange on an in-process bank, with its markets and the margin accounts made so far.
pub struct LocalExchange {
    pub bank: ProgramTestContext,
    pub admin: Keypair,
    pub ex: ExchangeAddresses,
    /// Decimals of the quote mint.
    pub quote_decimals: u8,
    /// The oracle kind of markets whose spec does not name one.
    pub default_oracle_kind: OracleKind,
    pub markets: Vec<MarketFixture>,
    /// Every margin account created through the fixtures (Σ collateral is checked against the
    /// exchange's ledger after every transaction).
    pub margin_accounts: Vec<Pubkey>,
    pub lp: Option<LiquidityProvider>,
    /// Log lines of the last transaction sent (events are decoded from them).
    pub last_logs: Vec<String>,
    nonce: u64,
    /// Signatures sent under the current blockhash (a repeat waits for a new one).
    sent: std::collections::HashSet<solana_sdk::signature::Signature>,
    blockhash_at: std::time::Instant,
}

/// The error a failed transaction ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum TxError {
    /// A custom program error code (Anchor's and ours).
    Custom(u32),
    Other(String),
}

impl LocalExchange {
    pub fn builder() -> LocalExchangeBuilder {
        LocalExchangeBuilder {
            markets: Vec::new(),
            pool_liquidity: 0,
            insurance: 0,
            insurance_cap_per_event: u64::MAX,
            quote_decimals: 6,
            oracle_kind: OracleKind::PythPriceUpdateV2,
        }
    }

    /// The common setup: SOL and BTC markets, a 1,000,000 USDC pool, 50,000 USDC insurance.
    pub async fn standard() -> LocalExchange {
        Self::standard_builder().build().await
    }

    /// The builder of [`LocalExchange::standard`], to change before building.
    pub fn standard_builder() -> LocalExchangeBuilder {
        Self::builder()
            .with_market(MarketSpec::sol())
            .with_market(MarketSpec::btc())
            .with_pool_liquidity(1_000_000 * USDC)
            .with_insurance(50_000 * USDC)
    }

    pub fn payer(&self) -> Keypair {
        self.bank.payer.insecure_clone()
    }

    // --- transactions ------------------------------------------------------------------------

    /// Sends one transaction paid by the context payer and signed by `signers`. On success,
    /// checks every vault against its ledger. Each call is made unique with a priority-fee
    /// nonce, so identical retries are real retries.
    pub async fn send(&mut self, instructions: &[Instruction], signers: &[&Keypair]) -> Result<(), TxError> {
        self.nonce += 1;
        let mut all = vec![
            ComputeBudgetInstruction::set_compute_unit_limit(1_400_000),
            ComputeBudgetInstruction::set_compute_unit_price(self.nonce),
        ];
        all.extend_from_slice(instructions);
        self.send_raw(&all, signers).await
    }

    /// Sends exactly `instructions` (the caller adds any compute-budget instructions), paid by
    /// the context payer, with a fresh blockhash; checks the ledgers on success.
    pub async fn send_raw(&mut self, all: &[Instruction], signers: &[&Keypair]) -> Result<(), TxError> {
        let payer = self.payer();
        let mut keys: Vec<&Keypair> = vec![&payer];
        keys.extend(signers.iter().copied().filter(|k| k.pubkey() != payer.pubkey()));
        // The in-process bank makes a blockhash every 6.4 ms and keeps 150: refresh ours (without
        // waiting) when it is half a second old.
        if self.blockhash_at.elapsed() > std::time::Duration::from_millis(500) {
            self.refresh_blockhash(false).await;
        }
        let mut tx =
            Transaction::new_signed_with_payer(all, Some(&payer.pubkey()), &keys, self.bank.last_blockhash);
        if self.sent.contains(&tx.signatures[0]) {
            self.refresh_blockhash(true).await;
            tx = Transaction::new_signed_with_payer(
                all,
                Some(&payer.pubkey()),
                &keys,
                self.bank.last_blockhash,
            );
        }
        self.sent.insert(tx.signatures[0]);
        let outcome = self.bank.banks_client.process_transaction_with_metadata(tx).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(other) => return Err(TxError::Other(format!("{other:?}"))),
        };
        self.last_logs = outcome.metadata.map(|m| m.log_messages).unwrap_or_default();
        match outcome.result {
            Ok(()) => {
                self.assert_vaults_match_ledgers().await;
                Ok(())
            }
            Err(TransactionError::InstructionError(_, InstructionError::Custom(code))) => {
                Err(TxError::Custom(code))
            }
            Err(other) => Err(TxError::Other(format!("{other:?}"))),
        }
    }

    /// Every event of type `T` in the last transaction's log, decoded as a keeper would:
    /// `Program data: <base64>` lines holding Anchor's 8-byte discriminator and the Borsh body
    /// (natively they carry a `Program log: ` prefix, see [`crate::log_capture`]).
    pub fn events<T: anchor_lang::Event + anchor_lang::AnchorDeserialize>(&self) -> Vec<T> {
        crate::decode_events(&self.last_logs)
    }

    /// Takes the bank's latest blockhash; with `must_change`, waits until it differs from ours.
    async fn refresh_blockhash(&mut self, must_change: bool) {
        let latest = self.bank.banks_client.get_latest_blockhash().await.expect("blockhash");
        if latest != self.bank.last_blockhash {
            self.bank.last_blockhash = latest;
            self.sent.clear();
        } else if must_change {
            self.bank.get_new_latest_blockhash().await.expect("blockhash");
            self.sent.clear();
        }
        self.blockhash_at = std::time::Instant::now();
    }

    /// After every successful transaction: quote vault == Σ collateral + pool ledger, the
    /// exchange's Σ collateral == the sum over the accounts it knows, insurance vault == fund.
    pub async fn assert_vaults_match_ledgers(&mut self) {
        let exchange_key = self.ex.exchange;
        if self.account(&exchange_key).await.is_none() {
            return; // setup transactions before the exchange exists
        }
        let exchange = self.exchange().await;
        let quote_vault_key = self.ex.quote_vault;
        let quote_vault = self.token_balance(&quote_vault_key).await;
        let ledger = exchange.total_collateral as i128 + exchange.pool_balance as i128;
        assert_eq!(quote_vault as i128, ledger, "quote vault != Σ collateral + pool ledger");
        let mut sum = 0i128;
        for account in self.margin_accounts.clone() {
            sum += self.margin_account(&account).await.collateral as i128;
        }
        assert_eq!(sum, exchange.total_collateral as i128, "Σ margin-account collateral != ledger");
        let fund = self.insurance_fund().await;
        let insurance_vault = self.ex.insurance_vault;
        assert_eq!(
            self.token_balance(&insurance_vault).await,
            fund.balance,
            "insurance vault != fund ledger"
        );
        fund.invariant().expect("insurance fund invariant");
    }

    // --- reading state -----------------------------------------------------------------------

    pub async fn account(&mut self, key: &Pubkey) -> Option<Account> {
        self.bank.banks_client.get_account(*key).await.expect("get_account")
    }

    async fn zero_copy<T: bytemuck::Pod>(&mut self, key: &Pubkey) -> T {
        let account = self.account(key).await.unwrap_or_else(|| panic!("account {key} missing"));
        bytemuck::pod_read_unaligned(&account.data[8..8 + std::mem::size_of::<T>()])
    }

    pub async fn exchange(&mut self) -> Exchange {
        let key = self.ex.exchange;
        self.zero_copy(&key).await
    }

    pub async fn insurance_fund(&mut self) -> InsuranceFund {
        let key = self.ex.insurance_fund;
        self.zero_copy(&key).await
    }

    pub async fn market(&mut self, index: u16) -> Market {
        let key = self.markets[index as usize].market;
        self.zero_copy(&key).await
    }

    pub async fn margin_account(&mut self, key: &Pubkey) -> MarginAccount {
        self.zero_copy(key).await
    }

    pub async fn token_balance(&mut self, key: &Pubkey) -> u64 {
        let account = self.account(key).await.expect("token account");
        spl_token::state::Account::unpack(&account.data).expect("token account").amount
    }

    pub async fn mint_supply(&mut self, key: &Pubkey) -> u64 {
        let account = self.account(key).await.expect("mint");
        spl_token::state::Mint::unpack(&account.data).expect("mint").supply
    }

    pub async fn clock(&mut self) -> Clock {
        self.bank.banks_client.get_sysvar::<Clock>().await.expect("clock")
    }

    /// Copies of the given accounts (lamports, owner and data), for "nothing changed" checks.
    pub async fn snapshot(&mut self, keys: &[Pubkey]) -> Snapshot {
        let mut accounts = BTreeMap::new();
        for key in keys {
            accounts.insert(*key, self.account(key).await);
        }
        Snapshot { accounts }
    }

    /// Every account the exchange owns plus the given ones.
    pub async fn snapshot_with(&mut self, extra: &[Pubkey]) -> Snapshot {
        let mut keys = vec![
            self.ex.exchange,
            self.ex.quote_vault,
            self.ex.insurance_vault,
            self.ex.insurance_fund,
            self.ex.lp_mint,
        ];
        keys.extend(self.markets.iter().map(|m| m.market));
        keys.extend(self.margin_accounts.iter().copied());
        keys.extend_from_slice(extra);
        self.snapshot(&keys).await
    }

    // --- time and prices ---------------------------------------------------------------------

    /// Moves the clock the program sees forward by `slots` and `seconds` (the Clock sysvar; the
    /// bank itself is not warped, which would recompute the accounts hash every step).
    pub async fn advance(&mut self, slots: u64, seconds: i64) {
        let mut clock = self.clock().await;
        clock.slot += slots;
        clock.unix_timestamp += seconds;
        self.bank.set_sysvar(&clock);
    }

    /// Moves the clock's unix timestamp (prices keep their publish time).
    pub async fn set_unix_timestamp(&mut self, unix_timestamp: i64) {
        let mut clock = self.clock().await;
        clock.unix_timestamp = unix_timestamp;
        self.bank.set_sysvar(&clock);
    }

    /// Writes a market's Pyth account, published now unless `price.publish_time` is set (and, for
    /// `PriceUpdateV2`, posted at the current slot unless `price.posted_slot` is set).
    pub async fn set_price(&mut self, index: u16, mut price: PythPrice) {
        let clock = self.clock().await;
        if price.publish_time == 0 {
            price.publish_time = clock.unix_timestamp;
        }
        if price.posted_slot == 0 {
            price.posted_slot = clock.slot;
        }
        let oracle = self.markets[index as usize].oracle;
        self.write_oracle(&oracle, &price);
        self.markets[index as usize].price = price;
    }

    /// Sets a market's price in dollars (EMA and publish time follow, confidence zero).
    pub async fn set_price_usd(&mut self, index: u16, dollars: f64) {
        self.set_price(index, PythPrice::usd(dollars)).await;
    }

    /// Writes `price` to the oracle account `key` in the format of the market it prices (legacy
    /// when no market uses `key`). `PriceUpdateV2` has no trading status: a status other than
    /// `Trading` is written as a partially verified update, that format's own unusable state, so
    /// that a case (or the fuzzer) modelling an unusable price means the same on both kinds.
    pub fn write_oracle(&mut self, key: &Pubkey, price: &PythPrice) {
        let (owner, data) = match self.markets.iter().find(|m| m.oracle == *key) {
            Some(market)
                if market.oracle_kind == OracleKind::PythPriceUpdateV2
                    && price.status != PriceStatus::Trading =>
            {
                (
                    PYTH_RECEIVER_PROGRAM,
                    price
                        .to_price_update_v2(market.feed_id, VerificationLevel::Partial { num_signatures: 5 }),
                )
            }
            Some(market) => market.oracle_bytes(price),
            None => (PYTH_PROGRAM, price.to_bytes()),
        };
        self.write_account(key, owner, data);
    }

    /// Writes an arbitrary account (foreign-owned oracles and the like).
    pub fn write_account(&mut self, key: &Pubkey, owner: Pubkey, data: Vec<u8>) {
        let account = Account { lamports: 1_000_000_000, data, owner, executable: false, rent_epoch: 0 };
        self.bank.set_account(key, &AccountSharedData::from(account));
    }

    /// The fixed-point prices the program derives from a market's current oracle.
    pub fn market_price(&self, index: u16) -> MarketPrice {
        let fixture = &self.markets[index as usize];
        let p = fixture.price;
        MarketPrice::from_oracle(
            p.price as u64,
            p.conf,
            p.ema as u64,
            p.expo,
            self.quote_decimals,
            fixture.base_decimals,
        )
        .unwrap()
    }

    /// What the program will compute for `account`: its position inputs, health, and the plan a
    /// `liquidate` of `market` would execute now (the keeper's view, with the program's code).
    pub async fn expected_liquidation(
        &mut self,
        account: &Pubkey,
        market: u16,
        max_base: u64,
    ) -> LiquidationPlan {
        let state = self.margin_account(account).await;
        let (risks, count) = self.position_risks(&state).await;
        let mut params = self.market(market).await.params.liquidation();
        let mut buffers = Vec::new();
        for i in 0..self.markets.len() as u16 {
            buffers.push(self.market(i).await.params.liquidation_buffer);
        }
        params.liquidation_buffer = state.liquidation_buffer(|i| buffers.get(i as usize).copied());
        let slot = self.clock().await.slot;
        let exchange = self.exchange().await;
        let slots = state.slots_in_episode(slot, exchange.liquidation_episode_slots);
        // The prices the program reads: the fixtures' accounts, as last written.
        let oldest_price_time = state
            .positions
            .iter()
            .filter(|p| p.is_open())
            .map(|p| self.markets[p.market_index as usize].price.publish_time)
            .min()
            .unwrap_or(i64::MIN);
        let target = LiquidationTarget {
            collateral: state.collateral,
            positions: &risks[..count],
            index: state.risk_index(market).expect("position"),
            escalated: state.liquidation_escalated(
                slot,
                exchange.liquidation_episode_slots,
                exchange.repeat_liquidation_window_slots,
                oldest_price_time,
            ),
        };
        microliq::math::plan_liquidation(&target, slots, max_base, &params).unwrap()
    }

    /// The health inputs of `state`'s positions at the current oracle prices and market rates.
    async fn position_risks(
        &mut self,
        state: &MarginAccount,
    ) -> ([microliq::math::PositionRisk; microliq::state::MAX_POSITIONS], usize) {
        let now = self.clock().await.unix_timestamp;
        let time = self.exchange().await.funding_time(now);
        let mut rates = Vec::new();
        for i in 0..self.markets.len() as u16 {
            let market = self.market(i).await;
            let funding_index = market.funding_state_at(time).expect("funding").index;
            let params = market.params;
            rates.push((self.market_price(i), params.maintenance_rate, params.initial_rate, funding_index));
        }
        state.position_risks(|i| rates.get(i as usize).copied()).unwrap()
    }

    /// The account's maintenance health at current prices.
    pub async fn health(&mut self, account: &Pubkey) -> MaintenanceHealth {
        let state = self.margin_account(account).await;
        let (risks, count) = self.position_risks(&state).await;
        microliq::math::maintenance_health(state.collateral, &risks[..count]).unwrap()
    }

    // --- setup helpers -----------------------------------------------------------------------

    pub async fn fund(&mut self, to: &Pubkey, lamports: u64) {
        let payer = self.payer();
        let transfer = system_instruction::transfer(&payer.pubkey(), to, lamports);
        self.send(&[transfer], &[]).await.expect("fund");
    }

    pub async fn create_mint(&mut self, mint: &Keypair, decimals: u8) {
        let payer = self.payer();
        let rent = self.bank.banks_client.get_rent().await.expect("rent");
        let instructions = [
            system_instruction::create_account(
                &payer.pubkey(),
                &mint.pubkey(),
                rent.minimum_balance(spl_token::state::Mint::LEN),
                spl_token::state::Mint::LEN as u64,
                &spl_token::ID,
            ),
            spl_token::instruction::initialize_mint(
                &spl_token::ID,
                &mint.pubkey(),
                &payer.pubkey(),
                None,
                decimals,
            )
            .unwrap(),
        ];
        self.send_setup(&instructions, &[mint]).await;
    }

    /// A token account of `mint` owned by `owner`.
    pub async fn token_account(&mut self, mint: &Pubkey, owner: &Pubkey) -> Pubkey {
        let account = Keypair::new();
        let payer = self.payer();
        let rent = self.bank.banks_client.get_rent().await.expect("rent");
        let instructions = [
            system_instruction::create_account(
                &payer.pubkey(),
                &account.pubkey(),
                rent.minimum_balance(spl_token::state::Account::LEN),
                spl_token::state::Account::LEN as u64,
                &spl_token::ID,
            ),
            spl_token::instruction::initialize_account(&spl_token::ID, &account.pubkey(), mint, owner)
                .unwrap(),
        ];
        self.send_setup(&instructions, &[&account]).await;
        account.pubkey()
    }

    /// Mints quote tokens (the payer is the quote mint authority).
    pub async fn mint_quote(&mut self, to: &Pubkey, amount: u64) {
        let payer = self.payer();
        let mint_to = spl_token::instruction::mint_to(
            &spl_token::ID,
            &self.ex.quote_mint,
            to,
            &payer.pubkey(),
            &[],
            amount,
        )
        .unwrap();
        self.send_setup(&[mint_to], &[]).await;
    }

    async fn send_setup(&mut self, instructions: &[Instruction], signers: &[&Keypair]) {
        self.send(instructions, signers).await.expect("setup transaction");
    }

    /// Sends `set_market_funding` for market `index`.
    pub async fn set_market_funding(&mut self, index: u16, config: FundingConfig) -> Result<(), TxError> {
        let instruction = ix::SetMarketFunding {
            admin: self.admin.pubkey(),
            market: self.markets[index as usize].market,
            config,
        }
        .instruction(&self.ex);
        self.admin_send(instruction).await
    }

    /// Sets the exchange's repeat-breach window (slots; 0 turns repeat breaches off).
    pub async fn set_repeat_liquidation_window(&mut self, window_slots: u64) -> Result<(), TxError> {
        let instruction =
            ix::SetRepeatLiquidationWindow { admin: self.admin.pubkey(), window_slots }.instruction(&self.ex);
        self.admin_send(instruction).await
    }

    /// Sends the permissionless `update_funding` crank for market `index` (signed by the payer).
    pub async fn update_funding(&mut self, index: u16) -> Result<(), TxError> {
        let instruction =
            ix::UpdateFunding { market: self.markets[index as usize].market }.instruction(&self.ex);
        self.send(&[instruction], &[]).await
    }

    /// Sends `set_market_oracle` for market `index` with `oracle` under `config`; on success the
    /// fixture follows (later `set_price` calls write the new account in the new format).
    pub async fn set_market_oracle(
        &mut self,
        index: u16,
        oracle: Pubkey,
        config: OracleConfig,
    ) -> Result<(), TxError> {
        let instruction = ix::SetMarketOracle {
            admin: self.admin.pubkey(),
            market: self.markets[index as usize].market,
            oracle,
            config,
        }
        .instruction(&self.ex);
        self.admin_send(instruction).await?;
        let fixture = &mut self.markets[index as usize];
        fixture.oracle = oracle;
        fixture.oracle_kind = config.kind;
        fixture.oracle_mode = config.mode;
        fixture.feed_id = config.feed_id;
        fixture.shard_id = config.shard_id;
        fixture.trading_staleness_secs = config.trading_staleness_secs;
        Ok(())
    }

    /// A `PriceUpdateV2` of market `index`'s feed at a fresh address, as a keeper posts one for a
    /// pull market: `price` published now and posted at the current slot unless set, `Full`
    /// unless `verification_level` says otherwise.
    pub async fn post_price_update(
        &mut self,
        index: u16,
        mut price: PythPrice,
        verification_level: VerificationLevel,
    ) -> Pubkey {
        let clock = self.clock().await;
        if price.publish_time == 0 {
            price.publish_time = clock.unix_timestamp;
        }
        if price.posted_slot == 0 {
            price.posted_slot = clock.slot;
        }
        let key = Keypair::new().pubkey();
        let feed_id = self.markets[index as usize].feed_id;
        self.write_account(
            &key,
            PYTH_RECEIVER_PROGRAM,
            price.to_price_update_v2(feed_id, verification_level),
        );
        key
    }

    pub async fn add_market(&mut self, spec: MarketSpec) -> MarketFixture {
        let index = self.markets.len() as u16;
        let oracle_kind = spec.oracle_kind.unwrap_or(self.default_oracle_kind);
        let (oracle_mode, feed_id) = match oracle_kind {
            OracleKind::PythLegacy => (OracleMode::Pinned, [0; 32]),
            OracleKind::PythPriceUpdateV2 => (spec.oracle_mode, spec.feed_id),
        };
        // A pinned PriceUpdateV2 market sits at its feed's push-oracle account, shard 0 as Pyth's
        // sponsored feeds on mainnet, or the next shard when another market of this exchange
        // already reads that feed (so that each market's price can be set on its own). A pull
        // market is configured with any account of the feed.
        let (oracle, shard_id) = match (oracle_kind, oracle_mode) {
            (OracleKind::PythPriceUpdateV2, OracleMode::Pinned) => {
                let shard = self.markets.iter().filter(|m| m.feed_id == feed_id).count() as u16;
                (push_feed_address(shard, &feed_id), shard)
            }
            _ => (Keypair::new().pubkey(), 0),
        };
        let market = self.ex.market(index);
        let clock = self.clock().await;
        let mut price = spec.price;
        price.publish_time = clock.unix_timestamp;
        price.posted_slot = clock.slot;
        let fixture = MarketFixture {
            index,
            base_decimals: spec.base_decimals,
            market,
            oracle,
            price,
            oracle_kind,
            oracle_mode,
            feed_id,
            shard_id,
            trading_staleness_secs: spec.trading_staleness_secs,
        };
        let (owner, data) = fixture.oracle_bytes(&price);
        self.write_account(&oracle, owner, data);
        let add = ix::AddMarket {
            admin: self.admin.pubkey(),
            market,
            oracle,
            params: spec.params,
            base_decimals: spec.base_decimals,
            name: spec.name.clone(),
            oracle_config: fixture.oracle_config(),
            funding: spec.funding,
        }
        .instruction(&self.ex);
        let admin = self.admin.insecure_clone();
        self.send(&[add], &[&admin]).await.expect("add market");
        self.markets.push(fixture.clone());
        fixture
    }

    /// A funded wallet with a quote token account holding `wallet` quote atoms.
    pub async fn wallet(&mut self, wallet: u64) -> (Keypair, Pubkey) {
        let owner = Keypair::new();
        self.fund(&owner.pubkey(), 1_000_000_000).await;
        let mint = self.ex.quote_mint;
        let token = self.token_account(&mint, &owner.pubkey()).await;
        if wallet > 0 {
            self.mint_quote(&token, wallet).await;
        }
        (owner, token)
    }

    /// A trader with margin account id 0 holding `collateral` (and nothing left in the wallet).
    pub async fn trader(&mut self, collateral: u64) -> Trader {
        self.trader_with_wallet(collateral, 0).await
    }

    /// A trader with `collateral` deposited and `extra` quote atoms left in the wallet.
    pub async fn trader_with_wallet(&mut self, collateral: u64, extra: u64) -> Trader {
        let (owner, token) = self.wallet(collateral + extra).await;
        let create = ix::CreateMarginAccount { owner: owner.pubkey(), id: 0 }.instruction(&self.ex);
        self.send(&[create], &[&owner]).await.expect("create margin account");
        let account = self.ex.margin_account(&owner.pubkey(), 0);
        self.margin_accounts.push(account);
        let trader = Trader { owner, token, account };
        if collateral > 0 {
            self.deposit(&trader, collateral).await.expect("deposit");
        }
        trader
    }

    pub async fn liquidity_provider(&mut self, wallet: u64) -> LiquidityProvider {
        let (owner, token) = self.wallet(wallet).await;
        let lp_mint = self.ex.lp_mint;
        let shares = self.token_account(&lp_mint, &owner.pubkey()).await;
        LiquidityProvider { owner, token, shares }
    }

    /// `(market, oracle)` pairs of every market, ascending.
    pub fn all_market_pairs(&self) -> Vec<(Pubkey, Pubkey)> {
        self.markets.iter().map(MarketFixture::pair).collect()
    }

    /// `(market, oracle)` pairs of the markets `account` holds positions in, except `except`.
    pub async fn health_pairs(&mut self, account: &Pubkey, except: Option<u16>) -> Vec<(Pubkey, Pubkey)> {
        let state = self.margin_account(account).await;
        let (indexes, count) = state.other_market_indexes(except);
        indexes[..count].iter().map(|&i| self.markets[i as usize].pair()).collect()
    }

    // --- instruction shortcuts ---------------------------------------------------------------

    /// A deposit by the owner with the account's health accounts (so that it can end a
    /// liquidation episode it cures).
    pub async fn deposit(&mut self, trader: &Trader, amount: u64) -> Result<(), TxError> {
        let health_accounts = self.health_pairs(&trader.account, None).await;
        let deposit = ix::DepositCollateral {
            depositor: trader.owner.pubkey(),
            margin_account: trader.account,
            depositor_token: trader.token,
            amount,
            health_accounts,
        }
        .instruction(&self.ex);
        let owner = trader.owner.insecure_clone();
        self.send(&[deposit], &[&owner]).await
    }

    pub async fn withdraw(&mut self, trader: &Trader, amount: u64) -> Result<(), TxError> {
        let health_accounts = self.health_pairs(&trader.account, None).await;
        let withdraw = ix::WithdrawCollateral {
            owner: trader.owner.pubkey(),
            margin_account: trader.account,
            owner_token: trader.token,
            amount,
            health_accounts,
        }
        .instruction(&self.ex);
        let owner = trader.owner.insecure_clone();
        self.send(&[withdraw], &[&owner]).await
    }

    /// The order builder for `trader` in `market` with the right health accounts and a limit
    /// that always passes.
    pub async fn order(&mut self, trader: &Trader, market: u16, base_delta: i64) -> ix::PlaceOrder {
        let health_accounts = self.health_pairs(&trader.account, Some(market)).await;
        let fixture = &self.markets[market as usize];
        ix::PlaceOrder {
            trader: trader.owner.pubkey(),
            margin_account: trader.account,
            market: fixture.market,
            oracle: fixture.oracle,
            base_delta,
            limit_price: if base_delta > 0 { u64::MAX } else { 0 },
            health_accounts,
        }
    }

    pub async fn trade(&mut self, trader: &Trader, market: u16, base_delta: i64) -> Result<(), TxError> {
        let order = self.order(trader, market, base_delta).await.instruction(&self.ex);
        let owner = trader.owner.insecure_clone();
        self.send(&[order], &[&owner]).await
    }

    pub async fn deposit_liquidity(&mut self, lp: &LiquidityProvider, amount: u64) -> Result<(), TxError> {
        let deposit = ix::DepositLiquidity {
            provider: lp.owner.pubkey(),
            provider_token: lp.token,
            provider_shares: lp.shares,
            amount,
            min_shares: 0,
            all_markets: self.all_market_pairs(),
        }
        .instruction(&self.ex);
        let owner = lp.owner.insecure_clone();
        self.send(&[deposit], &[&owner]).await
    }

    pub async fn withdraw_liquidity(&mut self, lp: &LiquidityProvider, shares: u64) -> Result<(), TxError> {
        let withdraw = ix::WithdrawLiquidity {
            provider: lp.owner.pubkey(),
            provider_token: lp.token,
            provider_shares: lp.shares,
            shares,
            min_amount: 0,
            all_markets: self.all_market_pairs(),
        }
        .instruction(&self.ex);
        let owner = lp.owner.insecure_clone();
        self.send(&[withdraw], &[&owner]).await
    }

    /// Deposits into the insurance fund from a fresh wallet.
    pub async fn deposit_insurance(&mut self, amount: u64) -> Result<(), TxError> {
        let (owner, token) = self.wallet(amount).await;
        let deposit = ix::DepositInsurance { depositor: owner.pubkey(), depositor_token: token, amount }
            .instruction(&self.ex);
        self.send(&[deposit], &[&owner]).await
    }

    /// A keeper: a funded signer with an empty quote token account for its bonus.
    pub async fn keeper(&mut self) -> Keeper {
        let (owner, token) = self.wallet(0).await;
        Keeper { owner, token }
    }

    /// The liquidate builder for `account`'s position in `market`, with the right health
    /// accounts and no cap of the keeper's own.
    pub async fn liquidation(&mut self, keeper: &Keeper, account: &Pubkey, market: u16) -> ix::Liquidate {
        let health_accounts = self.health_pairs(account, Some(market)).await;
        let fixture = &self.markets[market as usize];
        ix::Liquidate {
            keeper: keeper.owner.pubkey(),
            margin_account: *account,
            market: fixture.market,
            oracle: fixture.oracle,
            keeper_token: keeper.token,
            market_index: market,
            max_base: u64::MAX,
            health_accounts,
        }
    }

    pub async fn liquidate(&mut self, keeper: &Keeper, account: &Pubkey, market: u16) -> Result<(), TxError> {
        let liquidate = self.liquidation(keeper, account, market).await.instruction(&self.ex);
        let owner = keeper.owner.insecure_clone();
        self.send(&[liquidate], &[&owner]).await
    }

    pub async fn admin_send(&mut self, instruction: Instruction) -> Result<(), TxError> {
        let admin = self.admin.insecure_clone();
        self.send(&[instruction], &[&admin]).await
    }
}

/// Account copies taken before a transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    accounts: BTreeMap<Pubkey, Option<Account>>,
}

impl Snapshot {
    /// Panics with the first account whose lamports, owner or bytes differ.
    pub fn assert_unchanged(&self, after: &Snapshot) {
        for (key, before) in &self.accounts {
            let now = after.accounts.get(key).expect("same keys");
            let same = match (before, now) {
                (Some(a), Some(b)) => a.lamports == b.lamports && a.owner == b.owner && a.data() == b.data(),
                (None, None) => true,
                _ => false,
            };
            assert!(same, "account {key} changed");
        }
    }
}

/// Asserts that `result` failed with exactly `expected`.
#[track_caller]
pub fn assert_error(result: Result<(), TxError>, expected: MicroliqError) {
    let code = anchor_lang::error::ERROR_CODE_OFFSET + expected as u32;
    assert_eq!(result, Err(TxError::Custom(code)), "expected {expected:?} ({code})");
}

/// Asserts that `result` failed with Anchor's own error `expected`.
#[track_caller]
pub fn assert_anchor_error(result: Result<(), TxError>, expected: anchor_lang::error::ErrorCode) {
    let code = expected as u32;
    assert_eq!(result, Err(TxError::Custom(code)), "expected {expected:?} ({code})");
}

/// The rent sysvar id, re-exported for builders.
pub const RENT: Pubkey = sysvar::rent::ID;
