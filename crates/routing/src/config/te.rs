//! Decoding traffic-engineering settings: tunnels (RSVP-TE LSPs and SR-TE policies) on their
//! head-ends, on-demand next-hop templates, colour rules, and each link's TE attributes. netlab
//! has no TE module, so the keys are nettwin's, under the `te` key of a node's or link's `mpls`
//! or `sr` section (`docs/lsp.md` lists them).

use nettwin_model::yaml::{self, read_bool, read_list, read_str, read_u64, MapReader, Path};
use nettwin_model::{Diagnostics, ModuleConfig, NodeId, Prefix, Topology};

const NODE_TE_KEYS: &[&str] = &["tunnels", "odn", "color"];
const LINK_TE_KEYS: &[&str] = &["metric", "affinity", "bandwidth"];
const TUNNEL_KEYS: &[&str] = &[
    "type",
    "to",
    "color",
    "binding_sid",
    "bandwidth",
    "priority",
    "hold_priority",
    "metric",
    "affinity",
    "paths",
    "autoroute",
    "forwarding_adjacency",
];
const ODN_KEYS: &[&str] = &["metric", "affinity", "bandwidth", "priority"];
const AFFINITY_KEYS: &[&str] = &["include_any", "include_all", "exclude"];
const PATH_KEYS: &[&str] = &["dynamic", "explicit"];
const HOP_KEYS: &[&str] = &["node", "loose"];
const COLOR_KEYS: &[&str] = &["prefix", "color", "co"];

/// RSVP-TE LSP or SR-TE policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TunnelKind {
    Rsvp,
    Sr,
}

/// What CSPF minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricType {
    /// The IGP cost of each link.
    Igp,
    /// The TE metric (`te.metric` on the link, else its IGP cost).
    Te,
    /// The link's latency (netlab's `latency`).
    Latency,
}

impl MetricType {
    pub fn name(self) -> &'static str {
        match self {
            MetricType::Igp => "igp",
            MetricType::Te => "te",
            MetricType::Latency => "latency",
        }
    }
}

/// Affinity constraints as bit masks over [`TeConfig::affinity_names`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Affinity {
    pub include_any: u32,
    pub include_all: u32,
    pub exclude: u32,
}

impl Affinity {
    /// Whether a link with `bits` may carry the tunnel (RFC 3209 section 4.7.4 semantics).
    pub fn admits(&self, bits: u32) -> bool {
        bits & self.exclude == 0
            && bits & self.include_all == self.include_all
            && (self.include_any == 0 || bits & self.include_any != 0)
    }
}

/// One hop of an explicit path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplicitHop {
    pub node: NodeId,
    /// Loose: any (constrained) path to the hop; strict: the hop is a direct neighbour.
    pub loose: bool,
}

/// A path option, tried in order: the first is the primary, the rest secondaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathOption {
    Dynamic,
    Explicit(Vec<ExplicitHop>),
}

/// A tunnel on its head-end.
#[derive(Clone, Debug, PartialEq)]
pub struct TunnelConfig {
    pub name: String,
    pub head: NodeId,
    pub kind: TunnelKind,
    /// The tail-end; `None` for an SR policy with the null endpoint (RFC 9256 section 8.8.1).
    pub endpoint: Option<NodeId>,
    pub color: Option<u32>,
    pub binding_sid: Option<u32>,
    /// kbit/s reserved on every link of the path.
    pub bandwidth: u64,
    /// Setup priority 0 (best) to 7 (RFC 3209): CSPF places tunnels in this order.
    pub setup_priority: u8,
    pub hold_priority: u8,
    pub metric: MetricType,
    pub affinity: Affinity,
    pub paths: Vec<PathOption>,
    /// `autoroute announce` (Cisco) / IGP shortcuts (Junos `traffic-engineering bgp-igp`).
    pub autoroute: bool,
    /// Instantiated from an on-demand next-hop template rather than configured.
    pub on_demand: bool,
}

/// An on-demand next-hop template: a policy is instantiated for each BGP next hop seen with
/// the colour.
#[derive(Clone, Debug, PartialEq)]
pub struct OdnTemplate {
    pub head: NodeId,
    pub color: u32,
    pub metric: MetricType,
    pub affinity: Affinity,
    pub bandwidth: u64,
    pub setup_priority: u8,
}

/// A colour rule on a head-end: BGP routes for prefixes within `prefix` carry the colour
/// extended community `color` with the colour-only bits `co` (as an import route policy
/// `set extcommunity color` would set it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColorRule {
    pub prefix: Prefix,
    pub color: u32,
    /// RFC 9256 section 8.8.1 CO bits, 0 to 3.
    pub co: u8,
}

/// TE attributes of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkTe {
    pub metric: Option<u32>,
    pub affinity: u32,
    /// Reservable kbit/s (`te.bandwidth`, else the link's `bandwidth`; `None`: unlimited).
    pub reservable: Option<u64>,
}

/// Every TE setting of the network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TeConfig {
    pub tunnels: Vec<TunnelConfig>,
    pub odn: Vec<OdnTemplate>,
    /// Per node: colour rules, in file order (the first match wins).
    pub colors: Vec<Vec<ColorRule>>,
    /// Per link.
    pub links: Vec<LinkTe>,
    /// Affinity names in bit order.
    pub affinity_names: Vec<String>,
}

impl TeConfig {
    pub fn is_empty(&self) -> bool {
        self.tunnels.is_empty() && self.odn.is_empty()
    }
}

/// The `te` sections of `config` (`mpls.te`, then `sr.te`).
fn te_sections<'a>(config: &'a ModuleConfig, path: &Path) -> Vec<(&'a yaml::Node, Path)> {
    let mut out = Vec::new();
    for m in ["mpls", "sr"] {
        if let Some(sec) = config.get(m) {
            if let Some(te) = sec.as_map().and(sec.get("te")) {
                out.push((te, path.key(m).key("te")));
            }
        }
    }
    out
}

struct Dec<'a> {
    topo: &'a Topology,
    names: Vec<String>,
}

impl Dec<'_> {
    fn bits(&mut self, v: &yaml::Node, p: &Path, diags: &mut Diagnostics) -> u32 {
        let mut bits = 0;
        for (i, x) in read_list(v, p, diags).into_iter().enumerate() {
            let Some(name) = read_str(x, &p.index(i), diags) else {
                continue;
            };
            let bit = match self.names.iter().position(|n| *n == name) {
                Some(b) => b,
                None => {
                    if self.names.len() == 32 {
                        diags.error(x.span, &p.index(i), "more than 32 affinity names");
                        continue;
                    }
                    self.names.push(name);
                    self.names.len() - 1
                }
            };
            bits |= 1 << bit;
        }
        bits
    }

    fn affinity(&mut self, v: &yaml::Node, p: &Path, diags: &mut Diagnostics) -> Affinity {
        let mut a = Affinity::default();
        if let Some(mut r) = MapReader::new(v, p, diags) {
            if let Some(x) = r.take("include_any") {
                a.include_any = self.bits(x, &p.key("include_any"), diags);
            }
            if let Some(x) = r.take("include_all") {
                a.include_all = self.bits(x, &p.key("include_all"), diags);
            }
            if let Some(x) = r.take("exclude") {
                a.exclude = self.bits(x, &p.key("exclude"), diags);
            }
            r.finish(AFFINITY_KEYS, diags);
        }
        a
    }

    fn node(&self, v: &yaml::Node, p: &Path, diags: &mut Diagnostics) -> Option<NodeId> {
        let name = read_str(v, p, diags)?;
        match self.topo.node_by_name(&name) {
            Some(n) => Some(n.id),
            None => {
                diags.error(v.span, p, format!("unknown node `{name}`"));
                None
            }
        }
    }

    fn metric(v: &yaml::Node, p: &Path, diags: &mut Diagnostics) -> Option<MetricType> {
        match read_str(v, p, diags)?.as_str() {
            "igp" => Some(MetricType::Igp),
            "te" => Some(MetricType::Te),
            "latency" => Some(MetricType::Latency),
            other => {
                diags.error(
                    v.span,
                    p,
                    format!("unknown metric type `{other}`: expected igp, te or latency"),
                );
                None
            }
        }
    }

    fn tunnel(
        &mut self,
        head: NodeId,
        name: &str,
        v: &yaml::Node,
        p: &Path,
        diags: &mut Diagnostics,
    ) -> Option<TunnelConfig> {
        let mut r = MapReader::new(v, p, diags)?;
        let kind = match r.take("type") {
            None => TunnelKind::Rsvp,
            Some(x) => match read_str(x, &p.key("type"), diags).as_deref() {
                Some("rsvp") => TunnelKind::Rsvp,
                Some("sr") => TunnelKind::Sr,
                Some(other) => {
                    diags.error(
                        x.span,
                        &p.key("type"),
                        format!("unknown tunnel type `{other}`: expected rsvp or sr"),
                    );
                    TunnelKind::Rsvp
                }
                None => TunnelKind::Rsvp,
            },
        };
        let mut ok = true;
        let endpoint = match r.take("to") {
            Some(x) if x.as_scalar() == Some("0.0.0.0") && kind == TunnelKind::Sr => None,
            Some(x) => {
                let id = self.node(x, &p.key("to"), diags);
                ok &= id.is_some();
                id
            }
            None => {
                diags.error(
                    v.span,
                    p,
                    format!("tunnel `{name}` needs `to` (its tail-end)"),
                );
                return None;
            }
        };
        let u32_key = |r: &mut MapReader, key: &str, range, diags: &mut Diagnostics| {
            r.take(key)
                .and_then(|x| read_u64(x, &p.key(key), range, diags))
        };
        let color = u32_key(&mut r, "color", 1..=u64::from(u32::MAX), diags).map(|c| c as u32);
        if color.is_some() && kind == TunnelKind::Rsvp {
            diags.error(
                v.span,
                &p.key("color"),
                "only SR policies (`type: sr`) have a colour",
            );
        }
        if kind == TunnelKind::Sr && color.is_none() {
            diags.error(
                v.span,
                p,
                format!("SR policy `{name}` needs `color` (RFC 9256: a policy is headend, colour, endpoint)"),
            );
        }
        let binding_sid =
            u32_key(&mut r, "binding_sid", 16..=super::mpls::MAX_LABEL, diags).map(|l| l as u32);
        let bandwidth = u32_key(&mut r, "bandwidth", 0..=u64::MAX, diags).unwrap_or(0);
        let setup_priority = u32_key(&mut r, "priority", 0..=7, diags).unwrap_or(7) as u8;
        let hold_priority = u32_key(&mut r, "hold_priority", 0..=7, diags)
            .unwrap_or(u64::from(setup_priority)) as u8;
        let metric = r
            .take("metric")
            .and_then(|x| Self::metric(x, &p.key("metric"), diags))
            .unwrap_or(MetricType::Te);
        let affinity = r
            .take("affinity")
            .map(|x| self.affinity(x, &p.key("affinity"), diags))
            .unwrap_or_default();
        let mut paths = Vec::new();
        if let Some(x) = r.take("paths") {
            let pp = p.key("paths");
            for (i, item) in read_list(x, &pp, diags).into_iter().enumerate() {
                let ip = pp.index(i);
                let Some(mut pr) = MapReader::new(item, &ip, diags) else {
                    continue;
                };
                let dynamic = pr.take("dynamic");
                let explicit = pr.take("explicit");
                pr.finish(PATH_KEYS, diags);
                match (dynamic, explicit) {
                    (Some(d), None) => {
                        if read_bool(d, &ip.key("dynamic"), diags) == Some(true) {
                            paths.push(PathOption::Dynamic);
                        }
                    }
                    (None, Some(e)) => {
                        let ep = ip.key("explicit");
                        let mut hops = Vec::new();
                        for (j, h) in read_list(e, &ep, diags).into_iter().enumerate() {
                            let hp = ep.index(j);
                            if h.as_scalar().is_some() {
                                if let Some(node) = self.node(h, &hp, diags) {
                                    hops.push(ExplicitHop { node, loose: false });
                                }
                                continue;
                            }
                            let Some(mut hr) = MapReader::new(h, &hp, diags) else {
                                continue;
                            };
                            let node = hr
                                .take("node")
                                .and_then(|x| self.node(x, &hp.key("node"), diags));
                            let loose = hr
                                .take("loose")
                                .and_then(|x| read_bool(x, &hp.key("loose"), diags))
                                .unwrap_or(false);
                            hr.finish(HOP_KEYS, diags);
                            match node {
                                Some(node) => hops.push(ExplicitHop { node, loose }),
                                None if h.get("node").is_none() => {
                                    diags.error(h.span, &hp, "an explicit hop needs `node`")
                                }
                                None => {}
                            }
                        }
                        if hops.is_empty() {
                            diags.error(e.span, &ep, "an explicit path needs at least one hop");
                        } else {
                            paths.push(PathOption::Explicit(hops));
                        }
                    }
                    _ => diags.error(
                        item.span,
                        &ip,
                        "a path option is either `dynamic: true` or `explicit: [hops]`",
                    ),
                }
            }
        } else {
            paths.push(PathOption::Dynamic);
        }
        if endpoint.is_none() && paths.contains(&PathOption::Dynamic) {
            diags.error(
                v.span,
                p,
                format!(
                    "null-endpoint policy `{name}` needs explicit paths: CSPF has no destination"
                ),
            );
        }
        let autoroute = r
            .take("autoroute")
            .and_then(|x| read_bool(x, &p.key("autoroute"), diags))
            .unwrap_or(false);
        if let Some(x) = r.take("forwarding_adjacency") {
            if read_bool(x, &p.key("forwarding_adjacency"), diags) == Some(true) {
                diags.error(
                    x.span,
                    &p.key("forwarding_adjacency"),
                    "forwarding adjacencies (the tunnel advertised into the IGP) are not modelled yet; use `autoroute`",
                );
            }
        }
        r.finish(TUNNEL_KEYS, diags);
        if endpoint == Some(head) {
            diags.error(
                v.span,
                &p.key("to"),
                format!("tunnel `{name}` ends on its own head-end"),
            );
            ok = false;
        }
        ok.then(|| TunnelConfig {
            name: name.to_string(),
            head,
            kind,
            endpoint,
            color,
            binding_sid,
            bandwidth,
            setup_priority,
            hold_priority,
            metric,
            affinity,
            paths,
            autoroute,
            on_demand: false,
        })
    }
}

/// Decodes every TE setting; errors go to `diags`. `runs(node, module)` says whether a node
/// runs `mpls` or `sr`.
pub fn decode(
    topo: &Topology,
    labels: &[Option<super::mpls::LabelNode>],
    diags: &mut Diagnostics,
) -> TeConfig {
    let mut dec = Dec {
        topo,
        names: Vec::new(),
    };
    let mut out = TeConfig {
        colors: vec![Vec::new(); topo.nodes.len()],
        ..TeConfig::default()
    };
    // Links first, so affinity bits follow the order names first appear on links.
    for link in &topo.links {
        let lpath = Path::root().key("links").key(&link.name);
        let mut te = LinkTe {
            reservable: link.bandwidth,
            ..LinkTe::default()
        };
        for (v, p) in te_sections(&link.config, &lpath) {
            let Some(mut r) = MapReader::new(v, &p, diags) else {
                continue;
            };
            if let Some(x) = r.take("metric") {
                te.metric = read_u64(x, &p.key("metric"), 1..=16_777_215, diags).map(|m| m as u32);
            }
            if let Some(x) = r.take("affinity") {
                te.affinity = dec.bits(x, &p.key("affinity"), diags);
            }
            if let Some(x) = r.take("bandwidth") {
                te.reservable = read_u64(x, &p.key("bandwidth"), 0..=u64::MAX, diags);
            }
            r.finish(LINK_TE_KEYS, diags);
        }
        out.links.push(te);
    }
    for n in &topo.nodes {
        let npath = Path::root().key("nodes").key(&n.name);
        let secs = te_sections(&n.config, &npath);
        if secs.is_empty() {
            continue;
        }
        let cfg = labels.get(n.id.index()).and_then(Option::as_ref);
        for (v, p) in secs {
            let Some(mut r) = MapReader::new(v, &p, diags) else {
                continue;
            };
            let Some(cfg) = cfg else {
                diags.error(
                    v.span,
                    &p,
                    format!("TE on {} needs the mpls or sr module", n.name),
                );
                r.take_rest();
                continue;
            };
            if let Some(t) = r.take("tunnels") {
                let tp = p.key("tunnels");
                if let Some(mut tr) = MapReader::new(t, &tp, diags) {
                    for (k, tv) in tr.take_rest() {
                        let Some(name) = k.as_scalar() else { continue };
                        let Some(tun) = dec.tunnel(n.id, name, tv, &tp.key(name), diags) else {
                            continue;
                        };
                        if tun.kind == TunnelKind::Sr && cfg.sr.is_none() {
                            diags.error(
                                tv.span,
                                &tp.key(name),
                                format!("SR policy `{name}` on {} needs the sr module", n.name),
                            );
                            continue;
                        }
                        if tun.kind == TunnelKind::Rsvp
                            && cfg.ldp.is_none()
                            && !n.modules.iter().any(|m| m == "mpls")
                        {
                            diags.error(
                                tv.span,
                                &tp.key(name),
                                format!(
                                    "RSVP-TE tunnel `{name}` on {} needs the mpls module",
                                    n.name
                                ),
                            );
                            continue;
                        }
                        out.tunnels.push(tun);
                    }
                    tr.finish(&[], diags);
                }
            }
            if let Some(o) = r.take("odn") {
                let op = p.key("odn");
                if let Some(mut or) = MapReader::new(o, &op, diags) {
                    for (k, ov) in or.take_rest() {
                        let kp = op.key(k.as_scalar().unwrap_or(""));
                        let Some(color) = read_u64(k, &kp, 1..=u64::from(u32::MAX), diags) else {
                            continue;
                        };
                        let mut t = OdnTemplate {
                            head: n.id,
                            color: color as u32,
                            metric: MetricType::Te,
                            affinity: Affinity::default(),
                            bandwidth: 0,
                            setup_priority: 7,
                        };
                        if let Some(mut tr) = MapReader::new(ov, &kp, diags) {
                            if let Some(x) = tr.take("metric") {
                                t.metric =
                                    Dec::metric(x, &kp.key("metric"), diags).unwrap_or(t.metric);
                            }
                            if let Some(x) = tr.take("affinity") {
                                t.affinity = dec.affinity(x, &kp.key("affinity"), diags);
                            }
                            if let Some(x) = tr.take("bandwidth") {
                                t.bandwidth =
                                    read_u64(x, &kp.key("bandwidth"), 0..=u64::MAX, diags)
                                        .unwrap_or(0);
                            }
                            if let Some(x) = tr.take("priority") {
                                t.setup_priority = read_u64(x, &kp.key("priority"), 0..=7, diags)
                                    .unwrap_or(7)
                                    as u8;
                            }
                            tr.finish(ODN_KEYS, diags);
                        }
                        if cfg.sr.is_none() {
                            diags.error(
                                ov.span,
                                &kp,
                                format!("on-demand next hop on {} needs the sr module", n.name),
                            );
                            continue;
                        }
                        out.odn.push(t);
                    }
                }
            }
            if let Some(c) = r.take("color") {
                let cp = p.key("color");
                for (i, item) in read_list(c, &cp, diags).into_iter().enumerate() {
                    let ip = cp.index(i);
                    let Some(mut ir) = MapReader::new(item, &ip, diags) else {
                        continue;
                    };
                    let prefix = ir.take("prefix").and_then(|x| {
                        let s = read_str(x, &ip.key("prefix"), diags)?;
                        match s.parse::<Prefix>() {
                            Ok(p) => Some(p),
                            Err(e) => {
                                diags.error(
                                    x.span,
                                    &ip.key("prefix"),
                                    format!("bad prefix `{s}`: {e}"),
                                );
                                None
                            }
                        }
                    });
                    let color = ir.take("color").and_then(|x| {
                        read_u64(x, &ip.key("color"), 1..=u64::from(u32::MAX), diags)
                    });
                    let co = ir
                        .take("co")
                        .and_then(|x| read_u64(x, &ip.key("co"), 0..=3, diags))
                        .unwrap_or(0) as u8;
                    ir.finish(COLOR_KEYS, diags);
                    match (prefix, color) {
                        (Some(prefix), Some(color)) => out.colors[n.id.index()].push(ColorRule {
                            prefix,
                            color: color as u32,
                            co,
                        }),
                        _ if item.get("prefix").is_none() || item.get("color").is_none() => {
                            diags.error(item.span, &ip, "a colour rule needs `prefix` and `color`")
                        }
                        _ => {}
                    }
                }
            }
            r.finish(NODE_TE_KEYS, diags);
        }
    }
    // Tunnel names are per head-end.
    let mut seen = std::collections::HashSet::new();
    for t in &out.tunnels {
        if !seen.insert((t.head, t.name.clone())) {
            let n = topo.node(t.head);
            diags.error(
                n.span,
                &Path::root().key("nodes").key(&n.name),
                format!("two tunnels named `{}` on {}", t.name, n.name),
            );
        }
    }
    // Tunnels placed by setup priority, then head, then name: the order CSPF reserves in.
    out.tunnels.sort_by(|a, b| {
        (a.setup_priority, a.head, &a.name).cmp(&(b.setup_priority, b.head, &b.name))
    });
    out.affinity_names = dec.names;
    out
}
