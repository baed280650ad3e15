//! Runs a netlab lab's `validate:` tests on the twin: the tests a netlab user runs with
//! `netlab validate` on a booted lab, answered in a second from the converged model.
//!
//! Owns decoding the `validate:` section (`spec`, netlab's checks, every mistake with its
//! place), the part of Python the tests are written in (`expr`), the lab data their plugin
//! arguments refer to (`data`), netlab's FRR/Linux validation plugins answered from the
//! routing state and packet traces (`plugins`), and running the tests in order with netlab's
//! semantics (`wait`, `stop_on_error`, `level: warning`, `pass`/`fail` messages). A test the
//! twin cannot answer (a device's JSON `show`, a shell `exec`, a `config` template, VRFs) is
//! *skipped* with the reason, never guessed.
//!
//! Device CLI commands (`exec: show ip bgp summary`) are run through a [`Cli`] the caller
//! provides (the binary's IOS-like CLI), so this crate does not depend on the SSH server. It
//! does not compute routes (that is `nettwin-routing`) or forward (`nettwin-dataplane`), and it
//! prints nothing.

pub mod data;
pub mod expr;
mod plugins;
pub mod spec;

pub use spec::{decode, Action, PerDevice, Test, Wait};

use expr::{Env, ExprError, Value};
use nettwin_model::{Diagnostics, NodeId, Topology};
use nettwin_routing::Routing;
use serde::Serialize;

/// Why the tests could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The `validate:` section has mistakes.
    #[error("{0}")]
    Malformed(Diagnostics),
    /// The lab has no `validate:` section.
    #[error("{0}: the lab has no `validate` section")]
    NoTests(String),
    /// A test or node named on the command line does not exist.
    #[error("{0}")]
    Selection(String),
}

/// The result of one test on one node, or of a whole test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Failed, but the test has `level: warning`.
    Warning,
    /// The twin cannot answer it (the reason says why).
    Skipped,
    /// Nothing to check: a pure `wait`, answered at once since the twin converges instantly.
    Info,
}

/// A plugin's verdict on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

/// One node's result.
#[derive(Clone, Debug, Serialize)]
pub struct NodeResult {
    pub node: String,
    pub status: Status,
    pub message: String,
}

/// One test's result.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: Status,
    /// The test-level message: the `pass`/`fail` text, a skip reason, or what the wait was.
    pub message: String,
    /// What the test runs (`plugin: ...`, `exec: ...`), for `-v`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub nodes: Vec<NodeResult>,
}

/// Counts of test results.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub warnings: usize,
    pub skipped: usize,
}

/// Every test's result, in the order the lab lists them.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub file: String,
    pub tests: Vec<TestResult>,
    pub counts: Counts,
    /// Set when a failed `stop_on_error` test ended the run early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Report {
    /// netlab's exit status: 1 when a test failed, 3 when tests only warned, 0 otherwise
    /// (skipped tests do not fail a run).
    pub fn exit_code(&self) -> u8 {
        if self.counts.failed > 0 || self.stopped.is_some() {
            1
        } else if self.counts.warnings > 0 {
            3
        } else {
            0
        }
    }
}

/// Device commands run on the twin's CLI (an IOS-like `show ...`).
pub trait Cli {
    /// The output of `command` on `node`; `Err` with the reason when the CLI does not know it.
    fn run(&self, node: NodeId, command: &str) -> Result<String, String>;
}

/// Which tests and nodes to run (netlab's positional test names and `--node`).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Test names or regular expressions matched against whole names; empty for all.
    pub tests: Vec<String>,
    /// Node names; empty for all.
    pub nodes: Vec<String>,
}

/// The tests of the lab, filtered by `sel`, netlab-style: unknown test patterns and nodes are
/// errors.
pub fn select(topo: &Topology, sel: &Selection) -> Result<Vec<Test>, ValidateError> {
    if topo.validate.is_none() {
        return Err(ValidateError::NoTests(topo.file.clone()));
    }
    let mut tests = decode(topo).map_err(ValidateError::Malformed)?;
    if !sel.tests.is_empty() {
        let mut keep = vec![false; tests.len()];
        for pat in &sel.tests {
            let re = regex::Regex::new(&format!("^(?:{pat})$")).map_err(|e| {
                ValidateError::Selection(format!("invalid test pattern {pat}: {e}"))
            })?;
            let mut any = false;
            for (i, t) in tests.iter().enumerate() {
                if re.is_match(&t.name) {
                    keep[i] = true;
                    any = true;
                }
            }
            if !any {
                return Err(ValidateError::Selection(format!(
                    "Invalid test name or regex expression {pat}"
                )));
            }
        }
        let mut k = keep.into_iter();
        tests.retain(|_| k.next().unwrap_or(false));
    }
    if !sel.nodes.is_empty() {
        for n in &sel.nodes {
            if topo.node_by_name(n).is_none() {
                return Err(ValidateError::Selection(format!("Invalid node name {n}")));
            }
        }
        tests.retain(|t| t.nodes.iter().any(|n| sel.nodes.contains(n)));
        if tests.is_empty() {
            return Err(ValidateError::Selection(
                "No tests are executed on any of the specified nodes".into(),
            ));
        }
        for t in &mut tests {
            t.nodes.retain(|n| sel.nodes.contains(n));
        }
    }
    Ok(tests)
}

/// Runs `tests` on the twin: `topo` as loaded and `routing` computed from it.
pub fn run(topo: &Topology, routing: &Routing, tests: &[Test], cli: Option<&dyn Cli>) -> Report {
    let oper = nettwin_dataplane::operational(topo);
    let inst = routing
        .instance_topology()
        .map(nettwin_dataplane::operational);
    let ctx = plugins::Ctx {
        oper: &oper,
        inst: inst.as_ref().unwrap_or(&oper),
        routing,
    };
    let nodes = Value::Dict(data::nodes(&oper, routing));
    let mut report = Report {
        file: topo.file.clone(),
        tests: Vec::new(),
        counts: Counts::default(),
        stopped: None,
    };
    for t in tests {
        let r = run_test(&ctx, &nodes, t, cli, report.counts.failed > 0);
        match r.status {
            Status::Pass => report.counts.passed += 1,
            Status::Fail => report.counts.failed += 1,
            Status::Warning => report.counts.warnings += 1,
            Status::Skipped => report.counts.skipped += 1,
            Status::Info => {}
        }
        let failed = r.status == Status::Fail;
        let barrier = t.action == Action::Wait && t.stop_on_error && report.counts.failed > 0;
        report.tests.push(r);
        if (failed && t.stop_on_error) || barrier {
            report.stopped = Some(if barrier {
                "Validation failed due to previous errors".into()
            } else {
                format!("Mandatory test `{}` failed, validation stopped", t.name)
            });
            break;
        }
    }
    report
}

fn describe_action(t: &Test) -> Option<String> {
    let pd = |p: &PerDevice| match p {
        PerDevice::Any(s) => s.clone(),
        PerDevice::ByDevice(l) => l
            .iter()
            .map(|(d, s)| format!("{d}: {s}"))
            .collect::<Vec<_>>()
            .join(" | "),
    };
    match &t.action {
        Action::Plugin { call, .. } => Some(format!("plugin: {}", call.trim())),
        Action::Command { show, exec } => {
            let mut parts = Vec::new();
            if let Some(s) = show {
                parts.push(format!("show: {}", pd(s)));
            }
            if let Some(e) = exec {
                parts.push(format!("exec: {}", pd(e)));
            }
            Some(parts.join("; "))
        }
        _ => None,
    }
}

fn run_test(
    ctx: &plugins::Ctx,
    nodes: &Value,
    t: &Test,
    cli: Option<&dyn Cli>,
    failed_before: bool,
) -> TestResult {
    let mut r = TestResult {
        name: t.name.clone(),
        description: t.description.clone(),
        status: Status::Info,
        message: String::new(),
        action: describe_action(t),
        nodes: Vec::new(),
    };
    let wait_note = t
        .wait
        .as_ref()
        .map(|w| format!("no wait ({w} in the lab): the twin converges instantly"));
    match &t.action {
        Action::Wait => {
            if t.stop_on_error {
                r.message = if failed_before {
                    "Validation failed due to previous errors".into()
                } else {
                    t.pass_msg
                        .clone()
                        .unwrap_or_else(|| "No errors so far, moving on".into())
                };
                return r;
            }
            if t.warning {
                // netlab's warning-generating placeholder.
                r.status = Status::Warning;
                r.message = t.fail_msg.clone().unwrap_or_else(|| "Test failed".into());
                return r;
            }
            r.message = wait_note.unwrap_or_else(|| "nothing to wait for".into());
            return r;
        }
        Action::Config => {
            r.status = Status::Skipped;
            r.message = "`config` deploys a configuration template on the devices; nettwin does not apply templates (later tests see the lab as written)".into();
            return r;
        }
        Action::Suzieq => {
            r.status = Status::Skipped;
            r.message = "`suzieq` queries need SuzieQ polling real devices".into();
            return r;
        }
        _ => {}
    }
    if t.nodes.is_empty() {
        r.status = Status::Skipped;
        r.message = "There are no nodes specified for this test, skipping...".into();
        return r;
    }
    for name in &t.nodes {
        let node = ctx
            .oper
            .node_by_name(name)
            .expect("decode checked the node names")
            .id;
        let outcome = match &t.action {
            Action::Plugin { call, .. } => plugin_call(ctx, nodes, node, call),
            Action::Command { show, exec } => command(ctx, t, node, show, exec, cli),
            _ => unreachable!("handled above"),
        };
        let (status, message) = match outcome {
            Outcome::Pass(m) => (Status::Pass, m),
            Outcome::Fail(m) => (
                if t.warning {
                    Status::Warning
                } else {
                    Status::Fail
                },
                t.fail_msg
                    .clone()
                    .map(|f| format!("{f} ({m})"))
                    .unwrap_or(m),
            ),
            Outcome::Skip(m) => (Status::Skipped, m),
        };
        r.nodes.push(NodeResult {
            node: name.clone(),
            status,
            message,
        });
    }
    let any = |s: Status| r.nodes.iter().any(|n| n.status == s);
    r.status = if any(Status::Fail) {
        Status::Fail
    } else if any(Status::Warning) {
        Status::Warning
    } else if any(Status::Pass) {
        Status::Pass
    } else {
        Status::Skipped
    };
    r.message = match r.status {
        Status::Pass => t
            .pass_msg
            .clone()
            .unwrap_or_else(|| "Test succeeded".into()),
        Status::Fail | Status::Warning => {
            t.fail_msg.clone().unwrap_or_else(|| "Test failed".into())
        }
        _ => {
            // The reason, once if every node gives the same one.
            let mut reasons: Vec<&str> = r.nodes.iter().map(|n| n.message.as_str()).collect();
            reasons.dedup();
            reasons.join("; ")
        }
    };
    if let (Some(w), Status::Pass) = (&wait_note, r.status) {
        r.message = format!("{} ({w})", r.message);
    }
    r
}

/// Names a plugin argument can refer to: `nodes`, `node` and netlab's other top-level data.
struct PluginEnv<'a> {
    nodes: &'a Value,
    node: &'a Value,
}

/// netlab's top-level topology keys the twin keeps no data for.
const NOT_MODELLED_NAMES: &[&str] = &[
    "links",
    "prefix",
    "groups",
    "defaults",
    "vlans",
    "vrfs",
    "addressing",
    "pools",
    "bgp",
    "ospf",
    "isis",
    "module",
    "provider",
    "plugin",
    "tools",
    "input",
    "name",
    "message",
    "validate",
    "routing",
];

impl Env for PluginEnv<'_> {
    fn name(&self, name: &str) -> Result<Value, ExprError> {
        match name {
            "nodes" => Ok(self.nodes.clone()),
            "node" => Ok(self.node.clone()),
            n if NOT_MODELLED_NAMES.contains(&n) => Err(ExprError::NotModelled(format!(
                "`{n}` refers to lab data nettwin does not keep"
            ))),
            n => Err(ExprError::Missing(format!("name `{n}` is not defined"))),
        }
    }

    fn call(&self, callee: &str, args: &[Value]) -> Option<Result<Value, ExprError>> {
        builtin(callee, args)
    }
}

/// Python built-ins a test may use.
fn builtin(callee: &str, args: &[Value]) -> Option<Result<Value, ExprError>> {
    match (callee, args) {
        ("len", [Value::Str(s)]) => Some(Ok(Value::Int(s.chars().count() as i64))),
        ("len", [Value::List(l)]) => Some(Ok(Value::Int(l.len() as i64))),
        ("len", [Value::Dict(d)]) => Some(Ok(Value::Int(d.len() as i64))),
        ("str", [v]) => Some(Ok(Value::Str(v.to_string()))),
        ("int", [Value::Str(s)]) => Some(
            s.trim()
                .parse()
                .map(Value::Int)
                .map_err(|_| ExprError::Type(format!("invalid literal for int(): '{s}'"))),
        ),
        _ => None,
    }
}

fn expr_outcome(e: ExprError, what: &str) -> Outcome {
    match e {
        ExprError::Unsupported(m) | ExprError::NotModelled(m) => {
            Outcome::Skip(format!("{what}: {m}"))
        }
        ExprError::Syntax(m) => Outcome::Fail(format!("{what}: syntax error: {m}")),
        ExprError::Missing(m) | ExprError::Type(m) => Outcome::Fail(format!("{what}: {m}")),
    }
}

fn plugin_call(ctx: &plugins::Ctx, nodes: &Value, node: NodeId, call: &str) -> Outcome {
    let name = &ctx.oper.node(node).name;
    let node_v = match nodes {
        Value::Dict(d) => d.get(name).cloned().unwrap_or(Value::None),
        _ => Value::None,
    };
    let env = PluginEnv {
        nodes,
        node: &node_v,
    };
    let parsed = match expr::parse(call) {
        Ok(e) => e,
        Err(e) => return expr_outcome(e, "plugin"),
    };
    let expr::Expr::Call { func, args, kwargs } = parsed else {
        return Outcome::Fail(
            "plugin: expected a function call such as `ospf_neighbor(...)`".into(),
        );
    };
    let expr::Expr::Name(fname) = *func else {
        return Outcome::Fail(format!(
            "plugin: expected a function name, found `{}`",
            func.describe()
        ));
    };
    let mut vals = Vec::new();
    for a in &args {
        match expr::eval(a, &env) {
            Ok(v) => vals.push(v),
            Err(e) => return expr_outcome(e, &format!("{fname}()")),
        }
    }
    let mut kw = Vec::new();
    for (k, a) in &kwargs {
        match expr::eval(a, &env) {
            Ok(v) => kw.push((k.clone(), v)),
            Err(e) => return expr_outcome(e, &format!("{fname}()")),
        }
    }
    plugins::run(ctx, node, &fname, vals, kw)
}

/// Device types whose CLI nettwin's IOS-like CLI stands in for.
pub const IOS_LIKE: &[&str] = &["ios", "iosv", "iol", "csr", "cat8000v", "iosvl2", "ioll2"];

/// `show`/`exec` with `valid`: only an IOS-like `show` command the twin's CLI renders, with
/// a `valid` expression over its `stdout`.
fn command(
    ctx: &plugins::Ctx,
    t: &Test,
    node: NodeId,
    show: &Option<PerDevice>,
    exec: &Option<PerDevice>,
    cli: Option<&dyn Cli>,
) -> Outcome {
    // Which device's command to use: an IOS-like one if the test names any.
    let named: Vec<&str> = t
        .devices
        .iter()
        .map(String::as_str)
        .chain(exec.iter().flat_map(|e| e.devices()))
        .collect();
    let device = named.iter().copied().find(|d| IOS_LIKE.contains(d));
    let cmd = match (exec, device) {
        (Some(PerDevice::Any(c)), _) if named.is_empty() || device.is_some() => Some(c.clone()),
        (Some(e @ PerDevice::ByDevice(_)), Some(d)) => e.for_device(d).map(str::to_string),
        _ => None,
    };
    let Some(cmd) = cmd else {
        let what = match (show, exec) {
            (Some(s), _) => format!(
                "`show` reads a device's JSON printout ({}); nettwin's CLI is IOS-like text",
                match s {
                    PerDevice::Any(c) => format!("`{c}`"),
                    PerDevice::ByDevice(l) => l
                        .iter()
                        .map(|(d, c)| format!("{d}: `{c}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            ),
            _ => format!(
                "the `exec` commands are written for {}; nettwin's CLI is IOS-like",
                named.join(", ")
            ),
        };
        return Outcome::Skip(what);
    };
    if cmd.contains("{{") || cmd.contains("{%") {
        return Outcome::Skip("Jinja2 templates in `exec` are not rendered".into());
    }
    let first = cmd.split_whitespace().next().unwrap_or_default();
    if !"show".starts_with(first) || first.len() < 2 {
        return Outcome::Skip(format!(
            "`exec: {cmd}` is not a device CLI show command nettwin answers"
        ));
    }
    let Some(cli) = cli else {
        return Outcome::Skip("no device CLI is available to run `exec`".into());
    };
    let stdout = match cli.run(node, &cmd) {
        Ok(s) => s,
        Err(e) => return Outcome::Skip(format!("`{cmd}`: {e}")),
    };
    let valid = match (&t.valid, device) {
        (Some(PerDevice::Any(v)), _) => v.clone(),
        (Some(v @ PerDevice::ByDevice(_)), Some(d)) => match v.for_device(d) {
            Some(v) => v.to_string(),
            None => return Outcome::Skip(format!("no `valid` expression for device {d}")),
        },
        _ => return Outcome::Skip("no `valid` expression for an IOS-like device".into()),
    };
    if valid.contains("{{") || valid.contains("{%") {
        return Outcome::Skip("Jinja2 templates in `valid` are not rendered".into());
    }
    let env = ValidEnv { stdout: &stdout };
    let e = match expr::parse(valid.trim()) {
        Ok(e) => e,
        Err(e) => return expr_outcome(e, "valid"),
    };
    let name = &ctx.oper.node(node).name;
    match expr::eval(&e, &env) {
        Ok(v) if v.truthy() => Outcome::Pass(format!("Validation succeeded on {name}")),
        Ok(_) => Outcome::Fail(format!("`{}` is false for `{cmd}`", valid.trim())),
        Err(e) => expr_outcome(e, "valid"),
    }
}

/// What a `valid` expression sees: `stdout`, `re` and a few built-ins.
struct ValidEnv<'a> {
    stdout: &'a str,
}

impl Env for ValidEnv<'_> {
    fn name(&self, name: &str) -> Result<Value, ExprError> {
        match name {
            "stdout" => Ok(Value::str(self.stdout)),
            n => Err(ExprError::Missing(format!(
                "name `{n}` is not defined (an `exec` result is `stdout`)"
            ))),
        }
    }

    fn call(&self, callee: &str, args: &[Value]) -> Option<Result<Value, ExprError>> {
        let re_fn = callee.strip_prefix("re.")?;
        let (pat, text) = match args {
            [Value::Str(p), Value::Str(t)] => (p, t),
            _ => {
                return Some(Err(ExprError::Type(format!(
                    "{callee}() takes a pattern and a string"
                ))))
            }
        };
        let anchored = match re_fn {
            "match" => format!("\\A(?:{pat})"),
            "fullmatch" => format!("\\A(?:{pat})\\z"),
            _ => pat.clone(),
        };
        let re = match regex::Regex::new(&anchored) {
            Ok(r) => r,
            Err(e) => {
                return Some(Err(ExprError::Unsupported(format!(
                    "regular expression {pat}: {e}"
                ))))
            }
        };
        let found =
            |m: Option<regex::Match>| m.map(|m| Value::str(m.as_str())).unwrap_or(Value::None);
        Some(match re_fn {
            "search" | "match" | "fullmatch" => Ok(found(re.find(text))),
            "findall" => Ok(Value::List(
                re.find_iter(text).map(|m| Value::str(m.as_str())).collect(),
            )),
            other => Err(ExprError::Unsupported(format!(
                "re.{other} is not evaluated"
            ))),
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warning => "WARNING",
            Status::Skipped => "SKIPPED",
            Status::Info => "INFO",
        })
    }
}
