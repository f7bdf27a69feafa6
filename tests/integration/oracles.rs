//! Pyth `PriceUpdateV2` oracles: a real mainnet account, the format's bad-input catalogue, pull
//! mode, and the admin's switch from a legacy account. Every refusal checks the named error and
//! that nothing changed.

use anchor_lang::prelude::Pubkey;
use anchor_lang::AccountDeserialize;
use microliq::error::MicroliqError;
use microliq::events::{MarketOracleSet, OrderFilledV2};
use microliq::instructions::OracleConfig;
use microliq::math::MarketPrice;
use microliq::oracle::{
    read_oracle_account, OracleAccount, OracleClock, OracleKind, OracleMode, PYTH_RECEIVER_PROGRAM,
};
use microliq::state::{Exchange, Market, MarketParams};
use microliq_tests::*;
use pyth_solana_receiver_sdk::price_update::{PriceUpdateV2, VerificationLevel};
use solana_sdk::signature::{Keypair, Signer};

const V2_PINNED: OracleConfig = OracleConfig {
    kind: OracleKind::PythPriceUpdateV2,
    mode: OracleMode::Pinned,
    feed_id: SOL_USD_FEED_ID,
    shard_id: 0,
    trading_staleness_secs: 0,
};

/// `feed` with byte `at` changed.
fn flip(mut feed: [u8; 32], at: usize) -> [u8; 32] {
    feed[at] ^= 1;
    feed
}

async fn alice_with_long(ctx: &mut TestContext) -> Trader {
    let alice = ctx.trader(1_000 * USDC).await;
    ctx.trade(&alice, 0, 2 * SOL).await.unwrap();
    alice
}

/// Sends an order of `delta` in market 0 with `oracle` as its price account; asserts `expected`
/// and that nothing changed.
async fn order_refused(
    ctx: &mut TestContext,
    alice: &Trader,
    oracle: Pubkey,
    delta: i64,
    expected: MicroliqError,
) {
    let mut order = ctx.order(alice, 0, delta).await;
    order.oracle = oracle;
    let order = order.instruction(&ctx.ex);
    assert_refused!(ctx, &[alice.token, oracle], ctx.send(&[order], &[&alice.owner]), expected);
}

#[test]
fn real_mainnet_account_decodes_to_its_price() {
    use mainnet_fixture as f;
    let data = f::data();
    assert_eq!(data.len(), PRICE_UPDATE_V2_LEN);
    // The receiver SDK's decoding.
    let update = PriceUpdateV2::try_deserialize(&mut &data[..]).unwrap();
    assert_eq!(update.verification_level, VerificationLevel::Full);
    assert_eq!(update.write_authority, f::ADDRESS);
    let message = update.price_message;
    assert_eq!(message.feed_id, SOL_USD_FEED_ID);
    assert_eq!(
        (message.price, message.conf, message.exponent, message.publish_time, message.prev_publish_time),
        (f::PRICE, f::CONF, f::EXPONENT, f::PUBLISH_TIME, f::PREV_PUBLISH_TIME)
    );
    assert_eq!(
        (message.ema_price, message.ema_conf, update.posted_slot),
        (f::EMA_PRICE, f::EMA_CONF, f::POSTED_SLOT)
    );
    // The account sits where the push oracle derives SOL/USD's shard-0 feed; other shards take
    // the shard as a little-endian u16 seed (written out here, not through `to_le_bytes`).
    assert_eq!(push_feed_address(0, &SOL_USD_FEED_ID), f::ADDRESS);
    let push = microliq::oracle::PYTH_PUSH_ORACLE_PROGRAM;
    for (shard, seed) in [(1u16, [1u8, 0u8]), (258, [2, 1]), (300, [44, 1])] {
        let expected = Pubkey::find_program_address(&[&seed, &SOL_USD_FEED_ID], &push).0;
        assert_eq!(push_feed_address(shard, &SOL_USD_FEED_ID), expected, "shard {shard}");
    }
    // The harness's crafted bytes have the same layout: re-serializing the fixture's values
    // gives the fixture's bytes except the write authority.
    let crafted = PythPrice {
        price: f::PRICE,
        conf: f::CONF,
        ema: f::EMA_PRICE,
        expo: f::EXPONENT,
        publish_time: f::PUBLISH_TIME,
        posted_slot: f::POSTED_SLOT,
        ..PythPrice::usd(1.0)
    }
    .to_price_update_v2(SOL_USD_FEED_ID, VerificationLevel::Full);
    assert_eq!(crafted.len(), data.len());
    assert_eq!(crafted[..8], data[..8]);
    // Layout (Full): discriminator 0..8, write authority 8..40, level 40, feed id 41..73, price
    // 73..81, conf 81..89, exponent 89..93, publish time 93..101, previous publish time 101..109,
    // EMA 109..117, EMA conf 117..125, posted slot 125..133, one spare byte. The harness sets
    // the previous publish time one second back and the EMA conf to the conf.
    assert_eq!(crafted[40..101], data[40..101], "level, feed id, price, conf, exponent, publish time");
    assert_eq!(crafted[109..117], data[109..117], "EMA price");
    assert_eq!(crafted[125..], data[125..], "posted slot and the spare byte");

    // The program's reader, as a pinned SOL-PERP market of a 6-decimal quote sees it 5 s later.
    let mut market: Market = anchor_lang::__private::bytemuck::Zeroable::zeroed();
    market.params = default_params();
    market.base_decimals = 9;
    market.oracle = f::ADDRESS;
    V2_PINNED.apply(&mut market);
    let mut exchange: Exchange = anchor_lang::__private::bytemuck::Zeroable::zeroed();
    exchange.quote_decimals = 6;
    let account = OracleAccount { key: &f::ADDRESS, owner: &PYTH_RECEIVER_PROGRAM, data: &data };
    let clock = OracleClock { unix_timestamp: f::PUBLISH_TIME + 5, slot: f::POSTED_SLOT };
    let reading = read_oracle_account(&account, &market, &exchange, &clock).unwrap();
    assert_eq!((reading.raw_price, reading.raw_conf, reading.expo), (f::PRICE, f::CONF, f::EXPONENT));
    assert_eq!(reading.publish_time, f::PUBLISH_TIME);
    // $215.68137069 per SOL is 215_681_370_690 in the 1e12 fixed point per base atom.
    assert_eq!(reading.price.oracle_low, 215_681_370_690);
    assert_eq!(
        reading.price,
        MarketPrice::from_oracle(f::PRICE as u64, f::CONF, f::EMA_PRICE as u64, f::EXPONENT, 6, 9).unwrap()
    );
    assert!(!reading.ema_diverged);
    // 61 s after its publish time the same account is stale for a 60 s market.
    let late = OracleClock { unix_timestamp: f::PUBLISH_TIME + 61, ..clock };
    let error = read_oracle_account(&account, &market, &exchange, &late).unwrap_err();
    assert_eq!(error, MicroliqError::OracleStale.into());
}

#[tokio::test]
async fn a_real_mainnet_account_prices_a_trade() {
    use mainnet_fixture as f;
    // SETUP: SOL-PERP pinned at the real SOL/USD feed address; the cluster clock 3 s after the
    // fixture's publish time and past its posted slot; the fixture's bytes at that address.
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().with_oracle_kind(OracleKind::PythPriceUpdateV2))
        .with_pool_liquidity(100_000 * USDC)
        .build()
        .await;
    let alice = ctx.trader(1_000 * USDC).await;
    assert_eq!(ctx.markets[0].oracle, f::ADDRESS);
    let mut clock = ctx.clock().await;
    clock.unix_timestamp = f::PUBLISH_TIME + 3;
    clock.slot = clock.slot.max(f::POSTED_SLOT + 10);
    ctx.bank.set_sysvar(&clock);
    ctx.write_account(&f::ADDRESS, PYTH_RECEIVER_PROGRAM, f::data());
    // ACT
    ctx.trade(&alice, 0, SOL).await.unwrap();
    // CHECK: the fill is at the mainnet price, rounded against the buyer.
    let fill = ctx.events::<OrderFilledV2>().pop().unwrap();
    assert_eq!(fill.fill_price, 215_681_370_690);
    assert_eq!(ctx.margin_account(&alice.account).await.positions[0].base, SOL);
}

#[tokio::test]
async fn price_update_v2_bad_inputs_are_refused() {
    let mut ctx =
        TestContext::standard_builder().with_oracle_kind(OracleKind::PythPriceUpdateV2).build().await;
    let alice = alice_with_long(&mut ctx).await;
    let oracle = ctx.markets[0].oracle;
    let clock = ctx.clock().await;
    let fresh =
        PythPrice { publish_time: clock.unix_timestamp, posted_slot: clock.slot, ..PythPrice::usd(150.0) };
    let v2 = |price: PythPrice| price.to_price_update_v2(SOL_USD_FEED_ID, VerificationLevel::Full);
    let mut wrong_discriminator = v2(fresh);
    wrong_discriminator[0] ^= 1;
    let cases: Vec<(&str, Pubkey, Vec<u8>, MicroliqError)> = vec![
        ("another owner", Keypair::new().pubkey(), v2(fresh), MicroliqError::OracleWrongOwner),
        (
            "wrong discriminator",
            PYTH_RECEIVER_PROGRAM,
            wrong_discriminator,
            MicroliqError::OracleWrongAccountType,
        ),
        (
            "a legacy account's bytes",
            PYTH_RECEIVER_PROGRAM,
            fresh.to_bytes(),
            MicroliqError::OracleWrongAccountType,
        ),
        ("truncated", PYTH_RECEIVER_PROGRAM, v2(fresh)[..100].to_vec(), MicroliqError::OracleInvalid),
        (
            "partial verification",
            PYTH_RECEIVER_PROGRAM,
            fresh.to_price_update_v2(SOL_USD_FEED_ID, VerificationLevel::Partial { num_signatures: 12 }),
            MicroliqError::OracleNotFullyVerified,
        ),
        (
            "another feed id",
            PYTH_RECEIVER_PROGRAM,
            fresh.to_price_update_v2(BTC_USD_FEED_ID, VerificationLevel::Full),
            MicroliqError::OracleWrongFeed,
        ),
        (
            "the feed id with its first byte changed",
            PYTH_RECEIVER_PROGRAM,
            fresh.to_price_update_v2(flip(SOL_USD_FEED_ID, 0), VerificationLevel::Full),
            MicroliqError::OracleWrongFeed,
        ),
        (
            "the feed id with its last byte changed",
            PYTH_RECEIVER_PROGRAM,
            fresh.to_price_update_v2(flip(SOL_USD_FEED_ID, 31), VerificationLevel::Full),
            MicroliqError::OracleWrongFeed,
        ),
        (
            "stale",
            PYTH_RECEIVER_PROGRAM,
            v2(PythPrice { publish_time: clock.unix_timestamp - 61, ..fresh }),
            MicroliqError::OracleStale,
        ),
        (
            "posted in a future slot",
            PYTH_RECEIVER_PROGRAM,
            v2(PythPrice { posted_slot: clock.slot + 1, ..fresh }),
            MicroliqError::OraclePostedInFuture,
        ),
        (
            "confidence wider than 2 %",
            PYTH_RECEIVER_PROGRAM,
            v2(fresh.with_conf(300_000_001)),
            MicroliqError::OracleConfidenceTooWide,
        ),
        (
            "zero price",
            PYTH_RECEIVER_PROGRAM,
            v2(PythPrice { price: 0, ..fresh }),
            MicroliqError::OracleNonPositivePrice,
        ),
        (
            "negative price",
            PYTH_RECEIVER_PROGRAM,
            v2(PythPrice { price: -15_000_000_000, ..fresh }),
            MicroliqError::OracleNonPositivePrice,
        ),
        (
            "zero EMA",
            PYTH_RECEIVER_PROGRAM,
            v2(PythPrice { ema: 0, ..fresh }),
            MicroliqError::OracleNonPositivePrice,
        ),
    ];
    for (case, owner, data, expected) in cases {
        println!("case: {case}");
        ctx.write_account(&oracle, owner, data);
        // Both risk-adding and reducing orders need a valid price.
        for delta in [SOL, -SOL] {
            order_refused(&mut ctx, &alice, oracle, delta, expected).await;
        }
    }
    // EMA divergence (price $150, EMA $130: 15.4 % > 10 %) refuses opening, not reducing.
    ctx.write_account(&oracle, PYTH_RECEIVER_PROGRAM, v2(fresh.with_ema(13_000_000_000)));
    order_refused(&mut ctx, &alice, oracle, SOL, MicroliqError::OracleEmaDivergence).await;
    ctx.trade(&alice, 0, -SOL).await.unwrap();
    // A pinned market refuses any other account, even a valid update of its own feed.
    ctx.set_price(0, PythPrice::usd(150.0)).await;
    let elsewhere = ctx.post_price_update(0, PythPrice::usd(150.0), VerificationLevel::Full).await;
    order_refused(&mut ctx, &alice, elsewhere, SOL, MicroliqError::WrongOracle).await;
    // Exactly at the staleness limit, posted this slot: accepted.
    ctx.set_price(0, PythPrice { publish_time: clock.unix_timestamp - 60, ..PythPrice::usd(150.0) }).await;
    ctx.trade(&alice, 0, SOL).await.unwrap();
    // Published ahead of the cluster clock (a lagging cluster): accepted, as Pyth's SDK does
    // (docs/ORACLES.md: a lag of D widens each window by D).
    ctx.set_price(0, PythPrice { publish_time: clock.unix_timestamp + 5, ..PythPrice::usd(150.0) }).await;
    ctx.trade(&alice, 0, SOL).await.unwrap();
}

#[tokio::test]
async fn pull_markets_take_any_fresh_full_update_of_their_feed() {
    // SETUP: SOL-PERP in pull mode, BTC-PERP pinned; alice long 66 SOL at $150 (~9.9x) and
    // a little BTC.
    let mut ctx = crate::builder()
        .with_market(MarketSpec::sol().pull())
        .with_market(MarketSpec::btc().with_oracle_kind(OracleKind::PythPriceUpdateV2))
        .with_pool_liquidity(1_000_000 * USDC)
        .with_insurance(50_000 * USDC)
        .build()
        .await;
    assert_eq!(ctx.market(0).await.oracle_mode, OracleMode::Pull as u8);
    let alice = ctx.trader(1_100 * USDC).await;
    ctx.trade(&alice, 0, 66 * SOL).await.unwrap();
    ctx.trade(&alice, 1, 10_000).await.unwrap();
    // The price falls to $140; the configured account is left behind (61 s stale), and a keeper
    // posts its own fresh update.
    ctx.advance(2, 11).await;
    let posted = ctx.post_price_update(0, PythPrice::usd(140.0), VerificationLevel::Full).await;
    ctx.set_price(1, PythPrice::usd(60_000.0)).await;
    let keeper = ctx.keeper().await;
    let mut liquidation = ctx.liquidation(&keeper, &alice.account, 0).await;
    // Refused: the stale configured account, an update of another feed, a partial one.
    let other_feed = Keypair::new().pubkey();
    let btc_bytes = PythPrice { publish_time: ctx.clock().await.unix_timestamp, ..PythPrice::usd(140.0) }
        .to_price_update_v2(BTC_USD_FEED_ID, VerificationLevel::Full);
    ctx.write_account(&other_feed, PYTH_RECEIVER_PROGRAM, btc_bytes);
    let partial = ctx
        .post_price_update(0, PythPrice::usd(140.0), VerificationLevel::Partial { num_signatures: 13 })
        .await;
    let foreign = Keypair::new().pubkey();
    let now = ctx.clock().await.unix_timestamp;
    let (_, bytes) = ctx.markets[0].oracle_bytes(&PythPrice { publish_time: now, ..PythPrice::usd(140.0) });
    ctx.write_account(&foreign, Keypair::new().pubkey(), bytes);
    let configured = ctx.markets[0].oracle;
    for (oracle, expected) in [
        (configured, MicroliqError::OracleStale),
        (other_feed, MicroliqError::OracleWrongFeed),
        (partial, MicroliqError::OracleNotFullyVerified),
        (foreign, MicroliqError::OracleWrongOwner),
    ] {
        liquidation.oracle = oracle;
        let instruction = liquidation.instruction(&ctx.ex);
        let keeper_owner = keeper.owner.insecure_clone();
        assert_refused!(ctx, &[keeper.token, oracle], ctx.send(&[instruction], &[&keeper_owner]), expected);
    }
    // ACT: the keeper's own fresh update prices the liquidation.
    liquidation.oracle = posted;
    let instruction = liquidation.instruction(&ctx.ex);
    let keeper_owner = keeper.owner.insecure_clone();
    ctx.send(&[instruction], &[&keeper_owner]).await.unwrap();
    // CHECK: a slice was closed at $140 and the keeper was paid.
    let slice = ctx.events::<microliq::events::LiquidationSliceV3>().pop().unwrap();
    assert_eq!(slice.oracle_price, 14_000_000_000);
    assert!(slice.base_closed > 0);
    assert!(ctx.token_balance(&keeper.token).await > 0);
    // A posted update also serves as a (market, oracle) health pair: BTC's liquidation-free
    // order with SOL priced by the keeper's update.
    let mut order = ctx.order(&alice, 1, -10_000).await;
    order.health_accounts = vec![(ctx.markets[0].market, posted)];
    let order = order.instruction(&ctx.ex);
    ctx.send(&[order], &[&alice.owner]).await.unwrap();
}

#[tokio::test]
async fn admin_switches_a_legacy_market_to_price_update_v2() {
    // SETUP: a legacy market with an open position (a market listed before the migration).
    let mut ctx = TestContext::standard_builder().with_oracle_kind(OracleKind::PythLegacy).build().await;
    let alice = alice_with_long(&mut ctx).await;
    let market = ctx.markets[0].market;
    let legacy_oracle = ctx.markets[0].oracle;
    let new_oracle = push_feed_address(0, &SOL_USD_FEED_ID);
    let clock = ctx.clock().await;
    let fresh =
        PythPrice { publish_time: clock.unix_timestamp, posted_slot: clock.slot, ..PythPrice::usd(151.0) };
    let write = |ctx: &mut TestContext, price: PythPrice, feed: [u8; 32], level: VerificationLevel| {
        ctx.write_account(&new_oracle, PYTH_RECEIVER_PROGRAM, price.to_price_update_v2(feed, level));
    };

    // Refusals, each with nothing changed.
    let mallory = Keypair::new();
    ctx.fund(&mallory.pubkey(), 1_000_000_000).await;
    write(&mut ctx, fresh, SOL_USD_FEED_ID, VerificationLevel::Full);
    let by_mallory =
        ix::SetMarketOracle { admin: mallory.pubkey(), market, oracle: new_oracle, config: V2_PINNED }
            .instruction(&ctx.ex);
    assert_refused!(ctx, &[new_oracle], ctx.send(&[by_mallory], &[&mallory]), MicroliqError::NotAdmin);
    let invalid_configs = [
        OracleConfig { feed_id: [0; 32], ..V2_PINNED },
        OracleConfig { feed_id: SOL_USD_FEED_ID, ..OracleConfig::legacy() },
        OracleConfig { mode: OracleMode::Pull, ..OracleConfig::legacy() },
        OracleConfig { shard_id: 1, ..OracleConfig::legacy() },
        OracleConfig { shard_id: 1, ..OracleConfig::pull(SOL_USD_FEED_ID) },
    ];
    for config in invalid_configs {
        assert_refused!(
            ctx,
            &[new_oracle],
            ctx.set_market_oracle(0, new_oracle, config),
            MicroliqError::OracleConfigInvalid
        );
    }
    // Pinned to an update that is not the push oracle's feed account (a keeper's, say: its
    // writer could rewrite it with an older price), or to the feed account of another shard.
    let posted = ctx.post_price_update(0, fresh, VerificationLevel::Full).await;
    assert_refused!(
        ctx,
        &[posted],
        ctx.set_market_oracle(0, posted, V2_PINNED),
        MicroliqError::OracleNotPushFeed
    );
    let shard_1 = OracleConfig { shard_id: 1, ..V2_PINNED };
    assert_refused!(
        ctx,
        &[new_oracle],
        ctx.set_market_oracle(0, new_oracle, shard_1),
        MicroliqError::OracleNotPushFeed
    );
    // Legacy kind pointed at a receiver account: the wrong owner for that kind.
    assert_refused!(
        ctx,
        &[new_oracle],
        ctx.set_market_oracle(0, new_oracle, OracleConfig::legacy()),
        MicroliqError::OracleWrongOwner
    );
    // The new account must read now.
    let unreadable = [
        (
            PythPrice { publish_time: clock.unix_timestamp - 61, ..fresh },
            SOL_USD_FEED_ID,
            VerificationLevel::Full,
            MicroliqError::OracleStale,
        ),
        (fresh, BTC_USD_FEED_ID, VerificationLevel::Full, MicroliqError::OracleWrongFeed),
        (
            fresh,
            SOL_USD_FEED_ID,
            VerificationLevel::Partial { num_signatures: 5 },
            MicroliqError::OracleNotFullyVerified,
        ),
    ];
    for (price, feed, level, expected) in unreadable {
        write(&mut ctx, price, feed, level);
        assert_refused!(ctx, &[new_oracle], ctx.set_market_oracle(0, new_oracle, V2_PINNED), expected);
    }

    // ACT: a readable account switches the market.
    write(&mut ctx, fresh, SOL_USD_FEED_ID, VerificationLevel::Full);
    ctx.set_market_oracle(0, new_oracle, V2_PINNED).await.unwrap();
    // CHECK: the event, the stored configuration, and trading on the new account only.
    let event = ctx.events::<MarketOracleSet>().pop().unwrap();
    assert_eq!((event.old_oracle, event.old_oracle_kind), (legacy_oracle, OracleKind::PythLegacy as u8));
    assert_eq!((event.oracle, event.oracle_kind, event.oracle_mode), (new_oracle, 1, 0));
    assert_eq!((event.oracle_feed_id, event.price, event.expo), (SOL_USD_FEED_ID, 15_100_000_000, -8));
    let stored = ctx.market(0).await;
    assert_eq!((stored.oracle, stored.oracle_kind, stored.oracle_feed_id), (new_oracle, 1, SOL_USD_FEED_ID));
    ctx.trade(&alice, 0, SOL).await.unwrap();
    assert_eq!(ctx.events::<OrderFilledV2>().pop().unwrap().fill_price, 151_000_000_000);
    order_refused(&mut ctx, &alice, legacy_oracle, SOL, MicroliqError::WrongOracle).await;
    // And on to pull mode: refused while the market's staleness window is longer than 10 s …
    let pull = OracleConfig::pull(SOL_USD_FEED_ID);
    assert_refused!(
        ctx,
        &[new_oracle],
        ctx.set_market_oracle(0, new_oracle, pull),
        MicroliqError::PullStalenessTooLong
    );
    // … accepted at 10 s; the window cannot be widened again while the market pulls.
    let params = |secs| MarketParams { max_staleness_secs: secs, ..default_params() };
    let update = |secs| {
        ix::UpdateMarket { admin: ctx.admin.pubkey(), market, params: params(secs) }.instruction(&ctx.ex)
    };
    let to_10s = update(10);
    let to_11s = update(11);
    ctx.admin_send(to_10s).await.unwrap();
    ctx.set_market_oracle(0, new_oracle, pull).await.unwrap();
    assert_refused!(ctx, &[], ctx.admin_send(to_11s), MicroliqError::PullStalenessTooLong);
    let posted = ctx.post_price_update(0, PythPrice::usd(152.0), VerificationLevel::Full).await;
    let mut order = ctx.order(&alice, 0, -SOL).await;
    order.oracle = posted;
    let order = order.instruction(&ctx.ex);
    ctx.send(&[order], &[&alice.owner]).await.unwrap();
    assert_eq!(ctx.events::<OrderFilledV2>().pop().unwrap().fill_price, 152_000_000_000);
    // And back to pinned, on a shard above 255 (the shard is a u16 seed).
    let shard_300 = push_feed_address(300, &SOL_USD_FEED_ID);
    let clock = ctx.clock().await;
    let fresh =
        PythPrice { publish_time: clock.unix_timestamp, posted_slot: clock.slot, ..PythPrice::usd(153.0) };
    ctx.write_account(
        &shard_300,
        PYTH_RECEIVER_PROGRAM,
        fresh.to_price_update_v2(SOL_USD_FEED_ID, VerificationLevel::Full),
    );
    ctx.set_market_oracle(0, shard_300, OracleConfig { shard_id: 300, ..V2_PINNED }).await.unwrap();
    assert_eq!(ctx.market(0).await.oracle, shard_300);
}

#[tokio::test]
async fn a_lagging_price_serves_liquidations_but_not_trades() {
    // SETUP: SOL-PERP pinned to its sponsored feed with a 5 s trading window (60 s for
    // liquidations); alice 10x long; an LP with cash.
    let mut ctx =
        TestContext::standard_builder().with_oracle_kind(OracleKind::PythPriceUpdateV2).build().await;
    let alice = ten_x_long(&mut ctx).await;
    let bob = ctx.trader(1_000 * USDC).await;
    let lp = ctx.liquidity_provider(10_000 * USDC).await;
    let (market, oracle) = ctx.markets[0].pair();
    let five_seconds = OracleConfig { trading_staleness_secs: 5, ..V2_PINNED };
    ctx.set_market_oracle(0, oracle, five_seconds).await.unwrap();
    assert_eq!(ctx.market(0).await.trading_staleness_secs(), 5);
    // A window longer than the market's max staleness is refused, and so is shrinking the max
    // staleness under the window.
    let too_long = OracleConfig { trading_staleness_secs: 61, ..V2_PINNED };
    assert_refused!(ctx, &[], ctx.set_market_oracle(0, oracle, too_long), MicroliqError::OracleWindowInvalid);
    let shrink = ix::UpdateMarket {
        admin: ctx.admin.pubkey(),
        market,
        params: MarketParams { max_staleness_secs: 4, ..default_params() },
    }
    .instruction(&ctx.ex);
    assert_refused!(ctx, &[], ctx.admin_send(shrink), MicroliqError::OracleWindowInvalid);

    // The feed lags: it still shows $140 published 6 s ago (a sponsored feed moves on a 0.5 %
    // deviation or a 60 s heartbeat), inside max staleness, outside the trading window.
    let now = ctx.clock().await.unix_timestamp;
    ctx.set_price(0, PythPrice { publish_time: now - 6, ..PythPrice::usd(140.0) }).await;
    // Refused, nothing changed: opening, closing, withdrawing collateral, LP deposit.
    order_refused(&mut ctx, &bob, oracle, SOL, MicroliqError::OracleTooStaleToTrade).await;
    order_refused(&mut ctx, &alice, oracle, -SOL, MicroliqError::OracleTooStaleToTrade).await;
    assert_refused!(ctx, &[alice.token], ctx.withdraw(&alice, USDC), MicroliqError::OracleTooStaleToTrade);
    assert_refused!(
        ctx,
        &[lp.token, lp.shares],
        ctx.deposit_liquidity(&lp, 1_000 * USDC),
        MicroliqError::OracleTooStaleToTrade
    );
    // Accepted: the liquidation (the account is under water at that price either way).
    let keeper = ctx.keeper().await;
    ctx.liquidate(&keeper, &alice.account, 0).await.unwrap();
    assert!(ctx.events::<microliq::events::LiquidationSliceV3>().pop().unwrap().base_closed > 0);
    // With a fresh price (pushed by anyone) trading resumes.
    ctx.set_price(0, PythPrice::usd(140.0)).await;
    ctx.trade(&bob, 0, SOL).await.unwrap();
    ctx.deposit_liquidity(&lp, 1_000 * USDC).await.unwrap();
}
