//! One read of every account the fuzzer watches, once per step, and everything derived from it.
//!
//! The invariants, the action generator and the keeper all work from the same [`Snapshot`]: the
//! state after step `n` is the state before step `n + 1`, so each account is read once per step
//! (and not at all after a step that sent no transaction).

use anchor_lang::prelude::{Clock, Pubkey};
use microliq::math::{maintenance_health, MaintenanceHealth, MarketPrice, PositionRisk};
use microliq::state::{Exchange, InsuranceFund, MarginAccount, Market, MAX_POSITIONS};
use solana_program_test::BanksClient;
use solana_sdk::account::Account;

/// The watched accounts, in a fixed order.
#[derive(Clone, Debug)]
pub struct Keys {
    pub all: Vec<Pubkey>,
    pub market_count: usize,
    pub account_count: usize,
    pub wallet_count: usize,
    pub share_count: usize,
}

// Fixed positions in `Keys::all`.
const EXCHANGE: usize = 0;
const FUND: usize = 1;
const QUOTE_VAULT: usize = 2;
const INSURANCE_VAULT: usize = 3;
const LP_MINT: usize = 4;
const QUOTE_MINT: usize = 5;
const MARKETS: usize = 6;

impl Keys {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        exchange: Pubkey,
        fund: Pubkey,
        quote_vault: Pubkey,
        insurance_vault: Pubkey,
        lp_mint: Pubkey,
        quote_mint: Pubkey,
        markets: &[Pubkey],
        accounts: &[Pubkey],
        wallets: &[Pubkey],
        shares: &[Pubkey],
    ) -> Self {
        let mut all = vec![exchange, fund, quote_vault, insurance_vault, lp_mint, quote_mint];
        all.extend_from_slice(markets);
        all.extend_from_slice(accounts);
        all.extend_from_slice(wallets);
        all.extend_from_slice(shares);
        Keys {
            all,
            market_count: markets.len(),
            account_count: accounts.len(),
            wallet_count: wallets.len(),
            share_count: shares.len(),
        }
    }

    fn accounts_start(&self) -> usize {
        MARKETS + self.market_count
    }
    fn wallets_start(&self) -> usize {
        self.accounts_start() + self.account_count
    }
    fn shares_start(&self) -> usize {
        self.wallets_start() + self.wallet_count
    }
}

/// Every watched account, raw (for "a failed transaction changed nothing") and decoded.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub raw: Vec<Option<Account>>,
    pub exchange: Exchange,
    pub fund: InsuranceFund,
    pub markets: Vec<Market>,
    pub accounts: Vec<MarginAccount>,
    pub quote_vault: u64,
    pub insurance_vault: u64,
    pub lp_supply: u64,
    pub quote_supply: u64,
    /// Quote token balances of every party's wallet, by party index.
    pub wallets: Vec<u64>,
    /// Pool-share balances, by LP index.
    pub shares: Vec<u64>,
    /// The clock's unix time when the snapshot was taken (funding is projected to it).
    pub unix_timestamp: i64,
}

fn data<'a>(raw: &'a [Option<Account>], keys: &Keys, index: usize) -> anyhow::Result<&'a [u8]> {
    raw[index]
        .as_ref()
        .map(|a| a.data.as_slice())
        .ok_or_else(|| anyhow::anyhow!("account {} is missing", keys.all[index]))
}

fn zero_copy<T: bytemuck::Pod>(bytes: &[u8]) -> anyhow::Result<T> {
    let size = std::mem::size_of::<T>();
    anyhow::ensure!(bytes.len() >= 8 + size, "account too small for {}", std::any::type_name::<T>());
    Ok(bytemuck::pod_read_unaligned(&bytes[8..8 + size]))
}

/// SPL Token account: `amount` at bytes 64..72.
fn token_amount(bytes: &[u8]) -> anyhow::Result<u64> {
    anyhow::ensure!(bytes.len() >= 72, "not a token account");
    Ok(u64::from_le_bytes(bytes[64..72].try_into().unwrap()))
}

/// SPL Token mint: `supply` at bytes 36..44.
fn mint_supply(bytes: &[u8]) -> anyhow::Result<u64> {
    anyhow::ensure!(bytes.len() >= 44, "not a mint");
    Ok(u64::from_le_bytes(bytes[36..44].try_into().unwrap()))
}

impl Snapshot {
    /// Reads every key once (the requests are in flight together).
    pub async fn read(client: &BanksClient, keys: &Keys) -> anyhow::Result<Snapshot> {
        let reads = futures::future::join_all(keys.all.iter().map(|key| client.get_account(*key))).await;
        let mut raw = Vec::with_capacity(reads.len());
        for read in reads {
            raw.push(read?);
        }
        let clock = client.get_sysvar::<Clock>().await?;
        Self::decode(raw, keys, clock.unix_timestamp)
    }

    /// The snapshot after a transaction that could write only `writable`: those of the watched
    /// accounts are read again, every other one is carried over from `self` (the runtime lets a
    /// transaction change no account it does not list as writable).
    pub async fn refresh(
        &self,
        client: &BanksClient,
        keys: &Keys,
        writable: &[Pubkey],
    ) -> anyhow::Result<Snapshot> {
        let indexes: Vec<usize> = (0..keys.all.len()).filter(|&i| writable.contains(&keys.all[i])).collect();
        let reads = futures::future::join_all(indexes.iter().map(|&i| client.get_account(keys.all[i]))).await;
        let mut raw = self.raw.clone();
        for (i, read) in indexes.into_iter().zip(reads) {
            raw[i] = read?;
        }
        let clock = client.get_sysvar::<Clock>().await?;
        Self::decode(raw, keys, clock.unix_timestamp)
    }

    pub fn decode(raw: Vec<Option<Account>>, keys: &Keys, unix_timestamp: i64) -> anyhow::Result<Snapshot> {
        let exchange = zero_copy::<Exchange>(data(&raw, keys, EXCHANGE)?)?;
        let fund = zero_copy::<InsuranceFund>(data(&raw, keys, FUND)?)?;
        let markets = (0..keys.market_count)
            .map(|i| zero_copy::<Market>(data(&raw, keys, MARKETS + i)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let accounts = (0..keys.account_count)
            .map(|i| zero_copy::<MarginAccount>(data(&raw, keys, keys.accounts_start() + i)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let wallets = (0..keys.wallet_count)
            .map(|i| token_amount(data(&raw, keys, keys.wallets_start() + i)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let shares = (0..keys.share_count)
            .map(|i| token_amount(data(&raw, keys, keys.shares_start() + i)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Snapshot {
            quote_vault: token_amount(data(&raw, keys, QUOTE_VAULT)?)?,
            insurance_vault: token_amount(data(&raw, keys, INSURANCE_VAULT)?)?,
            lp_supply: mint_supply(data(&raw, keys, LP_MINT)?)?,
            quote_supply: mint_supply(data(&raw, keys, QUOTE_MINT)?)?,
            raw,
            exchange,
            fund,
            markets,
            accounts,
            wallets,
            shares,
            unix_timestamp,
        })
    }

    /// The keys whose lamports, owner or bytes differ from `other`.
    pub fn changed_keys(&self, other: &Snapshot, keys: &Keys) -> Vec<Pubkey> {
        let mut changed = Vec::new();
        for (i, (a, b)) in self.raw.iter().zip(other.raw.iter()).enumerate() {
            let same = match (a, b) {
                (Some(a), Some(b)) => a.lamports == b.lamports && a.owner == b.owner && a.data == b.data,
                (None, None) => true,
                _ => false,
            };
            if !same {
                changed.push(keys.all[i]);
            }
        }
        changed
    }

    /// The health inputs of account `i`'s positions at `prices`, with the markets' current rates.
    pub fn position_risks(
        &self,
        i: usize,
        prices: &[Option<MarketPrice>],
    ) -> Option<([PositionRisk; MAX_POSITIONS], usize)> {
        let markets = &self.markets;
        self.accounts[i]
            .position_risks(|m| {
                let market = markets.get(m as usize)?;
                let price = (*prices.get(m as usize)?)?;
                let funding_index =
                    market.funding_state_at(self.exchange.funding_time(self.unix_timestamp)).ok()?.index;
                Some((price, market.params.maintenance_rate, market.params.initial_rate, funding_index))
            })
            .ok()
    }
}

/// One margin account valued with the program's own math.
#[derive(Clone, Copy, Debug)]
pub struct AccountValue {
    pub health: MaintenanceHealth,
    /// `E − C`: Σ unrealized PnL of its positions (rounded against the account).
    pub upnl: i128,
    pub open_positions: usize,
}

/// Everything the invariants derive from a snapshot and the oracle prices.
#[derive(Clone, Debug)]
pub struct Valuation {
    pub prices: Vec<Option<MarketPrice>>,
    /// `None` when an account could not be valued (a price missing, or overflow).
    pub accounts: Vec<Option<AccountValue>>,
    pub complete: bool,
    pub sum_collateral: i128,
    pub sum_negative: i128,
    pub sum_upnl: i128,
    pub sum_equity: i128,
    /// `pool_balance − Σ_i Σ u_i`: the pool's NAV counting every loss as collectable.
    pub nav_counted: i128,
    /// Σ over accounts with `E < 0` of the deficit the insurance fund cannot cover (cap per event,
    /// fund drawn down in account order).
    pub uncollectable: i128,
    /// `V = nav_counted − uncollectable`: what the pool can actually collect.
    pub collectable: i128,
}

impl Valuation {
    pub fn new(snapshot: &Snapshot, prices: Vec<Option<MarketPrice>>) -> Self {
        let mut accounts = Vec::with_capacity(snapshot.accounts.len());
        let mut complete = true;
        let (mut sum_collateral, mut sum_negative, mut sum_upnl, mut sum_equity) =
            (0i128, 0i128, 0i128, 0i128);
        let mut fund_left = snapshot.fund.balance as i128;
        let cap = snapshot.exchange.insurance_cap_per_event as i128;
        let mut uncollectable = 0i128;
        for (i, account) in snapshot.accounts.iter().enumerate() {
            let collateral = account.collateral as i128;
            sum_collateral += collateral;
            sum_negative += (-collateral).max(0);
            let value = snapshot.position_risks(i, &prices).and_then(|(risks, count)| {
                let health = maintenance_health(account.collateral, &risks[..count]).ok()?;
                Some(AccountValue { health, upnl: health.equity - collateral, open_positions: count })
            });
            match value {
                Some(value) => {
                    sum_upnl += value.upnl;
                    sum_equity += value.health.equity;
                    if value.health.equity < 0 {
                        let deficit = -value.health.equity;
                        let draw = deficit.min(cap).min(fund_left);
                        fund_left -= draw;
                        uncollectable += deficit - draw;
                    }
                }
                None => complete = false,
            }
            accounts.push(value);
        }
        let nav_counted = snapshot.exchange.pool_balance as i128 - sum_upnl;
        Valuation {
            prices,
            accounts,
            complete,
            sum_collateral,
            sum_negative,
            sum_upnl,
            sum_equity,
            nav_counted,
            uncollectable,
            collectable: nav_counted - uncollectable,
        }
    }
}
