use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::LiquidityDeposited;
use crate::instructions::lp::pool_nav::value_pool;
use crate::math::{self, Checked, Rounding};
use crate::oracle::OracleClock;
use crate::state::{pause, Exchange, InsuranceFund};
use crate::token_ops::{transfer_from_user, ExchangeSigner};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct DepositLiquidityArgs {
    /// Quote atoms.
    pub amount: u64,
    /// Fewest shares the depositor accepts (slippage guard against a NAV that moved, or was
    /// moved, before the deposit lands); 0 for none.
    pub min_shares: u64,
}

/// Deposits quote into the pool and mints shares at the counted NAV (every unrealized trader
/// loss counted as the pool's: the higher of the two values in docs/POOL.md):
/// `shares = amount · supply / NAV`, rounded down. With no shares outstanding the deposit mints
/// 1:1, and is refused unless the pool's counted value is ≥ 0.
///
/// The first deposit into an empty pool must be at least one whole quote unit, and a withdrawal
/// never leaves less than one whole share outstanding (see `withdraw_liquidity`): a share atom
/// then never costs more than a millionth of the pool, so rounding cannot take a deposit.
///
/// Refused with `UnresolvedDeficit` while realized deficits (`Σ max(−collateral, 0)`) exceed what
/// the insurance fund covers: a new LP would otherwise buy into a loss that is already certain.
///
/// Remaining accounts: `(market, oracle)` for **every** market of the exchange, ascending index.
#[derive(Accounts)]
pub struct DepositLiquidity<'info> {
    pub provider: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(
        mut,
        constraint = provider_token.mint == exchange.load()?.quote_mint @ MicroliqError::WrongMint,
        constraint = provider_token.owner == provider.key() @ MicroliqError::WrongTokenOwner,
    )]
    pub provider_token: Account<'info, TokenAccount>,
    #[account(mut, constraint = provider_shares.mint == lp_mint.key() @ MicroliqError::WrongLpMint)]
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

impl DepositLiquidity<'_> {
    pub fn validate(&self, args: &DepositLiquidityArgs) -> Result<()> {
        require!(args.amount > 0, MicroliqError::ZeroAmount);
        require!(args.amount <= self.provider_token.amount, MicroliqError::InsufficientCollateral);
        self.exchange.load()?.require_not_paused(pause::LP_DEPOSIT)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle<'info>(ctx: Context<'_, '_, 'info, 'info, Self>, args: DepositLiquidityArgs) -> Result<()> {
        let accounts = ctx.accounts;
        let clock = OracleClock::get()?;
        let supply = accounts.lp_mint.supply;
        let fund_balance = accounts.insurance_fund.load()?.balance;
        let (shares, nav, bump, quote_mint) = {
            let mut exchange = accounts.exchange.load_mut()?;
            require!(exchange.deficits_covered(fund_balance), MicroliqError::UnresolvedDeficit);
            let nav = value_pool(
                ctx.remaining_accounts,
                &accounts.exchange.key(),
                &exchange,
                Rounding::Down,
                &clock,
            )?
            .nav_counted;
            let shares = if supply == 0 {
                // Nobody holds the pool: the depositor takes what is in it, but never a hole.
                require!(nav >= 0, MicroliqError::PoolNavNonPositive);
                require!(
                    args.amount >= whole_unit(exchange.quote_decimals),
                    MicroliqError::PoolDepositTooSmall
                );
                args.amount
            } else {
                require!(nav > 0, MicroliqError::PoolNavNonPositive);
                math::to_u64(math::mul_div_u128(
                    args.amount as u128,
                    supply as u128,
                    nav as u128,
                    Rounding::Down,
                )?)?
            };
            require!(shares > 0, MicroliqError::TooSmallForOneShare);
            require!(shares >= args.min_shares, MicroliqError::SlippageExceeded);
            let amount = i64::try_from(args.amount).map_err(|_| error!(MicroliqError::MathOverflow))?;
            exchange.pool_balance = exchange.pool_balance.add_or_err(amount)?;
            exchange.invariant()?;
            (shares, nav, exchange.bump, exchange.quote_mint)
        };
        let token_program = accounts.token_program.to_account_info();
        transfer_from_user(
            &token_program,
            &accounts.provider_token.to_account_info(),
            &accounts.quote_vault.to_account_info(),
            &accounts.provider.to_account_info(),
            args.amount,
        )?;
        let exchange_info = accounts.exchange.to_account_info();
        ExchangeSigner { exchange: &exchange_info, quote_mint, bump }.mint_to(
            &token_program,
            &accounts.lp_mint.to_account_info(),
            &accounts.provider_shares.to_account_info(),
            shares,
        )?;
        emit!(LiquidityDeposited {
            provider: accounts.provider.key(),
            amount: args.amount,
            shares,
            pool_nav_before: math::to_i64(nav)?,
        });
        Ok(())
    }
}

/// One whole quote unit (and one whole pool share: the share mint has the quote's decimals), in
/// atoms.
pub fn whole_unit(quote_decimals: u8) -> u64 {
    10u64.saturating_pow(quote_decimals as u32)
}
