//! Puts program events into the transaction log when the program runs natively.
//!
//! On chain, Anchor's `emit!` calls the `sol_log_data` syscall and the runtime writes a
//! `Program data: <base64>` line into the transaction's log, which is where keepers read events.
//! Natively, solana-program-test 2.3's syscall stubs implement `sol_log` (into the transaction's
//! log) but not `sol_log_data` (the default prints to stdout). This wrapper delegates every
//! syscall to program-test's stubs and sends `sol_log_data` through their `sol_log`, so the line
//! lands in the same transaction's log as `Program log: Program data: <base64>`. It is
//! installed once per process, after program-test installed its own.

use std::sync::Once;

use anchor_lang::solana_program::account_info::AccountInfo;
use anchor_lang::solana_program::entrypoint::ProgramResult;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::solana_program::pubkey::Pubkey;
use base64::Engine;
use solana_sysvar::program_stubs::{set_syscall_stubs, SyscallStubs};

struct LogDataToLog {
    inner: Box<dyn SyscallStubs>,
}

/// Wraps the current syscall stubs (call after the first `ProgramTest` started).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let placeholder: Box<dyn SyscallStubs> = Box::new(Placeholder);
        let inner = set_syscall_stubs(placeholder);
        set_syscall_stubs(Box::new(LogDataToLog { inner }));
    });
}

struct Placeholder;
impl SyscallStubs for Placeholder {}

impl SyscallStubs for LogDataToLog {
    fn sol_log_data(&self, fields: &[&[u8]]) {
        let encoded: Vec<String> =
            fields.iter().map(|f| base64::engine::general_purpose::STANDARD.encode(f)).collect();
        self.inner.sol_log(&format!("Program data: {}", encoded.join(" ")));
    }

    fn sol_log(&self, message: &str) {
        self.inner.sol_log(message)
    }
    fn sol_log_compute_units(&self) {
        self.inner.sol_log_compute_units()
    }
    fn sol_remaining_compute_units(&self) -> u64 {
        self.inner.sol_remaining_compute_units()
    }
    fn sol_invoke_signed(
        &self,
        instruction: &Instruction,
        account_infos: &[AccountInfo],
        signers_seeds: &[&[&[u8]]],
    ) -> ProgramResult {
        self.inner.sol_invoke_signed(instruction, account_infos, signers_seeds)
    }
    fn sol_get_sysvar(&self, sysvar_id_addr: *const u8, var_addr: *mut u8, offset: u64, length: u64) -> u64 {
        self.inner.sol_get_sysvar(sysvar_id_addr, var_addr, offset, length)
    }
    fn sol_get_clock_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner.sol_get_clock_sysvar(var_addr)
    }
    fn sol_get_epoch_schedule_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner.sol_get_epoch_schedule_sysvar(var_addr)
    }
    fn sol_get_fees_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner.sol_get_fees_sysvar(var_addr)
    }
    fn sol_get_rent_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner.sol_get_rent_sysvar(var_addr)
    }
    fn sol_get_epoch_rewards_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner.sol_get_epoch_rewards_sysvar(var_addr)
    }
    fn sol_get_last_restart_slot(&self, var_addr: *mut u8) -> u64 {
        self.inner.sol_get_last_restart_slot(var_addr)
    }
    fn sol_get_epoch_stake(&self, vote_address: *const u8) -> u64 {
        self.inner.sol_get_epoch_stake(vote_address)
    }
    unsafe fn sol_memcpy(&self, dst: *mut u8, src: *const u8, n: usize) {
        unsafe { self.inner.sol_memcpy(dst, src, n) }
    }
    unsafe fn sol_memmove(&self, dst: *mut u8, src: *const u8, n: usize) {
        unsafe { self.inner.sol_memmove(dst, src, n) }
    }
    unsafe fn sol_memcmp(&self, s1: *const u8, s2: *const u8, n: usize, result: *mut i32) {
        unsafe { self.inner.sol_memcmp(s1, s2, n, result) }
    }
    unsafe fn sol_memset(&self, s: *mut u8, c: u8, n: usize) {
        unsafe { self.inner.sol_memset(s, c, n) }
    }
    fn sol_get_return_data(&self) -> Option<(Pubkey, Vec<u8>)> {
        self.inner.sol_get_return_data()
    }
    fn sol_set_return_data(&self, data: &[u8]) {
        self.inner.sol_set_return_data(data)
    }
    fn sol_get_processed_sibling_instruction(&self, index: usize) -> Option<Instruction> {
        self.inner.sol_get_processed_sibling_instruction(index)
    }
    fn sol_get_stack_height(&self) -> u64 {
        self.inner.sol_get_stack_height()
    }
}
