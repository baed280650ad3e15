//! A stand-alone server for tests until `nettwin serve` is wired:
//! `serve TOPOLOGY [--listen ADDR:PORT] [--port-base N] --users FILE --host-key PATH`.
//! It calls the same library function `nettwin serve` will.

use nettwin_cli::server::{bind, ServeConfig, Users};
use nettwin_cli::ModelTwin;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut topology = None;
    let mut listen = None;
    let mut port_base = None;
    let mut users = None;
    let mut host_key = None;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--listen" => {
                listen = Some(
                    value("--listen")?
                        .parse()
                        .map_err(|e| format!("--listen: {e}"))?,
                )
            }
            "--port-base" => {
                port_base = Some(
                    value("--port-base")?
                        .parse()
                        .map_err(|e| format!("--port-base: {e}"))?,
                )
            }
            "--users" => users = Some(PathBuf::from(value("--users")?)),
            "--host-key" => host_key = Some(PathBuf::from(value("--host-key")?)),
            _ if topology.is_none() && !a.starts_with('-') => topology = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument `{a}`")),
        }
    }
    let topology = topology.ok_or(
        "usage: serve TOPOLOGY [--listen A:P] [--port-base N] --users FILE --host-key PATH",
    )?;
    let topo = nettwin_model::load_file(&topology).map_err(|e| e.to_string())?;
    let users = Users::load(&users.ok_or("--users is required")?).map_err(|e| e.to_string())?;
    let cfg = ServeConfig {
        listen,
        port_base,
        users,
        host_key: host_key.ok_or("--host-key is required")?,
        idle_timeout: Duration::from_secs(600),
    };
    let twin = Arc::new(ModelTwin::new(topo));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let server = bind(twin, &cfg).await.map_err(|e| e.to_string())?;
        for (addr, device) in server.addresses() {
            println!(
                "listening on {addr} for {}",
                device.as_deref().unwrap_or("any device (user+device)")
            );
        }
        server.run().await;
        Ok(())
    })
}
