//! AS-level Internet routing simulation for hijack studies.
//!
//! Owns: the AS graph (CAIDA AS-relationship files, synthetic Internet-like graphs), BGP route
//! propagation under Gao-Rexford policies in three phases, attacks (prefix, sub-prefix,
//! forged-origin, route leak, stealthy scoping with NO_EXPORT or chosen neighbours), defences
//! (ROV, ASPA, peer-lock) adopted by any set of ASes, route collectors and an origin/upstream
//! monitor, Monte Carlo experiments with confidence intervals, and a string-returning SVG chart.
//!
//! Does not own: router-level topologies (the `nettwin-model` crate), file I/O, argument
//! parsing, progress display (the `nettwin` binary). Nothing here prints or exits. The model is
//! described in `docs/inet.md`.

pub mod aspa;
pub mod bench;
pub mod collectors;
mod engine;
pub mod experiment;
pub mod graph;
mod outcome;
pub mod plot;
pub mod prefix;
pub mod rng;
mod scenario;
pub mod synthetic;

pub use engine::{Alerts, DataPlane, Engine, Rejection, Summary};
pub use graph::{is_valley_free, AsGraph, GraphError, Link, Relationship};
pub use outcome::{
    explain, propagate, summarise, Candidate, ChosenRoute, CollectorObservation, DecidingRule,
    Explanation, Outcome, PerAsRecord, PrefixExplanation, RouteSource,
};
pub use prefix::{parse_roas, rov_state, Prefix, PrefixError, Roa, RoaFileError, RovState};
pub use scenario::{
    default_victim_prefix, AttackKind, Defences, Owner, ParseNameError, Scenario, ScenarioError,
    Scope, Targets,
};
