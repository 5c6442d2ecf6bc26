//! The EVM adapter against a devnet: quotes from the real Uniswap V2 router
//! and V3 pools (Hemi's SushiSwap V3),
//! a swap its pool cannot fill refused before anything is signed, a revert
//! decoded into the step's error, an approve already mined reused (not
//! re-sent), the gas of both booked, settle by looking.

use crate::devnet_common;

use arbkeep::model::time::MINUTE;
use arbkeep::model::{
    Action, Chain, Clock, CycleId, Intent, IntentId, StepKind, SystemClock, TokenId,
};
use arbkeep::venue::evm::EvmStore;
use arbkeep::venue::evm::devnet::{DevnetOptions, ETHEREUM_TOKENS, HEMI_TOKENS};
use arbkeep::venue::{LoopVenue, VenueError};
use devnet_common::*;
use std::sync::Arc;

fn intent(attempt: u32, action: Action) -> Intent {
    let id = IntentId {
        cycle: CycleId(1),
        step: StepKind::HemiSwap,
        attempt,
    };
    Intent::new(id, action, SystemClock.now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_swap_quotes_approves_swaps_and_settles() {
    let d = start(DevnetOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config(&d, tmp.path());
    let store = Arc::new(EvmStore::open(tmp.path()).unwrap());
    let v = venue(&config, store.clone()).await;

    // Every token has its real decimals (checked at connect), and X is
    // cheaper on Hemi than on Ethereum.
    assert_eq!(HEMI_TOKENS.len() + ETHEREUM_TOKENS.len(), 12);
    let vcred = 1_000 * TokenId::Vcred.one();
    let wbtc = v
        .quote(Chain::Hemi, TokenId::Vcred, TokenId::Wbtc, vcred)
        .await
        .unwrap();
    let usdc = v
        .quote(Chain::Ethereum, TokenId::Wbtc, TokenId::Usdc, wbtc)
        .await
        .unwrap();
    assert!(usdc > 1_010 * TokenId::Usdc.one(), "a gap: {usdc}");
    let fees = v.fees().await.unwrap();
    assert_eq!(fees.stargate_fee_bps, 6);
    assert!(fees.eth_usdc > rust_decimal::Decimal::from(2_900));

    let before = v.balance(Chain::Hemi, TokenId::Wbtc).await.unwrap();
    let deadline = SystemClock.now() + 10 * MINUTE;
    let greedy = Action::Swap {
        chain: Chain::Hemi,
        token_in: TokenId::Vcred,
        token_out: TokenId::Wbtc,
        amount_in: vcred,
        min_out: wbtc * 2,
        deadline,
    };
    let first = intent(0, greedy);
    match v.execute(&first).await {
        Err(VenueError::Rejected(why)) => {
            assert!(why.contains("INSUFFICIENT_OUTPUT_AMOUNT"), "{why}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Refused before anything was signed: not even the approve.
    assert!(store.txs_of(&first.id.to_string()).unwrap().is_empty());
    assert_eq!(v.settle(first.id).await.unwrap(), None);
    // Asked (as the engine does before closing a cycle NOT_STARTED), the
    // venue proves nothing of it was sent, and makes sure nothing will be.
    assert_eq!(
        v.abandon(first.id).await.unwrap(),
        arbkeep::venue::Abandonment::NeverSent
    );

    // hemiBTC is no tunnel token: refused before anything is sent, by
    // asking the token what it is (the real L2 bridge would revert bare).
    let tunnel = Action::BridgeSend {
        route: arbkeep::model::Route::HemiTunnel,
        token: TokenId::HemiBtc,
        from: Chain::Hemi,
        to: Chain::Ethereum,
        amount: 1,
    };
    match v.execute(&intent(9, tunnel)).await {
        Err(VenueError::Rejected(why)) => {
            assert!(
                why.contains("cannot leave by the tunnel")
                    && why.contains("not an OptimismMintableERC20"),
                "{why}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    let fair = Action::Swap {
        chain: Chain::Hemi,
        token_in: TokenId::Vcred,
        token_out: TokenId::Wbtc,
        amount_in: vcred,
        min_out: wbtc * 995 / 1000,
        deadline,
    };
    let second = intent(1, fair);
    // As after a crash between the approve and the swap: the approve is mined
    // and recorded under the intent, the swap never signed. It was for the
    // V2 router, so the swap goes there too, though SushiSwap V3 is first.
    let token = d.deployment.hemi.tokens[&TokenId::Vcred];
    let want = arbkeep::venue::evm::erc20::Allowance {
        token,
        spender: d.deployment.hemi.router,
        amount: alloy::primitives::U256::from(vcred),
        unlimited: false,
    };
    let sid = second.id.to_string();
    arbkeep::venue::evm::erc20::ensure_allowance(
        v.tx_manager(),
        v.client(Chain::Hemi),
        &sid,
        0,
        want,
    )
    .await
    .unwrap();
    let router = d.deployment.hemi.router;
    let by_v2 = arbkeep::venue::evm::swap::v2::quote(
        v.client(Chain::Hemi),
        router,
        vec![token, d.deployment.hemi.tokens[&TokenId::Wbtc]],
        alloy::primitives::U256::from(vcred),
    )
    .await
    .unwrap();
    let by_v2 = u128::try_from(by_v2).unwrap();
    let receipt = v.execute(&second).await.unwrap();
    let via = receipt.via.clone().unwrap_or_default();
    assert!(
        via.starts_with("via sushi_v2")
            && via.contains("sushi_v3 skipped: this step's approve was signed for"),
        "{via}"
    );
    let recs = store.txs_of(&sid).unwrap();
    let purposes: Vec<&str> = recs.iter().map(|r| r.purpose.as_str()).collect();
    assert_eq!(
        purposes,
        ["approve", "swap"],
        "the mined approve was reused, not re-sent"
    );
    assert_eq!(recs[0].attempts.len(), 1);
    assert_eq!(receipt.amount_in, vcred);
    assert_eq!(receipt.amount_out, by_v2);
    assert_eq!(
        v.balance(Chain::Hemi, TokenId::Wbtc).await.unwrap(),
        before + by_v2
    );
    let mut gas = 0u128;
    for r in &recs {
        let mined = v
            .client(Chain::Hemi)
            .receipt(r.mined.as_ref().unwrap().hash)
            .await
            .unwrap()
            .unwrap();
        gas += u128::from(mined.gas_used) * mined.effective_gas_price;
    }
    assert_eq!(
        receipt.gas_fee, gas,
        "the step pays for its approve and its swap"
    );
    assert_eq!(v.settle(second.id).await.unwrap(), Some(receipt.clone()));
    assert_eq!(
        v.receipt(Chain::Hemi, &receipt.tx_hash).await.unwrap(),
        Some(receipt)
    );
    // Executing the same intent again finds it done: no new transaction.
    let again = v.execute(&second).await.unwrap();
    assert_eq!(
        again.tx_hash,
        v.settle(second.id).await.unwrap().unwrap().tx_hash
    );
    let nonce = v
        .client(Chain::Hemi)
        .nonce_latest(v.wallet())
        .await
        .unwrap();
    assert_eq!(nonce, 2, "one approve and one swap");
}
