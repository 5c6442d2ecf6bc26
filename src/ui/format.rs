//! Text for the screen: amounts, durations, fixed-width cells, text gauges.
//! Money stays exact: an amount too long for its cell is cut *visibly*
//! (with "…"), never rounded into a different number.

use crate::model::{Timestamp, Units, format_units, time::format_duration};
use rust_decimal::Decimal;

/// Exactly `width` columns: cut with "…" when longer, space-padded when shorter.
pub fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width {
        let mut out = String::with_capacity(width);
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', width - len));
        out
    } else {
        cut(text, width)
    }
}

/// At most `width` columns, cut with "…".
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Right-aligned in `width` columns (numbers).
pub fn rpad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        return cut(text, width);
    }
    let mut out = " ".repeat(width - len);
    out.push_str(text);
    out
}

/// An amount in base units as exact text, with at most `max_frac` decimals
/// shown; when digits are hidden the text ends in "…" so it never lies.
pub fn amount(units: Units, decimals: u8, max_frac: usize) -> String {
    let exact = format_units(units, decimals);
    match exact.split_once('.') {
        Some((whole, frac)) if frac.len() > max_frac => {
            if max_frac == 0 {
                format!("{whole}…")
            } else {
                format!("{whole}.{}…", &frac[..max_frac])
            }
        }
        _ => exact,
    }
}

/// A decimal amount of VCRED for display, with its sign ("+12.34", "-0.5").
pub fn signed(value: Decimal, places: u32) -> String {
    let rounded = value.round_dp(places);
    if rounded.is_sign_positive() && !rounded.is_zero() {
        format!("+{rounded}")
    } else {
        rounded.to_string()
    }
}

/// A decimal amount without sign decoration, rounded for display.
pub fn plain(value: Decimal, places: u32) -> String {
    value.round_dp(places).to_string()
}

/// "in 23h 12m" / "now" for a time that may have passed.
pub fn countdown(now: Timestamp, at: Timestamp) -> String {
    if at > now {
        format!("in {}", format_duration(at - now))
    } else {
        "now".to_string()
    }
}

/// How long ago, for ages ("1h 02m").
pub fn age(now: Timestamp, since: Timestamp) -> String {
    format_duration(now.saturating_sub(since))
}

/// How far a wait from `since` to `until` has gone at `now`, 0.0..=1.0.
/// Floats are fine here: this is only the length of a bar.
pub fn progress(since: Timestamp, until: Timestamp, now: Timestamp) -> f64 {
    if until <= since {
        return 1.0;
    }
    let done = now.saturating_sub(since).min(until - since);
    done as f64 / (until - since) as f64
}

/// A bar drawn with text, so it can sit inside a table row and survives
/// no-colour terminals: "███▌░░░░░░".
pub fn text_gauge(ratio: f64, width: usize) -> String {
    let ratio = ratio.clamp(0.0, 1.0);
    let eighths = (ratio * (width * 8) as f64).round() as usize;
    let full = eighths / 8;
    let part = eighths % 8;
    let mut out = "█".repeat(full);
    if full < width {
        const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
        if part > 0 {
            out.push_str(PARTS[part]);
            out.push_str(&"░".repeat(width - full - 1));
        } else {
            out.push_str(&"░".repeat(width - full));
        }
    }
    out
}

/// A tx hash in `width` columns: whole when it fits, else head…tail (the
/// `y` key copies it whole).
pub fn hash(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width || width < 8 {
        return cut(text, width);
    }
    let tail = 4;
    let head = width - tail - 1;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(len - tail).collect();
    format!("{start}…{end}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{HOUR, MINUTE};

    #[test]
    fn pads_and_cuts_visibly() {
        assert_eq!(pad("abc", 5), "abc  ");
        assert_eq!(pad("abcdef", 4), "abc…");
        assert_eq!(rpad("12", 4), "  12");
    }

    #[test]
    fn amounts_are_exact_or_marked() {
        assert_eq!(amount(1_500_000, 6, 6), "1.5");
        assert_eq!(amount(1_234_567_890_123_456_789, 18, 6), "1.234567…");
        assert_eq!(amount(2_000_000, 6, 2), "2");
    }

    #[test]
    fn countdowns_read_like_the_brief() {
        let now = 1_000_000;
        assert_eq!(countdown(now, now + 23 * HOUR + 12 * MINUTE), "in 23h 12m");
        assert_eq!(countdown(now, now - 1), "now");
    }

    #[test]
    fn gauges_fill_their_width() {
        assert_eq!(text_gauge(0.0, 4), "░░░░");
        assert_eq!(text_gauge(1.0, 4), "████");
        assert_eq!(text_gauge(0.5, 4).chars().count(), 4);
        assert_eq!(text_gauge(0.33, 10).chars().count(), 10);
    }

    #[test]
    fn hashes_keep_head_and_tail() {
        let h = "0x1234567890abcdef";
        assert_eq!(hash(h, 40), h);
        assert_eq!(hash(h, 12), "0x12345…cdef");
    }
}
