//! Compute units per instruction of Microliq's SBF build, measured in litesvm.
//!
//!     microliq-cu-bench <path/to/microliq.so> [--no-budgets]
//!
//! Loads the `.so` at the program id, builds exchanges with 1, 2, 4 and 8 markets, runs every
//! instruction with real numbers (the 10x long of the integration tests), checks every result
//! against the program's own math run natively and every vault against its ledger, and prints one
//! JSON line per measurement. Exit status: 1 when a functional check fails, 2 when a compute
//! budget is exceeded (unless `--no-budgets`), 0 otherwise.

mod convert;
mod env;

use microliq::events::{BankruptcyResolved, LiquidationSliceV3};
use microliq::math::{self, Rounding};
use microliq::oracle::OracleKind;
use microliq::state::{pause, MarketParams};

const ORACLE_KINDS: [(&str, OracleKind); 2] =
    [("price_update_v2", OracleKind::PythPriceUpdateV2), ("legacy", OracleKind::PythLegacy)];
use solana_signer::Signer;

use crate::convert::pubkey;
use crate::env::*;

#[derive(Clone, Debug)]
struct Measurement {
    /// `price_update_v2` or `legacy`: the oracle kind of every market of the measurement.
    oracle: &'static str,
    instruction: &'static str,
    case: Option<&'static str>,
    positions: Option<usize>,
    markets: usize,
    cu: u64,
}

impl Measurement {
    fn json(&self) -> String {
        let mut s = format!("{{\"oracle\":\"{}\",\"instruction\":\"{}\"", self.oracle, self.instruction);
        if let Some(case) = self.case {
            s += &format!(",\"case\":\"{case}\"");
        }
        if let Some(positions) = self.positions {
            s += &format!(",\"positions\":{positions}");
        }
        s + &format!(",\"markets\":{},\"cu\":{}}}", self.markets, self.cu)
    }
}

#[derive(Default)]
struct Bench {
    measurements: Vec<Measurement>,
    /// The oracle kind of the scenarios being run.
    oracle: &'static str,
}

impl Bench {
    fn record(
        &mut self,
        instruction: &'static str,
        case: Option<&'static str>,
        positions: Option<usize>,
        markets: usize,
        cu: u64,
    ) {
        let m = Measurement { oracle: self.oracle, instruction, case, positions, markets, cu };
        println!("{}", m.json());
        self.measurements.push(m);
    }

    fn find(&self, oracle: &str, instruction: &str, case: Option<&str>, positions: Option<usize>) -> Option<u64> {
        self.measurements
            .iter()
            .find(|m| m.oracle == oracle && m.instruction == instruction && m.case == case && m.positions == positions)
            .map(|m| m.cu)
    }
}

/// Fee of the exchange's default markets on a notional (0.05 %, rounded up).
fn taker_fee(notional: u128) -> u64 {
    math::apply_rate(notional, default_params().taker_fee_rate, Rounding::Up).unwrap() as u64
}

/// One exchange with `n` markets: LP deposit/withdraw over `n` markets, a trader holding `n`
/// positions (1 SOL in markets 1..n, then the 66 SOL 10x long in market 0), deposit/withdraw of
/// collateral with `n` positions, a liquidation of market 0 at $140 with `n` positions, and the
/// trader's own close.
fn positions_scenario(bench: &mut Bench, so: &[u8], n: u16, kind: OracleKind) -> Res<()> {
    let nm = n as usize;
    let mut env = Env::new(so, n, kind)?;
    for (name, cu) in env.setup_cu.clone() {
        match name {
            "deposit_liquidity_first" => bench.record("deposit_liquidity", Some("first"), None, nm, cu),
            _ if n == 1 => bench.record(name, None, None, nm, cu),
            _ => {}
        }
    }
    let lp = env.lp.take().ok_or("no LP")?;
    ensure_eq!(env.mint_supply(&env.ex.lp_mint)?, 1_000_000 * USDC, "first deposit mints 1:1");

    // LP deposit at NAV (no positions yet: NAV == pool balance == supply, so 1:1).
    let vault_before = env.token_balance(&env.ex.quote_vault)?;
    let shares_before = env.token_balance(&lp.shares)?;
    let cu = env.deposit_liquidity(&lp, 100_000 * USDC)?;
    bench.record("deposit_liquidity", None, None, nm, cu);
    ensure_eq!(env.token_balance(&lp.shares)? - shares_before, 100_000 * USDC, "shares minted");
    ensure_eq!(env.token_balance(&env.ex.quote_vault)? - vault_before, 100_000 * USDC, "vault grew");

    // The trader: 1,000 USDC for the 10x long plus 20 USDC per extra position, and 100 USDC kept.
    let collateral = 1_000 * USDC + 20 * USDC * (n as u64 - 1);
    let (alice, cu) = env.trader(collateral + 100 * USDC)?;
    if n == 1 {
        bench.record("create_margin_account", None, None, nm, cu);
    }
    let cu = env.deposit(&alice, collateral)?;
    if n == 1 {
        bench.record("deposit_collateral", None, None, nm, cu);
    }
    ensure_eq!(env.margin_account(&alice.account)?.collateral, collateral as i64, "collateral credited");
    ensure_eq!(env.token_balance(&alice.token)?, 100 * USDC, "wallet debited");

    // Open: 1 SOL in markets 1..n, then 66 SOL in market 0 (each open checks initial health
    // over every position already held).
    let mut fees = 0;
    for i in 1..n {
        let (cu, _) = env.trade(&alice, i, SOL)?;
        bench.record("place_order", Some("open"), Some(i as usize), nm, cu);
        fees += taker_fee((150 * USDC) as u128);
    }
    let (cu, logs) = env.trade(&alice, 0, 66 * SOL)?;
    bench.record("place_order", Some("open"), Some(nm), nm, cu);
    fees += taker_fee((9_900 * USDC) as u128);
    ensure!(Env::events::<microliq::events::OrderFilledV2>(&logs).len() == 1, "one OrderFilledV2 event");
    let account = env.margin_account(&alice.account)?;
    ensure_eq!(account.open_position_count(), nm, "open positions");
    ensure_eq!(account.collateral, (collateral - fees) as i64, "collateral after fees");
    let slot0 = account.position_index(0).ok_or("no market-0 position")?;
    ensure_eq!(
        (account.positions[slot0].base, account.positions[slot0].entry_quote),
        (66 * SOL, 9_900 * USDC as i64),
        "market-0 position"
    );
    ensure_eq!(env.market(0)?.long_base, 66 * SOL as u64, "open interest");

    // Collateral in and out with n positions (withdraw checks initial health over all of them).
    env.deposit(&alice, 100 * USDC)?;
    let cu = env.withdraw(&alice, 100 * USDC)?;
    bench.record("withdraw_collateral", None, Some(nm), nm, cu);
    ensure_eq!(env.token_balance(&alice.token)?, 100 * USDC, "withdrawal paid");
    ensure_eq!(
        env.margin_account(&alice.account)?.collateral,
        (collateral - fees) as i64,
        "collateral after"
    );

    // LP withdrawal at the collectable NAV over n markets, with open interest (prices unchanged:
    // PnL ≤ 0): pool − negative collateral − Σ max(side PnL, 0) (docs/POOL.md).
    let exchange = env.exchange()?;
    let mut owed = 0i128;
    for i in 0..n {
        let (long, short) =
            env.market(i)?.traders_unrealized_pnl_by_side(&env.market_price(i), Rounding::Up).unwrap();
        owed += long.max(0) + short.max(0);
    }
    let nav = exchange.pool_balance as i128 - exchange.negative_collateral as i128 - owed;
    let supply = env.mint_supply(&env.ex.lp_mint)?;
    let shares = 50_000 * USDC;
    let expected = (shares as u128 * nav as u128 / supply as u128) as u64;
    let wallet_before = env.token_balance(&lp.token)?;
    let cu = env.withdraw_liquidity(&lp, shares)?;
    bench.record("withdraw_liquidity", None, None, nm, cu);
    ensure_eq!(env.token_balance(&lp.token)? - wallet_before, expected, "LP withdrawal at NAV");
    ensure_eq!(env.mint_supply(&env.ex.lp_mint)?, supply - shares, "shares burned");

    // An hour passes (funding accrues in every market: longs only, so the clamp, 0.01 %/h), and
    // the 10x long is liquidated at $140 with n positions: the worst case, in which the named
    // market's index moves (a `FundingUpdated` event), its position settles, and every other
    // market's index is projected for health.
    env.advance_clock(9_000, 3_600);
    for i in 1..n {
        env.set_price_usd(i, 150.0)?;
    }
    env.set_price_usd(0, 140.0)?;
    let health = env.health(&alice.account)?;
    ensure!(health.is_liquidatable(), "not liquidatable at $140: {health:?}");
    let plan = env.expected_liquidation(&alice.account, 0)?;
    let keeper = env.wallet(0)?;
    let fund_before = env.insurance_fund()?.balance;
    let pool_before = env.exchange()?.pool_balance;
    let (cu, logs) = env.liquidate(&keeper, &alice.account, 0)?;
    bench.record("liquidate", None, Some(nm), nm, cu);
    let events = Env::events::<LiquidationSliceV3>(&logs);
    ensure_eq!(events.len(), 1, "one LiquidationSliceV3 event");
    let e = &events[0];
    let outcome = plan.outcome;
    ensure_eq!(e.base_closed, outcome.closed_base, "slice closed");
    ensure_eq!(e.exact_slice, plan.exact_slice, "exact slice");
    ensure_eq!(e.bonus_rate, plan.bonus_rate, "bonus rate");
    ensure_eq!(
        (e.keeper_bonus as u128, e.insurance_fee as u128),
        (outcome.keeper_bonus, outcome.insurance_fee),
        "penalty"
    );
    ensure_eq!(e.equity_before, plan.health_before.equity, "equity before");
    ensure_eq!(e.equity_after, outcome.health_after.equity, "equity after");
    ensure!(!e.bankrupt, "not bankrupt");
    ensure!(e.base_closed > 0 && e.base_closed < 66 * SOL as u64, "a slice, not the whole position");
    // 66 SOL · 0.01 % · $140 = 0.924 USDC of funding settled first.
    ensure_eq!(e.funding_settled, -924_000, "funding settled");
    let updated = Env::events::<microliq::events::FundingUpdated>(&logs);
    ensure_eq!(updated.len(), 1, "one FundingUpdated event");
    ensure_eq!(updated[0].index_delta, 100_000_000_000, "index moved by 0.01 %");
    ensure_eq!(env.token_balance(&keeper.token)?, e.keeper_bonus, "keeper paid");
    ensure_eq!(env.insurance_fund()?.balance, fund_before + e.insurance_fee, "insurance fee");
    ensure_eq!(
        env.exchange()?.pool_balance,
        pool_before - e.realized_pnl - e.funding_settled,
        "pool took the slice and the funding"
    );
    let account = env.margin_account(&alice.account)?;
    ensure_eq!(account.collateral as i128, outcome.collateral_after, "collateral after liquidation");
    ensure_eq!(account.positions[slot0].base, 66 * SOL - e.base_closed as i64, "position after");
    ensure_eq!(account.open_position_count(), nm, "every position still open");

    // Another hour: the permissionless crank moves market 0's index (the long left pays).
    env.advance_clock(9_000, 3_600);
    let (cu, logs) = env.update_funding(0)?;
    bench.record("update_funding", None, None, nm, cu);
    ensure_eq!(Env::events::<microliq::events::FundingUpdated>(&logs).len(), 1, "the crank moved the index");
    env.set_price_usd(0, 140.0)?;
    for i in 1..n {
        env.set_price_usd(i, 150.0)?;
    }

    // The trader closes what is left of market 0 herself (a reduce: no health accounts read).
    let old = account.positions[slot0];
    let trade = math::apply_trade(old.base, old.entry_quote, -old.base, &env.market_price(0)).unwrap();
    let (cu, logs) = env.trade(&alice, 0, -old.base)?;
    bench.record("place_order", Some("close"), Some(nm), nm, cu);
    let fill = Env::events::<microliq::events::OrderFilledV2>(&logs).pop().ok_or("no OrderFilledV2")?;
    ensure!(fill.funding_settled < 0, "the hour's funding settled at the close");
    let after = env.margin_account(&alice.account)?;
    ensure_eq!(
        after.collateral,
        account.collateral + trade.realized_pnl as i64 - taker_fee(trade.traded_notional) as i64
            + fill.funding_settled,
        "collateral after close"
    );
    ensure_eq!(after.open_position_count(), nm - 1, "market-0 position closed");
    ensure_eq!(env.market(0)?.long_base, 0, "market-0 open interest");
    Ok(())
}

/// The gap to $120 of the integration tests: the liquidation closes everything and the insurance
/// fund covers the 984.95 USDC deficit; then a trader's own loss resolved by `resolve_bankruptcy`.
fn bankruptcy_scenario(bench: &mut Bench, so: &[u8], kind: OracleKind) -> Res<()> {
    let mut env = Env::new(so, 1, kind)?;
    let (alice, _) = env.trader(1_000 * USDC)?;
    env.deposit(&alice, 1_000 * USDC)?;
    env.trade(&alice, 0, 66 * SOL)?;
    let keeper = env.wallet(0)?;
    env.set_price_usd(0, 120.0)?;
    let fund_before = env.insurance_fund()?.balance;
    let pool_before = env.exchange()?.pool_balance;
    let vault_before = env.token_balance(&env.ex.quote_vault)?;
    let (cu, logs) = env.liquidate(&keeper, &alice.account, 0)?;
    bench.record("liquidate", Some("bankrupt"), Some(1), 1, cu);
    let e = Env::events::<LiquidationSliceV3>(&logs).pop().ok_or("no LiquidationSliceV3")?;
    ensure_eq!((e.base_closed, e.whole_close, e.remaining_base), (66 * SOL as u64, 2, 0), "whole close");
    ensure_eq!(e.realized_pnl, -1_980 * USDC as i64, "realized loss");
    ensure_eq!((e.keeper_bonus, e.insurance_fee), (0, 0), "no penalty without equity");
    ensure_eq!(e.insolvent_reward, USDC, "the insolvent-close reward (1 USDC)");
    ensure!(e.bankrupt, "bankrupt");
    ensure_eq!((e.insurance_draw, e.socialized_loss), (984_950_000, 0), "insurance covers the deficit");
    let b = Env::events::<BankruptcyResolved>(&logs).pop().ok_or("no BankruptcyResolved")?;
    ensure_eq!((b.deficit, b.insurance_draw), (984_950_000, 984_950_000), "bankruptcy event");
    ensure_eq!(env.margin_account(&alice.account)?.collateral, 0, "collateral reset");
    ensure_eq!(env.insurance_fund()?.balance, fund_before - USDC - 984_950_000, "fund drawn");
    ensure_eq!(env.exchange()?.pool_balance, pool_before + 1_980 * USDC as i64, "pool keeps the loss");
    ensure_eq!(
        env.token_balance(&env.ex.quote_vault)?,
        vault_before + 984_950_000,
        "draw moved to the vault"
    );
    ensure_eq!(env.exchange()?.negative_collateral, 0, "no negative collateral left");
    ensure_eq!(env.token_balance(&keeper.token)?, USDC, "keeper paid the reward");

    // A trader's own close after the gap leaves negative collateral; anyone resolves it.
    env.set_price_usd(0, 150.0)?;
    let (bob, _) = env.trader(1_000 * USDC)?;
    env.deposit(&bob, 1_000 * USDC)?;
    env.trade(&bob, 0, 66 * SOL)?;
    env.set_price_usd(0, 120.0)?;
    env.trade(&bob, 0, -66 * SOL)?;
    let deficit = env.margin_account(&bob.account)?.collateral;
    ensure!(deficit < 0, "bob is below zero: {deficit}");
    let fund_before = env.insurance_fund()?.balance;
    let (cu, _) = env.resolve_bankruptcy(&keeper, &bob.account)?;
    bench.record("resolve_bankruptcy", None, Some(0), 1, cu);
    ensure_eq!(env.margin_account(&bob.account)?.collateral, 0, "deficit covered");
    ensure_eq!(env.insurance_fund()?.balance, fund_before - deficit.unsigned_abs(), "fund drawn");
    Ok(())
}

/// The admin and account-management instructions, each checked by its effect.
fn admin_scenario(bench: &mut Bench, so: &[u8], kind: OracleKind) -> Res<()> {
    let mut env = Env::new(so, 1, kind)?;
    let params = MarketParams { taker_fee_rate: 1_000, ..default_params() };
    let cu = env.update_market(0, params)?;
    bench.record("update_market", None, None, 1, cu);
    ensure_eq!(env.market(0)?.params.taker_fee_rate, 1_000, "params updated");

    let cu = env.update_exchange(500 * USDC)?;
    bench.record("update_exchange", None, None, 1, cu);
    ensure_eq!(env.exchange()?.insurance_cap_per_event, 500 * USDC, "cap updated");

    let cu = env.set_exchange_pause(pause::LIQUIDATE)?;
    bench.record("set_exchange_pause", None, None, 1, cu);
    ensure_eq!(env.exchange()?.paused, pause::LIQUIDATE, "exchange paused");
    env.set_exchange_pause(0)?;
    let cu = env.set_market_pause(0, pause::INCREASE)?;
    bench.record("set_market_pause", None, None, 1, cu);
    ensure_eq!(env.market(0)?.paused, pause::INCREASE, "market paused");
    env.set_market_pause(0, 0)?;

    let (alice, _) = env.trader(0)?;
    let delegate = pubkey(&keypair().pubkey());
    let cu = env.set_delegate(&alice, delegate)?;
    bench.record("set_delegate", None, None, 1, cu);
    ensure_eq!(env.margin_account(&alice.account)?.delegate, delegate, "delegate set");

    let wallet = env.wallet(0)?;
    let cu = env.withdraw_insurance(wallet.token, 1_000 * USDC)?;
    bench.record("withdraw_insurance", None, None, 1, cu);
    ensure_eq!(env.token_balance(&wallet.token)?, 1_000 * USDC, "insurance withdrawn");
    ensure_eq!(env.insurance_fund()?.total_withdrawn, 1_000 * USDC, "fund ledger");

    let new_admin = keypair();
    let new_key = pubkey(&new_admin.pubkey());
    let cu = env.transfer_admin(new_admin)?;
    bench.record("transfer_admin", None, None, 1, cu);
    ensure_eq!(env.exchange()?.admin, new_key, "admin transferred");
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut enforce_budgets = true;
    for arg in args.by_ref() {
        match arg.as_str() {
            "--no-budgets" => enforce_budgets = false,
            "-h" | "--help" => {
                eprintln!("usage: microliq-cu-bench <path/to/microliq.so> [--no-budgets]");
                return;
            }
            _ => path = Some(arg),
        }
    }
    let Some(path) = path else {
        eprintln!("usage: microliq-cu-bench <path/to/microliq.so> [--no-budgets]");
        std::process::exit(64);
    };
    let so = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(66);
    });

    let mut bench = Bench::default();
    let mut failures = Vec::new();
    // Every scenario on both oracle kinds: PriceUpdateV2 (the default for new markets) and the
    // legacy accounts of markets listed before the migration.
    for (label, kind) in ORACLE_KINDS {
        bench.oracle = label;
        for n in [1u16, 2, 4, 8] {
            if let Err(e) = positions_scenario(&mut bench, &so, n, kind) {
                failures.push(format!("{label}: scenario positions={n}: {e}"));
            }
        }
        if let Err(e) = bankruptcy_scenario(&mut bench, &so, kind) {
            failures.push(format!("{label}: scenario bankruptcy: {e}"));
        }
        if let Err(e) = admin_scenario(&mut bench, &so, kind) {
            failures.push(format!("{label}: scenario admin: {e}"));
        }
    }

    // Marginal cost of one more position in the account (health over one more market).
    let mut over_budget = Vec::new();
    for (label, _) in ORACLE_KINDS {
    for (instruction, case) in
        [("liquidate", None), ("withdraw_collateral", None), ("place_order", Some("open"))]
    {
        if let (Some(one), Some(eight)) =
            (bench.find(label, instruction, case, Some(1)), bench.find(label, instruction, case, Some(8)))
        {
            let per = (eight as f64 - one as f64) / 7.0;
            println!(
                "{{\"oracle\":\"{label}\",\"derived\":\"cu_per_extra_position\",\"instruction\":\"{instruction}\",\"from\":{one},\"to\":{eight},\"cu\":{per:.0}}}"
            );
            // The slope the issued budgets allow: (60,000 − 25,000) / 7 = 5,000 per position.
            // (Issue 8 set itself 2,500; funding in health made it ~3,080; docs/PERFORMANCE.md.)
            if instruction == "liquidate" && per > 5_000.0 {
                over_budget.push(format!("{label}: health per position {per:.0} > 5000"));
            }
        }
    }
    for (positions, limit) in [(1usize, 25_000u64), (8, 60_000)] {
        if let Some(cu) = bench.find(label, "liquidate", None, Some(positions)) {
            let ok = cu <= limit;
            println!("{{\"oracle\":\"{label}\",\"budget\":\"liquidate\",\"positions\":{positions},\"cu\":{cu},\"limit\":{limit},\"ok\":{ok}}}");
            if !ok {
                over_budget.push(format!("{label}: liquidate with {positions} positions: {cu} > {limit}"));
            }
        }
    }
    }

    for f in &failures {
        eprintln!("FAILED: {f}");
    }
    for b in &over_budget {
        eprintln!("OVER BUDGET: {b}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
    if enforce_budgets && !over_budget.is_empty() {
        std::process::exit(2);
    }
    eprintln!("all checks passed ({} measurements)", bench.measurements.len());
}
