//! Instructions signed by the exchange admin (a governance key).

pub mod add_market;
pub mod initialize_exchange;
pub mod set_market_funding;
pub mod set_market_oracle;
pub mod set_pause;
pub mod set_repeat_liquidation_window;
pub mod transfer_admin;
pub mod update_exchange;
pub mod update_market;
pub mod withdraw_insurance;

pub use add_market::*;
pub use initialize_exchange::*;
pub use set_market_funding::*;
pub use set_market_oracle::*;
pub use set_pause::*;
pub use set_repeat_liquidation_window::*;
pub use transfer_admin::*;
pub use update_exchange::*;
pub use update_market::*;
pub use withdraw_insurance::*;
