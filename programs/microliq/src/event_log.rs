//! Logging the events of the hot path at fixed offsets.
//!
//! `emit!` serializes an event into a `Vec` with Borsh, one `io::Write` call per field (a
//! capacity check and a copy each), then logs it. The events `liquidate` emits are made of
//! fixed-size fields only, so here they are written into a stack buffer at known offsets (each
//! field a few word stores) and logged with the same `sol_log_data`. The bytes are Anchor's
//! encoding exactly (8-byte discriminator, then Borsh); the tests below compare them with
//! `Event::data()` for every field, so a field added to an event without its line here fails.

use anchor_lang::Discriminator;

use crate::events::{FundingUpdated, LiquidationSliceV3};

/// A fixed-capacity writer of little-endian fields.
struct Encoder<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Encoder<N> {
    #[inline(always)]
    fn new(discriminator: &[u8]) -> Self {
        let mut encoder = Encoder { buf: [0; N], len: 0 };
        encoder.bytes(discriminator);
        encoder
    }

    #[inline(always)]
    fn bytes(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    #[inline(always)]
    fn log(&self) {
        anchor_lang::solana_program::log::sol_log_data(&[&self.buf[..self.len]]);
    }
}

/// Encoded size of [`LiquidationSliceV3`]: discriminator + 296 bytes of fields.
const SLICE_LEN: usize = 8 + 296;
/// Encoded size of [`FundingUpdated`]: discriminator + 58 bytes of fields.
const FUNDING_LEN: usize = 8 + 58;

fn encode_slice(e: &LiquidationSliceV3) -> Encoder<SLICE_LEN> {
    let mut w = Encoder::<SLICE_LEN>::new(LiquidationSliceV3::DISCRIMINATOR);
    w.bytes(e.margin_account.as_ref());
    w.bytes(e.owner.as_ref());
    w.bytes(&e.market_index.to_le_bytes());
    w.bytes(e.keeper.as_ref());
    w.bytes(&e.base_closed.to_le_bytes());
    w.bytes(&e.exact_slice.to_le_bytes());
    w.bytes(&[e.whole_close]);
    w.bytes(&e.fill_price.to_le_bytes());
    w.bytes(&e.oracle_price.to_le_bytes());
    w.bytes(&e.oracle_conf.to_le_bytes());
    w.bytes(&e.oracle_expo.to_le_bytes());
    w.bytes(&e.realized_pnl.to_le_bytes());
    w.bytes(&e.bonus_rate.to_le_bytes());
    w.bytes(&e.keeper_bonus.to_le_bytes());
    w.bytes(&e.insurance_fee.to_le_bytes());
    w.bytes(&e.insolvent_reward.to_le_bytes());
    w.bytes(&e.equity_before.to_le_bytes());
    w.bytes(&e.maintenance_before.to_le_bytes());
    w.bytes(&e.equity_after.to_le_bytes());
    w.bytes(&e.maintenance_after.to_le_bytes());
    w.bytes(&e.liquidation_buffer.to_le_bytes());
    w.bytes(&e.episode_start_slot.to_le_bytes());
    w.bytes(&e.remaining_base.to_le_bytes());
    w.bytes(&[e.bankrupt as u8]);
    w.bytes(&e.insurance_draw.to_le_bytes());
    w.bytes(&e.socialized_loss.to_le_bytes());
    w.bytes(&e.slot.to_le_bytes());
    w.bytes(&e.funding_settled.to_le_bytes());
    w
}

fn encode_funding(e: &FundingUpdated) -> Encoder<FUNDING_LEN> {
    let mut w = Encoder::<FUNDING_LEN>::new(FundingUpdated::DISCRIMINATOR);
    w.bytes(&e.market_index.to_le_bytes());
    w.bytes(&e.funding_index.to_le_bytes());
    w.bytes(&e.index_delta.to_le_bytes());
    w.bytes(&e.rate_per_hour.to_le_bytes());
    w.bytes(&e.elapsed_secs.to_le_bytes());
    w.bytes(&e.long_base.to_le_bytes());
    w.bytes(&e.short_base.to_le_bytes());
    w.bytes(&e.unix_timestamp.to_le_bytes());
    w
}

/// `emit!(event)`, cheaper (see the module docs).
#[inline(never)]
pub fn emit_slice(event: &LiquidationSliceV3) {
    encode_slice(event).log();
}

/// `emit!(event)`, cheaper (see the module docs).
#[inline(never)]
pub fn emit_funding_updated(event: &FundingUpdated) {
    encode_funding(event).log();
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::prelude::Pubkey;
    use anchor_lang::Event;

    fn key(seed: u8) -> Pubkey {
        Pubkey::new_from_array([seed; 32])
    }

    #[test]
    fn the_slice_is_encoded_exactly_as_anchor_does() {
        // Every field distinct and with high bits set, so that a swapped or missing field shows.
        let event = LiquidationSliceV3 {
            margin_account: key(1),
            owner: key(2),
            market_index: 0x0304,
            keeper: key(5),
            base_closed: 0x0607_0809_0a0b_0c0d,
            exact_slice: u64::MAX - 7,
            whole_close: 3,
            fill_price: 0x1112_1314_1516_1718,
            oracle_price: -0x1920_2122_2324_2526,
            oracle_conf: 27,
            oracle_expo: -8,
            realized_pnl: -0x2829_3031,
            bonus_rate: 0x3233_3435,
            keeper_bonus: 36,
            insurance_fee: 37,
            insolvent_reward: 38,
            equity_before: -0x3940_4142_4344_4546_4748_4950_5152_5354,
            maintenance_before: u128::MAX - 55,
            equity_after: i128::MIN + 56,
            maintenance_after: 57,
            liquidation_buffer: 58,
            episode_start_slot: 59,
            remaining_base: -60,
            bankrupt: true,
            insurance_draw: 61,
            socialized_loss: 62,
            slot: 63,
            funding_settled: -64,
        };
        let encoded = encode_slice(&event);
        assert_eq!(encoded.len, SLICE_LEN);
        assert_eq!(&encoded.buf[..encoded.len], event.data().as_slice());
    }

    #[test]
    fn funding_updated_is_encoded_exactly_as_anchor_does() {
        let event = FundingUpdated {
            market_index: 0x0102,
            funding_index: -0x0304_0506_0708_0910,
            index_delta: 0x1112_1314,
            rate_per_hour: -15,
            elapsed_secs: u64::MAX - 16,
            long_base: 17,
            short_base: 18,
            unix_timestamp: 1_735_984_087,
        };
        let encoded = encode_funding(&event);
        assert_eq!(encoded.len, FUNDING_LEN);
        assert_eq!(&encoded.buf[..encoded.len], event.data().as_slice());
    }
}
