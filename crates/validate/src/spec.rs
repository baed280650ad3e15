//! Decoding a lab's `validate:` section into [`Test`]s, with the checks netlab's
//! `augment/validate.py` makes (an action per test, `nodes` unless it only waits, `show` needs
//! `valid`, `valid` needs `show`/`exec`/`suzieq`, one action except `show` with `exec`), every
//! mistake with its place.

use nettwin_model::yaml::{self, read_bool, read_list, read_str, MapReader, Path, Span};
use nettwin_model::{Diagnostics, Topology};

/// The keys of one test (netlab's `_v_entry` attributes).
pub const TEST_KEYS: &[&str] = &[
    "description",
    "fail",
    "pass",
    "wait",
    "wait_msg",
    "nodes",
    "devices",
    "exec",
    "show",
    "config",
    "valid",
    "suzieq",
    "plugin",
    "stop_on_error",
    "level",
];

/// A command or expression written once for every device, or per device (`frr: ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PerDevice {
    Any(String),
    ByDevice(Vec<(String, String)>),
}

impl PerDevice {
    /// The devices named, in file order (empty for [`PerDevice::Any`]).
    pub fn devices(&self) -> Vec<&str> {
        match self {
            PerDevice::Any(_) => Vec::new(),
            PerDevice::ByDevice(l) => l.iter().map(|(d, _)| d.as_str()).collect(),
        }
    }

    pub fn for_device(&self, device: &str) -> Option<&str> {
        match self {
            PerDevice::Any(s) => Some(s),
            PerDevice::ByDevice(l) => l.iter().find(|(d, _)| d == device).map(|(_, s)| s.as_str()),
        }
    }
}

/// How long netlab waits or retries: seconds, or the name of a `defaults.const.validate`
/// constant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wait {
    Seconds(u64),
    Constant(String),
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::Seconds(s) => write!(f, "{s} s"),
            Wait::Constant(c) => write!(f, "`{c}`"),
        }
    }
}

/// What a test does on each node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Only `wait` (a delay, or with `stop_on_error` a failure barrier).
    Wait,
    /// A validation plugin call, as written (`ospf_neighbor(nodes.r2.ospf.router_id)`).
    Plugin { call: String, span: Span },
    /// `show` (a JSON printout) and/or `exec` (text), checked with `valid`.
    Command {
        show: Option<PerDevice>,
        exec: Option<PerDevice>,
    },
    /// `config`: deploy a configuration template during the tests.
    Config,
    /// `suzieq`: a SuzieQ query.
    Suzieq,
}

/// One entry of the `validate:` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Test {
    pub name: String,
    pub span: Span,
    pub description: Option<String>,
    pub nodes: Vec<String>,
    pub devices: Vec<String>,
    pub wait: Option<Wait>,
    pub wait_msg: Option<String>,
    pub action: Action,
    pub valid: Option<PerDevice>,
    pub pass_msg: Option<String>,
    pub fail_msg: Option<String>,
    pub stop_on_error: bool,
    /// `level: warning`: a failure is a warning.
    pub warning: bool,
}

fn per_device(node: &yaml::Node, path: &Path, diags: &mut Diagnostics) -> Option<PerDevice> {
    if let Some(map) = node.as_map() {
        let mut out = Vec::new();
        for (k, v) in map {
            let dev = k.as_scalar().unwrap_or_default().to_string();
            if let Some(s) = read_str(v, &path.key(&dev), diags) {
                out.push((dev, s));
            }
        }
        return Some(PerDevice::ByDevice(out));
    }
    read_str(node, path, diags).map(PerDevice::Any)
}

/// The tests of `topo`'s `validate:` section in file order; an empty list when it has none.
pub fn decode(topo: &Topology) -> Result<Vec<Test>, Diagnostics> {
    let mut diags = Diagnostics::new(topo.file.clone());
    let Some(section) = topo.validate.as_deref() else {
        return Ok(Vec::new());
    };
    let root = Path::root().key("validate");
    let mut tests = Vec::new();
    if let Some(mut top) = MapReader::new(section, &root, &mut diags) {
        for (k, v) in top.take_rest() {
            let name = k.as_scalar().unwrap_or_default().to_string();
            if let Some(t) = test(topo, &name, k.span, v, &root.key(&name), &mut diags) {
                tests.push(t);
            }
        }
    }
    if diags.is_empty() {
        Ok(tests)
    } else {
        diags.sort();
        Err(diags)
    }
}

fn test(
    topo: &Topology,
    name: &str,
    span: Span,
    v: &yaml::Node,
    path: &Path,
    diags: &mut Diagnostics,
) -> Option<Test> {
    let before = diags.len();
    let mut r = MapReader::new(v, path, diags)?;
    let s = |key: &str, r: &mut MapReader, diags: &mut Diagnostics| {
        r.take(key).and_then(|n| read_str(n, &path.key(key), diags))
    };
    let description = s("description", &mut r, diags);
    let pass_msg = s("pass", &mut r, diags);
    let fail_msg = s("fail", &mut r, diags);
    let wait_msg = s("wait_msg", &mut r, diags);
    let plugin = r.take("plugin");
    let plugin_call = plugin.and_then(|n| read_str(n, &path.key("plugin"), diags));
    let level = r.take("level");
    let warning = match level {
        None => false,
        Some(n) => match n.as_scalar() {
            Some("warning") => true,
            _ => {
                diags.error(n.span, &path.key("level"), "`level` can only be `warning`");
                false
            }
        },
    };
    let stop_on_error = r
        .take("stop_on_error")
        .and_then(|n| read_bool(n, &path.key("stop_on_error"), diags))
        .unwrap_or(false);
    let wait_node = r.take("wait");
    let wait = wait_node.and_then(|n| match n.as_scalar() {
        Some(t) if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() => {
            t.parse().ok().map(Wait::Seconds)
        }
        Some(t)
            if t.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && t.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
        {
            Some(Wait::Constant(t.to_string()))
        }
        _ => {
            diags.error(
                n.span,
                &path.key("wait"),
                "`wait` is a number of seconds or the name of a `defaults.const.validate` constant",
            );
            None
        }
    });
    let nodes_node = r.take("nodes");
    let mut nodes = Vec::new();
    if let Some(n) = nodes_node {
        for (i, item) in read_list(n, &path.key("nodes"), diags)
            .into_iter()
            .enumerate()
        {
            let p = path.key("nodes").index(i);
            let Some(name) = read_str(item, &p, diags) else {
                continue;
            };
            if topo.node_by_name(&name).is_none() {
                let names: Vec<&str> = topo.nodes.iter().map(|n| n.name.as_str()).collect();
                let near = yaml::closest(&name, &names)
                    .map(|x| format!(" (did you mean `{x}`?)"))
                    .unwrap_or_default();
                diags.error(item.span, &p, format!("unknown node `{name}`{near}"));
                continue;
            }
            nodes.push(name);
        }
    }
    let devices = r
        .take("devices")
        .map(|n| {
            read_list(n, &path.key("devices"), diags)
                .into_iter()
                .enumerate()
                .filter_map(|(i, d)| read_str(d, &path.key("devices").index(i), diags))
                .collect()
        })
        .unwrap_or_default();
    let show = r
        .take("show")
        .and_then(|n| per_device(n, &path.key("show"), diags));
    let exec = r
        .take("exec")
        .and_then(|n| per_device(n, &path.key("exec"), diags));
    let valid = r
        .take("valid")
        .and_then(|n| per_device(n, &path.key("valid"), diags));
    let config = r.take("config");
    let suzieq = r.take("suzieq");
    r.finish(TEST_KEYS, diags);

    let mut actions: Vec<&str> = Vec::new();
    for (k, present) in [
        ("show", show.is_some()),
        ("exec", exec.is_some()),
        ("config", config.is_some()),
        ("plugin", plugin.is_some()),
        ("suzieq", suzieq.is_some()),
    ] {
        if present {
            actions.push(k);
        }
    }
    // One structural error per test, the first netlab's `validate_test_entry` finds.
    let structure = if actions.is_empty() && wait_node.is_none() {
        Some(format!(
            "test `{name}` should have wait, show, exec, config, plugin, or suzieq option"
        ))
    } else if actions.iter().any(|a| !["show", "exec"].contains(a)) && actions.len() > 1 {
        Some(format!(
            "you cannot use {} in test `{name}`: use only one action per test",
            actions.join(",")
        ))
    } else if wait_node.is_none() && suzieq.is_none() && nodes_node.is_none() {
        Some(format!(
            "test `{name}` must specify the nodes to execute the test on"
        ))
    } else if show.is_some() && valid.is_none() {
        Some(format!(
            "test `{name}` has a `show` option but no `valid` option"
        ))
    } else if valid.is_some() && show.is_none() && exec.is_none() && suzieq.is_none() {
        Some(format!(
            "test `{name}` has a `valid` option but no action that would generate data to check"
        ))
    } else {
        None
    };
    if let Some(msg) = structure {
        diags.error(span, path, msg);
    }
    if diags.len() > before {
        return None;
    }
    let action = if let Some(call) = plugin_call {
        Action::Plugin {
            call,
            span: plugin.map(|p| p.span).unwrap_or(span),
        }
    } else if show.is_some() || exec.is_some() {
        Action::Command { show, exec }
    } else if config.is_some() {
        Action::Config
    } else if suzieq.is_some() {
        Action::Suzieq
    } else {
        Action::Wait
    };
    Some(Test {
        name: name.to_string(),
        span,
        description,
        nodes,
        devices,
        wait,
        wait_msg,
        action,
        valid,
        pass_msg,
        fail_msg,
        stop_on_error,
        warning,
    })
}
