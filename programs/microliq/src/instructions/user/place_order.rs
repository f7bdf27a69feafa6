use anchor_lang::prelude::*;

use crate::error::MicroliqError;
use crate::events::OrderFilledV2;
use crate::health_accounts::{episode_end, HealthMarkets, MarketSnapshot};
use crate::math::{self, apply_rate, Checked, Rounding};
use crate::oracle::{read_oracle, OracleClock};
use crate::settlement::{advance_funding, settle_funding};
use crate::state::{pause, Exchange, MarginAccount, Market};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct PlaceOrderArgs {
    /// Signed base atoms: buy (> 0) or sell (< 0); a multiple of the market's base lot, or
    /// exactly the opposite of the open position (closing it whatever the lot, so a lot change
    /// never strands a position). An order larger than the position on the other side closes it
    /// and opens the rest the other way.
    pub base_delta: i64,
    /// Worst acceptable fill price, fixed point (quote atoms per base atom × 1e12): the most a
    /// buy pays, the least a sell receives.
    pub limit_price: u64,
}

/// A market order against the pool at the oracle price, with a taker fee to the pool.
///
/// Advances the market's funding index and settles the position's funding first (`OrderFilledV2`
/// carries what was settled).
///
/// Reducing is always allowed (only oracle validity and the pause flag apply). An order that
/// adds risk (opens, increases, or flips) must pass the EMA circuit breaker, the open-interest
/// cap, and leave `E' − I ≥ 0` at conservative prices.
///
/// Remaining accounts (only read when the order adds risk): `(market, oracle)` for every *other*
/// market the account holds a position in, ascending market index.
#[derive(Accounts)]
pub struct PlaceOrder<'info> {
    pub trader: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: the market's Pyth price account; validated by `read_oracle`.
    pub oracle: UncheckedAccount<'info>,
}

impl PlaceOrder<'_> {
    pub fn validate(&self, args: &PlaceOrderArgs) -> Result<()> {
        require!(
            self.margin_account.load()?.is_owner_or_delegate(&self.trader.key()),
            MicroliqError::NotOwnerOrDelegate
        );
        require!(args.base_delta != 0, MicroliqError::ZeroAmount);
        let market = self.market.load()?;
        let lot = market.params.base_lot_size;
        let account = self.margin_account.load()?;
        let closes_exactly = account
            .position_index(market.market_index)
            .is_some_and(|slot| account.positions[slot].base.checked_add(args.base_delta) == Some(0));
        require!(args.base_delta.unsigned_abs() % lot == 0 || closes_exactly, MicroliqError::NotLotMultiple);
        Ok(())
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle<'info>(ctx: Context<'_, '_, 'info, 'info, Self>, args: PlaceOrderArgs) -> Result<()> {
        let accounts = ctx.accounts;
        let clock = OracleClock::get()?;
        let mut exchange = accounts.exchange.load_mut()?;
        let mut account = accounts.margin_account.load_mut()?;
        let mut market = accounts.market.load_mut()?;
        let market_index = market.market_index;
        let oracle = read_oracle(&accounts.oracle, &market, &exchange, &clock)?;

        // Funding first: the index moves at the skew that held until now, and the position
        // (if any) settles what it accrued before its size changes.
        advance_funding(&mut market, &exchange, clock.unix_timestamp)?;
        let slot = account.position_slot_for(market_index)?;
        let funding_settled = settle_funding(&mut exchange, &mut market, &mut account, slot, &oracle.price)?;
        let old = account.positions[slot];
        let (old_base, old_entry) = if old.is_open() { (old.base, old.entry_quote) } else { (0, 0) };
        let outcome = math::apply_trade(old_base, old_entry, args.base_delta, &oracle.price)?;

        let action = if outcome.adds_risk() { pause::INCREASE } else { pause::REDUCE };
        exchange.require_not_paused(action)?;
        market.require_not_paused(action)?;
        // Every fill needs a price inside the trading window (a close at a lagging price is as
        // much a trade against the pool as an open); adding risk also needs the EMA breaker.
        if outcome.adds_risk() {
            oracle.require_fit_to_add_risk()?;
        } else {
            oracle.require_fresh_for_trading()?;
        }
        let fill_price = if args.base_delta > 0 { oracle.price.oracle_high } else { oracle.price.oracle_low };
        let within_limit = if args.base_delta > 0 {
            fill_price <= args.limit_price as u128
        } else {
            fill_price >= args.limit_price as u128
        };
        require!(within_limit, MicroliqError::SlippageExceeded);

        // Open interest: replace the old contribution with the new one.
        market.apply_open_interest(old_base, old_entry, false)?;
        market.apply_open_interest(outcome.new_base, outcome.new_entry_quote, true)?;
        if outcome.adds_risk() {
            let side_base = if outcome.new_base > 0 { market.long_base } else { market.short_base };
            require!(side_base <= market.params.max_open_interest, MicroliqError::OpenInterestCap);
        }

        // Fee on the whole traded notional, rounded up (the trader pays).
        let fee =
            math::to_u64(apply_rate(outcome.traded_notional, market.params.taker_fee_rate, Rounding::Up)?)?;
        let fee_signed = i64::try_from(fee).map_err(|_| error!(MicroliqError::MathOverflow))?;
        let realized_pnl = math::to_i64(outcome.realized_pnl)?;
        let collateral_change = realized_pnl.sub_or_err(fee_signed)?;
        exchange.change_collateral(&mut account.collateral, collateral_change)?;
        // The pool is the counterparty: it pays the trader's profit (or keeps the loss) and the
        // fee. A profit is paid only while the pool still covers every realized deficit.
        exchange.pool_balance = exchange.pool_balance.sub_or_err(collateral_change)?;
        // Net of the funding settled first: a receipt never blocks a close that pays the pool.
        if (collateral_change as i128) + (funding_settled as i128) > 0 {
            exchange.require_pool_covers_deficits()?;
        }
        exchange.total_fees = exchange.total_fees.add_or_err(fee)?;
        market.total_fees = market.total_fees.add_or_err(fee)?;
        market.total_volume_base = market.total_volume_base.add_or_err(args.base_delta.unsigned_abs())?;

        let position = &mut account.positions[slot];
        position.base = outcome.new_base;
        position.entry_quote = outcome.new_entry_quote;
        position.market_index = if outcome.new_base == 0 { 0 } else { market_index };
        account.trade_count = account.trade_count.saturating_add(1);
        // Flat: the next position starts afresh, whatever a past liquidation recorded (a
        // repeat breach is about a position the market already took through a liquidation).
        if account.open_position_count() == 0 {
            account.forget_recovery();
        }

        let mut episode_ended = None;
        if outcome.adds_risk() {
            let mut markets = HealthMarkets::default();
            markets.push(MarketSnapshot::advanced(&market, &oracle, market.funding_index))?;
            markets.load_others(
                ctx.remaining_accounts,
                &accounts.exchange.key(),
                &exchange,
                &account,
                Some((market_index, &accounts.market.key())),
                &clock,
            )?;
            markets.require_initial_health(&account)?;
            // Initial margin can sit below a large-β end target: the episode ends only there.
            if account.being_liquidated == 1 && markets.at_end_target(&account)? {
                episode_ended =
                    Some(episode_end(&accounts.margin_account.key(), &account, &markets, clock.slot)?);
                account.clear_liquidation_flag();
            }
        }
        account.invariant()?;
        market.invariant()?;
        exchange.invariant()?;

        emit!(OrderFilledV2 {
            margin_account: accounts.margin_account.key(),
            market_index,
            base_delta: args.base_delta,
            fill_price: math::to_u64(fill_price)?,
            realized_pnl,
            fee,
            base_after: outcome.new_base,
            entry_quote_after: outcome.new_entry_quote,
            collateral_after: account.collateral,
            funding_settled,
        });
        if let Some(event) = episode_ended {
            emit!(event);
        }
        Ok(())
    }
}
