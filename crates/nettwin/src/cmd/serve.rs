//! `nettwin serve FILE`: every simulated device reachable over SSH with an IOS-like CLI.

use crate::{output, Global};
use nettwin_cli::server::{bind, ServeConfig, ServeError, Users};
use nettwin_cli::ModelTwin;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&args.file)?;
    let users = Users::load(&args.users).map_err(users_error)?;
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
        let server = bind(Arc::new(twin), &cfg)
            .await
            .map_err(|e| output::BadInput(format!("error: {e}")))?;
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
