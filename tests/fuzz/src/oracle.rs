//! The fuzzer's model of each market's Pyth price account: a mean-reverting random walk with
//! gaps, an EMA that lags it, and the adversarial states the program must refuse (stale, wide
//! confidence, EMA divergence, not trading).

use microliq::math::{MarketPrice, RATE_PRECISION};
use microliq::state::MarketParams;
use microliq_client::PythPrice;
use pyth_sdk_solana::state::PriceStatus;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One market's oracle as the fuzzer last wrote it.
#[derive(Clone, Debug)]
pub struct OracleModel {
    /// The price the walk starts from and reverts to, dollars.
    pub anchor: f64,
    pub dollars: f64,
    pub ema: f64,
    /// Confidence as a fraction of the price.
    pub conf_frac: f64,
    pub status: PriceStatus,
    pub publish_time: i64,
    pub base_decimals: u8,
}

/// An oracle move (no transaction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OracleMove {
    /// A random-walk step: a new publish (trading, narrow confidence, fresh), EMA follows.
    Walk { log_return: f64 },
    /// A jump of `fraction` (e.g. −0.3), EMA left behind.
    Gap { fraction: f64 },
    /// Publish time `age` seconds in the past.
    Stale { age: i64 },
    /// Confidence at this fraction of the price (wider than the market allows).
    WideConf { fraction: f64 },
    /// EMA at `price · (1 + offset)`.
    EmaDiverge { offset: f64 },
    /// A status other than Trading.
    NotTrading { status: u8 },
    /// Back to normal: trading, fresh, narrow confidence, EMA pulled halfway to the price.
    Refresh,
}

fn to_mantissa(dollars: f64) -> i64 {
    (dollars * 1e8).round().max(1.0) as i64
}

impl OracleModel {
    pub fn new(price: &PythPrice, base_decimals: u8) -> Self {
        let dollars = price.price as f64 / 1e8;
        OracleModel {
            anchor: dollars,
            dollars,
            ema: dollars,
            conf_frac: 0.0,
            status: PriceStatus::Trading,
            publish_time: price.publish_time,
            base_decimals,
        }
    }

    /// The account content.
    pub fn pyth(&self) -> PythPrice {
        let price = to_mantissa(self.dollars);
        PythPrice {
            price,
            conf: (price as f64 * self.conf_frac).floor() as u64,
            ema: to_mantissa(self.ema),
            expo: -8,
            status: self.status,
            publish_time: self.publish_time,
            posted_slot: 0,
        }
    }

    /// The fixed-point prices the program derives from the account (whatever its status: the
    /// invariants value positions at the oracle price even while the program would refuse it).
    pub fn market_price(&self) -> Option<MarketPrice> {
        let p = self.pyth();
        MarketPrice::from_oracle(p.price as u64, p.conf, p.ema as u64, p.expo, 6, self.base_decimals).ok()
    }

    /// Whether the program's guards accept this oracle now (mirrors `oracle::read_price_account`).
    pub fn valid(&self, params: &MarketParams, now: i64) -> bool {
        let p = self.pyth();
        p.status == PriceStatus::Trading
            && p.price > 0
            && p.ema > 0
            && now.saturating_sub(p.publish_time) <= params.max_staleness_secs as i64
            && p.conf as u128 * RATE_PRECISION <= params.max_conf_rate as u128 * p.price as u128
    }

    /// Whether the EMA circuit breaker is tripped (risk-adding actions refused).
    pub fn ema_diverged(&self, params: &MarketParams) -> bool {
        let p = self.pyth();
        let (price, ema) = (p.price as u64, p.ema as u64);
        (price.abs_diff(ema) as u128) * RATE_PRECISION > params.max_ema_divergence as u128 * ema as u128
    }

    pub fn apply(&mut self, movement: OracleMove, now: i64) {
        let (low, high) = (self.anchor / 8.0, self.anchor * 8.0);
        match movement {
            OracleMove::Walk { log_return } => {
                // A new publish: trading, narrow confidence, the EMA follows.
                self.dollars = (self.dollars * log_return.exp()).clamp(low, high);
                self.ema += 0.3 * (self.dollars - self.ema);
                self.status = PriceStatus::Trading;
                self.conf_frac = 0.0005;
                self.publish_time = now;
            }
            OracleMove::Gap { fraction } => {
                self.dollars = (self.dollars * (1.0 + fraction)).clamp(low, high);
                self.publish_time = now;
            }
            OracleMove::Stale { age } => self.publish_time = now - age,
            OracleMove::WideConf { fraction } => {
                self.conf_frac = fraction;
                self.publish_time = now;
            }
            OracleMove::EmaDiverge { offset } => {
                self.ema = self.dollars * (1.0 + offset);
                self.publish_time = now;
            }
            OracleMove::NotTrading { status } => {
                self.status = match status % 4 {
                    0 => PriceStatus::Unknown,
                    1 => PriceStatus::Halted,
                    2 => PriceStatus::Auction,
                    _ => PriceStatus::Ignored,
                };
            }
            OracleMove::Refresh => {
                self.status = PriceStatus::Trading;
                self.conf_frac = self.conf_frac.min(0.002);
                self.ema += 0.5 * (self.dollars - self.ema);
                self.publish_time = now;
            }
        }
    }

    /// A random oracle move; mostly walks, sometimes gaps and broken states.
    pub fn random_move(&self, rng: &mut ChaCha8Rng) -> OracleMove {
        let roll = rng.gen_range(0..100);
        match roll {
            0..=72 => {
                // Mean-reverting walk, ~1.5 % a step.
                let drift = -0.05 * (self.dollars / self.anchor).ln();
                let noise: f64 = (0..4).map(|_| rng.gen_range(-1.0..1.0)).sum::<f64>() * 0.013;
                OracleMove::Walk { log_return: drift + noise }
            }
            73..=78 => {
                // A gap of 5–40 % down, or the same log size up.
                let size: f64 = rng.gen_range(0.05..0.40);
                let fraction = if rng.gen_bool(0.5) { -size } else { 1.0 / (1.0 - size) - 1.0 };
                OracleMove::Gap { fraction }
            }
            79..=80 => OracleMove::Stale { age: rng.gen_range(61..900) },
            // Lagging: inside the staleness window, outside a short trading window.
            81..=82 => OracleMove::Stale { age: rng.gen_range(21..=55) },
            83..=86 => OracleMove::WideConf { fraction: rng.gen_range(0.021..0.3) },
            87..=90 => {
                let offset = rng.gen_range(0.11..0.6);
                OracleMove::EmaDiverge { offset: if rng.gen_bool(0.5) { offset } else { -offset * 0.8 } }
            }
            91..=93 => OracleMove::NotTrading { status: rng.gen_range(0..4) },
            _ => OracleMove::Refresh,
        }
    }
}
