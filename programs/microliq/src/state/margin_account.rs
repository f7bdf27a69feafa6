use anchor_lang::prelude::*;

use crate::error::MicroliqError;

/// Position slots per margin account.
pub const MAX_POSITIONS: usize = 8;

/// One position slot. A slot is free when `base == 0` (then `entry_quote == 0` too).
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed base atoms: long > 0, short < 0.
    pub base: i64,
    /// Signed quote atoms paid (long, > 0) or received (short, < 0) for the open base.
    pub entry_quote: i64,
    pub market_index: u16,
    pub _padding: [u8; 6],
}

impl Position {
    pub fn is_open(&self) -> bool {
        self.base != 0
    }
}

/// A trader's cross-margin account: one collateral balance backing up to [`MAX_POSITIONS`]
/// positions. PDA of `["margin_account", exchange, owner, id]`.
#[account(zero_copy)]
#[derive(Debug)]
pub struct MarginAccount {
    pub exchange: Pubkey,
    pub owner: Pubkey,
    /// May trade for the owner, never withdraw. `Pubkey::default()` when unset.
    pub delegate: Pubkey,
    /// Quote atoms. Negative only after a loss beyond equity, until bankruptcy resolves it.
    pub collateral: i64,
    pub positions: [Position; MAX_POSITIONS],
    /// Slot at which the current liquidation episode started (0 when not flagged).
    pub liquidation_start_slot: u64,
    pub trade_count: u64,
    pub liquidation_count: u64,
    pub id: u32,
    /// 1 while a liquidation episode runs (flag with hysteresis, see [`Self::episode_live`]).
    pub being_liquidated: u8,
    pub bump: u8,
    /// 1 when the current episode started as a repeat breach and closes whole positions
    /// ([`Self::liquidation_escalated`]). Formerly padding.
    pub episode_escalated: u8,
    pub _padding: [u8; 1],
    /// Slot of the episode's latest slice (0 when not flagged). An episode whose latest slice is
    /// older than `exchange.liquidation_episode_slots` has lapsed.
    pub liquidation_last_slot: u64,
    /// The market's funding index at each position's last settlement (parallel to `positions`;
    /// formerly reserved bytes).
    pub funding_indexes: [i64; MAX_POSITIONS],
    /// Slot at which the account's latest liquidation episode ended at its end target (a slice
    /// reached it, or `liquidate` found the account back there); 0: none since this field
    /// exists. A lapsed episode does not set it. Formerly reserved bytes.
    pub last_recovery_slot: u64,
    /// Unix time of that recovery (the clock's, or the newest price read if later): only prices
    /// published after it can make a breach a repeat.
    pub last_recovery_time: i64,
    pub reserved: [u8; 40],
}

const _: () = assert!(core::mem::size_of::<Position>() == 24);
const _: () = assert!(
    core::mem::size_of::<MarginAccount>()
        == 3 * 32 + 8 + 24 * MAX_POSITIONS + 3 * 8 + 8 + 8 + 8 * MAX_POSITIONS + 8 + 8 + 40
);

impl MarginAccount {
    pub const SPACE: usize = 8 + core::mem::size_of::<MarginAccount>();

    pub fn is_owner_or_delegate(&self, signer: &Pubkey) -> bool {
        *signer == self.owner || (self.delegate != Pubkey::default() && *signer == self.delegate)
    }

    /// The slot holding a position in `market_index`, if any.
    pub fn position_index(&self, market_index: u16) -> Option<usize> {
        self.positions.iter().position(|p| p.is_open() && p.market_index == market_index)
    }

    /// The slot for a position in `market_index`: the open one, or else a free one.
    pub fn position_slot_for(&self, market_index: u16) -> Result<usize> {
        self.position_index(market_index)
            .or_else(|| self.positions.iter().position(|p| !p.is_open()))
            .ok_or_else(|| MicroliqError::NoFreePositionSlot.into())
    }

    /// Market indexes of the open positions other than `except`, ascending: the order in which
    /// their (market, oracle) pairs must be passed as remaining accounts.
    pub fn other_market_indexes(&self, except: Option<u16>) -> ([u16; MAX_POSITIONS], usize) {
        let mut indexes = [0u16; MAX_POSITIONS];
        let mut count = 0;
        for position in self.positions.iter().filter(|p| p.is_open()) {
            if Some(position.market_index) != except {
                indexes[count] = position.market_index;
                count += 1;
            }
        }
        indexes[..count].sort_unstable();
        (indexes, count)
    }

    /// Ends a liquidation episode (the account is back at its target, passed initial health, or
    /// the episode lapsed).
    pub fn clear_liquidation_flag(&mut self) {
        self.being_liquidated = 0;
        self.episode_escalated = 0;
        self.liquidation_start_slot = 0;
        self.liquidation_last_slot = 0;
    }

    /// Records a slice at `slot` that left the account below its end target: starts an episode
    /// unless one is running, and moves the episode's latest slice to `slot`.
    pub fn flag_liquidation(&mut self, slot: u64) {
        if self.being_liquidated == 0 {
            self.being_liquidated = 1;
            self.liquidation_start_slot = slot;
        }
        self.liquidation_last_slot = slot;
    }

    /// Whether a liquidation episode is running at `slot`: flagged, and its latest slice at most
    /// `episode_slots` ago. Only a live episode lets a keeper liquidate above maintenance
    /// (hysteresis) and carries the bonus ramp; a lapsed one is over, whatever prices did since.
    pub fn episode_live(&self, slot: u64, episode_slots: u64) -> bool {
        self.being_liquidated == 1 && slot.saturating_sub(self.liquidation_last_slot) <= episode_slots
    }

    /// Whether a liquidation at `slot` is a *repeat breach* (its losing positions are closed
    /// whole, docs/LIQUIDATION.md). A live episode keeps what it started with. A new one is a
    /// repeat when the account's previous episode ended at its end target (a recovery) at most
    /// `repeat_window` slots ago (0 turns repeats off), and every price the breach is judged on
    /// (`oldest_price_time`, the oldest publish time among them) was published after that
    /// recovery: the position liquidation left it did not survive the market, so this episode
    /// does not leave another. An episode left to lapse below its target records no recovery,
    /// and neither does one that left the account without positions.
    pub fn liquidation_escalated(
        &self,
        slot: u64,
        episode_slots: u64,
        repeat_window: u64,
        oldest_price_time: i64,
    ) -> bool {
        if self.episode_live(slot, episode_slots) {
            self.episode_escalated == 1
        } else {
            repeat_window != 0
                && self.last_recovery_slot != 0
                && slot.saturating_sub(self.last_recovery_slot) <= repeat_window
                && oldest_price_time > self.last_recovery_time
        }
    }

    /// Records a slice at `slot` of an episode that is `escalated` (see
    /// [`Self::liquidation_escalated`]); `reached_target` ends the episode, with a recovery at
    /// `recovery_time` if the account still holds a position.
    pub fn record_slice(&mut self, slot: u64, recovery_time: i64, escalated: bool, reached_target: bool) {
        self.liquidation_count = self.liquidation_count.saturating_add(1);
        self.episode_escalated = escalated as u8;
        if reached_target {
            self.clear_liquidation_flag();
            self.record_recovery(slot, recovery_time);
        } else {
            self.flag_liquidation(slot);
        }
    }

    /// The account is seen at its end target after a liquidation episode: a recovery at `slot`
    /// stamped `recovery_time` (the clock's, or the newest price read if later:
    /// `HealthMarkets::recovery_time`), or none when it holds no position (a new position
    /// starts afresh).
    pub fn record_recovery(&mut self, slot: u64, recovery_time: i64) {
        if self.open_position_count() > 0 {
            self.last_recovery_slot = slot;
            self.last_recovery_time = recovery_time;
        } else {
            self.forget_recovery();
        }
    }

    /// Forgets the latest recovery (the account holds no position).
    pub fn forget_recovery(&mut self) {
        self.last_recovery_slot = 0;
        self.last_recovery_time = 0;
    }

    /// Slots since the live episode started (0 when none is live): what the bonus ramp reads.
    pub fn slots_in_episode(&self, slot: u64, episode_slots: u64) -> u64 {
        if self.episode_live(slot, episode_slots) {
            slot.saturating_sub(self.liquidation_start_slot)
        } else {
            0
        }
    }

    /// The health inputs of every open position, in slot order, from a per-market lookup of
    /// `(price, maintenance_rate, initial_rate, funding_index)` (the index as it stands now,
    /// [`Market::funding_state_at`](crate::state::Market::funding_state_at)): unsettled funding
    /// included. Used by the program and by off-chain code.
    pub fn position_risks(
        &self,
        market: impl FnMut(u16) -> Option<(crate::math::MarketPrice, u32, u32, i64)>,
    ) -> Result<([crate::math::PositionRisk; MAX_POSITIONS], usize)> {
        let mut risks = [crate::math::PositionRisk::default(); MAX_POSITIONS];
        let count = self.fill_position_risks(&mut risks, market)?;
        Ok((risks, count))
    }

    /// [`Self::position_risks`] written into `risks` (returns the count). On chain the array
    /// (768 bytes) is filled in place: SBF copies a returned array word by word.
    pub fn fill_position_risks(
        &self,
        risks: &mut [crate::math::PositionRisk; MAX_POSITIONS],
        mut market: impl FnMut(u16) -> Option<(crate::math::MarketPrice, u32, u32, i64)>,
    ) -> Result<usize> {
        let mut count = 0;
        for (slot, position) in self.positions.iter().enumerate().filter(|(_, p)| p.is_open()) {
            let (price, maintenance_rate, initial_rate, funding_index) =
                market(position.market_index).ok_or(MicroliqError::HealthAccountsMissing)?;
            let funding = crate::math::position_funding(
                position.base,
                funding_index,
                self.funding_indexes[slot],
                &price,
            )?;
            risks[count] = crate::math::PositionRisk {
                base: position.base,
                entry_quote: position.entry_quote,
                price,
                maintenance_rate,
                initial_rate,
                funding,
            };
            count += 1;
        }
        Ok(count)
    }

    /// β of this account's liquidation: the largest liquidation buffer among the markets it
    /// holds (`buffer_of` maps a market index to its buffer). One end target for the whole
    /// account, so that no market's buffer can end an episode another market's would continue.
    pub fn liquidation_buffer(&self, mut buffer_of: impl FnMut(u16) -> Option<u32>) -> u32 {
        self.positions
            .iter()
            .filter(|p| p.is_open())
            .filter_map(|p| buffer_of(p.market_index))
            .max()
            .unwrap_or(0)
    }

    /// Index, among [`Self::position_risks`], of the position in `market_index`.
    pub fn risk_index(&self, market_index: u16) -> Option<usize> {
        self.positions.iter().filter(|p| p.is_open()).position(|p| p.market_index == market_index)
    }

    pub fn open_position_count(&self) -> usize {
        self.positions.iter().filter(|p| p.is_open()).count()
    }

    pub fn invariant(&self) -> Result<()> {
        let mut seen = 0u64; // market indexes < 64 are tracked exactly; MAX_MARKETS is 32
        for position in self.positions.iter() {
            if position.is_open() {
                let bit = 1u64 << (position.market_index as u64 % 64);
                require!(seen & bit == 0, MicroliqError::InvariantViolated);
                seen |= bit;
            } else {
                require!(position.entry_quote == 0, MicroliqError::InvariantViolated);
            }
        }
        require!(self.being_liquidated <= 1, MicroliqError::InvariantViolated);
        Ok(())
    }
}
