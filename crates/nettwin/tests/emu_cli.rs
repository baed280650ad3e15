//! `nettwin emu` as a user runs it. Needs root and `ip netns`; without root each test prints
//! why it is skipped (except the one that checks the message non-root users get).

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn nettwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run nettwin")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn skip(test: &str) -> bool {
    if root() {
        return false;
    }
    eprintln!("SKIPPED {test}: needs root (network namespaces)");
    true
}

/// Runs `nettwin emu down RUN` when dropped.
struct Guard(String);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = nettwin(&["emu", "down", &self.0]);
    }
}

fn netns_with_prefix(prefix: &str) -> Vec<String> {
    let o = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("nettwin-emu-{}-{name}", std::process::id()));
    // Emulated networks use the benchmarking range only.
    let contents = if name.ends_with(".yml") {
        nettwin_model::generate::with_benchmark_pools(contents)
    } else {
        contents.to_string()
    };
    std::fs::write(&p, contents).unwrap();
    p
}

const PAIR: &str = "
nodes:
  h1: {kind: host}
  h2: {kind: host}
links:
  - {h1: {ipv4: 198.18.7.1/24}, h2: {ipv4: 198.18.7.2/24}}
";

#[test]
fn up_exec_down() {
    if skip("up_exec_down") {
        return;
    }
    let f = temp_file("pair.yml", PAIR);
    let o = nettwin(&["emu", "up", f.to_str().unwrap(), "--name", "cpair"]);
    let _g = Guard("cpair".into());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("run cpair: 2 namespaces up"),
        "{}",
        text(&o)
    );
    let o = nettwin(&["emu", "list"]);
    assert!(text(&o).contains("cpair"), "{}", text(&o));
    let o = nettwin(&[
        "emu",
        "exec",
        "--run",
        "cpair",
        "h1",
        "--",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "198.18.7.2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 received"), "{}", text(&o));
    // The command's own failure is the exit status.
    let o = nettwin(&["emu", "exec", "--run", "cpair", "h1", "--", "false"]);
    assert_eq!(o.status.code(), Some(1));
    let o = nettwin(&["emu", "exec", "--run", "cpair", "nope", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("no node `nope` in run `cpair`"),
        "{}",
        text(&o)
    );
    let o = nettwin(&["emu", "down", "cpair"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("removed 2 namespaces"), "{}", text(&o));
    assert!(netns_with_prefix("nt-cpair-").is_empty());
    std::fs::remove_file(f).unwrap();
}

#[test]
fn addresses_outside_the_test_ranges_exit_2_naming_node_and_address() {
    if skip("addresses_outside_the_test_ranges_exit_2_naming_node_and_address") {
        return;
    }
    let f = temp_file(
        "bad.yml",
        "nodes:\n  a: {}\n  b: {}\nlinks:\n  - {a: {ipv4: 10.1.1.1/30}, b: {ipv4: 10.1.1.2/30}}\n",
    );
    let o = nettwin(&["emu", "up", f.to_str().unwrap(), "--name", "cbad"]);
    let _g = Guard("cbad".into());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("node `b` interface eth1 address 10.1.1.2/30 is outside 198.18.0.0/15"),
        "{}",
        text(&o)
    );
    assert!(netns_with_prefix("nt-cbad-").is_empty());
    std::fs::remove_file(f).unwrap();
}

#[test]
fn non_root_users_are_told_root_is_needed() {
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    if root() && !setpriv.exists() {
        eprintln!("SKIPPED non_root_users_are_told_root_is_needed: no setpriv to drop root");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_nettwin");
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let o = if root() {
        Command::new(setpriv)
            .current_dir(repo)
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                bin,
                "emu",
                "up",
                "examples/campus.yml",
            ])
            .output()
            .unwrap()
    } else {
        Command::new(bin)
            .current_dir(repo)
            .args(["emu", "up", "examples/campus.yml"])
            .output()
            .unwrap()
    };
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nettwin emu needs root"), "{}", text(&o));
}

/// A chain of routers, big enough that `up` takes a while.
fn chain(n: usize) -> String {
    let mut s = String::from("nodes:\n");
    for i in 0..n {
        s.push_str(&format!("  r{i}: {{}}\n"));
    }
    s.push_str("links:\n");
    for i in 1..n {
        s.push_str(&format!("  - [r{}, r{i}]\n", i - 1));
    }
    s
}

#[test]
fn down_removes_everything_after_up_is_killed_half_way() {
    if skip("down_removes_everything_after_up_is_killed_half_way") {
        return;
    }
    let f = temp_file("chain.yml", &chain(120));
    let state = std::path::Path::new("/run/nettwin/ckill.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args(["emu", "up", f.to_str().unwrap(), "--name", "ckill"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _g = Guard("ckill".into());
    // Kill it once it has made some namespaces but not all.
    let t0 = Instant::now();
    loop {
        let made = netns_with_prefix("nt-ckill-").len();
        if made >= 20 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "up never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let left = netns_with_prefix("nt-ckill-");
    assert!(
        !left.is_empty() && left.len() < 120,
        "killed at {} namespaces",
        left.len()
    );
    let st: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    assert_eq!(st["complete"], false);
    let o = nettwin(&["emu", "list"]);
    assert!(text(&o).contains("interrupted"), "{}", text(&o));
    let o = nettwin(&["emu", "down", "ckill"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("removed {} namespaces", left.len())),
        "{}",
        text(&o)
    );
    assert!(netns_with_prefix("nt-ckill-").is_empty());
    assert!(!state.exists());
    std::fs::remove_file(f).unwrap();
}

#[test]
fn concurrent_runs_get_different_names_and_do_not_collide() {
    if skip("concurrent_runs_get_different_names_and_do_not_collide") {
        return;
    }
    let f = temp_file("conc.yml", &chain(6));
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_nettwin"))
            .args(["--json", "emu", "up", f.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let name = |o: &Output| -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        v["run"].as_str().map(str::to_string)
    };
    let (na, nb) = (name(&a), name(&b));
    let _ga = na.clone().map(Guard);
    let _gb = nb.clone().map(Guard);
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let (na, nb) = (na.unwrap(), nb.unwrap());
    assert_ne!(na, nb);
    let pa = netns_with_prefix(&format!("nt-{na}-"));
    let pb = netns_with_prefix(&format!("nt-{nb}-"));
    assert_eq!((pa.len(), pb.len()), (6, 6));
    // Each run's r0 reaches its own r1 (198.18.x addresses are the same in both: they live in
    // separate namespaces).
    for run in [&na, &nb] {
        let o = nettwin(&["emu", "exec", "--run", run, "r0", "--", "ip", "-br", "addr"]);
        let addr = text(&o)
            .lines()
            .find(|l| l.starts_with("eth1"))
            .and_then(|l| l.split_whitespace().nth(2))
            .map(|a| a.split('/').next().unwrap().to_string())
            .unwrap();
        let o = nettwin(&[
            "emu", "exec", "--run", run, "r1", "--", "ping", "-c1", "-W2", &addr,
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = nettwin(&["emu", "down", &na]);
    assert!(o.status.success());
    assert!(netns_with_prefix(&format!("nt-{na}-")).is_empty());
    assert_eq!(
        netns_with_prefix(&format!("nt-{nb}-")).len(),
        6,
        "down of one run touched the other"
    );
    std::fs::remove_file(f).unwrap();
}

#[test]
fn verify_static_on_every_example_has_no_differences() {
    if skip("verify_static_on_every_example_has_no_differences") {
        return;
    }
    for f in [
        "examples/campus.yml",
        "examples/isp-dc.yml",
        "examples/leaf-spine.yml",
    ] {
        let o = nettwin(&["emu", "verify", f, "--routes", "static", "--size", "1500"]);
        assert!(o.status.success(), "{f}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains("0 differ"), "{t}");
        assert!(t.contains(", removed"), "{t}");
    }
}

/// `nettwin` with a private state directory and, optionally, a PATH of its own.
fn nettwin_env(
    args: &[&str],
    state_dir: &std::path::Path,
    path: Option<&std::path::Path>,
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nettwin"));
    c.args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("NETTWIN_EMU_STATE_DIR", state_dir);
    if let Some(p) = path {
        c.env("PATH", p);
    }
    c.output().expect("run nettwin")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nettwin-emu-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Where `program` is on this machine's PATH.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[test]
fn a_missing_ping_is_an_error_naming_its_package_before_anything_is_built() {
    if skip("a_missing_ping_is_an_error_naming_its_package_before_anything_is_built") {
        return;
    }
    // A PATH with every tool verify needs except ping.
    let bin = temp_dir("nopingbin");
    for tool in ["ip", "bridge", "sysctl", "kill", "traceroute", "tc"] {
        if let Some(p) = which(tool) {
            std::os::unix::fs::symlink(p, bin.join(tool)).unwrap();
        }
    }
    let state = temp_dir("nopingstate");
    let f = temp_file("noping.yml", PAIR);
    let o = nettwin_env(
        &["emu", "verify", f.to_str().unwrap(), "--name", "cmiss"],
        &state,
        Some(&bin),
    );
    let _g = Guard("cmiss".into());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("missing programs: ping (Debian package iputils-ping)"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("traceroute (Debian"), "{}", text(&o));
    assert!(netns_with_prefix("nt-cmiss-").is_empty());
    std::fs::remove_dir_all(bin).unwrap();
    std::fs::remove_dir_all(state).unwrap();
    std::fs::remove_file(f).unwrap();
}

/// Processes whose command line mentions `needle` (FRR daemons are started with `-N NS`).
fn processes_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

const OSPF_SQUARE: &str = "
module: [ospf]
nodes: {r1: {}, r2: {}, r3: {}, r4: {}, h1: {kind: host}}
links: [r1-r2, r2-r3, r3-r4, r4-r1, r3-h1]
";

#[test]
fn sigterm_during_verify_removes_namespaces_and_daemons() {
    if skip("sigterm_during_verify_removes_namespaces_and_daemons") {
        return;
    }
    if which("vtysh").is_none() {
        eprintln!("SKIPPED sigterm_during_verify_removes_namespaces_and_daemons: no FRR");
        return;
    }
    let f = temp_file("sig.yml", OSPF_SQUARE);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args([
            "emu",
            "verify",
            f.to_str().unwrap(),
            "--routes",
            "frr",
            "--name",
            "csig",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _g = Guard("csig".into());
    // Signal it once FRR runs: zebra of every router and the namespaces are there to remove.
    let t0 = Instant::now();
    while processes_with("nt-csig-").len() < 4 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "FRR never started in run csig"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "verify did not stop within 60 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(netns_with_prefix("nt-csig-").is_empty());
    assert!(processes_with("nt-csig-").is_empty());
    assert!(!std::path::Path::new("/run/nettwin/csig.json").exists());
    std::fs::remove_file(f).unwrap();
}

#[test]
fn down_without_a_name_removes_a_verify_that_was_killed() {
    if skip("down_without_a_name_removes_a_verify_that_was_killed") {
        return;
    }
    let state = temp_dir("orphanstate");
    let f = temp_file("orphan.yml", PAIR);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args(["emu", "verify", f.to_str().unwrap(), "--name", "corph"])
        .env("NETTWIN_EMU_STATE_DIR", &state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _g = Guard("corph".into());
    let t0 = Instant::now();
    let st_file = state.join("corph.json");
    // Killed once the run is complete (the pings are under way): a verify's run is stale as
    // soon as its process is gone.
    loop {
        let complete = std::fs::read(&st_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["complete"] == true);
        if complete {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "verify never built corph"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if netns_with_prefix("nt-corph-").is_empty() {
        eprintln!("verify finished before it could be killed; nothing to check");
        return;
    }
    let o = nettwin_env(&["emu", "list"], &state, None);
    assert!(text(&o).contains("orphaned"), "{}", text(&o));
    let o = nettwin_env(&["emu", "down"], &state, None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("run corph: removed 2 namespaces"),
        "{}",
        text(&o)
    );
    assert!(netns_with_prefix("nt-corph-").is_empty());
    std::fs::remove_dir_all(state).unwrap();
    std::fs::remove_file(f).unwrap();
}

#[test]
fn down_touches_nothing_the_run_cannot_have_made() {
    if skip("down_touches_nothing_the_run_cannot_have_made") {
        return;
    }
    let state = temp_dir("evilstate");
    let victim_dir = temp_dir("victim");
    std::fs::write(victim_dir.join("keep"), "precious").unwrap();
    let victim_ns = format!("ntvictim{}", std::process::id());
    assert!(Command::new("ip")
        .args(["netns", "add", &victim_ns])
        .status()
        .unwrap()
        .success());
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _c = Cleanup(victim_ns.clone());
    let st = serde_json::json!({
        "run": "cevil", "file": "x.yml", "pid": 1, "started_unix": 0, "routes": "static",
        "nodes": {}, "complete": true,
        "created": [
            {"kind": "netns", "name": victim_ns},
            {"kind": "netns", "name": "nt-cevil-../x"},
            {"kind": "dir", "path": victim_dir.to_str().unwrap()},
            {"kind": "dir", "path": format!("{}/cevil/../../etc", state.display())},
        ]
    });
    std::fs::write(state.join("cevil.json"), st.to_string()).unwrap();
    let o = nettwin_env(&["emu", "down", "cevil"], &state, None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("left namespace {victim_ns} alone")),
        "{}",
        text(&o)
    );
    assert_eq!(text(&o).matches("alone").count(), 4, "{}", text(&o));
    assert!(netns_with_prefix(&victim_ns).contains(&victim_ns));
    assert_eq!(
        std::fs::read_to_string(victim_dir.join("keep")).unwrap(),
        "precious"
    );
    std::fs::remove_dir_all(victim_dir).unwrap();
    std::fs::remove_dir_all(state).unwrap();
}
