//! The management plane of nettwin: an IOS-like command line on every simulated device, served
//! over SSH, and an SSH automation runner (the client side) that drives such devices.
//!
//! Owns: the command tree with IOS's abbreviation rules (`parse`), the per-session line editor
//! and modes (`session`), show output in IOS's layouts (`render`), the interface-name mapping
//! (`ifname`), the SSH server with its users file and host key (`server`), the runner
//! (`runner`) and the load benchmark (`bench`). It reads and changes the network only through
//! the [`Twin`] trait; [`ModelTwin`] answers from the routing engine (`engine` translates its
//! state into what the show commands print) or from the topology alone. It does not compute
//! routes itself and never prints or exits.

pub mod bench;
mod engine;
pub mod ifname;
pub mod model_twin;
pub mod parse;
pub mod render;
pub mod runner;
pub mod server;
pub mod session;
pub mod twin;

pub use model_twin::ModelTwin;
pub use twin::*;
