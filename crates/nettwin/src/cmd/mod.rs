//! One module per subcommand: its arguments and how it prints.

pub mod bench;
pub mod bench_cli;
pub mod bench_dataplane;
pub mod bench_probe;
pub mod check;
pub mod demo;
pub mod emu;
pub mod exec;
pub mod explain;
pub mod fabric;
pub mod inet;
pub mod labels;
pub mod mesh;
pub mod pmtu;
pub mod policy;
pub mod probe;
pub mod reach;
pub mod routes;
pub mod serve;
pub mod show;
pub mod trace;
pub mod validate;
pub mod whatif;
