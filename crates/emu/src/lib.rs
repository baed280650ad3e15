//! Emulation for nettwin: the topology built for real in Linux network namespaces, so the twin
//! can be checked against the kernel and FRR.
//!
//! Owns turning a resolved [`Topology`] into namespaces, veth pairs, Linux bridges, addresses,
//! MTUs and sysctls ([`up`]), the state file that lets [`down`] remove exactly what a run made
//! even after a crash ([`state`]), the two control planes ([`kernel`] installs the twin's FIBs as
//! kernel routes, [`frr`] writes FRR configurations and runs the daemons), reading the real
//! routing tables back and comparing them with the twin's ([`compare`]), and probing the real
//! data plane with `ping`/`traceroute` ([`probe`]). [`verify`] strings them together.
//!
//! It drives `ip`, `sysctl`, the FRR daemons and `vtysh` as subprocesses; it needs root. It does
//! not compute routes (that is `nettwin-routing`) or forward packets itself (`nettwin-dataplane`
//! says what should happen; the kernel says what does), and it prints nothing.

pub mod compare;
pub mod converge;
pub mod frr;
pub mod kernel;
pub mod mpls;
pub mod plan;
pub mod probe;
pub mod state;
pub mod sys;
pub mod up;
pub mod verify;
pub mod vlan;

pub use compare::{Diff, NodeReport, RealRoute};
pub use state::RunState;
pub use up::{down, down_all, exec, list, up, UpOptions};
pub use verify::{verify, VerifyOptions, VerifyReport};

use nettwin_model::Topology;

/// Which control plane fills the routing tables of an emulated network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoutesMode {
    /// Only connected routes (what the kernel makes from the addresses).
    None,
    /// The twin's FIB of every node, installed as kernel routes.
    Static,
    /// FRR daemons configured from the model, routes as they converge.
    Frr,
}

impl RoutesMode {
    pub fn name(self) -> &'static str {
        match self {
            RoutesMode::None => "none",
            RoutesMode::Static => "static",
            RoutesMode::Frr => "frr",
        }
    }
}

/// Why an emulation step failed.
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error("nettwin emu needs root: it creates network namespaces, veth pairs and bridges (run it with sudo)")]
    NotRoot,
    #[error("cannot run `{program}`: {source} (install it: scripts/emu-deps.sh installs iproute2, frr, iputils-ping and traceroute)")]
    Missing {
        program: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed (exit {status}): {stderr}")]
    Command {
        command: String,
        status: i32,
        stderr: String,
    },
    /// The topology cannot be emulated safely or at all (addresses outside the test ranges,
    /// interface names the kernel refuses, ...).
    #[error("{0}")]
    Unsupported(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("state file {path}: {message}")]
    State { path: String, message: String },
    #[error("no emulation run `{0}` (see `nettwin emu list`)")]
    UnknownRun(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error("no node `{node}` in run `{run}`")]
    UnknownNode { run: String, node: String },
    #[error(
        "run `{0}` already exists; pick another --name or remove it with `nettwin emu down {0}`"
    )]
    RunExists(String),
    #[error("invalid run name `{0}`: use 1 to 8 lowercase letters and digits")]
    BadRunName(String),
    #[error(transparent)]
    Routing(#[from] nettwin_routing::RoutingError),
    #[error("{0}")]
    Timeout(String),
    #[error("FRR did not converge within {seconds} s: {detail}")]
    NotConverged { seconds: u64, detail: String },
    #[error("unexpected output from `{command}`: {message}")]
    Parse { command: String, message: String },
    #[error("missing programs: {}; scripts/emu-deps.sh installs them (as root)", .0.join(", "))]
    MissingTools(Vec<String>),
    #[error("interrupted")]
    Interrupted,
}

/// Fails with [`EmuError::NotRoot`] unless the process runs as root.
pub fn require_root() -> Result<(), EmuError> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user: no libc needed to ask for the euid.
    match std::fs::metadata("/proc/self") {
        Ok(m) if m.uid() == 0 => Ok(()),
        _ => Err(EmuError::NotRoot),
    }
}

/// Whether this process runs as root (for tests that must skip otherwise).
pub fn is_root() -> bool {
    require_root().is_ok()
}

/// The topology with operational interface state (a cable shut at one end is down at both).
pub fn operational(topo: &Topology) -> Result<Topology, EmuError> {
    Ok(nettwin_routing::whatif::apply(topo, &[])?)
}
