//! Where the devnet's tools and bytecode come from: the project root,
//! anvil from `node_modules`, the npm build artifacts (Uniswap, CoW
//! Protocol) and the
//! project's own contracts compiled by solc-js, cached by source hash.

use alloy::primitives::Bytes;
use anyhow::{Context, anyhow, bail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

/// Where the project's tools live: `ARBKEEP_ROOT`, else the current
/// directory when it has the npm manifest, else the source tree it was built from.
pub fn project_root() -> PathBuf {
    if let Some(root) = std::env::var_os("ARBKEEP_ROOT") {
        return PathBuf::from(root);
    }
    if let Ok(cwd) = std::env::current_dir()
        && cwd.join("package.json").exists()
        && cwd.join("assets/contracts").exists()
    {
        return cwd;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The anvil binary the npm package installed.
pub fn anvil_path(root: &Path) -> anyhow::Result<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => bail!("no anvil npm package for {other}"),
    };
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        other => bail!("no anvil npm package for {other}"),
    };
    let path = root.join(format!(
        "node_modules/@foundry-rs/anvil-{os}-{arch}/bin/anvil"
    ));
    if !path.exists() {
        bail!(
            "anvil is not installed ({} is missing): run `npm ci` in {} (./scripts/test.sh does it)",
            path.display(),
            root.display()
        );
    }
    Ok(path)
}

/// One compiled contract.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub bytecode: Bytes,
}

pub(super) fn hex_bytes(text: &str) -> anyhow::Result<Bytes> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    Bytes::from_str(t).map_err(|e| anyhow!("bad bytecode: {e}"))
}

/// The project's contracts (`assets/contracts/*.sol`), compiled with the
/// pinned solc-js into `target/devnet-contracts/<source hash>.json` once.
pub fn contracts(root: &Path) -> anyhow::Result<HashMap<String, Artifact>> {
    let json = compiled(root)?;
    let mut map = HashMap::new();
    for (name, v) in json.as_object().into_iter().flatten() {
        let code = v["bytecode"].as_str().unwrap_or_default();
        map.insert(
            name.clone(),
            Artifact {
                bytecode: hex_bytes(code)?,
            },
        );
    }
    Ok(map)
}

/// One of the project's contracts' runtime code, as solc compiles it now
/// (for the code that is embedded rather than deployed: `SwapProbe`).
pub fn runtime_code(root: &Path, name: &str) -> anyhow::Result<Bytes> {
    let json = compiled(root)?;
    let code = json[name]["runtime"]
        .as_str()
        .ok_or_else(|| anyhow!("{name} is not among assets/contracts"))?;
    hex_bytes(code)
}

fn compiled(root: &Path) -> anyhow::Result<serde_json::Value> {
    let dir = root.join("assets/contracts");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sol"))
        .collect();
    names.sort();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in &names {
        ctx.update(
            p.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        ctx.update(&std::fs::read(p)?);
    }
    ctx.update(&std::fs::read(root.join("scripts/compile-contracts.mjs"))?);
    let hash = crate::model::intent::hex(ctx.finish().as_ref());
    let out = root.join(format!("target/devnet-contracts/{}.json", &hash[2..18]));
    if !out.exists() {
        if !root.join("node_modules/solc").exists() {
            bail!(
                "solc-js is not installed under {}/node_modules: run `npm ci` there (./scripts/test.sh does it)",
                root.display()
            );
        }
        let status = Command::new("node")
            .arg(root.join("scripts/compile-contracts.mjs"))
            .arg(&out)
            .current_dir(root)
            .stdout(Stdio::null())
            .status()
            .context("running node (needed to compile the devnet contracts)")?;
        if !status.success() {
            bail!("compiling assets/contracts failed ({status})");
        }
    }
    Ok(serde_json::from_slice(&std::fs::read(&out)?)?)
}

/// A contract from an npm package's build artifact (a JSON with the
/// creation code as `bytecode`, or as `evm.bytecode.object`), at `path`
/// under `node_modules/`.
pub(super) fn npm_artifact(root: &Path, path: &str) -> anyhow::Result<Artifact> {
    let file = root.join("node_modules").join(path);
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&file).with_context(|| format!("{} (run `npm ci`)", file.display()))?,
    )?;
    let code = json["bytecode"]
        .as_str()
        .or_else(|| json["evm"]["bytecode"]["object"].as_str())
        .ok_or_else(|| anyhow!("{}: no bytecode", file.display()))?;
    Ok(Artifact {
        bytecode: hex_bytes(code)?,
    })
}

/// A contract from the Uniswap V2 npm build artifacts.
pub(super) fn uniswap_artifact(root: &Path, package: &str, name: &str) -> anyhow::Result<Artifact> {
    npm_artifact(root, &format!("@uniswap/{package}/build/{name}.json"))
}
