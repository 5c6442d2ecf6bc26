//! Who gets a connection slot on the control socket, so that local clients
//! that open sockets and keep them idle cannot lock the operator out.
//!
//! Connections that have not proven the token (by the handshake, or by a
//! message carrying the right token) are *unauthenticated*, and at most
//! [`ControlLimits::max_unauthenticated`] of them are held at once. The rest
//! of [`ControlLimits::max_connections`] is reserved for authenticated ones.
//! A newcomer always starts unauthenticated; when their share is full, the
//! oldest unauthenticated connection is evicted to make room, so an operator
//! connecting through a crowd of idle sockets gets in and can authenticate.
//! An authenticated connection is never evicted. A newcomer is refused only
//! when authenticated connections fill every slot.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// The control server's limits. [`Default`] holds the production values;
/// tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct ControlLimits {
    /// Open sockets of every kind.
    pub max_connections: usize,
    /// Sockets that have not proven the token; must be below
    /// `max_connections` (the difference is the operator's reserve).
    pub max_unauthenticated: usize,
    /// A socket that has not finished its WebSocket upgrade by then is dropped.
    pub handshake_timeout: Duration,
    /// An unauthenticated client that sends nothing (not even a pong to the
    /// server's ping, sent halfway) for this long is closed.
    pub idle_timeout: Duration,
    /// The largest message, and frame, a client may send.
    pub max_client_message: usize,
}

impl Default for ControlLimits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            max_unauthenticated: 48,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_client_message: 1 << 20,
        }
    }
}

impl ControlLimits {
    /// The values actually enforced: at least one unauthenticated slot and
    /// at least one reserved for the operator.
    pub(crate) fn sane(mut self) -> Self {
        self.max_connections = self.max_connections.max(2);
        self.max_unauthenticated = self.max_unauthenticated.clamp(1, self.max_connections - 1);
        self
    }
}

/// Why a newcomer was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every control connection slot is held by an authenticated client")]
pub(crate) struct Full;

struct Slot {
    authenticated: bool,
    /// Fired (or dropped) to evict: the connection's receiver then completes.
    evict: oneshot::Sender<()>,
}

#[derive(Default)]
struct Registry {
    next: u64,
    /// By admission order: the first unauthenticated entry is the oldest.
    slots: BTreeMap<u64, Slot>,
}

/// The slots of one server.
pub(crate) struct Admission {
    limits: ControlLimits,
    registry: Mutex<Registry>,
}

impl Admission {
    pub(crate) fn new(limits: ControlLimits) -> Arc<Self> {
        Arc::new(Self {
            limits: limits.sane(),
            registry: Mutex::new(Registry::default()),
        })
    }

    pub(crate) fn limits(&self) -> &ControlLimits {
        &self.limits
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // The registry stays consistent under every panic point (each change
        // is one map operation), so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take a slot for a new connection, evicting the oldest
    /// unauthenticated one when their share is full.
    pub(crate) fn admit(self: &Arc<Self>) -> Result<Ticket, Full> {
        let mut r = self.registry();
        let unauthenticated = r.slots.values().filter(|s| !s.authenticated).count();
        if unauthenticated >= self.limits.max_unauthenticated {
            let oldest = r
                .slots
                .iter()
                .find(|(_, s)| !s.authenticated)
                .map(|(id, _)| *id);
            if let Some(slot) = oldest.and_then(|id| r.slots.remove(&id)) {
                let _ = slot.evict.send(());
                tracing::debug!(
                    "control API: evicted the oldest unauthenticated connection to admit a new one"
                );
            }
        }
        if r.slots.len() >= self.limits.max_connections {
            return Err(Full);
        }
        let id = r.next;
        r.next += 1;
        let (evict, evicted) = oneshot::channel();
        r.slots.insert(
            id,
            Slot {
                authenticated: false,
                evict,
            },
        );
        Ok(Ticket {
            id,
            admission: self.clone(),
            evicted: Some(evicted),
        })
    }
}

/// One connection's slot; dropping it frees the slot.
pub(crate) struct Ticket {
    id: u64,
    admission: Arc<Admission>,
    evicted: Option<oneshot::Receiver<()>>,
}

impl Ticket {
    /// The connection proved the token: it leaves the unauthenticated share
    /// and can no longer be evicted. `false` if it was evicted already.
    pub(crate) fn promote(&mut self) -> bool {
        let mut r = self.admission.registry();
        match r.slots.get_mut(&self.id) {
            Some(slot) => {
                slot.authenticated = true;
                // Nothing can evict it now.
                self.evicted = None;
                true
            }
            None => false,
        }
    }

    /// Completes when this connection is evicted; never for an
    /// authenticated one.
    pub(crate) async fn evicted(&mut self) {
        match self.evicted.as_mut() {
            // Either outcome (sent or sender dropped) means evicted.
            Some(rx) => {
                let _ = rx.await;
                self.evicted = None;
            }
            None => std::future::pending().await,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.registry().slots.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn limits(total: usize, unauthenticated: usize) -> ControlLimits {
        ControlLimits {
            max_connections: total,
            max_unauthenticated: unauthenticated,
            ..ControlLimits::default()
        }
    }

    fn is_evicted(ticket: &mut Ticket) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        matches!(pin!(ticket.evicted()).poll(&mut cx), Poll::Ready(()))
    }

    #[test]
    fn a_newcomer_evicts_the_oldest_unauthenticated_connection() {
        let admission = Admission::new(limits(4, 2));
        let mut a = admission.admit().expect("a");
        let mut b = admission.admit().expect("b");
        let mut c = admission.admit().expect("c");
        assert!(is_evicted(&mut a), "the oldest goes");
        assert!(!is_evicted(&mut b));
        assert!(!is_evicted(&mut c));
        assert!(!a.promote(), "an evicted connection cannot authenticate");
    }

    #[test]
    fn authenticated_connections_keep_their_slots() {
        let admission = Admission::new(limits(3, 1));
        let mut operator = admission.admit().expect("operator");
        assert!(operator.promote());
        let mut second = admission.admit().expect("second");
        assert!(second.promote());
        // Idle newcomers churn through the single unauthenticated slot.
        let mut idle = admission.admit().expect("idle");
        let _next = admission.admit().expect("next");
        assert!(is_evicted(&mut idle));
        assert!(!is_evicted(&mut operator));
        assert!(!is_evicted(&mut second));
    }

    #[test]
    fn only_authenticated_connections_can_fill_every_slot() {
        let admission = Admission::new(limits(2, 1));
        let mut a = admission.admit().expect("a");
        assert!(a.promote());
        let mut b = admission.admit().expect("b");
        assert!(b.promote());
        assert_eq!(admission.admit().err(), Some(Full));
        drop(a);
        assert!(admission.admit().is_ok(), "a freed slot is reused");
    }

    #[test]
    fn limits_always_keep_a_reserve() {
        let l = limits(4, 10).sane();
        assert_eq!(l.max_unauthenticated, 3);
        let l = limits(0, 0).sane();
        assert_eq!((l.max_connections, l.max_unauthenticated), (2, 1));
    }
}
