//! The world the Stellar tests and the Stellar bench trade in: an AQUA
//! issuer, the detector and Reflector contracts, one profitable XLM → AQUA
//! → XLM cycle on the books, and the network client's endpoints at a fake.

use super::StellarFake;
use crate::venue::stellar::asset::StellarAsset;
use crate::venue::stellar::sim::SimLedger;
use crate::venue::stellar::{
    ContractKey, Keypair, ONE, Offer, Price, SupportedAsset, TESTNET_PASSPHRASE,
};

pub fn issuer() -> Keypair {
    Keypair::from_seed([0x22; 32])
}
pub fn aqua() -> StellarAsset {
    StellarAsset::Credit {
        code: "AQUA".into(),
        issuer: issuer().public(),
    }
}
/// The network client's endpoints, all at this fake (Friendbot included).
pub fn endpoints(f: &StellarFake) -> crate::venue::stellar::network::Endpoints {
    crate::venue::stellar::network::Endpoints {
        horizon_url: f.horizon_url(),
        rpc_url: f.rpc_url(),
        friendbot_url: Some(f.friendbot_url()),
        detector: detector(),
        reflector: reflector(),
        timeout: std::time::Duration::from_secs(5),
    }
}

pub fn detector() -> ContractKey {
    ContractKey([0xD7; 32])
}
pub fn reflector() -> ContractKey {
    ContractKey([0xEF; 32])
}

/// XLM at 0.10 USD, AQUA at 0.001 USD: 100 AQUA per XLM. The XLM → AQUA
/// side pays 102 for the first 10 000 AQUA: a cycle worth taking.
pub fn world() -> SimLedger {
    let mut l = SimLedger::new(TESTNET_PASSPHRASE, detector(), reflector());
    l.create_account(issuer().public(), 100 * ONE);
    l.supported = vec![SupportedAsset {
        code: "AQUA".into(),
        issuer: issuer().public().to_string(),
    }];
    l.oracle.insert("XLM".into(), 10_000_000_000_000);
    l.oracle.insert("AQUA".into(), 100_000_000_000);
    l.set_book(
        aqua(),
        StellarAsset::Native,
        vec![
            Offer {
                amount: 10_000 * ONE,
                price: Price { n: 1, d: 102 },
            },
            Offer {
                amount: 100_000 * ONE,
                price: Price { n: 1, d: 99 },
            },
        ],
    );
    l.set_book(
        StellarAsset::Native,
        aqua(),
        vec![Offer {
            amount: 1_000 * ONE,
            price: Price { n: 201, d: 2 },
        }],
    );
    l
}
