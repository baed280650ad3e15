//! The mapping between model interface names and IOS names.
//!
//! The model names interfaces `eth1`, `eth2`, ...; IOS parsers expect `GigabitEthernet0/1`.
//! The CLI shows `ethN` as `GigabitEthernet0/N` (`Gi0/N` in short columns) and accepts any
//! unique prefix of `GigabitEthernet` followed by `0/N`, with or without a space
//! (`gi0/1`, `g 0/1`, `GigabitEthernet0/1`). The node's loopback is `Loopback0`. Any other model
//! name (`vlan10`) is shown and accepted as it is, case-insensitively.

use nettwin_model::Node;

/// The name the CLI's routes use for a node's loopback.
pub const LOOPBACK_MODEL_NAME: &str = "Loopback0";

const GIG: &str = "GigabitEthernet";

fn eth_index(model: &str) -> Option<u32> {
    let digits = model.strip_prefix("eth")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `eth1` -> `GigabitEthernet0/1`; other names unchanged.
pub fn display_name(model: &str) -> String {
    match eth_index(model) {
        Some(n) => format!("{GIG}0/{n}"),
        None => model.to_string(),
    }
}

/// `eth1` -> `Gi0/1`, `Loopback0` -> `Lo0`; other names unchanged.
pub fn short_name(model: &str) -> String {
    match eth_index(model) {
        Some(n) => format!("Gi0/{n}"),
        None if model == LOOPBACK_MODEL_NAME => "Lo0".to_string(),
        None => model.to_string(),
    }
}

/// What an interface name typed at the CLI refers to on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfTarget {
    /// Index into the node's interfaces.
    Interface(u32),
    Loopback,
}

/// Resolves a typed interface name (`gi0/1`, `GigabitEthernet0/1`, `lo0`, `vlan10`).
pub fn resolve(node: &Node, typed: &str) -> Option<IfTarget> {
    let typed = typed.trim();
    let split = typed
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(typed.len());
    let (word, rest) = typed.split_at(split);
    let word = word.trim();
    let rest = rest.trim();
    let is_prefix_of = |full: &str| {
        !word.is_empty()
            && full
                .to_ascii_lowercase()
                .starts_with(&word.to_ascii_lowercase())
    };
    if is_prefix_of(GIG) {
        if let Some(n) = rest.strip_prefix("0/") {
            if let Ok(n) = n.parse::<u32>() {
                let model = format!("eth{n}");
                return node.interface(&model).map(|(i, _)| IfTarget::Interface(i));
            }
        }
    }
    if is_prefix_of("Loopback") && rest == "0" {
        return Some(IfTarget::Loopback);
    }
    node.interfaces
        .iter()
        .position(|i| i.name.eq_ignore_ascii_case(typed))
        .map(|i| IfTarget::Interface(i as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(display_name("eth1"), "GigabitEthernet0/1");
        assert_eq!(display_name("eth12"), "GigabitEthernet0/12");
        assert_eq!(display_name("vlan10"), "vlan10");
        assert_eq!(display_name("ethx"), "ethx");
        assert_eq!(short_name("eth3"), "Gi0/3");
        assert_eq!(short_name(LOOPBACK_MODEL_NAME), "Lo0");
    }

    #[test]
    fn resolves_abbreviations() {
        let topo = nettwin_model::load_str(
            "t.yml",
            "nodes:\n  r1: {loopback: 198.18.0.1/32}\n  r2: {}\nlinks:\n  - [r1, r2]\n  - {r1: {ifname: vlan10}, r2: {}}\n",
        )
        .expect("topology loads");
        let r1 = topo.node_by_name("r1").unwrap();
        for typed in ["gi0/1", "g0/1", "GigabitEthernet0/1", "gig 0/1", "GI0/1"] {
            assert_eq!(resolve(r1, typed), Some(IfTarget::Interface(0)), "{typed}");
        }
        assert_eq!(resolve(r1, "vlan10"), Some(IfTarget::Interface(1)));
        assert_eq!(resolve(r1, "VLAN10"), Some(IfTarget::Interface(1)));
        assert_eq!(resolve(r1, "lo0"), Some(IfTarget::Loopback));
        assert_eq!(resolve(r1, "gi0/9"), None);
        assert_eq!(resolve(r1, "fa0/1"), None);
        assert_eq!(resolve(r1, ""), None);
    }
}
