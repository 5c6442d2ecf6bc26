//! A simulated Stellar ledger: accounts (XLM, sequence, trustlines, reserve),
//! order books of resting offers, and transaction application with the
//! network's checks — ed25519 signatures over the passphrase's network id,
//! `seq == account.seq + 1`, minimum fee, Soroban `ext V1` — answering with
//! real `TransactionResult` XDR. It backs the paper venue and the loopback
//! fakes of Stellar RPC / Horizon / Friendbot used by the tests.
//!
//! Offers are outside liquidity: crossing one removes it from the book; the
//! maker is not modelled. Fees are burned, as on the network.

use super::asset::{StellarAsset, account_key, muxed_key};
use super::contracts;
use super::keys::{AccountKey, ContractKey, network_id};
use super::market;
use super::pool::LiquidityPool;
use super::tx::{hex, server_limits, tx_hash};
use super::{
    AccountState, BASE_RESERVE, Balance, LedgerWindow, ONE, Offer, OrderBook, Price, SupportedAsset,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use stellar_xdr::{self as xdr, Limits, ReadXdr, WriteXdr};

/// What Friendbot gives.
pub const FRIENDBOT_AMOUNT: i64 = 10_000 * ONE;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimAccount {
    pub xlm: i64,
    pub seq: i64,
    /// asset → (balance, limit)
    pub lines: BTreeMap<StellarAsset, (i64, i64)>,
}

impl SimAccount {
    fn min_balance(&self) -> i64 {
        (2 + self.lines.len() as i64) * BASE_RESERVE
    }

    fn holds(&self, asset: &StellarAsset) -> Option<i64> {
        match asset {
            StellarAsset::Native => Some(self.xlm),
            a => self.lines.get(a).map(|l| l.0),
        }
    }

    fn spendable(&self, asset: &StellarAsset) -> Option<i64> {
        match asset {
            StellarAsset::Native => Some(self.xlm - self.min_balance()),
            a => self.holds(a),
        }
    }

    fn add(&mut self, asset: &StellarAsset, delta: i64) -> Result<(), &'static str> {
        match asset {
            StellarAsset::Native => {
                self.xlm += delta;
                Ok(())
            }
            a => {
                let line = self.lines.get_mut(a).ok_or("op_no_trust")?;
                if line.0 + delta > line.1 {
                    return Err("op_line_full");
                }
                line.0 += delta;
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimBook {
    pub selling: StellarAsset,
    pub buying: StellarAsset,
    /// Kept sorted, cheapest first.
    pub offers: Vec<Offer>,
}

/// One applied (or failed) transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimTx {
    pub ledger: u32,
    pub success: bool,
    pub result_xdr: String,
    pub envelope: String,
    /// `getTransaction` answers NOT_FOUND this many more times (the tx is
    /// "not applied yet" as far as a poller can tell).
    pub hidden_polls: u32,
}

/// Why a transaction was not admitted (nothing applied, no fee charged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub result_xdr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimLedger {
    pub passphrase: String,
    pub sequence: u32,
    pub close_time: u64,
    pub base_fee: u32,
    pub accounts: BTreeMap<AccountKey, SimAccount>,
    pub books: Vec<SimBook>,
    pub txs: BTreeMap<String, SimTx>,
    pub detector: String,
    pub reflector: String,
    pub supported: Vec<SupportedAsset>,
    /// Reflector: symbol → price (14 decimals, base USD).
    pub oracle: BTreeMap<String, i128>,
    /// NOT_FOUND answers before a tx shows up in getTransaction.
    pub hide_polls: u32,
    /// Oldest (ledger, close time) getTransaction still answers for, like
    /// the RPC's retention window; older transactions read as NOT_FOUND.
    #[serde(default)]
    pub oldest: (u32, u64),
    /// Envelopes offered to [`SimLedger::submit`], admitted or not, resends
    /// included: tests count what a keeper sends.
    #[serde(default)]
    pub sends: u64,
    /// Reflector's prices are this many seconds older than the latest
    /// close (a stalled oracle).
    #[serde(default)]
    pub oracle_age: u64,
    /// "account:sequence" → the distinct envelope hashes offered for that
    /// sequence number, admitted or not. Two is a re-signed send.
    #[serde(default)]
    pub offered: BTreeMap<String, BTreeSet<String>>,
    /// Constant-product liquidity pools path payments may route through.
    #[serde(default)]
    pub pools: Vec<LiquidityPool>,
    /// Surge pricing ([`super::sim_surge`]): the least per-operation fee a
    /// transaction must offer to be applied; 0 = none (the base fee does).
    #[serde(default)]
    pub surge_fee: u32,
    /// Admitted under a surge but not applied: hash → (envelope, maxTime).
    #[serde(default)]
    pub held: BTreeMap<String, (String, u64)>,
    /// Fee-bump envelopes applied (each inner transaction at most once).
    #[serde(default)]
    pub bumps_applied: u64,
}

/// The claim a hop leaves in a path payment's result: the book's or the
/// pool's side of the trade (`sold` is what the taker received).
fn claim(
    via: market::Via,
    pool: Option<[u8; 32]>,
    (bought, amount_bought): (&StellarAsset, i64),
    (sold, amount_sold): (&StellarAsset, i64),
) -> xdr::ClaimAtom {
    match (via, pool) {
        (market::Via::Pool, Some(id)) => xdr::ClaimAtom::LiquidityPool(xdr::ClaimLiquidityAtom {
            liquidity_pool_id: xdr::PoolId(xdr::Hash(id)),
            asset_sold: sold.to_xdr(),
            amount_sold,
            asset_bought: bought.to_xdr(),
            amount_bought,
        }),
        _ => xdr::ClaimAtom::OrderBook(xdr::ClaimOfferAtom {
            seller_id: super::asset::account_id(AccountKey([0; 32])),
            offer_id: 0,
            asset_sold: sold.to_xdr(),
            amount_sold,
            asset_bought: bought.to_xdr(),
            amount_bought,
        }),
    }
}

pub const ORACLE_DECIMALS: u32 = 14;
pub const ORACLE_RESOLUTION: u32 = 300;

fn ratio_lt(a: Price, b: Price) -> bool {
    (a.n as i128) * (b.d as i128) < (b.n as i128) * (a.d as i128)
}

/// `x × n / d` rounded down / up, in i128 so nothing overflows; `None`
/// for a non-positive denominator (offers come from outside).
fn mul_div_floor(x: i64, n: i32, d: i32) -> Option<i64> {
    if d <= 0 {
        return None;
    }
    let q = (i128::from(x) * i128::from(n)) / i128::from(d);
    Some(q.clamp(0, i128::from(i64::MAX)) as i64)
}

fn mul_div_ceil(x: i64, n: i32, d: i32) -> Option<i64> {
    if d <= 0 {
        return None;
    }
    let (num, den) = (i128::from(x) * i128::from(n), i128::from(d));
    Some(((num + den - 1) / den).clamp(0, i128::from(i64::MAX)) as i64)
}

/// Send `amount` of `buying` into offers that sell `selling`; returns what
/// arrives and the book after, or `None` if the book runs dry — or holds an
/// offer no network would (a price with a zero or negative side, a
/// non-positive amount), or the sum leaves i64. Nothing here can panic on
/// what a peer sent.
pub fn cross(offers: &[Offer], amount: i64) -> Option<(i64, Vec<Offer>)> {
    if amount < 0 {
        return None;
    }
    let mut left = amount;
    let mut got = 0i64;
    let mut after = Vec::with_capacity(offers.len());
    let mut it = offers.iter();
    for o in it.by_ref() {
        if o.amount <= 0 || o.price.n <= 0 || o.price.d <= 0 {
            return None;
        }
        if left == 0 {
            after.push(*o);
            break;
        }
        // Cost of the whole offer in the buying asset.
        let cost = mul_div_ceil(o.amount, o.price.n, o.price.d)?;
        if cost <= left {
            left -= cost;
            got = got.checked_add(o.amount)?;
        } else {
            let take = mul_div_floor(left, o.price.d, o.price.n)?;
            got = got.checked_add(take)?;
            left = 0;
            if o.amount > take {
                after.push(Offer {
                    amount: o.amount - take,
                    price: o.price,
                });
            }
        }
    }
    // The offers not reached must be sane too, to be kept.
    for o in it {
        if o.amount <= 0 || o.price.n <= 0 || o.price.d <= 0 {
            return None;
        }
        after.push(*o);
    }
    (left == 0).then_some((got, after))
}

impl SimLedger {
    pub fn new(passphrase: &str, detector: ContractKey, reflector: ContractKey) -> Self {
        Self {
            passphrase: passphrase.into(),
            sequence: 1000,
            close_time: 1_700_000_000,
            base_fee: 100,
            accounts: BTreeMap::new(),
            books: Vec::new(),
            txs: BTreeMap::new(),
            detector: detector.to_string(),
            reflector: reflector.to_string(),
            supported: Vec::new(),
            oracle: BTreeMap::new(),
            hide_polls: 1,
            oldest: (1000, 1_700_000_000),
            sends: 0,
            oracle_age: 0,
            offered: BTreeMap::new(),
            pools: Vec::new(),
            surge_fee: 0,
            held: BTreeMap::new(),
            bumps_applied: 0,
        }
    }

    pub fn network_id(&self) -> [u8; 32] {
        network_id(&self.passphrase)
    }

    pub fn window(&self) -> LedgerWindow {
        LedgerWindow {
            latest: self.sequence,
            latest_close: self.close_time,
            oldest: self.oldest.0,
            oldest_close: self.oldest.1,
        }
    }

    /// The retention window moves past everything so far, as ~7 days on
    /// the network do: getTransaction forgets every transaction up to now.
    pub fn forget_history(&mut self) {
        self.close_ledger();
        self.oldest = (self.sequence, self.close_time);
    }

    /// Close a ledger (5 s of network time).
    pub fn close_ledger(&mut self) {
        self.sequence += 1;
        self.close_time += 5;
        self.drop_expired_held();
    }

    pub fn create_account(&mut self, id: AccountKey, xlm: i64) -> bool {
        if self.accounts.contains_key(&id) {
            return false;
        }
        // New accounts start at (ledger << 32), as on the network.
        let seq = i64::from(self.sequence) << 32;
        self.accounts.insert(
            id,
            SimAccount {
                xlm,
                seq,
                lines: BTreeMap::new(),
            },
        );
        true
    }

    /// Friendbot: create and fund, or `false` if it exists.
    pub fn friendbot(&mut self, id: AccountKey) -> bool {
        let created = self.create_account(id, FRIENDBOT_AMOUNT);
        if created {
            self.close_ledger();
        }
        created
    }

    pub fn account(&self, id: AccountKey) -> Option<AccountState> {
        let a = self.accounts.get(&id)?;
        let mut balances = vec![Balance {
            asset: StellarAsset::Native,
            amount: a.xlm,
            limit: None,
            selling_liabilities: 0,
        }];
        for (asset, (amount, limit)) in &a.lines {
            balances.push(Balance {
                asset: asset.clone(),
                amount: *amount,
                limit: Some(*limit),
                selling_liabilities: 0,
            });
        }
        Some(AccountState {
            id,
            sequence: a.seq,
            subentries: a.lines.len() as u32,
            balances,
        })
    }

    /// Replace the offers selling `selling` for `buying`.
    pub fn set_book(
        &mut self,
        selling: StellarAsset,
        buying: StellarAsset,
        mut offers: Vec<Offer>,
    ) {
        offers.retain(|o| o.amount > 0 && o.price.n > 0 && o.price.d > 0);
        offers.sort_by(|a, b| {
            if ratio_lt(a.price, b.price) {
                std::cmp::Ordering::Less
            } else if ratio_lt(b.price, a.price) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        match self
            .books
            .iter_mut()
            .find(|b| b.selling == selling && b.buying == buying)
        {
            Some(b) => b.offers = offers,
            None => self.books.push(SimBook {
                selling,
                buying,
                offers,
            }),
        }
    }

    /// Add or replace the pool of its pair.
    pub fn set_pool(&mut self, pool: LiquidityPool) {
        self.pools.retain(|p| p.id != pool.id);
        self.pools.push(pool);
    }

    /// The pool trading `a` with `b` (either order), if any.
    pub fn pool(&self, a: &StellarAsset, b: &StellarAsset) -> Option<LiquidityPool> {
        self.pools.iter().find(|p| p.trades(a, b)).cloned()
    }

    pub fn order_book(&self, selling: &StellarAsset, buying: &StellarAsset) -> OrderBook {
        OrderBook {
            selling: selling.clone(),
            buying: buying.clone(),
            offers: self
                .books
                .iter()
                .find(|b| &b.selling == selling && &b.buying == buying)
                .map(|b| b.offers.clone())
                .unwrap_or_default(),
        }
    }

    pub(super) fn result(fee: i64, r: xdr::TransactionResultResult) -> xdr::TransactionResult {
        xdr::TransactionResult {
            fee_charged: fee,
            result: r,
            ext: xdr::TransactionResultExt::V0,
        }
    }

    pub(super) fn refuse(code: &'static str, fee: i64, r: xdr::TransactionResultResult) -> Refused {
        let result_xdr = Self::result(fee, r)
            .to_xdr_base64(Limits::none())
            .unwrap_or_default();
        Refused { code, result_xdr }
    }

    /// Admit and apply a signed envelope. `Ok((hash, tx))` when it made it
    /// into a ledger (applied or failed, fee charged); `Err` when refused at
    /// admission (nothing charged). A resubmitted hash returns the original.
    pub fn submit(&mut self, envelope_b64: &str) -> Result<(String, SimTx), Refused> {
        use xdr::TransactionResultResult as T;
        self.sends += 1;
        let malformed = || Self::refuse("tx_malformed", 0, T::TxMalformed);
        let env = xdr::TransactionEnvelope::from_xdr_base64(envelope_b64, server_limits())
            .map_err(|_| malformed())?;
        let v1 = match env {
            xdr::TransactionEnvelope::Tx(v1) => v1,
            // CAP-15 ([`super::sim_bump`]).
            xdr::TransactionEnvelope::TxFeeBump(b) => {
                return self.submit_fee_bump(&b, envelope_b64);
            }
            xdr::TransactionEnvelope::TxV0(_) => return Err(malformed()),
        };
        let tx = &v1.tx;
        let hash = tx_hash(tx, &self.network_id()).map_err(|_| malformed())?;
        let hash_hex = hex(&hash);
        self.offered
            .entry(format!(
                "{}:{}",
                muxed_key(&tx.source_account),
                tx.seq_num.0
            ))
            .or_default()
            .insert(hash_hex.clone());
        if let Some(done) = self.txs.get(&hash_hex) {
            return Ok((hash_hex, done.clone()));
        }
        let source = muxed_key(&tx.source_account);
        let ops = tx.operations.len() as u32;
        if ops == 0 {
            return Err(Self::refuse(
                "tx_missing_operation",
                0,
                T::TxMissingOperation,
            ));
        }
        let Some(account) = self.accounts.get(&source) else {
            return Err(Self::refuse("tx_no_source_account", 0, T::TxNoAccount));
        };
        // Signature: the one whose hint matches must verify over the hash
        // computed with *our* passphrase.
        let signed = v1
            .signatures
            .iter()
            .any(|s| s.hint.0 == source.hint() && source.verifies(&hash, s.signature.0.as_slice()));
        if !signed {
            return Err(Self::refuse("tx_bad_auth", 0, T::TxBadAuth));
        }
        if tx.seq_num.0 != account.seq + 1 {
            return Err(Self::refuse("tx_bad_seq", 0, T::TxBadSeq));
        }
        let is_soroban = tx
            .operations
            .iter()
            .any(|o| matches!(o.body, xdr::OperationBody::InvokeHostFunction(_)));
        if is_soroban && !matches!(tx.ext, xdr::TransactionExt::V1(_)) {
            return Err(Self::refuse("tx_malformed", 0, T::TxMalformed));
        }
        let min_fee = self.base_fee * ops;
        if tx.fee < min_fee {
            return Err(Self::refuse(
                "tx_insufficient_fee",
                i64::from(min_fee),
                T::TxInsufficientFee,
            ));
        }
        if let xdr::Preconditions::Time(tb) = &tx.cond
            && tb.max_time.0 != 0
            && self.close_time > tb.max_time.0
        {
            return Err(Self::refuse("tx_too_late", 0, T::TxTooLate));
        }
        // Charged: the fee that is applied now (a surge's), never more than bid.
        let fee = i64::from(
            self.inclusion_floor()
                .saturating_mul(ops)
                .min(tx.fee)
                .max(min_fee),
        );
        if account.xlm - fee < 0 {
            return Err(Self::refuse(
                "tx_insufficient_balance",
                fee,
                T::TxInsufficientBalance,
            ));
        }
        if let Some(pending) = self.hold_in_surge(&hash_hex, envelope_b64, tx) {
            return Ok(pending);
        }

        // Admitted: a new ledger; sequence and fee are taken whatever happens.
        self.close_ledger();
        if let Some(a) = self.accounts.get_mut(&source) {
            a.seq = tx.seq_num.0;
            a.xlm -= fee;
        }
        let snapshot = (self.accounts.clone(), self.books.clone());
        let pools_before = self.pools.clone();
        let mut results = Vec::new();
        let mut ok = true;
        for op in tx.operations.iter() {
            let r = self.apply_op(source, &op.body);
            if super::codes::op_code(&r) != "op_success" {
                ok = false;
            }
            results.push(r);
        }
        if !ok {
            // Failed ops change nothing but the fee and the sequence, which
            // the snapshot already holds.
            let (accounts, books) = snapshot;
            self.accounts = accounts;
            self.books = books;
            self.pools = pools_before;
        }
        let results: xdr::VecM<xdr::OperationResult> =
            results.try_into().map_err(|_| malformed())?;
        let r = Self::result(
            fee,
            if ok {
                T::TxSuccess(results)
            } else {
                T::TxFailed(results)
            },
        );
        let rec = SimTx {
            ledger: self.sequence,
            success: ok,
            result_xdr: r.to_xdr_base64(Limits::none()).map_err(|_| malformed())?,
            envelope: envelope_b64.into(),
            hidden_polls: self.hide_polls,
        };
        self.txs.insert(hash_hex.clone(), rec.clone());
        Ok((hash_hex, rec))
    }

    fn apply_op(&mut self, source: AccountKey, body: &xdr::OperationBody) -> xdr::OperationResult {
        use xdr::OperationResult as O;
        use xdr::OperationResultTr as R;
        match body {
            xdr::OperationBody::CreateAccount(op) => {
                use xdr::CreateAccountResult as C;
                let dest = account_key(&op.destination);
                let r = if self.accounts.contains_key(&dest) {
                    C::AlreadyExist
                } else if op.starting_balance < 2 * BASE_RESERVE {
                    C::LowReserve
                } else if self
                    .accounts
                    .get(&source)
                    .and_then(|a| a.spendable(&StellarAsset::Native))
                    .unwrap_or(0)
                    < op.starting_balance
                {
                    C::Underfunded
                } else {
                    if let Some(a) = self.accounts.get_mut(&source) {
                        a.xlm -= op.starting_balance;
                    }
                    self.create_account(dest, op.starting_balance);
                    C::Success
                };
                O::OpInner(R::CreateAccount(r))
            }
            xdr::OperationBody::ChangeTrust(op) => {
                use xdr::ChangeTrustResult as C;
                let asset = match &op.line {
                    xdr::ChangeTrustAsset::CreditAlphanum4(a) => {
                        StellarAsset::from_xdr(&xdr::Asset::CreditAlphanum4(a.clone()))
                    }
                    xdr::ChangeTrustAsset::CreditAlphanum12(a) => {
                        StellarAsset::from_xdr(&xdr::Asset::CreditAlphanum12(a.clone()))
                    }
                    _ => return O::OpInner(R::ChangeTrust(C::Malformed)),
                };
                let Some(a) = self.accounts.get_mut(&source) else {
                    return O::OpNoAccount;
                };
                let low_reserve = a.xlm < a.min_balance() + BASE_RESERVE;
                let r = match a.lines.get_mut(&asset) {
                    Some(line) if op.limit == 0 && line.0 != 0 => C::CannotDelete,
                    Some(_) if op.limit == 0 => {
                        a.lines.remove(&asset);
                        C::Success
                    }
                    Some(line) if op.limit < line.0 => C::InvalidLimit,
                    Some(line) => {
                        line.1 = op.limit;
                        C::Success
                    }
                    None if op.limit <= 0 => C::InvalidLimit,
                    None if low_reserve => C::LowReserve,
                    None => {
                        a.lines.insert(asset, (0, op.limit));
                        C::Success
                    }
                };
                O::OpInner(R::ChangeTrust(r))
            }
            xdr::OperationBody::Payment(op) => {
                use xdr::PaymentResult as P;
                let asset = StellarAsset::from_xdr(&op.asset);
                let dest = muxed_key(&op.destination);
                let r = (|| {
                    let src = self.accounts.get(&source).ok_or(P::Malformed)?;
                    if op.amount <= 0 {
                        return Err(P::Malformed);
                    }
                    match src.spendable(&asset) {
                        None => return Err(P::SrcNoTrust),
                        Some(s) if s < op.amount => return Err(P::Underfunded),
                        _ => {}
                    }
                    if !self.accounts.contains_key(&dest) {
                        return Err(P::NoDestination);
                    }
                    if let Some(a) = self.accounts.get_mut(&source) {
                        let _ = a.add(&asset, -op.amount);
                    }
                    let d = self.accounts.get_mut(&dest).ok_or(P::NoDestination)?;
                    d.add(&asset, op.amount).map_err(|c| {
                        if c == "op_line_full" {
                            P::LineFull
                        } else {
                            P::NoTrust
                        }
                    })?;
                    Ok(P::Success)
                })()
                .unwrap_or_else(|e| e);
                O::OpInner(R::Payment(r))
            }
            xdr::OperationBody::PathPaymentStrictSend(op) => {
                O::OpInner(R::PathPaymentStrictSend(self.path_payment(source, op)))
            }
            _ => O::OpNotSupported,
        }
    }

    fn path_payment(
        &mut self,
        source: AccountKey,
        op: &xdr::PathPaymentStrictSendOp,
    ) -> xdr::PathPaymentStrictSendResult {
        use xdr::PathPaymentStrictSendResult as P;
        let send = StellarAsset::from_xdr(&op.send_asset);
        let dest_asset = StellarAsset::from_xdr(&op.dest_asset);
        let dest = muxed_key(&op.destination);
        if op.send_amount <= 0 || op.dest_min <= 0 || op.path.len() > 5 {
            return P::Malformed;
        }
        let Some(src) = self.accounts.get(&source) else {
            return P::Malformed;
        };
        match src.spendable(&send) {
            None => return P::SrcNoTrust,
            Some(s) if s < op.send_amount => return P::Underfunded,
            _ => {}
        }
        let Some(d) = self.accounts.get(&dest) else {
            return P::NoDestination;
        };
        if d.holds(&dest_asset).is_none() {
            return P::NoTrust;
        }
        // Walk: send → path… → dest, skipping hops to the same asset.
        let mut hops = vec![send.clone()];
        for a in op.path.iter() {
            hops.push(StellarAsset::from_xdr(a));
        }
        hops.push(dest_asset.clone());
        let mut amount = op.send_amount;
        let mut new_books = self.books.clone();
        let mut new_pools = self.pools.clone();
        // What each hop crossed, as the network reports it (one claim per
        // hop here: the sim's offers have no owners to tell apart).
        let mut claims = Vec::new();
        for w in hops.windows(2) {
            let (from, to) = (&w[0], &w[1]);
            if from == to {
                continue;
            }
            // Book or pool, whichever pays more for the whole hop.
            let mut none = Vec::new();
            let offers = match new_books
                .iter_mut()
                .find(|b| &b.selling == to && &b.buying == from)
            {
                Some(b) => &mut b.offers,
                None => &mut none,
            };
            let pool = new_pools.iter_mut().find(|p| p.trades(from, to));
            let pool_id = pool.as_ref().map(|p| p.id);
            match market::take_hop(offers, pool, from, amount) {
                Some((got, via)) => {
                    claims.push(claim(via, pool_id, (from, amount), (to, got)));
                    amount = got;
                }
                None => return P::TooFewOffers,
            }
        }
        if amount < op.dest_min {
            return P::UnderDestmin;
        }
        self.books = new_books;
        self.pools = new_pools;
        if let Some(a) = self.accounts.get_mut(&source) {
            let _ = a.add(&send, -op.send_amount);
        }
        if let Some(d) = self.accounts.get_mut(&dest)
            && let Err(_) = d.add(&dest_asset, amount)
        {
            return P::LineFull;
        }
        P::Success(xdr::PathPaymentStrictSendResultSuccess {
            offers: claims.try_into().unwrap_or_default(),
            last: xdr::SimplePaymentResult {
                destination: super::asset::account_id(dest),
                asset: op.dest_asset.clone(),
                amount,
            },
        })
    }

    /// `getTransaction`: NOT_FOUND while hidden, then the record.
    pub fn poll(&mut self, hash: &str) -> Option<SimTx> {
        let oldest = self.oldest.0;
        let t = self.txs.get_mut(hash)?;
        if t.ledger < oldest {
            return None;
        }
        if t.hidden_polls > 0 {
            t.hidden_polls -= 1;
            return None;
        }
        Some(t.clone())
    }

    /// A contract view, as simulateTransaction runs it.
    pub fn call(
        &self,
        contract: &str,
        function: &str,
        args: &[xdr::ScVal],
    ) -> Result<xdr::ScVal, String> {
        let host = |n: u32| format!("HostError: Error(Contract, #{n})");
        if contract == self.detector {
            return match function {
                "get_supported_assets" => {
                    contracts::encode_supported_assets(&self.supported).map_err(|e| e.to_string())
                }
                "is_asset_supported" => {
                    let code = match args.first() {
                        Some(xdr::ScVal::String(s)) => s.0.to_utf8_string_lossy(),
                        _ => return Err(host(2)),
                    };
                    Ok(xdr::ScVal::Bool(
                        self.supported.iter().any(|a| a.code == code),
                    ))
                }
                // The deployed detector asks its oracle for a function
                // Reflector lacks, so it never finds anything.
                "scan_opportunities" => Ok(xdr::ScVal::Vec(Some(xdr::ScVec(xdr::VecM::default())))),
                "set_reflector_contract_id" => match args.first() {
                    Some(xdr::ScVal::Bytes(b)) if b.0.len() == 32 => Ok(xdr::ScVal::Void),
                    _ => Err("HostError: Error(Value, UnexpectedType)".into()),
                },
                _ => Err("HostError: Error(WasmVm, MissingValue)".into()),
            };
        }
        if contract == self.reflector {
            let ts = self.close_time.saturating_sub(self.oracle_age) / u64::from(ORACLE_RESOLUTION)
                * u64::from(ORACLE_RESOLUTION);
            return match function {
                "decimals" => Ok(xdr::ScVal::U32(ORACLE_DECIMALS)),
                "resolution" => Ok(xdr::ScVal::U32(ORACLE_RESOLUTION)),
                "base" => contracts::reflector_other("USD").map_err(|e| e.to_string()),
                "last_timestamp" => Ok(xdr::ScVal::U64(ts)),
                "assets" => {
                    let list = self
                        .oracle
                        .keys()
                        .map(|s| contracts::reflector_other(s))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())?;
                    Ok(xdr::ScVal::Vec(Some(xdr::ScVec(
                        list.try_into().map_err(|_| "too many assets".to_string())?,
                    ))))
                }
                "lastprice" | "prices" => {
                    let sym = args.first().and_then(contracts::reflector_symbol);
                    let p = sym.and_then(|s| self.oracle.get(&s).copied());
                    let one =
                        contracts::encode_price(p.map(|p| (p, ts))).map_err(|e| e.to_string())?;
                    if function == "lastprice" || p.is_none() {
                        Ok(one)
                    } else {
                        Ok(xdr::ScVal::Vec(Some(xdr::ScVec(
                            vec![one].try_into().map_err(|_| "vec".to_string())?,
                        ))))
                    }
                }
                _ => Err("HostError: Error(WasmVm, MissingValue)".into()),
            };
        }
        Err("HostError: Error(Storage, MissingValue) contract not found".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: i32, d: i32) -> Price {
        Price { n, d }
    }

    #[test]
    fn crossing_a_book_with_absurd_offers_is_refused_without_a_panic() {
        let ok = Offer {
            amount: 100,
            price: p(1, 2),
        };
        for bad in [p(0, 1), p(1, 0), p(-1, 3), p(3, -1)] {
            let book = [
                ok,
                Offer {
                    amount: 100,
                    price: bad,
                },
            ];
            assert!(cross(&book, 1_000).is_none(), "{bad:?}");
            // Even when the walk would stop before it.
            assert!(cross(&book, 10).is_none(), "{bad:?}");
        }
        assert!(
            cross(
                &[Offer {
                    amount: -5,
                    price: p(1, 1)
                }],
                1
            )
            .is_none()
        );
        assert!(cross(&[ok], -1).is_none());
        // Huge figures: no overflow, the sum checked.
        let huge = Offer {
            amount: i64::MAX,
            price: p(1, i32::MAX),
        };
        assert!(cross(&[huge, huge], i64::MAX).is_none());
        let (got, _) = cross(&[huge], 1).expect("one stroop buys a lot");
        assert!(got > 0);
    }

    #[test]
    fn crossing_takes_whole_offers_then_a_part() {
        let offers = vec![
            Offer {
                amount: 100,
                price: p(2, 1),
            },
            Offer {
                amount: 100,
                price: p(3, 1),
            },
        ];
        // 200 buys the first 100 at 2, 0 left.
        let (got, after) = cross(&offers, 200).expect("cross");
        assert_eq!(got, 100);
        assert_eq!(after, vec![offers[1]]);
        // 230: 100 at 2 (200), then 30/3 = 10 more.
        let (got, after) = cross(&offers, 230).expect("cross");
        assert_eq!(got, 110);
        assert_eq!(after[0].amount, 90);
        assert!(cross(&offers, 10_000).is_none());
    }
}
