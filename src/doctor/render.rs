//! The report as a plain aligned table (for a terminal over SSH: no colour,
//! no box drawing) or as JSON (`--json`: every check and a summary, for
//! monitoring). A fix goes on its own line under its check's detail, so a
//! long detail does not push it off the screen.

use super::Report;
use serde_json::{Value, json};

pub fn table(report: &Report) -> String {
    let checks = &report.checks;
    let group_w = checks
        .iter()
        .map(|c| c.group.label().len())
        .chain(["group".len()])
        .max()
        .unwrap_or(0);
    let name_w = checks
        .iter()
        .map(|c| c.name.chars().count())
        .chain(["check".len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let row = |status: &str, group: &str, name: &str, text: &str| {
        format!("{status:<6}  {group:<group_w$}  {name:<name_w$}  {text}\n")
    };
    out.push_str(&row("status", "group", "check", "detail / fix"));
    for c in checks {
        out.push_str(&row(c.status.label(), c.group.label(), &c.name, &c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&row("", "", "", &format!("fix: {fix}")));
        }
    }
    let s = report.summary();
    out.push_str(&format!(
        "\n{} ok, {} warn, {} fail, {} skipped",
        s.ok, s.warn, s.fail, s.skip
    ));
    if s.fail > 0 {
        out.push_str(&format!(" (exit code {})", s.exit_code));
    }
    out
}

pub fn json(report: &Report) -> Value {
    let s = report.summary();
    json!({
        "checks": report.checks,
        "summary": s,
        "ok": s.fail == 0 && report.config_error.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Check, Group};

    #[test]
    fn the_table_aligns_and_puts_fixes_under_their_check() {
        let report = Report {
            checks: vec![
                Check::ok(Group::Local, "config", "c.toml: mode devnet"),
                Check::fail(Group::Evm, "Hemi chain id", "wrong", "point it right"),
            ],
            config_error: None,
        };
        let text = table(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].find("check"), lines[1].find("config"));
        assert_eq!(lines[1].find("c.toml"), lines[2].find("wrong"));
        assert_eq!(lines[2].find("wrong"), lines[3].find("fix: point it right"));
        assert!(lines[2].starts_with("FAIL    evm"), "{text}");
        assert!(
            text.ends_with("1 ok, 0 warn, 1 fail, 0 skipped (exit code 1)"),
            "{text}"
        );
        let v = json(&report);
        assert_eq!(v["summary"]["exit_code"], 1);
        assert_eq!(v["checks"][1]["status"], "fail");
        assert_eq!(v["checks"][1]["group"], "evm");
        assert_eq!(v["checks"][0]["fix"], Value::Null);
    }
}
