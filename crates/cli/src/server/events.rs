//! What the server reports: logins, failed logins, connections refused or timed out, wrong
//! enable secrets. The library never prints; whoever runs the server passes a sink to
//! [`BoundServer::on_event`](super::BoundServer::on_event) and decides what to show. The
//! `Display` form is sshd's wording, so log readers (fail2ban, people) recognise the lines.

use super::limits::DropReason;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// Receives every event; called on the connection's task, so it should return quickly.
pub type EventSink = Arc<dyn Fn(ServerEvent) + Send + Sync>;

/// How an authentication attempt was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Password,
    /// The key's algorithm and SHA-256 fingerprint, as sshd prints them.
    PublicKey {
        algorithm: String,
        fingerprint: String,
    },
}

/// How an authentication attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    Accepted,
    /// The account exists; the password or key is not its.
    Failed,
    /// No account of that name.
    InvalidUser,
    /// The login names a device the topology does not have (or another port's device).
    UnknownDevice,
    /// No device named: on the shared port the login must be `USER+DEVICE`.
    NoDevice,
}

/// One authentication attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthEvent {
    /// The SSH user name as the client sent it (`admin+pe1`).
    pub login: String,
    /// The account part of it.
    pub user: String,
    /// The device logged in to, when it resolved.
    pub device: Option<String>,
    pub peer: SocketAddr,
    pub method: AuthMethod,
    pub outcome: AuthOutcome,
    /// Rejected attempts on this connection so far, this one included.
    pub failures: usize,
}

/// Something the operator of a server may want to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    Auth(AuthEvent),
    /// The connection reached the limit of rejected attempts; its next attempt is answered
    /// by a disconnect.
    TooManyAuthFailures {
        login: String,
        peer: SocketAddr,
        failures: usize,
    },
    /// A connection still unauthenticated when the login grace time ran out was closed.
    LoginGraceTimeout {
        peer: SocketAddr,
    },
    /// A new connection was closed at once: too many unauthenticated connections.
    Dropped {
        peer: SocketAddr,
        local: SocketAddr,
        reason: DropReason,
        /// Unauthenticated connections at the time.
        startups: usize,
    },
    /// A wrong secret at `enable`'s `Password:` prompt.
    EnableFailed {
        user: String,
        device: String,
        peer: SocketAddr,
    },
}

/// How loud an event is: what `nettwin serve` prints by default, and what only with `-v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventLevel {
    /// Someone was refused or cut off.
    Warning,
    /// Routine: a login accepted, a public key the client merely offered turned down.
    Info,
}

impl ServerEvent {
    pub fn level(&self) -> EventLevel {
        match self {
            ServerEvent::Auth(a) => match (a.outcome, &a.method) {
                (AuthOutcome::Accepted, _) => EventLevel::Info,
                // Clients offer every key they hold before the right one or a password, so,
                // as sshd does, a declined key is routine until it looks like guessing.
                (AuthOutcome::Failed, AuthMethod::PublicKey { .. }) if a.failures < 3 => {
                    EventLevel::Info
                }
                _ => EventLevel::Warning,
            },
            _ => EventLevel::Warning,
        }
    }
}

struct Peer<'a>(&'a SocketAddr);

impl fmt::Display for Peer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} port {}", self.0.ip(), self.0.port())
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Password => f.write_str("password"),
            AuthMethod::PublicKey { .. } => f.write_str("publickey"),
        }
    }
}

impl fmt::Display for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerEvent::Auth(a) => {
                let verb = match a.outcome {
                    AuthOutcome::Accepted => "Accepted",
                    _ => "Failed",
                };
                let invalid = match a.outcome {
                    AuthOutcome::InvalidUser => "invalid user ",
                    _ => "",
                };
                write!(
                    f,
                    "{verb} {} for {invalid}{} from {} ssh2",
                    a.method,
                    a.login,
                    Peer(&a.peer)
                )?;
                if let AuthMethod::PublicKey {
                    algorithm,
                    fingerprint,
                } = &a.method
                {
                    write!(f, ": {algorithm} {fingerprint}")?;
                }
                match (a.outcome, &a.device) {
                    (AuthOutcome::UnknownDevice, _) => f.write_str(" (no such device)"),
                    (AuthOutcome::NoDevice, _) => {
                        f.write_str(" (no device named: log in as USER+DEVICE)")
                    }
                    // On a per-device port the login need not name the device.
                    (_, Some(d)) if super::split_login(&a.login).1.is_none() => {
                        write!(f, " (device {d})")
                    }
                    _ => Ok(()),
                }
            }
            ServerEvent::TooManyAuthFailures {
                login,
                peer,
                failures,
            } => write!(
                f,
                "Disconnecting authenticating user {login} {}: Too many authentication failures ({failures})",
                Peer(peer)
            ),
            ServerEvent::LoginGraceTimeout { peer } => {
                write!(f, "Timeout before authentication for {}", Peer(peer))
            }
            ServerEvent::Dropped {
                peer,
                local,
                reason,
                startups,
            } => {
                let why = match reason {
                    DropReason::MaxStartups => "past MaxStartups",
                    DropReason::PerSourceMaxStartups => "past PerSourceMaxStartups",
                };
                write!(
                    f,
                    "drop connection #{startups} from [{}]:{} on [{}]:{} {why}",
                    peer.ip(),
                    peer.port(),
                    local.ip(),
                    local.port()
                )
            }
            ServerEvent::EnableFailed { user, device, peer } => write!(
                f,
                "%SYS-5-PRIV_AUTH_FAIL: Authentication to privilege level 15 failed by {user} on {device} from {}",
                Peer(peer)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(outcome: AuthOutcome, method: AuthMethod, failures: usize) -> ServerEvent {
        ServerEvent::Auth(AuthEvent {
            login: "admin+pe1".into(),
            user: "admin".into(),
            device: Some("pe1".into()),
            peer: "127.0.0.1:5555".parse().unwrap(),
            method,
            outcome,
            failures,
        })
    }

    #[test]
    fn lines_read_like_sshd() {
        let ok = auth(AuthOutcome::Accepted, AuthMethod::Password, 0);
        assert_eq!(
            ok.to_string(),
            "Accepted password for admin+pe1 from 127.0.0.1 port 5555 ssh2"
        );
        assert_eq!(ok.level(), EventLevel::Info);
        let bad = auth(AuthOutcome::Failed, AuthMethod::Password, 1);
        assert_eq!(
            bad.to_string(),
            "Failed password for admin+pe1 from 127.0.0.1 port 5555 ssh2"
        );
        assert_eq!(bad.level(), EventLevel::Warning);
        let who = auth(AuthOutcome::InvalidUser, AuthMethod::Password, 1);
        assert_eq!(
            who.to_string(),
            "Failed password for invalid user admin+pe1 from 127.0.0.1 port 5555 ssh2"
        );
        let key = AuthMethod::PublicKey {
            algorithm: "ED25519".into(),
            fingerprint: "SHA256:abc".into(),
        };
        let offered = auth(AuthOutcome::Failed, key.clone(), 1);
        assert_eq!(
            offered.to_string(),
            "Failed publickey for admin+pe1 from 127.0.0.1 port 5555 ssh2: ED25519 SHA256:abc"
        );
        assert_eq!(offered.level(), EventLevel::Info);
        assert_eq!(
            auth(AuthOutcome::Failed, key, 3).level(),
            EventLevel::Warning
        );
        let dropped = ServerEvent::Dropped {
            peer: "127.0.0.2:4000".parse().unwrap(),
            local: "127.0.0.1:2222".parse().unwrap(),
            reason: DropReason::MaxStartups,
            startups: 100,
        };
        assert_eq!(
            dropped.to_string(),
            "drop connection #100 from [127.0.0.2]:4000 on [127.0.0.1]:2222 past MaxStartups"
        );
    }
}
