//! Running the system tools (`ip`, `sysctl`, FRR, `vtysh`, `ping`) as subprocesses.

use crate::EmuError;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the binary's SIGINT/SIGTERM handler. Every command that builds or probes checks it
/// first and fails with [`EmuError::Interrupted`]; the commands that take a run down do not,
/// so an interrupted `up` or `verify` still removes what it made.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Fails once an interruption was requested.
pub fn check_interrupted() -> Result<(), EmuError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(EmuError::Interrupted)
    } else {
        Ok(())
    }
}

/// A program the emulation runs and the Debian package that provides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

const fn tool(program: &'static str, package: &'static str) -> Tool {
    Tool { program, package }
}

pub const IP: Tool = tool("ip", "iproute2");
pub const BRIDGE: Tool = tool("bridge", "iproute2");
pub const TC: Tool = tool("tc", "iproute2");
pub const SYSCTL: Tool = tool("sysctl", "procps");
pub const KILL: Tool = tool("kill", "procps");
pub const CHOWN: Tool = tool("chown", "coreutils");
pub const PING: Tool = tool("ping", "iputils-ping");
pub const TRACEROUTE: Tool = tool("traceroute", "traceroute");
pub const VTYSH: Tool = tool("vtysh", "frr");

/// Whether `program` can be run: an absolute path that is an executable file, or a name found
/// as one in `PATH`.
pub fn have_program(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(std::path::Path::new(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).any(|d| executable(&d.join(program)))
}

/// Fails naming every tool that is missing, with its package, before anything is built.
pub fn require(tools: &[Tool]) -> Result<(), EmuError> {
    let mut missing: Vec<Tool> = Vec::new();
    for t in tools {
        if !have_program(t.program) && !missing.contains(t) {
            missing.push(*t);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(EmuError::MissingTools(
        missing
            .iter()
            .map(|t| format!("{} (Debian package {})", t.program, t.package))
            .collect(),
    ))
}

/// A command line as a user would type it, for error messages.
fn describe(program: &str, args: &[&str]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        if a.contains(' ') || a.is_empty() {
            s.push_str(&format!("'{a}'"));
        } else {
            s.push_str(a);
        }
    }
    s
}

fn spawn_output(program: &str, args: &[&str], stdin: Option<&str>) -> Result<Output, EmuError> {
    check_interrupted()?;
    spawn_unchecked(program, args, stdin)
}

fn spawn_unchecked(program: &str, args: &[&str], stdin: Option<&str>) -> Result<Output, EmuError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().map_err(|source| EmuError::Missing {
        program: program.to_string(),
        source,
    })?;
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // A tool that exits early closes the pipe; its status says why.
        let _ = pipe.write_all(text.as_bytes());
    }
    child
        .wait_with_output()
        .map_err(|source| EmuError::Missing {
            program: program.to_string(),
            source,
        })
}

/// Runs `program args`, returning stdout; a non-zero exit is an error carrying stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, EmuError> {
    run_stdin(program, args, None)
}

/// Like [`run`], feeding `stdin` to the command (for `ip -batch -`).
pub fn run_stdin(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, EmuError> {
    let out = spawn_output(program, args, stdin)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if let (Some(text), true) = (stdin, stderr.contains("Command failed")) {
            // ip -batch names the failing line; show it.
            stderr.push_str(&format!("\n--- batch input ---\n{text}"));
        }
        Err(EmuError::Command {
            command: describe(program, args),
            status: out.status.code().unwrap_or(-1),
            stderr,
        })
    }
}

/// Runs a command that takes a run down: not stopped by an interruption.
pub fn run_cleanup(program: &str, args: &[&str]) -> Result<String, EmuError> {
    let out = spawn_unchecked(program, args, None)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(EmuError::Command {
            command: describe(program, args),
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs a command and returns (exit status, stdout, stderr) without judging the status.
pub fn probe(program: &str, args: &[&str]) -> Result<(i32, String, String), EmuError> {
    let out = spawn_output(program, args, None)?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `ip -n NS ARGS...`.
pub fn ip_ns(ns: &str, args: &[&str]) -> Result<String, EmuError> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// `ip -n NS -batch -` with one command per line.
pub fn ip_batch(ns: &str, lines: &[String]) -> Result<(), EmuError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    run_stdin("ip", &["-n", ns, "-batch", "-"], Some(&text)).map(|_| ())
}

/// `bridge -n NS -batch -` with one command per line.
pub fn bridge_batch(ns: &str, lines: &[String]) -> Result<(), EmuError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    run_stdin("bridge", &["-n", ns, "-batch", "-"], Some(&text)).map(|_| ())
}

/// `ip netns exec NS PROGRAM ARGS...`.
pub fn in_ns(ns: &str, program: &str, args: &[&str]) -> Result<String, EmuError> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Sets sysctls inside a namespace in one process.
pub fn sysctls(ns: &str, settings: &[(&str, &str)]) -> Result<(), EmuError> {
    let kv: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut args = vec!["-q", "-w"];
    args.extend(kv.iter().map(String::as_str));
    in_ns(ns, "sysctl", &args).map(|_| ())
}

/// Sets sysctls a kernel may not have per namespace (older kernels keep some global, and then
/// they do not exist inside a namespace): unknown keys are skipped, never the host's changed.
pub fn sysctls_if_present(ns: &str, settings: &[(&str, &str)]) -> Result<(), EmuError> {
    let kv: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut args = vec!["-e", "-q", "-w"];
    args.extend(kv.iter().map(String::as_str));
    in_ns(ns, "sysctl", &args).map(|_| ())
}

/// The network namespaces that exist now.
pub fn netns_list() -> Result<Vec<String>, EmuError> {
    let out = run_cleanup("ip", &["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Whether the kernel makes VRF devices (`CONFIG_NET_VRF`): tried in a namespace of its own,
/// removed again whatever happens.
pub fn kernel_has_vrf() -> bool {
    let ns = format!("nt-vrfprobe-{}", std::process::id());
    if run("ip", &["netns", "add", &ns]).is_err() {
        return false;
    }
    let ok = run(
        "ip",
        &[
            "-n", &ns, "link", "add", "name", "probe", "type", "vrf", "table", "1",
        ],
    )
    .is_ok();
    let _ = run_cleanup("ip", &["netns", "del", &ns]);
    ok
}

/// The processes living in a namespace.
pub fn netns_pids(ns: &str) -> Vec<u32> {
    run_cleanup("ip", &["netns", "pids", ns])
        .map(|out| out.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Sends `signal` (e.g. "TERM") to a process; a process already gone is fine.
pub fn kill(pid: u32, signal: &str) {
    let _ = run_cleanup("kill", &[&format!("-{signal}"), &pid.to_string()]);
}
