//! Predictions on the twin: round trips per phase from link latencies along the real paths,
//! failures named with the twin's reason, black holes that hang a TLS handshake.

use nettwin_probe::predict::{compare, node_id, predict_all, Twin};
use nettwin_routing::whatif::Change;

fn load(path: &str) -> nettwin_model::Topology {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    let text = std::fs::read_to_string(format!("{root}{path}")).unwrap();
    nettwin_model::load_str(path, &text).unwrap()
}

fn probes(path: &str) -> Vec<nettwin_probe::Probe> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    let text = std::fs::read_to_string(format!("{root}{path}")).unwrap();
    nettwin_probe::parse(path, &text).unwrap().probes
}

#[test]
fn round_trips_per_phase_on_isp_dc() {
    let topo = load("examples/isp-dc.yml");
    let p = probes("examples/probe/isp-dc.yml");
    let twin = Twin::new(&topo, &[]).unwrap();
    let r = predict_all(&twin, &p, None).unwrap();
    let by = |n: &str| r.iter().find(|x| x.probe == n).unwrap();
    // ce1-pe2 (8 ms) and pe1-border (1 ms) each way.
    for x in &r {
        assert!(x.success, "{x:?}");
    }
    assert_eq!(by("web1-http").rtt_ms, 18.0);
    assert_eq!(by("web1-http").round_trips, 2.0);
    assert!((by("web1-http").duration - (2.0 * 0.018 + 0.020)).abs() < 1e-9);
    assert_eq!(by("web2-https").round_trips, 3.0);
    assert_eq!(by("web1-https-tls12").round_trips, 4.0);
    assert_eq!(by("db1-dns").round_trips, 1.0);
    let shop = by("shop");
    assert_eq!(shop.steps.len(), 2);
    assert_eq!(shop.round_trips, 5.0);
    assert!(
        (shop.duration - (5.0 * 0.018 + 0.030)).abs() < 1e-9,
        "{}",
        shop.duration
    );
    let fwd = by("web1-http").forward.clone().unwrap();
    assert_eq!(fwd.nodes.first().map(String::as_str), Some("client1"));
    assert_eq!(fwd.nodes.last().map(String::as_str), Some("web1"));
}

#[test]
fn a_failure_breaks_probes_with_the_twins_reason() {
    let topo = load("examples/isp-dc.yml");
    let p = probes("examples/probe/isp-dc.yml");
    let before = predict_all(&Twin::new(&topo, &[]).unwrap(), &p, None).unwrap();
    let l = topo.link_by_name("pe2-ce1").unwrap().id;
    let after = predict_all(&Twin::new(&topo, &[Change::LinkDown(l)]).unwrap(), &p, None).unwrap();
    let cmp = compare(before, after);
    assert!(cmp.iter().all(|c| c.verdict == "breaks"), "{cmp:?}");
    let web = &cmp[0].after;
    assert_eq!(web.failed_phase, Some("connect"));
    assert_eq!(
        web.reason.as_deref(),
        Some("unreachable on the twin: no-route at ce1: no route to 198.18.128.2")
    );
    // Losing p1 moves the core path to p2 (cost 30 links, no latency): unchanged times.
    let p1 = topo.node_by_name("p1").unwrap().id;
    let before = predict_all(&Twin::new(&topo, &[]).unwrap(), &p, None).unwrap();
    let after = predict_all(
        &Twin::new(&topo, &[Change::NodeDown(p1)]).unwrap(),
        &p,
        None,
    )
    .unwrap();
    assert!(after[0]
        .forward
        .as_ref()
        .unwrap()
        .nodes
        .contains(&"p2".to_string()));
    assert!(compare(before, after)
        .iter()
        .all(|c| c.verdict == "unchanged"));
    assert!(node_id(&topo, "clent1")
        .unwrap_err()
        .to_string()
        .contains("did you mean `client1`"));
}

#[test]
fn a_black_hole_hangs_the_tls_handshake() {
    let topo = load("crates/probe/tests/blackhole.yml");
    let text = "probes:\n- {name: https, kind: http, url: \"https://h2/\", from: h1}\n- {name: http, kind: http, url: \"http://h2/\", from: h1}\n- {name: ping, kind: icmp, target: h2, from: h1}\n";
    let p = nettwin_probe::parse("p.yml", text).unwrap().probes;
    let r = predict_all(&Twin::new(&topo, &[]).unwrap(), &p, None).unwrap();
    assert_eq!((r[0].success, r[0].failed_phase), (false, Some("tls")));
    let why = r[0].reason.as_deref().unwrap();
    assert!(
        why.contains("1500-byte segments vanish at sw2:eth1 (MTU 1400)") && why.ends_with("hangs"),
        "{why}"
    );
    assert!(r[1].success);
    assert!(r[1].notes[0].contains("transfers larger than 1400 bytes hang"));
    assert!(r[2].success && r[2].notes.is_empty());
    assert_eq!(r[2].rtt_ms, 10.0);
}

#[test]
fn every_example_probe_file_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/probe");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let f =
            nettwin_probe::parse(&p.display().to_string(), &text).unwrap_or_else(|d| panic!("{d}"));
        assert!(!f.probes.is_empty());
        n += 1;
    }
    assert!(n >= 2);
}
