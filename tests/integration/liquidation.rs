//! Liquidation scenarios: each one checks the event a keeper reads, the balances to the unit
//! (keeper, insurance fund, pool, collateral), and the program's post-conditions.

use microliq::error::MicroliqError;
use microliq::events::{BankruptcyResolved, LiquidationSliceV3};
use microliq::math::{target_margin_scaled, WholeClose, RATE_PRECISION};
use microliq::state::{pause, MarketParams};
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::Signer;

fn at_target(equity: i128, maintenance: u128, buffer: u32) -> bool {
    equity * RATE_PRECISION as i128 >= (RATE_PRECISION as i128 + buffer as i128) * maintenance as i128
}

#[tokio::test]
async fn ten_x_long_just_under_maintenance_loses_one_small_slice() {
    // SETUP: $142 puts alice just under maintenance (E = 467.05 < M = 468.6).
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 142.0).await;
    let health = ctx.health(&alice.account).await;
    assert_eq!((health.equity, health.maintenance_requirement), (467_050_000, 468_600_000));
    let plan = ctx.expected_liquidation(&alice.account, 0, u64::MAX).await;
    let fund_before = ctx.insurance_fund().await.balance;
    let pool_before = ctx.exchange().await.pool_balance;
    let slot = ctx.clock().await.slot;

    // ACT
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: one event, every field.
    let events = ctx.events::<LiquidationSliceV3>();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    let outcome = plan.outcome;
    assert_eq!(e.margin_account, alice.account);
    assert_eq!(e.owner, alice.owner.pubkey());
    assert_eq!(e.market_index, 0);
    assert_eq!(e.keeper, keeper.owner.pubkey());
    assert_eq!(e.base_closed, outcome.closed_base);
    assert_eq!(e.exact_slice, plan.exact_slice);
    assert_eq!(e.base_closed, e.exact_slice, "uncapped: exactly the minimal slice");
    assert_eq!(e.whole_close, 0);
    assert_eq!(e.fill_price, 142_000_000_000);
    assert_eq!((e.oracle_price, e.oracle_conf, e.oracle_expo), (14_200_000_000, 0, -8));
    assert_eq!(e.realized_pnl as i128, outcome.trade.realized_pnl);
    assert_eq!(e.bonus_rate, plan.bonus_rate);
    assert_eq!(e.bonus_rate, 5_066); // 0.5 % + 2 % · (1.55 / 468.6)
    assert_eq!(
        (e.keeper_bonus as u128, e.insurance_fee as u128),
        (outcome.keeper_bonus, outcome.insurance_fee)
    );
    assert_eq!((e.equity_before, e.maintenance_before), (467_050_000, 468_600_000));
    assert_eq!(e.equity_after as i128, outcome.health_after.equity);
    assert_eq!(e.maintenance_after as u128, outcome.health_after.maintenance_requirement);
    assert_eq!(e.remaining_base, 66 * SOL - e.base_closed as i64);
    assert!(!e.bankrupt);
    assert_eq!((e.insurance_draw, e.socialized_loss), (0, 0));
    assert_eq!(e.slot, slot);
    // Health is back at the target E ≥ 1.2·M, and one lot less would not have been.
    assert!(at_target(e.equity_after, e.maintenance_after, 200_000));
    // A small fraction closed; most of the position survives.
    let fraction = e.base_closed as f64 / (66 * SOL) as f64;
    assert!(fraction > 0.15 && fraction < 0.30, "closed {fraction}");

    // Balances to the unit.
    assert_eq!(ctx.token_balance(&keeper.token).await, e.keeper_bonus);
    assert_eq!(ctx.insurance_fund().await.balance, fund_before + e.insurance_fee);
    assert_eq!(ctx.exchange().await.pool_balance, pool_before - e.realized_pnl);
    let account = ctx.margin_account(&alice.account).await;
    assert_eq!(account.collateral as i128, outcome.collateral_after);
    assert_eq!(account.positions[0].base, e.remaining_base);
    assert_eq!(account.being_liquidated, 0, "target reached ends the episode");
    assert_eq!(ctx.market(0).await.long_base, e.remaining_base as u64);

    // Closing the whole position at the peers' full penalty (2.5 % + 1 %) would have left her
    // 467.05 − 9,372 · 3.5 % = 139.03 USDC and no position; micro-liquidation left this:
    let full_close_equity = 467_050_000 - (66 * 142 * USDC) as i64 * 35_000 / 1_000_000;
    eprintln!(
        "10x long at $142: first slice closed {:.2} % ({} of {} base), equity left {:.2} USDC with {:.3} SOL \
         still open; a full close at max penalty would leave {:.2} USDC",
        fraction * 100.0,
        e.base_closed,
        66 * SOL,
        e.equity_after as f64 / 1e6,
        e.remaining_base as f64 / 1e9,
        full_close_equity as f64 / 1e6,
    );
    assert!(e.equity_after > 3 * full_close_equity as i128);

    // A second call finds a healthy account.
    let before = ctx.snapshot_with(&[keeper.token]).await;
    assert_error(ctx.liquidate(&keeper, &alice.account, 0).await, MicroliqError::NotLiquidatable);
    before.assert_unchanged(&ctx.snapshot_with(&[keeper.token]).await);
}

#[tokio::test]
async fn deeper_move_takes_several_capped_slices_with_hysteresis() {
    // SETUP: a 10 % close factor, and a drop to $140 (E = 335.05, M = 462).
    let params = MarketParams { close_factor: 100_000, ..default_params() };
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_params(params))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 140.0).await;

    // ACT: liquidate until the account is back at its target.
    let mut slices = Vec::new();
    loop {
        let position = ctx.margin_account(&alice.account).await.positions[0].base.unsigned_abs();
        match ctx.liquidate(&keeper, &alice.account, 0).await {
            Ok(()) => {
                let event = ctx.events::<LiquidationSliceV3>().remove(0);
                // CHECK each slice: capped at 10 % of the position (rounded up to the lot) …
                assert!(event.base_closed <= (position / 10).div_ceil(1_000_000) * 1_000_000);
                // … and it strictly improves E − 1.2·M.
                let before = target_margin_scaled(
                    &microliq::math::MaintenanceHealth {
                        equity: event.equity_before as i128,
                        maintenance_requirement: event.maintenance_before as u128,
                    },
                    200_000,
                )
                .unwrap();
                let after = target_margin_scaled(
                    &microliq::math::MaintenanceHealth {
                        equity: event.equity_after as i128,
                        maintenance_requirement: event.maintenance_after as u128,
                    },
                    200_000,
                )
                .unwrap();
                assert!(after > before);
                slices.push(event);
            }
            Err(error) => {
                assert_eq!(error, TxError::Custom(6000 + MicroliqError::NotLiquidatable as u32));
                break;
            }
        }
        assert!(slices.len() < 50);
    }

    // CHECK: several slices; later ones ran above maintenance (hysteresis) until the target.
    assert!(slices.len() >= 3, "{} slices", slices.len());
    assert!(
        slices.iter().any(|s| s.equity_before >= s.maintenance_before as i128),
        "no slice above maintenance"
    );
    let last = slices.last().unwrap();
    assert!(at_target(last.equity_after, last.maintenance_after, 200_000));
    assert!(slices[..slices.len() - 1].iter().all(|s| !at_target(
        s.equity_after,
        s.maintenance_after,
        200_000
    )));
    // The bonus rate ramps with slots once flagged, never below the first.
    assert!(slices.windows(2).all(|w| w[1].slot >= w[0].slot));
    let total_bonus: u64 = slices.iter().map(|s| s.keeper_bonus).sum();
    assert_eq!(ctx.token_balance(&keeper.token).await, total_bonus);
    let account = ctx.margin_account(&alice.account).await;
    assert!(account.positions[0].base > 0, "most of the position survives");
    assert_eq!(account.being_liquidated, 0);
}

#[tokio::test]
async fn gap_below_zero_equity_closes_everything_and_insurance_covers_the_deficit() {
    // SETUP: a gap to $120 — E = 995.05 − 1,980 = −984.95.
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 120.0).await;
    let fund_before = ctx.insurance_fund().await.balance;
    let pool_before = ctx.exchange().await.pool_balance;
    let vault_before = ctx.token_balance(&ctx.ex.quote_vault.clone()).await;

    // ACT
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // CHECK: whole close, no penalty (there was no equity to take it from), the keeper's
    // insolvent-close reward (1 USDC: below 7,920 · 5 %) and then the deficit from insurance.
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!((e.base_closed, e.whole_close, e.remaining_base), (66 * SOL as u64, 2, 0));
    assert_eq!(e.realized_pnl, -1_980 * USDC as i64);
    assert_eq!((e.keeper_bonus, e.insurance_fee, e.insolvent_reward), (0, 0, USDC));
    assert!(e.bankrupt);
    assert_eq!((e.insurance_draw, e.socialized_loss), (984_950_000, 0));
    let b = ctx.events::<BankruptcyResolved>().remove(0);
    assert_eq!(
        (b.margin_account, b.deficit, b.insurance_draw, b.socialized_loss),
        (alice.account, 984_950_000, 984_950_000, 0)
    );
    assert_eq!(b.insurance_balance_after, fund_before - USDC - 984_950_000);
    assert_eq!(b.slot, e.slot);

    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 0);
    let fund = ctx.insurance_fund().await;
    assert_eq!(fund.balance, fund_before - USDC - 984_950_000);
    assert_eq!((fund.total_draws, fund.total_keeper_rewards), (984_950_000, USDC));
    // The pool keeps the full 1,980 loss: 995.05 from her collateral, 984.95 from insurance.
    assert_eq!(ctx.exchange().await.pool_balance, pool_before + 1_980 * USDC as i64);
    assert_eq!(ctx.token_balance(&ctx.ex.quote_vault.clone()).await, vault_before + 984_950_000);
    assert_eq!(ctx.exchange().await.negative_collateral, 0);
    assert_eq!(ctx.token_balance(&keeper.token).await, USDC);
}

#[tokio::test]
async fn insurance_too_small_socializes_the_rest_and_records_it() {
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol())
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(100 * USDC)
        .build()
        .await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 120.0).await;
    let pool_before = ctx.exchange().await.pool_balance;

    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();

    // The keeper's 1 USDC reward comes first, then 99 of the deficit; the pool takes the rest.
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(e.insolvent_reward, USDC);
    assert_eq!((e.insurance_draw, e.socialized_loss), (99 * USDC, 885_950_000));
    assert_eq!(ctx.insurance_fund().await.balance, 0);
    let exchange = ctx.exchange().await;
    assert_eq!(exchange.total_socialized_loss, 885_950_000);
    assert_eq!(exchange.pool_balance, pool_before + 1_980 * USDC as i64 - 885_950_000);
}

#[tokio::test]
async fn per_event_insurance_cap_limits_the_draw() {
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol())
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .with_insurance_cap(200 * USDC)
        .build()
        .await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 120.0).await;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!((e.insurance_draw, e.socialized_loss), (200 * USDC, 784_950_000));
}

#[tokio::test]
async fn several_markets_keeper_picks_which_to_slice() {
    // SETUP: carol is long 10 SOL and 0.2 BTC on 2,000 USDC; BTC falls to $52,000.
    let mut ctx = crate::standard().await;
    let carol = ctx.trader(2_000 * USDC).await;
    ctx.trade(&carol, 0, 10 * SOL).await.unwrap();
    ctx.trade(&carol, 1, 20_000_000).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(1, 52_000.0).await;
    let health = ctx.health(&carol.account).await;
    assert!(health.is_liquidatable());

    // ACT 1: the keeper slices SOL first: closing all of it cannot reach the target.
    let plan = ctx.expected_liquidation(&carol.account, 0, u64::MAX).await;
    assert_eq!(plan.whole_close, Some(WholeClose::TargetUnreachable));
    ctx.liquidate(&keeper, &carol.account, 0).await.unwrap();
    let first = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!((first.market_index, first.whole_close, first.base_closed), (0, 3, 10 * SOL as u64));
    assert_eq!(first.keeper_bonus as u128, plan.outcome.keeper_bonus);

    // ACT 2: still flagged and below target; now BTC, in slices capped at 50 % of the position,
    // until the target is reached.
    let plan = ctx.expected_liquidation(&carol.account, 1, u64::MAX).await;
    let mut slices = Vec::new();
    while ctx.liquidate(&keeper, &carol.account, 1).await.is_ok() {
        slices.push(ctx.events::<LiquidationSliceV3>().remove(0));
        assert!(slices.len() < 10);
    }
    assert_eq!(slices[0].base_closed, plan.outcome.closed_base);
    assert!(slices.len() >= 2, "the first BTC slice is capped by the close factor");
    assert!(slices.iter().all(|s| s.market_index == 1 && s.whole_close == 0));
    let last = slices.last().unwrap();
    assert!(last.remaining_base > 0, "part of the BTC position survives");
    assert!(at_target(last.equity_after, last.maintenance_after, 200_000));
    let bonuses: u64 = first.keeper_bonus + slices.iter().map(|s| s.keeper_bonus).sum::<u64>();
    assert_eq!(ctx.token_balance(&keeper.token).await, bonuses);
}

#[tokio::test]
async fn shorts_are_liquidated_by_buying_back_a_slice() {
    // SETUP: bob shorts 66 SOL at $150; SOL rises to $158 (E = 467.05 < M = 521.4).
    let mut ctx = crate::standard().await;
    let bob = ctx.trader(1_000 * USDC).await;
    ctx.trade(&bob, 0, -66 * SOL).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 158.0).await;
    let plan = ctx.expected_liquidation(&bob.account, 0, u64::MAX).await;

    ctx.liquidate(&keeper, &bob.account, 0).await.unwrap();

    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(e.base_closed, plan.outcome.closed_base);
    assert_eq!(e.remaining_base, -66 * SOL + e.base_closed as i64);
    assert!(e.remaining_base < -40 * SOL, "most of the short survives");
    assert!(at_target(e.equity_after, e.maintenance_after, 200_000));
    assert_eq!(ctx.market(0).await.short_base, e.remaining_base.unsigned_abs());
    assert_eq!(ctx.token_balance(&keeper.token).await, e.keeper_bonus);
}

#[tokio::test]
async fn keeper_max_base_caps_the_slice() {
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 142.0).await;
    let mut liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
    liquidate.max_base = 2 * SOL as u64 + 123; // rounded down to the lot
    let instruction = liquidate.instruction(&ctx.ex);
    ctx.send(&[instruction], &[&keeper.owner]).await.unwrap();
    let e = ctx.events::<LiquidationSliceV3>().remove(0);
    assert_eq!(e.base_closed, 2 * SOL as u64);
    assert!(e.base_closed < e.exact_slice);
    assert_eq!(ctx.margin_account(&alice.account).await.being_liquidated, 1, "still below target: flagged");
}

#[tokio::test]
async fn resolve_bankruptcy_after_a_traders_own_loss() {
    // SETUP: alice closes her own position after a gap and is left with negative collateral.
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    ctx.set_price_usd(0, 120.0).await;
    ctx.trade(&alice, 0, -66 * SOL).await.unwrap();
    let collateral = ctx.margin_account(&alice.account).await.collateral;
    assert!(collateral < 0);
    assert_eq!(ctx.exchange().await.negative_collateral, collateral.unsigned_abs());

    // The admin cannot withdraw the fund below what this deficit needs.
    let (admin_wallet_owner, admin_wallet) = ctx.wallet(0).await;
    let _ = admin_wallet_owner;
    let fund = ctx.insurance_fund().await.balance;
    let too_much = ix::WithdrawInsurance {
        admin: ctx.admin.pubkey(),
        destination: admin_wallet,
        amount: fund - collateral.unsigned_abs() + 1,
    }
    .instruction(&ctx.ex);
    let before = ctx.snapshot_with(&[admin_wallet]).await;
    assert_error(ctx.admin_send(too_much).await, MicroliqError::InsuranceReservedForBadDebt);
    before.assert_unchanged(&ctx.snapshot_with(&[admin_wallet]).await);

    // ACT: anyone resolves it.
    let stranger = ctx.keeper().await;
    let resolve = ix::ResolveBankruptcy { caller: stranger.owner.pubkey(), margin_account: alice.account }
        .instruction(&ctx.ex);
    ctx.send(std::slice::from_ref(&resolve), &[&stranger.owner]).await.unwrap();

    // CHECK
    let b = ctx.events::<BankruptcyResolved>().remove(0);
    assert_eq!(
        (b.deficit, b.insurance_draw, b.socialized_loss),
        (collateral.unsigned_abs(), collateral.unsigned_abs(), 0)
    );
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 0);
    assert_eq!(ctx.exchange().await.negative_collateral, 0);
    // Twice is refused.
    let before = ctx.snapshot_with(&[]).await;
    assert_error(ctx.send(&[resolve], &[&stranger.owner]).await, MicroliqError::NotBankrupt);
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);
    // Now the admin may withdraw all of it.
    let fund = ctx.insurance_fund().await.balance;
    let all = ix::WithdrawInsurance { admin: ctx.admin.pubkey(), destination: admin_wallet, amount: fund }
        .instruction(&ctx.ex);
    ctx.admin_send(all).await.unwrap();
    assert_eq!(ctx.token_balance(&admin_wallet).await, fund);
    assert_eq!(ctx.insurance_fund().await.total_withdrawn, fund);
}

#[tokio::test]
async fn resolve_bankruptcy_refuses_an_account_with_positions() {
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    let stranger = ctx.keeper().await;
    let resolve = ix::ResolveBankruptcy { caller: stranger.owner.pubkey(), margin_account: alice.account }
        .instruction(&ctx.ex);
    let before = ctx.snapshot_with(&[]).await;
    assert_error(ctx.send(&[resolve], &[&stranger.owner]).await, MicroliqError::NotBankrupt);
    before.assert_unchanged(&ctx.snapshot_with(&[]).await);
}

// --- bad inputs: each asserts the named error and that nothing changed -------------------------

async fn liquidatable_alice() -> (TestContext, Trader, Keeper) {
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(0, 142.0).await;
    (ctx, alice, keeper)
}

async fn refused(
    ctx: &mut TestContext,
    liquidate: ix::Liquidate,
    signer: &solana_sdk::signature::Keypair,
    expected: MicroliqError,
) {
    let extra = [liquidate.keeper_token];
    let before = ctx.snapshot_with(&extra).await;
    let instruction = liquidate.instruction(&ctx.ex);
    assert_error(ctx.send(&[instruction], &[signer]).await, expected);
    before.assert_unchanged(&ctx.snapshot_with(&extra).await);
}

#[tokio::test]
async fn healthy_account_is_not_liquidatable() {
    let mut ctx = crate::standard().await;
    let alice = ten_x_long(&mut ctx).await;
    let keeper = ctx.keeper().await;
    let liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
    refused(&mut ctx, liquidate, &keeper.owner, MicroliqError::NotLiquidatable).await;
}

#[tokio::test]
async fn owner_and_delegate_cannot_liquidate() {
    let (mut ctx, alice, keeper) = liquidatable_alice().await;
    let mut own = ctx.liquidation(&keeper, &alice.account, 0).await;
    own.keeper = alice.owner.pubkey();
    own.keeper_token = alice.token;
    refused(&mut ctx, own, &alice.owner, MicroliqError::CannotLiquidateOwnAccount).await;
    let set = ix::SetDelegate {
        owner: alice.owner.pubkey(),
        margin_account: alice.account,
        delegate: keeper.owner.pubkey(),
    }
    .instruction(&ctx.ex);
    ctx.send(&[set], &[&alice.owner]).await.unwrap();
    let delegate = ctx.liquidation(&keeper, &alice.account, 0).await;
    refused(&mut ctx, delegate, &keeper.owner, MicroliqError::CannotLiquidateOwnAccount).await;
}

#[tokio::test]
async fn stale_or_uncertain_prices_refuse_liquidation() {
    let (mut ctx, alice, keeper) = liquidatable_alice().await;
    let now = ctx.clock().await.unix_timestamp;
    ctx.set_price(0, PythPrice { publish_time: now - 61, ..PythPrice::usd(142.0) }).await;
    let liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
    refused(&mut ctx, liquidate, &keeper.owner, MicroliqError::OracleStale).await;
    ctx.set_price(0, PythPrice::usd(142.0).with_conf(300_000_000)).await; // 2.1 %
    let liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
    refused(&mut ctx, liquidate, &keeper.owner, MicroliqError::OracleConfidenceTooWide).await;
}

#[tokio::test]
async fn wrong_oracle_market_or_missing_position_is_refused() {
    let (mut ctx, alice, keeper) = liquidatable_alice().await;
    let mut wrong_oracle = ctx.liquidation(&keeper, &alice.account, 0).await;
    wrong_oracle.oracle = ctx.markets[1].oracle;
    refused(&mut ctx, wrong_oracle, &keeper.owner, MicroliqError::WrongOracle).await;
    let mut wrong_index = ctx.liquidation(&keeper, &alice.account, 0).await;
    wrong_index.market_index = 1;
    refused(&mut ctx, wrong_index, &keeper.owner, MicroliqError::WrongMarket).await;
    // BTC: a market alice holds no position in.
    let mut no_position = ctx.liquidation(&keeper, &alice.account, 0).await;
    no_position.market = ctx.markets[1].market;
    no_position.oracle = ctx.markets[1].oracle;
    no_position.market_index = 1;
    refused(&mut ctx, no_position, &keeper.owner, MicroliqError::NoPositionInMarket).await;
}

#[tokio::test]
async fn wrong_keeper_token_account_is_refused() {
    let (mut ctx, alice, keeper) = liquidatable_alice().await;
    // Owned by someone else.
    let mut not_keepers = ctx.liquidation(&keeper, &alice.account, 0).await;
    not_keepers.keeper_token = alice.token;
    refused(&mut ctx, not_keepers, &keeper.owner, MicroliqError::WrongTokenOwner).await;
    // Another mint.
    let other = solana_sdk::signature::Keypair::new();
    ctx.create_mint(&other, 6).await;
    let other_token = ctx.token_account(&other.pubkey(), &keeper.owner.pubkey()).await;
    let mut wrong_mint = ctx.liquidation(&keeper, &alice.account, 0).await;
    wrong_mint.keeper_token = other_token;
    refused(&mut ctx, wrong_mint, &keeper.owner, MicroliqError::WrongMint).await;
}

#[tokio::test]
async fn wrong_vaults_are_refused() {
    let (mut ctx, alice, keeper) = liquidatable_alice().await;
    for (index, replacement) in [(7usize, ctx.ex.insurance_vault), (8usize, ctx.ex.quote_vault)] {
        let liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
        let mut instruction = liquidate.instruction(&ctx.ex);
        instruction.accounts[index].pubkey = replacement;
        let before = ctx.snapshot_with(&[keeper.token]).await;
        assert_error(ctx.send(&[instruction], &[&keeper.owner]).await, MicroliqError::WrongVault);
        before.assert_unchanged(&ctx.snapshot_with(&[keeper.token]).await);
    }
}

#[tokio::test]
async fn paused_liquidations_are_refused() {
    let (mut ctx, alice, keeper) = liquidatable_alice().await;
    let admin = ctx.admin.pubkey();
    let market = ctx.markets[0].market;
    ctx.admin_send(
        ix::SetPause { admin, market: Some(market), paused: pause::LIQUIDATE }.instruction(&ctx.ex),
    )
    .await
    .unwrap();
    let liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
    refused(&mut ctx, liquidate, &keeper.owner, MicroliqError::Paused).await;
    ctx.admin_send(ix::SetPause { admin, market: Some(market), paused: 0 }.instruction(&ctx.ex))
        .await
        .unwrap();
    ctx.admin_send(ix::SetPause { admin, market: None, paused: pause::LIQUIDATE }.instruction(&ctx.ex))
        .await
        .unwrap();
    let liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
    refused(&mut ctx, liquidate, &keeper.owner, MicroliqError::Paused).await;
}

#[tokio::test]
async fn zero_max_base_is_refused() {
    let (mut ctx, alice, keeper) = liquidatable_alice().await;
    let mut liquidate = ctx.liquidation(&keeper, &alice.account, 0).await;
    liquidate.max_base = 0;
    refused(&mut ctx, liquidate, &keeper.owner, MicroliqError::ZeroAmount).await;
}

#[tokio::test]
async fn remaining_accounts_missing_or_out_of_order_are_refused() {
    // carol holds SOL, BTC and a third market; liquidating SOL needs BTC and SOL-2, ascending.
    let mut ctx = crate::standard().await;
    let third = ctx.add_market(MarketSpec::sol()).await;
    let carol = ctx.trader(3_000 * USDC).await;
    ctx.trade(&carol, 0, 10 * SOL).await.unwrap();
    ctx.trade(&carol, 1, 20_000_000).await.unwrap();
    ctx.trade(&carol, 2, 10 * SOL).await.unwrap();
    let keeper = ctx.keeper().await;
    ctx.set_price_usd(1, 45_000.0).await;
    assert!(ctx.health(&carol.account).await.is_liquidatable());
    let btc = ctx.markets[1].pair();
    let sol2 = third.pair();
    for (pairs, expected) in [
        (vec![btc], MicroliqError::HealthAccountsMissing),
        (vec![sol2, btc], MicroliqError::HealthAccountsOutOfOrder),
        (vec![], MicroliqError::HealthAccountsMissing),
    ] {
        let mut liquidate = ctx.liquidation(&keeper, &carol.account, 0).await;
        liquidate.health_accounts = pairs;
        refused(&mut ctx, liquidate, &keeper.owner, expected).await;
    }
    ctx.liquidate(&keeper, &carol.account, 0).await.unwrap();
}
