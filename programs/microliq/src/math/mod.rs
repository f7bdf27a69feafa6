//! Pure protocol math: fixed point, health, liquidation.
//!
//! Nothing in this module depends on Solana or Anchor types, so the keeper (and any off-chain
//! tool) links exactly the code the program runs, and the math is unit- and property-tested
//! natively. Every operation that can overflow is checked and returns a [`MathError`] that records
//! the source location of the failing call.

pub mod fixed;
pub mod funding;
pub mod health;
pub mod liquidation;
pub mod trade;

#[cfg(test)]
mod proptests;

pub use fixed::*;
pub use funding::*;
pub use health::*;
pub use liquidation::*;
pub use trade::*;
