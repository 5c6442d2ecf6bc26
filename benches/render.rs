//! Frame time of the console: a full 160×48 frame into a TestBackend with
//! 10 000 closed cycles and 200 open ones. The first frame after a new
//! snapshot rebuilds the view-model cache (cache miss); steady frames only
//! format the visible rows. Plain main, no criterion:
//! `cargo bench --bench render`; the last line is the headline figure.

use arbkeep::ui::{Action, App, Panel, UiOptions, fixture, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::time::{Duration, Instant};

const CLOSED: usize = 10_000;
const OPEN: usize = 200;
const RUNS: usize = 200;

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let mut snapshot = fixture::big_snapshot(CLOSED, OPEN);
    let mut app = App::new(&UiOptions::default());
    app.update(Action::Focus(Panel::Cycles), &snapshot);
    // Select a cycle in the middle, so the window is not simply the top rows.
    for _ in 0..100 {
        app.update(Action::Down, &snapshot);
    }
    let mut terminal = match Terminal::new(TestBackend::new(160, 48)) {
        Ok(t) => t,
        Err(e) => panic!("test backend: {e}"),
    };

    // Cache miss: a new snapshot (seq bump) → rebuild the view, then draw.
    let mut miss = Vec::with_capacity(RUNS / 4);
    for _ in 0..RUNS / 4 {
        snapshot.seq += 1;
        let start = Instant::now();
        app.sync(&snapshot);
        let drawn = terminal.draw(|f| render(f, &app, &snapshot));
        miss.push(start.elapsed());
        black_box(drawn.is_ok());
    }

    // Steady: same snapshot, cache hit, e.g. a countdown tick or a key press.
    let mut steady = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        app.since_snapshot_ms = (i as u64) % 1000; // the clock moves, as on a tick
        let start = Instant::now();
        let drawn = terminal.draw(|f| render(f, &app, &snapshot));
        steady.push(start.elapsed());
        black_box(drawn.is_ok());
    }

    println!(
        "snapshot: {} cycles ({OPEN} open, {CLOSED} closed), 160x48, {} steady runs",
        snapshot.cycles.len(),
        RUNS
    );
    println!(
        "BENCH render first_frame_ms_median={:.3} (cache miss: view rebuilt)",
        median(miss)
    );
    println!("BENCH render frame_ms_median={:.3}", median(steady));
}
