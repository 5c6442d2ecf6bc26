//! Render tests: the fixture snapshot drawn into a TestBackend at 80×24
//! (one panel at a time) and 160×48 (every panel), asserting the text an
//! operator relies on at a glance.

use arbkeep::engine::{Mode, Phase, Snapshot};
use arbkeep::model::CycleId;
use arbkeep::ui::keymap::BINDINGS;
use arbkeep::ui::{Action, App, Panel, UiOptions, fixture, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const SMALL: (u16, u16) = (80, 24);
const LARGE: (u16, u16) = (160, 48);
const SIZES: [(u16, u16); 2] = [SMALL, LARGE];

fn app_for(snapshot: &Snapshot) -> App {
    let mut app = App::new(&UiOptions::default());
    app.sync(snapshot);
    app
}

fn draw(app: &App, snapshot: &Snapshot, (w, h): (u16, u16)) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal.draw(|f| render(f, app, snapshot)).expect("draw");
    terminal
}

/// The screen as text, one line per row.
fn screen(app: &App, snapshot: &Snapshot, size: (u16, u16)) -> String {
    let terminal = draw(app, snapshot, size);
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..size.1 {
        for x in 0..size.0 {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn focused(panel: Panel) -> (App, Snapshot) {
    let snapshot = fixture::snapshot();
    let mut app = app_for(&snapshot);
    app.update(Action::Focus(panel), &snapshot);
    (app, snapshot)
}

#[track_caller]
fn assert_shows(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "expected {e:?} on screen:\n{text}");
    }
}

#[test]
fn status_bar_shows_paper_paused_speed_and_paused_token() {
    let mut snapshot = fixture::snapshot();
    snapshot.phase = Phase::Paused;
    snapshot.paused = true;
    let app = app_for(&snapshot);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        let top: String = text.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_shows(
            &top,
            &[
                " PAPER ",
                " PAUSED ",
                "2026-01-01 12:00:00",
                "×3000",
                "paused: ETH",
                "!! 1 STUCK",
                "!! 1 HALF-DONE",
            ],
        );
    }
}

#[test]
fn live_mode_is_unmistakable_and_has_no_speed() {
    let mut snapshot = fixture::snapshot();
    snapshot.mode = Mode::Live;
    let app = app_for(&snapshot);
    for size in SIZES {
        let terminal = draw(&app, &snapshot, size);
        let buffer = terminal.backend().buffer();
        let first: String = (0..size.0)
            .map(|x| buffer[(x, 0)].symbol().to_string())
            .collect();
        assert!(first.starts_with(" LIVE "), "{first}");
        assert!(!first.contains('×'), "no sim speed in live mode: {first}");
        assert_eq!(buffer[(1, 0)].bg, Color::Red, "LIVE is red");
    }
}

#[test]
fn cycles_mark_stuck_and_half_done_loudly_and_count_down() {
    let (app, snapshot) = focused(Panel::Cycles);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &[
                "!! STUCK",
                "!! HALF-DONE",
                "finalize ready in 23h 12m",
                "BRIDGE_OUT_PROVED",
                "c7",
                "failed: slippage",
            ],
        );
    }
    // The mark is drawn white on red (loud), not merely as text.
    let terminal = draw(&app, &snapshot, LARGE);
    let buffer = terminal.backend().buffer();
    let (x, y) = (0..LARGE.1)
        .flat_map(|y| (0..LARGE.0).map(move |x| (x, y)))
        .find(|&(x, y)| buffer[(x, y)].symbol() == "!" && buffer[(x + 3, y)].symbol() == "S")
        .expect("a !! STUCK mark");
    assert_eq!(buffer[(x, y)].bg, Color::Red);
}

#[test]
fn cycle_detail_shows_timeline_steps_and_tx_hashes() {
    let (mut app, snapshot) = focused(Panel::Cycles);
    app.selected_cycle = Some(CycleId(7));
    let hash = snapshot.cycles[2].steps[2]
        .tx_hash
        .clone()
        .expect("prove tx");
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &[
                "Cycle c7",
                "timeline",
                "steps",
                "prove #1",
                &hash[..10],
                "via sushi_v3",
                "HEMI_SWAP_DONE",
                "next finalize ready in 23h 12m",
                "wait",
            ],
        );
    }
    // The latest hash is on screen whole (for mouse selection) at both sizes.
    for size in SIZES {
        assert_shows(
            &screen(&app, &snapshot, size),
            &[&format!("latest tx {hash}")],
        );
    }
}

#[test]
fn half_done_cycle_detail_shows_the_unsettled_intent_and_error() {
    let (mut app, snapshot) = focused(Panel::Cycles);
    app.selected_cycle = Some(CycleId(9));
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &["bridge_out #1 intended", "last error", "!! HALF-DONE"],
        );
    }
}

#[test]
fn a_bridge_in_flight_note_is_news_not_an_error_unless_it_is_trouble() {
    let (mut app, mut snapshot) = focused(Panel::Cycles);
    app.selected_cycle = Some(CycleId(9));
    let half = snapshot
        .cycles
        .iter_mut()
        .find(|c| c.cycle.id == CycleId(9))
        .expect("c9");
    half.cycle.last_error = Some(format!(
        "{}LayerZero Scan: CONFIRMING",
        arbkeep::model::IN_FLIGHT_NOTE
    ));
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(&text, &["bridge LayerZero Scan: CONFIRMING"]);
        assert!(!text.contains("last error"), "{text}");
    }
    let note_colour = colour_of(&app, &snapshot, "bridge LayerZero");
    // Trouble is drawn in the error colour, as an error's label is.
    let error_colour = colour_of(&app, &fixture_snapshot(), "last error");
    assert_ne!(note_colour, error_colour);
    let half = snapshot
        .cycles
        .iter_mut()
        .find(|c| c.cycle.id == CycleId(9))
        .expect("c9");
    half.cycle.last_error = Some(format!(
        "{}{} — LayerZero Scan: FAILED",
        arbkeep::model::IN_FLIGHT_NOTE,
        arbkeep::venue::NOTE_TROUBLE
    ));
    assert_eq!(colour_of(&app, &snapshot, "bridge TROUBLE"), error_colour);
}

/// The cycles snapshot the fixture draws, unedited.
fn fixture_snapshot() -> Snapshot {
    focused(Panel::Cycles).1
}

/// The foreground colour of the first cell of `text` on the large screen.
fn colour_of(app: &App, snapshot: &Snapshot, text: &str) -> Color {
    let terminal = draw(app, snapshot, LARGE);
    let buffer = terminal.backend().buffer();
    let want: Vec<String> = text.chars().map(String::from).collect();
    let n = want.len() as u16;
    for y in 0..LARGE.1 {
        for x in 0..LARGE.0.saturating_sub(n) {
            if (0..n).all(|i| buffer[(x + i, y)].symbol() == want[i as usize]) {
                return buffer[(x, y)].fg;
            }
        }
    }
    panic!("{text:?} is not on screen");
}

#[test]
fn opportunities_show_state_size_and_profit() {
    let (app, snapshot) = focused(Panel::Opportunities);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &[
                "#41",
                "XAUt",
                "tunnel",
                "AWAITING APPROVAL",
                "auto",
                "PAUSED",
                "below floor",
                "2500",
                "+12.75",
            ],
        );
    }
}

#[test]
fn balances_show_the_grid_and_money_in_flight() {
    let (app, snapshot) = focused(Panel::Balances);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &[
                "Hemi",
                "Ethereum",
                "in flight",
                "97500",
                "1200.25",
                "0.05",
                "c7 1.5 XAUt Hemi→Ethereum ready in 23h 12m",
            ],
        );
    }
}

#[test]
fn positions_say_so_when_empty_and_list_them_otherwise() {
    let (app, mut snapshot) = focused(Panel::Positions);
    for size in SIZES {
        assert_shows(&screen(&app, &snapshot, size), &["no broker positions"]);
    }
    snapshot.positions.push(fixture::position());
    for size in SIZES {
        assert_shows(
            &screen(&app, &snapshot, size),
            &["schwab", "tAAPL", "-3.5", "7m 00s"],
        );
    }
}

#[test]
fn pnl_shows_today_lifetime_per_token_and_sparkline() {
    let (app, snapshot) = focused(Panel::Pnl);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &[
                "today",
                "+37.02",
                "lifetime",
                "+1480.80",
                "XAUt",
                "gas",
                "bridge",
                "cumulative",
            ],
        );
        assert!(
            text.contains('█') || text.contains('▇'),
            "sparkline drawn:\n{text}"
        );
        if size == LARGE {
            assert_shows(&text, &["all USD", "drawdown", "(no limit)"]);
        }
    }
}

#[test]
fn venues_show_faults_latency_and_blocks() {
    let (app, snapshot) = focused(Panel::Venues);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &["hemi", "ok", "120ms", "1234567", "FAULT", "scan API 503"],
        );
    }
}

#[test]
fn log_panel_is_drawn() {
    let (app, snapshot) = focused(Panel::Log);
    for size in SIZES {
        assert_shows(&screen(&app, &snapshot, size), &["7 Log", "log="]);
    }
}

#[test]
fn help_lists_every_key_of_the_keymap() {
    let (mut app, snapshot) = focused(Panel::Cycles);
    app.update(Action::Help, &snapshot);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        for binding in BINDINGS {
            assert_shows(&text, &[binding.label, binding.help]);
        }
    }
}

#[test]
fn approval_popup_names_the_size_then_the_confirm_names_the_command() {
    let (mut app, snapshot) = focused(Panel::Opportunities);
    app.update(Action::Approve, &snapshot);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &[
                "Approve opportunity #41",
                "chosen 2500 VCRED",
                "size in VCRED:",
                "> 2500",
            ],
        );
    }
    app.update(Action::Confirm, &snapshot);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &[
                "Confirm",
                "approve opportunity #41 at 2500 VCRED",
                "2500000000 base units",
                "Enter/y",
                "Esc/n",
            ],
        );
    }
}

#[test]
fn confirm_popups_name_exactly_what_will_happen() {
    let cases: [(Action, &str); 2] = [
        (Action::Force, "force the next step of c8"),
        (Action::Skip, "skip the current step of c8"),
    ];
    for (action, words) in cases {
        let (mut app, snapshot) = focused(Panel::Cycles);
        app.update(action, &snapshot);
        for size in SIZES {
            assert_shows(
                &screen(&app, &snapshot, size),
                &["Confirm", "This will:", words],
            );
        }
    }
}

#[test]
fn text_field_popups_say_what_they_are_for() {
    let cases: [(Action, &str, &str); 4] = [
        (
            Action::MarkDone,
            "Mark the current step of c8 done",
            "tx hash",
        ),
        (Action::Fail, "Fail c8", "reason:"),
        (
            Action::ImportProof,
            "Import bridge proof data for c8",
            "proof data:",
        ),
        (
            Action::Filter,
            "Filter cycles and opportunities",
            "token, state",
        ),
    ];
    for (action, title, prompt) in cases {
        let (mut app, snapshot) = focused(Panel::Cycles);
        app.update(action, &snapshot);
        for size in SIZES {
            assert_shows(
                &screen(&app, &snapshot, size),
                &[title, prompt, "Esc cancel"],
            );
        }
    }
}

#[test]
fn input_errors_are_shown_in_the_popup() {
    let (mut app, snapshot) = focused(Panel::Cycles);
    app.update(Action::MarkDone, &snapshot);
    for c in "0xnothex".chars() {
        app.update(Action::Input(c), &snapshot);
    }
    app.update(Action::Confirm, &snapshot);
    for size in SIZES {
        assert_shows(
            &screen(&app, &snapshot, size),
            &["expected 0x followed by 64 hex digits", "> 0xnothex"],
        );
    }
}

#[test]
fn filter_narrows_rows_but_never_hides_alarms() {
    let (mut app, snapshot) = focused(Panel::Cycles);
    app.update(Action::Filter, &snapshot);
    for c in "xaut".chars() {
        app.update(Action::Input(c), &snapshot);
    }
    app.update(Action::Confirm, &snapshot);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(&text, &["1 of 5 match /xaut", "!! 1 STUCK", "c7"]);
        assert!(!text.contains("c8 "), "c8 filtered out:\n{text}");
    }
}

#[test]
fn too_small_terminal_says_so() {
    let snapshot = fixture::snapshot();
    let app = app_for(&snapshot);
    for size in [(79, 24), (80, 23), (40, 10)] {
        assert_shows(
            &screen(&app, &snapshot, size),
            &["terminal too small", "need at least 80×24"],
        );
    }
}

#[test]
fn empty_snapshot_reads_as_recovering_with_nothing_yet() {
    let snapshot = Snapshot::empty(Mode::Devnet, fixture::NOW);
    let mut app = app_for(&snapshot);
    let text = screen(&app, &snapshot, LARGE);
    assert_shows(
        &text,
        &[
            " DEVNET ",
            " RECOVERING ",
            "no cycles yet",
            "no opportunities right now",
            "no balances yet",
            "no broker positions",
            "no venue reported yet",
            "no cycle selected",
        ],
    );
    app.update(Action::Focus(Panel::Cycles), &snapshot);
    assert_shows(&screen(&app, &snapshot, SMALL), &["no cycles yet"]);
}

#[test]
fn no_color_uses_no_colours_but_still_marks_alarms() {
    let snapshot = fixture::snapshot();
    let mut app = App::new(&UiOptions {
        no_color: true,
        title: "t".into(),
    });
    app.sync(&snapshot);
    for size in SIZES {
        let terminal = draw(&app, &snapshot, size);
        let buffer = terminal.backend().buffer();
        for cell in buffer.content() {
            assert_eq!(cell.fg, Color::Reset, "no foreground colour with no_color");
            assert_eq!(cell.bg, Color::Reset, "no background colour with no_color");
        }
        let text = screen(&app, &snapshot, size);
        assert_shows(&text, &["!! STUCK", " PAPER "]);
    }
}

#[test]
fn engine_silence_and_loss_are_shown() {
    let snapshot = fixture::snapshot();
    let mut app = app_for(&snapshot);
    app.advance(15_000);
    assert_shows(&screen(&app, &snapshot, SMALL), &["engine quiet 15s"]);
    app.engine_gone = true;
    assert_shows(&screen(&app, &snapshot, SMALL), &["ENGINE GONE"]);
}

#[test]
fn the_clock_runs_at_sim_speed_between_snapshots() {
    let snapshot = fixture::snapshot();
    let mut app = app_for(&snapshot);
    app.advance(2_000); // 2 s of wall at ×3000 = 100 min of sim time
    assert_shows(&screen(&app, &snapshot, SMALL), &["2026-01-01 13:40:00"]);
}

#[test]
fn mark_done_confirm_shows_the_whole_tx_hash() {
    let (mut app, snapshot) = focused(Panel::Cycles);
    let hash = fixture::hash(7);
    app.update(Action::MarkDone, &snapshot);
    for c in hash.chars() {
        app.update(Action::Input(c), &snapshot);
    }
    app.update(Action::Confirm, &snapshot);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        assert_shows(
            &text,
            &["mark the current step of c8 done by", &format!("tx {hash}")],
        );
    }
}

/// The row, within the Cycles panel, of the first line showing `id` as a word.
fn line_of(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .skip_while(|l| !l.contains("2 Cycles"))
        .take_while(|l| !l.contains('└'))
        .position(|l| {
            l.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| word == id)
        })
}

#[test]
fn open_and_half_done_cycles_stay_above_closed_ones_however_the_selection_moves() {
    let mut snapshot = fixture::big_snapshot(200, 2);
    // Ids short enough for the narrow layout's column.
    for (n, v) in snapshot
        .cycles
        .iter_mut()
        .filter(|v| v.is_open())
        .enumerate()
    {
        v.cycle.id = CycleId(900 + n as u64);
    }
    // A failed cycle still holding money is half-done; it arrives last.
    let at = snapshot
        .cycles
        .iter()
        .position(|v| v.cycle.id == CycleId(20))
        .unwrap();
    let mut stranded = snapshot.cycles.remove(at);
    assert_eq!(stranded.cycle.state, arbkeep::model::CycleState::Failed);
    stranded.half_done = true;
    snapshot.cycles.push(stranded);
    let mut app = app_for(&snapshot);
    app.update(Action::Focus(Panel::Cycles), &snapshot);
    let moves = [
        Action::Top,
        Action::Down,
        Action::PageDown,
        Action::PageDown,
        Action::Bottom,
        Action::Up,
        Action::PageUp,
    ];
    for action in moves {
        app.update(action, &snapshot);
        let selected = app.selected_cycle.expect("a cycle is selected");
        for size in SIZES {
            let text = screen(&app, &snapshot, size);
            let pinned = ["c900", "c901", "c20"].map(|id| {
                line_of(&text, id)
                    .unwrap_or_else(|| panic!("{id} on screen after {action:?}:\n{text}"))
            });
            let first_closed = (1..=200)
                .filter(|n| *n != 20)
                .filter_map(|n| line_of(&text, &format!("c{n}")))
                .min()
                .expect("closed cycles on screen");
            assert!(
                pinned.iter().all(|line| *line < first_closed),
                "open and half-done above closed after {action:?}:\n{text}"
            );
            assert!(
                line_of(&text, &selected.to_string()).is_some(),
                "the selection {selected} on screen after {action:?}:\n{text}"
            );
            // Failed but still holding money: loud on its row and counted.
            let row = text
                .lines()
                .find(|l| l.contains("c20 "))
                .unwrap_or_else(|| panic!("c20's row:\n{text}"));
            assert!(row.contains("HALF-DONE"), "{row}");
            assert!(
                text.contains("HALF-DONE "),
                "the status bar counts it:\n{text}"
            );
        }
    }
}

#[test]
fn a_cycle_that_never_started_reads_as_closed_not_as_a_failure() {
    let mut snapshot = fixture::snapshot();
    let v = snapshot
        .cycles
        .iter_mut()
        .find(|v| v.cycle.state == arbkeep::model::CycleState::Failed)
        .expect("the fixture's failed cycle");
    v.cycle.state = arbkeep::model::CycleState::NotStarted;
    v.cycle.failure = None;
    v.cycle.refusal = Some("hemi_swap rejected: slippage bound".into());
    let id = v.cycle.id.to_string();
    let mut app = app_for(&snapshot);
    app.update(Action::Focus(Panel::Cycles), &snapshot);
    for size in SIZES {
        let text = screen(&app, &snapshot, size);
        let row = text
            .lines()
            .skip_while(|l| !l.contains("2 Cycles"))
            .find(|l| l.split_whitespace().any(|w| w.trim_matches('│') == id))
            .unwrap_or_else(|| panic!("{id} listed:\n{text}"));
        assert!(row.contains("NOT STARTED (closed)"), "{row}");
        assert!(row.contains("not started: hemi_swap rejected"), "{row}");
        assert!(!row.contains("FAILED") && !row.contains("!!"), "{row}");
    }
}
