//! Transactions: building the few operations arbkeep sends (create account,
//! change trust, path payment strict send to self, contract invocation),
//! the network-scoped hash, and signing. `hash = SHA-256(network_id ‖
//! ENVELOPE_TYPE_TX ‖ xdr(tx))`; that hash is known before sending, so the
//! keeper commits it with its intent first.

use super::asset::{StellarAsset, account_id, muxed};
use super::keys::{AccountKey, ContractKey, Keypair, sha256};
use stellar_xdr::{self as xdr, Limits, ReadXdr, WriteXdr};

/// Ops per tx is 1 everywhere here; the base fee is per operation.
pub const BASE_FEE: u32 = 100;
/// Trustline limit the seed's backend used (10 000 000 units).
pub const TRUST_LIMIT: i64 = 10_000_000 * super::asset::ONE;

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("XDR encoding failed: {0}")]
    Xdr(#[from] xdr::Error),
    #[error("a path payment may cross at most 5 intermediate assets, got {0}")]
    PathTooLong(usize),
    #[error("{0} is not a valid contract symbol (1-32 of [A-Za-z0-9_])")]
    BadSymbol(String),
}

/// What every transaction starts with.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub source: AccountKey,
    /// The account's current sequence + 1.
    pub seq: i64,
    pub fee: u32,
    /// Unix seconds after which the network refuses it (0: none).
    pub max_time: u64,
}

fn tx(header: Header, body: xdr::OperationBody) -> Result<xdr::Transaction, TxError> {
    let cond = if header.max_time == 0 {
        xdr::Preconditions::None
    } else {
        xdr::Preconditions::Time(xdr::TimeBounds {
            min_time: xdr::TimePoint(0),
            max_time: xdr::TimePoint(header.max_time),
        })
    };
    Ok(xdr::Transaction {
        source_account: muxed(header.source),
        fee: header.fee,
        seq_num: xdr::SequenceNumber(header.seq),
        cond,
        memo: xdr::Memo::None,
        operations: vec![xdr::Operation {
            source_account: None,
            body,
        }]
        .try_into()?,
        ext: xdr::TransactionExt::V0,
    })
}

/// `send_amount` of `asset` through `path` back to the source itself; the
/// network applies it only if at least `dest_min` arrives.
pub fn cyclic_path_payment(
    header: Header,
    asset: &StellarAsset,
    send_amount: i64,
    path: &[StellarAsset],
    dest_min: i64,
) -> Result<xdr::Transaction, TxError> {
    if path.len() > 5 {
        return Err(TxError::PathTooLong(path.len()));
    }
    let path: Vec<xdr::Asset> = path.iter().map(StellarAsset::to_xdr).collect();
    tx(
        header,
        xdr::OperationBody::PathPaymentStrictSend(xdr::PathPaymentStrictSendOp {
            send_asset: asset.to_xdr(),
            send_amount,
            destination: muxed(header.source),
            dest_asset: asset.to_xdr(),
            dest_min,
            path: path.try_into()?,
        }),
    )
}

pub fn change_trust(
    header: Header,
    asset: &StellarAsset,
    limit: i64,
) -> Result<xdr::Transaction, TxError> {
    let line = match asset.to_xdr() {
        xdr::Asset::Native => xdr::ChangeTrustAsset::Native,
        xdr::Asset::CreditAlphanum4(a) => xdr::ChangeTrustAsset::CreditAlphanum4(a),
        xdr::Asset::CreditAlphanum12(a) => xdr::ChangeTrustAsset::CreditAlphanum12(a),
    };
    tx(
        header,
        xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp { line, limit }),
    )
}

pub fn create_account(
    header: Header,
    destination: AccountKey,
    starting_balance: i64,
) -> Result<xdr::Transaction, TxError> {
    tx(
        header,
        xdr::OperationBody::CreateAccount(xdr::CreateAccountOp {
            destination: account_id(destination),
            starting_balance,
        }),
    )
}

pub fn payment(
    header: Header,
    destination: AccountKey,
    asset: &StellarAsset,
    amount: i64,
) -> Result<xdr::Transaction, TxError> {
    tx(
        header,
        xdr::OperationBody::Payment(xdr::PaymentOp {
            destination: muxed(destination),
            asset: asset.to_xdr(),
            amount,
        }),
    )
}

pub fn symbol(name: &str) -> Result<xdr::ScSymbol, TxError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(TxError::BadSymbol(name.into()));
    }
    Ok(xdr::ScSymbol(
        name.try_into()
            .map_err(|_| TxError::BadSymbol(name.into()))?,
    ))
}

/// One `invokeHostFunction` calling `function(args…)` on `contract`.
pub fn invoke(
    header: Header,
    contract: ContractKey,
    function: &str,
    args: Vec<xdr::ScVal>,
) -> Result<xdr::Transaction, TxError> {
    tx(
        header,
        xdr::OperationBody::InvokeHostFunction(xdr::InvokeHostFunctionOp {
            host_function: xdr::HostFunction::InvokeContract(xdr::InvokeContractArgs {
                contract_address: xdr::ScAddress::Contract(xdr::ContractId(xdr::Hash(contract.0))),
                function_name: symbol(function)?,
                args: args.try_into()?,
            }),
            auth: xdr::VecM::default(),
        }),
    )
}

/// What the simulation said a Soroban call needs (the prepare step).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub min_resource_fee: u32,
    pub transaction_data: xdr::SorobanTransactionData,
    pub auth: Vec<xdr::SorobanAuthorizationEntry>,
}

/// Attach the simulation's resources: fee + resource fee, `ext V1`, and the
/// recorded auth if the op has none (source-account auth needs no extra
/// signature).
pub fn assemble(
    mut tx: xdr::Transaction,
    prepared: &Prepared,
) -> Result<xdr::Transaction, TxError> {
    tx.fee = tx.fee.saturating_add(prepared.min_resource_fee);
    tx.ext = xdr::TransactionExt::V1(prepared.transaction_data.clone());
    let mut ops: Vec<xdr::Operation> = tx.operations.to_vec();
    for op in ops.iter_mut() {
        if let xdr::OperationBody::InvokeHostFunction(f) = &mut op.body
            && f.auth.is_empty()
        {
            f.auth = prepared.auth.clone().try_into()?;
        }
    }
    tx.operations = ops.try_into()?;
    Ok(tx)
}

/// The bytes that are hashed and signed.
pub fn signature_payload(tx: &xdr::Transaction, network_id: &[u8; 32]) -> Result<Vec<u8>, TxError> {
    let mut bytes = Vec::with_capacity(256);
    bytes.extend_from_slice(network_id);
    bytes.extend_from_slice(&(xdr::EnvelopeType::Tx as i32).to_be_bytes());
    bytes.extend_from_slice(&tx.to_xdr(Limits::none())?);
    Ok(bytes)
}

pub fn tx_hash(tx: &xdr::Transaction, network_id: &[u8; 32]) -> Result<[u8; 32], TxError> {
    Ok(sha256(&signature_payload(tx, network_id)?))
}

/// A signed envelope and what to call it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub hash: [u8; 32],
    /// base64 `TransactionEnvelope`, what `sendTransaction` and Horizon take.
    pub envelope: String,
}

impl Signed {
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }
}

pub fn sign(tx: xdr::Transaction, key: &Keypair, network_id: &[u8; 32]) -> Result<Signed, TxError> {
    let hash = tx_hash(&tx, network_id)?;
    let signature = key.sign(&hash);
    let decorated = xdr::DecoratedSignature {
        hint: xdr::SignatureHint(key.public().hint()),
        signature: xdr::Signature(signature.as_slice().try_into()?),
    };
    let envelope = xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope {
        tx,
        signatures: vec![decorated].try_into()?,
    });
    Ok(Signed {
        hash,
        envelope: envelope.to_xdr_base64(Limits::none())?,
    })
}

/// Server data gets bounded decoding: a hostile answer cannot make us
/// allocate without limit.
pub fn server_limits() -> Limits {
    Limits {
        depth: 200,
        len: 4 << 20,
    }
}

pub fn decode_envelope(b64: &str) -> Result<xdr::TransactionEnvelope, TxError> {
    Ok(xdr::TransactionEnvelope::from_xdr_base64(
        b64,
        server_limits(),
    )?)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::stellar::keys::network_id;

    #[test]
    fn hash_matches_stellar_xdr_own_implementation() {
        let kp = Keypair::from_seed([7; 32]);
        let header = Header {
            source: kp.public(),
            seq: 42,
            fee: 100,
            max_time: 0,
        };
        let t = cyclic_path_payment(header, &StellarAsset::Native, 10_000_000, &[], 10_000_001)
            .expect("tx");
        let net = network_id("Test SDF Network ; September 2015");
        let ours = tx_hash(&t, &net).expect("hash");
        let env = xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope {
            tx: t.clone(),
            signatures: xdr::VecM::default(),
        });
        assert_eq!(env.hash(net).expect("theirs"), ours);
        let signed = sign(t, &kp, &net).expect("sign");
        let back = decode_envelope(&signed.envelope).expect("decode");
        let xdr::TransactionEnvelope::Tx(v1) = back else {
            panic!("v1")
        };
        assert_eq!(v1.signatures[0].hint.0, kp.public().hint());
        assert!(kp.public().verifies(&ours, &v1.signatures[0].signature.0));
        assert!(
            cyclic_path_payment(
                header,
                &StellarAsset::Native,
                1,
                &vec![StellarAsset::Native; 6],
                1
            )
            .is_err()
        );
    }
}
