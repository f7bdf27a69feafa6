//! The program events the invariants read, decoded in this one place: when an event changes shape
//! (a `...V2`), only this file changes.

use anchor_lang::prelude::Pubkey;

/// What the liquidation invariants need of one slice event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    pub margin_account: Pubkey,
    pub market_index: u16,
    pub base_closed: u64,
    pub exact_slice: u64,
    pub whole_close: u8,
    pub bonus_rate: u32,
    pub keeper_bonus: u64,
    pub insurance_fee: u64,
    pub equity_before: i64,
    pub maintenance_before: u64,
    pub equity_after: i64,
    pub maintenance_after: u64,
    pub remaining_base: i64,
    pub bankrupt: bool,
    pub insurance_draw: u64,
    pub socialized_loss: u64,
}

/// Every liquidation slice event in a transaction's log lines.
pub fn slices(logs: &[String]) -> Vec<Slice> {
    microliq_client::decode_events::<microliq::events::LiquidationSlice>(logs)
        .into_iter()
        .map(|e| Slice {
            margin_account: e.margin_account,
            market_index: e.market_index,
            base_closed: e.base_closed,
            exact_slice: e.exact_slice,
            whole_close: e.whole_close,
            bonus_rate: e.bonus_rate,
            keeper_bonus: e.keeper_bonus,
            insurance_fee: e.insurance_fee,
            equity_before: e.equity_before,
            maintenance_before: e.maintenance_before,
            equity_after: e.equity_after,
            maintenance_after: e.maintenance_after,
            remaining_base: e.remaining_base,
            bankrupt: e.bankrupt,
            insurance_draw: e.insurance_draw,
            socialized_loss: e.socialized_loss,
        })
        .collect()
}
