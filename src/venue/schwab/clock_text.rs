//! Schwab's time formats and the New York calendar: order times
//! `2025-08-29T17:15:17+0000` (no colon in the offset), market hours in RFC
//! 3339 with `-04:00`/`-05:00`, order-list query bounds
//! `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, and which date it is in New York (US DST
//! rules) so "today's" market hours are asked for the exchange's day.

use crate::model::Timestamp;
use crate::model::time::{DAY, HOUR, MINUTE, SECOND};

/// Days since the epoch of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// 0 = Sunday … 6 = Saturday.
pub fn weekday(day: i64) -> u32 {
    (day + 4).rem_euclid(7) as u32
}

/// `YYYY-MM-DD` of a day number.
pub fn format_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn parse_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = text.get(0..4)?.parse().ok()?;
    let m: u32 = text.get(5..7)?.parse().ok()?;
    let d: u32 = text.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The n-th (1-based) Sunday of a month, as a day number.
fn nth_sunday(y: i64, m: u32, n: i64) -> i64 {
    let first = days_from_civil(y, m, 1);
    let to_sunday = (7 - i64::from(weekday(first))) % 7;
    first + to_sunday + 7 * (n - 1)
}

/// New York's offset from UTC in ms at `at`: -4 h in daylight time (second
/// Sunday of March 02:00 local to first Sunday of November 02:00), else -5 h.
pub fn new_york_offset(at: Timestamp) -> i64 {
    let at = at as i64;
    let (y, _, _) = civil_from_days(at.div_euclid(DAY as i64));
    let dst_start = nth_sunday(y, 3, 2) * DAY as i64 + 7 * HOUR as i64; // 02:00 EST = 07:00 UTC
    let dst_end = nth_sunday(y, 11, 1) * DAY as i64 + 6 * HOUR as i64; // 02:00 EDT = 06:00 UTC
    if at >= dst_start && at < dst_end {
        -4 * HOUR as i64
    } else {
        -5 * HOUR as i64
    }
}

/// The New York calendar day (day number) at `at`.
pub fn new_york_day(at: Timestamp) -> i64 {
    (at as i64 + new_york_offset(at)).div_euclid(DAY as i64)
}

/// The UTC instant of a New York wall time on `day`.
pub fn new_york_instant(day: i64, hour: u64, minute: u64) -> Timestamp {
    let wall = day * DAY as i64 + (hour * HOUR + minute * MINUTE) as i64;
    // The offset of the instant itself; market hours never straddle 02:00.
    let guess = wall + 5 * HOUR as i64;
    (wall - new_york_offset(guess.max(0) as Timestamp)) as Timestamp
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM|±HHMM)` into epoch ms.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let day = parse_date(text.get(0..10)?)?;
    let b = text.as_bytes();
    if b.len() < 19 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let h: i64 = text.get(11..13)?.parse().ok()?;
    let mi: i64 = text.get(14..16)?.parse().ok()?;
    let s: i64 = text.get(17..19)?.parse().ok()?;
    let mut rest = text.get(19..)?;
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut scaled = frac.get(..digits.min(3))?.to_string();
        while scaled.len() < 3 {
            scaled.push('0');
        }
        ms = scaled.parse().ok()?;
        rest = frac.get(digits..)?;
    }
    let offset_min: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 {
                return None;
            }
            let oh: i64 = digits.get(0..2)?.parse().ok()?;
            let om: i64 = digits.get(2..4)?.parse().ok()?;
            sign * (oh * 60 + om)
        }
    };
    let local = day * DAY as i64 + h * HOUR as i64 + mi * MINUTE as i64 + s * SECOND as i64 + ms;
    let utc = local - offset_min * MINUTE as i64;
    u64::try_from(utc).ok()
}

fn clock_parts(at: i64) -> (String, i64, i64, i64, i64) {
    let day = at.div_euclid(DAY as i64);
    let in_day = at.rem_euclid(DAY as i64);
    (
        format_date(day),
        in_day / HOUR as i64,
        (in_day / MINUTE as i64) % 60,
        (in_day / SECOND as i64) % 60,
        in_day % SECOND as i64,
    )
}

/// Orders' own format: `2025-08-29T17:15:17+0000` (seconds, UTC).
pub fn format_order_time(at: Timestamp) -> String {
    let (date, h, m, s, _) = clock_parts(at as i64);
    format!("{date}T{h:02}:{m:02}:{s:02}+0000")
}

/// Order-list query bounds: `2025-08-29T17:15:17.000Z`.
pub fn format_query_time(at: Timestamp) -> String {
    let (date, h, m, s, ms) = clock_parts(at as i64);
    format!("{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// Market hours: RFC 3339 in New York time, e.g. `2022-04-14T09:30:00-04:00`.
pub fn format_new_york_time(at: Timestamp) -> String {
    let offset = new_york_offset(at);
    let (date, h, m, s, _) = clock_parts(at as i64 + offset);
    let oh = (-offset) / HOUR as i64;
    format!("{date}T{h:02}:{m:02}:{s:02}-{oh:02}:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_schwab_format() {
        let t = parse_time("2025-08-29T17:15:17+0000").unwrap();
        assert_eq!(format_order_time(t), "2025-08-29T17:15:17+0000");
        assert_eq!(
            parse_time("2022-04-14T09:30:00-04:00"),
            parse_time("2022-04-14T13:30:00Z")
        );
        assert_eq!(parse_time("2025-10-23T06:21:44.250Z").unwrap() % 1000, 250);
        assert_eq!(format_query_time(t + 5), "2025-08-29T17:15:17.005Z");
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn new_york_calendar_follows_dst() {
        // 2024-07-01 09:30 EDT = 13:30 UTC; 2024-12-02 09:30 EST = 14:30 UTC.
        let summer = parse_date("2024-07-01").unwrap();
        assert_eq!(
            new_york_instant(summer, 9, 30),
            parse_time("2024-07-01T13:30:00Z").unwrap()
        );
        let winter = parse_date("2024-12-02").unwrap();
        assert_eq!(
            new_york_instant(winter, 9, 30),
            parse_time("2024-12-02T14:30:00Z").unwrap()
        );
        assert_eq!(
            format_new_york_time(new_york_instant(summer, 16, 0)),
            "2024-07-01T16:00:00-04:00"
        );
        // 2024-05-18 is a Saturday; 02:00 UTC that night is still the 17th in New York.
        assert_eq!(weekday(parse_date("2024-05-18").unwrap()), 6);
        assert_eq!(
            format_date(new_york_day(parse_time("2024-05-18T02:00:00Z").unwrap())),
            "2024-05-17"
        );
    }
}
