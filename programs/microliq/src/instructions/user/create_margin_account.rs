use anchor_lang::prelude::*;

use crate::state::{seeds, Exchange, MarginAccount};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct CreateMarginAccountArgs {
    /// Chosen by the owner; one owner may hold many accounts (ids 0, 1, 2 …).
    pub id: u32,
}

/// Opens a cross-margin account, PDA of `["margin_account", exchange, owner, id (u32 LE)]`.
#[derive(Accounts)]
#[instruction(args: CreateMarginAccountArgs)]
pub struct CreateMarginAccount<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(mut)]
    pub exchange: AccountLoader<'info, Exchange>,
    #[account(
        init,
        payer = owner,
        space = MarginAccount::SPACE,
        seeds = [seeds::MARGIN_ACCOUNT, exchange.key().as_ref(), owner.key().as_ref(), &args.id.to_le_bytes()],
        bump,
    )]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    pub system_program: Program<'info, System>,
}

impl CreateMarginAccount<'_> {
    pub fn handle(ctx: Context<Self>, args: CreateMarginAccountArgs) -> Result<()> {
        let mut account = ctx.accounts.margin_account.load_init()?;
        account.exchange = ctx.accounts.exchange.key();
        account.owner = ctx.accounts.owner.key();
        account.id = args.id;
        account.bump = ctx.bumps.margin_account;
        account.invariant()?;
        let mut exchange = ctx.accounts.exchange.load_mut()?;
        exchange.margin_account_count = exchange.margin_account_count.saturating_add(1);
        Ok(())
    }
}
