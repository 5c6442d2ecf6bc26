//! Capped reads of HTTP response bodies for every Stellar client (RPC,
//! Horizon, Friendbot): a peer that streams without end, or announces a
//! body larger than any answer we ask for, is cut off at [`MAX_BODY`] with
//! an error saying so, instead of growing memory until the process dies.
//! A body that ends early (the connection closed before its announced
//! length) is an error too: the caller decides what an unread answer means.
//!
//! The engine's other clients get a shared helper of the same shape; this
//! one is local to `venue::stellar` so the venue imports nothing above it.

/// The largest body any Stellar answer needs (an order book of 200 levels,
/// a page of paths, a transaction's result): 4 MiB.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{what}: the answer is larger than {cap} bytes; not read")]
    TooLarge { what: String, cap: usize },
    #[error("{what}: the answer was cut off: {reason}")]
    Cut { what: String, reason: String },
}

/// Read `response`'s body, at most `cap` bytes. `what` names the call in
/// the error ("getTransaction", "Horizon order_book").
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
    what: &str,
) -> Result<Vec<u8>, BodyError> {
    let too_large = || BodyError::TooLarge {
        what: what.to_string(),
        cap,
    };
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                if out.len().saturating_add(bytes.len()) > cap {
                    return Err(too_large());
                }
                out.extend_from_slice(&bytes);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(BodyError::Cut {
                    what: what.to_string(),
                    reason: e.without_url().to_string(),
                });
            }
        }
    }
}
