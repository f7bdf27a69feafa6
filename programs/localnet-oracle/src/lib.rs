//! **Localnet only.** A stand-in for Pyth's price pipeline on a local validator, where Wormhole
//! and the real Pyth programs are not available: it publishes fully verified `PriceUpdateV2`
//! accounts, byte for byte in the receiver's format, at the push oracle's feed addresses. Microliq
//! then reads them exactly as it reads mainnet's sponsored feeds (pinned `PriceUpdateV2` markets:
//! owner, address, discriminator, verification, feed id, staleness), and a feeder can move them.
//!
//! The same `.so` is loaded at two addresses of a local validator's genesis:
//! - at Pyth's **push oracle** program id, [`CREATE`] makes the feed account of `(shard, feed id)`
//!   (the push oracle's PDA `[shard u16 LE, feed id]`) and assigns it to the receiver;
//! - at Pyth's **receiver** program id, which owns the feed accounts, [`WRITE`] stores a price:
//!   `Full` verification, the feed id, `publish_time` = the cluster's clock, `posted_slot` = the
//!   current slot. The first write names the account's write authority; later ones must be
//!   signed by it.
//!
//! It verifies no signature of any price: never deploy it anywhere but a local validator.

// memcpy/memset through syscalls and the integer intrinsics of the upstream-LLVM SBF build (as
// the Microliq crate does; docs/PERFORMANCE.md).
#[cfg(target_os = "solana")]
use solana_compiler_builtins as _;
use solana_program::account_info::{next_account_info, AccountInfo};
use solana_program::clock::Clock;
use solana_program::entrypoint::ProgramResult;
use solana_program::instruction::{AccountMeta, Instruction};
use solana_program::program::invoke_signed;
use solana_program::program_error::ProgramError;
use solana_program::pubkey::Pubkey;
use solana_program::rent::Rent;
use solana_program::sysvar::Sysvar;
// The 2.3 SDK names these through solana-program still (the interfaces are separate crates later).
#[allow(deprecated)]
use solana_program::{pubkey, system_instruction, system_program};

/// Pyth's receiver program (owner of every `PriceUpdateV2` account).
pub const RECEIVER_PROGRAM: Pubkey = pubkey!("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ");
/// Pyth's push oracle program (its PDAs are the sponsored feeds' accounts).
pub const PUSH_ORACLE_PROGRAM: Pubkey = pubkey!("pythWSnswVUd12oZpeFP8e9CVaEqJg25g1Vtc2biRsT");

/// Instruction tag: create the feed account (push oracle address).
pub const CREATE: u8 = 0;
/// Instruction tag: write a price (receiver address).
pub const WRITE: u8 = 1;

/// `sha256("account:PriceUpdateV2")[..8]`, Anchor's discriminator of the receiver's account.
pub const PRICE_UPDATE_V2_DISCRIMINATOR: [u8; 8] = [34, 241, 35, 99, 157, 126, 244, 205];
/// The receiver's account size (`PriceUpdateV2::LEN`).
pub const PRICE_UPDATE_V2_LEN: usize = 134;

/// Errors, as custom program errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OracleError {
    /// Instruction data is not one of the two instructions.
    BadInstruction = 1,
    /// `CREATE` sent to the receiver's copy or `WRITE` to the push oracle's.
    WrongProgram = 2,
    /// The feed account is not the push oracle's PDA of the shard and feed id.
    WrongFeedAddress = 3,
    /// The account to write is not a receiver-owned account of the receiver's size.
    NotAPriceAccount = 4,
    /// The signer is not the account's write authority, or did not sign.
    NotWriteAuthority = 5,
    /// The account already holds another feed's prices.
    WrongFeed = 6,
    /// `price ≤ 0` or `ema_price ≤ 0`.
    BadPrice = 7,
}

impl From<OracleError> for ProgramError {
    fn from(error: OracleError) -> Self {
        ProgramError::Custom(error as u32)
    }
}

/// A price to publish (`price · 10^exponent` dollars).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub feed_id: [u8; 32],
    pub price: i64,
    pub conf: u64,
    pub exponent: i32,
    pub ema_price: i64,
    pub ema_conf: u64,
}

impl Price {
    const LEN: usize = 32 + 8 + 8 + 4 + 8 + 8;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.feed_id);
        out.extend_from_slice(&self.price.to_le_bytes());
        out.extend_from_slice(&self.conf.to_le_bytes());
        out.extend_from_slice(&self.exponent.to_le_bytes());
        out.extend_from_slice(&self.ema_price.to_le_bytes());
        out.extend_from_slice(&self.ema_conf.to_le_bytes());
    }

    fn read(data: &[u8]) -> Option<Price> {
        if data.len() != Self::LEN {
            return None;
        }
        let word = |at: usize| <[u8; 8]>::try_from(&data[at..at + 8]).ok();
        Some(Price {
            feed_id: data[..32].try_into().ok()?,
            price: i64::from_le_bytes(word(32)?),
            conf: u64::from_le_bytes(word(40)?),
            exponent: i32::from_le_bytes(data[48..52].try_into().ok()?),
            ema_price: i64::from_le_bytes(word(52)?),
            ema_conf: u64::from_le_bytes(word(60)?),
        })
    }
}

/// The push oracle's feed account of `feed_id` on `shard` (as Microliq's `push_feed_address`).
pub fn feed_address(shard: u16, feed_id: &[u8; 32]) -> (Pubkey, u8) {
    Pubkey::find_program_address(&[&shard.to_le_bytes(), feed_id], &PUSH_ORACLE_PROGRAM)
}

/// `CREATE`: makes the feed account of `(shard, feed_id)`, paid by `payer`, owned by the receiver.
pub fn create_instruction(payer: &Pubkey, shard: u16, feed_id: &[u8; 32]) -> Instruction {
    let mut data = vec![CREATE];
    data.extend_from_slice(&shard.to_le_bytes());
    data.extend_from_slice(feed_id);
    Instruction {
        program_id: PUSH_ORACLE_PROGRAM,
        accounts: vec![
            AccountMeta::new(*payer, true),
            AccountMeta::new(feed_address(shard, feed_id).0, false),
            AccountMeta::new_readonly(system_program::ID, false),
        ],
        data,
    }
}

/// `WRITE`: stores `price` in `account`, signed by its write authority.
pub fn write_instruction(account: &Pubkey, authority: &Pubkey, price: &Price) -> Instruction {
    let mut data = vec![WRITE];
    price.write(&mut data);
    Instruction {
        program_id: RECEIVER_PROGRAM,
        accounts: vec![AccountMeta::new(*account, false), AccountMeta::new_readonly(*authority, true)],
        data,
    }
}

/// The account's bytes after a write: the receiver's `PriceUpdateV2` layout (discriminator,
/// write authority, `Full`, the price message, posted slot), `prev_publish_time` the previous
/// write's `publish_time`.
pub fn price_update_bytes(previous: &[u8], authority: &Pubkey, price: &Price, clock: &Clock) -> Vec<u8> {
    let previous_time = match previous.get(93..101) {
        Some(bytes) if previous.starts_with(&PRICE_UPDATE_V2_DISCRIMINATOR) => {
            i64::from_le_bytes(bytes.try_into().unwrap_or_default())
        }
        _ => clock.unix_timestamp,
    };
    let mut out = Vec::with_capacity(PRICE_UPDATE_V2_LEN);
    out.extend_from_slice(&PRICE_UPDATE_V2_DISCRIMINATOR);
    out.extend_from_slice(authority.as_ref());
    out.push(1); // VerificationLevel::Full
    out.extend_from_slice(&price.feed_id);
    out.extend_from_slice(&price.price.to_le_bytes());
    out.extend_from_slice(&price.conf.to_le_bytes());
    out.extend_from_slice(&price.exponent.to_le_bytes());
    out.extend_from_slice(&clock.unix_timestamp.to_le_bytes());
    out.extend_from_slice(&previous_time.to_le_bytes());
    out.extend_from_slice(&price.ema_price.to_le_bytes());
    out.extend_from_slice(&price.ema_conf.to_le_bytes());
    out.extend_from_slice(&clock.slot.to_le_bytes());
    out.resize(PRICE_UPDATE_V2_LEN, 0);
    out
}

#[cfg(not(feature = "no-entrypoint"))]
solana_program::entrypoint!(process_instruction);

pub fn process_instruction(program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    match data.split_first() {
        Some((&CREATE, rest)) if rest.len() == 34 => {
            if *program_id != PUSH_ORACLE_PROGRAM {
                return Err(OracleError::WrongProgram.into());
            }
            let shard = u16::from_le_bytes([rest[0], rest[1]]);
            let feed_id: [u8; 32] = rest[2..].try_into().map_err(|_| OracleError::BadInstruction)?;
            create(accounts, shard, &feed_id)
        }
        Some((&WRITE, rest)) => {
            if *program_id != RECEIVER_PROGRAM {
                return Err(OracleError::WrongProgram.into());
            }
            let price = Price::read(rest).ok_or(OracleError::BadInstruction)?;
            write(program_id, accounts, &price)
        }
        _ => Err(OracleError::BadInstruction.into()),
    }
}

fn create(accounts: &[AccountInfo], shard: u16, feed_id: &[u8; 32]) -> ProgramResult {
    let iter = &mut accounts.iter();
    let payer = next_account_info(iter)?;
    let feed = next_account_info(iter)?;
    let _system = next_account_info(iter)?;
    let (address, bump) = feed_address(shard, feed_id);
    if *feed.key != address {
        return Err(OracleError::WrongFeedAddress.into());
    }
    let lamports = Rent::get()?.minimum_balance(PRICE_UPDATE_V2_LEN);
    let create = system_instruction::create_account(
        payer.key,
        feed.key,
        lamports,
        PRICE_UPDATE_V2_LEN as u64,
        &RECEIVER_PROGRAM,
    );
    invoke_signed(&create, &[payer.clone(), feed.clone()], &[&[&shard.to_le_bytes(), feed_id, &[bump]]])
}

fn write(program_id: &Pubkey, accounts: &[AccountInfo], price: &Price) -> ProgramResult {
    let iter = &mut accounts.iter();
    let account = next_account_info(iter)?;
    let authority = next_account_info(iter)?;
    if account.owner != program_id || account.data_len() != PRICE_UPDATE_V2_LEN {
        return Err(OracleError::NotAPriceAccount.into());
    }
    if price.price <= 0 || price.ema_price <= 0 {
        return Err(OracleError::BadPrice.into());
    }
    let mut data = account.try_borrow_mut_data()?;
    if data.starts_with(&PRICE_UPDATE_V2_DISCRIMINATOR) {
        if !authority.is_signer || data[8..40] != authority.key.as_ref()[..] {
            return Err(OracleError::NotWriteAuthority.into());
        }
        if data[41..73] != price.feed_id[..] {
            return Err(OracleError::WrongFeed.into());
        }
    } else if !authority.is_signer {
        return Err(OracleError::NotWriteAuthority.into());
    }
    let bytes = price_update_bytes(&data, authority.key, price, &Clock::get()?);
    data.copy_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::{AccountDeserialize, Discriminator};
    use pyth_solana_receiver_sdk::price_update::{PriceUpdateV2, VerificationLevel};

    #[test]
    fn constants_are_pyths() {
        assert_eq!(PRICE_UPDATE_V2_DISCRIMINATOR, PriceUpdateV2::DISCRIMINATOR);
        assert_eq!(PRICE_UPDATE_V2_LEN, PriceUpdateV2::LEN);
        assert_eq!(RECEIVER_PROGRAM.to_bytes(), microliq::oracle::PYTH_RECEIVER_PROGRAM.to_bytes());
        let feed = [9u8; 32];
        assert_eq!(
            feed_address(3, &feed).0.to_bytes(),
            microliq::oracle::push_feed_address(3, &feed).to_bytes()
        );
    }

    #[test]
    fn writes_the_receivers_layout() {
        let price = Price {
            feed_id: [5; 32],
            price: 14_200_000_000,
            conf: 7_000_000,
            exponent: -8,
            ema_price: 14_300_000_000,
            ema_conf: 6_000_000,
        };
        let clock = Clock { slot: 1_234, unix_timestamp: 1_700_000_000, ..Clock::default() };
        let authority = Pubkey::new_from_array([4; 32]);
        let first = price_update_bytes(&[0; PRICE_UPDATE_V2_LEN], &authority, &price, &clock);
        let later = Clock { slot: 1_240, unix_timestamp: 1_700_000_003, ..clock };
        let bytes = price_update_bytes(&first, &authority, &price, &later);
        let update = PriceUpdateV2::try_deserialize(&mut bytes.as_slice()).expect("decodes");
        assert_eq!(update.write_authority.to_bytes(), authority.to_bytes());
        assert_eq!(update.verification_level, VerificationLevel::Full);
        let message = update.price_message;
        assert_eq!(message.feed_id, price.feed_id);
        assert_eq!(
            (message.price, message.conf, message.exponent),
            (price.price, price.conf, price.exponent)
        );
        assert_eq!((message.ema_price, message.ema_conf), (price.ema_price, price.ema_conf));
        assert_eq!((message.publish_time, message.prev_publish_time), (1_700_000_003, 1_700_000_000));
        assert_eq!(update.posted_slot, 1_240);
    }

    #[test]
    fn instruction_data_round_trips() {
        let price = Price { feed_id: [1; 32], price: 5, conf: 6, exponent: -7, ema_price: 8, ema_conf: 9 };
        let ix = write_instruction(&Pubkey::new_unique(), &Pubkey::new_unique(), &price);
        assert_eq!(ix.data[0], WRITE);
        assert_eq!(Price::read(&ix.data[1..]), Some(price));
        assert_eq!(Price::read(&ix.data[2..]), None);
    }
}
