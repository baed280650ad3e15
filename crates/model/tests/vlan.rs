//! netlab's vlan module: VLAN segments, bridge ports, SVIs, routed subinterfaces and VLAN
//! addressing. The fixed expected addresses are what `netlab create` (networklab 26.10) wrote for
//! the same labs; `netlab_agrees_on_every_address` runs `netlab create` itself when networklab
//! can be installed in a venv and compares every address.

use nettwin_model::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/vlan.yml");
    std::fs::read_to_string(path).unwrap()
}

/// Node-only VLANs (two different `blue`s), a plain interface of a VLAN-aware node joining the
/// VLAN of its link, a VLAN's `links`, a node's host number in a VLAN, a node id.
const NODE_VLANS: &str = "defaults.device: frr
groups:
  switches: {members: [s1, s2, s3], module: [vlan]}
vlans:
  red:
    links: [h1-s1, s1-s3]
nodes:
  s1:
    vlans:
      blue: {}
  s2:
    vlans:
      blue: {id: 30}
  s3:
    vlans:
      red: {ipv4: 42}
  h1: {device: linux}
  h2: {device: linux}
  h3: {device: linux, id: 17}
links:
- s1:
  s2:
    vlan.access: blue
- s2:
    vlan.access: blue
  h2:
- s1:
    vlan.access: blue
  h3:
";

/// A trunk whose native VLAN is routed by both VLAN-aware nodes (an ordinary routed LAN with a
/// host that is not VLAN-aware), IPv6 from the lan pool.
const NATIVE_ROUTED: &str = "defaults.device: frr
module: [vlan]
addressing:
  lan: {ipv4: 198.18.64.0/18, ipv6: 2001:db8:64::/48}
vlans:
  red: {}
  blue: {}
  mgmt: {mode: route}
nodes:
  r1:
  r2:
  h1: {device: linux, module: []}
links:
- r1:
  r2:
  h1:
  vlan.trunk: [red, blue, mgmt]
  vlan.native: mgmt
";

/// A router on a stick routing VLANs an irb switch bridges (subinterfaces in the VLANs), a
/// routed VLAN member link from a pool that an irb VLAN's subnet took first.
const STICK: &str = "defaults.device: frr
vlans:
  red: {}
  blue: {}
  transit: {pool: p2p}
nodes:
  sw: {module: [vlan]}
  ros: {module: [vlan], vlan.mode: route}
  r2: {module: [vlan]}
  h1: {device: linux}
  h2: {device: linux}
links:
- h1:
  sw:
    vlan.access: red
- h2:
  sw:
    vlan.access: blue
- ros:
  sw:
  vlan.trunk: [red, blue]
- ros:
  r2:
    vlan.trunk:
      transit: {vlan.mode: route}
  vlan.trunk: [transit]
- sw-r2
";

/// The module's defaults: VLAN ids from `start_vlan_id`, and `defaults.vlan.mode: route`,
/// which netlab applies to which VLANs get a subnet but not to interfaces: blue is bridged with
/// SVIs, its one trunk addressed like a routed VLAN link.
const DEFAULTS: &str = "defaults.device: frr
defaults.vlan.start_vlan_id: 200
defaults.vlan.mode: route
defaults.vlan.warnings.trunk_attribute: false
vlans:
  red: {mode: irb}
  blue: {}
nodes:
  s1: {module: [vlan]}
  s2: {module: [vlan]}
  h1: {device: linux}
links:
- {h1: {}, s1: {vlan.access: red}}
- {s1: {}, s2: {}, vlan.trunk: [red, blue]}
";

fn load(name: &str, text: &str) -> Topology {
    load_str(name, text).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    match load_str("t.yml", text) {
        Ok(_) => panic!("expected errors"),
        Err(LoadError::Invalid(d)) => d.iter().map(|x| x.to_string()).collect(),
        Err(e) => panic!("{e}"),
    }
}

/// Every address of the topology: (node, interface or `lo`, family) -> address.
fn addresses(t: &Topology) -> BTreeMap<(String, String, String), String> {
    let mut out = BTreeMap::new();
    for n in &t.nodes {
        for (af, a) in [("ipv4", n.loopback.ipv4), ("ipv6", n.loopback.ipv6)] {
            if let Some(a) = a {
                out.insert((n.name.clone(), "lo".into(), af.into()), a.to_string());
            }
        }
        for i in &n.interfaces {
            for (af, a) in [("ipv4", i.ipv4), ("ipv6", i.ipv6)] {
                if let Some(a) = a {
                    out.insert((n.name.clone(), i.name.clone(), af.into()), a.to_string());
                }
            }
        }
    }
    out
}

fn iface<'t>(t: &'t Topology, node: &str, name: &str) -> &'t Interface {
    t.node_by_name(node)
        .unwrap()
        .interface(name)
        .unwrap_or_else(|| panic!("{node} has no {name}"))
        .1
}

fn v4(t: &Topology, node: &str, name: &str) -> String {
    iface(t, node, name)
        .ipv4
        .map(|a| a.to_string())
        .unwrap_or_default()
}

#[test]
fn the_example_has_netlabs_addresses_ports_and_segments() {
    let t = load("vlan.yml", &example());
    let got = addresses(&t);
    let expect = [
        ("s1", "lo", "198.18.0.1/32"),
        ("s2", "lo", "198.18.0.2/32"),
        ("r1", "lo", "198.18.0.3/32"),
        ("r2", "lo", "198.18.0.4/32"),
        ("r1", "vlan1000", "198.19.0.3/24"),
        ("r1", "vlan20", "198.19.1.3/24"),
        ("r1", "eth2.1001", "198.18.128.1/30"),
        ("r2", "eth1.1001", "198.18.128.2/30"),
        ("r2", "eth2", "198.19.2.4/24"),
        ("h1", "eth1", "198.19.0.5/24"),
        ("h2", "eth1", "198.19.1.6/24"),
        ("h3", "eth1", "198.19.0.7/24"),
        ("h4", "eth1", "198.19.1.8/24"),
        ("h5", "eth1", "198.19.2.9/24"),
    ];
    let want: BTreeMap<_, _> = expect
        .iter()
        .map(|(n, i, a)| {
            (
                (n.to_string(), i.to_string(), "ipv4".to_string()),
                a.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);

    // Ports: access ports untagged in their VLAN, trunks tagged, no addresses on either.
    assert_eq!(
        iface(&t, "s1", "eth2").vlan,
        Some(VlanIf::Port {
            pvid: Some(1000),
            tagged: vec![]
        })
    );
    assert_eq!(
        iface(&t, "s1", "eth1").vlan,
        Some(VlanIf::Port {
            pvid: None,
            tagged: vec![20, 1000]
        })
    );
    assert_eq!(iface(&t, "s1", "eth1").segment, None);
    assert_eq!(
        iface(&t, "r1", "vlan1000").vlan,
        Some(VlanIf::Svi { vid: 1000 })
    );
    let r1 = t.node_by_name("r1").unwrap();
    let (parent, _) = r1.interface("eth2").unwrap();
    assert_eq!(
        iface(&t, "r1", "eth2.1001").vlan,
        Some(VlanIf::Subif { vid: 1001, parent })
    );

    // One segment per bridged VLAN across both switches and the trunks; the routed VLAN's
    // member link is a segment of its own.
    let red = t.segments.iter().find(|s| s.vlan == Some(1000)).unwrap();
    assert_eq!(red.ipv4.unwrap().to_string(), "198.19.0.0/24");
    let names = |s: &Segment| -> Vec<String> { s.members.iter().map(|r| t.if_name(*r)).collect() };
    assert_eq!(names(red), ["h1:eth1", "h3:eth1", "r1:vlan1000"]);
    let sw: Vec<&str> = red
        .switches
        .iter()
        .map(|n| t.node(*n).name.as_str())
        .collect();
    assert_eq!(sw, ["s1", "s2", "r1"]);
    let links: Vec<&str> = red.links.iter().map(|l| t.link(*l).name.as_str()).collect();
    assert_eq!(links, ["s1-s2", "h1-s1", "h3-s2", "r1-s2"]);
    let green = t.segments.iter().find(|s| s.vlan == Some(1001)).unwrap();
    assert_eq!(green.kind, SegmentKind::P2p);
    assert_eq!(names(green), ["r1:eth2.1001", "r2:eth1.1001"]);
    // Segment ids stay dense after the access links' own segments are dropped.
    for (i, s) in t.segments.iter().enumerate() {
        assert_eq!(s.id.index(), i);
    }
    for l in &t.links {
        assert!(l.segment.index() < t.segments.len());
    }
}

#[test]
fn node_vlans_host_numbers_and_vlan_links_are_netlabs() {
    let t = load("node_vlans.yml", NODE_VLANS);
    // red: the first VLAN, from `vlans.red.links` (links appended after `links`).
    assert_eq!(v4(&t, "h1", "eth1"), "172.16.0.4/24");
    assert_eq!(v4(&t, "s1", "vlan1000"), "172.16.0.1/24");
    // s3's `vlans.red.ipv4: 42` is its host number in red.
    assert_eq!(v4(&t, "s3", "vlan1000"), "172.16.0.42/24");
    // s1's blue (id 1001) and s2's blue (id 30) are two VLANs.
    assert_eq!(v4(&t, "s1", "vlan1001"), "172.16.1.1/24");
    assert_eq!(v4(&t, "h3", "eth1"), "172.16.1.17/24");
    assert_eq!(v4(&t, "s2", "vlan30"), "172.16.2.2/24");
    assert_eq!(v4(&t, "h2", "eth1"), "172.16.2.5/24");
    // s1's eth1 has no VLAN settings: a plain interface in s2's blue.
    assert_eq!(v4(&t, "s1", "eth1"), "172.16.2.1/24");
    assert_eq!(iface(&t, "s1", "eth1").vlan, None);
    assert_eq!(t.node_by_name("s3").unwrap().interfaces.len(), 2);
}

#[test]
fn a_routed_native_vlan_is_a_routed_lan_and_the_trunk_still_tags() {
    let t = load("native_routed.yml", NATIVE_ROUTED);
    for (n, a4) in [
        ("r1", "198.18.66.1/24"),
        ("r2", "198.18.66.2/24"),
        ("h1", "198.18.66.3/24"),
    ] {
        assert_eq!(v4(&t, n, "eth1"), a4);
    }
    assert_eq!(
        iface(&t, "r1", "eth1").ipv6.unwrap().to_string(),
        "2001:db8:64:2::1/64"
    );
    assert_eq!(v4(&t, "r1", "vlan1000"), "198.18.64.1/24");
    assert_eq!(v4(&t, "r2", "vlan1001"), "198.18.65.2/24");
    assert_eq!(
        iface(&t, "r2", "vlan1001").ipv6.unwrap().to_string(),
        "2001:db8:64:1::2/64"
    );
    assert_eq!(
        iface(&t, "r1", "eth1").vlan,
        Some(VlanIf::Port {
            pvid: None,
            tagged: vec![1001, 1000]
        })
    );
}

#[test]
fn a_router_on_a_stick_routes_vlans_through_subinterfaces() {
    let t = load("stick.yml", STICK);
    assert_eq!(v4(&t, "sw", "vlan1000"), "172.16.0.1/24");
    assert_eq!(v4(&t, "ros", "eth1.1000"), "172.16.0.2/24");
    assert_eq!(v4(&t, "ros", "eth1.1001"), "172.16.1.2/24");
    assert_eq!(v4(&t, "h2", "eth1"), "172.16.1.5/24");
    // transit (irb by default) took 10.1.0.0/30 from p2p before any link; sw-r2 the next one;
    // the routed member link comes after all physical links, addressed in link order.
    assert_eq!(v4(&t, "sw", "eth4"), "10.1.0.6/30");
    assert_eq!(v4(&t, "ros", "eth2.1002"), "10.1.0.9/30");
    assert_eq!(v4(&t, "r2", "eth1.1002"), "10.1.0.10/30");
    let red = t.segments.iter().find(|s| s.vlan == Some(1000)).unwrap();
    let m: Vec<String> = red.members.iter().map(|r| t.if_name(*r)).collect();
    assert_eq!(m, ["h1:eth1", "ros:eth1.1000", "sw:vlan1000"]);
}

#[test]
fn module_defaults_are_netlabs() {
    let t = load("defaults.yml", DEFAULTS);
    assert_eq!(v4(&t, "s1", "vlan200"), "172.16.0.1/24");
    assert_eq!(v4(&t, "h1", "eth1"), "172.16.0.3/24");
    assert_eq!(v4(&t, "s1", "vlan201"), "10.1.0.1/30");
    assert_eq!(v4(&t, "s2", "vlan201"), "10.1.0.2/30");
}

#[test]
fn vlan_mistakes_are_errors_with_their_place() {
    let e = errors(
        "module: [vlan]
vlans: {red: {}, blue: {id: 5000}}
nodes: [a, b]
links:
- {a: {vlan.access: rde}, b: {vlan.trunk: [red], vlan.native: blue}}
- {a: {vlan.access: red}, b: {vlan.access: red}, vlan.mode: irb}
",
    );
    let text = e.join("\n");
    assert!(
        text.contains("t.yml:2:29: 5000 is out of range 1..=4094 (at `vlans.blue.id`)"),
        "{text}"
    );
    assert!(
        text.contains("t.yml:5:21: VLAN `rde` is not defined (did you mean `red`?)"),
        "{text}"
    );
    assert!(
        text.contains("native VLAN `blue` must be one of the trunk's VLANs"),
        "{text}"
    );
    assert!(
        text.contains("t.yml:6:61: a link or interface `vlan.mode` can only be `route`"),
        "{text}"
    );
}

#[test]
fn a_vlan_too_small_for_its_node_ids_is_an_error_at_the_vlan() {
    let e = errors(
        "module: [vlan]
addressing.lan: {ipv4: 198.19.0.0/16, prefix: 29}
vlans: {red: {}}
nodes: {s1: {}, h1: {kind: host, id: 20}}
links: [{h1: {}, s1: {vlan.access: red}}]
",
    );
    assert_eq!(
        e,
        ["t.yml:3:9: host number 20 of h1:eth1 is outside the subnet 198.19.0.0/29 (at `vlans.red`)"]
    );
}

#[test]
fn vlans_need_the_module() {
    // netlab: "Attribute 'vlans' used in topology requires module vlan".
    let e = errors("vlans: {red: {}}\nnodes: [a, b]\nlinks: [{a: {vlan.access: red}, b: {}}]\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with("t.yml:1:9: `vlans` needs the vlan module, which no node uses"),
        "{}",
        e[0]
    );
    let e = errors("module: [vlan]\nnodes: {a: {module: [ospf], vlans: {red: {}}}, b: {}}\n");
    assert!(
        e[0].contains("`vlans` on node `a` needs the vlan module on that node"),
        "{e:#?}"
    );
}

#[test]
fn an_irb_vlan_without_ports_is_a_warning() {
    // netlab gives s1 SVIs for red and green without ports; nettwin says it does not.
    let t = load(
        "t.yml",
        "vlans: {red: {}, blue: {}}
nodes:
  s1: {module: [vlan], vlans: {red: {}, green: {}}}
  h1: {device: linux}
links: [{h1: {}, s1: {vlan.access: blue}}]
",
    );
    let w: Vec<String> = t.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with("t.yml:3:32: an irb VLAN that no interface of its node carries gets no SVI here and in 1 other place"),
        "{}",
        w[0]
    );
    assert_eq!(v4(&t, "s1", "vlan1001"), "172.16.1.1/24");
}

#[test]
fn the_vlan_module_leaves_other_links_alone() {
    // The vlan module in an otherwise plain lab: nothing changes outside VLAN links.
    let t = load(
        "t.yml",
        "module: [vlan]\nvlans: {red: {}}\nnodes: [a, b, c]\nlinks: [a-b, {a: {vlan.access: red}, c: {}}]\n",
    );
    assert_eq!(v4(&t, "a", "eth1"), "10.1.0.1/30");
    assert_eq!(v4(&t, "a", "vlan1000"), "172.16.0.1/24");
    assert_eq!(v4(&t, "c", "eth1"), "172.16.0.3/24");
}

/// `netlab create`, from `NETTWIN_NETLAB`, else a venv made once under the target directory.
fn netlab() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("NETTWIN_NETLAB") {
        return Ok(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("netlab-venv");
    let bin = venv.join("bin/netlab");
    // A venv is not relocatable: one left by a moved or copied target directory has scripts whose
    // interpreter is gone, so it is made again rather than trusted because it exists.
    if bin.exists() {
        let works = Command::new(&bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if works {
            return Ok(bin);
        }
        let _ = std::fs::remove_dir_all(&venv);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ))
        }
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    // Bounded: pip gives up on an unreachable index after its own timeouts and retries.
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "-q",
        "--timeout",
        "20",
        "--retries",
        "1",
        "networklab",
    ]))?;
    Ok(bin)
}

/// Every address `netlab create` writes for `text`, keyed as [`addresses`] keys them.
fn netlab_addresses(
    netlab: &Path,
    name: &str,
    text: &str,
) -> BTreeMap<(String, String, String), String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("netlab-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("topology.yml"), text).unwrap();
    let out = Command::new(netlab)
        .args(["create", "-o", "yaml:nodes", "topology.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "netlab create {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = yaml::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let mut got = BTreeMap::new();
    for (k, node) in doc.as_map().unwrap() {
        let n = k.as_scalar().unwrap().to_string();
        for af in ["ipv4", "ipv6"] {
            if let Some(a) = node
                .get("loopback")
                .and_then(|l| l.get(af))
                .and_then(|a| a.as_scalar())
            {
                got.insert((n.clone(), "lo".into(), af.into()), a.to_string());
            }
        }
        for i in node
            .get("interfaces")
            .and_then(|i| i.as_seq())
            .unwrap_or_default()
        {
            let ifname = i
                .get("ifname")
                .and_then(|x| x.as_scalar())
                .unwrap()
                .to_string();
            for af in ["ipv4", "ipv6"] {
                // `true` (unnumbered) and `false` are not addresses.
                if let Some(a) = i
                    .get(af)
                    .and_then(|a| a.as_scalar())
                    .filter(|a| a.contains('/'))
                {
                    got.insert((n.clone(), ifname.clone(), af.into()), a.to_string());
                }
            }
        }
    }
    got
}

#[test]
fn netlab_agrees_on_every_address() {
    let netlab = match netlab() {
        Ok(p) => p,
        Err(why) => {
            println!("skipped: networklab cannot be installed here ({why})");
            return;
        }
    };
    for (name, text) in [
        ("example", example()),
        ("node_vlans", NODE_VLANS.to_string()),
        ("native_routed", NATIVE_ROUTED.to_string()),
        ("stick", STICK.to_string()),
        ("defaults", DEFAULTS.to_string()),
    ] {
        let want = netlab_addresses(&netlab, name, &text);
        let got = addresses(&load(name, &text));
        assert_eq!(
            got, want,
            "{name}: nettwin (left) and netlab create (right) differ"
        );
    }
}
