//! Files that used to exhaust memory or the stack, or were misread: each fails fast with one
//! error at a place (or, for a byte order mark, loads).

use nettwin_model::{load_bytes, load_file, load_str, LoadError};
use std::path::Path;
use std::time::{Duration, Instant};

fn input(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/inputs")
        .join(name)
}

/// The error lines of a load that must fail.
fn errors(r: Result<nettwin_model::Topology, LoadError>) -> Vec<String> {
    match r {
        Ok(_) => panic!("expected errors, the topology loaded"),
        Err(LoadError::Invalid(d)) => d.iter().map(|e| e.to_string()).collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn an_alias_bomb_fails_at_the_alias_that_goes_over_the_limit() {
    let path = input("alias-bomb.yml");
    assert!(std::fs::metadata(&path).unwrap().len() < 512);
    let start = Instant::now();
    let e = errors(load_file(&path));
    let name = path.display();
    assert_eq!(
        e,
        [format!("{name}:8:8: aliases expand the document beyond 1000000 copied nodes or 64 MiB of copied text (an alias bomb?)")]
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

/// Each of these crashed the process with a stack overflow; the test thread has the default
/// 2 MiB stack.
#[test]
fn deep_nesting_is_an_error_with_a_place() {
    let cases = [
        ("block sequences", "- ".repeat(20_200), 1),
        ("flow sequences", "[".repeat(20_000), 1),
        ("flow mappings", "{a: ".repeat(20_000), 1),
        ("explicit keys", "? ".repeat(20_000), 1),
        (
            "block mappings",
            (0..300).map(|i| format!("{}a:\n", " ".repeat(i))).collect(),
            201,
        ),
        (
            "nodes nested in a topology",
            format!("nodes:\n  r1: {}\n", "[".repeat(10_000)),
            2,
        ),
    ];
    for (what, text, line) in cases {
        let e = errors(load_str("deep.yml", &text));
        assert_eq!(e.len(), 1, "{what}: {e:?}");
        let prefix = format!("deep.yml:{line}:");
        assert!(e[0].starts_with(&prefix), "{what}: {}", e[0]);
        assert!(
            e[0].ends_with(": the document nests deeper than 200 levels"),
            "{what}: {}",
            e[0]
        );
    }
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let topo = load_str("bom.yml", "\u{feff}name: lab\nnodes: [r1]\n").unwrap();
    assert_eq!(topo.name, "lab");
}

#[test]
fn bytes_that_are_not_utf8_are_an_error_at_their_place() {
    let e = errors(load_bytes(
        "latin1.yml",
        b"nodes:\n  r1: {description: caf\xe9}\n",
    ));
    assert_eq!(
        e,
        ["latin1.yml:2:24: the file is not UTF-8: byte 0xe9 cannot be decoded (save it as UTF-8)"]
    );
}

#[test]
fn a_second_document_is_an_error_at_its_start() {
    let e = errors(load_str(
        "two.yml",
        "nodes: [r1]\n---\nnodes: [r2]\nlinks: [[r1, r2]]\n",
    ));
    assert_eq!(
        e,
        ["two.yml:2:1: a second YAML document starts here; a topology file holds one document"]
    );
}

#[test]
fn hundreds_of_thousands_of_errors_keep_a_bounded_list() {
    // Every node name is invalid: one error each (hosts, so no loopback pool runs out).
    let mut text = String::from("defaults: {kind: host}\nnodes:\n");
    for i in 0..30_000 {
        text.push_str(&format!("  - 9n{i}\n"));
    }
    match load_str("many.yml", &text) {
        Err(LoadError::Invalid(d)) => {
            assert_eq!(d.len(), 30_000);
            assert_eq!(d.iter().count(), nettwin_model::diag::MAX_KEPT);
            assert_eq!(d.omitted(), 30_000 - nettwin_model::diag::MAX_KEPT);
        }
        other => panic!("expected errors, got {:?}", other.map(|t| t.name)),
    }
}
