//! The command line: the flags and verbs `arbkeep` takes (clap), with the
//! help text each shows. `main` dispatches them.

use arbkeep::export::Day;
use arbkeep::model::{CycleId, TokenId};
use clap::{Parser, Subcommand};
use rust_decimal::Decimal;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "arbkeep",
    version,
    about = "A terminal console for arbitrage keepers that never loses track of money"
)]
pub(crate) struct Cli {
    /// Config file (default: ./config.toml if present, else paper defaults).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (store, paper world, logs, control token).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Run without the console (automatic when stdout is not a terminal).
    #[arg(long)]
    pub(crate) headless: bool,
    /// Paper world seed.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// Paper clock speed: simulated seconds per wall second.
    #[arg(long, value_name = "X")]
    pub(crate) speed: Option<String>,
    /// Stop cleanly after this much wall time (e.g. 90s, 5m).
    #[arg(long, value_name = "DURATION")]
    pub(crate) run_for: Option<String>,
    /// Finish open cycles, start no new ones, exit when none is left.
    #[arg(long)]
    pub(crate) drain: bool,
    #[command(subcommand)]
    pub(crate) verb: Option<Verb>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Verb {
    /// Mode, phase, pause state and cycle counts.
    Status {
        #[arg(long)]
        json: bool,
        /// Exit 1 when no engine runs on the data dir (a health check).
        #[arg(long)]
        require_running: bool,
    },
    /// Profit and loss: lifetime, today, per day, per token.
    Pnl {
        #[arg(long)]
        json: bool,
        /// Every strategy's realised P&L, each in its own currency.
        #[arg(long, conflicts_with_all = ["since", "until"])]
        all: bool,
        /// Only cycles completed from this UTC day on (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<Day>,
        /// … up to and including this UTC day.
        #[arg(long, value_name = "DATE")]
        until: Option<Day>,
    },
    /// A period's records for accounting, as CSV or a JSON array.
    Export {
        #[arg(long, value_parser = ["ledger", "cycles", "trades", "hedges"])]
        what: String,
        /// The first UTC day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Day,
        /// The last UTC day, included (default: up to now).
        #[arg(long, value_name = "DATE")]
        until: Option<Day>,
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
    },
    /// The append-only ledger (money moves and the audit trail).
    Ledger {
        #[arg(long)]
        json: bool,
        /// Only this cycle's lines (e.g. c12).
        #[arg(long, value_name = "ID", conflicts_with = "all")]
        cycle: Option<CycleId>,
        /// Every strategy's money lines in one ledger (the loop, the hedge's
        /// onchain and broker fills, Stellar), per venue and asset.
        #[arg(long)]
        all: bool,
        /// With --all: only the sums per strategy, venue and asset.
        #[arg(long, requires = "all")]
        totals: bool,
    },
    /// Open the console on an engine running headless on this data dir.
    Attach,
    /// Pause all execution: no step is sent, no cycle starts.
    Pause,
    /// Resume execution.
    Resume,
    /// Pause one token: no new cycle, no step of its open cycles.
    PauseToken { token: TokenId },
    /// Resume one token.
    ResumeToken { token: TokenId },
    /// Approve an opportunity waiting for approval, optionally at another size.
    Approve {
        id: u64,
        /// Size in VCRED (e.g. 2500 or 2500.5).
        #[arg(long, value_name = "VCRED")]
        size: Option<Decimal>,
    },
    /// Reject an opportunity waiting for approval.
    Reject { id: u64 },
    /// Act on a cycle's next step now (skip backoff, or resume a failed cycle).
    Force { cycle: CycleId },
    /// Book the cycle's current step as done by this transaction.
    MarkDone {
        cycle: CycleId,
        #[arg(long, value_name = "HASH")]
        tx: String,
    },
    /// Move a cycle past its current step without acting.
    Skip { cycle: CycleId },
    /// Fail a cycle, with a reason.
    Fail {
        cycle: CycleId,
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Give a tunnel withdrawal the proof data the keeper cannot derive.
    ImportProof {
        cycle: CycleId,
        #[arg(long, value_name = "DATA")]
        data: String,
    },
    /// Decide about an open intent of any strategy (listed by `status`):
    /// settle it by looking (optionally naming the order id or tx hash that
    /// was its result), drop it as never sent, or retry it although its
    /// first outcome is unknown. Audited with the reason.
    Resolve {
        id: String,
        #[arg(value_parser = ["settle", "drop", "retry"])]
        resolution: String,
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The order id or transaction hash that was the send's result (settle).
        #[arg(long, value_name = "ID")]
        evidence: Option<String>,
    },
    /// Stop hedging one symbol (equity hedge): its fills are still
    /// accounted; nothing is sent for it until `resume-symbol`.
    PauseSymbol { symbol: String },
    /// Resume hedging one symbol: its uncovered net is hedged as usual.
    ResumeSymbol { symbol: String },
    /// Account the fills of one transaction that ingestion missed (equity
    /// hedge): read from its receipt, deduplicated as every fill is.
    ProcessTx {
        #[arg(value_name = "HASH")]
        tx: String,
    },
    /// A symbol's position in the hedge's books (equity hedge).
    Position {
        #[command(subcommand)]
        action: PositionAction,
    },
    /// Start a local devnet (two anvil nodes with tokens, Uniswap, the real
    /// Stargate V2 and OP tunnel), write its config, and run until Ctrl-C.
    Devnet {
        /// Where the devnet config and the keeper's data go (default ./data/devnet-<time>).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check the setup without sending anything: config, secrets (never
    /// shown), data dir, chains, broker login, Stellar accounts, clocks.
    /// Exit code 1 when a check fails, 2 when the config does not load.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Log in to a broker (interactive; no engine may run on the data dir).
    Auth {
        #[command(subcommand)]
        broker: AuthBroker,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PositionAction {
    /// Set SYMBOL's uncovered net to N shares (negative: short), booked as
    /// an operator adjustment with the reason; refused while a hedge of
    /// it is in flight.
    Set {
        symbol: String,
        #[arg(allow_negative_numbers = true)]
        net: Decimal,
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuthBroker {
    /// Charles Schwab: prints the login URL, reads the redirect URL back,
    /// seals the tokens (SCHWAB_APP_KEY, SCHWAB_APP_SECRET, ENCRYPTION_KEY).
    Schwab,
}
