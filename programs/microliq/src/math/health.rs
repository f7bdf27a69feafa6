//! Account health, as in DESIGN.md §Health, for a margin account with collateral `C` and
//! positions `(q_i, e_i)` (signed base, signed entry quote; a short has `q < 0`, `e < 0`):
//!
//! ```text
//! unrealized_i = q_i · P_i − e_i
//! funding_i    = what settling the position's funding now adds to C (≤ 0 when it owes;
//!                math::funding, rounded against the account)
//! equity       E = C + Σ unrealized_i + Σ funding_i
//! maint_req    M = Σ |q_i| · P_i · mm_i
//! init_req     I = Σ |q_i| · P'_i · im_i        (P' conservative, also used for E')
//! ```
//!
//! The account is liquidatable when `E < M`; a risk-adding instruction must leave `E' − I ≥ 0`.
//!
//! Rounding is always against the account: a long is valued at the oracle price rounded down and
//! a short at the oracle price rounded up, `q·P` rounds toward −∞, and requirements round up
//! (the notional first, then the rate), so the computed health is never better than the exact one.

use super::fixed::*;

/// One market's oracle prices in fixed point ([`PRICE_PRECISION`]), each rounded against the
/// holder of the side that uses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarketPrice {
    /// Oracle (maintenance) price rounded down: what a long is worth.
    pub oracle_low: u128,
    /// Oracle price rounded up: what a short owes, and the notional behind requirements.
    pub oracle_high: u128,
    /// `min(price − conf, ema)` rounded down: a long's value when adding risk.
    pub conservative_long: u128,
    /// `max(price + conf, ema)` rounded up: a short's value when adding risk.
    pub conservative_short: u128,
}

impl MarketPrice {
    /// A price with no confidence band and no EMA gap (tests, simulations).
    pub fn exact(price: u128) -> Self {
        MarketPrice {
            oracle_low: price,
            oracle_high: price,
            conservative_long: price,
            conservative_short: price,
        }
    }

    /// Converts an oracle reading (`price ± conf`, `ema`, all `· 10^expo` dollars per whole base
    /// unit; `price > conf ≥ 0`, `ema > 0`) into fixed point, each bound rounded against the
    /// holder that uses it. Shared by the program and off-chain code.
    ///
    /// Equal to converting each bound with [`oracle_to_fixed`], but the scale is looked up once
    /// and each mantissa is multiplied or divided once (both roundings come from one division).
    pub fn from_oracle(
        price: u64,
        conf: u64,
        ema: u64,
        expo: i32,
        quote_decimals: u8,
        base_decimals: u8,
    ) -> MathResult<Self> {
        let below = price.checked_sub(conf).ok_or_else(MathError::here)?;
        let above = price.checked_add(conf).ok_or_else(MathError::here)?;
        let exponent =
            expo as i64 + quote_decimals as i64 - base_decimals as i64 + PRICE_PRECISION_EXP as i64;
        // (rounded down, rounded up) of mantissa · 10^exponent, each ≤ MAX_PRICE.
        let convert = |mantissa: u64| -> MathResult<(u128, u128)> {
            if exponent >= 0 {
                let scale = pow10(u32::try_from(exponent).map_err(|_| MathError::here())?)?;
                let value = checked_mul_u128(mantissa as u128, scale).ok_or_else(MathError::here)?;
                if value > MAX_PRICE {
                    return Err(MathError::here());
                }
                Ok((value, value))
            } else if exponent < -38 {
                // 10^39 exceeds u128 and any u64 mantissa: the value rounds to 0 or 1.
                Ok((0, u128::from(mantissa != 0)))
            } else {
                // A quotient of a u64 mantissa never exceeds MAX_PRICE.
                let (quotient, remainder) = div_rem_u128(mantissa as u128, pow10(-exponent as u32)?);
                Ok((quotient, quotient + (remainder != 0) as u128))
            }
        };
        let (oracle_low, oracle_high) = convert(price)?;
        let (below_down, _) = convert(below)?;
        let (_, above_up) = convert(above)?;
        let (ema_down, ema_up) = convert(ema)?;
        Ok(MarketPrice {
            oracle_low,
            oracle_high,
            conservative_long: below_down.min(ema_down),
            conservative_short: above_up.max(ema_up),
        })
    }

    /// The maintenance price that values a position of this sign against its holder.
    #[inline]
    pub fn mark_for(&self, base: i64) -> u128 {
        if base >= 0 {
            self.oracle_low
        } else {
            self.oracle_high
        }
    }

    /// The conservative price that values a position of this sign against its holder.
    #[inline]
    pub fn conservative_for(&self, base: i64) -> u128 {
        if base >= 0 {
            self.conservative_long
        } else {
            self.conservative_short
        }
    }
}

/// What the health code needs of one position: its size, entry, the market's price and rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionRisk {
    pub base: i64,
    pub entry_quote: i64,
    pub price: MarketPrice,
    /// Maintenance margin fraction `mm` ([`RATE_PRECISION`]).
    pub maintenance_rate: u32,
    /// Initial margin fraction `im` ([`RATE_PRECISION`]).
    pub initial_rate: u32,
    /// Unsettled funding: the collateral change its settlement now would make, quote atoms
    /// (negative when the position owes; [`super::funding::position_funding`]).
    pub funding: i128,
}

impl PositionRisk {
    /// `q · P − e` at the maintenance price, rounded toward −∞.
    pub fn unrealized_pnl(&self) -> MathResult<i128> {
        signed_value(self.base, self.price.mark_for(self.base), Rounding::Down)?
            .sub_or_err(self.entry_quote as i128)
    }

    /// `|q| · P` at the maintenance price, rounded up.
    pub fn notional(&self) -> MathResult<u128> {
        notional(self.base.unsigned_abs(), self.price.oracle_high, Rounding::Up)
    }

    /// `|q| · P · mm`, rounded up.
    pub fn maintenance_requirement(&self) -> MathResult<u128> {
        apply_rate(self.notional()?, self.maintenance_rate, Rounding::Up)
    }

    /// `q · P' − e` at the conservative price, rounded toward −∞.
    pub fn conservative_unrealized_pnl(&self) -> MathResult<i128> {
        signed_value(self.base, self.price.conservative_for(self.base), Rounding::Down)?
            .sub_or_err(self.entry_quote as i128)
    }

    /// `|q| · P' · im`, rounded up.
    pub fn initial_requirement(&self) -> MathResult<u128> {
        let conservative_notional =
            notional(self.base.unsigned_abs(), self.price.conservative_for(self.base), Rounding::Up)?;
        apply_rate(conservative_notional, self.initial_rate, Rounding::Up)
    }
}

/// Equity and maintenance requirement of an account at maintenance prices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceHealth {
    /// `E = C + Σ (q·P − e) + Σ unsettled funding`, quote atoms.
    pub equity: i128,
    /// `M = Σ |q|·P·mm`, quote atoms.
    pub maintenance_requirement: u128,
}

impl MaintenanceHealth {
    /// `E < M`.
    pub fn is_liquidatable(&self) -> bool {
        self.equity < self.maintenance_requirement as i128
    }

    /// `E − M` (negative when liquidatable).
    pub fn margin(&self) -> i128 {
        self.equity - self.maintenance_requirement as i128
    }

    /// `M − E` clamped at zero: how far below maintenance the account is.
    pub fn shortfall(&self) -> u128 {
        let margin = self.margin();
        if margin < 0 {
            margin.unsigned_abs()
        } else {
            0
        }
    }
}

/// Computes `E` and `M` for an account.
pub fn maintenance_health(collateral: i64, positions: &[PositionRisk]) -> MathResult<MaintenanceHealth> {
    let mut equity = collateral as i128;
    let mut maintenance_requirement = 0u128;
    for position in positions.iter().filter(|p| p.base != 0) {
        equity = equity.add_or_err(position.unrealized_pnl()?)?.add_or_err(position.funding)?;
        maintenance_requirement = maintenance_requirement.add_or_err(position.maintenance_requirement()?)?;
    }
    Ok(MaintenanceHealth { equity, maintenance_requirement })
}

/// `E' − I` at conservative prices: must be ≥ 0 after any risk-adding instruction.
pub fn initial_health(collateral: i64, positions: &[PositionRisk]) -> MathResult<i128> {
    let mut health = collateral as i128;
    for position in positions.iter().filter(|p| p.base != 0) {
        health = health
            .add_or_err(position.conservative_unrealized_pnl()?)?
            .add_or_err(position.funding)?
            .sub_or_err(i128::try_from(position.initial_requirement()?).map_err(|_| MathError::here())?)?;
    }
    Ok(health)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u128 = PRICE_PRECISION;

    fn long(base: i64, entry: i64, price: u128) -> PositionRisk {
        PositionRisk {
            base,
            entry_quote: entry,
            price: MarketPrice::exact(price),
            maintenance_rate: 50_000, // 5 %
            initial_rate: 100_000,    // 10 %
            funding: 0,
        }
    }

    #[test]
    fn worked_example_from_docs() {
        // docs/HEALTH.md: 1,000 USDC collateral, long 10 SOL bought at 150, SOL now 140.
        // 1 SOL = 1e9 base atoms; 1 USDC = 1e6 quote atoms; price 140 → 0.14 quote atoms/atom.
        let position = long(10_000_000_000, 1_500_000_000, 140 * P / 1000);
        let health = maintenance_health(1_000_000_000, &[position]).unwrap();
        assert_eq!(health.equity, 900_000_000); // 1000 + (1400 − 1500) USDC
        assert_eq!(health.maintenance_requirement, 70_000_000); // 1400 · 5 %
        assert!(!health.is_liquidatable());
        assert_eq!(initial_health(1_000_000_000, &[position]).unwrap(), 760_000_000);
        // 900 − 140
    }

    #[test]
    fn rounding_is_against_the_account() {
        // 3 base atoms at 1/3 quote atom each, long: value floors to 0, requirement ceils to 1.
        let position = long(3, 0, P / 3 + 1);
        assert_eq!(position.unrealized_pnl().unwrap(), 1); // 3·(P/3+1)/P = 1.000…003 → 1
        let short = PositionRisk { base: -3, ..long(0, 0, P / 3) };
        // −3·(P/3)/P = −0.999… → −1 (toward −∞)
        assert_eq!(short.unrealized_pnl().unwrap(), -1);
        assert_eq!(short.maintenance_requirement().unwrap(), 1);
    }

    #[test]
    fn empty_account_is_healthy() {
        let health = maintenance_health(0, &[]).unwrap();
        assert!(!health.is_liquidatable());
        assert_eq!(initial_health(0, &[]).unwrap(), 0);
    }
}
