//! MPLS in the namespaces: where the kernel has MPLS (`mpls_router` and `mpls_iptunnel`
//! loaded, so `/proc/sys/net/mpls/platform_labels` exists), the twin's label FIB is installed
//! with `ip -f mpls route` and label imposition as `encap mpls` routes; where it has none, the
//! lab runs as plain IP and a note says that only the IP part is compared.

use crate::{sys, EmuError};
use nettwin_model::{NodeId, Topology};
use nettwin_routing::mpls::Out;
use nettwin_routing::Routing;
use std::net::IpAddr;

/// The file whose presence says the kernel can switch labels.
pub const PLATFORM_LABELS: &str = "/proc/sys/net/mpls/platform_labels";

/// Whether this kernel has MPLS forwarding.
pub fn kernel_has_mpls() -> bool {
    std::path::Path::new(PLATFORM_LABELS).exists()
}

/// Whether any router of the lab runs `mpls` or `sr`.
pub fn uses_labels(routing: &Routing) -> bool {
    routing.config.labels.iter().any(Option::is_some)
}

/// What `up` tells the user when the lab has labels the namespaces will not carry.
pub fn without_mpls_note(
    routing: &Routing,
    kernel_has_mpls: bool,
    frr_mode: bool,
) -> Option<String> {
    if !uses_labels(routing) {
        return None;
    }
    if !kernel_has_mpls {
        return Some(format!(
            "this kernel has no MPLS ({PLATFORM_LABELS} is missing: the mpls_router and mpls_iptunnel modules are not loaded or not built), so the lab's mpls/sr labels are not emulated: packets cross the namespaces as plain IP and only the IP part (routes, pings, traceroutes) is compared with the twin; `nettwin trace` shows the label stacks"
        ));
    }
    frr_mode.then(|| {
        "nettwin does not configure FRR's ldpd or segment routing yet: with `--routes frr` the lab runs as plain IP and only the IP part is compared; `--routes static` installs the twin's labels".to_string()
    })
}

fn via(a: IpAddr) -> String {
    match a {
        IpAddr::V4(v) => format!("via inet {v}"),
        IpAddr::V6(v) => format!("via inet6 {v}"),
    }
}

/// The `ip` batch lines that install a node's labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelLines {
    /// LFIB entries, for `ip -f mpls -batch` (`route add 16 as 17 via inet ...`): `as` swaps,
    /// none pops; a next hop without a label leaves as IP, which the kernel does by popping
    /// the single label.
    pub mpls: Vec<String>,
    /// IP routes that push labels (`route replace P encap mpls 17 via ...`).
    pub ip: Vec<String>,
}

/// The lines that install `node`'s labels.
pub fn label_lines(topo: &Topology, routing: &Routing, node: NodeId) -> LabelLines {
    let mut lines = LabelLines::default();
    if routing.label_config(node).is_none() {
        return lines;
    }
    let n = topo.node(node);
    let dev = |i: u32| n.interfaces[i as usize].name.clone();
    let out = &mut lines.mpls;
    for e in &routing.labels.nodes[node.index()].lfib {
        let hops: Vec<String> = e
            .paths
            .iter()
            .filter_map(|p| {
                let nh = p.next_hop.address?;
                let swap = match p.out {
                    Out::Swap(l) => format!("as {l} "),
                    Out::Pop | Out::Untagged => String::new(),
                };
                Some(format!(
                    "{swap}{} dev {}",
                    via(nh),
                    dev(p.next_hop.interface)
                ))
            })
            .collect();
        match hops.as_slice() {
            [] => {}
            [one] => out.push(format!("route add {} {one}", e.in_label)),
            many => out.push(format!(
                "route add {} nexthop {}",
                e.in_label,
                many.join(" nexthop ")
            )),
        }
    }
    let out = &mut lines.ip;
    for r in routing.fib(node).routes() {
        let Some(imp) = routing.imposition(node, &r).imposition else {
            continue;
        };
        let hops: Vec<String> = imp
            .paths
            .iter()
            .filter_map(|p| {
                let nh = p.next_hop.address?;
                let encap = match p.out {
                    Out::Swap(l) => format!("encap mpls {l} "),
                    Out::Pop | Out::Untagged => String::new(),
                };
                Some(format!("{encap}via {nh} dev {}", dev(p.next_hop.interface)))
            })
            .collect();
        match hops.as_slice() {
            [] => {}
            [one] => out.push(format!("route replace {} {one}", r.prefix)),
            many => out.push(format!(
                "route replace {} nexthop {}",
                r.prefix,
                many.join(" nexthop ")
            )),
        }
    }
    lines
}

/// Turns on label input on every interface of `node` and installs its labels in namespace
/// `ns` (static mode on a kernel with MPLS).
pub fn install(topo: &Topology, routing: &Routing, node: NodeId, ns: &str) -> Result<(), EmuError> {
    if routing.label_config(node).is_none() {
        return Ok(());
    }
    let mut settings: Vec<(String, String)> =
        vec![("net.mpls.platform_labels".into(), "1048575".into())];
    for iface in &topo.node(node).interfaces {
        settings.push((format!("net.mpls.conf.{}.input", iface.name), "1".into()));
    }
    let kv: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sys::sysctls(ns, &kv)?;
    let lines = label_lines(topo, routing, node);
    if !lines.mpls.is_empty() {
        let mut text = lines.mpls.join("\n");
        text.push('\n');
        sys::run_stdin("ip", &["-n", ns, "-f", "mpls", "-batch", "-"], Some(&text))?;
    }
    sys::ip_batch(ns, &lines.ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = "module: [ospf, mpls]
defaults.platform: cisco-xe
addressing:
  loopback: {ipv4: 198.18.0.0/24}
  p2p: {ipv4: 198.19.0.0/24, prefix: 31, allocation: sequential}
nodes: [pe1, p1, p2]
links: [pe1-p1, p1-p2, {p1: {}, p2: {}}]
";

    #[test]
    fn label_routes_as_iproute2_writes_them() {
        let topo = nettwin_model::load_str("t.yml", CHAIN).unwrap();
        let routing = nettwin_routing::compute(&topo).unwrap();
        let p1 = topo.node_by_name("p1").unwrap().id;
        let pe1 = topo.node_by_name("pe1").unwrap().id;
        let l = label_lines(&topo, &routing, pe1);
        // pe1 reaches p2's loopback over p1 (swap to p1's label) and pushes it on IP routes;
        // two parallel p1-p2 links make p2's loopback an ECMP LSP at p1.
        assert!(
            l.mpls
                .contains(&"route add 17 as 17 via inet 198.19.0.1 dev eth1".to_string()),
            "{l:#?}"
        );
        assert!(
            l.ip.contains(
                &"route replace 198.18.0.3/32 encap mpls 17 via 198.19.0.1 dev eth1".to_string()
            ),
            "{l:#?}"
        );
        let l = label_lines(&topo, &routing, p1);
        assert!(
            l.mpls.contains(&"route add 17 nexthop via inet 198.19.0.3 dev eth2 nexthop via inet 198.19.0.5 dev eth3".to_string()),
            "{l:#?}"
        );
    }

    #[test]
    fn a_kernel_without_mpls_is_named_and_only_ip_is_compared() {
        let topo = nettwin_model::load_str("t.yml", CHAIN).unwrap();
        let routing = nettwin_routing::compute(&topo).unwrap();
        let note = without_mpls_note(&routing, false, false).unwrap();
        assert!(
            note.starts_with(
                "this kernel has no MPLS (/proc/sys/net/mpls/platform_labels is missing"
            ),
            "{note}"
        );
        assert!(note.contains("only the IP part"));
        assert_eq!(without_mpls_note(&routing, true, false), None);
        assert!(without_mpls_note(&routing, true, true)
            .unwrap()
            .contains("ldpd"));
        let plain = nettwin_model::load_str("t.yml", &CHAIN.replace("mpls]", "]")).unwrap();
        let plain = nettwin_routing::compute(&plain).unwrap();
        assert_eq!(without_mpls_note(&plain, false, false), None);
    }
}
