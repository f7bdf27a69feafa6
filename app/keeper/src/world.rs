//! A populated exchange on the in-process runtime, shared by the demo and the simulator: two
//! markets, a liquidity pool, an insurance fund, a seeded population of traders with varied
//! leverage and direction, and a keeper.

use anchor_lang::prelude::Pubkey;
use anyhow::Result;
use microliq::state::MarketParams;
use microliq_client::{default_params, Keeper, LocalExchange, MarketSpec, PythPrice, Trader, USDC};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::chain::Chain;
use crate::keeper::{run_pass, KeeperConfig, Liquidator, PassReport};
use crate::scan::{decode_margin_accounts, Assessment, Snapshot};

/// How liquidations are configured on the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Microliq as built: the smallest slice that restores health, bonus rising with risk.
    Micro,
    /// What most peers do: close the whole position on the first breach at the maximum penalty.
    /// Configured on the same program: `dust_notional = ∞` makes every remainder dust, and
    /// `bonus_min = bonus_max`.
    Full,
}

impl Policy {
    pub fn params(self, base: MarketParams) -> MarketParams {
        match self {
            Policy::Micro => base,
            Policy::Full => {
                MarketParams { dust_notional: u64::MAX, bonus_min_rate: base.bonus_max_rate, ..base }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::Micro => "micro",
            Policy::Full => "full",
        }
    }
}

/// One trader of the population.
pub struct Participant {
    pub name: String,
    pub trader: Trader,
    pub deposit: u64,
    pub leverage: f64,
    pub long: bool,
    pub markets: Vec<u16>,
}

pub struct World {
    pub exchange: LocalExchange,
    pub participants: Vec<Participant>,
    pub liquidator: Liquidator,
    pub keeper: Keeper,
    /// Prices in dollars, per market.
    pub prices: Vec<f64>,
    pub market_names: Vec<&'static str>,
    /// Chain time between two price steps ([`DEFAULT_STEP_SECS`]; slots follow at 400 ms):
    /// what funding accrues over.
    pub step_secs: i64,
    /// Chain time the current step's cascade rounds took (seconds, slots): taken off the next
    /// step's advance, so that a step stays `step_secs` long.
    round_time: (i64, u64),
}

/// Chain time of one cascade round: the closed base is hedged on the external venue and the
/// oracle publishes the moved price one second (three slots) later.
pub const CASCADE_ROUND_SECS: i64 = 1;
const CASCADE_ROUND_SLOTS: u64 = 3;

/// Chain time between two price steps of the demo and the simulator by default: 30 s (75 slots).
pub const DEFAULT_STEP_SECS: i64 = 30;

/// Starting prices: SOL-PERP and BTC-PERP.
pub const START_PRICES: [f64; 2] = [150.0, 60_000.0];

impl World {
    /// Builds the exchange and `traders` accounts (seeded): deposits of 500–5,000 USDC, leverage
    /// 2x–9.5x, three in four long, in SOL, BTC or both.
    pub async fn new(seed: u64, traders: usize, policy: Policy) -> Result<World> {
        Self::with_buffer(seed, traders, policy, None).await
    }

    /// As [`World::new`], with the markets' liquidation buffer β set (rate, 1e6 = 100 %).
    pub async fn with_buffer(
        seed: u64,
        traders: usize,
        policy: Policy,
        buffer: Option<u32>,
    ) -> Result<World> {
        Self::with_overrides(seed, traders, policy, buffer, None).await
    }

    /// As [`World::with_buffer`], with both markets' funding parameters set too.
    pub async fn with_overrides(
        seed: u64,
        traders: usize,
        policy: Policy,
        buffer: Option<u32>,
        funding: Option<microliq::state::FundingConfig>,
    ) -> Result<World> {
        let configure = |spec: MarketSpec| {
            let mut params = policy.params(spec.params);
            if let Some(buffer) = buffer {
                params.liquidation_buffer = buffer;
            }
            MarketSpec { params, funding: funding.unwrap_or(spec.funding), ..spec }
        };
        let sol = configure(MarketSpec::sol());
        let btc = configure(MarketSpec::btc());
        let mut exchange = LocalExchange::builder()
            .with_market(sol)
            .with_market(btc)
            .with_pool_liquidity(5_000_000 * USDC)
            .with_insurance(20_000 * USDC)
            .with_insurance_cap(10_000 * USDC)
            .build()
            .await;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut participants = Vec::with_capacity(traders);
        for i in 0..traders {
            let deposit = rng.gen_range(500..=5_000) * USDC;
            let leverage = (rng.gen_range(20..=95) as f64) / 10.0;
            let long = rng.gen_bool(0.75);
            let markets = match rng.gen_range(0..100) {
                0..=54 => vec![0],
                55..=84 => vec![1],
                _ => vec![0, 1],
            };
            let trader = exchange.trader(deposit).await;
            // Leave room for the taker fee and rounding below the 10x initial margin.
            let notional_each = deposit as f64 * leverage / markets.len() as f64;
            for &market in &markets {
                let (decimals, lot) = if market == 0 { (9, 1_000_000) } else { (8, 10_000) };
                let base = notional_each / 1e6 / START_PRICES[market as usize] * 10f64.powi(decimals);
                let base = (base as i64 / lot) * lot;
                if base > 0 {
                    exchange
                        .trade(&trader, market, if long { base } else { -base })
                        .await
                        .map_err(|e| anyhow::anyhow!("opening trader {i} in market {market}: {e:?}"))?;
                }
            }
            participants.push(Participant {
                name: format!("trader-{i:02}"),
                trader,
                deposit,
                leverage,
                long,
                markets,
            });
        }
        let keeper = exchange.keeper().await;
        let liquidator = Liquidator {
            keeper: keeper.owner.insecure_clone(),
            keeper_token: keeper.token,
            addresses: exchange.ex,
        };
        Ok(World {
            exchange,
            participants,
            liquidator,
            keeper,
            prices: START_PRICES.to_vec(),
            market_names: vec!["SOL", "BTC"],
            step_secs: DEFAULT_STEP_SECS,
            round_time: (0, 0),
        })
    }

    /// Moves time forward by `step_secs` (slots at 400 ms; less what the previous step's
    /// cascade rounds took) and publishes new prices for every market.
    pub async fn set_prices(&mut self, prices: &[f64]) {
        let slots = (self.step_secs.max(0) as u64 * 5).div_ceil(2);
        let (secs_used, slots_used) = std::mem::take(&mut self.round_time);
        self.exchange.advance(slots.saturating_sub(slots_used), (self.step_secs - secs_used).max(0)).await;
        self.write_prices(prices).await;
    }

    /// A cascade round within a step: the prices moved by what the last pass closed, published
    /// [`CASCADE_ROUND_SECS`] later (the time is taken off the next step).
    pub async fn publish_round_prices(&mut self, prices: &[f64]) {
        self.exchange.advance(CASCADE_ROUND_SLOTS - 1, CASCADE_ROUND_SECS).await;
        self.round_time.0 += CASCADE_ROUND_SECS;
        self.round_time.1 += CASCADE_ROUND_SLOTS;
        self.write_prices(prices).await;
    }

    /// Publishes new prices for every market one slot later.
    async fn write_prices(&mut self, prices: &[f64]) {
        self.exchange.advance(1, 0).await;
        for (index, &price) in prices.iter().enumerate() {
            self.exchange.set_price(index as u16, PythPrice::usd(price)).await;
        }
        self.prices = prices.to_vec();
    }

    /// One keeper pass over every account.
    pub async fn keeper_pass(&mut self, config: &KeeperConfig) -> Result<PassReport> {
        run_pass(&mut self.exchange, &self.liquidator, config).await
    }

    /// Health of every participant's account at current prices, in participant order.
    pub async fn assessments(&mut self) -> Result<Vec<Assessment>> {
        let snapshot = Snapshot::load(&mut self.exchange, self.liquidator.addresses).await?;
        let raw = self.exchange.margin_accounts().await?;
        let decoded = decode_margin_accounts(&raw);
        Ok(self
            .participants
            .iter()
            .filter_map(|p| {
                let (_, account) = decoded.iter().find(|(key, _)| *key == p.trader.account)?;
                Assessment::new(p.trader.account, *account, &snapshot)
            })
            .collect())
    }

    /// Funding the traders' positions have accrued and not yet settled, as `(owed by them,
    /// owed to them)` in quote atoms (rounded against each account, as the program settles it).
    pub async fn unsettled_funding(&mut self) -> Result<(u64, u64)> {
        let mut totals = (0u64, 0u64);
        for assessment in self.assessments().await? {
            for position in assessment.positions() {
                if position.funding < 0 {
                    totals.0 += position.funding.unsigned_abs() as u64;
                } else {
                    totals.1 += position.funding as u64;
                }
            }
        }
        Ok(totals)
    }

    /// Every participant's equity `E` (quote atoms, unsettled funding included), in participant
    /// order.
    pub async fn equities(&mut self) -> Result<Vec<i128>> {
        Ok(self.assessments().await?.iter().map(|a| a.health.equity).collect())
    }

    /// Positions open across the participants.
    pub async fn open_positions(&mut self) -> Result<usize> {
        Ok(self.assessments().await?.iter().map(|a| a.account.open_position_count()).sum())
    }

    /// Σ over traders of `max(E, 0)` in quote atoms: what the users would walk away with.
    pub async fn user_equity(&mut self) -> Result<i128> {
        Ok(self.assessments().await?.iter().map(|a| a.health.equity.max(0)).sum())
    }

    pub fn participant(&self, account: &Pubkey) -> Option<&Participant> {
        self.participants.iter().find(|p| p.trader.account == *account)
    }

    /// Σ of what every trader deposited.
    pub fn deposits(&self) -> u64 {
        self.participants.iter().map(|p| p.deposit).sum()
    }

    /// Quote vault == Σ collateral + pool, and insurance vault == fund, read back from the chain.
    pub async fn vaults_match_ledgers(&mut self) -> bool {
        let exchange = self.exchange.exchange().await;
        let fund = self.exchange.insurance_fund().await;
        let quote = self.exchange.ex.quote_vault;
        let insurance = self.exchange.ex.insurance_vault;
        let quote_balance = self.exchange.token_balance(&quote).await as i128;
        let insurance_balance = self.exchange.token_balance(&insurance).await;
        let mut sum = 0i128;
        for key in self.exchange.margin_accounts.clone() {
            sum += self.exchange.margin_account(&key).await.collateral as i128;
        }
        quote_balance == exchange.total_collateral as i128 + exchange.pool_balance as i128
            && sum == exchange.total_collateral as i128
            && insurance_balance == fund.balance
    }
}

/// The `default_params` the world's markets start from (re-exported for the reports).
pub fn market_params() -> MarketParams {
    default_params()
}
