//! The snapshot goes to every front end (the TUI, `attach`, the control
//! API): a venue's health detail that quotes a library error, and with it an
//! RPC URL and its API key, is shown with the URL redacted.

use crate::common;

use arbkeep::config::Config;
use arbkeep::engine::{EngineError, Keeper, KeeperContext, Snapshot};
use arbkeep::venue::VenueHealth;
use common::*;
use futures_util::future::BoxFuture;

const KEY: &str = "SECRETKEY0123";

/// A keeper whose venue reports an error that quotes its keyed RPC URL.
struct Leaky;

impl Keeper for Leaky {
    fn name(&self) -> &'static str {
        "leaky"
    }

    fn recover<'a>(
        &'a mut self,
        _cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async { Ok(()) })
    }

    fn tick<'a>(
        &'a mut self,
        _cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async { Ok(()) })
    }

    fn render(&self, snapshot: &mut Snapshot) {
        snapshot.venues.push(VenueHealth {
            name: "leaky rpc".into(),
            ok: false,
            head: None,
            latency_ms: None,
            last_seen: None,
            detail: format!(
                "error sending request for url (https://eth-mainnet.g.alchemy.com/v2/{KEY}); retry at wss://x.infura.io/ws/v3/{KEY}"
            ),
        });
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_health_detail_quoting_a_keyed_rpc_url_is_redacted_in_the_snapshot() {
    let tmp = tempfile::tempdir().expect("dir");
    let mut p = paper(tmp.path(), 7, Config::default(), false, None).await;
    p.engine.add_keeper(Box::new(Leaky));
    p.run(1, 1_000).await;
    let snapshot = p.handle.latest();
    let line = snapshot
        .venues
        .iter()
        .find(|v| v.name == "leaky rpc")
        .expect("the keeper's line is published");
    assert!(!line.detail.contains(KEY), "{}", line.detail);
    assert!(
        line.detail.contains("eth-mainnet.g.alchemy.com/<redacted>"),
        "{}",
        line.detail
    );
    let json = serde_json::to_string(&*snapshot).expect("json");
    assert!(!json.contains(KEY));
}
