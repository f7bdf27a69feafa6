//! Permissionless instructions a keeper calls.

pub mod bankruptcy;
pub mod liquidate;
pub mod resolve_bankruptcy;
pub mod update_funding;

pub use liquidate::*;
pub use resolve_bankruptcy::*;
pub use update_funding::*;
