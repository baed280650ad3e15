//! The SSH server: one CLI per simulated device, reached either on its own port
//! (`port_base + node index`) or on one shared port with the device named in the SSH user
//! (`admin+r1` or `admin@r1`). Users and their passwords, enable secrets and public keys come
//! from a users file; the host key persists in a file so clients can pin it.
//!
//! Unauthenticated connections are bounded as sshd bounds them (`limits`), every
//! authentication is reported to an event sink (`events`), and requests the CLI does not
//! serve (sftp, netconf, X11, agent forwarding) are refused at once so clients never wait.

mod events;
mod limits;
mod users;

pub use events::{AuthEvent, AuthMethod, AuthOutcome, EventLevel, EventSink, ServerEvent};
pub use limits::{DropReason, Limits, MaxStartups, MaxStartupsError};
pub use users::{User, Users, UsersFileError, UsersFileErrors};

use crate::session::{Session, SessionOptions};
use crate::twin::Twin;
use limits::{GraceStream, StartupSlot, Startups};
use nettwin_model::NodeId;
use russh::keys::ssh_key::{self, HashAlg, LineEnding, PublicKey};
use russh::keys::PrivateKey;
use russh::server::{Auth, Msg, Session as SshSession};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Every mistake of the users file, one per line.
    #[error(transparent)]
    UsersFile(#[from] UsersFileErrors),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("host key {path}: {message}")]
    HostKey { path: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("port {base} + {count} devices runs past 65535")]
    PortRange { base: u16, count: usize },
    #[error("nothing to listen on: give a listen address, a port base, or both")]
    NoListener,
}

impl std::error::Error for UsersFileErrors {}

/// Something about the server's setup worth telling its operator, though it still serves.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServeWarning {
    /// Listening where other hosts may reach the devices' logins.
    #[error("listening on {addr}, which is not a loopback address: every host that can reach it can try to log in")]
    NotLoopback { addr: SocketAddr },
    /// The host key file can be read (or written) by other users, who could then impersonate
    /// the server. sshd refuses such a key; nettwin uses it, since a lab twin's key is often
    /// a fixture checked out of git (which does not keep mode 0600), and says so.
    #[error("host key {path} is readable by others (mode {mode:04o}): anyone on this host can impersonate the server; chmod 600 {path}")]
    HostKeyExposed { path: String, mode: u32 },
}

/// Loads the host key, or creates an Ed25519 key (written to a temp file, then renamed, mode
/// 0600) when the file does not exist yet. An existing key readable by group or others is
/// used, with a [`ServeWarning::HostKeyExposed`].
pub fn load_or_create_host_key(
    path: &Path,
) -> Result<(PrivateKey, Option<ServeWarning>), ServeError> {
    let bad = |message: String| ServeError::HostKey {
        path: path.display().to_string(),
        message,
    };
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let key = PrivateKey::from_openssh(text).map_err(|e| bad(e.to_string()))?;
        let mut warning = None;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| bad(e.to_string()))?
                .permissions()
                .mode()
                & 0o7777;
            if mode & 0o077 != 0 {
                warning = Some(ServeWarning::HostKeyExposed {
                    path: path.display().to_string(),
                    mode,
                });
            }
        }
        return Ok((key, warning));
    }
    let mut seed = [0u8; 32];
    {
        use std::io::Read;
        let mut f = std::fs::File::open("/dev/urandom").map_err(|e| bad(e.to_string()))?;
        f.read_exact(&mut seed).map_err(|e| bad(e.to_string()))?;
    }
    let key = PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&seed));
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| bad(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    // A stale temp file would keep its own mode through `open`; start from a fresh one.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(bad(e.to_string())),
        _ => {}
    }
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| bad(e.to_string()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        f.sync_all().map_err(|e| bad(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| bad(e.to_string()))?;
    Ok((key, None))
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// One port for every device, chosen by the SSH user name (`admin+r1`).
    pub listen: Option<SocketAddr>,
    /// One port per device: `port_base + node index`, on the address of `listen` (or
    /// 127.0.0.1 when there is no `listen`).
    pub port_base: Option<u16>,
    pub users: Users,
    pub host_key: PathBuf,
    /// Sessions idle longer than this are closed.
    pub idle_timeout: Duration,
}

/// A server bound to its ports, ready to run.
pub struct BoundServer {
    twin: Arc<dyn Twin>,
    key: PrivateKey,
    idle_timeout: Duration,
    users: Arc<Users>,
    listeners: Vec<(TcpListener, Option<NodeId>)>,
    limits: Limits,
    events: Option<EventSink>,
    warnings: Vec<ServeWarning>,
}

/// The authentication methods offered, and offered again after every rejection: russh drops
/// a method from the list when it rejects an attempt with it, and clients that follow the
/// list (OpenSSH, paramiko) then have no way to retry a mistyped password.
fn methods() -> MethodSet {
    MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..])
}

fn reject() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(methods()),
        partial_success: false,
    }
}

impl BoundServer {
    /// Where the server listens, with the device each port is fixed to (`None`: chosen by user).
    pub fn addresses(&self) -> Vec<(SocketAddr, Option<String>)> {
        let view = self.twin.view();
        self.listeners
            .iter()
            .filter_map(|(l, n)| {
                let name = n.map(|n| view.topology().node(n).name.clone());
                l.local_addr().ok().map(|a| (a, name))
            })
            .collect()
    }

    /// What the operator should know about this setup (non-loopback address, exposed host
    /// key); the server serves regardless.
    pub fn warnings(&self) -> &[ServeWarning] {
        &self.warnings
    }

    /// Replaces the default [`Limits`].
    pub fn with_limits(mut self, limits: Limits) -> BoundServer {
        self.limits = limits;
        self
    }

    /// Sends every [`ServerEvent`] to `sink` (logins, refusals, timeouts).
    pub fn on_event(mut self, sink: impl Fn(ServerEvent) + Send + Sync + 'static) -> BoundServer {
        self.events = Some(Arc::new(sink));
        self
    }

    /// Serves until the task is dropped. Each connection runs in its own task, so a client
    /// that misbehaves affects only itself.
    pub async fn run(self) {
        let config = Arc::new(russh::server::Config {
            keys: vec![self.key],
            methods: methods(),
            auth_rejection_time: Duration::from_millis(300),
            auth_rejection_time_initial: Some(Duration::from_millis(0)),
            max_auth_attempts: self.limits.max_auth_tries,
            inactivity_timeout: Some(self.idle_timeout),
            nodelay: true,
            ..Default::default()
        });
        let startups = Startups::new(&self.limits);
        let shared = Arc::new(Shared {
            twin: self.twin,
            users: self.users,
            events: self.events,
            limits: self.limits,
        });
        let mut tasks = tokio::task::JoinSet::new();
        for (listener, node) in self.listeners {
            let config = config.clone();
            let shared = shared.clone();
            let startups = startups.clone();
            tasks.spawn(async move {
                let local = listener.local_addr().ok();
                loop {
                    let Ok((stream, peer)) = listener.accept().await else {
                        // Out of file descriptors and the like: back off, keep serving.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    // Refused connections are closed here, before the SSH banner, as sshd
                    // does: the descriptor is back at once.
                    let slot = match startups.admit(peer.ip()) {
                        Ok(slot) => slot,
                        Err((reason, count)) => {
                            shared.emit(ServerEvent::Dropped {
                                peer,
                                local: local.unwrap_or(peer),
                                reason,
                                startups: count,
                            });
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let authenticated = Arc::new(AtomicBool::new(false));
                    let on_expiry: Box<dyn FnOnce() + Send> = {
                        let shared = shared.clone();
                        Box::new(move || shared.emit(ServerEvent::LoginGraceTimeout { peer }))
                    };
                    let stream = GraceStream::new(
                        stream,
                        shared.limits.login_grace_time,
                        authenticated.clone(),
                        on_expiry,
                    );
                    let handler = Connection {
                        shared: shared.clone(),
                        peer,
                        fixed_node: node,
                        node: None,
                        user: None,
                        sessions: HashMap::new(),
                        failures: 0,
                        rejections: 0,
                        slot: Some(slot),
                        authenticated,
                    };
                    let config = config.clone();
                    tokio::spawn(async move {
                        if let Ok(running) =
                            russh::server::run_stream(config, stream, handler).await
                        {
                            let _ = running.await;
                        }
                    });
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// Binds every port the configuration asks for.
pub async fn bind(twin: Arc<dyn Twin>, cfg: &ServeConfig) -> Result<BoundServer, ServeError> {
    let (key, key_warning) = load_or_create_host_key(&cfg.host_key)?;
    let mut listeners = Vec::new();
    let bind_one = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })
    };
    if let Some(addr) = cfg.listen {
        listeners.push((bind_one(addr).await?, None));
    }
    if let Some(base) = cfg.port_base {
        let ip = cfg
            .listen
            .map(|a| a.ip())
            .unwrap_or_else(|| std::net::Ipv4Addr::LOCALHOST.into());
        let count = twin.view().topology().nodes.len();
        if usize::from(base) + count > 65536 {
            return Err(ServeError::PortRange { base, count });
        }
        for n in 0..count {
            let addr = SocketAddr::new(ip, base + n as u16);
            listeners.push((bind_one(addr).await?, Some(NodeId(n as u32))));
        }
    }
    if listeners.is_empty() {
        return Err(ServeError::NoListener);
    }
    let mut warnings: Vec<ServeWarning> = key_warning.into_iter().collect();
    warnings.extend(exposure_warnings(
        listeners.iter().filter_map(|(l, _)| l.local_addr().ok()),
    ));
    Ok(BoundServer {
        twin,
        key,
        idle_timeout: cfg.idle_timeout,
        users: Arc::new(cfg.users.clone()),
        listeners,
        limits: Limits::default(),
        events: None,
        warnings,
    })
}

/// A warning for each address other hosts may reach; one per address, not one per port.
fn exposure_warnings(addrs: impl Iterator<Item = SocketAddr>) -> Vec<ServeWarning> {
    let mut seen: Vec<std::net::IpAddr> = Vec::new();
    let mut warnings = Vec::new();
    for addr in addrs {
        if !addr.ip().is_loopback() && !seen.contains(&addr.ip()) {
            seen.push(addr.ip());
            warnings.push(ServeWarning::NotLoopback { addr });
        }
    }
    warnings
}

/// Binds and serves until the process ends, with the default limits and no event sink.
pub fn serve_forever(twin: Arc<dyn Twin>, cfg: &ServeConfig) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Bind {
            addr: cfg
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            source,
        })?;
    rt.block_on(async {
        let server = bind(twin, cfg).await?;
        server.run().await;
        Ok(())
    })
}

/// Splits `admin+r1` / `admin@r1` into user and device.
pub fn split_login(login: &str) -> (&str, Option<&str>) {
    match login.rsplit_once(['+', '@']) {
        Some((u, d)) if !u.is_empty() && !d.is_empty() => (u, Some(d)),
        _ => (login, None),
    }
}

/// sshd's name for a key type in its log lines (`ED25519`, `RSA`, `ECDSA`).
fn key_type(key: &PublicKey) -> String {
    let alg = key.algorithm();
    let name = alg.as_str();
    let short = name
        .strip_prefix("ssh-")
        .or_else(|| name.split('-').next())
        .unwrap_or(name);
    short.to_ascii_uppercase()
}

/// What every connection of one server shares.
struct Shared {
    twin: Arc<dyn Twin>,
    users: Arc<Users>,
    events: Option<EventSink>,
    limits: Limits,
}

impl Shared {
    fn emit(&self, event: ServerEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }
}

struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    fixed_node: Option<NodeId>,
    node: Option<NodeId>,
    user: Option<User>,
    sessions: HashMap<ChannelId, Session>,
    /// Failed password and public-key attempts so far.
    failures: usize,
    /// Every rejected attempt, the `none` probe included: what russh counts against
    /// `max_auth_tries`.
    rejections: usize,
    /// Held until authenticated: this connection counts against the startup limits.
    slot: Option<StartupSlot>,
    /// Tells the grace-time guard of the stream that the login succeeded.
    authenticated: Arc<AtomicBool>,
}

impl Connection {
    fn device_name(&self, node: NodeId) -> String {
        self.shared.twin.view().topology().node(node).name.clone()
    }

    /// Resolves the login to an account and a device, or says why it does not resolve.
    fn resolve(&self, login: &str) -> Result<(User, NodeId), AuthOutcome> {
        let (name, device) = split_login(login);
        let node = match (self.fixed_node, device) {
            (Some(n), None) => n,
            (Some(n), Some(d)) => {
                // On a per-device port, naming the same device is fine; another is not.
                if self.device_name(n) != d {
                    return Err(AuthOutcome::UnknownDevice);
                }
                n
            }
            (None, Some(d)) => match self.shared.twin.view().topology().node_by_name(d) {
                Some(n) => n.id,
                None => return Err(AuthOutcome::UnknownDevice),
            },
            (None, None) => return Err(AuthOutcome::NoDevice),
        };
        match self.shared.users.get(name) {
            Some(u) => Ok((u.clone(), node)),
            None => Err(AuthOutcome::InvalidUser),
        }
    }

    /// Checks a login with `credential_ok`, reports the attempt, and answers it.
    fn authenticate(
        &mut self,
        login: &str,
        method: AuthMethod,
        credential_ok: impl Fn(&User) -> bool,
    ) -> Auth {
        let resolved = self.resolve(login);
        let device = resolved.as_ref().ok().map(|(_, n)| self.device_name(*n));
        let outcome = match &resolved {
            Ok((u, _)) if credential_ok(u) => AuthOutcome::Accepted,
            Ok(_) => AuthOutcome::Failed,
            Err(o) => *o,
        };
        if outcome != AuthOutcome::Accepted {
            self.failures += 1;
            self.rejections += 1;
        }
        self.shared.emit(ServerEvent::Auth(AuthEvent {
            login: login.to_string(),
            user: split_login(login).0.to_string(),
            device,
            peer: self.peer,
            method,
            outcome,
            failures: self.failures,
        }));
        match resolved {
            Ok((user, node)) if outcome == AuthOutcome::Accepted => {
                self.user = Some(user);
                self.node = Some(node);
                Auth::Accept
            }
            _ => self.rejected(login),
        }
    }

    /// Answers a rejected attempt; at the limit, says the next attempt ends the connection.
    fn rejected(&mut self, login: &str) -> Auth {
        if self.rejections == self.shared.limits.max_auth_tries {
            self.shared.emit(ServerEvent::TooManyAuthFailures {
                login: login.to_string(),
                peer: self.peer,
                failures: self.rejections,
            });
        }
        reject()
    }

    fn new_session(&self) -> Option<Session> {
        let user = self.user.as_ref()?;
        Some(Session::new(
            self.shared.twin.clone(),
            self.node?,
            SessionOptions {
                enable_secret: user.secret.clone(),
                privileged: user.privileged,
                abbrevs: Vec::new(),
            },
        ))
    }

    /// Holds the session after wrong enable secrets, one delay per wrong secret, and reports
    /// them. Holding the connection's handler also holds the client's typed-ahead guesses.
    async fn pause_after_wrong_secrets(&mut self, channel: ChannelId) {
        let wrong = self
            .sessions
            .get_mut(&channel)
            .map_or(0, |s| s.take_secret_failures());
        if wrong == 0 {
            return;
        }
        if let (Some(user), Some(node)) = (&self.user, self.node) {
            for _ in 0..wrong {
                self.shared.emit(ServerEvent::EnableFailed {
                    user: user.name.clone(),
                    device: self.device_name(node),
                    peer: self.peer,
                });
            }
        }
        let delay = self.shared.limits.enable_fail_delay;
        tokio::time::sleep(delay.checked_mul(wrong).unwrap_or(Duration::MAX)).await;
    }
}

fn public_key_method(key: &PublicKey) -> AuthMethod {
    AuthMethod::PublicKey {
        algorithm: key_type(key),
        fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        // OpenSSH's first probe: not an attempt worth a log line, but russh counts it.
        self.rejections += 1;
        Ok(self.rejected(user))
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        Ok(self.authenticate(user, AuthMethod::Password, |u| {
            u.password.as_deref() == Some(password)
        }))
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        let offered = offer.public_key;
        let known = |u: &User| u.keys.iter().any(|k| k.key_data() == offered.key_data());
        // An accepted offer is only a query; the login happens once the signature checks out
        // (`auth_publickey`), and that is what gets reported.
        if self.resolve(user).is_ok_and(|(u, _)| known(&u)) {
            return Ok(Auth::Accept);
        }
        Ok(self.authenticate(user, public_key_method(offered), |_| false))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let signed = key.public_key;
        Ok(self.authenticate(user, public_key_method(signed), |u| {
            u.keys.iter().any(|k| k.key_data() == signed.key_data())
        }))
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        // Not offered; a client that tries it anyway is told what is.
        self.rejections += 1;
        Ok(self.rejected(user))
    }

    async fn auth_succeeded(&mut self, _session: &mut SshSession) -> Result<(), Self::Error> {
        // Logged in: no longer subject to the grace time or the startup limits.
        self.authenticated.store(true, Ordering::Release);
        self.slot = None;
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        // At most a handful of channels per connection: a client cannot pile up sessions.
        // Dropping `reply` refuses the channel.
        if self.sessions.len() >= 8 {
            return Ok(());
        }
        if let Some(s) = self.new_session() {
            self.sessions.insert(channel.id(), s);
            reply.accept().await;
        }
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        // A device CLI has no X11; refuse so `ssh -X` goes on without waiting.
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        // Nothing reads the environment; like sshd without AcceptEnv, say it was not set.
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        // No sftp, no netconf: refused at once, so `sftp` and ncclient fail fast.
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(s) = self.sessions.get_mut(&channel) else {
            session.channel_failure(channel)?;
            return Ok(());
        };
        session.channel_success(channel)?;
        let out = s.start();
        session.data(channel, out)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(s) = self.sessions.get_mut(&channel) else {
            session.channel_failure(channel)?;
            return Ok(());
        };
        session.channel_success(channel)?;
        let line = String::from_utf8_lossy(data).into_owned();
        s.run_line("terminal length 0");
        let out = s.run_line(&line);
        session.data(channel, out)?;
        session.exit_status_request(channel, 0)?;
        session.eof(channel)?;
        session.close(channel)?;
        self.sessions.remove(&channel);
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(s) = self.sessions.get_mut(&channel) else {
            return Ok(());
        };
        let out = s.feed(data);
        self.pause_after_wrong_secrets(channel).await;
        if !out.is_empty() {
            session.data(channel, out)?;
        }
        if self.sessions.get(&channel).is_some_and(Session::is_closed) {
            self.sessions.remove(&channel);
            session.exit_status_request(channel, 0)?;
            session.eof(channel)?;
            session.close(channel)?;
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        if self.sessions.remove(&channel).is_some() {
            session.close(channel)?;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        self.sessions.remove(&channel);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_pick_the_device() {
        assert_eq!(split_login("admin+r1"), ("admin", Some("r1")));
        assert_eq!(split_login("admin@r1"), ("admin", Some("r1")));
        assert_eq!(split_login("admin"), ("admin", None));
        assert_eq!(split_login("+r1"), ("+r1", None));
    }

    #[test]
    fn host_key_persists() {
        let dir = std::env::temp_dir().join(format!("nettwin-cli-hostkey-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("host_key");
        let _ = std::fs::remove_file(&path);
        let (a, w) = load_or_create_host_key(&path).unwrap();
        assert_eq!(w, None);
        let (b, w) = load_or_create_host_key(&path).unwrap();
        assert_eq!(w, None);
        assert_eq!(a.public_key().key_data(), b.public_key().key_data());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(load_or_create_host_key(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn host_key_mode_is_0600_and_exposed_keys_warn() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("nettwin-cli-keymode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("host_key");
        // A temp file left world-readable by an interrupted start must not lend its mode.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, "stale").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        load_or_create_host_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, w) = load_or_create_host_key(&path).unwrap();
        let w = w.expect("a 0644 host key is reported");
        assert_eq!(
            w,
            ServeWarning::HostKeyExposed {
                path: path.display().to_string(),
                mode: 0o644
            }
        );
        assert!(w.to_string().contains("mode 0644"), "{w}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_non_loopback_addresses_warn() {
        let addrs: Vec<SocketAddr> = [
            "127.0.0.1:2222",
            "[::1]:2222",
            "0.0.0.0:2222",
            "192.0.2.7:3000",
            "192.0.2.7:3001",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let w = exposure_warnings(addrs.into_iter());
        assert_eq!(
            w,
            [
                ServeWarning::NotLoopback {
                    addr: "0.0.0.0:2222".parse().unwrap()
                },
                ServeWarning::NotLoopback {
                    addr: "192.0.2.7:3000".parse().unwrap()
                },
            ]
        );
        assert!(w[0].to_string().contains("not a loopback address"));
    }

    #[test]
    fn key_types_read_like_sshd() {
        let key = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF7TDbwgKH/o/E33PZ4MXt6lTZgzQmABh9LkHHXdl8MQ",
        )
        .unwrap();
        assert_eq!(key_type(&key), "ED25519");
    }
}
