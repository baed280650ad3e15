//! The SSH server driven by the crate's own SSH client (the runner) on 127.0.0.1: modes and
//! enable over SSH, per-step checks, and a server that keeps serving through abuse.

use nettwin_cli::runner::{self, Shell, Target};
use nettwin_cli::server::{bind, ServeConfig, Users};
use nettwin_cli::{ModelTwin, Twin};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts a server on a free port; it stops with the runtime at the end of the test.
async fn start(tag: &str) -> (SocketAddr, TempDir) {
    let dir = std::env::temp_dir().join(format!("nettwin-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lab.yml");
    let topo = nettwin_model::load_file(std::path::Path::new(path)).unwrap();
    let twin: Arc<dyn Twin> = Arc::new(ModelTwin::new(topo));
    let cfg = ServeConfig {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        port_base: None,
        users: Users::parse("users", "admin password=admin secret=cisco\n").unwrap(),
        host_key: dir.join("host_key"),
        idle_timeout: Duration::from_secs(60),
    };
    let server = bind(twin, &cfg).await.unwrap();
    let addr = server.addresses()[0].0;
    tokio::spawn(server.run());
    (addr, TempDir(dir))
}

fn target(addr: SocketAddr, device: &str) -> Target {
    Target {
        address: addr.to_string(),
        user: format!("admin+{device}"),
        password: Some("admin".into()),
        key: None,
        enable_secret: Some("cisco".into()),
        timeout: Duration::from_secs(20),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_checks_steps_across_modes() {
    let (addr, _dir) = start("runner").await;
    let commands = runner::parse_commands(
        "show ip interface brief\nenable\nconfigure terminal\ninterface gi0/1\nshutdown\nend\nshow ip interface brief\nshow ip route\nshow ipx\n",
    );
    let steps = runner::build_steps(
        commands,
        "expect",
        "1 field Interface=GigabitEthernet0/1 Status=up\n\
         7 field Interface=GigabitEthernet0/1 Status=administratively_down Protocol=down\n\
         8 !contains 198.19.0.0/30\n\
         8 regex ^Gateway of last resort is not set$\n\
         9 contains Invalid input\n\
         9 contains this is not there\n",
    )
    .unwrap();
    // With Gi0/1 down, r1's statics via 198.19.0.2 no longer resolve: no default route.
    let results = runner::run(&target(addr, "r1"), &steps).await.unwrap();
    let passed: Vec<bool> = results.iter().map(|r| r.passed()).collect();
    assert_eq!(
        passed,
        [true, true, true, true, true, true, true, true, false]
    );
    assert_eq!(results[1].prompt, "r1>");
    assert_eq!(results[2].prompt, "r1#");
    assert_eq!(results[4].prompt, "r1(config-if)#");
    assert_eq!(
        results[8]
            .checks
            .iter()
            .map(|c| c.passed)
            .collect::<Vec<_>>(),
        [true, false]
    );
    // The change is there for the next session on another device.
    let steps = runner::build_steps(
        vec!["show ip interface brief".into()],
        "expect",
        "1 field Interface=GigabitEthernet0/1 Status=down Protocol=down\n",
    )
    .unwrap();
    let results = runner::run(&target(addr, "r2"), &steps).await.unwrap();
    assert!(results[0].passed(), "{}", results[0].output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_are_errors() {
    let (addr, _dir) = start("auth").await;
    let mut t = target(addr, "r1");
    t.password = Some("wrong".into());
    assert!(matches!(
        Shell::open(&t).await,
        Err(runner::RunnerError::Auth { .. })
    ));
    // A device that does not exist is refused like a bad password.
    let t = target(addr, "r9");
    assert!(matches!(
        Shell::open(&t).await,
        Err(runner::RunnerError::Auth { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_leaves_the_server_serving() {
    let (addr, _dir) = start("abuse").await;
    let t = target(addr, "r3");
    // 200 sessions open at the same time.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let t = t.clone();
        set.spawn(async move { Shell::open(&t).await });
    }
    let mut shells = Vec::new();
    while let Some(r) = set.join_next().await {
        shells.push(r.unwrap().expect("session opens"));
    }
    assert_eq!(shells.len(), 200);
    // A 1 MB line: the server keeps MAX_LINE characters and answers with an error.
    let mut big = shells.pop().unwrap();
    let line = "x".repeat(1 << 20);
    let out = big
        .command(&line, Duration::from_secs(60), None)
        .await
        .unwrap();
    assert!(out.contains("% Invalid input detected"));
    // Clients that vanish mid-command (half a line typed, then dropped).
    for mut s in shells.drain(..100) {
        let _ = s
            .command("show ip ro", Duration::from_millis(1), None)
            .await;
        drop(s);
    }
    // Raw TCP connections that send garbage instead of SSH.
    for _ in 0..20 {
        use tokio::io::AsyncWriteExt;
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = sock.write_all(b"GET / HTTP/1.0\r\n\r\n\x00\xff\xfe").await;
    }
    // Everyone left still gets answers.
    for s in shells.iter_mut().take(20) {
        let out = s
            .command("show ip route", Duration::from_secs(20), None)
            .await
            .unwrap();
        assert!(out.contains("C        198.19.0.4/30 is directly connected"));
    }
    let mut fresh = Shell::open(&target(addr, "r1")).await.unwrap();
    let out = fresh
        .command("show version", Duration::from_secs(20), None)
        .await
        .unwrap();
    assert!(out.contains("r1 uptime is"));
}
