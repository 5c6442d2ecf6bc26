//! Logging in to the fake Schwab as a person would: the login prints the
//! authorize URL, the "person" opens it at the fake and pastes back the
//! address the browser landed on. Shared by the Schwab and devnet tests.

use arbkeep::fakes::schwab::FakeSchwab;
use arbkeep::model::ManualClock;
use arbkeep::venue::schwab::{EncryptionKey, SchwabConfig, login_interactive};
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The `ENCRYPTION_KEY` the tests seal tokens with.
pub const KEY: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

pub fn key() -> EncryptionKey {
    EncryptionKey::from_hex(KEY).unwrap()
}

/// A writer shared with the "browser".
#[derive(Clone, Default)]
pub struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The person at the keyboard: reads the printed URL, logs in at the fake,
/// pastes the address the browser landed on.
pub struct Person<'a> {
    pub screen: Screen,
    pub fake: &'a FakeSchwab,
    pub pasted: Option<std::io::Cursor<Vec<u8>>>,
    /// How long the person takes to paste, on the fake's clock.
    pub dawdle: Option<(Arc<ManualClock>, u64)>,
}

impl Person<'_> {
    fn paste(&mut self) -> &mut std::io::Cursor<Vec<u8>> {
        if self.pasted.is_none() {
            let text = self.screen.text();
            let url = text
                .split_whitespace()
                .find(|w| w.contains("/v1/oauth/authorize?"))
                .expect("the authorize URL is printed");
            let landed = self
                .fake
                .approve_login(url)
                .expect("the fake accepts the login");
            if let Some((clock, ms)) = &self.dawdle {
                clock.advance(*ms);
            }
            self.pasted = Some(std::io::Cursor::new(format!("{landed}\n").into_bytes()));
        }
        self.pasted.as_mut().unwrap()
    }
}

impl Read for Person<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.paste().read(buf)
    }
}

impl BufRead for Person<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.paste().fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.paste().consume(n)
    }
}

/// Log in promptly; returns what the login printed.
pub async fn log_in(
    fake: &FakeSchwab,
    config: &SchwabConfig,
    dir: &Path,
    clock: Arc<ManualClock>,
) -> String {
    let screen = Screen::default();
    let mut person = Person {
        screen: screen.clone(),
        fake,
        pasted: None,
        dawdle: None,
    };
    let mut out = screen.clone();
    login_interactive(
        config,
        FakeSchwab::secrets(&key()),
        dir,
        clock,
        &mut person,
        &mut out,
    )
    .await
    .expect("login");
    screen.text()
}
