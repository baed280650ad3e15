//! One module per subcommand: its arguments and how it prints.

pub mod bench;
pub mod check;
pub mod demo;
pub mod explain;
pub mod routes;
pub mod show;
