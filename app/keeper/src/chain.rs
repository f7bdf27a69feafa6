//! Chain access behind one trait, with two implementations: the in-process runtime
//! ([`microliq_client::LocalExchange`]: solana-program-test's bank with the program loaded
//! natively) and a real RPC endpoint ([`RpcChain`]).

use anchor_lang::prelude::Pubkey;
use anchor_lang::Discriminator;
use anyhow::{anyhow, Context as _, Result};
use async_trait::async_trait;
use microliq::state::MarginAccount;
use microliq_client::{LocalExchange, TxError};
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::{RpcAccountInfoConfig, RpcProgramAccountsConfig};
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};
use solana_sdk::commitment_config::CommitmentConfig;
use solana_sdk::compute_budget::ComputeBudgetInstruction;
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::Transaction;

/// Why a sent transaction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The program refused it with this custom error code (not worth retrying as is).
    Program(u32),
    /// Anything else (network, blockhash, timeout): worth retrying.
    Transient(String),
}

/// What a keeper needs from a chain.
#[async_trait(?Send)]
pub trait Chain {
    /// Raw data of each account (None where it does not exist).
    async fn accounts(&mut self, keys: &[Pubkey]) -> Result<Vec<Option<Vec<u8>>>>;
    /// Owner and raw data of each account (oracles are judged by their owner too).
    async fn owned_accounts(&mut self, keys: &[Pubkey]) -> Result<Vec<Option<(Pubkey, Vec<u8>)>>>;
    /// Every margin account of the program: `(address, raw data)`.
    async fn margin_accounts(&mut self) -> Result<Vec<(Pubkey, Vec<u8>)>>;
    /// `(slot, unix_timestamp)`.
    async fn clock(&mut self) -> Result<(u64, i64)>;
    /// Sends one transaction with a compute-unit limit and a priority fee (micro-lamports per
    /// CU), signed by `signer` (also the fee payer); returns the log lines.
    async fn send(
        &mut self,
        instructions: &[Instruction],
        signer: &Keypair,
        compute_unit_limit: u32,
        priority_fee: u64,
    ) -> std::result::Result<Vec<String>, SendError>;
    /// Sends `instructions` as one transaction as they are (with their own compute-budget
    /// instructions, if any), signed by `signers`, the first of which pays; returns the log lines.
    async fn send_signed(
        &mut self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> std::result::Result<Vec<String>, SendError>;
    /// The in-process exchange behind this chain, if it is one (tests write accounts directly).
    fn as_local(&mut self) -> Option<&mut LocalExchange> {
        None
    }
}

/// The compute-budget instructions that go first in every keeper transaction.
pub fn budget_instructions(compute_unit_limit: u32, priority_fee: u64) -> [Instruction; 2] {
    [
        ComputeBudgetInstruction::set_compute_unit_limit(compute_unit_limit),
        ComputeBudgetInstruction::set_compute_unit_price(priority_fee),
    ]
}

/// `instructions` behind the compute-budget instructions.
pub fn with_budget(
    instructions: &[Instruction],
    compute_unit_limit: u32,
    priority_fee: u64,
) -> Vec<Instruction> {
    let mut all = budget_instructions(compute_unit_limit, priority_fee).to_vec();
    all.extend_from_slice(instructions);
    all
}

/// The `getProgramAccounts` request that finds every margin account: the account's size and its
/// Anchor discriminator at offset 0, base64 encoded.
pub fn margin_account_query() -> RpcProgramAccountsConfig {
    RpcProgramAccountsConfig {
        filters: Some(vec![
            RpcFilterType::DataSize(MarginAccount::SPACE as u64),
            RpcFilterType::Memcmp(Memcmp::new_raw_bytes(0, MarginAccount::DISCRIMINATOR.to_vec())),
        ]),
        account_config: RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            commitment: Some(CommitmentConfig::confirmed()),
            ..RpcAccountInfoConfig::default()
        },
        with_context: None,
        sort_results: None,
    }
}

/// A real cluster through JSON-RPC.
pub struct RpcChain {
    pub client: RpcClient,
    pub program_id: Pubkey,
}

impl RpcChain {
    pub fn new(url: String, program_id: Pubkey) -> Self {
        RpcChain { client: RpcClient::new_with_commitment(url, CommitmentConfig::confirmed()), program_id }
    }
}

#[async_trait(?Send)]
impl Chain for RpcChain {
    async fn accounts(&mut self, keys: &[Pubkey]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        // getMultipleAccounts takes at most 100 keys.
        for chunk in keys.chunks(100) {
            let accounts = self.client.get_multiple_accounts(chunk).await.context("getMultipleAccounts")?;
            out.extend(accounts.into_iter().map(|a| a.map(|a| a.data)));
        }
        Ok(out)
    }

    async fn owned_accounts(&mut self, keys: &[Pubkey]) -> Result<Vec<Option<(Pubkey, Vec<u8>)>>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let accounts = self.client.get_multiple_accounts(chunk).await.context("getMultipleAccounts")?;
            out.extend(accounts.into_iter().map(|a| a.map(|a| (a.owner, a.data))));
        }
        Ok(out)
    }

    async fn margin_accounts(&mut self) -> Result<Vec<(Pubkey, Vec<u8>)>> {
        let accounts = self
            .client
            .get_program_accounts_with_config(&self.program_id, margin_account_query())
            .await
            .context("getProgramAccounts")?;
        Ok(accounts.into_iter().map(|(key, account)| (key, account.data)).collect())
    }

    async fn clock(&mut self) -> Result<(u64, i64)> {
        let slot = self.client.get_slot().await.context("getSlot")?;
        let time = self.client.get_block_time(slot).await.unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
        Ok((slot, time))
    }

    async fn send(
        &mut self,
        instructions: &[Instruction],
        signer: &Keypair,
        compute_unit_limit: u32,
        priority_fee: u64,
    ) -> std::result::Result<Vec<String>, SendError> {
        self.send_signed(&with_budget(instructions, compute_unit_limit, priority_fee), &[signer]).await
    }

    async fn send_signed(
        &mut self,
        all: &[Instruction],
        signers: &[&Keypair],
    ) -> std::result::Result<Vec<String>, SendError> {
        let payer = signers.first().ok_or_else(|| SendError::Transient("no signer".into()))?;
        let blockhash =
            self.client.get_latest_blockhash().await.map_err(|e| SendError::Transient(e.to_string()))?;
        let tx = Transaction::new_signed_with_payer(all, Some(&payer.pubkey()), signers, blockhash);
        let signature = self.client.send_and_confirm_transaction(&tx).await.map_err(|e| {
            match e.get_transaction_error() {
                Some(solana_sdk::transaction::TransactionError::InstructionError(
                    _,
                    solana_sdk::instruction::InstructionError::Custom(code),
                )) => SendError::Program(code),
                _ => SendError::Transient(e.to_string()),
            }
        })?;
        let config = solana_rpc_client_api::config::RpcTransactionConfig {
            encoding: Some(solana_transaction_status_client_types::UiTransactionEncoding::Base64),
            commitment: Some(CommitmentConfig::confirmed()),
            max_supported_transaction_version: Some(0),
        };
        let logs = self
            .client
            .get_transaction_with_config(&signature, config)
            .await
            .ok()
            .and_then(|tx| tx.transaction.meta)
            .and_then(|meta| Option::<Vec<String>>::from(meta.log_messages))
            .unwrap_or_default();
        Ok(logs)
    }
}

#[async_trait(?Send)]
impl Chain for LocalExchange {
    async fn accounts(&mut self, keys: &[Pubkey]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.account(key).await.map(|a| a.data));
        }
        Ok(out)
    }

    async fn owned_accounts(&mut self, keys: &[Pubkey]) -> Result<Vec<Option<(Pubkey, Vec<u8>)>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.account(key).await.map(|a| (a.owner, a.data)));
        }
        Ok(out)
    }

    /// The in-process bank has no getProgramAccounts: the local exchange knows every margin
    /// account it created, which is every margin account there is.
    async fn margin_accounts(&mut self) -> Result<Vec<(Pubkey, Vec<u8>)>> {
        let mut out = Vec::new();
        for key in self.margin_accounts.clone() {
            let account = self.account(&key).await.ok_or_else(|| anyhow!("margin account {key} missing"))?;
            out.push((key, account.data));
        }
        Ok(out)
    }

    async fn clock(&mut self) -> Result<(u64, i64)> {
        let clock = LocalExchange::clock(self).await;
        Ok((clock.slot, clock.unix_timestamp))
    }

    async fn send(
        &mut self,
        instructions: &[Instruction],
        signer: &Keypair,
        compute_unit_limit: u32,
        priority_fee: u64,
    ) -> std::result::Result<Vec<String>, SendError> {
        self.send_signed(&with_budget(instructions, compute_unit_limit, priority_fee), &[signer]).await
    }

    async fn send_signed(
        &mut self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> std::result::Result<Vec<String>, SendError> {
        match self.send_raw(instructions, signers).await {
            Ok(()) => Ok(self.last_logs.clone()),
            Err(TxError::Custom(code)) => Err(SendError::Program(code)),
            Err(TxError::Other(other)) => Err(SendError::Transient(other)),
        }
    }

    fn as_local(&mut self) -> Option<&mut LocalExchange> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_account_query_filters_by_size_and_discriminator() {
        let query = margin_account_query();
        let filters = query.filters.clone().unwrap();
        assert_eq!(filters[0], RpcFilterType::DataSize(MarginAccount::SPACE as u64));
        match &filters[1] {
            RpcFilterType::Memcmp(memcmp) => {
                assert_eq!(memcmp.offset(), 0);
                assert_eq!(memcmp.bytes().unwrap().as_ref(), MarginAccount::DISCRIMINATOR);
            }
            other => panic!("expected memcmp, got {other:?}"),
        }
        assert_eq!(query.account_config.encoding, Some(UiAccountEncoding::Base64));
        // The JSON the RPC node receives.
        let json = serde_json::to_value(&query).unwrap();
        assert_eq!(json["filters"][0]["dataSize"], MarginAccount::SPACE as u64);
        assert_eq!(json["filters"][1]["memcmp"]["offset"], 0);
        assert_eq!(json["encoding"], "base64");
    }

    #[test]
    fn budget_instructions_set_limit_and_price() {
        let [limit, price] = budget_instructions(150_000, 2_500);
        assert_eq!(limit, ComputeBudgetInstruction::set_compute_unit_limit(150_000));
        assert_eq!(price, ComputeBudgetInstruction::set_compute_unit_price(2_500));
        assert_eq!(limit.program_id, solana_sdk::compute_budget::id());
    }
}
