//! The invariants, each a named check with a message that carries the numbers.
//!
//! State invariants are derived from the one snapshot taken after the step; transition
//! invariants (failed transactions, liquidations, LP withdrawals, monotone totals) compare it with
//! the snapshot before. Observations are soft checks: counted and reported, never a failure.

use std::collections::BTreeMap;

use microliq::math::{
    maintenance_health, plan_liquidation, target_margin_scaled, LiquidationTarget, MaintenanceHealth,
    WholeClose, RATE_PRECISION,
};

use crate::actions::Action;
use crate::events;
use crate::exec::Executed;
use crate::snapshot::{Snapshot, Valuation};
use crate::world::World;

/// Every invariant, in report order.
pub const INVARIANTS: &[&str] = &[
    "1a.quote_vault_eq_collateral_plus_pool",
    "1b.insurance_vault_eq_fund_balance",
    "1c.insurance_fund_invariant",
    "2a.pool_balance_nonnegative",
    "2b.pool_balance_covers_negative_collateral",
    "3a.sum_collateral_eq_total_collateral",
    "3b.sum_negative_eq_negative_collateral",
    "4.open_interest_eq_sum_of_positions",
    "4b.funding_accrual_eq_sum_of_positions",
    "5a.liquidated_account_was_liquidatable",
    "5b.slice_improved_health_or_closed_position",
    "5c.slice_within_exact_plus_one_lot",
    "5d.slice_matches_prediction",
    "5f.episode_end_only_when_no_longer_liquidatable",
    "5g.extra_closes_only_for_an_insolvent_account",
    "5h.repeat_close_only_within_the_window",
    "5i.recovery_recorded_on_the_account",
    "6a.lp_payout_within_collectable_value",
    "6b.lp_payout_within_counted_nav",
    "7a.tokens_conserved",
    "7b.claims_eq_vaults",
    "7c.socialized_loss_monotone",
    "7d.lp_shares_eq_supply",
    "8.failed_tx_changed_nothing",
    "9.bad_input_refused",
    "10.account_invariants",
];

/// Soft checks: reported, never a failure.
pub const OBSERVATIONS: &[&str] = &[
    "5e.liquidation_relied_on_flag_after_account_was_back_at_target",
    "insolvent_account_holding_positions",
    "lp_withdrawal_while_an_account_had_negative_equity",
];

#[derive(Clone, Debug)]
pub struct Failure {
    pub step: u64,
    pub invariant: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct Stat {
    pub checked: u64,
    pub failed: u64,
    pub first: Option<Failure>,
}

/// Per-account tracking of liquidation episodes for the 5e observation.
#[derive(Clone, Copy, Debug, Default)]
struct Episode {
    start_slot: u64,
    /// Whether, at some observed step since the flag was set, the account was at its end target
    /// for every market it held (`E·1e6 ≥ (1e6 + β)·M` with the largest β then in force), with
    /// `(E − M)/M` and that β, both ×1e6.
    reached: Option<(i128, u32)>,
}

pub struct Invariants {
    pub stats: BTreeMap<&'static str, Stat>,
    pub observations: BTreeMap<&'static str, Stat>,
    /// Failures found in the current step.
    pub step_failures: Vec<Failure>,
    episodes: Vec<Episode>,
    /// LP payouts above `shares · NAV_counted / supply` (today's rule), and all payouts checked.
    pub lp_payouts_above_counted_nav: u64,
    pub lp_payouts_above_collectable: u64,
    pub lp_payouts: u64,
}

fn scaled_margin(health: &MaintenanceHealth, beta: u32) -> i128 {
    target_margin_scaled(health, beta).unwrap_or(i128::MIN)
}

impl Invariants {
    pub fn new(accounts: usize) -> Self {
        Invariants {
            stats: INVARIANTS.iter().map(|n| (*n, Stat::default())).collect(),
            observations: OBSERVATIONS.iter().map(|n| (*n, Stat::default())).collect(),
            step_failures: Vec::new(),
            episodes: vec![Episode::default(); accounts],
            lp_payouts_above_counted_nav: 0,
            lp_payouts_above_collectable: 0,
            lp_payouts: 0,
        }
    }

    fn check(&mut self, name: &'static str, step: u64, ok: bool, message: impl FnOnce() -> String) {
        // An invariant missing from `INVARIANTS` is still counted (the unit test below lists it).
        let stat = self.stats.entry(name).or_default();
        stat.checked += 1;
        if !ok {
            stat.failed += 1;
            let failure = Failure { step, invariant: name, message: message() };
            if stat.first.is_none() {
                stat.first = Some(failure.clone());
            }
            self.step_failures.push(failure);
        }
    }

    fn observe(&mut self, name: &'static str, step: u64, hit: bool, message: impl FnOnce() -> String) {
        let stat = self.observations.entry(name).or_default();
        stat.checked += 1;
        if hit {
            stat.failed += 1;
            if stat.first.is_none() {
                stat.first = Some(Failure { step, invariant: name, message: message() });
            }
        }
    }

    /// Invariants 1–4, 7 and 10 on the state after a step.
    pub fn check_state(&mut self, step: u64, world: &World, s: &Snapshot, v: &Valuation) {
        let ex = &s.exchange;
        let ledger = ex.total_collateral as i128 + ex.pool_balance as i128;
        self.check("1a.quote_vault_eq_collateral_plus_pool", step, s.quote_vault as i128 == ledger, || {
            format!(
                "quote vault {} != total_collateral {} + pool_balance {} = {} (diff {})",
                s.quote_vault,
                ex.total_collateral,
                ex.pool_balance,
                ledger,
                s.quote_vault as i128 - ledger
            )
        });
        self.check("1b.insurance_vault_eq_fund_balance", step, s.insurance_vault == s.fund.balance, || {
            format!("insurance vault {} != insurance_fund.balance {}", s.insurance_vault, s.fund.balance)
        });
        let fund = &s.fund;
        self.check("1c.insurance_fund_invariant", step, fund.invariant().is_ok(), || {
            format!(
                "contributions {} − draws {} − withdrawn {} != balance {}",
                fund.total_contributions, fund.total_draws, fund.total_withdrawn, fund.balance
            )
        });
        self.check("2a.pool_balance_nonnegative", step, ex.pool_balance >= 0, || {
            format!("pool_balance {} < 0 (negative_collateral {})", ex.pool_balance, ex.negative_collateral)
        });
        self.check(
            "2b.pool_balance_covers_negative_collateral",
            step,
            ex.pool_balance as i128 >= ex.negative_collateral as i128,
            || format!("pool_balance {} < negative_collateral {}", ex.pool_balance, ex.negative_collateral),
        );
        self.check(
            "3a.sum_collateral_eq_total_collateral",
            step,
            v.sum_collateral == ex.total_collateral as i128,
            || {
                format!(
                    "Σ collateral {} != exchange.total_collateral {}",
                    v.sum_collateral, ex.total_collateral
                )
            },
        );
        self.check(
            "3b.sum_negative_eq_negative_collateral",
            step,
            v.sum_negative == ex.negative_collateral as i128,
            || {
                format!(
                    "Σ max(−collateral, 0) {} != exchange.negative_collateral {}",
                    v.sum_negative, ex.negative_collateral
                )
            },
        );
        for (m, market) in s.markets.iter().enumerate() {
            let (mut long_base, mut short_base, mut long_entry, mut short_entry) =
                (0u128, 0u128, 0i128, 0i128);
            // Funding accrued per side at the market's stored index: Σ q·(K − K_q).
            let (mut long_accrued, mut short_accrued) = (0i128, 0i128);
            for account in &s.accounts {
                for (slot, p) in account
                    .positions
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.is_open() && p.market_index as usize == m)
                {
                    let accrued = microliq::math::funding_accrued(
                        p.base,
                        market.funding_index,
                        account.funding_indexes[slot],
                    );
                    if p.base > 0 {
                        long_base += p.base as u128;
                        long_entry += p.entry_quote as i128;
                        long_accrued += accrued;
                    } else {
                        short_base += p.base.unsigned_abs() as u128;
                        short_entry += p.entry_quote as i128;
                        short_accrued += accrued;
                    }
                }
            }
            let funding_ok = long_accrued == market.funding_long_accrued.get()
                && short_accrued == market.funding_short_accrued.get();
            self.check("4b.funding_accrual_eq_sum_of_positions", step, funding_ok, || {
                format!(
                    "market {m}: long accrued {} vs Σ {long_accrued}, short accrued {} vs Σ {short_accrued} (index {})",
                    market.funding_long_accrued.get(),
                    market.funding_short_accrued.get(),
                    market.funding_index
                )
            });
            let ok = long_base == market.long_base as u128
                && short_base == market.short_base as u128
                && long_entry == market.long_entry_quote as i128
                && short_entry == market.short_entry_quote as i128;
            self.check("4.open_interest_eq_sum_of_positions", step, ok, || {
                format!(
                    "market {m}: long_base {} vs Σ {long_base}, short_base {} vs Σ {short_base}, long_entry_quote {} vs Σ {long_entry}, short_entry_quote {} vs Σ {short_entry}",
                    market.long_base, market.short_base, market.long_entry_quote, market.short_entry_quote
                )
            });
        }
        let wallets: u128 = s.wallets.iter().map(|w| *w as u128).sum();
        let total = wallets + s.quote_vault as u128 + s.insurance_vault as u128;
        self.check("7a.tokens_conserved", step, total == world.minted && s.quote_supply as u128 == world.minted, || {
            format!(
                "Σ wallets {wallets} + quote vault {} + insurance vault {} = {total}; minted {}; quote mint supply {}",
                s.quote_vault, s.insurance_vault, world.minted, s.quote_supply
            )
        });
        if v.complete {
            let claims = v.sum_equity + v.nav_counted + s.fund.balance as i128;
            let vaults = s.quote_vault as i128 + s.insurance_vault as i128;
            self.check("7b.claims_eq_vaults", step, claims == vaults, || {
                format!(
                    "Σ E_i {} + NAV_counted {} + insurance {} = {claims} != quote vault {} + insurance vault {} = {vaults}",
                    v.sum_equity, v.nav_counted, s.fund.balance, s.quote_vault, s.insurance_vault
                )
            });
        }
        let shares: u128 = s.shares.iter().map(|x| *x as u128).sum();
        self.check("7d.lp_shares_eq_supply", step, shares == s.lp_supply as u128, || {
            format!("Σ LP share balances {shares} != LP mint supply {}", s.lp_supply)
        });
        let mut bad = Vec::new();
        if ex.invariant().is_err() {
            bad.push("exchange".to_string());
        }
        for (m, market) in s.markets.iter().enumerate() {
            if market.invariant().is_err() {
                bad.push(format!("market {m}"));
            }
        }
        for (i, account) in s.accounts.iter().enumerate() {
            if account.invariant().is_err() {
                bad.push(format!("trader{i}'s margin account"));
            }
        }
        self.check("10.account_invariants", step, bad.is_empty(), || {
            format!("invariant() fails for {}", bad.join(", "))
        });

        // Episode tracking for the 5e observation, on every observed state.
        for (i, account) in s.accounts.iter().enumerate() {
            let episode = &mut self.episodes[i];
            if account.being_liquidated != 1 {
                *episode = Episode::default();
                continue;
            }
            if episode.start_slot != account.liquidation_start_slot {
                *episode = Episode { start_slot: account.liquidation_start_slot, reached: None };
            }
            if episode.reached.is_some() {
                continue;
            }
            if let Some(value) = v.accounts[i] {
                let h = value.health;
                let beta = account
                    .positions
                    .iter()
                    .filter(|p| p.is_open())
                    .filter_map(|p| s.markets.get(p.market_index as usize))
                    .map(|m| m.params.liquidation_buffer)
                    .max()
                    .unwrap_or(0);
                if scaled_margin(&h, beta) >= 0 {
                    let buffer = if h.maintenance_requirement == 0 {
                        i128::MAX
                    } else {
                        (h.equity - h.maintenance_requirement as i128) * RATE_PRECISION as i128
                            / h.maintenance_requirement as i128
                    };
                    episode.reached = Some((buffer, beta));
                }
            }
        }
    }

    /// Transition invariants: 5, 6, 7c, 8, 9.
    #[allow(clippy::too_many_arguments)]
    pub fn check_transition(
        &mut self,
        step: u64,
        world: &World,
        action: &Action,
        executed: &Executed,
        pre: &Snapshot,
        pre_v: &Valuation,
        post: &Snapshot,
    ) {
        self.check(
            "7c.socialized_loss_monotone",
            step,
            post.exchange.total_socialized_loss >= pre.exchange.total_socialized_loss,
            || {
                format!(
                    "total_socialized_loss fell from {} to {}",
                    pre.exchange.total_socialized_loss, post.exchange.total_socialized_loss
                )
            },
        );
        let Some(sent) = &executed.sent else { return };
        match &sent.result {
            Err(error) => {
                let changed = pre.changed_keys(post, &world.keys);
                self.check("8.failed_tx_changed_nothing", step, changed.is_empty(), || {
                    format!(
                        "the transaction failed ({}) but changed {} account(s): {}",
                        crate::errors::error_name(error, &sent.logs),
                        changed.len(),
                        changed.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
                    )
                });
            }
            Ok(()) => {
                if let Some(reason) = &executed.must_fail {
                    self.check("9.bad_input_refused", step, false, || {
                        format!("the program accepted an action it must refuse: {reason}")
                    });
                } else {
                    self.check("9.bad_input_refused", step, true, String::new);
                }
                match action {
                    Action::Liquidate { keeper, account, market, max_base, .. } => self.check_liquidation(
                        step, world, *keeper, *account, *market, *max_base, &sent.logs, pre, pre_v, post,
                    ),
                    Action::WithdrawLiquidity { signer, lp, .. } => {
                        self.check_lp_withdrawal(step, *signer, *lp, pre, pre_v, post)
                    }
                    _ => {}
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_liquidation(
        &mut self,
        step: u64,
        world: &World,
        keeper: usize,
        i: usize,
        market: u16,
        max_base: u64,
        logs: &[String],
        pre: &Snapshot,
        pre_v: &Valuation,
        post: &Snapshot,
    ) {
        let slices = events::slices(logs);
        let account = &pre.accounts[i];
        let params = pre.markets[market as usize].params;
        // The account's β: the largest buffer among the markets it holds (docs/LIQUIDATION.md).
        let beta =
            account.liquidation_buffer(|m| pre.markets.get(m as usize).map(|m| m.params.liquidation_buffer));
        let episode_slots = pre.exchange.liquidation_episode_slots;
        let live = account.episode_live(world.clock.slot, episode_slots);
        if slices.is_empty() {
            // A call that closed nothing must have ended an episode of a flagged account that was
            // no longer liquidatable (at its target, or lapsed above maintenance).
            let ended = events::episodes_ended(logs);
            let health = pre
                .position_risks(i, &pre_v.prices)
                .and_then(|(risks, count)| maintenance_health(account.collateral, &risks[..count]).ok());
            let proper = ended.len() == 1
                && account.being_liquidated == 1
                && post.accounts[i].being_liquidated == 0
                && health.is_some_and(|h| !h.is_liquidatable() && (!live || scaled_margin(&h, beta) >= 0));
            self.check("5f.episode_end_only_when_no_longer_liquidatable", step, proper, || {
                format!(
                    "trader{i} market {market}: a liquidate succeeded without a slice; ended events {}, flagged {} → {}, live {live}, health {health:?}",
                    ended.len(),
                    account.being_liquidated,
                    post.accounts[i].being_liquidated
                )
            });
            return;
        }
        let e = &slices[0];
        let extra_ok = slices[1..].iter().all(|s| {
            e.equity_before <= 0
                && s.whole_close == 2
                && s.remaining_base == 0
                && s.margin_account == e.margin_account
                && s.market_index != e.market_index
                && s.realized_pnl <= 0
        });
        self.check("5g.extra_closes_only_for_an_insolvent_account", step, extra_ok, || {
            format!(
                "trader{i} market {market}: {} further slice event(s) after one with E before {}",
                slices.len() - 1,
                e.equity_before
            )
        });
        let Some((risks, count)) = pre.position_risks(i, &pre_v.prices) else {
            self.check("5d.slice_matches_prediction", step, false, || {
                format!("trader{i}: the pre-state could not be valued (a price is missing) but a slice was executed")
            });
            return;
        };
        let Ok(before) = maintenance_health(account.collateral, &risks[..count]) else { return };
        let margin_before = scaled_margin(&before, beta);
        let flagged = live;
        let liquidatable = before.is_liquidatable() || (live && margin_before < 0);
        self.check("5a.liquidated_account_was_liquidatable", step, liquidatable, || {
            format!(
                "trader{i} market {market}: pre-state E {} M {} (E − M {}), flagged {flagged}, E·1e6 − (1e6 + β {beta})·M = {margin_before}",
                before.equity,
                before.maintenance_requirement,
                before.margin()
            )
        });
        // 5e (observation): a liquidation of an account at or above maintenance allowed only by a
        // flag set before the account was seen back at its target.
        if flagged && !before.is_liquidatable() {
            let reached = self.episodes[i].reached;
            self.observe("5e.liquidation_relied_on_flag_after_account_was_back_at_target", step, reached.is_some(), || {
                let (buffer, then_beta) = reached.unwrap_or_default();
                format!(
                    "trader{i} market {market}: flagged at slot {} (now {}), E {} ≥ M {}; since the flag it was seen at its target, (E − M)/M = {:.4} ≥ β {:.4}",
                    account.liquidation_start_slot,
                    world.clock.slot,
                    before.equity,
                    before.maintenance_requirement,
                    buffer as f64 / 1e6,
                    then_beta as f64 / 1e6
                )
            });
        }
        let after =
            MaintenanceHealth { equity: e.equity_after, maintenance_requirement: e.maintenance_after };
        let margin_after = scaled_margin(&after, beta);
        let size =
            account.position_index(market).map(|s| account.positions[s].base.unsigned_abs()).unwrap_or(0);
        let closed_all = e.base_closed == size && e.remaining_base == 0;
        self.check("5b.slice_improved_health_or_closed_position", step, margin_after > margin_before || closed_all, || {
            format!(
                "trader{i} market {market}: E·1e6 − (1e6 + β)·M went {margin_before} → {margin_after} (E {} → {}, M {} → {}), closed {} of {size}",
                before.equity, e.equity_after, before.maintenance_requirement, e.maintenance_after, e.base_closed
            )
        });
        let lot = params.base_lot_size;
        self.check(
            "5c.slice_within_exact_plus_one_lot",
            step,
            e.whole_close != 0 || e.base_closed as u128 <= e.exact_slice as u128 + lot as u128,
            || {
                format!(
                    "trader{i} market {market}: closed {} > exact {} + lot {lot}",
                    e.base_closed, e.exact_slice
                )
            },
        );
        // 5h. A repeat whole close (code 5) only where the rule allows it, written out here
        // independently of `MarginAccount::liquidation_escalated`: the window is on, and either a
        // live episode that started as a repeat continues, or the account's previous episode
        // ended at its target at most the window ago.
        let window = pre.exchange.repeat_liquidation_window_slots;
        let slot = world.clock.slot;
        let continuing = account.being_liquidated == 1
            && slot.saturating_sub(account.liquidation_last_slot) <= episode_slots
            && account.episode_escalated == 1;
        // The prices the call read: the oracles as the world last wrote them.
        let oldest_price_time = account
            .positions
            .iter()
            .filter(|p| p.is_open())
            .map(|p| world.oracles[p.market_index as usize].publish_time)
            .min()
            .unwrap_or(i64::MIN);
        let recovered_recently = account.last_recovery_slot != 0
            && slot.saturating_sub(account.last_recovery_slot) <= window
            && oldest_price_time > account.last_recovery_time;
        self.check(
            "5h.repeat_close_only_within_the_window",
            step,
            e.whole_close != WholeClose::code(Some(WholeClose::Repeat))
                || continuing
                || (window != 0 && recovered_recently),
            || {
                format!(
                    "trader{i} market {market}: repeat close at slot {slot}, latest recovery {}, window {window}, episode {}/{}",
                    account.last_recovery_slot, account.being_liquidated, account.episode_escalated
                )
            },
        );
        // 5i. A slice that reached the target records the recovery; one that did not leaves the
        // record as it was; an account left without positions has none.
        let expected = if post.accounts[i].open_position_count() == 0 {
            0
        } else if margin_after >= 0 {
            slot
        } else {
            account.last_recovery_slot
        };
        self.check("5i.recovery_recorded_on_the_account", step, post.accounts[i].last_recovery_slot == expected, || {
            format!(
                "trader{i}: last_recovery_slot {} after a slice at {slot} (margin after {margin_after}), expected {expected}",
                post.accounts[i].last_recovery_slot
            )
        });
        // The prediction from the pre-state with the program's own math.
        let slots = account.slots_in_episode(world.clock.slot, episode_slots);
        let mut liquidation_params = params.liquidation();
        liquidation_params.liquidation_buffer = beta;
        let Some(index) = account.risk_index(market) else {
            self.check("5d.slice_matches_prediction", step, false, || {
                format!("trader{i} had no position in market {market}")
            });
            return;
        };
        let escalated = account.liquidation_escalated(
            world.clock.slot,
            episode_slots,
            pre.exchange.repeat_liquidation_window_slots,
            oldest_price_time,
        );
        let target = LiquidationTarget {
            collateral: account.collateral,
            positions: &risks[..count],
            index,
            escalated,
        };
        let plan = plan_liquidation(&target, slots, max_base, &liquidation_params);
        let keeper_paid = post.wallets[keeper] as i128 - pre.wallets[keeper] as i128;
        let fund_change = post.fund.balance as i128 - pre.fund.balance as i128;
        match plan {
            Ok(plan) => {
                let whole = WholeClose::code(plan.whole_close);
                let o = &plan.outcome;
                let reward = if plan.whole_close == Some(WholeClose::Insolvent) {
                    // The fund after this slice's insurance fee (0 here: an insolvent account pays none).
                    microliq::math::insolvent_close_reward(
                        o.closed_notional,
                        params.maintenance_rate,
                        pre.exchange.insolvent_close_reward,
                        pre.fund.balance + e.insurance_fee,
                    )
                    .unwrap_or(u64::MAX)
                } else {
                    0
                };
                let same = e.base_closed == o.closed_base
                    && e.keeper_bonus as u128 == o.keeper_bonus
                    && e.insurance_fee as u128 == o.insurance_fee
                    && e.insolvent_reward == reward
                    && e.liquidation_buffer == beta
                    && e.exact_slice == plan.exact_slice
                    && e.whole_close == whole
                    && e.bonus_rate == plan.bonus_rate
                    && e.equity_before == plan.health_before.equity
                    && e.market_index == market
                    && e.margin_account == world.accounts[i];
                // An insolvent account's other losing positions close in the same call, one event
                // each after the named one, each paying its own reward.
                let rewards: i128 = slices.iter().map(|s| s.insolvent_reward as i128).sum();
                let balances = keeper_paid == e.keeper_bonus as i128 + rewards
                    && fund_change == e.insurance_fee as i128 - e.insurance_draw as i128 - rewards;
                self.check("5d.slice_matches_prediction", step, same && balances, || {
                    format!(
                        "trader{i} market {market}: event closed {} exact {} whole {} bonus_rate {} bonus {} fee {} E_before {}; predicted closed {} exact {} whole {whole} bonus_rate {} bonus {} fee {} E_before {}; keeper wallet +{keeper_paid}, fund {fund_change:+} (draw {})",
                        e.base_closed,
                        e.exact_slice,
                        e.whole_close,
                        e.bonus_rate,
                        e.keeper_bonus,
                        e.insurance_fee,
                        e.equity_before,
                        o.closed_base,
                        plan.exact_slice,
                        plan.bonus_rate,
                        o.keeper_bonus,
                        o.insurance_fee,
                        plan.health_before.equity,
                        e.insurance_draw
                    )
                });
            }
            Err(error) => self.check("5d.slice_matches_prediction", step, false, || {
                format!("trader{i} market {market}: the program's plan fails on the pre-state ({error}) but a slice was executed")
            }),
        }
    }

    fn check_lp_withdrawal(
        &mut self,
        step: u64,
        signer: usize,
        lp: usize,
        pre: &Snapshot,
        v: &Valuation,
        post: &Snapshot,
    ) {
        if !v.complete {
            return;
        }
        let payout = post.wallets[signer] as i128 - pre.wallets[signer] as i128;
        let shares = pre.shares[lp] as i128 - post.shares[lp] as i128;
        let supply = pre.lp_supply as i128;
        if supply <= 0 {
            return;
        }
        let share_of = |value: i128| -> i128 { (shares * value).div_euclid(supply) };
        let fair = share_of(v.collectable);
        let counted = share_of(v.nav_counted);
        self.lp_payouts += 1;
        if payout > counted + 1 {
            self.lp_payouts_above_counted_nav += 1;
        }
        if payout > fair + 1 {
            self.lp_payouts_above_collectable += 1;
        }
        let negative = v.accounts.iter().any(|a| a.is_some_and(|a| a.health.equity < 0));
        self.observe("lp_withdrawal_while_an_account_had_negative_equity", step, negative, || {
            format!(
                "lp{lp} withdrew {payout} for {shares} shares while uncollectable deficits were {}",
                v.uncollectable
            )
        });
        self.check("6a.lp_payout_within_collectable_value", step, payout <= fair + 1, || {
            format!(
                "lp{lp} burnt {shares} of {supply} shares and was paid {payout}; shares·V/supply = {fair} with V {} = NAV_counted {} − uncollectable {} (pool_balance {}, Σ unrealized {}, insurance {} cap {}); overpaid by {}",
                v.collectable,
                v.nav_counted,
                v.uncollectable,
                pre.exchange.pool_balance,
                v.sum_upnl,
                pre.fund.balance,
                pre.exchange.insurance_cap_per_event,
                payout - fair
            )
        });
        self.check("6b.lp_payout_within_counted_nav", step, payout <= counted + 1, || {
            format!(
                "lp{lp} burnt {shares} of {supply} shares and was paid {payout} > shares·NAV_counted/supply = {counted} (NAV_counted {})",
                v.nav_counted
            )
        });
    }

    /// Soft check on every step: an insolvent account still holding positions (closing it pays
    /// no keeper).
    pub fn observe_insolvent(&mut self, step: u64, s: &Snapshot, v: &Valuation) {
        let open = v.accounts.iter().zip(&s.accounts).enumerate().find(|(_, (value, a))| {
            a.open_position_count() > 0 && value.is_some_and(|x| x.health.equity <= 0)
        });
        self.observe("insolvent_account_holding_positions", step, open.is_some(), || {
            let (i, (value, _)) = open.unwrap();
            format!("trader{i} holds positions with equity {} ≤ 0", value.unwrap().health.equity)
        });
    }

    pub fn total_failures(&self) -> u64 {
        self.stats.values().map(|s| s.failed).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::{INVARIANTS, OBSERVATIONS};

    /// Every name passed to `check` / `observe` in this file is listed (report order, and a
    /// name the summary would otherwise show out of place).
    #[test]
    fn every_checked_name_is_listed() {
        let source = include_str!("invariants.rs");
        for (call, list) in [("self.check(\"", INVARIANTS), ("self.observe(\"", OBSERVATIONS)] {
            for piece in source.split(call).skip(1) {
                let name = piece.split('"').next().unwrap();
                assert!(list.contains(&name), "{name} is checked but not listed");
            }
        }
    }
}
