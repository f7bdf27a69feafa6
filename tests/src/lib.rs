//! Microliq's test harness: the program runs natively inside `solana-program-test` with the real
//! SPL Token program it ships, Pyth price accounts are crafted byte for byte, and every
//! instruction goes through a BanksClient transaction.
//!
//! - [`TestContext`] builds an exchange with markets ([`TestContext::builder`]), sends
//!   transactions, and after **every** successful one checks that each vault equals its ledger.
//! - [`ix`] has one small builder per instruction.
//! - Fixtures return named things: [`Trader`], [`LiquidityProvider`].
//! - [`Snapshot`] proves that a failed transaction changed nothing.

// `system_instruction` moved to its own crate in Solana 2.x; the re-export is fine for tests.
#![allow(deprecated)]

pub mod context;
pub mod ix;
pub mod log_capture;
pub mod pyth;

pub use context::*;
pub use pyth::*;

use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;

/// One USDC in quote atoms (the tests' quote mint has 6 decimals).
pub const USDC: u64 = 1_000_000;
/// One base unit of a 9-decimal asset, in base atoms.
pub const SOL: i64 = 1_000_000_000;
/// The tests' Pyth program id (the mainnet legacy oracle program).
pub const PYTH_PROGRAM: Pubkey =
    anchor_lang::solana_program::pubkey!("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH");

/// The Anchor entry, adapted to `processor!`: Anchor ties the accounts slice and the accounts'
/// lifetimes together (`&'info [AccountInfo<'info>]`), `processor!` gives them independent
/// lifetimes. The runtime keeps both alive for the whole call, so unifying them is sound.
pub fn process_instruction(program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    let accounts: &[AccountInfo] = unsafe { core::mem::transmute(accounts) };
    microliq::entry(program_id, accounts, data)
}
