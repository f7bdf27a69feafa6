//! The fuzzed exchange and its cast: traders, LPs, keepers, an insurance depositor and the admin,
//! each a "party" with a signer and a quote wallet; plus the transaction sender.

use microliq::oracle::OracleKind;
use std::time::{Duration, Instant};

use anchor_lang::prelude::{Clock, Pubkey};
use anchor_lang::solana_program::instruction::Instruction;
use microliq::math::MarketPrice;
use microliq::state::MarketParams;
use microliq_client::ix;
use microliq_client::{LocalExchange, MarketSpec, USDC};
use solana_sdk::compute_budget::ComputeBudgetInstruction;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::{Transaction, TransactionError};

use crate::oracle::{OracleModel, OracleMove};
use crate::snapshot::{Keys, Snapshot};

/// The sizes of the world. The defaults follow the brief: a pool small enough to be stressed.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    pub traders: usize,
    pub trader_collateral: u64,
    pub trader_wallet: u64,
    pub pool_liquidity: u64,
    pub second_lp_wallet: u64,
    pub insurance: u64,
    pub insurance_cap_per_event: u64,
    /// The format of both markets' prices (a non-trading status is written to a
    /// `PriceUpdateV2` market as a partially verified update, see `LocalExchange::write_oracle`).
    pub oracle_kind: OracleKind,
    /// SOL-PERP's trading window (BTC-PERP keeps 0: its max staleness).
    pub sol_trading_staleness_secs: u32,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            traders: 5,
            trader_collateral: 10_000 * USDC,
            trader_wallet: 20_000 * USDC,
            pool_liquidity: 200_000 * USDC,
            second_lp_wallet: 100_000 * USDC,
            insurance: 5_000 * USDC,
            insurance_cap_per_event: 1_500 * USDC,
            oracle_kind: OracleKind::PythPriceUpdateV2,
            sol_trading_staleness_secs: 20,
        }
    }
}

/// What a party is in the story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Trader(usize),
    Lp(usize),
    Keeper(usize),
    Insurer,
    Admin,
}

/// A signer with a quote-token wallet.
pub struct Party {
    pub name: String,
    pub role: Role,
    pub key: Keypair,
    /// Quote token account owned by `key` (the admin's is the insurance withdrawal destination).
    pub token: Pubkey,
}

pub struct World {
    pub ctx: LocalExchange,
    pub parties: Vec<Party>,
    /// Margin account of trader `i` (owned by `parties[i]`).
    pub accounts: Vec<Pubkey>,
    /// Party index and pool-share account of each LP.
    pub lps: Vec<(usize, Pubkey)>,
    pub keepers: Vec<usize>,
    pub insurer: usize,
    pub admin: usize,
    pub oracles: Vec<OracleModel>,
    /// The base lot and default parameters each market started with (restores).
    pub initial_params: Vec<microliq::state::MarketParams>,
    /// Quote atoms ever minted (the quote mint's supply must equal it).
    pub minted: u128,
    /// The clock the program sees (only the fuzzer moves it).
    pub clock: Clock,
    pub keys: Keys,
    sender: Sender,
}

/// A transaction's outcome.
pub struct Sent {
    pub result: Result<(), TransactionError>,
    pub logs: Vec<String>,
    /// Every account the transaction's instructions list as writable.
    pub writable: Vec<Pubkey>,
}

/// Sends transactions paid by the bank's payer. Every transaction is made unique by its
/// compute-unit limit (a rolling nonce), so retries are real retries without a fee that grows
/// with the step count; the blockhash is refreshed when half a second old.
struct Sender {
    nonce: u64,
    blockhash_at: Instant,
}

impl Sender {
    async fn send(
        &mut self,
        ctx: &mut LocalExchange,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> Sent {
        self.nonce += 1;
        let mut all =
            vec![ComputeBudgetInstruction::set_compute_unit_limit(1_400_000 - (self.nonce % 200_000) as u32)];
        all.extend_from_slice(instructions);
        if self.blockhash_at.elapsed() > Duration::from_millis(500) {
            if let Ok(latest) = ctx.bank.banks_client.get_latest_blockhash().await {
                ctx.bank.last_blockhash = latest;
            }
            self.blockhash_at = Instant::now();
        }
        let payer = ctx.bank.payer.insecure_clone();
        let mut keys: Vec<&Keypair> = vec![&payer];
        for signer in signers {
            if !keys.iter().any(|k| k.pubkey() == signer.pubkey()) {
                keys.push(signer);
            }
        }
        let mut writable: Vec<Pubkey> = Vec::new();
        for meta in instructions.iter().flat_map(|i| i.accounts.iter()).filter(|m| m.is_writable) {
            if !writable.contains(&meta.pubkey) {
                writable.push(meta.pubkey);
            }
        }
        for attempt in 0..3 {
            let tx = Transaction::new_signed_with_payer(
                &all,
                Some(&payer.pubkey()),
                &keys,
                ctx.bank.last_blockhash,
            );
            match ctx.bank.banks_client.process_transaction_with_metadata(tx).await {
                Ok(outcome) => {
                    if matches!(outcome.result, Err(TransactionError::BlockhashNotFound)) && attempt < 2 {
                        ctx.bank.last_blockhash =
                            ctx.bank.banks_client.get_latest_blockhash().await.expect("blockhash");
                        continue;
                    }
                    let logs = outcome.metadata.map(|m| m.log_messages).unwrap_or_default();
                    return Sent { result: outcome.result, logs, writable };
                }
                Err(error) => {
                    if attempt < 2 {
                        ctx.bank.last_blockhash =
                            ctx.bank.banks_client.get_latest_blockhash().await.expect("blockhash");
                        continue;
                    }
                    panic!("the in-process bank failed to process a transaction: {error:?}");
                }
            }
        }
        unreachable!()
    }
}

impl World {
    /// Builds the exchange (SOL and BTC markets, the pool from LP 0, the insurance fund from the
    /// insurer) and the cast. Setup goes through `LocalExchange`'s own fixtures.
    pub async fn new(config: &WorldConfig) -> anyhow::Result<World> {
        // Open interest capped per side on the pool's scale (2,000 SOL, 5 BTC: about 300,000 USDC
        // each at the start), so that traders' exposure stays within reach of the pool.
        let sol = MarketSpec::sol();
        let sol = MarketSpec {
            params: MarketParams { max_open_interest: 2_000_000_000_000, ..sol.params },
            trading_staleness_secs: config.sol_trading_staleness_secs,
            // Funding that bites within a run (0.1 %/h at full skew, clamped at 0.05 %/h); BTC
            // keeps the default (0.01 %/h). `set_market_funding` actions change both.
            funding: microliq::state::FundingConfig { rate_scale: 1_000, max_rate: 500 },
            ..sol
        };
        let btc = MarketSpec::btc();
        let btc = MarketSpec { params: MarketParams { max_open_interest: 500_000_000, ..btc.params }, ..btc };
        let mut ctx = LocalExchange::builder()
            .with_oracle_kind(config.oracle_kind)
            .with_market(sol)
            .with_market(btc)
            .with_pool_liquidity(config.pool_liquidity)
            .with_insurance_cap(config.insurance_cap_per_event)
            .build()
            .await;
        let mut minted = config.pool_liquidity as u128;
        let quote_mint = ctx.ex.quote_mint;
        let mut parties = Vec::new();
        let mut accounts = Vec::new();
        for i in 0..config.traders {
            let trader = ctx.trader_with_wallet(config.trader_collateral, config.trader_wallet).await;
            minted += (config.trader_collateral + config.trader_wallet) as u128;
            accounts.push(trader.account);
            parties.push(Party {
                name: format!("trader{i}"),
                role: Role::Trader(i),
                key: trader.owner,
                token: trader.token,
            });
        }
        let mut lps = Vec::new();
        let lp0 = ctx.lp.take().expect("the builder's LP");
        ctx.mint_quote(&lp0.token, config.second_lp_wallet).await;
        minted += config.second_lp_wallet as u128;
        lps.push((parties.len(), lp0.shares));
        parties.push(Party { name: "lp0".into(), role: Role::Lp(0), key: lp0.owner, token: lp0.token });
        let lp1 = ctx.liquidity_provider(config.second_lp_wallet).await;
        minted += config.second_lp_wallet as u128;
        lps.push((parties.len(), lp1.shares));
        parties.push(Party { name: "lp1".into(), role: Role::Lp(1), key: lp1.owner, token: lp1.token });
        let mut keepers = Vec::new();
        for i in 0..2 {
            let keeper = ctx.keeper().await;
            keepers.push(parties.len());
            parties.push(Party {
                name: format!("keeper{i}"),
                role: Role::Keeper(i),
                key: keeper.owner,
                token: keeper.token,
            });
        }
        let (insurer_key, insurer_token) = ctx.wallet(config.insurance * 4).await;
        minted += config.insurance as u128 * 4;
        let deposit = ix::DepositInsurance {
            depositor: insurer_key.pubkey(),
            depositor_token: insurer_token,
            amount: config.insurance,
        }
        .instruction(&ctx.ex);
        ctx.send(&[deposit], &[&insurer_key]).await.map_err(|e| anyhow::anyhow!("seed insurance: {e:?}"))?;
        let insurer = parties.len();
        parties.push(Party {
            name: "insurer".into(),
            role: Role::Insurer,
            key: insurer_key,
            token: insurer_token,
        });
        let admin_token = ctx.token_account(&quote_mint, &ctx.admin.pubkey()).await;
        let admin = parties.len();
        parties.push(Party {
            name: "admin".into(),
            role: Role::Admin,
            key: ctx.admin.insecure_clone(),
            token: admin_token,
        });

        let clock = ctx.clock().await;
        let oracles = ctx.markets.iter().map(|m| OracleModel::new(&m.price, m.base_decimals)).collect();
        let mut initial_params = Vec::new();
        for i in 0..ctx.markets.len() as u16 {
            initial_params.push(ctx.market(i).await.params);
        }
        let markets: Vec<Pubkey> = ctx.markets.iter().map(|m| m.market).collect();
        let wallets: Vec<Pubkey> = parties.iter().map(|p| p.token).collect();
        let shares: Vec<Pubkey> = lps.iter().map(|(_, s)| *s).collect();
        let keys = Keys::new(
            ctx.ex.exchange,
            ctx.ex.insurance_fund,
            ctx.ex.quote_vault,
            ctx.ex.insurance_vault,
            ctx.ex.lp_mint,
            quote_mint,
            &markets,
            &accounts,
            &wallets,
            &shares,
        );
        let world = World {
            ctx,
            parties,
            accounts,
            lps,
            keepers,
            insurer,
            admin,
            oracles,
            initial_params,
            minted,
            clock,
            keys,
            sender: Sender { nonce: 0, blockhash_at: Instant::now() },
        };
        Ok(world)
    }

    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        Snapshot::read(&self.ctx.bank.banks_client, &self.keys).await
    }

    pub fn prices(&self) -> Vec<Option<MarketPrice>> {
        self.oracles.iter().map(OracleModel::market_price).collect()
    }

    /// Sends `instructions` signed by the given parties (and the payer).
    pub async fn send(&mut self, instructions: &[Instruction], signers: &[usize]) -> Sent {
        let keys: Vec<Keypair> = signers.iter().map(|&i| self.parties[i].key.insecure_clone()).collect();
        let refs: Vec<&Keypair> = keys.iter().collect();
        self.sender.send(&mut self.ctx, instructions, &refs).await
    }

    /// Applies an oracle move to market `m` and writes the account.
    pub fn move_oracle(&mut self, m: usize, movement: OracleMove) {
        self.oracles[m].apply(movement, self.clock.unix_timestamp);
        self.write_oracle(m);
    }

    pub fn write_oracle(&mut self, m: usize) {
        let price = self.oracles[m].pyth();
        let key = self.ctx.markets[m].oracle;
        self.ctx.write_oracle(&key, &price);
        self.ctx.markets[m].price = price;
    }

    /// Moves the program's clock forward (the Clock sysvar; the bank is not warped).
    pub fn advance(&mut self, slots: u64, seconds: i64) {
        self.clock.slot += slots;
        self.clock.unix_timestamp += seconds;
        self.ctx.bank.set_sysvar(&self.clock);
    }

    /// Mints quote tokens to a party's wallet (the payer is the mint authority).
    pub async fn mint_to(&mut self, party: usize, amount: u64) -> Sent {
        let payer = self.ctx.bank.payer.pubkey();
        let mint_to = anchor_spl::token::spl_token::instruction::mint_to(
            &anchor_spl::token::spl_token::ID,
            &self.ctx.ex.quote_mint,
            &self.parties[party].token,
            &payer,
            &[],
            amount,
        )
        .expect("mint_to");
        let sent = self.sender.send(&mut self.ctx, &[mint_to], &[]).await;
        if sent.result.is_ok() {
            self.minted += amount as u128;
        }
        sent
    }

    /// The party index of trader `i`'s owner.
    pub fn trader_party(&self, i: usize) -> usize {
        i
    }

    /// The party that holds key `key`, if any.
    pub fn party_of(&self, key: &Pubkey) -> Option<usize> {
        self.parties.iter().position(|p| p.key.pubkey() == *key)
    }
}
