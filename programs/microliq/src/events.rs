//! Events, emitted with `emit!` (program log). They are appended, never edited: a changed shape
//! gets a new name (`...V2`).

use anchor_lang::prelude::*;

#[event]
pub struct ExchangeInitialized {
    pub exchange: Pubkey,
    pub admin: Pubkey,
    pub quote_mint: Pubkey,
    pub pyth_program: Pubkey,
}

#[event]
pub struct MarketAdded {
    pub exchange: Pubkey,
    pub market: Pubkey,
    pub market_index: u16,
    pub oracle: Pubkey,
}

#[event]
pub struct MarketParamsUpdated {
    pub market: Pubkey,
    pub market_index: u16,
}

#[event]
pub struct PauseChanged {
    pub exchange: Pubkey,
    /// `None` for the exchange-wide flags.
    pub market_index: Option<u16>,
    pub paused: u16,
}

#[event]
pub struct AdminTransferred {
    pub exchange: Pubkey,
    pub previous_admin: Pubkey,
    pub new_admin: Pubkey,
}

#[event]
pub struct CollateralDeposited {
    pub margin_account: Pubkey,
    pub depositor: Pubkey,
    pub amount: u64,
    pub collateral_after: i64,
}

#[event]
pub struct CollateralWithdrawn {
    pub margin_account: Pubkey,
    pub amount: u64,
    pub collateral_after: i64,
}

#[event]
pub struct OrderFilled {
    pub margin_account: Pubkey,
    pub market_index: u16,
    /// Signed base atoms traded (buy > 0).
    pub base_delta: i64,
    /// Oracle price of the fill, fixed point (1e12), rounded against the trader.
    pub fill_price: u64,
    pub realized_pnl: i64,
    pub fee: u64,
    pub base_after: i64,
    pub entry_quote_after: i64,
    pub collateral_after: i64,
}

#[event]
pub struct LiquidityDeposited {
    pub provider: Pubkey,
    pub amount: u64,
    pub shares: u64,
    pub pool_nav_before: i64,
}

#[event]
pub struct LiquidityWithdrawn {
    pub provider: Pubkey,
    pub amount: u64,
    pub shares: u64,
    pub pool_nav_before: i64,
}

#[event]
pub struct InsuranceDeposited {
    pub depositor: Pubkey,
    pub amount: u64,
    pub balance_after: u64,
}
