//! Which world the engine runs against, and how it sizes cycles.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Paper,
    Devnet,
    Live,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Paper => "PAPER",
            Mode::Devnet => "DEVNET",
            Mode::Live => "LIVE",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "paper" => Ok(Mode::Paper),
            "devnet" => Ok(Mode::Devnet),
            "live" => Ok(Mode::Live),
            other => Err(format!(
                "unknown mode {other:?} (expected paper, devnet or live)"
            )),
        }
    }
}

/// Which size the search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizingMode {
    /// The size with the largest profit above the floor (docs/architecture.md §2, R9).
    #[default]
    MaxProfit,
    /// The seed's rule: the largest size with profit above the floor.
    MaxSize,
}
