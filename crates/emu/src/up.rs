//! Bringing a topology up in namespaces, running commands in it, and taking it down again.

use crate::plan::{self, Plan};
use crate::state::{self, Created, RunState};
use crate::{frr, kernel, sys, EmuError, RoutesMode};
use nettwin_model::{NodeKind, Topology};
use nettwin_routing::Routing;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How to bring a topology up.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub routes: RoutesMode,
    /// The run name; a fresh one is made from the process id and the time when `None`.
    pub name: Option<String>,
    /// How long FRR may take to converge.
    pub converge_timeout: Duration,
    /// The run is removed when its process ends (`verify`): one whose process is gone is stale.
    pub ephemeral: bool,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            routes: RoutesMode::Static,
            name: None,
            converge_timeout: Duration::from_secs(120),
            ephemeral: false,
        }
    }
}

/// Every program `up` will run for `topo` in `mode`, FRR's daemons included.
pub fn tools_needed(topo: &Topology, routing: &Routing, mode: RoutesMode) -> Vec<sys::Tool> {
    let mut tools = vec![sys::IP, sys::BRIDGE, sys::SYSCTL, sys::KILL];
    if topo
        .links
        .iter()
        .any(|l| l.latency_us.is_some() || l.loss.is_some() || l.bandwidth.is_some())
    {
        tools.push(sys::TC);
    }
    if mode == RoutesMode::Frr {
        tools.extend([sys::VTYSH, sys::CHOWN]);
        let mut daemons: Vec<&'static str> = vec!["zebra"];
        for n in topo.nodes.iter().filter(|n| frr::runs_frr(n)) {
            for (d, _) in frr::configs(topo, routing, n.id) {
                if !daemons.contains(&d) {
                    daemons.push(d);
                }
            }
        }
        tools.extend(
            daemons
                .into_iter()
                .filter_map(frr::daemon_path)
                .map(|program| sys::Tool {
                    program,
                    package: "frr",
                }),
        );
    }
    tools
}

/// A running emulation.
#[derive(Debug)]
pub struct Running {
    pub state: RunState,
    /// The topology as built (operational interface state).
    pub topo: Topology,
    /// The twin's routing on it.
    pub routing: Routing,
    /// How long FRR took to converge (frr mode).
    pub converged_after: Option<Duration>,
    /// What could not be built as the model says (e.g. link latency on a kernel without
    /// netem), for the user to read.
    pub notes: Vec<String>,
}

fn valid_run_name(name: &str) -> bool {
    (1..=8).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// SplitMix64: mixes pid and time into a name without a `rand` dependency.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn base36(mut v: u64, len: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(DIGITS[(v % 36) as usize] as char);
        v /= 36;
    }
    s
}

fn name_taken(name: &str, existing_ns: &[String]) -> bool {
    let prefix = plan::ns_prefix(name);
    state::path_of(name).exists() || existing_ns.iter().any(|n| n.starts_with(&prefix))
}

/// Claims a run name by creating its state file exclusively, so two runs started at the same
/// moment cannot both get it.
fn claim(st: &RunState) -> Result<bool, EmuError> {
    let d = state::dir();
    std::fs::create_dir_all(&d).map_err(|e| EmuError::Io {
        path: d.display().to_string(),
        source: e,
    })?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(state::path_of(&st.run))
    {
        Ok(_) => st.save().map(|_| true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(EmuError::Io {
            path: state::path_of(&st.run).display().to_string(),
            source: e,
        }),
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_state(topo: &Topology, opts: &UpOptions) -> Result<RunState, EmuError> {
    let existing = sys::netns_list()?;
    let mut st = RunState {
        run: String::new(),
        file: topo.file.clone(),
        pid: std::process::id(),
        started_unix: now_unix(),
        routes: opts.routes,
        nodes: BTreeMap::new(),
        created: Vec::new(),
        complete: false,
        ephemeral: opts.ephemeral,
        pid_start: state::process_start(std::process::id()),
    };
    if let Some(name) = &opts.name {
        if !valid_run_name(name) {
            return Err(EmuError::BadRunName(name.clone()));
        }
        st.run = name.clone();
        if name_taken(name, &existing) || !claim(&st)? {
            return Err(EmuError::RunExists(name.clone()));
        }
    } else {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut seed = (u64::from(std::process::id()) << 32) ^ nanos;
        loop {
            seed = mix(seed);
            st.run = base36(seed, 5);
            if !name_taken(&st.run, &existing) && claim(&st)? {
                break;
            }
        }
    }
    for n in &topo.nodes {
        st.nodes
            .insert(n.name.clone(), plan::node_ns(&st.run, &n.name));
    }
    st.save()?;
    Ok(st)
}

/// Builds `topo` in namespaces and starts its control plane. On any failure everything made
/// so far is removed before the error is returned.
pub fn up(topo: &Topology, opts: &UpOptions) -> Result<Running, EmuError> {
    crate::require_root()?;
    let topo = crate::operational(topo)?;
    plan::check(&topo)?;
    let routing = nettwin_routing::compute(&topo)?;
    sys::require(&tools_needed(&topo, &routing, opts.routes))?;
    if topo.nodes.iter().any(|n| !n.vrfs.is_empty()) && !sys::kernel_has_vrf() {
        return Err(EmuError::Unsupported(format!(
            "{}: cannot emulate VRFs: this kernel makes no VRF devices (CONFIG_NET_VRF)",
            topo.file
        )));
    }
    let mut st = new_state(&topo, opts)?;
    let mut notes = Vec::new();
    match build(&topo, &routing, &mut st, opts, &mut notes) {
        Ok(converged_after) => {
            st.complete = true;
            st.save()?;
            Ok(Running {
                state: st,
                topo,
                routing,
                converged_after,
                notes,
            })
        }
        Err(e) => {
            teardown(&st);
            Err(e)
        }
    }
}

fn build(
    topo: &Topology,
    routing: &Routing,
    st: &mut RunState,
    opts: &UpOptions,
    notes: &mut Vec<String>,
) -> Result<Option<Duration>, EmuError> {
    let mut planned = plan::plan(topo, &st.run)?;
    for ns in &planned.namespaces {
        st.record(Created::Netns {
            name: ns.name.clone(),
        })?;
        sys::run("ip", &["netns", "add", &ns.name])?;
        sys::sysctls(&ns.name, &ns.sysctls)?;
        // The global ICMP budget (per namespace since Linux 6.11) would silence a host that
        // answers many traceroutes at once; the twin has no rate limits.
        sys::sysctls_if_present(
            &ns.name,
            &[
                ("net.ipv4.icmp_msgs_per_sec", "1000000"),
                ("net.ipv4.icmp_msgs_burst", "1000000"),
            ],
        )?;
    }
    // VLANs with 802.1Q where the kernel has it, else a veth per VLAN (`vlan.rs`); the
    // namespaces are the same either way.
    if crate::vlan::any(topo) {
        if let Some(first) = planned.namespaces.first() {
            if crate::vlan::kernel_build(&first.name)? == crate::vlan::VlanBuild::Wires {
                notes.push("VLANs are built as one veth pair per VLAN per trunk and one bridge per VLAN: this kernel has no 802.1Q VLAN devices or VLAN-filtering bridges, so frames carry no tags (reachability and paths are the same)".to_string());
                planned = plan::plan_with(topo, &st.run, crate::vlan::VlanBuild::Wires)?;
            }
        }
    }
    let Plan {
        namespaces,
        veths,
        shaping,
    } = planned;
    // Both ends are created straight inside their namespaces: nothing ever appears in the root
    // namespace, and a veth dies with its namespace, so the namespaces are all `down` needs.
    for (a, b) in &veths {
        let (ma, mb) = (a.mtu.to_string(), b.mtu.to_string());
        sys::run(
            "ip",
            &[
                "link", "add", "name", &a.ifname, "netns", &a.ns, "mtu", &ma, "type", "veth",
                "peer", "name", &b.ifname, "netns", &b.ns, "mtu", &mb,
            ],
        )?;
    }
    for ns in &namespaces {
        let mut lines: Vec<String> = ns
            .dummies
            .iter()
            .map(|(name, mtu)| format!("link add name {name} mtu {mtu} type dummy"))
            .collect();
        lines.extend(ns.batch.iter().cloned());
        sys::ip_batch(&ns.name, &lines)?;
        sys::bridge_batch(&ns.name, &ns.bridge)?;
    }
    shape(&shaping, notes)?;
    wait_carrier(&veths)?;
    for ns in &namespaces {
        sys::ip_batch(&ns.name, &ns.addrs)?;
    }
    // Labels: installed where the kernel switches them, else said plainly.
    let has_mpls = crate::mpls::kernel_has_mpls();
    if let Some(note) =
        crate::mpls::without_mpls_note(routing, has_mpls, opts.routes == RoutesMode::Frr)
    {
        notes.push(note);
    }
    match opts.routes {
        RoutesMode::None => Ok(None),
        RoutesMode::Static => {
            for n in topo.nodes.iter().filter(|n| n.kind.is_ip()) {
                kernel::install(topo, routing, n.id, st.netns(&n.name)?)?;
                if has_mpls {
                    crate::mpls::install(topo, routing, n.id, st.netns(&n.name)?)?;
                }
            }
            Ok(None)
        }
        RoutesMode::Frr => {
            // Hosts run no routing daemon: they get their default routes as kernel routes.
            for n in topo.nodes.iter().filter(|n| n.kind == NodeKind::Host) {
                kernel::install(topo, routing, n.id, st.netns(&n.name)?)?;
            }
            frr::start(topo, routing, st)?;
            let done = crate::converge::wait(topo, routing, st, opts.converge_timeout)?;
            if !done.never_up.is_empty() {
                notes.push(format!(
                    "FRR never brought up what the twin expects ({} s with nothing else changing): {}",
                    crate::converge::STUCK.as_secs(),
                    done.never_up.join("; ")
                ));
            }
            Ok(Some(done.after))
        }
    }
}

/// Installs link latency, loss and bandwidth: netem where the kernel has it; otherwise the rate
/// alone with a token bucket (`tbf`), and a note that latency and loss are not emulated.
fn shape(shaping: &[plan::Shaping], notes: &mut Vec<String>) -> Result<(), EmuError> {
    let mut netem = true;
    let mut lost: Vec<String> = Vec::new();
    for sh in shaping {
        let tc = |args: Vec<String>| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            sys::in_ns(&sh.ns, "tc", &args).map(|_| ())
        };
        if netem {
            match tc(sh.tc_args()) {
                Ok(()) => continue,
                Err(EmuError::Command { stderr, .. })
                    if stderr.contains("qdisc kind is unknown") =>
                {
                    netem = false;
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(args) = sh.tbf_args() {
            tc(args)?;
        }
        if sh.delay_us.is_some() || sh.loss.is_some() {
            lost.push(format!("{}/{}", sh.ns, sh.ifname));
        }
    }
    if !lost.is_empty() {
        notes.push(format!(
            "link latency and loss are not emulated on {} interface(s) ({}): this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM); bandwidth is, with tbf",
            lost.len(),
            lost.join(", ")
        ));
    }
    Ok(())
}

/// Waits until every veth end whose both ends are set up is operationally up (and forwarding,
/// when it is a bridge port). The kernel reports a
/// veth's carrier asynchronously (link-watch may delay it by up to a second); until then a
/// bridge port does not forward and the first packets are lost.
fn wait_carrier(veths: &[(plan::VethEnd, plan::VethEnd)]) -> Result<(), EmuError> {
    let mut expect: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in veths.iter().filter(|(a, b)| a.up && b.up) {
        for e in [a, b] {
            expect
                .entry(e.ns.as_str())
                .or_default()
                .push(e.ifname.as_str());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for (ns, names) in expect {
        loop {
            let json = sys::ip_ns(ns, &["-j", "link", "show"])?;
            let links: serde_json::Value =
                serde_json::from_str(&json).map_err(|e| EmuError::Parse {
                    command: format!("ip -n {ns} -j link show"),
                    message: e.to_string(),
                })?;
            let waiting: Vec<&str> = links
                .as_array()
                .into_iter()
                .flatten()
                .filter(|l| {
                    l.get("ifname")
                        .and_then(|n| n.as_str())
                        .is_some_and(|n| names.contains(&n))
                        && l.get("operstate").and_then(|o| o.as_str()) != Some("UP")
                })
                .filter_map(|l| l.get("ifname").and_then(|n| n.as_str()))
                .collect();
            // Bridge ports must also have been told (the same link-watch event) and forward.
            let ports = sys::run("bridge", &["-n", ns, "-j", "link", "show"])
                .ok()
                .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok());
            let blocked = ports.as_ref().and_then(|p| p.as_array()).is_some_and(|ps| {
                ps.iter().any(|p| {
                    p.get("ifname")
                        .and_then(|n| n.as_str())
                        .is_some_and(|n| names.contains(&n))
                        && p.get("state").and_then(|s| s.as_str()) != Some("forwarding")
                })
            });
            if waiting.is_empty() && !blocked {
                break;
            }
            if Instant::now() > deadline {
                return Err(EmuError::Timeout(format!(
                    "no carrier after 10 s on {} in namespace {ns}",
                    waiting.join(", ")
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// What `down` removed.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DownReport {
    pub run: String,
    pub namespaces: usize,
    pub processes: usize,
    pub dirs: usize,
    /// Entries of the state file that the run cannot have made, left alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

/// Stops the processes in a namespace: TERM, a short grace, then KILL.
fn stop_processes(ns: &str) -> usize {
    let pids = sys::netns_pids(ns);
    for p in &pids {
        sys::kill(*p, "TERM");
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !sys::netns_pids(ns).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in sys::netns_pids(ns) {
        sys::kill(p, "KILL");
    }
    pids.len()
}

/// Whether `c` is something run `st` can have made itself: a namespace with the run's prefix,
/// or a directory inside the run's own state directory or FRR's run directory for one of the
/// run's namespaces. A state file edited by hand (or by anyone else) can name anything; `down`
/// touches nothing else.
pub fn owned_by_run(st: &RunState, c: &Created) -> bool {
    use std::path::{Component, Path};
    let prefix = plan::ns_prefix(&st.run);
    match c {
        Created::Netns { name } => {
            name.len() > prefix.len()
                && name.starts_with(&prefix)
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        }
        Created::Dir { path } => {
            let p = Path::new(path);
            if !p.is_absolute()
                || p.components()
                    .any(|c| !matches!(c, Component::RootDir | Component::Normal(_)))
            {
                return false;
            }
            let own = state::dir().join(&st.run);
            let frr_ns = p.parent() == Some(Path::new(frr::FRR_RUN))
                && p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.len() > prefix.len() && f.starts_with(&prefix));
            p == own || p.starts_with(&own) || frr_ns
        }
    }
}

/// Removes everything a run recorded, newest first; what is already gone is skipped, and what
/// the run cannot have made is refused (see [`owned_by_run`]).
fn teardown(st: &RunState) -> DownReport {
    let mut rep = DownReport {
        run: st.run.clone(),
        ..DownReport::default()
    };
    let existing = sys::netns_list().unwrap_or_default();
    for c in st.created.iter().rev() {
        if !owned_by_run(st, c) {
            rep.refused.push(match c {
                Created::Netns { name } => format!("namespace {name}"),
                Created::Dir { path } => format!("directory {path}"),
            });
            continue;
        }
        match c {
            Created::Netns { name } => {
                if existing.contains(name) {
                    rep.processes += stop_processes(name);
                    if sys::run_cleanup("ip", &["netns", "del", name]).is_ok() {
                        rep.namespaces += 1;
                    }
                }
            }
            Created::Dir { path } => {
                if std::fs::remove_dir_all(path).is_ok() {
                    rep.dirs += 1;
                }
            }
        }
    }
    st.remove_file();
    // FRR's files outside the pathspaces are written as daemons exit: removed once every
    // namespace of the last run is gone.
    if state::runs().unwrap_or_default().is_empty() {
        state::remove_shared();
    }
    rep
}

/// Takes a run down.
pub fn down(run: &str) -> Result<DownReport, EmuError> {
    crate::require_root()?;
    let st = RunState::load(run)?;
    Ok(teardown(&st))
}

/// Runs nobody is looking after any more: `up` interrupted half-way (its process is gone and the
/// run is not complete), or a `verify` whose process is gone (its run was never meant to stay).
pub fn stale_runs() -> Result<Vec<RunState>, EmuError> {
    Ok(list()?
        .into_iter()
        .filter(|r| !r.builder_alive() && (!r.complete || r.ephemeral))
        .collect())
}

/// Takes every recorded run down.
pub fn down_all() -> Result<Vec<DownReport>, EmuError> {
    crate::require_root()?;
    let mut out = Vec::new();
    for r in state::runs()? {
        out.push(down(&r)?);
    }
    Ok(out)
}

/// Every recorded run.
pub fn list() -> Result<Vec<RunState>, EmuError> {
    crate::require_root()?;
    state::runs()?.iter().map(|r| RunState::load(r)).collect()
}

/// The run to use: the one named, or the only one there is.
pub fn pick_run(run: Option<&str>) -> Result<RunState, EmuError> {
    match run {
        Some(r) => RunState::load(r),
        None => {
            let runs = state::runs()?;
            match runs.as_slice() {
                [one] => RunState::load(one),
                [] => Err(EmuError::Ambiguous(
                    "no emulation is running (start one with `nettwin emu up FILE`)".into(),
                )),
                many => Err(EmuError::Ambiguous(format!(
                    "{} runs exist ({}); say which with --run",
                    many.len(),
                    many.join(", ")
                ))),
            }
        }
    }
}

/// Runs `command` inside `node`'s namespace with the caller's terminal; returns its exit status.
pub fn exec(run: Option<&str>, node: &str, command: &[String]) -> Result<i32, EmuError> {
    crate::require_root()?;
    let st = pick_run(run)?;
    let ns = st.netns(node)?;
    let Some((program, args)) = command.split_first() else {
        return Err(EmuError::Ambiguous("no command to run".into()));
    };
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .status()
        .map_err(|source| EmuError::Missing {
            program: "ip".into(),
            source,
        })?;
    Ok(status.code().unwrap_or(128 + 9))
}
