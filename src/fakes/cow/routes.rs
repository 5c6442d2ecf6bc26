//! The fake orderbook's routing: which handler a request goes to (or a 503
//! while the API is down, a 404 for no route), the orderbook's error body,
//! and the [`Step`] a request needs after the lock is let go.

use super::faults::{ReadFault, with_read_fault};
use super::quote::QuoteAsk;
use super::state::State;
use crate::fakes::http::{Outcome, Request, Response};
use serde_json::json;

pub(super) fn error(status: u16, error_type: &str, description: &str) -> Outcome {
    Response::json(
        status,
        &json!({"errorType": error_type, "description": description}),
    )
    .now()
}

/// What a request needs after the lock is let go.
pub(super) enum Step {
    Done(Outcome),
    /// Price this sell, then answer with [`State::quoted`].
    Price(QuoteAsk),
}

impl State {
    pub(super) fn handle(&mut self, r: &Request) -> Step {
        if self.down {
            let mut resp = Response::new(503);
            resp.body =
                b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>".to_vec();
            resp.headers
                .push(("Content-Type".into(), "text/html".into()));
            return Step::Done(resp.now());
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/api/v1/quote") => {
                let fault = self.read_fault();
                if let Some(ReadFault::Status(..) | ReadFault::Drop) = fault {
                    return Step::Done(with_read_fault(Outcome::Drop, fault));
                }
                self.quote(&r.body, fault)
            }
            ("POST", "/api/v1/orders") => Step::Done(self.post(&r.body)),
            ("DELETE", "/api/v1/orders") => Step::Done(self.cancel(&r.body)),
            ("GET", "/api/v2/trades") => {
                let fault = self.read_fault();
                Step::Done(with_read_fault(self.trades(r), fault))
            }
            ("GET", path) if path.starts_with("/api/v1/orders/") => {
                let fault = self.read_fault();
                let uid = &path["/api/v1/orders/".len()..];
                Step::Done(with_read_fault(self.get_order(uid), fault))
            }
            _ => Step::Done(error(404, "NotFound", "no such route")),
        }
    }
}
