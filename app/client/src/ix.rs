//! One small builder per instruction. Each holds what the caller chooses and builds the
//! `Instruction` from the exchange's addresses; remaining accounts are `(market, oracle)` pairs.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
use anchor_lang::{system_program, InstructionData, ToAccountMetas};
use microliq::instructions as args;
use microliq::state::MarketParams;

/// The addresses every instruction of one exchange shares.
#[derive(Clone, Copy, Debug)]
pub struct ExchangeAddresses {
    pub exchange: Pubkey,
    pub quote_mint: Pubkey,
    pub quote_vault: Pubkey,
    pub insurance_vault: Pubkey,
    pub insurance_fund: Pubkey,
    pub lp_mint: Pubkey,
}

impl ExchangeAddresses {
    pub fn derive(quote_mint: Pubkey) -> Self {
        use microliq::state::seeds;
        let pda = |seeds: &[&[u8]]| Pubkey::find_program_address(seeds, &microliq::ID).0;
        let exchange = pda(&[seeds::EXCHANGE, quote_mint.as_ref()]);
        ExchangeAddresses {
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
            &[microliq::state::seeds::MARKET, self.exchange.as_ref(), &index.to_le_bytes()],
            &microliq::ID,
        )
        .0
    }

    pub fn margin_account(&self, owner: &Pubkey, id: u32) -> Pubkey {
        Pubkey::find_program_address(
            &[
                microliq::state::seeds::MARGIN_ACCOUNT,
                self.exchange.as_ref(),
                owner.as_ref(),
                &id.to_le_bytes(),
            ],
            &microliq::ID,
        )
        .0
    }
}

/// `(market, oracle)` pairs as read-only remaining accounts.
pub fn pairs(pairs: &[(Pubkey, Pubkey)]) -> Vec<AccountMeta> {
    pairs
        .iter()
        .flat_map(|(market, oracle)| {
            [AccountMeta::new_readonly(*market, false), AccountMeta::new_readonly(*oracle, false)]
        })
        .collect()
}

/// Marks every market of the trailing `(market, oracle)` pairs writable (instructions that
/// settle funding there).
fn writable_markets(mut instruction: Instruction, pairs: usize) -> Instruction {
    let named = instruction.accounts.len() - 2 * pairs;
    for market in instruction.accounts[named..].iter_mut().step_by(2) {
        market.is_writable = true;
    }
    instruction
}

fn build(
    accounts: impl ToAccountMetas,
    data: impl InstructionData,
    remaining: &[(Pubkey, Pubkey)],
) -> Instruction {
    let mut metas = accounts.to_account_metas(None);
    metas.extend(pairs(remaining));
    Instruction { program_id: microliq::ID, accounts: metas, data: data.data() }
}

pub struct InitializeExchange {
    pub admin: Pubkey,
    pub pyth_program: Pubkey,
    pub insurance_cap_per_event: u64,
}

impl InitializeExchange {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::InitializeExchange {
                admin: self.admin,
                exchange: ex.exchange,
                quote_mint: ex.quote_mint,
                quote_vault: ex.quote_vault,
                insurance_vault: ex.insurance_vault,
                insurance_fund: ex.insurance_fund,
                lp_mint: ex.lp_mint,
                token_program: anchor_spl::token::ID,
                system_program: system_program::ID,
                rent: anchor_lang::solana_program::sysvar::rent::ID,
            },
            microliq::instruction::InitializeExchange {
                args: args::InitializeExchangeArgs {
                    pyth_program: self.pyth_program,
                    insurance_cap_per_event: self.insurance_cap_per_event,
                },
            },
            &[],
        )
    }
}

pub struct AddMarket {
    pub admin: Pubkey,
    pub market: Pubkey,
    pub oracle: Pubkey,
    pub params: MarketParams,
    pub base_decimals: u8,
    pub name: String,
    pub oracle_config: args::OracleConfig,
    pub funding: microliq::state::FundingConfig,
}

impl AddMarket {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::AddMarket {
                admin: self.admin,
                exchange: ex.exchange,
                market: self.market,
                oracle: self.oracle,
                system_program: system_program::ID,
            },
            microliq::instruction::AddMarket {
                args: args::AddMarketArgs {
                    params: self.params,
                    base_decimals: self.base_decimals,
                    name: self.name.clone(),
                    oracle_config: self.oracle_config,
                    funding: self.funding,
                },
            },
            &[],
        )
    }
}

/// Sets or switches a market's oracle; `oracle` must read under `config`.
pub struct SetMarketOracle {
    pub admin: Pubkey,
    pub market: Pubkey,
    pub oracle: Pubkey,
    pub config: args::OracleConfig,
}

impl SetMarketOracle {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::SetMarketOracle {
                admin: self.admin,
                exchange: ex.exchange,
                market: self.market,
                oracle: self.oracle,
            },
            microliq::instruction::SetMarketOracle { args: self.config },
            &[],
        )
    }
}

pub struct UpdateMarket {
    pub admin: Pubkey,
    pub market: Pubkey,
    pub params: MarketParams,
}

impl UpdateMarket {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::UpdateMarket {
                admin: self.admin,
                exchange: ex.exchange,
                market: self.market,
            },
            microliq::instruction::UpdateMarket { args: args::UpdateMarketArgs { params: self.params } },
            &[],
        )
    }
}

pub struct UpdateExchange {
    pub admin: Pubkey,
    pub insurance_cap_per_event: u64,
    pub insolvent_close_reward: u64,
    pub liquidation_episode_slots: u64,
}

impl UpdateExchange {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::UpdateExchange { admin: self.admin, exchange: ex.exchange },
            microliq::instruction::UpdateExchange {
                args: args::UpdateExchangeArgs {
                    insurance_cap_per_event: self.insurance_cap_per_event,
                    insolvent_close_reward: self.insolvent_close_reward,
                    liquidation_episode_slots: self.liquidation_episode_slots,
                },
            },
            &[],
        )
    }
}

/// Exchange-wide pause flags (`market: None`) or one market's.
pub struct SetPause {
    pub admin: Pubkey,
    pub market: Option<Pubkey>,
    pub paused: u16,
}

impl SetPause {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        let args = args::SetPauseArgs { paused: self.paused };
        match self.market {
            None => build(
                microliq::accounts::SetExchangePause { admin: self.admin, exchange: ex.exchange },
                microliq::instruction::SetExchangePause { args },
                &[],
            ),
            Some(market) => build(
                microliq::accounts::SetMarketPause { admin: self.admin, exchange: ex.exchange, market },
                microliq::instruction::SetMarketPause { args },
                &[],
            ),
        }
    }
}

pub struct TransferAdmin {
    pub admin: Pubkey,
    pub new_admin: Pubkey,
}

impl TransferAdmin {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::TransferAdmin {
                admin: self.admin,
                new_admin: self.new_admin,
                exchange: ex.exchange,
            },
            microliq::instruction::TransferAdmin {},
            &[],
        )
    }
}

pub struct CreateMarginAccount {
    pub owner: Pubkey,
    pub id: u32,
}

impl CreateMarginAccount {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::CreateMarginAccount {
                owner: self.owner,
                exchange: ex.exchange,
                margin_account: ex.margin_account(&self.owner, self.id),
                system_program: system_program::ID,
            },
            microliq::instruction::CreateMarginAccount {
                args: args::CreateMarginAccountArgs { id: self.id },
            },
            &[],
        )
    }
}

pub struct SetDelegate {
    pub owner: Pubkey,
    pub margin_account: Pubkey,
    pub delegate: Pubkey,
}

impl SetDelegate {
    pub fn instruction(&self, _ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::SetDelegate { owner: self.owner, margin_account: self.margin_account },
            microliq::instruction::SetDelegate { args: args::SetDelegateArgs { delegate: self.delegate } },
            &[],
        )
    }
}

pub struct DepositCollateral {
    pub depositor: Pubkey,
    pub margin_account: Pubkey,
    pub depositor_token: Pubkey,
    pub amount: u64,
    /// `(market, oracle)` of every market the account holds, ascending, or empty. Given, they
    /// let the deposit end a liquidation episode it cures, and the account's funding is settled
    /// in each (the markets go writable).
    pub health_accounts: Vec<(Pubkey, Pubkey)>,
}

impl DepositCollateral {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        let instruction = build(
            microliq::accounts::DepositCollateral {
                depositor: self.depositor,
                exchange: ex.exchange,
                margin_account: self.margin_account,
                depositor_token: self.depositor_token,
                quote_vault: ex.quote_vault,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::DepositCollateral {
                args: args::DepositCollateralArgs { amount: self.amount },
            },
            &self.health_accounts,
        );
        writable_markets(instruction, self.health_accounts.len())
    }
}

pub struct WithdrawCollateral {
    pub owner: Pubkey,
    pub margin_account: Pubkey,
    pub owner_token: Pubkey,
    pub amount: u64,
    pub health_accounts: Vec<(Pubkey, Pubkey)>,
}

impl WithdrawCollateral {
    /// The markets go writable: the account's funding is settled in each.
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        let instruction = build(
            microliq::accounts::WithdrawCollateral {
                owner: self.owner,
                exchange: ex.exchange,
                margin_account: self.margin_account,
                owner_token: self.owner_token,
                quote_vault: ex.quote_vault,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::WithdrawCollateral {
                args: args::WithdrawCollateralArgs { amount: self.amount },
            },
            &self.health_accounts,
        );
        writable_markets(instruction, self.health_accounts.len())
    }
}

pub struct PlaceOrder {
    pub trader: Pubkey,
    pub margin_account: Pubkey,
    pub market: Pubkey,
    pub oracle: Pubkey,
    pub base_delta: i64,
    pub limit_price: u64,
    pub health_accounts: Vec<(Pubkey, Pubkey)>,
}

impl PlaceOrder {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::PlaceOrder {
                trader: self.trader,
                exchange: ex.exchange,
                margin_account: self.margin_account,
                market: self.market,
                oracle: self.oracle,
            },
            microliq::instruction::PlaceOrder {
                args: args::PlaceOrderArgs { base_delta: self.base_delta, limit_price: self.limit_price },
            },
            &self.health_accounts,
        )
    }
}

pub struct DepositLiquidity {
    pub provider: Pubkey,
    pub provider_token: Pubkey,
    pub provider_shares: Pubkey,
    pub amount: u64,
    /// Fewest shares accepted (0 for none).
    pub min_shares: u64,
    pub all_markets: Vec<(Pubkey, Pubkey)>,
}

impl DepositLiquidity {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::DepositLiquidity {
                provider: self.provider,
                exchange: ex.exchange,
                provider_token: self.provider_token,
                provider_shares: self.provider_shares,
                lp_mint: ex.lp_mint,
                quote_vault: ex.quote_vault,
                insurance_fund: ex.insurance_fund,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::DepositLiquidity {
                args: args::DepositLiquidityArgs { amount: self.amount, min_shares: self.min_shares },
            },
            &self.all_markets,
        )
    }
}

pub struct WithdrawLiquidity {
    pub provider: Pubkey,
    pub provider_token: Pubkey,
    pub provider_shares: Pubkey,
    pub shares: u64,
    /// Least quote atoms accepted (0 for none).
    pub min_amount: u64,
    pub all_markets: Vec<(Pubkey, Pubkey)>,
}

impl WithdrawLiquidity {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::WithdrawLiquidity {
                provider: self.provider,
                exchange: ex.exchange,
                provider_token: self.provider_token,
                provider_shares: self.provider_shares,
                lp_mint: ex.lp_mint,
                quote_vault: ex.quote_vault,
                insurance_fund: ex.insurance_fund,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::WithdrawLiquidity {
                args: args::WithdrawLiquidityArgs { shares: self.shares, min_amount: self.min_amount },
            },
            &self.all_markets,
        )
    }
}

pub struct DepositInsurance {
    pub depositor: Pubkey,
    pub depositor_token: Pubkey,
    pub amount: u64,
}

impl DepositInsurance {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::DepositInsurance {
                depositor: self.depositor,
                exchange: ex.exchange,
                insurance_fund: ex.insurance_fund,
                depositor_token: self.depositor_token,
                insurance_vault: ex.insurance_vault,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::DepositInsurance {
                args: args::DepositInsuranceArgs { amount: self.amount },
            },
            &[],
        )
    }
}

pub struct Liquidate {
    pub keeper: Pubkey,
    pub margin_account: Pubkey,
    pub market: Pubkey,
    pub oracle: Pubkey,
    pub keeper_token: Pubkey,
    pub market_index: u16,
    pub max_base: u64,
    pub health_accounts: Vec<(Pubkey, Pubkey)>,
}

impl Liquidate {
    /// The other markets go writable (an insolvent account's positions there are closed in the
    /// same call), their oracles read-only.
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        let instruction = build(
            microliq::accounts::Liquidate {
                keeper: self.keeper,
                exchange: ex.exchange,
                margin_account: self.margin_account,
                market: self.market,
                oracle: self.oracle,
                insurance_fund: ex.insurance_fund,
                keeper_token: self.keeper_token,
                quote_vault: ex.quote_vault,
                insurance_vault: ex.insurance_vault,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::Liquidate {
                args: args::LiquidateArgs { market_index: self.market_index, max_base: self.max_base },
            },
            &self.health_accounts,
        );
        writable_markets(instruction, self.health_accounts.len())
    }
}

pub struct ResolveBankruptcy {
    pub caller: Pubkey,
    pub margin_account: Pubkey,
}

impl ResolveBankruptcy {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::ResolveBankruptcy {
                caller: self.caller,
                exchange: ex.exchange,
                margin_account: self.margin_account,
                insurance_fund: ex.insurance_fund,
                quote_vault: ex.quote_vault,
                insurance_vault: ex.insurance_vault,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::ResolveBankruptcy {},
            &[],
        )
    }
}

pub struct WithdrawInsurance {
    pub admin: Pubkey,
    pub destination: Pubkey,
    pub amount: u64,
}

impl WithdrawInsurance {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::WithdrawInsurance {
                admin: self.admin,
                exchange: ex.exchange,
                insurance_fund: ex.insurance_fund,
                destination: self.destination,
                insurance_vault: ex.insurance_vault,
                token_program: anchor_spl::token::ID,
            },
            microliq::instruction::WithdrawInsurance {
                args: args::WithdrawInsuranceArgs { amount: self.amount },
            },
            &[],
        )
    }
}

/// Sets a market's funding parameters (admin).
pub struct SetMarketFunding {
    pub admin: Pubkey,
    pub market: Pubkey,
    pub config: microliq::state::FundingConfig,
}

impl SetMarketFunding {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::SetMarketFunding {
                admin: self.admin,
                exchange: ex.exchange,
                market: self.market,
            },
            microliq::instruction::SetMarketFunding { args: self.config },
            &[],
        )
    }
}

/// Sets the exchange's repeat-breach window (admin): a new breach of maintenance within this
/// many slots of an account's last recovery from a liquidation closes its losing positions
/// whole (0: off).
pub struct SetRepeatLiquidationWindow {
    pub admin: Pubkey,
    pub window_slots: u64,
}

impl SetRepeatLiquidationWindow {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::SetRepeatLiquidationWindow { admin: self.admin, exchange: ex.exchange },
            microliq::instruction::SetRepeatLiquidationWindow {
                args: microliq::instructions::SetRepeatLiquidationWindowArgs {
                    window_slots: self.window_slots,
                },
            },
            &[],
        )
    }
}

/// Advances a market's funding index to the clock (permissionless crank).
pub struct UpdateFunding {
    pub market: Pubkey,
}

impl UpdateFunding {
    pub fn instruction(&self, ex: &ExchangeAddresses) -> Instruction {
        build(
            microliq::accounts::UpdateFunding { exchange: ex.exchange, market: self.market },
            microliq::instruction::UpdateFunding {},
            &[],
        )
    }
}
