//! Reading a market's legacy Pyth price account with every guard of DESIGN.md §Prices.
//!
//! Checks, in order, each with its own error: the account is the market's configured oracle, it
//! is owned by the exchange's configured Pyth program, it decodes as a Pyth price account, its
//! aggregate status is `Trading`, price and EMA are positive, the publish time is no older than
//! `max_staleness_secs`, and `conf / price ≤ max_conf_rate`. The EMA-divergence circuit breaker
//! is recorded rather than enforced here: only risk-adding instructions refuse it
//! ([`OracleReading::require_no_divergence`]).

use anchor_lang::prelude::*;
use pyth_sdk_solana::state::{load_price_account, PriceStatus, SolanaPriceAccount};

use crate::error::MicroliqError;
use crate::math::{MarketPrice, RATE_PRECISION};
use crate::state::Market;

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
}

impl OracleReading {
    /// Fails with [`MicroliqError::OracleEmaDivergence`] when the circuit breaker is tripped.
    pub fn require_no_divergence(&self) -> Result<()> {
        require!(!self.ema_diverged, MicroliqError::OracleEmaDivergence);
        Ok(())
    }
}

/// Reads and validates `oracle` for `market`.
pub fn read_oracle(
    oracle: &AccountInfo,
    market: &Market,
    pyth_program: &Pubkey,
    quote_decimals: u8,
    now: i64,
) -> Result<OracleReading> {
    require_keys_eq!(oracle.key(), market.oracle, MicroliqError::WrongOracle);
    require_keys_eq!(*oracle.owner, *pyth_program, MicroliqError::OracleWrongOwner);
    let data = oracle.try_borrow_data()?;
    let account = load_price_account::<32, ()>(&data).map_err(|_| error!(MicroliqError::OracleInvalid))?;
    read_price_account(account, market, quote_decimals, now)
}

/// The guards and conversion on an already-decoded price account (shared with off-chain code).
pub fn read_price_account(
    account: &SolanaPriceAccount,
    market: &Market,
    quote_decimals: u8,
    now: i64,
) -> Result<OracleReading> {
    let params = &market.params;
    require!(account.agg.status == PriceStatus::Trading, MicroliqError::OracleNotTrading);
    let price = account.agg.price;
    let ema = account.ema_price.val;
    require!(price > 0 && ema > 0, MicroliqError::OracleNonPositivePrice);
    let age = now.saturating_sub(account.timestamp);
    require!(age <= params.max_staleness_secs as i64, MicroliqError::OracleStale);

    let price = price as u64;
    let ema = ema as u64;
    let conf = account.agg.conf;
    // conf / price ≤ max_conf  ⇔  conf · 1e6 ≤ max_conf · price (exact, in u128).
    require!(
        conf as u128 * RATE_PRECISION <= params.max_conf_rate as u128 * price as u128,
        MicroliqError::OracleConfidenceTooWide
    );
    // |price − ema| / ema > max_div  ⇔  |price − ema| · 1e6 > max_div · ema.
    let ema_diverged =
        (price.abs_diff(ema) as u128) * RATE_PRECISION > params.max_ema_divergence as u128 * ema as u128;

    let expo = account.expo;
    let price = MarketPrice::from_oracle(price, conf, ema, expo, quote_decimals, market.base_decimals)
        .map_err(|_| error!(MicroliqError::OraclePriceOutOfRange))?;
    require!(price.oracle_low > 0, MicroliqError::OraclePriceOutOfRange);

    Ok(OracleReading {
        price,
        raw_price: account.agg.price,
        raw_conf: conf,
        expo,
        publish_time: account.timestamp,
        ema_diverged,
    })
}
