use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::state::Exchange;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct UpdateExchangeArgs {
    /// Most the insurance fund pays for one bankruptcy, quote atoms.
    pub insurance_cap_per_event: u64,
}

/// Updates exchange-wide parameters.
#[derive(Accounts)]
pub struct UpdateExchange<'info> {
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
}

impl UpdateExchange<'_> {
    pub fn handle(ctx: Context<Self>, args: UpdateExchangeArgs) -> Result<()> {
        let mut exchange = ctx.accounts.exchange.load_mut()?;
        exchange.insurance_cap_per_event = args.insurance_cap_per_event;
        exchange.invariant()
    }
}
