//! Pull markets: putting a fresh, fully verified `PriceUpdateV2` in front of `liquidate`.
//!
//! A pull market accepts any receiver-owned update of its feed that is `Full`y verified and fresh
//! (docs/ORACLES.md). When the account a pull market was configured with has gone stale, the
//! keeper posts its own:
//!
//! 1. **Hermes**: `GET {hermes}/v2/updates/price/latest?ids[]=<feed id>&encoding=base64` returns
//!    an accumulator update ("PNAU"): one Wormhole VAA signed by the guardians over a Merkle root,
//!    and per feed a price message with its Merkle proof ([`parse_accumulator_update`]).
//! 2. **Wormhole** (core bridge `HDwcJBJX…`): the VAA is written into an encoded-VAA account and
//!    verified against the guardian set named in its header. All signatures are checked, which is
//!    what makes the receiver mark the update `Full` (`post_update_atomic`, which carries the VAA
//!    in the instruction, trims it to 5 signatures to fit and is only `Partial`; Microliq refuses
//!    that).
//! 3. **Receiver** `post_update`: checks the message's Merkle proof against the verified root and
//!    writes the keeper's own price-update account (one persistent keypair per feed, overwritten
//!    on each post, so no rent is left behind), then the encoded VAA is closed.
//! 4. `liquidate` names that account as the market's oracle (and as its health pair elsewhere).
//!
//! Steps 2–3 take two transactions ([`post_update_plan`]; the VAA is about 950 bytes, so it is
//! written in two parts). The instruction formats come from pyth-crosschain's receiver program
//! and Rust CLI (`target_chains/solana`) and the Wormhole core bridge it builds against; the
//! receiver's `post_update` discriminator and parameter types are the ones
//! `pyth-solana-receiver-sdk` 1.0.0 ships.
//!
//! None of this can run here: there is no network, and neither the Wormhole core bridge nor the
//! receiver program is available to load into the in-process runtime. The tests check the shape
//! of what would be sent (programs, discriminators, account order and flags, split, sizes against
//! the 1,232-byte packet limit) and parse an accumulator update built with pythnet-sdk; the
//! keeper's own flow (detecting the stale pull market, posting, then liquidating with the posted
//! account) is tested end to end with a local poster that writes the receiver's output directly.

use std::collections::HashMap;

use anchor_lang::prelude::Pubkey;
use anchor_lang::AnchorSerialize;
use anyhow::{anyhow, bail, Context as _, Result};
use async_trait::async_trait;
use pyth_solana_receiver_sdk::price_update::PriceFeedMessage;
use pyth_solana_receiver_sdk::PostUpdateParams;
use pythnet_sdk::messages::Message;
use pythnet_sdk::wire::v1::{AccumulatorUpdateData, MerklePriceUpdate, Proof};
use solana_sdk::instruction::{AccountMeta, Instruction};
use solana_sdk::signature::{Keypair, Signer};

use microliq::oracle::RawPrice;

use crate::chain::Chain;

/// The Wormhole core bridge the Pyth receiver (`rec5EKMG…`) verifies VAAs with, on every SVM
/// network.
pub const WORMHOLE_PROGRAM: Pubkey =
    anchor_lang::solana_program::pubkey!("HDwcJBJXjL9FpJ7UBsYBtaDjsBUhuLCUYoz3zr8SWWaQ");
/// Bytes of the VAA written by the first transaction (the rest goes with the verification); the
/// split the receiver's Rust SDK uses for legacy transactions without lookup tables.
pub const VAA_SPLIT_INDEX: usize = 755;
/// Discriminator, header (status, write authority, version) and length prefix of an encoded VAA.
pub const ENCODED_VAA_HEADER: usize = 46;
/// Compute-unit limit of the second transaction (write, verify 13 secp256k1 signatures, post,
/// close); the receiver's CLI uses 600,000 for the same bundle.
pub const VERIFY_AND_POST_COMPUTE_UNITS: u32 = 600_000;
/// Compute-unit limit of the first transaction (create, init, write).
pub const CREATE_AND_WRITE_COMPUTE_UNITS: u32 = 30_000;

/// Anchor discriminators (`sha256("global:<name>")[..8]`).
pub mod discriminators {
    pub const INIT_ENCODED_VAA: [u8; 8] = [209, 193, 173, 25, 91, 202, 181, 218];
    pub const WRITE_ENCODED_VAA: [u8; 8] = [199, 208, 110, 177, 150, 76, 118, 42];
    pub const VERIFY_ENCODED_VAA_V1: [u8; 8] = [103, 56, 177, 229, 240, 103, 68, 73];
    pub const CLOSE_ENCODED_VAA: [u8; 8] = [48, 221, 174, 198, 231, 7, 152, 38];
    /// The receiver's `post_update` (as in `pyth_solana_receiver_sdk::cpi::post_update`).
    pub const POST_UPDATE: [u8; 8] = [133, 95, 207, 175, 11, 79, 118, 44];
}

/// One feed's part of an accumulator update.
#[derive(Clone, Debug)]
pub struct FeedUpdate {
    pub message: PriceFeedMessage,
    pub merkle: MerklePriceUpdate,
}

/// A parsed accumulator update: the VAA and each feed's message with its proof.
#[derive(Clone, Debug)]
pub struct AccumulatorUpdate {
    pub vaa: Vec<u8>,
    pub updates: Vec<FeedUpdate>,
}

impl AccumulatorUpdate {
    pub fn feed(&self, feed_id: &[u8; 32]) -> Option<&FeedUpdate> {
        self.updates.iter().find(|u| u.message.feed_id == *feed_id)
    }
}

/// Parses Hermes' accumulator update bytes ("PNAU", big-endian wire format) with pythnet-sdk.
pub fn parse_accumulator_update(bytes: &[u8]) -> Result<AccumulatorUpdate> {
    let data = AccumulatorUpdateData::try_from_slice(bytes)
        .map_err(|e| anyhow!("not an accumulator update: {e:?}"))?;
    let Proof::WormholeMerkle { vaa, updates } = data.proof;
    let mut out = Vec::with_capacity(updates.len());
    for merkle in updates {
        let message = pythnet_sdk::wire::from_slice::<byteorder::BE, Message>(merkle.message.as_ref())
            .map_err(|e| anyhow!("price message: {e:?}"))?;
        if let Message::PriceFeedMessage(message) = message {
            out.push(FeedUpdate { message, merkle });
        }
    }
    Ok(AccumulatorUpdate { vaa: vaa.as_ref().clone(), updates: out })
}

/// The Wormhole guardian-set account a VAA is verified against: `["GuardianSet", index BE]`,
/// the index being bytes 1..5 of the VAA (big-endian).
pub fn guardian_set_address(vaa: &[u8]) -> Result<Pubkey> {
    let index: [u8; 4] = vaa.get(1..5).context("VAA shorter than its header")?.try_into()?;
    Ok(Pubkey::find_program_address(&[b"GuardianSet", &index], &WORMHOLE_PROGRAM).0)
}

/// The two transactions that post one feed's update as a fully verified `PriceUpdateV2`.
#[derive(Debug)]
pub struct PostPlan {
    /// Signed by the payer and the encoded-VAA keypair.
    pub create_and_write: Vec<Instruction>,
    /// Signed by the payer (also the write authority) and the price-update keypair.
    pub verify_and_post: Vec<Instruction>,
    pub encoded_vaa: Pubkey,
    pub price_update: Pubkey,
}

/// Builds the [`PostPlan`] for `update` (from the accumulator whose VAA is `vaa`): `payer` pays
/// and is the write authority of both accounts; `encoded_vaa` is a fresh keypair's address;
/// `price_update` the keeper's account for this feed; `rent_lamports` the rent-exempt minimum of
/// `vaa.len() + ENCODED_VAA_HEADER` bytes.
pub fn post_update_plan(
    payer: &Pubkey,
    encoded_vaa: &Pubkey,
    price_update: &Pubkey,
    vaa: &[u8],
    update: &MerklePriceUpdate,
    treasury_id: u8,
    rent_lamports: u64,
) -> Result<PostPlan> {
    if vaa.len() <= 5 {
        bail!("VAA too short ({} bytes)", vaa.len());
    }
    let guardian_set = guardian_set_address(vaa)?;
    let split = vaa.len().min(VAA_SPLIT_INDEX);
    let write = |index: usize, data: &[u8]| {
        let mut bytes = discriminators::WRITE_ENCODED_VAA.to_vec();
        bytes.extend((index as u32).to_le_bytes());
        bytes.extend((data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(data);
        Instruction {
            program_id: WORMHOLE_PROGRAM,
            accounts: vec![AccountMeta::new_readonly(*payer, true), AccountMeta::new(*encoded_vaa, false)],
            data: bytes,
        }
    };
    let create_and_write = vec![
        solana_sdk::compute_budget::ComputeBudgetInstruction::set_compute_unit_limit(
            CREATE_AND_WRITE_COMPUTE_UNITS,
        ),
        solana_sdk::system_instruction::create_account(
            payer,
            encoded_vaa,
            rent_lamports,
            (vaa.len() + ENCODED_VAA_HEADER) as u64,
            &WORMHOLE_PROGRAM,
        ),
        Instruction {
            program_id: WORMHOLE_PROGRAM,
            accounts: vec![AccountMeta::new_readonly(*payer, true), AccountMeta::new(*encoded_vaa, false)],
            data: discriminators::INIT_ENCODED_VAA.to_vec(),
        },
        write(0, &vaa[..split]),
    ];

    let mut verify_and_post =
        vec![solana_sdk::compute_budget::ComputeBudgetInstruction::set_compute_unit_limit(
            VERIFY_AND_POST_COMPUTE_UNITS,
        )];
    if split < vaa.len() {
        verify_and_post.push(write(split, &vaa[split..]));
    }
    verify_and_post.push(Instruction {
        program_id: WORMHOLE_PROGRAM,
        accounts: vec![
            AccountMeta::new_readonly(*payer, true),
            AccountMeta::new(*encoded_vaa, false),
            AccountMeta::new_readonly(guardian_set, false),
        ],
        data: discriminators::VERIFY_ENCODED_VAA_V1.to_vec(),
    });
    let params = PostUpdateParams { merkle_price_update: update.clone(), treasury_id };
    let mut data = discriminators::POST_UPDATE.to_vec();
    data.extend(params.try_to_vec()?);
    verify_and_post.push(Instruction {
        program_id: pyth_solana_receiver_sdk::ID,
        accounts: vec![
            AccountMeta::new(*payer, true),
            AccountMeta::new_readonly(*encoded_vaa, false),
            AccountMeta::new_readonly(pyth_solana_receiver_sdk::pda::get_config_address(), false),
            AccountMeta::new(pyth_solana_receiver_sdk::pda::get_treasury_address(treasury_id), false),
            AccountMeta::new(*price_update, true),
            AccountMeta::new_readonly(anchor_lang::system_program::ID, false),
            AccountMeta::new_readonly(*payer, true),
        ],
        data,
    });
    verify_and_post.push(close_encoded_vaa(payer, encoded_vaa));
    Ok(PostPlan { create_and_write, verify_and_post, encoded_vaa: *encoded_vaa, price_update: *price_update })
}

/// Wormhole `close_encoded_vaa`: the encoded VAA's rent back to its write authority.
pub fn close_encoded_vaa(write_authority: &Pubkey, encoded_vaa: &Pubkey) -> Instruction {
    Instruction {
        program_id: WORMHOLE_PROGRAM,
        accounts: vec![AccountMeta::new(*write_authority, true), AccountMeta::new(*encoded_vaa, false)],
        data: discriminators::CLOSE_ENCODED_VAA.to_vec(),
    }
}

/// The price-update account a keeper posts `feed_id` to: a keypair derived from the keeper's own
/// secret key and the feed id, so the same account is overwritten on every post, across restarts
/// too, and no rent is stranded.
pub fn price_update_keypair(keeper: &Keypair, feed_id: &[u8; 32]) -> Keypair {
    let seed = solana_sdk::hash::hashv(&[b"microliq-keeper-price-update", &keeper.to_bytes()[..32], feed_id]);
    solana_sdk::signer::keypair::keypair_from_seed(seed.as_ref()).expect("32-byte seed")
}

/// Something that can put a fresh, fully verified update of a pull market's feed on chain.
/// The keeper first asks for the newest price off chain ([`PriceUpdater::latest`]), values the
/// accounts with it, and posts ([`PriceUpdater::post`]) only when a liquidation needs the market.
#[async_trait(?Send)]
pub trait PriceUpdater {
    /// The account this updater posts `feed_id` to for `payer`, the same on every post (an
    /// earlier post is reused while it is fresh).
    fn account(&self, payer: &Keypair, feed_id: &[u8; 32]) -> Pubkey;
    /// The newest price of `feed_id` as a post would write it, without posting (`now` is the
    /// cluster time the keeper judges against); `None` when there is none.
    async fn latest(&mut self, feed_id: &[u8; 32], now: i64) -> Result<Option<RawPrice>>;
    /// Posts the update [`PriceUpdater::latest`] last returned for `feed_id`, paid by `payer`
    /// with `priority_fee` micro-lamports per CU; returns the account that holds it.
    async fn post(
        &mut self,
        chain: &mut dyn Chain,
        payer: &Keypair,
        feed_id: &[u8; 32],
        priority_fee: u64,
    ) -> Result<Pubkey>;
}

/// Posts updates fetched from a Hermes endpoint through Wormhole and the Pyth receiver.
pub struct HermesUpdater {
    pub url: String,
    http: reqwest::Client,
    /// The accumulator update `latest` fetched last, per feed (what `post` posts).
    pending: HashMap<[u8; 32], AccumulatorUpdate>,
    pub treasury_id: u8,
}

impl HermesUpdater {
    pub fn new(url: impl Into<String>) -> Self {
        HermesUpdater {
            url: url.into(),
            // A hung request must not stall the keeper's pass.
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
            pending: HashMap::new(),
            treasury_id: 0,
        }
    }

    /// The latest accumulator update for `feed_id` from Hermes (`encoding=base64`; Hermes'
    /// default is hex).
    pub async fn fetch(&self, feed_id: &[u8; 32]) -> Result<Vec<u8>> {
        use base64::Engine;
        let url = format!(
            "{}/v2/updates/price/latest?ids[]={}&encoding=base64",
            self.url.trim_end_matches('/'),
            hex::encode(feed_id)
        );
        let body =
            self.http.get(&url).send().await.context("Hermes request")?.error_for_status()?.bytes().await?;
        let json: serde_json::Value = serde_json::from_slice(&body).context("Hermes response is not JSON")?;
        let data = json["binary"]["data"][0].as_str().context("Hermes response without binary.data")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(data)?)
    }
}

/// `instructions` behind a compute-unit price (the plans set their own limits).
fn with_priority_fee(instructions: &[Instruction], priority_fee: u64) -> Vec<Instruction> {
    let mut all =
        vec![solana_sdk::compute_budget::ComputeBudgetInstruction::set_compute_unit_price(priority_fee)];
    all.extend_from_slice(instructions);
    all
}

#[async_trait(?Send)]
impl PriceUpdater for HermesUpdater {
    fn account(&self, payer: &Keypair, feed_id: &[u8; 32]) -> Pubkey {
        price_update_keypair(payer, feed_id).pubkey()
    }

    async fn latest(&mut self, feed_id: &[u8; 32], _now: i64) -> Result<Option<RawPrice>> {
        let accumulator = parse_accumulator_update(&self.fetch(feed_id).await?)?;
        let Some(update) = accumulator.feed(feed_id) else { return Ok(None) };
        let m = update.message;
        let price = RawPrice {
            price: m.price,
            conf: m.conf,
            expo: m.exponent,
            publish_time: m.publish_time,
            ema_price: m.ema_price,
        };
        self.pending.insert(*feed_id, accumulator);
        Ok(Some(price))
    }

    async fn post(
        &mut self,
        chain: &mut dyn Chain,
        payer: &Keypair,
        feed_id: &[u8; 32],
        priority_fee: u64,
    ) -> Result<Pubkey> {
        let accumulator = self.pending.remove(feed_id).context("no fetched update to post")?;
        let update = accumulator.feed(feed_id).context("fetched update without the feed")?;
        let price_update = price_update_keypair(payer, feed_id);
        let encoded_vaa = Keypair::new();
        let rent =
            solana_sdk::rent::Rent::default().minimum_balance(accumulator.vaa.len() + ENCODED_VAA_HEADER);
        let plan = post_update_plan(
            &payer.pubkey(),
            &encoded_vaa.pubkey(),
            &price_update.pubkey(),
            &accumulator.vaa,
            &update.merkle,
            self.treasury_id,
            rent,
        )?;
        chain
            .send_signed(&with_priority_fee(&plan.create_and_write, priority_fee), &[payer, &encoded_vaa])
            .await
            .map_err(|e| anyhow!("creating and writing the encoded VAA: {e:?}"))?;
        if let Err(error) = chain
            .send_signed(&with_priority_fee(&plan.verify_and_post, priority_fee), &[payer, &price_update])
            .await
        {
            // Take the encoded VAA's rent back before giving up.
            let close = close_encoded_vaa(&payer.pubkey(), &encoded_vaa.pubkey());
            if let Err(close_error) =
                chain.send_signed(&with_priority_fee(&[close], priority_fee), &[payer]).await
            {
                tracing::warn!(account = %encoded_vaa.pubkey(), ?close_error, "could not close the encoded VAA");
            }
            bail!("verifying and posting: {error:?}");
        }
        Ok(plan.price_update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pythnet_sdk::accumulators::merkle::MerklePath;
    use pythnet_sdk::wire::PrefixedVec;

    fn message(feed_id: [u8; 32], price: i64) -> PriceFeedMessage {
        PriceFeedMessage {
            feed_id,
            price,
            conf: 1_000_000,
            exponent: -8,
            publish_time: 1_750_000_000,
            prev_publish_time: 1_749_999_999,
            ema_price: price,
            ema_conf: 1_000_000,
        }
    }

    /// A VAA of the size Hermes serves: version, guardian set 4, 13 signatures of 66 bytes, a
    /// 51-byte body and a 37-byte Merkle-root payload.
    fn vaa() -> Vec<u8> {
        let mut vaa = vec![1, 0, 0, 0, 4, 13];
        vaa.extend(std::iter::repeat_n(0xab, 13 * 66 + 51 + 37));
        vaa
    }

    fn accumulator(feeds: &[([u8; 32], i64)]) -> Vec<u8> {
        let updates = feeds
            .iter()
            .map(|&(feed, price)| {
                let bytes = pythnet_sdk::wire::to_vec::<_, byteorder::BE>(&Message::PriceFeedMessage(
                    message(feed, price),
                ))
                .unwrap();
                MerklePriceUpdate {
                    message: PrefixedVec::from(bytes),
                    proof: MerklePath::new(vec![[7u8; 20]; 11]),
                }
            })
            .collect();
        let data =
            AccumulatorUpdateData::new(Proof::WormholeMerkle { vaa: PrefixedVec::from(vaa()), updates });
        pythnet_sdk::wire::to_vec::<_, byteorder::BE>(&data).unwrap()
    }

    #[test]
    fn an_accumulator_update_parses_into_its_feeds() {
        let sol = microliq_client::SOL_USD_FEED_ID;
        let btc = microliq_client::BTC_USD_FEED_ID;
        let parsed =
            parse_accumulator_update(&accumulator(&[(sol, 14_000_000_000), (btc, 6_000_000_000_000)]))
                .unwrap();
        assert_eq!(parsed.vaa, vaa());
        assert_eq!(parsed.updates.len(), 2);
        assert_eq!(parsed.feed(&btc).unwrap().message, message(btc, 6_000_000_000_000));
        assert_eq!(parsed.feed(&sol).unwrap().message.price, 14_000_000_000);
        assert!(parsed.feed(&[9; 32]).is_none());
        assert!(parse_accumulator_update(b"PNAX....").is_err());
    }

    #[test]
    fn post_plan_has_the_receivers_shape_and_fits_in_two_packets() {
        let payer = Keypair::new();
        let encoded_vaa = Keypair::new();
        let price_update = Keypair::new();
        let sol = microliq_client::SOL_USD_FEED_ID;
        let parsed = parse_accumulator_update(&accumulator(&[(sol, 14_000_000_000)])).unwrap();
        let vaa = &parsed.vaa;
        let rent = solana_sdk::rent::Rent::default().minimum_balance(vaa.len() + ENCODED_VAA_HEADER);
        let plan = post_update_plan(
            &payer.pubkey(),
            &encoded_vaa.pubkey(),
            &price_update.pubkey(),
            vaa,
            &parsed.updates[0].merkle,
            3,
            rent,
        )
        .unwrap();

        // First transaction: budget, create (owner Wormhole, VAA + 46 bytes), init, first part.
        let first = &plan.create_and_write;
        assert_eq!(first.len(), 4);
        assert_eq!(first[1].program_id, anchor_lang::system_program::ID);
        let space = u64::from_le_bytes(first[1].data[12..20].try_into().unwrap());
        assert_eq!(space as usize, vaa.len() + ENCODED_VAA_HEADER);
        assert_eq!(first[1].data[20..52], WORMHOLE_PROGRAM.to_bytes());
        assert_eq!(
            (first[2].program_id, &first[2].data[..]),
            (WORMHOLE_PROGRAM, &discriminators::INIT_ENCODED_VAA[..])
        );
        assert_eq!(first[3].data[..8], discriminators::WRITE_ENCODED_VAA);
        assert_eq!(u32::from_le_bytes(first[3].data[8..12].try_into().unwrap()), 0);
        assert_eq!(first[3].data[16..], vaa[..VAA_SPLIT_INDEX]);

        // Second: budget, the rest of the VAA at 755, verify against guardian set 4, post, close.
        let second = &plan.verify_and_post;
        assert_eq!(second.len(), 5);
        assert_eq!(u32::from_le_bytes(second[1].data[8..12].try_into().unwrap()), VAA_SPLIT_INDEX as u32);
        assert_eq!(second[1].data[16..], vaa[VAA_SPLIT_INDEX..]);
        let verify = &second[2];
        assert_eq!(verify.data, discriminators::VERIFY_ENCODED_VAA_V1);
        let guardian_set =
            Pubkey::find_program_address(&[b"GuardianSet", &4u32.to_be_bytes()], &WORMHOLE_PROGRAM).0;
        assert_eq!(verify.accounts[2], AccountMeta::new_readonly(guardian_set, false));
        let post = &second[3];
        assert_eq!(post.program_id, microliq::oracle::PYTH_RECEIVER_PROGRAM);
        assert_eq!(post.data[..8], discriminators::POST_UPDATE);
        let flags: Vec<(bool, bool)> = post.accounts.iter().map(|m| (m.is_writable, m.is_signer)).collect();
        assert_eq!(
            flags,
            [
                (true, true),
                (false, false),
                (false, false),
                (true, false),
                (true, true),
                (false, false),
                (false, true)
            ]
        );
        assert_eq!(post.accounts[1].pubkey, encoded_vaa.pubkey());
        assert_eq!(post.accounts[3].pubkey, pyth_solana_receiver_sdk::pda::get_treasury_address(3));
        assert_eq!(post.accounts[4].pubkey, price_update.pubkey());
        // Borsh: u32 message length, message, u32 proof count, 20-byte hashes, treasury id.
        let params = PostUpdateParams::try_from_slice(&post.data[8..]).unwrap();
        assert_eq!(params.treasury_id, 3);
        assert_eq!(params.merkle_price_update, parsed.updates[0].merkle);
        assert_eq!(second[4].data, discriminators::CLOSE_ENCODED_VAA);

        // Both fit in one packet (1,232 bytes) with their signers.
        let blockhash = solana_sdk::hash::Hash::new_unique();
        for (instructions, signers) in [(first, [&payer, &encoded_vaa]), (second, [&payer, &price_update])] {
            let tx = solana_sdk::transaction::Transaction::new_signed_with_payer(
                instructions,
                Some(&payer.pubkey()),
                &signers,
                blockhash,
            );
            let size = bincode::serialized_size(&tx).unwrap() as usize;
            assert!(size <= solana_sdk::packet::PACKET_DATA_SIZE, "{size} bytes");
        }
    }

    use anchor_lang::AnchorDeserialize;
}
