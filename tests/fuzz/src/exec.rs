//! Turning an action into its instruction (with the bad accounts it asks for), sending it, and
//! saying beforehand whether the program must refuse it.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
use microliq::state::{pause, MarginAccount};
use microliq_client::ix;
use solana_sdk::signature::Signer;

use crate::actions::{order_adds_risk, Action, Health, Target};
use crate::oracle::OracleMove;
use crate::snapshot::Snapshot;
use crate::world::{Sent, World};

/// The outcome of executing one action.
pub struct Executed {
    /// `None` for steps that send no transaction.
    pub sent: Option<Sent>,
    /// Why the program must refuse this action, when it must.
    pub must_fail: Option<String>,
}

/// Remaining accounts built as `health` asks, and whether they differ from the correct list.
struct Remaining {
    pairs: Vec<(Pubkey, Pubkey)>,
    odd: bool,
    deviates: bool,
}

fn remaining(world: &World, account: &MarginAccount, except: Option<u16>, health: Health) -> Remaining {
    let (indexes, count) = account.other_market_indexes(except);
    let mut list: Vec<u16> = indexes[..count].to_vec();
    let market_count = world.ctx.markets.len() as u16;
    let unneeded: Vec<u16> = (0..market_count).filter(|m| !list.contains(m) && Some(*m) != except).collect();
    let mut odd = false;
    let mut wrong_oracle = false;
    let original = list.clone();
    match health {
        Health::Correct => {}
        Health::Missing => {
            if !list.is_empty() {
                list.remove(0);
            }
        }
        Health::Extra => {
            if let Some(&m) = unneeded.first() {
                list.push(m);
                list.sort_unstable();
            } else if let Some(own) = except {
                list.push(own);
                list.sort_unstable();
            } else if let Some(&first) = list.first() {
                list.push(first);
            }
        }
        Health::Duplicated => {
            if let Some(&first) = list.first() {
                list.insert(0, first);
            } else if let Some(own) = except {
                list.push(own);
            }
        }
        Health::OwnMarket => {
            if let Some(own) = except {
                list.push(own);
                list.sort_unstable();
            } else if let Some(&first) = list.first() {
                list.push(first);
            }
        }
        Health::OutOfOrder => {
            if list.len() >= 2 {
                list.reverse();
            } else if let Some(&extra) = unneeded.first().or(except.as_ref()) {
                list.insert(0, extra);
                list.sort_unstable_by(|a, b| b.cmp(a));
            }
        }
        Health::WrongOracle => wrong_oracle = !list.is_empty() && market_count > 1,
        Health::Odd => odd = true,
    }
    let deviates = odd || wrong_oracle || list != original;
    let mut pairs: Vec<(Pubkey, Pubkey)> =
        list.iter().map(|&m| world.ctx.markets[m as usize].pair()).collect();
    if wrong_oracle {
        let m = list[0];
        let other = (m + 1) % market_count;
        pairs[0].1 = world.ctx.markets[other as usize].oracle;
    }
    Remaining { pairs, odd, deviates }
}

/// Appends one stray key (an odd remaining-account count).
fn with_odd(mut instruction: Instruction, odd: bool, world: &World) -> Instruction {
    if odd {
        instruction.accounts.push(AccountMeta::new_readonly(world.ctx.markets[0].market, false));
    }
    instruction
}

/// Market `m`'s price is older than its trading window (orders, withdrawals and LP actions that
/// read it must fail).
fn stale_for_trading(world: &World, pre: &Snapshot, m: usize) -> bool {
    let age = world.clock.unix_timestamp - world.oracles[m].publish_time;
    age > pre.markets[m].trading_staleness_secs() as i64
}

/// Some market `account` holds a position in is stale for trading.
fn holds_stale_market(world: &World, pre: &Snapshot, account: &microliq::state::MarginAccount) -> bool {
    account
        .positions
        .iter()
        .filter(|p| p.is_open())
        .any(|p| stale_for_trading(world, pre, p.market_index as usize))
}

/// Some market of the exchange is stale for trading (LP actions price them all).
fn any_stale_market(world: &World, pre: &Snapshot) -> bool {
    (0..pre.markets.len()).any(|m| stale_for_trading(world, pre, m))
}

fn first_reason(reasons: Vec<(bool, &str)>) -> Option<String> {
    let hits: Vec<&str> = reasons.into_iter().filter(|(hit, _)| *hit).map(|(_, r)| r).collect();
    (!hits.is_empty()).then(|| hits.join(", "))
}

pub async fn execute(world: &mut World, action: &Action, pre: &Snapshot) -> Executed {
    let ex = world.ctx.ex;
    let admin_key = pre.exchange.admin;
    let is_admin = |world: &World, p: usize| world.parties[p].key.pubkey() == admin_key;
    match action {
        Action::Oracle { market, movement } => {
            world.move_oracle(*market as usize, *movement);
            Executed { sent: None, must_fail: None }
        }
        Action::Time { slots, seconds, refresh } => {
            world.advance(*slots, *seconds);
            if *refresh {
                for m in 0..world.oracles.len() {
                    world.move_oracle(m, OracleMove::Refresh);
                }
            }
            Executed { sent: None, must_fail: None }
        }
        Action::KeeperIdle => Executed { sent: None, must_fail: None },
        Action::Faucet { party, amount } => {
            let sent = world.mint_to(*party, *amount).await;
            Executed { sent: Some(sent), must_fail: None }
        }
        Action::DepositCollateral { depositor, account, amount } => {
            // A flagged account's deposit passes its health accounts, so it can end the episode.
            let state = &pre.accounts[*account];
            let health_accounts = if state.being_liquidated == 1 {
                let (indexes, count) = state.other_market_indexes(None);
                indexes[..count].iter().map(|&m| world.ctx.markets[m as usize].pair()).collect()
            } else {
                Vec::new()
            };
            let instruction = ix::DepositCollateral {
                depositor: world.parties[*depositor].key.pubkey(),
                margin_account: world.accounts[*account],
                depositor_token: world.parties[*depositor].token,
                amount: *amount,
                health_accounts,
            }
            .instruction(&ex);
            let must_fail = first_reason(vec![
                (*amount == 0, "zero amount"),
                (*amount > pre.wallets[*depositor], "more than the wallet holds"),
            ]);
            let sent = world.send(&[instruction], &[*depositor]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::WithdrawCollateral { signer, account, amount, health } => {
            let state = &pre.accounts[*account];
            let r = remaining(world, state, None, *health);
            let instruction = ix::WithdrawCollateral {
                owner: world.parties[*signer].key.pubkey(),
                margin_account: world.accounts[*account],
                owner_token: world.parties[*signer].token,
                amount: *amount,
                health_accounts: r.pairs.clone(),
            }
            .instruction(&ex);
            let instruction = with_odd(instruction, r.odd, world);
            // The withdrawal settles the account's funding first: what it may take is the
            // collateral after that settlement.
            let funding: i128 = pre
                .position_risks(*account, &world.prices())
                .map(|(risks, count)| risks[..count].iter().map(|risk| risk.funding).sum())
                .unwrap_or(0);
            let must_fail = first_reason(vec![
                (*signer != world.trader_party(*account), "signer is not the owner"),
                (*amount == 0, "zero amount"),
                (
                    *amount as i128 > state.collateral as i128 + funding,
                    "more than the collateral after funding",
                ),
                (r.deviates, "wrong health accounts"),
                (
                    holds_stale_market(world, pre, state),
                    "a held market's price is older than its trading window",
                ),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::SetDelegate { signer, account, delegate } => {
            let delegate_key = delegate.map(|d| world.parties[d].key.pubkey()).unwrap_or_default();
            let instruction = ix::SetDelegate {
                owner: world.parties[*signer].key.pubkey(),
                margin_account: world.accounts[*account],
                delegate: delegate_key,
            }
            .instruction(&ex);
            let must_fail =
                first_reason(vec![(*signer != world.trader_party(*account), "signer is not the owner")]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::PlaceOrder { signer, account, market, base_delta, limit_price, health } => {
            let state = &pre.accounts[*account];
            let r = remaining(world, state, Some(*market), *health);
            let fixture = &world.ctx.markets[*market as usize];
            let instruction = ix::PlaceOrder {
                trader: world.parties[*signer].key.pubkey(),
                margin_account: world.accounts[*account],
                market: fixture.market,
                oracle: fixture.oracle,
                base_delta: *base_delta,
                limit_price: *limit_price,
                health_accounts: r.pairs.clone(),
            }
            .instruction(&ex);
            let instruction = with_odd(instruction, r.odd, world);
            let signer_key = world.parties[*signer].key.pubkey();
            let lot = pre.markets[*market as usize].params.base_lot_size.max(1);
            let base = state.position_index(*market).map(|s| state.positions[s].base).unwrap_or(0);
            let unmeetable =
                (*base_delta > 0 && *limit_price == 0) || (*base_delta < 0 && *limit_price == u64::MAX);
            let must_fail = first_reason(vec![
                (!state.is_owner_or_delegate(&signer_key), "signer is neither owner nor delegate"),
                (*base_delta == 0, "zero size"),
                (
                    *base_delta != 0 && base_delta.unsigned_abs() % lot != 0 && base + *base_delta != 0,
                    "not a lot multiple (and not an exact close)",
                ),
                (unmeetable, "limit price cannot be met"),
                (
                    r.deviates && *base_delta != 0 && order_adds_risk(base, *base_delta),
                    "wrong health accounts on a risk-adding order",
                ),
                (
                    *base_delta != 0 && stale_for_trading(world, pre, *market as usize),
                    "the market's price is older than its trading window",
                ),
                (
                    *base_delta != 0
                        && order_adds_risk(base, *base_delta)
                        && holds_stale_market(world, pre, state),
                    "a held market's price is older than its trading window (risk-adding order)",
                ),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::DepositLiquidity { signer, lp, amount } => {
            let (_, shares) = world.lps[*lp];
            let instruction = ix::DepositLiquidity {
                provider: world.parties[*signer].key.pubkey(),
                provider_token: world.parties[*signer].token,
                provider_shares: shares,
                amount: *amount,
                min_shares: 0,
                all_markets: world.ctx.all_market_pairs(),
            }
            .instruction(&ex);
            let must_fail = first_reason(vec![
                (*amount == 0, "zero amount"),
                (*amount > pre.wallets[*signer], "more than the wallet holds"),
                (
                    !pre.exchange.deficits_covered(pre.fund.balance),
                    "realized deficits beyond what insurance covers",
                ),
                (any_stale_market(world, pre), "a market's price is older than its trading window"),
                (pre.lp_supply == 0 && *amount < microliq_client::USDC, "a first deposit below one unit"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::WithdrawLiquidity { signer, lp, shares } => {
            let (owner, share_account) = world.lps[*lp];
            let instruction = ix::WithdrawLiquidity {
                provider: world.parties[*signer].key.pubkey(),
                provider_token: world.parties[*signer].token,
                provider_shares: share_account,
                shares: *shares,
                min_amount: 0,
                all_markets: world.ctx.all_market_pairs(),
            }
            .instruction(&ex);
            let supply_after = pre.lp_supply.saturating_sub(*shares);
            let must_fail = first_reason(vec![
                (*signer != owner, "signer does not own the shares"),
                (*shares == 0, "zero shares"),
                (*shares > pre.shares[*lp], "more shares than held"),
                (supply_after != 0 && supply_after < microliq_client::USDC, "a dust share supply left"),
                (
                    !pre.exchange.deficits_covered(pre.fund.balance),
                    "realized deficits beyond what insurance covers",
                ),
                (any_stale_market(world, pre), "a market's price is older than its trading window"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::DepositInsurance { signer, amount } => {
            let instruction = ix::DepositInsurance {
                depositor: world.parties[*signer].key.pubkey(),
                depositor_token: world.parties[*signer].token,
                amount: *amount,
            }
            .instruction(&ex);
            let must_fail = first_reason(vec![
                (*amount == 0, "zero amount"),
                (*amount > pre.wallets[*signer], "more than the wallet holds"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::WithdrawInsurance { signer, destination, amount } => {
            let instruction = ix::WithdrawInsurance {
                admin: world.parties[*signer].key.pubkey(),
                destination: world.parties[*destination].token,
                amount: *amount,
            }
            .instruction(&ex);
            let balance = pre.fund.balance;
            let must_fail = first_reason(vec![
                (!is_admin(world, *signer), "signer is not the admin"),
                (*amount == 0, "zero amount"),
                (*amount > balance, "more than the fund holds"),
                (
                    *amount <= balance && balance - *amount < pre.exchange.negative_collateral,
                    "below the negative collateral reserve",
                ),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::Liquidate { keeper, account, market, target, health, max_base, .. } => {
            let state = &pre.accounts[*account];
            let r = remaining(world, state, Some(*market), *health);
            let market_count = world.ctx.markets.len() as u16;
            let other = (*market + 1) % market_count;
            let fixture = &world.ctx.markets[*market as usize];
            let (oracle, market_index) = match target {
                Target::Correct => (fixture.oracle, *market),
                Target::WrongIndex => (fixture.oracle, other),
                Target::WrongOracle => (world.ctx.markets[other as usize].oracle, *market),
            };
            let instruction = ix::Liquidate {
                keeper: world.parties[*keeper].key.pubkey(),
                margin_account: world.accounts[*account],
                market: fixture.market,
                oracle,
                keeper_token: world.parties[*keeper].token,
                market_index,
                max_base: *max_base,
                health_accounts: r.pairs.clone(),
            }
            .instruction(&ex);
            let instruction = with_odd(instruction, r.odd, world);
            let keeper_key = world.parties[*keeper].key.pubkey();
            let must_fail = first_reason(vec![
                (state.is_owner_or_delegate(&keeper_key), "keeper is the owner or delegate"),
                (*max_base == 0, "zero max_base"),
                (*target != Target::Correct && market_count > 1, "wrong market index or oracle"),
                (state.position_index(*market).is_none(), "no position in the market"),
                (r.deviates, "wrong health accounts"),
            ]);
            let sent = world.send(&[instruction], &[*keeper]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::ResolveBankruptcy { caller, account } => {
            let instruction = ix::ResolveBankruptcy {
                caller: world.parties[*caller].key.pubkey(),
                margin_account: world.accounts[*account],
            }
            .instruction(&ex);
            let state = &pre.accounts[*account];
            let must_fail = first_reason(vec![(
                !(state.collateral < 0 && state.open_position_count() == 0),
                "account is not bankrupt",
            )]);
            let sent = world.send(&[instruction], &[*caller]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::UpdateMarket { signer, market, params, .. } => {
            let instruction = ix::UpdateMarket {
                admin: world.parties[*signer].key.pubkey(),
                market: world.ctx.markets[*market as usize].market,
                params: *params,
            }
            .instruction(&ex);
            let must_fail = first_reason(vec![
                (!is_admin(world, *signer), "signer is not the admin"),
                (params.validate().is_err(), "parameters out of bounds"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::UpdateExchange { signer, cap, reward, episode_slots } => {
            let instruction = ix::UpdateExchange {
                admin: world.parties[*signer].key.pubkey(),
                insurance_cap_per_event: *cap,
                insolvent_close_reward: *reward,
                liquidation_episode_slots: *episode_slots,
            }
            .instruction(&ex);
            let must_fail = first_reason(vec![
                (!is_admin(world, *signer), "signer is not the admin"),
                (*reward > 100 * microliq_client::USDC, "reward above 100 units"),
                (!(1..=216_000).contains(episode_slots), "episode lapse out of bounds"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::UpdateFunding { market } => {
            let instruction =
                ix::UpdateFunding { market: world.ctx.markets[*market as usize].market }.instruction(&ex);
            let sent = world.send(&[instruction], &[]).await;
            Executed { sent: Some(sent), must_fail: None }
        }
        Action::SetMarketFunding { signer, market, rate_scale, max_rate } => {
            let config = microliq::state::FundingConfig { rate_scale: *rate_scale, max_rate: *max_rate };
            let instruction = ix::SetMarketFunding {
                admin: world.parties[*signer].key.pubkey(),
                market: world.ctx.markets[*market as usize].market,
                config,
            }
            .instruction(&ex);
            let must_fail = first_reason(vec![
                (!is_admin(world, *signer), "signer is not the admin"),
                (config.validate().is_err(), "funding parameters out of bounds"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::SetRepeatWindow { signer, window_slots } => {
            let instruction = ix::SetRepeatLiquidationWindow {
                admin: world.parties[*signer].key.pubkey(),
                window_slots: *window_slots,
            }
            .instruction(&ex);
            let max = microliq::state::exchange_bounds::REPEAT_LIQUIDATION_WINDOW_SLOTS_MAX;
            let must_fail = first_reason(vec![
                (!is_admin(world, *signer), "signer is not the admin"),
                (*window_slots > max, "window above ~30 days"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
        Action::SetExchangePause { signer, paused } | Action::SetMarketPause { signer, paused, .. } => {
            let market = match action {
                Action::SetMarketPause { market, .. } => Some(world.ctx.markets[*market as usize].market),
                _ => None,
            };
            let instruction =
                ix::SetPause { admin: world.parties[*signer].key.pubkey(), market, paused: *paused }
                    .instruction(&ex);
            let must_fail = first_reason(vec![
                (!is_admin(world, *signer), "signer is not the admin"),
                (*paused & !pause::ALL != 0, "unknown pause bit"),
            ]);
            let sent = world.send(&[instruction], &[*signer]).await;
            Executed { sent: Some(sent), must_fail }
        }
    }
}
