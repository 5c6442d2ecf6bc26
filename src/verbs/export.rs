//! `arbkeep export --what ledger|cycles|trades|hedges --since DAY [--until
//! DAY] [--format csv|json]`: a period's records on stdout for accounting,
//! read a page at a time from the running engine (its control API's
//! `export` query) or, when none runs, from the store opened read-only —
//! the same path as `ledger`. Also the cycles `pnl --since` adds up.

use super::{engine, offline, running};
use crate::UsageError;
use anyhow::Context;
use arbkeep::config::Config;
use arbkeep::control::{ControlClient, MAX_EXPORT_PAGE};
use arbkeep::export::{
    Day, Format, Page, Period, Records, RowWriter, What, columns, read_page, rows,
};
use arbkeep::model::Cycle;
use arbkeep::store::Reader;
use serde_json::{Value, json};
use std::io::{self, BufWriter};

/// Where the pages come from.
enum Source {
    Engine(Box<ControlClient>),
    Store(Reader),
}

impl Source {
    async fn open(config: &Config) -> anyhow::Result<Source> {
        Ok(match running(config) {
            Some(pid) => Source::Engine(Box::new(engine(config, pid).await?)),
            None => Source::Store(offline(config)?.read()?),
        })
    }

    async fn page(&mut self, what: What, period: Period, from: u64) -> anyhow::Result<Page> {
        match self {
            Source::Store(reader) => Ok(read_page(reader, what, period, from, MAX_EXPORT_PAGE)?),
            Source::Engine(client) => {
                let mut answer = client
                    .request(json!({
                        "type": "export",
                        "what": what.name(),
                        "since": period.since,
                        "until": period.until,
                        "from": from,
                    }))
                    .await
                    .context("the running engine's export query")?;
                let records = answer
                    .get_mut("records")
                    .map(Value::take)
                    .unwrap_or_default();
                Ok(Page {
                    records: Records::from_json(what, records)
                        .context("the engine's export answer")?,
                    next: answer.get("next").and_then(Value::as_u64),
                })
            }
        }
    }

    /// Every page of `what` in `period`, handed to `each` in order.
    async fn each_page(
        &mut self,
        what: What,
        period: Period,
        mut each: impl FnMut(Records) -> io::Result<()>,
    ) -> anyhow::Result<()> {
        let mut from = 0;
        loop {
            let page = self.page(what, period, from).await?;
            each(page.records)?;
            match page.next {
                Some(next) if next > from => from = next,
                _ => return Ok(()),
            }
        }
    }
}

/// `arbkeep export`.
pub async fn export(
    config: &Config,
    what: &str,
    since: Day,
    until: Option<Day>,
    format: &str,
) -> anyhow::Result<()> {
    let what: What = what
        .parse()
        .map_err(|e| UsageError(format!("--what {e}")))?;
    let format: Format = format
        .parse()
        .map_err(|e| UsageError(format!("--format {e}")))?;
    let period = Period::days(Some(since), until).map_err(|e| UsageError(e.to_string()))?;
    let mut source = Source::open(config).await?;
    let written = async {
        let mut out = RowWriter::begin(BufWriter::new(io::stdout()), format, columns(what))?;
        source
            .each_page(what, period, |records| {
                rows(&records).iter().try_for_each(|row| out.row(row))
            })
            .await?;
        out.finish()?;
        anyhow::Ok(())
    };
    match written.await {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// The reader went away (`| head`): not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Every cycle in the store, from the engine when one runs (`pnl --since`).
pub async fn all_cycles(config: &Config) -> anyhow::Result<Vec<Cycle>> {
    let mut source = Source::open(config).await?;
    let mut cycles = Vec::new();
    source
        .each_page(What::Cycles, Period::ALL, |records| {
            if let Records::Cycles(page) = records {
                cycles.extend(page);
            }
            Ok(())
        })
        .await?;
    Ok(cycles)
}
