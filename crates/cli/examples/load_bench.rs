//! Load benchmark until `nettwin bench cli` is wired: serves TOPOLOGY in-process on
//! 127.0.0.1 and has CLIENTS concurrent SSH clients (default 100) open a session on DEVICE and
//! run show commands ROUNDS times. `bench TOPOLOGY DEVICE [CLIENTS] [ROUNDS]`.

use nettwin_cli::runner::Target;
use nettwin_cli::server::{bind, Limits, ServeConfig, Users};
use nettwin_cli::ModelTwin;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: bench TOPOLOGY DEVICE [CLIENTS] [ROUNDS]");
        std::process::exit(2);
    }
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let topo = nettwin_model::load_file(std::path::Path::new(&args[0])).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let dir = std::env::temp_dir().join(format!("nettwin-cli-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(async {
        let cfg = ServeConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            port_base: None,
            users: Users::parse("bench", "bench password=bench\n").unwrap(),
            host_key: dir.join("host_key"),
            idle_timeout: Duration::from_secs(120),
        };
        // Every client connects at once from 127.0.0.1: past the default startup limits.
        let server = bind(Arc::new(ModelTwin::new(topo)), &cfg)
            .await
            .expect("bind")
            .with_limits(Limits::without_startup_limits());
        let addr = server.addresses()[0].0;
        tokio::spawn(server.run());
        let target = Target {
            address: addr.to_string(),
            user: format!("bench+{}", args[1]),
            password: Some("bench".into()),
            key: None,
            enable_secret: None,
            timeout: Duration::from_secs(60),
        };
        let commands: Vec<String> = ["show ip route", "show ip interface brief", "show version"]
            .map(String::from)
            .to_vec();
        nettwin_cli::bench::run(&target, clients, &commands, rounds).await
    });
    let _ = std::fs::remove_dir_all(&dir);
    match report {
        Ok(r) => {
            println!("clients              {}", r.clients);
            println!("commands per client  {}", r.commands_per_client);
            println!(
                "sessions opened in   {:.3} s  ({:.1} sessions/s)",
                r.open_time.as_secs_f64(),
                r.sessions_per_sec
            );
            println!(
                "commands run in      {:.3} s  ({:.1} commands/s)",
                r.command_time.as_secs_f64(),
                r.commands_per_sec
            );
            println!("output               {} bytes", r.output_bytes);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
