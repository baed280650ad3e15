//! Load benchmark of the SSH CLI: many concurrent clients log in, run commands, log out.
//! Measures sessions per second (SSH handshake, authentication, shell, first prompt) and
//! commands per second (command sent to prompt back) across all clients together.

use crate::runner::{RunnerError, Shell, Target};
use std::time::{Duration, Instant};

/// What one benchmark run measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub clients: usize,
    pub commands_per_client: usize,
    /// Wall time for all clients to have an open shell (they start together).
    pub open_time: Duration,
    pub sessions_per_sec: f64,
    /// Wall time for all clients to run all their commands.
    pub command_time: Duration,
    pub commands_per_sec: f64,
    /// Bytes of command output received in total.
    pub output_bytes: usize,
}

/// Opens `clients` sessions at once, then has each run `commands` in turn `rounds` times.
pub async fn run(
    target: &Target,
    clients: usize,
    commands: &[String],
    rounds: usize,
) -> Result<BenchReport, RunnerError> {
    let start = Instant::now();
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let t = target.clone();
        opening.spawn(async move { Shell::open(&t).await });
    }
    let mut shells = Vec::with_capacity(clients);
    while let Some(r) = opening.join_next().await {
        let shell = r.map_err(|e| RunnerError::Session {
            target: target.address.clone(),
            message: e.to_string(),
        })??;
        shells.push(shell);
    }
    let open_time = start.elapsed();
    let start = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for mut shell in shells {
        let cmds = commands.to_vec();
        let timeout = target.timeout;
        running.spawn(async move {
            let mut bytes = 0usize;
            shell.command("terminal length 0", timeout, None).await?;
            for _ in 0..rounds {
                for c in &cmds {
                    bytes += shell.command(c, timeout, None).await?.len();
                }
            }
            shell.close().await;
            Ok::<usize, RunnerError>(bytes)
        });
    }
    let mut output_bytes = 0;
    while let Some(r) = running.join_next().await {
        output_bytes += r.map_err(|e| RunnerError::Session {
            target: target.address.clone(),
            message: e.to_string(),
        })??;
    }
    let command_time = start.elapsed();
    let total_commands = clients * commands.len() * rounds;
    Ok(BenchReport {
        clients,
        commands_per_client: commands.len() * rounds,
        open_time,
        sessions_per_sec: clients as f64 / open_time.as_secs_f64(),
        command_time,
        commands_per_sec: total_commands as f64 / command_time.as_secs_f64(),
        output_bytes,
    })
}
