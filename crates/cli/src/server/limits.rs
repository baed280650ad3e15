//! How many unauthenticated connections the server keeps, and for how long: OpenSSH's
//! `LoginGraceTime`, `MaxStartups` and `PerSourceMaxStartups`, with the same meanings.
//!
//! Every accepted TCP connection holds a startup slot until it authenticates or closes. A
//! connection that would exceed a limit is closed at once, before any SSH byte is sent, so an
//! idle flood costs one file descriptor for an instant instead of one for as long as the
//! attacker likes. A connection still unauthenticated when the grace time runs out is closed.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// OpenSSH's `MaxStartups start:rate:full`: below `start` unauthenticated connections every
/// new one is kept; from `start` on a new one is refused with probability `rate`% rising
/// linearly to 100% at `full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxStartups {
    pub start: usize,
    /// Percent, 1 to 100.
    pub rate: u8,
    pub full: usize,
}

/// Why a `--max-startups` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MaxStartupsError {
    #[error("`{0}` is not START:RATE:FULL or a number (e.g. 10:30:100)")]
    Syntax(String),
    #[error("the rate must be 1 to 100 percent, not {0}")]
    Rate(u64),
    #[error("start ({start}) must not be more than full ({full})")]
    StartAboveFull { start: usize, full: usize },
    #[error("full must be at least 1")]
    Zero,
}

impl std::str::FromStr for MaxStartups {
    type Err = MaxStartupsError;

    /// `START:RATE:FULL`, or one number N meaning `N:100:N`, as sshd_config reads it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || MaxStartupsError::Syntax(s.to_string());
        let num = |w: &str| w.trim().parse::<u64>().map_err(|_| syntax());
        let parts: Vec<&str> = s.split(':').collect();
        let (start, rate, full) = match parts.as_slice() {
            [n] => (num(n)?, 100, num(n)?),
            [a, r, f] => (num(a)?, num(r)?, num(f)?),
            _ => return Err(syntax()),
        };
        if !(1..=100).contains(&rate) {
            return Err(MaxStartupsError::Rate(rate));
        }
        let start = usize::try_from(start).map_err(|_| syntax())?;
        let full = usize::try_from(full).map_err(|_| syntax())?;
        if full == 0 {
            return Err(MaxStartupsError::Zero);
        }
        if start > full {
            return Err(MaxStartupsError::StartAboveFull { start, full });
        }
        Ok(MaxStartups {
            start,
            rate: rate as u8,
            full,
        })
    }
}

impl std::fmt::Display for MaxStartups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.start, self.rate, self.full)
    }
}

impl MaxStartups {
    /// Whether a new connection is refused when `startups` are unauthenticated already;
    /// `roll` is a uniform random number in 0..100. This is sshd's `should_drop_connection`.
    pub fn should_drop(&self, startups: usize, roll: u32) -> bool {
        if startups < self.start {
            return false;
        }
        if startups >= self.full || self.rate >= 100 {
            return true;
        }
        // Here start <= startups < full, so full - start > 0.
        let span = (self.full - self.start) as u64;
        let above = (startups - self.start) as u64;
        let rate = u64::from(self.rate);
        let p = rate + (100 - rate) * above / span;
        u64::from(roll) < p
    }
}

/// The server's limits on logins and on guessing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A connection not authenticated this long after it was accepted is closed
    /// (`LoginGraceTime`); `None`: no limit.
    pub login_grace_time: Option<Duration>,
    /// Early drop of new connections while many are unauthenticated (`MaxStartups`).
    pub max_startups: MaxStartups,
    /// Unauthenticated connections allowed from one source (`PerSourceMaxStartups`): an IPv4
    /// address, or an IPv6 /64 (what one host usually holds); `None`: no limit.
    pub per_source_max_startups: Option<usize>,
    /// Rejected authentication attempts answered on one connection; the next one is answered
    /// by a disconnect (`MaxAuthTries`). The `none` probe OpenSSH sends first counts, so an
    /// OpenSSH client gets as many password tries as against sshd. 0 means no limit (russh's
    /// reading; `nettwin serve` refuses 0).
    pub max_auth_tries: usize,
    /// How long a wrong enable secret holds the session before the next prompt, as IOS
    /// pauses, so secrets cannot be guessed at line rate.
    pub enable_fail_delay: Duration,
}

impl Default for Limits {
    /// Sized for one automation host opening up to 100 sessions at once (the default of
    /// `nettwin bench cli`): 100 unauthenticated connections per source, early drop from 200
    /// in all, every new one refused at 400.
    fn default() -> Self {
        Limits {
            login_grace_time: Some(Duration::from_secs(60)),
            max_startups: MaxStartups {
                start: 200,
                rate: 30,
                full: 400,
            },
            per_source_max_startups: Some(100),
            max_auth_tries: 6,
            enable_fail_delay: Duration::from_secs(2),
        }
    }
}

impl Limits {
    /// The default limits less the startup limits, for a load test whose clients all connect
    /// at once from one address and are the only clients.
    pub fn without_startup_limits() -> Limits {
        Limits {
            max_startups: MaxStartups {
                start: usize::MAX,
                rate: 100,
                full: usize::MAX,
            },
            per_source_max_startups: None,
            ..Limits::default()
        }
    }
}

/// Why a new connection was closed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    MaxStartups,
    PerSourceMaxStartups,
}

/// The source a per-source limit counts under: IPv4 addresses one by one (an IPv4-mapped IPv6
/// address as its IPv4 address), IPv6 by /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
    rolls: u64,
}

/// The unauthenticated connections of a server, by source.
#[derive(Debug)]
pub(crate) struct Startups {
    counts: Mutex<Counts>,
    max_startups: MaxStartups,
    per_source: Option<usize>,
    /// Randomness for early drop without a dependency: std's per-process random hash keys.
    random: RandomState,
}

/// A held startup slot; dropping it (authenticated, or the connection ended) frees it.
#[derive(Debug)]
pub(crate) struct StartupSlot {
    startups: Arc<Startups>,
    source: IpAddr,
}

impl Startups {
    pub(crate) fn new(limits: &Limits) -> Arc<Startups> {
        Arc::new(Startups {
            counts: Mutex::new(Counts::default()),
            max_startups: limits.max_startups,
            per_source: limits.per_source_max_startups,
            random: RandomState::new(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every update is one step.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot for a new connection from `peer`, or says why it is refused and how many
    /// connections were unauthenticated.
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
    ) -> Result<StartupSlot, (DropReason, usize)> {
        let source = source_key(peer);
        let mut c = self.counts();
        let total = c.total;
        let from_source = c.per_source.get(&source).copied().unwrap_or(0);
        if self.per_source.is_some_and(|max| from_source >= max) {
            return Err((DropReason::PerSourceMaxStartups, total));
        }
        c.rolls = c.rolls.wrapping_add(1);
        let mut h = self.random.build_hasher();
        h.write_u64(c.rolls);
        let roll = (h.finish() % 100) as u32;
        if self.max_startups.should_drop(total, roll) {
            return Err((DropReason::MaxStartups, total));
        }
        c.total += 1;
        *c.per_source.entry(source).or_insert(0) += 1;
        Ok(StartupSlot {
            startups: self.clone(),
            source,
        })
    }

    /// Unauthenticated connections now, in all.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.counts().total
    }
}

impl Drop for StartupSlot {
    fn drop(&mut self) {
        let mut c = self.startups.counts();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                c.per_source.remove(&self.source);
            }
        }
    }
}

/// The TCP stream of one connection, which fails every read and write once the login grace
/// time has passed without authentication. Closing from below the SSH layer works whatever
/// state the handshake is in (russh does not serve its own disconnect requests during a key
/// exchange, and a client that never sends its version string never reaches it at all).
pub(crate) struct GraceStream<S> {
    inner: S,
    deadline: Option<Pin<Box<Sleep>>>,
    authenticated: Arc<AtomicBool>,
    expired: bool,
    on_expiry: Option<Box<dyn FnOnce() + Send>>,
}

impl<S> GraceStream<S> {
    /// `authenticated` is set by the connection once a login succeeds; from then on the
    /// deadline no longer applies.
    pub(crate) fn new(
        inner: S,
        grace: Option<Duration>,
        authenticated: Arc<AtomicBool>,
        on_expiry: Box<dyn FnOnce() + Send>,
    ) -> Self {
        GraceStream {
            inner,
            deadline: grace.map(|g| Box::pin(tokio::time::sleep(g))),
            authenticated,
            expired: false,
            on_expiry: Some(on_expiry),
        }
    }

    /// Fails once the grace time is over; polling the deadline also arranges for the task
    /// to be woken when it passes, so an idle connection is closed on time.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(deadline) = self.deadline.as_mut() {
            if self.authenticated.load(Ordering::Acquire) {
                self.deadline = None;
            } else if deadline.as_mut().poll(cx).is_ready() {
                self.deadline = None;
                self.expired = true;
                if let Some(f) = self.on_expiry.take() {
                    f();
                }
            }
        }
        if self.expired {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "login grace time exceeded",
            ));
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GraceStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GraceStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_startups_parses_like_sshd_config() {
        let m: MaxStartups = "10:30:100".parse().unwrap();
        assert_eq!(
            m,
            MaxStartups {
                start: 10,
                rate: 30,
                full: 100
            }
        );
        assert_eq!(m.to_string(), "10:30:100");
        let one: MaxStartups = "20".parse().unwrap();
        assert_eq!((one.start, one.rate, one.full), (20, 100, 20));
        assert_eq!(
            "10:0:100".parse::<MaxStartups>(),
            Err(MaxStartupsError::Rate(0))
        );
        assert_eq!(
            "10:101:100".parse::<MaxStartups>(),
            Err(MaxStartupsError::Rate(101))
        );
        assert_eq!(
            "50:30:10".parse::<MaxStartups>(),
            Err(MaxStartupsError::StartAboveFull {
                start: 50,
                full: 10
            })
        );
        assert_eq!("0".parse::<MaxStartups>(), Err(MaxStartupsError::Zero));
        for bad in ["", "a:b:c", "10:30", "1:2:3:4", "-1"] {
            assert!(bad.parse::<MaxStartups>().is_err(), "{bad}");
        }
    }

    #[test]
    fn early_drop_probability_rises_linearly_from_start_to_full() {
        let m = MaxStartups {
            start: 10,
            rate: 30,
            full: 100,
        };
        let drops = |startups: usize| (0..100).filter(|&r| m.should_drop(startups, r)).count();
        assert_eq!(drops(0), 0);
        assert_eq!(drops(9), 0);
        assert_eq!(drops(10), 30);
        assert_eq!(drops(55), 65);
        assert_eq!(drops(99), 99);
        assert_eq!(drops(100), 100);
        assert_eq!(drops(5000), 100);
        let hard: MaxStartups = "5".parse().unwrap();
        assert_eq!((0..100).filter(|&r| hard.should_drop(4, r)).count(), 0);
        assert_eq!((0..100).filter(|&r| hard.should_drop(5, r)).count(), 100);
        let none = Limits::without_startup_limits().max_startups;
        assert!((0..100).all(|r| !none.should_drop(1_000_000, r)));
    }

    #[test]
    fn slots_count_per_source_and_free_on_drop() {
        let limits = Limits {
            max_startups: "4".parse().unwrap(),
            per_source_max_startups: Some(2),
            ..Limits::default()
        };
        let s = Startups::new(&limits);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "::ffff:192.0.2.2".parse().unwrap();
        let a1 = s.admit(a).unwrap();
        let _a2 = s.admit(a).unwrap();
        assert_eq!(
            s.admit(a).unwrap_err(),
            (DropReason::PerSourceMaxStartups, 2)
        );
        // The same IPv4 host written as a mapped IPv6 address counts under IPv4.
        let _b1 = s.admit(b).unwrap();
        let _b2 = s.admit("192.0.2.2".parse().unwrap()).unwrap();
        assert_eq!(s.admit(b).unwrap_err().0, DropReason::PerSourceMaxStartups);
        assert_eq!(
            s.admit("192.0.2.3".parse().unwrap()).unwrap_err(),
            (DropReason::MaxStartups, 4)
        );
        drop(a1);
        assert_eq!(s.total(), 3);
        let _a3 = s.admit(a).unwrap();
        // IPv6 hosts of one /64 are one source.
        let s6 = Startups::new(&limits);
        let _x = s6.admit("2001:db8::1".parse().unwrap()).unwrap();
        let _y = s6.admit("2001:db8::2:2".parse().unwrap()).unwrap();
        assert!(s6.admit("2001:db8::ffff:3".parse().unwrap()).is_err());
        assert!(s6.admit("2001:db8:0:1::1".parse().unwrap()).is_ok());
    }
}
