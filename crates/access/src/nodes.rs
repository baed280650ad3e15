//! The nodes file: the tailnet's devices (YAML or JSON list, or a mapping with `users` and
//! `nodes`), with addresses assigned deterministically inside Tailscale's ranges when absent.

use crate::hujson;
use crate::policy::{parse_alias, Alias, Lit};
use nettwin_model::addr::{parse_addr, Prefix};
use nettwin_model::diag::Diagnostics;
use nettwin_model::yaml::{self, MapReader, Node, Path, Value};
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Tailscale's IPv4 range (CGNAT).
pub fn cgnat() -> Prefix {
    "100.64.0.0/10".parse().unwrap()
}

/// Tailscale's IPv6 range.
pub fn ts_ula() -> Prefix {
    "fd7a:115c:a1e0::/48".parse().unwrap()
}

/// Addresses inside CGNAT Tailscale keeps for itself (MagicDNS/TSMP, Quad100/ChromeOS VMs).
pub fn reserved_v4() -> [Prefix; 2] {
    [
        "100.100.100.0/24".parse().unwrap(),
        "100.115.92.0/23".parse().unwrap(),
    ]
}

/// How the device reaches the Internet (used by the overlay-path commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nat {
    None,
    Easy,
    Hard,
    UdpBlocked,
}

/// One device of the tailnet.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    pub name: String,
    /// The owner; `None` for a tagged device.
    pub user: Option<String>,
    pub tags: Vec<String>,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    /// Approved subnet routes given in the file.
    pub routes: Vec<Prefix>,
    /// Advertised subnet routes (approved when `autoApprovers.routes` covers them).
    pub advertised_routes: Vec<Prefix>,
    /// Approved as an exit node in the file.
    pub exit_node: bool,
    pub advertises_exit_node: bool,
    /// Routes this device is the HA primary for, when the file says so.
    pub primary_routes: Vec<Prefix>,
    /// Posture attributes (`node:os`, `node:tsVersion`, `custom:*`).
    pub attrs: BTreeMap<String, Lit>,
    /// Where it sits on the underlay (a topology host), for the overlay-path commands.
    pub host: Option<String>,
    pub nat: Nat,
    pub line: u32,
}

impl Device {
    pub fn is_tagged(&self) -> bool {
        !self.tags.is_empty()
    }

    pub fn addrs(&self) -> [IpAddr; 2] {
        [IpAddr::V4(self.ipv4), IpAddr::V6(self.ipv6)]
    }

    pub fn has_addr(&self, a: IpAddr) -> bool {
        a == IpAddr::V4(self.ipv4) || a == IpAddr::V6(self.ipv6)
    }
}

/// Everything the nodes file says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodesFile {
    pub devices: Vec<Device>,
    /// User roles (`admin`, `owner`, ...), from the optional `users` section.
    pub roles: BTreeMap<String, String>,
    /// Notes on what is accepted but not used by the access commands.
    pub notes: Vec<String>,
}

const NODE_KEYS: &[&str] = &[
    "name",
    "user",
    "tags",
    "ipv4",
    "ipv6",
    "routes",
    "advertised_routes",
    "exit_node",
    "advertises_exit_node",
    "primary_routes",
    "os",
    "posture",
    "host",
    "nat",
];

/// Parses a nodes file (YAML, or JSON/HuJSON when it starts with `[` or `{`).
pub fn parse_nodes(file: &str, text: &str) -> Result<NodesFile, Diagnostics> {
    let mut diags = Diagnostics::new(file);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let root = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        match hujson::parse(text) {
            Ok(n) => n,
            Err((span, msg)) => {
                diags.error(span, &Path::root(), msg);
                return Err(diags);
            }
        }
    } else {
        yaml::parse_document(file, text)?
    };
    let out = decode(&root, &mut diags);
    if diags.is_empty() {
        Ok(out)
    } else {
        diags.sort();
        Err(diags)
    }
}

fn prefixes(n: &Node, path: &Path, diags: &mut Diagnostics) -> Vec<Prefix> {
    yaml::read_list(n, path, diags)
        .into_iter()
        .enumerate()
        .filter_map(|(i, it)| {
            let s = yaml::read_str(it, &path.index(i), diags)?;
            match s.parse::<Prefix>() {
                Ok(p) => Some(p),
                Err(e) => {
                    diags.error(it.span, &path.index(i), e.to_string());
                    None
                }
            }
        })
        .collect()
}

fn decode(root: &Node, diags: &mut Diagnostics) -> NodesFile {
    let mut out = NodesFile::default();
    let top = Path::root();
    let list: Vec<&Node> = match &root.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Map(_) => {
            let Some(mut m) = MapReader::new(root, &top, diags) else {
                return out;
            };
            if let Some(u) = m.take("users") {
                let up = top.key("users");
                for (i, it) in yaml::read_list(u, &up, diags).into_iter().enumerate() {
                    let p = up.index(i);
                    let Some(mut um) = MapReader::new(it, &p, diags) else {
                        continue;
                    };
                    let name = um
                        .take("name")
                        .and_then(|n| yaml::read_str(n, &p.key("name"), diags));
                    let role = um
                        .take("role")
                        .and_then(|n| yaml::read_str(n, &p.key("role"), diags));
                    um.finish(&["name", "role"], diags);
                    if let (Some(name), Some(role)) = (name, role) {
                        const ROLES: &[&str] = &[
                            "owner",
                            "admin",
                            "it-admin",
                            "network-admin",
                            "billing-admin",
                            "auditor",
                            "member",
                        ];
                        if !ROLES.contains(&role.as_str()) {
                            diags.error(
                                it.span,
                                &p.key("role"),
                                format!(
                                    "unknown role `{role}`; expected one of: {}",
                                    ROLES.join(", ")
                                ),
                            );
                        }
                        out.roles.insert(name, role);
                    }
                }
            }
            if m.take("derp").is_some() {
                out.notes
                    .push("derp: relay servers are used by the overlay-path commands".into());
            }
            let nodes = m.take("nodes");
            m.finish(&["users", "nodes", "derp"], diags);
            match nodes {
                Some(n) => yaml::read_list(n, &top.key("nodes"), diags),
                None => {
                    diags.error(
                        root.span,
                        &top,
                        "expected a list of nodes, or a mapping with `nodes`",
                    );
                    return out;
                }
            }
        }
        _ => {
            diags.error(
                root.span,
                &top,
                format!("expected a list of nodes, found {}", root.kind_name()),
            );
            return out;
        }
    };
    let base = if matches!(root.value, Value::Map(_)) {
        top.key("nodes")
    } else {
        top.clone()
    };
    let mut given4: Vec<Option<Ipv4Addr>> = Vec::new();
    let mut given6: Vec<Option<Ipv6Addr>> = Vec::new();
    let mut names = HashSet::new();
    for (i, n) in list.into_iter().enumerate() {
        let p = base.index(i);
        let Some(mut m) = MapReader::new(n, &p, diags) else {
            continue;
        };
        let mut d = Device {
            name: String::new(),
            user: None,
            tags: Vec::new(),
            ipv4: Ipv4Addr::UNSPECIFIED,
            ipv6: Ipv6Addr::UNSPECIFIED,
            routes: Vec::new(),
            advertised_routes: Vec::new(),
            exit_node: false,
            advertises_exit_node: false,
            primary_routes: Vec::new(),
            attrs: BTreeMap::new(),
            host: None,
            nat: Nat::None,
            line: n.span.line,
        };
        match m
            .take("name")
            .and_then(|x| yaml::read_str(x, &p.key("name"), diags))
        {
            Some(name) => {
                if !names.insert(name.clone()) {
                    diags.error(
                        n.span,
                        &p.key("name"),
                        format!("duplicate node name `{name}`"),
                    );
                }
                d.name = name;
            }
            None => diags.error(n.span, &p, "node needs `name`"),
        }
        if let Some(u) = m.take("user") {
            if !u.is_null() {
                d.user = yaml::read_str(u, &p.key("user"), diags);
            }
        }
        if let Some(t) = m.take("tags") {
            for (j, it) in yaml::read_list(t, &p.key("tags"), diags)
                .into_iter()
                .enumerate()
            {
                if let Some(s) = yaml::read_str(it, &p.key("tags").index(j), diags) {
                    match parse_alias(&s) {
                        Ok(Alias::Tag(_)) => d.tags.push(s),
                        _ => diags.error(
                            it.span,
                            &p.key("tags").index(j),
                            format!("`{s}` is not a tag (tag:name)"),
                        ),
                    }
                }
            }
        }
        match (&d.user, d.tags.is_empty()) {
            (Some(_), false) => diags.error(
                n.span,
                &p.key("user"),
                "a tagged device has no owner: set `user: null` (tags replace user ownership)",
            ),
            (None, true) => diags.error(n.span, &p, "a device needs an owner `user` or `tags`"),
            _ => {}
        }
        let mut g4 = None;
        if let Some(a) = m.take("ipv4").filter(|a| !a.is_null()) {
            if let Some(s) = yaml::read_str(a, &p.key("ipv4"), diags) {
                match parse_addr(&s) {
                    Ok(IpAddr::V4(v)) if cgnat().contains(IpAddr::V4(v)) && !reserved_v4().iter().any(|r| r.contains(IpAddr::V4(v))) => g4 = Some(v),
                    Ok(_) => diags.error(a.span, &p.key("ipv4"), format!("`{s}` is not a usable tailnet address inside 100.64.0.0/10 (100.100.100.0/24 and 100.115.92.0/23 are reserved)")),
                    Err(e) => diags.error(a.span, &p.key("ipv4"), e.to_string()),
                }
            }
        }
        let mut g6 = None;
        if let Some(a) = m.take("ipv6").filter(|a| !a.is_null()) {
            if let Some(s) = yaml::read_str(a, &p.key("ipv6"), diags) {
                match parse_addr(&s) {
                    Ok(IpAddr::V6(v)) if ts_ula().contains(IpAddr::V6(v)) => g6 = Some(v),
                    Ok(_) => diags.error(
                        a.span,
                        &p.key("ipv6"),
                        format!("`{s}` is not inside fd7a:115c:a1e0::/48"),
                    ),
                    Err(e) => diags.error(a.span, &p.key("ipv6"), e.to_string()),
                }
            }
        }
        given4.push(g4);
        given6.push(g6);
        if let Some(r) = m.take("routes") {
            let rp = p.key("routes");
            for pr in prefixes(r, &rp, diags) {
                if pr.is_default() {
                    diags.error(r.span, &rp, format!("{pr} is an exit route: approve an exit node with `exit_node: true` or autoApprovers.exitNode"));
                } else {
                    d.routes.push(pr);
                }
            }
        }
        if let Some(r) = m.take("advertised_routes") {
            for pr in prefixes(r, &p.key("advertised_routes"), diags) {
                if pr.is_default() {
                    d.advertises_exit_node = true;
                } else {
                    d.advertised_routes.push(pr);
                }
            }
        }
        for r in d.routes.clone() {
            if !d.advertised_routes.contains(&r) {
                d.advertised_routes.push(r);
            }
        }
        if let Some(x) = m.take("exit_node") {
            d.exit_node = yaml::read_bool(x, &p.key("exit_node"), diags).unwrap_or(false);
        }
        if let Some(x) = m.take("advertises_exit_node") {
            d.advertises_exit_node |=
                yaml::read_bool(x, &p.key("advertises_exit_node"), diags).unwrap_or(false);
        }
        d.advertises_exit_node |= d.exit_node;
        if let Some(r) = m.take("primary_routes") {
            let rp = p.key("primary_routes");
            for pr in prefixes(r, &rp, diags) {
                if !d.routes.contains(&pr) {
                    diags.error(
                        r.span,
                        &rp,
                        format!("primary route {pr} is not one of this node's approved `routes`"),
                    );
                }
                d.primary_routes.push(pr);
            }
        }
        if let Some(os) = m
            .take("os")
            .and_then(|x| yaml::read_str(x, &p.key("os"), diags))
        {
            d.attrs.insert("node:os".into(), Lit::Str(os));
        }
        if let Some(ps) = m.take("posture") {
            let pp = p.key("posture");
            if let Some(mut pm) = MapReader::new(ps, &pp, diags) {
                for (k, v) in pm.take_rest() {
                    let key = k.as_scalar().unwrap_or_default().to_string();
                    if !(key.starts_with("node:") || key.starts_with("custom:")) {
                        diags.error(
                            k.span,
                            &pp.key(&key),
                            format!("posture attribute `{key}` must be node:* or custom:*"),
                        );
                        continue;
                    }
                    let lit = match &v.value {
                        Value::Scalar { text, quoted: true } => Lit::Str(text.clone()),
                        Value::Scalar {
                            text,
                            quoted: false,
                        } => match text.as_str() {
                            "true" => Lit::Bool(true),
                            "false" => Lit::Bool(false),
                            t => t
                                .parse()
                                .map(Lit::Num)
                                .unwrap_or_else(|_| Lit::Str(t.to_string())),
                        },
                        _ => {
                            diags.error(
                                v.span,
                                &pp.key(&key),
                                "posture values are strings, numbers or booleans",
                            );
                            continue;
                        }
                    };
                    d.attrs.insert(key, lit);
                }
            }
        }
        if let Some(h) = m.take("host") {
            d.host = yaml::read_str(h, &p.key("host"), diags);
        }
        if let Some(x) = m.take("nat") {
            d.nat = match yaml::read_str(x, &p.key("nat"), diags).as_deref() {
                Some("none") | None => Nat::None,
                Some("easy") => Nat::Easy,
                Some("hard") => Nat::Hard,
                Some("udp-blocked") => Nat::UdpBlocked,
                Some(o) => {
                    diags.error(
                        x.span,
                        &p.key("nat"),
                        format!("unknown nat `{o}`; expected none, easy, hard or udp-blocked"),
                    );
                    Nat::None
                }
            };
        }
        m.finish(NODE_KEYS, diags);
        out.devices.push(d);
    }
    assign_addresses(&mut out.devices, &given4, &given6, diags, &base);
    out
}

/// Explicit addresses are kept (and must be unique); the rest are assigned in file order, the
/// lowest free address first, skipping the reserved ranges.
fn assign_addresses(
    devs: &mut [Device],
    given4: &[Option<Ipv4Addr>],
    given6: &[Option<Ipv6Addr>],
    diags: &mut Diagnostics,
    base: &Path,
) {
    let mut used4 = HashSet::new();
    let mut used6 = HashSet::new();
    for (i, d) in devs.iter().enumerate() {
        if let Some(a) = given4[i] {
            if !used4.insert(a) {
                diags.error(
                    yaml::Span::new(d.line, 1),
                    &base.index(i).key("ipv4"),
                    format!("address {a} is used twice"),
                );
            }
        }
        if let Some(a) = given6[i] {
            if !used6.insert(a) {
                diags.error(
                    yaml::Span::new(d.line, 1),
                    &base.index(i).key("ipv6"),
                    format!("address {a} is used twice"),
                );
            }
        }
    }
    let mut next4: u32 = u32::from(Ipv4Addr::new(100, 64, 0, 1));
    let mut next6: u128 = u128::from("fd7a:115c:a1e0::1".parse::<Ipv6Addr>().unwrap());
    let reserved = reserved_v4();
    for (i, d) in devs.iter_mut().enumerate() {
        d.ipv4 = match given4[i] {
            Some(a) => a,
            None => loop {
                let a = Ipv4Addr::from(next4);
                next4 += 1;
                if !used4.contains(&a) && !reserved.iter().any(|r| r.contains(IpAddr::V4(a))) {
                    break a;
                }
            },
        };
        d.ipv6 = match given6[i] {
            Some(a) => a,
            None => loop {
                let a = Ipv6Addr::from(next6);
                next6 += 1;
                if !used6.contains(&a) {
                    break a;
                }
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_nodes_with_assigned_addresses() {
        let y = "- {name: a, user: alice@example.com}\n- {name: r, user: null, tags: ['tag:router'], ipv4: 100.64.0.1, routes: [10.0.0.0/24]}\n- {name: b, user: bob@example.com}\n";
        let n = parse_nodes("n.yml", y).unwrap();
        assert_eq!(n.devices[1].ipv4, Ipv4Addr::new(100, 64, 0, 1));
        assert_eq!(n.devices[0].ipv4, Ipv4Addr::new(100, 64, 0, 2));
        assert_eq!(n.devices[2].ipv4, Ipv4Addr::new(100, 64, 0, 3));
        assert_eq!(
            n.devices[0].ipv6,
            "fd7a:115c:a1e0::1".parse::<Ipv6Addr>().unwrap()
        );
        let j = r#"[{"name": "a", "user": "alice@example.com"}, {"name": "r", "tags": ["tag:router"], "ipv4": "100.64.0.1", "routes": ["10.0.0.0/24"]}, {"name": "b", "user": "bob@example.com"}]"#;
        let m = parse_nodes("n.json", j).unwrap();
        assert_eq!(m.devices[1].ipv4, n.devices[1].ipv4);
        assert_eq!(m.devices[2].ipv4, n.devices[2].ipv4);
    }

    #[test]
    fn mistakes_are_reported_with_places() {
        let y = "- {name: a, user: alice@example.com, ipv4: 10.0.0.1, colour: red}\n- {name: r, tags: ['tag:x'], routes: [0.0.0.0/0]}\n";
        let e: Vec<String> = parse_nodes("n.yml", y)
            .unwrap_err()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert!(
            e.iter().any(|l| l.contains("not a usable tailnet address")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|l| l.starts_with("n.yml:1:") && l.contains("unknown key `colour`")),
            "{e:?}"
        );
        assert!(e.iter().any(|l| l.contains("exit route")), "{e:?}");
    }
}
