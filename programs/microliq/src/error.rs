//! Every way an instruction can fail, by name. Codes are stable: new errors are appended.

use anchor_lang::prelude::*;

use crate::math::MathError;

#[error_code]
pub enum MicroliqError {
    // --- arithmetic --------------------------------------------------------------------------
    #[msg("Arithmetic overflow or division by zero (the log line names the formula)")]
    MathOverflow,

    // --- accounts ----------------------------------------------------------------------------
    #[msg("The account does not belong to this exchange")]
    WrongExchange,
    #[msg("The token mint is not the exchange's quote mint")]
    WrongMint,
    #[msg("The token account is not the expected vault")]
    WrongVault,
    #[msg("The pool share mint is not the exchange's")]
    WrongLpMint,
    #[msg("The signer is not the exchange admin")]
    NotAdmin,
    #[msg("The signer is neither the margin account's owner nor its delegate")]
    NotOwnerOrDelegate,
    #[msg("Only the margin account's owner may do this")]
    NotOwner,
    #[msg("The market account does not match the market index")]
    WrongMarket,
    #[msg("The token account's owner is not the signer")]
    WrongTokenOwner,

    // --- oracle ------------------------------------------------------------------------------
    #[msg("The price account is not the market's configured oracle")]
    WrongOracle,
    #[msg("The price account is not owned by the configured Pyth program")]
    OracleWrongOwner,
    #[msg("The price account could not be decoded as a Pyth price account")]
    OracleInvalid,
    #[msg("The oracle price is not in trading status")]
    OracleNotTrading,
    #[msg("The oracle price is zero or negative")]
    OracleNonPositivePrice,
    #[msg("The oracle price is older than the market's max staleness")]
    OracleStale,
    #[msg("The oracle confidence interval is wider than the market allows")]
    OracleConfidenceTooWide,
    #[msg(
        "The oracle price diverges from its EMA beyond the circuit breaker; risk-adding actions are refused"
    )]
    OracleEmaDivergence,
    #[msg("The oracle price is outside the range the program can represent")]
    OraclePriceOutOfRange,

    // --- remaining accounts -----------------------------------------------------------------
    #[msg("Remaining accounts must be (market, oracle) pairs")]
    HealthAccountsOddCount,
    #[msg("Remaining-account markets must be in strictly ascending market index")]
    HealthAccountsOutOfOrder,
    #[msg("A market the account holds a position in is missing from the remaining accounts")]
    HealthAccountsMissing,
    #[msg("The remaining accounts hold a market that is not needed")]
    HealthAccountsUnexpected,

    // --- amounts and state ------------------------------------------------------------------
    #[msg("The amount must be greater than zero")]
    ZeroAmount,
    #[msg("The amount exceeds what the account holds")]
    InsufficientCollateral,
    #[msg("The amount exceeds the pool shares held")]
    InsufficientShares,
    #[msg("The action would leave the account below initial margin")]
    InitialHealthViolated,
    #[msg("This action is paused")]
    Paused,
    #[msg("The trade size is not a multiple of the market's base lot")]
    NotLotMultiple,
    #[msg("The trade would exceed the market's open-interest cap")]
    OpenInterestCap,
    #[msg("The oracle price is worse than the caller's limit price")]
    SlippageExceeded,
    #[msg("All position slots of the margin account are in use")]
    NoFreePositionSlot,
    #[msg("The pool cannot pay this profit")]
    PoolInsufficient,
    #[msg("The pool's net asset value is not positive")]
    PoolNavNonPositive,
    #[msg("The deposit is too small to mint a pool share")]
    TooSmallForOneShare,
    #[msg("The margin account still holds positions or collateral")]
    AccountNotEmpty,
    #[msg("The maximum number of markets has been reached")]
    TooManyMarkets,

    // --- parameters -------------------------------------------------------------------------
    #[msg("A risk parameter is outside its hard bounds")]
    ParameterOutOfBounds,
    #[msg("Initial margin must exceed maintenance margin")]
    InitialNotAboveMaintenance,
    #[msg("(1 + buffer) · maintenance margin must exceed the maximum liquidation penalty")]
    PenaltyNotBelowMaintenance,
    #[msg("The minimum bonus must not exceed the maximum bonus")]
    BonusRangeInverted,
    #[msg("The quote mint's decimals are not supported")]
    UnsupportedDecimals,
    #[msg("An invariant of the program's state failed")]
    InvariantViolated,

    // --- liquidation (appended) -------------------------------------------------------------
    #[msg("The account is not liquidatable (equity at or above maintenance, and not in a liquidation below its target)")]
    NotLiquidatable,
    #[msg("The owner or delegate of an account cannot liquidate it")]
    CannotLiquidateOwnAccount,
    #[msg("The account holds no position in this market")]
    NoPositionInMarket,
    #[msg("The slice would not improve the account's health")]
    LiquidationDidNotImprove,
    #[msg("The account is not bankrupt (it still holds positions, or its collateral is not negative)")]
    NotBankrupt,
    #[msg("The withdrawal would leave the insurance fund below the open negative collateral it may have to cover")]
    InsuranceReservedForBadDebt,

    // --- money safety (appended) ------------------------------------------------------------
    #[msg("The instruction's own market must not be repeated in the remaining accounts")]
    HealthAccountsRepeatNamedMarket,
    #[msg("Realized deficits exceed the insurance fund; no pool shares are minted until they are resolved")]
    UnresolvedDeficit,
    #[msg("An exchange parameter is outside its hard bounds")]
    ExchangeParameterOutOfBounds,
    #[msg("The first deposit into an empty pool must be at least one whole quote unit")]
    PoolDepositTooSmall,
    #[msg("A withdrawal must burn every share or leave at least one whole share outstanding")]
    PoolSharesDust,

    // --- PriceUpdateV2 oracles (appended) -----------------------------------------------------
    #[msg("The price account is not a Pyth PriceUpdateV2 account (wrong discriminator)")]
    OracleWrongAccountType,
    #[msg("The price update is only partially verified; markets accept Full verification only")]
    OracleNotFullyVerified,
    #[msg("The price update is for another Pyth feed than the market's")]
    OracleWrongFeed,
    #[msg("The price update's posted slot is in the future")]
    OraclePostedInFuture,
    #[msg("The oracle kind, mode or feed id is invalid (legacy: pinned, zero feed id; PriceUpdateV2: a non-zero feed id)")]
    OracleConfigInvalid,
    #[msg("A pinned PriceUpdateV2 market must name the push oracle's feed account of its feed id and shard")]
    OracleNotPushFeed,
    #[msg("A pull market's max staleness may not exceed 10 seconds")]
    PullStalenessTooLong,
    #[msg("The price is older than the market's trading window: push a fresh price first (orders, withdrawals and LP actions)")]
    OracleTooStaleToTrade,
    #[msg("The trading staleness window must not exceed the market's max staleness")]
    OracleWindowInvalid,
    #[msg(
        "Funding parameters out of bounds: rate scale ≤ 10 %/h, max rate ≤ 1 %/h, both zero or both non-zero"
    )]
    FundingParamsInvalid,
    #[msg("This instruction settles funding: pass every market among the remaining accounts writable")]
    MarketNotWritable,
}

impl From<MathError> for Error {
    fn from(error: MathError) -> Self {
        msg!("{}", error);
        MicroliqError::MathOverflow.into()
    }
}
