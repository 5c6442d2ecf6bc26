//! Result codes: a `TransactionResult` (base64 XDR, from RPC or Horizon)
//! decoded into Horizon's wire strings (`tx_bad_seq`, `op_under_dest_min` …),
//! a sentence for people, and what the keeper does about it; and the route
//! a path payment actually took, hop by hop, from its claims.

use super::StellarAsset;
use super::market::Via;
use super::tx::server_limits;
use serde::{Deserialize, Serialize};
use stellar_xdr::{self as xdr, ReadXdr};

/// What the keeper does after a failed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handling {
    /// Applied.
    Done,
    /// The sequence moved: reload it and build a new transaction.
    RetryFreshSequence,
    /// Surge pricing: rebuild with a higher inclusion fee.
    RaiseFee,
    /// Not enough balance for this size: try smaller.
    Shrink,
    /// The quote is gone (book moved, liquidity vanished): forget it.
    DropOpportunity,
    /// Setup is wrong (trustline, key, passphrase, malformed): stop and tell
    /// the operator; retrying cannot help.
    Operator,
    /// Already applied earlier (create-account / trustline exists).
    AlreadyDone,
}

/// A decoded `TransactionResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutcome {
    pub fee_charged: i64,
    /// Horizon string, e.g. `tx_failed`.
    pub tx_code: String,
    /// One per operation, e.g. `op_under_dest_min`; empty unless tx_success/tx_failed.
    pub op_codes: Vec<String>,
    /// For a successful path payment: what arrived at the destination.
    pub delivered: Option<i64>,
    /// Applied inside a fee bump: `fee_charged` was paid by the bump's fee
    /// source, not the transaction's own source.
    #[serde(default)]
    pub fee_bumped: bool,
    /// For a successful path payment: the hops it took, as its claims
    /// report them (empty when it reported none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<HopTaken>,
}

/// One hop a path payment took: `sent` of `from` became `got` of `to`,
/// through the order book (one or more offers) or a liquidity pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopTaken {
    pub from: StellarAsset,
    pub to: StellarAsset,
    pub via: Via,
    pub sent: i64,
    pub got: i64,
}

/// The hops of a path payment from its claims, in order: consecutive
/// claims of one asset pair are one hop (a book crossed offer by offer).
/// `None` when the amounts do not add up in an i64.
pub fn route(claims: &[xdr::ClaimAtom]) -> Option<Vec<HopTaken>> {
    let mut hops: Vec<HopTaken> = Vec::new();
    for c in claims {
        // `sold` is the taker's side: what it received.
        let (via, sold, amount_sold, bought, amount_bought) = match c {
            xdr::ClaimAtom::V0(a) => (
                Via::Book,
                &a.asset_sold,
                a.amount_sold,
                &a.asset_bought,
                a.amount_bought,
            ),
            xdr::ClaimAtom::OrderBook(a) => (
                Via::Book,
                &a.asset_sold,
                a.amount_sold,
                &a.asset_bought,
                a.amount_bought,
            ),
            xdr::ClaimAtom::LiquidityPool(a) => (
                Via::Pool,
                &a.asset_sold,
                a.amount_sold,
                &a.asset_bought,
                a.amount_bought,
            ),
        };
        let (from, to) = (StellarAsset::from_xdr(bought), StellarAsset::from_xdr(sold));
        match hops.last_mut() {
            Some(h) if h.from == from && h.to == to && h.via == via => {
                h.sent = h.sent.checked_add(amount_bought)?;
                h.got = h.got.checked_add(amount_sold)?;
            }
            _ => hops.push(HopTaken {
                from,
                to,
                via,
                sent: amount_bought,
                got: amount_sold,
            }),
        }
    }
    Some(hops)
}

/// A route as the panel shows it: `XLM →book AQUA →pool XLM`.
pub fn route_label(hops: &[HopTaken]) -> String {
    let Some(first) = hops.first() else {
        return String::new();
    };
    let mut out = first.from.code().to_string();
    for h in hops {
        out.push_str(&format!(" →{} {}", h.via.as_str(), h.to.code()));
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable transaction result: {0}")]
pub struct ResultDecodeError(pub String);

impl TxOutcome {
    pub fn decode(b64: &str) -> Result<Self, ResultDecodeError> {
        let r = xdr::TransactionResult::from_xdr_base64(b64, server_limits())
            .map_err(|e| ResultDecodeError(e.to_string()))?;
        Ok(Self::from_xdr(&r))
    }

    pub fn from_xdr(r: &xdr::TransactionResult) -> Self {
        use xdr::TransactionResultResult as T;
        // A fee bump's result is its inner transaction's, with the fee the
        // fee source was charged.
        if let T::TxFeeBumpInnerSuccess(pair) | T::TxFeeBumpInnerFailed(pair) = &r.result {
            return Self {
                fee_bumped: true,
                ..Self::from_inner(r.fee_charged, &pair.result)
            };
        }
        let (tx_code, ops): (&str, &[xdr::OperationResult]) = match &r.result {
            T::TxSuccess(ops) => ("tx_success", ops.as_slice()),
            T::TxFailed(ops) => ("tx_failed", ops.as_slice()),
            T::TxFeeBumpInnerSuccess(_) => ("tx_fee_bump_inner_success", &[]),
            T::TxFeeBumpInnerFailed(_) => ("tx_fee_bump_inner_failed", &[]),
            T::TxTooEarly => ("tx_too_early", &[]),
            T::TxTooLate => ("tx_too_late", &[]),
            T::TxMissingOperation => ("tx_missing_operation", &[]),
            T::TxBadSeq => ("tx_bad_seq", &[]),
            T::TxBadAuth => ("tx_bad_auth", &[]),
            T::TxInsufficientBalance => ("tx_insufficient_balance", &[]),
            T::TxNoAccount => ("tx_no_source_account", &[]),
            T::TxInsufficientFee => ("tx_insufficient_fee", &[]),
            T::TxBadAuthExtra => ("tx_bad_auth_extra", &[]),
            T::TxInternalError => ("tx_internal_error", &[]),
            T::TxNotSupported => ("tx_not_supported", &[]),
            T::TxBadSponsorship => ("tx_bad_sponsorship", &[]),
            T::TxBadMinSeqAgeOrGap => ("tx_bad_minseq_age_or_gap", &[]),
            T::TxMalformed => ("tx_malformed", &[]),
            T::TxSorobanInvalid => ("tx_soroban_invalid", &[]),
            #[allow(unreachable_patterns)]
            _ => ("tx_unknown", &[]),
        };
        let success = ops.iter().find_map(|op| match op {
            xdr::OperationResult::OpInner(xdr::OperationResultTr::PathPaymentStrictSend(
                xdr::PathPaymentStrictSendResult::Success(s),
            )) => Some(s),
            _ => None,
        });
        let delivered = success.map(|s| s.last.amount);
        let route = success
            .and_then(|s| route(s.offers.as_slice()))
            .unwrap_or_default();
        Self {
            fee_charged: r.fee_charged,
            tx_code: tx_code.into(),
            op_codes: ops.iter().map(|o| op_code(o).to_string()).collect(),
            delivered,
            fee_bumped: false,
            route,
        }
    }

    fn from_inner(fee_charged: i64, inner: &xdr::InnerTransactionResult) -> Self {
        use xdr::InnerTransactionResultResult as I;
        use xdr::TransactionResultResult as T;
        let result = match &inner.result {
            I::TxSuccess(ops) => T::TxSuccess(ops.clone()),
            I::TxFailed(ops) => T::TxFailed(ops.clone()),
            I::TxBadSeq => T::TxBadSeq,
            I::TxTooLate => T::TxTooLate,
            I::TxBadAuth => T::TxBadAuth,
            I::TxInsufficientFee => T::TxInsufficientFee,
            _ => T::TxInternalError,
        };
        Self::from_xdr(&xdr::TransactionResult {
            fee_charged,
            result,
            ext: xdr::TransactionResultExt::V0,
        })
    }

    pub fn succeeded(&self) -> bool {
        self.tx_code == "tx_success"
    }

    /// The code that matters: the first failing op's, else the tx's.
    pub fn main_code(&self) -> &str {
        self.op_codes
            .iter()
            .find(|c| c.as_str() != "op_success")
            .map(String::as_str)
            .unwrap_or(&self.tx_code)
    }

    pub fn handling(&self) -> Handling {
        handling(self.main_code())
    }

    /// A `sendTransaction` ERROR proves the transaction was not applied
    /// only with a transaction-level admission code (bad sequence, fee,
    /// auth, time bounds …) and no operation results: a result that
    /// claims success or carries operation codes does not belong in an
    /// admission refusal, and is not believed.
    pub fn proves_not_applied(&self) -> bool {
        self.op_codes.is_empty()
            && matches!(
                self.tx_code.as_str(),
                "tx_too_early"
                    | "tx_too_late"
                    | "tx_missing_operation"
                    | "tx_bad_seq"
                    | "tx_bad_auth"
                    | "tx_insufficient_balance"
                    | "tx_no_source_account"
                    | "tx_insufficient_fee"
                    | "tx_bad_auth_extra"
                    | "tx_not_supported"
                    | "tx_bad_sponsorship"
                    | "tx_bad_minseq_age_or_gap"
                    | "tx_malformed"
                    | "tx_soroban_invalid"
            )
    }

    /// The figures a ledger booking takes from this result, checked: a fee
    /// and a delivered amount that are not negative.
    pub fn check_figures(&self) -> Result<(), String> {
        if self.fee_charged < 0 {
            return Err(format!("feeCharged {} is negative", self.fee_charged));
        }
        if let Some(d) = self.delivered
            && d < 0
        {
            return Err(format!("delivered amount {d} is negative"));
        }
        Ok(())
    }

    /// "op_under_dest_min: the cycle paid out less than destMin when applied".
    pub fn describe(&self) -> String {
        format!("{}: {}", self.main_code(), describe(self.main_code()))
    }
}

/// Horizon's wire string for one operation's result.
pub fn op_code(op: &xdr::OperationResult) -> &'static str {
    use xdr::OperationResult as O;
    use xdr::OperationResultTr as R;
    match op {
        O::OpBadAuth => "op_bad_auth",
        O::OpNoAccount => "op_no_source_account",
        O::OpNotSupported => "op_not_supported",
        O::OpTooManySubentries => "op_too_many_subentries",
        O::OpExceededWorkLimit => "op_exceeded_work_limit",
        O::OpTooManySponsoring => "op_too_many_sponsoring",
        O::OpInner(R::PathPaymentStrictSend(r)) => {
            use xdr::PathPaymentStrictSendResult as P;
            match r {
                P::Success(_) => "op_success",
                P::Malformed => "op_malformed",
                P::Underfunded => "op_underfunded",
                P::SrcNoTrust => "op_src_no_trust",
                P::SrcNotAuthorized => "op_src_not_authorized",
                P::NoDestination => "op_no_destination",
                P::NoTrust => "op_no_trust",
                P::NotAuthorized => "op_not_authorized",
                P::LineFull => "op_line_full",
                P::NoIssuer(_) => "op_no_issuer",
                P::TooFewOffers => "op_too_few_offers",
                P::OfferCrossSelf => "op_cross_self",
                P::UnderDestmin => "op_under_dest_min",
            }
        }
        O::OpInner(R::PathPaymentStrictReceive(r)) => {
            use xdr::PathPaymentStrictReceiveResult as P;
            match r {
                P::Success(_) => "op_success",
                P::Malformed => "op_malformed",
                P::Underfunded => "op_underfunded",
                P::SrcNoTrust => "op_src_no_trust",
                P::SrcNotAuthorized => "op_src_not_authorized",
                P::NoDestination => "op_no_destination",
                P::NoTrust => "op_no_trust",
                P::NotAuthorized => "op_not_authorized",
                P::LineFull => "op_line_full",
                P::NoIssuer(_) => "op_no_issuer",
                P::TooFewOffers => "op_too_few_offers",
                P::OfferCrossSelf => "op_cross_self",
                P::OverSendmax => "op_over_source_max",
            }
        }
        O::OpInner(R::CreateAccount(r)) => {
            use xdr::CreateAccountResult as C;
            match r {
                C::Success => "op_success",
                C::Malformed => "op_malformed",
                C::Underfunded => "op_underfunded",
                C::LowReserve => "op_low_reserve",
                C::AlreadyExist => "op_already_exists",
            }
        }
        O::OpInner(R::Payment(r)) => {
            use xdr::PaymentResult as P;
            match r {
                P::Success => "op_success",
                P::Malformed => "op_malformed",
                P::Underfunded => "op_underfunded",
                P::SrcNoTrust => "op_src_no_trust",
                P::SrcNotAuthorized => "op_src_not_authorized",
                P::NoDestination => "op_no_destination",
                P::NoTrust => "op_no_trust",
                P::NotAuthorized => "op_not_authorized",
                P::LineFull => "op_line_full",
                P::NoIssuer => "op_no_issuer",
            }
        }
        O::OpInner(R::ChangeTrust(r)) => {
            use xdr::ChangeTrustResult as C;
            match r {
                C::Success => "op_success",
                C::Malformed => "op_malformed",
                C::NoIssuer => "op_no_issuer",
                C::InvalidLimit => "op_invalid_limit",
                C::LowReserve => "op_low_reserve",
                C::SelfNotAllowed => "op_self_not_allowed",
                C::TrustLineMissing => "op_trust_line_missing",
                C::CannotDelete => "op_cannot_delete",
                C::NotAuthMaintainLiabilities => "op_not_auth_maintain_liabilities",
            }
        }
        O::OpInner(R::InvokeHostFunction(r)) => {
            use xdr::InvokeHostFunctionResult as I;
            match r {
                I::Success(_) => "op_success",
                I::Malformed => "op_malformed",
                I::Trapped => "function_trapped",
                I::ResourceLimitExceeded => "resource_limit_exceeded",
                I::EntryArchived => "entry_archived",
                I::InsufficientRefundableFee => "insufficient_refundable_fee",
            }
        }
        O::OpInner(_) => "op_other",
    }
}

/// What to do about a code.
pub fn handling(code: &str) -> Handling {
    match code {
        "tx_success" | "op_success" => Handling::Done,
        "tx_bad_seq" | "tx_too_late" | "tx_too_early" => Handling::RetryFreshSequence,
        "tx_insufficient_fee" => Handling::RaiseFee,
        "op_underfunded" | "tx_insufficient_balance" | "op_line_full" | "op_low_reserve" => {
            Handling::Shrink
        }
        "op_under_dest_min" | "op_too_few_offers" | "op_over_source_max" | "op_cross_self" => {
            Handling::DropOpportunity
        }
        "op_already_exists" => Handling::AlreadyDone,
        _ => Handling::Operator,
    }
}

/// A plain sentence per code.
pub fn describe(code: &str) -> &'static str {
    match code {
        "tx_success" | "op_success" => "applied",
        "tx_failed" => "an operation failed (see its code)",
        "tx_too_early" => "the ledger closed before the transaction's min time",
        "tx_too_late" => "the transaction's time bounds expired before it was applied",
        "tx_missing_operation" => "the transaction has no operation",
        "tx_bad_seq" => "the sequence number is not the account's next one; reload it",
        "tx_bad_auth" => "bad signature or wrong network passphrase",
        "tx_insufficient_balance" => "the fee would take the account below its minimum balance",
        "tx_no_source_account" => "the source account does not exist",
        "tx_insufficient_fee" => "the fee is below what the network charges now (surge pricing)",
        "tx_bad_auth_extra" => "unused signatures attached",
        "tx_internal_error" => "the network hit an internal error",
        "tx_not_supported" => "the transaction type is not supported",
        "tx_malformed" => "the transaction is malformed",
        "tx_soroban_invalid" => "Soroban resources missing or insufficient",
        "op_underfunded" => "not enough of the sent asset (balance or liabilities)",
        "op_under_dest_min" => "the cycle paid out less than destMin when applied (book moved)",
        "op_too_few_offers" => "not enough offers on the path (liquidity vanished)",
        "op_over_source_max" => "the path would cost more than sendMax",
        "op_cross_self" => "the path would cross one of the account's own offers",
        "op_src_no_trust" | "op_no_trust" => "a trustline is missing",
        "op_src_not_authorized" | "op_not_authorized" => {
            "the issuer has not authorized the trustline"
        }
        "op_no_destination" => "the destination account does not exist",
        "op_line_full" => "the destination trustline's limit would be exceeded",
        "op_no_issuer" => "the asset's issuer does not exist",
        "op_malformed" => "the operation is malformed",
        "op_already_exists" => "the account already exists",
        "op_low_reserve" => "the account would fall below its reserve",
        "op_bad_auth" => "the operation lacks a valid signature",
        "op_no_source_account" => "the operation's source account does not exist",
        "function_trapped" => "the contract call trapped",
        "resource_limit_exceeded" => "the contract call exceeded its resources",
        _ => "unrecognised result code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_result_xdr_strings() {
        let bad_seq = TxOutcome::decode("AAAAAAAAAGT////7AAAAAA==").expect("decode");
        assert_eq!(bad_seq.fee_charged, 100);
        assert_eq!(bad_seq.tx_code, "tx_bad_seq");
        assert_eq!(bad_seq.handling(), Handling::RetryFreshSequence);

        let fee = TxOutcome::decode("AAAAAAAAAAr////3AAAAAA==").expect("decode");
        assert_eq!(
            (fee.fee_charged, fee.main_code()),
            (10, "tx_insufficient_fee")
        );
        assert_eq!(fee.handling(), Handling::RaiseFee);

        let no_acct = TxOutcome::decode("AAAAAAAAAGT/////AAAAAf////4AAAAA").expect("decode");
        assert_eq!(no_acct.tx_code, "tx_failed");
        assert_eq!(no_acct.op_codes, vec!["op_no_source_account"]);

        let no_dest =
            TxOutcome::decode("AAAAAAAAAGT/////AAAAAQAAAAAAAAAB////+wAAAAA=").expect("decode");
        assert_eq!(no_dest.main_code(), "op_no_destination");

        let exists =
            TxOutcome::decode("AAAAAAAAAGT/////AAAAAQAAAAAAAAAA/////AAAAAA=").expect("decode");
        assert_eq!(exists.main_code(), "op_already_exists");
        assert_eq!(exists.handling(), Handling::AlreadyDone);
        assert!(TxOutcome::decode("!!").is_err());
    }

    #[test]
    fn every_path_payment_code_has_a_handling() {
        use xdr::PathPaymentStrictSendResult as P;
        let cases = [
            (
                P::UnderDestmin,
                "op_under_dest_min",
                Handling::DropOpportunity,
            ),
            (
                P::TooFewOffers,
                "op_too_few_offers",
                Handling::DropOpportunity,
            ),
            (P::Underfunded, "op_underfunded", Handling::Shrink),
            (P::SrcNoTrust, "op_src_no_trust", Handling::Operator),
            (
                P::OfferCrossSelf,
                "op_cross_self",
                Handling::DropOpportunity,
            ),
            (P::LineFull, "op_line_full", Handling::Shrink),
        ];
        for (r, code, h) in cases {
            let result = xdr::TransactionResult {
                fee_charged: 100,
                result: xdr::TransactionResultResult::TxFailed(
                    vec![xdr::OperationResult::OpInner(
                        xdr::OperationResultTr::PathPaymentStrictSend(r),
                    )]
                    .try_into()
                    .expect("ops"),
                ),
                ext: xdr::TransactionResultExt::V0,
            };
            let o = TxOutcome::from_xdr(&result);
            assert_eq!(o.main_code(), code);
            assert_eq!(o.handling(), h, "{code}");
            assert!(!describe(code).contains("unrecognised"), "{code}");
        }
    }

    /// Claims in order become hops: offers of one pair crossed one by one
    /// are one hop; a pool's claim is its own.
    #[test]
    fn a_path_payments_claims_are_its_route() {
        let issuer = crate::venue::stellar::Keypair::from_seed([7; 32]).public();
        let aqua = StellarAsset::Credit {
            code: "AQUA".into(),
            issuer,
        };
        let xlm = StellarAsset::Native;
        let offer = |sold: &StellarAsset, amount_sold, bought: &StellarAsset, amount_bought| {
            xdr::ClaimAtom::OrderBook(xdr::ClaimOfferAtom {
                seller_id: crate::venue::stellar::asset::account_id(issuer),
                offer_id: 1,
                asset_sold: sold.to_xdr(),
                amount_sold,
                asset_bought: bought.to_xdr(),
                amount_bought,
            })
        };
        let claims = vec![
            offer(&aqua, 1_000, &xlm, 10),
            offer(&aqua, 500, &xlm, 5),
            xdr::ClaimAtom::LiquidityPool(xdr::ClaimLiquidityAtom {
                liquidity_pool_id: xdr::PoolId(xdr::Hash([1; 32])),
                asset_sold: xlm.to_xdr(),
                amount_sold: 16,
                asset_bought: aqua.to_xdr(),
                amount_bought: 1_500,
            }),
        ];
        let hops = route(&claims).unwrap();
        assert_eq!(
            hops,
            vec![
                HopTaken {
                    from: xlm.clone(),
                    to: aqua.clone(),
                    via: Via::Book,
                    sent: 15,
                    got: 1_500
                },
                HopTaken {
                    from: aqua,
                    to: xlm,
                    via: Via::Pool,
                    sent: 1_500,
                    got: 16
                },
            ]
        );
        assert_eq!(route_label(&hops), "XLM →book AQUA →pool XLM");
        // Amounts from outside that overflow are not believed.
        let big = vec![
            offer(&StellarAsset::Native, i64::MAX, &StellarAsset::Native, 1),
            offer(&StellarAsset::Native, 1, &StellarAsset::Native, 1),
        ];
        assert_eq!(route(&big), None);
    }

    #[test]
    fn only_admission_codes_prove_a_send_was_not_applied() {
        let o = |tx: &str, ops: &[&str]| TxOutcome {
            fee_charged: 0,
            tx_code: tx.into(),
            op_codes: ops.iter().map(|c| c.to_string()).collect(),
            delivered: None,
            fee_bumped: false,
            route: Vec::new(),
        };
        assert!(o("tx_bad_seq", &[]).proves_not_applied());
        assert!(o("tx_insufficient_fee", &[]).proves_not_applied());
        assert!(!o("tx_success", &["op_success"]).proves_not_applied());
        assert!(!o("tx_failed", &["op_under_dest_min"]).proves_not_applied());
        assert!(!o("tx_internal_error", &[]).proves_not_applied());
        assert!(!o("tx_unknown", &[]).proves_not_applied());
    }
}
