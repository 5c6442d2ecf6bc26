//! Property tests of the decoders that read outside data, with hostile
//! input: Raindex V4 logs (arbitrary topics and data; real `TakeOrderV2`,
//! `ClearV2` + `AfterClear` logs truncated, bit-flipped and with huge
//! lengths, offsets and amounts written into their words; well-formed
//! orders with any IOs, decimals, indexes and amounts), the config reader
//! (arbitrary text; the shipped example with its values replaced), and the
//! Stellar decoders (result and ScVal XDR, amounts and assets, and Horizon
//! and Soroban RPC JSON served from loopback). Nothing may panic; a config
//! that is refused names the key, or says the TOML does not parse.
//!
//! Bounded and seeded: `PROPTEST_CASES` sets the cases per property (the
//! defaults below keep the file at a few seconds in debug builds),
//! `PROPTEST_RNG_SEED` the seed.

use alloy_primitives::{Address, U256};
use arbkeep::config::{Config, ConfigError, RaindexVersion};
use arbkeep::strategy::equity_hedge::abi::{self, LogPlace};
use arbkeep::strategy::equity_hedge::chain::{MemoryReceipts, StaticTokens};
use arbkeep::strategy::equity_hedge::decode::{DecodeError, Decoder, Meaning};
use arbkeep::strategy::equity_hedge::events::{ClearSide, address_of, clear_logs, order, take_log};
use arbkeep::strategy::equity_hedge::symbol::SymbolMap;
use arbkeep::venue::VenueError;
use arbkeep::venue::logs::ChainLog;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, RngSeed};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

fn config(default_cases: u32) -> PropConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xA4B_CEE9);
    PropConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..PropConfig::default()
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

// ---- Raindex V4 logs ----------------------------------------------------

struct Hedge {
    decoder: Decoder,
    tokens: StaticTokens,
    receipts: MemoryReceipts,
    aapl: Address,
    weth: Address,
    runtime: tokio::runtime::Runtime,
}

fn hedge() -> Hedge {
    let aapl = address_of("tAAPL");
    let weth = address_of("WETH");
    let usdc = address_of("USDC");
    Hedge {
        decoder: Decoder {
            owner: address_of("owner"),
            usdc,
            symbols: SymbolMap::st0x(),
        },
        tokens: StaticTokens(BTreeMap::from([
            (aapl, "tAAPL".to_string()),
            (weth, "WETH".to_string()),
            (usdc, "USDC".to_string()),
        ])),
        receipts: MemoryReceipts::default(),
        aapl,
        weth,
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime"),
    }
}

impl Hedge {
    /// Decode and interpret: never a panic; a fill is a sane fill.
    fn interpret(&self, log: &ChainLog, batch: &[ChainLog]) {
        let _ = abi::decode(log);
        let meaning =
            self.runtime.block_on(
                self.decoder
                    .interpret(log, batch, &self.receipts, &self.tokens),
            );
        match meaning {
            Ok(Meaning::Fill(f)) => {
                let cap = Decimal::from(1_000_000_000_000_000_u64);
                assert!(f.shares > Decimal::ZERO && f.shares <= cap, "{f:?}");
                assert!(f.usdc > Decimal::ZERO && f.usdc <= cap, "{f:?}");
                assert!(f.price >= Decimal::ZERO, "{f:?}");
            }
            Ok(Meaning::Skipped(reason)) => assert!(!reason.is_empty()),
            Ok(Meaning::NotOurs) => {}
            // A clear without its AfterClear, or a token whose symbol is
            // unknown: the chain's answer, never a panic.
            Err(DecodeError::Chain(VenueError::Transient(_) | VenueError::Rejected(_))) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn token(&self, pick: u8) -> Address {
        match pick % 4 {
            0 => self.decoder.usdc,
            1 => self.aapl,
            2 => self.weth,
            _ => address_of("unknown token"),
        }
    }
}

fn place(log_index: u64) -> LogPlace {
    LogPlace {
        chain_id: 8453,
        address: "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775".into(),
        block_number: 100,
        block_hash: "0xbb".into(),
        tx_hash: "0xaa01".into(),
        log_index,
    }
}

/// An amount: small, at a decimal's edges, at u128's and U256's.
fn amount() -> impl Strategy<Value = U256> {
    prop_oneof![
        1 => (0u64..1_000_000_000).prop_map(U256::from),
        // Log-uniform: every bit length up to 256 equally likely.
        3 => (0usize..=256, any::<[u8; 32]>()).prop_map(|(bits, b)| {
            let v = U256::from_be_bytes(b);
            if bits == 0 { U256::ZERO } else { v >> (256 - bits) }
        }),
        1 => any::<u128>().prop_map(U256::from),
        1 => Just(U256::from(u128::MAX)),
        1 => Just(U256::from(i128::MAX as u128)),
        1 => Just(U256::from(79_228_162_514_264_337_593_543_950_335_u128)),
        1 => Just(U256::MAX),
    ]
}

fn index() -> impl Strategy<Value = usize> {
    prop_oneof![6 => Just(0usize), 2 => 0usize..3, 1 => Just(usize::MAX), 1 => any::<usize>()]
}

fn decimals() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(6u8),
        Just(18u8),
        Just(0u8),
        Just(28u8),
        Just(29u8),
        any::<u8>()
    ]
}

/// (token pick, decimals) of one IO: 0 = USDC, 1 = tAAPL, 2 = WETH, 3 = unknown.
fn ios() -> impl Strategy<Value = Ios> {
    prop::collection::vec((any::<u8>(), decimals()), 0..4)
}

/// An order's inputs and outputs: half the time the hedge's own shape (one
/// USDC and one equity IO, either way round), else anything.
type Ios = Vec<(u8, u8)>;

fn shape() -> impl Strategy<Value = (Ios, Ios)> {
    prop_oneof![
        (any::<bool>(), decimals(), decimals()).prop_map(|(sells, u, e)| if sells {
            (vec![(0, u)], vec![(1, e)])
        } else {
            (vec![(1, e)], vec![(0, u)])
        }),
        (ios(), ios()),
    ]
}

fn words(data: &str) -> Vec<u8> {
    let text = data.trim_start_matches("0x");
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(prop::sample::Index),
    Flip(prop::sample::Index, u8),
    /// Overwrite a 32-byte word with a huge length, offset or amount.
    Word(prop::sample::Index, U256),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let huge = prop_oneof![
        Just(U256::MAX),
        Just(U256::from(u64::MAX)),
        Just(U256::from(u32::MAX)),
        Just(U256::from(1u64 << 32)),
        Just(U256::from(0x20u8)),
        Just(U256::from(0x10_0000u64)),
        Just(U256::ZERO),
        amount(),
    ];
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<prop::sample::Index>(), huge).prop_map(|(i, w)| Mutation::Word(i, w)),
        prop::collection::vec(any::<u8>(), 1..96).prop_map(Mutation::Append),
    ]
}

fn mutate(log: &ChainLog, mutations: &[Mutation]) -> ChainLog {
    let mut data = words(&log.data);
    for m in mutations {
        match m {
            Mutation::Truncate(i) => data.truncate(i.index(data.len() + 1)),
            Mutation::Flip(i, x) if !data.is_empty() => {
                let at = i.index(data.len());
                data[at] ^= x;
            }
            Mutation::Word(i, w) if data.len() >= 32 => {
                let at = i.index(data.len() / 32) * 32;
                data[at..at + 32].copy_from_slice(&w.to_be_bytes::<32>());
            }
            Mutation::Append(tail) => data.extend_from_slice(tail),
            _ => {}
        }
    }
    ChainLog {
        data: hex(&data),
        ..log.clone()
    }
}

/// A real log of each kind the hedge reads, the owner's side USDC/tAAPL.
fn real_logs(h: &Hedge) -> (ChainLog, ChainLog, ChainLog) {
    let usdc = h.decoder.usdc;
    let ours = order(h.decoder.owner, &[(usdc, 6)], &[(h.aapl, 18)]);
    let take = take_log(
        &place(3),
        ours,
        0,
        0,
        U256::from(2_500_000_000_000_000_000_u128),
        U256::from(500_000_000u64),
    );
    let (clear, after) = clear_logs(
        &place(10),
        ClearSide {
            order: order(address_of("other"), &[(usdc, 6)], &[(h.aapl, 18)]),
            input_io: 0,
            output_io: 0,
            input: U256::from(370_200_000u64),
            output: U256::from(1_850_000_000_000_000_000_u128),
        },
        ClearSide {
            order: order(h.decoder.owner, &[(h.aapl, 18)], &[(usdc, 6)]),
            input_io: 0,
            output_io: 0,
            input: U256::from(1_800_000_000_000_000_000_u128),
            output: U256::from(369_900_000u64),
        },
    );
    (take, clear, after)
}

fn topic() -> impl Strategy<Value = String> {
    let known: Vec<String> = [RaindexVersion::V4, RaindexVersion::V6]
        .iter()
        .flat_map(|v| abi::watched_topics(*v))
        .map(|t| format!("{t:#x}"))
        .collect();
    prop_oneof![
        3 => prop::sample::select(known),
        1 => any::<[u8; 32]>().prop_map(|b| hex(&b)),
        1 => "(0x)?[0-9a-fA-F]{0,70}",
        1 => ".{0,20}",
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn raindex_arbitrary_topics_and_data_never_panic(
        topics in prop::collection::vec(topic(), 0..4),
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..1024).prop_map(|b| hex(&b)),
            "(0x)?[0-9a-fA-F]{0,300}",
            ".{0,40}",
        ],
    ) {
        let h = hedge();
        let log = ChainLog {
            topics,
            data,
            ..take_log(&place(1), order(Address::ZERO, &[], &[]), 0, 0, U256::ZERO, U256::ZERO)
        };
        h.interpret(&log, std::slice::from_ref(&log));
    }

    /// Any 32 bytes as a Rain Float: a decimal or an error, never a panic,
    /// and never more than 18 places.
    #[test]
    fn rain_floats_never_panic(raw in any::<[u8; 32]>()) {
        if let Ok(d) = arbkeep::strategy::equity_hedge::rain_float::to_decimal(raw.into()) {
            prop_assert!(d.scale() <= 18);
        }
    }

    #[test]
    fn raindex_mutated_real_logs_never_panic(
        which in 0u8..3,
        on_take in prop::collection::vec(mutation(), 1..4),
        on_after in prop::collection::vec(mutation(), 0..3),
    ) {
        let h = hedge();
        let (take, clear, after) = real_logs(&h);
        match which {
            0 => {
                let log = mutate(&take, &on_take);
                h.interpret(&log, std::slice::from_ref(&log));
            }
            1 => {
                let log = mutate(&clear, &on_take);
                let after = mutate(&after, &on_after);
                h.interpret(&log, &[log.clone(), after.clone()]);
                h.interpret(&after, &[log, after.clone()]);
            }
            _ => {
                // The clear intact, its AfterClear hostile (in the batch).
                let after = mutate(&after, &on_take);
                h.interpret(&clear, &[clear.clone(), after]);
            }
        }
    }

    #[test]
    fn raindex_well_formed_fills_of_any_size_never_panic(
        (inputs, outputs) in shape(),
        ours in prop_oneof![3 => Just(true), 1 => Just(false)],
        input_io in index(),
        output_io in index(),
        a in amount(),
        b in amount(),
        c in amount(),
        d in amount(),
    ) {
        let h = hedge();
        let owner = if ours { h.decoder.owner } else { address_of("someone") };
        let tok = |v: &Vec<(u8, u8)>| -> Vec<(Address, u8)> {
            v.iter().map(|(t, dec)| (h.token(*t), *dec)).collect()
        };
        let o = order(owner, &tok(&inputs), &tok(&outputs));
        let take = take_log(&place(1), o.clone(), input_io, output_io, a, b);
        h.interpret(&take, std::slice::from_ref(&take));
        let (clear, after) = clear_logs(
            &place(4),
            ClearSide { order: o.clone(), input_io, output_io, input: a, output: b },
            ClearSide {
                order: order(address_of("bob"), &tok(&outputs), &tok(&inputs)),
                input_io: output_io,
                output_io: input_io,
                input: c,
                output: d,
            },
        );
        h.interpret(&clear, &[clear.clone(), after]);
    }
}

/// Found by `raindex_well_formed_fills_of_any_size_never_panic`: both
/// amounts fit a decimal but their ratio did not (`usdc / shares` panicked
/// with "Division overflowed"): 10^-18 tAAPL for 7.9e22 USDC.
#[test]
fn a_fill_whose_price_overflows_is_skipped_not_a_panic() {
    let h = hedge();
    let usdc = h.decoder.usdc;
    let o = order(h.decoder.owner, &[(usdc, 6)], &[(h.aapl, 18)]);
    // The order gave 1 wei of tAAPL (the taker's input) for 7.9e28 units
    // of USDC at 6 decimals (the taker's output).
    let log = take_log(
        &place(1),
        o,
        0,
        0,
        U256::from(1u8),
        U256::from(79_228_162_514_264_337_593_543_950_335_u128),
    );
    let m = h
        .runtime
        .block_on(h.decoder.interpret(&log, &[], &h.receipts, &h.tokens))
        .expect("decoded");
    assert!(
        matches!(&m, Meaning::Skipped(r) if r.contains("implausible")),
        "{m:?}"
    );
    // Within the plausible range, a ratio past a decimal's range still is
    // refused by the division itself.
    let o = order(h.decoder.owner, &[(usdc, 0)], &[(h.aapl, 28)]);
    let log = take_log(
        &place(2),
        o,
        0,
        0,
        U256::from(1u8),
        U256::from(1_000_000_000_000_000_u64),
    );
    let m = h
        .runtime
        .block_on(h.decoder.interpret(&log, &[], &h.receipts, &h.tokens))
        .expect("decoded");
    assert!(
        matches!(&m, Meaning::Skipped(r) if r.contains("does not fit")),
        "{m:?}"
    );
}

// ---- config.toml ----------------------------------------------------------

const EXAMPLE: &str = include_str!("../../config.toml.example");

/// The example, and the example with its commented-out keys switched on.
fn example_tables() -> Vec<toml::Table> {
    let uncommented: String = EXAMPLE
        .lines()
        .map(|l| {
            let t = l.trim_start();
            match t.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once('=').is_some_and(|(k, _)| {
                            k.trim()
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                                && !k.trim().is_empty()
                        }) =>
                {
                    rest
                }
                _ => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = vec![EXAMPLE.parse::<toml::Table>().expect("the example is TOML")];
    if let Ok(t) = uncommented.parse::<toml::Table>() {
        out.push(t);
    }
    out
}

fn toml_leaf() -> impl Strategy<Value = toml::Value> {
    let texts = prop::sample::select(vec![
        "",
        "0",
        "-1",
        "0.5",
        "1e3",
        "79228162514264337593543950335",
        "79228162514264337593543950336",
        "-79228162514264337593543950335",
        "0.0000000000000000000000000001",
        "18446744073709551615s",
        "18446744073709551616ms",
        "99999999999999999d",
        "5m",
        "250ms",
        "1x",
        "live",
        "devnet",
        "paper",
        "above",
        "manual",
        "PUBLIC",
        "TESTNET",
        "http://127.0.0.1:9",
        "https://",
        "wss://x",
        "0x52CEB8eBEf648744fFDDE89F7Bc9C3aC35944775",
        "0x52ceb8ebef648744ffdde89f7bc9c3ac35944775",
        "GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA",
        "AQUA:GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA",
        "CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC",
        "*",
        "**",
        "t*",
        "v5",
    ]);
    prop_oneof![
        1 => texts.prop_map(|t| toml::Value::String(t.to_string())),
        1 => ".{0,16}".prop_map(toml::Value::String),
        // Numbers as text, past every integer and decimal width.
        1 => "-?[0-9]{1,12}(\\.[0-9]{1,12})?".prop_map(toml::Value::String),
        2 => "-?[0-9]{24,34}(\\.[0-9]{1,30})?".prop_map(toml::Value::String),
        1 => "[0-9]{1,24}(ms|s|m|h|d)".prop_map(toml::Value::String),
        1 => any::<i64>().prop_map(toml::Value::Integer),
        1 => prop_oneof![Just(0i64), Just(1), Just(-1), Just(u32::MAX as i64 + 1), Just(i64::MAX)]
            .prop_map(toml::Value::Integer),
        1 => any::<f64>().prop_map(toml::Value::Float),
        1 => any::<bool>().prop_map(toml::Value::Boolean),
    ]
}

fn toml_value() -> impl Strategy<Value = toml::Value> {
    toml_leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// Every (section path, key) of a table, tables included.
fn key_paths(t: &toml::Table, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in t {
        here.push(k.clone());
        out.push(here.clone());
        if let toml::Value::Table(inner) = v {
            key_paths(inner, here, out);
        }
        here.pop();
    }
}

fn set_path(t: &mut toml::Table, path: &[String], value: Option<toml::Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = t;
    for p in parents {
        match here.get_mut(p) {
            Some(toml::Value::Table(inner)) => here = inner,
            _ => return,
        }
    }
    match value {
        Some(v) => {
            here.insert(last.clone(), v);
        }
        None => {
            here.remove(last);
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(prop::sample::Index, toml::Value),
    Remove(prop::sample::Index),
    Add(prop::sample::Index, String, toml::Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        6 => (any::<prop::sample::Index>(), toml_value()).prop_map(|(i, v)| Edit::Replace(i, v)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Remove),
        1 => (any::<prop::sample::Index>(), "[a-z_]{1,10}", toml_value())
            .prop_map(|(i, k, v)| Edit::Add(i, k, v)),
    ]
}

/// Either it loads, or the error names a key, or says the TOML is invalid.
fn check_config(text: &str) {
    match Config::from_toml(text, "fuzz.toml") {
        Ok(_) => {}
        Err(ConfigError::Syntax { path, reason }) => {
            assert_eq!(path, "fuzz.toml");
            assert!(!reason.is_empty());
        }
        Err(e @ ConfigError::Invalid { .. }) => {
            let ConfigError::Invalid { key, problem, .. } = &e else {
                unreachable!()
            };
            assert!(!key.is_empty() && !problem.is_empty(), "{e}");
            assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
        }
        Err(e @ ConfigError::Unknown { .. }) => {
            assert!(e.to_string().contains("unknown key `"), "{e}");
        }
        Err(other) => panic!("a config file read from text gave {other:?}"),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn config_arbitrary_text_never_panics(text in prop_oneof![
        ".{0,200}",
        "([a-z_]{1,12} = (\"[^\"\\n]{0,12}\"|-?[0-9]{1,22}|true|\\[\\])\n|\\[[a-z_.]{1,20}\\]\n){0,12}",
    ]) {
        check_config(&text);
    }

    #[test]
    fn config_the_example_with_hostile_values_never_panics(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let tables = example_tables();
        let mut t = tables[which.index(tables.len())].clone();
        for e in edits {
            let mut paths = Vec::new();
            key_paths(&t, &mut Vec::new(), &mut paths);
            if paths.is_empty() {
                break;
            }
            match e {
                Edit::Replace(i, v) => set_path(&mut t, &paths[i.index(paths.len())], Some(v)),
                Edit::Remove(i) => set_path(&mut t, &paths[i.index(paths.len())], None),
                Edit::Add(i, k, v) => {
                    let mut p = paths[i.index(paths.len())].clone();
                    p.pop();
                    p.push(k);
                    set_path(&mut t, &p, Some(v));
                }
            }
        }
        // toml refuses what it cannot write (NaN keys aside, every value is writable).
        if let Ok(text) = toml::to_string(&t) {
            check_config(&text);
        }
    }
}

/// Mostly numbers written as text, at and past every width a key is read into.
fn toml_hostile() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        3 => "-?[0-9]{20,30}(\\.[0-9]{0,28})?".prop_map(toml::Value::String),
        1 => toml_leaf(),
    ]
}

proptest! {
    #![proptest_config(config(12))]

    /// Every key of the example, in turn, given the same hostile value.
    #[test]
    fn config_every_key_takes_a_hostile_value(value in toml_hostile()) {
        for table in example_tables() {
            let mut paths = Vec::new();
            key_paths(&table, &mut Vec::new(), &mut paths);
            for path in &paths {
                let mut t = table.clone();
                set_path(&mut t, path, Some(value.clone()));
                if let Ok(text) = toml::to_string(&t) {
                    check_config(&text);
                }
            }
        }
    }
}

#[test]
fn the_example_config_loads() {
    // The mutations start from a config that is valid.
    for t in example_tables() {
        let text = toml::to_string(&t).expect("writable");
        check_config(&text);
    }
    Config::from_toml(EXAMPLE, "config.toml.example").expect("the example loads");
}

/// `paper.speed` times 1000 overflowed a decimal and panicked (found by
/// `config_every_key_takes_a_hostile_value`); `quote_budget` and
/// `notify.retries` past u32 were silently truncated by `as u32` (found by
/// reading).
#[test]
fn config_numbers_past_their_type_name_the_key() {
    for (text, key) in [
        (
            "[paper]\nspeed = \"79228162514264337593543950335\"\n",
            "paper.speed",
        ),
        (
            "[cross_chain_loop]\nquote_budget = 4294967299\n",
            "cross_chain_loop.quote_budget",
        ),
        ("[notify]\nretries = 4294967296\n", "notify.retries"),
    ] {
        let e = Config::from_toml(text, "t.toml").expect_err(text);
        assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
    }
}

// ---- Stellar: XDR, amounts, assets ---------------------------------------

mod stellar {
    use super::*;
    use arbkeep::venue::stellar::codes::TxOutcome;
    use arbkeep::venue::stellar::contracts::{
        decode_bool, decode_price, decode_scan, decode_supported_assets, decode_u32,
        reflector_symbol,
    };
    use arbkeep::venue::stellar::{StellarAsset, parse_amount};
    use stellar_xdr::{Limits, ReadXdr, ScVal, WriteXdr};

    /// Results and ScVals the real network and contracts answer with.
    const RESULTS: &[&str] = &[
        "AAAAAAAAAGT////7AAAAAA==",
        "AAAAAAAAAAr////3AAAAAA==",
        "AAAAAAAAAGT/////AAAAAf////4AAAAA",
        "AAAAAAAAAGT/////AAAAAQAAAAAAAAAB////+wAAAAA=",
        "AAAAAAAAAGT/////AAAAAQAAAAAAAAAA/////AAAAAA=",
    ];
    const SCVALS: &[&str] = &[
        "AAAAEAAAAAEAAAACAAAADwAAAAVPdGhlcgAAAAAAAA8AAAADQlRDAA==",
        "AAAAEQAAAAEAAAACAAAADwAAAAVwcmljZQAAAAAAAAoAAAAAAAAAAAkFQ45gAQAAAAAADwAAAAl0aW1lc3RhbXAAAAAAAAAFAAAAAGZXV0A=",
    ];

    fn b64_decode(s: &str) -> Vec<u8> {
        ScVal::from_xdr_base64(s, Limits::none())
            .ok()
            .and_then(|v| v.to_xdr(Limits::none()).ok())
            .or_else(|| {
                stellar_xdr::TransactionResult::from_xdr_base64(s, Limits::none())
                    .ok()
                    .and_then(|r| r.to_xdr(Limits::none()).ok())
            })
            .expect("a real sample")
    }

    fn base64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn mutated(sample: &[u8], mutations: &[Mutation]) -> Vec<u8> {
        let mut data = sample.to_vec();
        for m in mutations {
            match m {
                Mutation::Truncate(i) => data.truncate(i.index(data.len() + 1)),
                Mutation::Flip(i, x) if !data.is_empty() => {
                    let at = i.index(data.len());
                    data[at] ^= x;
                }
                Mutation::Word(i, w) if data.len() >= 4 => {
                    // XDR words are 4 bytes: lengths and discriminants.
                    let at = i.index(data.len() / 4) * 4;
                    let bytes = w.to_be_bytes::<32>();
                    data[at..at + 4].copy_from_slice(&bytes[28..]);
                }
                Mutation::Append(tail) => data.extend_from_slice(tail),
                _ => {}
            }
        }
        data
    }

    fn read_scval(text: &str) {
        if let Ok(v) = ScVal::from_xdr_base64(
            text,
            Limits {
                depth: 64,
                len: 1 << 16,
            },
        ) {
            let _ = decode_bool(&v);
            let _ = decode_u32(&v);
            let _ = decode_scan(&v);
            let _ = decode_supported_assets(&v);
            let _ = reflector_symbol(&v);
            if let Ok(Some(p)) = decode_price("BTC", 14, &v) {
                assert_eq!(p.symbol, "BTC");
            }
        }
    }

    fn read_result(text: &str) {
        if let Ok(o) = TxOutcome::decode(text) {
            assert!(!o.tx_code.is_empty());
            let _ = o.handling();
            assert!(!o.describe().is_empty());
        }
    }

    proptest! {
        #![proptest_config(config(512))]

        #[test]
        fn xdr_results_and_scvals_never_panic(
            sample in any::<prop::sample::Index>(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            let all: Vec<&str> = RESULTS.iter().chain(SCVALS).copied().collect();
            let raw = b64_decode(all[sample.index(all.len())]);
            let text = base64(&mutated(&raw, &mutations));
            read_result(&text);
            read_scval(&text);
        }

        #[test]
        fn arbitrary_base64_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
            text in "[A-Za-z0-9+/=]{0,120}",
        ) {
            read_result(&base64(&bytes));
            read_scval(&base64(&bytes));
            read_result(&text);
            read_scval(&text);
            let _ = arbkeep::venue::stellar::tx::decode_envelope(&text);
            let _ = arbkeep::venue::stellar::tx::decode_envelope(&base64(&bytes));
        }

        #[test]
        fn amounts_and_assets_never_panic(text in prop_oneof![
            "-?[0-9]{0,22}(\\.[0-9]{0,9})?",
            ".{0,70}",
            "[A-Za-z0-9]{1,13}:G[A-Z2-7]{55}",
        ]) {
            if let Some(stroops) = parse_amount(&text) {
                // Exact: what it reads, it writes back the same value.
                let again = parse_amount(&arbkeep::venue::stellar::format_amount(stroops));
                prop_assert_eq!(again, Some(stroops));
            }
            let _ = StellarAsset::parse(&text);
        }
    }
}

// ---- Horizon and Soroban RPC JSON, from loopback ---------------------------

mod json_peers {
    use super::*;
    use arbkeep::venue::stellar::StellarAsset;
    use arbkeep::venue::stellar::horizon::HorizonClient;
    use arbkeep::venue::stellar::keys::Keypair;
    use arbkeep::venue::stellar::rpc::RpcClient;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers every request with the current (status, body).
    struct Peer {
        url: String,
        answer: Arc<Mutex<(u16, Vec<u8>)>>,
    }

    async fn peer() -> Peer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let answer = Arc::new(Mutex::new((200u16, b"{}".to_vec())));
        let shared = answer.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (status, body) = shared.lock().map(|a| a.clone()).unwrap_or_default();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut seen = Vec::new();
                    // Read the head, and the body its Content-Length names.
                    loop {
                        let Ok(n) = sock.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if seen.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Peer { url, answer }
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        let texts = prop::sample::select(vec![
            "0",
            "-1",
            "1.0000000",
            "-922337203685.4775808",
            "922337203685.4775807",
            "922337203685.4775808",
            "99999999999999999999",
            "0.12345678",
            "native",
            "credit_alphanum4",
            "AQUA",
            "GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA",
            "AAAAAAAAAGT////7AAAAAA==",
            "SUCCESS",
            "FAILED",
            "NOT_FOUND",
            "PENDING",
            "ERROR",
        ]);
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            prop_oneof![
                Just(0i64),
                Just(-1),
                Just(i32::MIN as i64),
                Just(u32::MAX as i64 + 1)
            ]
            .prop_map(Value::from),
            texts.prop_map(|t| Value::String(t.to_string())),
            ".{0,12}".prop_map(Value::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn samples() -> Vec<Value> {
        let issuer = "GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA";
        vec![
            json!({"sequence":"4294967296","subentry_count":1,"balances":[
                {"balance":"100.0000000","asset_type":"native","selling_liabilities":"0.0000000"},
                {"balance":"5.5000000","limit":"922337203685.4775807","asset_type":"credit_alphanum4",
                 "asset_code":"AQUA","asset_issuer":issuer}]}),
            json!({"bids":[],"asks":[{"price_r":{"n":1,"d":99},"price":"0.0101010","amount":"100000.0000000"},
                {"price_r":{"n":3,"d":2},"amount":"1.0000000"}]}),
            json!({"_embedded":{"records":[{"source_amount":"10.0000000","destination_amount":"10.2000000",
                "destination_asset_type":"native","path":[{"asset_type":"credit_alphanum4","asset_code":"AQUA","asset_issuer":issuer}]}]}}),
            json!({"hash":"ab","ledger":12,"result_xdr":"AAAAAAAAAGT////7AAAAAA=="}),
            json!({"title":"Transaction Failed","extras":{"result_xdr":"AAAAAAAAAGT/////AAAAAQAAAAAAAAAB////+wAAAAA="}}),
            json!({"jsonrpc":"2.0","id":1,"result":{"status":"SUCCESS","ledger":7,"resultXdr":"AAAAAAAAAGT////7AAAAAA=="}}),
            json!({"jsonrpc":"2.0","id":1,"result":{"status":"healthy","latestLedger":100,"oldestLedger":1}}),
            json!({"jsonrpc":"2.0","id":1,"result":{"sequence":100,"id":"x","protocolVersion":22}}),
            json!({"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"bad"}}),
        ]
    }

    /// Replace the `n`-th node (pre-order) of `v` with `new`.
    fn replace_nth(v: &mut Value, n: &mut usize, new: &Value) -> bool {
        if *n == 0 {
            *v = new.clone();
            return true;
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().any(|x| replace_nth(x, n, new)),
            Value::Object(m) => m.values_mut().any(|x| replace_nth(x, n, new)),
            _ => false,
        }
    }

    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(m) => m.values().map(count).sum(),
            _ => 0,
        }
    }

    fn mutate_json(mut v: Value, edits: &[(prop::sample::Index, Value)]) -> Value {
        for (i, new) in edits {
            let mut n = i.index(count(&v));
            replace_nth(&mut v, &mut n, new);
        }
        v
    }

    async fn ask_everything(p: &Peer) {
        let horizon = HorizonClient::new(&p.url, Duration::from_secs(5)).expect("horizon");
        let rpc = RpcClient::new(&p.url, Duration::from_secs(5)).expect("rpc");
        let me = Keypair::from_seed([3; 32]).public();
        let aqua =
            StellarAsset::parse("AQUA:GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA")
                .expect("asset");
        let _ = horizon.account(me).await;
        if let Ok(book) = horizon.order_book(&aqua, &StellarAsset::Native, 10).await {
            for o in &book.offers {
                let _ = (o.amount, o.price.n, o.price.d);
            }
        }
        let _ = horizon
            .strict_send_paths(&StellarAsset::Native, 10, std::slice::from_ref(&aqua))
            .await;
        let _ = horizon.submit("AAAA").await;
        let _ = rpc.get_transaction("ab").await;
        let _ = rpc.get_health().await;
        let _ = rpc.get_network().await;
        let _ = rpc.get_latest_ledger().await;
    }

    proptest! {
        #![proptest_config(config(32))]

        #[test]
        fn horizon_and_rpc_json_never_panic(
            sample in any::<prop::sample::Index>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), json_value()), 0..4),
            status in prop_oneof![8 => Just(200u16), 1 => Just(400u16), 1 => Just(504u16), 1 => Just(500u16)],
            raw in prop_oneof![4 => Just(None), 1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Some)],
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let p = peer().await;
                let all = samples();
                let body = match raw {
                    Some(bytes) => bytes,
                    None => mutate_json(all[sample.index(all.len())].clone(), &edits)
                        .to_string()
                        .into_bytes(),
                };
                *p.answer.lock().expect("answer") = (status, body);
                ask_everything(&p).await;
            });
        }
    }
}
