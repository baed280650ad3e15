//! The SSH server: one CLI per simulated device, reached either on its own port
//! (`port_base + node index`) or on one shared port with the device named in the SSH user
//! (`admin+r1` or `admin@r1`). Users and their passwords, enable secrets and public keys come
//! from a users file; the host key persists in a file so clients can pin it.

use crate::session::{Session, SessionOptions};
use crate::twin::Twin;
use nettwin_model::NodeId;
use russh::keys::ssh_key::{self, LineEnding};
use russh::keys::PrivateKey;
use russh::server::{Auth, Msg, Session as SshSession};
use russh::{Channel, ChannelId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

mod users;

pub use users::{User, Users, UsersFileError, UsersFileErrors};

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

/// Loads the host key, or creates an Ed25519 key (written to a temp file, then renamed, mode
/// 0600) when the file does not exist yet.
pub fn load_or_create_host_key(path: &Path) -> Result<PrivateKey, ServeError> {
    let bad = |message: String| ServeError::HostKey {
        path: path.display().to_string(),
        message,
    };
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        return PrivateKey::from_openssh(text).map_err(|e| bad(e.to_string()));
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
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
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
    Ok(key)
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
    config: Arc<russh::server::Config>,
    users: Arc<Users>,
    listeners: Vec<(TcpListener, Option<NodeId>)>,
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

    /// Serves until the task is dropped. Each connection runs in its own task, so a client
    /// that misbehaves affects only itself.
    pub async fn run(self) {
        let mut tasks = tokio::task::JoinSet::new();
        for (listener, node) in self.listeners {
            let twin = self.twin.clone();
            let config = self.config.clone();
            let users = self.users.clone();
            tasks.spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        // Out of file descriptors and the like: back off, keep serving.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let handler = Connection {
                        twin: twin.clone(),
                        users: users.clone(),
                        fixed_node: node,
                        node: None,
                        user: None,
                        sessions: HashMap::new(),
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
    let key = load_or_create_host_key(&cfg.host_key)?;
    let config = russh::server::Config {
        keys: vec![key],
        auth_rejection_time: Duration::from_millis(300),
        auth_rejection_time_initial: Some(Duration::from_millis(0)),
        inactivity_timeout: Some(cfg.idle_timeout),
        nodelay: true,
        ..Default::default()
    };
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
    Ok(BoundServer {
        twin,
        config: Arc::new(config),
        users: Arc::new(cfg.users.clone()),
        listeners,
    })
}

/// Binds and serves until the process ends (what `nettwin serve` calls).
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

struct Connection {
    twin: Arc<dyn Twin>,
    users: Arc<Users>,
    fixed_node: Option<NodeId>,
    node: Option<NodeId>,
    user: Option<User>,
    sessions: HashMap<ChannelId, Session>,
}

impl Connection {
    /// Resolves the login to an account and a device; `None` rejects it.
    fn login(&mut self, login: &str) -> Option<&User> {
        let (name, device) = split_login(login);
        let node = match (self.fixed_node, device) {
            (Some(n), None) => n,
            (Some(n), Some(d)) => {
                // On a per-device port, naming the same device is fine; another is not.
                let view = self.twin.view();
                if view.topology().node(n).name != d {
                    return None;
                }
                n
            }
            (None, Some(d)) => self.twin.view().topology().node_by_name(d)?.id,
            (None, None) => return None,
        };
        self.node = Some(node);
        self.users.get(name)
    }

    fn new_session(&self) -> Option<Session> {
        let user = self.user.as_ref()?;
        Some(Session::new(
            self.twin.clone(),
            self.node?,
            SessionOptions {
                enable_secret: user.secret.clone(),
                privileged: user.privileged,
                abbrevs: Vec::new(),
            },
        ))
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let found = self
            .login(user)
            .filter(|u| u.password.as_deref() == Some(password))
            .cloned();
        Ok(match found {
            Some(u) => {
                self.user = Some(u);
                Auth::Accept
            }
            None => Auth::reject(),
        })
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        let known = self.login(user).is_some_and(|u| {
            u.keys
                .iter()
                .any(|k| k.key_data() == offer.public_key.key_data())
        });
        Ok(if known { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let found = self
            .login(user)
            .filter(|u| {
                u.keys
                    .iter()
                    .any(|k| k.key_data() == key.public_key.key_data())
            })
            .cloned();
        Ok(match found {
            Some(u) => {
                self.user = Some(u);
                Auth::Accept
            }
            None => Auth::reject(),
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        // At most a handful of channels per connection: a client cannot pile up sessions.
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

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        if let Some(s) = self.sessions.get_mut(&channel) {
            let out = s.start();
            session.data(channel, out)?;
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        if let Some(s) = self.sessions.get_mut(&channel) {
            let line = String::from_utf8_lossy(data).into_owned();
            s.run_line("terminal length 0");
            let out = s.run_line(&line);
            session.data(channel, out)?;
            session.exit_status_request(channel, 0)?;
            session.eof(channel)?;
            session.close(channel)?;
        }
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
        if !out.is_empty() {
            session.data(channel, out)?;
        }
        if s.is_closed() {
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
        let a = load_or_create_host_key(&path).unwrap();
        let b = load_or_create_host_key(&path).unwrap();
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
}
