//! The event loop behind `run`: key presses, snapshots, engine answers,
//! signals and a timer feed the reducer; a frame is drawn only when
//! something changed, at most every `MIN_FRAME`, so bursts coalesce and an
//! idle console costs nothing. Commands go to the engine on their own task
//! so a slow answer never freezes the screen.

use super::action::Panel;
use super::app::{App, Effect, MessageKind};
use super::render::{WIDE_HEIGHT, WIDE_WIDTH, render};
use super::{UiError, UiOptions, osc52, terminal};
use crate::engine::{Command, EngineHandle, Snapshot};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use ratatui::crossterm::queue;
use ratatui::crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use std::io::{self, IsTerminal, Stdout, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};

/// At most ~30 frames a second, however fast things change.
const MIN_FRAME: Duration = Duration::from_millis(33);
/// Countdowns, the log and message ageing refresh once a second when shown.
const TICK: Duration = Duration::from_secs(1);
/// How long to wait for the engine's answer before saying so.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

type Answer = (String, Result<String, String>);

fn listen(kind: SignalKind, name: &'static str) -> Result<Signal, UiError> {
    signal(kind).map_err(|source| UiError::Signal {
        signal: name,
        source,
    })
}

pub async fn run(handle: EngineHandle, options: UiOptions) -> Result<(), UiError> {
    if !io::stdout().is_terminal() {
        return Err(UiError::NotATerminal);
    }
    // Signals first: a failure here must not leave the terminal in raw mode.
    let mut sigterm = listen(SignalKind::terminate(), "SIGTERM")?;
    let mut sighup = listen(SignalKind::hangup(), "SIGHUP")?;
    let mut sigint = listen(SignalKind::interrupt(), "SIGINT")?;
    let guard = terminal::enter()?;
    let result = async {
        let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        term.clear()?;
        let signals = async {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = sighup.recv() => {}
                _ = sigint.recv() => {}
            }
        };
        tokio::select! {
            result = event_loop(&mut term, handle, options) => result,
            // SIGHUP: the SSH link dropped. Leave cleanly; the engine is durable.
            () = signals => Ok(()),
        }
    }
    .await;
    drop(guard);
    result
}

fn draw(
    term: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &App,
    snapshot: &Snapshot,
) -> io::Result<()> {
    // Synchronized output: the terminal shows the frame whole, no tearing over SSH.
    queue!(term.backend_mut(), BeginSynchronizedUpdate)?;
    term.draw(|frame| render(frame, app, snapshot))?;
    queue!(term.backend_mut(), EndSynchronizedUpdate)?;
    term.backend_mut().flush()
}

/// When the screen needs a refresh without any event, if ever.
fn tick_needed(app: &App, wide: bool) -> bool {
    let countdown = app.view.next_ready.is_some()
        && (wide || matches!(app.focus, Panel::Cycles | Panel::Balances));
    let log = wide || app.focus == Panel::Log;
    countdown || log || app.message.is_some()
}

fn send(handle: &EngineHandle, command: Command, answers: &mpsc::UnboundedSender<Answer>) {
    let handle = handle.clone();
    let answers = answers.clone();
    tokio::spawn(async move {
        let what = command.describe();
        let answer = match timeout(ANSWER_TIMEOUT, handle.send(command, "tui")).await {
            Ok(answer) => answer,
            Err(_) => Err("no answer within 30s; it may still apply: check the cycle".into()),
        };
        // The loop may be gone (quit); nothing to tell then.
        let _ = answers.send((what, answer));
    });
}

fn copy(text: &str) -> io::Result<()> {
    let mut out = io::stdout();
    out.write_all(osc52::sequence(text).as_bytes())?;
    out.flush()
}

async fn event_loop(
    term: &mut Terminal<CrosstermBackend<Stdout>>,
    handle: EngineHandle,
    options: UiOptions,
) -> Result<(), UiError> {
    let mut app = App::new(&options);
    let mut snapshots = handle.snapshots.clone();
    let mut snapshot: Arc<Snapshot> = snapshots.borrow_and_update().clone();
    app.on_snapshot(&snapshot);
    let (answer_tx, mut answers) = mpsc::unbounded_channel::<Answer>();
    let mut events = EventStream::new();
    let mut dirty = true;
    let mut last_draw = Instant::now() - MIN_FRAME;
    let mut last_advance = Instant::now();

    loop {
        let now = Instant::now();
        let elapsed = now.duration_since(last_advance);
        last_advance = now;
        app.advance(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        if dirty && now >= last_draw + MIN_FRAME {
            app.sync(&snapshot);
            draw(term, &app, &snapshot)?;
            last_draw = Instant::now();
            dirty = false;
        }
        let size = term.size()?;
        let wide = size.width >= WIDE_WIDTH && size.height >= WIDE_HEIGHT;
        let wake = if dirty {
            Some(last_draw + MIN_FRAME)
        } else if tick_needed(&app, wide) {
            Some(now + TICK)
        } else if !app.engine_quiet() && !app.engine_gone {
            // Wake once when the engine would count as quiet, to say so.
            let left = super::app::QUIET_AFTER_MS.saturating_sub(app.since_snapshot_ms);
            Some(now + Duration::from_millis(left))
        } else {
            None
        };
        let far = now + Duration::from_secs(3600);
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    dirty = true;
                    match app.handle_key(&key, &snapshot) {
                        Some(Effect::Quit) => return Ok(()),
                        Some(Effect::Send(command)) => send(&handle, command, &answer_tx),
                        Some(Effect::Copy { text }) => {
                            if let Err(error) = copy(&text) {
                                app.say(MessageKind::Error, format!("copy failed: {error}"));
                            }
                        }
                        None => {}
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(UiError::Input(error)),
                None => return Ok(()),
            },
            changed = snapshots.changed(), if !app.engine_gone => {
                match changed {
                    Ok(()) => {
                        snapshot = snapshots.borrow_and_update().clone();
                        app.on_snapshot(&snapshot);
                    }
                    Err(_) => {
                        app.engine_gone = true;
                        app.say(MessageKind::Error, "the engine has stopped: showing its last state (q quits)");
                    }
                }
                dirty = true;
            }
            Some((what, answer)) = answers.recv() => {
                app.on_reply(&what, answer);
                dirty = true;
            }
            () = sleep_until(wake.unwrap_or(far)), if wake.is_some() => dirty = true,
        }
    }
}
