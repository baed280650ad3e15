//! `nettwin validate LAB.yml`: run a netlab lab's `validate:` tests on the twin.

use crate::{output, Global};
use nettwin_cli::session::{Session, SessionOptions};
use nettwin_model::NodeId;
use nettwin_validate::{Report, Selection, Status, ValidateError};
use std::path::PathBuf;
use std::sync::Arc;

/// Run the lab's netlab validation tests (its `validate:` section) on the twin.
///
/// Each test runs on its nodes against the converged twin: OSPF/IS-IS/BGP neighbours, BGP and
/// IGP prefixes, routing-table entries and pings as netlab's FRR/Linux validation plugins
/// check them, and `exec` of IOS-like show commands with their `valid` expression. A test the
/// twin cannot answer (a device's JSON `show`, a shell command, a `config` template) is
/// skipped with the reason. `wait` never waits: the twin has converged when it starts.
///
/// Exit status: 0 when every test passed or was skipped, 1 when a test failed, 3 when tests
/// with `level: warning` failed and nothing else did (as netlab), 2 when the lab or its
/// `validate:` section is malformed.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin validate lab.yml\n  nettwin validate lab.yml adj 'ping.*' --node r1\n  nettwin validate lab.yml --json\n\nSee docs/validate.md for the plugins and test keys supported."
)]
pub struct Args {
    /// The lab topology file (YAML) with a `validate:` section.
    file: PathBuf,
    /// Tests to run (names or regular expressions matching whole names); all by default.
    tests: Vec<String>,
    /// Run the tests only on these nodes (comma-separated).
    #[arg(long, value_delimiter = ',')]
    node: Vec<String>,
    /// List the tests instead of running them.
    #[arg(long)]
    list: bool,
}

/// The twin's IOS-like CLI, for `exec: show ...` tests.
struct TwinCli {
    twin: Arc<dyn nettwin_cli::Twin>,
}

impl nettwin_validate::Cli for TwinCli {
    fn run(&self, node: NodeId, command: &str) -> Result<String, String> {
        let mut s = Session::new(
            self.twin.clone(),
            node,
            SessionOptions {
                privileged: true,
                ..Default::default()
            },
        );
        s.run_line("terminal length 0");
        let out = String::from_utf8_lossy(&s.run_line(command)).replace("\r\n", "\n");
        for refusal in [
            "% Invalid input",
            "% Incomplete command",
            "% Ambiguous command",
            "% Unrecognized command",
        ] {
            if out.contains(refusal) {
                return Err(format!(
                    "nettwin's CLI does not answer it ({})",
                    refusal.trim_start_matches("% ")
                ));
            }
        }
        Ok(out)
    }
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&args.file)?;
    let sel = Selection {
        tests: args.tests,
        nodes: args.node,
    };
    let tests = match nettwin_validate::select(&topo, &sel) {
        Ok(t) => t,
        Err(ValidateError::Malformed(d)) => {
            let text = std::fs::read(&args.file).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            return Err(output::BadInput(output::render_diagnostics(&d, &text)).into());
        }
        Err(e) => return Err(output::BadInput(format!("error: {e}")).into()),
    };
    if args.list {
        return list(&tests, g);
    }
    let routing = super::routes::compute(&topo)?;
    let needs_cli = tests
        .iter()
        .any(|t| matches!(t.action, nettwin_validate::Action::Command { .. }));
    let cli = if needs_cli {
        let twin = nettwin_cli::ModelTwin::with_routing(topo.clone())
            .map_err(|e| anyhow::anyhow!("the device CLI could not start: {e}"))?;
        Some(TwinCli {
            twin: Arc::new(twin),
        })
    } else {
        None
    };
    let report = nettwin_validate::run(
        &topo,
        &routing,
        &tests,
        cli.as_ref().map(|c| c as &dyn nettwin_validate::Cli),
    );
    if g.json {
        output::print_json(&report)?;
    } else {
        print!("{}", render(&report, g.verbose));
    }
    match report.exit_code() {
        0 => Ok(()),
        1 => Err(output::Failed.into()),
        code => Err(output::ExitWith(code).into()),
    }
}

fn list(tests: &[nettwin_validate::Test], g: Global) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = tests
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.description.clone().unwrap_or_default(),
                t.nodes.join(","),
                t.devices.join(","),
                t.wait.as_ref().map(|w| w.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    if g.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({"name": r[0], "description": r[1], "nodes": r[2], "devices": r[3], "wait": r[4]})
            })
            .collect();
        return output::print_json(&v);
    }
    let mut all = vec![["Test", "Description", "Nodes", "Devices", "Wait"]
        .map(String::from)
        .to_vec()];
    all.extend(rows);
    print!("{}", output::table(&all));
    Ok(())
}

/// netlab's layout: a header per test, a line per node, a summary.
pub fn render(r: &Report, verbose: u8) -> String {
    let mut out = String::new();
    let width = r
        .tests
        .iter()
        .map(|t| t.name.len())
        .chain([7])
        .max()
        .unwrap_or(7)
        + 3;
    let tag = |s: &str| format!("{:<width$}", format!("[{s}]"));
    for (i, t) in r.tests.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let nodes = if t.nodes.is_empty() {
            String::new()
        } else {
            format!(
                " [ node(s): {} ]",
                t.nodes
                    .iter()
                    .map(|n| n.node.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        out.push_str(&format!(
            "{}{}{nodes}\n",
            tag(&t.name),
            t.description.as_deref().unwrap_or("Starting test")
        ));
        if verbose > 0 {
            if let Some(a) = &t.action {
                out.push_str(&format!("{}{a}\n", tag("RUN")));
            }
        }
        for n in &t.nodes {
            out.push_str(&format!(
                "{}{}: {}\n",
                tag(&n.status.to_string()),
                n.node,
                n.message
            ));
        }
        let show_test_line = match t.status {
            Status::Info => true,
            Status::Skipped => t.nodes.is_empty(),
            _ => true,
        };
        if show_test_line {
            out.push_str(&format!("{}{}\n", tag(&t.status.to_string()), t.message));
        }
    }
    out.push('\n');
    if let Some(s) = &r.stopped {
        out.push_str(&format!("{}{s}\n", tag("FAIL")));
    }
    let c = &r.counts;
    let plural = |n: usize| {
        if n == 1 {
            "one test".to_string()
        } else {
            format!("{n} tests")
        }
    };
    let run = c.passed + c.failed + c.warnings;
    if c.failed > 0 {
        out.push_str(&format!(
            "{}{} completed, {} failed\n",
            tag("FAIL"),
            capitalize(&plural(run)),
            plural(c.failed)
        ));
    } else if c.warnings > 0 {
        out.push_str(&format!(
            "{}{} out of {} generated a warning\n",
            tag("WARNING"),
            capitalize(&plural(c.warnings)),
            plural(run)
        ));
    } else {
        out.push_str(&format!("{}Tests passed: {}\n", tag("SUCCESS"), c.passed));
    }
    if c.skipped > 0 {
        out.push_str(&format!(
            "{}{} skipped: the twin cannot answer {} (see the reasons above)\n",
            tag("INFO"),
            capitalize(&plural(c.skipped)),
            if c.skipped == 1 { "it" } else { "them" }
        ));
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
