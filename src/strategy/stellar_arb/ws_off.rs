//! The seed's two WebSocket commands when `stellar_arb` is off: a frontend
//! written for the seed still gets the seed's `{"error":"…"}` shape, saying
//! that Stellar is not enabled and how to enable it, rather than the control
//! API's generic "unknown message type".

use crate::engine::EngineHandle;
use crate::engine::extension::{Access, ControlExtension, ExtensionReply, Outbox};
use serde_json::{Value, json};

/// The seed's commands this answers.
pub const SEED_COMMANDS: [&str; 2] = ["get_supported_assets", "start_engine"];

/// Claims the seed's commands and answers that Stellar is off. Open access:
/// it changes nothing and tells nothing beyond the config's one switch.
#[derive(Debug, Default)]
pub struct StellarOff;

/// What the frontend is told.
pub fn not_enabled(command: &str) -> Value {
    json!({"error": format!(
        "{command}: Stellar arbitrage is not enabled in this run (set enabled = true in [stellar_arb] and restart)"
    )})
}

impl ControlExtension for StellarOff {
    fn name(&self) -> &str {
        "stellar (off)"
    }

    fn claim(&self, message: &Value) -> Option<Access> {
        let command = message.get("command").and_then(Value::as_str)?;
        SEED_COMMANDS.contains(&command).then_some(Access::Open)
    }

    fn handle(&self, message: Value, _outbox: Outbox, _engine: EngineHandle) -> ExtensionReply {
        let command = message
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Box::pin(async move { not_enabled(&command) })
    }
}
