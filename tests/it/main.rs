//! Every integration test in one binary (one link of alloy instead of one
//! per file), each file a module. Two stay their own binaries, because
//! each installs the process-wide log subscriber at TRACE, which would
//! capture every other test's logs: `tests/schwab.rs` (its secret scan) and
//! `tests/control_logging.rs` (the control token never in `diag.jsonl`).

mod common;
mod devnet_common;
#[path = "../schwab_login/mod.rs"]
mod schwab_login;
mod support;

mod alpaca_broker;
mod alpaca_fractional;
mod cli_control;
mod control_api;
mod control_hostile;
mod crash;
mod devnet_config;
mod devnet_cow;
mod devnet_cowswap;
mod devnet_crash;
mod devnet_cycle_providers;
mod devnet_deployment;
mod devnet_e2e;
mod devnet_hedge;
mod devnet_hostile;
mod devnet_ingest;
mod devnet_l1_fee;
mod devnet_live;
mod devnet_lzscan;
mod devnet_onedelta;
mod devnet_op_bridge;
mod devnet_op_portal;
mod devnet_preflight;
mod devnet_providers;
mod devnet_stall;
mod devnet_stargate_send;
mod devnet_stargate_uln302;
mod devnet_stargate_v2;
mod devnet_swap;
mod devnet_tunnel_proof;
mod devnet_tunnel_route;
mod devnet_zerox;
mod doctor;
mod engine_commands;
mod engine_risk;
mod engine_stop;
mod engine_wake;
mod export;
mod fuzz_decoders;
mod hedge_paper;
mod hedge_ui;
mod kill_switch;
mod layering;
mod loop_bridge_note;
mod loop_keeper;
mod metrics;
mod money_ledger;
mod notify_webhooks;
mod paper_e2e;
mod paper_faults;
mod rpc_redaction;
mod schwab_cli;
mod snapshot_redaction;
mod soak_smoke;
mod stellar_e2e;
mod stellar_fee_bump;
mod stellar_live;
mod stellar_path_check;
mod stellar_pools;
mod stellar_signing;
mod stellar_stream;
mod stellar_ws;
mod tmux_smoke;
mod ui_reducer;
mod ui_render;
mod watchdog;
