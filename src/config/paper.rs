//! `[paper]`: the simulation's seed and speed, and `[paper.faults]`, the
//! seeded send faults of the paper venues.

use super::ConfigError;
use super::reader::Reader;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperConfig {
    pub seed: u64,
    /// Simulated seconds per wall second, ×1000.
    pub speed_milli: u64,
    /// Seeded send faults of the paper venues (`[paper.faults]`).
    pub faults: PaperFaults,
}

/// `[paper.faults]`: how often the paper venues' sends fault, on which
/// seed. Off (0) by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaperFaults {
    /// Faulty sends per thousand, 0–1000.
    pub rate_per_mille: u32,
    pub seed: u64,
}

impl Default for PaperConfig {
    fn default() -> Self {
        PaperConfig {
            seed: 1,
            speed_milli: 3_000_000,
            faults: PaperFaults::default(),
        }
    }
}

/// "3000" or "0.5" → speed ×1000.
pub fn speed_milli(v: Decimal) -> Result<u64, String> {
    let milli = v
        .checked_mul(Decimal::from(1000))
        .ok_or_else(|| "must be above 0 and at most 100000".to_string())?
        .trunc();
    let milli = u64::try_from(milli).map_err(|_| "must be a positive number".to_string())?;
    if milli == 0 || milli > 100_000_000 {
        return Err("must be above 0 and at most 100000".into());
    }
    Ok(milli)
}

/// `[paper]`: `seed`, `speed`, and `[paper.faults]`.
pub(super) fn read_paper(
    r: &mut Reader,
    t: &toml::Table,
    p: &mut PaperConfig,
) -> Result<(), ConfigError> {
    if let Some(v) = r.int(t, "paper", "seed")? {
        p.seed = v;
    }
    if let Some(v) = r.decimal(t, "paper", "speed")? {
        p.speed_milli = speed_milli(v).map_err(|p| r.invalid("paper.speed", p))?;
    }
    if let Some(f) = r.section(t, "faults")? {
        r.seen.insert("paper.faults".into());
        if let Some(v) = r.int(f, "paper.faults", "rate_per_mille")? {
            p.faults.rate_per_mille = u32::try_from(v)
                .ok()
                .filter(|v| *v <= 1000)
                .ok_or_else(|| r.invalid("paper.faults.rate_per_mille", "must be 0 to 1000"))?;
        }
        if let Some(v) = r.int(f, "paper.faults", "seed")? {
            p.faults.seed = v;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn paper_faults_are_off_by_default_and_read_and_checked_by_key() {
        assert_eq!(parse("").unwrap().paper.faults, PaperFaults::default());
        let c = parse("[paper.faults]\nrate_per_mille = 50\nseed = 9\n").unwrap();
        assert_eq!(
            c.paper.faults,
            PaperFaults {
                rate_per_mille: 50,
                seed: 9
            }
        );
        let e = parse("[paper.faults]\nrate_per_mille = 1001\n").unwrap_err();
        assert!(e.to_string().contains("paper.faults.rate_per_mille"), "{e}");
        let e = parse("[paper.faults]\nrate = 5\n").unwrap_err();
        assert!(e.to_string().contains("paper.faults.rate"), "{e}");
    }
}
