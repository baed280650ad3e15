//! What the binary does with topology files that are wrong in ways only other commands noticed,
//! that carry settings nothing acts on, or that are hostile: exit status, messages, warnings.

mod common;
use common::*;

/// Files `routes` refuses; `check` must refuse them too, with the same report.
const REFUSED_BY_ROUTING: [&str; 6] = [
    "ospf-area-backbone.yml",
    "bgp-bad-as-path.yml",
    "bgp-bad-community.yml",
    "bgp-unknown-neighbor.yml",
    "bgp-huge-prepend.yml",
    "ospf-link-network-type.yml",
];

fn input(name: &str) -> String {
    format!("crates/nettwin/tests/inputs/{name}")
}

#[test]
fn check_refuses_every_file_routes_refuses_with_the_same_report() {
    for name in REFUSED_BY_ROUTING {
        let file = input(name);
        let check = nettwin(&["check", &file]);
        let routes = nettwin(&["routes", &file]);
        assert_eq!(routes.status.code(), Some(2), "routes {name}");
        assert_eq!(
            check.status.code(),
            Some(2),
            "check {name}: {}",
            stdout(&check)
        );
        assert_eq!(stderr(&check), stderr(&routes), "{name}");
        assert!(stdout(&check).is_empty(), "{name}");
        assert!(
            stderr(&check).starts_with(&format!("error: {file}:")),
            "{name}: {}",
            stderr(&check)
        );
    }
}

#[test]
fn each_routing_mistake_is_named() {
    for (name, message) in [
        ("ospf-area-backbone.yml", "invalid area `backbone`"),
        ("bgp-bad-as-path.yml", "invalid AS-path regex `_65002(_`"),
        ("bgp-bad-community.yml", "invalid community `65001:lots`"),
        (
            "bgp-unknown-neighbor.yml",
            "unknown node `r9` in BGP neighbors",
        ),
        ("bgp-huge-prepend.yml", "4000000000 is out of range 0..=16"),
        ("ospf-link-network-type.yml", "unknown key `network_type`"),
    ] {
        let err = stderr(&nettwin(&["check", &input(name)]));
        assert!(err.contains(message), "{name}: {err}");
        // A section shared by every node is reported once, not once per node.
        assert!(
            err.ends_with(&format!("1 error in {}\n", input(name))),
            "{name}: {err}"
        );
    }
}

#[test]
fn warnings_go_to_stderr_for_every_command_and_keep_status_0() {
    let file = input("ospf-without-module.yml");
    let ospf = format!("warning: {file}:2:7: `ospf` settings are ignored here and in 1 other place: no router they apply to runs the ospf module; enable it with `module: [ospf]` at the top level, in a group or on a node (at `ospf`)\n");
    // `mpls` is modelled now: a link's section where no router runs the module is ignored.
    let mpls = format!("warning: {file}:6:28: `mpls` settings are ignored: no router they apply to runs the mpls module; enable it with `module: [mpls]` at the top level, in a group or on a node (at `links[1].mpls`)\n");
    for args in [
        vec!["check", &file],
        vec!["show", &file],
        vec!["routes", &file],
        vec!["reach", &file],
    ] {
        let o = ok(nettwin(&args));
        assert_eq!(stderr(&o), format!("{ospf}{mpls}"), "{args:?}");
    }
}

#[test]
fn check_json_lists_the_warnings() {
    let file = input("ospf-without-module.yml");
    let o = ok(nettwin(&["check", "--json", &file]));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], true);
    let w = v["warnings"].as_array().unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0]["line"], 2);
    assert_eq!(w[0]["col"], 7);
    assert_eq!(w[0]["path"], "ospf");
    assert!(w[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("`ospf` settings are ignored"));
    assert_eq!(w[1]["path"], "links[1].mpls");
    let clean = ok(nettwin(&["check", "--json", "examples/campus.yml"]));
    let v: serde_json::Value = serde_json::from_str(&stdout(&clean)).unwrap();
    assert_eq!(v["warnings"], serde_json::json!([]));
}

/// A file whose every node name is wrong: `n` errors.
fn many_errors(n: usize) -> String {
    let mut text = String::from("defaults: {kind: host}\nnodes:\n");
    for i in 0..n {
        text.push_str(&format!("  - 9n{i}\n"));
    }
    text
}

#[test]
fn a_long_error_list_shows_the_first_hundred_and_counts_the_rest() {
    let dir = TempDir::new("many");
    let file = dir.file("many.yml");
    std::fs::write(&file, many_errors(250)).unwrap();
    let o = nettwin(&["check", &file]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.matches("error: ").count(), 100);
    assert!(err.contains(&format!("error: {file}:102:5: invalid node name `9n99`")));
    assert!(!err.contains("`9n100`"));
    assert!(
        err.ends_with(&format!("and 150 more errors\n250 errors in {file}\n")),
        "{err}"
    );
}

#[test]
fn half_a_million_errors_write_a_short_report() {
    let dir = TempDir::new("flood");
    let file = dir.file("flood.yml");
    std::fs::write(&file, many_errors(500_000)).unwrap();
    let o = nettwin(&["check", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stderr.len() < 64 * 1024, "{} bytes", o.stderr.len());
    assert!(stderr(&o).ends_with(&format!("500000 errors in {file}\n")));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let dir = TempDir::new("deep");
    for (name, text) in [
        ("seq.yml", "- ".repeat(20_200)),
        ("flow.yml", "[".repeat(20_000)),
        (
            "map.yml",
            (0..300).map(|i| format!("{}a:\n", " ".repeat(i))).collect(),
        ),
    ] {
        let file = dir.file(name);
        std::fs::write(&file, text).unwrap();
        let o = nettwin(&["check", &file]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(": the document nests deeper than 200 levels\n"),
            "{name}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn an_alias_bomb_is_an_error_at_its_alias() {
    let file = "crates/model/tests/inputs/alias-bomb.yml";
    let o = nettwin(&["check", file]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "error: {file}:8:8: aliases expand the document beyond 1000000 copied nodes"
        )),
        "{err}"
    );
    assert!(err.contains("8 | g: &g [*f,"), "{err}");
}

#[test]
fn a_byte_order_mark_is_skipped_and_carets_still_line_up() {
    let dir = TempDir::new("bom");
    let good = dir.file("good.yml");
    std::fs::write(&good, "\u{feff}nodes: [r1, r2]\nlinks: [[r1, r2]]\n").unwrap();
    ok(nettwin(&["check", &good]));
    let bad = dir.file("bad.yml");
    std::fs::write(&bad, "\u{feff}nodes: {r1: {mtu: 5}}\n").unwrap();
    let err = stderr(&nettwin(&["check", &bad]));
    assert!(
        err.contains(&format!("error: {bad}:1:19: 5 is out of range")),
        "{err}"
    );
    assert!(
        err.contains("1 | nodes: {r1: {mtu: 5}}\n  |                   ^\n"),
        "{err}"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_reported_at_their_line_and_column() {
    let dir = TempDir::new("latin1");
    let file = dir.file("latin1.yml");
    std::fs::write(&file, b"nodes:\n  r1: {description: caf\xe9}\n").unwrap();
    let o = nettwin(&["check", &file]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "error: {file}:2:24: the file is not UTF-8: byte 0xe9"
        )),
        "{err}"
    );
    assert!(
        err.contains("2 |   r1: {description: caf\u{fffd}}\n  |                        ^\n"),
        "{err}"
    );
}

#[test]
fn a_second_document_is_an_error() {
    let dir = TempDir::new("twodocs");
    let file = dir.file("two.yml");
    std::fs::write(&file, "nodes: [r1]\n---\nnodes: [r2]\n").unwrap();
    let o = nettwin(&["check", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with(&format!(
        "error: {file}:2:1: a second YAML document starts here; a topology file holds one document"
    )));
}
