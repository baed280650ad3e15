//! `nettwin`: the command line. It parses arguments, calls the domain crates and prints what
//! they return, as text for people or JSON for programs. Nothing here computes the network.

mod cmd;
mod output;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A network digital twin: simulate a network from one topology file and ask it questions.
#[derive(Parser)]
#[command(
    name = "nettwin",
    version,
    about,
    after_help = "Examples:\n  nettwin demo                                        the built-in ISP + datacenter example\n  nettwin check examples/campus.yml                   validate a topology and summarise it\n  nettwin routes examples/isp-dc.yml --node pe2       a routing table, like show ip route\n  nettwin trace examples/isp-dc.yml --from client1 --to web2 --size 1500 --df\n  nettwin whatif examples/isp-dc.yml --all-single-failures\n  nettwin validate lab.yml                            run a netlab lab's validate: tests on the twin\n  nettwin serve examples/isp-dc.yml --users users.txt\n  nettwin emu verify examples/isp-dc.yml --routes frr  (root: the twin against FRR)\n  nettwin policy matrix -f examples/policy/            Kubernetes/Calico network policy truth table\n  nettwin mesh check examples/mesh/policy.hujson --nodes examples/mesh/nodes.yml   a tailnet policy's tests\n  nettwin probe run examples/probe/probes.yml --once   synthetic DNS/TCP/TLS/HTTP probes"
)]
struct Cli {
    /// Print results as JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Say more about what is being done (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Options every command sees.
#[derive(Clone, Copy)]
pub struct Global {
    pub json: bool,
    pub verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    Check(cmd::check::Args),
    Show(cmd::show::Args),
    Routes(cmd::routes::Args),
    Explain(cmd::explain::Args),
    Trace(cmd::trace::Args),
    Pmtu(cmd::pmtu::Args),
    Reach(cmd::reach::Args),
    Whatif(cmd::whatif::Args),
    Validate(cmd::validate::Args),
    Serve(cmd::serve::Args),
    Exec(cmd::exec::Args),
    Emu(cmd::emu::Args),
    Inet(cmd::inet::Args),
    Fabric(cmd::fabric::Args),
    Policy(cmd::policy::Args),
    Mesh(cmd::mesh::Args),
    Probe(cmd::probe::Args),
    Demo(cmd::demo::Args),
    Bench(cmd::bench::Args),
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`nettwin routes ... | head`) like other command-line
    // tools, instead of panicking in println!.
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    output::VERBOSE.store(cli.verbose > 0, std::sync::atomic::Ordering::Relaxed);
    let global = Global {
        json: cli.json,
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Check(a) => cmd::check::run(a, global),
        Command::Show(a) => cmd::show::run(a, global),
        Command::Demo(a) => cmd::demo::run(a, global),
        Command::Routes(a) => cmd::routes::run(a, global),
        Command::Explain(a) => cmd::explain::run(a, global),
        Command::Serve(a) => cmd::serve::run(a, global),
        Command::Exec(a) => cmd::exec::run(a, global),
        Command::Bench(a) => cmd::bench::run(a, global),
        Command::Inet(a) => cmd::inet::run(a, global),
        Command::Fabric(a) => cmd::fabric::run(a, global),
        Command::Policy(a) => cmd::policy::run(a, global),
        Command::Mesh(a) => cmd::mesh::run(a, global),
        Command::Probe(a) => cmd::probe::run(a, global),
        Command::Trace(a) => cmd::trace::run(a, global),
        Command::Pmtu(a) => cmd::pmtu::run(a, global),
        Command::Reach(a) => cmd::reach::run(a, global),
        Command::Whatif(a) => cmd::whatif::run(a, global),
        Command::Validate(a) => cmd::validate::run(a, global),
        Command::Emu(a) => cmd::emu::run(a, global),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::report_error(&e),
    }
}
