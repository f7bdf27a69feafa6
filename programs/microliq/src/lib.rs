//! Microliq: cross-margin perpetuals with micro-liquidation.
//!
//! Layout: [`math`] is pure (no Solana types) and shared with off-chain code; [`state`] holds the
//! zero-copy accounts; [`instructions`] has one file per instruction grouped by caller; the
//! functions below only delegate. See `docs/` for the guides by reader.

#![allow(unexpected_cfgs)]
// Anchor's generated code and handler signatures trip these lints.
#![allow(clippy::result_large_err, clippy::too_many_arguments)]
// Anchor 0.31's `#[program]` expands to the deprecated `AccountInfo::realloc`.
#![allow(deprecated)]
// `u64::is_multiple_of` is newer than the rustc of Solana's platform-tools; `anchor build` must
// compile this crate there too.
#![allow(clippy::manual_is_multiple_of)]

use anchor_lang::prelude::*;
// Integer/float intrinsics (`__multi3`, `__udivti3`, …) for the SBF target.
#[cfg(target_os = "solana")]
use solana_compiler_builtins as _;

pub mod error;
pub mod event_log;
pub mod events;
pub mod health_accounts;
pub mod instructions;
pub mod math;
pub mod oracle;
pub mod settlement;
pub mod state;
pub mod token_ops;

use instructions::*;
use state::FundingConfig;

declare_id!("MiQ1iqAq7UjdkXvbe8EFw1qKXKwsTjz5bRcv3Uqr5Yc");

#[program]
pub mod microliq {
    use super::*;

    // --- admin -------------------------------------------------------------------------------

    /// Creates the exchange for a quote mint with its vaults, insurance fund and pool share mint.
    pub fn initialize_exchange(ctx: Context<InitializeExchange>, args: InitializeExchangeArgs) -> Result<()> {
        InitializeExchange::handle(ctx, args)
    }

    /// Lists a perpetual market priced by a Pyth `PriceUpdateV2` or legacy price account.
    pub fn add_market(ctx: Context<AddMarket>, args: AddMarketArgs) -> Result<()> {
        AddMarket::handle(ctx, args)
    }

    /// Replaces a market's risk and fee parameters (bounded, cross-checked).
    pub fn update_market(ctx: Context<UpdateMarket>, args: UpdateMarketArgs) -> Result<()> {
        UpdateMarket::handle(ctx, args)
    }

    /// Sets or switches a market's oracle (kind, mode, feed id, account); the account must read.
    pub fn set_market_oracle(ctx: Context<SetMarketOracle>, args: OracleConfig) -> Result<()> {
        SetMarketOracle::handle(ctx, args)
    }

    /// Updates exchange-wide parameters (insurance cap per event, insolvent-close reward,
    /// liquidation episode lapse).
    pub fn update_exchange(ctx: Context<UpdateExchange>, args: UpdateExchangeArgs) -> Result<()> {
        UpdateExchange::handle(ctx, args)
    }

    /// Sets the exchange-wide paused action classes.
    pub fn set_exchange_pause(ctx: Context<SetExchangePause>, args: SetPauseArgs) -> Result<()> {
        SetExchangePause::handle(ctx, args)
    }

    /// Sets one market's paused action classes.
    pub fn set_market_pause(ctx: Context<SetMarketPause>, args: SetPauseArgs) -> Result<()> {
        SetMarketPause::handle(ctx, args)
    }

    /// Hands the exchange to a new admin (both sign).
    pub fn transfer_admin(ctx: Context<TransferAdmin>) -> Result<()> {
        TransferAdmin::handle(ctx)
    }

    /// Withdraws from the insurance fund, never below open negative collateral.
    pub fn withdraw_insurance(ctx: Context<WithdrawInsurance>, args: WithdrawInsuranceArgs) -> Result<()> {
        WithdrawInsurance::handle(ctx, args)
    }

    // --- traders -----------------------------------------------------------------------------

    /// Opens a margin account (PDA of exchange, owner, id).
    pub fn create_margin_account(
        ctx: Context<CreateMarginAccount>,
        args: CreateMarginAccountArgs,
    ) -> Result<()> {
        CreateMarginAccount::handle(ctx, args)
    }

    /// Sets or clears the account's trading delegate.
    pub fn set_delegate(ctx: Context<SetDelegate>, args: SetDelegateArgs) -> Result<()> {
        SetDelegate::handle(ctx, args)
    }

    /// Deposits quote collateral into a margin account (ends a liquidation episode it cures).
    pub fn deposit_collateral<'info>(
        ctx: Context<'_, '_, 'info, 'info, DepositCollateral<'info>>,
        args: DepositCollateralArgs,
    ) -> Result<()> {
        DepositCollateral::handle(ctx, args)
    }

    /// Withdraws collateral; initial health must hold afterwards.
    pub fn withdraw_collateral<'info>(
        ctx: Context<'_, '_, 'info, 'info, WithdrawCollateral<'info>>,
        args: WithdrawCollateralArgs,
    ) -> Result<()> {
        WithdrawCollateral::handle(ctx, args)
    }

    /// Market order against the pool at the oracle price.
    pub fn place_order<'info>(
        ctx: Context<'_, '_, 'info, 'info, PlaceOrder<'info>>,
        args: PlaceOrderArgs,
    ) -> Result<()> {
        PlaceOrder::handle(ctx, args)
    }

    // --- liquidity and insurance providers ---------------------------------------------------

    /// Deposits quote into the pool for shares at NAV.
    pub fn deposit_liquidity<'info>(
        ctx: Context<'_, '_, 'info, 'info, DepositLiquidity<'info>>,
        args: DepositLiquidityArgs,
    ) -> Result<()> {
        DepositLiquidity::handle(ctx, args)
    }

    /// Burns pool shares for quote at NAV.
    pub fn withdraw_liquidity<'info>(
        ctx: Context<'_, '_, 'info, 'info, WithdrawLiquidity<'info>>,
        args: WithdrawLiquidityArgs,
    ) -> Result<()> {
        WithdrawLiquidity::handle(ctx, args)
    }

    /// Adds quote to the insurance fund.
    pub fn deposit_insurance(ctx: Context<DepositInsurance>, args: DepositInsuranceArgs) -> Result<()> {
        DepositInsurance::handle(ctx, args)
    }

    // --- keepers (permissionless) -------------------------------------------------------------

    /// Closes the smallest slice of one position that restores `E ≥ (1 + β)·M`, pays the keeper.
    pub fn liquidate<'info>(
        ctx: Context<'_, '_, 'info, 'info, Liquidate<'info>>,
        args: LiquidateArgs,
    ) -> Result<()> {
        Liquidate::handle(ctx, args)
    }

    /// Covers a bankrupt account's deficit: insurance fund first, then the pool.
    pub fn resolve_bankruptcy(ctx: Context<ResolveBankruptcy>) -> Result<()> {
        ResolveBankruptcy::handle(ctx)
    }

    /// Advances a market's funding index to the clock (anyone; no price needed).
    pub fn update_funding(ctx: Context<UpdateFunding>) -> Result<()> {
        UpdateFunding::handle(ctx)
    }

    // --- appended after the instructions above (funding) --------------------------------------

    /// Sets a market's funding parameters (advancing the index under the old ones first).
    pub fn set_market_funding(ctx: Context<SetMarketFunding>, args: FundingConfig) -> Result<()> {
        SetMarketFunding::handle(ctx, args)
    }

    // --- appended (repeat breaches, issue 11) ---------------------------------------------------

    /// Sets the repeat-breach window: a new breach of maintenance within this many slots of an
    /// account's last recovery from a liquidation closes its losing positions whole (0: off).
    pub fn set_repeat_liquidation_window(
        ctx: Context<SetRepeatLiquidationWindow>,
        args: SetRepeatLiquidationWindowArgs,
    ) -> Result<()> {
        SetRepeatLiquidationWindow::handle(ctx, args)
    }
}
