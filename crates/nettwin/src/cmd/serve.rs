//! `nettwin serve FILE`: every simulated device reachable over SSH with an IOS-like CLI.

use crate::{output, Global};
use nettwin_cli::server::{
    bind, EventLevel, Limits, MaxStartups, ServeConfig, ServeError, ServerEvent, Users,
};
use nettwin_cli::ModelTwin;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Serve an IOS-like command line for every device of the topology over SSH.
///
/// One port for all devices, the device chosen by the SSH user name (`admin+r1` or
/// `admin@r1`), and/or one port per device (`--port-base`: the first node on BASE, the next on
/// BASE+1, ...). Configuration typed on any device re-converges the whole simulated network.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin serve examples/isp-dc.yml --users users.txt\n  ssh -p 2222 admin+pe1@127.0.0.1\n  nettwin serve examples/campus.yml --port-base 3000 --users users.txt\n\nUsers file (docs/cli.md): one account per line,\n  admin password=admin secret=cisco\n  ops privilege=15 ssh-ed25519 AAAA... ops@laptop"
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
    /// Address for the shared port (device chosen by user name).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// First port of one-port-per-device mode (node order of the file).
    #[arg(long)]
    port_base: Option<u16>,
    /// Accounts and keys (see docs/cli.md).
    #[arg(long)]
    users: PathBuf,
    /// The server's host key; generated on first start and reused so clients can pin it.
    #[arg(long, default_value = ".nettwin/ssh_host_ed25519_key")]
    host_key: PathBuf,
    /// Serve connected, local and static routes only, without running the routing protocols.
    #[arg(long)]
    model_only: bool,
    /// Close sessions idle for this many seconds.
    #[arg(long, default_value_t = 600)]
    idle_timeout: u64,
    /// Close connections not logged in this many seconds after they open (0: never), like
    /// sshd's LoginGraceTime.
    #[arg(long, value_name = "SECONDS", default_value_t = default_grace())]
    login_grace_time: u64,
    /// Unauthenticated connections: from START on refuse new ones with RATE% probability,
    /// rising to all at FULL (sshd's MaxStartups; one number N means N:100:N).
    #[arg(long, value_name = "START:RATE:FULL", default_value_t = Limits::default().max_startups)]
    max_startups: MaxStartups,
    /// Unauthenticated connections from one address (an IPv6 /64), or `none`.
    #[arg(long, value_name = "N|none", default_value_t = PerSource(Limits::default().per_source_max_startups))]
    per_source_max_startups: PerSource,
    /// Rejected login attempts per connection before it is disconnected (sshd's MaxAuthTries).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_auth_tries)]
    max_auth_tries: usize,
    /// Pause after each wrong enable secret, in seconds (decimals allowed), as IOS does.
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().enable_fail_delay.as_secs_f64())]
    enable_fail_delay: f64,
}

fn default_grace() -> u64 {
    Limits::default()
        .login_grace_time
        .map_or(0, |d| d.as_secs())
}

/// `--per-source-max-startups`: a count or `none`.
#[derive(Clone, Copy)]
struct PerSource(Option<usize>);

impl std::str::FromStr for PerSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(PerSource(None)),
            _ => match s.parse::<usize>() {
                Ok(n) if n > 0 => Ok(PerSource(Some(n))),
                _ => Err(format!("`{s}` is not a positive number or `none`")),
            },
        }
    }
}

impl std::fmt::Display for PerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("none"),
        }
    }
}

impl Args {
    fn limits(&self) -> Result<Limits, output::BadInput> {
        let enable_fail_delay = Duration::try_from_secs_f64(self.enable_fail_delay)
            .map_err(|e| output::BadInput(format!("error: --enable-fail-delay: {e}")))?;
        if self.max_auth_tries == 0 {
            return Err(output::BadInput(
                "error: --max-auth-tries must be at least 1".into(),
            ));
        }
        Ok(Limits {
            login_grace_time: (self.login_grace_time > 0)
                .then(|| Duration::from_secs(self.login_grace_time)),
            max_startups: self.max_startups,
            per_source_max_startups: self.per_source_max_startups.0,
            max_auth_tries: self.max_auth_tries,
            enable_fail_delay,
        })
    }
}

/// Every mistake of the users file on its own `error:` line.
fn users_error(e: ServeError) -> output::BadInput {
    let text = e.to_string();
    output::BadInput(
        text.lines()
            .map(|l| format!("error: {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Writes server events to stderr from a thread of its own: a slow or stalled stderr (a
/// full pipe) must not stall the accept loop, so events past a backlog are counted and the
/// count is logged instead of the lines.
struct EventLog {
    lines: std::sync::mpsc::SyncSender<String>,
    missed: Arc<std::sync::atomic::AtomicU64>,
    verbose: u8,
}

impl EventLog {
    fn start(verbose: u8) -> EventLog {
        use std::sync::atomic::Ordering;
        let (lines, rx) = std::sync::mpsc::sync_channel::<String>(4096);
        let missed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = missed.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            for line in rx {
                let mut err = std::io::stderr().lock();
                let lost = counted.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    let _ = writeln!(err, "{lost} events not logged: stderr was too slow");
                }
                let _ = writeln!(err, "{line}");
            }
        });
        EventLog {
            lines,
            missed,
            verbose,
        }
    }

    /// Refusals and failures always; accepted logins and declined key offers with -v.
    fn record(&self, e: ServerEvent) {
        if e.level() != EventLevel::Warning && self.verbose == 0 {
            return;
        }
        let line = format!("{} {e}", utc_timestamp(SystemTime::now()));
        if self.lines.try_send(line).is_err() {
            self.missed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// `2025-01-31T12:00:00Z`: log lines need a time, and UTC needs no time-zone database.
fn utc_timestamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&args.file)?;
    let users = Users::load(&args.users).map_err(users_error)?;
    let limits = args.limits()?;
    let listen = match (args.listen, args.port_base) {
        (None, None) => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 2222))),
        (l, _) => l,
    };
    if let Some(dir) = args.host_key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            output::BadInput(format!("error: cannot create {}: {e}", dir.display()))
        })?;
    }
    let twin = if args.model_only {
        ModelTwin::new(topo)
    } else {
        // Routing configuration mistakes are reported like topology mistakes.
        super::routes::compute(&topo)?;
        ModelTwin::with_routing(topo).map_err(|e| anyhow::anyhow!(e))?
    };
    let cfg = ServeConfig {
        listen,
        port_base: args.port_base,
        users,
        host_key: args.host_key,
        idle_timeout: Duration::from_secs(args.idle_timeout),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let log = EventLog::start(g.verbose);
        let server = bind(Arc::new(twin), &cfg)
            .await
            .map_err(|e| output::BadInput(format!("error: {e}")))?
            .with_limits(limits)
            .on_event(move |e| log.record(e));
        for w in server.warnings() {
            eprintln!("warning: {w}");
        }
        let addrs = server.addresses();
        if g.json {
            let rows: Vec<serde_json::Value> = addrs
                .iter()
                .map(|(a, d)| serde_json::json!({"listen": a.to_string(), "device": d}))
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        } else {
            for (addr, device) in &addrs {
                match device {
                    Some(d) => println!("listening on {addr} for {d}"),
                    None => {
                        println!("listening on {addr} for every device (log in as USER+DEVICE)")
                    }
                }
            }
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        server.run().await;
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let at = |secs: u64| utc_timestamp(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn flags_default_to_the_library_limits() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let cli = Cli::parse_from(["serve", "t.yml", "--users", "u"]);
        assert_eq!(cli.args.limits().unwrap(), Limits::default());
    }
}
