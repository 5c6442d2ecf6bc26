//! This machine's clock against a venue's: an EVM chain's latest block
//! timestamp, Stellar's latest ledger close. The engine stamps deadlines
//! (a swap's, a transaction's `maxTime` window, an order's listing window)
//! from its own clock, and a venue judges them by its own, so a skew eats
//! into every one of them. A venue's time also lags by its block or ledger
//! interval, so the thresholds leave room for that: a head older than them
//! means this clock or that node is off.

use super::{Check, Group};
use crate::model::Timestamp;
use crate::model::time::{SECOND, format_duration, format_time};

/// A skew above this is a warning (an Ethereum block is 12 s, a Stellar
/// ledger about 5 s; a node a few blocks behind stays under it).
pub const WARN_SKEW: u64 = 60 * SECOND;
/// A skew above this fails: past the two minutes of a Stellar
/// transaction's validity and well into a swap's deadline.
pub const FAIL_SKEW: u64 = 5 * 60 * SECOND;

/// The check of `venue`'s time `theirs` (ms) against ours, `now`.
pub fn skew(venue: &str, what: &str, now: Timestamp, theirs: Timestamp) -> Check {
    let name = format!("{venue} clock");
    let (gap, side) = if theirs > now {
        (theirs - now, "ahead of")
    } else {
        (now - theirs, "behind")
    };
    let detail = format!(
        "{what} at {} UTC is {} {side} this machine's clock",
        format_time(theirs),
        shown(gap),
    );
    let fix = "sync this machine's clock (`timedatectl set-ntp true`, chrony); if the clock is right, the node is stale: use another endpoint";
    if gap > FAIL_SKEW {
        Check::fail(Group::Clock, name, detail, fix)
    } else if gap > WARN_SKEW {
        Check::warn(Group::Clock, name, detail, fix)
    } else {
        Check::ok(Group::Clock, name, detail)
    }
}

fn shown(ms: u64) -> String {
    if ms < SECOND {
        format!("{ms} ms")
    } else {
        format_duration(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn thresholds_both_ways() {
        let now = 1_767_225_600_000;
        assert_eq!(skew("Hemi", "block", now, now - 2_000).status, Status::Ok);
        assert_eq!(
            skew("Hemi", "block", now, now - 2 * 60_000).status,
            Status::Warn
        );
        let far = skew("Hemi", "block", now, now + 3_600_000);
        assert_eq!(far.status, Status::Fail);
        assert!(far.detail.contains("1h 00m ahead of"), "{}", far.detail);
        assert!(far.fix.is_some());
    }
}
