//! On-chain accounts. All are zero-copy (`#[repr(C)]`, explicit padding, reserved bytes, a
//! compile-time size assertion) so that an instruction reads fields in place instead of
//! deserializing, and each has an `invariant()` checked after it changes.

pub mod exchange;
pub mod insurance_fund;
pub mod margin_account;
pub mod market;

pub use exchange::*;
pub use insurance_fund::*;
pub use margin_account::*;
pub use market::*;

/// PDA seeds, one constant each so that the program, the tests and the clients agree.
pub mod seeds {
    pub const EXCHANGE: &[u8] = b"exchange";
    pub const QUOTE_VAULT: &[u8] = b"quote_vault";
    pub const INSURANCE_VAULT: &[u8] = b"insurance_vault";
    pub const INSURANCE_FUND: &[u8] = b"insurance_fund";
    pub const LP_MINT: &[u8] = b"lp_mint";
    pub const MARKET: &[u8] = b"market";
    pub const MARGIN_ACCOUNT: &[u8] = b"margin_account";
}
