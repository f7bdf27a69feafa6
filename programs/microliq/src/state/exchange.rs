use anchor_lang::prelude::*;

use crate::error::MicroliqError;

/// Action classes that can be paused, exchange-wide ([`Exchange::paused`]) or per market
/// ([`crate::state::Market::paused`]). A bit set means paused.
pub mod pause {
    /// Depositing collateral into a margin account.
    pub const DEPOSIT: u16 = 1 << 0;
    /// Withdrawing collateral.
    pub const WITHDRAW: u16 = 1 << 1;
    /// Opening or increasing a position (anything that adds risk).
    pub const INCREASE: u16 = 1 << 2;
    /// Reducing or closing a position.
    pub const REDUCE: u16 = 1 << 3;
    /// Depositing liquidity into the pool.
    pub const LP_DEPOSIT: u16 = 1 << 4;
    /// Withdrawing liquidity from the pool.
    pub const LP_WITHDRAW: u16 = 1 << 5;
    /// Liquidating margin accounts.
    pub const LIQUIDATE: u16 = 1 << 6;
    /// Depositing into or withdrawing from the insurance fund.
    pub const INSURANCE: u16 = 1 << 7;
    /// Every class.
    pub const ALL: u16 = (1 << 8) - 1;
}

/// Most markets one exchange may list; bounds the remaining accounts of LP instructions.
pub const MAX_MARKETS: u16 = 32;

/// Hard bounds on exchange-wide parameters (`initialize_exchange`, `update_exchange`).
pub mod exchange_bounds {
    /// The insolvent-close reward: at most 100 whole quote units (`100 · 10^quote_decimals`).
    pub const INSOLVENT_CLOSE_REWARD_MAX_UNITS: u64 = 100;
    /// Episode lapse: 1 slot … ~1 day of slots.
    pub const LIQUIDATION_EPISODE_SLOTS: (u64, u64) = (1, 216_000);
    /// Default episode lapse: 150 slots (~1 minute), enough for a keeper's next slice.
    pub const DEFAULT_LIQUIDATION_EPISODE_SLOTS: u64 = 150;
    /// Repeat-breach window: 0 (off) … ~30 days of slots.
    pub const REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX: u64 = 6_480_000;
    /// Default repeat-breach window: 216,000 slots (~1 day at 400 ms; docs/LIQUIDATION.md and
    /// docs/SIMULATOR.md say why).
    pub const DEFAULT_REPEAT_LIQUIDATION_WINDOW_SLOTS: u64 = 216_000;
    /// Largest quote mint decimals: every ledger is an `i64` of quote atoms, which holds
    /// 9.2 · 10^18 atoms — 9.2 billion units at 9 decimals, only 9.2 million at 12.
    pub const QUOTE_DECIMALS_MAX: u8 = 9;
}

/// The root of a Microliq deployment: one quote mint, its vaults, the pool ledger.
///
/// Quote tokens live in two program-owned token accounts: the **quote vault** holds traders'
/// collateral and the liquidity pool under two ledgers (`total_collateral`, `pool_balance`), and
/// the **insurance vault** holds the insurance fund (ledger in [`crate::state::InsuranceFund`]).
/// Realized PnL and fees therefore move between ledgers, not tokens (see docs/DECISIONS.md).
#[account(zero_copy)]
#[derive(Debug)]
pub struct Exchange {
    pub admin: Pubkey,
    pub quote_mint: Pubkey,
    pub quote_vault: Pubkey,
    pub insurance_vault: Pubkey,
    pub insurance_fund: Pubkey,
    pub lp_mint: Pubkey,
    /// The program that must own every legacy Pyth price account the markets use.
    pub pyth_program: Pubkey,
    /// Σ collateral of all margin accounts (may include negative, not yet resolved, balances).
    pub total_collateral: i64,
    /// The pool's ledger: LP deposits + trader losses − trader profits + fees − socialized loss.
    pub pool_balance: i64,
    /// Quote atoms of taker fees ever credited to the pool.
    pub total_fees: u64,
    /// Margin accounts ever created.
    pub margin_account_count: u64,
    /// Upper bound on what the insurance fund pays for one bankruptcy (quote atoms).
    pub insurance_cap_per_event: u64,
    /// Σ max(−collateral, 0) over all margin accounts: the most bankruptcies could still ask of
    /// the insurance fund. Admin withdrawals from the fund must leave at least this much.
    pub negative_collateral: u64,
    /// Losses the insurance fund could not cover, charged to the pool, ever.
    pub total_socialized_loss: u64,
    /// Liquidation slices ever executed.
    pub total_liquidations: u64,
    pub market_count: u16,
    pub paused: u16,
    pub quote_decimals: u8,
    pub bump: u8,
    pub quote_vault_bump: u8,
    pub insurance_vault_bump: u8,
    pub insurance_fund_bump: u8,
    pub lp_mint_bump: u8,
    pub _padding: [u8; 6],
    /// Paid to the keeper from the insurance fund for closing a position of an account whose
    /// equity is already ≤ 0 (quote atoms; also capped at the closed notional × maintenance rate
    /// and at the fund's balance), so that an insolvent remainder is always worth a call.
    pub insolvent_close_reward: u64,
    /// A liquidation episode lapses when its latest slice is older than this many slots.
    pub liquidation_episode_slots: u64,
    /// The close-pause clock (funding): seconds the exchange's closes (`pause::REDUCE`) were
    /// paused, up to `funding_paused_since`. Formerly reserved bytes.
    pub funding_paused_secs: i64,
    /// Unix time the current exchange-wide pause of closes began (0 when they are not paused).
    pub funding_paused_since: i64,
    /// Repeat breaches: an account that falls below maintenance again within this many slots
    /// of its last recovery from a liquidation has its losing positions closed whole, not sliced
    /// (0: off; see `MarginAccount::liquidation_escalated`). Formerly reserved bytes: 0 (off) on
    /// exchanges created before it existed, until the admin sets it.
    pub repeat_liquidation_window_slots: u64,
    pub reserved: [u8; 64],
}

const _: () =
    assert!(core::mem::size_of::<Exchange>() == 7 * 32 + 8 * 8 + 2 * 2 + 6 + 6 + 2 * 8 + 2 * 8 + 8 + 64);
const _: () = assert!(core::mem::size_of::<Exchange>() % 8 == 0);

impl Exchange {
    pub const SPACE: usize = 8 + core::mem::size_of::<Exchange>();

    /// The moment `now` for funding: the unix time and the close-pause clock, which counts the
    /// ongoing pause up to `now`.
    pub fn funding_time(&self, now: i64) -> crate::math::FundingTime {
        let ongoing = if self.funding_paused_since != 0 {
            now.saturating_sub(self.funding_paused_since).max(0)
        } else {
            0
        };
        crate::math::FundingTime { now, paused_secs: self.funding_paused_secs.saturating_add(ongoing) }
    }

    /// Sets the pause flags at `now`, keeping the close-pause clock: it starts when closes become
    /// paused and adds the pause's length when they are allowed again.
    pub fn set_paused(&mut self, paused: u16, now: i64) {
        use crate::state::pause::REDUCE;
        let (was, is) = (self.paused & REDUCE != 0, paused & REDUCE != 0);
        if !was && is {
            self.funding_paused_since = now;
        } else if was && !is {
            // 0: paused before the clock existed, so nothing was counted (nor is).
            if self.funding_paused_since != 0 {
                let length = now.saturating_sub(self.funding_paused_since).max(0);
                self.funding_paused_secs = self.funding_paused_secs.saturating_add(length);
            }
            self.funding_paused_since = 0;
        }
        self.paused = paused;
    }

    pub fn is_paused(&self, action: u16) -> bool {
        self.paused & action != 0
    }

    /// Fails with [`MicroliqError::Paused`] when `action` is paused exchange-wide.
    pub fn require_not_paused(&self, action: u16) -> Result<()> {
        require!(!self.is_paused(action), MicroliqError::Paused);
        Ok(())
    }

    /// Quote atoms the quote vault must hold: Σ collateral + pool ledger.
    pub fn quote_vault_ledger(&self) -> Option<i128> {
        (self.total_collateral as i128).checked_add(self.pool_balance as i128)
    }

    /// Adds `delta` to an account's collateral and keeps `total_collateral` and
    /// `negative_collateral` in step. Every collateral change goes through here.
    pub fn change_collateral(&mut self, collateral: &mut i64, delta: i64) -> Result<()> {
        use crate::math::Checked;
        let before = *collateral;
        let after = before.add_or_err(delta)?;
        self.total_collateral = self.total_collateral.add_or_err(delta)?;
        let negative = |c: i64| if c < 0 { c.unsigned_abs() } else { 0 };
        self.negative_collateral =
            self.negative_collateral.sub_or_err(negative(before))?.add_or_err(negative(after))?;
        *collateral = after;
        Ok(())
    }

    /// The pool ledger after paying `payout` quote atoms out of it (a trader's realized profit,
    /// an LP withdrawal): refused with [`MicroliqError::PoolInsufficient`] unless the pool keeps
    /// at least `negative_collateral`. The quote vault holds `Σ collateral + pool`, so the
    /// accounts with positive collateral can all be paid exactly when `pool ≥ Σ max(−C, 0)`;
    /// keeping that bound on every payout also keeps `pool_balance ≥ 0` through every later
    /// bankruptcy (docs/POOL.md).
    pub fn require_pool_covers_deficits(&self) -> Result<()> {
        require!(
            self.pool_balance >= 0 && self.pool_balance as u64 >= self.negative_collateral,
            MicroliqError::PoolInsufficient
        );
        Ok(())
    }

    /// Whether the realized deficits (`negative_collateral`) are within what the insurance fund
    /// covers, `min(fund_balance, insurance_cap_per_event)`. LP shares are neither minted nor
    /// burnt otherwise (docs/POOL.md).
    pub fn deficits_covered(&self, fund_balance: u64) -> bool {
        self.negative_collateral <= fund_balance.min(self.insurance_cap_per_event)
    }

    pub fn invariant(&self) -> Result<()> {
        require!(
            self.market_count <= MAX_MARKETS && self.paused & !pause::ALL == 0 && self.pool_balance >= 0,
            MicroliqError::InvariantViolated
        );
        Ok(())
    }
}
