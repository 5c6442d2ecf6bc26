//! Shared by the devnet tests: anvil from the pinned npm package (a clear
//! failure, never a skip, when it is missing), a devnet per test on free
//! loopback ports, and the EVM venue over it.
#![allow(dead_code)]

use arbkeep::config::{Config, Secret, Secrets};
use arbkeep::model::{Clock, SystemClock};
use arbkeep::venue::evm::devnet::{self, Devnet, DevnetOptions, KEEPER_KEY};
use arbkeep::venue::evm::{EvmStore, EvmVenue, Wallet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// anvil and solc-js must be installed (`npm ci`, which ./scripts/test.sh runs).
pub fn require_tools() {
    if let Err(e) = devnet::anvil_path(&root()) {
        panic!("devnet tests need the pinned npm tools: {e}");
    }
}

pub async fn start(opts: DevnetOptions) -> Devnet {
    require_tools();
    Devnet::start(&root(), opts).await.expect("devnet starts")
}

/// The devnet config for a data dir, parsed as the binary would.
pub fn config(d: &Devnet, data: &Path) -> Config {
    let text = d.config_toml(data);
    Config::from_toml(&text, "devnet.toml").expect("devnet config parses")
}

pub fn keeper_secrets() -> Secrets {
    Secrets {
        private_key: Some(Secret::new(KEEPER_KEY.into())),
        ..Secrets::default()
    }
}

pub async fn venue(config: &Config, store: Arc<EvmStore>) -> EvmVenue {
    let wallet = Wallet::from_secrets(&keeper_secrets()).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    EvmVenue::connect(config.evm.as_ref().unwrap(), wallet, store, clock, "devnet")
        .await
        .expect("venue connects")
}

/// Flip the case of the first letter of an address's hex: a checksum error.
pub fn miscase(address: &str) -> String {
    let mut out = String::from("0x");
    let mut flipped = false;
    for c in address[2..].chars() {
        if !flipped && c.is_ascii_alphabetic() {
            flipped = true;
            out.push(if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            });
        } else {
            out.push(c);
        }
    }
    out
}
