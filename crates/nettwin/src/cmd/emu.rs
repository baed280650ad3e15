//! `nettwin emu ...`: the topology built in Linux network namespaces, with the twin's routes or
//! FRR, and checked against the twin.

use crate::{output, Global};
use nettwin_emu::{EmuError, RoutesMode, VerifyOptions};
use std::path::PathBuf;
use std::time::Duration;

/// Emulate a topology in network namespaces (needs root) and check the twin against the kernel and FRR.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  sudo nettwin emu up examples/campus.yml --routes static --name lab\n  sudo nettwin emu exec --run lab pc1 -- ping -c1 198.18.0.1\n  sudo nettwin emu down lab\n  sudo nettwin emu verify examples/isp-dc.yml --routes frr\n\nAddresses must lie in 198.18.0.0/15 and 2001:db8::/32; nothing is connected to the host's interfaces."
)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Routes {
    None,
    Static,
    Frr,
}

impl From<Routes> for RoutesMode {
    fn from(r: Routes) -> RoutesMode {
        match r {
            Routes::None => RoutesMode::None,
            Routes::Static => RoutesMode::Static,
            Routes::Frr => RoutesMode::Frr,
        }
    }
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Build the topology: one namespace per node, veth pairs, bridges, addresses, routes, and
    /// link latency, loss and bandwidth (tc netem; the rate alone, with a note, on kernels
    /// without netem).
    Up {
        file: PathBuf,
        /// Who fills the routing tables: none (connected only), static (the twin's FIB as
        /// kernel routes) or frr (FRR daemons configured from the model).
        #[arg(long, value_enum, default_value = "static")]
        routes: Routes,
        /// Run name (1-8 lowercase letters/digits); namespaces are called nt-RUN-NODE.
        #[arg(long)]
        name: Option<String>,
        /// Seconds FRR may take to converge.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Remove everything a run made (also after a crash, a kill half-way through `up`, or a
    /// `verify` that was killed). Without a run name: every run nobody looks after any more
    /// (interrupted, or left by a verify that is gone), else the only run there is.
    Down {
        run: Option<String>,
        /// Every recorded run.
        #[arg(long)]
        all: bool,
    },
    /// Run a command inside a node's namespace.
    Exec {
        #[arg(long)]
        run: Option<String>,
        node: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// List the runs.
    List,
    /// Compare the twin's routing tables and reachability with the real ones.
    Verify {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "static")]
        routes: Routes,
        /// Use this running emulation instead of building one.
        #[arg(long)]
        run: Option<String>,
        /// Leave the emulation running.
        #[arg(long)]
        keep: bool,
        #[arg(long)]
        name: Option<String>,
        /// Size of the reachability pings (IP bytes, DF set).
        #[arg(long, default_value_t = 64)]
        size: u32,
        /// Skip the reachability pings.
        #[arg(long)]
        no_ping: bool,
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
}

/// SIGINT and SIGTERM stop `up` and `verify` cleanly: the handler only raises the emulation's
/// interruption flag, the next step fails with `Interrupted`, and the failure path removes
/// everything the run made. A second signal exits at once and leaves the run for `emu down`.
fn stop_cleanly_on_signals() {
    extern "C" fn on_signal(_: libc::c_int) {
        if nettwin_emu::sys::INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(130) }
        }
    }
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that only touches an atomic and calls _exit.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Errors the user must fix exit with 2; an interruption exits with 130 like a shell's.
fn emu_err(e: EmuError) -> anyhow::Error {
    if matches!(e, EmuError::Interrupted)
        || nettwin_emu::sys::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
    {
        eprintln!("interrupted: everything the run had made is removed");
        std::process::exit(130);
    }
    match e {
        EmuError::MissingTools(_)
        | EmuError::NotRoot
        | EmuError::Unsupported(_)
        | EmuError::UnknownRun(_)
        | EmuError::UnknownNode { .. }
        | EmuError::RunExists(_)
        | EmuError::BadRunName(_)
        | EmuError::Ambiguous(_) => output::BadInput(format!("error: {e}")).into(),
        e => e.into(),
    }
}

fn load(file: &std::path::Path) -> anyhow::Result<nettwin_model::Topology> {
    nettwin_emu::require_root().map_err(emu_err)?;
    let topo = output::load_topology(file)?;
    // Renders routing-configuration mistakes with their source lines.
    super::routes::compute(&topo)?;
    Ok(topo)
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    match args.command {
        Sub::Up {
            file,
            routes,
            name,
            timeout,
        } => {
            let topo = load(&file)?;
            stop_cleanly_on_signals();
            let r = nettwin_emu::up(
                &topo,
                &nettwin_emu::UpOptions {
                    routes: routes.into(),
                    name,
                    converge_timeout: Duration::from_secs(timeout),
                    ephemeral: false,
                },
            )
            .map_err(emu_err)?;
            if g.json {
                return output::print_json(&r.state);
            }
            println!(
                "run {}: {} namespaces up, routes {}{}",
                r.state.run,
                r.state
                    .created
                    .iter()
                    .filter(|c| matches!(c, nettwin_emu::state::Created::Netns { .. }))
                    .count(),
                r.state.routes.name(),
                r.converged_after
                    .map(|d| format!(", FRR converged in {:.1} s", d.as_secs_f64()))
                    .unwrap_or_default()
            );
            for n in &r.notes {
                println!("  note: {n}");
            }
            println!(
                "  nettwin emu exec --run {} NODE -- CMD   |   nettwin emu down {}",
                r.state.run, r.state.run
            );
            Ok(())
        }
        Sub::Down { run, all } => {
            let reps = match (run, all) {
                (_, true) => nettwin_emu::down_all().map_err(emu_err)?,
                (Some(r), false) => vec![nettwin_emu::down(&r).map_err(emu_err)?],
                (None, false) => {
                    // Runs nobody looks after (an interrupted up, a verify whose process is
                    // gone) first; otherwise the only run there is.
                    let stale = nettwin_emu::up::stale_runs().map_err(emu_err)?;
                    if stale.is_empty() {
                        let st = nettwin_emu::up::pick_run(None).map_err(emu_err)?;
                        vec![nettwin_emu::down(&st.run).map_err(emu_err)?]
                    } else {
                        stale
                            .iter()
                            .map(|st| nettwin_emu::down(&st.run))
                            .collect::<Result<_, _>>()
                            .map_err(emu_err)?
                    }
                }
            };
            if g.json {
                return output::print_json(&reps);
            }
            for r in reps {
                println!(
                    "run {}: removed {} namespaces, {} directories, stopped {} processes",
                    r.run, r.namespaces, r.dirs, r.processes
                );
                for what in &r.refused {
                    eprintln!(
                        "warning: run {}: left {what} alone: its state file lists it, but the run cannot have made it",
                        r.run
                    );
                }
            }
            Ok(())
        }
        Sub::Exec { run, node, command } => {
            let code = nettwin_emu::exec(run.as_deref(), &node, &command).map_err(emu_err)?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Sub::List => {
            let runs = nettwin_emu::list().map_err(emu_err)?;
            if g.json {
                return output::print_json(&runs);
            }
            let mut rows = vec![vec![
                "RUN".to_string(),
                "ROUTES".into(),
                "NODES".into(),
                "STATE".into(),
                "FILE".into(),
            ]];
            for r in &runs {
                let state = if r.builder_alive() {
                    if r.complete {
                        "up"
                    } else {
                        "building"
                    }
                } else if !r.complete {
                    "interrupted (emu down removes it)"
                } else if r.ephemeral {
                    "orphaned: its verify is gone (emu down removes it)"
                } else {
                    "up"
                };
                rows.push(vec![
                    r.run.clone(),
                    r.routes.name().into(),
                    r.nodes.len().to_string(),
                    state.into(),
                    r.file.clone(),
                ]);
            }
            print!("{}", output::table(&rows));
            Ok(())
        }
        Sub::Verify {
            file,
            routes,
            run,
            keep,
            name,
            size,
            no_ping,
            timeout,
        } => {
            let topo = load(&file)?;
            stop_cleanly_on_signals();
            let rep = nettwin_emu::verify(
                &topo,
                &VerifyOptions {
                    routes: routes.into(),
                    run,
                    keep,
                    name,
                    converge_timeout: Duration::from_secs(timeout),
                    ping_size: (!no_ping).then_some(size),
                },
            )
            .map_err(emu_err)?;
            if g.json {
                output::print_json(&rep)?;
            } else {
                print_report(&rep);
            }
            let n = rep.differences();
            if n > 0 {
                anyhow::bail!(
                    "{n} difference{} between the twin and {}",
                    if n == 1 { "" } else { "s" },
                    if rep.routes == RoutesMode::Frr {
                        "FRR"
                    } else {
                        "the kernel"
                    }
                );
            }
            Ok(())
        }
    }
}

fn print_report(rep: &nettwin_emu::VerifyReport) {
    println!(
        "run {} (routes {}){}{}",
        rep.run,
        rep.routes.name(),
        rep.converged_ms
            .map(|ms| format!(", converged in {:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default(),
        if rep.kept {
            ", kept running"
        } else {
            ", removed"
        }
    );
    let mut rows = vec![vec![
        "NODE".to_string(),
        "SOURCE".into(),
        "AGREE".into(),
        "DIFFER".into(),
    ]];
    for n in &rep.nodes {
        rows.push(vec![
            n.node.clone(),
            n.source.clone(),
            n.agree.to_string(),
            n.diffs.len().to_string(),
        ]);
    }
    print!("{}", output::table(&rows));
    if rep.route_diffs() > 0 {
        println!();
        let mut rows = vec![vec![
            "NODE".to_string(),
            "PREFIX".into(),
            "TWIN".into(),
            "REAL".into(),
        ]];
        for n in &rep.nodes {
            for d in &n.diffs {
                rows.push(vec![
                    n.node.clone(),
                    d.prefix.to_string(),
                    d.twin.clone().unwrap_or_else(|| "-".into()),
                    d.real.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
        }
        print!("{}", output::table(&rows));
    }
    for (node, what) in &rep.untranslated {
        println!("note: {node}: {what}");
    }
    for n in &rep.notes {
        println!("note: {n}");
    }
    if let Some(r) = &rep.reach {
        println!(
            "\nreachability (ping -M do, {} bytes): {} pairs, {} agree, {} differ, {} skipped (ECMP branches disagree)",
            r.size,
            r.pairs,
            r.agree,
            r.diffs.len(),
            r.skipped_partial
        );
        if !r.diffs.is_empty() {
            let mut rows = vec![vec![
                "FROM".to_string(),
                "SRC".into(),
                "TO".into(),
                "NODE".into(),
                "TWIN".into(),
                "REAL".into(),
            ]];
            for d in &r.diffs {
                rows.push(vec![
                    d.from.clone(),
                    d.src.to_string(),
                    d.to.to_string(),
                    d.to_node.clone(),
                    d.twin.clone(),
                    d.real.clone(),
                ]);
            }
            print!("{}", output::table(&rows));
        }
    }
    if let Some(p) = &rep.paths {
        println!(
            "paths (traceroute between hosts): {} pairs, {} agree, {} differ",
            p.pairs,
            p.agree,
            p.diffs.len()
        );
        for d in &p.diffs {
            let twin: Vec<String> = d.twin.iter().map(|t| t.join(" ")).collect();
            println!(
                "  {} -> {}: twin {} | real {}",
                d.from,
                d.to,
                twin.join(" or "),
                d.real.join(" ")
            );
        }
    }
}
