//! Settings the loader accepts but nothing acts on: one warning per kind, at its first place.

use nettwin_model::load_str;

fn warnings(text: &str) -> Vec<String> {
    let topo = load_str("t.yml", text).expect("the topology loads");
    topo.warnings.iter().map(|w| w.to_string()).collect()
}

#[test]
fn protocol_sections_without_their_module_warn_once_per_kind() {
    let w = warnings(
        "ospf: {area: 0}\nnodes: [r1, r2, h1]\nlinks:\n  - {r1: {}, r2: {}, ospf: {cost: 5}}\n  - {r1: {isis: {metric: 3}}, h1: {}}\n  - {r2: {ospf: {passive: true}}, h1: {}}\n",
    );
    assert_eq!(
        w,
        vec![
            "t.yml:1:7: `ospf` settings are ignored here and in 2 other places: no router they apply to runs the ospf module; enable it with `module: [ospf]` at the top level, in a group or on a node (at `ospf`)",
            "t.yml:5:17: `isis` settings are ignored: no router they apply to runs the isis module; enable it with `module: [isis]` at the top level, in a group or on a node (at `links[1].r1.isis`)",
        ]
    );
}

#[test]
fn enabling_the_module_anywhere_it_applies_silences_the_warning() {
    for text in [
        "module: [ospf]\nospf: {area: 0}\nnodes: [r1, r2]\nlinks:\n  - {r1: {}, r2: {}, ospf: {cost: 5}}\n",
        "groups:\n  core: {members: [r1], module: [ospf]}\nospf: {area: 0}\nnodes: [r1, r2]\nlinks:\n  - {r1: {}, r2: {}, ospf: {cost: 5}}\n",
        // A node's own section enables the module on that node.
        "nodes:\n  r1: {ospf: {area: 0}}\n  r2: {}\nlinks:\n  - {r1: {ospf: {cost: 3}}, r2: {}}\n",
    ] {
        assert_eq!(warnings(text), Vec::<String>::new(), "{text}");
    }
}

#[test]
fn a_section_on_a_host_end_is_ignored_even_with_the_module_on() {
    let w = warnings(
        "module: [ospf]\nnodes:\n  r1: {}\n  h1: {kind: host}\nlinks:\n  - {r1: {}, h1: {ospf: {cost: 4}}}\n",
    );
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("t.yml:6:25: `ospf` settings are ignored: "),
        "{}",
        w[0]
    );
}

#[test]
fn unmodelled_modules_warn_once_wherever_they_appear() {
    // `mpls` and `sr` are modelled (routing's label computation): an `sr` section no router
    // runs the module for is ignored like an `ospf` one; `policies` is still not modelled.
    let w = warnings(
        "module: [mpls]\nmpls: {ldp: true}\nsr: {}\nnodes:\n  r1: {mpls: {}, policies: {}}\n  r2: {}\nlinks:\n  - {r1: {}, r2: {mpls: {}}, sr: {}}\n",
    );
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("t.yml:3:5: `sr` settings are ignored here and in 1 other place: no router they apply to runs the sr module"),
        "{}",
        w[0]
    );
    assert_eq!(
        w[1],
        "t.yml:5:28: `policies` is parsed but not modelled: BGP policies are written as `bgp.import` and `bgp.export`, so these settings change nothing (at `nodes.r1.policies`)",
    );
}

#[test]
fn platform_comes_from_the_file_or_the_device() {
    let t = nettwin_model::load_str(
        "t.yml",
        "defaults.device: frr\ngroups:\n  core: {members: [p1], platform: junos}\nnodes:\n  pe1: {device: iosxr}\n  pe2: {device: vmx, platform: cisco-xe}\n  p1: {}\n  p2: {}\n",
    )
    .unwrap();
    let p = |n: &str| t.node_by_name(n).unwrap().platform.map(|p| p.name());
    assert_eq!(p("pe1"), Some("cisco-xr"));
    assert_eq!(p("pe2"), Some("cisco-xe"));
    assert_eq!(p("p1"), Some("junos"));
    assert_eq!(p("p2"), Some("frr"));
    let e = nettwin_model::load_str("t.yml", "nodes:\n  r1: {platform: ios}\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t.yml:2:18: unknown platform `ios`: expected one of cisco-xr, cisco-xe, junos, sros, frr (at `nodes.r1.platform`)"),
        "{e}"
    );
}

#[test]
fn bgp_on_links_is_not_modelled() {
    let w = warnings(
        "module: [bgp]\nnodes:\n  r1: {asn: 65001}\n  r2: {asn: 65002}\nlinks:\n  - {r1: {bgp: {local_as: 1}}, r2: {}}\n",
    );
    assert_eq!(
        w,
        vec!["t.yml:6:16: `bgp` settings on links and link ends are not modelled: they change nothing; BGP is configured at the top level and on nodes (at `links[0].r1.bgp`)"]
    );
}

#[test]
fn the_examples_have_no_warnings() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            let topo = nettwin_model::load_file(&path).unwrap();
            assert!(
                topo.warnings.is_empty(),
                "{}: {}",
                path.display(),
                topo.warnings
            );
        }
    }
}
