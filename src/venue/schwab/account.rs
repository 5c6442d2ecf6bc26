//! The Schwab account this run trades: the hash of the configured account
//! number (`GET /accounts/accountNumbers`, asked at login and by the
//! broker) and its last digits, the only part of the number ever shown.

use super::SchwabError;
use super::session::{Call, Session};
use super::wire::AccountNumberHash;
use crate::venue::VenueError;

/// The last three characters of an account number: all a screen or a log
/// may show of it.
pub(crate) fn last_digits(number: &str) -> String {
    let n = number.trim();
    n.chars()
        .skip(n.chars().count().saturating_sub(3))
        .collect()
}

/// `GET /accounts/accountNumbers`, and the hash of the configured number.
pub(crate) async fn lookup_account_hash(session: &Session) -> Result<String, VenueError> {
    let url = format!(
        "{}/trader/v1/accounts/accountNumbers",
        session.config.api_url.trim_end_matches('/')
    );
    let reply = session
        .call("account numbers", Call::Read, |c| c.get(&url))
        .await?;
    let pairs: Vec<AccountNumberHash> = serde_json::from_slice(&reply.body)
        .map_err(|_| VenueError::Transient("Schwab account numbers: unexpected JSON".into()))?;
    let wanted = session.config.account_number.trim();
    pairs
        .iter()
        .find(|p| p.account_number.trim() == wanted)
        .map(|p| p.hash_value.clone())
        .ok_or_else(|| {
            let linked: Vec<String> = pairs
                .iter()
                .map(|p| format!("…{}", last_digits(&p.account_number)))
                .collect();
            VenueError::Rejected(
                SchwabError::UnknownAccount(format!("…{}", last_digits(wanted)), linked.join(", "))
                    .to_string(),
            )
        })
}
