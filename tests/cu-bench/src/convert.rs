//! The program crate speaks Solana 2.x types (anchor-lang 0.31.1); litesvm 0.16 speaks the 3.x/4.x
//! ones. Both are plain bytes underneath, so conversion is by bytes.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction as Instruction2;
use solana_address::Address;
use solana_instruction::{AccountMeta, Instruction};

pub fn addr(key: &Pubkey) -> Address {
    Address::new_from_array(key.to_bytes())
}

pub fn pubkey(address: &Address) -> Pubkey {
    Pubkey::new_from_array(address.to_bytes())
}

pub fn instruction(ix: Instruction2) -> Instruction {
    Instruction {
        program_id: addr(&ix.program_id),
        accounts: ix
            .accounts
            .iter()
            .map(|m| AccountMeta {
                pubkey: addr(&m.pubkey),
                is_signer: m.is_signer,
                is_writable: m.is_writable,
            })
            .collect(),
        data: ix.data,
    }
}
