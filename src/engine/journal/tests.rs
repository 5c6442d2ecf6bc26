//! The protocol against a scripted venue that counts sends at itself and a
//! record that writes down every transition.

use super::*;
use crate::engine::{Notice, Phase, SendGate};
use crate::model::{Controls, Mode};
use crate::store::Store;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::broadcast;

/// A venue that answers (and shows) what it is told, and counts every send
/// that reached it — the acts, whatever the answer said.
#[derive(Default)]
struct Venue {
    answers: Mutex<VecDeque<Answer<u32>>>,
    sightings: Mutex<VecDeque<Sighting<u32>>>,
    sends: AtomicU32,
    looks: AtomicU32,
    /// Its name in the process-wide send tally ("scripted venue" if empty).
    name: &'static str,
}

impl Venue {
    fn answering(answers: Vec<Answer<u32>>, sightings: Vec<Sighting<u32>>) -> Self {
        Venue {
            answers: Mutex::new(answers.into()),
            sightings: Mutex::new(sightings.into()),
            ..Venue::default()
        }
    }
    fn sends(&self) -> u32 {
        self.sends.load(Ordering::SeqCst)
    }
}

impl SendPath for Venue {
    type Receipt = u32;
    fn venue(&self) -> &str {
        if self.name.is_empty() {
            "scripted venue"
        } else {
            self.name
        }
    }
    fn send(&self) -> BoxFuture<'_, Answer<u32>> {
        Box::pin(async move {
            self.sends.fetch_add(1, Ordering::SeqCst);
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("a send the test did not script")
        })
    }
    fn look(&self) -> BoxFuture<'_, Sighting<u32>> {
        Box::pin(async move {
            self.looks.fetch_add(1, Ordering::SeqCst);
            self.sightings
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Sighting::NotSeen)
        })
    }
    fn invisible_for(&self) -> u64 {
        600_000
    }
}

#[derive(Default)]
struct Record {
    log: Vec<String>,
}

impl IntentRecord for Record {
    type Receipt = u32;
    fn sending(&mut self, _: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.log.push("sending".into());
        Ok(())
    }
    fn done(&mut self, _: &KeeperContext<'_>, r: &u32, via: Via) -> Result<(), EngineError> {
        self.log.push(format!("done {r} {via:?}"));
        Ok(())
    }
    fn refused(&mut self, _: &KeeperContext<'_>, why: &str) -> Result<(), EngineError> {
        self.log.push(format!("refused {why}"));
        Ok(())
    }
    fn not_sent(&mut self, _: &KeeperContext<'_>, why: &str) -> Result<(), EngineError> {
        self.log.push(format!("not sent {why}"));
        Ok(())
    }
    fn unknown(&mut self, _: &KeeperContext<'_>, why: &str, until: u64) -> Result<(), EngineError> {
        self.log.push(format!("unknown {why} until {until}"));
        Ok(())
    }
    fn still_unknown(
        &mut self,
        _: &KeeperContext<'_>,
        note: Option<&str>,
    ) -> Result<(), EngineError> {
        self.log.push(format!("still unknown {note:?}"));
        Ok(())
    }
    fn window_passed(&mut self, _: &KeeperContext<'_>, why: &str) -> Result<(), EngineError> {
        self.log.push(format!("window passed: {why}"));
        Ok(())
    }
    fn send_again(&mut self, _: &KeeperContext<'_>) -> Result<(), EngineError> {
        self.log.push("send again".into());
        Ok(())
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    gate: SendGate,
    notices: broadcast::Sender<Notice>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Mode::Paper).unwrap();
        World {
            _dir: dir,
            store,
            gate: SendGate::default(),
            notices: broadcast::channel(4).0,
        }
    }
    fn pause(&self, paused: bool) {
        self.gate.set(&Controls {
            paused,
            ..Controls::default()
        });
    }
    fn cx(&self, now: u64) -> KeeperContext<'_> {
        KeeperContext {
            store: &self.store,
            now,
            phase: Phase::Running,
            gate: &self.gate,
            notices: &self.notices,
        }
    }
}

#[test]
fn answers_are_classified_once_from_the_venues_errors() {
    assert_eq!(Answer::of(Ok::<u32, VenueError>(3)), Answer::Done(3));
    assert_eq!(
        Answer::<u32>::of(Err(VenueError::Rejected("no".into()))),
        Answer::Refused("no".into())
    );
    assert_eq!(
        Answer::<u32>::of(Err(VenueError::Transient("refused to connect".into()))),
        Answer::NotSent("refused to connect".into())
    );
    assert_eq!(
        Answer::<u32>::of(Err(VenueError::Unknown("reset".into()))),
        Answer::Unknown("reset".into())
    );
}

#[tokio::test]
async fn a_closed_gate_sends_and_records_nothing() {
    let w = World::new();
    w.pause(true);
    let venue = Venue::answering(vec![], vec![]);
    let mut record = Record::default();
    let sent = send(&w.cx(1), &venue, &mut record).await.unwrap();
    assert_eq!(sent, Sent::Held);
    assert_eq!(venue.sends(), 0);
    assert!(record.log.is_empty(), "{:?}", record.log);
}

#[tokio::test]
async fn the_intent_is_recorded_before_the_send_and_the_answer_after() {
    let w = World::new();
    let venue = Venue::answering(vec![Answer::Done(7)], vec![]);
    let mut record = Record::default();
    assert_eq!(
        send(&w.cx(1), &venue, &mut record).await.unwrap(),
        Sent::Done
    );
    assert_eq!(record.log, vec!["sending", "done 7 Answer"]);
    assert_eq!(venue.sends(), 1);
}

/// Every send that left is counted once under its venue and outcome (the
/// tally is process-wide: this venue's name is this test's own); a held
/// send and a look are not sends.
#[tokio::test]
async fn each_send_that_left_is_counted_by_venue_and_outcome() {
    let w = World::new();
    let tally = SendTally::global();
    let venue = Venue {
        name: "tally test venue",
        ..Venue::answering(
            vec![
                Answer::Done(1),
                Answer::Refused("no".into()),
                Answer::NotSent("offline".into()),
                Answer::Unknown("reset".into()),
                Answer::Done(2),
            ],
            vec![Sighting::NotSeen],
        )
    };
    for _ in 0..5 {
        send(&w.cx(1), &venue, &mut Record::default())
            .await
            .unwrap();
    }
    look(
        &w.cx(2),
        &venue,
        &mut Record::default(),
        10,
        AfterWindow::Operator,
    )
    .await
    .unwrap();
    w.pause(true);
    assert_eq!(
        send(&w.cx(3), &venue, &mut Record::default())
            .await
            .unwrap(),
        Sent::Held
    );
    let counts = tally.read()["tally test venue"];
    assert_eq!(counts, [2, 1, 1, 1], "done, refused, not_sent, unknown");
}

/// The peer acted and the answer never came: looked for, never sent again
/// inside the window, found once it lists; one send at the venue.
#[tokio::test]
async fn a_lost_answer_is_looked_for_over_the_window_and_never_sent_again() {
    let w = World::new();
    let venue = Venue::answering(
        vec![Answer::Unknown("reset after the request went out".into())],
        vec![
            Sighting::NotSeen,
            Sighting::CannotLook("503".into()),
            Sighting::Found(9),
        ],
    );
    let mut record = Record::default();
    let sent = send(&w.cx(1_000), &venue, &mut record).await.unwrap();
    assert_eq!(
        sent,
        Sent::Unknown {
            look_until: 601_000
        }
    );
    for now in [2_000, 3_000, 4_000] {
        let looked = look(
            &w.cx(now),
            &venue,
            &mut record,
            601_000,
            AfterWindow::SendAgain,
        )
        .await
        .unwrap();
        assert_eq!(looked == Looked::Done, now == 4_000);
    }
    assert_eq!(venue.sends(), 1, "the listing lag never made it send again");
    assert_eq!(
        record.log,
        vec![
            "sending",
            "unknown reset after the request went out until 601000",
            "still unknown None",
            "still unknown Some(\"cannot look: 503\")",
            "done 9 Look",
        ]
    );
}

#[tokio::test]
async fn past_the_window_an_unseen_send_is_the_operators_unless_opted_in() {
    let w = World::new();
    let venue = Venue::answering(vec![Answer::Unknown("timeout".into())], vec![]);
    let mut record = Record::default();
    send(&w.cx(0), &venue, &mut record).await.unwrap();
    let looked = look(
        &w.cx(600_000),
        &venue,
        &mut record,
        600_000,
        AfterWindow::Operator,
    )
    .await
    .unwrap();
    assert_eq!(looked, Looked::Operator);
    assert_eq!(venue.sends(), 1);
    assert_eq!(
        record.log.last().unwrap(),
        "window passed: not seen within the window"
    );

    // Opted in: sent again once, and only while the gate is open.
    let venue = Venue::answering(
        vec![Answer::Unknown("timeout".into()), Answer::Done(4)],
        vec![],
    );
    let mut record = Record::default();
    send(&w.cx(0), &venue, &mut record).await.unwrap();
    w.pause(true);
    let held = look(
        &w.cx(700_000),
        &venue,
        &mut record,
        600_000,
        AfterWindow::SendAgain,
    )
    .await
    .unwrap();
    assert_eq!(held, Looked::Looking);
    assert_eq!(venue.sends(), 1, "paused: nothing sent again");
    w.pause(false);
    let again = look(
        &w.cx(700_000),
        &venue,
        &mut record,
        600_000,
        AfterWindow::SendAgain,
    )
    .await
    .unwrap();
    assert_eq!(again, Looked::SentAgain(Sent::Done));
    assert_eq!(venue.sends(), 2);
    assert_eq!(
        &record.log[record.log.len() - 3..],
        ["send again", "sending", "done 4 Answer"]
    );
}

#[tokio::test]
async fn a_send_proven_absent_is_closed_as_refused_without_sending() {
    let w = World::new();
    let venue = Venue::answering(
        vec![Answer::Unknown("cut body".into())],
        vec![Sighting::Absent("expired unapplied".into())],
    );
    let mut record = Record::default();
    send(&w.cx(0), &venue, &mut record).await.unwrap();
    let looked = look(
        &w.cx(1),
        &venue,
        &mut record,
        600_000,
        AfterWindow::SendAgain,
    )
    .await
    .unwrap();
    assert_eq!(looked, Looked::Absent);
    assert_eq!(venue.sends(), 1);
    assert_eq!(record.log.last().unwrap(), "refused expired unapplied");
}

#[tokio::test]
async fn refused_and_not_sent_are_recorded_as_such() {
    let w = World::new();
    let venue = Venue::answering(
        vec![
            Answer::Refused("insufficient buying power".into()),
            Answer::NotSent("connection refused".into()),
        ],
        vec![],
    );
    let mut record = Record::default();
    assert_eq!(
        send(&w.cx(0), &venue, &mut record).await.unwrap(),
        Sent::Refused
    );
    assert_eq!(
        send(&w.cx(0), &venue, &mut record).await.unwrap(),
        Sent::NotSent
    );
    assert_eq!(
        record.log,
        vec![
            "sending",
            "refused insufficient buying power",
            "sending",
            "not sent connection refused"
        ]
    );
}

#[tokio::test]
async fn a_send_the_venue_cannot_prove_either_way_is_the_operators() {
    let w = World::new();
    let venue = Venue::answering(
        vec![Answer::Unknown("reset".into())],
        vec![Sighting::Unprovable("older than the history".into())],
    );
    let mut record = Record::default();
    send(&w.cx(0), &venue, &mut record).await.unwrap();
    let looked = look(
        &w.cx(1),
        &venue,
        &mut record,
        u64::MAX,
        AfterWindow::SendAgain,
    )
    .await
    .unwrap();
    assert_eq!(looked, Looked::Operator);
    assert_eq!(venue.sends(), 1, "never sent again, even opted in");
    assert_eq!(
        record.log.last().unwrap(),
        "window passed: older than the history"
    );
}
