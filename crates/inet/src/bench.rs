//! Entry points the `nettwin inet bench` subcommand (and `examples/bench.rs`) time. Timing
//! itself is the caller's job; these only do the work.

use crate::engine::{Engine, Summary};
use crate::graph::{AsGraph, GraphError};
use crate::scenario::{AttackKind, Prepared, Scenario, ScenarioError};
use crate::synthetic::{generate, SyntheticError, SyntheticParams};

/// Generates the synthetic graph of `ases` ASes and its CAIDA serial-2 text.
pub fn synthetic_caida_text(ases: usize, seed: u64) -> Result<String, SyntheticError> {
    Ok(generate(&SyntheticParams::new(ases), seed)?.to_caida())
}

/// Parses CAIDA text (the "load" being timed).
pub fn load(text: &str) -> Result<AsGraph, GraphError> {
    AsGraph::parse_caida(text, "bench")
}

/// A prepared sub-prefix hijack between the first and the last edge AS, for repeated runs.
pub struct HijackBench<'g> {
    engine: Engine<'g>,
    prepared: Prepared,
}

impl<'g> HijackBench<'g> {
    pub fn new(graph: &'g AsGraph, attack: AttackKind) -> Result<Self, ScenarioError> {
        let edge = graph.edge_ases();
        let victim = graph.asn(edge[0]);
        let attacker = graph.asn(*edge.last().unwrap_or(&edge[0]));
        let sc = Scenario::new(attack, victim, attacker);
        Ok(HijackBench {
            engine: Engine::new(graph),
            prepared: Prepared::new(graph, &sc)?,
        })
    }

    /// One full trial: propagation of every prefix, data plane and summary.
    pub fn run_once(&mut self) -> Summary {
        self.engine.run(&mut self.prepared)
    }
}
