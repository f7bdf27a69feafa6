use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::MarketOracleSet;
use crate::oracle::{
    push_feed_address, read_oracle, require_oracle_windows, validate_oracle_config, OracleClock, OracleKind,
    OracleMode, OracleReading,
};
use crate::state::{Exchange, Market};

/// How a market is priced: the format, which accounts are accepted, and (for `PriceUpdateV2`)
/// the Pyth feed id. The account itself is passed next to the arguments.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct OracleConfig {
    pub kind: OracleKind,
    pub mode: OracleMode,
    /// The 32-byte Pyth feed id (`PriceUpdateV2`); all zero for legacy.
    pub feed_id: [u8; 32],
    /// Pinned `PriceUpdateV2` only: the push-oracle shard whose feed account is pinned (0 for
    /// Pyth's sponsored feeds); 0 otherwise.
    pub shard_id: u16,
    /// Oldest price (seconds) orders, collateral withdrawals and LP actions accept; 0 = the
    /// market's `max_staleness_secs`. At most `max_staleness_secs` (docs/ORACLES.md).
    pub trading_staleness_secs: u32,
}

impl OracleConfig {
    /// Legacy kind, pinned: the only combination a legacy market may have.
    pub fn legacy() -> Self {
        OracleConfig {
            kind: OracleKind::PythLegacy,
            mode: OracleMode::Pinned,
            feed_id: [0; 32],
            shard_id: 0,
            trading_staleness_secs: 0,
        }
    }

    /// A `PriceUpdateV2` market pinned to Pyth's sponsored feed account of `feed_id` (shard 0).
    pub fn sponsored(feed_id: [u8; 32]) -> Self {
        OracleConfig {
            kind: OracleKind::PythPriceUpdateV2,
            mode: OracleMode::Pinned,
            feed_id,
            shard_id: 0,
            trading_staleness_secs: 0,
        }
    }

    /// A `PriceUpdateV2` market in pull mode.
    pub fn pull(feed_id: [u8; 32]) -> Self {
        OracleConfig {
            kind: OracleKind::PythPriceUpdateV2,
            mode: OracleMode::Pull,
            feed_id,
            shard_id: 0,
            trading_staleness_secs: 0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        validate_oracle_config(self.kind as u8, self.mode as u8, &self.feed_id, self.shard_id)
    }

    /// Stores the kind, mode and feed id (the account is stored by the caller).
    pub fn apply(&self, market: &mut Market) {
        market.oracle_kind = self.kind as u8;
        market.oracle_mode = self.mode as u8;
        market.oracle_feed_id = self.feed_id;
        market.oracle_trading_staleness_secs = self.trading_staleness_secs;
    }

    /// Stores `oracle` as the market's account and requires that it may serve: a pinned
    /// `PriceUpdateV2` account is the push oracle's feed account of the feed and shard (which
    /// only ever moves to newer prices), a pull market's staleness window is short, and the
    /// account reads now with every guard (owner, format, verification, feed, staleness,
    /// confidence) at the market's parameters.
    pub fn require_reads(
        &self,
        oracle: &AccountInfo,
        market: &mut Market,
        exchange: &Exchange,
    ) -> Result<OracleReading> {
        market.oracle = oracle.key();
        if self.kind == OracleKind::PythPriceUpdateV2 && self.mode == OracleMode::Pinned {
            require_keys_eq!(
                market.oracle,
                push_feed_address(self.shard_id, &self.feed_id),
                MicroliqError::OracleNotPushFeed
            );
        }
        require_oracle_windows(market)?;
        read_oracle(oracle, market, exchange, &OracleClock::get()?)
    }
}

/// Sets or switches a market's oracle: kind, mode, feed id and account. Refused unless `oracle`
/// reads under the new configuration right now, so a market is never left without a price.
#[derive(Accounts)]
pub struct SetMarketOracle<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ MicroliqError::NotAdmin)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: must read under `args` (see `OracleConfig::require_reads`).
    pub oracle: UncheckedAccount<'info>,
}

impl SetMarketOracle<'_> {
    pub fn validate(&self, args: &OracleConfig) -> Result<()> {
        args.validate()
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle(ctx: Context<Self>, args: OracleConfig) -> Result<()> {
        let exchange = ctx.accounts.exchange.load()?;
        let mut market = ctx.accounts.market.load_mut()?;
        let (old_oracle, old_kind, old_mode, old_feed) =
            (market.oracle, market.oracle_kind, market.oracle_mode, market.oracle_feed_id);
        args.apply(&mut market);
        let reading = args.require_reads(&ctx.accounts.oracle, &mut market, &exchange)?;
        market.invariant()?;
        emit!(MarketOracleSet {
            market: ctx.accounts.market.key(),
            market_index: market.market_index,
            old_oracle,
            old_oracle_kind: old_kind,
            old_oracle_mode: old_mode,
            old_oracle_feed_id: old_feed,
            oracle: market.oracle,
            oracle_kind: market.oracle_kind,
            oracle_mode: market.oracle_mode,
            oracle_feed_id: market.oracle_feed_id,
            oracle_trading_staleness_secs: market.oracle_trading_staleness_secs,
            price: reading.raw_price,
            expo: reading.expo,
            publish_time: reading.publish_time,
        });
        Ok(())
    }
}
