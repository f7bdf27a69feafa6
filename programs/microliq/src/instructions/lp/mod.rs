//! Instructions for liquidity providers and insurance-fund depositors.

pub mod deposit_insurance;
pub mod deposit_liquidity;
pub mod pool_nav;
pub mod withdraw_liquidity;

pub use deposit_insurance::*;
pub use deposit_liquidity::*;
pub use withdraw_liquidity::*;
