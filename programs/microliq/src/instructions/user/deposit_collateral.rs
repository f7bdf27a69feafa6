use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::error::MicroliqError;
use crate::events::{CollateralDepositedV2, LiquidationEpisodeEnded};
use crate::health_accounts::HealthMarkets;
use crate::oracle::OracleClock;
use crate::state::{pause, Exchange, MarginAccount};
use crate::token_ops::transfer_from_user;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct DepositCollateralArgs {
    /// Quote atoms.
    pub amount: u64,
}

/// Moves quote tokens from the depositor into the quote vault, credited to the margin account.
/// Anyone may top up any account (it only adds to its health).
///
/// Remaining accounts (optional): `(market, oracle)` for every market the account holds a
/// position in, ascending market index. When given, the account's funding is settled in every
/// market passed **writable** (`CollateralDepositedV2.funding_settled`), and when the account is
/// in a liquidation episode the deposit ends it if it brings the account to its end target
/// `E ≥ (1 + β)·M` (emitting `LiquidationEpisodeEnded`). Without them the deposit needs no price
/// and never fails on an oracle; the episode then ends at the next liquidation attempt or when
/// it lapses.
#[derive(Accounts)]
pub struct DepositCollateral<'info> {
    pub depositor: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(mut, has_one = exchange @ MicroliqError::WrongExchange)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(
        mut,
        constraint = depositor_token.mint == exchange.load()?.quote_mint @ MicroliqError::WrongMint,
        constraint = depositor_token.owner == depositor.key() @ MicroliqError::WrongTokenOwner,
    )]
    pub depositor_token: Account<'info, TokenAccount>,
    /// CHECK: the exchange's quote vault, pinned by address; the token program checks it. Not
    /// unpacked: an `Account<TokenAccount>` costs ~750 CU (docs/PERFORMANCE.md).
    #[account(mut, address = exchange.load()?.quote_vault @ MicroliqError::WrongVault)]
    pub quote_vault: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

impl DepositCollateral<'_> {
    pub fn validate(&self, args: &DepositCollateralArgs) -> Result<()> {
        require!(args.amount > 0, MicroliqError::ZeroAmount);
        require!(args.amount <= self.depositor_token.amount, MicroliqError::InsufficientCollateral);
        self.exchange.load()?.require_not_paused(pause::DEPOSIT)
    }

    #[access_control(ctx.accounts.validate(&args))]
    pub fn handle<'info>(
        ctx: Context<'_, '_, 'info, 'info, Self>,
        args: DepositCollateralArgs,
    ) -> Result<()> {
        let accounts = ctx.accounts;
        let (collateral_after, episode_ended, funding_settled) = {
            let mut exchange = accounts.exchange.load_mut()?;
            let mut account = accounts.margin_account.load_mut()?;
            let amount = i64::try_from(args.amount).map_err(|_| error!(MicroliqError::MathOverflow))?;
            exchange.change_collateral(&mut account.collateral, amount)?;
            let mut episode_ended = None;
            let mut funding_settled = 0;
            if !ctx.remaining_accounts.is_empty() {
                let clock = Clock::get()?;
                let mut markets = HealthMarkets::default();
                markets.load_others(
                    ctx.remaining_accounts,
                    &accounts.exchange.key(),
                    &exchange,
                    &account,
                    None,
                    &OracleClock::from(&clock),
                )?;
                funding_settled = markets.settle_writable(
                    ctx.remaining_accounts,
                    &mut exchange,
                    &mut account,
                    clock.unix_timestamp,
                    true,
                )?;
                if funding_settled > 0 {
                    exchange.require_pool_covers_deficits()?;
                }
                if account.being_liquidated == 1 && markets.at_end_target(&account)? {
                    let health = markets.maintenance_health(&account)?;
                    episode_ended = Some(LiquidationEpisodeEnded {
                        margin_account: accounts.margin_account.key(),
                        episode_start_slot: account.liquidation_start_slot,
                        equity: health.equity,
                        maintenance_requirement: health.maintenance_requirement,
                        slot: clock.slot,
                    });
                    account.clear_liquidation_flag();
                }
            }
            account.invariant()?;
            exchange.invariant()?;
            (account.collateral, episode_ended, funding_settled)
        };
        transfer_from_user(
            &accounts.token_program.to_account_info(),
            &accounts.depositor_token.to_account_info(),
            &accounts.quote_vault.to_account_info(),
            &accounts.depositor.to_account_info(),
            args.amount,
        )?;
        emit!(CollateralDepositedV2 {
            margin_account: accounts.margin_account.key(),
            depositor: accounts.depositor.key(),
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
