//! Static routes: recursive, interface, discard, floating; host default routes.

mod common;
use common::{fib, setup};

/// r1-r2 (198.19.0.0/31), r1-r3 shut on r1's side (198.19.0.2/31), r2-r3 (198.19.0.4/31).
const STATICS: &str = "module: [ospf]
nodes:
  r1:
    static:
      - {prefix: 198.18.100.0/24, nexthop: 198.18.0.3}
      - {prefix: 198.18.101.0/24, interface: eth2}
      - {prefix: 198.18.101.0/24, nexthop: 198.19.0.1, distance: 250}
      - {prefix: 198.18.102.0/24, discard: true}
      - {prefix: 198.18.103.0/24, nexthop: 198.18.100.9}
      - {prefix: 198.18.104.0/24, nexthop: 198.18.99.1}
  r2: {}
  r3: {}
links:
  - [r1, r2]
  - {r1: {shutdown: true}, r3: {}}
  - [r2, r3]
";

#[test]
fn recursive_interface_discard_and_floating_statics() {
    let (t, r) = setup(STATICS);
    assert_eq!(
        fib(&t, &r, "r1", &["S", "O"]),
        vec![
            "O 198.18.0.2/32 110/10 198.19.0.1@eth1",
            "O 198.18.0.3/32 110/20 198.19.0.1@eth1",
            // Recursive through OSPF to r3's loopback.
            "S 198.18.100.0/24 1/0 198.19.0.1@eth1",
            // The interface static points out of a shut interface: the floating one takes over.
            "S 198.18.101.0/24 250/0 198.19.0.1@eth1",
            "S 198.18.102.0/24 1/0 discard",
            // Recursive through another static.
            "S 198.18.103.0/24 1/0 198.19.0.1@eth1",
            // The r1-r3 cable is down at both ends, so nobody advertises 198.19.0.2/31.
            "O 198.19.0.4/31 110/20 198.19.0.1@eth1",
        ]
    );
    // 198.18.104.0/24 points at an address nobody reaches: not installed.
}

#[test]
fn primary_static_wins_when_its_interface_is_up() {
    let (t, r) = setup(&STATICS.replace("{r1: {shutdown: true}, r3: {}}", "[r1, r3]"));
    let lines = fib(&t, &r, "r1", &["S"]);
    assert!(
        lines.contains(&"S 198.18.101.0/24 1/0 direct@eth2".to_string()),
        "{lines:#?}"
    );
    let n = t.node_by_name("r1").unwrap();
    let all: Vec<_> = r.candidates(n.id, &"198.18.101.0/24".parse().unwrap());
    assert_eq!(
        all.len(),
        2,
        "the floating static stays in the RIB as a candidate"
    );
}

#[test]
fn hosts_get_a_default_route_to_their_first_router() {
    let (t, r) = setup("nodes:\n  r1: {}\n  r2: {}\n  s1: {kind: switch}\n  h1: {kind: host}\nlinks:\n  - [s1, h1]\n  - [r2, s1]\n  - [r1, s1]\n");
    // Segment members in link order: h1 .1, r2 .2, r1 .3; the first router is r2.
    assert_eq!(
        fib(&t, &r, "h1", &["S"]),
        vec!["S 0.0.0.0/0 1/0 198.18.128.2@eth1"]
    );
}

#[test]
fn longest_match_through_the_fib() {
    let (t, r) = setup(STATICS);
    let n = t.node_by_name("r1").unwrap();
    let hit = |a: &str| {
        r.fib(n.id)
            .lookup(a.parse().unwrap())
            .map(|x| x.prefix.to_string())
    };
    assert_eq!(hit("198.18.100.77").as_deref(), Some("198.18.100.0/24"));
    assert_eq!(hit("198.18.0.3").as_deref(), Some("198.18.0.3/32"));
    assert_eq!(hit("203.0.113.1"), None);
}
