//! Permissionless instructions a keeper calls.

pub mod bankruptcy;
pub mod liquidate;
pub mod resolve_bankruptcy;

pub use liquidate::*;
pub use resolve_bankruptcy::*;
