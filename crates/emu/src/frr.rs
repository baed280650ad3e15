//! FRR as control plane: configurations written from the model and the routing configuration
//! (zebra, staticd, ospfd, ospf6d, isisd, bgpd), the daemons started inside each router's
//! namespace with their own pathspace (`-N`, so instances never share sockets or pid files),
//! convergence awaited, and the selected routes read back with `vtysh ... json`.

use crate::compare::{ignored_prefix, parse_dst, RealRoute};
use crate::state::{Created, RunState};
use crate::{sys, EmuError};
use nettwin_model::{IfAddr, Node, NodeId, Segment, SegmentKind, StaticNextHop, Topology};
use nettwin_routing::{Routing, SessionKind};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

/// Where Debian's `frr` package puts the daemons.
pub const FRR_LIB: &str = "/usr/lib/frr";
/// FRR's run directory; each instance gets `FRR_RUN/<pathspace>`.
pub const FRR_RUN: &str = "/var/run/frr";

/// Files the OSPF daemons write in FRR's run directory itself, whatever their pathspace.
pub const SHARED_FILES: [&str; 3] = ["ospfd-gr.json", "ospf6d-gr.json", "ospf6d-at-seq-no.dat"];

/// Where Debian's package puts daemon `d` (one of those [`configs`] writes).
pub fn daemon_path(d: &str) -> Option<&'static str> {
    Some(match d {
        "zebra" => "/usr/lib/frr/zebra",
        "staticd" => "/usr/lib/frr/staticd",
        "ospfd" => "/usr/lib/frr/ospfd",
        "ospf6d" => "/usr/lib/frr/ospf6d",
        "isisd" => "/usr/lib/frr/isisd",
        "bgpd" => "/usr/lib/frr/bgpd",
        _ => return None,
    })
}

/// Whether a node runs FRR in `frr` mode (routers and linux nodes).
pub fn runs_frr(n: &Node) -> bool {
    n.kind.forwards_ip()
}

/// The interface's segment keeps to one AS: the IGP runs there (an inter-AS link is external,
/// as in the twin and netlab).
pub(crate) fn same_as(topo: &Topology, seg: &Segment, node: &Node) -> bool {
    seg.members.iter().all(|m| {
        let other = topo.node(m.node);
        !other.kind.forwards_ip()
            || other.asn.is_none()
            || node.asn.is_none()
            || other.asn == node.asn
    })
}

/// The router id the twin uses: configured, else the highest IPv4 interface address.
fn router_id(n: &Node) -> Ipv4Addr {
    if let Some(r) = n.router_id {
        return r;
    }
    n.interfaces
        .iter()
        .filter_map(|i| match i.ipv4?.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .max()
        .unwrap_or(Ipv4Addr::new(198, 18, 255, 255))
}

/// An IS-IS NET from the router id: 198.18.0.1 -> 49.0001.1980.1800.0001.00.
fn isis_net(rid: Ipv4Addr) -> String {
    let d: String = rid.octets().iter().map(|o| format!("{o:03}")).collect();
    format!("49.0001.{}.{}.{}.00", &d[0..4], &d[4..8], &d[8..12])
}

/// Whether interface `i` of `n` is a point-to-point IGP link: a p2p segment whose both ends
/// run the protocol.
fn igp_p2p(topo: &Topology, seg: &Segment, speaks: impl Fn(&Node) -> bool) -> bool {
    seg.kind == SegmentKind::P2p
        && seg.members.len() == 2
        && seg
            .members
            .iter()
            .all(|m| speaks(topo.node(m.node)) && topo.interface(*m).up)
}

fn header(out: &mut String, n: &Node) {
    let _ = writeln!(out, "frr defaults traditional\nhostname {}\n!", n.name);
}

/// The configuration files of one router: (daemon, text). zebra and staticd always; the
/// protocol daemons when the node runs the protocol.
pub fn configs(topo: &Topology, routing: &Routing, id: NodeId) -> Vec<(&'static str, String)> {
    // With VRFs the routes were computed per instance: each daemon's configuration is the
    // global instance's, then one section per VRF (`router ospf vrf red`, ...).
    let t = routing.instance_topology().unwrap_or(topo);
    let mut out = daemon_configs(t, routing, id, None);
    let node = topo.node(id);
    for (k, v) in node.vrfs.iter().enumerate() {
        let inst = routing.instance(id, Some(k as u32));
        let ctx = VrfCtx {
            vrf: v,
            lo: crate::plan::vrf_loopback_name(node, k),
            leaked: routing.leaked(inst),
        };
        for (d, text) in daemon_configs(t, routing, inst, Some(&ctx)) {
            if text.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(x, _)| *x == d) {
                Some((_, body)) => body.push_str(&text),
                None => {
                    let mut body = String::new();
                    header(&mut body, node);
                    body.push_str(&text);
                    out.push((d, body));
                }
            }
        }
    }
    out
}

/// What a VRF section of the configuration needs beyond its routing instance.
struct VrfCtx<'a> {
    vrf: &'a nettwin_model::Vrf,
    /// The VRF loopback device, if any.
    lo: Option<String>,
    /// Prefixes the twin leaked into this VRF: FRR imports them (`import vpn`), they are not
    /// `network`s of the VRF.
    leaked: &'a [nettwin_model::Prefix],
}

/// The daemons' configuration of one routing instance: the node's global instance (with the
/// header), or a VRF's sections.
fn daemon_configs(
    topo: &Topology,
    routing: &Routing,
    id: NodeId,
    vrf: Option<&VrfCtx>,
) -> Vec<(&'static str, String)> {
    let n = topo.node(id);
    let cfg = &routing.config;
    let i = id.index();
    let rid = router_id(n);
    let mut out = Vec::new();
    let head = |t: &mut String| {
        if vrf.is_none() {
            header(t, n)
        }
    };
    let in_vrf = vrf
        .map(|v| format!(" vrf {}", v.vrf.name))
        .unwrap_or_default();

    let mut zebra = String::new();
    head(&mut zebra);
    out.push(("zebra", zebra));

    let mut st = String::new();
    head(&mut st);
    if let (Some(v), false) = (vrf, n.statics.is_empty()) {
        let _ = writeln!(st, "vrf {}", v.vrf.name);
    }
    for s in &n.statics {
        let fam = if s.prefix.family() == nettwin_model::Family::Ipv4 {
            "ip"
        } else {
            "ipv6"
        };
        let target = match &s.next_hop {
            StaticNextHop::Address { address, interface } => match interface {
                Some(k) => format!("{address} {}", n.interfaces[*k as usize].name),
                None => address.to_string(),
            },
            StaticNextHop::Interface { interface } => {
                n.interfaces[*interface as usize].name.clone()
            }
            StaticNextHop::Discard => "blackhole".to_string(),
        };
        let dist = if s.distance == 1 {
            String::new()
        } else {
            format!(" {}", s.distance)
        };
        let _ = writeln!(st, "{fam} route {} {target}{dist}", s.prefix);
    }
    if vrf.is_some() && !n.statics.is_empty() {
        let _ = writeln!(st, "exit-vrf\n!");
    }
    out.push(("staticd", st));

    let seg_of = |k: usize| n.interfaces[k].segment.map(|s| topo.segment(s));
    let igp_ifaces = |speaks: &dyn Fn(&Node) -> bool| -> Vec<usize> {
        (0..n.interfaces.len())
            .filter(|&k| seg_of(k).is_some_and(|s| same_as(topo, s, n)) && speaks(n))
            .collect()
    };

    if let Some(o) = &cfg.ospf[i] {
        let speaks = |x: &Node| cfg.ospf[x.id.index()].is_some();
        let ifaces = igp_ifaces(&speaks);
        let v6 =
            n.loopback.ipv6.is_some() || ifaces.iter().any(|&k| n.interfaces[k].ipv6.is_some());
        for (daemon, ip, proto) in [("ospfd", "ip", "ospf"), ("ospf6d", "ipv6", "ospf6")] {
            // OSPFv3 in VRFs is not translated (see `untranslated`).
            if daemon == "ospf6d" && (!v6 || vrf.is_some()) {
                continue;
            }
            let mut t = String::new();
            head(&mut t);
            let lo = match vrf {
                Some(v) => v.lo.clone(),
                None => Some("lo".to_string()),
            };
            let mut passive: Vec<String> = lo.iter().cloned().collect();
            if let Some(lo) = &lo {
                let _ = writeln!(
                    t,
                    "interface {lo}{in_vrf}\n {ip} {proto} area {}\n!",
                    o.area
                );
            }
            for &k in &ifaces {
                let iface = &n.interfaces[k];
                // Each OSPF runs only where the interface has its family, as netlab configures
                // FRR (the twin computes OSPFv2 and OSPFv3 on those interfaces only).
                let family = if daemon == "ospfd" {
                    iface.ipv4.is_some() || iface.ipv4_unnumbered
                } else {
                    iface.ipv6.is_some() || iface.ipv6_lla
                };
                if !family {
                    continue;
                }
                let s = &cfg.ospf_if[i][k];
                let _ = writeln!(t, "interface {}{in_vrf}", iface.name);
                let _ = writeln!(t, " {ip} {proto} area {}", s.area);
                let _ = writeln!(t, " {ip} {proto} cost {}", s.cost);
                let _ = writeln!(t, " {ip} {proto} hello-interval 1");
                let _ = writeln!(t, " {ip} {proto} dead-interval 4");
                let _ = writeln!(t, " {ip} {proto} retransmit-interval 1");
                if seg_of(k).is_some_and(|sg| igp_p2p(topo, sg, speaks)) {
                    let _ = writeln!(t, " {ip} {proto} network point-to-point");
                }
                if s.passive {
                    passive.push(iface.name.clone());
                }
                let _ = writeln!(t, "!");
            }
            if daemon == "ospfd" {
                let _ = writeln!(t, "router ospf{in_vrf}\n ospf router-id {rid}");
                for p in &passive {
                    let _ = writeln!(t, " passive-interface {p}");
                }
            } else {
                // ospf6d has no passive-interface under the router in 8.4: per interface.
                for p in &passive {
                    let _ = writeln!(t, "interface {p}\n ipv6 ospf6 passive\n!");
                }
                let _ = writeln!(t, "router ospf6\n ospf6 router-id {rid}");
            }
            // Lab-fast timers (see `converge`): SPF at once, then held 50-500 ms; no
            // MinLSInterval (5 s by default) before re-originating a changed LSA, and no
            // MinLSArrival (1 s) dropping a quick new instance until it is retransmitted.
            let _ = writeln!(t, " timers throttle spf 0 50 500");
            if daemon == "ospfd" {
                let _ = writeln!(t, " timers throttle lsa all 0");
            }
            let _ = writeln!(
                t,
                " timers lsa min-arrival 0\n maximum-paths {}\n!",
                o.maximum_paths.min(64)
            );
            out.push((daemon, t));
        }
    }

    if cfg.isis[i].is_some() {
        let speaks = |x: &Node| cfg.isis[x.id.index()].is_some();
        let mut t = String::new();
        header(&mut t, n);
        // The instance first: interfaces read before it never make it into the LSP.
        let _ = writeln!(
            t,
            "router isis nt\n net {}\n is-type level-2-only\n metric-style wide\n spf-interval 1\n lsp-gen-interval 1\n!",
            isis_net(rid)
        );
        let _ = writeln!(t, "interface lo");
        if n.loopback.ipv4.is_some() {
            let _ = writeln!(t, " ip router isis nt");
        }
        if n.loopback.ipv6.is_some() {
            let _ = writeln!(t, " ipv6 router isis nt");
        }
        let _ = writeln!(t, " isis passive\n!");
        for k in igp_ifaces(&speaks) {
            let iface = &n.interfaces[k];
            let s = &cfg.isis_if[i][k];
            let _ = writeln!(t, "interface {}", iface.name);
            if iface.ipv4.is_some() {
                let _ = writeln!(t, " ip router isis nt");
            }
            if iface.ipv6.is_some() {
                let _ = writeln!(t, " ipv6 router isis nt");
            }
            let _ = writeln!(
                t,
                // Lab-fast: a LAN's DIS sends its CSNP every second (10 s by default), so an
                // LSP a router missed while its adjacency came up is repaired at once.
                " isis circuit-type level-2-only\n isis metric {}\n isis hello-interval 1\n isis csnp-interval 1\n isis psnp-interval 1",
                s.cost
            );
            if seg_of(k).is_some_and(|sg| igp_p2p(topo, sg, speaks)) {
                let _ = writeln!(t, " isis network point-to-point");
            }
            if s.passive {
                let _ = writeln!(t, " isis passive");
            }
            let _ = writeln!(t, "!");
        }
        out.push(("isisd", t));
    }

    if let (Some(b), Some(br)) = (&cfg.bgp[i], &routing.node(id).bgp) {
        let mut t = String::new();
        head(&mut t);
        // Route-maps: node-wide import/export, and per neighbour where the file sets them
        // (a VRF's BGP uses the node's, written with the global instance).
        if let (Some(p), None) = (&b.import, vrf) {
            route_map(&mut t, "NT-IMPORT", p, b.asn);
        }
        if let (Some(p), None) = (&b.export, vrf) {
            route_map(&mut t, "NT-EXPORT", p, b.asn);
        }
        for nc in &b.neighbors {
            let Some(peer) = nc.peer else { continue };
            let pname = &topo.node(peer).name;
            if let Some(p) = &nc.import {
                route_map(&mut t, &format!("NT-IN-{pname}"), p, b.asn);
            }
            if let Some(p) = &nc.export {
                route_map(&mut t, &format!("NT-OUT-{pname}"), p, b.asn);
            }
        }
        let _ = writeln!(t, "router bgp {}{in_vrf}", b.asn);
        let _ = writeln!(t, " bgp router-id {}", br.router_id.unwrap_or(rid));
        let _ = writeln!(t, " no bgp ebgp-requires-policy");
        let _ = writeln!(t, " no bgp default ipv4-unicast");
        // The twin originates its prefixes whether or not they are in the RIB.
        let _ = writeln!(t, " no bgp network import-check");
        // The twin breaks eBGP ties by router id, not by path age.
        let _ = writeln!(t, " bgp bestpath compare-routerid");
        if b.always_compare_med {
            let _ = writeln!(t, " bgp always-compare-med");
        }
        if let Some(c) = b.cluster_id {
            let _ = writeln!(t, " bgp cluster-id {c}");
        }
        let any_export = b.export.is_some() || b.neighbors.iter().any(|nc| nc.export.is_some());
        if b.route_reflector && any_export {
            // The twin applies export policies to reflected routes too.
            let _ = writeln!(t, " bgp route-reflector allow-outbound-policy");
        }
        let _ = writeln!(t, " timers bgp 3 9");
        for p in &br.peers {
            let a = p.remote_address;
            let _ = writeln!(t, " neighbor {a} remote-as {}", p.remote_as);
            let _ = writeln!(t, " neighbor {a} timers connect 1");
            let _ = writeln!(t, " neighbor {a} advertisement-interval 0");
            if p.kind == SessionKind::Ibgp {
                let _ = writeln!(t, " neighbor {a} update-source {}", p.local_address);
            }
            if p.down_reason.as_deref() == Some("administratively shut down") {
                let _ = writeln!(t, " neighbor {a} shutdown");
            }
        }
        let originated: Vec<nettwin_model::Prefix> = routing
            .bgp_table(id)
            .iter()
            .filter(|(_, paths)| paths.iter().any(|p| p.from.is_none()))
            .map(|(p, _)| *p)
            .filter(|p| vrf.is_none_or(|v| !v.leaked.contains(p)))
            .collect();
        for (af, v6) in [("ipv4", false), ("ipv6", true)] {
            let peers: Vec<_> = br
                .peers
                .iter()
                .filter(|p| p.remote_address.is_ipv6() == v6)
                .collect();
            let nets: Vec<_> = originated
                .iter()
                .filter(|p| (p.family() == nettwin_model::Family::Ipv6) == v6)
                .collect();
            if peers.is_empty() && nets.is_empty() && (vrf.is_none() || v6) {
                continue;
            }
            let _ = writeln!(t, " address-family {af} unicast");
            if let Some(v) = vrf {
                // Leaking between the router's VRFs through its VPN table, as netlab writes it
                // (`templates/vrf/frr.bgp.j2`).
                let _ = writeln!(t, "  label vpn export auto\n  rd vpn export {}", v.vrf.rd);
                if !v.vrf.import.is_empty() {
                    let _ = writeln!(t, "  rt vpn import {}", v.vrf.import.join(" "));
                }
                if !v.vrf.export.is_empty() {
                    let _ = writeln!(t, "  rt vpn export {}", v.vrf.export.join(" "));
                }
                let _ = writeln!(t, "  export vpn\n  import vpn");
            }
            for p in nets {
                let _ = writeln!(t, "  network {p}");
            }
            for p in peers {
                let a = p.remote_address;
                let _ = writeln!(t, "  neighbor {a} activate");
                if p.kind == SessionKind::Ibgp && b.next_hop_self {
                    let _ = writeln!(t, "  neighbor {a} next-hop-self");
                }
                if p.rr_client {
                    let _ = writeln!(t, "  neighbor {a} route-reflector-client");
                }
                let nc = b.neighbors.iter().find(|nc| nc.peer == Some(p.node));
                let pname = &topo.node(p.node).name;
                if let Some(w) = nc.and_then(|nc| nc.weight) {
                    let _ = writeln!(t, "  neighbor {a} weight {w}");
                }
                match (nc.and_then(|nc| nc.import.as_ref()), &b.import) {
                    (Some(_), _) => {
                        let _ = writeln!(t, "  neighbor {a} route-map NT-IN-{pname} in");
                    }
                    (None, Some(_)) => {
                        let _ = writeln!(t, "  neighbor {a} route-map NT-IMPORT in");
                    }
                    (None, None) => {}
                }
                match (nc.and_then(|nc| nc.export.as_ref()), &b.export) {
                    (Some(_), _) => {
                        let _ = writeln!(t, "  neighbor {a} route-map NT-OUT-{pname} out");
                    }
                    (None, Some(_)) => {
                        let _ = writeln!(t, "  neighbor {a} route-map NT-EXPORT out");
                    }
                    (None, None) => {}
                }
            }
            let mp = b.maximum_paths.min(64);
            let _ = writeln!(t, "  maximum-paths {mp}\n  maximum-paths ibgp {mp}");
            let _ = writeln!(t, " exit-address-family");
        }
        let _ = writeln!(t, "!");
        out.push(("bgpd", t));
    }
    out
}

/// Writes one twin policy as FRR route-map `name` with the prefix, community and AS-path lists
/// its rules match on. Twin rules and route-map entries have the same semantics: the first entry
/// whose matches all hold decides, sets are applied on permit, and nothing matched is denied. A
/// rule matching both IPv4 and IPv6 prefixes becomes one entry per family (FRR ANDs matches).
fn route_map(t: &mut String, name: &str, policy: &nettwin_routing::bgp::Policy, asn: u32) {
    let mut seq = 0;
    for (ri, rule) in policy.rules.iter().enumerate() {
        let v4: Vec<_> = rule
            .match_prefix
            .iter()
            .filter(|m| m.prefix.family() == nettwin_model::Family::Ipv4)
            .collect();
        let v6: Vec<_> = rule
            .match_prefix
            .iter()
            .filter(|m| m.prefix.family() == nettwin_model::Family::Ipv6)
            .collect();
        let families: Vec<Option<bool>> = match (v4.is_empty(), v6.is_empty()) {
            (true, true) => vec![None],
            (false, true) => vec![Some(false)],
            (true, false) => vec![Some(true)],
            (false, false) => vec![Some(false), Some(true)],
        };
        if !rule.match_community.is_empty() {
            let list: Vec<String> = rule.match_community.iter().map(|c| c.to_string()).collect();
            let _ = writeln!(
                t,
                "bgp community-list standard {name}-R{ri} permit {}",
                list.join(" ")
            );
        }
        if let Some(re) = &rule.match_as_path {
            let _ = writeln!(
                t,
                "bgp as-path access-list {name}-R{ri} seq 5 permit {}",
                re.source()
            );
        }
        for family in families {
            if let Some(v6_family) = family {
                let (kw, entries, tag) = if v6_family {
                    ("ipv6", &v6, "V6")
                } else {
                    ("ip", &v4, "V4")
                };
                for (k, m) in entries.iter().enumerate() {
                    let mut line = format!(
                        "{kw} prefix-list {name}-R{ri}-{tag} seq {} permit {}",
                        (k + 1) * 5,
                        m.prefix
                    );
                    if m.ge != m.prefix.len() {
                        line.push_str(&format!(" ge {}", m.ge));
                    }
                    if m.le != m.prefix.len() {
                        line.push_str(&format!(" le {}", m.le));
                    }
                    let _ = writeln!(t, "{line}");
                }
            }
            seq += 10;
            let _ = writeln!(
                t,
                "route-map {name} {} {seq}",
                if rule.permit { "permit" } else { "deny" }
            );
            match family {
                Some(false) => {
                    let _ = writeln!(t, " match ip address prefix-list {name}-R{ri}-V4");
                }
                Some(true) => {
                    let _ = writeln!(t, " match ipv6 address prefix-list {name}-R{ri}-V6");
                }
                None => {}
            }
            if !rule.match_community.is_empty() {
                let _ = writeln!(t, " match community {name}-R{ri}");
            }
            if rule.match_as_path.is_some() {
                let _ = writeln!(t, " match as-path {name}-R{ri}");
            }
            if rule.permit {
                if let Some(v) = rule.set_local_pref {
                    let _ = writeln!(t, " set local-preference {v}");
                }
                if let Some(v) = rule.set_med {
                    let _ = writeln!(t, " set metric {v}");
                }
                if let Some(v) = rule.set_weight {
                    let _ = writeln!(t, " set weight {v}");
                }
                if rule.prepend > 0 {
                    let asns: Vec<String> = (0..rule.prepend).map(|_| asn.to_string()).collect();
                    let _ = writeln!(t, " set as-path prepend {}", asns.join(" "));
                }
                if !rule.add_community.is_empty() {
                    let list: Vec<String> =
                        rule.add_community.iter().map(|c| c.to_string()).collect();
                    let _ = writeln!(t, " set community {} additive", list.join(" "));
                }
            }
            let _ = writeln!(t, "!");
        }
    }
    if policy.rules.is_empty() {
        // An empty policy denies everything, like a route-map without entries.
        let _ = writeln!(
            t,
            "route-map {name} deny 10
!"
        );
    }
}

/// Why a node's twin configuration cannot be reproduced in FRR exactly; verify reports these
/// instead of silently comparing something else.
pub fn untranslated(routing: &Routing, _id: NodeId) -> Vec<String> {
    let mut out = Vec::new();
    if routing.config.distances != nettwin_routing::Distances::default() {
        out.push(
            "administrative distances other than FRR's defaults are not written to FRR".to_string(),
        );
    }
    out
}

fn run_dir(st: &RunState, node: &str) -> String {
    format!("{}/{}/{node}", crate::state::dir().display(), st.run)
}

fn chown_frr(path: &str) -> Result<(), EmuError> {
    sys::run("chown", &["-R", "frr:frr", path]).map(|_| ())
}

/// Writes every router's configuration and starts its daemons, zebra first everywhere.
pub fn start(topo: &Topology, routing: &Routing, st: &mut RunState) -> Result<(), EmuError> {
    if !std::path::Path::new(&format!("{FRR_LIB}/zebra")).exists() {
        return Err(EmuError::Missing {
            program: format!("{FRR_LIB}/zebra"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    for f in SHARED_FILES {
        let path = format!("{FRR_RUN}/{f}");
        if !std::path::Path::new(&path).exists() {
            crate::state::add_shared(&path)?;
        }
    }
    let base = format!("{}/{}", crate::state::dir().display(), st.run);
    st.record(Created::Dir { path: base.clone() })?;
    let mut daemons: Vec<(String, String, Vec<&'static str>)> = Vec::new();
    for n in topo.nodes.iter().filter(|n| runs_frr(n)) {
        let ns = st.netns(&n.name)?.to_string();
        let dir = run_dir(st, &n.name);
        std::fs::create_dir_all(&dir).map_err(|e| EmuError::Io {
            path: dir.clone(),
            source: e,
        })?;
        let mut names = Vec::new();
        for (daemon, text) in configs(topo, routing, n.id) {
            let path = format!("{dir}/{daemon}.conf");
            // isisd starts empty and gets its configuration through vtysh (`load_isisd`).
            let (file, later) = if daemon == "isisd" {
                let mut empty = String::new();
                header(&mut empty, n);
                (empty, Some(text))
            } else {
                (text, None)
            };
            std::fs::write(&path, file).map_err(|e| EmuError::Io { path, source: e })?;
            if let Some(text) = later {
                let path = format!("{dir}/isisd.vtysh.conf");
                std::fs::write(&path, text).map_err(|e| EmuError::Io { path, source: e })?;
            }
            names.push(daemon);
        }
        chown_frr(&dir)?;
        let rundir = format!("{FRR_RUN}/{ns}");
        st.record(Created::Dir {
            path: rundir.clone(),
        })?;
        std::fs::create_dir_all(&rundir).map_err(|e| EmuError::Io {
            path: rundir.clone(),
            source: e,
        })?;
        chown_frr(&rundir)?;
        daemons.push((ns, dir, names));
    }
    chown_frr(&base)?;
    let launch = |ns: &str, dir: &str, d: &str| {
        sys::in_ns(
            ns,
            &format!("{FRR_LIB}/{d}"),
            &[
                "-d",
                "-N",
                ns,
                "-f",
                &format!("{dir}/{d}.conf"),
                "-P",
                "0",
                "--log",
                &format!("file:{dir}/{d}.log"),
            ],
        )
        .map(|_| ())
    };
    for (ns, dir, _) in &daemons {
        launch(ns, dir, "zebra")?;
    }
    for (ns, _, _) in &daemons {
        wait_for_socket("zebra", ns, "zserv.api")?;
    }
    for (ns, dir, names) in &daemons {
        for d in names.iter().filter(|d| **d != "zebra") {
            launch(ns, dir, d)?;
        }
    }
    for (ns, dir, names) in &daemons {
        if names.contains(&"isisd") {
            load_isisd(ns, dir)?;
        }
    }
    Ok(())
}

/// Waits (10 s at most) for a daemon of instance `ns` to open its socket `name`.
fn wait_for_socket(daemon: &str, ns: &str, name: &str) -> Result<(), EmuError> {
    let sock = format!("{FRR_RUN}/{ns}/{name}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::path::Path::new(&sock).exists() {
        sys::check_interrupted()?;
        if Instant::now() > deadline {
            return Err(EmuError::NotConverged {
                seconds: 10,
                detail: format!("{daemon} in {ns} did not open {sock}"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// isisd 8.4 started from its own configuration file (`-f`) never learns that the
/// configuration is complete, and holds its LSP back: it keeps only the area and hostname, and
/// every regeneration stays "already pending" (FRR pull requests 12819 and 13178 changed how
/// start-up configuration ends). Configuration sent through vtysh is bracketed as complete, so
/// isisd starts empty and gets its configuration that way.
fn load_isisd(ns: &str, dir: &str) -> Result<(), EmuError> {
    wait_for_socket("isisd", ns, "isisd.vty")?;
    let file = format!("{dir}/isisd.vtysh.conf");
    sys::run("vtysh", &["-N", ns, "-f", &file]).map(|_| ())
}

/// vtysh commands against one instance; the JSON documents they print, in order.
pub(crate) fn vtysh_json(ns: &str, commands: &[&str]) -> Result<Vec<Value>, EmuError> {
    let mut args = vec!["-N", ns];
    for c in commands {
        args.push("-c");
        args.push(c);
    }
    let out = sys::run("vtysh", &args)?;
    serde_json::Deserializer::from_str(&out)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| EmuError::Parse {
            command: format!("vtysh -N {ns} -c '{}'", commands.join("' -c '")),
            message: e.to_string(),
        })
}

/// Link-local address to the global IPv6 address of the same interface, over every node.
pub type LinkLocals = HashMap<IpAddr, IpAddr>;

/// Reads every node's link-local addresses so IPv6 next hops can be compared with the twin's
/// (which names neighbours by their global address).
pub fn link_locals(topo: &Topology, st: &RunState) -> Result<LinkLocals, EmuError> {
    let mut out = HashMap::new();
    for n in topo.nodes.iter().filter(|n| n.kind.is_ip()) {
        let json = sys::ip_ns(
            st.netns(&n.name)?,
            &["-j", "-6", "addr", "show", "scope", "link"],
        )?;
        let v: Value = serde_json::from_str(&json).map_err(|e| EmuError::Parse {
            command: "ip -j -6 addr show scope link".into(),
            message: e.to_string(),
        })?;
        for l in v.as_array().into_iter().flatten() {
            let Some(ifname) = l.get("ifname").and_then(Value::as_str) else {
                continue;
            };
            let Some(global) = n
                .interface(ifname)
                .and_then(|(_, i)| i.ipv6)
                .map(|a: IfAddr| a.addr)
            else {
                continue;
            };
            for a in l
                .get("addr_info")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(ll) = a
                    .get("local")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
                {
                    out.insert(ll, global);
                }
            }
        }
    }
    Ok(out)
}

/// Parses `show ip route json` / `show ipv6 route json` into normal form (selected routes).
pub fn parse_routes(doc: &Value, lls: &LinkLocals) -> Vec<RealRoute> {
    let mut out = Vec::new();
    for (dst, entries) in doc.as_object().into_iter().flatten() {
        let v6 = dst.contains(':');
        let Some(prefix) = parse_dst(dst, v6) else {
            continue;
        };
        if ignored_prefix(&prefix) {
            continue;
        }
        for e in entries.as_array().into_iter().flatten() {
            if e.get("selected").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let protocol = match e.get("protocol").and_then(Value::as_str).unwrap_or("?") {
                "ospf6" => "ospf",
                "kernel" => "kernel",
                p => p,
            }
            .to_string();
            let hops: Vec<&Value> = e
                .get("nexthops")
                .and_then(Value::as_array)
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            let flag = |h: &Value, k: &str| h.get(k).and_then(Value::as_bool) == Some(true);
            let mut chosen: Vec<&Value> = hops.iter().copied().filter(|h| flag(h, "fib")).collect();
            if chosen.is_empty() {
                chosen = hops
                    .iter()
                    .copied()
                    .filter(|h| flag(h, "active") && !flag(h, "recursive"))
                    .collect();
            }
            let discard = chosen
                .iter()
                .any(|h| flag(h, "blackhole") || flag(h, "unreachable") || flag(h, "reject"));
            let mut next_hops = BTreeSet::new();
            if !discard {
                for h in chosen {
                    let dev = h
                        .get("interfaceName")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string();
                    let addr: Option<IpAddr> = h
                        .get("ip")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse().ok());
                    let addr = addr.map(|a| lls.get(&a).copied().unwrap_or(a));
                    next_hops.insert((addr, dev));
                }
            }
            // The router's own loopback prefixes: FRR's connected routes on `lo`, and the host
            // route ospfd installs for a loopback written with a shorter mask (`ospf dev lo`).
            if !next_hops.is_empty()
                && next_hops
                    .iter()
                    .all(|(a, d)| crate::kernel::is_loopback_dev(d) && a.is_none())
            {
                continue;
            }
            out.push(RealRoute {
                prefix,
                protocol,
                discard,
                next_hops,
            });
        }
    }
    out
}

/// FRR's selected routes of one router, both families.
pub fn read(ns: &str, lls: &LinkLocals) -> Result<Vec<RealRoute>, EmuError> {
    let docs = vtysh_json(ns, &["show ip route json", "show ipv6 route json"])?;
    Ok(docs.iter().flat_map(|d| parse_routes(d, lls)).collect())
}

/// FRR's selected routes of one VRF of a router, both families.
pub fn read_vrf(ns: &str, vrf: &str, lls: &LinkLocals) -> Result<Vec<RealRoute>, EmuError> {
    let v4 = format!("show ip route vrf {vrf} json");
    let v6 = format!("show ipv6 route vrf {vrf} json");
    let docs = vtysh_json(ns, &[&v4, &v6])?;
    Ok(docs.iter().flat_map(|d| parse_routes(d, lls)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isis_net_comes_from_the_router_id() {
        assert_eq!(
            isis_net(Ipv4Addr::new(198, 18, 0, 1)),
            "49.0001.1980.1800.0001.00"
        );
    }

    #[test]
    fn vtysh_json_is_normalised() {
        let doc: Value = serde_json::from_str(
            r#"{
 "198.18.0.4/32":[{"prefix":"198.18.0.4/32","protocol":"bgp","selected":true,"nexthops":[
   {"ip":"198.18.0.4","afi":"ipv4","active":true,"recursive":true},
   {"fib":true,"ip":"198.19.0.1","afi":"ipv4","interfaceName":"eth1","active":true,"resolver":true}]}],
 "198.18.0.1/32":[{"prefix":"198.18.0.1/32","protocol":"connected","selected":true,"nexthops":[{"fib":true,"directlyConnected":true,"interfaceName":"lo","active":true}]}],
 "198.18.200.0/24":[{"protocol":"static","selected":true,"nexthops":[{"fib":true,"unreachable":true,"blackhole":true,"active":true}]}],
 "198.19.0.0/31":[{"protocol":"ospf","selected":false,"nexthops":[]},{"protocol":"connected","selected":true,"nexthops":[{"fib":true,"directlyConnected":true,"interfaceName":"eth1","active":true}]}],
 "2001:db8::2/128":[{"protocol":"ospf6","selected":true,"nexthops":[{"fib":true,"ip":"fe80::1","afi":"ipv6","interfaceName":"eth1","active":true}]}]
}"#,
        )
        .unwrap();
        let mut lls = LinkLocals::new();
        lls.insert("fe80::1".parse().unwrap(), "2001:db8:1::2".parse().unwrap());
        let r = parse_routes(&doc, &lls);
        let text: Vec<String> = r.iter().map(|x| format!("{} {x}", x.prefix)).collect();
        assert_eq!(
            text,
            [
                "198.18.0.4/32 bgp via 198.19.0.1 eth1",
                "198.18.200.0/24 static blackhole",
                "198.19.0.0/31 connected dev eth1",
                "2001:db8::2/128 ospf via 2001:db8:1::2 eth1",
            ]
        );
    }
}

#[cfg(test)]
mod vrf_tests {
    use super::*;

    fn lab() -> (Topology, Routing) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/vrf-lite.yml");
        let topo = nettwin_model::load_file(std::path::Path::new(path)).unwrap();
        let routing = nettwin_routing::compute(&topo).unwrap();
        (topo, routing)
    }

    fn daemon(topo: &Topology, r: &Routing, node: &str, d: &str) -> String {
        let id = topo.node_by_name(node).unwrap().id;
        configs(topo, r, id)
            .into_iter()
            .find(|(x, _)| *x == d)
            .map(|(_, t)| t)
            .unwrap_or_default()
    }

    /// The VRF sections netlab's FRR templates write (`vrf/frr.bgp.j2`, `ospf/frr.ospfv2.j2`).
    #[test]
    fn vrf_sections_follow_netlabs_templates() {
        let (t, r) = lab();
        let bgp = daemon(&t, &r, "r1", "bgpd");
        eprintln!("{bgp}");
        assert!(bgp.contains("router bgp 65001\n"), "{bgp}");
        assert!(bgp.contains("router bgp 65001 vrf red\n"), "{bgp}");
        assert!(bgp.contains("router bgp 65001 vrf blue\n"), "{bgp}");
        assert!(bgp.contains("  rt vpn import 65000:2 65000:1\n"), "{bgp}");
        assert!(bgp.contains("  network 198.18.100.1/32\n"), "{bgp}");
        // The leaked prefix is imported into blue, not a `network` of blue.
        let blue = &bgp[bgp.find("vrf blue").unwrap()..];
        assert!(!blue.contains("network 198.18.100.1/32"), "{blue}");
        assert!(
            blue.contains("neighbor 198.18.10.2 remote-as 65003"),
            "{blue}"
        );
        let ospf = daemon(&t, &r, "r1", "ospfd");
        eprintln!("{ospf}");
        assert!(ospf.contains("router ospf vrf red\n"), "{ospf}");
        assert!(ospf.contains("interface lo10001 vrf red\n"), "{ospf}");
        assert!(ospf.contains("interface eth1 vrf red\n"), "{ospf}");
        assert!(!ospf.contains("vrf blue"), "blue blocks OSPF: {ospf}");
        // vtysh's dry run parses what FRR would load, where FRR is installed.
        if std::path::Path::new("/usr/bin/vtysh").exists() {
            for (d, text) in configs(&t, &r, t.node_by_name("r1").unwrap().id) {
                let path =
                    std::env::temp_dir().join(format!("nt-vrf-{}-{d}.conf", std::process::id()));
                std::fs::write(&path, &text).unwrap();
                let out = std::process::Command::new("/usr/bin/vtysh")
                    .args(["--dryrun", "-f"])
                    .arg(&path)
                    .output()
                    .unwrap();
                let _ = std::fs::remove_file(&path);
                assert!(
                    out.status.success(),
                    "{d}: {}{}\n{text}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
