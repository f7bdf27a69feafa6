//! Instructions signed by traders (the margin account's owner, or its delegate where allowed).

pub mod create_margin_account;
pub mod deposit_collateral;
pub mod place_order;
pub mod set_delegate;
pub mod withdraw_collateral;

pub use create_margin_account::*;
pub use deposit_collateral::*;
pub use place_order::*;
pub use set_delegate::*;
pub use withdraw_collateral::*;
