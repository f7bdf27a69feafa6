//! SPL Token CPIs: into a vault signed by the user, out of a vault (or minting / burning pool
//! shares) signed by the exchange PDA `["exchange", quote_mint, bump]`.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, MintTo, Transfer};

use crate::error::MicroliqError;
use crate::state::seeds;

/// The exchange PDA as a CPI signer.
pub struct ExchangeSigner<'a, 'info> {
    pub exchange: &'a AccountInfo<'info>,
    pub quote_mint: Pubkey,
    pub bump: u8,
}

impl<'info> ExchangeSigner<'_, 'info> {
    fn with_seeds<R>(&self, f: impl FnOnce(&[&[&[u8]]]) -> R) -> R {
        let bump = [self.bump];
        let seeds: &[&[u8]] = &[seeds::EXCHANGE, self.quote_mint.as_ref(), &bump];
        f(&[seeds])
    }

    /// Moves `amount` out of a vault the exchange owns.
    pub fn transfer(
        &self,
        token_program: &AccountInfo<'info>,
        from: &AccountInfo<'info>,
        to: &AccountInfo<'info>,
        amount: u64,
    ) -> Result<()> {
        let accounts = Transfer { from: from.clone(), to: to.clone(), authority: self.exchange.clone() };
        self.with_seeds(|signer| {
            token::transfer(CpiContext::new_with_signer(token_program.clone(), accounts, signer), amount)
        })
    }

    /// Mints pool shares.
    pub fn mint_to(
        &self,
        token_program: &AccountInfo<'info>,
        mint: &AccountInfo<'info>,
        to: &AccountInfo<'info>,
        amount: u64,
    ) -> Result<()> {
        let accounts = MintTo { mint: mint.clone(), to: to.clone(), authority: self.exchange.clone() };
        self.with_seeds(|signer| {
            token::mint_to(CpiContext::new_with_signer(token_program.clone(), accounts, signer), amount)
        })
    }
}

/// Moves `amount` from a user's token account, signed by its owner.
pub fn transfer_from_user<'info>(
    token_program: &AccountInfo<'info>,
    from: &AccountInfo<'info>,
    to: &AccountInfo<'info>,
    authority: &AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    let accounts = Transfer { from: from.clone(), to: to.clone(), authority: authority.clone() };
    token::transfer(CpiContext::new(token_program.clone(), accounts), amount)
}

/// Burns pool shares from a user's token account, signed by its owner.
pub fn burn_from_user<'info>(
    token_program: &AccountInfo<'info>,
    mint: &AccountInfo<'info>,
    from: &AccountInfo<'info>,
    authority: &AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    let accounts = Burn { mint: mint.clone(), from: from.clone(), authority: authority.clone() };
    token::burn(CpiContext::new(token_program.clone(), accounts), amount)
}

/// Checks, in place, that `info` is an SPL Token account (owned by the token program, 165 bytes,
/// initialized) of `mint` owned by `owner`: the checks an `Account<TokenAccount>` with mint and
/// owner constraints makes, with the same errors, without unpacking the account (mint and owner
/// are its first two 32-byte fields; the state byte is at 108).
pub fn require_token_account(info: &AccountInfo, mint: &Pubkey, owner: &Pubkey) -> Result<()> {
    require_keys_eq!(*info.owner, token::ID, ErrorCode::AccountOwnedByWrongProgram);
    let data = info.try_borrow_data()?;
    require!(data.len() == 165 && data[108] != 0, ErrorCode::AccountDidNotDeserialize);
    require!(data[..32] == mint.as_ref()[..], MicroliqError::WrongMint);
    require!(data[32..64] == owner.as_ref()[..], MicroliqError::WrongTokenOwner);
    Ok(())
}
