//! The dependency rules of `docs/architecture.md` §1, checked on the source:
//! every `.rs` file under `src/` is read, its comments and string literals
//! blanked, and every `use` of ours (`crate::…`, `super::…` resolved, groups
//! expanded) and every inline `crate::…::` path is checked against
//! [`RULES`], by directory. A violation that is not in [`KNOWN`] fails; so
//! does an entry of [`KNOWN`] that no longer occurs, so the list only
//! shrinks. Textual on purpose: no parser, no build, under a second.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the files under a path may not import of ours.
enum Deny {
    /// Nothing of ours but these modules.
    AllBut(&'static [&'static str]),
    /// None of these modules (a path prefix: `venue::sim` denies
    /// `crate::venue::sim::…` and leaves `crate::venue::VenueError`).
    These(&'static [&'static str]),
}

/// The rules, once. A path ending in `/` is a directory, else a file.
const RULES: &[(&str, Deny)] = &[
    // The bottom: money, tokens, chains, cycle states, time.
    ("src/model/", Deny::AllBut(&["model"])),
    // Neutral helpers that venues and the engine both use.
    ("src/net.rs", Deny::AllBut(&["model", "net"])),
    ("src/files.rs", Deny::AllBut(&["files"])),
    ("src/codec.rs", Deny::AllBut(&["codec"])),
    // Venues import neither the engine, the store nor a front end, nor the
    // fakes of the services they talk to.
    (
        "src/venue/",
        Deny::These(&[
            "engine", "store", "ui", "control", "notify", "strategy", "metrics", "doctor",
            "export", "fakes",
        ]),
    ),
    // The fakes of outside services (tests and benches): the wire types of
    // `venue`, `model`, `config`, the neutral helpers and each other.
    (
        "src/fakes/",
        Deny::These(&[
            "engine", "strategy", "store", "ui", "control", "notify", "metrics", "doctor", "export",
        ]),
    ),
    // The engine names no strategy and no concrete venue, and no front end.
    (
        "src/engine/",
        Deny::These(&[
            "ui",
            "control",
            "notify",
            "metrics",
            "doctor",
            "export",
            "strategy",
            "venue::sim",
            "venue::evm",
            "venue::schwab",
            "venue::stellar",
        ]),
    ),
    // Strategies import no front end.
    (
        "src/strategy/",
        Deny::These(&["ui", "control", "notify", "metrics", "doctor", "export"]),
    ),
    // Front ends read the engine's snapshot and send it commands: they
    // import no strategy and no concrete venue.
    (
        "src/ui/",
        Deny::These(&[
            "strategy",
            "store",
            "venue::sim",
            "venue::evm",
            "venue::schwab",
            "venue::stellar",
            "venue::alpaca",
        ]),
    ),
    (
        "src/control/",
        Deny::These(&[
            "strategy",
            "ui",
            "venue::sim",
            "venue::evm",
            "venue::schwab",
            "venue::stellar",
            "venue::alpaca",
        ]),
    ),
    (
        "src/notify/",
        Deny::These(&["strategy", "ui", "control", "store", "venue"]),
    ),
    (
        "src/metrics/",
        Deny::These(&["strategy", "ui", "store", "venue::sim", "venue::evm"]),
    ),
    // The store is written by the engine; it knows nothing above it.
    (
        "src/store/",
        Deny::These(&[
            "engine", "strategy", "venue", "ui", "control", "notify", "metrics", "doctor",
        ]),
    ),
];

/// Today's violations, each to be removed by the move it names. An entry
/// is (file, the import as normalised by this test, why / what removes it).
const KNOWN: &[(&str, &str, &str)] = &[];

#[test]
fn every_import_keeps_the_dependency_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(
        files.len() > 50,
        "read only {} files under src/",
        files.len()
    );

    let mut found: BTreeMap<(String, String), (usize, &'static str)> = BTreeMap::new();
    let mut checked = 0;
    for file in &files {
        let rel = file
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let rules: Vec<&(&str, Deny)> = RULES
            .iter()
            .filter(|(prefix, _)| {
                if prefix.ends_with('/') {
                    rel.starts_with(prefix)
                } else {
                    rel == *prefix
                }
            })
            .collect();
        if rules.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line, path) in imports(&rel, &text) {
            checked += 1;
            for (prefix, deny) in &rules {
                if denied(deny, &path) {
                    found
                        .entry((rel.clone(), path.clone()))
                        .or_insert((line, prefix));
                }
            }
        }
    }

    // A scanner that reads nothing would pass every rule.
    assert!(
        checked > 500,
        "only {checked} imports of ours seen under the rules' paths"
    );

    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(f, p, _)| (f.to_string(), p.to_string()))
        .collect();
    let mut report = String::new();
    for ((file, path), (line, rule)) in &found {
        if !known.contains(&(file.clone(), path.clone())) {
            report.push_str(&format!(
                "  NEW   {file}:{line}: {path}  (breaks the rule for {rule})\n"
            ));
        }
    }
    for (file, path, why) in KNOWN {
        if !found.contains_key(&(file.to_string(), path.to_string())) {
            report.push_str(&format!(
                "  GONE  {file}: {path} no longer occurs ({why}): delete it from KNOWN\n"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "dependency rules (docs/architecture.md §1, tests/it/layering.rs RULES):\n{report}\
         A new violation is fixed by moving the code, not by adding it to KNOWN."
    );
}

/// A fake of an outside service lives under `src/fakes/`, never beside the
/// venue it stands in for: no file or directory under `src/venue/` is
/// named after a fake, and none is compiled only for the fakes.
#[test]
fn no_fake_lives_in_a_venue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/venue"), &mut files);
    assert!(files.len() > 30, "read only {} venue files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).expect("readable source");
        let gated = text.contains("feature = \"fakes\"");
        let declares = blank_comments_and_strings(&text).contains("mod fake");
        if rel.contains("fake") || gated || declares {
            found.push(rel);
        }
    }
    let mut fakes = Vec::new();
    rust_files(&root.join("src/fakes"), &mut fakes);
    assert!(fakes.len() > 10, "the fakes are under src/fakes/");
    assert!(
        found.is_empty(),
        "fakes under src/venue/ (they belong in src/fakes/): {found:?}"
    );
}

/// Self-checks of the scanner, so a rule cannot pass by reading nothing.
#[test]
fn the_scanner_sees_every_form_of_import_and_ignores_comments_and_strings() {
    let src = r##"
//! use crate::engine::Doc;
/* use crate::engine::Block; /* nested crate::engine::Deep */ */
use crate::model::{Money, time::{SECOND, self}};
pub(crate) use crate::{store::Store, engine::{Engine as E, journal::*}};
use super::super::control::Api;
use super::sibling::Thing;
fn f() {
    let s = "crate::ui::InString";
    let r = r#"crate::ui::InRaw"#;
    let c = '"';
    let l: &'static str = "x";
    crate::metrics::counter::inc();
    let _ = crate::strategy::cross_chain_loop::Valuation::new();
    let _ = $crate::notify::Macro;
}
mod tests {
    use super::*;
    use super::super::Outer;
}
"##;
    let paths: Vec<String> = imports("src/venue/schwab/login.rs", src)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        paths,
        [
            "crate::model::Money",
            "crate::model::time::SECOND",
            "crate::model::time",
            "crate::store::Store",
            "crate::engine::Engine",
            "crate::engine::journal::*",
            "crate::venue::control::Api",
            "crate::venue::schwab::sibling::Thing",
            "crate::metrics::counter::inc",
            "crate::strategy::cross_chain_loop::Valuation",
            "crate::venue::schwab::login::*",
            "crate::venue::schwab::Outer",
        ]
    );
    assert!(denied(
        &Deny::These(&["venue::sim"]),
        "crate::venue::sim::World"
    ));
    assert!(!denied(
        &Deny::These(&["venue::sim"]),
        "crate::venue::VenueError"
    ));
    assert!(!denied(
        &Deny::These(&["venue::sim"]),
        "crate::venue::simple::X"
    ));
    assert!(denied(&Deny::AllBut(&["model"]), "crate::config::Secret"));
    assert!(!denied(&Deny::AllBut(&["model"]), "crate::model::Money"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `path` (`crate::a::b::…`) breaks `deny`.
fn denied(deny: &Deny, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("crate::") else {
        return false;
    };
    let segs: Vec<&str> = rest.split("::").collect();
    let under = |module: &str| {
        let m: Vec<&str> = module.split("::").collect();
        segs.len() >= m.len() && segs[..m.len()] == m[..]
    };
    match deny {
        // `crate::*` (a test's `use super::*` at the root) names nothing.
        Deny::AllBut(allowed) => segs[0] != "*" && !allowed.iter().any(|m| under(m)),
        Deny::These(denied) => denied.iter().any(|m| under(m)),
    }
}

/// The module path of a file under `src/` (`src/venue/evm/mod.rs` →
/// `["venue", "evm"]`).
fn module_of(rel: &str) -> Vec<String> {
    let rel = rel.strip_prefix("src/").unwrap_or(rel);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segs: Vec<String> = rel.split('/').map(str::to_string).collect();
    if matches!(
        segs.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segs.pop();
    }
    segs
}

/// Every path of ours that `text` (the file at `rel`) imports or names, as
/// `crate::…`, with its line: `use` trees expanded (`super` resolved against
/// the file's and inline modules' path, `self` and `as` dropped), inline
/// paths cut after their first item (a name starting upper-case) so
/// `crate::x::Type::new` reads `crate::x::Type`.
fn imports(rel: &str, text: &str) -> Vec<(usize, String)> {
    let code = blank_comments_and_strings(text);
    let bytes = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let word_at = |at: usize, word: &str| {
        code[at..].starts_with(word)
            && (at == 0 || !(ident(bytes[at - 1]) || bytes[at - 1] == b'$'))
            && bytes.get(at + word.len()).is_none_or(|b| !ident(*b))
    };
    let file_module = module_of(rel);
    let mut out = Vec::new();
    // Inline `mod name {`: (name, the brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                i += 1;
                continue;
            }
            b'}' => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            _ => {}
        }
        if word_at(i, "mod") {
            let rest = &code[i + 3..];
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            if !name.is_empty() && after.starts_with('{') {
                let open = i + 3 + (rest.len() - after.len());
                depth += 1;
                inline.push((name, depth));
                i = open + 1;
                continue;
            }
        }
        if word_at(i, "use") {
            let end = code[i..].find(';').map_or(bytes.len(), |e| i + e);
            let tree = tidy(&code[i + 3..end]);
            let mut module = file_module.clone();
            module.extend(inline.iter().map(|(n, _)| n.clone()));
            for path in expand(&tree) {
                if let Some(p) = resolve(&module, &path) {
                    out.push((line_of(i), p));
                }
            }
            i = end + 1;
            continue;
        }
        if word_at(i, "crate") && code[i + 5..].starts_with("::") {
            let mut j = i + 5;
            let mut segs = vec!["crate".to_string()];
            while code[j..].starts_with("::") {
                let seg: String = code[j + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if seg.is_empty() {
                    break;
                }
                j += 2 + seg.len();
                let item = seg.starts_with(|c: char| c.is_ascii_uppercase());
                segs.push(seg);
                if item {
                    break;
                }
            }
            if segs.len() > 1 {
                out.push((line_of(i), segs.join("::")));
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// A `use` tree with its whitespace gone but for one space around words
/// (`crate :: { a }` → `crate::{a}`, `A as B` kept).
fn tidy(tree: &str) -> String {
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        let glue = out.ends_with(|c: char| "{},:".contains(c))
            || w.starts_with(|c: char| "{},:".contains(c));
        if !out.is_empty() && !glue {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// A `use` tree without whitespace (`crate::{a::B,c::{self,D}}`) as its
/// paths (`crate::a::B`, `crate::c`, `crate::c::D`); `as` renames dropped.
fn expand(tree: &str) -> Vec<String> {
    fn go(prefix: &str, tree: &str, out: &mut Vec<String>) {
        match tree.find('{') {
            None => {
                let tree = tree.split(" as ").next().unwrap_or(tree).trim();
                let path = format!("{prefix}{tree}");
                let path = path.strip_suffix("::self").unwrap_or(&path).to_string();
                if !path.is_empty() {
                    out.push(path);
                }
            }
            Some(open) => {
                let head = &tree[..open];
                let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
                let mut level = 0;
                let mut start = 0;
                for (k, c) in inner.char_indices() {
                    match c {
                        '{' => level += 1,
                        '}' => level -= 1,
                        ',' if level == 0 => {
                            go(&format!("{prefix}{head}"), &inner[start..k], out);
                            start = k + 1;
                        }
                        _ => {}
                    }
                }
                go(&format!("{prefix}{head}"), &inner[start..], out);
            }
        }
    }
    // `pub`/`pub(crate)` before `use` are outside the statement; the tree
    // starts right after `use`.
    let mut out = Vec::new();
    go("", tree, &mut out);
    out.retain(|p| !p.ends_with("::") && !p.is_empty());
    out
}

/// `path` as `crate::…` if it is ours (`crate::`, `super::`, `self::`),
/// against the module it is written in; `None` for other crates.
fn resolve(module: &[String], path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String>;
    let mut rest = &segs[..];
    match segs.first().copied() {
        Some("crate") => {
            base = Vec::new();
            rest = &segs[1..];
        }
        Some("super") | Some("self") => {
            base = module.to_vec();
            while let Some(s) = rest.first().copied() {
                match s {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().map(|s| s.to_string()));
    if base.is_empty() {
        return None;
    }
    Some(format!("crate::{}", base.join("::")))
}

/// `text` with comments, string and char literals replaced by spaces
/// (newlines kept, so lines still count); lifetimes are left alone.
fn blank_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            let end = text[i..].find('\n').map_or(b.len(), |e| i + e);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let mut level = 0;
            let mut j = i;
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    level += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    level -= 1;
                    j += 2;
                    if level == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (b[i] == b'r' || (b[i] == b'b' && b.get(i + 1) == Some(&b'r')))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            && {
                let k = i + if b[i] == b'b' { 2 } else { 1 };
                let hashes = b[k..].iter().take_while(|c| **c == b'#').count();
                b.get(k + hashes) == Some(&b'"')
            }
        {
            let k = i + if b[i] == b'b' { 2 } else { 1 };
            let hashes = b[k..].iter().take_while(|c| **c == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = k + hashes + 1;
            let end = text[body..]
                .find(&close)
                .map_or(b.len(), |e| body + e + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{1F600}', '"'), or a lifetime.
            let close = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|c| *c == b'\'')
                    .map(|p| i + 2 + p)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch) == Some(&b'\'')).then_some(i + 1 + ch)
            };
            match close {
                Some(end) => {
                    blank(&mut out, i, end + 1);
                    i = end + 1;
                }
                None => i += 1,
            }
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
