//! Emulation against the real kernel and FRR. These need root and `ip netns`: without root
//! every test prints why it is skipped. Each run is removed by a guard, also when a test fails.

use nettwin_emu::probe::ping;
use nettwin_emu::{RoutesMode, UpOptions, VerifyOptions};
use nettwin_model::Topology;
use std::path::PathBuf;
use std::time::Duration;

fn skip(test: &str) -> bool {
    if nettwin_emu::is_root() {
        return false;
    }
    eprintln!("SKIPPED {test}: needs root (network namespaces); run the tests as root to check the twin against the kernel");
    true
}

fn have_frr(test: &str) -> bool {
    if std::path::Path::new("/usr/lib/frr/zebra").exists() {
        return true;
    }
    eprintln!("SKIPPED {test}: FRR is not installed (scripts/emu-deps.sh installs it)");
    false
}

/// Takes a run down when dropped, so a failing assertion leaves nothing behind.
struct Guard(String);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = nettwin_emu::down(&self.0);
    }
}

/// A busy loop on every core while it lives: FRR must be judged converged from what it says,
/// not from how fast it usually is on a quiet machine.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn every_core() -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"));
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no examples in {}", dir.display());
    out
}

fn load(text: &str) -> Topology {
    // Emulated networks use the benchmarking range only.
    let text = nettwin_model::generate::with_benchmark_pools(text);
    nettwin_model::load_str("test.yml", &text).unwrap()
}

fn netns_with_prefix(prefix: &str) -> Vec<String> {
    nettwin_emu::sys::netns_list()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

const PAIR: &str = "
nodes:
  r1: {loopback: 198.18.0.1/32}
  r2: {loopback: 198.18.0.2/32}
links:
  - {r1: {ipv4: 198.18.1.0/31, ipv6: '2001:db8:1::1/64'}, r2: {ipv4: 198.18.1.1/31, ipv6: '2001:db8:1::2/64'}}
";

#[test]
fn up_exec_down_on_two_namespaces() {
    if skip("up_exec_down_on_two_namespaces") {
        return;
    }
    let topo = load(PAIR);
    let run = nettwin_emu::up(
        &topo,
        &UpOptions {
            routes: RoutesMode::Static,
            name: Some("tpair".into()),
            ..UpOptions::default()
        },
    )
    .unwrap();
    let _g = Guard(run.state.run.clone());
    let ns = netns_with_prefix("nt-tpair-");
    assert_eq!(ns.len(), 2, "{ns:?}");
    let r1 = run.state.netns("r1").unwrap();
    for dst in ["198.18.1.1", "2001:db8:1::2"] {
        let p = ping(r1, None, dst.parse().unwrap(), 84).unwrap();
        assert!(p.reached, "r1 cannot ping {dst}: {p:?}");
    }
    // Forwarding is on for routers, DAD off, the address on lo.
    let fwd = nettwin_emu::sys::in_ns(r1, "sysctl", &["-n", "net.ipv4.ip_forward"]).unwrap();
    assert_eq!(fwd.trim(), "1");
    let lo = nettwin_emu::sys::ip_ns(r1, &["-br", "addr", "show", "dev", "lo"]).unwrap();
    assert!(lo.contains("198.18.0.1/32"), "{lo}");
    // A name in use is refused.
    let again = nettwin_emu::up(
        &topo,
        &UpOptions {
            name: Some("tpair".into()),
            ..UpOptions::default()
        },
    );
    assert!(matches!(again, Err(nettwin_emu::EmuError::RunExists(_))));
    let rep = nettwin_emu::down("tpair").unwrap();
    assert_eq!(rep.namespaces, 2);
    assert!(netns_with_prefix("nt-tpair-").is_empty());
    assert!(!nettwin_emu::state::path_of("tpair").exists());
}

#[test]
fn addresses_outside_the_test_ranges_are_refused_before_anything_is_made() {
    if skip("addresses_outside_the_test_ranges_are_refused_before_anything_is_made") {
        return;
    }
    let topo = load("nodes:\n  a: {}\n  b: {}\nlinks:\n  - {a: {ipv4: 192.0.2.1/30}, b: {ipv4: 192.0.2.2/30}}\n");
    let e = nettwin_emu::up(
        &topo,
        &UpOptions {
            name: Some("tbad".into()),
            ..UpOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("node `a` interface eth1 address 192.0.2.1/30"),
        "{e}"
    );
    assert!(netns_with_prefix("nt-tbad-").is_empty());
    assert!(!nettwin_emu::state::path_of("tbad").exists());
}

fn verify_all(mode: RoutesMode, tag: &str) -> Vec<(String, nettwin_emu::VerifyReport)> {
    let mut out = Vec::new();
    let vrf_kernel = nettwin_emu::sys::kernel_has_vrf();
    for (i, f) in examples().iter().enumerate() {
        let topo = nettwin_model::load_file(f).unwrap();
        if !vrf_kernel && topo.nodes.iter().any(|n| !n.vrfs.is_empty()) {
            eprintln!(
                "SKIPPED {}: this kernel makes no VRF devices (CONFIG_NET_VRF)",
                f.display()
            );
            continue;
        }
        let name = format!("{tag}{i}");
        let _g = Guard(name.clone());
        let rep = nettwin_emu::verify(
            &topo,
            &VerifyOptions {
                routes: mode,
                name: Some(name),
                converge_timeout: Duration::from_secs(120),
                ..VerifyOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let reach = rep.reach.as_ref().unwrap();
        eprintln!(
            "{} ({}): {} nodes, {} routes agree, {} differ; {} pings agree, {} differ",
            f.display(),
            mode.name(),
            rep.nodes.len(),
            rep.nodes.iter().map(|n| n.agree).sum::<usize>(),
            rep.route_diffs(),
            reach.agree,
            reach.diffs.len()
        );
        assert!(reach.pairs > 0);
        // Traceroutes run between hosts; a lab of routers only (mpls-te) has no pair to trace.
        let hosts = topo
            .nodes
            .iter()
            .filter(|n| n.kind == nettwin_model::NodeKind::Host)
            .count();
        if hosts >= 2 {
            assert!(rep.paths.as_ref().unwrap().pairs > 0, "{}", f.display());
        }
        out.push((f.display().to_string(), rep));
    }
    out
}

#[test]
fn static_mode_kernel_agrees_with_the_twin_on_every_example() {
    if skip("static_mode_kernel_agrees_with_the_twin_on_every_example") {
        return;
    }
    for (file, rep) in verify_all(RoutesMode::Static, "ts") {
        assert_eq!(
            rep.differences(),
            0,
            "{file}: {}",
            serde_json::to_string_pretty(&rep).unwrap()
        );
    }
}

/// Zero differences of any kind, with every core busy (convergence is judged from FRR's own
/// state, so a slow machine must not produce false differences).
#[test]
fn frr_mode_agrees_with_the_twin_on_every_example() {
    if skip("frr_mode_agrees_with_the_twin_on_every_example")
        || !have_frr("frr_mode_agrees_with_the_twin_on_every_example")
    {
        return;
    }
    let _load = Load::every_core();
    for (file, rep) in verify_all(RoutesMode::Frr, "tf") {
        assert!(
            rep.notes.iter().all(|n| !n.contains("never")),
            "{file}: {:?}",
            rep.notes
        );
        let routes: Vec<String> = rep
            .nodes
            .iter()
            .flat_map(|n| n.diffs.iter().map(move |d| (n, d)))
            .map(|(n, d)| format!("{} {} twin={:?} frr={:?}", n.node, d.prefix, d.twin, d.real))
            .collect();
        assert!(routes.is_empty(), "{file}: {routes:#?}");
        let reach = rep.reach.as_ref().unwrap();
        assert!(reach.diffs.is_empty(), "{file}: {:#?}", reach.diffs);
        let paths = rep.paths.as_ref().unwrap();
        assert!(paths.diffs.is_empty(), "{file}: {:#?}", paths.diffs);
    }
}

/// Four OSPF routers in a square with a stub host: FRR used to be declared converged while
/// OSPF's LSA throttle held the second router-LSA back (32 false differences every time).
const SQUARE: &str = "
module: [ospf]
nodes:
  r1: {}
  r2: {}
  r3: {}
  r4: {}
  h1: {kind: host}
links:
  - [r1, r2]
  - [r2, r3]
  - [r3, r4]
  - [r4, r1]
  - [r3, h1]
";

#[test]
fn frr_square_verifies_three_times_in_a_row_under_load() {
    if skip("frr_square_verifies_three_times_in_a_row_under_load")
        || !have_frr("frr_square_verifies_three_times_in_a_row_under_load")
    {
        return;
    }
    let topo = load(SQUARE);
    let _load = Load::every_core();
    for i in 0..3 {
        let name = format!("tsq{i}");
        let _g = Guard(name.clone());
        let rep = nettwin_emu::verify(
            &topo,
            &VerifyOptions {
                routes: RoutesMode::Frr,
                name: Some(name),
                ..VerifyOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("run {i}: {e}"));
        assert_eq!(
            rep.differences(),
            0,
            "run {i}: {}",
            serde_json::to_string_pretty(&rep).unwrap()
        );
        assert_eq!(
            rep.nodes.iter().map(|n| n.agree).sum::<usize>(),
            34,
            "run {i}"
        );
    }
}

const MTU: &str = "
module: [ospf]
addressing:
  loopback: {ipv4: 198.18.0.0/24, ipv6: '2001:db8::/48'}
  p2p: {ipv4: 198.19.0.0/24, ipv6: '2001:db8:1::/48'}
  lan: {ipv4: 198.18.128.0/20, ipv6: '2001:db8:2::/48'}
nodes:
  r1: {}
  r2: {}
  sw: {kind: switch}
  h1: {kind: host}
  h2: {kind: host}
  h3: {kind: host}
  h4: {kind: host}
links:
  - {r1: {}, r2: {}, mtu: 1400}
  - [h1, r1]
  - [r2, h2]
  - [r2, sw]
  - {sw: {}, h3: {}, mtu: 1400}
  - {r1: {}, h4: {mtu: 1400}}
";

fn addr_of(topo: &Topology, node: &str, v6: bool) -> std::net::IpAddr {
    let n = topo.node_by_name(node).unwrap();
    let a = if v6 {
        n.interfaces[0].ipv6
    } else {
        n.interfaces[0].ipv4
    };
    a.unwrap().addr
}

/// The twin's verdict for one probe of `size` bytes with DF.
fn twin_disposition(topo: &Topology, from: &str, dst: std::net::IpAddr, size: u32) -> String {
    let t = nettwin_emu::operational(topo).unwrap();
    let routing = nettwin_routing::compute(&t).unwrap();
    let net = nettwin_dataplane::Net::new(&t, &routing);
    let r = nettwin_dataplane::reach(
        &net,
        nettwin_dataplane::ReachOptions {
            size,
            ..Default::default()
        },
    );
    let s = r
        .sources
        .iter()
        .position(|n| t.node(*n).name == from)
        .unwrap();
    let d = r.dests.iter().position(|d| d.addr == dst).unwrap();
    r.cell(s, d).disposition.name().to_string()
}

#[test]
fn mtu_cases_match_the_kernel() {
    if skip("mtu_cases_match_the_kernel") {
        return;
    }
    let topo = load(MTU);
    let run = nettwin_emu::up(
        &topo,
        &UpOptions {
            routes: RoutesMode::Static,
            name: Some("tmtu".into()),
            ..UpOptions::default()
        },
    )
    .unwrap();
    let _g = Guard(run.state.run.clone());
    let ns = |n: &str| run.state.netns(n).unwrap().to_string();

    // 1. A router whose next hop has a smaller MTU: ICMP "fragmentation needed" (IPv4) and
    //    "packet too big" (IPv6) come back with the MTU.
    for (v6, needle) in [(false, "Frag needed"), (true, "Packet too big")] {
        let dst = addr_of(&topo, "h2", v6);
        assert_eq!(twin_disposition(&topo, "h1", dst, 1500), "dropped-by-mtu");
        let p = ping(&ns("h1"), None, dst, 1500).unwrap();
        assert!(
            !p.reached && p.error.contains(needle) && p.error.contains("1400"),
            "{p:?}"
        );
        assert_eq!(twin_disposition(&topo, "h1", dst, 1400), "delivered");
        assert!(ping(&ns("h1"), None, dst, 1400).unwrap().reached);
    }
    // 2. A Linux bridge with one smaller port: the frame is dropped at the port, silently.
    let h3 = addr_of(&topo, "h3", false);
    assert_eq!(twin_disposition(&topo, "h2", h3, 1500), "dropped-by-mtu");
    let p = ping(&ns("h2"), None, h3, 1500).unwrap();
    assert!(!p.reached && p.error.is_empty(), "{p:?}");
    assert!(ping(&ns("h2"), None, h3, 1400).unwrap().reached);
    // 3. A veth whose peer has a smaller MTU: r1 sends 1500, h4 drops it on receive, silently.
    let h4 = addr_of(&topo, "h4", false);
    let r1 = topo.node_by_name("r1").unwrap().loopback.ipv4.unwrap().addr;
    assert_eq!(twin_disposition(&topo, "r1", h4, 1500), "dropped-by-mtu");
    let p = ping(&ns("r1"), Some(r1), h4, 1500).unwrap();
    assert!(!p.reached && p.error.is_empty(), "{p:?}");
    assert!(ping(&ns("r1"), Some(r1), h4, 1400).unwrap().reached);

    // And every pair, at both sizes, agrees with the twin.
    for size in [1400, 1500] {
        let rep =
            nettwin_emu::probe::compare_reach(&run.topo, &run.routing, &run.state, size).unwrap();
        assert!(rep.pairs > 0);
        assert!(rep.diffs.is_empty(), "size {size}: {:#?}", rep.diffs);
    }
}

#[test]
fn a_shared_link_without_a_switch_is_a_hidden_bridge() {
    if skip("a_shared_link_without_a_switch_is_a_hidden_bridge") {
        return;
    }
    let topo = load("nodes:\n  r1: {}\n  r2: {}\n  r3: {}\nlinks:\n  - [r1, r2, r3]\n");
    let run = nettwin_emu::up(
        &topo,
        &UpOptions {
            name: Some("tlan".into()),
            ..UpOptions::default()
        },
    )
    .unwrap();
    let _g = Guard(run.state.run.clone());
    let mut ns = netns_with_prefix("nt-tlan-");
    ns.sort();
    assert_eq!(
        ns,
        ["nt-tlan-_lan0", "nt-tlan-r1", "nt-tlan-r2", "nt-tlan-r3"]
    );
    let ports = nettwin_emu::sys::ip_ns("nt-tlan-_lan0", &["-br", "link", "show", "master", "br0"])
        .unwrap();
    assert_eq!(ports.lines().count(), 3, "{ports}");
    for dst in ["r2", "r3"] {
        let a = addr_of(&topo, dst, false);
        let p = ping(run.state.netns("r1").unwrap(), None, a, 1500).unwrap();
        assert!(p.reached, "r1 -> {dst} {a}: {p:?}");
    }
    assert_eq!(nettwin_emu::down("tlan").unwrap().namespaces, 4);
    assert!(netns_with_prefix("nt-tlan-").is_empty());
}

/// r1 =(30 ms one way, 1 Gbit/s)= r2 =(100% loss)= r3.
const SHAPED: &str = "
nodes:
  r1: {loopback: 198.18.0.1/32}
  r2: {loopback: 198.18.0.2/32}
  r3: {loopback: 198.18.0.3/32}
links:
  - {r1: {ipv4: 198.18.1.0/31}, r2: {ipv4: 198.18.1.1/31}, latency: 30ms, bandwidth: 1G}
  - {r2: {ipv4: 198.18.1.2/31}, r3: {ipv4: 198.18.1.3/31}, loss: 100%}
";

#[test]
fn link_latency_loss_and_bandwidth_are_emulated_by_the_kernel() {
    if skip("link_latency_loss_and_bandwidth_are_emulated_by_the_kernel") {
        return;
    }
    let topo = load(SHAPED);
    let run = nettwin_emu::up(
        &topo,
        &UpOptions {
            routes: RoutesMode::Static,
            name: Some("tshape".into()),
            ..UpOptions::default()
        },
    )
    .unwrap();
    let _g = Guard(run.state.run.clone());
    let r1 = run.state.netns("r1").unwrap();
    let r2 = run.state.netns("r2").unwrap();
    let qdisc = nettwin_emu::sys::in_ns(r1, "tc", &["qdisc", "show", "dev", "eth1"]).unwrap();
    if run.notes.is_empty() {
        // The kernel has netem: the model's numbers are on the wire.
        assert!(
            qdisc.contains("netem") && qdisc.contains("delay 30ms") && qdisc.contains("rate 1Gbit"),
            "{qdisc}"
        );
        // 30 ms each way: the round trip takes at least 60 ms, and not much more.
        let args = ["-n", "-c", "3", "-i", "0.2", "198.18.1.1"];
        let out = nettwin_emu::sys::in_ns(r1, "ping", &args).unwrap();
        let rtts: Vec<f64> = out
            .split("time=")
            .skip(1)
            .filter_map(|t| t.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(rtts.len(), 3, "{out}");
        assert!(rtts.iter().all(|t| (59.5..120.0).contains(t)), "{rtts:?}");
        // Every packet on r2-r3 is lost, in both directions.
        let p = ping(r2, None, "198.18.1.3".parse().unwrap(), 84).unwrap();
        assert!(!p.reached, "{p:?}");
    } else {
        // Without netem the rate is still applied (tbf), and the run says what is missing,
        // naming every shaped interface that carries latency or loss.
        assert!(
            qdisc.contains("tbf") && qdisc.contains("rate 1Gbit"),
            "{qdisc}"
        );
        assert_eq!(run.notes.len(), 1, "{:?}", run.notes);
        let note = &run.notes[0];
        assert!(
            note.contains("no netem") && note.contains("4 interface(s)"),
            "{note}"
        );
        for end in ["r1/eth1", "r2/eth1", "r2/eth2", "r3/eth1"] {
            assert!(note.contains(&format!("nt-tshape-{end}")), "{note}");
        }
        // r2-r3 has no bandwidth: nothing was installed there.
        let none = nettwin_emu::sys::in_ns(r2, "tc", &["qdisc", "show", "dev", "eth2"]).unwrap();
        assert!(!none.contains("tbf"), "{none}");
        eprintln!("NOTE link_latency_loss_and_bandwidth_are_emulated_by_the_kernel: this kernel has no netem; checked the tbf fallback and the note");
    }
}

/// Loopbacks written with a mask (netlab writes IPv6 loopbacks as /64s): ospfd advertises the
/// IPv4 one as a /32 host route, ospf6d the IPv6 one as written, BGP both as written, and an
/// iBGP next hop inside such a prefix resolves through the IGP. The twin must agree with FRR.
const MASKED_LOOPBACKS: &str = "
module: [ospf, bgp]
addressing:
  loopback: {ipv4: 198.18.0.0/24, ipv6: '2001:db8::/48'}
  p2p: {ipv4: 198.19.0.0/16, prefix: 31, allocation: sequential, ipv6: '2001:db8:1::/48'}
nodes:
  r1: {asn: 65000}
  r2: {asn: 65000, loopback: {ipv4: 198.18.42.1/24, ipv6: '2001:db8:42::1/64'}}
  x1: {asn: 65001}
links: [r1-r2, r2-x1]
";

#[test]
fn frr_agrees_on_loopbacks_written_with_a_mask() {
    if skip("frr_agrees_on_loopbacks_written_with_a_mask")
        || !have_frr("frr_agrees_on_loopbacks_written_with_a_mask")
    {
        return;
    }
    let topo = load(MASKED_LOOPBACKS);
    let _g = Guard("tmask".into());
    let rep = nettwin_emu::verify(
        &topo,
        &VerifyOptions {
            routes: RoutesMode::Frr,
            name: Some("tmask".into()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        rep.differences(),
        0,
        "{}",
        serde_json::to_string_pretty(&rep).unwrap()
    );
    assert!(rep.reach.as_ref().unwrap().agree >= 12);
}

/// A square with one unnumbered link (netlab's `unnumbered: true`): the interfaces borrow their
/// loopback's address, as netlab's FRR template configures them.
const UNNUMBERED: &str = "module: [ospf]
addressing:
  loopback: {ipv4: 198.18.0.0/24}
  p2p: {ipv4: 198.19.0.0/24, prefix: 31, allocation: sequential}
nodes: [r1, r2, r3, r4]
links:
- {r1: {}, r2: {}, unnumbered: true}
- r1-r3
- r2-r4
- r3-r4
";

#[test]
fn frr_agrees_on_unnumbered_links() {
    // ospfd forms the adjacency over the unnumbered link and routes via the neighbour's
    // loopback on-link, as the twin does (r1 -> r2's loopback over eth1, cost 10).
    if skip("frr_agrees_on_unnumbered_links") || !have_frr("frr_agrees_on_unnumbered_links") {
        return;
    }
    let topo = load(UNNUMBERED);
    let _g = Guard("tunnum".into());
    let rep = nettwin_emu::verify(
        &topo,
        &VerifyOptions {
            routes: RoutesMode::Frr,
            name: Some("tunnum".into()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        rep.differences(),
        0,
        "{}",
        serde_json::to_string_pretty(&rep).unwrap()
    );
    assert_eq!(rep.reach.as_ref().unwrap().agree, 12);
}

/// Dual stack with an IPv4-only link on the shortest r1-r2 path: OSPFv2 uses it, OSPFv3 (run
/// only where an interface has IPv6, as netlab configures FRR) routes around it.
const MIXED_FAMILIES: &str = "module: [ospf]
addressing:
  loopback: {ipv4: 198.18.0.0/24, ipv6: '2001:db8::/48'}
  p2p: {ipv4: 198.19.0.0/24, prefix: 31, allocation: sequential, ipv6: '2001:db8:1::/48'}
  v4only: {ipv4: 198.19.1.0/24, prefix: 31, allocation: sequential}
nodes: [r1, r2, r3, r4]
links:
- {r1: {}, r2: {}, pool: v4only}
- r1-r3
- r2-r4
- r3-r4
";

#[test]
fn frr_agrees_when_a_link_carries_one_family() {
    if skip("frr_agrees_when_a_link_carries_one_family")
        || !have_frr("frr_agrees_when_a_link_carries_one_family")
    {
        return;
    }
    let topo = load(MIXED_FAMILIES);
    let _g = Guard("tmixed".into());
    let rep = nettwin_emu::verify(
        &topo,
        &VerifyOptions {
            routes: RoutesMode::Frr,
            name: Some("tmixed".into()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        rep.differences(),
        0,
        "{}",
        serde_json::to_string_pretty(&rep).unwrap()
    );
    assert_eq!(rep.reach.as_ref().unwrap().agree, 24);
}

/// A lab with LDP and SR: where the kernel has no MPLS (this machine) `up` says so and the
/// comparison covers the IP part only, which agrees; where it has MPLS, the twin's label routes
/// are installed and the same comparison holds.
#[test]
fn labels_are_named_when_the_kernel_has_no_mpls_and_ip_still_agrees() {
    if skip("labels_are_named_when_the_kernel_has_no_mpls_and_ip_still_agrees") {
        return;
    }
    let topo = load(
        "module: [isis, mpls, sr]\ndefaults.platform: cisco-xr\nnodes: [pe1, p1, pe2]\nlinks: [pe1-p1, p1-pe2]\n",
    );
    let _g = Guard("tmpls".into());
    let rep = nettwin_emu::verify(
        &topo,
        &VerifyOptions {
            routes: RoutesMode::Static,
            name: Some("tmpls".into()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    let named = rep
        .notes
        .iter()
        .any(|n| n.starts_with("this kernel has no MPLS"));
    assert_eq!(
        named,
        !nettwin_emu::mpls::kernel_has_mpls(),
        "{:?}",
        rep.notes
    );
    assert_eq!(
        rep.differences(),
        0,
        "{}",
        serde_json::to_string_pretty(&rep).unwrap()
    );
}

/// Hosts in two VLANs on two VLAN-aware bridges joined by a trunk, a router with SVIs on a
/// second trunk routing between them, and a third VLAN the first trunk does not carry.
const VLAN_LAB: &str = "
defaults.device: frr
addressing:
  loopback: {ipv4: 198.18.0.0/24}
  lan: {ipv4: 198.19.0.0/16}
  p2p: {ipv4: 198.18.128.0/17}
vlans:
  red: {}
  blue: {id: 20}
  iso: {id: 30}
nodes:
  s1: {module: [vlan], vlan.mode: bridge}
  s2: {module: [vlan], vlan.mode: bridge}
  r1: {module: [vlan]}
  h1: {device: linux}
  h2: {device: linux}
  h3: {device: linux}
  h4: {device: linux}
  h5: {device: linux}
  h6: {device: linux}
links:
- {s1: {}, s2: {}, vlan.trunk: [red, blue]}
- {h1: {}, s1: {vlan.access: red}}
- {h2: {}, s1: {vlan.access: blue}}
- {h3: {}, s2: {vlan.access: red}}
- {h4: {}, s2: {vlan.access: blue}}
- {r1: {}, s2: {}, vlan.trunk: [red, blue]}
- {h5: {}, s1: {vlan.access: iso}}
- {h6: {}, s2: {vlan.access: iso}}
";

#[test]
fn vlans_in_namespaces_agree_with_the_twin() {
    if skip("vlans_in_namespaces_agree_with_the_twin") {
        return;
    }
    let topo = nettwin_model::load_str("vlan-lab.yml", VLAN_LAB).unwrap();
    let run = nettwin_emu::up(
        &topo,
        &UpOptions {
            routes: RoutesMode::Static,
            name: Some("tvlan".into()),
            ..UpOptions::default()
        },
    )
    .unwrap();
    let _g = Guard(run.state.run.clone());
    eprintln!("vlan lab notes: {:?}", run.notes);
    let ns = |n: &str| run.state.netns(n).unwrap().to_string();
    let cases = [
        // Same VLAN across the trunk, no router.
        ("h1", "h3", "delivered"),
        // Between VLANs through r1's SVIs.
        ("h1", "h4", "delivered"),
        ("h2", "h3", "delivered"),
        // iso is on both switches, but the trunk does not carry it and no router is in it.
        ("h5", "h6", "unreachable-neighbour"),
    ];
    for (from, to, want) in cases {
        let dst = addr_of(&topo, to, false);
        assert_eq!(
            twin_disposition(&topo, from, dst, 1500),
            want,
            "twin {from} -> {to}"
        );
        let p = ping(&ns(from), None, dst, 1500).unwrap();
        assert_eq!(
            p.reached,
            want == "delivered",
            "kernel {from} -> {to}: {p:?}"
        );
    }
    // The kernel's router: its SVIs are where the twin puts them.
    let svis = nettwin_emu::sys::ip_ns(&ns("r1"), &["-br", "-4", "addr", "show"]).unwrap();
    assert!(
        svis.contains("198.19.0.3/24") && svis.contains("198.19.1.3/24"),
        "{svis}"
    );
    // Every pair and every path, as the twin says.
    let rep = nettwin_emu::probe::compare_reach(&run.topo, &run.routing, &run.state, 1500).unwrap();
    assert!(rep.pairs > 0);
    assert!(rep.diffs.is_empty(), "{:#?}", rep.diffs);
    let paths = nettwin_emu::probe::compare_paths(&run.topo, &run.routing, &run.state).unwrap();
    assert!(paths.diffs.is_empty(), "{:#?}", paths.diffs);
}

/// The 802.1Q tag and the MTU in the kernel: a 1500-byte DF packet crosses 1500-byte veths as
/// a tagged frame (trunks, a VLAN-aware bridge, a routed subinterface) and 1501 bytes do not,
/// as the twin says (docs/mtu.md). Needs 802.1Q and VLAN filtering in the kernel.
#[test]
fn the_vlan_tag_does_not_count_against_the_mtu_in_the_kernel() {
    if skip("the_vlan_tag_does_not_count_against_the_mtu_in_the_kernel") {
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/vlan.yml");
    let topo = nettwin_model::load_file(std::path::Path::new(path)).unwrap();
    let run = nettwin_emu::up(
        &topo,
        &UpOptions {
            routes: RoutesMode::Static,
            name: Some("tvmtu".into()),
            ..UpOptions::default()
        },
    )
    .unwrap();
    let _g = Guard(run.state.run.clone());
    if run.notes.iter().any(|n| n.contains("no 802.1Q")) {
        eprintln!("SKIPPED the_vlan_tag_does_not_count_against_the_mtu_in_the_kernel: this kernel has no 802.1Q VLAN devices or VLAN-filtering bridges (CONFIG_VLAN_8021Q, CONFIG_BRIDGE_VLAN_FILTERING), so no frame is tagged");
        return;
    }
    let ns = |n: &str| run.state.netns(n).unwrap().to_string();
    // h1 -> h3: access, trunk tagged 1000, access. h1 -> h5: via r1's SVI and eth2.1001.
    for to in ["h3", "h5"] {
        let dst = addr_of(&topo, to, false);
        assert_eq!(twin_disposition(&topo, "h1", dst, 1500), "delivered");
        let p = ping(&ns("h1"), None, dst, 1500).unwrap();
        assert!(p.reached, "h1 -> {to} at 1500 bytes, tagged: {p:?}");
        assert_eq!(twin_disposition(&topo, "h1", dst, 1501), "dropped-by-mtu");
        assert!(!ping(&ns("h1"), None, dst, 1501).unwrap().reached);
    }
}

/// VRF-lite with FRR: two routers, VRFs red and blue reusing 198.18.10.0/30, OSPF in red, eBGP
/// in blue, and on r1 red's loopback leaked into blue (`rt vpn import`). Under netlab's rules
/// OSPF does not run on a link between two ASes and iBGP does not run in a VRF, so blue's eBGP
/// peer is a third router. FRR's table of every VRF must equal the twin's.
const VRF_LITE: &str = "
module: [vrf, ospf, bgp]
vrfs:
  red: {bgp: false}
  blue: {ospf: false}
nodes:
  r1:
    bgp.as: 65001
    vrfs:
      red: {loopback: 198.18.100.1}
      blue: {import: [blue, red]}
  r2:
    bgp.as: 65001
    vrfs:
      red: {loopback: 198.18.100.2}
  r3: {bgp.as: 65003}
links:
- {r1: , r2: , vrf: red, prefix: 198.18.10.0/30}
- {r1: , r3: , vrf: blue, prefix: 198.18.10.0/30}
- {r1: , vrf: blue, prefix: 198.18.20.0/24}
- r1-r2
";

#[test]
fn frr_vrf_tables_equal_the_twins_per_vrf() {
    if skip("frr_vrf_tables_equal_the_twins_per_vrf")
        || !have_frr("frr_vrf_tables_equal_the_twins_per_vrf")
    {
        return;
    }
    if !nettwin_emu::sys::kernel_has_vrf() {
        eprintln!("SKIPPED frr_vrf_tables_equal_the_twins_per_vrf: this kernel makes no VRF devices (CONFIG_NET_VRF)");
        return;
    }
    let topo = load(VRF_LITE);
    let _g = Guard("tvrf".into());
    let rep = nettwin_emu::verify(
        &topo,
        &VerifyOptions {
            routes: RoutesMode::Frr,
            name: Some("tvrf".into()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = rep.nodes.iter().map(|n| n.node.as_str()).collect();
    for n in ["r1 vrf red", "r1 vrf blue", "r2 vrf red", "r3 vrf blue"] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert_eq!(
        rep.route_diffs(),
        0,
        "{}",
        serde_json::to_string_pretty(&rep).unwrap()
    );
    // r3 learned the prefix r1 leaked from red into blue.
    let r3 = rep.nodes.iter().find(|n| n.node == "r3 vrf blue").unwrap();
    assert!(r3.agree >= 3, "{r3:?}");
}
