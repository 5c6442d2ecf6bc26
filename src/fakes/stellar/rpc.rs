//! Stellar RPC at the fake (`POST /rpc`, JSON-RPC): health, network,
//! latest ledger, ledger entries (accounts, trustlines), contract reads by
//! simulation, `sendTransaction` (PENDING, DUPLICATE or ERROR with its
//! result), `getTransaction` within the RPC's history, fee stats, events.

use crate::venue::stellar::asset::StellarAsset;
use crate::venue::stellar::sim::SimLedger;
use serde_json::{Value, json};
use stellar_xdr::{self as xdr, Limits, ReadXdr, WriteXdr};

pub(super) fn rpc(l: &mut SimLedger, body: &str) -> Value {
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}});
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let params = req.get("params").cloned().unwrap_or(json!({}));
    let method = req.get("method").and_then(Value::as_str).unwrap_or("");
    let err = |code: i64, message: &str| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    let result = match method {
        "getHealth" => json!({"status": "healthy", "latestLedger": l.sequence,
            "latestLedgerCloseTime": l.close_time.to_string(), "oldestLedger": l.oldest.0,
            "oldestLedgerCloseTime": l.oldest.1.to_string(), "ledgerRetentionWindow": 120960}),
        "getNetwork" => json!({"passphrase": l.passphrase, "protocolVersion": 23,
            "friendbotUrl": "http://127.0.0.1/friendbot"}),
        "getLatestLedger" => json!({"id": format!("{:064x}", l.sequence), "protocolVersion": 23,
            "sequence": l.sequence, "closeTime": l.close_time.to_string()}),
        "getLedgerEntries" => {
            let Some(keys) = params.get("keys").and_then(Value::as_array) else {
                return err(-32602, "keys required");
            };
            if keys.len() > 200 {
                return err(-32602, "too many keys");
            }
            let mut entries = Vec::new();
            for k in keys {
                let Some(kb) = k.as_str() else {
                    return err(-32602, "key");
                };
                let Ok(key) = xdr::LedgerKey::from_xdr_base64(kb, Limits::none()) else {
                    return err(-32602, "bad LedgerKey");
                };
                let data = match &key {
                    xdr::LedgerKey::Account(a) => {
                        let id = crate::venue::stellar::asset::account_key(&a.account_id);
                        l.accounts.get(&id).map(|acct| {
                            xdr::LedgerEntryData::Account(xdr::AccountEntry {
                                account_id: a.account_id.clone(),
                                balance: acct.xlm,
                                seq_num: xdr::SequenceNumber(acct.seq),
                                num_sub_entries: acct.lines.len() as u32,
                                inflation_dest: None,
                                flags: 0,
                                home_domain: xdr::String32::default(),
                                thresholds: xdr::Thresholds([1, 0, 0, 0]),
                                signers: xdr::VecM::default(),
                                ext: xdr::AccountEntryExt::V0,
                            })
                        })
                    }
                    xdr::LedgerKey::Trustline(t) => {
                        let id = crate::venue::stellar::asset::account_key(&t.account_id);
                        let asset = match &t.asset {
                            xdr::TrustLineAsset::CreditAlphanum4(a) => {
                                StellarAsset::from_xdr(&xdr::Asset::CreditAlphanum4(a.clone()))
                            }
                            xdr::TrustLineAsset::CreditAlphanum12(a) => {
                                StellarAsset::from_xdr(&xdr::Asset::CreditAlphanum12(a.clone()))
                            }
                            _ => continue,
                        };
                        l.accounts
                            .get(&id)
                            .and_then(|acct| acct.lines.get(&asset))
                            .map(|(bal, lim)| {
                                xdr::LedgerEntryData::Trustline(xdr::TrustLineEntry {
                                    account_id: t.account_id.clone(),
                                    asset: t.asset.clone(),
                                    balance: *bal,
                                    limit: *lim,
                                    flags: 1,
                                    ext: xdr::TrustLineEntryExt::V0,
                                })
                            })
                    }
                    _ => None,
                };
                if let Some(d) = data {
                    entries.push(
                        json!({"key": kb, "xdr": d.to_xdr_base64(Limits::none()).expect("xdr"),
                        "lastModifiedLedgerSeq": l.sequence}),
                    );
                }
            }
            json!({"entries": entries, "latestLedger": l.sequence})
        }
        "simulateTransaction" => {
            let Some(t) = params.get("transaction").and_then(Value::as_str) else {
                return err(-32602, "transaction required");
            };
            let Ok(xdr::TransactionEnvelope::Tx(env)) =
                xdr::TransactionEnvelope::from_xdr_base64(t, Limits::none())
            else {
                return err(-32602, "bad transaction envelope");
            };
            let ops = env.tx.operations.as_slice();
            let [op] = ops else {
                return json!({"jsonrpc": "2.0", "id": id, "result": {"error": "transaction must contain exactly one operation", "latestLedger": l.sequence}});
            };
            let xdr::OperationBody::InvokeHostFunction(f) = &op.body else {
                return json!({"jsonrpc": "2.0", "id": id, "result": {"error": "not an invokeHostFunction operation", "latestLedger": l.sequence}});
            };
            let xdr::HostFunction::InvokeContract(call) = &f.host_function else {
                return err(-32602, "unsupported host function");
            };
            let xdr::ScAddress::Contract(xdr::ContractId(xdr::Hash(c))) = &call.contract_address
            else {
                return err(-32602, "not a contract");
            };
            let contract = crate::venue::stellar::ContractKey(*c).to_string();
            let function = call.function_name.0.to_utf8_string_lossy();
            match l.call(&contract, &function, call.args.as_slice()) {
                Ok(v) => {
                    let data = xdr::SorobanTransactionData {
                        ext: xdr::SorobanTransactionDataExt::V0,
                        resources: xdr::SorobanResources {
                            footprint: xdr::LedgerFootprint {
                                read_only: xdr::VecM::default(),
                                read_write: xdr::VecM::default(),
                            },
                            instructions: 1_000_000,
                            disk_read_bytes: 1000,
                            write_bytes: 0,
                        },
                        resource_fee: 5000,
                    };
                    json!({"latestLedger": l.sequence, "minResourceFee": "5000",
                        "transactionData": data.to_xdr_base64(Limits::none()).expect("xdr"),
                        "results": [{"xdr": v.to_xdr_base64(Limits::none()).expect("xdr"), "auth": []}]})
                }
                Err(e) => json!({"error": e, "events": [], "latestLedger": l.sequence}),
            }
        }
        "sendTransaction" => {
            let Some(t) = params.get("transaction").and_then(Value::as_str) else {
                return err(-32602, "transaction required");
            };
            if xdr::TransactionEnvelope::from_xdr_base64(t, Limits::none()).is_err() {
                return err(-32602, "invalid transaction envelope");
            }
            let known_before = |l: &SimLedger, h: &str| l.txs.contains_key(h);
            let hash = xdr::TransactionEnvelope::from_xdr_base64(t, Limits::none())
                .ok()
                .and_then(|e| match e {
                    xdr::TransactionEnvelope::Tx(v) => {
                        crate::venue::stellar::tx::tx_hash(&v.tx, &l.network_id()).ok()
                    }
                    xdr::TransactionEnvelope::TxFeeBump(b) => {
                        crate::venue::stellar::fee_bump::outer_hash(&b.tx, &l.network_id()).ok()
                    }
                    _ => None,
                })
                .map(|h| crate::venue::stellar::tx::hex(&h))
                .unwrap_or_default();
            let dup = known_before(l, &hash);
            match l.submit(t) {
                Ok((hash, _)) => {
                    json!({"status": if dup { "DUPLICATE" } else { "PENDING" }, "hash": hash,
                    "latestLedger": l.sequence, "latestLedgerCloseTime": l.close_time.to_string()})
                }
                Err(refused) => {
                    json!({"status": "ERROR", "hash": hash, "errorResultXdr": refused.result_xdr,
                    "latestLedger": l.sequence, "latestLedgerCloseTime": l.close_time.to_string()})
                }
            }
        }
        "getTransaction" => {
            let Some(h) = params.get("hash").and_then(Value::as_str) else {
                return err(-32602, "hash required");
            };
            let base = json!({"txHash": h, "latestLedger": l.sequence, "latestLedgerCloseTime": l.close_time.to_string(),
                "oldestLedger": l.oldest.0, "oldestLedgerCloseTime": l.oldest.1.to_string()});
            match l.poll(h) {
                None => {
                    let mut b = base;
                    b["status"] = json!("NOT_FOUND");
                    b
                }
                Some(t) => {
                    let mut b = base;
                    b["status"] = json!(if t.success { "SUCCESS" } else { "FAILED" });
                    b["ledger"] = json!(t.ledger);
                    b["createdAt"] = json!(l.close_time.to_string());
                    b["applicationOrder"] = json!(1);
                    b["feeBump"] = json!(is_fee_bump(&t.envelope));
                    b["envelopeXdr"] = json!(t.envelope);
                    b["resultXdr"] = json!(t.result_xdr);
                    b
                }
            }
        }
        "getFeeStats" => fee_stats_json(&l.fee_stats()),
        "getEvents" => json!({"events": [], "latestLedger": l.sequence, "cursor": ""}),
        _ => return err(-32601, "method not found"),
    };
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// `getFeeStats`' result for these stats.
pub(super) fn fee_stats_json(f: &crate::venue::stellar::FeeStats) -> Value {
    let dist = |d: &crate::venue::stellar::fee_stats::FeeDistribution| {
        let mut v = json!({"max": d.max.to_string(), "min": d.min.to_string(),
            "mode": d.mode.to_string(), "transactionCount": "10", "ledgerCount": 50});
        for (p, fee) in crate::venue::stellar::fee_stats::PERCENTILES
            .iter()
            .zip(d.percentiles)
        {
            v[format!("p{p}")] = json!(fee.to_string());
        }
        v
    };
    json!({"inclusionFee": dist(&f.classic), "sorobanInclusionFee": dist(&f.classic),
        "latestLedger": f.latest_ledger})
}

pub(super) fn is_fee_bump(b64: &str) -> bool {
    matches!(
        xdr::TransactionEnvelope::from_xdr_base64(b64, Limits::none()),
        Ok(xdr::TransactionEnvelope::TxFeeBump(_))
    )
}
