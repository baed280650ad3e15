//! Decoding the `ospf`, `isis` and `bgp` sections of a topology into typed per-node and
//! per-interface settings, with the same precise errors as the model's loader.
//!
//! Settings merge from the most general to the most specific: top-level section, node section,
//! link section, link-end section.

pub mod mpls;
pub mod te;

use crate::bgp::{Community, Policy, PrefixMatch, Rule};
use crate::rib::Distances;
use nettwin_model::load::parse_bandwidth;
use nettwin_model::yaml::{self, read_bool, read_list, read_str, read_u64, MapReader, Path};
use nettwin_model::{Diagnostics, ModuleConfig, NodeId, Prefix, Topology};
use std::net::Ipv4Addr;

/// OSPF settings of one router.
#[derive(Clone, Debug, PartialEq)]
pub struct OspfNode {
    pub area: Ipv4Addr,
    /// Bit/s that make cost 1 (default 100 Mbit/s, as in RFC 2328 implementations).
    pub reference_bandwidth: u64,
    pub maximum_paths: usize,
}

/// IGP settings of one interface (OSPF or IS-IS).
#[derive(Clone, Debug, PartialEq)]
pub struct IgpIf {
    pub cost: u32,
    pub area: Ipv4Addr,
    /// Advertise the subnet but form no adjacency.
    pub passive: bool,
}

/// IS-IS settings of one router (level 2 only).
#[derive(Clone, Debug, PartialEq)]
pub struct IsisNode {
    pub maximum_paths: usize,
}

/// A configured BGP neighbour (sessions themselves are derived from the topology).
#[derive(Clone, Debug, Default)]
pub struct NeighborConfig {
    pub peer: Option<NodeId>,
    pub shutdown: bool,
    pub import: Option<Policy>,
    pub export: Option<Policy>,
    pub weight: Option<u32>,
}

/// BGP settings of one router.
#[derive(Clone, Debug)]
pub struct BgpNode {
    pub asn: u32,
    pub route_reflector: bool,
    pub cluster_id: Option<Ipv4Addr>,
    pub originate: Vec<Prefix>,
    /// The AS paths some originated prefixes start with (empty for the others): a route
    /// leaked from another VRF keeps the path it had there, as FRR's `vpn_leak_to_vrf_update`
    /// copies the attributes (it prepends the source VRF's AS only when the ASes differ, never
    /// in netlab, where a router's VRFs share its AS).
    pub originate_as_path: Vec<(Prefix, Vec<u32>)>,
    pub advertise_loopback: bool,
    /// Advertise subnets of links where no other router sits (server and host LANs).
    pub advertise_stubs: bool,
    pub next_hop_self: bool,
    pub maximum_paths: usize,
    pub always_compare_med: bool,
    pub import: Option<Policy>,
    pub export: Option<Policy>,
    /// Per-neighbour settings, keyed by the neighbour node.
    pub neighbors: Vec<NeighborConfig>,
    /// Whether the router forms iBGP and eBGP sessions (a VRF's BGP instance forms eBGP
    /// sessions only, and none when the VRF blocks BGP).
    pub ibgp: bool,
    pub ebgp: bool,
}

/// Everything the routing computation needs to know beyond the topology itself.
#[derive(Clone, Debug)]
pub struct RoutingConfig {
    pub distances: Distances,
    pub ospf: Vec<Option<OspfNode>>,
    pub isis: Vec<Option<IsisNode>>,
    pub bgp: Vec<Option<BgpNode>>,
    /// Per node, per interface: OSPF and IS-IS interface settings.
    pub ospf_if: Vec<Vec<IgpIf>>,
    pub isis_if: Vec<Vec<IgpIf>>,
    /// Per node: MPLS (LDP, SR-MPLS) settings and platform defaults where `mpls` or `sr` runs.
    pub labels: Vec<Option<mpls::LabelNode>>,
    /// RSVP-TE and SR-TE tunnels, on-demand templates, colour rules and link TE attributes.
    pub te: te::TeConfig,
}

const OSPF_KEYS: &[&str] = &[
    "area",
    "cost",
    "passive",
    "reference_bandwidth",
    "maximum_paths",
    "distance",
];
const ISIS_KEYS: &[&str] = &["metric", "cost", "passive", "maximum_paths", "distance"];
const BGP_KEYS: &[&str] = &[
    // netlab's `bgp.as`: the model reads it as the node's `asn`.
    "as",
    "rr",
    "rr_cluster_id",
    "originate",
    "advertise_loopback",
    "advertise_stubs",
    "next_hop_self",
    "maximum_paths",
    "always_compare_med",
    "import",
    "export",
    "neighbors",
    "distance",
];
/// netlab's BGP attributes of a link (`netsim/modules/bgp.yml`, `attributes.link`).
const BGP_LINK_KEYS: &[&str] = &["advertise"];
/// netlab's BGP attributes of a link end (`attributes.interface`).
const BGP_END_KEYS: &[&str] = &["local_as", "replace_global_as"];
const NEIGHBOR_KEYS: &[&str] = &["shutdown", "import", "export", "weight"];
const RULE_KEYS: &[&str] = &["match", "set", "action"];
const MATCH_KEYS: &[&str] = &["prefix", "community", "as_path"];
const SET_KEYS: &[&str] = &["local_pref", "med", "weight", "community", "prepend"];

/// The default interface cost when neither the file nor a bandwidth says otherwise.
pub const DEFAULT_IGP_COST: u32 = 10;
/// Cisco IOS and FRR allow up to this many ECMP paths by default in our model.
pub const DEFAULT_MAXIMUM_PATHS: usize = 64;

/// The module section `m` of a node, link or interface (shared, so behind an `Arc`).
fn section<'a>(config: &'a ModuleConfig, m: &str) -> Option<&'a yaml::Node> {
    config.get(m).map(|v| &**v)
}

fn key_path(root: &str) -> Path {
    Path::root().key(root)
}

/// Takes the netlab attributes of the section's module (the last key of `path`) that change no
/// route (`netlab::module_key_without_routes`), so they are read without error.
fn take_without_routes(r: &mut MapReader, node: &yaml::Node, path: &Path) {
    let path = path.to_string();
    let module = path.rsplit('.').next().unwrap_or_default();
    for (k, _) in node.as_map().unwrap_or_default() {
        let Some(key) = k.as_scalar() else { continue };
        if nettwin_model::netlab::module_key_without_routes(module, key).is_some() {
            r.take(key);
        }
    }
}

struct Decoder<'t> {
    topo: &'t Topology,
    diags: Diagnostics,
}

impl<'t> Decoder<'t> {
    /// The values of `key` in the given sections, most general first.
    fn layered<'a>(
        sections: &[Option<(&'a yaml::Node, Path)>],
        key: &str,
    ) -> Option<(&'a yaml::Node, Path)> {
        sections
            .iter()
            .rev()
            .flatten()
            .find_map(|(n, p)| n.get(key).map(|v| (v, p.key(key))))
    }

    fn check(&mut self, node: &yaml::Node, path: &Path, allowed: &[&str]) {
        if node.as_map().is_none() && !node.is_null() {
            // `ospf: true` style switches are fine; anything else must be a mapping.
            if read_bool(node, path, &mut Diagnostics::new("")).is_none() {
                self.diags.error(
                    node.span,
                    path,
                    format!("expected a mapping, found {}", node.kind_name()),
                );
            }
            return;
        }
        if let Some(mut r) = MapReader::new(node, path, &mut self.diags) {
            for k in allowed {
                r.take(k);
            }
            take_without_routes(&mut r, node, path);
            r.finish(allowed, &mut self.diags);
        }
    }

    /// A link's or link end's `bgp` section: only netlab's keys for that place, with their
    /// types (`advertise`/`replace_global_as` booleans, `local_as` an AS number).
    fn check_bgp_attrs(&mut self, node: &yaml::Node, path: &Path, allowed: &[&str]) {
        let Some(mut r) = MapReader::new(node, path, &mut self.diags) else {
            return;
        };
        for k in allowed {
            if let Some(v) = r.take(k) {
                let p = path.key(k);
                if *k == "local_as" {
                    read_u64(v, &p, 1..=u32::MAX as u64, &mut self.diags);
                } else {
                    read_bool(v, &p, &mut self.diags);
                }
            }
        }
        take_without_routes(&mut r, node, path);
        r.finish(allowed, &mut self.diags);
    }

    fn u64_in(
        &mut self,
        v: Option<(&yaml::Node, Path)>,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<u64> {
        let (n, p) = v?;
        read_u64(n, &p, range, &mut self.diags)
    }

    fn bool_of(&mut self, v: Option<(&yaml::Node, Path)>) -> Option<bool> {
        let (n, p) = v?;
        read_bool(n, &p, &mut self.diags)
    }

    fn area(&mut self, v: Option<(&yaml::Node, Path)>) -> Option<Ipv4Addr> {
        let (n, p) = v?;
        let text = read_str(n, &p, &mut self.diags)?;
        if let Ok(a) = text.parse::<Ipv4Addr>() {
            return Some(a);
        }
        match text.parse::<u32>() {
            Ok(v) => Some(Ipv4Addr::from(v)),
            Err(_) => {
                self.diags.error(
                    n.span,
                    &p,
                    format!("invalid area `{text}`: write a number or a dotted quad like 0.0.0.1"),
                );
                None
            }
        }
    }

    fn bandwidth(&mut self, v: Option<(&yaml::Node, Path)>) -> Option<u64> {
        let (n, p) = v?;
        let text = read_str(n, &p, &mut self.diags)?;
        match parse_bandwidth(&text) {
            Some(b) if b > 0 => Some(b),
            _ => {
                self.diags
                    .error(n.span, &p, format!("invalid bandwidth `{text}`"));
                None
            }
        }
    }

    fn decode(mut self) -> Result<RoutingConfig, Diagnostics> {
        let topo = self.topo;
        let top = |m: &str| section(&topo.config, m).map(|n| (n, key_path(m)));
        let mut distances = Distances::default();
        for (m, allowed) in [("ospf", OSPF_KEYS), ("isis", ISIS_KEYS), ("bgp", BGP_KEYS)] {
            if let Some((n, p)) = top(m) {
                self.check(n, &p, allowed);
            }
        }
        if let Some(d) = self.u64_in(
            top("ospf").and_then(|(n, p)| n.get("distance").map(|v| (v, p.key("distance")))),
            1..=255,
        ) {
            distances.ospf = d as u8;
        }
        if let Some(d) = self.u64_in(
            top("isis").and_then(|(n, p)| n.get("distance").map(|v| (v, p.key("distance")))),
            1..=255,
        ) {
            distances.isis = d as u8;
        }
        if let Some((n, p)) =
            top("bgp").and_then(|(n, p)| n.get("distance").map(|v| (v, p.key("distance"))))
        {
            if let Some(mut r) = MapReader::new(n, &p, &mut self.diags) {
                if let Some(v) = r.take("ebgp") {
                    distances.ebgp =
                        read_u64(v, &p.key("ebgp"), 1..=255, &mut self.diags).unwrap_or(20) as u8;
                }
                if let Some(v) = r.take("ibgp") {
                    distances.ibgp =
                        read_u64(v, &p.key("ibgp"), 1..=255, &mut self.diags).unwrap_or(200) as u8;
                }
                r.finish(&["ebgp", "ibgp"], &mut self.diags);
            }
        }

        for link in &topo.links {
            if let Some(v) = section(&link.config, "bgp") {
                let p = key_path("links").key(&link.name).key("bgp");
                self.check_bgp_attrs(v, &p, BGP_LINK_KEYS);
            }
        }
        let mut cfg = RoutingConfig {
            distances,
            ospf: vec![None; topo.nodes.len()],
            isis: vec![None; topo.nodes.len()],
            bgp: vec![None; topo.nodes.len()],
            ospf_if: Vec::with_capacity(topo.nodes.len()),
            isis_if: Vec::with_capacity(topo.nodes.len()),
            labels: Vec::new(),
            te: te::TeConfig::default(),
        };
        for n in &topo.nodes {
            let npath = key_path("nodes").key(&n.name);
            let runs = |m: &str| n.kind.forwards_ip() && n.modules.iter().any(|x| x == m);
            let node_sec = |m: &str| section(&n.config, m).map(|v| (v, npath.key(m)));
            for (m, allowed) in [("ospf", OSPF_KEYS), ("isis", ISIS_KEYS), ("bgp", BGP_KEYS)] {
                if let Some((v, p)) = node_sec(m) {
                    self.check(v, &p, allowed);
                    if !n.kind.forwards_ip() {
                        self.diags.error(
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
            let ospf_secs = [top("ospf"), node_sec("ospf")];
            let ospf_node = runs("ospf").then(|| OspfNode {
                area: self
                    .area(Self::layered(&ospf_secs, "area"))
                    .unwrap_or(Ipv4Addr::UNSPECIFIED),
                reference_bandwidth: self
                    .bandwidth(Self::layered(&ospf_secs, "reference_bandwidth"))
                    .unwrap_or(100_000_000),
                maximum_paths: self
                    .u64_in(Self::layered(&ospf_secs, "maximum_paths"), 1..=256)
                    .map(|v| v as usize)
                    .unwrap_or(DEFAULT_MAXIMUM_PATHS),
            });
            let isis_secs = [top("isis"), node_sec("isis")];
            let isis_node = runs("isis").then(|| IsisNode {
                maximum_paths: self
                    .u64_in(Self::layered(&isis_secs, "maximum_paths"), 1..=256)
                    .map(|v| v as usize)
                    .unwrap_or(DEFAULT_MAXIMUM_PATHS),
            });

            // Interfaces: link and end sections refine the node's.
            let mut oifs = Vec::with_capacity(n.interfaces.len());
            let mut iifs = Vec::with_capacity(n.interfaces.len());
            for iface in &n.interfaces {
                let link = topo.link(iface.link);
                let lpath = key_path("links").key(&link.name);
                let epath = lpath.key(&n.name);
                for m in ["ospf", "isis"] {
                    for (sec, p) in [
                        (section(&link.config, m), lpath.key(m)),
                        (section(&iface.config, m), epath.key(m)),
                    ] {
                        if let Some(v) = sec {
                            self.check(v, &p, if m == "ospf" { OSPF_KEYS } else { ISIS_KEYS });
                        }
                    }
                }
                // BGP is per router: netlab's few link and interface attributes are checked
                // like every other key (the loader warns that they change nothing here).
                if let Some(v) = section(&iface.config, "bgp") {
                    self.check_bgp_attrs(v, &epath.key("bgp"), BGP_END_KEYS);
                }
                let generic_cost = iface.cost;
                let ospf_l = [
                    top("ospf"),
                    node_sec("ospf"),
                    section(&link.config, "ospf").map(|v| (v, lpath.key("ospf"))),
                    section(&iface.config, "ospf").map(|v| (v, epath.key("ospf"))),
                ];
                let ospf_if_cost = self
                    .u64_in(Self::layered(&ospf_l[2..], "cost"), 1..=65535)
                    .map(|c| c as u32);
                let ref_bw = ospf_node
                    .as_ref()
                    .map(|o| o.reference_bandwidth)
                    .unwrap_or(100_000_000);
                let from_bw = iface
                    .bandwidth
                    .map(|bw| (ref_bw / bw).clamp(1, 65535) as u32);
                let ospf_cost = ospf_if_cost
                    .or(generic_cost.map(|c| c.min(65535)))
                    .or(from_bw)
                    .unwrap_or(DEFAULT_IGP_COST);
                oifs.push(IgpIf {
                    cost: ospf_cost,
                    area: self
                        .area(Self::layered(&ospf_l[2..], "area"))
                        .or(ospf_node.as_ref().map(|o| o.area))
                        .unwrap_or(Ipv4Addr::UNSPECIFIED),
                    passive: self
                        .bool_of(Self::layered(&ospf_l[1..], "passive"))
                        .unwrap_or(false),
                });
                let isis_l = [
                    node_sec("isis"),
                    section(&link.config, "isis").map(|v| (v, lpath.key("isis"))),
                    section(&iface.config, "isis").map(|v| (v, epath.key("isis"))),
                ];
                let isis_metric = self
                    .u64_in(Self::layered(&isis_l[1..], "metric"), 1..=16_777_215)
                    .or(self.u64_in(Self::layered(&isis_l[1..], "cost"), 1..=16_777_215))
                    .map(|c| c as u32);
                iifs.push(IgpIf {
                    cost: isis_metric.or(generic_cost).unwrap_or(DEFAULT_IGP_COST),
                    area: Ipv4Addr::UNSPECIFIED,
                    passive: self
                        .bool_of(Self::layered(&isis_l, "passive"))
                        .unwrap_or(false),
                });
            }
            cfg.ospf[n.id.index()] = ospf_node;
            cfg.isis[n.id.index()] = isis_node;
            cfg.ospf_if.push(oifs);
            cfg.isis_if.push(iifs);

            if runs("bgp") {
                cfg.bgp[n.id.index()] = self.bgp_node(n.id, [top("bgp"), node_sec("bgp")]);
            }
        }
        if self.diags.is_empty() {
            Ok(cfg)
        } else {
            self.diags.sort();
            Err(self.diags)
        }
    }

    fn bgp_node(&mut self, id: NodeId, secs: [Option<(&yaml::Node, Path)>; 2]) -> Option<BgpNode> {
        let n = self.topo.node(id);
        let Some(asn) = n.asn else {
            let span = secs[1].as_ref().map(|(v, _)| v.span).unwrap_or(n.span);
            self.diags.error(
                span,
                &key_path("nodes").key(&n.name),
                format!("node `{}` runs BGP but has no `asn`", n.name),
            );
            return None;
        };
        let mut originate = Vec::new();
        if let Some((v, p)) = Self::layered(&secs, "originate") {
            for (i, item) in read_list(v, &p, &mut self.diags).into_iter().enumerate() {
                let Some(text) = read_str(item, &p.index(i), &mut self.diags) else {
                    continue;
                };
                match text.parse::<Prefix>() {
                    Ok(pr) => originate.push(pr),
                    Err(e) => {
                        self.diags
                            .error(item.span, &p.index(i), format!("invalid prefix: {e}"))
                    }
                }
            }
        }
        let cluster_id = Self::layered(&secs, "rr_cluster_id").and_then(|(v, p)| {
            let text = read_str(v, &p, &mut self.diags)?;
            match text.parse() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.diags.error(
                        v.span,
                        &p,
                        format!("invalid cluster id `{text}`: expected a dotted quad"),
                    );
                    None
                }
            }
        });
        let import = Self::layered(&secs, "import").and_then(|(v, p)| self.policy(v, &p));
        let export = Self::layered(&secs, "export").and_then(|(v, p)| self.policy(v, &p));
        let mut neighbors = Vec::new();
        if let Some((v, p)) = secs[1]
            .as_ref()
            .and_then(|(n, p)| n.get("neighbors").map(|v| (v, p.key("neighbors"))))
        {
            if let Some(mut r) = MapReader::new(v, &p, &mut self.diags) {
                for (k, body) in r.take_rest() {
                    let name = k.as_scalar().unwrap_or_default();
                    let np = p.key(name);
                    let peer = self.topo.node_by_name(name).map(|x| x.id);
                    if peer.is_none() {
                        self.diags.error(
                            k.span,
                            &np,
                            format!("unknown node `{name}` in BGP neighbors"),
                        );
                        continue;
                    }
                    let mut nc = NeighborConfig {
                        peer,
                        ..NeighborConfig::default()
                    };
                    if let Some(mut br) = MapReader::new(body, &np, &mut self.diags) {
                        if let Some(x) = br.take("shutdown") {
                            nc.shutdown =
                                read_bool(x, &np.key("shutdown"), &mut self.diags).unwrap_or(false);
                        }
                        if let Some(x) = br.take("import") {
                            nc.import = self.policy(x, &np.key("import"));
                        }
                        if let Some(x) = br.take("export") {
                            nc.export = self.policy(x, &np.key("export"));
                        }
                        if let Some(x) = br.take("weight") {
                            nc.weight = read_u64(x, &np.key("weight"), 0..=65535, &mut self.diags)
                                .map(|w| w as u32);
                        }
                        br.finish(NEIGHBOR_KEYS, &mut self.diags);
                    }
                    neighbors.push(nc);
                }
            }
        }
        Some(BgpNode {
            asn,
            route_reflector: self.bool_of(Self::layered(&secs, "rr")).unwrap_or(false),
            cluster_id,
            originate,
            originate_as_path: Vec::new(),
            advertise_loopback: self
                .bool_of(Self::layered(&secs, "advertise_loopback"))
                .unwrap_or(true),
            advertise_stubs: self
                .bool_of(Self::layered(&secs, "advertise_stubs"))
                .unwrap_or(true),
            next_hop_self: self
                .bool_of(Self::layered(&secs, "next_hop_self"))
                .unwrap_or(true),
            maximum_paths: self
                .u64_in(Self::layered(&secs, "maximum_paths"), 1..=256)
                .map(|v| v as usize)
                .unwrap_or(1),
            always_compare_med: self
                .bool_of(Self::layered(&secs, "always_compare_med"))
                .unwrap_or(false),
            import,
            export,
            neighbors,
            ibgp: true,
            ebgp: true,
        })
    }

    /// A policy: a list of rules, each `{match: {...}, set: {...}, action: permit|deny}`; the
    /// first rule that matches decides, and a route no rule matches is denied (route-map style).
    fn policy(&mut self, node: &yaml::Node, path: &Path) -> Option<Policy> {
        let mut rules = Vec::new();
        for (i, item) in read_list(node, path, &mut self.diags)
            .into_iter()
            .enumerate()
        {
            let rp = path.index(i);
            let Some(mut r) = MapReader::new(item, &rp, &mut self.diags) else {
                continue;
            };
            let mut rule = Rule::default();
            if let Some(m) = r.take("match") {
                let mp = rp.key("match");
                if let Some(mut mr) = MapReader::new(m, &mp, &mut self.diags) {
                    if let Some(v) = mr.take("prefix") {
                        for (j, x) in read_list(v, &mp.key("prefix"), &mut self.diags)
                            .into_iter()
                            .enumerate()
                        {
                            let xp = mp.key("prefix").index(j);
                            let Some(text) = read_str(x, &xp, &mut self.diags) else {
                                continue;
                            };
                            match PrefixMatch::parse(&text) {
                                Ok(pm) => rule.match_prefix.push(pm),
                                Err(e) => self.diags.error(x.span, &xp, e),
                            }
                        }
                    }
                    if let Some(v) = mr.take("community") {
                        for (j, x) in read_list(v, &mp.key("community"), &mut self.diags)
                            .into_iter()
                            .enumerate()
                        {
                            let xp = mp.key("community").index(j);
                            let Some(text) = read_str(x, &xp, &mut self.diags) else {
                                continue;
                            };
                            match text.parse::<Community>() {
                                Ok(c) => rule.match_community.push(c),
                                Err(e) => self.diags.error(x.span, &xp, e),
                            }
                        }
                    }
                    if let Some(v) = mr.take("as_path") {
                        let xp = mp.key("as_path");
                        if let Some(text) = read_str(v, &xp, &mut self.diags) {
                            match crate::bgp::AsPathRegex::new(&text) {
                                Ok(re) => rule.match_as_path = Some(re),
                                Err(e) => self.diags.error(v.span, &xp, e),
                            }
                        }
                    }
                    mr.finish(MATCH_KEYS, &mut self.diags);
                }
            }
            if let Some(s) = r.take("set") {
                let sp = rp.key("set");
                if let Some(mut sr) = MapReader::new(s, &sp, &mut self.diags) {
                    if let Some(v) = sr.take("local_pref") {
                        rule.set_local_pref = read_u64(
                            v,
                            &sp.key("local_pref"),
                            0..=u64::from(u32::MAX),
                            &mut self.diags,
                        )
                        .map(|x| x as u32);
                    }
                    if let Some(v) = sr.take("med") {
                        rule.set_med =
                            read_u64(v, &sp.key("med"), 0..=u64::from(u32::MAX), &mut self.diags)
                                .map(|x| x as u32);
                    }
                    if let Some(v) = sr.take("weight") {
                        rule.set_weight =
                            read_u64(v, &sp.key("weight"), 0..=65535, &mut self.diags)
                                .map(|x| x as u32);
                    }
                    if let Some(v) = sr.take("prepend") {
                        rule.prepend = read_u64(v, &sp.key("prepend"), 0..=16, &mut self.diags)
                            .unwrap_or(0) as u8;
                    }
                    if let Some(v) = sr.take("community") {
                        for (j, x) in read_list(v, &sp.key("community"), &mut self.diags)
                            .into_iter()
                            .enumerate()
                        {
                            let xp = sp.key("community").index(j);
                            let Some(text) = read_str(x, &xp, &mut self.diags) else {
                                continue;
                            };
                            match text.parse::<Community>() {
                                Ok(c) => rule.add_community.push(c),
                                Err(e) => self.diags.error(x.span, &xp, e),
                            }
                        }
                    }
                    sr.finish(SET_KEYS, &mut self.diags);
                }
            }
            if let Some(a) = r.take("action") {
                match read_str(a, &rp.key("action"), &mut self.diags).as_deref() {
                    Some("permit") => rule.permit = true,
                    Some("deny") => rule.permit = false,
                    Some(other) => self.diags.error(
                        a.span,
                        &rp.key("action"),
                        format!("action must be `permit` or `deny`, not `{other}`"),
                    ),
                    None => {}
                }
            }
            r.finish(RULE_KEYS, &mut self.diags);
            rules.push(rule);
        }
        Some(Policy { rules })
    }
}

/// Decodes the protocol sections of `topo`.
pub fn decode(topo: &Topology) -> Result<RoutingConfig, Diagnostics> {
    let mut label_diags = topo.diagnostics();
    let labels = mpls::decode(topo, &mut label_diags);
    mpls::check_sid_conflicts(topo, &labels, &mut label_diags);
    let te = te::decode(topo, &labels, &mut label_diags);
    let decoded = Decoder {
        topo,
        diags: topo.diagnostics(),
    }
    .decode();
    match decoded {
        Ok(mut cfg) if label_diags.is_empty() => {
            cfg.labels = labels;
            cfg.te = te;
            Ok(cfg)
        }
        Ok(_) => {
            label_diags.sort();
            Err(label_diags)
        }
        Err(mut d) => {
            for x in &label_diags {
                d.push(x.clone());
            }
            d.sort();
            Err(d)
        }
    }
}
