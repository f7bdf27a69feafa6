use anchor_lang::prelude::*;
use pyth_sdk_solana::state::load_price_account;

use crate::error::MicroliqError;
use crate::events::MarketAdded;
use crate::state::{bounds, seeds, Exchange, Market, MarketParams, MAX_MARKETS};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct AddMarketArgs {
    pub params: MarketParams,
    /// Decimals of the base asset's unit in which positions are counted.
    pub base_decimals: u8,
    /// Display name (UTF-8, at most 16 bytes).
    pub name: String,
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
    /// CHECK: must be a legacy Pyth price account owned by the exchange's Pyth program; checked
    /// in `validate`.
    pub oracle: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

impl AddMarket<'_> {
    pub fn validate(&self, args: &AddMarketArgs) -> Result<()> {
        let exchange = self.exchange.load()?;
        require!(exchange.market_count < MAX_MARKETS, MicroliqError::TooManyMarkets);
        require_keys_eq!(*self.oracle.owner, exchange.pyth_program, MicroliqError::OracleWrongOwner);
        load_price_account::<32, ()>(&self.oracle.try_borrow_data()?)
            .map_err(|_| error!(MicroliqError::OracleInvalid))?;
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
        market.invariant()?;
        exchange.market_count += 1;
        exchange.invariant()?;

        emit!(MarketAdded {
            exchange: ctx.accounts.exchange.key(),
            market: ctx.accounts.market.key(),
            market_index: market.market_index,
            oracle: market.oracle,
        });
        Ok(())
    }
}
