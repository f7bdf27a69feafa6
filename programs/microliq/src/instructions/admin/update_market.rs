use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::MarketParamsUpdated;
use crate::state::{Exchange, Market, MarketParams};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct UpdateMarketArgs {
    /// The full new parameter set; every bound and cross-rule is checked as for `add_market`.
    pub params: MarketParams,
}

/// Replaces a market's risk and fee parameters.
#[derive(Accounts)]
pub struct UpdateMarket<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub market: AccountLoader<'info, Market>,
}

impl UpdateMarket<'_> {
    pub fn validate(&self, args: &UpdateMarketArgs) -> Result<()> {
        args.params.validate()
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: UpdateMarketArgs) -> Result<()> {
        let mut market = ctx.accounts.market.load_mut()?;
        market.params = args.params;
        crate::oracle::require_oracle_windows(&market)?;
        market.invariant()?;
        emit!(MarketParamsUpdated { market: ctx.accounts.market.key(), market_index: market.market_index });
        Ok(())
    }
}
