//! Show command output in the layout IOS prints, so existing parsers (ntc-templates' TextFSM
//! templates for `cisco_ios`) read it. Every function returns lines joined with `\n`; the
//! session turns them into `\r\n` for the terminal.

use crate::ifname::{display_name, short_name, LOOPBACK_MODEL_NAME};
use crate::twin::*;
use nettwin_model::{Family, NodeId, NodeKind, Prefix, StaticNextHop, Topology};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// `24` -> `255.255.255.0`.
pub fn mask_of(len: u8) -> Ipv4Addr {
    let bits = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    };
    Ipv4Addr::from(bits)
}

/// `255.255.255.0` -> `24`; `None` for a non-contiguous mask.
pub fn len_of(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// IOS's route age: `00:01:23` under a day, `1d02h` under a week, `2w3d` beyond.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 86_400 {
        format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else if s < 7 * 86_400 {
        format!("{}d{:02}h", s / 86_400, (s / 3600) % 24)
    } else {
        format!("{}w{}d", s / (7 * 86_400), (s / 86_400) % 7)
    }
}

fn uptime_words(d: Duration) -> String {
    let mut m = d.as_secs() / 60;
    let mut parts = Vec::new();
    for (unit, size) in [("week", 7 * 24 * 60), ("day", 24 * 60), ("hour", 60)] {
        let n = m / size;
        m %= size;
        if n > 0 {
            parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        }
    }
    parts.push(format!("{m} minute{}", if m == 1 { "" } else { "s" }));
    parts.join(", ")
}

/// A stable MAC per interface, in IOS's dotted form.
fn mac(node: NodeId, index: u32) -> String {
    format!(
        "5254.00{:02x}.{:02x}{:02x}",
        (node.0 >> 8) & 0xff,
        node.0 & 0xff,
        index & 0xff
    )
}

pub fn show_version(view: &dyn TwinView, node: NodeId) -> String {
    let topo = view.topology();
    let n = topo.node(node);
    let gig = n
        .interfaces
        .iter()
        .filter(|i| i.name.starts_with("eth"))
        .count();
    format!(
        "Cisco IOS Software, nettwin Software (NETTWIN-SIM-M), Version 15.9(3)M, RELEASE SOFTWARE (fc1)\n\
         Technical Support: simulated device, see docs/cli.md\n\
         Copyright (c) nettwin contributors\n\
         \n\
         ROM: Bootstrap program is nettwin\n\
         \n\
         {name} uptime is {up}\n\
         System returned to ROM by reload\n\
         System image file is \"flash0:/nettwin-sim-m\"\n\
         Last reload reason: Unknown reason\n\
         \n\
         cisco NETTWIN ({kind}) processor (revision 1.0) with 1048576K bytes of memory.\n\
         Processor board ID NT{id:08X}\n\
         {gig} Gigabit Ethernet interfaces\n\
         DRAM configuration is 72 bits wide with parity disabled.\n\
         \n\
         Configuration register is 0x2102\n",
        name = n.name,
        up = uptime_words(view.uptime()),
        kind = n.kind,
        id = node.0,
    )
}

/// Interfaces shown by `show ip interface brief` / `show interfaces`: the loopback first
/// when configured (as IOS sorts `Loopback` after `GigabitEthernet`, we follow IOS: after).
struct Row {
    name: String,
    ipv4: Option<nettwin_model::IfAddr>,
    admin_up: bool,
    line_up: bool,
    mtu: u32,
    bandwidth_kbit: u64,
    index: Option<u32>,
}

fn rows(topo: &Topology, node: NodeId) -> Vec<Row> {
    let n = topo.node(node);
    let mut out: Vec<Row> = n
        .interfaces
        .iter()
        .enumerate()
        .map(|(i, iface)| Row {
            name: display_name(&iface.name),
            ipv4: iface.ipv4,
            admin_up: iface.up,
            line_up: line_protocol_up(topo, node, i as u32),
            mtu: iface.mtu,
            bandwidth_kbit: iface.bandwidth.unwrap_or(1_000_000_000) / 1000,
            index: Some(i as u32),
        })
        .collect();
    if n.loopback.ipv4.is_some() || n.loopback.ipv6.is_some() {
        out.push(Row {
            name: LOOPBACK_MODEL_NAME.to_string(),
            ipv4: n.loopback.ipv4,
            admin_up: true,
            line_up: true,
            mtu: 1514,
            bandwidth_kbit: 8_000_000,
            index: None,
        });
    }
    out
}

fn status_words(admin_up: bool, line_up: bool) -> (&'static str, &'static str) {
    match (admin_up, line_up) {
        (false, _) => ("administratively down", "down"),
        (true, true) => ("up", "up"),
        (true, false) => ("down", "down"),
    }
}

pub fn show_ip_interface_brief(view: &dyn TwinView, node: NodeId) -> String {
    let mut out = String::from(
        "Interface                  IP-Address      OK? Method Status                Protocol\n",
    );
    for r in rows(view.topology(), node) {
        let (status, proto) = status_words(r.admin_up, r.line_up);
        let (ip, method) = match r.ipv4 {
            Some(a) => (a.addr.to_string(), "NVRAM"),
            None => ("unassigned".to_string(), "unset"),
        };
        let _ = writeln!(
            out,
            "{:<26} {:<15} YES {:<6} {:<21} {}",
            r.name, ip, method, status, proto
        );
    }
    out
}

pub fn show_interfaces(view: &dyn TwinView, node: NodeId, only: Option<&str>) -> String {
    let topo = view.topology();
    let mut out = String::new();
    for r in rows(topo, node) {
        if only.is_some_and(|o| o != r.name) {
            continue;
        }
        let (status, proto) = status_words(r.admin_up, r.line_up);
        let _ = writeln!(out, "{} is {}, line protocol is {} ", r.name, status, proto);
        match r.index {
            Some(i) => {
                let m = mac(node, i);
                let _ = writeln!(out, "  Hardware is iGbE, address is {m} (bia {m})");
            }
            None => {
                let _ = writeln!(out, "  Hardware is Loopback");
            }
        }
        if let Some(a) = r.ipv4 {
            let _ = writeln!(out, "  Internet address is {}/{}", a.addr, a.len);
        }
        let _ = writeln!(
            out,
            "  MTU {} bytes, BW {} Kbit/sec, DLY 10 usec, \n     reliability 255/255, txload 1/255, rxload 1/255",
            r.mtu, r.bandwidth_kbit
        );
        let _ = writeln!(out, "  Encapsulation ARPA, loopback not set");
        let _ = writeln!(out, "  Keepalive set (10 sec)");
        if r.index.is_some() {
            let _ = writeln!(
                out,
                "  Full Duplex, Auto Speed, link type is auto, media type is RJ45"
            );
            let _ = writeln!(out, "  ARP type: ARPA, ARP Timeout 04:00:00");
        }
        let _ = writeln!(out, "  Last input never, output never, output hang never");
        let _ = writeln!(out, "  Last clearing of \"show interface\" counters never");
        let _ = writeln!(
            out,
            "  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: 0"
        );
        let _ = writeln!(out, "  Queueing strategy: fifo");
        let _ = writeln!(out, "  Output queue: 0/40 (size/max)");
        let _ = writeln!(out, "  5 minute input rate 0 bits/sec, 0 packets/sec");
        let _ = writeln!(out, "  5 minute output rate 0 bits/sec, 0 packets/sec");
        let _ = writeln!(out, "     0 packets input, 0 bytes, 0 no buffer");
        let _ = writeln!(
            out,
            "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored"
        );
        let _ = writeln!(
            out,
            "     0 packets output, 0 bytes, 0 underruns\n     0 output errors, 0 collisions, 0 interface resets"
        );
    }
    out
}

const ROUTE_CODES: &str =
    "Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP
       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area 
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2
       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2
       ia - IS-IS inter area, * - candidate default, U - per-user static route
       o - ODR, P - periodic downloaded static route, H - NHRP, l - LISP
       a - application route
       + - replicated route, % - next hop override, p - overrides from PfR
";

fn classful_len(addr: Ipv4Addr) -> u8 {
    match addr.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

fn if_display(nh: &RouteNextHop) -> Option<String> {
    if nh.discard {
        return Some("Null0".to_string());
    }
    nh.interface.as_deref().map(display_name)
}

/// The text after the network of one route line (and its continuation lines).
fn route_tail(r: &Route, indent: usize) -> String {
    let mut out = String::new();
    let direct = r.next_hops.iter().all(|h| h.address.is_none());
    if direct {
        let via = r
            .next_hops
            .iter()
            .filter_map(if_display)
            .collect::<Vec<_>>()
            .join(", ");
        // Static routes out of an interface (or to Null0) print like connected ones.
        if r.protocol.is_direct() || r.protocol == RouteProtocol::Static {
            let _ = write!(out, " is directly connected, {via}");
        } else {
            let _ = write!(out, " [{}/{}], {}, {via}", r.distance, r.metric, age(r.age));
        }
        return out;
    }
    for (i, nh) in r.next_hops.iter().enumerate() {
        if i > 0 {
            let _ = write!(out, "\n{:indent$}", "");
        } else {
            out.push(' ');
        }
        let _ = write!(out, "[{}/{}] via ", r.distance, r.metric);
        if let Some(a) = nh.address {
            let _ = write!(out, "{a}");
        }
        if r.protocol != RouteProtocol::Static {
            let _ = write!(out, ", {}", age(r.age));
        }
        if let Some(name) = if_display(nh) {
            let _ = write!(out, ", {name}");
        }
    }
    out
}

fn route_code(r: &Route) -> String {
    let mut code = r.protocol.code().to_string();
    if r.prefix.is_default() {
        // Candidate default: `S*`, `O*E2`.
        code.insert(1, '*');
        if code.as_bytes().get(2) == Some(&b' ') {
            code.remove(2);
        }
    }
    code
}

pub fn show_ip_route(view: &dyn TwinView, node: NodeId) -> String {
    ip_route_table(view.routes(node))
}

/// `show ip route vrf NAME`: the global layout under IOS's `Routing Table: NAME` line.
pub fn show_ip_route_vrf(view: &dyn TwinView, node: NodeId, vrf: &str) -> String {
    match view.vrf_routes(node, vrf) {
        Some(routes) => format!("\nRouting Table: {vrf}\n{}", ip_route_table(routes)),
        None => format!("% IP routing table {vrf} does not exist\n"),
    }
}

/// `show vrf`: IOS's brief layout, one line per VRF with its RD, the address families it has
/// addresses in and its interfaces (one per line, short names).
pub fn show_vrf(view: &dyn TwinView, node: NodeId) -> String {
    let n = view.topology().node(node);
    let mut out = String::from(
        "  Name                             Default RD            Protocols   Interfaces\n",
    );
    let mut vrfs: Vec<(usize, &nettwin_model::Vrf)> = n.vrfs.iter().enumerate().collect();
    vrfs.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    for (k, v) in vrfs {
        let ifs: Vec<&nettwin_model::Interface> = n
            .interfaces
            .iter()
            .filter(|i| i.vrf == Some(k as u32))
            .collect();
        let v4 = v.loopback.ipv4.is_some() || ifs.iter().any(|i| i.ipv4.is_some());
        let v6 = v.loopback.ipv6.is_some() || ifs.iter().any(|i| i.ipv6.is_some());
        let protocols = match (v4, v6) {
            (true, true) => "ipv4,ipv6",
            (false, true) => "ipv6",
            _ => "ipv4",
        };
        let rd = if v.rd.is_empty() {
            "<not set>"
        } else {
            v.rd.as_str()
        };
        let names: Vec<String> = ifs
            .iter()
            .map(|i| crate::ifname::short_name(&i.name))
            .collect();
        let first = names.first().map_or("", String::as_str);
        let _ = writeln!(out, "  {:<32} {:<21} {:<11} {first}", v.name, rd, protocols);
        for name in names.iter().skip(1) {
            let _ = writeln!(out, "{:69}{name}", "");
        }
    }
    out
}

fn ip_route_table(routes: Vec<Route>) -> String {
    let mut routes: Vec<Route> = routes
        .into_iter()
        .filter(|r| r.prefix.family() == Family::Ipv4)
        .collect();
    routes.sort_by_key(|r| r.prefix);
    let mut out = String::from(ROUTE_CODES);
    out.push('\n');
    match routes.iter().find(|r| r.prefix.is_default()) {
        Some(d) => {
            let gw = d.next_hops.iter().find_map(|h| h.address);
            match gw {
                Some(gw) => {
                    let _ = writeln!(out, "Gateway of last resort is {gw} to network 0.0.0.0");
                }
                None => {
                    let _ = writeln!(out, "Gateway of last resort is 0.0.0.0 to network 0.0.0.0");
                }
            }
        }
        None => out.push_str("Gateway of last resort is not set\n"),
    }
    out.push('\n');
    let mut i = 0;
    while i < routes.len() {
        let r = &routes[i];
        let IpAddr::V4(net) = r.prefix.network() else {
            i += 1;
            continue;
        };
        let class_len = classful_len(net);
        if r.prefix.len() <= class_len {
            let code = route_code(r);
            let _ = writeln!(out, "{code:<6}{}{}", r.prefix, route_tail(r, 8));
            i += 1;
            continue;
        }
        // Subnets of one classful network share a header, as IOS prints them.
        let class = Prefix::new(IpAddr::V4(net), class_len);
        let mut j = i;
        while j < routes.len()
            && class.covers(&routes[j].prefix)
            && routes[j].prefix.len() > class_len
        {
            j += 1;
        }
        let group = &routes[i..j];
        let mut masks: Vec<u8> = group.iter().map(|r| r.prefix.len()).collect();
        masks.sort_unstable();
        masks.dedup();
        let subnets = group.len();
        let plural = if subnets == 1 { "" } else { "s" };
        if masks.len() == 1 {
            let _ = writeln!(
                out,
                "      {}/{} is subnetted, {subnets} subnet{plural}",
                class.network(),
                masks[0]
            );
        } else {
            let _ = writeln!(
                out,
                "      {} is variably subnetted, {subnets} subnet{plural}, {} masks",
                class,
                masks.len()
            );
        }
        for r in group {
            let code = route_code(r);
            let shown = if masks.len() == 1 {
                r.prefix.network().to_string()
            } else {
                r.prefix.to_string()
            };
            let line = format!("{code:<9}{shown}");
            let indent = line.len() + 1;
            let _ = writeln!(out, "{line}{}", route_tail(r, indent.max(17)));
        }
        i = j;
    }
    out
}

/// `show ip route A.B.C.D`: the longest match for the address, IOS's detail layout.
pub fn show_ip_route_detail(view: &dyn TwinView, node: NodeId, addr: IpAddr) -> String {
    let routes = view.routes(node);
    let Some(r) = routes
        .iter()
        .filter(|r| r.prefix.contains(addr))
        .max_by_key(|r| r.prefix.len())
    else {
        return "% Network not in table\n".to_string();
    };
    let known = match r.protocol {
        RouteProtocol::Connected | RouteProtocol::Local => "connected".to_string(),
        RouteProtocol::Static => "static".to_string(),
        RouteProtocol::Ospf
        | RouteProtocol::OspfInterArea
        | RouteProtocol::OspfExternal1
        | RouteProtocol::OspfExternal2 => "ospf 1".to_string(),
        RouteProtocol::IsisL1 | RouteProtocol::IsisL2 => "isis".to_string(),
        RouteProtocol::Bgp => "bgp".to_string(),
    };
    let mut out = format!(
        "Routing entry for {}\n  Known via \"{known}\", distance {}, metric {}",
        r.prefix, r.distance, r.metric
    );
    if r.protocol.is_direct() {
        out.push_str(" (connected, via interface)");
    }
    out.push('\n');
    if !r.protocol.is_direct() {
        let _ = writeln!(out, "  Last update {} ago", age(r.age));
    }
    out.push_str("  Routing Descriptor Blocks:\n");
    for (i, nh) in r.next_hops.iter().enumerate() {
        let star = if i == 0 { "*" } else { " " };
        match (nh.address, if_display(nh)) {
            (Some(a), Some(ifn)) => {
                let _ = writeln!(out, "  {star} {a}, via {ifn}");
            }
            (Some(a), None) => {
                let _ = writeln!(out, "  {star} {a}");
            }
            (None, Some(ifn)) => {
                let _ = writeln!(out, "  {star} directly connected, via {ifn}");
            }
            (None, None) => {
                let _ = writeln!(out, "  {star} directly connected");
            }
        }
        let _ = writeln!(
            out,
            "      Route metric is {}, traffic share count is 1",
            r.metric
        );
    }
    out
}

pub fn show_ip_ospf_neighbor(view: &dyn TwinView, node: NodeId) -> String {
    let mut out = String::from(
        "\nNeighbor ID     Pri   State           Dead Time   Address         Interface\n",
    );
    for n in view.ospf_neighbors(node) {
        let d = n.dead_time.as_secs();
        let _ = writeln!(
            out,
            "{:<15} {:>3}   {:<15} {:02}:{:02}:{:02}    {:<15} {}",
            n.neighbor_id,
            n.priority,
            n.state,
            d / 3600,
            (d / 60) % 60,
            d % 60,
            n.address,
            display_name(&n.interface)
        );
    }
    out
}

pub fn show_ip_bgp_summary(view: &dyn TwinView, node: NodeId) -> String {
    let Some(s) = view.bgp_summary(node) else {
        return "% BGP not active\n".to_string();
    };
    let mut out = format!(
        "BGP router identifier {}, local AS number {}\nBGP table version is {}, main routing table version {}\n\n",
        s.router_id, s.local_as, s.table_version, s.table_version
    );
    out.push_str(
        "Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd\n",
    );
    for p in &s.peers {
        let state = match p.prefixes_received {
            Some(n) => n.to_string(),
            None => p.state.clone(),
        };
        let up = if p.up_down.is_zero() && p.prefixes_received.is_none() {
            "never".to_string()
        } else {
            age(p.up_down)
        };
        let _ = writeln!(
            out,
            "{:<15} 4 {:>12} {:>7} {:>7} {:>8} {:>4} {:>4} {:<8} {}",
            p.address.to_string(),
            p.remote_as,
            p.messages_received,
            p.messages_sent,
            s.table_version,
            0,
            0,
            up,
            state
        );
    }
    out
}

pub fn show_ip_bgp(view: &dyn TwinView, node: NodeId) -> String {
    let Some(s) = view.bgp_summary(node) else {
        return "% BGP not active\n".to_string();
    };
    let mut out = format!(
        "BGP table version is {}, local router ID is {}\n",
        s.table_version, s.router_id
    );
    out.push_str(
        "Status codes: s suppressed, d damped, h history, * valid, > best, i - internal, \n              r RIB-failure, S Stale, m multipath, b backup-path, f RT-Filter, \n              x best-external, a additional-path, c RIB-compressed, \nOrigin codes: i - IGP, e - EGP, ? - incomplete\nRPKI validation codes: V valid, I invalid, N Not found\n\n",
    );
    out.push_str("     Network          Next Hop            Metric LocPrf Weight Path\n");
    let mut paths = view.bgp_table(node);
    paths.sort_by(|a, b| a.prefix.cmp(&b.prefix).then(b.best.cmp(&a.best)));
    let mut last: Option<Prefix> = None;
    for p in &paths {
        let status = if p.valid { '*' } else { ' ' };
        let best = if p.best { '>' } else { ' ' };
        let src = if p.internal { 'i' } else { ' ' };
        let net = if last == Some(p.prefix) {
            String::new()
        } else {
            p.prefix.to_string()
        };
        last = Some(p.prefix);
        let metric = p.metric.map(|m| m.to_string()).unwrap_or_default();
        let lp = p.local_pref.map(|m| m.to_string()).unwrap_or_default();
        let mut path: String = p.as_path.iter().map(|a| format!("{a} ")).collect();
        path.push(p.origin);
        let rest = format!(
            "{:<15} {:>10} {:>6} {:>6} {}",
            p.next_hop.to_string(),
            metric,
            lp,
            p.weight,
            path
        );
        if net.len() > 16 {
            let _ = writeln!(out, " {status}{best}{src}  {net}");
            let _ = writeln!(out, "{:20}{rest}", "");
        } else {
            let _ = writeln!(out, " {status}{best}{src}  {net:<16} {rest}");
        }
    }
    out
}

/// Directly cabled neighbours of a node: (local interface, neighbour node, neighbour
/// interface), both ends up.
fn cabled_neighbors(topo: &Topology, node: NodeId) -> Vec<(String, NodeId, String)> {
    let n = topo.node(node);
    let mut out = Vec::new();
    for (i, iface) in n.interfaces.iter().enumerate() {
        if !line_protocol_up(topo, node, i as u32) {
            continue;
        }
        for e in &topo.link(iface.link).ends {
            if e.node != node && topo.interface(*e).up {
                out.push((iface.name.clone(), e.node, topo.interface(*e).name.clone()));
            }
        }
    }
    out
}

fn cdp_ifname(model: &str) -> String {
    match short_name(model).strip_prefix("Gi") {
        Some(rest) => format!("Gig {rest}"),
        None => model.to_string(),
    }
}

pub fn show_cdp_neighbors(view: &dyn TwinView, node: NodeId) -> String {
    let topo = view.topology();
    let mut out = String::from(
        "Capability Codes: R - Router, T - Trans Bridge, B - Source Route Bridge\n                  S - Switch, H - Host, I - IGMP, r - Repeater, P - Phone, \n                  D - Remote, C - CVTA, M - Two-port Mac Relay \n\nDevice ID        Local Intrfce     Holdtme    Capability  Platform  Port ID\n",
    );
    let list = cabled_neighbors(topo, node);
    for (local, peer, remote) in &list {
        let p = topo.node(*peer);
        let caps = match p.kind {
            NodeKind::Router => "R",
            NodeKind::Switch => "S",
            NodeKind::Host => "H",
            NodeKind::Linux => "R H",
        };
        let mut name = p.name.clone();
        if name.len() > 16 {
            let _ = writeln!(out, "{name}");
            name.clear();
        }
        let _ = writeln!(
            out,
            "{:<16} {:<17} {:<10} {:>10} {:<9} {}",
            name,
            cdp_ifname(local),
            157,
            caps,
            "NETTWIN",
            cdp_ifname(remote)
        );
    }
    let _ = write!(out, "\nTotal cdp entries displayed : {}\n", list.len());
    out
}

pub fn show_lldp_neighbors(view: &dyn TwinView, node: NodeId) -> String {
    let topo = view.topology();
    let mut out = String::from(
        "Capability codes:\n    (R) Router, (B) Bridge, (T) Telephone, (C) DOCSIS Cable Device\n    (W) WLAN Access Point, (P) Repeater, (S) Station, (O) Other\n\nDevice ID           Local Intf     Hold-time  Capability      Port ID\n",
    );
    let list = cabled_neighbors(topo, node);
    for (local, peer, remote) in &list {
        let p = topo.node(*peer);
        let caps = match p.kind {
            NodeKind::Router => "R",
            NodeKind::Switch => "B",
            NodeKind::Host => "S",
            NodeKind::Linux => "R,S",
        };
        // IOS cuts the device id to 20 characters in this table.
        let name: String = p.name.chars().take(20).collect();
        let _ = writeln!(
            out,
            "{:<20}{:<15}{:<11}{:<16}{}",
            name,
            short_name(local),
            120,
            caps,
            short_name(remote)
        );
    }
    let _ = write!(out, "\nTotal entries displayed: {}\n", list.len());
    out
}

pub fn ping(result: &PingResult, destination: IpAddr) -> String {
    let count = result.probes.len();
    let mut out = format!(
        "Type escape sequence to abort.\nSending {count}, 100-byte ICMP Echos to {destination}, timeout is 2 seconds:\n"
    );
    let marks: String = result
        .probes
        .iter()
        .map(|p| match p {
            Probe::Reply { .. } => '!',
            Probe::Timeout => '.',
            Probe::Unreachable => 'U',
        })
        .collect();
    out.push_str(&marks);
    out.push('\n');
    let rtts: Vec<u32> = result
        .probes
        .iter()
        .filter_map(|p| match p {
            Probe::Reply { rtt_ms } => Some(*rtt_ms),
            _ => None,
        })
        .collect();
    let ok = rtts.len();
    let pct = (ok * 100).checked_div(count).unwrap_or(0);
    if ok == 0 {
        let _ = writeln!(out, "Success rate is {pct} percent ({ok}/{count})");
    } else {
        let min = rtts.iter().min().copied().unwrap_or(0);
        let max = rtts.iter().max().copied().unwrap_or(0);
        let avg = rtts.iter().map(|&r| u64::from(r)).sum::<u64>() / ok as u64;
        let _ = writeln!(
            out,
            "Success rate is {pct} percent ({ok}/{count}), round-trip min/avg/max = {min}/{avg}/{max} ms"
        );
    }
    out
}

pub fn traceroute(hops: &[TraceHop], destination: IpAddr) -> String {
    let mut out = format!("Type escape sequence to abort.\nTracing the route to {destination}\n\n");
    for (i, h) in hops.iter().enumerate() {
        match h.address {
            Some(a) => {
                let _ = writeln!(
                    out,
                    "  {} {a} {} msec {} msec {} msec",
                    i + 1,
                    h.rtt_ms,
                    h.rtt_ms,
                    h.rtt_ms
                );
            }
            None => {
                let _ = writeln!(out, "  {}  *  *  * ", i + 1);
            }
        }
    }
    out
}

pub fn running_config(view: &dyn TwinView, node: NodeId) -> String {
    let topo = view.topology();
    let n = topo.node(node);
    let mut body = String::new();
    let _ = write!(body, "!\nversion 15.9\nhostname {}\n!\n", n.name);
    if let Some(a) = n.loopback.ipv4 {
        let _ = write!(
            body,
            "interface Loopback0\n ip address {} {}\n!\n",
            a.addr,
            mask_of(a.len)
        );
    }
    for iface in &n.interfaces {
        let _ = writeln!(body, "interface {}", display_name(&iface.name));
        match iface.ipv4 {
            Some(a) => {
                let _ = writeln!(body, " ip address {} {}", a.addr, mask_of(a.len));
            }
            None => body.push_str(" no ip address\n"),
        }
        if let Some(a) = iface.ipv6 {
            let _ = writeln!(body, " ipv6 address {a}");
        }
        if let Some(c) = iface.cost {
            let _ = writeln!(body, " ip ospf cost {c}");
        }
        if iface.mtu != 1500 {
            let _ = writeln!(body, " mtu {}", iface.mtu);
        }
        if !iface.up {
            body.push_str(" shutdown\n");
        }
        body.push_str("!\n");
    }
    if n.modules.iter().any(|m| m == "ospf") {
        let _ = writeln!(body, "router ospf 1");
        if let Some(id) = n.router_id {
            let _ = writeln!(body, " router-id {id}");
        }
        body.push_str("!\n");
    }
    if let (true, Some(asn)) = (n.modules.iter().any(|m| m == "bgp"), n.asn) {
        let _ = writeln!(body, "router bgp {asn}");
        for a in view.bgp_shutdown_neighbors(node) {
            let _ = writeln!(body, " neighbor {a} shutdown");
        }
        body.push_str("!\n");
    }
    for s in &n.statics {
        let (IpAddr::V4(net), len) = (s.prefix.network(), s.prefix.len()) else {
            continue;
        };
        let target = match &s.next_hop {
            StaticNextHop::Address { address, interface } => match interface {
                Some(i) => format!(
                    "{} {address}",
                    display_name(&n.interfaces[*i as usize].name)
                ),
                None => address.to_string(),
            },
            StaticNextHop::Interface { interface } => {
                display_name(&n.interfaces[*interface as usize].name)
            }
            StaticNextHop::Discard => "Null0".to_string(),
        };
        let dist = if s.distance == 1 {
            String::new()
        } else {
            format!(" {}", s.distance)
        };
        let _ = writeln!(body, "ip route {net} {} {target}{dist}", mask_of(len));
    }
    body.push_str("!\nend\n");
    format!(
        "Building configuration...\n\nCurrent configuration : {} bytes\n{body}",
        body.len()
    )
}

/// A label as IOS prints it in LDP output.
fn ldp_label(l: u32) -> String {
    match l {
        0 => "exp-null".into(),
        3 => "imp-null".into(),
        l => l.to_string(),
    }
}

/// `show mpls forwarding-table` in IOS XE's layout (the byte counter is always 0: the twin
/// switches no traffic).
pub fn show_mpls_forwarding_table(view: &dyn TwinView, node: NodeId) -> String {
    let Some(rows) = view.mpls_forwarding(node) else {
        return "% MPLS not enabled\n".to_string();
    };
    let mut out = String::from(
        "Local      Outgoing   Prefix           Bytes Label   Outgoing   Next Hop    \nLabel      Label      or Tunnel Id     Switched      interface              \n",
    );
    let mut last = None;
    for r in rows {
        let local = if last == Some(r.local) {
            String::new()
        } else {
            r.local.to_string()
        };
        last = Some(r.local);
        let outgoing = match r.outgoing {
            crate::twin::MplsOutgoing::Label(l) => l.to_string(),
            crate::twin::MplsOutgoing::Pop => "Pop Label".into(),
            crate::twin::MplsOutgoing::NoLabel => "No Label".into(),
        };
        let _ = writeln!(
            out,
            "{local:<10} {outgoing:<10} {:<16} {:<13} {:<10} {}",
            r.fec,
            0,
            crate::ifname::short_name(&r.interface),
            r.next_hop.map(|a| a.to_string()).unwrap_or_default()
        );
    }
    out
}

/// `show segment-routing traffic-eng policy` in IOS XR's layout (uptimes omitted: the twin
/// has no clock for policies).
pub fn show_sr_te_policy(view: &dyn TwinView, node: NodeId) -> String {
    let Some(policies) = view.te_policies(node) else {
        return "% Segment routing is not enabled\n".to_string();
    };
    let mut out = String::from("\nSR-TE policy database\n---------------------\n");
    for p in policies {
        let ep = p
            .endpoint
            .map(|a| a.to_string())
            .unwrap_or_else(|| "0.0.0.0".into());
        let _ = writeln!(out, "\nColor: {}, End-point: {ep}", p.color);
        let _ = writeln!(out, "  Name: {}", p.name);
        let _ = writeln!(out, "  Status:");
        let _ = writeln!(
            out,
            "    Admin: up  Operational: {}",
            if p.up { "up" } else { "down" }
        );
        let _ = writeln!(out, "  Candidate-paths:");
        let origin = if p.on_demand {
            "BGP ODN"
        } else {
            "configuration"
        };
        let _ = writeln!(
            out,
            "    Preference: 100 ({origin}){}",
            if p.up { " (active)" } else { "" }
        );
        let _ = writeln!(out, "      {}", p.detail);
        if p.up {
            let _ = writeln!(
                out,
                "      Metric Type: {}, Path Accumulated Metric: {}",
                p.metric_type.to_uppercase(),
                p.cost
            );
            for (label, what) in &p.segments {
                let _ = writeln!(out, "        {label} [{what}]");
            }
        }
        let _ = writeln!(out, "  Attributes:");
        match p.binding_sid {
            Some(b) => {
                let _ = writeln!(out, "    Binding SID: {b}");
            }
            None => {
                let _ = writeln!(out, "    Binding SID: none");
            }
        }
    }
    out
}

/// `show mpls ldp bindings` in IOS's layout.
pub fn show_mpls_ldp_bindings(view: &dyn TwinView, node: NodeId) -> String {
    let Some(lib) = view.ldp_bindings(node) else {
        return "% LDP is not running\n".to_string();
    };
    let mut out = String::new();
    for (i, e) in lib.iter().enumerate() {
        let _ = writeln!(out, "  lib entry: {}, rev {}", e.prefix, 2 * (i + 1));
        if let Some(l) = e.local {
            let _ = writeln!(out, "        local binding:  label: {}", ldp_label(l));
        }
        for (lsr, l) in &e.remote {
            let _ = writeln!(
                out,
                "        remote binding: lsr: {lsr}:0, label: {}",
                ldp_label(*l)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_of(24).to_string(), "255.255.255.0");
        assert_eq!(mask_of(0).to_string(), "0.0.0.0");
        assert_eq!(mask_of(32).to_string(), "255.255.255.255");
        assert_eq!(mask_of(30).to_string(), "255.255.255.252");
        for len in 0..=32 {
            assert_eq!(len_of(mask_of(len)), Some(len));
        }
        assert_eq!(len_of("255.0.255.0".parse().unwrap()), None);
    }

    #[test]
    fn ages() {
        assert_eq!(age(Duration::from_secs(83)), "00:01:23");
        assert_eq!(age(Duration::from_secs(86_400 + 7200)), "1d02h");
        assert_eq!(age(Duration::from_secs(17 * 86_400)), "2w3d");
        assert_eq!(
            uptime_words(Duration::from_secs(3 * 3600 + 120)),
            "3 hours, 2 minutes"
        );
        assert_eq!(uptime_words(Duration::from_secs(30)), "0 minutes");
    }
}
