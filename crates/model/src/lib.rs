//! The shared model of nettwin: IP addresses and prefixes, the topology (nodes, interfaces,
//! links, IP segments), and loading a topology file with precise, collected errors.
//!
//! Every other crate reads a [`Topology`] built here and uses [`Prefix`] and [`IfAddr`] for
//! addresses; none re-implements parsing. This crate does not compute routes, forward packets or
//! print anything: it only describes the network and says what is wrong with a file.

pub mod addr;
pub mod diag;
pub mod generate;
pub mod load;
pub mod netlab;
pub mod topology;
pub mod vrf;
pub mod yaml;

pub use addr::{AddrParseError, Family, IfAddr, Prefix};
pub use diag::{Diagnostic, Diagnostics};
pub use load::{load_bytes, load_file, load_str, LoadError};
pub use topology::*;
