use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::CollateralDeposited;
use crate::state::{pause, Exchange, MarginAccount};
use crate::token_ops::transfer_from_user;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct DepositCollateralArgs {
    /// Quote atoms.
    pub amount: u64,
}

/// Moves quote tokens from the depositor into the quote vault, credited to the margin account.
/// Anyone may top up any account (it only adds to its health).
#[derive(Accounts)]
pub struct DepositCollateral<'info> {
    pub depositor: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(
        mut,
        constraint = depositor_token.mint == exchange.load()?.quote_mint @ MicroliqError::WrongMint,
        constraint = depositor_token.owner == depositor.key() @ MicroliqError::WrongTokenOwner,
    )]
    pub depositor_token: Account<'info, TokenAccount>,
    /// CHECK: the exchange's quote vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.quote_vault @ MicroliqError::WrongVault)]
    pub quote_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

impl DepositCollateral<'_> {
    pub fn validate(&self, args: &DepositCollateralArgs) -> Result<()> {
        require!(args.amount > 0, MicroliqError::ZeroAmount);
        require!(args.amount <= self.depositor_token.amount, MicroliqError::InsufficientCollateral);
        self.exchange.load()?.require_not_paused(pause::DEPOSIT)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: DepositCollateralArgs) -> Result<()> {
        let accounts = ctx.accounts;
        let collateral_after = {
            let mut exchange = accounts.exchange.load_mut()?;
            let mut account = accounts.margin_account.load_mut()?;
            let amount = i64::try_from(args.amount).map_err(|_| error!(MicroliqError::MathOverflow))?;
            exchange.change_collateral(&mut account.collateral, amount)?;
            account.invariant()?;
            account.collateral
        };
        transfer_from_user(
            &accounts.token_program.to_account_info(),
            &accounts.depositor_token.to_account_info(),
            &accounts.quote_vault.to_account_info(),
            &accounts.depositor.to_account_info(),
            args.amount,
        )?;
        emit!(CollateralDeposited {
            margin_account: accounts.margin_account.key(),
            depositor: accounts.depositor.key(),
            amount: args.amount,
            collateral_after,
        });
        Ok(())
    }
}
