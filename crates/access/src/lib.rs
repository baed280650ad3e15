//! Mesh VPN and zero-trust access: tailnet policy files (ACLs, grants, postures, SSH, tests)
//! evaluated offline as the Tailscale control plane answers, per-device packet filters, access
//! decisions with the deciding rule, and the policy's own tests.
//!
//! Owns: HuJSON parsing (`hujson`), the policy file (`policy`), the nodes file (`nodes`), the
//! compiled tailnet and per-device filters (`tailnet`), tests, `can` and SSH decisions
//! (`check`), batch queries (`query`). Does not own: underlay routing (the `routing` crate),
//! overlay paths over the underlay and real tunnels (later), printing.

pub mod check;
pub mod hujson;
pub mod nodes;
pub mod policy;
pub mod query;
pub mod tailnet;

pub use check::{CanAnswer, SshResult, TestReport, Who};
pub use nodes::{parse_nodes, Device, NodesFile};
pub use policy::{parse_policy, Policy};
pub use tailnet::{Decision, MatrixEntry, NodeFilter, Tailnet};

use nettwin_model::diag::Diagnostics;

/// Why a policy or nodes file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy file: syntax, unknown keys, or something the control plane refuses.
    #[error("{0}")]
    Policy(Diagnostics),
    /// The nodes file.
    #[error("{0}")]
    Nodes(Diagnostics),
    /// A query that cannot be answered (unknown node, malformed destination).
    #[error("{0}")]
    Query(String),
}

/// Loads a policy and a nodes file into a tailnet.
pub fn load(
    policy_file: &str,
    policy: &str,
    nodes_file: &str,
    nodes: &str,
) -> Result<Tailnet, Error> {
    let pol = parse_policy(policy_file, policy).map_err(Error::Policy)?;
    let n = parse_nodes(nodes_file, nodes).map_err(Error::Nodes)?;
    Ok(Tailnet::new(pol, n))
}
