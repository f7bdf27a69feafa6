//! Crafted Pyth price accounts, byte for byte: `PriceUpdateV2` (the Pyth Solana Receiver's
//! format, serialized with `pyth-solana-receiver-sdk`'s own types) and legacy price accounts (the
//! layout pyth-sdk-solana decodes).

use anchor_lang::prelude::Pubkey;
use anchor_lang::AccountSerialize;
use pyth_sdk_solana::state::{AccountType, PriceStatus, PriceType, SolanaPriceAccount, MAGIC, VERSION_2};
use pyth_solana_receiver_sdk::price_update::{PriceFeedMessage, PriceUpdateV2, VerificationLevel};

/// Pyth's SOL/USD feed id (the same on every chain).
pub const SOL_USD_FEED_ID: [u8; 32] =
    hex32("ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d");
/// Pyth's BTC/USD feed id.
pub const BTC_USD_FEED_ID: [u8; 32] =
    hex32("e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43");
/// Pyth's ETH/USD feed id.
pub const ETH_USD_FEED_ID: [u8; 32] =
    hex32("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace");

/// A feed id from its 64 hex digits (an optional `0x` prefix is allowed); `None` if malformed.
pub fn feed_id_from_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(hex32(hex))
}

const fn hex32(hex: &str) -> [u8; 32] {
    const fn digit(b: u8) -> u8 {
        match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let bytes = hex.as_bytes();
    assert!(bytes.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(bytes[2 * i]) * 16 + digit(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

/// The push oracle's feed account for a feed id on a shard (Pyth keeps shard 0 fresh on
/// mainnet); the program's own derivation.
pub use microliq::oracle::push_feed_address;

/// A `PriceUpdateV2` account's size on chain: the SDK reserves two bytes for the verification
/// level, so a `Full` update (one byte) leaves one trailing zero.
pub const PRICE_UPDATE_V2_LEN: usize = PriceUpdateV2::LEN;

/// What a test controls of a Pyth price: mantissa, confidence, EMA (all with `expo`), status and
/// publish time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PythPrice {
    pub price: i64,
    pub conf: u64,
    pub ema: i64,
    pub expo: i32,
    pub status: PriceStatus,
    pub publish_time: i64,
    /// The slot a `PriceUpdateV2` was posted at (ignored by the legacy format).
    pub posted_slot: u64,
}

impl PythPrice {
    /// A trading price of `dollars` with `expo = −8`, zero confidence width and EMA at the price.
    pub fn usd(dollars: f64) -> Self {
        let mantissa = (dollars * 1e8).round() as i64;
        PythPrice {
            price: mantissa,
            conf: 0,
            ema: mantissa,
            expo: -8,
            status: PriceStatus::Trading,
            publish_time: 0,
            posted_slot: 0,
        }
    }

    pub fn with_conf(mut self, conf: u64) -> Self {
        self.conf = conf;
        self
    }

    pub fn with_ema(mut self, ema: i64) -> Self {
        self.ema = ema;
        self
    }

    pub fn with_status(mut self, status: PriceStatus) -> Self {
        self.status = status;
        self
    }

    /// A `PriceUpdateV2` account's bytes for `feed_id` (134, as on chain): the receiver SDK's
    /// own serializer, discriminator first. The status is not part of this format.
    pub fn to_price_update_v2(&self, feed_id: [u8; 32], verification_level: VerificationLevel) -> Vec<u8> {
        let update = PriceUpdateV2 {
            write_authority: Pubkey::new_from_array([7; 32]),
            verification_level,
            price_message: PriceFeedMessage {
                feed_id,
                price: self.price,
                conf: self.conf,
                exponent: self.expo,
                publish_time: self.publish_time,
                prev_publish_time: self.publish_time.saturating_sub(1),
                ema_price: self.ema,
                ema_conf: self.conf,
            },
            posted_slot: self.posted_slot,
        };
        let mut data = Vec::with_capacity(PRICE_UPDATE_V2_LEN);
        update.try_serialize(&mut data).expect("serialize PriceUpdateV2");
        data.resize(PRICE_UPDATE_V2_LEN, 0);
        data
    }

    /// The legacy account bytes (3312, as on chain).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut account = SolanaPriceAccount {
            magic: MAGIC,
            ver: VERSION_2,
            atype: AccountType::Price as u32,
            ptype: PriceType::Price,
            expo: self.expo,
            timestamp: self.publish_time,
            prev_price: self.price,
            prev_conf: self.conf,
            prev_timestamp: self.publish_time,
            ..Default::default()
        };
        account.ema_price.val = self.ema;
        account.ema_conf.val = self.conf as i64;
        account.agg.price = self.price;
        account.agg.conf = self.conf;
        account.agg.status = self.status;
        bytemuck::bytes_of(&account).to_vec()
    }
}

/// A real mainnet `PriceUpdateV2` account, byte for byte: Pyth's sponsored SOL/USD feed account
/// (shard 0), owned by the receiver program, as of publish time 1735984087
/// (2025-01-04 09:48:07 UTC), posted at slot 311798332. Source: the account dump
/// `tests/fixtures/sol_pyth_price_feed.json` of github.com/mrgnlabs/marginfi-v2 (present at
/// commit 3031ba3b3368314cfbc5fafa0086bf76f8f795e6, last changed in
/// 59a98c701e41d17f53000f9cd3966f93947daa05), which records the address, the owner
/// `rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ` and 134 bytes of data.
pub mod mainnet_fixture {
    use anchor_lang::prelude::Pubkey;

    pub const ADDRESS: Pubkey =
        anchor_lang::solana_program::pubkey!("7UVimffxr9ow1uXYxsr4LHAcV58mLzhmwaeKvJ1pjLiE");
    pub const DATA_BASE64: &str = "IvEjY51+9M1gMUcENA3t3zcf1CRyFI8kjp0abRpesqw6zYt/1dayQwHvDYtv2izrpB2hXUCV0do5Kg0vjtDGx7wPTPrIwoC1bW2njwUFAAAARTozAQAAAAD4////1wN5ZwAAAADXA3lnAAAAAIRKaggFAAAAk1kTAQAAAAA8qpUSAAAAAAA=";
    /// What the bytes hold (decoded independently from the receiver SDK, in Python, from the
    /// borsh layout).
    pub const PRICE: i64 = 21_568_137_069;
    pub const CONF: u64 = 20_134_469;
    pub const EXPONENT: i32 = -8;
    pub const PUBLISH_TIME: i64 = 1_735_984_087;
    pub const PREV_PUBLISH_TIME: i64 = 1_735_984_087;
    pub const EMA_PRICE: i64 = 21_616_020_100;
    pub const EMA_CONF: u64 = 18_045_331;
    pub const POSTED_SLOT: u64 = 311_798_332;

    /// The account's data.
    pub fn data() -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(DATA_BASE64).expect("fixture base64")
    }
}
