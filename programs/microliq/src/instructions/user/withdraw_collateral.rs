use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::CollateralWithdrawnV2;
use crate::health_accounts::{episode_end, HealthMarkets};
use crate::oracle::OracleClock;
use crate::state::{pause, Exchange, MarginAccount};
use crate::token_ops::ExchangeSigner;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct WithdrawCollateralArgs {
    /// Quote atoms.
    pub amount: u64,
}

/// Moves collateral out to the owner's token account. Only the owner (never the delegate) may
/// withdraw, and the account must keep `E' − I ≥ 0` at conservative prices afterwards.
///
/// Remaining accounts: `(market, oracle)` for every market the account holds a position in,
/// ascending market index (none when it has no position), each market **writable**: the
/// account's funding is settled in each before the amount is checked against its collateral
/// (`CollateralWithdrawnV2.funding_settled`).
#[derive(Accounts)]
pub struct WithdrawCollateral<'info> {
    pub owner: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(
        mut,
        has_one = exchange @ MicroliqError::WrongExchange,
        has_one = owner @ MicroliqError::NotOwner,
    )]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(
        mut,
        constraint = owner_token.mint == exchange.load()?.quote_mint @ MicroliqError::WrongMint,
    )]
    pub owner_token: Account<'info, TokenAccount>,
    /// CHECK: the exchange's quote vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.quote_vault @ MicroliqError::WrongVault)]
    pub quote_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

impl WithdrawCollateral<'_> {
    pub fn validate(&self, args: &WithdrawCollateralArgs) -> Result<()> {
        require!(args.amount > 0, MicroliqError::ZeroAmount);
        self.exchange.load()?.require_not_paused(pause::WITHDRAW)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle<'info>(
        ctx: Context<'_, '_, 'info, 'info, Self>,
        args: WithdrawCollateralArgs,
    ) -> Result<()> {
        let accounts = ctx.accounts;
        let clock = OracleClock::get()?;
        let (collateral_after, signer_bump, quote_mint, funding_settled, episode_ended) = {
            let mut exchange = accounts.exchange.load_mut()?;
            let mut account = accounts.margin_account.load_mut()?;
            let amount = i64::try_from(args.amount).map_err(|_| error!(MicroliqError::MathOverflow))?;

            let mut markets = HealthMarkets::default();
            markets.load_others(
                ctx.remaining_accounts,
                &accounts.exchange.key(),
                &exchange,
                &account,
                None,
                &clock,
            )?;
            // Funding settles first, so that what is withdrawn is what is left after it.
            require!(
                ctx.remaining_accounts.chunks_exact(2).all(|pair| pair[0].is_writable),
                MicroliqError::MarketNotWritable
            );
            let funding_settled = markets.settle_writable(
                ctx.remaining_accounts,
                &mut exchange,
                &mut account,
                clock.unix_timestamp,
                false,
            )?;
            if funding_settled > 0 {
                exchange.require_pool_covers_deficits()?;
            }
            require!(account.collateral >= amount, MicroliqError::InsufficientCollateral);
            exchange.change_collateral(&mut account.collateral, -amount)?;
            markets.require_initial_health(&account)?;
            // Initial margin can sit below a large-β end target: the episode ends only there.
            let mut episode_ended = None;
            if account.being_liquidated == 1 && markets.at_end_target(&account)? {
                episode_ended =
                    Some(episode_end(&accounts.margin_account.key(), &account, &markets, clock.slot)?);
                account.clear_liquidation_flag();
            }
            account.invariant()?;
            (account.collateral, exchange.bump, exchange.quote_mint, funding_settled, episode_ended)
        };
        let exchange_info = accounts.exchange.to_account_info();
        ExchangeSigner { exchange: &exchange_info, quote_mint, bump: signer_bump }.transfer(
            &accounts.token_program.to_account_info(),
            &accounts.quote_vault.to_account_info(),
            &accounts.owner_token.to_account_info(),
            args.amount,
        )?;
        emit!(CollateralWithdrawnV2 {
            margin_account: accounts.margin_account.key(),
            amount: args.amount,
            collateral_after,
            funding_settled,
        });
        if let Some(event) = episode_ended {
            emit!(event);
        }
        Ok(())
    }
}
