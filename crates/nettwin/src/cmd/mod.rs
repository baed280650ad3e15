//! One module per subcommand: its arguments and how it prints.

pub mod bench;
pub mod check;
pub mod demo;
pub mod exec;
pub mod explain;
pub mod fabric;
pub mod routes;
pub mod serve;
pub mod show;
