//! Network policy, evaluated offline: Kubernetes `NetworkPolicy`, `AdminNetworkPolicy` and
//! `BaselineAdminNetworkPolicy`, and Calico's tiered `NetworkPolicy`/`GlobalNetworkPolicy`, all
//! combined the way Calico's felix combines them, every verdict with the rule that decided it.
//!
//! Owns: Calico's selector language (`selector`), the cluster model every policy kind is
//! converted into (`cluster`), reading manifests with collected errors (`load`), felix's tiered
//! evaluation with explanations (`eval`), truth tables and probe lists (`matrix`), flows a change opens or closes (`diff`),
//! mistakes evaluation does not show (`lint`).
//! Does not print, probe real sockets or know about the routed topology.

pub mod cluster;
pub mod load;
pub mod selector;

pub use cluster::*;
pub use load::{load, load_str, read_paths, FileErrors, LoadError, LoadOptions, Source};
pub mod eval;

pub use eval::{Cni, Decider, DirVerdict, Engine, EvalOptions, Probe, Step, Verdict};
pub mod diff;
pub mod lint;
pub mod matrix;
