use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::AdminTransferred;
use crate::state::Exchange;

/// Hands the exchange to a new admin. Both keys sign, so the admin cannot be handed to a key
/// nobody holds.
#[derive(Accounts)]
pub struct TransferAdmin<'info> {
    pub admin: Signer<'info>,
    pub new_admin: Signer<'info>,
    #[account(mut, has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
}

impl TransferAdmin<'_> {
    pub fn handle(ctx: Context<Self>) -> Result<()> {
        let mut exchange = ctx.accounts.exchange.load_mut()?;
        exchange.admin = ctx.accounts.new_admin.key();
        emit!(AdminTransferred {
            exchange: ctx.accounts.exchange.key(),
            previous_admin: ctx.accounts.admin.key(),
            new_admin: exchange.admin,
        });
        Ok(())
    }
}
