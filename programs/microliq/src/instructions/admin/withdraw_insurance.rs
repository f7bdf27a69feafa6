use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::InsuranceWithdrawn;
use crate::math::Checked;
use crate::state::{pause, Exchange, InsuranceFund};
use crate::token_ops::ExchangeSigner;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct WithdrawInsuranceArgs {
    /// Quote atoms.
    pub amount: u64,
}

/// The admin withdraws from the insurance fund, never below the open negative collateral of all
/// accounts (`exchange.negative_collateral`), which bankruptcies may still draw on.
#[derive(Accounts)]
pub struct WithdrawInsurance<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub insurance_fund: AccountLoader<'info, InsuranceFund>,
    #[account(mut, constraint = destination.mint == exchange.load()?.quote_mint @ MicroliqError::WrongMint)]
    pub destination: Account<'info, TokenAccount>,
    /// CHECK: the exchange's insurance vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.insurance_vault @ MicroliqError::WrongVault)]
    pub insurance_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

impl WithdrawInsurance<'_> {
    pub fn validate(&self, args: &WithdrawInsuranceArgs) -> Result<()> {
        require!(args.amount > 0, MicroliqError::ZeroAmount);
        self.exchange.load()?.require_not_paused(pause::INSURANCE)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: WithdrawInsuranceArgs) -> Result<()> {
        let accounts = ctx.accounts;
        let (balance_after, bump, quote_mint) = {
            let exchange = accounts.exchange.load()?;
            let mut fund = accounts.insurance_fund.load_mut()?;
            require!(args.amount <= fund.balance, MicroliqError::InsufficientCollateral);
            let balance_after = fund.balance - args.amount;
            require!(
                balance_after >= exchange.negative_collateral,
                MicroliqError::InsuranceReservedForBadDebt
            );
            fund.balance = balance_after;
            fund.total_withdrawn = fund.total_withdrawn.add_or_err(args.amount)?;
            fund.invariant()?;
            (balance_after, exchange.bump, exchange.quote_mint)
        };
        let exchange_info = accounts.exchange.to_account_info();
        ExchangeSigner { exchange: &exchange_info, quote_mint, bump }.transfer(
            &accounts.token_program.to_account_info(),
            &accounts.insurance_vault.to_account_info(),
            &accounts.destination.to_account_info(),
            args.amount,
        )?;
        emit!(InsuranceWithdrawn { admin: accounts.admin.key(), amount: args.amount, balance_after });
        Ok(())
    }
}
