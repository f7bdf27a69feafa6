//! The program events the invariants read, decoded in this one place: when an event changes shape
//! (a `...V2`), only this file changes.

use anchor_lang::prelude::Pubkey;

/// What the liquidation invariants need of one slice event (`LiquidationSliceV3`).
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
    pub insolvent_reward: u64,
    pub realized_pnl: i64,
    pub equity_before: i128,
    pub maintenance_before: u128,
    pub equity_after: i128,
    pub maintenance_after: u128,
    pub liquidation_buffer: u32,
    pub remaining_base: i64,
    pub bankrupt: bool,
    pub insurance_draw: u64,
    pub socialized_loss: u64,
}

/// Every liquidation slice event in a transaction's log lines.
pub fn slices(logs: &[String]) -> Vec<Slice> {
    microliq_client::decode_events::<microliq::events::LiquidationSliceV3>(logs)
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
            insolvent_reward: e.insolvent_reward,
            realized_pnl: e.realized_pnl,
            equity_before: e.equity_before,
            maintenance_before: e.maintenance_before,
            equity_after: e.equity_after,
            maintenance_after: e.maintenance_after,
            liquidation_buffer: e.liquidation_buffer,
            remaining_base: e.remaining_base,
            bankrupt: e.bankrupt,
            insurance_draw: e.insurance_draw,
            socialized_loss: e.socialized_loss,
        })
        .collect()
}

/// Every episode end in a transaction's log lines (`LiquidationEpisodeEndedV2` from `liquidate`,
/// `LiquidationEpisodeEnded` from a deposit): `(account, equity, requirement)`.
pub fn episodes_ended(logs: &[String]) -> Vec<(Pubkey, i128, u128)> {
    let v2 = microliq_client::decode_events::<microliq::events::LiquidationEpisodeEndedV2>(logs)
        .into_iter()
        .map(|e| (e.margin_account, e.equity, e.maintenance_requirement));
    let v1 = microliq_client::decode_events::<microliq::events::LiquidationEpisodeEnded>(logs)
        .into_iter()
        .map(|e| (e.margin_account, e.equity, e.maintenance_requirement));
    v2.chain(v1).collect()
}
