use anchor_lang::prelude::*;
use anchor_spl::token::Token;

use crate::error::MicroliqError;
use crate::events::BankruptcyResolved;
use crate::instructions::keeper::bankruptcy::{is_bankrupt, resolve_bankruptcy};
use crate::instructions::keeper::liquidate::move_between_vaults;
use crate::state::{Exchange, InsuranceFund, MarginAccount};
use crate::token_ops::ExchangeSigner;

/// Permissionless: resolves a bankrupt account (no position, negative collateral) through the
/// waterfall in `bankruptcy.rs`. `liquidate` does this by itself when its slice leaves the
/// account bankrupt; this instruction covers accounts left so by other paths (for example a
/// trader's own close that realized a loss beyond the collateral).
#[derive(Accounts)]
pub struct ResolveBankruptcy<'info> {
    pub caller: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub insurance_fund: AccountLoader<'info, InsuranceFund>,
    /// CHECK: the exchange's quote vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.quote_vault @ MicroliqError::WrongVault)]
    pub quote_vault: UncheckedAccount<'info>,
    /// CHECK: the exchange's insurance vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.insurance_vault @ MicroliqError::WrongVault)]
    pub insurance_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

impl ResolveBankruptcy<'_> {
    pub fn validate(&self) -> Result<()> {
        require!(is_bankrupt(&*self.margin_account.load()?), MicroliqError::NotBankrupt);
        Ok(())
    }

    #[access_control(ctx.accounts.validate())]
    pub fn handle(ctx: Context<Self>) -> Result<()> {
        let accounts = ctx.accounts;
        let slot = Clock::get()?.slot;
        let (resolution, balance_after, bump, quote_mint) = {
            let mut exchange = accounts.exchange.load_mut()?;
            let mut account = accounts.margin_account.load_mut()?;
            let mut fund = accounts.insurance_fund.load_mut()?;
            let resolution = resolve_bankruptcy(&mut exchange, &mut fund, &mut account)?;
            account.invariant()?;
            exchange.invariant()?;
            (resolution, fund.balance, exchange.bump, exchange.quote_mint)
        };
        let exchange_info = accounts.exchange.to_account_info();
        move_between_vaults(
            &ExchangeSigner { exchange: &exchange_info, quote_mint, bump },
            &accounts.token_program.to_account_info(),
            &accounts.quote_vault.to_account_info(),
            &accounts.insurance_vault.to_account_info(),
            0,
            &resolution,
        )?;
        emit!(BankruptcyResolved {
            margin_account: accounts.margin_account.key(),
            deficit: resolution.deficit,
            insurance_draw: resolution.insurance_draw,
            socialized_loss: resolution.socialized_loss,
            insurance_balance_after: balance_after,
            slot,
        });
        Ok(())
    }
}
