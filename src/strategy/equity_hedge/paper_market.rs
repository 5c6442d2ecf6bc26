//! The paper equity market both paper venues share: regular-hours sessions
//! (Mon–Fri 14:30–21:00 UTC, i.e. 09:30–16:00 New York without daylight
//! saving) and a deterministic price per symbol and hour under a seed.

use crate::model::Timestamp;
use crate::model::time::{DAY, HOUR, MINUTE};
use crate::venue::sim::rng::{Dice, Stream, label_index};
use rust_decimal::Decimal;

const OPEN_MIN: u64 = 14 * 60 + 30;
const CLOSE_MIN: u64 = 21 * 60;

/// Monday is 0 (1970-01-01 was a Thursday).
fn weekday(at: Timestamp) -> u64 {
    (at / DAY + 3) % 7
}

pub fn is_open(at: Timestamp) -> bool {
    let minute = (at % DAY) / MINUTE;
    weekday(at) < 5 && (OPEN_MIN..CLOSE_MIN).contains(&minute)
}

/// The next open or close after `at`.
pub fn next_change(at: Timestamp) -> Timestamp {
    let day = at - at % DAY;
    let open = is_open(at);
    for d in 0..8 {
        let start = day + d * DAY;
        for boundary in [start + OPEN_MIN * MINUTE, start + CLOSE_MIN * MINUTE] {
            if boundary > at && is_open(boundary) != open {
                return boundary;
            }
        }
    }
    at + DAY
}

/// The reference price of a ticker in the paper world (USDC per share,
/// cents): a base per ticker moved by at most ±2 % per hour bucket.
pub fn price(seed: u64, ticker: &str, at: Timestamp) -> Decimal {
    let base: i64 = match ticker {
        "AAPL" => 20_000,
        "NVDA" => 12_000,
        "TSLA" => 25_000,
        "MSFT" => 41_000,
        _ => 10_000,
    };
    let mut dice = Dice::new(seed ^ label_index(ticker), Stream::Epoch, at / HOUR);
    let bps = dice.wobble(60).clamp(-200, 200);
    Decimal::new(base * (10_000 + bps) / 10_000, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::sim::PAPER_EPOCH;

    #[test]
    fn sessions_follow_weekdays_and_regular_hours() {
        // 2026-01-01 is a Thursday.
        let thu = PAPER_EPOCH;
        assert!(!is_open(thu + 14 * HOUR));
        assert!(is_open(thu + 15 * HOUR));
        assert!(!is_open(thu + 21 * HOUR));
        assert!(!is_open(thu + 2 * DAY + 15 * HOUR), "Saturday");
        assert_eq!(next_change(thu), thu + 14 * HOUR + 30 * MINUTE);
        assert_eq!(next_change(thu + 15 * HOUR), thu + 21 * HOUR);
        // Friday close → Monday open.
        assert_eq!(
            next_change(thu + DAY + 21 * HOUR),
            thu + 4 * DAY + 14 * HOUR + 30 * MINUTE
        );
        let p = price(1, "AAPL", thu);
        assert!(p > Decimal::from(195) && p < Decimal::from(205), "{p}");
        assert_eq!(p, price(1, "AAPL", thu + MINUTE));
    }
}
