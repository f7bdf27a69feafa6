//! One file per instruction, grouped by who calls it.

pub mod admin;
pub mod keeper;
pub mod lp;
pub mod user;

pub use admin::*;
pub use keeper::*;
pub use lp::*;
pub use user::*;
