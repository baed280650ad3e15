//! Loading a topology file: YAML to a resolved, validated [`Topology`].
//!
//! The file format follows netlab's where it can (`nodes`, `links` in list, string, dict and
//! `interfaces` forms, `groups`, `defaults`, `addressing` pools), so a netlab user feels at home.
//! Every mistake is collected with its `file:line:col` and key path; loading fails with all of
//! them at once, never with a panic.

use crate::addr::{is_link_local, parse_addr, special_use, Family, IfAddr, Prefix};
use crate::diag::Diagnostics;
use crate::netlab;
use crate::topology::*;
use crate::yaml::{self, read_bool, read_list, read_str, read_u64, MapReader, Path, Span, Value};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

#[path = "vlan.rs"]
mod vlan;

/// Module sections that later stages decode; accepted at top level, on nodes, links and ends.
pub const MODULES: [&str; 7] = ["ospf", "isis", "bgp", "mpls", "sr", "policies", "vlan"];

/// The vrf module's sections, kept as spanned YAML for `vrf::resolve`: `vrfs` (definitions)
/// and `vrf` (`vrf.as`, `vrf.loopback`) at the top level and on nodes; `vrf` (a name) on links
/// and link ends.
const VRF_SECTIONS: [&str; 2] = ["vrfs", "vrf"];

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
    "prefix",
    "vrfs",
    "vrf",
    "vlan",
    "vlans",
];

const NODE_KEYS: &[&str] = &[
    "kind",
    "id",
    "role",
    "device",
    "platform",
    "group",
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
    "vrfs",
    "vrf",
    "vlan",
    "vlans",
];

const LINK_KEYS: &[&str] = &[
    "name",
    "pool",
    "unnumbered",
    "role",
    "type",
    "disable",
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
    "vrf",
    "vlan",
];

const END_KEYS: &[&str] = &[
    "node", "ifname", "ipv4", "ipv6", "mtu", "cost", "shutdown", "ospf", "isis", "bgp", "mpls",
    "sr", "policies", "vlan", "vrf",
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

/// Reads and resolves the topology in `path`, with the defaults files netlab would read for it
/// (`defaults.sources` and the `topology-defaults.yml` beside it).
pub fn load_file(path: &std::path::Path) -> Result<Topology, LoadError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: name.clone(),
        source,
    })?;
    let text = decode_utf8(&name, &bytes).map_err(LoadError::Invalid)?;
    let dir = path.parent().unwrap_or(std::path::Path::new(""));
    load_in(&name, text, Some(dir))
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
        let span = Span::new(
            good.matches('\n').count() as u32 + 1,
            good[line_start..].chars().count() as u32 + 1,
        );
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

/// Resolves the topology in `text`; `file` names it in errors. No other file is read: the
/// defaults files a lab names are listed as ignored.
pub fn load_str(file: &str, text: &str) -> Result<Topology, LoadError> {
    load_in(file, text, None)
}

/// Resolves `text`, reading the defaults files it names relative to `dir` when given.
fn load_in(file: &str, text: &str, dir: Option<&std::path::Path>) -> Result<Topology, LoadError> {
    let root = yaml::parse_document(file, text).map_err(LoadError::Invalid)?;
    let mut diags = Diagnostics::new(file);
    let mut root = netlab::expand_dots(root, &mut diags);
    let mut ignored = Vec::new();
    include_defaults(&mut root, dir, &mut diags, &mut ignored);
    netlab::merge_default_groups(&mut root);
    let topo = if diags.is_empty() {
        let mut loader = Loader::new(file, &mut diags);
        loader.ignored = ignored;
        loader.load(&root)
    } else {
        None
    };
    if diags.is_empty() {
        Ok(topo.expect("a loader without errors returns a topology"))
    } else {
        diags.sort();
        Err(LoadError::Invalid(diags))
    }
}

/// The largest defaults file read, as a guard against a lab naming a device file.
const MAX_DEFAULTS_FILE: u64 = 16 << 20;

/// Merges the defaults files netlab reads for this lab under its `defaults` (the lab's own
/// settings win, and an earlier file wins over a later one, as `include_defaults` in netlab's
/// `read.py` merges them). Without `dir` (text not read from a file) nothing is read and the
/// sources are listed as ignored. A file that does not exist is skipped, as netlab skips it.
fn include_defaults(
    root: &mut yaml::Node,
    dir: Option<&std::path::Path>,
    diags: &mut Diagnostics,
    ignored: &mut Vec<Ignored>,
) {
    if root.as_map().is_none() {
        return;
    }
    let mut skipped = Vec::new();
    let sources = netlab::default_sources(root, &mut skipped);
    let span = netlab::get_path(root, &["defaults", "sources"]).map_or(Span::new(1, 1), |n| n.span);
    let main_file = diags.file().to_string();
    let note = |ignored: &mut Vec<Ignored>, name: &str, reason: String| {
        ignored.push(Ignored {
            file: main_file.clone(),
            line: span.line,
            path: format!("defaults.sources: {name}"),
            reason,
        })
    };
    for (name, why) in skipped {
        note(ignored, &name, why);
    }
    for name in sources {
        let Some(dir) = dir else {
            if name != "./topology-defaults.yml" {
                note(
                    ignored,
                    &name,
                    "not read: the topology was not loaded from a file".into(),
                );
            }
            continue;
        };
        let path = dir.join(&name);
        let Ok(meta) = std::fs::metadata(&path) else {
            if name != "./topology-defaults.yml" {
                note(
                    ignored,
                    &name,
                    format!("{} does not exist (netlab skips it too)", path.display()),
                );
            }
            continue;
        };
        let shown = path.display().to_string();
        if !meta.is_file() || meta.len() > MAX_DEFAULTS_FILE {
            diags.error(
                span,
                &Path::root().key("defaults").key("sources"),
                format!("{shown} is not a defaults file (not a regular file of at most 16 MiB)"),
            );
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                diags.error(
                    span,
                    &Path::root().key("defaults").key("sources"),
                    format!("cannot read {shown}: {e}"),
                );
                continue;
            }
        };
        let id = diags.add_file(shown.clone());
        let text = match decode_utf8(&shown, &bytes) {
            Ok(t) => t,
            Err(e) => {
                for d in e.iter() {
                    diags.push(d.clone());
                }
                continue;
            }
        };
        let tree = match yaml::parse_in(text, id) {
            Ok(t) => t,
            Err((span, msg)) => {
                diags.error(span, &Path::root(), msg);
                continue;
            }
        };
        let tree = netlab::expand_dots(tree, diags);
        if tree.is_null() {
            continue;
        }
        if tree.as_map().is_none() {
            diags.error(
                tree.span,
                &Path::root(),
                format!(
                    "a defaults file holds a mapping, found {}",
                    tree.kind_name()
                ),
            );
            continue;
        }
        let root_span = root.span;
        if let Some(d) = netlab::entry_mut(root, "defaults", root_span) {
            netlab::fill(d, tree);
        }
    }
}

/// One address family of a pool: a prefix to cut subnets from, or `true` (unnumbered: IPv4
/// borrows the loopback address, IPv6 uses link-local addresses only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolAf {
    Prefix(Prefix),
    Unnumbered,
}

/// How addresses inside a subnet are handed out (netlab's IPAM policies, `links.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Allocation {
    /// Two nodes sorted by name get the first two host addresses.
    P2p,
    /// Nodes in link order get consecutive host addresses.
    Sequential,
    /// Each node's host part is its node id.
    IdBased,
}

impl Allocation {
    fn parse(text: &str) -> Option<Allocation> {
        match text {
            "p2p" => Some(Allocation::P2p),
            "sequential" => Some(Allocation::Sequential),
            "id_based" => Some(Allocation::IdBased),
            _ => None,
        }
    }
}

/// An address pool as netlab defines it (`netsim/defaults/addressing.yml`, `addressing.py`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pool {
    name: String,
    ipv4: Option<PoolAf>,
    ipv6: Option<PoolAf>,
    /// Subnet length for IPv4 subnets from this pool (`prefix`).
    prefix4: u8,
    /// Subnet length for IPv6 subnets (`prefix6`, 64 unless set).
    prefix6: u8,
    allocation: Option<Allocation>,
    /// `unnumbered: true`: links from this pool are unnumbered in both families.
    unnumbered: bool,
    /// Where the file sets each family (for overlap errors), if it does.
    given: [Option<(Span, Path)>; 2],
}

impl Pool {
    fn new(name: &str, ipv4: Option<&str>, prefix4: u8) -> Pool {
        Pool {
            name: name.to_string(),
            ipv4: ipv4.map(|p| PoolAf::Prefix(p.parse().expect("valid built-in pool"))),
            ipv6: None,
            prefix4,
            prefix6: 64,
            allocation: None,
            unnumbered: false,
            given: [None, None],
        }
    }

    fn af(&self, fi: usize) -> Option<PoolAf> {
        if fi == 0 {
            self.ipv4
        } else {
            self.ipv6
        }
    }

    fn len(&self, fi: usize) -> u8 {
        if fi == 0 {
            self.prefix4
        } else {
            self.prefix6
        }
    }

    /// netlab skips the first subnet of the loopback pool and of pools of host routes
    /// (`create_pool_generators` in `addressing.py`), so the n-th subnet handed out is
    /// subnet number n there and n - 1 elsewhere.
    fn skips_first(&self, fi: usize) -> bool {
        self.name == "loopback"
            || (fi == 0 && self.prefix4 == 32)
            || (fi == 1 && self.prefix6 >= 127)
    }
}

/// The address pools, by name, in the order netlab's defaults and the file define them.
#[derive(Clone, Debug)]
struct Pools {
    pools: Vec<Pool>,
}

impl Pools {
    fn get(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }
}

impl Default for Pools {
    /// netlab's default pools (`netsim/defaults/addressing.yml`, with the prefix lengths
    /// `setup_pools` in `addressing.py` adds: /32 loopbacks, /24 LANs, /30 point-to-point
    /// links). IPv6 is enabled by giving a pool an `ipv6` prefix.
    fn default() -> Pools {
        Pools {
            pools: vec![
                Pool::new("loopback", Some("10.0.0.0/24"), 32),
                Pool::new("router_id", Some("10.0.0.0/24"), 32),
                Pool::new("lan", Some("172.16.0.0/16"), 24),
                Pool::new("p2p", Some("10.1.0.0/16"), 30),
                Pool::new("l2only", None, 24),
                Pool::new("vrf_loopback", Some("10.2.0.0/24"), 32),
            ],
        }
    }
}

/// Pools that hand out no interface addresses nettwin models, left out of the overlap check
/// (`router_id` shares the loopback pool's space in netlab's own defaults).
const NO_OVERLAP_CHECK: [&str; 3] = ["router_id", "vrf_loopback", "mgmt"];

/// A segment's subnet as the file fixed it (link `prefix` or an explicit address), with where.
type FixedSubnet = Option<(Prefix, Span, Path)>;

/// The VRF a link end's interface is in as written (`vrf` on the end, else on the link); empty
/// for the global table.
fn end_table(l: &RawLink, e: &RawEnd) -> String {
    e.config
        .get("vrf")
        .or_else(|| l.config.get("vrf"))
        .and_then(|v| v.as_scalar())
        .unwrap_or_default()
        .to_string()
}

/// A link end as written, before interfaces exist.
struct RawEnd {
    node: NodeId,
    span: Span,
    path: Path,
    ifname: Option<String>,
    ipv4: Option<(IfAddr, Span)>,
    ipv6: Option<(IfAddr, Span)>,
    /// netlab's other forms of `ipv4`/`ipv6` on an interface: a host number, `true`, `false`.
    spec: [EndAf; 2],
    mtu: Option<u32>,
    cost: Option<u32>,
    shutdown: bool,
    config: ModuleConfig,
}

/// An interface's `ipv4` or `ipv6` other than an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EndAf {
    /// Nothing written: from the link's subnet.
    Auto,
    /// A host number in the link's subnet.
    Host(u128),
    /// An address without a prefix length: it takes the length of the link's subnet.
    Bare(IpAddr),
    /// `true`: unnumbered (IPv4) or link-local only (IPv6).
    On,
    /// `false`: no address in this family.
    Off,
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
            spec: [EndAf::Auto; 2],
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
    /// Whether the link has a `prefix` at all (then no pool is used), and which families it
    /// makes unnumbered (`prefix: {ipv4: true}`).
    prefix_given: bool,
    prefix_on: [bool; 2],
    allocation: Option<Allocation>,
    /// `pool:` (netlab): the pool to take the subnet from.
    pool: Option<(String, Span, Path)>,
    /// `role:` (netlab): also a pool name to try first.
    role: Option<String>,
    /// `unnumbered: true`.
    unnumbered: bool,
    /// `type:` (netlab): `lan`, `p2p` or `stub`.
    link_type: Option<&'static str>,
    /// The named prefix (top-level `prefix`) the link uses, when it names a pool: every link
    /// naming it shares the one subnet taken from the pool at its first use.
    named_pool: Option<String>,
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
    /// Deep merges of a node's module section from several sources (the node, its groups,
    /// `defaults`), shared by the nodes with the same sources.
    merged: HashMap<Vec<*const yaml::Node>, Arc<yaml::Node>>,
    /// netlab settings read and ignored, for `-v`.
    ignored: Vec<Ignored>,
    /// Uses of netlab modules nettwin does not model: (module, key as written, place).
    module_uses: Vec<(&'static str, String, Span, Path)>,
    /// `defaults.device`: the device of nodes that name none.
    default_device: Option<String>,
    /// `defaults.interfaces.mtu`: the MTU of nodes that set none.
    default_if_mtu: Option<u32>,
    /// Per node, in order: settings addressing needs.
    node_extra: Vec<NodeExtra>,
    /// netlab's named prefixes (top-level `prefix`), by name, with where each is defined.
    named_prefixes: Vec<(String, yaml::Node, Path)>,
    /// netlab's VLANs (`vlan.rs`).
    vlans: vlan::Vlans,
    /// Per segment: how the VLAN module addresses it.
    vlan_seg: Vec<vlan::SegAddr>,
}

/// A netlab setting that nettwin reads and ignores, with why (listed by `-v`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ignored {
    pub file: String,
    pub line: u32,
    /// The key path, e.g. `nodes.r1.device`.
    pub path: String,
    pub reason: String,
}

/// Where in the document a key sits, which decides what netlab means by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Top,
    Node,
    Link,
    Defaults,
}

/// The unmodelled netlab module a key belongs to, if any (`vlan`, `vlans`, `vrfs`, ...).
fn unmodelled_module(key: &str) -> Option<&'static str> {
    if let Some((m, _)) = netlab::UNMODELLED_MODULES.iter().find(|(m, _)| *m == key) {
        return Some(m);
    }
    netlab::MODULE_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, m)| *m)
}

/// Why the loader accepts a setting that changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Notice {
    /// An `ospf`/`isis`/`bgp` section where no router it applies to runs the module.
    NotEnabled(&'static str),
    /// A module nettwin parses but does not model (`policies`).
    NotModelled(&'static str),
    /// `bgp` on a link or link end: BGP settings are per router.
    BgpOnLink,
    /// An irb VLAN in a node's `vlans` that none of its interfaces carries (`vlan.rs`).
    VlanWithoutPort,
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
                // Only `policies` is left unmodelled.
                let what = "BGP policies are written as `bgp.import` and `bgp.export`";
                format!("`{m}` is parsed but not modelled{here}: {what}, so these settings change nothing")
            }
            Notice::BgpOnLink => format!("`bgp` settings on links and link ends are not modelled{here}: they change nothing; BGP is configured at the top level and on nodes"),
            Notice::VlanWithoutPort => format!("an irb VLAN that no interface of its node carries gets no SVI{here}: netlab creates one without ports (for VXLAN designs), nettwin only SVIs of VLANs the node bridges"),
        }
    }
}

/// Modules the loader accepts but nothing models yet.
const UNMODELLED: [&str; 1] = ["policies"];

/// The `&'static` name of a module section key.
fn module_name(m: &str) -> &'static str {
    MODULES
        .iter()
        .find(|x| **x == m)
        .copied()
        .unwrap_or("module")
}

/// A group as written: its attributes (when a mapping) and members.
struct GroupDef<'a> {
    name: String,
    span: Span,
    path: Path,
    body: Option<&'a yaml::Node>,
    members: Vec<(String, Span, Path)>,
    /// `_auto_create: true` on the group.
    auto: bool,
    /// Defined in `defaults.groups` only (`netlab::merge_default_groups`).
    default: bool,
}

/// What the loader keeps about a node until addresses are assigned.
struct NodeExtra {
    /// `loopback: true|false`.
    wants_loopback: Option<bool>,
    /// `loopback.pool`.
    loopback_pool: Option<(String, Span, Path)>,
    /// `loopback.ipv4: false`, `loopback.ipv6: false`.
    loopback_off: [bool; 2],
}

/// An AS number, plain or asdot (`1.10` is 65546), as netlab's `transform_asdot` reads it.
fn parse_asn(text: &str) -> Option<u32> {
    let v = match text.split_once('.') {
        Some((hi, lo)) => {
            let hi: u32 = hi.parse().ok()?;
            let lo: u32 = lo.parse().ok()?;
            if hi > 65535 || lo > 65535 {
                return None;
            }
            (hi << 16) | lo
        }
        None => text.replace('_', "").parse().ok()?,
    };
    (v > 0).then_some(v)
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
            merged: HashMap::new(),
            ignored: Vec::new(),
            module_uses: Vec::new(),
            default_device: None,
            default_if_mtu: None,
            node_extra: Vec::new(),
            named_prefixes: Vec::new(),
            vlans: vlan::Vlans::default(),
            vlan_seg: Vec::new(),
        }
    }

    /// Records a netlab setting nettwin reads and ignores.
    fn ignore(&mut self, span: Span, path: &Path, reason: &str) {
        self.ignored.push(Ignored {
            file: self.diags.file_name(span.file).to_string(),
            line: span.line,
            path: path.to_string(),
            reason: reason.to_string(),
        });
    }

    /// Records the use of an unmodelled netlab module (reported once per module).
    fn module_use(&mut self, module: &'static str, key: &str, span: Span, path: &Path) {
        self.module_uses
            .push((module, key.to_string(), span, path.clone()));
    }

    /// Handles a key the loader does not read at `path` (a `level` of the document): a netlab
    /// setting that only concerns deployment is recorded as ignored, one that belongs to an
    /// unmodelled module is recorded for its error, anything else is an unknown key.
    fn other_key(&mut self, level: Level, k: &yaml::Node, allowed: &[&str], path: &Path) {
        let Some(key) = k.as_scalar() else { return };
        let kpath = path.key(key);
        if let Some(m) = unmodelled_module(key) {
            self.module_use(m, key, k.span, &kpath);
            return;
        }
        if let Some((_, why)) = netlab::IGNORED_MODULES.iter().find(|(m, _)| *m == key) {
            self.ignore(k.span, &kpath, why);
            return;
        }
        let deploy = match level {
            Level::Top => netlab::deploy_top_key(key),
            Level::Node => netlab::deploy_node_key(key),
            Level::Link => netlab::deploy_link_key(key),
            Level::Defaults => netlab::deploy_defaults_key(key),
        };
        if let Some(why) = deploy {
            self.ignore(k.span, &kpath, why);
            return;
        }
        let near = yaml::closest(key, allowed)
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        self.err(k.span, &kpath, format!("unknown key `{key}`{near}"));
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
        let vlans_node = top.take("vlans");
        let mut config = ModuleConfig::new();
        for m in MODULES.into_iter().chain(VRF_SECTIONS) {
            if let Some(v) = top.take(m) {
                config.insert(m.to_string(), self.shared(v));
            }
        }
        // netlab's validation tests: kept as written for `nettwin validate` to decode.
        let validate = top.take("validate").map(|v| Arc::new(v.clone()));
        if let Some(named) = top.take("prefix") {
            self.named_prefixes(named);
        }
        for (k, _) in top.take_rest() {
            self.other_key(Level::Top, k, TOP_KEYS, &Path::root());
        }
        top.finish(TOP_KEYS, self.diags);
        let top_modules = module
            .map(|m| self.module_list(m, &Path::root().key("module")))
            .unwrap_or_default();

        // Defaults: node attributes, a `link` section of link attributes, and netlab's
        // `addressing`, `device` and `interfaces.mtu`.
        let mut default_link: Option<&yaml::Node> = None;
        let mut default_sources: Sources = Vec::new();
        let mut pool_layers: Vec<(&yaml::Node, Path)> = Vec::new();
        let mut default_groups: Option<&yaml::Node> = None;
        if let Some(d) = defaults {
            let path = Path::root().key("defaults");
            if let Some(map) = d.as_map() {
                let mut allowed = NODE_KEYS.to_vec();
                allowed.extend(["link", "addressing", "device", "interfaces"]);
                for (k, v) in map {
                    let key = k.as_scalar().unwrap_or_default();
                    let kpath = path.key(key);
                    match key {
                        "link" => {
                            self.check_keys(v, &kpath, LINK_KEYS, Level::Link);
                            default_link = Some(v);
                        }
                        "addressing" => pool_layers.push((v, kpath)),
                        "sources" => {}
                        "device" => {
                            if let Some(dev) = read_str(v, &kpath, self.diags) {
                                self.default_device = Some(dev);
                            }
                            self.ignore(v.span, &kpath, "the device type is kept on each node but changes no route nettwin computes");
                        }
                        "interfaces" => {
                            if let Some(mut r) = MapReader::new(v, &kpath, self.diags) {
                                if let Some(m) = r.take("mtu") {
                                    self.default_if_mtu = self.mtu(m, &kpath.key("mtu"));
                                }
                                for (k2, _) in r.take_rest() {
                                    let key2 = k2.as_scalar().unwrap_or_default();
                                    self.ignore(k2.span, &kpath.key(key2), "netlab's interface defaults other than `mtu` change no route");
                                }
                                r.finish(&["mtu"], self.diags);
                            }
                        }
                        // Its groups are in `groups` by now (`netlab::merge_default_groups`).
                        "groups" => default_groups = Some(v),
                        _ if NODE_KEYS.contains(&key) => {}
                        _ => self.other_key(Level::Defaults, k, &allowed, &path),
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
        if let Some(a) = addressing {
            pool_layers.push((a, Path::root().key("addressing")));
        }
        let pools = self.pools(&pool_layers);
        // Node names first, so groups and links can refer to nodes defined later in the file;
        // groups may create nodes (`_auto_create`), after the ones in `nodes`, so a lab may
        // have no `nodes` at all (as netlab allows).
        let mut node_entries = match nodes_node {
            Some(n) => self.node_entries(n),
            None => Vec::new(),
        };
        let auto_default = default_groups
            .and_then(|g| g.get("_auto_create"))
            .and_then(|v| {
                read_bool(
                    v,
                    &Path::root()
                        .key("defaults")
                        .key("groups")
                        .key("_auto_create"),
                    self.diags,
                )
            })
            .unwrap_or(false);
        let group_defs = self.group_defs(groups, &mut node_entries, auto_default);
        if nodes_node.is_none() && node_entries.is_empty() {
            self.err(
                Span::new(1, 1),
                &Path::root(),
                "missing required key `nodes` (or groups with `_auto_create: true` that create nodes)",
            );
            return None;
        }
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

        let group_sources = self.groups(group_defs, &node_entries, &index);
        let mut nodes = Vec::with_capacity(node_entries.len());
        for (i, (name, span, body)) in node_entries.iter().enumerate() {
            let path = Path::root().key("nodes").key(name);
            let mut sources: Sources = Vec::new();
            if let Some(body) = body {
                let mut allowed = NODE_KEYS.to_vec();
                allowed.push("name");
                self.check_keys(body, &path, &allowed, Level::Node);
                if body.as_map().is_some() {
                    sources.push((body, path.clone()));
                }
            }
            let groups_of = group_sources.get(&(i as u32)).cloned().unwrap_or_default();
            sources.extend(groups_of.iter().cloned());
            let n_groups = groups_of.len();
            sources.extend(default_sources.iter().cloned());
            let node = self.node(
                NodeId(i as u32),
                name,
                *span,
                &sources,
                n_groups,
                &top_modules,
                &config,
            );
            self.read_node_vlans(&sources, &node);
            nodes.push(node);
        }
        self.assign_ids(&mut nodes);

        let mut raw_links = match links_node {
            Some(l) => self.links(l, &index, default_link),
            None => Vec::new(),
        };
        // netlab appends the `links` of global VRFs after the others (`create_vrf_links`).
        if let Some(vrfs) = config.get("vrfs").cloned() {
            for (k, def) in vrfs.as_map().unwrap_or_default() {
                let (Some(vname), Some(items)) = (k.as_scalar(), def.get("links")) else {
                    continue;
                };
                let lpath = Path::root().key("vrfs").key(vname).key("links");
                for (i, item) in read_list(items, &lpath, self.diags).into_iter().enumerate() {
                    if let Some(mut l) = self.link(item, &lpath.index(i), &index, default_link) {
                        let name = yaml::Node {
                            value: Value::Scalar {
                                text: vname.to_string(),
                                quoted: true,
                            },
                            span: k.span,
                        };
                        l.config.insert("vrf".to_string(), Arc::new(name));
                        raw_links.push(l);
                    }
                }
            }
        }
        let vlan_links = self.read_global_vlans(vlans_node, &config, defaults);
        self.vlan_access_links(vlan_links, &index, default_link, &mut raw_links);
        self.report_module_uses();
        let mut topo = self.resolve(name, nodes, raw_links, pools, config)?;
        topo.validate = validate;
        Some(topo)
    }

    /// netlab's named prefixes (`docs/prefix.md`): names of mappings with `ipv4`, `ipv6`,
    /// `pool` and `allocation`, which a link's `prefix` may name. Their values are checked where
    /// a link uses them, as netlab does.
    fn named_prefixes(&mut self, node: &yaml::Node) {
        let path = Path::root().key("prefix");
        let Some(mut r) = MapReader::new(node, &path, self.diags) else {
            return;
        };
        for (k, v) in r.take_rest() {
            let Some(name) = k.as_scalar() else { continue };
            let p = path.key(name);
            if v.as_map().is_none() {
                let msg = format!(
                    "a named prefix is a mapping with `ipv4`, `ipv6`, `pool` or `allocation`, found {}",
                    v.kind_name()
                );
                self.err(v.span, &p, msg);
                continue;
            }
            self.check_keys(v, &p, &["ipv4", "ipv6", "pool", "allocation"], Level::Link);
            self.named_prefixes.push((name.to_string(), v.clone(), p));
        }
        r.finish(&[], self.diags);
    }

    /// One error per unmodelled module, at its first use, naming the key and how many other
    /// places use the module: a lab that uses VLANs everywhere gets one line about VLANs.
    fn report_module_uses(&mut self) {
        let mut uses = std::mem::take(&mut self.module_uses);
        uses.sort_by(|a, b| (a.0, a.2).cmp(&(b.0, b.2)));
        // A group's or `defaults`' list is read once per node it applies to.
        uses.dedup_by(|a, b| (a.0, a.2) == (b.0, b.2));
        let mut i = 0;
        while i < uses.len() {
            let (m, key, span, path) = uses[i].clone();
            let same = uses[i..].iter().take_while(|u| u.0 == m).count();
            let what = netlab::UNMODELLED_MODULES
                .iter()
                .find(|(x, _)| *x == m)
                .map_or("", |(_, w)| *w);
            let used = if key == m {
                format!("`{key}`")
            } else {
                format!("`{key}` (netlab's {m} module)")
            };
            let more = match same {
                1 => String::new(),
                2 => " (and 1 other place)".to_string(),
                n => format!(" (and {} other places)", n - 1),
            };
            self.err(span, &path, format!("{used} is not modelled by nettwin yet: it needs netlab's {m} module ({what}){more}; remove it to use the rest of the lab"));
            i += same;
        }
    }

    /// Node ids as netlab gives them (`nodes.py`): `id:` where set (1 or more, unique), then
    /// the lowest free id to each other node in order.
    fn assign_ids(&mut self, nodes: &mut [Node]) {
        let mut used: HashMap<u32, usize> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            if n.id_set {
                if let Some(j) = used.insert(n.node_id, i) {
                    let msg = format!(
                        "duplicate node id {} (also on node `{}`)",
                        n.node_id, nodes[j].name
                    );
                    self.err(
                        n.span,
                        &Path::root().key("nodes").key(&n.name).key("id"),
                        msg,
                    );
                }
            }
        }
        let mut next = 1u32;
        for n in nodes.iter_mut() {
            if n.id_set {
                continue;
            }
            while used.contains_key(&next) {
                next += 1;
            }
            n.node_id = next;
            next += 1;
        }
    }

    /// Reports keys of `node` (a mapping) not in `allowed`.
    fn check_keys(&mut self, node: &yaml::Node, path: &Path, allowed: &[&str], level: Level) {
        if let Some(mut r) = MapReader::new(node, path, self.diags) {
            for key in allowed {
                r.take(key);
            }
            for (k, _) in r.take_rest() {
                self.other_key(level, k, allowed, path);
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
            } else if name == "vrf" {
                out.push(name);
            } else if let Some(m) = unmodelled_module(&name) {
                self.module_use(m, &name, item.span, &path.index(i));
            } else if let Some((_, why)) = netlab::IGNORED_MODULES.iter().find(|(m, _)| *m == name)
            {
                self.ignore(item.span, &path.index(i), why);
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

    /// The pools: netlab's defaults, then `defaults.addressing`, then `addressing`, each
    /// changing only what it sets (`setup_pools` in `addressing.py`).
    fn pools(&mut self, layers: &[(&yaml::Node, Path)]) -> Pools {
        let mut pools = Pools::default();
        for (node, path) in layers {
            let Some(mut r) = MapReader::new(node, path, self.diags) else {
                continue;
            };
            for (k, v) in r.take_rest() {
                let Some(name) = k.as_scalar() else { continue };
                self.pool(&mut pools, name, v, &path.key(name));
            }
            r.finish(&[], self.diags);
        }
        // Each pool hands out addresses without looking at the others, so overlapping pools
        // would give two interfaces the same address. Pools the file sets are checked against
        // every pool; two the file sets are reported once, at the later one.
        let mut errors = Vec::new();
        for (i, p) in pools.pools.iter().enumerate() {
            for fi in 0..2 {
                let (Some(PoolAf::Prefix(prefix)), Some((span, fpath))) = (p.af(fi), &p.given[fi])
                else {
                    continue;
                };
                if NO_OVERLAP_CHECK.contains(&p.name.as_str()) {
                    continue;
                }
                for (j, o) in pools.pools.iter().enumerate() {
                    if NO_OVERLAP_CHECK.contains(&o.name.as_str()) || i == j {
                        continue;
                    }
                    let Some(PoolAf::Prefix(op)) = o.af(fi) else {
                        continue;
                    };
                    let later = o.given[fi].as_ref().is_some_and(|(s2, _)| s2 > span);
                    if later || !op.overlaps(&prefix) {
                        continue;
                    }
                    errors.push((*span, fpath.clone(), format!("address pool {prefix} overlaps the {} pool {op}; two interfaces would get the same address", o.name)));
                }
            }
        }
        for (span, path, msg) in errors {
            self.err(span, &path, msg);
        }
        pools
    }

    /// One pool definition merged into `pools`: a prefix string (an IPv4 pool) or a mapping.
    fn pool(&mut self, pools: &mut Pools, name: &str, v: &yaml::Node, path: &Path) {
        let i = match pools.index(name) {
            Some(i) => i,
            None => {
                // A new pool's IPv4 subnets are /24, or /32 when its name says loopback.
                let len = if name.contains("loopback") { 32 } else { 24 };
                pools.pools.push(Pool::new(name, None, len));
                pools.pools.len() - 1
            }
        };
        if v.as_scalar().is_some() {
            let fam = Family::Ipv4;
            if let Some(p) = self.pool_prefix(v, path, fam) {
                pools.pools[i].ipv4 = Some(PoolAf::Prefix(p));
                pools.pools[i].given[0] = Some((v.span, path.clone()));
            }
            return;
        }
        let Some(mut r) = MapReader::new(v, path, self.diags) else {
            return;
        };
        let unnumbered = match r.take("unnumbered") {
            Some(u) => read_bool(u, &path.key("unnumbered"), self.diags).unwrap_or(false),
            None => false,
        };
        for (fi, (key, fam)) in [("ipv4", Family::Ipv4), ("ipv6", Family::Ipv6)]
            .into_iter()
            .enumerate()
        {
            let Some(p) = r.take(key) else { continue };
            let fpath = path.key(key);
            let slot = if fi == 0 {
                &mut pools.pools[i].ipv4
            } else {
                &mut pools.pools[i].ipv6
            };
            // An unnumbered pool, `false` and an empty value take the family out (netlab's
            // `normalize_prefix`); `true` makes it unnumbered.
            match &p.value {
                _ if unnumbered => *slot = None,
                Value::Null => *slot = None,
                _ if p.as_bool() == Some(false) => *slot = None,
                _ if p.as_bool() == Some(true) => *slot = Some(PoolAf::Unnumbered),
                _ => {
                    if let Some(prefix) = self.pool_prefix(p, &fpath, fam) {
                        *slot = Some(PoolAf::Prefix(prefix));
                        pools.pools[i].given[fi] = Some((p.span, fpath));
                    }
                }
            }
        }
        if unnumbered {
            pools.pools[i].unnumbered = true;
            pools.pools[i].ipv4 = None;
            pools.pools[i].ipv6 = None;
        }
        if let Some(len) = r.take("prefix") {
            if let Some(len) = read_u64(len, &path.key("prefix"), 1..=32, self.diags) {
                pools.pools[i].prefix4 = len as u8;
            }
        }
        if let Some(len) = r.take("prefix6") {
            if let Some(len) = read_u64(len, &path.key("prefix6"), 1..=128, self.diags) {
                pools.pools[i].prefix6 = len as u8;
            }
        }
        if let Some(a) = r.take("allocation") {
            let apath = path.key("allocation");
            if let Some(text) = read_str(a, &apath, self.diags) {
                match Allocation::parse(&text) {
                    Some(al) => pools.pools[i].allocation = Some(al),
                    None => self.err(a.span, &apath, format!("unknown allocation `{text}`; allocations are: p2p, sequential, id_based")),
                }
            }
        }
        for (key, why) in [
            ("start", "the first management address"),
            ("mac", "management MAC addresses"),
        ] {
            if let Some(x) = r.take(key) {
                self.ignore(x.span, &path.key(key), why);
            }
        }
        r.finish(
            &[
                "ipv4",
                "ipv6",
                "prefix",
                "prefix6",
                "allocation",
                "unnumbered",
                "start",
                "mac",
            ],
            self.diags,
        );
        // netlab's checks (`validate_pools`): subnets no shorter than the pool, IPv6 pools no
        // longer than /56.
        let pool = &pools.pools[i];
        if let (Some(PoolAf::Prefix(p4)), Some((span, fpath))) = (pool.ipv4, &pool.given[0]) {
            if pool.prefix4 < p4.len() {
                let msg = format!(
                    "the subnets of pool `{name}` (/{}) are larger than the pool {p4}",
                    pool.prefix4
                );
                self.err(*span, fpath, msg);
            }
        }
        if let (Some(PoolAf::Prefix(p6)), Some((span, fpath))) = (pool.ipv6, &pool.given[1]) {
            if p6.len() > 56 && name != "mgmt" {
                let msg = format!(
                    "IPv6 pool {p6} of `{name}` is longer than /56 (netlab refuses it too)"
                );
                self.err(*span, fpath, msg);
            } else if pool.prefix6 < p6.len() {
                let msg = format!(
                    "the subnets of pool `{name}` (/{}) are larger than the pool {p6}",
                    pool.prefix6
                );
                self.err(*span, fpath, msg);
            }
        }
    }

    /// A pool prefix of `family` that takes in no special-purpose range.
    fn pool_prefix(&mut self, p: &yaml::Node, path: &Path, family: Family) -> Option<Prefix> {
        let prefix = self.prefix(p, path, Some(family))?;
        match special_use(&prefix) {
            Some((range, why)) => {
                self.err(
                    p.span,
                    path,
                    format!("address pool {prefix} takes in {range} ({why})"),
                );
                None
            }
            None => Some(prefix),
        }
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
                // netlab's list form: names, or mappings with a `name` (`create_node_dict`).
                for (i, item) in items.iter().enumerate() {
                    if item.as_map().is_some() {
                        match item.get("name") {
                            Some(n) => {
                                if let Some(name) =
                                    read_str(n, &path.index(i).key("name"), self.diags)
                                {
                                    out.push((name, n.span, Some(item)));
                                }
                            }
                            None => self.err(
                                item.span,
                                &path.index(i),
                                "a node in a list of mappings needs a `name`",
                            ),
                        }
                    } else if let Some(name) = read_str(item, &path.index(i), self.diags) {
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

    /// The groups as written, creating the members of `_auto_create` groups that are not
    /// nodes yet (netlab's `auto_create_members`: after the nodes in `nodes`, in group and
    /// member order).
    fn group_defs<'a>(
        &mut self,
        groups: Option<&'a yaml::Node>,
        node_entries: &mut Vec<(String, Span, Option<&'a yaml::Node>)>,
        auto_default: bool,
    ) -> Vec<GroupDef<'a>> {
        let mut out = Vec::new();
        let Some(groups) = groups else { return out };
        let path = Path::root().key("groups");
        let Some(mut r) = MapReader::new(groups, &path, self.diags) else {
            return out;
        };
        let mut auto_all = auto_default;
        for (k, body) in r.take_rest() {
            let gname = k.as_scalar().unwrap_or_default().to_string();
            let gpath = path.key(&gname);
            if gname == "_auto_create" {
                auto_all |= read_bool(body, &gpath, self.diags).unwrap_or(false);
                continue;
            }
            if gname.starts_with('_') {
                self.ignore(k.span, &gpath, "netlab's group settings start with `_`");
                continue;
            }
            let mut def = GroupDef {
                name: gname.clone(),
                span: k.span,
                path: gpath.clone(),
                body: None,
                members: Vec::new(),
                auto: false,
                default: body.get("_default_group").is_some(),
            };
            let members = match &body.value {
                // A list is the members (`check_group_data_sanity`).
                Value::Seq(_) => Some(body),
                Value::Map(_) => {
                    let mut allowed = NODE_KEYS.to_vec();
                    allowed.extend([
                        "members",
                        "_auto_create",
                        "_default_group",
                        "type",
                        "node_data",
                        "device",
                        "id",
                        "role",
                    ]);
                    self.check_keys(body, &gpath, &allowed, Level::Node);
                    if let Some(t) = body.get("type") {
                        match read_str(t, &gpath.key("type"), self.diags).as_deref() {
                            Some("node") | None => {}
                            Some("vlan") => {
                                self.module_use("vlan", "type: vlan", t.span, &gpath.key("type"))
                            }
                            Some("vrf") => self.err(
                                t.span,
                                &gpath.key("type"),
                                "groups of type `vrf` (netlab's VRF groups with `vrfs` data per member) are not modelled by nettwin; put the `vrfs` on the nodes",
                            ),
                            Some(o) => self.err(
                                t.span,
                                &gpath.key("type"),
                                format!("unknown group type `{o}`; types are: node, vlan, vrf"),
                            ),
                        }
                    }
                    if let Some(a) = body.get("_auto_create") {
                        def.auto =
                            read_bool(a, &gpath.key("_auto_create"), self.diags).unwrap_or(false);
                    }
                    def.body = Some(body);
                    body.get("members")
                }
                _ => {
                    self.err(
                        body.span,
                        &gpath,
                        format!(
                            "group `{gname}` must be a mapping or a list of members, found {}",
                            body.kind_name()
                        ),
                    );
                    continue;
                }
            };
            if let Some(m) = members {
                let mpath = if matches!(body.value, Value::Seq(_)) {
                    gpath.clone()
                } else {
                    gpath.key("members")
                };
                for (i, item) in read_list(m, &mpath, self.diags).into_iter().enumerate() {
                    if let Some(name) = read_str(item, &mpath.index(i), self.diags) {
                        def.members.push((name, item.span, mpath.index(i)));
                    }
                }
            }
            out.push(def);
        }
        r.finish(&[], self.diags);
        let group_names: HashSet<String> = out.iter().map(|g| g.name.clone()).collect();
        for g in &mut out {
            if !(g.auto || (auto_all && !g.default)) {
                if g.default {
                    // netlab drops the members of a default group that are not in this lab.
                    g.members.retain(|(m, _, _)| {
                        m.starts_with('~')
                            || m.contains(['*', '?', '['])
                            || group_names.contains(m)
                            || node_entries.iter().any(|(n, _, _)| n == m)
                    });
                }
                continue;
            }
            for (m, span, _) in &g.members {
                let pattern = m.starts_with('~') || m.contains(['*', '?', '[']);
                if pattern || group_names.contains(m) || node_entries.iter().any(|(n, _, _)| n == m)
                {
                    continue;
                }
                node_entries.push((m.clone(), *span, None));
            }
        }
        out
    }

    /// Each node's groups, in the order netlab applies their attributes (`reverse_topsort` in
    /// `groups.py`: a group before the groups that contain it, otherwise by name); the first
    /// group that sets an attribute wins, and the node's own setting wins over all of them.
    fn groups<'a>(
        &mut self,
        defs: Vec<GroupDef<'a>>,
        node_entries: &[(String, Span, Option<&'a yaml::Node>)],
        index: &HashMap<String, NodeId>,
    ) -> HashMap<u32, Sources<'a>> {
        let mut out: HashMap<u32, Sources<'a>> = HashMap::new();
        let mut defs = defs;
        let gindex: HashMap<String, usize> = defs
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.clone(), i))
            .collect();
        for g in &defs {
            if index.contains_key(&g.name) {
                self.err(
                    g.span,
                    &g.path,
                    format!("group `{}` is also a node name", g.name),
                );
            }
        }
        // A node's own `group: [...]` adds it to those groups.
        for (name, _, body) in node_entries {
            let Some(list) = body.and_then(|b| b.get("group")) else {
                continue;
            };
            let gpath = Path::root().key("nodes").key(name).key("group");
            for (i, item) in read_list(list, &gpath, self.diags).into_iter().enumerate() {
                let Some(g) = read_str(item, &gpath.index(i), self.diags) else {
                    continue;
                };
                match gindex.get(&g) {
                    Some(&gi) => defs[gi]
                        .members
                        .push((name.clone(), item.span, gpath.index(i))),
                    None => self.err(item.span, &gpath.index(i), format!("unknown group `{g}`")),
                }
            }
        }
        let device_of = |body: Option<&yaml::Node>| -> Option<String> {
            body.and_then(|b| b.get("device"))
                .and_then(|d| d.as_scalar())
                .map(str::to_string)
        };
        // Direct members: nodes and child groups.
        let mut direct: Vec<(Vec<u32>, Vec<usize>)> = Vec::with_capacity(defs.len());
        for g in &defs {
            let mut nodes_in = Vec::new();
            let mut children = Vec::new();
            if g.name == "all" {
                nodes_in.extend(0..node_entries.len() as u32);
            } else if netlab::DEVICES.contains(&g.name.as_str()) {
                for (i, (_, _, body)) in node_entries.iter().enumerate() {
                    let dev = device_of(*body).or_else(|| self.default_device.clone());
                    if dev.as_deref() == Some(g.name.as_str()) {
                        nodes_in.push(i as u32);
                    }
                }
            }
            for (m, span, mpath) in &g.members {
                if let Some(id) = index.get(m) {
                    nodes_in.push(id.0);
                } else if let Some(&gi) = gindex.get(m) {
                    children.push(gi);
                } else if let Some(expr) = m.strip_prefix('~') {
                    // A regular expression matching whole node names (netlab's
                    // `group_re_match`: Python's `re.fullmatch`).
                    let re = match regex::Regex::new(&format!("^(?:{expr})$")) {
                        Ok(re) => re,
                        Err(e) => {
                            let msg = format!(
                                "invalid regular expression `{expr}` in group `{}`: {e}",
                                g.name
                            );
                            self.err(*span, mpath, msg);
                            continue;
                        }
                    };
                    let matched: Vec<u32> = node_entries
                        .iter()
                        .enumerate()
                        .filter(|(_, (n, _, _))| re.is_match(n))
                        .map(|(i, _)| i as u32)
                        .collect();
                    if matched.is_empty() {
                        let msg = format!(
                            "regular expression `{m}` in group `{}` matches no node",
                            g.name
                        );
                        self.err(*span, mpath, msg);
                    }
                    nodes_in.extend(matched);
                } else if m.contains(['*', '?', '[']) {
                    let matched: Vec<u32> = node_entries
                        .iter()
                        .enumerate()
                        .filter(|(_, (n, _, _))| netlab::glob_match(m, n))
                        .map(|(i, _)| i as u32)
                        .collect();
                    if matched.is_empty() {
                        self.err(
                            *span,
                            mpath,
                            format!("wildcard `{m}` in group `{}` matches no node", g.name),
                        );
                    }
                    nodes_in.extend(matched);
                } else {
                    self.err(
                        *span,
                        mpath,
                        format!("unknown node `{m}` in group `{}`", g.name),
                    );
                }
            }
            direct.push((nodes_in, children));
        }
        // netlab's reverse topological sort: repeatedly take, in name order, the groups none of
        // whose child groups is still waiting. A cycle is an error.
        let mut order: Vec<usize> = Vec::with_capacity(defs.len());
        let mut waiting: Vec<usize> = (0..defs.len()).collect();
        waiting.sort_by(|a, b| defs[*a].name.cmp(&defs[*b].name));
        let mut done = vec![false; defs.len()];
        while !waiting.is_empty() {
            let before = waiting.len();
            let mut i = 0;
            while i < waiting.len() {
                let g = waiting[i];
                if direct[g].1.iter().all(|c| done[*c]) {
                    done[g] = true;
                    order.push(g);
                    waiting.remove(i);
                } else {
                    i += 1;
                }
            }
            if waiting.len() == before {
                let g = &defs[waiting[0]];
                self.err(
                    g.span,
                    &g.path,
                    format!(
                        "group `{}` contains itself through its member groups",
                        g.name
                    ),
                );
                return out;
            }
        }
        // All members of each group, child groups' included (children come first in `order`).
        let mut all: Vec<Vec<u32>> = vec![Vec::new(); defs.len()];
        for &g in &order {
            let mut m = direct[g].0.clone();
            for &c in &direct[g].1 {
                m.extend(all[c].iter().copied());
            }
            m.sort_unstable();
            m.dedup();
            all[g] = m;
        }
        for &g in &order {
            let def = &defs[g];
            let Some(body) = def.body else { continue };
            for &n in &all[g] {
                let e = out.entry(n).or_default();
                e.push((body, def.path.clone()));
                if let Some(nd) = body.get("node_data") {
                    if nd.as_map().is_some() {
                        e.push((nd, def.path.key("node_data")));
                    }
                }
            }
        }
        out
    }

    fn mtu(&mut self, node: &yaml::Node, path: &Path) -> Option<u32> {
        read_u64(node, path, MTU_RANGE, self.diags).map(|v| v as u32)
    }

    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        id: NodeId,
        name: &str,
        span: Span,
        sources: &Sources,
        n_groups: usize,
        top_modules: &[String],
        top_config: &ModuleConfig,
    ) -> Node {
        let device = match attr(sources, "device") {
            Some((v, p)) => {
                self.ignore(
                    v.span,
                    &p,
                    "the device type is kept on the node but changes no route nettwin computes",
                );
                read_str(v, &p, self.diags)
            }
            None => self.default_device.clone(),
        };
        let kind = self.kind(sources, device.as_deref());
        let platform = self.platform(sources, device.as_deref());
        let node_id = attr(sources, "id")
            .and_then(|(v, p)| read_u64(v, &p, 1..=u64::from(u32::MAX), self.diags))
            .map(|v| v as u32);
        // The node's module sections: each merged over the node, its groups and `defaults`.
        let mut config = ModuleConfig::new();
        for m in MODULES.into_iter().chain(VRF_SECTIONS) {
            // `defaults.vlan` holds the vlan module's defaults (`start_vlan_id`), not a
            // setting of every node.
            let found: Vec<&yaml::Node> = sources
                .iter()
                .filter(|(_, p)| m != "vlan" || p.as_str() != "defaults")
                .filter_map(|(s, _)| s.get(m))
                .collect();
            match found.len() {
                0 => {}
                1 => {
                    config.insert(m.to_string(), self.shared(found[0]));
                }
                _ => {
                    let sec = self.merged_section(&found);
                    config.insert(m.to_string(), sec);
                }
            }
        }
        let asn = self.asn(name, sources, &config, top_config);
        let mtu = attr(sources, "mtu")
            .and_then(|(v, p)| self.mtu(v, &p))
            .or(self.default_if_mtu)
            .unwrap_or(DEFAULT_MTU);
        let mut loopback = Loopback::default();
        let mut wants_loopback = None;
        let mut loopback_pool = None;
        let mut loopback_off = [false, false];
        if let Some((v, p)) = attr(sources, "loopback") {
            let flag = match &v.value {
                _ if v.as_bool() == Some(true) => Some(true),
                _ if v.as_bool() == Some(false) => Some(false),
                _ => None,
            };
            if kind == NodeKind::Switch && flag != Some(false) {
                self.err(
                    v.span,
                    &p,
                    format!("switch `{name}` is a Linux bridge and has no loopback"),
                );
            } else if let Some(f) = flag {
                // netlab: `loopback: true` gives any node one, `false` takes it away.
                wants_loopback = Some(f);
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
                // `ipv4`/`ipv6`: an address, or `false` for none in that family (netlab's
                // `loopback` attributes); `pool`: the pool to take them from.
                for (fi, (key, fam, len)) in
                    [("ipv4", Family::Ipv4, 32), ("ipv6", Family::Ipv6, 128)]
                        .into_iter()
                        .enumerate()
                {
                    let Some(a) = r.take(key) else { continue };
                    match &a.value {
                        _ if a.as_bool() == Some(false) => loopback_off[fi] = true,
                        _ if a.as_bool() == Some(true) => {}
                        _ => {
                            let x = self
                                .usable(a, &p.key(key), fam, Some(len), true)
                                .map(|x| x.0);
                            if fi == 0 {
                                loopback.ipv4 = x;
                            } else {
                                loopback.ipv6 = x;
                            }
                        }
                    }
                }
                if let Some(pl) = r.take("pool") {
                    loopback_pool = read_str(pl, &p.key("pool"), self.diags)
                        .map(|n| (n, pl.span, p.key("pool")));
                }
                r.finish(&["ipv4", "ipv6", "pool"], self.diags);
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
        // Modules: the node's own list with its groups' lists appended (netlab's
        // `copy_group_device_module`); the top-level list only where neither sets one, and
        // never on hosts (`propagate_global_modules`).
        let mut modules: Vec<String> = Vec::new();
        let mut set = false;
        let own = sources
            .first()
            .filter(|(_, p)| p.as_str().starts_with("nodes."));
        let group_range = usize::from(own.is_some())..usize::from(own.is_some()) + n_groups;
        if let Some((v, p)) = own.and_then(|(s, p)| s.get("module").map(|v| (v, p.key("module")))) {
            modules = self.module_list(v, &p);
            set = true;
        }
        for (s, p) in
            &sources[group_range.start.min(sources.len())..group_range.end.min(sources.len())]
        {
            if let Some(v) = s.get("module") {
                for m in self.module_list(v, &p.key("module")) {
                    if !modules.contains(&m) {
                        modules.push(m);
                    }
                }
                set = true;
            }
        }
        if !set {
            // `defaults.module` is nettwin's own node default.
            let def = sources[group_range.end.min(sources.len())..]
                .iter()
                .find_map(|(s, p)| s.get("module").map(|v| (v, p.key("module"))));
            modules = match def {
                Some((v, p)) => self.module_list(v, &p),
                None if kind == NodeKind::Host => Vec::new(),
                None => top_modules.to_vec(),
            };
        }
        for m in MODULES {
            if config.contains_key(m) && !modules.iter().any(|x| x == m) {
                modules.push(m.to_string());
            }
        }
        let statics = match attr(sources, "static") {
            Some((v, p)) => self.statics(v, &p),
            None => Vec::new(),
        };
        self.statics.push(statics);
        self.node_extra.push(NodeExtra {
            wants_loopback,
            loopback_pool,
            loopback_off,
        });
        Node {
            id,
            name: name.to_string(),
            kind,
            node_id: node_id.unwrap_or(0),
            id_set: node_id.is_some(),
            device,
            platform,
            asn,
            loopback,
            router_id,
            mtu,
            interfaces: Vec::new(),
            statics: Vec::new(),
            bridge_netfilter,
            modules,
            config,
            vrfs: Vec::new(),
            span,
        }
    }

    /// The node's vendor personality: `platform`, else the one its netlab device has.
    fn platform(&mut self, sources: &Sources, device: Option<&str>) -> Option<Platform> {
        match attr(sources, "platform") {
            Some((v, p)) => {
                let text = read_str(v, &p, self.diags)?;
                let found = Platform::parse(&text);
                if found.is_none() {
                    let names: Vec<&str> = Platform::ALL.iter().map(|(n, _)| *n).collect();
                    self.err(
                        v.span,
                        &p,
                        format!(
                            "unknown platform `{text}`: expected one of {}",
                            names.join(", ")
                        ),
                    );
                }
                found
            }
            None => device.and_then(Platform::of_device),
        }
    }

    /// The node's kind: `kind`, or netlab's `role` (`router`, `host`, `bridge`), or the role
    /// its device has (netlab's `linux` device is a host), else a router.
    fn kind(&mut self, sources: &Sources, device: Option<&str>) -> NodeKind {
        let from_kind = attr(sources, "kind").and_then(|(v, path)| {
            let text = read_str(v, &path, self.diags)?;
            match NodeKind::ALL.iter().find(|(n, _)| *n == text) {
                Some((_, k)) => Some((*k, v, path)),
                None => {
                    let names: Vec<&str> = NodeKind::ALL.iter().map(|(n, _)| *n).collect();
                    self.err(
                        v.span,
                        &path,
                        format!("unknown kind `{text}`; kinds are: {}", names.join(", ")),
                    );
                    None
                }
            }
        });
        let from_role = attr(sources, "role").and_then(|(v, path)| {
            let text = read_str(v, &path, self.diags)?;
            let k = match text.as_str() {
                "router" => NodeKind::Router,
                "host" => NodeKind::Host,
                "bridge" => NodeKind::Switch,
                "gateway" => {
                    self.module_use("gateway", "role: gateway", v.span, &path);
                    return None;
                }
                _ => {
                    self.err(
                        v.span,
                        &path,
                        format!("unknown role `{text}`; roles are: router, host, bridge"),
                    );
                    return None;
                }
            };
            Some((k, v, path))
        });
        match (from_kind, from_role) {
            (Some((k, _, _)), Some((r, v, path)))
                if k != r && !(k == NodeKind::Linux && r == NodeKind::Router) =>
            {
                self.err(
                    v.span,
                    &path,
                    format!(
                        "role `{}` contradicts kind `{k}`",
                        v.as_scalar().unwrap_or_default()
                    ),
                );
                k
            }
            (Some((k, _, _)), _) => k,
            (None, Some((r, _, _))) => r,
            (None, None) if device == Some("linux") => NodeKind::Host,
            (None, None) => NodeKind::Router,
        }
    }

    /// The node's AS: `asn`, or netlab's `bgp.as` (on the node, a group, `defaults` or the
    /// top level, as netlab propagates it); both set must agree.
    fn asn(
        &mut self,
        name: &str,
        sources: &Sources,
        config: &ModuleConfig,
        top: &ModuleConfig,
    ) -> Option<u32> {
        let asn = attr(sources, "asn").and_then(|(v, p)| {
            read_u64(v, &p, 1..=u64::from(u32::MAX), self.diags).map(|a| (a as u32, v.span, p))
        });
        let bgp_as = config
            .get("bgp")
            .and_then(|b| b.get("as").map(|v| (v.clone(), Path::root().key("nodes").key(name).key("bgp").key("as"))))
            .or_else(|| top.get("bgp").and_then(|b| b.get("as").map(|v| (v.clone(), Path::root().key("bgp").key("as")))))
            .and_then(|(v, p)| {
                let text = read_str(&v, &p, self.diags)?;
                match parse_asn(&text) {
                    Some(a) => Some((a, v.span, p)),
                    None => {
                        self.err(v.span, &p, format!("invalid AS number `{text}`: write 1 to 4294967295, or asdot like 1.10"));
                        None
                    }
                }
            });
        match (asn, bgp_as) {
            (Some((a, _, _)), Some((b, span, p))) if a != b => {
                self.err(span, &p, format!("`bgp.as` {b} differs from `asn` {a} of node `{name}`; they are the same setting"));
                Some(a)
            }
            (Some((a, _, _)), _) => Some(a),
            (None, b) => b.map(|x| x.0),
        }
    }

    /// One module section merged from several sources, the first winning key by key
    /// (netlab's group data merge, `groups.py`), shared between nodes with the same sources.
    fn merged_section(&mut self, found: &[&yaml::Node]) -> Arc<yaml::Node> {
        let key: Vec<*const yaml::Node> = found.iter().map(|n| *n as *const yaml::Node).collect();
        if let Some(m) = self.merged.get(&key) {
            return m.clone();
        }
        let mut out = found[0].clone();
        for more in &found[1..] {
            netlab::fill(&mut out, (*more).clone());
        }
        let arc = Arc::new(out);
        self.merged.insert(key, arc.clone());
        arc
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
            if item.get("group").is_some() {
                for (member, mpath) in self.link_group(item, &path.index(i), index) {
                    self.one_link(&member, &mpath, index, default_link, &mut out);
                }
                continue;
            }
            self.one_link(item, &path.index(i), index, default_link, &mut out);
        }
        out
    }

    fn one_link(
        &mut self,
        item: &yaml::Node,
        path: &Path,
        index: &HashMap<String, NodeId>,
        default_link: Option<&yaml::Node>,
        out: &mut Vec<RawLink>,
    ) {
        // netlab drops links with `disable: true` (`adjust_link_list`).
        if let Some(d) = item.get("disable") {
            if read_bool(d, &path.key("disable"), self.diags) == Some(true) {
                return;
            }
        }
        if let Some(l) = self.link(item, path, index, default_link) {
            out.push(l);
        }
    }

    /// A link group (`group` and `members`, `docs/links.md`): its member links in its place,
    /// each with the group's other attributes under its own (`expand_groups` in `links.py`;
    /// the member's settings win).
    fn link_group(
        &mut self,
        item: &yaml::Node,
        path: &Path,
        index: &HashMap<String, NodeId>,
    ) -> Vec<(yaml::Node, Path)> {
        let Some(entries) = item.as_map() else {
            return Vec::new();
        };
        if let Some(g) = item.get("group") {
            read_str(g, &path.key("group"), self.diags);
        }
        let Some(members) = item.get("members") else {
            self.err(
                item.span,
                path,
                "a link group needs `members`: the links it holds",
            );
            return Vec::new();
        };
        let shared = yaml::Node {
            value: Value::Map(
                entries
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_scalar(), Some("group" | "members")))
                    .cloned()
                    .collect(),
            ),
            span: item.span,
        };
        let mpath = path.key("members");
        let mut out = Vec::new();
        for (j, m) in read_list(members, &mpath, self.diags)
            .into_iter()
            .enumerate()
        {
            let scalar = |name: &str| yaml::Node {
                value: Value::Scalar {
                    text: name.to_string(),
                    quoted: false,
                },
                span: m.span,
            };
            let null = yaml::Node {
                value: Value::Null,
                span: m.span,
            };
            // The member as a mapping of its nodes, so the group's attributes can join it.
            let mut member = match &m.value {
                Value::Scalar { text, .. } => {
                    let parts: Vec<&str> = if index.contains_key(text.as_str()) {
                        vec![text.as_str()]
                    } else {
                        text.split('-').collect()
                    };
                    yaml::Node {
                        value: Value::Map(
                            parts.iter().map(|n| (scalar(n), null.clone())).collect(),
                        ),
                        span: m.span,
                    }
                }
                Value::Seq(names) => yaml::Node {
                    value: Value::Map(
                        names
                            .iter()
                            .map(|n| (scalar(n.as_scalar().unwrap_or_default()), null.clone()))
                            .collect(),
                    ),
                    span: m.span,
                },
                _ => m.clone(),
            };
            netlab::fill(&mut member, shared.clone());
            out.push((member, mpath.index(j)));
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
            prefix_given: false,
            prefix_on: [false; 2],
            allocation: None,
            pool: None,
            role: None,
            unnumbered: false,
            link_type: None,
            named_pool: None,
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
                    } else if !LINK_KEYS.contains(&key)
                        && (unmodelled_module(key).is_some()
                            || netlab::deploy_link_key(key).is_some()
                            || netlab::IGNORED_MODULES.iter().any(|(m, _)| *m == key))
                    {
                        self.other_key(Level::Link, k, LINK_KEYS, path);
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
            // A named prefix stands for its definition (netlab's `addressing.parse_prefix`).
            let named = v.as_scalar().and_then(|t| {
                let (n, def, dpath) = self.named_prefixes.iter().find(|(n, _, _)| n == t)?;
                Some((n.clone(), (def.clone(), dpath.clone())))
            });
            let (v, p) = match &named {
                Some((_, (def, dpath))) => (def, dpath.clone()),
                None => (v, p),
            };
            link.prefix_given = true;
            let is_false = v.as_bool() == Some(false);
            if is_false || v.is_null() {
                // `prefix: false`: no addresses on the link (netlab's l2only links).
            } else if let Some(text) = v.as_scalar() {
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
                for (fi, (key, fam)) in [("ipv4", Family::Ipv4), ("ipv6", Family::Ipv6)]
                    .into_iter()
                    .enumerate()
                {
                    let Some(x) = r.take(key) else { continue };
                    match &x.value {
                        _ if x.as_bool() == Some(true) => link.prefix_on[fi] = true,
                        _ if x.as_bool() == Some(false) => {}
                        _ => {
                            let pr = self
                                .subnet_prefix(x, &p.key(key), Some(fam))
                                .map(|y| (y, x.span));
                            if fi == 0 {
                                link.prefix4 = pr;
                            } else {
                                link.prefix6 = pr;
                            }
                        }
                    }
                }
                if let Some(a) = r.take("allocation") {
                    let apath = p.key("allocation");
                    if let Some(text) = read_str(a, &apath, self.diags) {
                        match Allocation::parse(&text) {
                            Some(al) => link.allocation = Some(al),
                            None => self.err(a.span, &apath, format!("unknown allocation `{text}`; allocations are: p2p, sequential, id_based")),
                        }
                    }
                }
                // A named prefix with only a pool: the subnet comes from that pool, once for
                // every link naming the prefix.
                if let (Some(pv), Some((name, _))) = (r.take("pool"), &named) {
                    let ppath = p.key("pool");
                    if link.prefix4.is_none() && link.prefix6.is_none() {
                        link.prefix_given = false;
                        link.pool = read_str(pv, &ppath, self.diags).map(|n| (n, pv.span, ppath));
                        link.named_pool = Some(name.clone());
                    }
                }
                // Only an allocation policy: the subnet still comes from a pool.
                if r.take("_name").is_none()
                    && link.prefix4.is_none()
                    && link.prefix6.is_none()
                    && link.prefix_on == [false; 2]
                    && link.allocation.is_some()
                {
                    link.prefix_given = false;
                }
                r.finish(&["ipv4", "ipv6", "allocation"], self.diags);
            }
        }
        if let Some((v, p)) = attr(&attrs, "pool") {
            link.pool = read_str(v, &p, self.diags).map(|n| (n, v.span, p));
        }
        if let Some((v, p)) = attr(&attrs, "role") {
            link.role = read_str(v, &p, self.diags);
        }
        if let Some((v, p)) = attr(&attrs, "unnumbered") {
            link.unnumbered = read_bool(v, &p, self.diags).unwrap_or(false);
        }
        if let Some((v, p)) = attr(&attrs, "type") {
            if let Some(t) = read_str(v, &p, self.diags) {
                link.link_type = match t.as_str() {
                    "lan" => Some("lan"),
                    "p2p" => Some("p2p"),
                    "stub" => Some("stub"),
                    _ => {
                        self.err(v.span, &p, format!("link type `{t}` is not modelled by nettwin; types are: lan, p2p, stub"));
                        None
                    }
                };
            }
        }
        for m in MODULES.into_iter().chain(["vrf"]) {
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
        for (fi, (key, fam)) in [("ipv4", Family::Ipv4), ("ipv6", Family::Ipv6)]
            .into_iter()
            .enumerate()
        {
            let Some(v) = r.take(key) else { continue };
            // netlab's forms: an address, a host number in the link's subnet, `true`
            // (unnumbered or link-local only), `false` (none) (`set_interface_address`); an
            // address without a length gets the length of the link's subnet.
            let bare = v
                .as_scalar()
                .filter(|t| !t.contains('/'))
                .and_then(|t| t.parse::<IpAddr>().ok())
                .filter(|a| a.is_ipv4() == (fam == Family::Ipv4));
            if let Some(a) = bare {
                end.spec[fi] = EndAf::Bare(a);
                continue;
            }
            let spec = match &v.value {
                _ if v.as_bool() == Some(true) => EndAf::On,
                _ if v.as_bool() == Some(false) => EndAf::Off,
                Value::Scalar {
                    text,
                    quoted: false,
                } if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                    match text.parse::<u128>() {
                        Ok(n) => EndAf::Host(n),
                        Err(_) => {
                            self.err(
                                v.span,
                                &path.key(key),
                                format!("host number {text} is too large"),
                            );
                            EndAf::Off
                        }
                    }
                }
                _ => {
                    let a = self.usable(v, &path.key(key), fam, None, false);
                    if fi == 0 {
                        end.ipv4 = a;
                    } else {
                        end.ipv6 = a;
                    }
                    EndAf::Auto
                }
            };
            end.spec[fi] = spec;
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
        for m in MODULES.into_iter().chain(["vrf"]) {
            if let Some(v) = r.take(m) {
                end.config.insert(m.to_string(), self.shared(v));
            }
        }
        let allowed: Vec<&str> = END_KEYS
            .iter()
            .copied()
            .filter(|k| with_node || *k != "node")
            .collect();
        for (k, _) in r.take_rest() {
            self.other_key(Level::Link, k, &allowed, path);
        }
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
            if l.has_vlan() {
                // A VLAN link joins switches per VLAN (`vlan.rs`), not as one bridge.
                continue;
            }
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
        let mut explicit_addrs: Vec<(IpAddr, Span, Path, IfRef, String)> = Vec::new();

        for (li, l) in raw_links.iter().enumerate() {
            let lid = LinkId(li as u32);
            let switch_root = l
                .ends
                .iter()
                .find(|e| nodes[e.node.index()].kind == NodeKind::Switch && !l.has_vlan())
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
                        vlan: None,
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
                        explicit_addrs.push((a.addr, *span, p, r, end_table(l, e)));
                    }
                }
                n.interfaces.push(Interface {
                    name: ifname,
                    link: lid,
                    segment: is_ip.then_some(sid),
                    ipv4: if is_ip { e.ipv4.map(|x| x.0) } else { None },
                    ipv6: if is_ip { e.ipv6.map(|x| x.0) } else { None },
                    ipv4_unnumbered: false,
                    ipv6_lla: false,
                    mtu: e.mtu.or(l.mtu).unwrap_or(n.mtu),
                    up: !e.shutdown,
                    cost: e.cost.or(l.cost),
                    bandwidth: l.bandwidth,
                    vrf: None,
                    vlan: None,
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
        // A segment with exactly two IP members, no switch and no host stays point-to-point
        // (netlab's `get_default_link_type`: a link with a host is a LAN); one joined by later
        // links of a bridge may have grown. A link's `type` overrides.
        for s in &mut segments {
            let hosts = s
                .members
                .iter()
                .filter(|r| nodes[r.node.index()].kind == NodeKind::Host)
                .count();
            let forced = match s.links.as_slice() {
                [one] => raw_links[one.index()].link_type,
                _ => None,
            };
            s.kind = match forced {
                Some("p2p") if s.members.len() == 2 => SegmentKind::P2p,
                Some(_) => SegmentKind::Lan,
                None if s.switches.is_empty() && s.members.len() == 2 && hosts == 0 => {
                    SegmentKind::P2p
                }
                None => SegmentKind::Lan,
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
            ignored: Vec::new(),
            included_files: self.diags.included_files().to_vec(),
        };
        self.apply_vlans(&mut topo, &raw_links, &mut seg_fixed);
        self.check_explicit_subnets(&topo, &raw_links, &mut seg_fixed);
        self.assign_addresses(&mut topo, &pools, &seg_fixed, &raw_links);
        self.check_unique(&topo, &explicit_addrs);
        self.resolve_statics(&mut topo);
        let pool_families = |name: &str| {
            pools.get(name).map(|p| {
                [0, 1].map(|fi| match p.af(fi) {
                    Some(PoolAf::Prefix(x)) => Some((x, p.len(fi), p.skips_first(fi))),
                    _ => None,
                })
            })
        };
        crate::vrf::resolve(&mut topo, &pool_families, self.diags);
        for n in &mut topo.nodes {
            if n.router_id.is_none() {
                n.router_id = n.loopback.ipv4.and_then(|a| match a.addr {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                });
            }
        }
        topo.warnings = self.warnings(&topo, &raw_links);
        let mut ignored = std::mem::take(&mut self.ignored);
        ignored.sort_by(|a, b| (&a.file, a.line, &a.path).cmp(&(&b.file, b.line, &b.path)));
        ignored.dedup_by(|a, b| (&a.file, a.line, &a.path) == (&b.file, b.line, &b.path));
        topo.ignored = ignored;
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
                    if VRF_SECTIONS.contains(&m.as_str()) {
                        continue; // the vrf module's, resolved by `vrf::resolve`
                    }
                    let m = module_name(m);
                    if m == "vlan" {
                        // The vlan module reads its own settings (`vlan.rs`).
                        continue;
                    }
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
        // Two segments must not share or nest address space, nor hold a loopback, when they
        // share a routing table: VRFs may reuse each other's addresses (VRF-lite).
        let seg_tables: Vec<Vec<String>> = topo
            .segments
            .iter()
            .map(|seg| {
                let mut t: Vec<String> = seg
                    .links
                    .iter()
                    .flat_map(|lid| {
                        let l = &raw_links[lid.index()];
                        l.ends.iter().map(move |e| end_table(l, e))
                    })
                    .collect();
                t.sort();
                t.dedup();
                t
            })
            .collect();
        let mut tables: Vec<String> = seg_tables.iter().flatten().cloned().collect();
        tables.push(String::new());
        tables.sort();
        tables.dedup();
        for table in tables {
            let mut all: Vec<(Prefix, Span, Path)> = Vec::new();
            for (f, t) in seg_fixed.iter().zip(&seg_tables) {
                if t.contains(&table) {
                    all.extend(f.iter().flatten().cloned());
                }
            }
            if table.is_empty() {
                for n in &topo.nodes {
                    for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
                        all.push((
                            Prefix::host(a.addr),
                            n.span,
                            Path::root().key("nodes").key(&n.name).key("loopback"),
                        ));
                    }
                }
            }
            self.report_overlaps(all);
        }
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

    /// Addresses as netlab allocates them (`addressing.py`, `nodes.py`, `links.py`):
    /// loopbacks from the node id, one subnet per link from its pool in link order, and host
    /// addresses by netlab's IPAM policies. Unlike netlab, a subnet the file already uses is
    /// skipped rather than handed out twice (netlab would build overlapping subnets).
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

        // Loopbacks: routers (and nodes with `loopback: true`) get the id-th address of their
        // pool (`augment_loopback_interface`).
        for ni in 0..topo.nodes.len() {
            let extra = &self.node_extra[ni];
            let n = &topo.nodes[ni];
            let wants = extra.wants_loopback.unwrap_or(n.kind.forwards_ip());
            if !wants {
                continue;
            }
            let npath = Path::root().key("nodes").key(&n.name);
            let (pool_name, pspan, ppath) = match &extra.loopback_pool {
                Some((p, span, path)) => (p.clone(), *span, path.clone()),
                None => ("loopback".to_string(), n.span, npath.clone()),
            };
            let Some(pool) = pools.get(&pool_name) else {
                self.err(pspan, &ppath, format!("unknown address pool `{pool_name}`"));
                continue;
            };
            let off = extra.loopback_off;
            for fi in 0..2 {
                let n = &topo.nodes[ni];
                let has = if fi == 0 {
                    n.loopback.ipv4.is_some()
                } else {
                    n.loopback.ipv6.is_some()
                };
                if has || off[fi] {
                    continue;
                }
                let base = match pool.af(fi) {
                    Some(PoolAf::Prefix(p)) => p,
                    Some(PoolAf::Unnumbered) => {
                        self.err(pspan, &ppath, format!("address pool `{pool_name}` is unnumbered and cannot give loopback addresses"));
                        continue;
                    }
                    None => continue,
                };
                let len = pool.len(fi);
                let idx = u128::from(n.node_id) - u128::from(!pool.skips_first(fi));
                let Some(subnet) = base.subnet(len, idx) else {
                    let msg = format!("the {pool_name} pool {base} has no /{len} for node `{}` with id {}; give `addressing.{pool_name}.{}` a larger prefix", n.name, n.node_id, if fi == 0 { "ipv4" } else { "ipv6" });
                    self.err(n.span, &npath, msg);
                    continue;
                };
                let max = base.family().max_len();
                let addr = if len == max {
                    subnet.network()
                } else {
                    subnet
                        .nth(1)
                        .expect("a subnet shorter than a host has a first host")
                };
                if let Some((r, rpath)) = clash(&reserved, &Prefix::host(addr)) {
                    let msg = format!("loopback {addr} of node `{}` (id {}, from the {pool_name} pool {base}) lies inside {r} set at `{rpath}`; give the pool a prefix outside it, or the node an `id` or a `loopback`", n.name, n.node_id);
                    self.err(n.span, &npath, msg);
                    continue;
                }
                let ia = Some(IfAddr { addr, len });
                if fi == 0 {
                    topo.nodes[ni].loopback.ipv4 = ia;
                } else {
                    topo.nodes[ni].loopback.ipv6 = ia;
                }
            }
        }

        // Which link end each segment member is.
        let mut end_of: HashMap<IfRef, (usize, usize)> = HashMap::new();
        for (li, l) in topo.links.iter().enumerate() {
            for (ei, r) in l.ends.iter().enumerate() {
                end_of.insert(*r, (li, ei));
            }
        }

        // Segment subnets in link order, each from the first pool that exists among the link's
        // `pool`, its role and its type (`assign_link_prefix`); the pool advances for every
        // link without a `prefix`, even one whose addresses the file sets.
        let mut cursors: HashMap<(usize, usize), u128> = HashMap::new();
        // Named prefixes given by a pool take their subnets first, in the order they are
        // defined, used or not (`setup_prefixes` in netlab's `addressing.py`).
        let mut named: HashMap<String, [Option<Prefix>; 2]> = HashMap::new();
        for (name, def, dpath) in std::mem::take(&mut self.named_prefixes) {
            let Some(pv) = def.get("pool") else { continue };
            let ppath = dpath.key("pool");
            let Some(pname) = read_str(pv, &ppath, self.diags) else {
                continue;
            };
            let Some(pi) = pools.index(&pname) else {
                let msg = format!("named prefix `{name}` names an unknown address pool `{pname}`");
                self.err(pv.span, &ppath, msg);
                continue;
            };
            let pool = &pools.pools[pi];
            let mut got = [None; 2];
            for fi in 0..2 {
                let Some(PoolAf::Prefix(base)) = pool.af(fi) else {
                    continue;
                };
                let len = pool.len(fi);
                let c = cursors
                    .entry((pi, fi))
                    .or_insert(u128::from(pool.skips_first(fi)));
                got[fi] = next_free(base, len, c, &reserved, None);
                if got[fi].is_none() {
                    let what = format!("the named prefix `{name}`");
                    let msg = pool_exhausted(&pool.name, base, len, &what, &reserved);
                    self.err(pv.span, &ppath, msg);
                }
            }
            named.insert(name, got);
        }
        self.allocate_vlan_subnets(pools, &mut cursors, &reserved);
        for si in 0..topo.segments.len() {
            if topo.segments[si].members.is_empty() {
                continue;
            }
            let seg = &topo.segments[si];
            let first = seg.links[0].index();
            let l = &raw_links[first];
            let members = seg.members.clone();
            let mut is_p2p = seg.kind == SegmentKind::P2p;
            let hosts = members
                .iter()
                .filter(|r| topo.node(r.node).kind == NodeKind::Host)
                .count();
            let mut subnet: [Option<Prefix>; 2] = [None, None];
            let mut unnum = [false; 2];
            // Unnumbered by loopback (`unnumbered: true`): each node as its loopback allows.
            let mut by_loopback = false;
            let mut allocation = l.allocation;
            let vlan = self.vlan_subnet(si, pools, &mut cursors, &reserved, members.len() == 2, l);
            if let Some(v) = vlan {
                let Some((s, u, a, p2p)) = v else { continue };
                subnet = s;
                unnum = u;
                allocation = a.or(allocation);
                is_p2p = p2p;
            } else if l.prefix_given {
                for fi in 0..2 {
                    subnet[fi] = seg_fixed[si][fi].as_ref().map(|x| x.0);
                }
                unnum = l.prefix_on;
            } else if l.unnumbered {
                by_loopback = true;
            } else {
                let routers = members.len() - hosts + seg.switches.len();
                // netlab picks the pool by what is attached, whatever the link's `type`
                // (`get_default_link_type` in `links.py`): a host or a third node makes a LAN.
                let attached = members.len() + seg.switches.len();
                let type_pool = if attached > 2 || hosts > 0 || !seg.switches.is_empty() {
                    "lan"
                } else if attached == 2 {
                    "p2p"
                } else {
                    "stub"
                };
                let mut candidates: Vec<&str> = Vec::new();
                if let Some((p, span, path)) = &l.pool {
                    if pools.get(p).is_none() {
                        self.err(*span, path, format!("unknown address pool `{p}`"));
                    }
                    candidates.push(p);
                } else if let Some(r) = &l.role {
                    candidates.push(r);
                } else if routers <= 1 {
                    candidates.push("stub");
                }
                candidates.extend([type_pool, "lan"]);
                let Some(pi) = candidates.iter().find_map(|c| pools.index(c)) else {
                    continue;
                };
                let pool = &pools.pools[pi];
                allocation = allocation.or(pool.allocation);
                if pool.unnumbered {
                    by_loopback = true;
                }
                let shared = l.named_pool.as_ref().and_then(|n| named.get(n)).copied();
                for fi in 0..2 {
                    match pool.af(fi) {
                        Some(PoolAf::Prefix(_)) if shared.is_some() => {
                            subnet[fi] = shared.and_then(|s| s[fi]);
                        }
                        Some(PoolAf::Prefix(base)) => {
                            let len = pool.len(fi);
                            let c = cursors
                                .entry((pi, fi))
                                .or_insert(u128::from(pool.skips_first(fi)));
                            // The link's own addresses never push its subnet further.
                            let own = seg_fixed[si][fi].as_ref().map(|x| x.0);
                            match next_free(base, len, c, &reserved, own) {
                                Some(p) => subnet[fi] = Some(p),
                                None => {
                                    let msg = pool_exhausted(
                                        &pool.name,
                                        base,
                                        len,
                                        "this link",
                                        &reserved,
                                    );
                                    self.err(l.span, &l.path, msg);
                                    return;
                                }
                            }
                        }
                        Some(PoolAf::Unnumbered) => unnum[fi] = true,
                        None => {}
                    }
                    // Addresses the file sets stay as written, the others come from the
                    // pool's subnet (`set_interface_address` in netlab's `links.py`), even when
                    // the two differ. Where the file sets every address, the subnet they share
                    // is the segment's: the pool's would be used by no interface.
                    let all_set = members.iter().all(|r| {
                        let i = topo.interface(*r);
                        let spec = end_of
                            .get(r)
                            .and_then(|(li, ei)| raw_links[*li].ends.get(*ei))
                            .map_or(EndAf::Auto, |e| e.spec[fi]);
                        (if fi == 0 { i.ipv4 } else { i.ipv6 }).is_some()
                            || matches!(spec, EndAf::On | EndAf::Off)
                    });
                    if let (true, Some((p, _, _))) = (all_set, &seg_fixed[si][fi]) {
                        subnet[fi] = Some(*p);
                    }
                }
            }
            topo.segments[si].ipv4 = subnet[0];
            topo.segments[si].ipv6 = subnet[1];
            for fi in 0..2 {
                self.assign_segment(
                    topo,
                    si,
                    fi,
                    subnet[fi],
                    unnum[fi],
                    by_loopback,
                    allocation,
                    is_p2p,
                    &end_of,
                    raw_links,
                );
            }
        }
    }

    /// The addresses of one family on one segment.
    #[allow(clippy::too_many_arguments)]
    fn assign_segment(
        &mut self,
        topo: &mut Topology,
        si: usize,
        fi: usize,
        subnet: Option<Prefix>,
        unnumbered: bool,
        by_loopback: bool,
        allocation: Option<Allocation>,
        is_p2p: bool,
        end_of: &HashMap<IfRef, (usize, usize)>,
        raw_links: &[RawLink],
    ) {
        let members = topo.segments[si].members.clone();
        let link0 = &raw_links[topo.segments[si].links[0].index()];
        // A VLAN's addresses are the VLAN definition's business.
        let (place_span, place_path) = self
            .vlan_place(si)
            .unwrap_or((link0.span, link0.path.clone()));
        let svi_spec = self.vlans.svi_spec.clone();
        let spec_of = |r: &IfRef| {
            end_of
                .get(r)
                .and_then(|(li, ei)| raw_links[*li].ends.get(*ei))
                .map_or_else(
                    || svi_spec.get(r).map_or(EndAf::Auto, |s| s[fi]),
                    |e| e.spec[fi],
                )
        };
        let has_static = |topo: &Topology, r: &IfRef| {
            let i = topo.interface(*r);
            if fi == 0 {
                i.ipv4.is_some()
            } else {
                i.ipv6.is_some()
            }
        };
        // `true`/`false` on the interface, and unnumbered links, first.
        let mut todo: Vec<IfRef> = Vec::new();
        for r in &members {
            let spec = spec_of(r);
            let on = match spec {
                EndAf::On => true,
                EndAf::Off => continue,
                _ if has_static(topo, r) => continue,
                EndAf::Host(_) | EndAf::Bare(_) => false,
                EndAf::Auto if unnumbered => true,
                EndAf::Auto if by_loopback => {
                    // IPAM_unnumbered: IPv4 where the node has an IPv4 loopback; IPv6 where it
                    // has an IPv6 loopback, or on nodes without any loopback.
                    let n = topo.node(r.node);
                    if fi == 0 {
                        n.loopback.ipv4.is_some()
                    } else {
                        n.loopback.ipv6.is_some() || (n.loopback.ipv4.is_none())
                    }
                }
                EndAf::Auto => false,
            };
            if on {
                let iface = &mut topo.nodes[r.node.index()].interfaces[r.index as usize];
                if fi == 0 {
                    iface.ipv4_unnumbered = true;
                } else {
                    iface.ipv6_lla = true;
                }
                continue;
            }
            if !(by_loopback || unnumbered) {
                todo.push(*r);
            }
        }
        let Some(subnet) = subnet else {
            for r in &todo {
                if let EndAf::Bare(a) = spec_of(r) {
                    let msg = format!("address {a} of {} has no prefix length, and its link has no {} subnet to take one from; write it as {a}/LENGTH", topo.if_name(*r), if fi == 0 { "IPv4" } else { "IPv6" });
                    self.err(link0.span, &link0.path, msg);
                }
            }
            return;
        };
        if todo.is_empty() {
            return;
        }
        let size = subnet.size();
        let n_if = members.len() as u128;
        let max_id = members
            .iter()
            .map(|r| u128::from(topo.node(r.node).node_id))
            .max()
            .unwrap_or(0);
        // netlab's `get_prefix_IPAM_policy`.
        let policy = allocation.or_else(|| {
            if is_p2p {
                return (size > 1).then_some(Allocation::P2p);
            }
            let usable = if size > 2 { size - 2 } else { size };
            if size == 2 && n_if == 2 {
                Some(Allocation::P2p)
            } else if max_id <= usable {
                Some(Allocation::IdBased)
            } else if n_if <= usable {
                Some(Allocation::Sequential)
            } else {
                None
            }
        });
        let Some(policy) = policy else {
            let msg = format!(
                "subnet {subnet} is too small for the {} interfaces on its segment",
                members.len()
            );
            self.err(place_span, &place_path, msg);
            return;
        };
        let start: u128 = u128::from(size > 2);
        let order: Vec<IfRef> = match policy {
            Allocation::P2p => {
                let mut m = members.clone();
                m.sort_by(|a, b| topo.node(a.node).name.cmp(&topo.node(b.node).name));
                m
            }
            _ => members.clone(),
        };
        let mut taken: HashSet<IpAddr> = members
            .iter()
            .filter_map(|r| {
                let i = topo.interface(*r);
                if fi == 0 { i.ipv4 } else { i.ipv6 }.map(|a| a.addr)
            })
            .collect();
        // Addresses written without a length are the file's: the others move around them.
        taken.extend(todo.iter().filter_map(|r| match spec_of(r) {
            EndAf::Bare(a) => Some(a),
            _ => None,
        }));
        for (k, r) in order.iter().enumerate() {
            if !todo.contains(r) {
                continue;
            }
            let host = match spec_of(r) {
                EndAf::Bare(a) => {
                    // netlab appends the subnet's length and keeps the address as written.
                    let ia = IfAddr {
                        addr: a,
                        len: subnet.len(),
                    };
                    let name = topo.if_name(*r);
                    if let Some(why) = unusable(ia, false) {
                        self.err(link0.span, &link0.path, format!("{name}: {why}"));
                        continue;
                    }
                    let iface = &mut topo.nodes[r.node.index()].interfaces[r.index as usize];
                    if fi == 0 {
                        iface.ipv4 = Some(ia);
                    } else {
                        iface.ipv6 = Some(ia);
                    }
                    continue;
                }
                EndAf::Host(h) => h,
                _ => match policy {
                    Allocation::IdBased => u128::from(topo.node(r.node).node_id),
                    _ => k as u128 + start,
                },
            };
            let name = topo.if_name(*r);
            let addr = subnet.nth(host).filter(|_| host < size);
            let Some(addr) = addr else {
                let msg = format!("host number {host} of {name} is outside the subnet {subnet}");
                self.err(place_span, &place_path, msg);
                continue;
            };
            let bad =
                size > 2 && (host == 0 || (subnet.family() == Family::Ipv4 && host == size - 1));
            if bad {
                let msg = format!("address {addr} for {name} (host number {host}) is not a host address of the subnet {subnet}");
                self.err(place_span, &place_path, msg);
                continue;
            }
            // Where the file set the same address on another interface, netlab stops with a
            // duplicate address; nettwin takes the next free one instead.
            let last = if subnet.family() == Family::Ipv4 && size > 2 {
                size - 2
            } else {
                size - 1
            };
            let mut h = host;
            let mut addr = addr;
            if !taken.insert(addr) {
                h = start;
                loop {
                    match subnet.nth(h).filter(|_| h <= last) {
                        Some(a) if taken.insert(a) => {
                            addr = a;
                            break;
                        }
                        Some(_) => h += 1,
                        None => break,
                    }
                }
            }
            if h > last {
                let msg = format!(
                    "subnet {subnet} is too small for the {} interfaces on its segment",
                    members.len()
                );
                self.err(place_span, &place_path, msg);
                return;
            }
            let iface = &mut topo.nodes[r.node.index()].interfaces[r.index as usize];
            let ia = Some(IfAddr {
                addr,
                len: subnet.len(),
            });
            if fi == 0 {
                iface.ipv4 = ia;
            } else {
                iface.ipv6 = ia;
            }
        }
    }

    fn check_unique(&mut self, topo: &Topology, explicit: &[(IpAddr, Span, Path, IfRef, String)]) {
        // Per routing table: the same address may be used in two VRFs.
        let mut seen: HashMap<(String, IpAddr), (Span, String)> = HashMap::new();
        for n in &topo.nodes {
            for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
                seen.insert(
                    (String::new(), a.addr),
                    (n.span, format!("{} loopback", n.name)),
                );
            }
        }
        for (addr, span, path, r, table) in explicit {
            let owner = topo.if_name(*r);
            let key = (table.clone(), *addr);
            if let Some((other_span, other)) = seen.get(&key) {
                if other != &owner {
                    let msg = format!(
                        "duplicate address {addr}: also on {other} (line {})",
                        other_span.line
                    );
                    self.err(*span, path, msg);
                    continue;
                }
            }
            seen.insert(key, (*span, owner));
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
    clash_except(reserved, p, None)
}

/// [`clash`], ignoring the reserved prefix `except` (a link's own subnet).
fn clash_except<'r>(
    reserved: &'r [(Prefix, Path)],
    p: &Prefix,
    except: Option<Prefix>,
) -> Option<&'r (Prefix, Path)> {
    let i = reserved.partition_point(|r| r.0 < *p);
    let mut inside = reserved[i..].iter().take_while(|r| p.covers(&r.0));
    if let Some(r) = inside.find(|r| Some(r.0) != except) {
        return Some(r);
    }
    reserved[..i]
        .iter()
        .rev()
        .take(64)
        .find(|r| r.0.covers(p) && Some(r.0) != except)
}

/// The first `/len` of `pool` from number `*cursor` on that clashes with nothing reserved,
/// advancing the cursor past it. A reserved prefix that covers a candidate is skipped whole, so a
/// large IPv6 pool behind a reserved prefix is not walked one subnet at a time.
fn next_free(
    pool: Prefix,
    len: u8,
    cursor: &mut u128,
    reserved: &[(Prefix, Path)],
    own: Option<Prefix>,
) -> Option<Prefix> {
    let step_bits = u32::from(pool.family().max_len() - len);
    loop {
        let c = pool.subnet(len, *cursor)?;
        match clash_except(reserved, &c, own) {
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
