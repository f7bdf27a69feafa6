//! Micro-liquidation: how much of one position to close, and what the keeper and the insurance
//! fund are paid. Pure: the program and the keeper run exactly this code.
//!
//! # The exact slice
//!
//! Let the account have equity `E` and maintenance requirement `M` (see [`super::health`]), and
//! let the keeper close `Δ` base atoms of position `j` at price `P`, charging a total penalty rate
//! `b` (keeper bonus + insurance fee) on the closed notional. Closing moves the slice's
//! unrealized PnL into collateral (no change to `E`), charges the penalty, and removes the slice's
//! requirement:
//!
//! ```text
//! E' = E − |Δ|·P·b            M' = M − |Δ|·P·mm_j
//! ```
//!
//! The liquidation ends when `E' ≥ (1 + β)·M'` (β, the market's liquidation buffer, keeps the
//! account from being liquidated again by the next tick). Substituting:
//!
//! ```text
//! E − |Δ|·P·b ≥ (1 + β)·(M − |Δ|·P·mm_j)
//! |Δ|·P·((1 + β)·mm_j − b) ≥ (1 + β)·M − E
//! |Δ| ≥ ((1 + β)·M − E) / (P · ((1 + β)·mm_j − b))
//! ```
//!
//! Every term on the left grows with `|Δ|` because market parameters enforce
//! `(1 + β)·mm_j > b_max + fee` (checked by `MarketParams::validate`), so the smallest `|Δ|` that
//! satisfies the inequality is the smallest slice that restores the target, and any smaller slice
//! leaves the account short of it. The formula gives the estimate; [`plan_liquidation`] then
//! rounds it up to the market's lot and checks it (and one lot less) against the program's own
//! rounded health, so the slice is the smallest *lot multiple* that reaches the target as the
//! program computes it.
//!
//! When a penalty cap (below) binds, a smaller slice is enough; the search then narrows between
//! the zero-penalty bound and the estimate by binary search, since reaching the target is
//! monotonic in the slice.
//!
//! # Caps and whole closes
//!
//! The slice is then capped by the caller's `max_base` and by the close factor (a share of the
//! position per call, so that one keeper cannot take a large account in one go at the top of the
//! bonus curve). The whole position is closed instead when what would remain is dust (notional
//! under `dust_notional`), when the target cannot be reached with this position alone, when the
//! account's equity is already `≤ 0` (nothing is left to protect), or when the capped slice's
//! penalty would take all the equity left (a remainder at `E' = 0` could pay no keeper). Whatever
//! the rule, one call closes at most [`MAX_SLICE_NOTIONAL`] of notional, so that the executed
//! slice fits the `i64` ledgers; the rest goes in the next call.
//!
//! # Bonus and penalty
//!
//! The keeper bonus rate rises like a Dutch auction: with `severity = clamp((M − E) / M, 0, 1)`
//! and `elapsed = clamp(slots_since_flagged / bonus_ramp_slots, 0, 1)` (slots since the live
//! liquidation episode started, 0 outside one),
//!
//! ```text
//! bonus_rate = b_min + (b_max − b_min) · max(severity, elapsed)
//! ```
//!
//! so competing keepers can take the smallest bonus that pays them, and the bonus still reaches
//! its maximum for an account nobody liquidates. The insurance fee rate is fixed per market. The
//! penalty is `ceil(notional · (bonus_rate + fee_rate))`, capped at the equity left after the
//! slice (so liquidation never turns a solvent account insolvent) and at the collateral left
//! after realizing it (so it never creates negative collateral the pool would carry); the keeper
//! is paid first, `floor(notional · bonus_rate)`, and the insurance fund receives the rest. An
//! account already at `E ≤ 0` pays nothing; the insurance fund pays the keeper
//! [`insolvent_close_reward`] instead.

use super::fixed::*;
use super::health::{MaintenanceHealth, PositionRisk};
use super::trade::{apply_trade, TradeOutcome};

/// The market parameters liquidation reads (rates in [`RATE_PRECISION`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiquidationParams {
    pub liquidation_buffer: u32,
    pub bonus_min_rate: u32,
    pub bonus_max_rate: u32,
    pub insurance_fee_rate: u32,
    pub bonus_ramp_slots: u32,
    pub close_factor: u32,
    pub dust_notional: u64,
    pub base_lot_size: u64,
}

/// `E · (1e6) − (1e6 + β) · M`: the margin against the liquidation's end target, scaled by
/// [`RATE_PRECISION`]. The account is back at its target when this is `≥ 0`.
///
/// Always inlined: as a call its promoted arguments (two `i128` + rate + return slot) need more
/// than the five argument registers SBF has (see docs/PERFORMANCE.md).
#[inline(always)]
pub fn target_margin_scaled(health: &MaintenanceHealth, liquidation_buffer: u32) -> MathResult<i128> {
    let buffered = RATE_PRECISION as i128 + liquidation_buffer as i128;
    let requirement = (health.maintenance_requirement as i128).mul_or_err(buffered)?;
    health.equity.mul_or_err(RATE_PRECISION as i128)?.sub_or_err(requirement)
}

/// The keeper bonus rate for an account in this state; within `[bonus_min_rate, bonus_max_rate]`
/// and non-decreasing in both the shortfall `(M − E) / M` and the slots since it was flagged.
pub fn bonus_rate(
    health: &MaintenanceHealth,
    slots_since_flagged: u64,
    params: &LiquidationParams,
) -> MathResult<u32> {
    let range = params.bonus_max_rate.saturating_sub(params.bonus_min_rate) as u128;
    let severity = if health.maintenance_requirement == 0 || health.equity <= 0 {
        RATE_PRECISION
    } else {
        // (M − E) / M, clamped to [0, 1], in RATE_PRECISION, rounded down (the keeper is paid).
        let shortfall = health.shortfall();
        mul_div_wide(shortfall, RATE_PRECISION, health.maintenance_requirement, Rounding::Down)?
            .min(RATE_PRECISION)
    };
    let elapsed = if params.bonus_ramp_slots == 0 {
        0
    } else {
        mul_div_u128(
            slots_since_flagged as u128,
            RATE_PRECISION,
            params.bonus_ramp_slots as u128,
            Rounding::Down,
        )?
        .min(RATE_PRECISION)
    };
    let extra = mul_div_u128(range, severity.max(elapsed), RATE_PRECISION, Rounding::Down)?;
    Ok(params.bonus_min_rate + extra as u32)
}

/// The smallest `|Δ|` (base atoms, not yet lot-rounded) from the closed-form formula in the
/// module docs: `ceil(((1 + β)·M − E) / (P · ((1 + β)·mm − b)))`. Zero when already at target.
///
/// Always inlined: as a call its arguments (a 128-bit price, four scalars, the return slot) need
/// more than the five argument registers SBF has (docs/PERFORMANCE.md).
#[inline(always)]
pub fn exact_slice_estimate(
    health: &MaintenanceHealth,
    price: u128,
    maintenance_rate: u32,
    penalty_rate: u64,
    liquidation_buffer: u32,
) -> MathResult<u128> {
    let shortfall_scaled = -target_margin_scaled(health, liquidation_buffer)?; // ((1+β)M − E)·1e6
    if shortfall_scaled <= 0 {
        return Ok(0);
    }
    // k = (1e6 + β)·mm − b·1e6, the per-notional improvement in RATE_PRECISION².
    let buffered_mm = (RATE_PRECISION + liquidation_buffer as u128).mul_or_err(maintenance_rate as u128)?;
    let penalty = (penalty_rate as u128).mul_or_err(RATE_PRECISION)?;
    let k = buffered_mm.sub_or_err(penalty)?;
    if k == 0 || price == 0 {
        return Err(MathError::here());
    }
    // |Δ| = shortfall·1e6 / 1e6 / (P/1e12 · k/1e12)  =  shortfall_scaled · 1e6 · 1e12 / (k · P)
    mul_div_wide(
        shortfall_scaled as u128,
        RATE_PRECISION * PRICE_PRECISION,
        k.mul_or_err(price)?,
        Rounding::Up,
    )
}

/// Most notional (quote atoms) one liquidation call closes: `2^62`. Every ledger is an `i64` of
/// quote atoms, so a slice's notional, its realized PnL and the collateral it lands in must fit;
/// a position whose notional has grown beyond this (a large short in a rally) is closed over
/// several calls instead of reverting on overflow. (4.6 · 10^18 atoms: 4.6 trillion units of a
/// 6-decimal quote, 4.6 billion of a 9-decimal one.)
pub const MAX_SLICE_NOTIONAL: u128 = 1 << 62;

/// Why the whole position is closed instead of a slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WholeClose {
    /// The slice leaves less than `dust_notional`.
    Dust,
    /// Equity was `≤ 0` before the slice: nothing is left to protect. The keeper is paid the
    /// insolvent-close reward from the insurance fund instead of a penalty.
    Insolvent,
    /// Closing all of this position is still not enough to reach the target.
    TargetUnreachable,
    /// The capped slice's penalty would take all the equity left: a remainder would stay open
    /// with zero equity, so the whole position goes in this call.
    EquityExhausted,
    /// A repeat breach of a losing position: the account fell below maintenance again within
    /// the exchange's `repeat_liquidation_window_slots` of its last recovery (docs/LIQUIDATION.md,
    /// "Repeat breaches"). What the last liquidation left it did not survive the market, so this
    /// episode closes losing positions whole.
    Repeat,
}

impl WholeClose {
    /// The code in the `whole_close` field of the slice event (0 = a slice).
    pub fn code(whole_close: Option<WholeClose>) -> u8 {
        match whole_close {
            None => 0,
            Some(WholeClose::Dust) => 1,
            Some(WholeClose::Insolvent) => 2,
            Some(WholeClose::TargetUnreachable) => 3,
            Some(WholeClose::EquityExhausted) => 4,
            Some(WholeClose::Repeat) => 5,
        }
    }
}

/// The effect of closing `closed_base` of the chosen position. Amounts are wide (`u128`/`i128`):
/// planning simulates slices no ledger could hold; the executed slice is narrowed by the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceOutcome {
    pub closed_base: u64,
    pub trade: TradeOutcome,
    /// `|Δ| · P`, rounded up: the notional the penalty is charged on.
    pub closed_notional: u128,
    /// Paid to the keeper, quote atoms (rounded down).
    pub keeper_bonus: u128,
    /// Paid to the insurance fund, quote atoms (the rest of the rounded-up penalty).
    pub insurance_fee: u128,
    /// The penalty was cut to the equity left after the slice (so the account ends at `E' = 0`
    /// if this slice is executed).
    pub equity_exhausted: bool,
    /// Collateral after realizing the slice's PnL and paying the penalty.
    pub collateral_after: i128,
    pub health_after: MaintenanceHealth,
}

/// A liquidation call's plan: the slice to close and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationPlan {
    pub health_before: MaintenanceHealth,
    pub bonus_rate: u32,
    /// The smallest lot multiple that reaches the target (before caps), or the whole position.
    pub exact_slice: u64,
    pub whole_close: Option<WholeClose>,
    pub outcome: SliceOutcome,
}

/// The account and the position a liquidation acts on.
pub struct LiquidationTarget<'a> {
    pub collateral: i64,
    /// Every open position of the account.
    pub positions: &'a [PositionRisk],
    /// Index into `positions` of the position to slice.
    pub index: usize,
    /// A repeat breach: the chosen position is closed whole if it is losing (unrealized PnL at
    /// the oracle price `≤ 0`, funding aside), sliced otherwise
    /// ([`MarginAccount::liquidation_escalated`](crate::state::MarginAccount::liquidation_escalated)).
    pub escalated: bool,
}

impl LiquidationTarget<'_> {
    /// The collateral the slice starts from: the account's, with the chosen position's unsettled
    /// funding settled into it (the program settles it before planning; an off-chain caller that
    /// has not gets the same plan).
    fn settled_collateral(&self) -> MathResult<i128> {
        (self.collateral as i128).add_or_err(self.positions[self.index].funding)
    }

    /// Equity and requirement of every position but the chosen one (collateral not included;
    /// their unsettled funding included).
    fn others(&self) -> MathResult<MaintenanceHealth> {
        let mut equity = 0i128;
        let mut requirement = 0u128;
        for (i, position) in self.positions.iter().enumerate() {
            if i != self.index && position.base != 0 {
                equity = equity.add_or_err(position.unrealized_pnl()?)?.add_or_err(position.funding)?;
                requirement = requirement.add_or_err(position.maintenance_requirement()?)?;
            }
        }
        Ok(MaintenanceHealth { equity, maintenance_requirement: requirement })
    }
}

/// Closes `closed_base` of the chosen position at its maintenance price, with the penalty at
/// `bonus_rate + insurance_fee_rate`, and returns the resulting state.
///
/// The penalty is capped twice, keeper first: at the equity left after the slice (liquidation
/// must not create bad debt) and at the collateral left after realizing the slice (a penalty
/// never pushes collateral below zero: negative collateral is a debt to the pool, and the pool
/// must not fund the keeper; see docs/POOL.md).
pub fn simulate_slice(
    target: &LiquidationTarget,
    others: &MaintenanceHealth,
    closed_base: u64,
    bonus_rate: u32,
    params: &LiquidationParams,
) -> MathResult<SliceOutcome> {
    let position = &target.positions[target.index];
    let close_delta = if position.base > 0 { -(closed_base as i64) } else { closed_base as i64 };
    let trade = apply_trade(position.base, position.entry_quote, close_delta, &position.price)?;
    let remaining =
        PositionRisk { base: trade.new_base, entry_quote: trade.new_entry_quote, funding: 0, ..*position };

    // `|Δ|·P` rounded up, as `apply_trade` already computed it for the taker fee.
    let closed_notional = trade.traded_notional;
    let penalty_rate = bonus_rate as u64 + params.insurance_fee_rate as u64;
    let full_penalty = mul_div_u128(closed_notional, penalty_rate as u128, RATE_PRECISION, Rounding::Up)?;
    let full_bonus = apply_rate(closed_notional, bonus_rate, Rounding::Down)?;

    let collateral_after_trade = target.settled_collateral()?.add_or_err(trade.realized_pnl)?;
    let remaining_pnl = if remaining.base != 0 { remaining.unrealized_pnl()? } else { 0 };
    let equity_after_trade = collateral_after_trade.add_or_err(others.equity)?.add_or_err(remaining_pnl)?;
    let equity_left = equity_after_trade.max(0) as u128;
    let penalty = full_penalty.min(equity_left).min(collateral_after_trade.max(0) as u128);
    let keeper_bonus = full_bonus.min(penalty);
    let insurance_fee = penalty - keeper_bonus;

    let remaining_requirement = if remaining.base != 0 { remaining.maintenance_requirement()? } else { 0 };
    let health_after = MaintenanceHealth {
        equity: equity_after_trade.sub_or_err(penalty as i128)?,
        maintenance_requirement: others.maintenance_requirement.add_or_err(remaining_requirement)?,
    };
    Ok(SliceOutcome {
        closed_base,
        trade,
        closed_notional,
        keeper_bonus,
        insurance_fee,
        equity_exhausted: penalty < full_penalty && penalty == equity_left,
        collateral_after: collateral_after_trade.sub_or_err(penalty as i128)?,
        health_after,
    })
}

/// What the insurance fund pays a keeper for closing a position of an account whose equity was
/// already `≤ 0` (the penalty is zero there, so without it no keeper would close the remainder
/// before it grows into more bad debt): `min(reward_cap, closed notional · mm, fund balance)`.
///
/// The `notional · mm` bound keeps the reward below what the account's owner lost to reach
/// `E ≤ 0` (at least `notional · im` since its last risk-adding action, `im > mm`), so
/// liquidating one's own insolvent account from another key does not pay. A hedged pair split by
/// a gap larger than `im` can still collect it (docs/LIQUIDATION.md).
///
/// Always inlined: as a call its 128-bit notional and three scalars need more than the five
/// argument registers SBF has.
#[inline(always)]
pub fn insolvent_close_reward(
    closed_notional: u128,
    maintenance_rate: u32,
    reward_cap: u64,
    fund_balance: u64,
) -> MathResult<u64> {
    let by_size = apply_rate(closed_notional, maintenance_rate, Rounding::Down)?;
    Ok(by_size.min(reward_cap as u128).min(fund_balance as u128) as u64)
}

/// Plans one liquidation call on `target` (see the module docs for every rule).
///
/// `max_base` is the caller's cap (base atoms, rounded down to the lot; at least one lot).
pub fn plan_liquidation(
    target: &LiquidationTarget,
    slots_since_flagged: u64,
    max_base: u64,
    params: &LiquidationParams,
) -> MathResult<LiquidationPlan> {
    let position = &target.positions[target.index];
    let size = position.base.unsigned_abs();
    let lot = params.base_lot_size.max(1);
    let others = target.others()?;
    let health_before = MaintenanceHealth {
        equity: target
            .settled_collateral()?
            .add_or_err(others.equity)?
            .add_or_err(position.unrealized_pnl()?)?,
        maintenance_requirement: others
            .maintenance_requirement
            .add_or_err(position.maintenance_requirement()?)?,
    };
    let bonus = bonus_rate(&health_before, slots_since_flagged, params)?;
    let simulate = |closed: u64| simulate_slice(target, &others, closed, bonus, params);
    let reached = |outcome: &SliceOutcome| -> MathResult<bool> {
        Ok(target_margin_scaled(&outcome.health_after, params.liquidation_buffer)? >= 0)
    };
    // The simulation of the current `slice`, when one was made: each costs ~1.5k compute units
    // on chain, and the final outcome is usually one already simulated.
    let mut at_slice: Option<SliceOutcome> = None;

    let mut whole_close = None;
    let exact_slice = if health_before.equity <= 0 {
        whole_close = Some(WholeClose::Insolvent);
        size
    } else if target.escalated && position.unrealized_pnl()? <= 0 {
        // A repeat breach closes a losing position whole (on price: the program settles the
        // chosen position's funding before planning, so funding cannot be part of the test
        // without the mirrors and the program disagreeing); a winner is sliced like any other
        // (closing it whole would take the trader's hedge and cost more penalty).
        whole_close = Some(WholeClose::Repeat);
        size
    } else {
        let penalty_rate = bonus as u64 + params.insurance_fee_rate as u64;
        let estimate = exact_slice_estimate(
            &health_before,
            position.price.oracle_high,
            position.maintenance_rate,
            penalty_rate,
            params.liquidation_buffer,
        )?;
        // Round up to the lot, then correct for the program's rounding: up while short of the
        // target, down while one lot less still reaches it. With the full penalty the estimate
        // is within an atom or two of the answer, so the upward loop runs at most a couple of
        // times and the downward check fails at once.
        let round_up = |base: u128| -> MathResult<u64> {
            Ok(to_u64(div_u128(base, lot as u128, Rounding::Up)?.mul_or_err(lot as u128)?)
                .unwrap_or(u64::MAX))
        };
        let mut slice = round_up(estimate)?.clamp(lot.min(size), size);
        // Up a lot at a time, then (after two steps) doubling the step: where a lot is worth less
        // to the margin than the health code's rounding (a tiny price per base atom), one lot at
        // a time could take size/lot simulations, beyond any compute budget and hanging a
        // keeper's scan (found by the golden-vector generator). An overshoot is walked back by
        // the search below.
        let mut step = lot;
        let mut steps_taken = 0u32;
        while slice < size {
            let outcome = simulate(slice)?;
            if reached(&outcome)? {
                at_slice = Some(outcome);
                break;
            }
            slice = slice.saturating_add(step).min(size);
            steps_taken += 1;
            if steps_taken >= 2 {
                step = step.saturating_mul(2);
            }
        }
        if slice > lot {
            let less = simulate(slice - lot)?;
            if reached(&less)? {
                // The penalty was capped (by the equity or the collateral left), so a smaller
                // slice suffices. Reaching the target is monotonic in the slice (the margin
                // gains (1 + β)·mm·P per base atom and loses at most b·P < that to the penalty),
                // and no slice below the zero-penalty estimate can reach it: binary search
                // between the two, in lots.
                let floor = exact_slice_estimate(
                    &health_before,
                    position.price.oracle_high,
                    position.maintenance_rate,
                    0,
                    params.liquidation_buffer,
                )?;
                let (mut low, mut high) = (round_up(floor)?.max(lot).min(slice - lot), slice - lot);
                at_slice = Some(less);
                while low < high {
                    let middle = low + (high - low) / lot / 2 * lot;
                    let outcome = simulate(middle)?;
                    if reached(&outcome)? {
                        high = middle;
                        at_slice = Some(outcome);
                    } else {
                        low = middle + lot;
                    }
                }
                slice = high;
                // Rounding can leave the zero-penalty bound high (by up to β of an atom of margin,
                // which with a tiny price per base atom is many lots): below it, gallop down,
                // doubling the step, until a slice misses, then search between the miss and the
                // hit (hostile review: stepping one lot at a time took ~1e10 simulations). In
                // the usual case the first probe, one lot down, misses and nothing else runs.
                let mut step = lot;
                let mut miss = None;
                while slice > lot {
                    let probe = slice.saturating_sub(step).max(lot);
                    let outcome = simulate(probe)?;
                    if !reached(&outcome)? {
                        miss = Some(probe);
                        break;
                    }
                    slice = probe;
                    at_slice = Some(outcome);
                    step = step.saturating_mul(2);
                }
                if let Some(miss) = miss {
                    let (mut low, mut high) = (miss + lot, slice);
                    while low < high {
                        let middle = low + (high - low) / lot / 2 * lot;
                        let outcome = simulate(middle)?;
                        if reached(&outcome)? {
                            high = middle;
                            at_slice = Some(outcome);
                        } else {
                            low = middle + lot;
                        }
                    }
                    slice = high;
                }
            }
        }
        if slice == size {
            let outcome = match at_slice {
                Some(outcome) => outcome,
                None => simulate(size)?,
            };
            if !reached(&outcome)? {
                whole_close = Some(WholeClose::TargetUnreachable);
            }
            at_slice = Some(outcome);
        }
        slice
    };

    let mut closed = exact_slice;
    if whole_close.is_none() {
        // Close factor: at most this share of the position per call (at least one lot).
        let factor_cap = div_u128(
            apply_rate(size as u128, params.close_factor, Rounding::Up)?,
            lot as u128,
            Rounding::Up,
        )?
        .mul_or_err(lot as u128)?;
        let caller_cap = (max_base / lot).saturating_mul(lot).max(lot);
        closed = closed.min(to_u64(factor_cap).unwrap_or(u64::MAX)).min(caller_cap).min(size);
        // Leave no dust behind.
        let remaining = size - closed;
        if remaining > 0
            && notional(remaining, position.price.oracle_high, Rounding::Up)? < params.dust_notional as u128
        {
            whole_close = Some(WholeClose::Dust);
            closed = size;
        }
    } else {
        closed = size;
    }

    let mut outcome = match at_slice {
        Some(outcome) if closed == exact_slice => outcome,
        _ => simulate(closed)?,
    };
    // A capped slice whose penalty takes all the equity left would leave a remainder at E' = 0
    // that no penalty could pay for: close the whole position now instead.
    if whole_close.is_none() && closed < size && outcome.equity_exhausted {
        whole_close = Some(WholeClose::EquityExhausted);
        closed = size;
        outcome = simulate(closed)?;
    }
    // Ledger range: at most MAX_SLICE_NOTIONAL per call, whatever rule chose the size (lot
    // multiples, at least one lot); the rest goes in the next call.
    if outcome.closed_notional > MAX_SLICE_NOTIONAL {
        let most = div_u128(
            MAX_SLICE_NOTIONAL.mul_or_err(PRICE_PRECISION)?,
            position.price.oracle_high,
            Rounding::Down,
        )?;
        let most = to_u64((most / lot as u128).mul_or_err(lot as u128)?.max(lot as u128)).unwrap_or(u64::MAX);
        if most < closed {
            closed = most;
            outcome = simulate(closed)?;
        }
    }
    Ok(LiquidationPlan { health_before, bonus_rate: bonus, exact_slice, whole_close, outcome })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::health::MarketPrice;

    const P: u128 = PRICE_PRECISION;

    pub(crate) fn params() -> LiquidationParams {
        LiquidationParams {
            liquidation_buffer: 200_000,
            bonus_min_rate: 5_000,
            bonus_max_rate: 25_000,
            insurance_fee_rate: 10_000,
            bonus_ramp_slots: 150,
            close_factor: 1_000_000,
            dust_notional: 1_000_000,
            base_lot_size: 1_000_000,
        }
    }

    fn sol_long(base: i64, entry: i64, price: u128) -> PositionRisk {
        PositionRisk {
            base,
            entry_quote: entry,
            price: MarketPrice::exact(price),
            maintenance_rate: 50_000,
            initial_rate: 100_000,
            funding: 0,
        }
    }

    #[test]
    fn a_lot_worth_less_than_the_rounding_is_planned_in_few_steps() {
        // A price of 2e-12 quote atoms per base atom and a one-atom lot: a lot moves the margin by
        // ~1e-13 of an atom, far below the health code's rounding, so stepping up one lot at a
        // time from the estimate would take on the order of 1e12 simulations (the golden-vector
        // generator hung on such a case). Equity 0.45 atoms short of M on 1e17 base atoms.
        let params = LiquidationParams { base_lot_size: 1, dust_notional: 0, ..params() };
        let base = 100_000_000_000_000_000i64; // notional 200,000 atoms at P = 2
        let position = sol_long(base, 200_000, 2);
        let target =
            LiquidationTarget { collateral: 9_000, positions: &[position], index: 0, escalated: false };
        let started = std::time::Instant::now();
        let plan = plan_liquidation(&target, 0, u64::MAX, &params).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(plan.health_before.is_liquidatable());
        let reached = |closed: u64| {
            let outcome =
                simulate_slice(&target, &target.others().unwrap(), closed, plan.bonus_rate, &params).unwrap();
            target_margin_scaled(&outcome.health_after, params.liquidation_buffer).unwrap() >= 0
        };
        if plan.whole_close.is_none() {
            assert!(reached(plan.outcome.closed_base));
            assert!(!reached(plan.outcome.closed_base - 1), "one lot less does not reach the target");
        } else {
            assert_eq!(plan.outcome.closed_base, base as u64);
        }
    }

    #[test]
    fn ten_x_long_just_under_maintenance_closes_a_small_slice() {
        // 1,000 USDC, 10x long: 66.666 SOL bought at $150 (9,999.9 USDC). Maintenance is crossed
        // at ≈ $142.1; at $142 equity is 466.67 < M = 473.33.
        let position = sol_long(66_666_000_000, 9_999_900_000, 142_000_000_000);
        let target = LiquidationTarget {
            collateral: 1_000 * 1_000_000,
            positions: &[position],
            index: 0,
            escalated: false,
        };
        let plan = plan_liquidation(&target, 0, u64::MAX, &params()).unwrap();
        assert!(plan.health_before.is_liquidatable());
        assert!(plan.whole_close.is_none());
        let fraction = plan.outcome.closed_base as f64 / 66_666_000_000.0;
        assert!(fraction < 0.3, "closed {fraction}");
        let after = plan.outcome.health_after;
        assert!(target_margin_scaled(&after, 200_000).unwrap() >= 0);
        // One lot less would not have been enough.
        let others = MaintenanceHealth::default();
        let less = simulate_slice(
            &target,
            &others,
            plan.outcome.closed_base - 1_000_000,
            plan.bonus_rate,
            &params(),
        )
        .unwrap();
        assert!(target_margin_scaled(&less.health_after, 200_000).unwrap() < 0);
    }

    #[test]
    fn bonus_rises_with_shortfall_and_time() {
        let p = params();
        let healthy_edge = MaintenanceHealth { equity: 99, maintenance_requirement: 100 };
        let deep = MaintenanceHealth { equity: 10, maintenance_requirement: 100 };
        let bankrupt = MaintenanceHealth { equity: -5, maintenance_requirement: 100 };
        assert_eq!(bonus_rate(&healthy_edge, 0, &p).unwrap(), 5_000 + 200); // 1 % of the range
        assert_eq!(bonus_rate(&deep, 0, &p).unwrap(), 5_000 + 18_000);
        assert_eq!(bonus_rate(&bankrupt, 0, &p).unwrap(), 25_000);
        assert_eq!(bonus_rate(&healthy_edge, 75, &p).unwrap(), 15_000); // half the ramp
        assert_eq!(bonus_rate(&healthy_edge, 10_000, &p).unwrap(), 25_000);
    }

    #[test]
    fn insolvent_account_closes_whole_position_without_penalty() {
        // Long 10 SOL bought at $150, now $50: −1,000 unrealized against 500 collateral.
        let position = sol_long(10_000_000_000, 1_500_000_000, 50_000_000_000);
        let target =
            LiquidationTarget { collateral: 500_000_000, positions: &[position], index: 0, escalated: false };
        let plan = plan_liquidation(&target, 0, 1_000_000, &params()).unwrap();
        assert_eq!(plan.whole_close, Some(WholeClose::Insolvent));
        assert_eq!(plan.outcome.closed_base, 10_000_000_000);
        assert_eq!((plan.outcome.keeper_bonus, plan.outcome.insurance_fee), (0, 0));
        assert_eq!(plan.outcome.collateral_after, 500_000_000 - 1_000_000_000);
    }

    #[test]
    fn a_position_beyond_64_bits_of_notional_is_planned_in_pieces() {
        // 9-decimal quote: a 60M SOL short entered at $150 (9.0e18 atoms), now at $320: its
        // notional (1.92e19) no longer fits u64. The plan must not overflow; it closes at most
        // MAX_SLICE_NOTIONAL per call.
        let price = 320 * P; // quote atoms per base atom × 1e12 (both 9 decimals)
        let short =
            PositionRisk { base: -60_000_000_000_000_000, ..sol_long(0, -9_000_000_000_000_000_000, price) };
        let target = LiquidationTarget {
            collateral: 1_000_000_000_000_000_000,
            positions: &[short],
            index: 0,
            escalated: false,
        };
        let plan = plan_liquidation(&target, 0, u64::MAX, &params()).unwrap();
        assert_eq!(plan.whole_close, Some(WholeClose::Insolvent));
        assert!(plan.outcome.closed_notional <= MAX_SLICE_NOTIONAL);
        assert!(plan.outcome.closed_base < 60_000_000_000_000_000);
        assert!(i64::try_from(plan.outcome.trade.realized_pnl).is_ok());
        assert!(i64::try_from(plan.outcome.collateral_after).is_ok());
    }

    #[test]
    fn a_penalty_never_takes_collateral_below_zero() {
        // Collateral −50 after earlier losses, a long worth +100 unrealized elsewhere: E = 30 on
        // the losing position's slice. The slice realizes a loss, so collateral stays negative
        // and no penalty is charged.
        let losing = sol_long(1_000_000_000, 110_000_000, 100 * P / 1000);
        let winning = PositionRisk { base: 1_000_000_000, entry_quote: 0, ..sol_long(0, 0, 100 * P / 1000) };
        let target = LiquidationTarget {
            collateral: -50_000_000,
            positions: &[losing, winning],
            index: 0,
            escalated: false,
        };
        let plan = plan_liquidation(&target, 0, u64::MAX, &params()).unwrap();
        assert!(plan.outcome.collateral_after < 0);
        assert_eq!(plan.outcome.keeper_bonus + plan.outcome.insurance_fee, 0);
    }

    #[test]
    fn penalty_is_capped_at_the_equity_left() {
        // Equity of 2 USDC on a 1,000 USDC position: the full penalty (3.5 % = 35) would create
        // bad debt; it is capped at 2, keeper first.
        let position = sol_long(10_000_000_000, 1_000_000_000, 100 * P / 1000);
        let target =
            LiquidationTarget { collateral: 2_000_000, positions: &[position], index: 0, escalated: false };
        let plan = plan_liquidation(&target, 0, u64::MAX, &params()).unwrap();
        assert_eq!(plan.outcome.keeper_bonus + plan.outcome.insurance_fee, 2_000_000);
        assert_eq!(plan.outcome.health_after.equity, 0);
    }
}

#[cfg(test)]
mod step_down_search {
    //! The second hostile review's case: the search below the zero-penalty estimate.
    use super::*;
    use crate::math::health::MarketPrice;

    fn params() -> LiquidationParams {
        LiquidationParams {
            liquidation_buffer: 200_000,
            bonus_min_rate: 5_000,
            bonus_max_rate: 25_000,
            insurance_fee_rate: 10_000,
            bonus_ramp_slots: 150,
            close_factor: 1_000_000,
            dust_notional: 0,
            base_lot_size: 1,
        }
    }

    /// A flagged account in the hysteresis band (E = 121 ≥ M = 102, target 122.4) of a market
    /// priced at 4e-12 quote atoms per base atom, one-atom lot (the regime of cd1af67's test).
    fn band_case() -> PositionRisk {
        PositionRisk {
            base: 505_220_170_001_091,
            entry_quote: 2_018,
            price: MarketPrice::exact(4),
            maintenance_rate: 50_000,
            initial_rate: 100_000,
            funding: 0,
        }
    }

    #[test]
    fn the_zero_penalty_estimate_is_no_lower_bound_with_a_tiny_price() {
        let params = params();
        let position = band_case();
        let target =
            LiquidationTarget { collateral: 119, positions: &[position], index: 0, escalated: false };
        let others = target.others().unwrap();
        let health = MaintenanceHealth { equity: 121, maintenance_requirement: 102 };
        let bonus = bonus_rate(&health, 7, &params).unwrap();
        let reached = |s: u64| {
            let outcome = simulate_slice(&target, &others, s, bonus, &params).unwrap();
            target_margin_scaled(&outcome.health_after, 200_000).unwrap() >= 0
        };
        let floor = exact_slice_estimate(&health, 4, 50_000, 0, 200_000).unwrap() as u64;
        // The zero-penalty bound reaches, and so does every lot for a billion lots below it
        // (rounding lifts the margin by up to β of an atom): why the search below it gallops.
        assert!(reached(floor));
        assert!(reached(floor - 1_000_000_000), "a billion lots below the 'lower bound' still reach");
    }

    #[test]
    fn plan_liquidation_finishes_in_the_hysteresis_band_of_a_tiny_price_market() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let position = band_case();
            let target =
                LiquidationTarget { collateral: 119, positions: &[position], index: 0, escalated: false };
            let _ = tx.send(plan_liquidation(&target, 7, u64::MAX, &params()));
        });
        // One lot at a time this ran ~1e10 simulations; galloping, a few dozen.
        let plan = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("finished").unwrap();
        let position = band_case();
        let target =
            LiquidationTarget { collateral: 119, positions: &[position], index: 0, escalated: false };
        let reached = |s: u64| {
            let outcome =
                simulate_slice(&target, &target.others().unwrap(), s, plan.bonus_rate, &params()).unwrap();
            target_margin_scaled(&outcome.health_after, 200_000).unwrap() >= 0
        };
        assert!(reached(plan.outcome.closed_base));
        assert!(!reached(plan.outcome.closed_base - 1), "one lot less misses");
    }
}
