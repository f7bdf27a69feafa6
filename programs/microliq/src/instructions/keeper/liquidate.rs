use anchor_lang::prelude::*;
use anchor_spl::token::Token;

use crate::error::MicroliqError;
use crate::events::{BankruptcyResolved, LiquidationEpisodeEndedV2, LiquidationSliceV3};
use crate::health_accounts::{HealthMarkets, MarketSnapshot};
use crate::instructions::keeper::bankruptcy::{is_bankrupt, resolve_bankruptcy, BankruptcyResolution};
use crate::math::{self, target_margin_scaled, Checked, LiquidationTarget, PositionRisk, WholeClose};
use crate::oracle::{read_oracle, OracleClock};
use crate::settlement::{advance_funding, settle_funding};
use crate::state::{pause, Exchange, InsuranceFund, MarginAccount, Market, MAX_POSITIONS};
use crate::token_ops::ExchangeSigner;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct LiquidateArgs {
    /// The market whose position is sliced (must match the `market` account).
    pub market_index: u16,
    /// Most base atoms the keeper wants closed in this call (rounded down to the lot, at least
    /// one lot). `u64::MAX` for no cap of the keeper's own; whole-close rules may exceed it.
    pub max_base: u64,
}

/// Permissionless micro-liquidation: closes the smallest slice of one position that brings the
/// account back to `E ≥ (1 + β)·M` (see `math::liquidation` for the formula and every cap), at
/// the oracle price against the pool, and pays the keeper's bonus to `keeper_token` and the
/// insurance fee to the insurance vault. When the account is left with no position and negative
/// collateral, the bankruptcy waterfall runs in the same call.
///
/// An account may be liquidated when `E < M`, or — in a live episode, started by a slice that
/// left it short of its end target — for as long as it stays below `E < (1 + β)·M`
/// (hysteresis). The episode ends as soon as the account is seen at or above its target (this
/// call then closes nothing, emits `LiquidationEpisodeEndedV2` and succeeds, so the end is
/// recorded), and lapses when its latest slice is older than `liquidation_episode_slots`.
///
/// A new episode within `repeat_liquidation_window_slots` of the account's last recovery (an
/// episode that ended at its target), judged on prices published after it, is a repeat breach:
/// a losing position (unrealized PnL `≤ 0`) is closed whole (`whole_close` 5, no close factor),
/// a winner is sliced (docs/LIQUIDATION.md, "Repeat breaches").
///
/// Remaining accounts: `(market, oracle)` for every *other* market the account holds a position
/// in, ascending market index. Pass those markets **writable**: when the account is insolvent
/// (`E ≤ 0`), its losing positions there are closed in the same call (one `LiquidationSliceV3`
/// each, after the named market's; their funding settled first) and its deficit resolved; read-only markets are left open.
#[derive(Accounts)]
pub struct Liquidate<'info> {
    pub keeper: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: the market's Pyth price account; validated by `read_oracle`.
    pub oracle: UncheckedAccount<'info>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub insurance_fund: AccountLoader<'info, InsuranceFund>,
    /// CHECK: an SPL Token account of the quote mint owned by `keeper`, read in place in
    /// `validate` (`token_ops::require_token_account`; an `Account<TokenAccount>` costs ~700 CU).
    #[account(mut)]
    pub keeper_token: UncheckedAccount<'info>,
    /// CHECK: the exchange's quote vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.quote_vault @ MicroliqError::WrongVault)]
    pub quote_vault: UncheckedAccount<'info>,
    /// CHECK: the exchange's insurance vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.insurance_vault @ MicroliqError::WrongVault)]
    pub insurance_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

impl Liquidate<'_> {
    pub fn validate(&self, args: &LiquidateArgs) -> Result<()> {
        require!(
            !self.margin_account.load()?.is_owner_or_delegate(&self.keeper.key()),
            MicroliqError::CannotLiquidateOwnAccount
        );
        require!(args.max_base > 0, MicroliqError::ZeroAmount);
        crate::token_ops::require_token_account(
            &self.keeper_token,
            &self.exchange.load()?.quote_mint,
            self.keeper.key,
        )?;
        let market = self.market.load()?;
        require!(market.market_index == args.market_index, MicroliqError::WrongMarket);
        market.require_not_paused(pause::LIQUIDATE)?;
        self.exchange.load()?.require_not_paused(pause::LIQUIDATE)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle<'info>(ctx: Context<'_, '_, 'info, 'info, Self>, args: LiquidateArgs) -> Result<()> {
        let accounts = ctx.accounts;
        let clock = Clock::get()?;
        let mut exchange = accounts.exchange.load_mut()?;
        let mut account = accounts.margin_account.load_mut()?;
        let mut market = accounts.market.load_mut()?;
        let mut fund = accounts.insurance_fund.load_mut()?;
        let market_index = market.market_index;
        let slot_index = account.position_index(market_index).ok_or(MicroliqError::NoPositionInMarket)?;

        // Prices: this market as a named account, every other one from remaining accounts.
        let oracle = read_oracle(&accounts.oracle, &market, &exchange, &OracleClock::from(&clock))?;
        // Funding: the named market's index moves to now and the sliced position settles into
        // collateral; the others' unsettled funding is counted in health (the plan is the same
        // either way: math::LiquidationTarget settles the chosen position's funding first).
        let now = clock.unix_timestamp;
        advance_funding(&mut market, &exchange, now)?;
        let funding_settled =
            settle_funding(&mut exchange, &mut market, &mut account, slot_index, &oracle.price)?;
        let mut markets = HealthMarkets::default();
        markets.push(MarketSnapshot::advanced(&market, &oracle, market.funding_index))?;
        markets.note_price_time(oracle.publish_time);
        markets.load_others(
            ctx.remaining_accounts,
            &accounts.exchange.key(),
            &exchange,
            &account,
            Some((market_index, &accounts.market.key())),
            &OracleClock::from(&clock),
        )?;
        let mut risks = [PositionRisk::default(); MAX_POSITIONS];
        let count = markets.fill_positions(&account, &mut risks)?;
        let index = account.risk_index(market_index).ok_or(MicroliqError::NoPositionInMarket)?;

        // The episode: a flag set by a slice that left the account short of its target. It is
        // live while its latest slice is recent; a lapsed one is over whatever prices did since.
        let was_flagged = account.being_liquidated == 1;
        let live = account.episode_live(clock.slot, exchange.liquidation_episode_slots);
        let slots_since_flagged = account.slots_in_episode(clock.slot, exchange.liquidation_episode_slots);
        let episode_start_slot = account.liquidation_start_slot;
        let escalated = account.liquidation_escalated(
            clock.slot,
            exchange.liquidation_episode_slots,
            exchange.repeat_liquidation_window_slots,
            markets.oldest_price_time().unwrap_or(i64::MIN),
        );
        if was_flagged && !live {
            account.clear_liquidation_flag();
        }

        // Plan the slice with the program's own (pure) liquidation math. The end target is the
        // account's: β is the largest buffer among its markets, whichever market is sliced.
        let mut params = market.params.liquidation();
        params.liquidation_buffer = markets.liquidation_buffer(&account);
        let target = LiquidationTarget {
            collateral: account.collateral,
            positions: &risks[..count],
            index,
            escalated,
        };
        let plan = math::plan_liquidation(&target, slots_since_flagged, args.max_base, &params)?;
        let margin_before = target_margin_scaled(&plan.health_before, params.liquidation_buffer)?;
        // Liquidatable below maintenance; in a live episode, until the end target is reached.
        let liquidatable = plan.health_before.is_liquidatable() || (live && margin_before < 0);
        if !liquidatable {
            // A flagged account at or above its target (a price move or a deposit brought it
            // there), or whose episode lapsed above maintenance: the episode is over. Record
            // that, so that a later dip into the hysteresis band does not resume it.
            require!(was_flagged, MicroliqError::NotLiquidatable);
            account.clear_liquidation_flag();
            // Back at its target within a live episode (not merely lapsed above maintenance, nor
            // found there days after a keeper let the episode lapse): a recovery, which a new
            // breach within the repeat window follows as a repeat.
            if live && margin_before >= 0 {
                account.record_recovery(clock.slot, markets.recovery_time(now));
            }
            // The funding settled above is a payout like any other (hostile review: this return
            // once skipped the check and let a receipt take the pool below zero).
            if funding_settled > 0 {
                exchange.require_pool_covers_deficits()?;
            }
            account.invariant()?;
            market.invariant()?;
            exchange.invariant()?;
            let event = LiquidationEpisodeEndedV2 {
                margin_account: accounts.margin_account.key(),
                episode_start_slot,
                equity: plan.health_before.equity,
                maintenance_requirement: plan.health_before.maintenance_requirement,
                slot: clock.slot,
                funding_settled,
            };
            drop((exchange, account, market, fund));
            emit!(event);
            return Ok(());
        }

        let outcome = plan.outcome;
        let size = risks[index].base.unsigned_abs();
        let margin_after = target_margin_scaled(&outcome.health_after, params.liquidation_buffer)?;
        // Post-conditions: health strictly improves or the position is closed; never more than
        // the exact slice plus one lot unless a whole-close rule applies.
        require!(
            margin_after > margin_before || outcome.closed_base == size,
            MicroliqError::LiquidationDidNotImprove
        );
        require!(
            outcome.closed_base <= plan.exact_slice.saturating_add(params.base_lot_size)
                || plan.whole_close.is_some(),
            MicroliqError::InvariantViolated
        );
        require!(
            plan.health_before.equity <= 0 || outcome.health_after.equity >= 0,
            MicroliqError::InvariantViolated
        );
        // The executed slice fits the i64 ledgers (MAX_SLICE_NOTIONAL keeps it so).
        let realized_pnl = math::to_i64(outcome.trade.realized_pnl)?;
        let keeper_bonus = math::to_u64(outcome.keeper_bonus)?;
        let insurance_fee = math::to_u64(outcome.insurance_fee)?;
        let collateral_after = math::to_i64(outcome.collateral_after)?;

        // Apply: the slice closes against the pool at the oracle price.
        let old = account.positions[slot_index];
        market.apply_open_interest(old.base, old.entry_quote, false)?;
        market.apply_open_interest(outcome.trade.new_base, outcome.trade.new_entry_quote, true)?;
        market.total_liquidated_base = market.total_liquidated_base.add_or_err(outcome.closed_base)?;
        let position = &mut account.positions[slot_index];
        position.base = outcome.trade.new_base;
        position.entry_quote = outcome.trade.new_entry_quote;
        if position.base == 0 {
            position.market_index = 0;
        }
        let collateral_change = collateral_after.sub_or_err(account.collateral)?;
        exchange.change_collateral(&mut account.collateral, collateral_change)?;
        exchange.pool_balance = exchange.pool_balance.sub_or_err(realized_pnl)?;
        // A profit (net of the funding settled first: a receipt alone never blocks a
        // liquidation that pays the pool) is paid out of the pool only while it still covers
        // the open deficits.
        if (realized_pnl as i128) + (funding_settled as i128) > 0 {
            exchange.require_pool_covers_deficits()?;
        }
        fund.balance = fund.balance.add_or_err(insurance_fee)?;
        fund.total_contributions = fund.total_contributions.add_or_err(insurance_fee)?;
        // An insolvent close pays no penalty; the insurance fund pays the keeper a small reward
        // so that the remainder never waits for an altruist.
        let insolvent_reward = if plan.whole_close == Some(WholeClose::Insolvent) {
            math::insolvent_close_reward(
                outcome.closed_notional,
                risks[index].maintenance_rate,
                exchange.insolvent_close_reward,
                fund.balance,
            )?
        } else {
            0
        };
        fund.balance = fund.balance.sub_or_err(insolvent_reward)?;
        fund.total_keeper_rewards = fund.total_keeper_rewards.add_or_err(insolvent_reward)?;
        exchange.total_liquidations = exchange.total_liquidations.add_or_err(1)?;
        account.record_slice(clock.slot, markets.recovery_time(now), escalated, margin_after >= 0);

        // An insolvent account's other losing positions are closed in the same call when their
        // markets are passed writable: its losses are realized and its deficit resolved at once,
        // so no insolvent remainder waits for another keeper (LP valuation cannot see one that
        // nets inside a side: docs/POOL.md).
        // (On the heap: `liquidate`'s frame is close to SBF's 4 KiB stack limit.)
        let mut others: Vec<OtherClose> = Vec::new();
        // Every insolvent-close reward of this call (the named market's and the others').
        let mut rewards_paid = insolvent_reward;
        let mut others_received = false;
        if plan.whole_close == Some(WholeClose::Insolvent) {
            let (rewards, received) = close_insolvent_others(
                ctx.remaining_accounts,
                &markets,
                &mut exchange,
                &mut fund,
                &mut account,
                now,
                &mut others,
            )?;
            rewards_paid = rewards_paid.add_or_err(rewards)?;
            others_received = received;
            if account.open_position_count() == 0 {
                account.forget_recovery();
            }
        }

        let bankruptcy = if is_bankrupt(&account) {
            Some(resolve_bankruptcy(&mut exchange, &mut fund, &mut account)?)
        } else {
            None
        };
        let resolution = bankruptcy.unwrap_or_default();
        // Funding paid to the other positions closed: the pool covers the deficits left after
        // the bankruptcy waterfall.
        if others_received {
            exchange.require_pool_covers_deficits()?;
        }
        account.invariant()?;
        market.invariant()?;
        exchange.invariant()?;
        fund.invariant()?;

        let event = LiquidationSliceV3 {
            margin_account: accounts.margin_account.key(),
            owner: account.owner,
            market_index,
            keeper: accounts.keeper.key(),
            base_closed: outcome.closed_base,
            exact_slice: plan.exact_slice,
            whole_close: WholeClose::code(plan.whole_close),
            fill_price: math::to_u64(risks[index].price.mark_for(risks[index].base))?,
            oracle_price: oracle.raw_price,
            oracle_conf: oracle.raw_conf,
            oracle_expo: oracle.expo,
            realized_pnl,
            bonus_rate: plan.bonus_rate,
            keeper_bonus,
            insurance_fee,
            insolvent_reward,
            equity_before: plan.health_before.equity,
            maintenance_before: plan.health_before.maintenance_requirement,
            equity_after: outcome.health_after.equity,
            maintenance_after: outcome.health_after.maintenance_requirement,
            liquidation_buffer: params.liquidation_buffer,
            episode_start_slot: account.liquidation_start_slot,
            remaining_base: outcome.trade.new_base,
            bankrupt: bankruptcy.is_some(),
            insurance_draw: resolution.insurance_draw,
            socialized_loss: resolution.socialized_loss,
            slot: clock.slot,
            funding_settled,
        };
        let insurance_balance_after = fund.balance;
        let (bump, quote_mint) = (exchange.bump, exchange.quote_mint);
        drop((exchange, account, market, fund));

        // Tokens: the bonus to the keeper from the quote vault, the insolvent reward from the
        // insurance vault; the insurance fee and the bankruptcy draw are netted into one transfer
        // between the two vaults.
        let exchange_info = accounts.exchange.to_account_info();
        let signer = ExchangeSigner { exchange: &exchange_info, quote_mint, bump };
        let token_program = accounts.token_program.to_account_info();
        let quote_vault = accounts.quote_vault.to_account_info();
        let insurance_vault = accounts.insurance_vault.to_account_info();
        let keeper_token = accounts.keeper_token.to_account_info();
        if keeper_bonus > 0 {
            signer.transfer(&token_program, &quote_vault, &keeper_token, keeper_bonus)?;
        }
        if rewards_paid > 0 {
            signer.transfer(&token_program, &insurance_vault, &keeper_token, rewards_paid)?;
        }
        move_between_vaults(
            &signer,
            &token_program,
            &quote_vault,
            &insurance_vault,
            insurance_fee,
            &resolution,
        )?;

        // One event per closed position: the named one first (a keeper reads the first), then
        // the insolvent account's other markets, each at unchanged equity (a close at the mark
        // price realizes exactly the unrealized PnL) and a falling requirement.
        emit_slices(&event, &others);
        if let Some(resolution) = bankruptcy {
            emit!(BankruptcyResolved {
                margin_account: accounts.margin_account.key(),
                deficit: resolution.deficit,
                insurance_draw: resolution.insurance_draw,
                socialized_loss: resolution.socialized_loss,
                insurance_balance_after,
                slot: clock.slot,
            });
        }
        Ok(())
    }
}

/// Emits the named market's slice, then one per other position an insolvent close took, each at
/// unchanged equity (a close at the mark price realizes exactly the unrealized PnL) and a
/// falling requirement. Never inlined (stack, as above).
#[inline(never)]
fn emit_slices(event: &LiquidationSliceV3, others: &[OtherClose]) {
    crate::event_log::emit_slice(event);
    let mut maintenance = event.maintenance_after;
    for close in others {
        let maintenance_before = maintenance;
        maintenance = maintenance.saturating_sub(close.requirement);
        crate::event_log::emit_slice(&LiquidationSliceV3 {
            market_index: close.market_index,
            base_closed: close.base_closed,
            exact_slice: close.base_closed,
            whole_close: WholeClose::code(Some(WholeClose::Insolvent)),
            fill_price: close.fill_price,
            oracle_price: close.oracle_price,
            oracle_conf: close.oracle_conf,
            oracle_expo: close.oracle_expo,
            realized_pnl: close.realized_pnl,
            bonus_rate: 0,
            keeper_bonus: 0,
            insurance_fee: 0,
            insolvent_reward: close.reward,
            equity_before: event.equity_after,
            maintenance_before,
            maintenance_after: maintenance,
            episode_start_slot: 0,
            remaining_base: 0,
            insurance_draw: 0,
            socialized_loss: 0,
            funding_settled: close.funding,
            ..*event
        });
    }
}

/// Moves `to_insurance` quote atoms to the insurance vault and `resolution.insurance_draw` back,
/// as one net transfer.
pub fn move_between_vaults<'info>(
    signer: &ExchangeSigner<'_, 'info>,
    token_program: &AccountInfo<'info>,
    quote_vault: &AccountInfo<'info>,
    insurance_vault: &AccountInfo<'info>,
    to_insurance: u64,
    resolution: &BankruptcyResolution,
) -> Result<()> {
    let draw = resolution.insurance_draw;
    if to_insurance > draw {
        signer.transfer(token_program, quote_vault, insurance_vault, to_insurance - draw)
    } else if draw > to_insurance {
        signer.transfer(token_program, insurance_vault, quote_vault, draw - to_insurance)
    } else {
        Ok(())
    }
}

/// An insolvent account's other losing positions, closed in markets passed writable (each market
/// advanced and the position's funding settled first). Fills `others` and returns the
/// insolvent-close rewards paid and whether any position there received funding. Never inlined:
/// `liquidate`'s own frame is close to SBF's 4 KiB stack limit.
#[inline(never)]
fn close_insolvent_others<'info>(
    remaining: &'info [AccountInfo<'info>],
    markets: &HealthMarkets,
    exchange: &mut Exchange,
    fund: &mut InsuranceFund,
    account: &mut MarginAccount,
    now: i64,
    others: &mut Vec<OtherClose>,
) -> Result<(u64, bool)> {
    let mut rewards = 0u64;
    let mut received = false;
    for pair in remaining.chunks_exact(2) {
        if !pair[0].is_writable {
            continue;
        }
        let loader = AccountLoader::<Market>::try_from(&pair[0])?;
        let mut other = loader.load_mut()?;
        // A market whose liquidations are paused is left alone, as if named.
        if other.require_not_paused(pause::LIQUIDATE).is_err() {
            continue;
        }
        let Some(snapshot) = markets.get(other.market_index) else { continue };
        let Some(slot) = account.position_index(other.market_index) else { continue };
        advance_funding(&mut other, exchange, now)?;
        let funding = settle_funding(exchange, &mut other, account, slot, &snapshot.price)?;
        received |= funding > 0;
        let position = account.positions[slot];
        let trade = math::apply_trade(position.base, position.entry_quote, -position.base, &snapshot.price)?;
        // Profits stay open (closing them would need the pool's cash); so do positions
        // beyond one call's ledger range.
        if trade.realized_pnl > 0 || trade.traded_notional > math::MAX_SLICE_NOTIONAL {
            continue;
        }
        let realized = math::to_i64(trade.realized_pnl)?;
        let size = position.base.unsigned_abs();
        other.apply_open_interest(position.base, position.entry_quote, false)?;
        other.total_liquidated_base = other.total_liquidated_base.add_or_err(size)?;
        other.invariant()?;
        account.positions[slot] = Default::default();
        exchange.change_collateral(&mut account.collateral, realized)?;
        exchange.pool_balance = exchange.pool_balance.sub_or_err(realized)?;
        let risk = PositionRisk {
            base: position.base,
            entry_quote: position.entry_quote,
            price: snapshot.price,
            maintenance_rate: snapshot.maintenance_rate,
            initial_rate: snapshot.initial_rate,
            funding: 0,
        };
        let reward = math::insolvent_close_reward(
            trade.traded_notional,
            snapshot.maintenance_rate,
            exchange.insolvent_close_reward,
            fund.balance,
        )?;
        fund.balance = fund.balance.sub_or_err(reward)?;
        fund.total_keeper_rewards = fund.total_keeper_rewards.add_or_err(reward)?;
        rewards = rewards.add_or_err(reward)?;
        exchange.total_liquidations = exchange.total_liquidations.add_or_err(1)?;
        others.push(OtherClose {
            market_index: other.market_index,
            base_closed: size,
            fill_price: math::to_u64(snapshot.price.mark_for(position.base))?,
            oracle_price: snapshot.raw_price,
            oracle_conf: snapshot.raw_conf,
            oracle_expo: snapshot.expo,
            realized_pnl: realized,
            reward,
            requirement: risk.maintenance_requirement()?,
            funding,
        });
    }
    Ok((rewards, received))
}

/// What an insolvent account's other closed position needs for its event.
#[derive(Clone, Copy, Default)]
struct OtherClose {
    market_index: u16,
    base_closed: u64,
    fill_price: u64,
    oracle_price: i64,
    oracle_conf: u64,
    oracle_expo: i32,
    realized_pnl: i64,
    reward: u64,
    requirement: u128,
    funding: i64,
}
