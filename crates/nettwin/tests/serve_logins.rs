//! `nettwin serve` as its operator and real clients see it: every users-file mistake reported,
//! logins logged on stderr, warnings about an exposed host key, and OpenSSH retrying a
//! mistyped password or asking for sftp without hanging. All traffic is to 127.0.0.1.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(30);

/// The server process, killed when the test ends however it ends, and its stderr lines.
struct Server {
    child: Child,
    port: u16,
    stderr: Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Waits for a stderr line containing `want`; returns the lines read up to it.
    fn wait_stderr(&self, want: &str) -> Vec<String> {
        let deadline = Instant::now() + BOUND;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(want);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the server never logged {want:?}; it logged {seen:#?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server exited before logging {want:?}; it logged {seen:#?}")
                }
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn users(dir: &TempDir) -> String {
    let users = dir.file("users.txt");
    std::fs::write(&users, "admin password=admin secret=cisco\n").unwrap();
    users
}

fn serve(dir: &TempDir, extra: &[&str]) -> Server {
    let users = users(dir);
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args(extra)
        .args([
            "serve",
            "examples/isp-dc.yml",
            "--model-only",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--users", &users, "--host-key", &dir.file("host_key")])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nettwin serve");
    let (tx, stderr) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server {
        child,
        port,
        stderr,
    };
    assert!(
        line.starts_with(&format!("listening on 127.0.0.1:{port}")),
        "{line:?}"
    );
    server
}

/// `nettwin exec` logging in as `admin+DEVICE` with `password`; its exit status.
fn exec(dir: &TempDir, port: u16, device: &str, password: &str) -> Option<i32> {
    let commands = dir.file("steps.txt");
    std::fs::write(&commands, "show version\n").unwrap();
    let target = format!("127.0.0.1:{port}");
    let user = format!("admin+{device}");
    let o = nettwin(&[
        "exec",
        "--target",
        &target,
        "--user",
        &user,
        "--password",
        password,
        "--commands",
        &commands,
        "--timeout",
        "20",
    ]);
    o.status.code()
}

#[test]
fn every_users_file_mistake_is_reported_with_its_line() {
    let dir = TempDir::new("serve-users");
    let users = dir.file("users.txt");
    std::fs::write(
        &users,
        "admin password=\nops password=ok\nops password=again\nx colour=red\n",
    )
    .unwrap();
    let o = nettwin(&[
        "serve",
        "examples/isp-dc.yml",
        "--users",
        &users,
        "--host-key",
        &dir.file("host_key"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            format!("error: {users}:1: empty password (leave `password=` out for a key-only account)"),
            format!("error: {users}:3: user `ops` is already defined on line 2"),
            format!("error: {users}:4: unknown field `colour=red` (expected password=, secret=, privilege= or a public key)"),
        ],
        "{err}"
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn failed_logins_are_logged_and_accepted_ones_with_verbose() {
    let dir = TempDir::new("serve-log");
    let server = serve(&dir, &[]);
    assert_eq!(exec(&dir, server.port, "pe2", "wrong"), Some(2));
    let lines = server.wait_stderr("Failed password for admin+pe2 from 127.0.0.1 port ");
    assert!(lines.last().unwrap().ends_with(" ssh2"), "{lines:?}");
    assert_eq!(exec(&dir, server.port, "pe1", "admin"), Some(0));
    // A later failure shows the accepted login in between was not logged by default.
    assert_eq!(exec(&dir, server.port, "nope", "admin"), Some(2));
    let lines = server.wait_stderr("Failed password for admin+nope");
    assert!(
        lines.iter().all(|l| !l.contains("Accepted")),
        "accepted login logged without -v: {lines:?}"
    );
    drop(server);

    let dir = TempDir::new("serve-log-v");
    let server = serve(&dir, &["-v"]);
    assert_eq!(exec(&dir, server.port, "pe1", "admin"), Some(0));
    let lines = server.wait_stderr("Accepted password for admin+pe1 from 127.0.0.1 port ");
    // Each line starts with a UTC timestamp.
    let line = lines.last().unwrap();
    assert!(
        line.len() > 21 && line.as_bytes()[10] == b'T' && line[..21].ends_with("Z "),
        "{line}"
    );
}

#[cfg(unix)]
#[test]
fn an_exposed_host_key_is_used_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("serve-hostkey");
    drop(serve(&dir, &[]));
    let key = dir.file("host_key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "nettwin wrote its host key {mode:o}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = serve(&dir, &[]);
    let lines = server.wait_stderr("warning: host key");
    assert!(
        lines
            .last()
            .unwrap()
            .contains("is readable by others (mode 0644)"),
        "{lines:?}"
    );
    // It still serves with that key.
    assert_eq!(exec(&dir, server.port, "pe1", "admin"), Some(0));
}

/// Runs OpenSSH's `program` with `args`, answering password prompts from `passwords` in
/// order (through SSH_ASKPASS); `None` when OpenSSH is not installed.
fn openssh(
    dir: &TempDir,
    program: &str,
    args: &[&str],
    passwords: &[&str],
) -> Option<std::process::Output> {
    let path = format!("/usr/bin/{program}");
    if !std::path::Path::new(&path).exists() {
        eprintln!("skipped: {path} is not installed");
        return None;
    }
    let answers = dir.file("answers");
    std::fs::write(&answers, passwords.join("\n") + "\n").unwrap();
    let askpass = dir.file("askpass.sh");
    // Prints the first answer and drops it, so each prompt gets the next one.
    std::fs::write(
        &askpass,
        format!("#!/bin/sh\nhead -n 1 '{answers}'\nsed -i 1d '{answers}'\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut child = Command::new(path)
        .args([
            "-F",
            "/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "NumberOfPasswordPrompts=3",
            "-o",
            "ConnectTimeout=20",
        ])
        .args(args)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start OpenSSH");
    let deadline = Instant::now() + BOUND;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "{program} {args:?} still waiting after {BOUND:?}: {}",
                stderr(&o)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child.wait_with_output().unwrap())
}

#[test]
fn openssh_retries_a_mistyped_password() {
    let dir = TempDir::new("serve-openssh");
    let server = serve(&dir, &[]);
    let port = server.port.to_string();
    let args = ["-p", &port, "admin+pe1@127.0.0.1", "show version"];
    let Some(o) = openssh(&dir, "ssh", &args, &["wrong", "admin"]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("pe1 uptime is"), "{}", stdout(&o));
    server.wait_stderr("Failed password for admin+pe1 from 127.0.0.1");
}

#[test]
fn openssh_subsystems_fail_at_once() {
    let dir = TempDir::new("serve-sftp");
    let server = serve(&dir, &[]);
    let port = server.port.to_string();
    let netconf = ["-p", &port, "-s", "admin+pe1@127.0.0.1", "netconf"];
    let Some(o) = openssh(&dir, "ssh", &netconf, &["admin"]) else {
        return;
    };
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("subsystem request failed"),
        "{}",
        stderr(&o)
    );
    let sftp = ["-P", &port, "-b", "/dev/null", "admin+pe1@127.0.0.1"];
    if let Some(o) = openssh(&dir, "sftp", &sftp, &["admin"]) {
        assert!(!o.status.success(), "{}", stdout(&o));
    }
}
