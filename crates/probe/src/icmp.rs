//! The icmp prober, following blackbox_exporter's `ProbeICMP`: one echo request, phases
//! `resolve`, `setup` and `rtt`. It uses an unprivileged ICMP datagram socket where
//! `net.ipv4.ping_group_range` allows one, else a raw socket (root or CAP_NET_RAW); with
//! neither the result is *skipped* with the reason, not a failure of the target.

use crate::result::Outcome;
use crate::spec::IcmpSpec;
use std::net::IpAddr;
use std::time::{Duration, Instant};

enum Sock {
    Dgram(i32),
    Raw(i32),
}

impl Sock {
    fn fd(&self) -> i32 {
        match self {
            Sock::Dgram(fd) | Sock::Raw(fd) => *fd,
        }
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: the descriptor was opened by `open` and is closed once, here.
        unsafe {
            libc::close(self.fd());
        }
    }
}

fn open(v6: bool) -> Result<Sock, String> {
    let (domain, proto) = if v6 {
        (libc::AF_INET6, libc::IPPROTO_ICMPV6)
    } else {
        (libc::AF_INET, libc::IPPROTO_ICMP)
    };
    // SAFETY: plain socket(2) calls; the results are checked.
    let fd = unsafe { libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, proto) };
    if fd >= 0 {
        return Ok(Sock::Dgram(fd));
    }
    let dgram_err = std::io::Error::last_os_error();
    let fd = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    if fd >= 0 {
        return Ok(Sock::Raw(fd));
    }
    let raw_err = std::io::Error::last_os_error();
    Err(format!(
        "ICMP sockets are not permitted here (datagram: {dgram_err}; raw: {raw_err}); allow them with sysctl net.ipv4.ping_group_range or run as root"
    ))
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn sockaddr(ip: IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value; the family-specific view written
    // below fits inside it.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match ip {
        IpAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        IpAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// What one echo found: round trip, reply hop limit when the socket shows it.
struct Echo {
    setup: f64,
    rtt: f64,
    hop_limit: Option<u8>,
}

enum EchoError {
    NotPermitted(String),
    Failed { setup: f64, rtt: f64, why: String },
}

fn echo(ip: IpAddr, payload: u32, timeout: Duration) -> Result<Echo, EchoError> {
    let t0 = Instant::now();
    let sock = open(ip.is_ipv6()).map_err(EchoError::NotPermitted)?;
    let id = (std::process::id() & 0xffff) as u16;
    let seq: u16 = (t0.elapsed().subsec_nanos() & 0xffff) as u16;
    let mut pkt = vec![if ip.is_ipv6() { 128 } else { 8 }, 0, 0, 0];
    pkt.extend_from_slice(&id.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend((0..payload).map(|i| (i & 0xff) as u8));
    if ip.is_ipv4() {
        let c = checksum(&pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
    }
    let (sa, len) = sockaddr(ip);
    let setup = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let fail = |why: String| EchoError::Failed {
        setup,
        rtt: t1.elapsed().as_secs_f64(),
        why,
    };
    // SAFETY: pkt and sa outlive the call; lengths are theirs.
    let n = unsafe {
        libc::sendto(
            sock.fd(),
            pkt.as_ptr().cast(),
            pkt.len(),
            0,
            &sa as *const _ as *const libc::sockaddr,
            len,
        )
    };
    if n < 0 {
        return Err(fail(format!("send: {}", std::io::Error::last_os_error())));
    }
    let deadline = t1 + timeout;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(format!("no echo reply from {ip} in time")));
        }
        let mut pfd = libc::pollfd {
            fd: sock.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(fail(format!("poll: {e}")));
        }
        if r == 0 {
            continue;
        }
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(sock.fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(fail(format!(
                "receive: {}",
                std::io::Error::last_os_error()
            )));
        }
        let got = &buf[..n as usize];
        let (icmp, hop) = match (&sock, ip) {
            // A raw IPv4 socket hands over the IP header too.
            (Sock::Raw(_), IpAddr::V4(_)) => {
                let ihl = usize::from(got.first().copied().unwrap_or(0) & 0x0f) * 4;
                if got.len() < ihl + 8 {
                    continue;
                }
                let src = IpAddr::from([got[12], got[13], got[14], got[15]]);
                if src != ip {
                    continue;
                }
                (&got[ihl..], Some(got[8]))
            }
            _ => (got, None),
        };
        if icmp.len() < 8 {
            continue;
        }
        let reply_type = if ip.is_ipv6() { 129 } else { 0 };
        let rid = u16::from_be_bytes([icmp[4], icmp[5]]);
        let rseq = u16::from_be_bytes([icmp[6], icmp[7]]);
        // Datagram sockets rewrite the id to the socket's port and filter replies themselves.
        let ours = matches!(sock, Sock::Dgram(_)) || rid == id;
        if icmp[0] == reply_type && ours && rseq == seq {
            return Ok(Echo {
                setup,
                rtt: t1.elapsed().as_secs_f64(),
                hop_limit: hop,
            });
        }
    }
}

thread_local! {
    /// Echo on the calling thread instead of the blocking pool (set on threads that entered a
    /// network namespace: the pool's threads are in another one).
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes ICMP probes started from this thread run their socket on it (see [`INLINE`]).
pub fn run_inline_on_this_thread() {
    INLINE.with(|i| i.set(true));
}

pub async fn probe(
    spec: &IcmpSpec,
    target: &str,
    deadline: tokio::time::Instant,
    out: &mut Outcome,
) {
    for phase in ["resolve", "setup", "rtt"] {
        out.add_phase(phase, 0.0);
    }
    let Some((ip, lookup)) = crate::net::choose(target, spec.ip, out).await else {
        return;
    };
    out.add_phase("resolve", lookup);
    let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    let payload = spec.payload;
    let r = if INLINE.with(|i| i.get()) {
        Ok(echo(ip, payload, timeout))
    } else {
        tokio::task::spawn_blocking(move || echo(ip, payload, timeout)).await
    };
    match r {
        Ok(Ok(e)) => {
            out.set_phase("setup", e.setup);
            out.set_phase("rtt", e.rtt);
            if let Some(h) = e.hop_limit {
                out.gauge(
                    "probe_icmp_reply_hop_limit",
                    "Replied packet hop limit (TTL for ipv4)",
                    f64::from(h),
                );
            }
            out.success = true;
        }
        Ok(Err(EchoError::NotPermitted(why))) => {
            out.skipped = Some(why.clone());
            out.fail("setup", why);
        }
        Ok(Err(EchoError::Failed { setup, rtt, why })) => {
            out.set_phase("setup", setup);
            out.set_phase("rtt", rtt);
            out.fail("rtt", why);
        }
        Err(e) => out.fail("setup", format!("echo task: {e}")),
    }
}
