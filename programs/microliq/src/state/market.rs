use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::math::{self, MarketPrice, MathResult, Rounding, RATE_PRECISION};

/// Hard bounds on every risk parameter. `update_market` and `add_market` reject anything outside.
pub mod bounds {
    /// Maintenance margin fraction: 0.5 % … 50 %.
    pub const MAINTENANCE_RATE: (u32, u32) = (5_000, 500_000);
    /// Initial margin fraction: above maintenance, at most 100 %.
    pub const INITIAL_RATE_MAX: u32 = 1_000_000;
    /// Liquidation buffer β: 0 … 300 % of the maintenance requirement (300 % ends a liquidation
    /// at 4× maintenance, above typical initial margin; jumpy markets need a large β, see
    /// docs/LIQUIDATION.md).
    pub const LIQUIDATION_BUFFER_MAX: u32 = 3_000_000;
    /// Keeper bonus rate: at most 20 % of the closed notional.
    pub const BONUS_RATE_MAX: u32 = 200_000;
    /// Insurance fee rate: at most 10 % of the closed notional.
    pub const INSURANCE_FEE_RATE_MAX: u32 = 100_000;
    /// Close factor (share of a position one liquidation call may close): 1 % … 100 %.
    pub const CLOSE_FACTOR: (u32, u32) = (10_000, 1_000_000);
    /// Taker fee: at most 1 %.
    pub const TAKER_FEE_RATE_MAX: u32 = 10_000;
    /// Oracle staleness: 1 s … 1 h.
    pub const MAX_STALENESS_SECS: (u32, u32) = (1, 3_600);
    /// Confidence / price: 0.01 % … 20 %.
    pub const MAX_CONF_RATE: (u32, u32) = (100, 200_000);
    /// |price − EMA| / EMA: 0.1 % … 100 %.
    pub const MAX_EMA_DIVERGENCE: (u32, u32) = (1_000, 1_000_000);
    /// Base decimals of a market: 0 … 18.
    pub const BASE_DECIMALS_MAX: u8 = 18;
    /// Slots over which the bonus ramps to its maximum: at most ~1 day.
    pub const BONUS_RAMP_SLOTS_MAX: u32 = 216_000;
    /// Funding rate per hour at 100 % skew: at most 10 %/h (the clamp below caps what is paid).
    pub const FUNDING_RATE_SCALE_MAX: u32 = 100_000;
    /// Largest funding rate per hour: at most 1 %/h (ten years of it move the index by 8.76e17,
    /// inside the `i64` it lives in).
    pub const FUNDING_MAX_RATE_MAX: u32 = 10_000;
}

/// A market's funding parameters, set by the admin within [`bounds`] ([`RATE_PRECISION`] per
/// hour). Both 0: no funding. One set without the other is refused.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FundingConfig {
    /// Rate per hour at a skew of 100 % (all open interest on one side).
    pub rate_scale: u32,
    /// Largest rate per hour either way.
    pub max_rate: u32,
}

impl FundingConfig {
    pub fn validate(&self) -> Result<()> {
        require!(
            self.rate_scale <= bounds::FUNDING_RATE_SCALE_MAX
                && self.max_rate <= bounds::FUNDING_MAX_RATE_MAX
                && (self.rate_scale == 0) == (self.max_rate == 0),
            MicroliqError::FundingParamsInvalid
        );
        Ok(())
    }
}

/// Risk and fee parameters of one market, set by the admin within [`bounds`]. Rates use
/// [`RATE_PRECISION`] (1e6 = 100 %).
///
/// Plain `repr(C)` + `bytemuck` instead of `#[zero_copy]` (the same layout, no padding): with the
/// `idl-build` feature both `#[zero_copy]` and `AnchorSerialize` implement `IdlBuild`, and the IDL
/// build failed on that double implementation. It is Borsh-serialized as an instruction argument.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    AnchorSerialize,
    AnchorDeserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[repr(C)]
pub struct MarketParams {
    /// Initial margin fraction `im` (risk-adding actions must keep `E' ≥ Σ|q|·P'·im`).
    pub initial_rate: u32,
    /// Maintenance margin fraction `mm` (liquidatable when `E < Σ|q|·P·mm`).
    pub maintenance_rate: u32,
    /// β: liquidation restores `E ≥ (1 + β)·M`.
    pub liquidation_buffer: u32,
    /// Keeper bonus at the first slot of a barely-liquidatable account.
    pub bonus_min_rate: u32,
    /// Keeper bonus once the account is deep under water or the ramp has run.
    pub bonus_max_rate: u32,
    /// Share of the closed notional paid to the insurance fund on liquidation.
    pub insurance_fee_rate: u32,
    /// Slots after the account is first flagged over which the bonus ramps to its maximum.
    pub bonus_ramp_slots: u32,
    /// Largest share of a position one liquidation call may close (unless dust/full rules apply).
    pub close_factor: u32,
    /// Taker fee on every trade's notional, credited to the pool.
    pub taker_fee_rate: u32,
    /// Oldest accepted oracle publish time, seconds.
    pub max_staleness_secs: u32,
    /// Largest accepted `conf / price`.
    pub max_conf_rate: u32,
    /// Largest `|price − ema| / ema` at which risk-adding actions are still allowed.
    pub max_ema_divergence: u32,
    /// Open interest cap per side, base atoms.
    pub max_open_interest: u64,
    /// A remainder below this notional (quote atoms) is closed with the slice.
    pub dust_notional: u64,
    /// Smallest tradable increment, base atoms.
    pub base_lot_size: u64,
}

impl MarketParams {
    /// The parameters the pure liquidation math reads.
    pub fn liquidation(&self) -> crate::math::LiquidationParams {
        crate::math::LiquidationParams {
            liquidation_buffer: self.liquidation_buffer,
            bonus_min_rate: self.bonus_min_rate,
            bonus_max_rate: self.bonus_max_rate,
            insurance_fee_rate: self.insurance_fee_rate,
            bonus_ramp_slots: self.bonus_ramp_slots,
            close_factor: self.close_factor,
            dust_notional: self.dust_notional,
            base_lot_size: self.base_lot_size,
        }
    }

    /// The largest total liquidation penalty rate `b` (keeper bonus + insurance fee).
    pub fn max_penalty_rate(&self) -> u64 {
        self.bonus_max_rate as u64 + self.insurance_fee_rate as u64
    }

    /// Checks every bound and every cross-parameter rule; the first failure is returned.
    pub fn validate(&self) -> Result<()> {
        use bounds::*;
        let within = |value: u32, (lo, hi): (u32, u32)| value >= lo && value <= hi;
        require!(
            within(self.maintenance_rate, MAINTENANCE_RATE)
                && self.initial_rate <= INITIAL_RATE_MAX
                && self.liquidation_buffer <= LIQUIDATION_BUFFER_MAX
                && self.bonus_max_rate <= BONUS_RATE_MAX
                && self.insurance_fee_rate <= INSURANCE_FEE_RATE_MAX
                && within(self.close_factor, CLOSE_FACTOR)
                && self.taker_fee_rate <= TAKER_FEE_RATE_MAX
                && within(self.max_staleness_secs, MAX_STALENESS_SECS)
                && within(self.max_conf_rate, MAX_CONF_RATE)
                && within(self.max_ema_divergence, MAX_EMA_DIVERGENCE)
                && self.bonus_ramp_slots <= BONUS_RAMP_SLOTS_MAX
                && self.max_open_interest > 0
                && self.base_lot_size > 0
                && self.max_open_interest <= i64::MAX as u64
                && self.max_open_interest % self.base_lot_size == 0,
            MicroliqError::ParameterOutOfBounds
        );
        require!(self.initial_rate > self.maintenance_rate, MicroliqError::InitialNotAboveMaintenance);
        require!(self.bonus_min_rate <= self.bonus_max_rate, MicroliqError::BonusRangeInverted);
        // The exact-slice formula divides by (1 + β)·mm − b; it must stay positive for every b
        // the bonus can reach, or closing a slice would not improve health.
        let buffered_maintenance =
            (RATE_PRECISION as u64 + self.liquidation_buffer as u64) * self.maintenance_rate as u64;
        require!(
            buffered_maintenance > self.max_penalty_rate() * RATE_PRECISION as u64,
            MicroliqError::PenaltyNotBelowMaintenance
        );
        Ok(())
    }
}

/// One perpetual market: its oracle, parameters, and open interest.
///
/// Open interest keeps both sides' base and entry sums, so the traders' aggregate unrealized PnL
/// (and so the pool's NAV) is known from one price per market, without visiting accounts.
#[account(zero_copy)]
#[derive(Debug)]
pub struct Market {
    pub exchange: Pubkey,
    /// The price account of this market: for pinned oracles the only one accepted, for pull
    /// oracles the account it was configured with (informational). See [`crate::oracle`].
    pub oracle: Pubkey,
    pub params: MarketParams,
    /// Σ base of all long positions (base atoms).
    pub long_base: u64,
    /// Σ |base| of all short positions.
    pub short_base: u64,
    /// Σ entry quote of all long positions (quote atoms, normally positive).
    pub long_entry_quote: i64,
    /// Σ entry quote of all short positions (normally negative).
    pub short_entry_quote: i64,
    /// Base atoms ever traded, fees ever charged (quote atoms).
    pub total_volume_base: u64,
    pub total_fees: u64,
    /// Base atoms ever closed by liquidation.
    pub total_liquidated_base: u64,
    pub market_index: u16,
    pub paused: u16,
    pub base_decimals: u8,
    pub bump: u8,
    pub _padding: [u8; 2],
    /// Display name, UTF-8, zero padded.
    pub name: [u8; 16],
    /// [`crate::oracle::OracleKind`] as `u8` (0, legacy, is what markets listed before the
    /// migration hold in these formerly reserved bytes).
    pub oracle_kind: u8,
    /// [`crate::oracle::OracleMode`] as `u8`.
    pub oracle_mode: u8,
    pub _oracle_padding: [u8; 6],
    /// The Pyth feed id a `PriceUpdateV2` market reads; zero for legacy markets.
    pub oracle_feed_id: [u8; 32],
    /// Oldest price (seconds) at which orders, collateral withdrawals and LP deposits and
    /// withdrawals go through; 0 means `params.max_staleness_secs` (the window liquidations and
    /// deposits keep). See [`Market::trading_staleness_secs`].
    pub oracle_trading_staleness_secs: u32,
    pub _oracle_padding2: [u8; 4],
    /// Funding index `K` (math::funding, [`math::FUNDING_PRECISION`] = 100 % of notional;
    /// grows while longs pay). Formerly reserved bytes: 0 on markets listed before funding.
    pub funding_index: i64,
    /// Unix time of the index's last advance (0: never advanced).
    pub funding_updated_at: i64,
    /// Σ over long positions of `q · (K − K_q)`: funding accrued to longs, not yet settled (base
    /// atoms × `FUNDING_PRECISION`; positive = owed by them to the pool).
    pub funding_long_accrued: SplitI128,
    /// The same over short positions.
    pub funding_short_accrued: SplitI128,
    /// Funding rate per hour at a skew of 100 % ([`RATE_PRECISION`]); 0 = no funding.
    pub funding_rate_scale: u32,
    /// Largest funding rate per hour either way ([`RATE_PRECISION`]); 0 = no funding.
    pub funding_max_rate: u32,
    /// The exchange's close-pause clock at the index's last advance
    /// ([`crate::state::Exchange::funding_time`]).
    pub funding_paused_secs_at_update: i64,
    pub reserved: [u8; 8],
}

/// An `i128` stored as two 8-byte words (an `i128` field would be 16-byte aligned natively and
/// 8-byte aligned on SBF: the layouts would differ).
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SplitI128 {
    pub lo: u64,
    pub hi: i64,
}

impl SplitI128 {
    #[inline(always)]
    pub fn get(&self) -> i128 {
        ((self.hi as i128) << 64) | self.lo as i128
    }

    #[inline(always)]
    pub fn set(&mut self, value: i128) {
        self.lo = value as u64;
        self.hi = (value >> 64) as i64;
    }
}

const _: () = assert!(core::mem::size_of::<MarketParams>() == 12 * 4 + 3 * 8);
const _: () =
    assert!(core::mem::size_of::<Market>() == 2 * 32 + 72 + 7 * 8 + 8 + 16 + 8 + 32 + 8 + 56 + 8 + 8);
const _: () = assert!(core::mem::size_of::<Market>() % 8 == 0);

impl Market {
    pub const SPACE: usize = 8 + core::mem::size_of::<Market>();

    /// The oldest price age (seconds) at which a trade, a collateral withdrawal or an LP action
    /// may use this market's price: `oracle_trading_staleness_secs`, or the market's
    /// `max_staleness_secs` when that is 0.
    pub fn trading_staleness_secs(&self) -> u32 {
        match self.oracle_trading_staleness_secs {
            0 => self.params.max_staleness_secs,
            secs => secs.min(self.params.max_staleness_secs),
        }
    }

    pub fn funding_params(&self) -> math::FundingParams {
        math::FundingParams { rate_scale: self.funding_rate_scale, max_rate: self.funding_max_rate }
    }

    /// Funding accrues unless the market's closes are paused (a trader who cannot leave pays
    /// nothing while that lasts).
    pub fn funding_accruing(&self) -> bool {
        self.paused & crate::state::pause::REDUCE == 0
    }

    pub fn funding_state(&self) -> math::FundingState {
        math::FundingState {
            index: self.funding_index,
            updated_at: self.funding_updated_at,
            paused_secs_at_update: self.funding_paused_secs_at_update,
            long_accrued: self.funding_long_accrued.get(),
            short_accrued: self.funding_short_accrued.get(),
        }
    }

    pub fn set_funding_state(&mut self, state: &math::FundingState) {
        self.funding_index = state.index;
        self.funding_updated_at = state.updated_at;
        self.funding_paused_secs_at_update = state.paused_secs_at_update;
        self.funding_long_accrued.set(state.long_accrued);
        self.funding_short_accrued.set(state.short_accrued);
    }

    /// The index advance to `time` that [`Self::advance_funding`] would apply (nothing written).
    #[inline(always)]
    pub fn funding_advance(&self, time: math::FundingTime) -> MathResult<math::FundingAdvance> {
        self.funding_state().advance_to(
            time,
            self.long_base,
            self.short_base,
            self.funding_params(),
            self.funding_accruing(),
        )
    }

    /// The funding state as it would stand at `time` (what a read-only market contributes to
    /// health and to the pool's value; identical to what an advance would write). `time` is
    /// `exchange.funding_time(now)`.
    pub fn funding_state_at(&self, time: math::FundingTime) -> MathResult<math::FundingState> {
        let mut state = self.funding_state();
        let advance = self.funding_advance(time)?;
        state.apply(&advance, time, self.long_base, self.short_base)?;
        Ok(state)
    }

    /// Advances the funding index to `time` (before anything changes open interest, so the
    /// interval is charged at the skew that held during it). Returns the advance, for
    /// `FundingUpdated`.
    pub fn advance_funding(&mut self, time: math::FundingTime) -> MathResult<math::FundingAdvance> {
        let mut state = self.funding_state();
        let advance = state.advance_to(
            time,
            self.long_base,
            self.short_base,
            self.funding_params(),
            self.funding_accruing(),
        )?;
        state.apply(&advance, time, self.long_base, self.short_base)?;
        self.set_funding_state(&state);
        Ok(advance)
    }

    /// Traders' unsettled funding per side, as a collateral change (negative = owed to the
    /// pool), with the state at `time`, rounded as asked (`Up` makes it larger, like
    /// [`Self::traders_unrealized_pnl_by_side`]).
    pub fn traders_funding_by_side(
        &self,
        price: &MarketPrice,
        time: math::FundingTime,
        rounding: Rounding,
    ) -> MathResult<(i128, i128)> {
        let state = self.funding_state_at(time)?;
        Ok((
            math::funding_value(state.long_accrued, price, rounding)?,
            math::funding_value(state.short_accrued, price, rounding)?,
        ))
    }

    /// Fails with [`MicroliqError::Paused`] when `action` is paused for this market.
    pub fn require_not_paused(&self, action: u16) -> Result<()> {
        require!(self.paused & action == 0, MicroliqError::Paused);
        Ok(())
    }

    /// Removes (`sign = -1`) or adds (`sign = 1`) one position's contribution to open interest.
    pub fn apply_open_interest(&mut self, base: i64, entry_quote: i64, add: bool) -> MathResult<()> {
        use math::Checked;
        if base == 0 {
            return Ok(());
        }
        let (side_base, side_entry) = if base > 0 {
            (&mut self.long_base, &mut self.long_entry_quote)
        } else {
            (&mut self.short_base, &mut self.short_entry_quote)
        };
        if add {
            *side_base = side_base.add_or_err(base.unsigned_abs())?;
            *side_entry = side_entry.add_or_err(entry_quote)?;
        } else {
            *side_base = side_base.sub_or_err(base.unsigned_abs())?;
            *side_entry = side_entry.sub_or_err(entry_quote)?;
        }
        Ok(())
    }

    /// Traders' aggregate unrealized PnL in this market, per side: `(L·P − e_L, −S·P − e_S)`,
    /// rounded as asked (`Up` makes the traders' PnL larger: the pool's liability at its
    /// largest).
    ///
    /// Always inlined: as a call its promoted arguments (two `i128` prices, rounding, `self`,
    /// return slot) need more than the five argument registers SBF has (docs/PERFORMANCE.md).
    #[inline(always)]
    pub fn traders_unrealized_pnl_by_side(
        &self,
        price: &MarketPrice,
        rounding: Rounding,
    ) -> MathResult<(i128, i128)> {
        use math::Checked;
        // Rounding the total as asked: longs' value and shorts' debt use the matching bound.
        let (long_price, short_price) = match rounding {
            Rounding::Down => (price.oracle_low, price.oracle_high),
            Rounding::Up => (price.oracle_high, price.oracle_low),
        };
        let long_value = math::signed_value(self.long_base as i64, long_price, rounding)?;
        let short_value = math::signed_value(-(self.short_base as i64), short_price, rounding)?;
        Ok((
            long_value.sub_or_err(self.long_entry_quote as i128)?,
            short_value.sub_or_err(self.short_entry_quote as i128)?,
        ))
    }

    /// Traders' aggregate unrealized PnL in this market, `L·P − e_L − S·P − e_S`, rounded as
    /// asked (the pool's NAV is the pool balance minus this).
    #[inline(always)]
    pub fn traders_unrealized_pnl(&self, price: &MarketPrice, rounding: Rounding) -> MathResult<i128> {
        use math::Checked;
        let (long, short) = self.traders_unrealized_pnl_by_side(price, rounding)?;
        long.add_or_err(short)
    }

    pub fn invariant(&self) -> Result<()> {
        // Fully closed sides carry no entry: every close removes exactly what its open added.
        require!(
            self.long_base <= i64::MAX as u64
                && self.short_base <= i64::MAX as u64
                && (self.long_base != 0 || self.long_entry_quote == 0)
                && (self.short_base != 0 || self.short_entry_quote == 0)
                && self.paused & !crate::state::pause::ALL == 0,
            MicroliqError::InvariantViolated
        );
        Ok(())
    }
}
