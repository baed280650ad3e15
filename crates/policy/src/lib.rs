//! Network policy, evaluated offline: Kubernetes `NetworkPolicy`, `AdminNetworkPolicy` and
//! `BaselineAdminNetworkPolicy`, and Calico's tiered `NetworkPolicy`/`GlobalNetworkPolicy`, all
//! combined the way Calico's felix combines them, every verdict with the rule that decided it.
//!
//! Owns: Calico's selector language (`selector`). Does not print, probe real sockets or know
//! about the routed topology.

pub mod selector;
