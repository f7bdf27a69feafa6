use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::state::MarginAccount;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct SetDelegateArgs {
    /// The key that may trade (never withdraw) for the owner; `Pubkey::default()` removes it.
    pub delegate: Pubkey,
}

/// Sets or clears the margin account's trading delegate.
#[derive(Accounts)]
pub struct SetDelegate<'info> {
    pub owner: Signer<'info>,
    #[account(mut, has_one = owner @ MicroliqError::NotOwner)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
}

impl SetDelegate<'_> {
    pub fn handle(ctx: Context<Self>, args: SetDelegateArgs) -> Result<()> {
        ctx.accounts.margin_account.load_mut()?.delegate = args.delegate;
        Ok(())
    }
}
