//! netlab's vrf module (VRF-lite): the `vrfs` definitions at the top level and on nodes, `vrf`
//! on links and link ends, and the values netlab computes for them (`netsim/modules/vrf.py`):
//! route distinguishers and route targets with their defaults, network-wide VRF ids, the
//! per-node table numbers (`vrfidx`), VRF loopbacks from the `vrf_loopback` pool.
//!
//! The loader keeps the sections as spanned YAML (`vrfs`/`vrf` in the topology's and nodes'
//! `config`, `vrf` in link and interface `config`); [`resolve`] runs after addresses are
//! assigned and fills `Node::vrfs` and `Interface::vrf`. Routing per VRF is the routing crate's.

use crate::addr::{Family, IfAddr, Prefix};
use crate::diag::Diagnostics;
use crate::topology::{Loopback, ModuleConfig, Topology, Vrf};
use crate::yaml::{self, read_bool, read_list, read_str, read_u64, Path, Span, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// VRF names netlab refuses (`vrf.yml`, `attributes.reserved`): the devices' own tables.
pub const RESERVED: &[&str] = &[
    "default",
    "system",
    "global",
    "base",
    "mgmt",
    "management",
    "mgmt_junos",
];

/// Keys of a VRF definition (`vrf.yml`, `_top.attributes.vrf`) nettwin reads.
const VRF_KEYS: &[&str] = &[
    "rd", "import", "export", "id", "links", "loopback", "ospf", "bgp", "isis",
];

/// netlab's `vrf.as` default: the AS number in RDs and RTs when no `bgp.as` is set.
pub const DEFAULT_AS: &str = "65000";

/// The first `vrfidx` on a node (`node_post_transform`).
pub const FIRST_TABLE: u32 = 100;

/// A pool's subnets for one family: (pool prefix, subnet length, whether netlab skips the
/// first subnet), as the loader's pools hand them out.
pub(crate) type PoolFamilies = [Option<(Prefix, u8, bool)>; 2];

/// A route target or RD value as written.
#[derive(Clone, Debug)]
enum RtItem {
    Int(u64),
    Text(String),
}

/// `loopback` in a VRF definition.
#[derive(Clone, Debug)]
enum Lb {
    Off,
    On,
    Pool(String, Span, Path),
    Addrs(Option<IfAddr>, Option<IfAddr>),
}

/// One VRF definition as netlab's data structure holds it while the module runs.
#[derive(Clone, Debug, Default)]
struct Def {
    span: Span,
    path: Path,
    rd: Option<String>,
    id: Option<u32>,
    import: Option<Vec<(RtItem, Span, Path)>>,
    export: Option<Vec<(RtItem, Span, Path)>>,
    /// Resolved route targets.
    import_rt: Option<Vec<String>>,
    export_rt: Option<Vec<String>>,
    /// `None`: not written; `Some(Lb::Off)`: written as false or empty.
    loopback: Option<Lb>,
    config: ModuleConfig,
}

/// netlab's `parse_rdrt_value`: `ASN:N` or `IPv4:N`.
fn valid_rdrt(text: &str) -> bool {
    let Some((a, n)) = text.split_once(':') else {
        return false;
    };
    n.parse::<u64>().is_ok()
        && (a.parse::<u64>().is_ok() || a.parse::<std::net::Ipv4Addr>().is_ok())
}

fn is_int(v: &yaml::Node) -> Option<u64> {
    match &v.value {
        Value::Scalar {
            text,
            quoted: false,
        } => text.parse().ok(),
        _ => None,
    }
}

/// A valid netlab identifier (`_keytype: id`).
fn valid_id(name: &str) -> bool {
    let mut c = name.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == '-')
        && name.len() <= 15
}

/// Reads a `vrfs` mapping (top level or a node's).
fn read_defs(
    v: &yaml::Node,
    path: &Path,
    global: bool,
    diags: &mut Diagnostics,
) -> Vec<(String, Def)> {
    let mut out = Vec::new();
    let Some(map) = v.as_map() else {
        if !v.is_null() {
            diags.error(
                v.span,
                path,
                format!(
                    "`vrfs` must be a mapping of VRF names to definitions, found {}",
                    v.kind_name()
                ),
            );
        }
        return out;
    };
    for (k, body) in map {
        let Some(name) = k.as_scalar() else { continue };
        let vpath = path.key(name);
        if RESERVED.contains(&name) {
            diags.error(
                k.span,
                &vpath,
                format!(
                    "VRF name `{name}` is reserved (devices use it for a built-in table); reserved names are: {}",
                    RESERVED.join(", ")
                ),
            );
            continue;
        }
        if !valid_id(name) {
            diags.error(
                k.span,
                &vpath,
                format!("invalid VRF name `{name}`: use letters, digits, `_` and `-`, starting with a letter, at most 15 characters (it names a Linux VRF device)"),
            );
            continue;
        }
        let mut d = Def {
            span: k.span,
            path: vpath.clone(),
            ..Def::default()
        };
        match &body.value {
            Value::Null => {}
            Value::Map(entries) => {
                for (bk, bv) in entries {
                    let Some(key) = bk.as_scalar() else { continue };
                    let kp = vpath.key(key);
                    match key {
                        "rd" => match &bv.value {
                            Value::Null => {}
                            Value::Scalar { text, .. } => d.rd = Some(text.clone()),
                            _ => diags.error(
                                bv.span,
                                &kp,
                                format!("an RD is an integer or `N:N`, found {}", bv.kind_name()),
                            ),
                        },
                        "id" => {
                            d.id = read_u64(bv, &kp, 1..=4095, diags).map(|x| x as u32);
                        }
                        "import" | "export" => {
                            let items: Vec<&yaml::Node> = match &bv.value {
                                Value::Seq(_) => read_list(bv, &kp, diags),
                                Value::Null => Vec::new(),
                                _ => vec![bv],
                            };
                            let mut list = Vec::new();
                            for (i, it) in items.into_iter().enumerate() {
                                let ip = kp.index(i);
                                if let Some(n) = is_int(it) {
                                    list.push((RtItem::Int(n), it.span, ip));
                                } else if let Some(t) = read_str(it, &ip, diags) {
                                    list.push((RtItem::Text(t), it.span, ip));
                                }
                            }
                            if key == "import" {
                                d.import = Some(list);
                            } else {
                                d.export = Some(list);
                            }
                        }
                        "links" => {
                            if !global {
                                diags.error(
                                    bk.span,
                                    &kp,
                                    "`links` belong in a global VRF definition (top-level `vrfs`)",
                                );
                            }
                        }
                        "loopback" => d.loopback = read_loopback(bv, &kp, global, diags),
                        "ospf" | "bgp" | "isis" => {
                            d.config.insert(key.to_string(), Arc::new(bv.clone()));
                        }
                        _ => {
                            let near = yaml::closest(key, VRF_KEYS)
                                .map(|n| format!(" (did you mean `{n}`?)"))
                                .unwrap_or_default();
                            diags.error(
                                bk.span,
                                &kp,
                                format!("unknown VRF attribute `{key}`{near}"),
                            );
                        }
                    }
                }
            }
            _ => {
                diags.error(
                    body.span,
                    &vpath,
                    format!("a VRF definition is a mapping, found {}", body.kind_name()),
                );
                continue;
            }
        }
        out.push((name.to_string(), d));
    }
    out
}

fn read_loopback(v: &yaml::Node, p: &Path, global: bool, diags: &mut Diagnostics) -> Option<Lb> {
    match &v.value {
        Value::Null => Some(Lb::Off),
        Value::Scalar {
            text,
            quoted: false,
        } if text == "true" || text == "false" => {
            Some(if text == "true" { Lb::On } else { Lb::Off })
        }
        Value::Scalar { text, .. } => {
            if global {
                diags.error(v.span, p, "IP prefix for VRF loopbacks can only be specified in node VRF data (use `pool` in a global VRF)");
                return None;
            }
            let a = lb_addr(text, v.span, p, diags)?;
            Some(match a.family() {
                Family::Ipv4 => Lb::Addrs(Some(a), None),
                Family::Ipv6 => Lb::Addrs(None, Some(a)),
            })
        }
        Value::Map(entries) => {
            let (mut v4, mut v6, mut pool) = (None, None, None);
            for (k, x) in entries {
                let key = k.as_scalar().unwrap_or_default();
                let kp = p.key(key);
                match key {
                    "ipv4" | "ipv6" => {
                        if global {
                            diags.error(x.span, &kp, "IP prefix for VRF loopbacks can only be specified in node VRF data (use `pool` in a global VRF)");
                            continue;
                        }
                        if let Some(t) = read_str(x, &kp, diags) {
                            let a = lb_addr(&t, x.span, &kp, diags);
                            if key == "ipv4" {
                                v4 = a;
                            } else {
                                v6 = a;
                            }
                        }
                    }
                    "pool" => {
                        pool = read_str(x, &kp, diags).map(|n| Lb::Pool(n, x.span, kp.clone()))
                    }
                    _ => diags.error(
                        k.span,
                        &kp,
                        format!("unknown VRF loopback attribute `{key}`; attributes are: ipv4, ipv6, pool"),
                    ),
                }
            }
            if v4.is_some() || v6.is_some() {
                Some(Lb::Addrs(v4, v6))
            } else {
                pool.or(Some(Lb::On))
            }
        }
        Value::Seq(_) => {
            let _ = read_bool(v, p, diags);
            None
        }
    }
}

/// A VRF loopback address: a bare address is a host route; a prefix gets its first host
/// (`vrf_loopbacks`: "host bits are set to 1").
fn lb_addr(text: &str, span: Span, p: &Path, diags: &mut Diagnostics) -> Option<IfAddr> {
    match IfAddr::parse(text, None)
        .or_else(|_| IfAddr::parse(text, Some(if text.contains(':') { 128 } else { 32 })))
    {
        Ok(a) => {
            let max = a.family().max_len();
            if a.len == max {
                return Some(a);
            }
            let net = a.subnet();
            if net.network() == a.addr {
                net.nth(1).map(|x| IfAddr {
                    addr: x,
                    len: a.len,
                })
            } else {
                Some(a)
            }
        }
        Err(e) => {
            diags.error(span, p, format!("invalid VRF loopback `{text}`: {e}"));
            None
        }
    }
}

/// netlab's `get_rd_as_number`: `bgp.as`, then `vrf.as`, of the object, then of the topology.
fn rd_as(sections: &[&ModuleConfig]) -> String {
    for key in ["bgp", "vrf"] {
        for s in sections {
            if let Some(a) = s
                .get(key)
                .and_then(|b| b.get("as"))
                .and_then(|v| v.as_scalar())
            {
                return a.to_string();
            }
        }
    }
    DEFAULT_AS.to_string()
}

/// The network-wide id and RD counters (`init_vrf_static_ids`, `get_next_vrf_id`).
struct Ids {
    used_ids: BTreeSet<u32>,
    used_rds: BTreeSet<String>,
    next: u32,
}

impl Ids {
    /// The next unused id whose `asn:id` RD is free, and that RD.
    fn next(&mut self, asn: &str) -> (u32, String) {
        loop {
            while self.used_ids.contains(&self.next) {
                self.next += 1;
            }
            let id = self.next;
            self.used_ids.insert(id);
            let rd = format!("{asn}:{id}");
            if !self.used_rds.contains(&rd) {
                self.used_rds.insert(rd.clone());
                return (id, rd);
            }
        }
    }
}

/// netlab's `normalize_vrf_dict`: integer RDs get the AS number, strings must be `N:N`.
fn normalize(defs: &mut [(String, Def)], asn: &str, diags: &mut Diagnostics) {
    for (name, d) in defs.iter_mut() {
        let Some(rd) = d.rd.clone() else { continue };
        if rd.bytes().all(|b| b.is_ascii_digit()) {
            d.rd = Some(format!("{asn}:{rd}"));
        } else if !valid_rdrt(&rd) {
            diags.error(
                d.span,
                &d.path.key("rd"),
                format!("RD value in VRF {name} ({rd}) is not in N:N format"),
            );
            d.rd = None;
        }
    }
}

/// netlab's `set_import_export_rt` for one definition list; `global` is the resolved global
/// list when `defs` are a node's.
fn set_rts(
    defs: &mut [(String, Def)],
    global: Option<&[(String, Def)]>,
    asn: &str,
    diags: &mut Diagnostics,
) {
    let rds: HashMap<String, Option<String>> = defs
        .iter()
        .map(|(n, d)| (n.clone(), d.rd.clone()))
        .collect();
    for (name, def) in defs.iter_mut() {
        let name = name.clone();
        for which in ["import", "export"] {
            let d = &*def;
            let written = if which == "import" {
                d.import.clone()
            } else {
                d.export.clone()
            };
            let resolved = match written {
                None => {
                    let g = global.and_then(|g| g.iter().find(|(n, _)| *n == name));
                    match g {
                        Some((_, gd)) => {
                            if which == "import" {
                                gd.import_rt.clone().unwrap_or_default()
                            } else {
                                gd.export_rt.clone().unwrap_or_default()
                            }
                        }
                        None => d.rd.iter().cloned().collect(),
                    }
                }
                Some(list) => {
                    let mut out = Vec::new();
                    for (item, span, p) in list {
                        match item {
                            RtItem::Int(n) => out.push(format!("{asn}:{n}")),
                            RtItem::Text(t) if t.contains(':') => {
                                if valid_rdrt(&t) {
                                    out.push(t);
                                } else {
                                    diags.error(span, &p, format!("{which} value {t} in VRF {name} is not in valid N:N format"));
                                }
                            }
                            RtItem::Text(t) => {
                                // A VRF name: that VRF's RD, the global one first (`get_vrf_id`).
                                let g = global
                                    .and_then(|g| g.iter().find(|(n, _)| *n == t))
                                    .map(|(_, gd)| gd.rd.clone());
                                match g.or_else(|| rds.get(&t).cloned()) {
                                    Some(Some(rd)) => out.push(rd),
                                    _ => diags.error(
                                        span,
                                        &p,
                                        format!("{which} route target `{t}` in VRF {name} is neither `N:N`, an integer nor a known VRF"),
                                    ),
                                }
                            }
                        }
                    }
                    out
                }
            };
            if which == "import" {
                def.import_rt = Some(resolved);
            } else {
                def.export_rt = Some(resolved);
            }
        }
    }
}

/// Resolves the vrf module over a loaded topology: fills `Node::vrfs` and `Interface::vrf`.
/// `pool` gives a named pool's families. Errors name the file place of the setting.
pub(crate) fn resolve(
    topo: &mut Topology,
    pool: &dyn Fn(&str) -> Option<PoolFamilies>,
    diags: &mut Diagnostics,
) {
    refuse_vpn(topo, diags);
    let top_cfg = topo.config.clone();
    let uses_vrfs = top_cfg.contains_key("vrfs")
        || topo.nodes.iter().any(|n| n.config.contains_key("vrfs"))
        || topo.links.iter().any(|l| l.config.contains_key("vrf"))
        || topo
            .nodes
            .iter()
            .any(|n| n.interfaces.iter().any(|i| i.config.contains_key("vrf")));
    if !uses_vrfs {
        return;
    }
    let top_as = rd_as(&[&top_cfg]);
    let mut global = top_cfg
        .get("vrfs")
        .map(|v| read_defs(v, &Path::root().key("vrfs"), true, diags))
        .unwrap_or_default();
    normalize(&mut global, &top_as, diags);
    let mut node_defs: Vec<Vec<(String, Def)>> = Vec::with_capacity(topo.nodes.len());
    let mut node_as: Vec<String> = Vec::with_capacity(topo.nodes.len());
    for n in &topo.nodes {
        let asn = rd_as(&[&n.config, &top_cfg]);
        let mut defs = n
            .config
            .get("vrfs")
            .map(|v| {
                read_defs(
                    v,
                    &Path::root().key("nodes").key(&n.name).key("vrfs"),
                    false,
                    diags,
                )
            })
            .unwrap_or_default();
        normalize(&mut defs, &asn, diags);
        node_defs.push(defs);
        node_as.push(asn);
    }
    // Every id and RD written anywhere is taken before any is assigned
    // (`populate_vrf_static_ids`).
    let mut ids = Ids {
        used_ids: BTreeSet::new(),
        used_rds: BTreeSet::new(),
        next: 1,
    };
    for (_, d) in global.iter().chain(node_defs.iter().flatten()) {
        ids.used_ids.extend(d.id);
        ids.used_rds.extend(d.rd.clone());
    }
    for (_, d) in global.iter_mut() {
        if d.rd.is_none() || d.id.is_none() {
            let (id, rd) = ids.next(&top_as);
            d.id.get_or_insert(id);
            d.rd.get_or_insert(rd);
        }
    }
    set_rts(&mut global, None, &top_as, diags);
    for (ni, defs) in node_defs.iter_mut().enumerate() {
        for (name, d) in defs.iter_mut() {
            if d.rd.is_some() && d.id.is_some() {
                continue;
            }
            // A global VRF's values are copied, both of them (`set_vrf_ids`).
            if let Some((_, g)) = global.iter().find(|(n, _)| n == name) {
                d.id = g.id;
                d.rd = g.rd.clone();
                continue;
            }
            let (id, rd) = ids.next(&node_as[ni]);
            d.id.get_or_insert(id);
            d.rd.get_or_insert(rd);
        }
        set_rts(defs, Some(&global), &node_as[ni], diags);
    }

    // Interfaces name their VRF on the end, else on the link.
    let mut lb_counters: HashMap<String, u128> = HashMap::new();
    #[allow(clippy::needless_range_loop)] // `topo.nodes` is borrowed and changed inside
    for ni in 0..topo.nodes.len() {
        let mut defs = std::mem::take(&mut node_defs[ni]);
        let mut if_vrf: Vec<Option<String>> = Vec::new();
        let mut has_if = false;
        for ii in 0..topo.nodes[ni].interfaces.len() {
            let iface = &topo.nodes[ni].interfaces[ii];
            // A link's `vrf` reaches only the nodes that run the vrf module (netlab copies a
            // module's link attributes to the interfaces of its nodes): hosts stay global.
            let runs_vrf = topo.nodes[ni].modules.iter().any(|m| m == "vrf");
            let v = iface.config.get("vrf").cloned().or_else(|| {
                runs_vrf
                    .then(|| topo.links[iface.link.index()].config.get("vrf").cloned())
                    .flatten()
            });
            let Some(v) = v else {
                if_vrf.push(None);
                continue;
            };
            let link = &topo.links[iface.link.index()];
            let path = if iface.config.contains_key("vrf") {
                Path::root()
                    .key("links")
                    .key(&link.name)
                    .key(&topo.nodes[ni].name)
                    .key("vrf")
            } else {
                Path::root().key("links").key(&link.name).key("vrf")
            };
            let Some(name) = read_str(&v, &path, diags) else {
                if_vrf.push(None);
                continue;
            };
            let known =
                defs.iter().any(|(n, _)| *n == name) || global.iter().any(|(n, _)| *n == name);
            if !known {
                let mut names: Vec<&str> = global.iter().map(|(n, _)| n.as_str()).collect();
                names.extend(defs.iter().map(|(n, _)| n.as_str()));
                let near = yaml::closest(&name, &names)
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                diags.error(
                    v.span,
                    &path,
                    format!(
                        "VRF {name} used on an interface in {} is not defined in the node or globally{near}",
                        topo.nodes[ni].name
                    ),
                );
                if_vrf.push(None);
                continue;
            }
            if !defs.iter().any(|(n, _)| *n == name) {
                defs.push((name.clone(), Def::default()));
            }
            has_if = true;
            if_vrf.push(Some(name));
        }
        // Node data over global data (`node_post_link_transform`).
        for (name, d) in defs.iter_mut() {
            let Some((_, g)) = global.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if d.id.is_none() {
                d.id = g.id;
            }
            if d.rd.is_none() {
                d.rd = g.rd.clone();
            }
            if d.import_rt.is_none() {
                d.import_rt = g.import_rt.clone();
            }
            if d.export_rt.is_none() {
                d.export_rt = g.export_rt.clone();
            }
            if d.loopback.is_none() {
                d.loopback = g.loopback.clone();
            }
            if d.span == Span::default() {
                d.span = g.span;
                d.path = g.path.clone();
            }
            for (k, gv) in &g.config {
                match d.config.get_mut(k) {
                    Some(nv) => {
                        let mut merged = (**nv).clone();
                        crate::netlab::fill(&mut merged, (**gv).clone());
                        *nv = Arc::new(merged);
                    }
                    None => {
                        d.config.insert(k.clone(), gv.clone());
                    }
                }
            }
        }
        let node = &topo.nodes[ni];
        let node_lb = node_flag(&node.config, "loopback", diags)
            .or_else(|| node_flag(&top_cfg, "loopback", diags))
            .unwrap_or(false);
        let any_lb = defs.iter().any(|(_, d)| match &d.loopback {
            Some(Lb::Off) => false,
            Some(_) => true,
            None => node_lb,
        });
        if !has_if && !any_lb {
            continue; // netlab removes the module and `vrfs` from a node without VRFs
        }
        let mut vrfs: Vec<Vrf> = Vec::with_capacity(defs.len());
        for (name, d) in defs {
            let mut lb = Loopback::default();
            let want = match d.loopback {
                Some(Lb::Off) => None,
                Some(x) => Some(x),
                None => node_lb.then_some(Lb::On),
            };
            match want {
                None | Some(Lb::Off) => {}
                Some(Lb::Addrs(a, b)) => {
                    lb.ipv4 = a;
                    lb.ipv6 = b;
                }
                Some(Lb::On) => allocate(&mut lb, "vrf_loopback", pool, &mut lb_counters),
                Some(Lb::Pool(pname, span, p)) => {
                    if pool(&pname).is_none() {
                        diags.error(span, &p, format!("unknown address pool `{pname}`"));
                    } else {
                        allocate(&mut lb, &pname, pool, &mut lb_counters);
                    }
                }
            }
            vrfs.push(Vrf {
                name,
                id: d.id.unwrap_or(0),
                table: 0,
                rd: d.rd.unwrap_or_default(),
                import: d.import_rt.unwrap_or_default(),
                export: d.export_rt.unwrap_or_default(),
                loopback: lb,
                config: d.config,
                span: d.span,
            });
        }
        // vrfidx in VRF-id order, for consistency across nodes.
        let mut order: Vec<usize> = (0..vrfs.len()).collect();
        order.sort_by_key(|&i| vrfs[i].id);
        for (rank, i) in order.into_iter().enumerate() {
            vrfs[i].table = FIRST_TABLE + rank as u32;
        }
        for v in &vrfs {
            if v.config.contains_key("isis") {
                diags.error(
                    v.span,
                    &Path::root().key("vrfs").key(&v.name).key("isis"),
                    format!("IS-IS in a VRF (VRF {}) is not modelled by nettwin; VRFs run OSPF, BGP and static routes", v.name),
                );
            }
        }
        let node = &mut topo.nodes[ni];
        for (ii, name) in if_vrf.into_iter().enumerate() {
            node.interfaces[ii].vrf = name
                .and_then(|n| vrfs.iter().position(|v| v.name == n))
                .map(|i| i as u32);
        }
        if !node.modules.iter().any(|m| m == "vrf") {
            // netlab: `vrfs` and `vrf` `_requires: [vrf]`.
            let (span, path) = match vrfs.first() {
                Some(v) if v.span != Span::default() => {
                    (v.span, Path::root().key("vrfs").key(&v.name))
                }
                _ => (node.span, Path::root().key("nodes").key(&node.name)),
            };
            diags.error(
                span,
                &path,
                format!(
                    "node {} uses VRFs but does not run netlab's vrf module; add `vrf` to its `module` list",
                    node.name
                ),
            );
        }
        node.vrfs = vrfs;
    }
}

/// `vrf.loopback` (or another flag) in a `vrf` section.
fn node_flag(cfg: &ModuleConfig, key: &str, diags: &mut Diagnostics) -> Option<bool> {
    let v = cfg.get("vrf")?.get(key)?;
    read_bool(v, &Path::root().key("vrf").key(key), diags)
}

/// The next address of a pool for a VRF loopback (`addressing.get`): subnets in order, a host
/// route itself, else the subnet's first host.
fn allocate(
    lb: &mut Loopback,
    name: &str,
    pool: &dyn Fn(&str) -> Option<PoolFamilies>,
    counters: &mut HashMap<String, u128>,
) {
    let Some(fams) = pool(name) else { return };
    let n = counters.entry(name.to_string()).or_insert(0);
    for (fi, f) in fams.iter().enumerate() {
        let Some((base, len, skip)) = f else { continue };
        let k = *n + u128::from(*skip);
        let Some(sub) = base.subnet(*len, k) else {
            continue;
        };
        let max = if fi == 0 { 32 } else { 128 };
        let addr = if *len == max {
            sub.network()
        } else {
            match sub.nth(1) {
                Some(a) => a,
                None => continue,
            }
        };
        let a = IfAddr { addr, len: *len };
        if fi == 0 {
            lb.ipv4 = Some(a);
        } else {
            lb.ipv6 = Some(a);
        }
    }
    *n += 1;
}

/// MPLS/VPN (BGP VPNv4 sessions between PEs) carries VRF routes between routers; nettwin models
/// VRF-lite only, so a lab that asks for it gets one error.
fn refuse_vpn(topo: &Topology, diags: &mut Diagnostics) {
    let mut places: Vec<(Span, Path)> = Vec::new();
    let mut check = |cfg: &ModuleConfig, base: Path| {
        // `mpls.vpn` is refused by the routing crate's MPLS settings (`config::mpls`).
        for (m, keys) in [("bgp", &["vpnv4", "vpnv6"][..])] {
            if let Some(sec) = cfg.get(m) {
                for k in keys {
                    if let Some(v) = sec.get(k) {
                        places.push((v.span, base.key(m).key(k)));
                    }
                }
            }
        }
    };
    check(&topo.config, Path::root());
    for n in &topo.nodes {
        check(&n.config, Path::root().key("nodes").key(&n.name));
    }
    if let Some((span, path)) = places.first() {
        let more = match places.len() {
            1 => String::new(),
            n => format!(" (and {} other places)", n - 1),
        };
        diags.error(*span, path, format!("MPLS/VPN is not modelled by nettwin: VRF routes would cross BGP VPNv4/VPNv6 sessions between routers; nettwin models VRF-lite (VRFs joined by VRF interfaces, leaking inside one router){more}"));
    }
}
