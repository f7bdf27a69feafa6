//! The bankruptcy waterfall, shared by `liquidate` and `resolve_bankruptcy`.
//!
//! An account is bankrupt when it holds no position and its collateral is negative: the deficit
//! `D = −collateral` was already credited to the pool when the losses were realized. Resolving it:
//!
//! 1. the insurance fund pays `draw = min(D, fund balance, insurance_cap_per_event)` into the
//!    quote vault;
//! 2. the account's collateral is set to zero;
//! 3. the pool absorbs the rest, `socialized = D − draw` (LP share value falls), recorded in
//!    `exchange.total_socialized_loss`.
//!
//! Ledger check: the quote vault grows by `draw`, Σ collateral by `D`, the pool by `draw − D`.

use anchor_lang::prelude::*;

use crate::math::Checked;
use crate::state::{Exchange, InsuranceFund, MarginAccount};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BankruptcyResolution {
    pub deficit: u64,
    /// Quote atoms to move from the insurance vault to the quote vault.
    pub insurance_draw: u64,
    pub socialized_loss: u64,
}

/// Whether the account is bankrupt: no open position and negative collateral.
pub fn is_bankrupt(account: &MarginAccount) -> bool {
    account.collateral < 0 && account.open_position_count() == 0
}

/// Applies the waterfall to the ledgers (the caller moves `insurance_draw` tokens).
pub fn resolve_bankruptcy(
    exchange: &mut Exchange,
    fund: &mut InsuranceFund,
    account: &mut MarginAccount,
) -> Result<BankruptcyResolution> {
    let deficit = account.collateral.unsigned_abs();
    let insurance_draw = deficit.min(fund.balance).min(exchange.insurance_cap_per_event);
    let socialized_loss = deficit - insurance_draw;

    fund.balance = fund.balance.sub_or_err(insurance_draw)?;
    fund.total_draws = fund.total_draws.add_or_err(insurance_draw)?;
    let deficit_signed =
        i64::try_from(deficit).map_err(|_| error!(crate::error::MicroliqError::MathOverflow))?;
    exchange.change_collateral(&mut account.collateral, deficit_signed)?;
    exchange.pool_balance =
        exchange.pool_balance.add_or_err(insurance_draw as i64)?.sub_or_err(deficit_signed)?;
    exchange.total_socialized_loss = exchange.total_socialized_loss.add_or_err(socialized_loss)?;
    account.clear_liquidation_flag();
    fund.invariant()?;
    Ok(BankruptcyResolution { deficit, insurance_draw, socialized_loss })
}
