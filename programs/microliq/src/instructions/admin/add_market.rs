use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::{MarketAdded, MarketFundingSet};
use crate::instructions::admin::OracleConfig;
use crate::state::{bounds, seeds, Exchange, FundingConfig, Market, MarketParams, MAX_MARKETS};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct AddMarketArgs {
    pub params: MarketParams,
    /// Decimals of the base asset's unit in which positions are counted.
    pub base_decimals: u8,
    /// Display name (UTF-8, at most 16 bytes).
    pub name: String,
    /// How the market is priced; `oracle` must read under it now.
    pub oracle_config: OracleConfig,
    /// Funding parameters (both 0: no funding; `set_market_funding` changes them).
    pub funding: FundingConfig,
}

/// Lists a perpetual market at index `exchange.market_count`, priced by `oracle`.
#[derive(Accounts)]
pub struct AddMarket<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(
        init,
        payer = admin,
        space = Market::SPACE,
        seeds = [seeds::MARKET, exchange.key().as_ref(), &exchange.load()?.market_count.to_le_bytes()],
        bump,
    )]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: must read as the market's price under `args.oracle_config` (every guard of
    /// `read_oracle`, at the market's parameters); checked in `handle`.
    pub oracle: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

impl AddMarket<'_> {
    pub fn validate(&self, args: &AddMarketArgs) -> Result<()> {
        let exchange = self.exchange.load()?;
        require!(exchange.market_count < MAX_MARKETS, MicroliqError::TooManyMarkets);
        args.oracle_config.validate()?;
        args.funding.validate()?;
        require!(
            args.base_decimals <= bounds::BASE_DECIMALS_MAX && args.name.len() <= 16,
            MicroliqError::ParameterOutOfBounds
        );
        args.params.validate()
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: AddMarketArgs) -> Result<()> {
        let mut exchange = ctx.accounts.exchange.load_mut()?;
        let mut market = ctx.accounts.market.load_init()?;
        market.exchange = ctx.accounts.exchange.key();
        market.oracle = ctx.accounts.oracle.key();
        market.params = args.params;
        market.market_index = exchange.market_count;
        market.base_decimals = args.base_decimals;
        market.bump = ctx.bumps.market;
        market.name[..args.name.len()].copy_from_slice(args.name.as_bytes());
        args.oracle_config.apply(&mut market);
        market.funding_rate_scale = args.funding.rate_scale;
        market.funding_max_rate = args.funding.max_rate;
        let now = Clock::get()?.unix_timestamp;
        market.funding_updated_at = now;
        // The exchange's close-pause clock as of now: its past pauses are not this market's.
        market.funding_paused_secs_at_update = exchange.funding_time(now).paused_secs;
        args.oracle_config.require_reads(&ctx.accounts.oracle, &mut market, &exchange)?;
        market.invariant()?;
        exchange.market_count += 1;
        exchange.invariant()?;

        emit!(MarketAdded {
            exchange: ctx.accounts.exchange.key(),
            market: ctx.accounts.market.key(),
            market_index: market.market_index,
            oracle: market.oracle,
            oracle_kind: market.oracle_kind,
            oracle_mode: market.oracle_mode,
            oracle_feed_id: market.oracle_feed_id,
            oracle_trading_staleness_secs: market.oracle_trading_staleness_secs,
        });
        emit!(MarketFundingSet {
            market_index: market.market_index,
            old_rate_scale: 0,
            old_max_rate: 0,
            rate_scale: args.funding.rate_scale,
            max_rate: args.funding.max_rate,
        });
        Ok(())
    }
}
