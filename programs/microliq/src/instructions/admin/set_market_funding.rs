use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::MarketFundingSet;
use crate::settlement::advance_funding;
use crate::state::{Exchange, FundingConfig, Market};

/// Sets a market's funding parameters (within bounds; both 0 turns funding off). The index is
/// advanced under the old parameters first, so a change is never retroactive.
#[derive(Accounts)]
pub struct SetMarketFunding<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub market: AccountLoader<'info, Market>,
}

impl SetMarketFunding<'_> {
    pub fn validate(&self, args: &FundingConfig) -> Result<()> {
        args.validate()
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: FundingConfig) -> Result<()> {
        let mut market = ctx.accounts.market.load_mut()?;
        advance_funding(&mut market, &*ctx.accounts.exchange.load()?, Clock::get()?.unix_timestamp)?;
        let (old_rate_scale, old_max_rate) = (market.funding_rate_scale, market.funding_max_rate);
        market.funding_rate_scale = args.rate_scale;
        market.funding_max_rate = args.max_rate;
        market.invariant()?;
        emit!(MarketFundingSet {
            market_index: market.market_index,
            old_rate_scale,
            old_max_rate,
            rate_scale: args.rate_scale,
            max_rate: args.max_rate,
        });
        Ok(())
    }
}
