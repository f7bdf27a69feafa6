use anchor_lang::prelude::*;

use crate::error::MicroliqError;

/// The ledger of the insurance vault. It never goes negative: every draw is bounded by `balance`.
#[account(zero_copy)]
#[derive(Debug)]
pub struct InsuranceFund {
    pub exchange: Pubkey,
    /// Quote atoms the insurance vault must hold.
    pub balance: u64,
    /// Deposits by anyone plus liquidation insurance fees, ever.
    pub total_contributions: u64,
    /// Quote atoms ever paid out to cover bankruptcies.
    pub total_draws: u64,
    /// Quote atoms ever withdrawn by the admin.
    pub total_withdrawn: u64,
    pub bump: u8,
    pub _padding: [u8; 7],
    /// Quote atoms ever paid to keepers for closing insolvent positions.
    pub total_keeper_rewards: u64,
    pub reserved: [u8; 56],
}

const _: () = assert!(core::mem::size_of::<InsuranceFund>() == 32 + 4 * 8 + 8 + 8 + 56);

impl InsuranceFund {
    pub const SPACE: usize = 8 + core::mem::size_of::<InsuranceFund>();

    pub fn invariant(&self) -> Result<()> {
        // contributions − draws − withdrawals − rewards == balance: the fund is never overdrawn.
        let expected = self
            .total_contributions
            .checked_sub(self.total_draws)
            .and_then(|v| v.checked_sub(self.total_withdrawn))
            .and_then(|v| v.checked_sub(self.total_keeper_rewards));
        require!(expected == Some(self.balance), MicroliqError::InvariantViolated);
        Ok(())
    }
}
