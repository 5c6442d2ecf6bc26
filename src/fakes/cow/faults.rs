//! The fake orderbook's faults: what an order POST or cancellation
//! ([`PostFault`]) and a quote or read ([`ReadFault`]) can meet, the plan
//! names they are scripted and drawn under, and how a fault shapes the
//! answer (built on [`crate::fakes::faults`]).

use crate::fakes::faults::{Kind, PeerFault, Shows};
use crate::fakes::http::{Outcome, Response};
use serde_json::{Value, json};

/// What happens to one order POST or cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostFault {
    /// Not taken: this status (429 or 5xx), with `Retry-After` when given.
    Before(u16, Option<u64>),
    /// Taken, then the connection closes without an answer.
    ActThenDrop,
    /// Taken, then this status (a 5xx).
    ActThen(u16),
    /// Taken, then a success whose body is not JSON.
    ActThenMalformed,
    /// Taken, then a success announced whole and cut halfway.
    ActThenTruncated,
}

impl PeerFault for PostFault {
    fn kind(&self) -> Kind {
        match self {
            PostFault::Before(429, _) => Kind::before(Shows::TooManyRequests),
            PostFault::Before(_, _) => Kind::before(Shows::ServerError),
            PostFault::ActThenDrop => Kind::after(Shows::NoAnswer),
            PostFault::ActThen(_) => Kind::after(Shows::ServerError),
            PostFault::ActThenMalformed => Kind::after(Shows::Malformed),
            PostFault::ActThenTruncated => Kind::after(Shows::Cut),
        }
    }
}

impl PostFault {
    /// Every fault of the order path, before and after acting.
    pub fn all() -> Vec<PostFault> {
        vec![
            PostFault::Before(429, Some(1)),
            PostFault::Before(503, None),
            PostFault::ActThenDrop,
            PostFault::ActThen(500),
            PostFault::ActThen(502),
            PostFault::ActThenMalformed,
            PostFault::ActThenTruncated,
        ]
    }
}

/// What happens to one quote or read before it is answered (nothing is
/// acted on: every read fault is "before").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFault {
    /// This status (429 or 5xx), with `Retry-After` when given.
    Status(u16, Option<u64>),
    /// The connection closes without an answer.
    Drop,
    /// A 200 whose body is not JSON.
    Malformed,
    /// The answer announced whole and cut halfway.
    Truncated,
}

impl PeerFault for ReadFault {
    fn kind(&self) -> Kind {
        Kind::before(match self {
            ReadFault::Status(429, _) => Shows::TooManyRequests,
            ReadFault::Status(_, _) => Shows::ServerError,
            ReadFault::Drop => Shows::NoAnswer,
            ReadFault::Malformed => Shows::Malformed,
            ReadFault::Truncated => Shows::Cut,
        })
    }
}

/// The fake's plan names.
pub(super) const POST: &str = "post";
pub(super) const CANCEL: &str = "cancel";
pub(super) const READ: &str = "read";

/// A read's answer with its fault applied.
pub(super) fn with_read_fault(outcome: Outcome, fault: Option<ReadFault>) -> Outcome {
    match fault {
        None => outcome,
        Some(ReadFault::Status(status, retry)) => {
            Response::json(status, &json!({"description": "try again later"}))
                .with_retry_after(retry)
                .now()
        }
        Some(ReadFault::Drop) => Outcome::Drop,
        Some(ReadFault::Malformed) => Response::raw_json(200, "{\"quote\": {\"sellTok").now(),
        Some(ReadFault::Truncated) => match outcome {
            Outcome::Respond { response, delay } => Outcome::Respond {
                response: response.cut(),
                delay,
            },
            other => other,
        },
    }
}

/// The answer to a call that acted, with its fault applied.
pub(super) fn acted(fault: Option<PostFault>, body: Value, status: u16) -> Outcome {
    match fault {
        Some(PostFault::ActThenDrop) => Outcome::Drop,
        Some(PostFault::ActThen(s)) => {
            Response::json(s, &json!({"description": "internal error"})).now()
        }
        Some(PostFault::ActThenMalformed) => Response::raw_json(status, "\"0x6a1f").now(),
        Some(PostFault::ActThenTruncated) => Response::json(status, &body).cut().now(),
        _ => Response::json(status, &body).now(),
    }
}
