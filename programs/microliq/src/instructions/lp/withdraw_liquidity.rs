use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::LiquidityWithdrawn;
use crate::instructions::lp::deposit_liquidity::whole_unit;
use crate::instructions::lp::pool_nav::value_pool;
use crate::math::{self, Checked, Rounding};
use crate::oracle::OracleClock;
use crate::state::{pause, Exchange, InsuranceFund};
use crate::token_ops::{burn_from_user, ExchangeSigner};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct WithdrawLiquidityArgs {
    /// Pool shares to burn.
    pub shares: u64,
    /// Least quote atoms the provider accepts (slippage guard); 0 for none.
    pub min_amount: u64,
}

/// Burns shares and pays `amount = shares · NAV / supply`, rounded down, at the collectable NAV
/// (docs/POOL.md): no unrealized trader loss counted, every realized deficit written off, every
/// side's unrealized profit kept in the pool. So the first LP out cannot escape a loss that is
/// already certain, and what stays covers the traders' profits and the open deficits. The last
/// provider may burn everything, but otherwise at least one whole share stays outstanding.
///
/// Refused with `UnresolvedDeficit` while realized deficits (`Σ max(−collateral, 0)`) exceed what
/// the insurance fund covers, `min(fund balance, insurance_cap_per_event)`: an account with
/// negative collateral is usually insolvent, and its open positions' further losses can hide
/// inside a side's netted PnL (docs/POOL.md). Resolving bankruptcies, liquidating, topping up
/// the fund or raising the cap lifts it (the same rule as deposits).
///
/// Remaining accounts: `(market, oracle)` for **every** market of the exchange, ascending index.
#[derive(Accounts)]
pub struct WithdrawLiquidity<'info> {
    pub provider: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, constraint = provider_token.mint == exchange.load()?.quote_mint @ MicroliqError::WrongMint)]
    pub provider_token: Account<'info, TokenAccount>,
    #[account(
        mut,
        constraint = provider_shares.mint == lp_mint.key() @ MicroliqError::WrongLpMint,
        constraint = provider_shares.owner == provider.key() @ MicroliqError::WrongTokenOwner,
    )]
    pub provider_shares: Account<'info, TokenAccount>,
    #[account(mut, address = exchange.load()?.lp_mint @ MicroliqError::WrongLpMint)]
    pub lp_mint: Account<'info, Mint>,
    /// CHECK: the exchange's quote vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.quote_vault @ MicroliqError::WrongVault)]
    pub quote_vault: UncheckedAccount<'info>,
    /// Read for the realized deficits it can still cover.
    #[account(has_one = exchange @ MicroliqError::WrongExchange)]
    pub insurance_fund: AccountLoader<'info, InsuranceFund>,
    pub token_program: Program<'info, Token>,
}

impl WithdrawLiquidity<'_> {
    pub fn validate(&self, args: &WithdrawLiquidityArgs) -> Result<()> {
        require!(args.shares > 0, MicroliqError::ZeroAmount);
        require!(args.shares <= self.provider_shares.amount, MicroliqError::InsufficientShares);
        self.exchange.load()?.require_not_paused(pause::LP_WITHDRAW)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle<'info>(
        ctx: Context<'_, '_, 'info, 'info, Self>,
        args: WithdrawLiquidityArgs,
    ) -> Result<()> {
        let accounts = ctx.accounts;
        let clock = OracleClock::get()?;
        let supply = accounts.lp_mint.supply;
        let fund_balance = accounts.insurance_fund.load()?.balance;
        let (amount, nav, bump, quote_mint) = {
            let mut exchange = accounts.exchange.load_mut()?;
            require!(exchange.deficits_covered(fund_balance), MicroliqError::UnresolvedDeficit);
            let nav = value_pool(
                ctx.remaining_accounts,
                &accounts.exchange.key(),
                &exchange,
                Rounding::Up,
                &clock,
            )?
            .nav_collectable;
            require!(nav > 0, MicroliqError::PoolNavNonPositive);
            let amount = math::to_u64(math::mul_div_u128(
                args.shares as u128,
                nav as u128,
                supply as u128,
                Rounding::Down,
            )?)?;
            require!(amount > 0, MicroliqError::ZeroAmount);
            require!(amount >= args.min_amount, MicroliqError::SlippageExceeded);
            let supply_after = supply - args.shares;
            require!(
                supply_after == 0 || supply_after >= whole_unit(exchange.quote_decimals),
                MicroliqError::PoolSharesDust
            );
            let signed = i64::try_from(amount).map_err(|_| error!(MicroliqError::MathOverflow))?;
            exchange.pool_balance = exchange.pool_balance.sub_or_err(signed)?;
            // amount ≤ nav_collectable already keeps the deficits and the profits covered.
            exchange.require_pool_covers_deficits()?;
            exchange.invariant()?;
            (amount, nav, exchange.bump, exchange.quote_mint)
        };
        let token_program = accounts.token_program.to_account_info();
        burn_from_user(
            &token_program,
            &accounts.lp_mint.to_account_info(),
            &accounts.provider_shares.to_account_info(),
            &accounts.provider.to_account_info(),
            args.shares,
        )?;
        let exchange_info = accounts.exchange.to_account_info();
        ExchangeSigner { exchange: &exchange_info, quote_mint, bump }.transfer(
            &token_program,
            &accounts.quote_vault.to_account_info(),
            &accounts.provider_token.to_account_info(),
            amount,
        )?;
        emit!(LiquidityWithdrawn {
            provider: accounts.provider.key(),
            amount,
            shares: args.shares,
            pool_nav_before: math::to_i64(nav)?,
        });
        Ok(())
    }
}
