use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::ExchangeInitialized;
use crate::state::{exchange_bounds, seeds, Exchange, InsuranceFund};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct InitializeExchangeArgs {
    /// The program that owns every legacy Pyth price account the markets will use.
    pub pyth_program: Pubkey,
    /// Most the insurance fund pays for one bankruptcy, quote atoms.
    pub insurance_cap_per_event: u64,
}

/// Creates the exchange for one quote mint: the exchange PDA, the quote vault (collateral and
/// pool), the insurance vault and its ledger, and the pool share mint (same decimals as quote).
/// The quote mint may have at most 9 decimals (every ledger is an `i64` of quote atoms). The
/// insolvent-close reward starts at one whole quote unit and episodes lapse after 150 slots;
/// `update_exchange` changes both.
#[derive(Accounts)]
pub struct InitializeExchange<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(
        init,
        payer = admin,
        space = Exchange::SPACE,
        seeds = [seeds::EXCHANGE, quote_mint.key().as_ref()],
        bump,
    )]
    pub exchange: AccountLoader<'info, Exchange>,
    pub quote_mint: Account<'info, Mint>,
    #[account(
        init,
        payer = admin,
        seeds = [seeds::QUOTE_VAULT, exchange.key().as_ref()],
        bump,
        token::mint = quote_mint,
        token::authority = exchange,
    )]
    pub quote_vault: Account<'info, TokenAccount>,
    #[account(
        init,
        payer = admin,
        seeds = [seeds::INSURANCE_VAULT, exchange.key().as_ref()],
        bump,
        token::mint = quote_mint,
        token::authority = exchange,
    )]
    pub insurance_vault: Account<'info, TokenAccount>,
    #[account(
        init,
        payer = admin,
        space = InsuranceFund::SPACE,
        seeds = [seeds::INSURANCE_FUND, exchange.key().as_ref()],
        bump,
    )]
    pub insurance_fund: AccountLoader<'info, InsuranceFund>,
    #[account(
        init,
        payer = admin,
        seeds = [seeds::LP_MINT, exchange.key().as_ref()],
        bump,
        mint::decimals = quote_mint.decimals,
        mint::authority = exchange,
    )]
    pub lp_mint: Account<'info, Mint>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
    pub rent: Sysvar<'info, Rent>,
}

impl InitializeExchange<'_> {
    pub fn validate(&self, _args: &InitializeExchangeArgs) -> Result<()> {
        // Ledgers are i64 quote atoms: 9.2e18 atoms is 9.2 billion units at 9 decimals but only
        // 9.2 million at 12, too little for an exchange (docs/DECISIONS.md).
        require!(
            self.quote_mint.decimals <= exchange_bounds::QUOTE_DECIMALS_MAX,
            MicroliqError::UnsupportedDecimals
        );
        Ok(())
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: InitializeExchangeArgs) -> Result<()> {
        let accounts = ctx.accounts;
        let mut exchange = accounts.exchange.load_init()?;
        exchange.admin = accounts.admin.key();
        exchange.quote_mint = accounts.quote_mint.key();
        exchange.quote_vault = accounts.quote_vault.key();
        exchange.insurance_vault = accounts.insurance_vault.key();
        exchange.insurance_fund = accounts.insurance_fund.key();
        exchange.lp_mint = accounts.lp_mint.key();
        exchange.pyth_program = args.pyth_program;
        exchange.insurance_cap_per_event = args.insurance_cap_per_event;
        exchange.insolvent_close_reward = 10u64.pow(accounts.quote_mint.decimals as u32);
        exchange.liquidation_episode_slots = exchange_bounds::DEFAULT_LIQUIDATION_EPISODE_SLOTS;
        exchange.repeat_liquidation_window_slots = exchange_bounds::DEFAULT_REPEAT_LIQUIDATION_WINDOW_SLOTS;
        exchange.quote_decimals = accounts.quote_mint.decimals;
        exchange.bump = ctx.bumps.exchange;
        exchange.quote_vault_bump = ctx.bumps.quote_vault;
        exchange.insurance_vault_bump = ctx.bumps.insurance_vault;
        exchange.insurance_fund_bump = ctx.bumps.insurance_fund;
        exchange.lp_mint_bump = ctx.bumps.lp_mint;
        exchange.invariant()?;

        let mut fund = accounts.insurance_fund.load_init()?;
        fund.exchange = accounts.exchange.key();
        fund.bump = ctx.bumps.insurance_fund;
        fund.invariant()?;

        emit!(ExchangeInitialized {
            exchange: accounts.exchange.key(),
            admin: accounts.admin.key(),
            quote_mint: accounts.quote_mint.key(),
            pyth_program: args.pyth_program,
        });
        Ok(())
    }
}
