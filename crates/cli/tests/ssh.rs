//! The SSH server driven by the crate's own SSH client (the runner) on 127.0.0.1: modes and
//! enable over SSH, per-step checks, and a server that keeps serving through abuse.

use nettwin_cli::runner::{self, Shell, Target};
use nettwin_cli::server::{
    bind, AuthMethod, AuthOutcome, DropReason, Limits, ServeConfig, ServerEvent, Users,
};
use nettwin_cli::{ModelTwin, Twin};
use russh::client::AuthResult;
use russh::{ChannelMsg, MethodKind};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts a server on a free port; it stops with the runtime at the end of the test.
async fn start(tag: &str) -> (SocketAddr, TempDir) {
    let (addr, dir, _) = start_with(tag, Limits::default(), "").await;
    (addr, dir)
}

/// What a test server reported, in order.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<ServerEvent>>>);

impl Events {
    fn all(&self) -> Vec<ServerEvent> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) until `pred` holds for the events so far.
    async fn wait_for(&self, what: &str, pred: impl Fn(&[ServerEvent]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if pred(&self.all()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never saw {what}; events: {:#?}",
                self.all()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts a server with `limits` and extra users-file lines, recording its events.
async fn start_with(tag: &str, limits: Limits, extra_users: &str) -> (SocketAddr, TempDir, Events) {
    let dir = std::env::temp_dir().join(format!("nettwin-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lab.yml");
    let topo = nettwin_model::load_file(std::path::Path::new(path)).unwrap();
    let twin: Arc<dyn Twin> = Arc::new(ModelTwin::new(topo));
    let users = format!("admin password=admin secret=cisco\n{extra_users}");
    let cfg = ServeConfig {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        port_base: None,
        users: Users::parse("users", &users).unwrap(),
        host_key: dir.join("host_key"),
        idle_timeout: Duration::from_secs(60),
    };
    let events = Events::default();
    let sink = events.clone();
    let server = bind(twin, &cfg)
        .await
        .unwrap()
        .with_limits(limits)
        .on_event(move |e| sink.0.lock().unwrap().push(e));
    let addr = server.addresses()[0].0;
    tokio::spawn(server.run());
    (addr, TempDir(dir), events)
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
    // 200 logins at once from one address is past the default per-source startup limit
    // (100): this test is about load, not about that limit, so it lifts it.
    let (addr, _dir, _) = start_with("abuse", Limits::without_startup_limits(), "").await;
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

/// A client that trusts any host key: the tests talk to their own server on 127.0.0.1.
struct AnyHostKey;

impl russh::client::Handler for AnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

const BOUND: Duration = Duration::from_secs(20);

/// An SSH connection that has not authenticated yet.
async fn connect_raw(addr: SocketAddr) -> russh::client::Handle<AnyHostKey> {
    let config = Arc::new(russh::client::Config::default());
    tokio::time::timeout(BOUND, russh::client::connect(config, addr, AnyHostKey))
        .await
        .expect("the SSH handshake never finished")
        .expect("SSH handshake")
}

async fn password(
    h: &mut russh::client::Handle<AnyHostKey>,
    login: &str,
    pw: &str,
) -> Result<AuthResult, russh::Error> {
    tokio::time::timeout(BOUND, h.authenticate_password(login, pw))
        .await
        .unwrap_or_else(|_| panic!("no answer to password {pw:?} for {login}"))
}

/// A logged-in connection with a session channel open.
async fn session_channel(
    addr: SocketAddr,
    login: &str,
) -> (
    russh::client::Handle<AnyHostKey>,
    russh::Channel<russh::client::Msg>,
) {
    let mut h = connect_raw(addr).await;
    assert!(password(&mut h, login, "admin").await.unwrap().success());
    let ch = tokio::time::timeout(BOUND, h.channel_open_session())
        .await
        .expect("no answer to the channel open")
        .unwrap();
    (h, ch)
}

/// The server's answer to the last request that wanted one: true for success.
async fn reply(ch: &mut russh::Channel<russh::client::Msg>, what: &str) -> bool {
    loop {
        match tokio::time::timeout(BOUND, ch.wait()).await {
            Err(_) => panic!("no answer to {what}"),
            Ok(Some(ChannelMsg::Success)) => return true,
            Ok(Some(ChannelMsg::Failure)) => return false,
            Ok(None) => panic!("channel closed instead of answering {what}"),
            Ok(Some(_)) => {}
        }
    }
}

/// Reads the channel until its text contains `want`; returns the text and whether the server
/// closed the channel by then.
async fn read_until(ch: &mut russh::Channel<russh::client::Msg>, want: &str) -> (String, bool) {
    let mut text = String::new();
    let deadline = Instant::now() + BOUND;
    loop {
        if text.contains(want) {
            return (text, false);
        }
        match tokio::time::timeout_at(deadline, ch.wait()).await {
            Err(_) => panic!("never saw {want:?}; got {text:?}"),
            Ok(Some(ChannelMsg::Data { data })) => text.push_str(&String::from_utf8_lossy(&data)),
            Ok(Some(ChannelMsg::Eof | ChannelMsg::Close)) | Ok(None) => {
                return (text, true);
            }
            Ok(Some(_)) => {}
        }
    }
}

fn auths(events: &[ServerEvent]) -> Vec<(String, AuthOutcome, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Auth(a) => Some((a.login.clone(), a.outcome, a.method.to_string())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_password_attempt_is_answered() {
    let (addr, _dir, events) = start_with("retry", Limits::default(), "").await;
    let mut h = connect_raw(addr).await;
    for wrong in ["nope", "admin1"] {
        match password(&mut h, "admin+r1", wrong).await.unwrap() {
            // Clients that follow the list (OpenSSH, paramiko) retry only what is offered.
            AuthResult::Failure {
                remaining_methods, ..
            } => assert!(
                remaining_methods.contains(&MethodKind::Password),
                "password no longer offered after a failure: {remaining_methods:?}"
            ),
            other => panic!("wrong password accepted: {other:?}"),
        }
    }
    let r = password(&mut h, "admin+r1", "admin").await.unwrap();
    assert!(r.success(), "{r:?}");
    let ch = h.channel_open_session().await.unwrap();
    ch.request_shell(false).await.unwrap();
    events
        .wait_for("the accepted login", |e| {
            auths(e).iter().any(|a| a.1 == AuthOutcome::Accepted)
        })
        .await;
    assert_eq!(
        auths(&events.all()),
        [
            ("admin+r1".into(), AuthOutcome::Failed, "password".into()),
            ("admin+r1".into(), AuthOutcome::Failed, "password".into()),
            ("admin+r1".into(), AuthOutcome::Accepted, "password".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_attempts_end_at_the_limit() {
    let limits = Limits {
        max_auth_tries: 3,
        ..Limits::default()
    };
    let (addr, _dir, events) = start_with("maxtries", limits, "").await;
    let mut h = connect_raw(addr).await;
    for n in 1..=3 {
        let r = password(&mut h, "admin+r1", &format!("guess{n}")).await;
        assert!(
            matches!(r, Ok(AuthResult::Failure { .. })),
            "attempt {n}: {r:?}"
        );
    }
    // The next attempt, even with the right password, is answered by a disconnect (which
    // russh's client reports as a failure with nothing left to try, or as an error).
    let r = password(&mut h, "admin+r1", "admin").await;
    assert!(
        !matches!(r, Ok(AuthResult::Success)),
        "attempt past the limit: {r:?}"
    );
    let deadline = Instant::now() + BOUND;
    while !h.is_closed() {
        assert!(
            Instant::now() < deadline,
            "connection still open past the limit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    events
        .wait_for("the too-many-failures report", |e| {
            e.iter()
                .any(|e| matches!(e, ServerEvent::TooManyAuthFailures { failures: 3, .. }))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentications_are_reported() {
    use russh::keys::ssh_key::private::Ed25519Keypair;
    use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&[7; 32]));
    let public = key.public_key().to_openssh().unwrap();
    let (addr, _dir, events) =
        start_with("authlog", Limits::default(), &format!("ops {public}\n")).await;

    let mut h = connect_raw(addr).await;
    for (login, pw) in [
        ("nobody+r1", "x"),
        ("admin+r9", "admin"),
        ("admin", "admin"),
    ] {
        assert!(!password(&mut h, login, pw).await.unwrap().success());
    }
    let signer = PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None);
    let r = tokio::time::timeout(BOUND, h.authenticate_publickey("ops+r2", signer))
        .await
        .expect("no answer to the public key")
        .unwrap();
    assert!(r.success(), "{r:?}");
    events
        .wait_for("four authentications", |e| auths(e).len() == 4)
        .await;
    let all = events.all();
    assert_eq!(
        auths(&all),
        [
            (
                "nobody+r1".into(),
                AuthOutcome::InvalidUser,
                "password".into()
            ),
            (
                "admin+r9".into(),
                AuthOutcome::UnknownDevice,
                "password".into()
            ),
            ("admin".into(), AuthOutcome::NoDevice, "password".into()),
            ("ops+r2".into(), AuthOutcome::Accepted, "publickey".into()),
        ]
    );
    let ServerEvent::Auth(accepted) = all.last().unwrap() else {
        panic!("{all:?}")
    };
    assert_eq!(accepted.peer.ip().to_string(), "127.0.0.1");
    assert_eq!(accepted.device.as_deref(), Some("r2"));
    let AuthMethod::PublicKey { fingerprint, .. } = &accepted.method else {
        panic!("{accepted:?}")
    };
    assert_eq!(
        fingerprint,
        &key.public_key()
            .fingerprint(russh::keys::HashAlg::Sha256)
            .to_string()
    );
    let line = all.last().unwrap().to_string();
    assert!(
        line.starts_with("Accepted publickey for ops+r2 from 127.0.0.1 port ")
            && line.contains(" ssh2: ED25519 SHA256:"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_channel_requests_are_refused_at_once() {
    let (addr, _dir) = start("subsystems").await;
    let (_h, mut ch) = session_channel(addr, "admin+r1").await;
    for name in ["sftp", "netconf"] {
        ch.request_subsystem(true, name).await.unwrap();
        assert!(!reply(&mut ch, name).await, "subsystem {name} accepted");
    }
    ch.request_x11(true, false, "MIT-MAGIC-COOKIE-1", "0123456789abcdef", 0)
        .await
        .unwrap();
    assert!(!reply(&mut ch, "x11-req").await);
    ch.set_env(true, "LANG", "C").await.unwrap();
    assert!(!reply(&mut ch, "env").await);
    ch.agent_forward(true).await.unwrap();
    assert!(!reply(&mut ch, "auth-agent-req").await);
    // The channel still serves the CLI afterwards.
    ch.request_shell(true).await.unwrap();
    assert!(reply(&mut ch, "shell").await);
    let (text, _) = read_until(&mut ch, "r1>").await;
    assert!(text.ends_with("r1>"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_enable_secrets_are_slowed_and_end_the_session() {
    let delay = Duration::from_millis(400);
    let limits = Limits {
        enable_fail_delay: delay,
        ..Limits::default()
    };
    let (addr, _dir, events) = start_with("enable", limits, "").await;
    let (_h, mut ch) = session_channel(addr, "admin+r1").await;
    ch.request_shell(false).await.unwrap();
    read_until(&mut ch, "r1>").await;
    ch.data(&b"enable\r"[..]).await.unwrap();
    read_until(&mut ch, "Password: ").await;
    // Three guesses in one packet: each still costs a delay, and the third ends the session.
    let sent = Instant::now();
    ch.data(&b"guess1\rguess2\rguess3\r"[..]).await.unwrap();
    let (text, closed) = read_until(&mut ch, "% Bad secrets").await;
    let took = sent.elapsed();
    assert!(
        took >= delay * 3,
        "three wrong secrets answered in {took:?}"
    );
    assert_eq!(text.matches("Password: ").count(), 2, "{text:?}");
    if !closed {
        let (rest, closed) = read_until(&mut ch, "never printed").await;
        assert!(
            closed,
            "session still open after three wrong secrets: {rest:?}"
        );
    }
    let failed = events
        .all()
        .iter()
        .filter(|e| matches!(e, ServerEvent::EnableFailed { .. }))
        .count();
    assert_eq!(failed, 3);
}

/// Opens a TCP connection to `addr` from the local address `source` and sends nothing.
async fn idle_connection(source: &str, addr: SocketAddr) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{source}:0").parse().unwrap()).unwrap();
    sock.connect(addr).await.unwrap()
}

/// What became of an idle connection: whether the server sent its SSH banner, and how long
/// after `opened` the server closed it.
async fn watch_idle(mut s: tokio::net::TcpStream, opened: Instant) -> (bool, Duration) {
    let mut banner = false;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(BOUND, s.read(&mut buf)).await {
            Err(_) => panic!("an idle connection was never closed"),
            Ok(Ok(0)) | Ok(Err(_)) => return (banner, opened.elapsed()),
            Ok(Ok(n)) => banner |= buf[..n].starts_with(b"SSH-2.0-"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_from_one_source_do_not_lock_out_others() {
    let grace = Duration::from_secs(3);
    let limits = Limits {
        login_grace_time: Some(grace),
        max_startups: "50".parse().unwrap(),
        per_source_max_startups: Some(5),
        ..Limits::default()
    };
    let (addr, _dir, events) = start_with("flood", limits, "").await;
    // 200 idle connections from 127.0.0.2 (still loopback traffic to 127.0.0.1).
    let mut watchers = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let opened = Instant::now();
        let s = idle_connection("127.0.0.2", addr).await;
        watchers.spawn(watch_idle(s, opened));
    }
    // A legitimate login from another address gets in at once.
    let started = Instant::now();
    let mut shell = Shell::open(&target(addr, "r1"))
        .await
        .expect("login during the flood");
    assert!(
        started.elapsed() < grace,
        "login took {:?} during the flood",
        started.elapsed()
    );
    let out = shell.command("show version", BOUND, None).await.unwrap();
    assert!(out.contains("r1 uptime is"), "{out}");
    // Past the per-source limit, connections are closed at once without a banner; the five
    // let in are closed when the grace time runs out.
    let mut dropped = 0;
    let mut timed_out = Vec::new();
    while let Some(r) = watchers.join_next().await {
        match r.unwrap() {
            (false, _) => dropped += 1,
            (true, after) => timed_out.push(after),
        }
    }
    assert_eq!((dropped, timed_out.len()), (195, 5), "{timed_out:?}");
    for after in &timed_out {
        assert!(
            *after >= grace,
            "closed after {after:?}, before the grace time"
        );
    }
    events
        .wait_for("five grace-time closes", |e| {
            e.iter()
                .filter(|e| matches!(e, ServerEvent::LoginGraceTimeout { .. }))
                .count()
                == 5
        })
        .await;
    let per_source = events
        .all()
        .iter()
        .filter(|e| {
            matches!(
                e,
                ServerEvent::Dropped {
                    reason: DropReason::PerSourceMaxStartups,
                    ..
                }
            )
        })
        .count();
    assert_eq!(per_source, 195);
    // The logged-in session is not subject to the grace time.
    let out = shell.command("show version", BOUND, None).await.unwrap();
    assert!(out.contains("r1 uptime is"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_startups_refuses_new_connections_until_the_grace_time_frees_them() {
    // Long enough for the refusals below to happen while the ten still hold their slots.
    let limits = Limits {
        login_grace_time: Some(Duration::from_secs(4)),
        max_startups: "10".parse().unwrap(),
        per_source_max_startups: None,
        ..Limits::default()
    };
    let (addr, _dir, events) = start_with("startups", limits, "").await;
    // Ten idle connections, each let in (it got the banner), fill the server.
    let mut idle = Vec::new();
    for k in 0..10 {
        let mut s = idle_connection(&format!("127.0.0.{}", 10 + k), addr).await;
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(BOUND, s.read(&mut buf))
            .await
            .expect("no banner")
            .unwrap();
        assert!(buf[..n].starts_with(b"SSH-2.0-"), "{:?}", &buf[..n]);
        idle.push(s);
    }
    let extra = idle_connection("127.0.0.1", addr).await;
    let (banner, _) = watch_idle(extra, Instant::now()).await;
    assert!(!banner, "an eleventh unauthenticated connection was let in");
    assert!(Shell::open(&target(addr, "r1")).await.is_err());
    events
        .wait_for("ten grace-time closes", |e| {
            e.iter()
                .filter(|e| matches!(e, ServerEvent::LoginGraceTimeout { .. }))
                .count()
                == 10
        })
        .await;
    // The slots come free as those connections end; a login then gets in.
    let deadline = Instant::now() + BOUND;
    loop {
        match Shell::open(&target(addr, "r1")).await {
            Ok(_) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "no login after the grace time freed the slots: {e}"
            ),
        }
    }
    assert!(events.all().iter().any(|e| matches!(
        e,
        ServerEvent::Dropped {
            reason: DropReason::MaxStartups,
            startups: 10,
            ..
        }
    )));
}
