//! netlab's topology format as netlab reads it, before nettwin's loader sees the tree: dotted
//! keys expanded (`bgp.as: 65000` is `bgp: {as: 65000}`), the defaults files a lab names
//! (`defaults.sources`) and the `topology-defaults.yml` beside it merged under its `defaults`, and
//! the tables of netlab keys that only concern deployment (read and reported) or modules nettwin
//! does not model yet (one error each).
//!
//! The authority is netlab's own code: `netsim/utils/read.py` (defaults sources),
//! `docs/topology/hierarchy.md` (dotted keys), `netsim/defaults/attributes.yml` (the attributes
//! of topologies, nodes, links and interfaces).

use crate::diag::Diagnostics;
use crate::yaml::{self, Node, Path, Span, Value};

/// Expands every dotted key of `node` into nested mappings merged with the rest of its mapping,
/// as netlab does (`docs/topology/hierarchy.md`): `a.b: 1` is `a: {b: 1}`, and `a.b: 1` beside
/// `a: {c: 2}` is `a: {b: 1, c: 2}`. Keys with a `/` stay as they are (netlab leaves file names
/// alone). A value set twice (`a.b: 1` and `a: {b: 2}`) is an error at the second place; two
/// plain keys that are equal stay apart, for [`yaml::MapReader`] to report as duplicates.
pub fn expand_dots(node: Node, diags: &mut Diagnostics) -> Node {
    expand(node, &Path::root(), 0, diags)
}

fn expand(node: Node, path: &Path, depth: usize, diags: &mut Diagnostics) -> Node {
    let span = node.span;
    match node.value {
        Value::Seq(items) => Node {
            value: Value::Seq(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| expand(n, &path.index(i), depth + 1, diags))
                    .collect(),
            ),
            span,
        },
        Value::Map(entries) => {
            // Entries and whether each came from (or was merged with) a dotted key.
            let mut out: Vec<(Node, Node, bool)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let Some(text) = k.as_scalar().map(str::to_string) else {
                    out.push((k, expand(v, path, depth + 1, diags), false));
                    continue;
                };
                if !text.contains('.') || text.contains('/') {
                    let v = expand(v, &path.key(&text), depth + 1, diags);
                    insert(&mut out, k, v, false, path, diags);
                    continue;
                }
                let parts: Vec<&str> = text.split('.').collect();
                if parts.iter().any(|p| p.is_empty()) {
                    diags.error(
                        k.span,
                        &path.key(&text),
                        format!("`{text}` is not a valid dotted key: a part between dots is empty"),
                    );
                    continue;
                }
                if depth + parts.len() > yaml::MAX_DEPTH {
                    diags.error(
                        k.span,
                        &path.key(&text),
                        format!("the document nests deeper than {} levels", yaml::MAX_DEPTH),
                    );
                    continue;
                }
                let mut vpath = path.clone();
                for p in &parts {
                    vpath = vpath.key(p);
                }
                let mut value = expand(v, &vpath, depth + parts.len(), diags);
                for p in parts[1..].iter().rev() {
                    value = Node {
                        value: Value::Map(vec![(scalar(p, k.span), value)]),
                        span: k.span,
                    };
                }
                insert(&mut out, scalar(parts[0], k.span), value, true, path, diags);
            }
            Node {
                value: Value::Map(out.into_iter().map(|(k, v, _)| (k, v)).collect()),
                span,
            }
        }
        value => Node { value, span },
    }
}

fn scalar(text: &str, span: Span) -> Node {
    Node {
        value: Value::Scalar {
            text: text.to_string(),
            quoted: false,
        },
        span,
    }
}

/// Adds `key: value` to `out`, merging it into an entry of the same name when either came from
/// a dotted key.
fn insert(
    out: &mut Vec<(Node, Node, bool)>,
    key: Node,
    value: Node,
    dotted: bool,
    path: &Path,
    diags: &mut Diagnostics,
) {
    let name = key.as_scalar().unwrap_or_default().to_string();
    let existing = out
        .iter_mut()
        .find(|(k, _, d)| (*d || dotted) && k.as_scalar() == Some(name.as_str()));
    match existing {
        Some((_, old, d)) => {
            *d = true;
            merge(old, value, &path.key(&name), diags);
        }
        None => out.push((key, value, dotted)),
    }
}

/// Merges `new` into `old`: mappings key by key, anything else set twice is an error at `new`.
fn merge(old: &mut Node, new: Node, path: &Path, diags: &mut Diagnostics) {
    if old.is_null() && matches!(new.value, Value::Map(_)) {
        *old = new;
        return;
    }
    if new.is_null() && matches!(old.value, Value::Map(_)) {
        return;
    }
    let new_span = new.span;
    match (&mut old.value, new.value) {
        (Value::Map(entries), Value::Map(more)) => {
            for (k, v) in more {
                let name = k.as_scalar().unwrap_or_default().to_string();
                match entries
                    .iter_mut()
                    .find(|(ok, _)| ok.as_scalar() == Some(name.as_str()))
                {
                    Some((_, ov)) => merge(ov, v, &path.key(&name), diags),
                    None => entries.push((k, v)),
                }
            }
        }
        _ => {
            let other = old.span;
            let place = if other.file == new_span.file {
                format!("line {}", other.line)
            } else {
                format!("line {} of {}", other.line, diags.file_name(other.file))
            };
            diags.error(
                new_span,
                path,
                format!("`{path}` is set twice: here and at {place} (a dotted key and its nested form name the same setting)"),
            );
        }
    }
}

/// Fills `dst` (a mapping) with what `src` sets and `dst` does not, recursively: how netlab
/// merges a defaults file under the lab's own `defaults` (`defaults_file + topology.defaults`
/// in `netsim/utils/read.py`, the lab winning).
pub fn fill(dst: &mut Node, src: Node) {
    if dst.is_null() {
        *dst = src;
        return;
    }
    let Value::Map(entries) = &mut dst.value else {
        return;
    };
    let Value::Map(more) = src.value else { return };
    for (k, v) in more {
        let name = k.as_scalar().unwrap_or_default().to_string();
        match entries
            .iter_mut()
            .find(|(ok, _)| ok.as_scalar() == Some(name.as_str()))
        {
            Some((_, ov)) => fill(ov, v),
            None => entries.push((k, v)),
        }
    }
}

/// The value at `keys` under a mapping.
pub fn get_path<'a>(node: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    keys.iter().try_fold(node, |n, k| n.get(k))
}

/// The mutable value of `key` in the mapping `node`, created (null) when missing; `None` when
/// `node` is not a mapping or null.
pub fn entry_mut<'a>(node: &'a mut Node, key: &str, span: Span) -> Option<&'a mut Node> {
    if node.is_null() {
        node.value = Value::Map(Vec::new());
    }
    let Value::Map(entries) = &mut node.value else {
        return None;
    };
    let i = match entries.iter().position(|(k, _)| k.as_scalar() == Some(key)) {
        Some(i) => i,
        None => {
            entries.push((
                scalar(key, span),
                Node {
                    value: Value::Null,
                    span,
                },
            ));
            entries.len() - 1
        }
    };
    Some(&mut entries[i].1)
}

/// Moves the groups of `defaults.groups` into `groups`, as netlab's `init_groups` merges them
/// (`groups.py`): a group the lab also defines keeps the lab's settings over the default's; a
/// group only the defaults define is added after the lab's, marked `_default_group: true`
/// (the global `_auto_create` does not reach it, and members that are no node or group are
/// dropped, as netlab prunes them). `defaults.groups` keeps only its `_` settings.
pub fn merge_default_groups(root: &mut Node) {
    let Some(dg) = get_path(root, &["defaults", "groups"]) else {
        return;
    };
    let Value::Map(entries) = dg.value.clone() else {
        return;
    };
    let span = dg.span;
    let mut keep = Vec::new();
    let mut moved = Vec::new();
    for (k, v) in entries {
        if k.as_scalar().is_none_or(|n| n.starts_with('_')) {
            keep.push((k, v));
        } else {
            moved.push((k, v));
        }
    }
    if moved.is_empty() {
        return;
    }
    // A list of members is a group with only `members`.
    let as_map = |v: Node| match v.value {
        Value::Seq(_) => Node {
            span: v.span,
            value: Value::Map(vec![(scalar("members", v.span), v)]),
        },
        _ => v,
    };
    let root_span = root.span;
    let Some(groups) = entry_mut(root, "groups", span) else {
        return;
    };
    if groups.is_null() {
        groups.value = Value::Map(Vec::new());
    }
    let Value::Map(lab) = &mut groups.value else {
        return;
    };
    for (k, v) in moved {
        let name = k.as_scalar().unwrap_or_default().to_string();
        let v = as_map(v);
        match lab
            .iter_mut()
            .find(|(lk, _)| lk.as_scalar() == Some(name.as_str()))
        {
            Some((_, existing)) => {
                let mine = std::mem::replace(
                    existing,
                    Node {
                        value: Value::Null,
                        span: root_span,
                    },
                );
                *existing = as_map(mine);
                // The lab's group keeps its own members, none if it lists none (netlab's
                // merge gives the lab's empty list precedence).
                if let Value::Map(e) = &mut existing.value {
                    if !e.iter().any(|(k, _)| k.as_scalar() == Some("members")) {
                        e.push((
                            scalar("members", k.span),
                            Node {
                                value: Value::Seq(Vec::new()),
                                span: k.span,
                            },
                        ));
                    }
                }
                fill(existing, v);
            }
            None => {
                let mut v = v;
                if let Value::Map(e) = &mut v.value {
                    e.push((scalar("_default_group", k.span), scalar("true", k.span)));
                }
                lab.push((k, v));
            }
        }
    }
    if let Some(d) = entry_mut(root, "defaults", root_span) {
        if let Some(g) = entry_mut(d, "groups", span) {
            g.value = Value::Map(keep);
        }
    }
}

/// The defaults files netlab reads for a lab, in priority order (`build_defaults_list` in
/// `netsim/utils/read.py`): `defaults.sources.list` alone when given, else
/// `defaults.sources.extra` and then the user defaults, of which nettwin reads only the one
/// beside the lab (`./topology-defaults.yml`, relative to the lab file). Files in the user's
/// home directory and netlab's own package defaults are not read: the twin's answer should depend
/// on the lab directory only, and netlab's package defaults are what nettwin implements.
/// Returns the names as written, with whether netlab would look for them relative to the lab.
pub fn default_sources(root: &Node, skipped: &mut Vec<(String, String)>) -> Vec<String> {
    let sources = get_path(root, &["defaults", "sources"]);
    let list = |key: &str| -> Option<Vec<String>> {
        let v = sources?.get(key)?;
        Some(match &v.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| i.as_scalar().map(str::to_string))
                .collect(),
            Value::Scalar { text, .. } => vec![text.clone()],
            _ => Vec::new(),
        })
    };
    let mut out = Vec::new();
    if let Some(l) = list("list") {
        out.extend(l);
    } else {
        out.extend(list("extra").unwrap_or_default());
        match list("user") {
            Some(u) => out.extend(u),
            None => out.push("./topology-defaults.yml".to_string()),
        }
    }
    out.retain(|f| {
        let home = f.starts_with('~');
        let package = f.starts_with("package:");
        if home || package {
            skipped.push((
                f.clone(),
                if home {
                    "defaults files in the home directory are not read: the twin depends on the lab directory only".into()
                } else {
                    "netlab's package defaults are built into nettwin".into()
                },
            ));
        }
        !home && !package
    });
    out
}

/// netlab modules nettwin does not model yet that change what is routed, with what each does.
/// Using one (in `module`, or its settings anywhere) is one error per module.
pub const UNMODELLED_MODULES: &[(&str, &str)] = &[
    ("vxlan", "VXLAN"),
    ("evpn", "EVPN"),
    ("gateway", "first-hop gateways (anycast, VRRP)"),
    ("dhcp", "DHCP"),
    ("lag", "link aggregation"),
    ("stp", "spanning tree"),
    ("eigrp", "EIGRP"),
    ("ripv2", "RIP"),
    ("srv6", "SRv6"),
    ("routing", "routing policies and netlab-style static routes"),
];

/// Keys that belong to an unmodelled module wherever they appear, beside the module's own name
/// (none left: `vlans` and `vrfs` are modelled).
pub const MODULE_KEYS: &[(&str, &str)] = &[];

/// netlab modules that change no route nettwin computes and are read and ignored.
pub const IGNORED_MODULES: &[(&str, &str)] = &[
    (
        "bfd",
        "BFD only detects failures faster; nettwin's routes are the converged state",
    ),
    (
        "initial",
        "initial device configuration is how netlab deploys",
    ),
];

/// Attributes of netlab's routing modules (`netsim/modules/ospf.yml`, `isis.yml`, `bgp.yml`)
/// that change no route nettwin computes, with why: the routing crate reads them without
/// error. Anything that changes routes (IS-IS levels, `bgp.locpref`, sessions) is not here.
pub fn module_key_without_routes(module: &str, key: &str) -> Option<&'static str> {
    Some(match (module, key) {
        (_, "warnings") => "netlab's switches for its own warnings",
        (_, "bfd") => "BFD only detects failures faster; nettwin's routes are the converged state",
        (_, "password") => "authentication does not change the converged routes",
        (_, "timers") => "timers change how fast routes converge, not which",
        ("bgp", "gtsm") => "TTL security does not change routes",
        ("bgp", "passive") => "which side opens the BGP session",
        _ => return None,
    })
}

/// The device types netlab knows (`netsim/devices/*.yml` and its daemons): a group named after
/// one has as members every node of that device.
pub const DEVICES: &[&str] = &[
    "arubacx",
    "asav",
    "bird",
    "cat8000v",
    "cisco8000v",
    "crpd",
    "csr",
    "cumulus",
    "cumulus_nvue",
    "dellos10",
    "dnsmasq",
    "eos",
    "fortios",
    "frr",
    "iol",
    "ioll2",
    "ios",
    "iosv",
    "iosvl2",
    "iosxr",
    "junos",
    "linux",
    "netscaler",
    "none",
    "openbsd",
    "routeros",
    "routeros7",
    "sonic",
    "srlinux",
    "sros",
    "srsim",
    "unknown",
    "vjunos-router",
    "vjunos-switch",
    "vmx",
    "vptx",
    "vsrx",
    "vyos",
    "xr",
];

/// netlab's providers (`netsim/providers/*.yml`); each may hold provider settings on the
/// topology, a node, a link or an interface.
pub const PROVIDERS: &[&str] = &["clab", "external", "libvirt", "virtualbox"];

/// netlab's output modules and tools (`netsim/outputs`, `netsim/tools`), whose settings may sit
/// on the topology or a node.
pub const OUTPUTS: &[&str] = &[
    "ansible",
    "d2",
    "devices",
    "graph",
    "graphite",
    "json",
    "provider",
    "report",
    "tools",
    "yaml",
    "edgeshark",
    "nso",
    "nuts",
    "suzieq",
];

/// Top-level keys that only concern how netlab deploys a lab (`global` and `internal` in
/// `netsim/defaults/attributes.yml`, plus providers and outputs), with why nettwin ignores them.
pub fn deploy_top_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "provider" => "the virtualization provider is how netlab deploys the lab",
        "plugin" => "netlab plugins run inside netlab; nettwin models the lab as written",
        "message" => "a message netlab prints after `netlab up`",
        "tools" => "external tools netlab starts beside the lab",
        "version" => "the netlab version the lab needs",
        "input" | "pools" | "Provider" | "Plugin" => "netlab's internal data",
        "mgmt" => "the management network is outside the modelled network",
        k if PROVIDERS.contains(&k) => "provider settings are how netlab deploys the lab",
        k if OUTPUTS.contains(&k) => "output and tool settings concern netlab's outputs",
        k if DEVICES.contains(&k) => "device settings are how netlab configures that platform",
        _ => return None,
    })
}

/// Node keys that only concern deployment (`node` in `netsim/defaults/attributes.yml`), with
/// why nettwin ignores them. `device` is kept on the node as well.
pub fn deploy_node_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "device" => "the device type is kept on the node but changes no route nettwin computes",
        "provider" => "the virtualization provider is how netlab deploys the node",
        "box" | "image" => "the image is how netlab deploys the node",
        "cpu" | "memory" => "resources of the virtual machine",
        "mgmt" => "the management interface is outside the modelled network",
        "config" | "skip_config" => {
            "custom configuration templates are how netlab configures the node"
        }
        "unmanaged" => "whether netlab configures the node",
        "vars" => "Ansible variables",
        "plugin" => "netlab plugins run inside netlab",
        k if k.starts_with('_') || k.starts_with("netlab_") || k.starts_with("ansible_") => {
            "netlab ignores attributes starting with `_`, `netlab_` or `ansible_` too"
        }
        k if PROVIDERS.contains(&k) => "provider settings are how netlab deploys the node",
        k if OUTPUTS.contains(&k) => "output and tool settings concern netlab's outputs",
        k if DEVICES.contains(&k) => "device settings are how netlab configures that platform",
        _ => return None,
    })
}

/// Link and interface keys that only concern deployment, with why nettwin ignores them.
pub fn deploy_link_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "bridge" => "the name of the Linux bridge netlab creates for the link",
        "disable" => return None,
        "ifindex" => "interface numbering on the device",
        "tc" => "traffic control netlab applies on the host (use `latency` and `loss`)",
        "ra" => "IPv6 router advertisement settings",
        "libvirt" | "clab" | "virtualbox" | "external" => {
            "provider settings are how netlab deploys the link"
        }
        k if k.starts_with('_') || k.starts_with("netlab_") => {
            "netlab ignores attributes starting with `_` or `netlab_` too"
        }
        _ => return None,
    })
}

/// `defaults` keys netlab reads that concern deployment or netlab itself (the files in
/// `netsim/defaults/` and the sections of `netsim/topology-defaults.yml`), with why nettwin
/// ignores them.
pub fn deploy_defaults_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "device" | "devices" | "daemons" => {
            "device defaults are how netlab configures each platform"
        }
        "provider" | "providers" => "the virtualization provider is how netlab deploys the lab",
        "outputs" | "tools" => "output and tool settings concern netlab's outputs",
        "attributes" | "automation" | "const" | "hints" | "multilab" | "netlab" | "paths"
        | "ports" | "warnings" | "sources" | "link_index" | "links" | "groups" | "plugin"
        | "inventory" | "tests" | "Output" => "netlab's own settings",
        k if UNMODELLED_MODULES.iter().any(|(m, _)| *m == k)
            || IGNORED_MODULES.iter().any(|(m, _)| *m == k) =>
        {
            "defaults of a module take effect only where the module is used"
        }
        k if PROVIDERS.contains(&k) => "provider settings are how netlab deploys the lab",
        "ldp" => "LDP defaults take effect only where MPLS is used",
        _ => return None,
    })
}

/// Whether `name` matches the shell-style pattern `pat`: `*`, `?`, and `[...]` sets with ranges
/// and `!` for negation (netlab's member globs use Python's `fnmatch`).
pub fn glob_match(pat: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point: linear in practice, no recursion.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('?') => Some(pi + 1),
            Some('[') => set_match(&p, pi, n[ni]),
            Some('*') => None,
            Some(c) if *c == n[ni] => Some(pi + 1),
            _ => None,
        };
        if let Some(next) = step {
            pi = next;
            ni += 1;
        } else if p.get(pi) == Some(&'*') {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` set at `p[start]` against `c`: the index after the set when `c` is in it (or, with
/// `!`, not in it). A `[` without its `]` is a plain character, as in `fnmatch`.
fn set_match(p: &[char], start: usize, c: char) -> Option<usize> {
    let mut i = start + 1;
    let negate = p.get(i) == Some(&'!');
    if negate {
        i += 1;
    }
    let first = i;
    let mut hit = false;
    while i < p.len() && (p[i] != ']' || i == first) {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    if i >= p.len() {
        return (c == '[').then_some(start + 1);
    }
    (hit != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Node, Diagnostics) {
        let mut d = Diagnostics::new("t.yml");
        let n = expand_dots(yaml::parse(text).unwrap(), &mut d);
        (n, d)
    }

    #[test]
    fn dotted_keys_merge_with_nested_forms() {
        let (n, d) = parse("bgp.as: 65000\nbgp:\n  rr: true\nnodes:\n  r1:\n    ospf.area: 1\n");
        assert!(d.is_empty(), "{d}");
        let bgp = n.get("bgp").unwrap();
        assert_eq!(bgp.get("as").unwrap().as_scalar(), Some("65000"));
        assert_eq!(bgp.get("rr").unwrap().as_scalar(), Some("true"));
        let area = get_path(&n, &["nodes", "r1", "ospf", "area"]).unwrap();
        assert_eq!(area.as_scalar(), Some("1"));
        assert_eq!(area.span, Span::new(6, 16));
        assert_eq!(n.as_map().unwrap().len(), 2);
    }

    #[test]
    fn conflicts_are_errors_at_the_second_place() {
        let (_, d) = parse("bgp.as: 1\nbgp: {as: 2}\n");
        let text = d.to_string();
        assert_eq!(
            text,
            "t.yml:2:11: `bgp.as` is set twice: here and at line 1 (a dotted key and its nested form name the same setting) (at `bgp.as`)"
        );
        let (_, d) = parse("a: 1\na.b: 2\n");
        assert_eq!(d.len(), 1, "{d}");
    }

    #[test]
    fn plain_duplicates_and_slashes_are_left_alone() {
        let (n, d) = parse("a: 1\na: 2\n10.0.0.0/8: x\n");
        assert!(d.is_empty());
        assert_eq!(n.as_map().unwrap().len(), 3);
        assert!(n.get("10.0.0.0/8").is_some());
    }

    #[test]
    fn globs() {
        assert!(glob_match("r*", "r12"));
        assert!(glob_match("r?", "r1"));
        assert!(!glob_match("r?", "r12"));
        assert!(glob_match("*a*b", "xaxxb"));
        assert!(!glob_match("a*", "ba"));
        assert!(glob_match("r[12]", "r2"));
        assert!(!glob_match("r[12]", "r3"));
        assert!(glob_match("r[0-9]x", "r7x"));
        assert!(glob_match("r[!0-9]", "ra"));
        assert!(!glob_match("r[!0-9]", "r5"));
        assert!(glob_match("l[12]*", "l1-long"));
    }
}
