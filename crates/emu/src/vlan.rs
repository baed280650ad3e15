//! VLANs in namespaces, built one of two ways.
//!
//! [`VlanBuild::Tagged`] is 802.1Q as a Linux switch does it: one veth per cable, a
//! VLAN-aware bridge (`vlan_filtering 1`) per node that bridges VLANs, its ports in their VLANs
//! with `bridge vlan` (`pvid untagged` for the access or native VLAN, tagged for a trunk's),
//! SVIs as VLAN devices on the bridge (`vlanNNNN`, the bridge itself a tagged member of the
//! VLAN), routed subinterfaces as VLAN devices on their parent (`eth1.1001`).
//!
//! [`VlanBuild::Wires`] is for kernels without 802.1Q or VLAN filtering
//! (`CONFIG_VLAN_8021Q`, `CONFIG_BRIDGE_VLAN_FILTERING`): each VLAN a trunk carries is a veth
//! pair of its own named like the subinterface (`eth1.1000` at both ends), each VLAN a node
//! bridges is a bridge of its own (named like the SVI, `vlan1000`, carrying the SVI's address,
//! else `br1000`), access ports are enslaved to their VLAN's bridge. Frames carry no tag, but
//! which ports, bridges and addresses share a broadcast domain is the same, so reachability and
//! paths are the same. `up` probes the kernel and says which it used.

use crate::plan::{bridge_name, NsPlan, VethEnd};
use crate::EmuError;
use nettwin_model::{IfRef, Node, NodeKind, Topology, VlanIf};

/// How VLANs are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VlanBuild {
    /// 802.1Q tags, VLAN-aware bridges, VLAN devices.
    Tagged,
    /// A veth per VLAN per trunk and a bridge per VLAN (no 802.1Q in the kernel).
    Wires,
}

/// How this kernel can build VLANs, tried in namespace `ns` (which must exist): a VLAN-aware
/// bridge and a VLAN device on it, removed again.
pub fn kernel_build(ns: &str) -> Result<VlanBuild, EmuError> {
    let bridge = crate::sys::probe(
        "ip",
        &[
            "-n",
            ns,
            "link",
            "add",
            "ntvprobe",
            "type",
            "bridge",
            "vlan_filtering",
            "1",
        ],
    )?;
    if bridge.0 != 0 {
        return Ok(VlanBuild::Wires);
    }
    let dev = crate::sys::probe(
        "ip",
        &[
            "-n",
            ns,
            "link",
            "add",
            "link",
            "ntvprobe",
            "name",
            "ntvprobe.1",
            "type",
            "vlan",
            "id",
            "1",
        ],
    )?;
    crate::sys::run("ip", &["-n", ns, "link", "del", "ntvprobe"])?;
    Ok(if dev.0 == 0 {
        VlanBuild::Tagged
    } else {
        VlanBuild::Wires
    })
}

/// Whether the node bridges VLANs (has a port in some VLAN).
pub fn bridges_vlans(n: &Node) -> bool {
    n.interfaces.iter().any(|i| {
        matches!(&i.vlan, Some(VlanIf::Port { pvid, tagged }) if pvid.is_some() || !tagged.is_empty())
    })
}

/// Whether the topology has anything VLAN-related to build.
pub fn any(topo: &Topology) -> bool {
    topo.nodes
        .iter()
        .any(|n| n.interfaces.iter().any(|i| i.vlan.is_some()))
}

/// The VLANs node `n` bridges, in id order.
fn vlans_of(n: &Node) -> Vec<u16> {
    let mut v: Vec<u16> = Vec::new();
    for i in &n.interfaces {
        match &i.vlan {
            Some(VlanIf::Port { pvid, tagged }) => {
                v.extend(pvid.iter());
                v.extend(tagged.iter());
            }
            Some(VlanIf::Svi { vid }) => v.push(*vid),
            _ => {}
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Adds the node's VLAN bridge, ports, SVIs and subinterfaces to its namespace plan.
pub fn node_plan(n: &Node, build: VlanBuild, nsp: &mut NsPlan) {
    let bridges = bridges_vlans(n);
    match build {
        VlanBuild::Tagged => {
            if bridges {
                let ports: Vec<&str> = n.interfaces.iter().map(|i| i.name.as_str()).collect();
                let br = bridge_name(&ports);
                nsp.batch.push(format!(
                    "link add name {br} type bridge vlan_filtering 1 stp_state 0 forward_delay 0 mcast_snooping 0"
                ));
                for i in &n.interfaces {
                    let Some(VlanIf::Port { pvid, tagged }) = &i.vlan else {
                        continue;
                    };
                    if pvid.is_none() && tagged.is_empty() {
                        continue;
                    }
                    nsp.batch.push(format!("link set {} master {br}", i.name));
                    // A new port is an untagged member of VLAN 1; nothing here uses VLAN 1.
                    nsp.bridge.push(format!("vlan del dev {} vid 1", i.name));
                    if let Some(p) = pvid {
                        nsp.bridge
                            .push(format!("vlan add dev {} vid {p} pvid untagged", i.name));
                    }
                    for t in tagged {
                        nsp.bridge.push(format!("vlan add dev {} vid {t}", i.name));
                    }
                }
                if n.kind == NodeKind::Switch {
                    // A switch's ports without VLAN settings bridge untagged, as VLAN 1.
                    for i in n.interfaces.iter().filter(|i| i.vlan.is_none()) {
                        nsp.batch.push(format!("link set {} master {br}", i.name));
                    }
                }
                nsp.batch.push(format!("link set {br} up"));
                for i in &n.interfaces {
                    if let Some(VlanIf::Svi { vid }) = &i.vlan {
                        // The bridge device is a member of the VLAN so its SVI sees the frames.
                        nsp.bridge.push(format!("vlan add dev {br} vid {vid} self"));
                        nsp.batch.push(format!(
                            "link add link {br} name {} mtu {} type vlan id {vid}",
                            i.name, i.mtu
                        ));
                    }
                }
            }
            for i in &n.interfaces {
                if let Some(VlanIf::Subif { vid, parent }) = &i.vlan {
                    let p = &n.interfaces[*parent as usize].name;
                    nsp.batch.push(format!(
                        "link add link {p} name {} mtu {} type vlan id {vid}",
                        i.name, i.mtu
                    ));
                }
            }
        }
        VlanBuild::Wires => {
            if !bridges {
                return;
            }
            let plain: Vec<&str> = n
                .interfaces
                .iter()
                .filter(|i| i.vlan.is_none())
                .map(|i| i.name.as_str())
                .collect();
            if n.kind == NodeKind::Switch && !plain.is_empty() {
                // A switch's ports without VLAN settings: one untagged bridge of their own.
                let br = bridge_name(&plain);
                nsp.batch.push(format!(
                    "link add name {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0"
                ));
                for p in &plain {
                    nsp.batch.push(format!("link set {p} master {br}"));
                }
                nsp.batch.push(format!("link set {br} up"));
            }
            for vid in vlans_of(n) {
                let svi = n
                    .interfaces
                    .iter()
                    .find(|i| i.vlan == Some(VlanIf::Svi { vid }));
                let br = svi.map_or(format!("br{vid}"), |i| i.name.clone());
                nsp.batch.push(format!(
                    "link add name {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0"
                ));
                for i in &n.interfaces {
                    let Some(VlanIf::Port { pvid, tagged }) = &i.vlan else {
                        continue;
                    };
                    if *pvid == Some(vid) {
                        nsp.batch.push(format!("link set {} master {br}", i.name));
                    }
                    if tagged.contains(&vid) {
                        nsp.batch
                            .push(format!("link set {}.{vid} master {br}", i.name));
                        nsp.batch.push(format!("link set {}.{vid} up", i.name));
                    }
                }
                if svi.is_none() {
                    nsp.batch.push(format!("link set {br} up"));
                }
            }
        }
    }
}

/// In [`VlanBuild::Wires`]: the veth pair of each VLAN each two-ended trunk carries, named like
/// the subinterfaces at its ends. A VLAN only one end carries gets no wire (no frame of it would
/// cross).
pub fn wires(topo: &Topology, run: &str) -> Result<Vec<(VethEnd, VethEnd)>, EmuError> {
    let mut out = Vec::new();
    for link in &topo.links {
        // Per end: the VLANs it sends onto the cable, and the interface name for each.
        let carried = |e: IfRef| -> Vec<(u16, String, u32, bool)> {
            let node = topo.node(e.node);
            let phys = topo.interface(e);
            let mut v: Vec<(u16, String, u32, bool)> = Vec::new();
            if let Some(VlanIf::Port { tagged, .. }) = &phys.vlan {
                for t in tagged {
                    v.push((*t, format!("{}.{t}", phys.name), phys.mtu, phys.up));
                }
            }
            for i in &node.interfaces {
                if let Some(VlanIf::Subif { vid, parent }) = &i.vlan {
                    if *parent == e.index {
                        v.push((*vid, i.name.clone(), i.mtu, i.up));
                    }
                }
            }
            v
        };
        let any_tagged = link.ends.iter().any(|e| !carried(*e).is_empty());
        if !any_tagged {
            continue;
        }
        if link.ends.len() != 2 {
            return Err(EmuError::Unsupported(format!(
                "{}: link `{}` is a VLAN trunk with {} ends; without 802.1Q in the kernel a trunk can only be emulated between two nodes",
                topo.file,
                link.name,
                link.ends.len()
            )));
        }
        let (a, b) = (link.ends[0], link.ends[1]);
        let (ca, cb) = (carried(a), carried(b));
        let ns = |e: IfRef| crate::plan::node_ns(run, &topo.node(e.node).name);
        for (vid, name, mtu, up) in &ca {
            let Some((_, bname, bmtu, bup)) = cb.iter().find(|x| x.0 == *vid) else {
                continue;
            };
            out.push((
                VethEnd {
                    ns: ns(a),
                    ifname: name.clone(),
                    mtu: *mtu,
                    up: *up,
                },
                VethEnd {
                    ns: ns(b),
                    ifname: bname.clone(),
                    mtu: *bmtu,
                    up: *bup,
                },
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Topology {
        nettwin_model::load_file(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/vlan.yml"
        )))
        .unwrap()
    }

    #[test]
    fn tagged_build_is_a_vlan_aware_bridge_with_svis_and_subinterfaces() {
        let topo = example();
        let p = crate::plan::plan_with(&topo, "t", VlanBuild::Tagged).unwrap();
        let r1 = p.namespaces.iter().find(|n| n.name == "nt-t-r1").unwrap();
        assert!(r1
            .batch
            .contains(&"link add name br0 type bridge vlan_filtering 1 stp_state 0 forward_delay 0 mcast_snooping 0".to_string()));
        assert!(r1.batch.contains(&"link set eth1 master br0".to_string()));
        assert!(r1
            .batch
            .contains(&"link add link br0 name vlan1000 mtu 1500 type vlan id 1000".to_string()));
        assert!(r1
            .batch
            .contains(&"link add link eth2 name eth2.1001 mtu 1500 type vlan id 1001".to_string()));
        // eth2 only carries the routed VLAN: not a bridge port.
        assert!(!r1.batch.contains(&"link set eth2 master br0".to_string()));
        assert_eq!(
            r1.bridge,
            [
                "vlan del dev eth1 vid 1",
                "vlan add dev eth1 vid 20",
                "vlan add dev eth1 vid 1000",
                "vlan add dev br0 vid 20 self",
                "vlan add dev br0 vid 1000 self",
            ]
        );
        let s1 = p.namespaces.iter().find(|n| n.name == "nt-t-s1").unwrap();
        assert!(s1
            .bridge
            .contains(&"vlan add dev eth2 vid 1000 pvid untagged".to_string()));
        // One veth per cable.
        assert_eq!(p.veths.len(), topo.links.len());
    }

    #[test]
    fn wires_build_is_a_veth_per_trunk_vlan_and_a_bridge_per_vlan() {
        let topo = example();
        let p = crate::plan::plan_with(&topo, "t", VlanBuild::Wires).unwrap();
        let names: Vec<(String, String)> = p
            .veths
            .iter()
            .skip(topo.links.len())
            .map(|(a, b)| {
                (
                    format!("{}:{}", a.ns, a.ifname),
                    format!("{}:{}", b.ns, b.ifname),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("nt-t-s1:eth1.20".to_string(), "nt-t-s2:eth1.20".to_string()),
                ("nt-t-s1:eth1.1000".into(), "nt-t-s2:eth1.1000".into()),
                ("nt-t-r1:eth1.20".into(), "nt-t-s2:eth4.20".into()),
                ("nt-t-r1:eth1.1000".into(), "nt-t-s2:eth4.1000".into()),
                ("nt-t-r1:eth2.1001".into(), "nt-t-r2:eth1.1001".into()),
            ]
        );
        let r1 = p.namespaces.iter().find(|n| n.name == "nt-t-r1").unwrap();
        // The SVI is the VLAN's bridge, with the SVI's address.
        assert!(r1
            .batch
            .contains(&"link set eth1.1000 master vlan1000".to_string()));
        assert!(r1
            .addrs
            .contains(&"addr add 198.19.0.3/24 dev vlan1000".to_string()));
        assert!(r1.bridge.is_empty());
        let s2 = p.namespaces.iter().find(|n| n.name == "nt-t-s2").unwrap();
        assert!(s2
            .batch
            .contains(&"link set eth2 master br1000".to_string()));
        assert!(s2
            .batch
            .contains(&"link set eth4.1000 master br1000".to_string()));
    }
}
