//! Decoding netlab's `mpls` and `sr` sections (`netsim/modules/mpls.yml`, `sr.yml`) into the
//! per-router label settings [`crate::mpls`] computes with, and each router's vendor defaults
//! from its [`Platform`] (the table in `docs/lsp.md`).
//!
//! Settings layer like netlab's: the top-level section, then the node's (which the model has
//! already merged over its groups and `defaults`), then link and link-end sections for the
//! per-interface `mpls.ldp` switch.

use nettwin_model::yaml::{self, read_bool, read_list, read_str, read_u64, MapReader, Path};
use nettwin_model::{Diagnostics, ModuleConfig, Node, Platform, Topology};

/// netlab's global/node `mpls` attributes, plus nettwin's `ttl_propagate`.
const MPLS_KEYS: &[&str] = &["ldp", "bgp", "vpn", "6pe", "ttl_propagate", "te"];
/// netlab's `mpls.ldp` dictionary.
const LDP_KEYS: &[&str] = &["router_id", "igp_sync", "explicit_null", "advertise"];
/// netlab's `sr` attributes (global and node), plus nettwin's `sr_prefer`.
const SR_KEYS: &[&str] = &[
    "af",
    "node_sid_offset",
    "protocol",
    "srgb",
    "node_sid",
    "sr_prefer",
    "te",
];
const AF_KEYS: &[&str] = &["ipv4", "ipv6"];
const SRGB_KEYS: &[&str] = &["start", "size"];

/// The largest MPLS label value (20 bits).
pub const MAX_LABEL: u64 = (1 << 20) - 1;

/// Which prefixes a router binds LDP labels for when it is their egress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdpEgress {
    /// Every non-BGP prefix in its table, connected ones included (Cisco IOS/IOS XE/IOS XR,
    /// FRR's ldpd).
    AllIgp,
    /// Only its loopback /32 (Junos, SR OS: the router id / system address).
    Loopback,
}

/// Vendor behaviour where the standards leave a choice, per [`Platform`]. Each value is
/// documented with its source in `docs/lsp.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformDefaults {
    pub ldp_egress: LdpEgress,
    /// Whether a router binds a label for a transit prefix only once its downstream neighbour
    /// has (ordered control, RFC 5036 2.6.1) rather than for every prefix it routes
    /// (independent control).
    pub ldp_ordered: bool,
    /// Whether IP routes to IGP prefixes are forwarded over LSPs at the ingress (Cisco: every
    /// labelled IGP prefix; Junos: LSPs sit in inet.3, which only BGP next-hop resolution reads).
    pub label_igp_routes: bool,
    /// First label of the dynamic range (LDP bindings, adjacency SIDs).
    pub dynamic_base: u32,
    /// Dynamic labels are handed out downwards from `dynamic_base` (SR OS).
    pub dynamic_down: bool,
    /// TTL copied from IP to label and back for transit packets (uniform model, RFC 3443).
    pub ttl_propagate: bool,
    /// The same for packets the router itself originates.
    pub ttl_propagate_local: bool,
    /// Labels are switched by the Linux kernel (FRR): `mpls_forward` drops a labelled packet
    /// that is too big for the egress link or whose label TTL expires, without ICMP, where
    /// routers answer with ICMP or fragment (RFC 3032 sections 2.3.2 and 3).
    pub kernel_mpls: bool,
}

impl PlatformDefaults {
    pub fn of(p: Platform) -> PlatformDefaults {
        let base = PlatformDefaults {
            ldp_egress: LdpEgress::AllIgp,
            ldp_ordered: false,
            label_igp_routes: true,
            dynamic_base: 16,
            dynamic_down: false,
            ttl_propagate: true,
            ttl_propagate_local: true,
            kernel_mpls: false,
        };
        match p {
            Platform::CiscoXe => base,
            Platform::CiscoXr => PlatformDefaults {
                dynamic_base: 24000,
                ..base
            },
            Platform::Junos => PlatformDefaults {
                ldp_egress: LdpEgress::Loopback,
                ldp_ordered: true,
                label_igp_routes: false,
                dynamic_base: 299_776,
                ..base
            },
            Platform::Sros => PlatformDefaults {
                ldp_egress: LdpEgress::Loopback,
                ldp_ordered: true,
                label_igp_routes: false,
                dynamic_base: 524_287,
                dynamic_down: true,
                ttl_propagate_local: false,
                ..base
            },
            Platform::Frr => PlatformDefaults {
                kernel_mpls: true,
                ..base
            },
        }
    }
}

/// LDP settings of one router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdpNode {
    /// Advertise explicit null (label 0) for its own prefixes instead of implicit null (PHP).
    pub explicit_null: bool,
    pub egress: LdpEgress,
}

/// Which IGP carries prefix SIDs (`sr.protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrIgp {
    Isis,
    Ospfv2,
}

/// SR-MPLS settings of one router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrNode {
    pub srgb_start: u32,
    pub srgb_size: u32,
    /// Prefix-SID index of the IPv4 and IPv6 loopbacks (node SIDs), where that family runs SR.
    pub node_sid_v4: Option<u32>,
    pub node_sid_v6: Option<u32>,
    pub protocols: Vec<SrIgp>,
    /// Push SR labels rather than LDP labels on IP packets when both exist (`sr-prefer`).
    pub prefer: bool,
}

/// MPLS settings of one router: its platform defaults, LDP and SR.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelNode {
    pub platform: Platform,
    pub defaults: PlatformDefaults,
    pub ldp: Option<LdpNode>,
    pub sr: Option<SrNode>,
    /// Per interface: LDP runs on it (`mpls.ldp` on the link or end, default on).
    pub ldp_if: Vec<bool>,
}

/// The SRGB netlab configures for a device (`netsim/devices/*.yml`, `sr.srgb`), else the
/// 16000-23999 that Cisco, Junos and FRR use when none is configured.
fn default_srgb(node: &Node) -> (u32, u32) {
    match node.device.as_deref() {
        Some("frr") => (24000, 8000),
        Some("sros" | "srsim" | "srlinux") => (500_000, 1000),
        _ => (16000, 8000),
    }
}

fn section<'a>(config: &'a ModuleConfig, m: &str) -> Option<&'a yaml::Node> {
    config.get(m).map(|v| &**v)
}

/// `value` under `key` in the most specific of `secs` that has it.
fn layered<'a>(
    secs: &[Option<(&'a yaml::Node, Path)>],
    key: &str,
) -> Option<(&'a yaml::Node, Path)> {
    secs.iter()
        .rev()
        .flatten()
        .find_map(|(n, p)| n.as_map().and(n.get(key)).map(|v| (v, p.key(key))))
}

fn check_map(node: &yaml::Node, path: &Path, allowed: &[&str], diags: &mut Diagnostics) {
    if node.is_null()
        || node.as_scalar().is_some() && read_bool(node, path, &mut Diagnostics::new("")).is_some()
    {
        return;
    }
    if let Some(mut r) = MapReader::new(node, path, diags) {
        for k in allowed {
            r.take(k);
        }
        r.finish(allowed, diags);
    }
}

/// `mpls.bgp`, `mpls.vpn` and `mpls.6pe` are BGP services over LSPs that nettwin does not
/// compute: refused unless switched off, so a lab never silently loses them.
fn refuse_services(sec: &yaml::Node, path: &Path, diags: &mut Diagnostics) {
    for (k, what) in [
        ("bgp", "BGP labeled unicast"),
        ("vpn", "BGP/MPLS L3VPN"),
        ("6pe", "6PE"),
    ] {
        let Some(v) = sec.as_map().and(sec.get(k)) else {
            continue;
        };
        let p = path.key(k);
        if v.as_scalar().is_some() && read_bool(v, &p, &mut Diagnostics::new("")) == Some(false) {
            continue;
        }
        diags.error(
            v.span,
            &p,
            format!(
                "`mpls.{k}` ({what}) is not modelled by nettwin yet; remove it or set it to false"
            ),
        );
    }
}

/// Decodes every router's label settings; errors go to `diags`.
pub fn decode(topo: &Topology, diags: &mut Diagnostics) -> Vec<Option<LabelNode>> {
    let top = |m: &str| section(&topo.config, m).map(|n| (n, Path::root().key(m)));
    if let Some((n, p)) = top("mpls") {
        check_map(n, &p, MPLS_KEYS, diags);
        refuse_services(n, &p, diags);
    }
    if let Some((n, p)) = top("sr") {
        check_map(n, &p, SR_KEYS, diags);
    }
    // `sr.node_sid_offset` is global only in netlab (`no_propagate`).
    let offset = |af: &str, dflt: u32, diags: &mut Diagnostics| {
        top("sr")
            .and_then(|(n, p)| {
                let (o, op) = (
                    n.as_map().and(n.get("node_sid_offset"))?,
                    p.key("node_sid_offset"),
                );
                check_map(o, &op, AF_KEYS, diags);
                let v = o.as_map().and(o.get(af))?;
                read_u64(v, &op.key(af), 0..=MAX_LABEL, diags)
            })
            .map(|v| v as u32)
            .unwrap_or(dflt)
    };
    let offset_v4 = offset("ipv4", 0, diags);
    let offset_v6 = offset("ipv6", 100, diags);
    let mut out = Vec::with_capacity(topo.nodes.len());
    for n in &topo.nodes {
        let npath = Path::root().key("nodes").key(&n.name);
        let runs = |m: &str| n.kind.forwards_ip() && n.modules.iter().any(|x| x == m);
        let node_sec = |m: &str| section(&n.config, m).map(|v| (v, npath.key(m)));
        if let Some((v, p)) = node_sec("mpls") {
            check_map(v, &p, MPLS_KEYS, diags);
            refuse_services(v, &p, diags);
        }
        if let Some((v, p)) = node_sec("sr") {
            check_map(v, &p, SR_KEYS, diags);
        }
        for m in ["mpls", "sr"] {
            if let Some((v, p)) = node_sec(m) {
                if !n.kind.forwards_ip() {
                    diags.error(
                        v.span,
                        &p,
                        format!(
                            "`{m}` runs only on routers and linux nodes, not on {} `{}`",
                            n.kind, n.name
                        ),
                    );
                }
            }
        }
        if !runs("mpls") && !runs("sr") {
            out.push(None);
            continue;
        }
        let platform = n.platform.unwrap_or(Platform::Frr);
        let mut defaults = PlatformDefaults::of(platform);
        let mpls_secs = [top("mpls"), node_sec("mpls")];
        if let Some((v, p)) = layered(&mpls_secs, "ttl_propagate") {
            if let Some(b) = read_bool(v, &p, diags) {
                defaults.ttl_propagate = b;
                defaults.ttl_propagate_local = b;
            }
        }
        // netlab: LDP is on by default wherever the mpls module runs (`ldp: True`).
        let ldp = if runs("mpls") {
            match layered(&mpls_secs, "ldp") {
                None => Some(LdpNode {
                    explicit_null: false,
                    egress: defaults.ldp_egress,
                }),
                Some((v, p)) if v.as_map().is_none() => {
                    read_bool(v, &p, diags).unwrap_or(true).then_some(LdpNode {
                        explicit_null: false,
                        egress: defaults.ldp_egress,
                    })
                }
                Some(_) => {
                    // Dictionaries merge key by key across the layers.
                    let ldp_secs: Vec<Option<(&yaml::Node, Path)>> = mpls_secs
                        .iter()
                        .map(|s| {
                            s.as_ref().and_then(|(n, p)| {
                                let v = n.as_map().and(n.get("ldp"))?;
                                v.as_map().map(|_| (v, p.key("ldp")))
                            })
                        })
                        .collect();
                    for (v, p) in ldp_secs.iter().flatten() {
                        check_map(v, p, LDP_KEYS, diags);
                    }
                    let explicit_null = layered(&ldp_secs, "explicit_null")
                        .and_then(|(v, p)| read_bool(v, &p, diags))
                        .unwrap_or(false);
                    let mut egress = defaults.ldp_egress;
                    if let Some((v, p)) = layered(&ldp_secs, "advertise") {
                        let roles: Vec<Option<String>> = read_list(v, &p, diags)
                            .into_iter()
                            .enumerate()
                            .map(|(i, x)| read_str(x, &p.index(i), diags))
                            .collect();
                        match roles.as_slice() {
                            [Some(r)] if r == "loopback" => egress = LdpEgress::Loopback,
                            _ => diags.error(
                                v.span,
                                &p,
                                "nettwin models `advertise: [loopback]` (bind labels for loopbacks only); other link roles are not modelled yet",
                            ),
                        }
                    }
                    Some(LdpNode {
                        explicit_null,
                        egress,
                    })
                }
            }
        } else {
            None
        };
        let sr = runs("sr").then(|| {
            let sr_secs = [top("sr"), node_sec("sr")];
            sr_node(topo, n, &sr_secs, offset_v4, offset_v6, diags)
        });
        let mut ldp_if = Vec::with_capacity(n.interfaces.len());
        for iface in &n.interfaces {
            let link = topo.link(iface.link);
            let lpath = Path::root().key("links").key(&link.name);
            let secs = [
                section(&link.config, "mpls").map(|v| (v, lpath.key("mpls"))),
                section(&iface.config, "mpls").map(|v| (v, lpath.key(&n.name).key("mpls"))),
            ];
            for (v, p) in secs.iter().flatten() {
                check_map(v, p, &["ldp", "te"], diags);
            }
            let on = layered(&secs, "ldp")
                .and_then(|(v, p)| read_bool(v, &p, diags))
                .unwrap_or(true);
            ldp_if.push(on && ldp.is_some() && iface.ipv4.is_some());
        }
        out.push(Some(LabelNode {
            platform,
            defaults,
            ldp,
            sr,
            ldp_if,
        }));
    }
    out
}

fn sr_node(
    topo: &Topology,
    n: &Node,
    secs: &[Option<(&yaml::Node, Path)>; 2],
    offset_v4: u32,
    offset_v6: u32,
    diags: &mut Diagnostics,
) -> SrNode {
    let _ = topo;
    let (mut start, mut size) = default_srgb(n);
    if let Some((v, p)) = layered(secs, "srgb") {
        if let Some(mut r) = MapReader::new(v, &p, diags) {
            if let Some(x) = r.take("start") {
                start = read_u64(x, &p.key("start"), 16..=MAX_LABEL, diags)
                    .unwrap_or(u64::from(start)) as u32;
            }
            if let Some(x) = r.take("size") {
                size = read_u64(x, &p.key("size"), 1..=MAX_LABEL, diags).unwrap_or(u64::from(size))
                    as u32;
            }
            r.finish(SRGB_KEYS, diags);
            if u64::from(start) + u64::from(size) - 1 > MAX_LABEL {
                diags.error(
                    v.span,
                    &p,
                    format!(
                        "SRGB {start}..{} goes past the largest label {MAX_LABEL}",
                        u64::from(start) + u64::from(size) - 1
                    ),
                );
            }
        }
    }
    let mut protocols = Vec::new();
    match layered(secs, "protocol") {
        Some((v, p)) => {
            for (i, x) in read_list(v, &p, diags).into_iter().enumerate() {
                match read_str(x, &p.index(i), diags).as_deref() {
                    Some("isis") => protocols.push(SrIgp::Isis),
                    Some("ospfv2") => protocols.push(SrIgp::Ospfv2),
                    Some(other) => diags.error(
                        x.span,
                        &p.index(i),
                        format!("unknown SR protocol `{other}`: expected isis or ospfv2"),
                    ),
                    None => {}
                }
            }
        }
        None => protocols.push(SrIgp::Isis),
    }
    let npath = Path::root().key("nodes").key(&n.name);
    for proto in &protocols {
        let (m, name) = match proto {
            SrIgp::Isis => ("isis", "isis"),
            SrIgp::Ospfv2 => ("ospf", "ospfv2"),
        };
        if !n.modules.iter().any(|x| x == m) {
            // netlab's own check (sr.py): SR needs the IGP that carries its SIDs.
            let span = secs[1].as_ref().map(|(v, _)| v.span).unwrap_or(n.span);
            diags.error(
                span,
                &npath,
                format!(
                    "SR-MPLS on node {} uses {name} without the {m} module",
                    n.name
                ),
            );
        }
    }
    // `sr.af`: families taking part; without it every family the node has.
    let af = |fam: &str, diags: &mut Diagnostics| -> bool {
        match layered(secs, "af") {
            None => true,
            Some((v, p)) => {
                if let Some(list) = v.as_seq() {
                    list.iter().any(|x| x.as_scalar() == Some(fam))
                } else if let Some(mut r) = MapReader::new(v, &p, diags) {
                    let on = r
                        .take(fam)
                        .and_then(|x| read_bool(x, &p.key(fam), diags))
                        .unwrap_or(false);
                    for other in AF_KEYS {
                        r.take(other);
                    }
                    r.finish(AF_KEYS, diags);
                    on
                } else {
                    false
                }
            }
        }
    };
    let v4_on = af("ipv4", diags) && n.loopback.ipv4.is_some();
    // IPv6 prefix SIDs are carried by IS-IS only (netlab's `_proto_map`).
    let v6_on = af("ipv6", diags) && n.loopback.ipv6.is_some() && protocols.contains(&SrIgp::Isis);
    let sid = |fam: &str, offset: u32, diags: &mut Diagnostics| -> u32 {
        layered(secs, "node_sid")
            .and_then(|(v, p)| {
                let x = v.as_map().and(v.get(fam))?;
                read_u64(x, &p.key(fam), 1..=MAX_LABEL, diags)
            })
            .map(|v| v as u32)
            // netlab's sr.py: node id plus the family's offset.
            .unwrap_or(n.node_id + offset)
    };
    let node_sid_v4 = v4_on.then(|| sid("ipv4", offset_v4, diags));
    let node_sid_v6 = v6_on.then(|| sid("ipv6", offset_v6, diags));
    let prefer = layered(secs, "sr_prefer")
        .and_then(|(v, p)| read_bool(v, &p, diags))
        .unwrap_or(false);
    for (sid, fam) in [(node_sid_v4, "ipv4"), (node_sid_v6, "ipv6")] {
        if let Some(s) = sid {
            if s >= size {
                diags.error(
                    secs[1].as_ref().map(|(v, _)| v.span).unwrap_or(n.span),
                    &npath.key("sr").key("node_sid").key(fam),
                    format!("{fam} node SID index {s} of {} is outside its SRGB of {size} labels ({start}..{})", n.name, start + size - 1),
                );
            }
        }
    }
    SrNode {
        srgb_start: start,
        srgb_size: size,
        node_sid_v4,
        node_sid_v6,
        protocols,
        prefer,
    }
}

/// Two routers with the same prefix-SID index of a family is a SID conflict (RFC 8660 leaves
/// the resolution to the IGP; netlab's addressing never produces one): an error naming both.
pub fn check_sid_conflicts(topo: &Topology, nodes: &[Option<LabelNode>], diags: &mut Diagnostics) {
    for fam in 0..2 {
        let mut seen: std::collections::HashMap<u32, &str> = std::collections::HashMap::new();
        for (n, cfg) in topo.nodes.iter().zip(nodes) {
            let Some(sr) = cfg.as_ref().and_then(|c| c.sr.as_ref()) else {
                continue;
            };
            let sid = if fam == 0 {
                sr.node_sid_v4
            } else {
                sr.node_sid_v6
            };
            let Some(sid) = sid else { continue };
            if let Some(other) = seen.insert(sid, &n.name) {
                let af = if fam == 0 { "ipv4" } else { "ipv6" };
                diags.error(
                    n.span,
                    &Path::root()
                        .key("nodes")
                        .key(&n.name)
                        .key("sr")
                        .key("node_sid")
                        .key(af),
                    format!("{af} node SID index {sid} of {} is also {other}'s", n.name),
                );
            }
        }
    }
}
