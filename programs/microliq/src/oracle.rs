//! Reading a market's price with every guard of DESIGN.md §Prices, from either oracle kind.
//!
//! A market is priced by one of two Pyth formats ([`OracleKind`], docs/ORACLES.md). First, for
//! both and before the data is borrowed: the market's kind and mode are a known pair, a pinned
//! market's account is its `oracle`, and the owner is the kind's program. Then:
//!
//! - **`PriceUpdateV2`** (the default for new markets, owned by the Pyth Solana Receiver): the
//!   discriminator is `PriceUpdateV2`'s, the verification level is `Full`, the account holds the
//!   whole message, its feed id is the market's, and `posted_slot` is not in the future. The
//!   fields are read in place ([`FullPriceUpdate::decode`]); `pyth-solana-receiver-sdk`'s decoder
//!   is the reference the property tests hold it to.
//! - **Legacy** price accounts (pyth-sdk-solana's layout, kept for markets listed before the
//!   migration): it decodes, and its aggregate status is `Trading`.
//!
//! Then the same guards for both ([`validate_price`]): price and EMA positive, publish time no
//! older than `max_staleness_secs`, `conf / price ≤ max_conf_rate`, and a representable fixed
//! point price. Two conditions are recorded rather than enforced here, because only some
//! instructions refuse them: a price older than the market's trading window (orders,
//! withdrawals and LP actions: [`OracleReading::require_fresh_for_trading`]) and the EMA
//! circuit breaker (risk-adding ones: [`OracleReading::require_fit_to_add_risk`]). Nothing
//! downstream knows which kind was read.

use anchor_lang::prelude::*;
use anchor_lang::Discriminator;
use pyth_sdk_solana::state::{load_price_account, PriceStatus, SolanaPriceAccount};
use pyth_solana_receiver_sdk::price_update::PriceUpdateV2;

use crate::error::MicroliqError;
use crate::math::{MarketPrice, RATE_PRECISION};
use crate::state::{Exchange, Market};

/// The Pyth Solana Receiver program, owner of every `PriceUpdateV2` account.
pub const PYTH_RECEIVER_PROGRAM: Pubkey = pyth_solana_receiver_sdk::ID;
/// The Pyth push-oracle program whose sponsored feed accounts hold `PriceUpdateV2` data at
/// `find_program_address([shard_id u16 LE, feed_id], PYTH_PUSH_ORACLE_PROGRAM)`.
pub const PYTH_PUSH_ORACLE_PROGRAM: Pubkey = pyth_solana_receiver_sdk::PYTH_PUSH_ORACLE_ID;

/// Which price format a market reads. Stored in [`Market::oracle_kind`] as its `u8` value.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OracleKind {
    /// A legacy Pyth price account (pyth-sdk-solana), owned by the exchange's Pyth program.
    PythLegacy = 0,
    /// A `PriceUpdateV2` account owned by the Pyth Solana Receiver program.
    PythPriceUpdateV2 = 1,
}

/// Which accounts a market accepts as its price. Stored in [`Market::oracle_mode`].
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OracleMode {
    /// Only the account stored in [`Market::oracle`] (for `PriceUpdateV2`: normally the push
    /// oracle's sponsored feed account).
    Pinned = 0,
    /// Any receiver-owned `PriceUpdateV2` account with the market's feed id, fully verified and
    /// fresh (a keeper may post one in the same transaction). `PriceUpdateV2` only.
    Pull = 1,
}

impl OracleKind {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(OracleKind::PythLegacy),
            1 => Some(OracleKind::PythPriceUpdateV2),
            _ => None,
        }
    }
}

impl OracleMode {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(OracleMode::Pinned),
            1 => Some(OracleMode::Pull),
            _ => None,
        }
    }
}

/// The cluster time an oracle is judged against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OracleClock {
    pub unix_timestamp: i64,
    pub slot: u64,
}

impl OracleClock {
    pub fn get() -> Result<Self> {
        let clock = Clock::get()?;
        Ok(OracleClock { unix_timestamp: clock.unix_timestamp, slot: clock.slot })
    }
}

impl From<&Clock> for OracleClock {
    fn from(clock: &Clock) -> Self {
        OracleClock { unix_timestamp: clock.unix_timestamp, slot: clock.slot }
    }
}

/// A validated oracle read, converted to fixed point.
#[derive(Clone, Copy, Debug, Default)]
pub struct OracleReading {
    pub price: MarketPrice,
    /// The raw aggregate price, confidence and exponent (for events).
    pub raw_price: i64,
    pub raw_conf: u64,
    pub expo: i32,
    pub publish_time: i64,
    /// `|price − ema| / ema > max_ema_divergence`.
    pub ema_diverged: bool,
    /// Older than the market's trading window ([`Market::trading_staleness_secs`]).
    pub stale_for_trading: bool,
}

impl OracleReading {
    /// Fails with [`MicroliqError::OracleTooStaleToTrade`] when the price is older than the
    /// market's trading window (orders, collateral withdrawals, LP actions).
    pub fn require_fresh_for_trading(&self) -> Result<()> {
        require!(!self.stale_for_trading, MicroliqError::OracleTooStaleToTrade);
        Ok(())
    }

    /// For risk-adding actions: fresh for trading, and the EMA circuit breaker not tripped
    /// ([`MicroliqError::OracleEmaDivergence`]).
    pub fn require_fit_to_add_risk(&self) -> Result<()> {
        self.require_fresh_for_trading()?;
        require!(!self.ema_diverged, MicroliqError::OracleEmaDivergence);
        Ok(())
    }
}

/// A price as either format carries it, before the shared guards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawPrice {
    pub price: i64,
    pub conf: u64,
    pub expo: i32,
    pub publish_time: i64,
    pub ema_price: i64,
}

/// An oracle account as the program sees it: address, owner and data. Off-chain code (the
/// keeper) builds one from RPC bytes and gets exactly the program's answer.
#[derive(Clone, Copy, Debug)]
pub struct OracleAccount<'a> {
    pub key: &'a Pubkey,
    pub owner: &'a Pubkey,
    pub data: &'a [u8],
}

/// Reads and validates `oracle` for `market`.
pub fn read_oracle(
    oracle: &AccountInfo,
    market: &Market,
    exchange: &Exchange,
    clock: &OracleClock,
) -> Result<OracleReading> {
    // Address and owner first, without borrowing the data: an account the instruction already
    // holds mutably (the market itself, say) is then refused by name, not by a borrow failure.
    let kind = require_oracle_identity(oracle.key, oracle.owner, market, exchange)?;
    let data = oracle.try_borrow_data()?;
    read_oracle_data(kind, &data, market, exchange, clock)
}

/// [`read_oracle`] on an account's address, owner and bytes.
pub fn read_oracle_account(
    account: &OracleAccount,
    market: &Market,
    exchange: &Exchange,
    clock: &OracleClock,
) -> Result<OracleReading> {
    let kind = require_oracle_identity(account.key, account.owner, market, exchange)?;
    read_oracle_data(kind, account.data, market, exchange, clock)
}

/// The account is one `market` accepts: the kind and mode are known, a pinned market's account
/// is its `oracle`, and the owner is the kind's program.
fn require_oracle_identity(
    key: &Pubkey,
    owner: &Pubkey,
    market: &Market,
    exchange: &Exchange,
) -> Result<OracleKind> {
    const LEGACY: u8 = OracleKind::PythLegacy as u8;
    const V2: u8 = OracleKind::PythPriceUpdateV2 as u8;
    const PINNED: u8 = OracleMode::Pinned as u8;
    const PULL: u8 = OracleMode::Pull as u8;
    let (kind, pinned, expected_owner) = match (market.oracle_kind, market.oracle_mode) {
        (V2, PINNED) => (OracleKind::PythPriceUpdateV2, true, &PYTH_RECEIVER_PROGRAM),
        (V2, PULL) => (OracleKind::PythPriceUpdateV2, false, &PYTH_RECEIVER_PROGRAM),
        (LEGACY, PINNED) => (OracleKind::PythLegacy, true, &exchange.pyth_program),
        _ => return err!(MicroliqError::OracleConfigInvalid),
    };
    if pinned {
        require_keys_eq!(*key, market.oracle, MicroliqError::WrongOracle);
    }
    require_keys_eq!(*owner, *expected_owner, MicroliqError::OracleWrongOwner);
    Ok(kind)
}

/// The format checks of `kind` on the account's bytes, then the guards both kinds share.
fn read_oracle_data(
    kind: OracleKind,
    data: &[u8],
    market: &Market,
    exchange: &Exchange,
    clock: &OracleClock,
) -> Result<OracleReading> {
    let raw = match kind {
        OracleKind::PythPriceUpdateV2 => decode_price_update_v2(data, market, clock)?,
        OracleKind::PythLegacy => {
            let legacy =
                load_price_account::<32, ()>(data).map_err(|_| error!(MicroliqError::OracleInvalid))?;
            legacy_raw_price(legacy)?
        }
    };
    validate_price(&raw, market, exchange.quote_decimals, clock.unix_timestamp)
}

/// The `PriceUpdateV2` checks after address and owner: discriminator, decoding, `Full`
/// verification, feed id, `posted_slot` not in the future.
fn decode_price_update_v2(data: &[u8], market: &Market, clock: &OracleClock) -> Result<RawPrice> {
    let update = FullPriceUpdate::decode(data)?;
    require!(update.feed_words == feed_words(&market.oracle_feed_id), MicroliqError::OracleWrongFeed);
    require!(update.posted_slot <= clock.slot, MicroliqError::OraclePostedInFuture);
    Ok(update.price)
}

/// The fields of a fully verified `PriceUpdateV2` that pricing needs, read in place.
///
/// The account is Borsh: discriminator (8), write authority (32), verification level (an enum:
/// `Partial { num_signatures: u8 }` is two bytes, `Full` one), then the fixed-size
/// `PriceFeedMessage` and `posted_slot`. Only `Full` updates are accepted, so every field after
/// the level sits at a fixed offset and is read where it lies, instead of deserializing the
/// whole account (which cost ~700 CU per oracle on SBF, docs/ORACLES.md). The SDK's own decoder
/// is the reference: `decoder_matches_the_receiver_sdk` checks that both agree on every
/// encoding, partial and truncated ones included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullPriceUpdate {
    /// The feed id as four little-endian 8-byte words ([`FullPriceUpdate::feed_id`] for bytes).
    pub feed_words: [u64; 4],
    pub price: RawPrice,
    pub posted_slot: u64,
}

mod layout {
    /// Offsets in a `Full` `PriceUpdateV2` account.
    pub const LEVEL: usize = 8 + 32;
    pub const FEED_ID: usize = LEVEL + 1;
    pub const PRICE: usize = FEED_ID + 32;
    pub const CONF: usize = PRICE + 8;
    pub const EXPONENT: usize = CONF + 8;
    pub const PUBLISH_TIME: usize = EXPONENT + 4;
    pub const EMA_PRICE: usize = PUBLISH_TIME + 8 + 8; // after prev_publish_time
    pub const POSTED_SLOT: usize = EMA_PRICE + 8 + 8; // after ema_conf
    pub const END: usize = POSTED_SLOT + 8;
    /// Whole words before the posted slot's last five bytes (the aligned path's loads).
    pub const ALIGNED_WORDS: usize = 16;
    const _: () = assert!(FEED_ID == 5 * 8 + 1 && PRICE == 9 * 8 + 1 && CONF == 10 * 8 + 1);
    const _: () = assert!(EXPONENT == 11 * 8 + 1 && PUBLISH_TIME == 11 * 8 + 5);
    const _: () = assert!(EMA_PRICE == 13 * 8 + 5 && POSTED_SLOT == 15 * 8 + 5 && END == 16 * 8 + 5);
    /// Borsh tags of `VerificationLevel`.
    pub const PARTIAL: u8 = 0;
    pub const FULL: u8 = 1;
}

/// A feed id as four little-endian 8-byte words: loaded as words when the bytes are 8-byte
/// aligned (a market account's are on chain), assembled from bytes otherwise.
#[inline(always)]
fn feed_words(feed_id: &[u8; 32]) -> [u64; 4] {
    match bytemuck::try_cast_ref::<[u8; 32], [u64; 4]>(feed_id) {
        Ok(words) => words.map(u64::from_le),
        Err(_) => core::array::from_fn(|i| u64::from_le_bytes(feed_id[i * 8..i * 8 + 8].try_into().unwrap())),
    }
}

impl FullPriceUpdate {
    /// The feed id's bytes.
    pub fn feed_id(&self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.feed_words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// Decodes `data`: [`MicroliqError::OracleWrongAccountType`] unless it starts with
    /// `PriceUpdateV2`'s discriminator, [`MicroliqError::OracleNotFullyVerified`] for a partial
    /// update, [`MicroliqError::OracleInvalid`] when it is malformed or too short.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let discriminator = u64::from_le_bytes(PriceUpdateV2::DISCRIMINATOR.try_into().unwrap());
        require!(
            data.len() >= 8 && u64::from_le_bytes(data[..8].try_into().unwrap()) == discriminator,
            MicroliqError::OracleWrongAccountType
        );
        match data.get(layout::LEVEL) {
            Some(&layout::FULL) => {}
            // Refused whatever follows (the SDK would also refuse a truncated one, as malformed).
            Some(&layout::PARTIAL) => return err!(MicroliqError::OracleNotFullyVerified),
            _ => return err!(MicroliqError::OracleInvalid),
        }
        require!(data.len() >= layout::END, MicroliqError::OracleInvalid);
        // On chain an account's data is 8-byte aligned, and every field after the one-byte level
        // sits 1 or 5 bytes past a word boundary: each is two aligned word loads and two shifts
        // instead of eight byte loads. Anywhere else (off chain, a misaligned copy) the fields
        // are assembled from bytes; both paths are checked against the SDK.
        match bytemuck::try_cast_slice::<u8, u64>(&data[..layout::ALIGNED_WORDS * 8]) {
            Ok(words) => Ok(Self::from_words(words, &data[layout::ALIGNED_WORDS * 8..layout::END])),
            Err(_) => Ok(Self::from_bytes(data)),
        }
    }

    /// The fields from the first 16 words (little-endian) and the bytes after them.
    #[inline(always)]
    fn from_words(w: &[u64], tail: &[u8]) -> Self {
        let w = |k: usize| u64::from_le(w[k]);
        // A field starting 1 (or 5) bytes into word k.
        let at1 = |k: usize| (w(k) >> 8) | (w(k + 1) << 56);
        let at5 = |k: usize| (w(k) >> 40) | (w(k + 1) << 24);
        let mut rest = [0u8; 8];
        rest[..tail.len()].copy_from_slice(tail);
        let rest = u64::from_le_bytes(rest);
        FullPriceUpdate {
            feed_words: [at1(5), at1(6), at1(7), at1(8)],
            price: RawPrice {
                price: at1(9) as i64,
                conf: at1(10),
                expo: (w(11) >> 8) as u32 as i32,
                publish_time: at5(11) as i64,
                ema_price: at5(13) as i64,
            },
            posted_slot: (w(15) >> 40) | (rest << 24),
        }
    }

    /// The fields assembled from bytes at their offsets.
    fn from_bytes(data: &[u8]) -> Self {
        let u64_at = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().unwrap());
        FullPriceUpdate {
            feed_words: core::array::from_fn(|i| u64_at(layout::FEED_ID + i * 8)),
            price: RawPrice {
                price: u64_at(layout::PRICE) as i64,
                conf: u64_at(layout::CONF),
                expo: i32::from_le_bytes(data[layout::EXPONENT..layout::EXPONENT + 4].try_into().unwrap()),
                publish_time: u64_at(layout::PUBLISH_TIME) as i64,
                ema_price: u64_at(layout::EMA_PRICE) as i64,
            },
            posted_slot: u64_at(layout::POSTED_SLOT),
        }
    }
}

/// A legacy account's aggregate, refused unless it is trading.
pub fn legacy_raw_price(account: &SolanaPriceAccount) -> Result<RawPrice> {
    require!(account.agg.status == PriceStatus::Trading, MicroliqError::OracleNotTrading);
    Ok(RawPrice {
        price: account.agg.price,
        conf: account.agg.conf,
        expo: account.expo,
        publish_time: account.timestamp,
        ema_price: account.ema_price.val,
    })
}

/// The guards both kinds share, and the conversion to fixed point.
pub fn validate_price(
    raw: &RawPrice,
    market: &Market,
    quote_decimals: u8,
    now: i64,
) -> Result<OracleReading> {
    let params = &market.params;
    require!(raw.price > 0 && raw.ema_price > 0, MicroliqError::OracleNonPositivePrice);
    let age = now.saturating_sub(raw.publish_time);
    require!(age <= params.max_staleness_secs as i64, MicroliqError::OracleStale);
    let stale_for_trading = age > market.trading_staleness_secs() as i64;

    let price = raw.price as u64;
    let ema = raw.ema_price as u64;
    let conf = raw.conf;
    // conf / price ≤ max_conf  ⇔  conf · 1e6 ≤ max_conf · price (exact, in u128).
    require!(
        conf as u128 * RATE_PRECISION <= params.max_conf_rate as u128 * price as u128,
        MicroliqError::OracleConfidenceTooWide
    );
    // |price − ema| / ema > max_div  ⇔  |price − ema| · 1e6 > max_div · ema.
    let ema_diverged =
        (price.abs_diff(ema) as u128) * RATE_PRECISION > params.max_ema_divergence as u128 * ema as u128;

    let fixed = MarketPrice::from_oracle(price, conf, ema, raw.expo, quote_decimals, market.base_decimals)
        .map_err(|_| error!(MicroliqError::OraclePriceOutOfRange))?;
    require!(fixed.oracle_low > 0, MicroliqError::OraclePriceOutOfRange);

    Ok(OracleReading {
        price: fixed,
        raw_price: raw.price,
        raw_conf: conf,
        expo: raw.expo,
        publish_time: raw.publish_time,
        ema_diverged,
        stale_for_trading,
    })
}

/// Checks an oracle configuration before it is stored: the kind and mode exist, the mode suits
/// the kind, a `PriceUpdateV2` market names a feed (legacy markets carry none), and only a
/// pinned `PriceUpdateV2` market names a push-oracle shard.
pub fn validate_oracle_config(kind: u8, mode: u8, feed_id: &[u8; 32], shard_id: u16) -> Result<()> {
    let ok = match (OracleKind::from_u8(kind), OracleMode::from_u8(mode)) {
        (Some(OracleKind::PythLegacy), Some(OracleMode::Pinned)) => *feed_id == [0; 32] && shard_id == 0,
        (Some(OracleKind::PythPriceUpdateV2), Some(OracleMode::Pinned)) => *feed_id != [0; 32],
        (Some(OracleKind::PythPriceUpdateV2), Some(OracleMode::Pull)) => *feed_id != [0; 32] && shard_id == 0,
        _ => false,
    };
    require!(ok, MicroliqError::OracleConfigInvalid);
    Ok(())
}

/// The push oracle's feed account of `feed_id` on `shard_id`:
/// `find_program_address([shard_id u16 LE, feed_id], PYTH_PUSH_ORACLE_PROGRAM)`. Pyth's
/// sponsored feeds are on shard 0.
pub fn push_feed_address(shard_id: u16, feed_id: &[u8; 32]) -> Pubkey {
    Pubkey::find_program_address(&[&shard_id.to_le_bytes(), feed_id], &PYTH_PUSH_ORACLE_PROGRAM).0
}

/// The longest `max_staleness_secs` a pull market may have: the caller of a pull market picks
/// any signed price of that window (docs/ORACLES.md), so the window is kept short.
pub const PULL_MAX_STALENESS_SECS: u32 = 10;

/// A market's price windows are consistent: a pull market's staleness window is at most
/// [`PULL_MAX_STALENESS_SECS`], and the trading window is not longer than the staleness window.
pub fn require_oracle_windows(market: &Market) -> Result<()> {
    require!(
        market.oracle_mode != OracleMode::Pull as u8
            || market.params.max_staleness_secs <= PULL_MAX_STALENESS_SECS,
        MicroliqError::PullStalenessTooLong
    );
    require!(
        market.oracle_trading_staleness_secs <= market.params.max_staleness_secs,
        MicroliqError::OracleWindowInvalid
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use pyth_solana_receiver_sdk::price_update::{PriceFeedMessage, VerificationLevel};

    /// A copy of some bytes starting on an 8-byte boundary.
    struct Aligned(Vec<u64>, usize);
    impl Aligned {
        fn new(bytes: &[u8]) -> Self {
            let mut words = vec![0u64; bytes.len().div_ceil(8) + 1];
            bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
            Aligned(words, bytes.len())
        }
        fn bytes(&self) -> &[u8] {
            &bytemuck::cast_slice::<u64, u8>(&self.0)[..self.1]
        }
    }

    /// A copy of some bytes starting one byte past an 8-byte boundary.
    struct Misaligned(Aligned, usize);
    impl Misaligned {
        fn new(bytes: &[u8]) -> Self {
            let mut shifted = vec![0u8];
            shifted.extend_from_slice(bytes);
            Misaligned(Aligned::new(&shifted), bytes.len())
        }
        fn bytes(&self) -> &[u8] {
            &self.0.bytes()[1..1 + self.1]
        }
    }

    fn encode(update: &PriceUpdateV2) -> Vec<u8> {
        let mut data = Vec::new();
        update.try_serialize(&mut data).unwrap();
        data.resize(PriceUpdateV2::LEN, 0);
        data
    }

    proptest! {
        /// The in-place decoder and the receiver SDK's Borsh decoder agree on every update:
        /// same fields for `Full`, a refusal for `Partial`, and an error wherever the SDK fails
        /// (truncations included).
        #[test]
        fn decoder_matches_the_receiver_sdk(
            feed_id in any::<[u8; 32]>(),
            price in any::<i64>(), conf in any::<u64>(), exponent in any::<i32>(),
            publish_time in any::<i64>(), prev_publish_time in any::<i64>(),
            ema_price in any::<i64>(), ema_conf in any::<u64>(), posted_slot in any::<u64>(),
            partial in proptest::option::of(any::<u8>()),
            cut in 0usize..=PriceUpdateV2::LEN,
        ) {
            let update = PriceUpdateV2 {
                write_authority: Pubkey::new_unique(),
                verification_level: match partial {
                    Some(num_signatures) => VerificationLevel::Partial { num_signatures },
                    None => VerificationLevel::Full,
                },
                price_message: PriceFeedMessage {
                    feed_id, price, conf, exponent, publish_time, prev_publish_time, ema_price, ema_conf,
                },
                posted_slot,
            };
            let data = encode(&update);
            // Both decoding paths: 8-byte aligned (as on chain) and misaligned by one byte.
            let (aligned, aligned_cut) = (Aligned::new(&data), Aligned::new(&data[..cut]));
            let (misaligned, misaligned_cut) = (Misaligned::new(&data), Misaligned::new(&data[..cut]));
            prop_assert_eq!(aligned.bytes().as_ptr() as usize % 8, 0);
            prop_assert_eq!(misaligned.bytes().as_ptr() as usize % 8, 1);
            for bytes in [aligned.bytes(), misaligned.bytes(), aligned_cut.bytes(), misaligned_cut.bytes()] {
                let sdk = PriceUpdateV2::try_deserialize(&mut &bytes[..]);
                let ours = FullPriceUpdate::decode(bytes);
                match (sdk, ours) {
                    (Ok(sdk), Ok(ours)) => {
                        let full = matches!(sdk.verification_level, VerificationLevel::Full);
                        prop_assert!(full);
                        let m = sdk.price_message;
                        prop_assert_eq!(ours.feed_id(), m.feed_id);
                        prop_assert_eq!(ours.price, RawPrice {
                            price: m.price, conf: m.conf, expo: m.exponent,
                            publish_time: m.publish_time, ema_price: m.ema_price,
                        });
                        prop_assert_eq!(ours.posted_slot, sdk.posted_slot);
                    }
                    (Ok(sdk), Err(e)) => {
                        let partial = matches!(sdk.verification_level, VerificationLevel::Partial { .. });
                        prop_assert!(partial);
                        prop_assert_eq!(e, MicroliqError::OracleNotFullyVerified.into());
                    }
                    // A partial update cut after its level is refused as partial by ours and
                    // as truncated by the SDK; either way it is refused.
                    (Err(_), Err(_)) => {}
                    (Err(e), Ok(_)) => prop_assert!(false, "SDK refused ({e:?}) what we accepted"),
                }
            }
        }
    }

    /// A market whose kind or mode byte is unknown reads nothing (fails closed).
    #[test]
    fn unknown_kinds_and_modes_are_refused() {
        let mut market: Market = bytemuck::Zeroable::zeroed();
        market.oracle_kind = OracleKind::PythPriceUpdateV2 as u8;
        market.oracle_feed_id = [1; 32];
        let exchange: Exchange = bytemuck::Zeroable::zeroed();
        let (key, owner) = (Pubkey::new_unique(), PYTH_RECEIVER_PROGRAM);
        for (kind, mode) in [(1, 2), (1, 255), (2, 0), (255, 1)] {
            market.oracle_kind = kind;
            market.oracle_mode = mode;
            let error = require_oracle_identity(&key, &owner, &market, &exchange).unwrap_err();
            assert_eq!(error, MicroliqError::OracleConfigInvalid.into());
        }
        market.oracle_kind = 1;
        market.oracle_mode = OracleMode::Pull as u8;
        assert!(require_oracle_identity(&key, &owner, &market, &exchange).is_ok());
    }

    #[test]
    fn other_discriminators_and_levels_are_refused() {
        let update = PriceUpdateV2 {
            write_authority: Pubkey::new_unique(),
            verification_level: VerificationLevel::Full,
            price_message: PriceFeedMessage {
                feed_id: [1; 32],
                price: 1,
                conf: 0,
                exponent: -8,
                publish_time: 0,
                prev_publish_time: 0,
                ema_price: 1,
                ema_conf: 0,
            },
            posted_slot: 0,
        };
        let mut data = encode(&update);
        assert!(FullPriceUpdate::decode(&data).is_ok());
        data[layout::LEVEL] = 2; // no such level
        assert_eq!(FullPriceUpdate::decode(&data).unwrap_err(), MicroliqError::OracleInvalid.into());
        data[7] ^= 0xff;
        assert_eq!(FullPriceUpdate::decode(&data).unwrap_err(), MicroliqError::OracleWrongAccountType.into());
        assert_eq!(FullPriceUpdate::decode(&[]).unwrap_err(), MicroliqError::OracleWrongAccountType.into());
    }
}
