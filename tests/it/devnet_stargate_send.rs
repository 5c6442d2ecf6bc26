//! The venue's Stargate route on the devnet's real Stargate V2, through a
//! faulting JSON-RPC proxy in front of the source chain: the peer acted
//! and the answer never came. ETH Hemi → Ethereum by `StargatePoolNative`
//! (the node took the send, the answer timed out) and USDC Ethereum → Hemi
//! by `StargatePoolUSDC` to `StargateOFTUSDC` (the node took the send, the
//! connection closed) are each signed once at one nonce, booked exactly as
//! the wallet moved on the node (amount without its dust, the LayerZero fee,
//! gas), and arrive by their guid's `OFTReceived` at `amountReceivedLD`.
//! hemiBTC goes the same way by its own OFT adapter (LayerZero's OFTAdapter
//! and OFT, no Stargate pool), the node taking the send and no answer coming.
//! A fee lowered between quote and send is refunded by the endpoint and
//! booked as paid. A token without a Stargate pool, and a native fee above
//! the cap, are refused before anything is signed.

use crate::devnet_common;

use alloy::primitives::{Address, U256};
use arbkeep::fakes::evm_rpc::{FakeRpc, RpcFault};
use arbkeep::model::{Chain, Intent, Receipt, TokenId};
use arbkeep::venue::evm::devnet::{Devnet, DevnetOptions};
use arbkeep::venue::evm::{ChainClient, EvmStore, EvmVenue, erc20};
use arbkeep::venue::{BridgeStatus, LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A devnet whose `source` node the venue reaches only through the proxy.
struct Faulted {
    d: Devnet,
    proxy: FakeRpc,
    _tmp: tempfile::TempDir,
    store: Arc<EvmStore>,
    v: Arc<EvmVenue>,
    /// Both nodes as they are, past the proxy.
    hemi: ChainClient,
    ethereum: ChainClient,
}

async fn faulted(source: Chain, edit: impl FnOnce(&mut arbkeep::config::EvmConfig)) -> Faulted {
    faulted_on(DevnetOptions::default(), source, edit).await
}

/// `faulted` on a devnet started with `opts`.
async fn faulted_on(
    opts: DevnetOptions,
    source: Chain,
    edit: impl FnOnce(&mut arbkeep::config::EvmConfig),
) -> Faulted {
    let d = start(opts).await;
    let proxy = FakeRpc::start(&d.anvil(source).url())
        .await
        .expect("proxy starts");
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(&d, tmp.path());
    let evm = config.evm.as_mut().unwrap();
    let (hemi, ethereum) = (evm.hemi.clone(), evm.ethereum.clone());
    let proxied = match source {
        Chain::Hemi => &mut evm.hemi,
        Chain::Ethereum => &mut evm.ethereum,
    };
    proxied.rpc_url = proxy.url();
    proxied.ws_url = None;
    evm.rpc_timeout_ms = 1_000;
    edit(evm);
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = Arc::new(venue(&config, store.clone()).await);
    let timeout = Duration::from_secs(5);
    Faulted {
        hemi: ChainClient::connect(Chain::Hemi, &hemi, timeout)
            .await
            .unwrap(),
        ethereum: ChainClient::connect(Chain::Ethereum, &ethereum, timeout)
            .await
            .unwrap(),
        d,
        proxy,
        _tmp: tmp,
        store,
        v,
    }
}

/// What the node says the wallet holds of `token` (ETH: native).
async fn held(c: &ChainClient, d: &Devnet, chain: Chain, token: TokenId, who: Address) -> U256 {
    if token.is_native() {
        c.native_balance(who).await.unwrap()
    } else {
        let a = d.deployment.chain(chain).tokens[&token];
        erc20::balance_of(c, a, who).await.unwrap()
    }
}

impl Faulted {
    fn node(&self, chain: Chain) -> &ChainClient {
        match chain {
            Chain::Hemi => &self.hemi,
            Chain::Ethereum => &self.ethereum,
        }
    }

    /// As the engine does: after an unknown answer settle by looking, and
    /// carry it out again only when settling says it was not done.
    async fn carry_out(&self, intent: &Intent) -> (Receipt, Vec<VenueError>) {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            match self.v.execute(intent).await {
                Ok(r) => return (r, seen),
                Err(VenueError::Rejected(why)) => panic!("rejected: {why} (after {seen:?})"),
                Err(e) => seen.push(e),
            }
            loop {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "not done: {seen:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                match self.v.settle(intent.id).await {
                    Ok(Some(r)) => return (r, seen),
                    Ok(None) => break,
                    Err(e) => seen.push(e),
                }
            }
        }
    }

    /// On ULN302: what `chain`'s `SendUln302` holds for its DVN and
    /// executor (the fees the keeper's sends paid them); `None` on
    /// `SimpleMessageLib`.
    async fn workers_fees(&self, chain: Chain) -> Option<U256> {
        use arbkeep::venue::evm::devnet::{IUln302, KEEPER_KEY, signing_provider};
        let uln = self.d.deployment.stargate.chain(chain).lz.uln302?;
        let p = signing_provider(&self.d.anvil(chain).url(), KEEPER_KEY).unwrap();
        let mut sum = U256::ZERO;
        for worker in uln.workers() {
            let call = IUln302::feesCall { _worker: worker };
            sum += crate::devnet_stargate_v2::read(&p, uln.send_lib, call).await;
        }
        Some(sum)
    }

    /// The wallet's nonces the node received, each signed for one record.
    fn nonces_sent(&self) -> Vec<u64> {
        let me = self.v.wallet();
        let records = self.store.all_txs().unwrap();
        self.proxy
            .sends_by_nonce()
            .into_iter()
            .filter(|((sender, _), _)| *sender == me)
            .map(|((_, nonce), hashes)| {
                let owners: std::collections::BTreeSet<(String, u32)> = hashes
                    .iter()
                    .map(|h| {
                        records
                            .iter()
                            .find(|r| r.hashes().any(|x| x == *h))
                            .map(|r| (r.intent.clone(), r.seq))
                            .unwrap_or_else(|| panic!("{h} is not in the journal"))
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "nonce {nonce} signed for {owners:?}");
                nonce
            })
            .collect()
    }

    /// Send `amount` (dust included) of `token` from `from` with `fault`
    /// on the `nth` broadcast of the send (1: the first), then check it was
    /// sent once, booked as the wallet moved, and arrived by its guid.
    async fn send_once_and_arrive(
        &self,
        token: TokenId,
        from: Chain,
        amount: u128,
        txs: u64,
        fault: RpcFault,
    ) {
        let to = match from {
            Chain::Hemi => Chain::Ethereum,
            Chain::Ethereum => Chain::Hemi,
        };
        let me = self.v.wallet();
        let src = self.node(from);
        let nonce = src.nonce_latest(me).await.unwrap();
        let eth_before = src.native_balance(me).await.unwrap();
        let token_before = held(src, &self.d, from, token, me).await;
        let dst_before = held(self.node(to), &self.d, to, token, me).await;
        let workers_before = self.workers_fees(from).await;
        let method = "eth_sendRawTransaction";
        self.proxy
            .script(method, self.proxy.calls(method) + txs, fault.clone());
        let intent = stargate_intent(1, token, from, to, amount);
        let (r, seen) = self.carry_out(&intent).await;
        assert!(
            self.proxy
                .faults_met()
                .iter()
                .any(|(m, _, f)| m == method && *f == fault),
            "the fault was met"
        );
        let nonces: Vec<u64> = (nonce..nonce + txs).collect();
        assert_eq!(self.nonces_sent(), nonces, "signed once each ({seen:?})");
        assert_eq!(src.nonce_latest(me).await.unwrap(), nonce + txs);

        // The dust stayed; the wallet moved by what the receipt books.
        let step = U256::from(10u64).pow(U256::from(token.decimals() - 6));
        let clean = U256::from(amount) - U256::from(amount) % step;
        assert_eq!(U256::from(r.amount_in), clean, "dust removed");
        let ticket = r.ticket.clone().expect("a ticket");
        assert_eq!(ticket.amount_sent, r.amount_in);
        if token == TokenId::HemiBtc {
            // A plain OFT takes no token fee.
            assert_eq!(ticket.expected_amount, ticket.amount_sent, "no token fee");
        } else {
            assert!(ticket.expected_amount < ticket.amount_sent, "a token fee");
        }
        assert_eq!(r.bridge_fee_token, r.amount_in - ticket.expected_amount);
        // SimpleMessageLib's fixed fee, or what ULN302's workers were paid.
        let lz_fee = match (workers_before, self.workers_fees(from).await) {
            (Some(before), Some(after)) => after - before,
            _ => U256::from(self.d.options.stargate_native_fee_wei),
        };
        assert!(lz_fee > U256::ZERO);
        assert_eq!(
            U256::from(r.bridge_fee_native),
            lz_fee,
            "the LayerZero fee, nothing refunded"
        );
        let eth_after = src.native_balance(me).await.unwrap();
        let token_after = held(src, &self.d, from, token, me).await;
        let native_out = if token.is_native() { r.amount_in } else { 0 };
        assert_eq!(
            eth_before - eth_after,
            U256::from(native_out + r.bridge_fee_native + r.gas_fee),
            "ETH booked = ETH paid"
        );
        if !token.is_native() {
            assert_eq!(token_before - token_after, U256::from(r.amount_in));
        }

        // Delivered by the relayer after its delay: the guid's OFTReceived.
        let started = Instant::now();
        let arrived = loop {
            match self.v.bridge_status(&ticket).await.unwrap() {
                BridgeStatus::Arrived { amount, .. } => break amount,
                BridgeStatus::InFlight { ready_at, .. } => {
                    if let Some(at) = ready_at {
                        assert_eq!(at, ticket.sent_at + 2_000);
                    }
                }
                other => panic!("a Stargate transfer is never {other:?}"),
            }
            assert!(started.elapsed() < Duration::from_secs(60), "never arrived");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(arrived, ticket.expected_amount);
        let dst_after = held(self.node(to), &self.d, to, token, me).await;
        assert_eq!(dst_after - dst_before, U256::from(arrived), "arrived once");
    }
}

/// Half an ETH and 123 wei of dust Hemi → Ethereum on a devnet started
/// with `opts`, the node taking the send and the answer timing out.
async fn eth_send_taken_then_no_answer(opts: DevnetOptions) {
    let f = faulted_on(opts, Chain::Hemi, |_| {}).await;
    let amount = TokenId::Eth.one() / 2 + 123;
    f.send_once_and_arrive(
        TokenId::Eth,
        Chain::Hemi,
        amount,
        1,
        RpcFault::TimeoutAfter(Duration::from_secs(3)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_eth_send_taken_then_no_answer_is_sent_once_and_arrives() {
    eth_send_taken_then_no_answer(DevnetOptions {
        stargate_message_lib: arbkeep::venue::evm::devnet::MessageLibKind::Simple,
        ..DevnetOptions::default()
    })
    .await;
}

/// The same over ULN302: the keeper pays the fee the DVN and the executor
/// quote, and the devnet's relayer delivers as the DVN (verify, commit)
/// and the executor (`execute302`) do; the guid's `OFTReceived` arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_uln302_eth_send_taken_then_no_answer_is_sent_once_and_arrives() {
    eth_send_taken_then_no_answer(DevnetOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_usdc_send_taken_then_connection_closed_is_sent_once_and_arrives() {
    let f = faulted(Chain::Ethereum, |_| {}).await;
    let me = f.v.wallet();
    mint_on_ethereum(&f.d, TokenId::Usdc, me, 5_000 * TokenId::Usdc.one()).await;
    // The approve goes through; the send after it meets the fault.
    f.send_once_and_arrive(
        TokenId::Usdc,
        Chain::Ethereum,
        1_234 * TokenId::Usdc.one(),
        2,
        RpcFault::DropAfter,
    )
    .await;
}

/// hemiBTC leaves Hemi by its own OFT adapter (LayerZero's `OFTAdapter`
/// locking it, its `OFT` minting on Ethereum; no Stargate pool): the
/// approve to the adapter goes through, the node takes the send and the
/// answer times out. Sent once, no token fee, the dust below its shared
/// decimals' 100-satoshi step left in the wallet, and it arrives by the
/// guid's `OFTReceived` on the Ethereum OFT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_oft_hemi_btc_send_taken_then_no_answer_is_sent_once_and_arrives() {
    let f = faulted(Chain::Hemi, |_| {}).await;
    let me = f.v.wallet();
    mint_on(
        &f.d,
        Chain::Hemi,
        TokenId::HemiBtc,
        me,
        2 * TokenId::HemiBtc.one(),
    )
    .await;
    f.send_once_and_arrive(
        TokenId::HemiBtc,
        Chain::Hemi,
        TokenId::HemiBtc.one() / 3 + 7,
        2,
        RpcFault::TimeoutAfter(Duration::from_secs(3)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_refuses_a_token_without_a_pool_and_a_fee_above_the_cap() {
    let f = faulted(Chain::Hemi, |evm| {
        evm.max_stargate_native_fee = 1_000;
    })
    .await;
    for (cycle, token, want) in [
        (1, TokenId::Wbtc, "WBTC has no Stargate pool on Hemi"),
        (2, TokenId::Eth, "evm.max_stargate_native_fee"),
    ] {
        let intent = stargate_intent(
            cycle,
            token,
            Chain::Hemi,
            Chain::Ethereum,
            TokenId::Eth.one(),
        );
        match f.v.execute(&intent).await {
            Err(VenueError::Rejected(why)) => assert!(why.contains(want), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            f.store.txs_of(&intent.id.to_string()).unwrap().is_empty(),
            "nothing signed"
        );
    }
    assert!(f.proxy.sends().is_empty(), "nothing reached the node");
}

/// The LayerZero fee falls between the venue's quote and the node taking
/// the send (the broadcast held at the proxy meanwhile): the endpoint
/// refunds the excess to the wallet in the same transaction, and the
/// receipt books the fee that was paid, not the one offered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stargate_refunded_fee_is_booked_as_paid() {
    use alloy::network::TransactionBuilder;
    use alloy::sol_types::SolCall;
    use arbkeep::venue::evm::devnet::{DEPLOYER_KEY, ISimpleMessageLib, send_mined};
    // SimpleMessageLib's fee is the one its owner can lower under a send.
    let simple = DevnetOptions {
        stargate_message_lib: arbkeep::venue::evm::devnet::MessageLibKind::Simple,
        ..DevnetOptions::default()
    };
    let f = faulted_on(simple, Chain::Hemi, |evm| evm.rpc_timeout_ms = 20_000).await;
    let me = f.v.wallet();
    let offered = f.d.options.stargate_native_fee_wei;
    let lowered = offered / 3;
    let eth_before = f.hemi.native_balance(me).await.unwrap();
    let method = "eth_sendRawTransaction";
    let gate = f.proxy.gate(method, f.proxy.calls(method) + 1);
    let intent = stargate_intent(
        4,
        TokenId::Eth,
        Chain::Hemi,
        Chain::Ethereum,
        TokenId::Eth.one(),
    );
    let sending = {
        let (v, intent) = (f.v.clone(), intent.clone());
        tokio::spawn(async move { v.execute(&intent).await })
    };
    tokio::time::timeout(Duration::from_secs(30), gate.reached())
        .await
        .expect("the send reaches the proxy");
    let owner =
        arbkeep::venue::evm::devnet::signing_provider(&f.d.hemi.url(), DEPLOYER_KEY).unwrap();
    let lib = f.d.deployment.stargate.hemi.lz.message_lib;
    let set = ISimpleMessageLib::setMessagingFeeCall {
        _nativeFee: U256::from(lowered),
        _lzTokenFee: U256::ZERO,
    };
    send_mined(
        &owner,
        alloy::rpc::types::TransactionRequest::default()
            .with_to(lib)
            .with_input(set.abi_encode()),
    )
    .await
    .expect("the library's fee is lowered");
    gate.open();
    let r = match sending.await.unwrap() {
        Ok(r) => r,
        Err(_) => f.carry_out(&intent).await.0,
    };
    assert_eq!(r.bridge_fee_native, lowered, "booked what was paid");
    let eth_after = f.hemi.native_balance(me).await.unwrap();
    assert_eq!(
        eth_before - eth_after,
        U256::from(r.amount_in + r.bridge_fee_native + r.gas_fee),
        "ETH booked = ETH paid, the refund included"
    );
    assert_eq!(f.nonces_sent().len(), 1, "one send");
}
