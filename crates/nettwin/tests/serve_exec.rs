//! `nettwin serve` and `nettwin exec` together: the runner drives a served device across mode
//! changes, a configuration change re-converges the twin, and a failed check exits 1.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The server process, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &TempDir) -> (Server, u16) {
    let users = dir.file("users.txt");
    std::fs::write(&users, "admin password=admin secret=cisco\n").unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args([
            "serve",
            "examples/isp-dc.yml",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--users", &users, "--host-key", &dir.file("host_key")])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nettwin serve");
    // The server says where it listens once it does.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    assert!(
        line.starts_with(&format!("listening on 127.0.0.1:{port}")),
        "{line}"
    );
    (server, port)
}

#[test]
fn exec_runs_steps_across_modes_and_reports_each() {
    let dir = TempDir::new("serve-exec");
    let (_server, port) = serve(&dir);
    let commands = dir.file("steps.txt");
    std::fs::write(
        &commands,
        "enable\nshow ip route 198.18.0.3\nconfigure terminal\ninterface GigabitEthernet0/1\nshutdown\nend\nshow ip route 198.18.0.3\nshow ip ospf neighbor\n",
    )
    .unwrap();
    let expect = dir.file("expect.txt");
    // pe2 reaches pe1's loopback through p1 (198.19.0.2); with eth1 shut, through p2.
    std::fs::write(
        &expect,
        "2 contains 198.19.0.2\n5 !contains %\n7 contains 198.19.0.6\n7 !contains 198.19.0.2\n8 field Neighbor_ID=198.18.0.2 Interface=GigabitEthernet0/2\n",
    )
    .unwrap();
    let target = format!("127.0.0.1:{port}");
    let args = [
        "exec",
        "--target",
        &target,
        "--user",
        "admin+pe2",
        "--password",
        "admin",
        "--secret",
        "cisco",
    ];
    let o = nettwin(&[&args[..], &["--commands", &commands, "--expect", &expect]].concat());
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS")).count(),
        8,
        "{out}"
    );
    assert!(out.contains("PASS   5 pe2(config-if)#shutdown"), "{out}");

    // A check that fails makes the run fail with status 1.
    std::fs::write(&expect, "2 contains 203.0.113.99\n").unwrap();
    let o = nettwin(
        &[
            &args[..],
            &["--commands", &commands, "--expect", &expect, "--json"],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[1]["passed"], false);
    assert_eq!(v[1]["checks"][0]["passed"], false);
}

#[test]
fn exec_cannot_connect_exits_2() {
    let dir = TempDir::new("exec-refused");
    let commands = dir.file("steps.txt");
    std::fs::write(&commands, "show version\n").unwrap();
    let target = format!("127.0.0.1:{}", free_port());
    let o = nettwin(&[
        "exec",
        "--target",
        &target,
        "--user",
        "admin+pe1",
        "--password",
        "x",
        "--commands",
        &commands,
        "--timeout",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
}
