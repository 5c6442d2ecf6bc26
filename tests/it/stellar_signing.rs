//! Encoding and signing against a second implementation: the fixture was
//! produced once by `tests/fixtures/stellar_signing.py` (hand-packed XDR,
//! hashlib, Python `cryptography` ed25519) and is compared byte for byte.

use arbkeep::venue::stellar::StellarAsset;
use arbkeep::venue::stellar::keys::{Keypair, network_id};
use arbkeep::venue::stellar::tx::{
    Header, cyclic_path_payment, hex, sign, signature_payload, tx_hash,
};
use serde_json::Value;
use stellar_xdr::{Limits, WriteXdr};

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stellar_signing.json"
    ))
    .expect("fixture");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["cases"].as_array().expect("cases").clone()
}

fn seed(c: &Value) -> [u8; 32] {
    let h = c["seed_hex"].as_str().expect("seed");
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

#[test]
fn transactions_hashes_signatures_and_envelopes_match_python() {
    let cases = cases();
    assert_eq!(cases.len(), 2);
    for c in cases {
        let kp = Keypair::from_seed(seed(&c));
        assert_eq!(
            kp.public().to_string(),
            c["public"].as_str().expect("public")
        );
        assert_eq!(kp.expose_secret(), c["secret"].as_str().expect("secret"));
        assert_eq!(
            Keypair::from_secret(c["secret"].as_str().expect("s"))
                .expect("parse")
                .public(),
            kp.public()
        );
        let net = network_id(c["passphrase"].as_str().expect("passphrase"));
        assert_eq!(hex(&net), c["network_id_hex"].as_str().expect("net"));
        let path: Vec<StellarAsset> = c["path"]
            .as_array()
            .expect("path")
            .iter()
            .map(|p| StellarAsset::parse(p.as_str().expect("asset")).expect("asset"))
            .collect();
        let header = Header {
            source: kp.public(),
            seq: c["seq"].as_i64().expect("seq"),
            fee: c["fee"].as_u64().expect("fee") as u32,
            max_time: c["max_time"].as_u64().expect("max_time"),
        };
        let tx = cyclic_path_payment(
            header,
            &StellarAsset::Native,
            c["send_amount"].as_i64().expect("send"),
            &path,
            c["dest_min"].as_i64().expect("min"),
        )
        .expect("tx");
        assert_eq!(
            tx.to_xdr_base64(Limits::none()).expect("xdr"),
            c["tx_xdr_base64"].as_str().expect("tx")
        );
        let hash = tx_hash(&tx, &net).expect("hash");
        assert_eq!(hex(&hash), c["hash_hex"].as_str().expect("hash"));
        assert_eq!(
            hex(&kp.public().hint()),
            c["hint_hex"].as_str().expect("hint")
        );
        assert_eq!(
            hex(&kp.sign(&hash)),
            c["signature_hex"].as_str().expect("sig")
        );
        let payload = signature_payload(&tx, &net).expect("payload");
        assert_eq!(&payload[..32], &net);
        let signed = sign(tx, &kp, &net).expect("sign");
        assert_eq!(signed.envelope, c["envelope_base64"].as_str().expect("env"));
        assert_eq!(signed.hash_hex(), c["hash_hex"].as_str().expect("hash"));
    }
}

#[test]
fn a_signature_for_one_network_does_not_verify_on_another() {
    let c = &cases()[0];
    let kp = Keypair::from_seed(seed(c));
    let header = Header {
        source: kp.public(),
        seq: 5,
        fee: 100,
        max_time: 0,
    };
    let tx = cyclic_path_payment(header, &StellarAsset::Native, 10, &[], 11).expect("tx");
    let test = tx_hash(&tx, &network_id("Test SDF Network ; September 2015")).expect("h");
    let public = tx_hash(
        &tx,
        &network_id("Public Global Stellar Network ; September 2015"),
    )
    .expect("h");
    let sig = kp.sign(&test);
    assert!(kp.public().verifies(&test, &sig));
    assert!(!kp.public().verifies(&public, &sig));
}
