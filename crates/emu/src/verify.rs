//! `emu verify`: bring a topology up (or use a running one), compare every node's routing
//! table with the twin's, probe reachability, and take it down again.

use crate::compare::{compare, twin_routes, NodeReport};
use crate::probe::{compare_paths, compare_reach, PathReport, ReachReport};
use crate::state::RunState;
use crate::up::{self, Running, UpOptions};
use crate::{frr, kernel, EmuError, RoutesMode};
use nettwin_model::{NodeKind, Topology};
use nettwin_routing::Routing;
use serde::Serialize;
use std::time::Duration;

/// How to verify.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub routes: RoutesMode,
    /// Use this running emulation instead of building one.
    pub run: Option<String>,
    /// Leave the emulation running afterwards.
    pub keep: bool,
    pub name: Option<String>,
    pub converge_timeout: Duration,
    /// Packet size of the reachability pings (IP bytes, DF set); `None` skips them.
    pub ping_size: Option<u32>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            routes: RoutesMode::Static,
            run: None,
            keep: false,
            name: None,
            converge_timeout: Duration::from_secs(120),
            ping_size: Some(64),
        }
    }
}

/// What verify found.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub run: String,
    pub routes: RoutesMode,
    pub kept: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converged_ms: Option<u64>,
    pub nodes: Vec<NodeReport>,
    /// Twin settings FRR was not configured with (the comparison of those nodes may differ).
    pub untranslated: Vec<(String, String)>,
    /// What the run could not build as the model says (see `Running::notes`).
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach: Option<ReachReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathReport>,
}

impl VerifyReport {
    pub fn route_diffs(&self) -> usize {
        self.nodes.iter().map(|n| n.diffs.len()).sum()
    }

    pub fn differences(&self) -> usize {
        self.route_diffs()
            + self.reach.as_ref().map_or(0, |r| r.diffs.len())
            + self.paths.as_ref().map_or(0, |r| r.diffs.len())
    }
}

/// Reads the real tables of every IP node and compares them with the twin's.
pub fn compare_tables(
    topo: &Topology,
    routing: &Routing,
    st: &RunState,
    mode: RoutesMode,
) -> Result<Vec<NodeReport>, EmuError> {
    let lls = if mode == RoutesMode::Frr {
        frr::link_locals(topo, st)?
    } else {
        Default::default()
    };
    let mut out = Vec::new();
    for n in topo.nodes.iter().filter(|n| n.kind.is_ip()) {
        let ns = st.netns(&n.name)?;
        let from_frr = mode == RoutesMode::Frr && n.kind != NodeKind::Host;
        let real = if from_frr {
            frr::read(ns, &lls)?
        } else {
            kernel::read(ns)?
        };
        let twin = twin_routes(topo, routing, n.id);
        out.push(compare(
            &n.name,
            if from_frr { "frr" } else { "kernel" },
            &twin,
            &real,
        ));
        // Each VRF's table on its own (`ip route show vrf red`, `show ip route vrf red`).
        for (k, v) in n.vrfs.iter().enumerate() {
            let real = if from_frr {
                frr::read_vrf(ns, &v.name, &lls)?
            } else {
                kernel::read_table(ns, &v.table.to_string())?
            };
            let inst = routing.instance(n.id, Some(k as u32));
            let twin = crate::compare::twin_routes_in(topo, routing, n.id, inst);
            out.push(compare(
                &nettwin_routing::vrf::instance_name(&n.name, &v.name),
                if from_frr { "frr" } else { "kernel" },
                &twin,
                &real,
            ));
        }
    }
    Ok(out)
}

/// Verifies `topo` (as loaded from its file) against the kernel or FRR.
pub fn verify(topo: &Topology, opts: &VerifyOptions) -> Result<VerifyReport, EmuError> {
    crate::require_root()?;
    // Without ping every pair would read as "no reply": a missing tool is an error, before
    // anything is built.
    let mut tools = vec![crate::sys::IP];
    if opts.ping_size.is_some() {
        tools.extend([crate::sys::PING, crate::sys::TRACEROUTE]);
    }
    if opts.run.is_none() {
        let t = crate::operational(topo)?;
        let routing = nettwin_routing::compute(&t)?;
        tools.extend(up::tools_needed(&t, &routing, opts.routes));
    } else if let Some(run) = &opts.run {
        if RunState::load(run)?.routes == RoutesMode::Frr {
            tools.push(crate::sys::VTYSH);
        }
    }
    crate::sys::require(&tools)?;
    let (running, built) = match &opts.run {
        Some(run) => {
            let state = RunState::load(run)?;
            let t = crate::operational(topo)?;
            let routing = nettwin_routing::compute(&t)?;
            (
                Running {
                    state,
                    topo: t,
                    routing,
                    converged_after: None,
                    notes: Vec::new(),
                },
                false,
            )
        }
        None => (
            up::up(
                topo,
                &UpOptions {
                    routes: opts.routes,
                    name: opts.name.clone(),
                    converge_timeout: opts.converge_timeout,
                    ephemeral: !opts.keep,
                },
            )?,
            true,
        ),
    };
    let mode = if built {
        opts.routes
    } else {
        running.state.routes
    };
    let result = check(&running, mode, opts);
    if built && !opts.keep {
        up::down(&running.state.run)?;
    }
    let (nodes, reach, paths) = result?;
    let untranslated = topo
        .nodes
        .iter()
        .filter(|n| mode == RoutesMode::Frr && frr::runs_frr(n))
        .flat_map(|n| {
            frr::untranslated(&running.routing, n.id)
                .into_iter()
                .map(|w| (n.name.clone(), w))
        })
        .collect();
    Ok(VerifyReport {
        run: running.state.run.clone(),
        routes: mode,
        kept: !built || opts.keep,
        converged_ms: running.converged_after.map(|d| d.as_millis() as u64),
        nodes,
        untranslated,
        notes: running.notes.clone(),
        reach,
        paths,
    })
}

/// Route comparisons, ping comparison, traceroute comparison.
type Checked = (Vec<NodeReport>, Option<ReachReport>, Option<PathReport>);

fn check(r: &Running, mode: RoutesMode, opts: &VerifyOptions) -> Result<Checked, EmuError> {
    let nodes = compare_tables(&r.topo, &r.routing, &r.state, mode)?;
    let reach = match opts.ping_size {
        Some(size) if mode != RoutesMode::None => {
            Some(compare_reach(&r.topo, &r.routing, &r.state, size)?)
        }
        _ => None,
    };
    let paths = if opts.ping_size.is_some() && mode != RoutesMode::None {
        Some(compare_paths(&r.topo, &r.routing, &r.state)?)
    } else {
        None
    };
    Ok((nodes, reach, paths))
}
