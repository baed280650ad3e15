//! What to build for a topology: namespaces, veth pairs, bridges, addresses, sysctls. Pure: it
//! only describes the commands, so it is checked (address ranges, names) before anything is made.

use crate::vlan::{self, VlanBuild};
use crate::EmuError;
use nettwin_model::{IfAddr, NodeKind, Prefix, Topology};
use std::net::IpAddr;

/// Addresses inside namespaces come only from these (RFC 2544 benchmarking and RFC 3849
/// documentation ranges), so nothing emulated can shadow a real network.
pub fn allowed_ranges() -> [Prefix; 2] {
    [
        "198.18.0.0/15".parse().expect("valid prefix"),
        "2001:db8::/32".parse().expect("valid prefix"),
    ]
}

pub fn address_allowed(a: IpAddr) -> bool {
    allowed_ranges().iter().any(|p| p.contains(a))
}

/// The prefix of every namespace of a run.
pub fn ns_prefix(run: &str) -> String {
    format!("nt-{run}-")
}

/// The namespace of a node.
pub fn node_ns(run: &str, node: &str) -> String {
    format!("nt-{run}-{node}")
}

/// The hidden namespace holding the bridge of a multi-access link without a switch.
pub fn lan_ns(run: &str, link: u32) -> String {
    format!("nt-{run}-_lan{link}")
}

/// The device of VRF `k`'s loopback on a node, if it has one: netlab's FRR name
/// (`loopback_interface_name: lo{ifindex}`, VRF loopbacks numbered from 10001 in VRF order).
pub fn vrf_loopback_name(n: &nettwin_model::Node, k: usize) -> Option<String> {
    let has = |v: &nettwin_model::Vrf| v.loopback.ipv4.is_some() || v.loopback.ipv6.is_some();
    if !has(&n.vrfs[k]) {
        return None;
    }
    let rank = n.vrfs[..k].iter().filter(|v| has(v)).count();
    Some(format!("lo{}", 10001 + rank))
}

/// One end of a veth pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VethEnd {
    pub ns: String,
    pub ifname: String,
    pub mtu: u32,
    /// Whether the end is set up (a veth has carrier only when both ends are).
    pub up: bool,
}

/// A namespace and what goes in it once its links exist.
#[derive(Clone, Debug)]
pub struct NsPlan {
    pub name: String,
    /// The node it emulates (`None` for a hidden LAN bridge).
    pub node: Option<String>,
    pub sysctls: Vec<(&'static str, &'static str)>,
    /// Interfaces that are not veth ends (dummies for one-ended links).
    pub dummies: Vec<(String, u32)>,
    /// `ip -batch` lines: bridges, ports, link state.
    pub batch: Vec<String>,
    /// `bridge -batch` lines run after `batch`: the VLANs of VLAN-aware bridge ports.
    pub bridge: Vec<String>,
    /// `ip -batch` lines run once every link of every namespace is up: addresses, so each is
    /// added on an interface with carrier (an IPv6 address added before carrier misses its
    /// solicited-node group and the first neighbour solicitation for it goes unanswered).
    pub addrs: Vec<String>,
}

/// A link's latency, loss and bandwidth, emulated by a `netem` qdisc on one interface's
/// egress. Both ends of a cable get one (each carries one direction); on a shared medium each
/// station's end does, so station to station crosses one.
#[derive(Clone, Debug, PartialEq)]
pub struct Shaping {
    pub ns: String,
    pub ifname: String,
    pub delay_us: Option<u64>,
    /// Percent.
    pub loss: Option<f64>,
    pub rate_bps: Option<u64>,
}

impl Shaping {
    fn of(link: &nettwin_model::Link, ns: String, ifname: String) -> Option<Shaping> {
        let s = Shaping {
            ns,
            ifname,
            delay_us: link.latency_us.filter(|d| *d > 0),
            loss: link.loss.filter(|l| *l > 0.0),
            rate_bps: link.bandwidth,
        };
        (s.delay_us.is_some() || s.loss.is_some() || s.rate_bps.is_some()).then_some(s)
    }

    /// `tc` arguments for the rate alone as a token bucket (kernels without netem), if any.
    pub fn tbf_args(&self) -> Option<Vec<String>> {
        let rate = self.rate_bps?;
        // The bucket holds at least a jumbo frame and about 10 ms of traffic.
        let burst = (rate / 8 / 100).max(16 * 1024);
        Some(vec![
            "qdisc".to_string(),
            "add".into(),
            "dev".into(),
            self.ifname.clone(),
            "root".into(),
            "tbf".into(),
            "rate".into(),
            format!("{rate}bit"),
            "burst".into(),
            burst.to_string(),
            "latency".into(),
            "50ms".into(),
        ])
    }

    /// `tc` arguments that install it.
    pub fn tc_args(&self) -> Vec<String> {
        let mut a: Vec<String> = ["qdisc", "add", "dev", &self.ifname, "root", "netem"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        if let Some(d) = self.delay_us {
            a.extend(["delay".to_string(), format!("{d}us")]);
        }
        if let Some(l) = self.loss {
            a.extend(["loss".to_string(), format!("{l}%")]);
        }
        if let Some(r) = self.rate_bps {
            a.extend(["rate".to_string(), format!("{r}bit")]);
        }
        a
    }
}

/// Everything a run builds.
#[derive(Clone, Debug)]
pub struct Plan {
    pub namespaces: Vec<NsPlan>,
    pub veths: Vec<(VethEnd, VethEnd)>,
    pub shaping: Vec<Shaping>,
}

fn addr_cmd(a: &IfAddr, dev: &str) -> String {
    match a.addr {
        IpAddr::V4(_) => format!("addr add {}/{} dev {dev}", a.addr, a.len),
        // DAD off: the address is usable at once and never goes `dadfailed`.
        IpAddr::V6(_) => format!("addr add {}/{} dev {dev} nodad", a.addr, a.len),
    }
}

fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks that the topology can be emulated: every address in the allowed ranges, names the
/// kernel accepts. Lists every problem.
pub fn check(topo: &Topology) -> Result<(), EmuError> {
    let mut problems = Vec::new();
    for n in &topo.nodes {
        if !valid_node_name(&n.name) {
            problems.push(format!(
                "node `{}`: name must be letters, digits, `-`, `_` or `.` (it names a network namespace)",
                n.name
            ));
        }
        for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
            if !address_allowed(a.addr) {
                problems.push(format!(
                    "node `{}` loopback address {}/{} is outside 198.18.0.0/15 and 2001:db8::/32",
                    n.name, a.addr, a.len
                ));
            }
        }
        for v in &n.vrfs {
            for a in [v.loopback.ipv4, v.loopback.ipv6].into_iter().flatten() {
                if !address_allowed(a.addr) {
                    problems.push(format!(
                        "node `{}` VRF {} loopback address {}/{} is outside 198.18.0.0/15 and 2001:db8::/32",
                        n.name, v.name, a.addr, a.len
                    ));
                }
            }
            if n.interfaces.iter().any(|i| i.name == v.name) {
                problems.push(format!(
                    "node `{}`: VRF {} has the name of an interface (it names the VRF device)",
                    n.name, v.name
                ));
            }
        }
        for i in &n.interfaces {
            if !valid_ifname(&i.name) {
                problems.push(format!(
                    "node `{}` interface `{}`: Linux interface names have 1 to 15 characters, no `/`, `:` or spaces",
                    n.name, i.name
                ));
            }
            for a in [i.ipv4, i.ipv6].into_iter().flatten() {
                if !address_allowed(a.addr) {
                    problems.push(format!(
                        "node `{}` interface {} address {}/{} is outside 198.18.0.0/15 and 2001:db8::/32",
                        n.name, i.name, a.addr, a.len
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(EmuError::Unsupported(format!(
            "{}: cannot emulate: {}{}",
            topo.file,
            problems.join("; "),
            if problems.iter().any(|p| p.contains("outside")) {
                " (emulated networks use only the benchmarking and documentation ranges, so they can never shadow a real network)"
            } else {
                ""
            }
        )))
    }
}

fn base_sysctls(forwarding: bool, l2_only: bool) -> Vec<(&'static str, &'static str)> {
    let f = if forwarding { "1" } else { "0" };
    let mut s = vec![
        ("net.ipv6.conf.all.accept_dad", "0"),
        ("net.ipv6.conf.default.accept_dad", "0"),
        ("net.ipv6.conf.all.accept_ra", "0"),
        ("net.ipv6.conf.default.accept_ra", "0"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
        // Every probe of a traceroute must get its ICMP error back.
        ("net.ipv4.icmp_ratelimit", "0"),
        ("net.ipv6.icmp.ratelimit", "0"),
        ("net.ipv4.ip_forward", f),
        ("net.ipv6.conf.all.forwarding", f),
        ("net.ipv6.conf.default.forwarding", f),
    ];
    if l2_only {
        // A bridge has no addresses: no link-local chatter from its ports either.
        s.push(("net.ipv6.conf.all.disable_ipv6", "1"));
        s.push(("net.ipv6.conf.default.disable_ipv6", "1"));
    }
    s
}

/// The bridge device's name in a switch namespace: `br0` unless a port is called that.
pub fn bridge_name(ports: &[&str]) -> &'static str {
    if ports.contains(&"br0") {
        "ntbr0"
    } else {
        "br0"
    }
}

/// Builds the plan for `topo` (operational state applied) under run name `run`, VLANs with
/// 802.1Q.
pub fn plan(topo: &Topology, run: &str) -> Result<Plan, EmuError> {
    plan_with(topo, run, VlanBuild::Tagged)
}

/// Builds the plan with VLANs built as `build` says.
pub fn plan_with(topo: &Topology, run: &str, build: VlanBuild) -> Result<Plan, EmuError> {
    check(topo)?;
    let mut namespaces: Vec<NsPlan> = topo
        .nodes
        .iter()
        .map(|n| NsPlan {
            name: node_ns(run, &n.name),
            node: Some(n.name.clone()),
            sysctls: base_sysctls(n.kind.forwards_ip(), n.kind == NodeKind::Switch),
            dummies: Vec::new(),
            batch: vec!["link set lo up".to_string()],
            bridge: Vec::new(),
            addrs: Vec::new(),
        })
        .collect();
    let mut veths = Vec::new();
    let mut shaping = Vec::new();
    for link in &topo.links {
        match link.ends.len() {
            0 => {}
            1 => {
                let e = link.ends[0];
                let i = topo.interface(e);
                namespaces[e.node.index()]
                    .dummies
                    .push((i.name.clone(), i.mtu));
            }
            2 => {
                let end = |k: usize| {
                    let e = link.ends[k];
                    let i = topo.interface(e);
                    VethEnd {
                        ns: node_ns(run, &topo.node(e.node).name),
                        ifname: i.name.clone(),
                        mtu: i.mtu,
                        up: i.up,
                    }
                };
                let (a, b) = (end(0), end(1));
                for e in [&a, &b] {
                    shaping.extend(Shaping::of(link, e.ns.clone(), e.ifname.clone()));
                }
                veths.push((a, b));
            }
            _ => {
                // A shared medium: every end plugs into a bridge of its own namespace.
                let ns = lan_ns(run, link.id.0);
                let mut batch = vec![
                    "link set lo up".to_string(),
                    "link add name br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0"
                        .to_string(),
                ];
                for (k, e) in link.ends.iter().enumerate() {
                    let i = topo.interface(*e);
                    let port = format!("p{k}");
                    shaping.extend(Shaping::of(
                        link,
                        node_ns(run, &topo.node(e.node).name),
                        i.name.clone(),
                    ));
                    veths.push((
                        VethEnd {
                            ns: node_ns(run, &topo.node(e.node).name),
                            ifname: i.name.clone(),
                            mtu: i.mtu,
                            up: i.up,
                        },
                        VethEnd {
                            ns: ns.clone(),
                            ifname: port.clone(),
                            mtu: i.mtu,
                            up: true,
                        },
                    ));
                    batch.push(format!("link set {port} master br0"));
                    batch.push(format!("link set {port} up"));
                }
                batch.push("link set br0 up".to_string());
                namespaces.push(NsPlan {
                    name: ns,
                    node: None,
                    sysctls: base_sysctls(false, true),
                    dummies: Vec::new(),
                    batch,
                    bridge: Vec::new(),
                    addrs: Vec::new(),
                });
            }
        }
    }
    if build == VlanBuild::Wires {
        veths.extend(vlan::wires(topo, run)?);
    }
    for n in &topo.nodes {
        let nsp = &mut namespaces[n.id.index()];
        for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
            nsp.addrs.push(addr_cmd(&a, "lo"));
        }
        vlan::node_plan(n, build, nsp);
        if n.kind == NodeKind::Switch && !vlan::bridges_vlans(n) {
            let ports: Vec<&str> = n.interfaces.iter().map(|i| i.name.as_str()).collect();
            let br = bridge_name(&ports);
            nsp.batch.push(format!(
                "link add name {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0"
            ));
            for i in &n.interfaces {
                nsp.batch.push(format!("link set {} master {br}", i.name));
            }
            nsp.batch.push(format!("link set {br} up"));
        }
        // VRFs as netlab's FRR template makes them (`templates/vrf/frr.j2`): a VRF device per
        // VRF with its table, interfaces enslaved, and the VRF loopback a dummy in the VRF.
        for (k, v) in n.vrfs.iter().enumerate() {
            nsp.batch.push(format!(
                "link add name {} type vrf table {}",
                v.name, v.table
            ));
            nsp.batch.push(format!("link set {} up", v.name));
            if let Some(lo) = vrf_loopback_name(n, k) {
                nsp.dummies.push((lo.clone(), 1500));
                nsp.batch.push(format!("link set {lo} master {}", v.name));
                nsp.batch.push(format!("link set {lo} up"));
                for a in [v.loopback.ipv4, v.loopback.ipv6].into_iter().flatten() {
                    nsp.addrs.push(addr_cmd(&a, &lo));
                }
            }
        }
        for i in &n.interfaces {
            if let Some(k) = i.vrf {
                nsp.batch.push(format!(
                    "link set {} master {}",
                    i.name, n.vrfs[k as usize].name
                ));
            }
            for a in [i.ipv4, i.ipv6].into_iter().flatten() {
                nsp.addrs.push(addr_cmd(&a, &i.name));
            }
            // An unnumbered interface borrows the loopback's address, as netlab's FRR template
            // writes it (`ip address <loopback>/32`), so routing protocols run on it.
            if let (None, true, Some(lo)) = (i.ipv4, i.ipv4_unnumbered, n.loopback.ipv4) {
                let a = IfAddr {
                    addr: lo.addr,
                    len: 32,
                };
                nsp.addrs.push(addr_cmd(&a, &i.name));
            }
            nsp.batch.push(format!(
                "link set {} {}",
                i.name,
                if i.up { "up" } else { "down" }
            ));
        }
    }
    Ok(Plan {
        namespaces,
        veths,
        shaping,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPO: &str = "
nodes:
  r1: {loopback: 198.18.0.1/32}
  r2: {}
  sw: {kind: switch}
  h1: {kind: host}
  h2: {kind: host}
links:
  - {r1: {ipv4: 198.18.1.0/31}, r2: {ipv4: 198.18.1.1/31}, mtu: 9000}
  - [r2, sw]
  - {sw: {}, h1: {}, mtu: 1400}
  - [sw, h2]
  - [r1, h1, h2]
";

    #[test]
    fn plan_has_a_namespace_per_node_and_a_hidden_bridge_per_shared_link() {
        let topo = nettwin_model::load_str(
            "t.yml",
            &nettwin_model::generate::with_benchmark_pools(TOPO),
        )
        .unwrap();
        let p = plan(&topo, "abc").unwrap();
        let names: Vec<&str> = p.namespaces.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "nt-abc-r1",
                "nt-abc-r2",
                "nt-abc-sw",
                "nt-abc-h1",
                "nt-abc-h2",
                "nt-abc-_lan4"
            ]
        );
        // 4 cables + 3 ends of the shared link.
        assert_eq!(p.veths.len(), 7);
        let (a, b) = &p.veths[0];
        assert_eq!((a.ifname.as_str(), a.mtu, b.mtu), ("eth1", 9000, 9000));
        let sw = &p.namespaces[2];
        assert!(sw.batch.iter().any(|l| l.contains("type bridge")));
        assert!(sw.sysctls.contains(&("net.ipv4.ip_forward", "0")));
        assert!(p.namespaces[0]
            .sysctls
            .contains(&("net.ipv4.ip_forward", "1")));
        assert!(p.namespaces[3]
            .sysctls
            .contains(&("net.ipv4.ip_forward", "0")));
        assert!(p.namespaces[0]
            .addrs
            .contains(&"addr add 198.18.0.1/32 dev lo".to_string()));
    }

    #[test]
    fn addresses_outside_the_test_ranges_are_refused_with_node_and_address() {
        let text = "nodes:\n  r1: {}\n  r2: {}\nlinks:\n  - {r1: {ipv4: 10.0.0.1/30}, r2: {ipv4: 10.0.0.2/30}}\n";
        let topo = nettwin_model::load_str(
            "t.yml",
            &nettwin_model::generate::with_benchmark_pools(text),
        )
        .unwrap();
        let e = plan(&topo, "abc").unwrap_err().to_string();
        assert!(
            e.contains("node `r1` interface eth1 address 10.0.0.1/30"),
            "{e}"
        );
        assert!(
            e.contains("node `r2` interface eth1 address 10.0.0.2/30"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod shaping_tests {
    use super::*;

    const SHAPED: &str = "
nodes:
  r1: {}
  r2: {}
  h1: {kind: host}
  h2: {kind: host}
  h3: {kind: host}
links:
  - {r1: {}, r2: {}, latency: 1.5ms, loss: 0.5%, bandwidth: 10G}
  - {r1: {}, r2: {}}
  - {r2: {}, h1: {}, h2: {}, h3: {}, latency: 2ms}
";

    #[test]
    fn shaping_goes_on_every_egress_that_carries_a_direction() {
        let topo = nettwin_model::load_str(
            "shaped.yml",
            &nettwin_model::generate::with_benchmark_pools(SHAPED),
        )
        .unwrap();
        let p = plan(&topo, "t").unwrap();
        let on: Vec<(String, String)> = p
            .shaping
            .iter()
            .map(|s| (s.ns.clone(), s.ifname.clone()))
            .collect();
        // Both ends of the shaped cable, none of the plain one, each station on the LAN (not
        // the hidden bridge's ports: a frame crosses one delay per direction).
        assert_eq!(
            on,
            vec![
                ("nt-t-r1".to_string(), "eth1".to_string()),
                ("nt-t-r2".to_string(), "eth1".to_string()),
                ("nt-t-r2".to_string(), "eth3".to_string()),
                ("nt-t-h1".to_string(), "eth1".to_string()),
                ("nt-t-h2".to_string(), "eth1".to_string()),
                ("nt-t-h3".to_string(), "eth1".to_string()),
            ]
        );
        let cable = &p.shaping[0];
        assert_eq!(
            cable.tc_args().join(" "),
            "qdisc add dev eth1 root netem delay 1500us loss 0.5% rate 10000000000bit"
        );
        assert_eq!(
            cable.tbf_args().unwrap().join(" "),
            "qdisc add dev eth1 root tbf rate 10000000000bit burst 12500000 latency 50ms"
        );
        // Latency alone: netem without rate, and nothing for tbf to do.
        let lan = &p.shaping[2];
        assert_eq!(
            lan.tc_args().join(" "),
            "qdisc add dev eth3 root netem delay 2000us"
        );
        assert!(lan.tbf_args().is_none());
    }
}
