use microliq::error::MicroliqError;
use microliq::state::pause;
use microliq_tests::ix;
use microliq_tests::*;
use solana_sdk::signature::{Keypair, Signer};

#[tokio::test]
async fn deposit_moves_tokens_to_the_vault_and_credits_collateral() {
    // SETUP
    let mut ctx = crate::standard().await;
    let alice = ctx.trader_with_wallet(0, 500 * USDC).await;
    let vault_before = ctx.token_balance(&ctx.ex.quote_vault.clone()).await;
    // ACT
    ctx.deposit(&alice, 123_456_789).await.unwrap();
    // CHECK
    assert_eq!(ctx.token_balance(&alice.token).await, 500 * USDC - 123_456_789);
    assert_eq!(ctx.token_balance(&ctx.ex.quote_vault.clone()).await, vault_before + 123_456_789);
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 123_456_789);
    assert_eq!(ctx.exchange().await.total_collateral, 123_456_789);
}

#[tokio::test]
async fn anyone_may_top_up_an_account() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(100 * USDC).await;
    let (bob, bob_token) = ctx.wallet(50 * USDC).await;
    let top_up = ix::DepositCollateral {
        health_accounts: vec![],
        depositor: bob.pubkey(),
        margin_account: alice.account,
        depositor_token: bob_token,
        amount: 50 * USDC,
    }
    .instruction(&ctx.ex);
    ctx.send(&[top_up], &[&bob]).await.unwrap();
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 150 * USDC as i64);
}

#[tokio::test]
async fn owner_withdraws_to_the_unit() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.withdraw(&alice, 999_999_999).await.unwrap();
    assert_eq!(ctx.token_balance(&alice.token).await, 999_999_999);
    assert_eq!(ctx.margin_account(&alice.account).await.collateral, 1);
}

#[tokio::test]
async fn several_accounts_per_owner() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(10 * USDC).await;
    let second = ix::CreateMarginAccount { owner: alice.owner.pubkey(), id: 7 }.instruction(&ctx.ex);
    ctx.send(&[second], &[&alice.owner]).await.unwrap();
    let account = ctx.ex.margin_account(&alice.owner.pubkey(), 7);
    ctx.margin_accounts.push(account);
    let state = ctx.margin_account(&account).await;
    assert_eq!((state.owner, state.id, state.collateral), (alice.owner.pubkey(), 7, 0));
    assert_eq!(ctx.exchange().await.margin_account_count, 2);
}

#[tokio::test]
async fn withdrawal_that_breaks_initial_health_is_refused() {
    // SETUP: 1,000 USDC backing a 5,000 USDC long (I = 500).
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 33_333_000_000).await.unwrap(); // 33.333 SOL ≈ 5,000 USDC
    let before = ctx.snapshot_with(&[alice.token]).await;
    // ACT: 600 would leave E' ≈ 397 < I ≈ 500.
    let result = ctx.withdraw(&alice, 600 * USDC).await;
    // CHECK
    assert_error(result, MicroliqError::InitialHealthViolated);
    before.assert_unchanged(&ctx.snapshot_with(&[alice.token]).await);
    // 400 keeps E' ≥ I and goes through.
    ctx.withdraw(&alice, 400 * USDC).await.unwrap();
}

#[tokio::test]
async fn withdrawal_bad_inputs_change_nothing() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(100 * USDC).await;
    let bob = ctx.trader(100 * USDC).await;
    let delegate = Keypair::new();
    let set = ix::SetDelegate {
        owner: alice.owner.pubkey(),
        margin_account: alice.account,
        delegate: delegate.pubkey(),
    }
    .instruction(&ctx.ex);
    ctx.send(&[set], &[&alice.owner]).await.unwrap();
    let other_mint_token = {
        let mint = Keypair::new();
        ctx.create_mint(&mint, 6).await;
        ctx.token_account(&mint.pubkey(), &alice.owner.pubkey()).await
    };
    let withdraw = |owner: &Keypair, account, token, amount| ix::WithdrawCollateral {
        owner: owner.pubkey(),
        margin_account: account,
        owner_token: token,
        amount,
        health_accounts: vec![],
    };
    let ex = ctx.ex;
    let mut wrong_vault = withdraw(&alice.owner, alice.account, alice.token, USDC).instruction(&ex);
    wrong_vault.accounts[4].pubkey = ex.insurance_vault;
    let cases: Vec<(&str, solana_sdk::instruction::Instruction, &Keypair, MicroliqError)> = vec![
        (
            "zero",
            withdraw(&alice.owner, alice.account, alice.token, 0).instruction(&ex),
            &alice.owner,
            MicroliqError::ZeroAmount,
        ),
        (
            "more than collateral",
            withdraw(&alice.owner, alice.account, alice.token, 100 * USDC + 1).instruction(&ex),
            &alice.owner,
            MicroliqError::InsufficientCollateral,
        ),
        (
            "overflowing amount",
            withdraw(&alice.owner, alice.account, alice.token, u64::MAX).instruction(&ex),
            &alice.owner,
            MicroliqError::MathOverflow,
        ),
        (
            "delegate",
            withdraw(&delegate, alice.account, alice.token, USDC).instruction(&ex),
            &delegate,
            MicroliqError::NotOwner,
        ),
        (
            "someone else's account",
            withdraw(&bob.owner, alice.account, bob.token, USDC).instruction(&ex),
            &bob.owner,
            MicroliqError::NotOwner,
        ),
        (
            "wrong mint",
            withdraw(&alice.owner, alice.account, other_mint_token, USDC).instruction(&ex),
            &alice.owner,
            MicroliqError::WrongMint,
        ),
        ("wrong vault", wrong_vault, &alice.owner, MicroliqError::WrongVault),
    ];
    for (name, instruction, signer, expected) in cases {
        let before = ctx.snapshot_with(&[alice.token, bob.token]).await;
        let result = ctx.send(&[instruction], &[signer]).await;
        assert_eq!(
            result,
            Err(TxError::Custom(anchor_lang::error::ERROR_CODE_OFFSET + expected as u32)),
            "case {name}"
        );
        before.assert_unchanged(&ctx.snapshot_with(&[alice.token, bob.token]).await);
    }
}

#[tokio::test]
async fn deposit_bad_inputs_change_nothing() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader_with_wallet(0, 10 * USDC).await;
    let ex = ctx.ex;
    let deposit = |amount| ix::DepositCollateral {
        health_accounts: vec![],
        depositor: alice.owner.pubkey(),
        margin_account: alice.account,
        depositor_token: alice.token,
        amount,
    };
    let mut wrong_vault = deposit(USDC).instruction(&ex);
    wrong_vault.accounts[4].pubkey = ex.insurance_vault;
    let cases = [
        (deposit(0).instruction(&ex), MicroliqError::ZeroAmount),
        (deposit(10 * USDC + 1).instruction(&ex), MicroliqError::InsufficientCollateral),
        (wrong_vault, MicroliqError::WrongVault),
    ];
    for (instruction, expected) in cases {
        let before = ctx.snapshot_with(&[alice.token]).await;
        assert_error(ctx.send(&[instruction], &[&alice.owner]).await, expected);
        before.assert_unchanged(&ctx.snapshot_with(&[alice.token]).await);
    }
    // Paused deposits.
    let admin = ctx.admin.pubkey();
    ctx.admin_send(ix::SetPause { admin, market: None, paused: pause::DEPOSIT }.instruction(&ex))
        .await
        .unwrap();
    let before = ctx.snapshot_with(&[alice.token]).await;
    assert_error(ctx.deposit(&alice, USDC).await, MicroliqError::Paused);
    before.assert_unchanged(&ctx.snapshot_with(&[alice.token]).await);
}

#[tokio::test]
async fn paused_withdrawals_change_nothing() {
    let mut ctx = crate::standard().await;
    let alice = ctx.trader(10 * USDC).await;
    let admin = ctx.admin.pubkey();
    ctx.admin_send(ix::SetPause { admin, market: None, paused: pause::WITHDRAW }.instruction(&ctx.ex))
        .await
        .unwrap();
    let before = ctx.snapshot_with(&[alice.token]).await;
    assert_error(ctx.withdraw(&alice, USDC).await, MicroliqError::Paused);
    before.assert_unchanged(&ctx.snapshot_with(&[alice.token]).await);
}
