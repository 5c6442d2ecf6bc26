//! The fake Schwab's unkindness: which route a scripted fault hits, the
//! faults before acting (a status, 429 with or without `Retry-After`, a
//! gateway page, a dropped connection, a malformed or truncated body), the
//! answers after an order was taken (lost, 5xx, 429, cut, no `Location`,
//! late), each said as a [`Kind`] of the shared fault pattern
//! (`crate::fakes::faults`), whose plan draws them for order POSTs.

use super::{message, respond};
use crate::fakes::faults::{Kind, PeerFault, Shows};
use crate::fakes::http::{Outcome, Response};
use serde_json::json;
use std::time::Duration;

/// Which calls a scripted fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultRoute {
    /// `POST /v1/oauth/token`.
    Token,
    /// `POST …/orders`.
    PlaceOrder,
    /// Any other trader or market-data call.
    Read,
}

/// A scripted failure of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a JSON error body (not recorded).
    Status(u16),
    /// 429, with `Retry-After: secs` when given.
    TooManyRequests { retry_after: Option<u64> },
    /// An Akamai-style HTML page with this status.
    Html(u16),
    /// A 200 whose JSON body is `bytes` long (a list that never ends);
    /// with `declared: false` it is sent without a `Content-Length`, until
    /// the connection closes.
    Oversized { bytes: usize, declared: bool },
    /// The connection closes without a byte of answer; nothing was done.
    Drop,
    /// This status with a body that is not JSON (cut mid-object).
    Malformed(u16),
    /// This status with a JSON body announced whole and cut halfway.
    Truncated(u16),
}

/// How the next order POST is answered (the order is recorded in all but `Refuse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderReply {
    /// 201, empty body, absolute `Location`.
    Created,
    /// 201 without `Location`.
    NoLocation,
    /// The order is recorded, then the connection closes without an answer.
    DropAfterAccept,
    /// The order is recorded, then this 5xx is answered.
    ErrorAfterAccept(u16),
    /// Answer after this wall-clock delay (the client may time out first).
    Delay(Duration),
    /// The order is recorded, then 429 (Schwab's gateway may forward first).
    TooManyAfterAccept { retry_after: Option<u64> },
    /// The order is recorded, then a 201 whose body is cut halfway.
    TruncatedAfterAccept,
}

/// What a seeded order POST may meet (one drawn per POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceFault {
    /// Refused or lost before acting (nothing recorded).
    Before(Fault),
    /// Recorded, then answered so.
    After(OrderReply),
}

impl PlaceFault {
    /// Every fault of the place path, before and after acting.
    pub fn all() -> Vec<PlaceFault> {
        vec![
            PlaceFault::Before(Fault::Drop),
            PlaceFault::Before(Fault::Status(500)),
            PlaceFault::Before(Fault::Status(503)),
            PlaceFault::Before(Fault::TooManyRequests { retry_after: None }),
            PlaceFault::Before(Fault::TooManyRequests {
                retry_after: Some(1),
            }),
            PlaceFault::Before(Fault::Malformed(502)),
            PlaceFault::Before(Fault::Truncated(503)),
            PlaceFault::After(OrderReply::DropAfterAccept),
            PlaceFault::After(OrderReply::ErrorAfterAccept(500)),
            PlaceFault::After(OrderReply::ErrorAfterAccept(504)),
            PlaceFault::After(OrderReply::TooManyAfterAccept { retry_after: None }),
            PlaceFault::After(OrderReply::TooManyAfterAccept {
                retry_after: Some(1),
            }),
            PlaceFault::After(OrderReply::NoLocation),
            PlaceFault::After(OrderReply::TruncatedAfterAccept),
        ]
    }
}

impl FaultRoute {
    /// The route's name in the fake's [`Plan`](crate::fakes::faults::Plan).
    pub fn call(self) -> &'static str {
        match self {
            FaultRoute::Token => "token",
            FaultRoute::PlaceOrder => "place",
            FaultRoute::Read => "read",
        }
    }
}

impl PeerFault for Fault {
    /// Every scripted call fault is met before Schwab acts.
    fn kind(&self) -> Kind {
        Kind::before(match self {
            Fault::Status(_) => Shows::ServerError,
            Fault::TooManyRequests { .. } => Shows::TooManyRequests,
            Fault::Html(_) | Fault::Malformed(_) => Shows::Malformed,
            Fault::Oversized { .. } => Shows::Oversized,
            Fault::Drop => Shows::NoAnswer,
            Fault::Truncated(_) => Shows::Cut,
        })
    }
}

impl OrderReply {
    /// What the client sees of this answer to an order taken (`Created`
    /// and `Delay` are answers, at once or late; they are never drawn).
    fn shows(&self) -> Shows {
        match self {
            OrderReply::Created | OrderReply::Delay(_) => Shows::Late,
            OrderReply::NoLocation => Shows::Incomplete,
            OrderReply::DropAfterAccept => Shows::NoAnswer,
            OrderReply::ErrorAfterAccept(_) => Shows::ServerError,
            OrderReply::TooManyAfterAccept { .. } => Shows::TooManyRequests,
            OrderReply::TruncatedAfterAccept => Shows::Cut,
        }
    }
}

impl PeerFault for PlaceFault {
    fn kind(&self) -> Kind {
        match self {
            PlaceFault::Before(f) => f.kind(),
            PlaceFault::After(r) => Kind::after(r.shows()),
        }
    }
}

pub(super) fn fault_outcome(fault: Fault) -> Outcome {
    match fault {
        Fault::Status(s) => message(s, "scripted failure"),
        Fault::TooManyRequests { retry_after } => {
            let mut r = Response::json(429, &json!({"message": "Too many requests"}));
            if let Some(secs) = retry_after {
                r = r.with_header("Retry-After", secs.to_string());
            }
            respond(r)
        }
        Fault::Html(s) => {
            let mut r = Response::new(s);
            r.headers.push(("Content-Type".into(), "text/html".into()));
            r.body = b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>You don't have permission to access this server.</BODY></HTML>".to_vec();
            respond(r)
        }
        Fault::Oversized { bytes, declared } => {
            let mut r = Response::new(200);
            r.headers
                .push(("Content-Type".into(), "application/json".into()));
            let mut body = Vec::with_capacity(bytes);
            body.push(b'[');
            while body.len() + 3 < bytes {
                body.extend_from_slice(b"{},");
            }
            body.resize(bytes.max(2) - 1, b' ');
            body.push(b']');
            r.body = body;
            r.declare_length = declared;
            respond(r)
        }
        Fault::Drop => Outcome::Drop,
        Fault::Malformed(s) => {
            let mut r = Response::new(s);
            r.headers
                .push(("Content-Type".into(), "application/json".into()));
            r.body = br#"{"message": "Internal Serv"#.to_vec();
            respond(r)
        }
        Fault::Truncated(s) => {
            let mut r = Response::json(
                s,
                &json!({"message": "scripted failure, answer cut halfway", "errors": ["cut"]}),
            );
            r.truncated = true;
            respond(r)
        }
    }
}
