//! Naming the error a failed transaction ended with.
//!
//! * `6000 + n`: the program's own [`microliq::error::MicroliqError`]. The names are read from the
//!   enum's source (`programs/microliq/src/error.rs`, compiled into this crate), in declaration
//!   order, so that an error the program appends is named without touching the fuzzer; a unit
//!   test pins the order against the enum's discriminants.
//! * `100..6000`: Anchor's own codes, reported by number (`anchor:2001`), with the name Anchor
//!   logged (`Error Code: ConstraintHasOne`) when the log has it.
//! * `< 100`: the SPL Token program's errors (a failed CPI), by name where known.
//! * anything else: the runtime's `InstructionError` / `TransactionError` by its debug name.

use std::sync::OnceLock;

use anchor_lang::solana_program::instruction::InstructionError;
use solana_sdk::transaction::TransactionError;

const ERROR_SOURCE: &str = include_str!("../../../programs/microliq/src/error.rs");

/// The variant names of `MicroliqError`, index = code − 6000.
pub fn microliq_error_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = Vec::new();
        let mut inside = false;
        for line in ERROR_SOURCE.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("pub enum MicroliqError") {
                inside = true;
                continue;
            }
            if !inside {
                continue;
            }
            if trimmed == "}" {
                break;
            }
            // A variant line is `Name,` (attributes and message strings are on their own lines).
            if let Some(name) = trimmed.strip_suffix(',') {
                let name = name.split_whitespace().next().unwrap_or("");
                if name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    names.push(name.to_string());
                }
            }
        }
        names
    })
}

/// SPL Token program error names (`spl_token::error::TokenError`, by discriminant).
const TOKEN_ERRORS: &[&str] = &[
    "NotRentExempt",
    "InsufficientFunds",
    "InvalidMint",
    "MintMismatch",
    "OwnerMismatch",
    "FixedSupply",
    "AlreadyInUse",
    "InvalidNumberOfProvidedSigners",
    "InvalidNumberOfRequiredSigners",
    "UninitializedState",
    "NativeNotSupported",
    "NonNativeHasBalance",
    "InvalidInstruction",
    "InvalidState",
    "Overflow",
    "AuthorityTypeNotSupported",
    "MintCannotFreeze",
    "AccountFrozen",
    "MintDecimalsMismatch",
    "NonNativeNotSupported",
];

/// The name under which a custom error code is counted.
pub fn custom_error_name(code: u32, logs: &[String]) -> String {
    if code >= anchor_lang::error::ERROR_CODE_OFFSET {
        let index = (code - anchor_lang::error::ERROR_CODE_OFFSET) as usize;
        return match microliq_error_names().get(index) {
            Some(name) => name.clone(),
            None => format!("microliq:{code}"),
        };
    }
    if code >= 100 {
        return match logged_error_code(logs) {
            Some(name) => format!("anchor:{code}:{name}"),
            None => format!("anchor:{code}"),
        };
    }
    match TOKEN_ERRORS.get(code as usize) {
        Some(name) => format!("token:{name}"),
        None => format!("custom:{code}"),
    }
}

/// The name of any transaction error.
pub fn error_name(error: &TransactionError, logs: &[String]) -> String {
    match error {
        TransactionError::InstructionError(_, InstructionError::Custom(code)) => {
            custom_error_name(*code, logs)
        }
        TransactionError::InstructionError(_, other) => format!("{other:?}"),
        other => format!("tx:{other:?}"),
    }
}

/// `Error Code: Name.` from Anchor's error log line, if any.
fn logged_error_code(logs: &[String]) -> Option<String> {
    logs.iter().rev().find_map(|line| {
        let rest = line.split("Error Code: ").nth(1)?;
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        (!name.is_empty()).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use microliq::error::MicroliqError;

    #[test]
    fn names_follow_the_enum() {
        let names = microliq_error_names();
        for (error, name) in [
            (MicroliqError::MathOverflow, "MathOverflow"),
            (MicroliqError::NotOwner, "NotOwner"),
            (MicroliqError::HealthAccountsMissing, "HealthAccountsMissing"),
            (MicroliqError::InvariantViolated, "InvariantViolated"),
            (MicroliqError::NotLiquidatable, "NotLiquidatable"),
            (MicroliqError::InsuranceReservedForBadDebt, "InsuranceReservedForBadDebt"),
        ] {
            assert_eq!(names[error as usize], name);
        }
        let code = 6000 + MicroliqError::NotLiquidatable as u32;
        assert_eq!(custom_error_name(code, &[]), "NotLiquidatable");
        let logs = vec!["Program log: AnchorError caused by account: x. Error Code: ConstraintHasOne. Error Number: 2001. Error Message: m.".to_string()];
        assert_eq!(custom_error_name(2001, &logs), "anchor:2001:ConstraintHasOne");
        assert_eq!(custom_error_name(1, &[]), "token:InsufficientFunds");
    }
}
