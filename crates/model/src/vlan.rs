//! netlab's vlan module (`netsim/modules/vlan.py`, `vlan.yml`, `docs/module/vlan.md`): VLAN
//! definitions, access and trunk ports, native VLANs, SVIs and routed subinterfaces, turned into
//! nettwin's segments and interfaces. A child module of `load`, so it works on the loader's raw
//! links; `load` calls it at four points: reading `vlans`, the links of `vlans.X.links`,
//! [`Loader::apply_vlans`] once interfaces exist, and the VLAN subnets before the pools hand
//! out link subnets.
//!
//! The rules, each from netlab's code (function names in `vlan.py`):
//! - A node is VLAN-aware when it uses the vlan module; a `switch` (nettwin's Linux bridge)
//!   always is, and its ports without VLAN settings on a VLAN link are in the link's VLAN. Link
//!   `vlan` settings apply to the VLAN-aware nodes on the link only (`link_pre_transform`), and
//!   an interface without VLAN settings is a plain interface (`get_vlan_interface_mode`).
//! - Forwarding mode, first set wins: interface `vlan.mode` (or the trunk entry's), link
//!   `vlan.mode`, the node's `vlans.X.mode`, the node's `vlan.mode`, the global `vlans.X.mode`,
//!   the global `vlan.mode`, `irb` (`compute_interface_vlan_mode`). A switch only bridges.
//! - VLAN ids: as written, else the next free id from 1000, global VLANs first, then node VLANs
//!   in node order (`populate_vlan_id_set`, `validate_vlan_attributes`).
//! - Every global VLAN whose mode is not `route`, and every node-only VLAN, gets one subnet from
//!   its `pool`, else `vlan`, else `lan`, before any link does, in definition order; hosts take
//!   their node id in it (`validate_vlan_attributes`: `allocation: id_based`).
//! - A link whose access VLAN is routed by every VLAN-aware node on it is an ordinary routed link
//!   (`routed_access_vlan`); otherwise its ends join the VLAN: VLAN-aware nodes through a bridge
//!   port without address and, in `irb` mode, an SVI `vlanNNNN` (`create_svi_interfaces`, the FRR
//!   and Linux name `vlan{vlan}`); other nodes with their interface, addressed from the VLAN.
//! - A trunk carries its VLANs tagged and its native VLAN untagged; it gets no subnet of its own
//!   (`set_link_vlan_prefix`). A trunk VLAN routed by every VLAN-aware node on the trunk becomes
//!   routed subinterfaces `ethN.<id>` on a link of its own, which takes a subnet from the pools
//!   after every physical link, in link order and VLAN name order (`create_vlan_links`,
//!   `rename_vlan_subinterfaces`, subinterface name `{ifname}.{vlan.access_id}`).

use super::*;

/// A VLAN forwarding mode (`vlan.yml`: `bridge`, `irb`, `route`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Bridge,
    Irb,
    Route,
}

impl Mode {
    fn parse(text: &str) -> Option<Mode> {
        match text {
            "bridge" => Some(Mode::Bridge),
            "irb" => Some(Mode::Irb),
            "route" => Some(Mode::Route),
            _ => None,
        }
    }
}

/// The first auto-assigned VLAN id (`vlan.yml`: `start_vlan_id`).
const START_VLAN_ID: u16 = 1000;

/// A VLAN as defined in the global or a node's `vlans`.
#[derive(Clone, Debug)]
pub(super) struct VlanDef {
    name: String,
    id: Option<u16>,
    mode: Option<Mode>,
    /// `prefix` as written.
    fixed: [Option<Prefix>; 2],
    prefix_given: bool,
    pool: Option<(String, Span, Path)>,
    span: Span,
    path: Path,
    /// The VLAN's subnet once allocated.
    subnet: [Option<Prefix>; 2],
    /// In a node's `vlans`: the node's `ipv4`/`ipv6` in the VLAN, a host number or an
    /// address (`copy_vlan_to_intf`: they go to the node's interface in the VLAN).
    host: [EndAf; 2],
    addr: [Option<IfAddr>; 2],
    /// Whether the VLAN got no subnet because its default mode is `route`.
    routed_default: bool,
}

/// Every VLAN of the lab, as read.
#[derive(Clone, Debug, Default)]
pub(super) struct Vlans {
    global: Vec<VlanDef>,
    /// The top-level `vlan.mode`.
    global_mode: Option<Mode>,
    /// Per node: its own `vlans`.
    node: Vec<Vec<VlanDef>>,
    /// Per node: its `vlan.mode`.
    node_mode: Vec<Option<Mode>>,
    /// `defaults.vlan.start_vlan_id`.
    start_id: Option<u16>,
    /// `defaults.vlan.mode`: netlab reads it when deciding which VLANs get a subnet
    /// (`get_global_parameter`) but not for interfaces (`compute_interface_vlan_mode` reads
    /// the top-level `vlan.mode` only).
    defaults_mode: Option<Mode>,
    /// SVIs whose node set its address in the VLAN (a host number, `true`, `false`).
    pub(super) svi_spec: HashMap<IfRef, [EndAf; 2]>,
}

/// How a segment gets its subnet, where the VLAN module decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SegAddr {
    /// As any other link.
    Normal,
    /// The subnet of global VLAN `.0` (else node `.1`'s VLAN `.2`).
    Vlan(VlanKey),
    /// A routed VLAN's own link: from the VLAN's pool, else by its type.
    Routed(Option<String>),
    /// A trunk's untagged side: no subnet.
    NoAddress,
}

/// Where a VLAN is defined: the global `vlans` (index) or a node's (node, index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum VlanKey {
    Global(usize),
    Node(usize, usize),
}

/// A routed VLAN of a trunk: the trunk, the VLAN, the parent interfaces and VLAN ids of its
/// subinterfaces.
type RoutedVlanLink = (LinkId, VlanKey, Vec<(IfRef, u16)>);

/// What the VLAN module decides about a segment's addresses: subnets, unnumbered families,
/// allocation, whether the p2p IPAM policy applies.
pub(super) type VlanSubnet = ([Option<Prefix>; 2], [bool; 2], Option<Allocation>, bool);

/// A link end's VLAN settings: the link's merged under the interface's (`link.vlan +
/// intf.vlan` in `link_pre_transform`).
#[derive(Clone, Debug, Default)]
struct EndVlan {
    access: Option<(String, Span, Path)>,
    native: Option<(String, Span, Path)>,
    mode: Option<Mode>,
    /// Trunk VLANs by name, with a per-VLAN `vlan.mode`.
    trunk: Vec<(String, Option<Mode>, Span, Path)>,
}

impl RawLink {
    /// Whether the link or any end has `vlan` settings.
    pub(super) fn has_vlan(&self) -> bool {
        self.config.contains_key("vlan") || self.ends.iter().any(|e| e.config.contains_key("vlan"))
    }
}

const END_VLAN_KEYS: &[&str] = &["access", "native", "mode", "trunk"];

impl Loader<'_> {
    fn vlan_mode(&mut self, v: &yaml::Node, path: &Path) -> Option<Mode> {
        let text = read_str(v, path, self.diags)?;
        let m = Mode::parse(&text);
        if m.is_none() {
            self.err(
                v.span,
                path,
                format!("unknown VLAN mode `{text}`; modes are: bridge, irb, route"),
            );
        }
        m
    }

    /// `vlan.mode` of a link, an interface or a trunk entry: only `route` (`vlan.yml`: "you can
    /// only use link/intf vlan.mode for routed subinterfaces").
    fn link_vlan_mode(&mut self, v: &yaml::Node, path: &Path) -> Option<Mode> {
        let m = self.vlan_mode(v, path)?;
        if m != Mode::Route {
            self.err(v.span, path, "a link or interface `vlan.mode` can only be `route` (netlab's rule: it makes routed subinterfaces); set bridge or irb in `vlans` or on the node");
            return None;
        }
        Some(m)
    }

    /// A `vlans` mapping (global or a node's); `links` entries are returned for the caller.
    fn vlan_defs<'a>(
        &mut self,
        v: &'a yaml::Node,
        path: &Path,
        links: &mut Vec<(String, &'a yaml::Node, Path)>,
    ) -> Vec<VlanDef> {
        let mut out = Vec::new();
        let Some(map) = v.as_map() else {
            if !v.is_null() {
                self.err(
                    v.span,
                    path,
                    format!("expected a mapping of VLAN names, found {}", v.kind_name()),
                );
            }
            return out;
        };
        for (k, body) in map {
            let Some(name) = read_str(k, path, self.diags) else {
                continue;
            };
            let vpath = path.key(&name);
            if !valid_name(&name) {
                self.err(k.span, &vpath, format!("invalid VLAN name `{name}`: use letters, digits, `_` and `-`, starting with a letter"));
            }
            let mut d = VlanDef {
                name: name.clone(),
                id: None,
                mode: None,
                fixed: [None, None],
                prefix_given: false,
                pool: None,
                span: k.span,
                path: vpath.clone(),
                subnet: [None, None],
                host: [EndAf::Auto; 2],
                addr: [None, None],
                routed_default: false,
            };
            if let Some(mut r) =
                MapReader::new(body, &vpath, self.diags).filter(|_| !body.is_null())
            {
                if let Some(x) = r.take("id") {
                    d.id = read_u64(x, &vpath.key("id"), 1..=4094, self.diags).map(|x| x as u16);
                }
                if let Some(x) = r.take("vni") {
                    self.ignore(
                        x.span,
                        &vpath.key("vni"),
                        "a VXLAN VNI only matters to the vxlan module",
                    );
                }
                if let Some(x) = r.take("mode") {
                    d.mode = self.vlan_mode(x, &vpath.key("mode"));
                }
                if let Some(x) = r.take("pool") {
                    d.pool = read_str(x, &vpath.key("pool"), self.diags)
                        .map(|p| (p, x.span, vpath.key("pool")));
                }
                if let Some(x) = r.take("prefix") {
                    let ppath = vpath.key("prefix");
                    d.prefix_given = true;
                    if x.as_scalar().is_some() {
                        let p = self.subnet_prefix(x, &ppath, None);
                        if let Some(p) = p {
                            d.fixed[usize::from(p.family() == Family::Ipv6)] = Some(p);
                        }
                    } else if let Some(mut pr) = MapReader::new(x, &ppath, self.diags) {
                        for (fi, (key, fam)) in [("ipv4", Family::Ipv4), ("ipv6", Family::Ipv6)]
                            .into_iter()
                            .enumerate()
                        {
                            if let Some(y) = pr.take(key) {
                                d.fixed[fi] = self.subnet_prefix(y, &ppath.key(key), Some(fam));
                            }
                        }
                        pr.finish(&["ipv4", "ipv6"], self.diags);
                    }
                }
                for (fi, (key, fam)) in [("ipv4", Family::Ipv4), ("ipv6", Family::Ipv6)]
                    .into_iter()
                    .enumerate()
                {
                    let Some(x) = r.take(key) else { continue };
                    match x.as_scalar() {
                        Some(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                            d.host[fi] = t.parse().map(EndAf::Host).unwrap_or(EndAf::Off);
                        }
                        Some("false") => d.host[fi] = EndAf::Off,
                        Some("true") => d.host[fi] = EndAf::On,
                        _ => {
                            d.addr[fi] = self
                                .usable(x, &vpath.key(key), fam, None, false)
                                .map(|a| a.0)
                        }
                    }
                }
                if let Some(x) = r.take("links") {
                    let lpath = vpath.key("links");
                    if x.as_seq().is_some() {
                        links.push((name.clone(), x, lpath));
                    } else {
                        self.err(
                            x.span,
                            &lpath,
                            format!("expected a list of links, found {}", x.kind_name()),
                        );
                    }
                }
                // netlab lets a VLAN carry link and interface attributes (an OSPF cost, a
                // role); nettwin reads the VLAN's own ones.
                for (k2, _) in r.take_rest() {
                    let key = k2.as_scalar().unwrap_or_default();
                    self.ignore(k2.span, &vpath.key(key), "link attributes set in a VLAN definition are not applied to the VLAN's interfaces by nettwin");
                }
            }
            out.push(d);
        }
        out
    }

    /// The global `vlans`, and the `vlan` settings of the top level and of `defaults` (the
    /// module's defaults: `mode`, `start_vlan_id`; `get_global_parameter`); returns the
    /// `links` lists.
    pub(super) fn read_global_vlans<'a>(
        &mut self,
        vlans: Option<&'a yaml::Node>,
        top_config: &ModuleConfig,
        defaults: Option<&yaml::Node>,
    ) -> Vec<(String, &'a yaml::Node, Path)> {
        let mut links = Vec::new();
        if let Some(v) = vlans {
            self.vlans.global = self.vlan_defs(v, &Path::root().key("vlans"), &mut links);
        }
        if let Some(v) = defaults.and_then(|d| d.get("vlan")) {
            let (mode, start) = self.vlan_settings(v, &Path::root().key("defaults").key("vlan"));
            self.vlans.defaults_mode = mode;
            self.vlans.start_id = start;
        }
        if let Some(v) = top_config.get("vlan") {
            let (mode, _) = self.vlan_settings(v, &Path::root().key("vlan"));
            self.vlans.global_mode = mode;
        }
        links
    }

    /// `vlan` on a node, the top level or `defaults`: `mode`, `start_vlan_id` (which only
    /// `defaults.vlan` sets: netlab's `vlan.yml` does not propagate it).
    fn vlan_settings(&mut self, v: &yaml::Node, path: &Path) -> (Option<Mode>, Option<u16>) {
        let Some(mut r) = MapReader::new(v, path, self.diags) else {
            return (None, None);
        };
        let m = r
            .take("mode")
            .and_then(|x| self.vlan_mode(x, &path.key("mode")));
        let start = r.take("start_vlan_id").and_then(|x| {
            read_u64(x, &path.key("start_vlan_id"), 1..=4094, self.diags).map(|x| x as u16)
        });
        if path.as_str() == "defaults.vlan" {
            // The rest of the module's defaults (`warnings`, `attributes`, `features`).
            for (k, _) in r.take_rest() {
                let key = k.as_scalar().unwrap_or_default();
                self.ignore(k.span, &path.key(key), "vlan module settings other than `mode` and `start_vlan_id` change nothing nettwin computes");
            }
        }
        r.finish(&["mode", "start_vlan_id"], self.diags);
        (m, start)
    }

    /// A node's `vlans` (its own, else its groups'; netlab exports group VLANs to members) and
    /// `vlan.mode`.
    pub(super) fn read_node_vlans(&mut self, sources: &Sources, node: &Node) {
        let mut links = Vec::new();
        let defs = match attr(sources, "vlans") {
            Some((v, p)) => self.vlan_defs(v, &p, &mut links),
            None => Vec::new(),
        };
        for (_, x, p) in links {
            self.err(x.span, &p, "`links` belongs in a global VLAN definition (netlab's `create_vlan_access_links` reads only those)");
        }
        let mode = node.config.get("vlan").cloned().and_then(|v| {
            self.vlan_settings(&v, &Path::root().key("nodes").key(&node.name).key("vlan"))
                .0
        });
        self.vlans.node.push(defs);
        self.vlans.node_mode.push(mode);
    }

    /// The links listed in `vlans.X.links`, each an access link of X (`create_vlan_access_links`).
    pub(super) fn vlan_access_links(
        &mut self,
        lists: Vec<(String, &yaml::Node, Path)>,
        index: &HashMap<String, NodeId>,
        default_link: Option<&yaml::Node>,
        raw_links: &mut Vec<RawLink>,
    ) {
        for (name, list, path) in lists {
            for (i, item) in list.as_seq().unwrap_or_default().iter().enumerate() {
                let Some(mut l) = self.link(item, &path.index(i), index, default_link) else {
                    continue;
                };
                let span = item.span;
                let access = yaml::Node {
                    value: Value::Map(vec![(
                        yaml::Node {
                            value: Value::Scalar {
                                text: "access".into(),
                                quoted: false,
                            },
                            span,
                        },
                        yaml::Node {
                            value: Value::Scalar {
                                text: name.clone(),
                                quoted: false,
                            },
                            span,
                        },
                    )]),
                    span,
                };
                l.config.insert("vlan".into(), Arc::new(access));
                raw_links.push(l);
            }
        }
    }

    /// VLAN ids as netlab gives them: written ids kept, the rest from 1000 on, global VLANs
    /// first; a node VLAN that is also global is the global one.
    fn assign_vlan_ids(&mut self) {
        let mut used: HashMap<u16, Path> = HashMap::new();
        let mut dups = Vec::new();
        let global_names: HashMap<String, usize> = self
            .vlans
            .global
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        for d in &self.vlans.global {
            if let Some(id) = d.id {
                if let Some(p) = used.insert(id, d.path.clone()) {
                    dups.push((d.span, d.path.clone(), id, p));
                }
            }
        }
        for defs in &self.vlans.node {
            for d in defs {
                let Some(id) = d.id else { continue };
                match global_names.get(&d.name) {
                    Some(&g) if self.vlans.global[g].id.is_some_and(|x| x != id) => {
                        let gp = self.vlans.global[g].path.clone();
                        dups.push((d.span, d.path.clone(), id, gp));
                    }
                    Some(_) => {}
                    None => {
                        if let Some(p) = used.insert(id, d.path.clone()) {
                            dups.push((d.span, d.path.clone(), id, p));
                        }
                    }
                }
            }
        }
        for (span, path, id, other) in dups {
            self.err(span, &path, format!("VLAN id {id} is also used at `{other}`: VLAN ids are global (netlab's VLAN connectivity model)"));
        }
        let mut next = self.vlans.start_id.unwrap_or(START_VLAN_ID);
        // The next free id, none past 4094 (`set_id_counter(..., 4094)`).
        let mut take = |used: &mut HashMap<u16, Path>, path: &Path| -> Option<u16> {
            while used.contains_key(&next) {
                next += 1;
            }
            if next > 4094 {
                return None;
            }
            used.insert(next, path.clone());
            Some(next)
        };
        let mut exhausted: Vec<(Span, Path)> = Vec::new();
        for d in &mut self.vlans.global {
            if d.id.is_none() {
                d.id = take(&mut used, &d.path);
                if d.id.is_none() {
                    exhausted.push((d.span, d.path.clone()));
                }
            }
        }
        for defs in &mut self.vlans.node {
            for d in defs.iter_mut() {
                if let Some(&g) = global_names.get(&d.name) {
                    d.id = self.vlans.global[g].id;
                } else if d.id.is_none() {
                    d.id = take(&mut used, &d.path);
                    if d.id.is_none() {
                        exhausted.push((d.span, d.path.clone()));
                    }
                }
            }
        }
        if let Some((span, path)) = exhausted.first() {
            let msg = format!("no VLAN id is left for this VLAN (and {} more): automatic ids run from `defaults.vlan.start_vlan_id` to 4094", exhausted.len() - 1);
            self.err(*span, path, msg);
        }
    }

    /// The definition a node uses for VLAN `name`: its own, else the global one.
    fn vlan_key(&self, node: usize, name: &str) -> Option<VlanKey> {
        if let Some(i) = self
            .vlans
            .node
            .get(node)
            .and_then(|d| d.iter().position(|x| x.name == name))
        {
            if let Some(g) = self.vlans.global.iter().position(|x| x.name == name) {
                // A node VLAN that is also global is the same broadcast domain.
                return Some(VlanKey::Global(g));
            }
            return Some(VlanKey::Node(node, i));
        }
        self.vlans
            .global
            .iter()
            .position(|x| x.name == name)
            .map(VlanKey::Global)
    }

    fn def(&self, k: VlanKey) -> &VlanDef {
        match k {
            VlanKey::Global(i) => &self.vlans.global[i],
            VlanKey::Node(n, i) => &self.vlans.node[n][i],
        }
    }

    fn vid(&self, k: VlanKey) -> u16 {
        self.def(k).id.unwrap_or(1)
    }

    /// The mode node `node` uses for VLAN `name` with the interface's and link's `vlan.mode`
    /// (`compute_interface_vlan_mode`).
    fn mode_for(&self, node: &Node, name: &str, intf: Option<Mode>) -> Mode {
        if node.kind == NodeKind::Switch {
            return Mode::Bridge;
        }
        let ni = node.id.index();
        let own = self.vlans.node[ni]
            .iter()
            .find(|d| d.name == name)
            .and_then(|d| d.mode);
        let global = self
            .vlans
            .global
            .iter()
            .find(|d| d.name == name)
            .and_then(|d| d.mode);
        intf.or(own)
            .or(self.vlans.node_mode[ni])
            .or(global)
            .or(self.vlans.global_mode)
            .unwrap_or(Mode::Irb)
    }

    /// One `vlan` section of a link or an end, read into `out` (end settings win).
    fn end_vlan(&mut self, v: &yaml::Node, path: &Path, out: &mut EndVlan) {
        let Some(mut r) = MapReader::new(v, path, self.diags) else {
            return;
        };
        for key in ["access", "native"] {
            if let Some(x) = r.take(key) {
                if let Some(name) = read_str(x, &path.key(key), self.diags) {
                    let val = Some((name, x.span, path.key(key)));
                    if key == "access" {
                        out.access = val;
                    } else {
                        out.native = val;
                    }
                }
            }
        }
        if let Some(x) = r.take("mode") {
            out.mode = self.link_vlan_mode(x, &path.key("mode"));
        }
        if let Some(x) = r.take("trunk") {
            let tpath = path.key("trunk");
            match &x.value {
                Value::Seq(items) => {
                    for (i, it) in items.iter().enumerate() {
                        if let Some(name) = read_str(it, &tpath.index(i), self.diags) {
                            if !out.trunk.iter().any(|t| t.0 == name) {
                                out.trunk.push((name, None, it.span, tpath.index(i)));
                            }
                        }
                    }
                }
                Value::Map(entries) => {
                    for (k, body) in entries {
                        let Some(name) = read_str(k, &tpath, self.diags) else {
                            continue;
                        };
                        let epath = tpath.key(&name);
                        // `vlan.mode` of one VLAN of the trunk; other interface attributes of a
                        // routed subinterface are netlab's, not modelled.
                        let mut mode = None;
                        if let Some(m) = body.get("vlan").and_then(|v| v.get("mode")) {
                            mode = self.vlan_mode(m, &epath.key("vlan").key("mode"));
                        }
                        match out.trunk.iter_mut().find(|t| t.0 == name) {
                            Some(t) => t.1 = mode.or(t.1),
                            None => out.trunk.push((name, mode, k.span, epath)),
                        }
                    }
                }
                _ => self.err(
                    x.span,
                    &tpath,
                    format!(
                        "expected a list or a mapping of VLAN names, found {}",
                        x.kind_name()
                    ),
                ),
            }
        }
        for (k, _) in r.take_rest() {
            let key = k.as_scalar().unwrap_or_default();
            let near = yaml::closest(key, END_VLAN_KEYS)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            self.err(k.span, &path.key(key), format!("unknown VLAN attribute `{key}`{near}; VLAN attributes of links and interfaces are: {}", END_VLAN_KEYS.join(", ")));
        }
    }

    /// Rebuilds the segments of links with VLAN settings: bridge ports, SVIs, subinterfaces,
    /// one segment per VLAN. Runs once interfaces exist, before any subnet is fixed or
    /// allocated; `seg_fixed` follows the new segment list.
    pub(super) fn apply_vlans(
        &mut self,
        topo: &mut Topology,
        raw_links: &[RawLink],
        seg_fixed: &mut Vec<[FixedSubnet; 2]>,
    ) {
        self.assign_vlan_ids();
        // `vlans` needs the module (`vlan.yml`: `_requires: [vlan]`); a switch is a bridge
        // without it.
        let uses = |n: &Node| n.modules.iter().any(|m| m == "vlan");
        if let Some(d) = self.vlans.global.first() {
            if !topo
                .nodes
                .iter()
                .any(|n| uses(n) || n.kind == NodeKind::Switch)
            {
                let (span, path) = (d.span, Path::root().key("vlans"));
                self.err(span, &path, "`vlans` needs the vlan module, which no node uses; add `module: [vlan]` to the nodes that bridge or route VLANs");
            }
        }
        for n in &topo.nodes {
            if let Some(d) = self.vlans.node[n.id.index()].first() {
                if !uses(n) && n.kind != NodeKind::Switch {
                    let (span, path) =
                        (d.span, Path::root().key("nodes").key(&n.name).key("vlans"));
                    let msg = format!("`vlans` on node `{}` needs the vlan module on that node (`module: [vlan]`)", n.name);
                    self.err(span, &path, msg);
                }
            }
        }
        let n_seg = topo.segments.len();
        self.vlan_seg = vec![SegAddr::Normal; n_seg];
        if !raw_links.iter().any(RawLink::has_vlan) {
            return;
        }
        let aware: Vec<bool> = topo
            .nodes
            .iter()
            .map(|n| match n.kind {
                NodeKind::Host => false,
                NodeKind::Switch => true,
                _ => n.modules.iter().any(|m| m == "vlan"),
            })
            .collect();
        // One segment per VLAN, created at first use.
        let mut vlan_segment: HashMap<VlanKey, SegmentId> = HashMap::new();
        // Per node: the SVIs to add, in order of first use.
        let mut svis: Vec<Vec<(VlanKey, LinkId)>> = vec![Vec::new(); topo.nodes.len()];
        // Routed VLAN links, appended after every other segment (netlab appends its VLAN member
        // links after the physical ones).
        let mut routed: Vec<RoutedVlanLink> = Vec::new();
        let new_segment =
            |topo: &mut Topology, seg_fixed: &mut Vec<[FixedSubnet; 2]>, kind, vid| {
                let sid = SegmentId(topo.segments.len() as u32);
                topo.segments.push(Segment {
                    id: sid,
                    kind,
                    links: Vec::new(),
                    switches: Vec::new(),
                    members: Vec::new(),
                    ipv4: None,
                    ipv6: None,
                    vlan: Some(vid),
                });
                seg_fixed.push([None, None]);
                sid
            };

        for (li, l) in raw_links.iter().enumerate() {
            if !l.has_vlan() {
                continue;
            }
            let lid = LinkId(li as u32);
            let own_seg = topo.links[li].segment;
            // Each end's settings, the link's merged under the interface's; only VLAN-aware
            // nodes read them.
            let mut ends: Vec<Option<EndVlan>> = Vec::new();
            for e in &l.ends {
                let ni = e.node.index();
                let mut ev = EndVlan::default();
                if let Some(v) = l.config.get("vlan") {
                    self.end_vlan(v, &l.path.key("vlan"), &mut ev);
                }
                if let Some(v) = e.config.get("vlan") {
                    self.end_vlan(v, &e.path.key("vlan"), &mut ev);
                }
                // An interface without VLAN settings is a plain interface, also on a VLAN-aware
                // node (`get_vlan_interface_mode`): it joins the link's VLAN with an address.
                if !aware[ni] || (ev.access.is_none() && ev.native.is_none() && ev.trunk.is_empty())
                {
                    ends.push(None);
                    continue;
                }
                // Names must be defined (globally or on the node).
                let check = |this: &mut Self, name: &str, span: Span, path: &Path| {
                    if this.vlan_key(ni, name).is_none() {
                        let names: Vec<&str> = this
                            .vlans
                            .global
                            .iter()
                            .chain(this.vlans.node[ni].iter())
                            .map(|d| d.name.as_str())
                            .collect();
                        let near = yaml::closest(name, &names)
                            .map(|n| format!(" (did you mean `{n}`?)"))
                            .unwrap_or_default();
                        this.err(span, path, format!("VLAN `{name}` is not defined{near}: define it in the global `vlans` or node `{}`'s", topo.nodes[ni].name));
                        false
                    } else {
                        true
                    }
                };
                let mut ok = true;
                for (name, span, path) in ev.access.iter().chain(ev.native.iter()) {
                    ok &= check(self, name, *span, path);
                }
                for (name, _, span, path) in &ev.trunk {
                    ok &= check(self, name, *span, path);
                }
                if let Some((n, span, path)) = &ev.native {
                    if !ev.trunk.iter().any(|t| &t.0 == n) {
                        self.err(*span, path, format!("native VLAN `{n}` must be one of the trunk's VLANs (netlab's trunk rules)"));
                        ok = false;
                    }
                }
                if let (Some((_, span, path)), false) = (&ev.access, ev.trunk.is_empty()) {
                    self.err(*span, path, "a port is an access port or a trunk, not both; use `vlan.native` for the untagged VLAN of a trunk");
                    ok = false;
                }
                ends.push(ok.then_some(ev));
            }
            // The untagged VLAN of the link: the access or native VLAN, which must agree.
            let mut untagged: Option<(String, Span, Path)> = None;
            for ev in &ends {
                let Some(ev) = ev else { continue };
                let Some(u) = ev.access.clone().or(ev.native.clone()) else {
                    continue;
                };
                match &untagged {
                    Some(first) if first.0 != u.0 => {
                        let msg = format!("VLAN `{}` differs from `{}` at `{}`: all VLAN-aware nodes on a link use the same access or native VLAN", u.0, first.0, first.2);
                        self.err(u.1, &u.2, msg);
                    }
                    Some(_) => {}
                    None => untagged = Some(u),
                }
            }
            let node_of = |ei: usize| l.ends[ei].node.index();
            let link_ends = topo.links[li].ends.clone();
            let ifref = |ei: usize| link_ends[ei];

            // Untagged VLAN (access or native).
            let mut link_segment = own_seg;
            if let Some((uname, _, _)) = &untagged {
                let modes: Vec<Option<Mode>> = ends
                    .iter()
                    .enumerate()
                    .map(|(ei, ev)| {
                        ev.as_ref()
                            .map(|ev| self.mode_for(&topo.nodes[node_of(ei)], uname, ev.mode))
                    })
                    .collect();
                let all_route = modes.iter().flatten().all(|m| *m == Mode::Route)
                    && modes.iter().flatten().count() > 0;
                let is_native = ends.iter().flatten().any(|ev| ev.native.is_some());
                if all_route {
                    // `routed_access_vlan`: an ordinary routed link; a trunk's ports still carry
                    // their tagged VLANs (`cleanup_routed_native_vlan`).
                    if is_native {
                        for (ei, ev) in ends.iter().enumerate() {
                            if ev.is_some() {
                                let iface = &mut topo.nodes[node_of(ei)].interfaces
                                    [ifref(ei).index as usize];
                                iface.vlan = Some(VlanIf::Port {
                                    pvid: None,
                                    tagged: Vec::new(),
                                });
                            }
                        }
                    }
                } else {
                    // Every end's node defines the VLAN the same way for a global VLAN; a
                    // node-only VLAN takes the first aware end's definition.
                    let Some(key) = (0..ends.len())
                        .filter(|ei| ends[*ei].is_some())
                        .find_map(|ei| self.vlan_key(node_of(ei), uname))
                    else {
                        continue;
                    };
                    let vid = self.vid(key);
                    let sid = *vlan_segment
                        .entry(key)
                        .or_insert_with(|| new_segment(topo, seg_fixed, SegmentKind::Lan, vid));
                    self.vlan_join_link(topo, sid, lid);
                    link_segment = sid;
                    for (ei, ev) in ends.iter().enumerate() {
                        let r = ifref(ei);
                        let mode = modes[ei];
                        match (ev, mode) {
                            (Some(_), Some(Mode::Bridge | Mode::Irb)) => {
                                self.vlan_port(topo, r, Some(vid), &[], &l.ends[ei]);
                                let seg = &mut topo.segments[sid.index()];
                                if !seg.switches.contains(&r.node) {
                                    seg.switches.push(r.node);
                                }
                                if mode == Some(Mode::Irb)
                                    && topo.nodes[r.node.index()].kind.is_ip()
                                    && !svis[r.node.index()].iter().any(|s| s.0 == key)
                                {
                                    svis[r.node.index()].push((key, lid));
                                }
                            }
                            _ if !topo.nodes[r.node.index()].kind.is_ip() => {
                                // A switch port without VLAN settings bridges the link's
                                // untagged frames: it is in the link's VLAN.
                                self.vlan_port(topo, r, Some(vid), &[], &l.ends[ei]);
                                let seg = &mut topo.segments[sid.index()];
                                if !seg.switches.contains(&r.node) {
                                    seg.switches.push(r.node);
                                }
                            }
                            _ => {
                                // A node that is not VLAN-aware, or routes the VLAN: its
                                // interface is on the VLAN (`set_link_vlan_prefix`).
                                self.vlan_move(topo, r, sid);
                            }
                        }
                    }
                }
            } else {
                // A trunk without native VLAN: no untagged subnet (`set_link_vlan_prefix`).
                let trunked = ends.iter().flatten().any(|ev| !ev.trunk.is_empty());
                if trunked && !l.prefix_given && l.pool.is_none() && l.role.is_none() {
                    self.vlan_seg[own_seg.index()] = SegAddr::NoAddress;
                }
                // VLAN-aware ends of a trunk bridge; they have no untagged address.
                for (ei, ev) in ends.iter().enumerate() {
                    if ev.as_ref().is_some_and(|ev| !ev.trunk.is_empty()) {
                        let r = ifref(ei);
                        self.vlan_port(topo, r, None, &[], &l.ends[ei]);
                    }
                }
            }

            // Tagged VLANs, in name order as netlab creates their member links.
            let mut names: Vec<String> = ends
                .iter()
                .flatten()
                .flat_map(|ev| ev.trunk.iter().map(|t| t.0.clone()))
                .collect();
            names.sort();
            names.dedup();
            let native = untagged.as_ref().map(|u| u.0.clone());
            for name in names {
                if Some(&name) == native.as_ref() {
                    continue;
                }
                let carriers: Vec<(usize, Mode)> = ends
                    .iter()
                    .enumerate()
                    .filter_map(|(ei, ev)| {
                        let ev = ev.as_ref()?;
                        let t = ev.trunk.iter().find(|t| t.0 == name)?;
                        Some((
                            ei,
                            self.mode_for(&topo.nodes[node_of(ei)], &name, t.1.or(ev.mode)),
                        ))
                    })
                    .collect();
                let Some(key) = carriers
                    .first()
                    .and_then(|(ei, _)| self.vlan_key(node_of(*ei), &name))
                else {
                    continue;
                };
                let vid = self.vid(key);
                let all_route = carriers.iter().all(|c| c.1 == Mode::Route);
                let mut subifs: Vec<(IfRef, u16)> = Vec::new();
                for &(ei, mode) in &carriers {
                    let r = ifref(ei);
                    if mode == Mode::Route {
                        // The subinterface tags; the parent does not bridge the VLAN.
                        subifs.push((r, vid));
                    } else {
                        self.vlan_tag(topo, r, vid);
                    }
                }
                if all_route {
                    routed.push((lid, key, subifs));
                    continue;
                }
                let sid = *vlan_segment
                    .entry(key)
                    .or_insert_with(|| new_segment(topo, seg_fixed, SegmentKind::Lan, vid));
                self.vlan_join_link(topo, sid, lid);
                for &(ei, mode) in &carriers {
                    let r = ifref(ei);
                    match mode {
                        Mode::Route => {
                            let s = self.vlan_subif(topo, r, vid);
                            self.vlan_move(topo, s, sid);
                        }
                        _ => {
                            let seg = &mut topo.segments[sid.index()];
                            if !seg.switches.contains(&r.node) {
                                seg.switches.push(r.node);
                            }
                            if mode == Mode::Irb
                                && topo.nodes[r.node.index()].kind.is_ip()
                                && !svis[r.node.index()].iter().any(|s| s.0 == key)
                            {
                                svis[r.node.index()].push((key, lid));
                            }
                        }
                    }
                }
            }
            topo.links[li].segment = link_segment;
        }

        // Routed VLAN links: one segment each, subinterfaces as members.
        for (lid, key, subifs) in routed {
            let vid = self.vid(key);
            let kind = if subifs.len() == 2 {
                SegmentKind::P2p
            } else {
                SegmentKind::Lan
            };
            let sid = new_segment(topo, seg_fixed, kind, vid);
            topo.segments[sid.index()].links.push(lid);
            for (r, vid) in subifs {
                let s = self.vlan_subif(topo, r, vid);
                self.vlan_move(topo, s, sid);
            }
            let pool = self.def(key).pool.as_ref().map(|p| p.0.clone());
            self.vlan_seg.resize(topo.segments.len(), SegAddr::Normal);
            self.vlan_seg[sid.index()] = SegAddr::Routed(pool);
        }
        // netlab also gives a node an SVI for each irb VLAN of its own `vlans` that none of its
        // interfaces carries (`create_loopback_vlan_links`, for VXLAN designs); nettwin does not.
        for n in &topo.nodes {
            let ni = n.id.index();
            if !aware[ni] || !n.kind.is_ip() {
                continue;
            }
            let defs = self.vlans.node[ni].clone();
            for d in &defs {
                let Some(key) = self.vlan_key(ni, &d.name) else {
                    continue;
                };
                let vid = self.vid(key);
                let carried = svis[ni].iter().any(|s| s.0 == key)
                    || n.interfaces.iter().any(|i| match &i.vlan {
                        Some(v @ VlanIf::Port { .. }) => v.carries(vid),
                        Some(VlanIf::Subif { vid: x, .. }) => *x == vid,
                        _ => false,
                    });
                if !carried && self.mode_for(n, &d.name, None) == Mode::Irb {
                    self.notices
                        .push((Notice::VlanWithoutPort, d.span, d.path.clone()));
                }
            }
        }
        // SVIs, after the physical interfaces and subinterfaces (netlab's order).
        for (ni, list) in svis.into_iter().enumerate() {
            for (key, lid) in list {
                let vid = self.vid(key);
                let sid = vlan_segment[&key];
                let own = self.vlans.node[ni]
                    .iter()
                    .find(|d| d.name == self.def(key).name);
                let (host, addr) =
                    own.map_or(([EndAf::Auto; 2], [None, None]), |d| (d.host, d.addr));
                let node = &mut topo.nodes[ni];
                let r = IfRef {
                    node: node.id,
                    index: node.interfaces.len() as u32,
                };
                if host != [EndAf::Auto; 2] {
                    self.vlans.svi_spec.insert(r, host);
                }
                node.interfaces.push(Interface {
                    name: format!("vlan{vid}"),
                    link: lid,
                    segment: Some(sid),
                    ipv4: addr[0],
                    ipv6: addr[1],
                    ipv4_unnumbered: false,
                    ipv6_lla: false,
                    mtu: node.mtu,
                    up: true,
                    cost: None,
                    bandwidth: None,
                    vlan: Some(VlanIf::Svi { vid }),
                    vrf: None,
                    config: ModuleConfig::new(),
                });
                topo.segments[sid.index()].members.push(r);
            }
        }
        self.vlan_seg.resize(topo.segments.len(), SegAddr::Normal);
        for (key, sid) in &vlan_segment {
            self.vlan_seg[sid.index()] = SegAddr::Vlan(*key);
            let d = self.def(*key);
            for (fi, p) in d.fixed.iter().enumerate() {
                if let Some(p) = p {
                    seg_fixed[sid.index()][fi] = Some((*p, d.span, d.path.key("prefix")));
                }
            }
        }
        for s in &mut topo.segments {
            s.links.sort();
            s.links.dedup();
        }
        self.compact_segments(topo, seg_fixed);
    }

    /// Drops the segments the VLANs emptied (an access link's own, now its VLAN's) and
    /// renumbers the rest, keeping ids dense.
    fn compact_segments(&mut self, topo: &mut Topology, seg_fixed: &mut Vec<[FixedSubnet; 2]>) {
        let mut used = vec![false; topo.segments.len()];
        for l in &topo.links {
            used[l.segment.index()] = true;
        }
        for s in &topo.segments {
            if !s.members.is_empty() {
                used[s.id.index()] = true;
            }
        }
        let mut map: Vec<Option<SegmentId>> = Vec::with_capacity(used.len());
        let mut next = 0u32;
        for u in &used {
            map.push(u.then(|| {
                next += 1;
                SegmentId(next - 1)
            }));
        }
        fn keep<T>(v: &mut Vec<T>, used: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                used[i - 1]
            });
        }
        keep(&mut topo.segments, &used);
        keep(seg_fixed, &used);
        keep(&mut self.vlan_seg, &used);
        for s in &mut topo.segments {
            s.id = map[s.id.index()].expect("kept");
        }
        for l in &mut topo.links {
            l.segment = map[l.segment.index()].expect("a link's segment is kept");
        }
        for n in &mut topo.nodes {
            for i in &mut n.interfaces {
                i.segment = i.segment.and_then(|s| map[s.index()]);
            }
        }
    }

    fn vlan_join_link(&mut self, topo: &mut Topology, sid: SegmentId, lid: LinkId) {
        let seg = &mut topo.segments[sid.index()];
        if !seg.links.contains(&lid) {
            seg.links.push(lid);
        }
    }

    /// Makes `r` a bridge port (its untagged VLAN `pvid`), out of its old segment.
    fn vlan_port(
        &mut self,
        topo: &mut Topology,
        r: IfRef,
        pvid: Option<u16>,
        tagged: &[u16],
        end: &RawEnd,
    ) {
        if let Some(old) = topo.interface(r).segment {
            topo.segments[old.index()].members.retain(|m| *m != r);
        }
        if let Some((_, span)) = end.ipv4.or(end.ipv6) {
            let msg = format!("`{}` is a bridge port of a VLAN on node `{}`: it has no address (the node's address in the VLAN is on its SVI)", topo.interface(r).name, topo.node(r.node).name);
            self.err(span, &end.path, msg);
        }
        let iface = &mut topo.nodes[r.node.index()].interfaces[r.index as usize];
        iface.segment = None;
        iface.ipv4 = None;
        iface.ipv6 = None;
        match &mut iface.vlan {
            Some(VlanIf::Port { pvid: p, tagged: t }) => {
                *p = p.or(pvid);
                t.extend_from_slice(tagged);
            }
            _ => {
                iface.vlan = Some(VlanIf::Port {
                    pvid,
                    tagged: tagged.to_vec(),
                });
            }
        }
    }

    /// Adds VLAN `vid` to the tagged VLANs of the trunk port `r`.
    fn vlan_tag(&mut self, topo: &mut Topology, r: IfRef, vid: u16) {
        let iface = &mut topo.nodes[r.node.index()].interfaces[r.index as usize];
        if let Some(VlanIf::Port { tagged, .. }) = &mut iface.vlan {
            if !tagged.contains(&vid) {
                tagged.push(vid);
            }
        }
    }

    /// Moves interface `r` onto segment `sid` as an IP member.
    fn vlan_move(&mut self, topo: &mut Topology, r: IfRef, sid: SegmentId) {
        if let Some(old) = topo.interface(r).segment {
            topo.segments[old.index()].members.retain(|m| *m != r);
        }
        topo.nodes[r.node.index()].interfaces[r.index as usize].segment = Some(sid);
        let seg = &mut topo.segments[sid.index()];
        if !seg.members.contains(&r) {
            seg.members.push(r);
        }
    }

    /// The routed subinterface `parent.vid` (created once).
    fn vlan_subif(&mut self, topo: &mut Topology, parent: IfRef, vid: u16) -> IfRef {
        let node = &mut topo.nodes[parent.node.index()];
        let p = &node.interfaces[parent.index as usize];
        let name = format!("{}.{vid}", p.name);
        if let Some((i, _)) = node.interface(&name) {
            return IfRef {
                node: node.id,
                index: i,
            };
        }
        let iface = Interface {
            name,
            link: p.link,
            segment: None,
            ipv4: None,
            ipv6: None,
            ipv4_unnumbered: false,
            ipv6_lla: false,
            mtu: p.mtu,
            up: p.up,
            cost: p.cost,
            bandwidth: p.bandwidth,
            vrf: None,
            vlan: Some(VlanIf::Subif {
                vid,
                parent: parent.index,
            }),
            config: ModuleConfig::new(),
        };
        node.interfaces.push(iface);
        IfRef {
            node: node.id,
            index: node.interfaces.len() as u32 - 1,
        }
    }

    /// VLAN subnets, before any link takes one (`validate_vlan_attributes` runs in netlab's
    /// module pre-transform): every global VLAN not routed by default, then every node-only
    /// VLAN not routed, each from its `pool`, else `vlan`, else `lan`.
    pub(super) fn allocate_vlan_subnets(
        &mut self,
        pools: &Pools,
        cursors: &mut HashMap<(usize, usize), u128>,
        reserved: &[(Prefix, Path)],
    ) {
        let mut keys: Vec<VlanKey> = (0..self.vlans.global.len()).map(VlanKey::Global).collect();
        for (ni, defs) in self.vlans.node.iter().enumerate() {
            for (i, d) in defs.iter().enumerate() {
                if !self.vlans.global.iter().any(|g| g.name == d.name) {
                    keys.push(VlanKey::Node(ni, i));
                }
            }
        }
        for key in keys {
            let (mode, prefix_given, fixed, pool, span, path) = {
                let d = self.def(key);
                let global = self.vlans.global_mode.or(self.vlans.defaults_mode);
                let default = match key {
                    VlanKey::Global(_) => global,
                    VlanKey::Node(n, _) => self.vlans.node_mode[n].or(global),
                };
                (
                    d.mode.or(default).unwrap_or(Mode::Irb),
                    d.prefix_given,
                    d.fixed,
                    d.pool.clone(),
                    d.span,
                    d.path.clone(),
                )
            };
            if mode == Mode::Route {
                match key {
                    VlanKey::Global(i) => self.vlans.global[i].routed_default = true,
                    VlanKey::Node(n, i) => self.vlans.node[n][i].routed_default = true,
                }
                if prefix_given {
                    self.err(span, &path.key("prefix"), format!("routed VLAN `{}` cannot have a prefix: each of its links takes its own subnet; use `pool` to choose where from", self.def(key).name));
                }
                continue;
            }
            let subnet = if prefix_given {
                fixed
            } else {
                let mut candidates: Vec<&str> = Vec::new();
                if let Some((p, pspan, ppath)) = &pool {
                    if pools.get(p).is_none() {
                        self.err(*pspan, ppath, format!("unknown address pool `{p}`"));
                    }
                    candidates.push(p);
                }
                candidates.extend(["vlan", "lan"]);
                let Some(pi) = candidates.iter().find_map(|c| pools.index(c)) else {
                    continue;
                };
                let pool = &pools.pools[pi];
                let mut out = [None, None];
                for (fi, slot) in out.iter_mut().enumerate() {
                    if let Some(PoolAf::Prefix(base)) = pool.af(fi) {
                        let len = pool.len(fi);
                        let c = cursors
                            .entry((pi, fi))
                            .or_insert(u128::from(pool.skips_first(fi)));
                        match next_free(base, len, c, reserved, None) {
                            Some(p) => *slot = Some(p),
                            None => {
                                let msg =
                                    pool_exhausted(&pool.name, base, len, "this VLAN", reserved);
                                self.err(span, &path, msg);
                            }
                        }
                    }
                }
                out
            };
            match key {
                VlanKey::Global(i) => self.vlans.global[i].subnet = subnet,
                VlanKey::Node(n, i) => self.vlans.node[n][i].subnet = subnet,
            }
        }
    }

    /// Where errors about the addresses of segment `si` point: its VLAN's definition.
    pub(super) fn vlan_place(&self, si: usize) -> Option<(Span, Path)> {
        match self.vlan_seg.get(si)? {
            SegAddr::Vlan(key) => {
                let d = self.def(*key);
                Some((d.span, d.path.clone()))
            }
            _ => None,
        }
    }

    /// The subnet, unnumbered families, allocation and whether the p2p IPAM policy applies, of
    /// segment `si` where the VLAN module decides them: `None` for an ordinary segment,
    /// `Some(None)` for no subnet at all.
    pub(super) fn vlan_subnet(
        &mut self,
        si: usize,
        pools: &Pools,
        cursors: &mut HashMap<(usize, usize), u128>,
        reserved: &[(Prefix, Path)],
        two_nodes: bool,
        link: &RawLink,
    ) -> Option<Option<VlanSubnet>> {
        let (span, path) = (link.span, &link.path);
        match self.vlan_seg.get(si).cloned().unwrap_or(SegAddr::Normal) {
            SegAddr::Normal => None,
            SegAddr::NoAddress => Some(None),
            // A bridged VLAN that got no subnet (routed by `defaults.vlan.mode` only): netlab
            // addresses its member link like a routed one.
            SegAddr::Vlan(key) if self.def(key).routed_default => {
                let pool = self.def(key).pool.as_ref().map(|p| p.0.clone());
                self.vlan_seg[si] = SegAddr::Routed(pool);
                self.vlan_subnet(si, pools, cursors, reserved, two_nodes, link)
            }
            SegAddr::Vlan(key) => Some(Some((
                self.def(key).subnet,
                [false; 2],
                Some(Allocation::IdBased),
                false,
            ))),
            SegAddr::Routed(pool) => {
                let mut candidates: Vec<&str> = Vec::new();
                if let Some(p) = &pool {
                    candidates.push(p);
                }
                candidates.extend([if two_nodes { "p2p" } else { "lan" }, "lan"]);
                let pi = candidates.iter().find_map(|c| pools.index(c))?;
                let pool = &pools.pools[pi];
                let mut subnet = [None, None];
                let mut unnum = [false; 2];
                for fi in 0..2 {
                    match pool.af(fi) {
                        Some(PoolAf::Prefix(base)) => {
                            let len = pool.len(fi);
                            let c = cursors
                                .entry((pi, fi))
                                .or_insert(u128::from(pool.skips_first(fi)));
                            match next_free(base, len, c, reserved, None) {
                                Some(p) => subnet[fi] = Some(p),
                                None => {
                                    let msg = pool_exhausted(
                                        &pool.name,
                                        base,
                                        len,
                                        "this routed VLAN link",
                                        reserved,
                                    );
                                    self.err(span, path, msg);
                                }
                            }
                        }
                        Some(PoolAf::Unnumbered) => unnum[fi] = true,
                        None => {}
                    }
                }
                // The pool is chosen by the number of nodes, but a VLAN member link is no `p2p`
                // link for the IPAM policy (`get_prefix_IPAM_policy`: by id, else in order).
                Some(Some((subnet, unnum, pool.allocation, false)))
            }
        }
    }
}
