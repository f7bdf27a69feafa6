//! Microliq's keeper: finds liquidatable margin accounts with the program's own health and
//! liquidation code, and liquidates them slice by slice. Also the embedded demo (the README's main
//! job), the cascade simulator (micro- vs full liquidation on the same price paths) and the scan
//! benchmark.

pub mod bench;
pub mod chain;
pub mod demo;
pub mod keeper;
pub mod live;
pub mod node;
pub mod pull;
pub mod scan;
pub mod simulate;
pub mod world;
