//! Events, emitted with `emit!` (program log). They are appended, never edited: a changed shape
//! gets a new name (`...V2`).

use anchor_lang::prelude::*;

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeInitialized {
    pub exchange: Pubkey,
    pub admin: Pubkey,
    pub quote_mint: Pubkey,
    pub pyth_program: Pubkey,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketAdded {
    pub exchange: Pubkey,
    pub market: Pubkey,
    pub market_index: u16,
    pub oracle: Pubkey,
    /// [`crate::oracle::OracleKind`] and [`crate::oracle::OracleMode`] as `u8`.
    pub oracle_kind: u8,
    pub oracle_mode: u8,
    pub oracle_feed_id: [u8; 32],
    /// Oldest price orders, withdrawals and LP actions accept (0 = the market's max staleness).
    pub oracle_trading_staleness_secs: u32,
}

/// A market's oracle was set or switched (`set_market_oracle`); the new account read the price
/// below when it was accepted.
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketOracleSet {
    pub market: Pubkey,
    pub market_index: u16,
    pub old_oracle: Pubkey,
    pub old_oracle_kind: u8,
    pub old_oracle_mode: u8,
    pub old_oracle_feed_id: [u8; 32],
    pub oracle: Pubkey,
    pub oracle_kind: u8,
    pub oracle_mode: u8,
    pub oracle_feed_id: [u8; 32],
    pub oracle_trading_staleness_secs: u32,
    /// The new account's price when it was accepted (raw mantissa, exponent, publish time).
    pub price: i64,
    pub expo: i32,
    pub publish_time: i64,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketParamsUpdated {
    pub market: Pubkey,
    pub market_index: u16,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PauseChanged {
    pub exchange: Pubkey,
    /// `None` for the exchange-wide flags.
    pub market_index: Option<u16>,
    pub paused: u16,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminTransferred {
    pub exchange: Pubkey,
    pub previous_admin: Pubkey,
    pub new_admin: Pubkey,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralDeposited {
    pub margin_account: Pubkey,
    pub depositor: Pubkey,
    pub amount: u64,
    pub collateral_after: i64,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralWithdrawn {
    pub margin_account: Pubkey,
    pub amount: u64,
    pub collateral_after: i64,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidityDeposited {
    pub provider: Pubkey,
    pub amount: u64,
    pub shares: u64,
    pub pool_nav_before: i64,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidityWithdrawn {
    pub provider: Pubkey,
    pub amount: u64,
    pub shares: u64,
    pub pool_nav_before: i64,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsuranceDeposited {
    pub depositor: Pubkey,
    pub amount: u64,
    pub balance_after: u64,
}

/// One liquidation slice, as emitted up to the money-safety release; superseded by
/// [`LiquidationSliceV2`] (kept so that old logs still decode).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidationSlice {
    pub margin_account: Pubkey,
    pub owner: Pubkey,
    pub market_index: u16,
    pub keeper: Pubkey,
    /// Base atoms closed (always positive; the side is the sign of the position).
    pub base_closed: u64,
    /// The smallest lot multiple that restores the target, before caps.
    pub exact_slice: u64,
    /// 0 = a slice, 1 = whole (dust), 2 = whole (equity ≤ 0), 3 = whole (target unreachable).
    pub whole_close: u8,
    /// Fill price, fixed point (quote atoms per base atom × 1e12), rounded against the account.
    pub fill_price: u64,
    /// The raw Pyth aggregate price, confidence and exponent.
    pub oracle_price: i64,
    pub oracle_conf: u64,
    pub oracle_expo: i32,
    pub realized_pnl: i64,
    /// Keeper bonus rate applied (1e6 = 100 %).
    pub bonus_rate: u32,
    pub keeper_bonus: u64,
    pub insurance_fee: u64,
    pub equity_before: i64,
    pub maintenance_before: u64,
    pub equity_after: i64,
    pub maintenance_after: u64,
    /// Signed base left in the position.
    pub remaining_base: i64,
    /// Whether this call ended with the account bankrupt and resolved.
    pub bankrupt: bool,
    pub insurance_draw: u64,
    pub socialized_loss: u64,
    pub slot: u64,
}

/// A bankrupt account's deficit was covered (insurance first, the pool for the rest).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankruptcyResolved {
    pub margin_account: Pubkey,
    pub deficit: u64,
    pub insurance_draw: u64,
    pub socialized_loss: u64,
    pub insurance_balance_after: u64,
    pub slot: u64,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsuranceWithdrawn {
    pub admin: Pubkey,
    pub amount: u64,
    pub balance_after: u64,
}

/// One liquidation slice (replaces [`LiquidationSlice`], which is no longer emitted): health in
/// 128-bit (a large account's equity need not fit 64 bits), the insolvent-close reward, and the
/// episode state after the slice. Keepers read it from the transaction's log (`Program data:`
/// lines, Anchor's event encoding: 8-byte discriminator + Borsh).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidationSliceV2 {
    pub margin_account: Pubkey,
    pub owner: Pubkey,
    pub market_index: u16,
    pub keeper: Pubkey,
    /// Base atoms closed (always positive; the side is the sign of the position).
    pub base_closed: u64,
    /// The smallest lot multiple that restores the target, before caps.
    pub exact_slice: u64,
    /// 0 = a slice, 1 = whole (dust), 2 = whole (equity ≤ 0), 3 = whole (target unreachable),
    /// 4 = whole (the penalty took all equity left), 5 = whole (a losing position in a repeat
    /// breach: within the exchange's `repeat_liquidation_window_slots` of the account's last
    /// recovery; `exact_slice` is then the position). A whole close of a position whose notional
    /// exceeds `MAX_SLICE_NOTIONAL` takes several calls (a repeat close's episode may end first,
    /// once the target is reached).
    pub whole_close: u8,
    /// Fill price, fixed point (quote atoms per base atom × 1e12), rounded against the account.
    pub fill_price: u64,
    /// The raw Pyth aggregate price, confidence and exponent.
    pub oracle_price: i64,
    pub oracle_conf: u64,
    pub oracle_expo: i32,
    pub realized_pnl: i64,
    /// Keeper bonus rate applied (1e6 = 100 %).
    pub bonus_rate: u32,
    /// Paid to the keeper out of the account's collateral.
    pub keeper_bonus: u64,
    pub insurance_fee: u64,
    /// Paid to the keeper by the insurance fund for closing an insolvent position.
    pub insolvent_reward: u64,
    pub equity_before: i128,
    pub maintenance_before: u128,
    pub equity_after: i128,
    pub maintenance_after: u128,
    /// β of the market: the episode ends at `E ≥ (1 + β)·M`.
    pub liquidation_buffer: u32,
    /// Slot the episode started; 0 when this slice reached the target and ended it.
    pub episode_start_slot: u64,
    /// Signed base left in the position.
    pub remaining_base: i64,
    /// Whether this call ended with the account bankrupt and resolved.
    pub bankrupt: bool,
    pub insurance_draw: u64,
    pub socialized_loss: u64,
    pub slot: u64,
}

/// A liquidation episode ended without a slice: the account was at or above its end target
/// (a price move or a deposit brought it there), or the episode had lapsed with the account at
/// or above maintenance. `liquidate` returns success after emitting it, so the end is recorded.
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidationEpisodeEnded {
    pub margin_account: Pubkey,
    pub episode_start_slot: u64,
    pub equity: i128,
    pub maintenance_requirement: u128,
    pub slot: u64,
}

/// Exchange-wide parameters changed (`update_exchange`).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeUpdated {
    pub exchange: Pubkey,
    pub insurance_cap_per_event: u64,
    pub insolvent_close_reward: u64,
    pub liquidation_episode_slots: u64,
}

/// `LiquidationSliceV2` and the funding the call settled (what `liquidate` emits since funding).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidationSliceV3 {
    pub margin_account: Pubkey,
    pub owner: Pubkey,
    pub market_index: u16,
    pub keeper: Pubkey,
    /// Base atoms closed (always positive; the side is the sign of the position).
    pub base_closed: u64,
    /// The smallest lot multiple that restores the target, before caps.
    pub exact_slice: u64,
    /// 0 = a slice, 1 = whole (dust), 2 = whole (equity ≤ 0), 3 = whole (target unreachable),
    /// 4 = whole (the penalty took all equity left), 5 = whole (a losing position in a repeat
    /// breach: within the exchange's `repeat_liquidation_window_slots` of the account's last
    /// recovery; `exact_slice` is then the position). A whole close of a position whose notional
    /// exceeds `MAX_SLICE_NOTIONAL` takes several calls (a repeat close's episode may end first,
    /// once the target is reached).
    pub whole_close: u8,
    /// Fill price, fixed point (quote atoms per base atom × 1e12), rounded against the account.
    pub fill_price: u64,
    /// The raw Pyth aggregate price, confidence and exponent.
    pub oracle_price: i64,
    pub oracle_conf: u64,
    pub oracle_expo: i32,
    pub realized_pnl: i64,
    /// Keeper bonus rate applied (1e6 = 100 %).
    pub bonus_rate: u32,
    /// Paid to the keeper out of the account's collateral.
    pub keeper_bonus: u64,
    pub insurance_fee: u64,
    /// Paid to the keeper by the insurance fund for closing an insolvent position.
    pub insolvent_reward: u64,
    pub equity_before: i128,
    pub maintenance_before: u128,
    pub equity_after: i128,
    pub maintenance_after: u128,
    /// β of the market: the episode ends at `E ≥ (1 + β)·M`.
    pub liquidation_buffer: u32,
    /// Slot the episode started; 0 when this slice reached the target and ended it.
    pub episode_start_slot: u64,
    /// Signed base left in the position.
    pub remaining_base: i64,
    /// Whether this call ended with the account bankrupt and resolved.
    pub bankrupt: bool,
    pub insurance_draw: u64,
    pub socialized_loss: u64,
    pub slot: u64,
    /// Funding of the closed position settled into collateral before it was closed (quote
    /// atoms, negative = paid): the sliced position's, or on the other positions an insolvent
    /// close takes, each one's own.
    pub funding_settled: i64,
}

/// A market's funding index moved (emitted by whatever instruction advanced it, the
/// `update_funding` crank included; not emitted when it did not move).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingUpdated {
    pub market_index: u16,
    /// Index after the advance (1e15 = 100 % of notional; grows while longs pay).
    pub funding_index: i64,
    pub index_delta: i64,
    /// Rate in force over the interval, per hour (1e15 = 100 %; positive: longs pay).
    pub rate_per_hour: i64,
    pub elapsed_secs: u64,
    /// Open interest the rate was computed from (base atoms).
    pub long_base: u64,
    pub short_base: u64,
    pub unix_timestamp: i64,
}

/// A market's funding parameters changed (`set_market_funding`; `add_market` sets the first).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketFundingSet {
    pub market_index: u16,
    pub old_rate_scale: u32,
    pub old_max_rate: u32,
    pub rate_scale: u32,
    pub max_rate: u32,
}

/// `OrderFilled` and the funding settled into collateral before the fill (quote atoms, negative
/// = paid).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderFilledV2 {
    pub margin_account: Pubkey,
    pub market_index: u16,
    pub base_delta: i64,
    pub fill_price: u64,
    pub realized_pnl: i64,
    pub fee: u64,
    pub base_after: i64,
    pub entry_quote_after: i64,
    pub collateral_after: i64,
    pub funding_settled: i64,
}

/// `CollateralWithdrawn` and the funding settled in the markets passed writable.
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralWithdrawnV2 {
    pub margin_account: Pubkey,
    pub amount: u64,
    pub collateral_after: i64,
    pub funding_settled: i64,
}

/// `CollateralDeposited` and the funding settled in the markets passed writable.
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralDepositedV2 {
    pub margin_account: Pubkey,
    pub depositor: Pubkey,
    pub amount: u64,
    pub collateral_after: i64,
    pub funding_settled: i64,
}

/// `LiquidationEpisodeEnded` from `liquidate`, with the funding the call settled into the named
/// position's collateral before finding the account at its target (quote atoms, negative =
/// paid). A deposit that ends an episode still emits `LiquidationEpisodeEnded` (its own event
/// carries what it settled).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidationEpisodeEndedV2 {
    pub margin_account: Pubkey,
    pub episode_start_slot: u64,
    pub equity: i128,
    pub maintenance_requirement: u128,
    pub slot: u64,
    pub funding_settled: i64,
}

/// The exchange's repeat-breach window changed (`set_repeat_liquidation_window`).
#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepeatLiquidationWindowSet {
    pub exchange: Pubkey,
    pub previous_window_slots: u64,
    pub window_slots: u64,
}
