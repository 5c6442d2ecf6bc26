//! One anvil node on loopback (killed when dropped), and the signing
//! provider and mined-send helpers every deploy uses.

use super::*;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, anyhow, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// A running anvil node, killed when dropped.
pub struct Anvil {
    child: Child,
    pub chain_id: u64,
    pub port: u16,
}

impl Anvil {
    /// Start anvil on a free loopback port.
    pub fn start(root: &Path, chain_id: u64, block_time: &str) -> anyhow::Result<Anvil> {
        let mut cmd = Command::new(anvil_path(root)?);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            // The signal follows the spawning thread: start anvil from a thread
            // that lives as long as the devnet (a runtime worker or main).
            unsafe {
                cmd.pre_exec(|| {
                    // Die with whoever started us, even on SIGKILL.
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--chain-id", &chain_id.to_string()])
            .args(["--block-time", block_time])
            .args(["--accounts", "4"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting anvil")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("anvil has no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.trim().strip_prefix("Listening on ") {
                    let _ = tx.send(rest.to_string());
                    sent = true;
                }
                // Keep draining so anvil never blocks on a full pipe.
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("anvil did not start listening within 20 s");
            }
        };
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| anyhow!("cannot read anvil's port from {addr:?}"))?;
        Ok(Anvil {
            child,
            chain_id,
            port,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A provider that signs with `key` (nonces and fees filled by alloy).
pub fn signing_provider(url: &str, key: &str) -> anyhow::Result<DynProvider> {
    crate::net::ensure_crypto_provider();
    let signer = PrivateKeySigner::from_str(key).map_err(|_| anyhow!("bad dev key"))?;
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse()?)
        .erased())
}

/// A view call on a devnet node, decoded.
pub(crate) async fn read<C: alloy::sol_types::SolCall>(
    p: &DynProvider,
    to: alloy::primitives::Address,
    c: C,
) -> anyhow::Result<C::Return> {
    let out = p
        .call(
            TransactionRequest::default()
                .with_to(to)
                .with_input(alloy::primitives::Bytes::from(c.abi_encode())),
        )
        .await?;
    Ok(C::abi_decode_returns(&out)?)
}

/// Send one transaction and mine it at once (`evm_mine`), for set-up.
pub async fn send_mined(
    p: &DynProvider,
    tx: TransactionRequest,
) -> anyhow::Result<TransactionReceipt> {
    let tx = if tx.gas.is_none() {
        tx.with_gas_limit(6_000_000)
    } else {
        tx
    };
    let pending = p.send_transaction(tx).await?;
    let hash = *pending.tx_hash();
    let started = Instant::now();
    loop {
        let _: String = p.raw_request("evm_mine".into(), ()).await?;
        if let Some(r) = p.get_transaction_receipt(hash).await? {
            if !r.status() {
                bail!("set-up transaction {hash} reverted");
            }
            return Ok(r);
        }
        if started.elapsed() > Duration::from_secs(20) {
            bail!("set-up transaction {hash} was not mined");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
