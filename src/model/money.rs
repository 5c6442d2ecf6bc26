//! Money as integers: amounts are base units (`u128`) of a token with known
//! decimals; signed deltas are `i128`; prices and P&L are exact decimals.

use rust_decimal::Decimal;
use thiserror::Error;

/// An amount in a token's base units (wei, satoshi, micro-VCRED …).
pub type Units = u128;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("{value} has more than {decimals} decimal places")]
    TooPrecise { value: Decimal, decimals: u8 },
    #[error("{0} is negative; an amount cannot be")]
    Negative(Decimal),
    #[error("{0} does not fit in an exact decimal")]
    Overflow(String),
}

/// `units / 10^decimals` as an exact decimal.
pub fn to_decimal(units: Units, decimals: u8) -> Result<Decimal, MoneyError> {
    let mantissa = i128::try_from(units).map_err(|_| MoneyError::Overflow(units.to_string()))?;
    Decimal::try_from_i128_with_scale(mantissa, u32::from(decimals))
        .map_err(|_| MoneyError::Overflow(units.to_string()))
}

/// Signed variant of [`to_decimal`] for ledger deltas.
pub fn delta_to_decimal(delta: i128, decimals: u8) -> Result<Decimal, MoneyError> {
    Decimal::try_from_i128_with_scale(delta, u32::from(decimals))
        .map_err(|_| MoneyError::Overflow(delta.to_string()))
}

/// An exact decimal amount as base units; refuses values that would lose a digit.
pub fn from_decimal(value: Decimal, decimals: u8) -> Result<Units, MoneyError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(MoneyError::Negative(value));
    }
    let normal = value.normalize();
    if normal.scale() > u32::from(decimals) {
        return Err(MoneyError::TooPrecise { value, decimals });
    }
    let shift = u32::from(decimals) - normal.scale();
    let mantissa = u128::try_from(normal.mantissa()).map_err(|_| MoneyError::Negative(value))?;
    10u128
        .checked_pow(shift)
        .and_then(|factor| mantissa.checked_mul(factor))
        .ok_or_else(|| MoneyError::Overflow(value.to_string()))
}

/// Human text for an amount, exact, trailing zeros trimmed ("1234.5").
pub fn format_units(units: Units, decimals: u8) -> String {
    let factor = 10u128.pow(u32::from(decimals));
    let whole = units / factor;
    let frac = units % factor;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = usize::from(decimals));
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Signed variant of [`format_units`].
pub fn format_delta(delta: i128, decimals: u8) -> String {
    let sign = if delta < 0 { "-" } else { "" };
    format!("{sign}{}", format_units(delta.unsigned_abs(), decimals))
}

/// Signed, with exactly `decimals` places (`-1.5000000` at 7): for columns
/// that line up, as Stellar shows amounts.
pub fn format_fixed(v: i128, decimals: u8) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let factor = 10u128.pow(u32::from(decimals));
    if decimals == 0 {
        return format!("{sign}{a}");
    }
    format!(
        "{sign}{}.{:0width$}",
        a / factor,
        a % factor,
        width = usize::from(decimals)
    )
}

/// Rounds a decimal to `places` for display, exact otherwise.
pub fn round_display(value: Decimal, places: u32) -> Decimal {
    value.round_dp(places)
}

/// Serde's reader of a decimal stored as text, that also takes a whole
/// number: quantities that were whole numbers in records written before
/// they became decimals still read, exactly.
pub fn decimal_or_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Whole(u64),
        Text(String),
    }
    match <Stored as serde::Deserialize>::deserialize(d)? {
        Stored::Whole(n) => Ok(Decimal::from(n)),
        Stored::Text(t) => t.parse::<Decimal>().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimal_round_trip_is_exact() {
        let d = Decimal::from_str("1234.567891").unwrap();
        let u = from_decimal(d, 6).unwrap();
        assert_eq!(u, 1_234_567_891);
        assert_eq!(to_decimal(u, 6).unwrap(), d);
    }

    #[test]
    fn too_many_places_is_refused() {
        let d = Decimal::from_str("0.0000001").unwrap();
        assert_eq!(
            from_decimal(d, 6),
            Err(MoneyError::TooPrecise {
                value: d,
                decimals: 6
            })
        );
    }

    #[test]
    fn negative_amount_is_refused() {
        assert!(matches!(
            from_decimal(Decimal::from(-1), 6),
            Err(MoneyError::Negative(_))
        ));
    }

    #[test]
    fn eighteen_decimals_fit() {
        let u = 1_000_000u128 * 10u128.pow(18);
        assert_eq!(to_decimal(u, 18).unwrap(), Decimal::from(1_000_000));
    }

    #[test]
    fn formats_trim_zeros() {
        assert_eq!(format_units(1_500_000, 6), "1.5");
        assert_eq!(format_units(2_000_000, 6), "2");
        assert_eq!(format_units(1, 8), "0.00000001");
        assert_eq!(format_delta(-1_250_000, 6), "-1.25");
    }
}
