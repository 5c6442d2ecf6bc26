//! Rain's decimal float (`rain.math.float`, `type Float is bytes32`), the
//! amount type of Raindex V5 and V6 events: the low 224 bits are a signed
//! coefficient, the high 32 bits a signed exponent, the value
//! `coefficient × 10^exponent` — decoded exactly in integers, never through
//! a binary float. An amount with more than 18 decimal places (the digits
//! Rain's own division leaves, `7.5 / 3 × 3` = `7.4999…9e0` with 66 places)
//! is truncated toward zero at 18, as Rain's `toFixedDecimalLossy(18)`
//! does: no ERC-20 of a hedged pair has more decimals than that.

use alloy_primitives::{B256, I256, U256};
use rust_decimal::Decimal;
use thiserror::Error;

/// The most decimal places an amount keeps.
pub const PLACES: u32 = 18;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FloatError {
    #[error("Float {0} is too large for an amount")]
    TooLarge(B256),
}

/// The low 224 bits: the coefficient's.
fn low_mask() -> U256 {
    (U256::from(1u8) << 224) - U256::from(1u8)
}

/// The coefficient and exponent of a packed Float.
pub fn unpack(raw: B256) -> (I256, i32) {
    let word = U256::from_be_bytes(raw.0);
    let exponent = i32::from_be_bytes([raw.0[0], raw.0[1], raw.0[2], raw.0[3]]);
    // Sign-extend the low 224 bits (what the EVM's `signextend(27, …)` does).
    let low: U256 = word & low_mask();
    let coefficient = if low.bit(223) {
        I256::from_raw(low | (U256::MAX << 224))
    } else {
        I256::from_raw(low)
    };
    (coefficient, exponent)
}

/// Pack `coefficient × 10^exponent` (the coefficient must fit 224 bits, as
/// every amount this crate writes does): for the paper orderbook and tests.
pub fn pack(coefficient: i128, exponent: i32) -> B256 {
    let c = I256::try_from(coefficient).unwrap_or_default().into_raw();
    let low: U256 = c & low_mask();
    let high: U256 = U256::from(exponent as u32) << 224;
    B256::from((low | high).to_be_bytes::<32>())
}

/// The Float of a decimal amount.
pub fn from_decimal(d: Decimal) -> B256 {
    let scale = i32::try_from(d.scale()).unwrap_or(0);
    pack(d.mantissa(), -scale)
}

/// The amount a Float says, exact to 18 places (truncated beyond).
pub fn to_decimal(raw: B256) -> Result<Decimal, FloatError> {
    let (mut c, e) = unpack(raw);
    let too_large = || FloatError::TooLarge(raw);
    let ten = I256::try_from(10).map_err(|_| too_large())?;
    let scale: u32 = if e >= 0 {
        for _ in 0..e {
            c = c.checked_mul(ten).ok_or_else(too_large)?;
        }
        0
    } else {
        let places = e.unsigned_abs();
        if places > PLACES {
            // Truncate toward zero; past 77 places every coefficient is 0.
            for _ in 0..(places - PLACES).min(80) {
                c /= ten;
            }
            PLACES
        } else {
            places
        }
    };
    let mantissa = i128::try_from(c).map_err(|_| too_large())?;
    Decimal::try_from_i128_with_scale(mantissa, scale)
        .map(|d| d.normalize())
        .map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Rain's own packing (@rainlanguage/float): every Float decodes to the
    /// value Rain truncates to 18 decimals (`toFixedDecimalLossy(18)`), or
    /// is refused only when that value is past what an amount can hold.
    #[test]
    fn decodes_what_rain_packs_exactly_to_eighteen_places() {
        let cases: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/raindex_v6/cases.json"
        ))
        .unwrap();
        let floats = cases["floats"].as_array().unwrap();
        assert!(floats.len() >= 15);
        let mut truncated = 0;
        for f in floats {
            let label = f["label"].as_str().unwrap();
            let raw = B256::from_str(f["hex"].as_str().unwrap()).unwrap();
            let got = to_decimal(raw);
            match f["fixed18"].as_str() {
                // Rain refuses a negative fixed-point value; we read it, and
                // the hedge refuses it as an amount.
                None => assert!(got.unwrap().is_sign_negative(), "{label}"),
                Some(fixed) => match got {
                    Ok(d) => {
                        let units = d * Decimal::from(10u64.pow(PLACES));
                        assert_eq!(units.normalize().to_string(), fixed, "{label}");
                        if unpack(raw).1 < -(PLACES as i32) {
                            truncated += 1;
                        }
                    }
                    Err(_) => assert!(fixed.len() > 28, "{label}: {fixed}"),
                },
            }
        }
        assert!(truncated >= 3, "Rain's division digits were exercised");
        // Exact where Rain says it is exact.
        let seven_and_a_half = floats.iter().find(|f| f["label"] == "7.5 / 3 * 3").unwrap();
        let raw = B256::from_str(seven_and_a_half["hex"].as_str().unwrap()).unwrap();
        assert_eq!(seven_and_a_half["formatted"], "7.5");
        assert_eq!(to_decimal(raw).unwrap(), Decimal::from_str("7.5").unwrap());
    }

    #[test]
    fn packs_and_unpacks_as_rain_lays_it_out() {
        // Rain's own packing of 3.14 (its `fromHex` doc example).
        let raw =
            B256::from_str("0xfffffffe0000000000000000000000000000000000000000000000000000013a")
                .unwrap();
        assert_eq!(unpack(raw), (I256::try_from(314).unwrap(), -2));
        assert_eq!(pack(314, -2), raw);
        assert_eq!(to_decimal(raw).unwrap(), Decimal::from_str("3.14").unwrap());
        let neg = pack(-314, -2);
        assert_eq!(unpack(neg), (I256::try_from(-314).unwrap(), -2));
        assert_eq!(
            from_decimal(Decimal::from_str("7.5").unwrap()),
            pack(75, -1)
        );
        // Huge exponents and coefficients: an error, never a panic.
        assert!(to_decimal(pack(1, 40)).is_err());
        assert_eq!(to_decimal(pack(5, i32::MIN)).unwrap(), Decimal::ZERO);
        assert!(to_decimal(B256::repeat_byte(0x7f)).is_err());
    }
}
