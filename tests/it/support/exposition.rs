//! A strict reader of the two text expositions a scraper may get —
//! OpenMetrics text 1.0.0 and the Prometheus text format 0.0.4 — for tests.
//! Strict where the formats are: every line is a `# HELP`, `# TYPE`, `#
//! UNIT` (OpenMetrics) or a sample; names and label names are checked
//! against their grammar, label values are unescaped, values are floats in
//! the format's spelling; a family is declared before its samples and its
//! samples are contiguous; a sample's name is its family's (with the
//! suffixes its type allows); no series appears twice; a histogram's buckets
//! are cumulative up to `+Inf`, which equals its `_count`; OpenMetrics ends
//! with `# EOF`. Anything else is an error naming the line.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    OpenMetrics,
    PrometheusText,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's own name (`x_total`, `x_bucket` …).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub kind: String,
    pub help: Option<String>,
    pub unit: Option<String>,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposition {
    /// By family name, as declared by `# TYPE`.
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    /// Every sample of that name, whatever its family.
    pub fn samples(&self, name: &str) -> Vec<&Sample> {
        self.families
            .values()
            .flat_map(|f| f.samples.iter())
            .filter(|s| s.name == name)
            .collect()
    }

    /// The value of the one sample of that name with exactly these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples(name)
            .into_iter()
            .find(|s| s.labels == want)
            .map(|s| s.value)
    }
}

pub fn parse(body: &str, flavor: Flavor) -> Result<Exposition, String> {
    if body.contains('\r') {
        return Err("a carriage return in the body".into());
    }
    let Some(body) = body.strip_suffix('\n') else {
        return Err("the body does not end with a newline".into());
    };
    let mut lines: Vec<&str> = body.split('\n').collect();
    if flavor == Flavor::OpenMetrics {
        match lines.pop() {
            Some("# EOF") => {}
            other => {
                return Err(format!(
                    "OpenMetrics must end with `# EOF`, ends with {other:?}"
                ));
            }
        }
    }
    let mut out = Exposition::default();
    let mut current: Option<String> = None;
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut series: BTreeSet<(String, BTreeMap<String, String>)> = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let err = |what: String| format!("line {n} {line:?}: {what}");
        if let Some(comment) = line.strip_prefix("# ") {
            let (word, rest) = comment
                .split_once(' ')
                .ok_or_else(|| err("a comment without a name".into()))?;
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            check_metric_name(name).map_err(err)?;
            if current.as_deref() != Some(name) {
                if let Some(prev) = current.take() {
                    closed.insert(prev);
                }
                if closed.contains(name) || out.families.contains_key(name) {
                    return Err(err(format!("family {name} declared again")));
                }
                current = Some(name.to_string());
            }
            let family = out.families.entry(name.to_string()).or_insert(Family {
                kind: String::new(),
                help: None,
                unit: None,
                samples: Vec::new(),
            });
            if !family.samples.is_empty() {
                return Err(err("metadata after the family's samples".into()));
            }
            match word {
                "HELP" if family.help.is_none() => family.help = Some(text.to_string()),
                "TYPE" if family.kind.is_empty() => {
                    let known: &[&str] = match flavor {
                        Flavor::OpenMetrics => &[
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "stateset",
                            "gaugehistogram",
                            "unknown",
                        ],
                        Flavor::PrometheusText => {
                            &["counter", "gauge", "histogram", "summary", "untyped"]
                        }
                    };
                    if !known.contains(&text) {
                        return Err(err(format!("unknown type {text:?}")));
                    }
                    family.kind = text.to_string();
                }
                "UNIT" if flavor == Flavor::OpenMetrics && family.unit.is_none() => {
                    if !name.ends_with(&format!("_{text}")) {
                        return Err(err(format!(
                            "family {name} does not end with its unit {text}"
                        )));
                    }
                    family.unit = Some(text.to_string());
                }
                _ => return Err(err(format!("unexpected or repeated `# {word}`"))),
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            return Err(err("an empty line or a stray comment".into()));
        }
        let sample = parse_sample(line).map_err(err)?;
        let family_name = current
            .clone()
            .ok_or_else(|| err("a sample before any family".into()))?;
        let family = out
            .families
            .get_mut(&family_name)
            .ok_or_else(|| err("no family".into()))?;
        if family.kind.is_empty() {
            return Err(err(format!("family {family_name} has no TYPE")));
        }
        let allowed = suffixes(&family.kind, flavor);
        if !allowed
            .iter()
            .any(|s| sample.name == format!("{family_name}{s}"))
        {
            return Err(err(format!(
                "sample {} is not of family {family_name} ({})",
                sample.name, family.kind
            )));
        }
        if family.kind == "counter" && (sample.value.is_nan() || sample.value < 0.0) {
            return Err(err("a counter below zero".into()));
        }
        if !series.insert((sample.name.clone(), sample.labels.clone())) {
            return Err(err("the same series twice".into()));
        }
        family.samples.push(sample);
    }
    for (name, family) in &out.families {
        if family.kind.is_empty() {
            return Err(format!("family {name} has no TYPE"));
        }
        if family.kind == "histogram" {
            check_histogram(name, family)?;
        }
    }
    Ok(out)
}

fn suffixes(kind: &str, flavor: Flavor) -> &'static [&'static str] {
    match (kind, flavor) {
        ("counter", Flavor::OpenMetrics) => &["_total", "_created"],
        ("histogram", _) => &["_bucket", "_sum", "_count", "_created"],
        ("summary", _) => &["", "_sum", "_count", "_created"],
        ("info", _) => &["_info"],
        _ => &[""],
    }
}

fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    let mut by_set: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for s in &family.samples {
        if s.name.ends_with("_bucket") {
            let mut labels = s.labels.clone();
            let le = labels
                .remove("le")
                .ok_or_else(|| format!("{name}: a bucket without le"))?;
            let le = parse_value(&le).map_err(|e| format!("{name}: le {e}"))?;
            by_set.entry(labels).or_default().push((le, s.value));
        } else if s.name.ends_with("_count") {
            counts.insert(s.labels.clone(), s.value);
        }
    }
    for (labels, buckets) in by_set {
        let mut last = (f64::NEG_INFINITY, 0.0);
        for (le, n) in &buckets {
            if le.is_nan() || *le <= last.0 || *n < last.1 {
                return Err(format!(
                    "{name}{labels:?}: buckets not cumulative at le={le}"
                ));
            }
            last = (*le, *n);
        }
        if last.0 != f64::INFINITY {
            return Err(format!("{name}{labels:?}: no +Inf bucket"));
        }
        if counts.get(&labels) != Some(&last.1) {
            return Err(format!("{name}{labels:?}: +Inf bucket differs from _count"));
        }
    }
    Ok(())
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("{name:?} is not a metric name"))
    }
}

fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("{name:?} is not a label name"))
    }
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) =>
        {
            text.parse().map_err(|e| format!("{text:?}: {e}"))
        }
        _ => Err(format!("{text:?} is not a value")),
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| "a sample without a value".to_string())?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, tail) = parse_labels(after)?;
        labels = parsed;
        rest = tail;
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| "no single space before the value".to_string())?;
    if value.contains(' ') {
        return Err("more than a value after the labels (a timestamp or junk)".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value: parse_value(value)?,
    })
}

/// Labels after the `{`, up to and past the `}`.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    if let Some(tail) = s.strip_prefix('}') {
        return Ok((labels, tail));
    }
    loop {
        let eq = s.find('=').ok_or("a label without =")?;
        let name = &s[..eq];
        check_label_name(name)?;
        s = s[eq + 1..]
            .strip_prefix('"')
            .ok_or("a label value without its opening quote")?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("a label value without its closing quote".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("a bad escape in a label value: {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        s = &s[end + 1..];
        if let Some(tail) = s.strip_prefix('}') {
            return Ok((labels, tail));
        }
        s = s
            .strip_prefix(',')
            .ok_or("labels not separated by a comma")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_flavors_and_refuses_what_is_malformed() {
        let prom = "# HELP a_total A.\n# TYPE a_total counter\na_total{v=\"x \\\"y\\\"\"} 2\n# TYPE h histogram\nh_sum 1.5\nh_count 2\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\n";
        let e = parse(prom, Flavor::PrometheusText).unwrap();
        assert_eq!(e.value("a_total", &[("v", "x \"y\"")]), Some(2.0));
        let om = "# TYPE a counter\na_total 2\n# TYPE g_seconds gauge\n# UNIT g_seconds seconds\ng_seconds 0.5\n# EOF\n";
        let e = parse(om, Flavor::OpenMetrics).unwrap();
        assert_eq!(e.value("g_seconds", &[]), Some(0.5));
        for bad in [
            "# TYPE a counter\na_total 2\n",                     // no EOF
            "# TYPE a gauge\na 1\n# TYPE b gauge\na 2\n# EOF\n", // not its family
            "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n# EOF\n",     // label twice
            "# TYPE a gauge\na 1 123\n# EOF\n",                  // timestamp
            "# TYPE a gauge\na one\n# EOF\n",                    // value
            "# TYPE a gauge\na{x=\"1\"\n# EOF\n",                // unclosed
            "# TYPE a gauge\na 1\na 2\n# EOF\n",                 // twice
            "# TYPE a gauge\n\na 1\n# EOF\n",                    // empty line
            "# TYPE h histogram\nh_count 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
        ] {
            assert!(parse(bad, Flavor::OpenMetrics).is_err(), "{bad:?}");
        }
    }
}
