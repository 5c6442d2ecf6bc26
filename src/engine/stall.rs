//! A keeper whose every send is a venue call that stalls until the test
//! releases it: what the tests and the responsiveness bench use to prove
//! that commands are answered and a pause holds the next send while a
//! venue hangs. And a keeper whose every tick fails until the test says
//! otherwise ([`FailingKeeper`]): passes that complete and all fail, for
//! the watchdog's `failing` alarm. Compiled for tests and the `fakes`
//! feature only.

use super::{EngineError, Keeper, KeeperContext, Snapshot};
use crate::venue::VenueError;
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Semaphore, watch};

/// What the stalling keeper sent, counted where the send happens.
#[derive(Debug)]
pub struct SendLog {
    started: Mutex<Vec<Instant>>,
    count: watch::Sender<usize>,
    release: Semaphore,
}

impl SendLog {
    pub fn new() -> Arc<Self> {
        Arc::new(SendLog {
            started: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            release: Semaphore::new(0),
        })
    }

    /// Sends begun so far.
    pub fn sends(&self) -> usize {
        *self.count.borrow()
    }

    /// When each send began.
    pub fn started(&self) -> Vec<Instant> {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wait until `n` sends have begun.
    pub async fn wait_for(&self, n: usize) {
        let mut rx = self.count.subscribe();
        let _ = rx.wait_for(|c| *c >= n).await;
    }

    /// Let `n` stalled venue calls return.
    pub fn release(&self, n: usize) {
        self.release.add_permits(n);
    }
}

/// Sends up to `per_pass` times a pass, each a call that returns only when
/// released, and asks the gate before each, as every real keeper must.
pub struct StallingKeeper {
    pub log: Arc<SendLog>,
    pub per_pass: usize,
}

impl StallingKeeper {
    async fn pass(&self, cx: &KeeperContext<'_>) -> Result<(), EngineError> {
        for _ in 0..self.per_pass {
            if !cx.may_send() {
                break;
            }
            self.log
                .started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Instant::now());
            self.log.count.send_modify(|c| *c += 1);
            if let Ok(permit) = self.log.release.acquire().await {
                permit.forget();
            }
        }
        Ok(())
    }
}

impl Keeper for StallingKeeper {
    fn name(&self) -> &'static str {
        "stalling"
    }

    fn recover<'a>(
        &'a mut self,
        _cx: &'a KeeperContext<'a>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async { Ok(()) })
    }

    fn tick<'a>(&'a mut self, cx: &'a KeeperContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.pass(cx))
    }

    fn render(&self, _snapshot: &mut Snapshot) {}
}

/// Whether the failing keeper fails, and how many ticks it has had.
#[derive(Debug)]
pub struct FailSwitch {
    failing: AtomicBool,
    ticks: watch::Sender<u64>,
}

impl FailSwitch {
    /// Failing from the start.
    pub fn failing() -> Arc<Self> {
        Arc::new(FailSwitch {
            failing: AtomicBool::new(true),
            ticks: watch::channel(0).0,
        })
    }

    /// From the next tick on: fail (`true`) or succeed.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Ticks so far.
    pub fn ticks(&self) -> u64 {
        *self.ticks.borrow()
    }

    /// Wait until `n` ticks have run.
    pub async fn wait_for(&self, n: u64) {
        let mut rx = self.ticks.subscribe();
        let _ = rx.wait_for(|c| *c >= n).await;
    }
}

/// Recovers, then fails every tick with a transient venue error while its
/// switch says so (a venue down); sends nothing.
pub struct FailingKeeper {
    pub switch: Arc<FailSwitch>,
}

impl Keeper for FailingKeeper {
    fn name(&self) -> &'static str {
        "failing"
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
        Box::pin(async {
            self.switch.ticks.send_modify(|c| *c += 1);
            if self.switch.failing.load(Ordering::SeqCst) {
                return Err(VenueError::Transient("the test's venue is down".into()).into());
            }
            Ok(())
        })
    }

    fn render(&self, _snapshot: &mut Snapshot) {}
}
