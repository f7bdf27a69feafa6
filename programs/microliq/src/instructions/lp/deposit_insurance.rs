use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::InsuranceDeposited;
use crate::math::Checked;
use crate::state::{pause, Exchange, InsuranceFund};
use crate::token_ops::transfer_from_user;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct DepositInsuranceArgs {
    /// Quote atoms.
    pub amount: u64,
}

/// Anyone may add quote tokens to the insurance fund (they are not withdrawable by the depositor).
#[derive(Accounts)]
pub struct DepositInsurance<'info> {
    pub depositor: Signer<'info>,
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub insurance_fund: AccountLoader<'info, InsuranceFund>,
    #[account(
        mut,
        constraint = depositor_token.mint == exchange.load()?.quote_mint @ MicroliqError::WrongMint,
        constraint = depositor_token.owner == depositor.key() @ MicroliqError::WrongTokenOwner,
    )]
    pub depositor_token: Account<'info, TokenAccount>,
    /// CHECK: the exchange's insurance vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.insurance_vault @ MicroliqError::WrongVault)]
    pub insurance_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

impl DepositInsurance<'_> {
    pub fn validate(&self, args: &DepositInsuranceArgs) -> Result<()> {
        require!(args.amount > 0, MicroliqError::ZeroAmount);
        require!(args.amount <= self.depositor_token.amount, MicroliqError::InsufficientCollateral);
        self.exchange.load()?.require_not_paused(pause::INSURANCE)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: DepositInsuranceArgs) -> Result<()> {
        let accounts = ctx.accounts;
        let balance_after = {
            let mut fund = accounts.insurance_fund.load_mut()?;
            fund.balance = fund.balance.add_or_err(args.amount)?;
            fund.total_contributions = fund.total_contributions.add_or_err(args.amount)?;
            fund.invariant()?;
            fund.balance
        };
        transfer_from_user(
            &accounts.token_program.to_account_info(),
            &accounts.depositor_token.to_account_info(),
            &accounts.insurance_vault.to_account_info(),
            &accounts.depositor.to_account_info(),
            args.amount,
        )?;
        emit!(InsuranceDeposited { depositor: accounts.depositor.key(), amount: args.amount, balance_after });
        Ok(())
    }
}
