//! Permissionless instructions a keeper calls (liquidation lands here).
