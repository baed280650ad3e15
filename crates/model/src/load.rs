//! Loading a topology file: YAML to a resolved, validated [`Topology`].
//!
//! The file format follows netlab's where it can (`nodes`, `links` in list, string, dict and
//! `interfaces` forms, `groups`, `defaults`, `addressing` pools), so a netlab user feels at home.
//! Every mistake is collected with its `file:line:col` and key path; loading fails with all of
//! them at once, never with a panic.

use crate::addr::{is_link_local, parse_addr, special_use, Family, IfAddr, Prefix};
use crate::diag::Diagnostics;
use crate::topology::*;
use crate::yaml::{self, read_bool, read_list, read_str, read_u64, MapReader, Path, Span, Value};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

/// Module sections that later stages decode; accepted at top level, on nodes, links and ends.
pub const MODULES: [&str; 6] = ["ospf", "isis", "bgp", "mpls", "sr", "policies"];

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "defaults",
    "addressing",
    "groups",
    "nodes",
    "links",
    "module",
    "ospf",
    "isis",
    "bgp",
    "mpls",
    "sr",
    "policies",
    "validate",
];

const NODE_KEYS: &[&str] = &[
    "kind",
    "asn",
    "loopback",
    "mtu",
    "router_id",
    "static",
    "module",
    "bridge_netfilter",
    "description",
    "ospf",
    "isis",
    "bgp",
    "mpls",
    "sr",
    "policies",
];

const LINK_KEYS: &[&str] = &[
    "name",
    "mtu",
    "bandwidth",
    "latency",
    "cost",
    "loss",
    "prefix",
    "interfaces",
    "description",
    "ospf",
    "isis",
    "bgp",
    "mpls",
    "sr",
    "policies",
];

const END_KEYS: &[&str] = &[
    "node", "ifname", "ipv4", "ipv6", "mtu", "cost", "shutdown", "ospf", "isis", "bgp", "mpls",
    "sr", "policies",
];

const STATIC_KEYS: &[&str] = &["prefix", "nexthop", "interface", "discard", "distance"];

/// MTU limits: 68 is the IPv4 minimum (RFC 791), 65535 the largest IP packet.
pub const MTU_RANGE: std::ops::RangeInclusive<u64> = 68..=65535;
pub const DEFAULT_MTU: u32 = 1500;

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Reads and resolves the topology in `path`.
pub fn load_file(path: &std::path::Path) -> Result<Topology, LoadError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: name.clone(),
        source,
    })?;
    load_bytes(&name, &bytes)
}

/// Resolves the topology in the raw contents of a file; text that is not UTF-8 is an error at the
/// first byte that cannot be decoded.
pub fn load_bytes(file: &str, bytes: &[u8]) -> Result<Topology, LoadError> {
    let text = decode_utf8(file, bytes).map_err(LoadError::Invalid)?;
    load_str(file, text)
}

/// `bytes` as text, or the place of the first byte that is not UTF-8.
pub fn decode_utf8<'b>(file: &str, bytes: &'b [u8]) -> Result<&'b str, Diagnostics> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        // The prefix before the bad byte is valid UTF-8 by definition.
        let good = std::str::from_utf8(good).unwrap_or_default();
        let line_start = good.rfind('\n').map_or(0, |i| i + 1);
        let span = Span {
            line: good.matches('\n').count() as u32 + 1,
            col: good[line_start..].chars().count() as u32 + 1,
        };
        let mut diags = Diagnostics::new(file);
        diags.error(
            span,
            &Path::root(),
            format!(
                "the file is not UTF-8: byte 0x{:02x} cannot be decoded (save it as UTF-8)",
                bytes[e.valid_up_to()]
            ),
        );
        diags
    })
}

/// Resolves the topology in `text`; `file` names it in errors.
pub fn load_str(file: &str, text: &str) -> Result<Topology, LoadError> {
    let root = yaml::parse_document(file, text).map_err(LoadError::Invalid)?;
    let mut diags = Diagnostics::new(file);
    let topo = Loader::new(file, &mut diags).load(&root);
    if diags.is_empty() {
        Ok(topo.expect("a loader without errors returns a topology"))
    } else {
        diags.sort();
        Err(LoadError::Invalid(diags))
    }
}

/// The address pools automatic addressing draws from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pool {
    ipv4: Option<Prefix>,
    ipv6: Option<Prefix>,
    /// Subnet length for IPv4 segments from this pool (IPv6 segments are /64).
    prefix4: u8,
}

#[derive(Clone, Debug)]
struct Pools {
    loopback: Pool,
    p2p: Pool,
    lan: Pool,
}

impl Default for Pools {
    /// Defaults inside 198.18.0.0/15 (RFC 2544 benchmarking space), so a topology built in
    /// network namespaces never collides with a real network. IPv6 is enabled by giving a pool.
    fn default() -> Pools {
        let p = |s: &str| Some(s.parse::<Prefix>().expect("valid built-in pool"));
        Pools {
            loopback: Pool {
                ipv4: p("198.18.0.0/18"),
                ipv6: None,
                prefix4: 32,
            },
            lan: Pool {
                ipv4: p("198.18.128.0/17"),
                ipv6: None,
                prefix4: 24,
            },
            p2p: Pool {
                ipv4: p("198.19.0.0/16"),
                ipv6: None,
                prefix4: 31,
            },
        }
    }
}

/// A segment's subnet as the file fixed it (link `prefix` or an explicit address), with where.
type FixedSubnet = Option<(Prefix, Span, Path)>;

/// A link end as written, before interfaces exist.
struct RawEnd {
    node: NodeId,
    span: Span,
    path: Path,
    ifname: Option<String>,
    ipv4: Option<(IfAddr, Span)>,
    ipv6: Option<(IfAddr, Span)>,
    mtu: Option<u32>,
    cost: Option<u32>,
    shutdown: bool,
    config: ModuleConfig,
}

impl RawEnd {
    fn new(node: NodeId, span: Span, path: Path) -> RawEnd {
        RawEnd {
            node,
            span,
            path,
            ifname: None,
            ipv4: None,
            ipv6: None,
            mtu: None,
            cost: None,
            shutdown: false,
            config: ModuleConfig::new(),
        }
    }
}

struct RawLink {
    span: Span,
    path: Path,
    name: Option<String>,
    ends: Vec<RawEnd>,
    mtu: Option<u32>,
    bandwidth: Option<u64>,
    latency_us: Option<u64>,
    cost: Option<u32>,
    loss: Option<f64>,
    prefix4: Option<(Prefix, Span)>,
    prefix6: Option<(Prefix, Span)>,
    config: ModuleConfig,
}

struct Loader<'d> {
    file: String,
    diags: &'d mut Diagnostics,
    /// Static routes per node, decoded before the node's interfaces exist.
    statics: Vec<Vec<PendingStatic>>,
    /// Settings accepted but not acted on, for warnings; one per place, deduplicated later.
    notices: Vec<(Notice, Span, Path)>,
    /// One shared copy of each module section, by its place in the document tree: a section in
    /// `defaults` or a group applies to every member, and a copy per member would multiply a
    /// large (alias-built) section by the number of nodes.
    sections: HashMap<*const yaml::Node, Arc<yaml::Node>>,
}

/// Why the loader accepts a setting that changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Notice {
    /// An `ospf`/`isis`/`bgp` section where no router it applies to runs the module.
    NotEnabled(&'static str),
    /// A module nettwin parses but does not model (`mpls`, `sr`, `policies`).
    NotModelled(&'static str),
    /// `bgp` on a link or link end: BGP settings are per router.
    BgpOnLink,
}

impl Notice {
    /// The warning, for `count` places (the first of which the warning points at).
    fn message(self, count: usize) -> String {
        let here = match count {
            0 | 1 => String::new(),
            2 => " here and in 1 other place".to_string(),
            n => format!(" here and in {} other places", n - 1),
        };
        match self {
            Notice::NotEnabled(m) => format!("`{m}` settings are ignored{here}: no router they apply to runs the {m} module; enable it with `module: [{m}]` at the top level, in a group or on a node"),
            Notice::NotModelled(m) => {
                let what = match m {
                    "mpls" => "nettwin computes no MPLS label switching",
                    "sr" => "nettwin computes no segment routing",
                    _ => "BGP policies are written as `bgp.import` and `bgp.export`",
                };
                format!("`{m}` is parsed but not modelled{here}: {what}, so these settings change nothing")
            }
            Notice::BgpOnLink => format!("`bgp` settings on links and link ends are not modelled{here}: they change nothing; BGP is configured at the top level and on nodes"),
        }
    }
}

/// Modules the loader accepts but nothing models yet.
const UNMODELLED: [&str; 3] = ["mpls", "sr", "policies"];

/// The `&'static` name of a module section key.
fn module_name(m: &str) -> &'static str {
    MODULES
        .iter()
        .find(|x| **x == m)
        .copied()
        .unwrap_or("module")
}

/// Where an attribute value came from: the node itself, one of its groups, or `defaults`.
type Sources<'a> = Vec<(&'a yaml::Node, Path)>;

fn attr<'a>(sources: &Sources<'a>, key: &str) -> Option<(&'a yaml::Node, Path)> {
    sources
        .iter()
        .find_map(|(map, path)| map.get(key).map(|v| (v, path.key(key))))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 48
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Why `a` cannot be configured on an interface (or, with `loopback`, as a loopback), if it
/// cannot: a special-purpose address, a subnet that takes in one, or the subnet's own network or
/// broadcast address.
fn unusable(a: IfAddr, loopback: bool) -> Option<String> {
    let what = if loopback { "loopback" } else { "address" };
    if let Some((range, why)) = special_use(&Prefix::host(a.addr)) {
        return Some(if range.len() == range.family().max_len() {
            format!("{what} {a} is unusable: {} is {why}", a.addr)
        } else {
            format!("{what} {a} is unusable: {} is in {range} ({why})", a.addr)
        });
    }
    if loopback && is_link_local(a.addr) {
        return Some(format!(
            "{what} {a} is unusable: link-local addresses are never routed"
        ));
    }
    let subnet = a.subnet();
    if subnet.len() == 0 {
        return Some(format!(
            "{what} {a} is unusable: a /0 subnet is the whole address space"
        ));
    }
    if let Some((range, why)) = special_use(&subnet) {
        return Some(format!(
            "{what} {a} is unusable: its subnet {subnet} takes in {range} ({why})"
        ));
    }
    let max = a.family().max_len();
    if !loopback && a.len < max - 1 {
        if a.addr == subnet.network() {
            return Some(format!("address {a} is the network address of {subnet}"));
        }
        if a.family() == Family::Ipv4 && subnet.nth(subnet.size() - 1) == Some(a.addr) {
            return Some(format!("address {a} is the broadcast address of {subnet}"));
        }
    }
    None
}

/// Interface names the kernel refuses, or that collide with names every namespace has.
fn bad_ifname(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 15 {
        Some("Linux interface names have at most 15 bytes")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not interface names")
    } else if name.contains(['/', ':']) || name.chars().any(char::is_whitespace) {
        Some("Linux interface names have no `/`, `:` or whitespace")
    } else if matches!(name, "all" | "default") {
        Some("`all` and `default` name the kernel's per-interface settings of every interface")
    } else if name == "lo" {
        Some("`lo` is the loopback interface every node already has")
    } else {
        None
    }
}

impl<'d> Loader<'d> {
    fn new(file: &str, diags: &'d mut Diagnostics) -> Self {
        Loader {
            file: file.to_string(),
            diags,
            statics: Vec::new(),
            notices: Vec::new(),
            sections: HashMap::new(),
        }
    }

    /// The shared copy of the module section `v`.
    fn shared(&mut self, v: &yaml::Node) -> Arc<yaml::Node> {
        self.sections
            .entry(v as *const yaml::Node)
            .or_insert_with(|| Arc::new(v.clone()))
            .clone()
    }

    fn err(&mut self, span: Span, path: &Path, msg: impl Into<String>) {
        self.diags.error(span, path, msg);
    }

    fn load(&mut self, root: &yaml::Node) -> Option<Topology> {
        if root.is_null() {
            self.err(
                root.span,
                &Path::root(),
                "the file is empty: expected `nodes` and `links`",
            );
            return None;
        }
        let mut top = MapReader::new(root, &Path::root(), self.diags)?;
        let name = top
            .take("name")
            .and_then(|n| read_str(n, &Path::root().key("name"), self.diags))
            .unwrap_or_else(|| {
                std::path::Path::new(&self.file)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "topology".into())
            });
        top.take("description");
        let defaults = top.take("defaults");
        let addressing = top.take("addressing");
        let groups = top.take("groups");
        let nodes_node = top.take("nodes");
        let links_node = top.take("links");
        let module = top.take("module");
        let mut config = ModuleConfig::new();
        for m in MODULES {
            if let Some(v) = top.take(m) {
                config.insert(m.to_string(), self.shared(v));
            }
        }
        // netlab's validation tests: kept as written for `nettwin validate` to decode.
        let validate = top.take("validate").map(|v| Arc::new(v.clone()));
        top.finish(TOP_KEYS, self.diags);
        let top_modules = module
            .map(|m| self.module_list(m, &Path::root().key("module")))
            .unwrap_or_default();

        let pools = self.pools(addressing);
        let Some(nodes_node) = nodes_node else {
            self.err(
                Span { line: 1, col: 1 },
                &Path::root(),
                "missing required key `nodes`",
            );
            return None;
        };

        // Defaults: node attributes, plus a `link` section of link attributes.
        let mut default_link: Option<&yaml::Node> = None;
        let mut default_sources: Sources = Vec::new();
        if let Some(d) = defaults {
            let path = Path::root().key("defaults");
            if let Some(map) = d.as_map() {
                for (k, v) in map {
                    let key = k.as_scalar().unwrap_or_default();
                    if key == "link" {
                        self.check_keys(v, &path.key("link"), LINK_KEYS);
                        default_link = Some(v);
                    } else if !NODE_KEYS.contains(&key) {
                        let mut allowed = NODE_KEYS.to_vec();
                        allowed.push("link");
                        let near = yaml::closest(key, &allowed)
                            .map(|n| format!(" (did you mean `{n}`?)"))
                            .unwrap_or_default();
                        self.err(k.span, &path.key(key), format!("unknown key `{key}`{near}"));
                    }
                }
                default_sources.push((d, path));
            } else if !d.is_null() {
                self.err(
                    d.span,
                    &path,
                    format!("expected a mapping, found {}", d.kind_name()),
                );
            }
        }

        // Node names first, so groups and links can refer to nodes defined later in the file.
        let node_entries = self.node_entries(nodes_node);
        let mut index: HashMap<String, NodeId> = HashMap::with_capacity(node_entries.len());
        for (i, (name, span, _)) in node_entries.iter().enumerate() {
            let path = Path::root().key("nodes").key(name);
            if !valid_name(name) {
                self.err(
                    *span,
                    &path,
                    format!("invalid node name `{name}`: use letters, digits, `_` and `-`, starting with a letter, at most 48 characters"),
                );
            }
            if index.insert(name.clone(), NodeId(i as u32)).is_some() {
                self.err(*span, &path, format!("duplicate node `{name}`"));
            }
        }

        let group_sources = self.groups(groups, &index);
        let mut nodes = Vec::with_capacity(node_entries.len());
        for (i, (name, span, body)) in node_entries.iter().enumerate() {
            let path = Path::root().key("nodes").key(name);
            let mut sources: Sources = Vec::new();
            if let Some(body) = body {
                self.check_keys(body, &path, NODE_KEYS);
                if body.as_map().is_some() {
                    sources.push((body, path.clone()));
                }
            }
            if let Some(gs) = group_sources.get(&(i as u32)) {
                sources.extend(gs.iter().rev().cloned());
            }
            sources.extend(default_sources.iter().cloned());
            nodes.push(self.node(NodeId(i as u32), name, *span, &sources, &top_modules));
        }

        let raw_links = match links_node {
            Some(l) => self.links(l, &index, default_link),
            None => Vec::new(),
        };
        let mut topo = self.resolve(name, nodes, raw_links, pools, config)?;
        topo.validate = validate;
        Some(topo)
    }

    /// Reports keys of `node` (a mapping) not in `allowed`.
    fn check_keys(&mut self, node: &yaml::Node, path: &Path, allowed: &[&str]) {
        if let Some(mut r) = MapReader::new(node, path, self.diags) {
            for key in allowed {
                r.take(key);
            }
            r.finish(allowed, self.diags);
        }
    }

    fn module_list(&mut self, node: &yaml::Node, path: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for (i, item) in read_list(node, path, self.diags).into_iter().enumerate() {
            let Some(name) = read_str(item, &path.index(i), self.diags) else {
                continue;
            };
            if MODULES.contains(&name.as_str()) {
                if UNMODELLED.contains(&name.as_str()) {
                    let notice = Notice::NotModelled(module_name(&name));
                    self.notices.push((notice, item.span, path.index(i)));
                }
                out.push(name);
            } else {
                self.err(
                    item.span,
                    &path.index(i),
                    format!(
                        "unknown module `{name}`; modules are: {}",
                        MODULES.join(", ")
                    ),
                );
            }
        }
        out
    }

    fn pools(&mut self, addressing: Option<&yaml::Node>) -> Pools {
        let mut pools = Pools::default();
        let Some(node) = addressing else {
            return pools;
        };
        let path = Path::root().key("addressing");
        let Some(mut r) = MapReader::new(node, &path, self.diags) else {
            return pools;
        };
        // Pools the file sets: (pool, family key, prefix, where).
        let mut given: Vec<(&str, &str, Prefix, Span, Path)> = Vec::new();
        for (key, pool) in [
            ("loopback", &mut pools.loopback),
            ("p2p", &mut pools.p2p),
            ("lan", &mut pools.lan),
        ] {
            let Some(v) = r.take(key) else { continue };
            let ppath = path.key(key);
            let Some(mut pr) = MapReader::new(v, &ppath, self.diags) else {
                continue;
            };
            for (fam_key, family) in [("ipv4", Family::Ipv4), ("ipv6", Family::Ipv6)] {
                let Some(p) = pr.take(fam_key) else { continue };
                let fpath = ppath.key(fam_key);
                let slot = match family {
                    Family::Ipv4 => &mut pool.ipv4,
                    Family::Ipv6 => &mut pool.ipv6,
                };
                if matches!(&p.value, Value::Scalar { text, quoted: false } if text == "false") {
                    *slot = None;
                    continue;
                }
                if let Some(prefix) = self.prefix(p, &fpath, Some(family)) {
                    match special_use(&prefix) {
                        Some((range, why)) => self.err(
                            p.span,
                            &fpath,
                            format!("address pool {prefix} takes in {range} ({why})"),
                        ),
                        None => {
                            *slot = Some(prefix);
                            given.push((key, fam_key, prefix, p.span, fpath));
                        }
                    }
                }
            }
            if let Some(len) = pr.take("prefix") {
                if let Some(len) = read_u64(len, &ppath.key("prefix"), 1..=32, self.diags) {
                    pool.prefix4 = len as u8;
                }
            }
            pr.finish(&["ipv4", "ipv6", "prefix"], self.diags);
        }
        r.finish(&["loopback", "p2p", "lan"], self.diags);
        // Each pool hands out addresses without looking at the others, so overlapping pools
        // would give two interfaces the same address.
        let all = [
            ("loopback", "ipv4", pools.loopback.ipv4),
            ("loopback", "ipv6", pools.loopback.ipv6),
            ("p2p", "ipv4", pools.p2p.ipv4),
            ("p2p", "ipv6", pools.p2p.ipv6),
            ("lan", "ipv4", pools.lan.ipv4),
            ("lan", "ipv6", pools.lan.ipv6),
        ];
        for (i, (name, key, prefix, span, fpath)) in given.iter().enumerate() {
            for (other, okey, op) in all {
                let Some(op) = op else { continue };
                // Two pools the file sets are reported once, at the later one.
                let reported = given[i + 1..].iter().any(|g| (g.0, g.1) == (other, okey))
                    || (other, okey) == (*name, *key);
                if reported || !op.overlaps(prefix) {
                    continue;
                }
                self.err(
                    *span,
                    fpath,
                    format!("address pool {prefix} overlaps the {other} pool {op}; two interfaces would get the same address"),
                );
            }
        }
        pools
    }

    fn prefix(&mut self, node: &yaml::Node, path: &Path, family: Option<Family>) -> Option<Prefix> {
        let text = read_str(node, path, self.diags)?;
        match text.parse::<Prefix>() {
            Ok(p) if family.is_none_or(|f| f == p.family()) => Some(p),
            Ok(p) => {
                self.err(
                    node.span,
                    path,
                    format!(
                        "invalid prefix `{text}`: expected {}, found {}",
                        family.unwrap(),
                        p.family()
                    ),
                );
                None
            }
            Err(e) => {
                self.err(node.span, path, format!("invalid prefix: {e}"));
                None
            }
        }
    }

    /// A link's subnet: a prefix that takes in no special-purpose range.
    fn subnet_prefix(
        &mut self,
        node: &yaml::Node,
        path: &Path,
        family: Option<Family>,
    ) -> Option<Prefix> {
        let p = self.prefix(node, path, family)?;
        match special_use(&p) {
            Some((range, why)) => {
                self.err(
                    node.span,
                    path,
                    format!("link prefix {p} is unusable: it takes in {range} ({why})"),
                );
                None
            }
            None => Some(p),
        }
    }

    fn if_addr(
        &mut self,
        node: &yaml::Node,
        path: &Path,
        family: Family,
        default_len: Option<u8>,
    ) -> Option<(IfAddr, Span)> {
        let text = read_str(node, path, self.diags)?;
        match IfAddr::parse(&text, default_len) {
            Ok(a) if a.family() == family => Some((a, node.span)),
            Ok(a) => {
                self.err(
                    node.span,
                    path,
                    format!(
                        "invalid address `{text}`: expected {family}, found {}",
                        a.family()
                    ),
                );
                None
            }
            Err(e) => {
                self.err(node.span, path, format!("invalid address: {e}"));
                None
            }
        }
    }

    /// An address as [`Self::if_addr`] reads it, refused (with the reason) when no interface or
    /// loopback can have it.
    fn usable(
        &mut self,
        node: &yaml::Node,
        path: &Path,
        family: Family,
        default_len: Option<u8>,
        loopback: bool,
    ) -> Option<(IfAddr, Span)> {
        let (a, span) = self.if_addr(node, path, family, default_len)?;
        match unusable(a, loopback) {
            Some(why) => {
                self.err(span, path, why);
                None
            }
            None => Some((a, span)),
        }
    }

    /// `nodes` as a mapping (name -> attributes) or a list of names.
    fn node_entries<'a>(
        &mut self,
        node: &'a yaml::Node,
    ) -> Vec<(String, Span, Option<&'a yaml::Node>)> {
        let path = Path::root().key("nodes");
        let mut out = Vec::new();
        match &node.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    match k.as_scalar() {
                        Some(name) => out.push((name.to_string(), k.span, Some(v))),
                        None => self.err(k.span, &path, "node names must be plain names"),
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(name) = read_str(item, &path.index(i), self.diags) {
                        out.push((name, item.span, None));
                    }
                }
            }
            _ => self.err(
                node.span,
                &path,
                format!(
                    "expected a mapping of node names, found {}",
                    node.kind_name()
                ),
            ),
        }
        if out.is_empty() && node.as_seq().is_none_or(|s| s.is_empty()) {
            self.err(node.span, &path, "a topology needs at least one node");
        }
        out
    }

    /// Each node's groups, in file order.
    fn groups<'a>(
        &mut self,
        groups: Option<&'a yaml::Node>,
        index: &HashMap<String, NodeId>,
    ) -> HashMap<u32, Sources<'a>> {
        let mut out: HashMap<u32, Sources<'a>> = HashMap::new();
        let Some(groups) = groups else { return out };
        let path = Path::root().key("groups");
        let Some(mut r) = MapReader::new(groups, &path, self.diags) else {
            return out;
        };
        for (k, body) in r.take_rest() {
            let gname = k.as_scalar().unwrap_or_default();
            let gpath = path.key(gname);
            let mut allowed = NODE_KEYS.to_vec();
            allowed.push("members");
            self.check_keys(body, &gpath, &allowed);
            let Some(members) = body.get("members") else {
                self.err(
                    body.span,
                    &gpath,
                    format!("missing required key `members` in group `{gname}`"),
                );
                continue;
            };
            let mpath = gpath.key("members");
            for (i, m) in read_list(members, &mpath, self.diags)
                .into_iter()
                .enumerate()
            {
                let Some(name) = read_str(m, &mpath.index(i), self.diags) else {
                    continue;
                };
                match index.get(&name) {
                    Some(id) => out.entry(id.0).or_default().push((body, gpath.clone())),
                    None => self.err(
                        m.span,
                        &mpath.index(i),
                        format!("unknown node `{name}` in group `{gname}`"),
                    ),
                }
            }
        }
        r.finish(&[], self.diags);
        out
    }

    fn mtu(&mut self, node: &yaml::Node, path: &Path) -> Option<u32> {
        read_u64(node, path, MTU_RANGE, self.diags).map(|v| v as u32)
    }

    fn node(
        &mut self,
        id: NodeId,
        name: &str,
        span: Span,
        sources: &Sources,
        top_modules: &[String],
    ) -> Node {
        let kind = match attr(sources, "kind") {
            None => NodeKind::Router,
            Some((v, path)) => {
                let text = read_str(v, &path, self.diags).unwrap_or_default();
                match NodeKind::ALL.iter().find(|(n, _)| *n == text) {
                    Some((_, k)) => *k,
                    None => {
                        if !text.is_empty() {
                            let names: Vec<&str> = NodeKind::ALL.iter().map(|(n, _)| *n).collect();
                            self.err(
                                v.span,
                                &path,
                                format!("unknown kind `{text}`; kinds are: {}", names.join(", ")),
                            );
                        }
                        NodeKind::Router
                    }
                }
            }
        };
        let asn = attr(sources, "asn")
            .and_then(|(v, p)| read_u64(v, &p, 1..=u64::from(u32::MAX), self.diags))
            .map(|v| v as u32);
        let mtu = attr(sources, "mtu")
            .and_then(|(v, p)| self.mtu(v, &p))
            .unwrap_or(DEFAULT_MTU);
        let mut loopback = Loopback::default();
        if let Some((v, p)) = attr(sources, "loopback") {
            if kind == NodeKind::Switch {
                self.err(
                    v.span,
                    &p,
                    format!("switch `{name}` is a Linux bridge and has no loopback"),
                );
            } else if let Some(text) = v.as_scalar() {
                let family = if text.contains(':') {
                    Family::Ipv6
                } else {
                    Family::Ipv4
                };
                let a = self.usable(v, &p, family, Some(family.max_len()), true);
                match family {
                    Family::Ipv4 => loopback.ipv4 = a.map(|x| x.0),
                    Family::Ipv6 => loopback.ipv6 = a.map(|x| x.0),
                }
            } else if let Some(mut r) = MapReader::new(v, &p, self.diags) {
                if let Some(a) = r.take("ipv4") {
                    loopback.ipv4 = self
                        .usable(a, &p.key("ipv4"), Family::Ipv4, Some(32), true)
                        .map(|x| x.0);
                }
                if let Some(a) = r.take("ipv6") {
                    loopback.ipv6 = self
                        .usable(a, &p.key("ipv6"), Family::Ipv6, Some(128), true)
                        .map(|x| x.0);
                }
                r.finish(&["ipv4", "ipv6"], self.diags);
            }
        }
        let router_id = attr(sources, "router_id").and_then(|(v, p)| {
            let text = read_str(v, &p, self.diags)?;
            match text.parse::<std::net::Ipv4Addr>() {
                Ok(a) if a.is_unspecified() => {
                    self.err(
                        v.span,
                        &p,
                        "router id 0.0.0.0 is not allowed: OSPF and BGP need a non-zero identifier",
                    );
                    None
                }
                Ok(a) => Some(a),
                Err(_) => {
                    self.err(
                        v.span,
                        &p,
                        format!("invalid router id `{text}`: expected an IPv4 address"),
                    );
                    None
                }
            }
        });
        let bridge_netfilter = match attr(sources, "bridge_netfilter") {
            Some((v, p)) => {
                if kind != NodeKind::Switch {
                    self.err(v.span, &p, "`bridge_netfilter` applies only to switches");
                }
                read_bool(v, &p, self.diags)
            }
            // br_netfilter is loaded on most distributions running containers; it is the default.
            None => (kind == NodeKind::Switch).then_some(true),
        };
        let mut modules: Vec<String> = top_modules.to_vec();
        if let Some((v, p)) = attr(sources, "module") {
            modules = self.module_list(v, &p);
        }
        let mut config = ModuleConfig::new();
        for m in MODULES {
            if let Some((v, _)) = attr(sources, m) {
                config.insert(m.to_string(), self.shared(v));
                if !modules.iter().any(|x| x == m) {
                    modules.push(m.to_string());
                }
            }
        }
        let statics = match attr(sources, "static") {
            Some((v, p)) => self.statics(v, &p),
            None => Vec::new(),
        };
        self.statics.push(statics);
        Node {
            id,
            name: name.to_string(),
            kind,
            asn,
            loopback,
            router_id,
            mtu,
            interfaces: Vec::new(),
            statics: Vec::new(),
            bridge_netfilter,
            modules,
            config,
            span,
        }
    }

    /// `static: [{prefix, nexthop, interface, discard, distance}]`.
    fn statics(&mut self, node: &yaml::Node, path: &Path) -> Vec<PendingStatic> {
        let mut out = Vec::new();
        for (i, item) in read_list(node, path, self.diags).into_iter().enumerate() {
            let ipath = path.index(i);
            let Some(mut r) = MapReader::new(item, &ipath, self.diags) else {
                continue;
            };
            let prefix = match r.take("prefix") {
                Some(v) => self.prefix(v, &ipath.key("prefix"), None),
                None => {
                    self.err(
                        item.span,
                        &ipath,
                        "missing required key `prefix` in static route",
                    );
                    None
                }
            };
            let nexthop = r.take("nexthop").and_then(|v| {
                let text = read_str(v, &ipath.key("nexthop"), self.diags)?;
                match parse_addr(&text) {
                    Ok(a) => Some((a, v.span)),
                    Err(e) => {
                        self.err(
                            v.span,
                            &ipath.key("nexthop"),
                            format!("invalid next hop: {e}"),
                        );
                        None
                    }
                }
            });
            let interface = r.take("interface").and_then(|v| {
                read_str(v, &ipath.key("interface"), self.diags).map(|s| (s, v.span))
            });
            let discard = r
                .take("discard")
                .and_then(|v| read_bool(v, &ipath.key("discard"), self.diags))
                .unwrap_or(false);
            let distance = r
                .take("distance")
                .and_then(|v| read_u64(v, &ipath.key("distance"), 1..=255, self.diags))
                .unwrap_or(1) as u8;
            r.finish(STATIC_KEYS, self.diags);
            let Some(prefix) = prefix else { continue };
            if let Some((a, span)) = nexthop {
                let fam = if a.is_ipv4() {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                };
                if fam != prefix.family() {
                    self.err(
                        span,
                        &ipath.key("nexthop"),
                        format!(
                            "next hop {a} is {fam} but the prefix {prefix} is {}",
                            prefix.family()
                        ),
                    );
                    continue;
                }
            }
            let targets =
                usize::from(nexthop.is_some() || interface.is_some()) + usize::from(discard);
            if targets != 1 {
                self.err(
                    item.span,
                    &ipath,
                    "a static route needs `nexthop` and/or `interface`, or `discard: true`",
                );
                continue;
            }
            out.push(PendingStatic {
                prefix,
                nexthop: nexthop.map(|x| x.0),
                interface,
                discard,
                distance,
                span: item.span,
                path: ipath,
            });
        }
        out
    }

    fn links(
        &mut self,
        links: &yaml::Node,
        index: &HashMap<String, NodeId>,
        default_link: Option<&yaml::Node>,
    ) -> Vec<RawLink> {
        let path = Path::root().key("links");
        let items = match &links.value {
            Value::Seq(items) => items.as_slice(),
            Value::Null => &[],
            _ => {
                self.err(
                    links.span,
                    &path,
                    format!("expected a list of links, found {}", links.kind_name()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(l) = self.link(item, &path.index(i), index, default_link) {
                out.push(l);
            }
        }
        out
    }

    fn end_node(
        &mut self,
        name_node: &yaml::Node,
        path: &Path,
        index: &HashMap<String, NodeId>,
    ) -> Option<NodeId> {
        let name = read_str(name_node, path, self.diags)?;
        match index.get(&name) {
            Some(id) => Some(*id),
            None => {
                let names: Vec<&str> = index.keys().map(String::as_str).collect();
                let near = yaml::closest(&name, &names)
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                self.err(
                    name_node.span,
                    path,
                    format!("unknown node `{name}` in link{near}"),
                );
                None
            }
        }
    }

    fn link(
        &mut self,
        item: &yaml::Node,
        path: &Path,
        index: &HashMap<String, NodeId>,
        default_link: Option<&yaml::Node>,
    ) -> Option<RawLink> {
        let mut link = RawLink {
            span: item.span,
            path: path.clone(),
            name: None,
            ends: Vec::new(),
            mtu: None,
            bandwidth: None,
            latency_us: None,
            cost: None,
            loss: None,
            prefix4: None,
            prefix6: None,
            config: ModuleConfig::new(),
        };
        let mut attrs: Vec<(&yaml::Node, Path)> = Vec::new();
        match &item.value {
            Value::Seq(names) => {
                for (j, n) in names.iter().enumerate() {
                    if let Some(id) = self.end_node(n, &path.index(j), index) {
                        link.ends.push(RawEnd::new(id, n.span, path.index(j)));
                    }
                }
            }
            Value::Scalar { text, .. } => {
                // `r1-r2`; a name that is itself a node is a one-node stub link.
                let parts: Vec<&str> = if index.contains_key(text.as_str()) {
                    vec![text.as_str()]
                } else {
                    text.split('-').collect()
                };
                for part in parts {
                    match index.get(part) {
                        Some(id) => link.ends.push(RawEnd::new(*id, item.span, path.clone())),
                        None => self.err(
                            item.span,
                            path,
                            format!("unknown node `{part}` in link `{text}`"),
                        ),
                    }
                }
            }
            Value::Map(entries) => {
                attrs.push((item, path.clone()));
                for (k, v) in entries {
                    let Some(key) = k.as_scalar() else { continue };
                    if key == "interfaces" {
                        let ipath = path.key("interfaces");
                        for (j, e) in read_list(v, &ipath, self.diags).into_iter().enumerate() {
                            let epath = ipath.index(j);
                            match e.get("node") {
                                Some(n) => {
                                    if let Some(id) = self.end_node(n, &epath.key("node"), index) {
                                        if let Some(end) = self.end(id, e, &epath, true) {
                                            link.ends.push(end);
                                        }
                                    }
                                }
                                None => self.err(
                                    e.span,
                                    &epath,
                                    "missing required key `node` in link interface",
                                ),
                            }
                        }
                    } else if index.contains_key(key) {
                        let id = index[key];
                        if let Some(mut end) = self.end(id, v, &path.key(key), false) {
                            end.span = k.span;
                            link.ends.push(end);
                        }
                    } else if !LINK_KEYS.contains(&key) {
                        let names: Vec<&str> = LINK_KEYS
                            .iter()
                            .copied()
                            .chain(index.keys().map(String::as_str))
                            .collect();
                        let near = yaml::closest(key, &names)
                            .map(|n| format!(" (did you mean `{n}`?)"))
                            .unwrap_or_default();
                        self.err(
                            k.span,
                            &path.key(key),
                            format!("unknown node or link attribute `{key}`{near}"),
                        );
                    }
                }
            }
            _ => {
                self.err(
                    item.span,
                    path,
                    "expected a link: a list of nodes, `a-b`, or a mapping",
                );
                return None;
            }
        }
        if let Some(d) = default_link {
            attrs.push((d, Path::root().key("defaults").key("link")));
        }
        if let Some((v, p)) = attr(&attrs, "name") {
            link.name = read_str(v, &p, self.diags);
        }
        if let Some((v, p)) = attr(&attrs, "mtu") {
            link.mtu = self.mtu(v, &p);
        }
        if let Some((v, p)) = attr(&attrs, "bandwidth") {
            link.bandwidth = self.bandwidth(v, &p);
        }
        if let Some((v, p)) = attr(&attrs, "latency") {
            link.latency_us = self.latency(v, &p);
        }
        if let Some((v, p)) = attr(&attrs, "cost") {
            link.cost = self.cost(v, &p);
        }
        if let Some((v, p)) = attr(&attrs, "loss") {
            let text = v.as_scalar().map(|t| t.trim_end_matches('%').to_string());
            let n = yaml::Node {
                value: Value::Scalar {
                    text: text.unwrap_or_default(),
                    quoted: false,
                },
                span: v.span,
            };
            link.loss = yaml::read_f64(&n, &p, 0.0..=100.0, self.diags);
        }
        if let Some((v, p)) = attr(&attrs, "prefix") {
            if let Some(text) = v.as_scalar() {
                let fam = if text.contains(':') {
                    Family::Ipv6
                } else {
                    Family::Ipv4
                };
                let pr = self.subnet_prefix(v, &p, None).map(|x| (x, v.span));
                match fam {
                    Family::Ipv4 => link.prefix4 = pr,
                    Family::Ipv6 => link.prefix6 = pr,
                }
            } else if let Some(mut r) = MapReader::new(v, &p, self.diags) {
                if let Some(x) = r.take("ipv4") {
                    link.prefix4 = self
                        .subnet_prefix(x, &p.key("ipv4"), Some(Family::Ipv4))
                        .map(|y| (y, x.span));
                }
                if let Some(x) = r.take("ipv6") {
                    link.prefix6 = self
                        .subnet_prefix(x, &p.key("ipv6"), Some(Family::Ipv6))
                        .map(|y| (y, x.span));
                }
                r.finish(&["ipv4", "ipv6"], self.diags);
            }
        }
        for m in MODULES {
            if let Some((v, _)) = attr(&attrs, m) {
                link.config.insert(m.to_string(), self.shared(v));
            }
        }
        for (j, e) in link.ends.iter().enumerate() {
            if link.ends[..j].iter().any(|o| o.node == e.node) {
                self.err(e.span, &e.path, "the same node appears twice on one link");
            }
        }
        if link.ends.is_empty() {
            self.err(item.span, path, "a link needs at least one node");
            return None;
        }
        Some(link)
    }

    /// One link end's attributes (`{ifname, ipv4, ipv6, mtu, cost}`), `node` allowed in the
    /// `interfaces` form.
    fn end(
        &mut self,
        node: NodeId,
        body: &yaml::Node,
        path: &Path,
        with_node: bool,
    ) -> Option<RawEnd> {
        let mut end = RawEnd::new(node, body.span, path.clone());
        let mut r = MapReader::new(body, path, self.diags)?;
        if with_node {
            r.take("node");
        }
        if let Some(v) = r.take("ifname") {
            let ipath = path.key("ifname");
            end.ifname = read_str(v, &ipath, self.diags).and_then(|name| match bad_ifname(&name) {
                Some(why) => {
                    self.err(
                        v.span,
                        &ipath,
                        format!("invalid interface name `{name}`: {why}"),
                    );
                    None
                }
                None => Some(name),
            });
        }
        if let Some(v) = r.take("ipv4") {
            end.ipv4 = self.usable(v, &path.key("ipv4"), Family::Ipv4, None, false);
        }
        if let Some(v) = r.take("ipv6") {
            end.ipv6 = self.usable(v, &path.key("ipv6"), Family::Ipv6, None, false);
        }
        if let Some(v) = r.take("mtu") {
            end.mtu = self.mtu(v, &path.key("mtu"));
        }
        if let Some(v) = r.take("cost") {
            end.cost = self.cost(v, &path.key("cost"));
        }
        if let Some(v) = r.take("shutdown") {
            end.shutdown = read_bool(v, &path.key("shutdown"), self.diags).unwrap_or(false);
        }
        for m in MODULES {
            if let Some(v) = r.take(m) {
                end.config.insert(m.to_string(), self.shared(v));
            }
        }
        let allowed: Vec<&str> = END_KEYS
            .iter()
            .copied()
            .filter(|k| with_node || *k != "node")
            .collect();
        r.finish(&allowed, self.diags);
        Some(end)
    }

    fn cost(&mut self, v: &yaml::Node, p: &Path) -> Option<u32> {
        // 24 bits: the IS-IS wide metric; OSPF limits interface costs further to 65535.
        read_u64(v, p, 1..=16_777_215, self.diags).map(|c| c as u32)
    }

    /// A bandwidth: a plain number is Mbit/s, or a number with a unit (`100M`, `10G`, `400Gbps`).
    fn bandwidth(&mut self, v: &yaml::Node, p: &Path) -> Option<u64> {
        let text = read_str(v, p, self.diags)?;
        match parse_bandwidth(&text) {
            Some(b) if b > 0 => Some(b),
            _ => {
                self.err(v.span, p, format!("invalid bandwidth `{text}`: write e.g. `10G`, `100M`, `400Gbps` or a number of Mbit/s"));
                None
            }
        }
    }

    /// A latency: a plain number is milliseconds, or a number with `us`, `ms` or `s`.
    fn latency(&mut self, v: &yaml::Node, p: &Path) -> Option<u64> {
        let text = read_str(v, p, self.diags)?;
        match parse_latency_us(&text) {
            Some(l) => Some(l),
            None => {
                self.err(v.span, p, format!("invalid latency `{text}`: write e.g. `5ms`, `200us` or a number of milliseconds"));
                None
            }
        }
    }

    fn resolve(
        &mut self,
        name: String,
        mut nodes: Vec<Node>,
        raw_links: Vec<RawLink>,
        pools: Pools,
        config: ModuleConfig,
    ) -> Option<Topology> {
        // Bridged switches form one broadcast domain: union-find over switch ids.
        let mut parent: Vec<u32> = (0..nodes.len() as u32).collect();
        fn find(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                parent[x as usize] = parent[parent[x as usize] as usize];
                x = parent[x as usize];
            }
            x
        }
        for l in &raw_links {
            let switches: Vec<u32> = l
                .ends
                .iter()
                .filter(|e| nodes[e.node.index()].kind == NodeKind::Switch)
                .map(|e| e.node.0)
                .collect();
            for w in switches.windows(2) {
                let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
                if a != b {
                    parent[a as usize] = b;
                }
            }
        }

        // Explicit interface names first, so generated names never take them.
        let mut used_names: Vec<HashSet<String>> = vec![HashSet::new(); nodes.len()];
        for l in &raw_links {
            for e in &l.ends {
                if let Some(n) = &e.ifname {
                    if !used_names[e.node.index()].insert(n.clone()) {
                        self.err(
                            e.span,
                            &e.path.key("ifname"),
                            format!(
                                "interface `{n}` is used twice on node `{}`",
                                nodes[e.node.index()].name
                            ),
                        );
                    }
                }
            }
        }
        let mut next_if: Vec<u32> = vec![1; nodes.len()];

        let mut segments: Vec<Segment> = Vec::new();
        let mut switch_segment: HashMap<u32, SegmentId> = HashMap::new();
        let mut links: Vec<Link> = Vec::with_capacity(raw_links.len());
        let mut link_names: HashMap<String, u32> = HashMap::new();
        // Per segment: its subnet and where it was set (for errors), per family.
        let mut seg_fixed: Vec<[FixedSubnet; 2]> = Vec::new();
        let mut explicit_addrs: Vec<(IpAddr, Span, Path, IfRef)> = Vec::new();

        for (li, l) in raw_links.iter().enumerate() {
            let lid = LinkId(li as u32);
            let switch_root = l
                .ends
                .iter()
                .find(|e| nodes[e.node.index()].kind == NodeKind::Switch)
                .map(|e| find(&mut parent, e.node.0));
            let sid = match switch_root.and_then(|r| switch_segment.get(&r).copied()) {
                Some(sid) => sid,
                None => {
                    let sid = SegmentId(segments.len() as u32);
                    let ip_ends = l
                        .ends
                        .iter()
                        .filter(|e| nodes[e.node.index()].kind.is_ip())
                        .count();
                    let kind = if switch_root.is_none() && ip_ends == 2 {
                        SegmentKind::P2p
                    } else {
                        SegmentKind::Lan
                    };
                    segments.push(Segment {
                        id: sid,
                        kind,
                        links: Vec::new(),
                        switches: Vec::new(),
                        members: Vec::new(),
                        ipv4: None,
                        ipv6: None,
                    });
                    seg_fixed.push([None, None]);
                    if let Some(r) = switch_root {
                        switch_segment.insert(r, sid);
                    }
                    sid
                }
            };
            let seg = &mut segments[sid.index()];
            seg.links.push(lid);
            for (fi, p) in [&l.prefix4, &l.prefix6].into_iter().enumerate() {
                let Some((p, span)) = p else { continue };
                match &seg_fixed[sid.index()][fi] {
                    Some((q, _, qpath)) if q != p => {
                        let msg = format!("link prefix {p} differs from {q} set at `{qpath}` for the same LAN segment");
                        self.err(*span, &l.path.key("prefix"), msg);
                    }
                    Some(_) => {}
                    None => seg_fixed[sid.index()][fi] = Some((*p, *span, l.path.key("prefix"))),
                }
            }

            let mut ends = Vec::with_capacity(l.ends.len());
            for e in &l.ends {
                let n = &mut nodes[e.node.index()];
                let ifname = match &e.ifname {
                    Some(name) => name.clone(),
                    None => loop {
                        let candidate = format!("eth{}", next_if[e.node.index()]);
                        next_if[e.node.index()] += 1;
                        if !used_names[e.node.index()].contains(&candidate) {
                            break candidate;
                        }
                    },
                };
                let is_ip = n.kind.is_ip();
                let r = IfRef {
                    node: e.node,
                    index: n.interfaces.len() as u32,
                };
                if is_ip {
                    seg.members.push(r);
                } else if !seg.switches.contains(&e.node) {
                    seg.switches.push(e.node);
                }
                if !is_ip && (e.ipv4.is_some() || e.ipv6.is_some()) {
                    self.err(
                        e.span,
                        &e.path,
                        format!(
                            "switch `{}` is a Linux bridge; its ports have no IP address",
                            n.name
                        ),
                    );
                }
                for (a, p) in [(&e.ipv4, e.path.key("ipv4")), (&e.ipv6, e.path.key("ipv6"))] {
                    if let (Some((a, span)), true) = (a, is_ip) {
                        explicit_addrs.push((a.addr, *span, p, r));
                    }
                }
                n.interfaces.push(Interface {
                    name: ifname,
                    link: lid,
                    segment: is_ip.then_some(sid),
                    ipv4: if is_ip { e.ipv4.map(|x| x.0) } else { None },
                    ipv6: if is_ip { e.ipv6.map(|x| x.0) } else { None },
                    mtu: e.mtu.or(l.mtu).unwrap_or(n.mtu),
                    up: !e.shutdown,
                    cost: e.cost.or(l.cost),
                    bandwidth: l.bandwidth,
                    config: e.config.clone(),
                });
                ends.push(r);
            }
            let base = l.name.clone().unwrap_or_else(|| {
                l.ends
                    .iter()
                    .map(|e| nodes[e.node.index()].name.as_str())
                    .collect::<Vec<_>>()
                    .join("-")
            });
            let count = link_names.entry(base.clone()).or_insert(0);
            *count += 1;
            let name = if *count == 1 {
                base
            } else {
                format!("{base}#{count}")
            };
            links.push(Link {
                id: lid,
                name,
                ends,
                bandwidth: l.bandwidth,
                latency_us: l.latency_us,
                loss: l.loss,
                segment: sid,
                config: l.config.clone(),
                span: l.span,
            });
        }
        // A segment with exactly two IP members and no switch stays point-to-point; one joined by
        // later links of a bridge may have grown.
        for s in &mut segments {
            s.kind = if s.switches.is_empty() && s.members.len() == 2 {
                SegmentKind::P2p
            } else {
                SegmentKind::Lan
            };
        }

        let mut topo = Topology {
            name,
            file: self.file.clone(),
            nodes,
            links,
            segments,
            config,
            validate: None,
            warnings: Diagnostics::new(self.file.clone()),
        };
        self.check_explicit_subnets(&topo, &raw_links, &mut seg_fixed);
        self.assign_addresses(&mut topo, &pools, &seg_fixed, &raw_links);
        self.check_unique(&topo, &explicit_addrs);
        self.resolve_statics(&mut topo);
        for n in &mut topo.nodes {
            if n.router_id.is_none() {
                n.router_id = n.loopback.ipv4.and_then(|a| match a.addr {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                });
            }
        }
        topo.warnings = self.warnings(&topo, &raw_links);
        Some(topo)
    }

    /// One warning per kind of setting that is accepted but changes nothing, at its first place
    /// in the file, saying how many other places have the same.
    fn warnings(&mut self, topo: &Topology, raw_links: &[RawLink]) -> Diagnostics {
        let runs = |n: NodeId, m: &str| {
            let n = topo.node(n);
            n.kind.forwards_ip() && n.modules.iter().any(|x| x == m)
        };
        let mut notices = std::mem::take(&mut self.notices);
        let mut note =
            |config: &ModuleConfig, path: &Path, runs: &dyn Fn(&str) -> bool, on_link| {
                for (m, v) in config {
                    let m = module_name(m);
                    let notice = if UNMODELLED.contains(&m) {
                        Notice::NotModelled(m)
                    } else if m == "bgp" && on_link {
                        Notice::BgpOnLink
                    } else if !runs(m) {
                        Notice::NotEnabled(m)
                    } else {
                        continue;
                    };
                    notices.push((notice, v.span, path.key(m)));
                }
            };
        note(
            &topo.config,
            &Path::root(),
            &|m| topo.nodes.iter().any(|n| runs(n.id, m)),
            false,
        );
        for n in &topo.nodes {
            // A node's own section enables its module, so only the unmodelled ones are news.
            let path = Path::root().key("nodes").key(&n.name);
            note(&n.config, &path, &|_| true, false);
        }
        for l in raw_links {
            note(
                &l.config,
                &l.path,
                &|m| l.ends.iter().any(|e| runs(e.node, m)),
                true,
            );
            for e in &l.ends {
                note(&e.config, &e.path, &|m| runs(e.node, m), true);
            }
        }
        notices.sort_by_key(|n| (n.0, n.1));
        notices.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));
        let mut out = Diagnostics::new(self.file.clone());
        let mut i = 0;
        while i < notices.len() {
            let (notice, span, path) = &notices[i];
            let same = notices[i..].iter().take_while(|x| x.0 == *notice).count();
            out.error(*span, path, notice.message(same));
            i += same;
        }
        out.sort();
        out
    }

    // Indexes, not iterators: the loops read one table while writing another.
    #[allow(clippy::needless_range_loop)]
    /// Each segment's subnet from its link prefix or its explicit addresses, which must agree.
    fn check_explicit_subnets(
        &mut self,
        topo: &Topology,
        raw_links: &[RawLink],
        seg_fixed: &mut [[FixedSubnet; 2]],
    ) {
        for s in 0..topo.segments.len() {
            for fi in 0..2 {
                for &lid in &topo.segments[s].links {
                    let l = &raw_links[lid.index()];
                    for e in &l.ends {
                        let addr = if fi == 0 { &e.ipv4 } else { &e.ipv6 };
                        let Some((a, span)) = addr else { continue };
                        let key = if fi == 0 { "ipv4" } else { "ipv6" };
                        match &seg_fixed[s][fi] {
                            None => seg_fixed[s][fi] = Some((a.subnet(), *span, e.path.key(key))),
                            Some((p, _, ppath)) => {
                                if !p.contains(a.addr) {
                                    let msg = format!("address {} is outside the subnet {p} of its link (set at `{ppath}`)", a.addr);
                                    self.err(*span, &e.path.key(key), msg);
                                } else if a.len != p.len() {
                                    let msg = format!("address {a} has prefix length /{} but its link's subnet is {p}", a.len);
                                    self.err(*span, &e.path.key(key), msg);
                                } else if a.addr == p.network()
                                    && p.len() < a.family().max_len() - 1
                                {
                                    let msg = format!("address {a} is the network address of {p}");
                                    self.err(*span, &e.path.key(key), msg);
                                }
                            }
                        }
                    }
                }
            }
        }
        // Two segments must not share or nest address space, nor hold a loopback.
        let mut all: Vec<(Prefix, Span, Path)> = Vec::new();
        for f in seg_fixed.iter() {
            all.extend(f.iter().flatten().cloned());
        }
        for n in &topo.nodes {
            for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
                all.push((
                    Prefix::host(a.addr),
                    n.span,
                    Path::root().key("nodes").key(&n.name).key("loopback"),
                ));
            }
        }
        self.report_overlaps(all);
    }

    fn report_overlaps(&mut self, mut all: Vec<(Prefix, Span, Path)>) {
        all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut open: Option<&(Prefix, Span, Path)> = None;
        let mut errors = Vec::new();
        for item in &all {
            if let Some(o) = open {
                if o.0.covers(&item.0) {
                    let (first, second) = if o.1 <= item.1 { (o, item) } else { (item, o) };
                    errors.push((
                        second.1,
                        second.2.clone(),
                        format!(
                            "{} overlaps {} set at `{}` (line {})",
                            second.0, first.0, first.2, first.1.line
                        ),
                    ));
                    continue;
                }
            }
            let extends = open.is_none_or(|o| {
                o.0.family() != item.0.family()
                    || o.0.bits() + o.0.size().saturating_sub(1)
                        < item.0.bits() + item.0.size().saturating_sub(1)
            });
            if extends {
                open = Some(item);
            }
        }
        for (span, path, msg) in errors {
            self.err(span, &path, msg);
        }
    }

    #[allow(clippy::needless_range_loop)]
    fn assign_addresses(
        &mut self,
        topo: &mut Topology,
        pools: &Pools,
        seg_fixed: &[[FixedSubnet; 2]],
        raw_links: &[RawLink],
    ) {
        // Everything written in the file is reserved before the pools hand anything out.
        let mut reserved: Vec<(Prefix, Path)> = seg_fixed
            .iter()
            .flat_map(|f| f.iter().flatten().map(|x| (x.0, x.2.clone())))
            .collect();
        for n in &topo.nodes {
            let path = Path::root().key("nodes").key(&n.name).key("loopback");
            for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
                reserved.push((Prefix::host(a.addr), path.clone()));
            }
        }
        reserved.sort_by_key(|r| r.0);

        // Loopbacks for every node that routes, numbered in file order.
        let mut cursor = [1u128, 1u128];
        for ni in 0..topo.nodes.len() {
            if !topo.nodes[ni].kind.forwards_ip() {
                continue;
            }
            for (fi, pool) in [pools.loopback.ipv4, pools.loopback.ipv6]
                .into_iter()
                .enumerate()
            {
                let Some(pool) = pool else { continue };
                let has = if fi == 0 {
                    topo.nodes[ni].loopback.ipv4.is_some()
                } else {
                    topo.nodes[ni].loopback.ipv6.is_some()
                };
                if has {
                    continue;
                }
                let max = pool.family().max_len();
                match next_free(pool, max, &mut cursor[fi], &reserved) {
                    Some(p) => {
                        let ia = Some(IfAddr {
                            addr: p.network(),
                            len: max,
                        });
                        if fi == 0 {
                            topo.nodes[ni].loopback.ipv4 = ia;
                        } else {
                            topo.nodes[ni].loopback.ipv6 = ia;
                        }
                    }
                    None => {
                        let n = &topo.nodes[ni];
                        let what = format!("node `{}`", n.name);
                        let msg = pool_exhausted("loopback", pool, max, &what, &reserved);
                        self.err(n.span, &Path::root().key("nodes").key(&n.name), msg);
                        return;
                    }
                }
            }
        }

        // Segment subnets, in link order, from the p2p or LAN pool.
        let mut seg_cursor = [[0u128; 2]; 2];
        for si in 0..topo.segments.len() {
            if topo.segments[si].members.is_empty() {
                continue;
            }
            let is_p2p = topo.segments[si].kind == SegmentKind::P2p;
            let pool = if is_p2p { &pools.p2p } else { &pools.lan };
            let span_link = topo.segments[si].links[0];
            for fi in 0..2 {
                let subnet = match &seg_fixed[si][fi] {
                    Some((p, _, _)) => Some(*p),
                    None => {
                        let (base, len) = if fi == 0 {
                            (pool.ipv4, pool.prefix4)
                        } else {
                            (pool.ipv6, 64)
                        };
                        let Some(base) = base else { continue };
                        let c = &mut seg_cursor[usize::from(!is_p2p)][fi];
                        let found = next_free(base, len, c, &reserved);
                        if found.is_none() {
                            let l = &raw_links[span_link.index()];
                            let which = if is_p2p { "p2p" } else { "lan" };
                            let msg = pool_exhausted(which, base, len, "this link", &reserved);
                            self.err(l.span, &l.path, msg);
                            return;
                        }
                        found
                    }
                };
                let Some(subnet) = subnet else { continue };
                if fi == 0 {
                    topo.segments[si].ipv4 = Some(subnet);
                } else {
                    topo.segments[si].ipv6 = Some(subnet);
                }
                // Hosts numbered from 1 (0 on a /31 or /127, where both addresses are usable).
                let max = subnet.family().max_len();
                let first: u128 = if subnet.len() >= max - 1 { 0 } else { 1 };
                let last: u128 = match subnet.family() {
                    Family::Ipv4 if subnet.len() < 31 => subnet.size() - 2,
                    _ => subnet.size().saturating_sub(1),
                };
                let members = topo.segments[si].members.clone();
                let mut taken: HashSet<IpAddr> = members
                    .iter()
                    .filter_map(|r| {
                        let i = topo.interface(*r);
                        if fi == 0 { i.ipv4 } else { i.ipv6 }.map(|a| a.addr)
                    })
                    .collect();
                let mut n = first;
                for r in members {
                    let iface = &mut topo.nodes[r.node.index()].interfaces[r.index as usize];
                    let slot = if fi == 0 {
                        &mut iface.ipv4
                    } else {
                        &mut iface.ipv6
                    };
                    if slot.is_some() {
                        continue;
                    }
                    let addr = loop {
                        if n > last {
                            break None;
                        }
                        let a = subnet.nth(n).expect("inside the subnet");
                        n += 1;
                        if taken.insert(a) {
                            break Some(a);
                        }
                    };
                    match addr {
                        Some(a) => {
                            *slot = Some(IfAddr {
                                addr: a,
                                len: subnet.len(),
                            })
                        }
                        None => {
                            let l = &raw_links[span_link.index()];
                            self.err(l.span, &l.path, format!("subnet {subnet} is too small for the {} interfaces on its segment", topo.segments[si].members.len()));
                            break;
                        }
                    }
                }
            }
        }
    }

    fn check_unique(&mut self, topo: &Topology, explicit: &[(IpAddr, Span, Path, IfRef)]) {
        let mut seen: HashMap<IpAddr, (Span, String)> = HashMap::new();
        for n in &topo.nodes {
            for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
                seen.insert(a.addr, (n.span, format!("{} loopback", n.name)));
            }
        }
        for (addr, span, path, r) in explicit {
            let owner = topo.if_name(*r);
            if let Some((other_span, other)) = seen.get(addr) {
                if other != &owner {
                    let msg = format!(
                        "duplicate address {addr}: also on {other} (line {})",
                        other_span.line
                    );
                    self.err(*span, path, msg);
                    continue;
                }
            }
            seen.insert(*addr, (*span, owner));
        }
    }

    fn resolve_statics(&mut self, topo: &mut Topology) {
        let pending = std::mem::take(&mut self.statics);
        for (n, pending) in topo.nodes.iter_mut().zip(pending) {
            for ps in pending {
                let path = ps.path.clone();
                let iface = match &ps.interface {
                    None => None,
                    Some((name, span)) => match n.interface(name) {
                        Some((idx, _)) => Some(idx),
                        None => {
                            let names: Vec<&str> =
                                n.interfaces.iter().map(|i| i.name.as_str()).collect();
                            let msg = format!(
                                "node `{}` has no interface `{name}`; its interfaces are: {}",
                                n.name,
                                if names.is_empty() {
                                    "none".to_string()
                                } else {
                                    names.join(", ")
                                }
                            );
                            self.diags.error(*span, &path.key("interface"), msg);
                            continue;
                        }
                    },
                };
                let next_hop = if ps.discard {
                    StaticNextHop::Discard
                } else if let Some(address) = ps.nexthop {
                    StaticNextHop::Address {
                        address,
                        interface: iface,
                    }
                } else if let Some(interface) = iface {
                    StaticNextHop::Interface { interface }
                } else {
                    continue;
                };
                n.statics.push(StaticRoute {
                    prefix: ps.prefix,
                    next_hop,
                    distance: ps.distance,
                    span: ps.span,
                });
            }
        }
    }
}

/// The reserved prefix that covers `p` or sits inside it, if any. Reserved prefixes that do not
/// overlap each other (anything else is already an error) leave only the neighbours of `p` in
/// sorted order to check.
fn clash<'r>(reserved: &'r [(Prefix, Path)], p: &Prefix) -> Option<&'r (Prefix, Path)> {
    let i = reserved.partition_point(|r| r.0 < *p);
    if let Some(r) = reserved.get(i).filter(|r| p.covers(&r.0)) {
        return Some(r);
    }
    reserved[..i].iter().rev().take(64).find(|r| r.0.covers(p))
}

/// The first `/len` of `pool` from number `*cursor` on that clashes with nothing reserved,
/// advancing the cursor past it. A reserved prefix that covers a candidate is skipped whole, so a
/// large IPv6 pool behind a reserved prefix is not walked one subnet at a time.
fn next_free(
    pool: Prefix,
    len: u8,
    cursor: &mut u128,
    reserved: &[(Prefix, Path)],
) -> Option<Prefix> {
    let step_bits = u32::from(pool.family().max_len() - len);
    loop {
        let c = pool.subnet(len, *cursor)?;
        match clash(reserved, &c) {
            None => {
                *cursor += 1;
                return Some(c);
            }
            Some((r, _)) if r.covers(&c) => {
                // `size() - 1` is the host mask, also when the size saturates.
                let last = r.bits() | (r.size() - 1);
                *cursor = ((last - pool.bits()) >> step_bits).checked_add(1)?;
            }
            Some(_) => *cursor += 1,
        }
    }
}

/// Why a pool has nothing left `what` needs: it is too small, or prefixes the file sets take it.
fn pool_exhausted(
    which: &str,
    pool: Prefix,
    len: u8,
    what: &str,
    reserved: &[(Prefix, Path)],
) -> String {
    let key = match pool.family() {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    };
    let field = format!("`addressing.{which}.{key}`");
    if let Some((r, path)) = reserved.iter().find(|r| r.0.covers(&pool)) {
        return format!(
            "the {which} pool {pool} has nothing left for {what}: it lies inside {r} set at `{path}`; give {field} a prefix outside it"
        );
    }
    let taken = reserved.iter().filter(|r| r.0.overlaps(&pool)).count();
    let why = if taken == 0 {
        String::new()
    } else {
        format!(
            " ({taken} prefix{} set in the file take part of it)",
            if taken == 1 { "" } else { "es" }
        )
    };
    format!(
        "the {which} pool {pool} has no /{len} left for {what}{why}; give {field} a larger prefix"
    )
}

/// A static route decoded from the file, before interface names can be checked.
#[derive(Clone, Debug)]
struct PendingStatic {
    prefix: Prefix,
    nexthop: Option<IpAddr>,
    interface: Option<(String, Span)>,
    discard: bool,
    distance: u8,
    span: Span,
    path: Path,
}

/// Parses `10G`, `100M`, `400Gbps`, `1.5G`, or a plain number of Mbit/s, to bit/s.
pub fn parse_bandwidth(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("bps")
        .or_else(|| t.strip_suffix("bit/s"))
        .unwrap_or(t);
    let (num, mult) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1e3),
        'M' | 'm' => (&t[..t.len() - 1], 1e6),
        'G' | 'g' => (&t[..t.len() - 1], 1e9),
        'T' | 't' => (&t[..t.len() - 1], 1e12),
        _ => (t, 1e6),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v > 0.0 && v * mult < 1e16).then(|| (v * mult).round() as u64)
}

/// Parses `5ms`, `200us`, `1s`, or a plain number of milliseconds, to microseconds.
pub fn parse_latency_us(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1e6)
    } else {
        (t, 1e3)
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0 && v * mult < 1e12).then(|| (v * mult).round() as u64)
}
