//! `nettwin bench cli`: sessions and commands per second of the SSH device CLI under load.

use crate::{output, Global};
use nettwin_cli::runner::Target;
use nettwin_cli::server::{bind, Limits, ServeConfig, Users};
use nettwin_cli::ModelTwin;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Serve a topology in-process on 127.0.0.1 and have concurrent SSH clients open sessions on
/// one device and run show commands against the routing engine.
#[derive(clap::Args)]
pub struct CliBenchArgs {
    /// The topology to serve (default: the built-in ISP + datacenter example).
    #[arg(long)]
    topology: Option<PathBuf>,
    /// The device every client logs in to.
    #[arg(long, default_value = "pe1")]
    device: String,
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// How many times each client runs the three show commands.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
}

pub fn run(args: CliBenchArgs, g: Global) -> anyhow::Result<()> {
    let topo = match &args.topology {
        Some(f) => output::load_topology(f)?,
        None => {
            output::load_topology_str(super::demo::DEFAULT_NAME, super::demo::DEFAULT_TOPOLOGY)?
        }
    };
    super::routes::node_id(&topo, &args.device)?;
    let twin = ModelTwin::with_routing(topo).map_err(|e| anyhow::anyhow!(e))?;
    let dir = std::env::temp_dir().join(format!("nettwin-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        let cfg = ServeConfig {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            port_base: None,
            users: Users::parse("bench", "bench password=bench\n")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            host_key: dir.join("host_key"),
            idle_timeout: Duration::from_secs(120),
        };
        // The benchmark opens every client's session at once from one address: the login
        // limits that protect a served twin would only measure themselves here.
        let server = bind(Arc::new(twin), &cfg)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_limits(Limits::without_startup_limits());
        let addr = server.addresses()[0].0;
        tokio::spawn(server.run());
        let target = Target {
            address: addr.to_string(),
            user: format!("bench+{}", args.device),
            password: Some("bench".into()),
            key: None,
            enable_secret: None,
            timeout: Duration::from_secs(60),
        };
        let commands: Vec<String> = [
            "show ip route",
            "show ip interface brief",
            "show ip bgp summary",
        ]
        .map(String::from)
        .to_vec();
        nettwin_cli::bench::run(&target, args.clients, &commands, args.rounds)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let r = report?;
    if g.json {
        return output::print_json(&serde_json::json!({
            "bench": "cli", "device": args.device, "clients": r.clients,
            "commands_per_client": r.commands_per_client,
            "open_s": r.open_time.as_secs_f64(), "sessions_per_sec": r.sessions_per_sec,
            "commands_s": r.command_time.as_secs_f64(), "commands_per_sec": r.commands_per_sec,
            "output_bytes": r.output_bytes,
        }));
    }
    println!(
        "cli: {} concurrent SSH clients on {}: sessions opened in {:.3} s ({:.0} sessions/s); {} commands in {:.3} s ({:.0} commands/s, {} bytes of output)",
        r.clients,
        args.device,
        r.open_time.as_secs_f64(),
        r.sessions_per_sec,
        r.clients * r.commands_per_client,
        r.command_time.as_secs_f64(),
        r.commands_per_sec,
        r.output_bytes
    );
    Ok(())
}
