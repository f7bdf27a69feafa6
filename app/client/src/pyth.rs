//! Crafted legacy Pyth price accounts (the layout pyth-sdk-solana decodes).

use pyth_sdk_solana::state::{AccountType, PriceStatus, PriceType, SolanaPriceAccount, MAGIC, VERSION_2};

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

    /// The account bytes (3312, as on chain).
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
