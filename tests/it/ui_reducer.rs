//! Reducer tests: key press → Action (through the keymap) → App state →
//! the Command that would reach the engine. No terminal involved.

use arbkeep::engine::{Command, Phase, Snapshot};
use arbkeep::model::{CycleId, TokenId};
use arbkeep::ui::app::{Field, Popup};
use arbkeep::ui::{App, Effect, Panel, UiOptions, fixture};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn setup() -> (App, Snapshot) {
    let snapshot = fixture::snapshot();
    let mut app = App::new(&UiOptions::default());
    app.sync(&snapshot);
    (app, snapshot)
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

/// Press keys in order; return the effects they produced.
fn press(app: &mut App, snapshot: &Snapshot, keys: &[KeyEvent]) -> Vec<Effect> {
    keys.iter()
        .filter_map(|k| app.handle_key(k, snapshot))
        .collect()
}

fn typed(text: &str) -> Vec<KeyEvent> {
    text.chars().map(ch).collect()
}

fn sent(effects: &[Effect]) -> Vec<Command> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn p_pauses_when_running_and_resumes_when_paused() {
    let (mut app, mut snapshot) = setup();
    assert_eq!(
        press(&mut app, &snapshot, &[ch('p')]),
        vec![Effect::Send(Command::Pause)]
    );
    snapshot.phase = Phase::Paused;
    snapshot.paused = true;
    assert_eq!(
        press(&mut app, &snapshot, &[ch('p')]),
        vec![Effect::Send(Command::Resume)]
    );
}

#[test]
fn approve_with_an_edited_size_sends_base_units() {
    let (mut app, snapshot) = setup();
    app.focus = Panel::Opportunities;
    // a opens the size field holding the chosen size (2500); replace it.
    let mut keys = vec![ch('a')];
    keys.extend(std::iter::repeat_n(key(KeyCode::Backspace), 4));
    keys.extend(typed("1234.5"));
    keys.push(key(KeyCode::Enter));
    assert!(
        press(&mut app, &snapshot, &keys).is_empty(),
        "nothing sent before confirming"
    );
    let expected = Command::Approve {
        opportunity: 41,
        size_vcred: Some(1_234_500_000),
    };
    assert_eq!(
        app.popup,
        Some(Popup::Confirm {
            command: expected.clone()
        })
    );
    assert_eq!(
        press(&mut app, &snapshot, &[key(KeyCode::Enter)]),
        vec![Effect::Send(expected)]
    );
    assert_eq!(app.popup, None);
}

#[test]
fn approve_at_the_chosen_size_sends_it_explicitly() {
    let (mut app, snapshot) = setup();
    app.focus = Panel::Opportunities;
    let effects = press(
        &mut app,
        &snapshot,
        &[ch('a'), key(KeyCode::Enter), ch('y')],
    );
    assert_eq!(
        sent(&effects),
        vec![Command::Approve {
            opportunity: 41,
            size_vcred: Some(fixture::vcred(2500))
        }]
    );
}

#[test]
fn esc_cancels_every_popup_and_sends_nothing() {
    for start in ['a', 'f', 's', 'd', 'x', 'i', '/'] {
        let (mut app, snapshot) = setup();
        let effects = press(&mut app, &snapshot, &[ch(start), key(KeyCode::Esc)]);
        assert!(effects.is_empty(), "{start}: {effects:?}");
        assert_eq!(app.popup, None, "{start}");
    }
    // From the confirm step too, with Esc or n.
    for cancel in [key(KeyCode::Esc), ch('n')] {
        let (mut app, snapshot) = setup();
        app.focus = Panel::Opportunities;
        let effects = press(&mut app, &snapshot, &[ch('a'), key(KeyCode::Enter), cancel]);
        assert!(effects.is_empty());
        assert_eq!(app.popup, None);
    }
}

#[test]
fn a_bad_size_is_refused_in_the_field_not_rounded() {
    let (mut app, snapshot) = setup();
    app.focus = Panel::Opportunities;
    let mut keys = vec![ch('a')];
    keys.extend(std::iter::repeat_n(key(KeyCode::Backspace), 4));
    keys.extend(typed("1.0000001"));
    keys.push(key(KeyCode::Enter));
    assert!(press(&mut app, &snapshot, &keys).is_empty());
    match &app.popup {
        Some(Popup::Input {
            field: Field::ApproveSize { opportunity: 41 },
            error: Some(e),
            ..
        }) => {
            assert!(e.contains("more than 6 decimal places"), "{e}")
        }
        other => panic!("expected the size field with an error, got {other:?}"),
    }
    // Zero is refused too.
    let (mut app, snapshot) = setup();
    app.focus = Panel::Opportunities;
    let mut keys = vec![ch('a')];
    keys.extend(std::iter::repeat_n(key(KeyCode::Backspace), 4));
    keys.extend([ch('0'), key(KeyCode::Enter)]);
    press(&mut app, &snapshot, &keys);
    assert!(matches!(
        app.popup,
        Some(Popup::Input { error: Some(_), .. })
    ));
}

#[test]
fn force_and_skip_confirm_then_send_for_the_selected_cycle() {
    let (mut app, snapshot) = setup();
    // c8 is first (open cycles first); j moves to c9.
    assert_eq!(app.selected_cycle, Some(CycleId(8)));
    let effects = press(&mut app, &snapshot, &[ch('f'), ch('y')]);
    assert_eq!(sent(&effects), vec![Command::Force { cycle: CycleId(8) }]);
    let effects = press(
        &mut app,
        &snapshot,
        &[ch('j'), ch('s'), key(KeyCode::Enter)],
    );
    assert_eq!(sent(&effects), vec![Command::Skip { cycle: CycleId(9) }]);
}

#[test]
fn mark_done_asks_for_a_valid_tx_hash() {
    let (mut app, snapshot) = setup();
    let hash = fixture::hash(99);
    let mut keys = vec![ch('d')];
    keys.extend(typed("0x12"));
    keys.push(key(KeyCode::Enter));
    assert!(press(&mut app, &snapshot, &keys).is_empty());
    assert!(
        matches!(app.popup, Some(Popup::Input { error: Some(_), .. })),
        "short hash refused"
    );
    let mut keys: Vec<KeyEvent> = std::iter::repeat_n(key(KeyCode::Backspace), 4).collect();
    keys.extend(typed(&hash));
    keys.extend([key(KeyCode::Enter), key(KeyCode::Enter)]);
    let effects = press(&mut app, &snapshot, &keys);
    assert_eq!(
        sent(&effects),
        vec![Command::MarkDone {
            cycle: CycleId(8),
            tx_hash: hash
        }]
    );
}

#[test]
fn fail_and_import_proof_take_text() {
    let (mut app, snapshot) = setup();
    let mut keys = vec![ch('x')];
    keys.extend(typed("bridge refunded"));
    keys.extend([key(KeyCode::Enter), ch('y')]);
    assert_eq!(
        sent(&press(&mut app, &snapshot, &keys)),
        vec![Command::Fail {
            cycle: CycleId(8),
            reason: "bridge refunded".into()
        }]
    );
    // An empty reason is not accepted.
    press(&mut app, &snapshot, &[ch('x'), key(KeyCode::Enter)]);
    assert!(matches!(
        app.popup,
        Some(Popup::Input { error: Some(_), .. })
    ));
    press(&mut app, &snapshot, &[key(KeyCode::Esc)]);

    let mut keys = vec![ch('i')];
    keys.extend(typed("{\"proof\":1}"));
    keys.extend([key(KeyCode::Enter), key(KeyCode::Enter)]);
    assert_eq!(
        sent(&press(&mut app, &snapshot, &keys)),
        vec![Command::ImportProof {
            cycle: CycleId(8),
            data: "{\"proof\":1}".into()
        }]
    );
}

#[test]
fn typing_p_in_a_field_types_it_and_does_not_pause() {
    let (mut app, snapshot) = setup();
    let effects = press(&mut app, &snapshot, &[ch('x'), ch('p'), ch('q')]);
    assert!(effects.is_empty());
    match &app.popup {
        Some(Popup::Input { text, .. }) => assert_eq!(text, "pq"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn t_toggles_the_selected_tokens_pause() {
    let (mut app, snapshot) = setup();
    app.focus = Panel::Opportunities;
    // #41 is XAUt (not paused) → pause; #43 is ETH (paused) → resume.
    assert_eq!(
        sent(&press(&mut app, &snapshot, &[ch('t')])),
        vec![Command::PauseToken {
            token: TokenId::Xaut
        }]
    );
    assert_eq!(
        sent(&press(&mut app, &snapshot, &[ch('j'), ch('j'), ch('t')])),
        vec![Command::ResumeToken {
            token: TokenId::Eth
        }]
    );
}

#[test]
fn r_rejects_the_selected_opportunity() {
    let (mut app, snapshot) = setup();
    app.focus = Panel::Opportunities;
    let effects = press(&mut app, &snapshot, &[ch('j'), ch('r')]);
    assert_eq!(sent(&effects), vec![Command::Reject { opportunity: 42 }]);
}

#[test]
fn y_copies_the_latest_tx_hash() {
    let (mut app, snapshot) = setup();
    app.selected_cycle = Some(CycleId(7));
    let latest = snapshot.cycles[2]
        .steps
        .last()
        .and_then(|s| s.tx_hash.clone())
        .expect("hash");
    assert_eq!(
        press(&mut app, &snapshot, &[ch('y')]),
        vec![Effect::Copy { text: latest }]
    );
    // c9's last step has no hash yet: its latest hash is the swap's.
    app.selected_cycle = Some(CycleId(9));
    assert!(matches!(
        press(&mut app, &snapshot, &[ch('y')]).as_slice(),
        [Effect::Copy { .. }]
    ));
}

#[test]
fn closed_cycles_refuse_step_commands_with_a_message() {
    let (mut app, snapshot) = setup();
    app.selected_cycle = Some(CycleId(5)); // completed
    for k in ['f', 's', 'd', 'x', 'i'] {
        assert!(press(&mut app, &snapshot, &[ch(k)]).is_empty());
        assert_eq!(app.popup, None, "{k}");
        assert!(
            app.message
                .as_ref()
                .is_some_and(|m| m.text.contains("COMPLETED"))
        );
    }
    // A failed cycle can still be forced (the engine resumes it).
    app.selected_cycle = Some(CycleId(4));
    assert_eq!(
        sent(&press(&mut app, &snapshot, &[ch('f'), ch('y')])),
        vec![Command::Force { cycle: CycleId(4) }]
    );
}

#[test]
fn q_and_ctrl_c_quit_ctrl_c_even_while_typing() {
    let (mut app, snapshot) = setup();
    assert_eq!(press(&mut app, &snapshot, &[ch('q')]), vec![Effect::Quit]);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        press(&mut app, &snapshot, &[ch('x'), ctrl_c]),
        vec![Effect::Quit]
    );
}

#[test]
fn tab_cycles_panels_and_digits_jump() {
    let (mut app, snapshot) = setup();
    assert_eq!(app.focus, Panel::Cycles);
    press(&mut app, &snapshot, &[key(KeyCode::Tab)]);
    assert_eq!(app.focus, Panel::Balances);
    press(
        &mut app,
        &snapshot,
        &[KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)],
    );
    press(
        &mut app,
        &snapshot,
        &[KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)],
    );
    assert_eq!(app.focus, Panel::Opportunities);
    press(&mut app, &snapshot, &[ch('7')]);
    assert_eq!(app.focus, Panel::Log);
    // In the log panel, j drives the log widget, not the cycle selection.
    let before = app.selected_cycle;
    press(&mut app, &snapshot, &[ch('j')]);
    assert_eq!(app.selected_cycle, before);
}

#[test]
fn selection_follows_the_cycle_not_the_row() {
    let (mut app, mut snapshot) = setup();
    press(&mut app, &snapshot, &[ch('j'), ch('j')]);
    assert_eq!(app.selected_cycle, Some(CycleId(7)));
    // c8 completes and leaves the top: the rows shift, the selection stays on c7.
    snapshot.cycles.remove(0);
    snapshot.seq += 1;
    app.on_snapshot(&snapshot);
    assert_eq!(app.selected_cycle, Some(CycleId(7)));
    assert_eq!(app.cycle_position(&snapshot), Some(1));
    // G goes to the last row, g back to the first.
    press(&mut app, &snapshot, &[ch('G')]);
    assert_eq!(app.selected_cycle, Some(CycleId(4)));
    press(&mut app, &snapshot, &[ch('g')]);
    assert_eq!(app.selected_cycle, Some(CycleId(9)));
}

#[test]
fn filter_applies_on_enter_and_esc_clears_it() {
    let (mut app, snapshot) = setup();
    let mut keys = vec![ch('/')];
    keys.extend(typed("stuck"));
    keys.push(key(KeyCode::Enter));
    press(&mut app, &snapshot, &keys);
    assert_eq!(app.filter, "stuck");
    assert_eq!(app.view.cycles.len(), 1);
    assert_eq!(app.selected_cycle, Some(CycleId(8)));
    press(&mut app, &snapshot, &[key(KeyCode::Esc)]);
    assert_eq!(app.filter, "");
    assert_eq!(app.view.cycles.len(), snapshot.cycles.len());
}

#[test]
fn engine_answers_become_the_message_line() {
    let (mut app, _snapshot) = setup();
    app.on_reply("pause all execution", Ok(String::new()));
    assert_eq!(
        app.message.as_ref().map(|m| m.text.as_str()),
        Some("ok: pause all execution")
    );
    app.on_reply(
        "skip the current step of c8",
        Err("c8 has no current step".into()),
    );
    let text = app
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(
        text.starts_with("refused:") && text.contains("no current step"),
        "{text}"
    );
    // Messages fade: ok after 8 s, errors after 30 s.
    app.advance(10_000);
    assert!(app.message.is_some(), "errors stay longer");
    app.advance(25_000);
    assert!(app.message.is_none());
}
