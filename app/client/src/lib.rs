//! Rust client for Microliq, shared by the integration tests, the keeper and the demo:
//!
//! - [`ix`]: PDAs ([`ix::ExchangeAddresses`]) and one small builder per instruction.
//! - [`pyth`]: legacy Pyth price accounts crafted byte for byte.
//! - [`LocalExchange`]: an exchange on the in-process runtime — the program runs natively inside
//!   `solana-program-test` with the real SPL Token program it ships. It builds markets
//!   ([`LocalExchange::builder`]), sends transactions, and after **every** successful one checks
//!   that each vault equals its ledger. Fixtures return named things: [`Trader`],
//!   [`LiquidityProvider`], [`Keeper`]. [`Snapshot`] proves that a failed transaction changed
//!   nothing.

// `system_instruction` moved to its own crate in Solana 2.x; the re-export is fine for tests.
#![allow(deprecated)]

pub mod ix;
pub mod local;
pub mod log_capture;
pub mod pyth;
pub mod quiet;

pub use local::*;
pub use pyth::*;

use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;

/// Every event of type `T` in a transaction's log lines, decoded as a keeper does: `Program data:
/// <base64>` lines holding Anchor's 8-byte discriminator and the Borsh body. Natively the line
/// carries a `Program log: ` prefix (see [`log_capture`]); both forms are accepted.
pub fn decode_events<T: anchor_lang::Event + anchor_lang::AnchorDeserialize>(logs: &[String]) -> Vec<T> {
    use base64::Engine;
    logs.iter()
        .filter_map(|line| line.strip_prefix("Program log: ").unwrap_or(line).strip_prefix("Program data: "))
        .filter_map(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
        .filter(|bytes| bytes.starts_with(T::DISCRIMINATOR))
        .filter_map(|bytes| T::deserialize(&mut &bytes[T::DISCRIMINATOR.len()..]).ok())
        .collect()
}

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
