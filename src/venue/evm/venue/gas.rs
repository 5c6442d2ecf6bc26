//! Gas units the planner prices each kind of step with (`fees`, the
//! `FeeSchedule`): a step's whole cost, every transaction of it (the
//! approve its call needs with the exact allowances of the default
//! `unlimited_approvals = false`, then the call).
//!
//! Each figure is the most a step of its kind used on the devnet's real
//! bytecode (`devnet_e2e`, which fails when a step uses more than its kind
//! is priced at, and prints every step's gas), with a margin for what the
//! devnet does not have that mainnet does, said at each. Gas only: Hemi's
//! L1 data fee, an OP Stack chain's charge beside gas, is priced apart
//! (`l1_fee`) and added per transaction.

use crate::model::{Route, StepKind};

/// A swap on either chain, approve included. Measured, most of any swap:
/// 195 640 (the close on Hemi: VCRED approve 55 557 + SushiSwap V2 swap
/// 140 083); Hemi's SushiSwap V3 188 991 (approve 46 162 + swap 142 829),
/// Hemi's V2 fallback 194 316 (46 162 + 148 154), Ethereum's Uniswap V3
/// 181 082 (46 150 + 134 932; ETH in needs no approve: 144 120) and V2
/// 189 628 (46 138 + 143 490). Margin to 250 000: a V2 pair's oracle writes
/// of empty slots make its swap up to 148 278 (`v2::ORACLE_GAS`, `GasHint`
/// in txmgr.rs), 203 835 with VCRED's approve; a mainnet V3 swap crosses
/// initialized ticks (each a cold tick read and write) where the devnet's
/// full-range pools cross none; mainnet USDC is behind a proxy. A 0x route
/// can cost more: its own quoted gas is what choosing among providers nets.
pub const SWAP_GAS: u128 = 250_000;

/// A Stargate V2 send out of Hemi (ETH, the native pool: no approve), or
/// hemiBTC's by its own OFT adapter (with its approve). Measured 328 764
/// (`StargatePoolNative.send` over EndpointV2 and `SendUln302`, which
/// assigns the job to the executor and to each of the three required DVNs
/// mainnet's Stargate paths have, each priced through its fee lib and the
/// price feed; with one DVN it was 259 434, through `SimpleMessageLib`
/// 153 520) and 327 141 for hemiBTC (approve 46 150 + `OFTAdapter.send`
/// 280 991). Margin to 420 000: mainnet's DVNs are other operators' with
/// their own fee libraries (the devnet's three share the package's), each
/// a cold call that may cost more than the ~35 000 one costs here.
pub const STARGATE_SEND_GAS: u128 = 420_000;

/// A Stargate V2 send out of Ethereum (USDC back, `StargatePoolUSDC`):
/// its approve makes it cost materially more than Hemi's native send.
/// Measured 372 057 (the approve 46 162 and the send over `SendUln302` to
/// three DVNs and the executor; with one DVN 297 927). Margin to 460 000:
/// the same as `STARGATE_SEND_GAS`, and mainnet USDC's approve and
/// `transferFrom` run through its proxy.
pub const STARGATE_SEND_GAS_ETHEREUM: u128 = 460_000;

/// The tunnel's initiation on Hemi: `L2StandardBridge.withdraw` of an
/// OptimismMintableERC20 (burned, no approve). Measured 158 011 (WBTC, the
/// devnet's first withdrawal, whose messenger and message passer nonces
/// are written from zero) and 123 811 (XAUt, the next). Margin to 180 000
/// over the first: a token of Hemi's mainnet whose burn costs more than the
/// factory's OptimismMintableERC20.
pub const TUNNEL_INITIATE_GAS: u128 = 180_000;

/// `OptimismPortal.proveWithdrawalTransaction` (legacy, against the
/// L2OutputOracle) on Ethereum. Measured 176 132 to 176 711 with storage
/// proofs of 2 nodes (118 to 150 bytes) and 217 987 with one of 4 nodes
/// (235 bytes): about 21 000 gas a node, each hashed and decoded. Margin
/// to 400 000: mainnet's message passer holds every withdrawal Hemi ever
/// made, so its proofs run 6 to 8 nodes, several of them full 532-byte
/// branches: 176 000 + 6 × 21 000 is 302 000 before the longer nodes'
/// calldata and decoding.
pub const PROVE_GAS: u128 = 400_000;

/// `OptimismPortal.finalizeWithdrawalTransaction` on Ethereum: the relay
/// through L1CrossDomainMessenger and L1StandardBridge to the token's
/// transfer. Measured 230 086 (XAUt) and 230 062 (WBTC), each to a wallet
/// holding none (a fresh balance slot). Margin to 260 000: mainnet's tokens
/// may sit behind a proxy (XAUt's does) where the devnet's are plain.
pub const FINALIZE_GAS: u128 = 260_000;

/// The gas units one step of `step` on `route` is priced with.
pub fn priced(step: StepKind, route: Route) -> u128 {
    match step {
        StepKind::HemiSwap | StepKind::EthSwap | StepKind::CloseSwap => SWAP_GAS,
        StepKind::BridgeOut => match route {
            Route::Stargate => STARGATE_SEND_GAS,
            Route::HemiTunnel => TUNNEL_INITIATE_GAS,
        },
        StepKind::Prove => PROVE_GAS,
        StepKind::Finalize => FINALIZE_GAS,
        StepKind::BridgeBack => STARGATE_SEND_GAS_ETHEREUM,
    }
}
