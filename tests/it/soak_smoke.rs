//! The soak in small (`cargo bench --bench soak` does 200 kills): the real
//! binary in paper mode with all three strategies on and a high seeded
//! fault rate, SIGKILLed a few times; after each kill nothing was acted
//! twice at the paper venues and every unit is explained by the books
//! (hedge orders by hedge records too); then it drains by itself with
//! nothing left unsettled.

#[path = "../../benches/soak/books.rs"]
mod books;
#[path = "../../benches/soak/run.rs"]
mod run;

use std::time::Duration;

const KILLS: usize = 4;

#[test]
fn a_few_kills_under_seeded_faults_send_nothing_twice_and_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("config.toml"),
        run::config(6 * run::FAULTS_PER_MILLE),
    )
    .unwrap();
    let mut dice = run::Dice(0x50AC_0000_0000_0001);
    let mut acted = [0; 3];
    for round in 0..KILLS {
        let mut child = run::arbkeep(dir).spawn().expect("arbkeep starts");
        std::thread::sleep(Duration::from_millis(1_500 + dice.below(1_000)));
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "round {round}: arbkeep exited early"
        );
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let found = books::look(&dir.join("data"), run::WORLD_SEED).expect("the stores read");
        assert!(
            found.duplicate_sends.is_empty(),
            "round {round}: {:?}",
            found.duplicate_sends
        );
        assert!(
            found.lost_units.is_empty(),
            "round {round}: {:?}",
            found.lost_units
        );
        acted = found.acted;
    }
    // The faults stop and the binary drains by itself: nothing is left
    // unsettled, nothing was sent twice, every unit is explained.
    run::drain(dir, Duration::from_secs(120)).expect("the binary drains");
    let data = dir.join("data");
    let left = books::unsettled(&data).expect("the stores read");
    assert!(left.stuck.is_empty(), "unsettled after the drain: {left:?}");
    let found = books::look(&data, run::WORLD_SEED).expect("the stores read");
    assert!(
        found.duplicate_sends.is_empty(),
        "{:?}",
        found.duplicate_sends
    );
    assert!(found.lost_units.is_empty(), "{:?}", found.lost_units);
    assert!(
        acted.iter().all(|n| *n > 0),
        "every paper venue acted: {acted:?}"
    );
    let diag = std::fs::read_to_string(dir.join("data/logs/diag.jsonl")).unwrap_or_default();
    assert!(diag.contains("paper fault"), "the seeded faults fired");
}
