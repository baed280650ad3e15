//! `nettwin exec`: run a list of commands on an IOS-like device over SSH and check the outputs.

use crate::{output, Global};
use nettwin_cli::runner::{self, Target};
use std::path::PathBuf;
use std::time::Duration;

/// Connect to a device (simulated or real IOS-like) over SSH, run commands across mode changes
/// (exec, enable, configure, interface), and check each output against expectations.
///
/// Exit status: 0 when every step passes, 1 when a step fails, 2 when the run cannot start.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin exec --target 127.0.0.1:2222 --user admin+pe1 --password admin --commands steps.txt --expect expect.txt\n\nSee docs/cli.md for the commands and expectation file formats (contains, !contains, regex, field)."
)]
pub struct Args {
    /// HOST:PORT of the SSH server.
    #[arg(long)]
    target: String,
    /// User name (for nettwin serve: USER+DEVICE).
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: Option<String>,
    /// Private key file for public-key authentication.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Enable secret, sent when a command asks for `Password:`.
    #[arg(long)]
    secret: Option<String>,
    /// One command per line.
    #[arg(long)]
    commands: PathBuf,
    /// Expectations per step.
    #[arg(long)]
    expect: Option<PathBuf>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| output::BadInput(format!("error: cannot read {}: {e}", path.display())).into())
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let list = runner::parse_commands(&read(&args.commands)?);
    let steps = match &args.expect {
        Some(f) => runner::build_steps(list, &f.display().to_string(), &read(f)?),
        None => runner::build_steps(list, "", ""),
    }
    .map_err(|e| output::BadInput(format!("error: {e}")))?;
    let target = Target {
        address: args.target,
        user: args.user,
        password: args.password,
        key: args.key,
        enable_secret: args.secret,
        timeout: Duration::from_secs(args.timeout),
    };
    let results = runner::run_blocking(&target, &steps)
        .map_err(|e| output::BadInput(format!("error: {e}")))?;
    let ok = results.iter().all(|r| r.passed());
    if g.json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "prompt": r.prompt, "command": r.command, "passed": r.passed(), "error": r.error,
                    "checks": r.checks.iter().map(|c| serde_json::json!({"expect": c.expect, "passed": c.passed})).collect::<Vec<_>>(),
                    "output": r.output,
                })
            })
            .collect();
        output::print_json(&rows)?;
    } else {
        for (i, r) in results.iter().enumerate() {
            println!(
                "{} {:>3} {}{}",
                if r.passed() { "PASS" } else { "FAIL" },
                i + 1,
                r.prompt,
                r.command
            );
            if let Some(e) = &r.error {
                println!("         {e}");
            }
            for c in &r.checks {
                println!(
                    "       {} {}",
                    if c.passed { "ok  " } else { "FAIL" },
                    c.expect
                );
            }
        }
    }
    if ok {
        Ok(())
    } else {
        Err(output::Failed.into())
    }
}
