//! The cross-check before a cycle is sent: Horizon's strict-send path
//! finding (the loopback fake's `/paths/strict-send`, the real response
//! shape) asked by the two-query recipe and compared with the keeper's
//! prediction. Disagreement beyond `path_check_tolerance_bps` drops the
//! cycle (nothing reaches the fake, the drop counted and explained);
//! agreement, or a gap within the tolerance, lets it through.

use crate::stellar_stream::keeper_config;
use arbkeep::engine::{Keeper, KeeperContext, Phase, SendGate};
use arbkeep::fakes::stellar::endpoints;
use arbkeep::fakes::stellar::{StellarFake, world};
use arbkeep::model::Mode;
use arbkeep::store::Store;
use arbkeep::strategy::stellar_arb::{StellarArbKeeper, StellarShared};
use arbkeep::venue::stellar::network::NetworkVenue;
use arbkeep::venue::stellar::{Keypair, StellarVenue};
use std::sync::Arc;
use std::time::Duration;

/// One recovery and one pass against a fake whose path finder quotes
/// `skew_bps` less than its books; the keeper with `tolerance_bps`.
async fn one_pass(skew_bps: i64, tolerance_bps: i64) -> (StellarFake, StellarArbKeeper) {
    let fake = StellarFake::start(world()).await;
    fake.skew_paths(skew_bps);
    let venue: Arc<dyn StellarVenue> =
        Arc::new(NetworkVenue::new(endpoints(&fake)).expect("venue"));
    let mut config = keeper_config();
    config.path_check_tolerance_bps = tolerance_bps;
    let mut keeper = StellarArbKeeper::new(
        config,
        StellarShared::new(venue, true),
        &Keypair::from_seed([0x33; 32]),
    )
    .with_polling(5, Duration::from_millis(5));
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path(), Mode::Paper).expect("store");
    let (notices, _) = tokio::sync::broadcast::channel(64);
    let gate = SendGate::default();
    let cx = KeeperContext {
        store: &store,
        now: 1,
        phase: Phase::Running,
        gate: &gate,
        notices: &notices,
    };
    keeper.recover(&cx).await.expect("recover");
    keeper.tick(&cx).await.expect("tick");
    (fake, keeper)
}

#[tokio::test]
async fn a_path_finding_disagreement_drops_the_cycle_and_counts_it() {
    let (fake, keeper) = one_pass(500, 50).await;
    let subs = fake.submissions();
    assert!(subs.cycles.is_empty(), "nothing sent: {subs:?}");
    assert_eq!(subs.path_queries, 2, "XLM → AQUA, then AQUA → XLM");
    let v = keeper.view();
    assert_eq!(v.path_check_drops, 1);
    assert!(
        v.status.contains("dropped XLM → AQUA → XLM")
            && v.status.contains("path_check_tolerance_bps 50"),
        "{}",
        v.status
    );
    assert!(
        v.opportunities.iter().any(|o| o.edge_bps > 0),
        "the books still show the edge"
    );
}

#[tokio::test]
async fn agreement_or_a_gap_within_the_tolerance_lets_the_cycle_through() {
    for (skew, tolerance) in [(0, 50), (20, 50)] {
        let (fake, keeper) = one_pass(skew, tolerance).await;
        let subs = fake.submissions();
        assert_eq!(subs.cycles.len(), 1, "skew {skew}: {subs:?}");
        assert_eq!(fake.applied_cycles().len(), 1, "skew {skew}");
        assert_eq!(subs.path_queries, 2, "skew {skew}");
        assert_eq!(keeper.view().path_check_drops, 0);
    }
}
