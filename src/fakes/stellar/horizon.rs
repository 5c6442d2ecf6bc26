//! Horizon and Friendbot at the fake: accounts, liquidity pools, order
//! books (bids inverted, as Horizon shows them), strict-send path finding
//! (direct or through one asset, never back through the source), `POST
//! /transactions` with Horizon's problem bodies and result codes, and
//! Friendbot's funding; `POST /rpc` goes to the JSON-RPC side.

use super::form;
use super::rpc::rpc;
use crate::venue::stellar::asset::{StellarAsset, format_amount};
use crate::venue::stellar::codes::TxOutcome;
use crate::venue::stellar::sim::SimLedger;
use crate::venue::stellar::{AccountKey, Price};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn asset_from_query(q: &BTreeMap<String, String>, prefix: &str) -> Option<StellarAsset> {
    match q.get(&format!("{prefix}_type"))?.as_str() {
        "native" => Some(StellarAsset::Native),
        _ => StellarAsset::parse(&format!(
            "{}:{}",
            q.get(&format!("{prefix}_code"))?,
            q.get(&format!("{prefix}_issuer"))?
        ))
        .ok(),
    }
}

fn asset_json(a: &StellarAsset, prefix: &str) -> Value {
    let mut m = serde_json::Map::new();
    match a {
        StellarAsset::Native => {
            m.insert(format!("{prefix}asset_type"), json!("native"));
        }
        StellarAsset::Credit { code, issuer } => {
            let t = if code.len() <= 4 {
                "credit_alphanum4"
            } else {
                "credit_alphanum12"
            };
            m.insert(format!("{prefix}asset_type"), json!(t));
            m.insert(format!("{prefix}asset_code"), json!(code));
            m.insert(format!("{prefix}asset_issuer"), json!(issuer.to_string()));
        }
    }
    Value::Object(m)
}

fn problem(status: u16, kind: &str, title: &str, extras: Value) -> (u16, Value) {
    (
        status,
        json!({"type": format!("https://stellar.org/horizon-errors/{kind}"), "title": title,
               "status": status, "detail": title, "extras": extras}),
    )
}

pub(super) fn route(
    l: &mut SimLedger,
    method: &str,
    path: &str,
    q: &BTreeMap<String, String>,
    body: &str,
) -> (u16, Value) {
    match (method, path) {
        ("POST", "/rpc") => (200, rpc(l, body)),
        ("GET", "/friendbot") | ("POST", "/friendbot") => {
            let Some(id) = q.get("addr").and_then(|a| AccountKey::parse(a).ok()) else {
                return problem(400, "bad_request", "invalid addr", json!({}));
            };
            if l.friendbot(id) {
                (
                    200,
                    json!({"successful": true, "ledger": l.sequence, "hash": format!("{:064x}", l.sequence)}),
                )
            } else {
                problem(
                    400,
                    "transaction_failed",
                    "createAccountAlreadyExist (AAAAAAAAAGT/////AAAAAQAAAAAAAAAA/////AAAAAA=)",
                    json!({}),
                )
            }
        }
        ("GET", p) if p.starts_with("/accounts/") => {
            let id = AccountKey::parse(&p["/accounts/".len()..]);
            match id.ok().and_then(|id| l.account(id)) {
                None => problem(404, "not_found", "Resource Missing", json!({})),
                Some(a) => {
                    let balances: Vec<Value> = a
                        .balances
                        .iter()
                        .map(|b| {
                            let mut v = asset_json(&b.asset, "");
                            v["balance"] = json!(format_amount(b.amount));
                            v["selling_liabilities"] = json!("0.0000000");
                            v["buying_liabilities"] = json!("0.0000000");
                            if let Some(limit) = b.limit {
                                v["limit"] = json!(format_amount(limit));
                            }
                            v
                        })
                        .collect();
                    (
                        200,
                        json!({"id": a.id.to_string(), "account_id": a.id.to_string(),
                        "sequence": a.sequence.to_string(), "subentry_count": a.subentries,
                        "balances": balances}),
                    )
                }
            }
        }
        ("GET", "/liquidity_pools") => {
            // `reserves=A,B` (native | CODE:ISSUER): the sim's pool of the pair.
            let assets: Option<Vec<StellarAsset>> = q
                .get("reserves")
                .and_then(|r| r.split(',').map(|a| StellarAsset::parse(a).ok()).collect());
            let Some([a, b]) = assets.as_deref() else {
                return problem(400, "bad_request", "invalid reserves", json!({}));
            };
            let records: Vec<Value> = l
                .pool(a, b)
                .into_iter()
                .map(|p| {
                    let reserve = |x: &StellarAsset, amount: i64| {
                        json!({"asset": crate::venue::stellar::horizon_pools::reserve_form(x),
                               "amount": format_amount(amount)})
                    };
                    json!({"id": p.id_hex(), "fee_bp": p.fee_bp, "type": "constant_product",
                           "total_shares": format_amount(p.total_shares),
                           "reserves": [reserve(&p.asset_a, p.reserve_a), reserve(&p.asset_b, p.reserve_b)]})
                })
                .collect();
            (200, json!({"_embedded": {"records": records}}))
        }
        ("GET", "/order_book") => {
            let (Some(base), Some(counter)) = (
                asset_from_query(q, "selling_asset"),
                asset_from_query(q, "buying_asset"),
            ) else {
                return problem(400, "bad_request", "invalid assets", json!({}));
            };
            let level = |p: Price, amount: i64| {
                json!({"price_r": {"n": p.n, "d": p.d},
                       "price": rust_decimal::Decimal::from(p.n)
                           .checked_div(rust_decimal::Decimal::from(p.d))
                           .map(|x| format!("{x:.7}"))
                           .unwrap_or_else(|| "0".into()),
                       "amount": format_amount(amount)})
            };
            let asks: Vec<Value> = l
                .order_book(&base, &counter)
                .offers
                .iter()
                .map(|o| level(o.price, o.amount))
                .collect();
            // Bids: offers selling the counter for the base, price inverted,
            // amount in the counter asset (Horizon's quirk).
            let bids: Vec<Value> = l
                .order_book(&counter, &base)
                .offers
                .iter()
                .map(|o| {
                    level(
                        Price {
                            n: o.price.d,
                            d: o.price.n,
                        },
                        o.amount,
                    )
                })
                .collect();
            let base_j = asset_json(&base, "");
            let counter_j = asset_json(&counter, "");
            (
                200,
                json!({"bids": bids, "asks": asks, "base": base_j, "counter": counter_j}),
            )
        }
        ("GET", "/paths/strict-send") => {
            let Some(src) = asset_from_query(q, "source_asset") else {
                return problem(400, "bad_request", "source asset", json!({}));
            };
            let Some(amount) = q
                .get("source_amount")
                .and_then(|a| crate::venue::stellar::parse_amount(a))
            else {
                return problem(400, "bad_request", "source_amount", json!({}));
            };
            let dests: Vec<StellarAsset> = q
                .get("destination_assets")
                .map(|d| {
                    d.split(',')
                        .filter_map(|a| StellarAsset::parse(a).ok())
                        .collect()
                })
                .unwrap_or_default();
            let all: Vec<StellarAsset> = l.books.iter().map(|b| b.selling.clone()).collect();
            let mut records = Vec::new();
            for d in dests.iter().filter(|d| **d != src) {
                // Direct, then through one intermediate — never back through
                // the source (Horizon skips visited assets: no cycles).
                let mut candidates: Vec<Vec<StellarAsset>> = vec![vec![]];
                for m in &all {
                    if m != &src && m != d && !candidates.iter().any(|c| c.first() == Some(m)) {
                        candidates.push(vec![m.clone()]);
                    }
                }
                for mid in candidates {
                    let mut hops = vec![src.clone()];
                    hops.extend(mid.iter().cloned());
                    hops.push(d.clone());
                    let mut amt = amount;
                    let mut ok = true;
                    for w in hops.windows(2) {
                        match crate::venue::stellar::paths::hop(l, &w[0], &w[1], amt) {
                            Some((got, _)) if got > 0 => amt = got,
                            _ => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok {
                        let mut r = asset_json(&src, "source_");
                        let dj = asset_json(d, "destination_");
                        for (k, v) in dj.as_object().into_iter().flatten() {
                            r[k] = v.clone();
                        }
                        r["source_amount"] = json!(format_amount(amount));
                        r["destination_amount"] = json!(format_amount(amt));
                        r["path"] =
                            json!(mid.iter().map(|m| asset_json(m, "")).collect::<Vec<_>>());
                        records.push(r);
                    }
                }
            }
            (200, json!({"_embedded": {"records": records}}))
        }
        ("POST", "/transactions") => {
            let fields = form(body);
            let Some(tx) = fields.get("tx") else {
                return problem(
                    400,
                    "transaction_malformed",
                    "Transaction Malformed",
                    json!({}),
                );
            };
            match l.submit(tx) {
                Ok((hash, rec)) => {
                    if rec.success {
                        (
                            200,
                            json!({"hash": hash, "ledger": rec.ledger, "successful": true,
                            "envelope_xdr": rec.envelope, "result_xdr": rec.result_xdr}),
                        )
                    } else {
                        let o = TxOutcome::decode(&rec.result_xdr).expect("own result");
                        problem(
                            400,
                            "transaction_failed",
                            "Transaction Failed",
                            json!({"envelope_xdr": rec.envelope, "result_xdr": rec.result_xdr,
                                   "result_codes": {"transaction": o.tx_code, "operations": o.op_codes}}),
                        )
                    }
                }
                Err(refused) => problem(
                    400,
                    "transaction_failed",
                    "Transaction Failed",
                    json!({"envelope_xdr": tx, "result_xdr": refused.result_xdr,
                           "result_codes": {"transaction": refused.code}}),
                ),
            }
        }
        _ => problem(404, "not_found", "Resource Missing", json!({})),
    }
}

/// Lower every quoted destination amount by `bps`.
pub(super) fn skew_paths(answer: &mut Value, bps: i64) {
    let Some(records) = answer
        .pointer_mut("/_embedded/records")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for r in records {
        let Some(amount) = r
            .get("destination_amount")
            .and_then(Value::as_str)
            .and_then(crate::venue::stellar::parse_amount)
        else {
            continue;
        };
        let lowered = i128::from(amount) * i128::from(10_000 - bps) / 10_000;
        r["destination_amount"] = json!(format_amount(i64::try_from(lowered).unwrap_or_default()));
    }
}
