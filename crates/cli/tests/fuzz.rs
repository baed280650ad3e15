//! Fuzzing the command line: random bytes and random word salads from the command vocabulary,
//! in every mode, never panic, never lose the session, and keep output bounded.

use nettwin_cli::session::{Session, SessionOptions};
use nettwin_cli::{ModelTwin, Twin};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

fn twin() -> Arc<dyn Twin> {
    static TWIN: OnceLock<Arc<dyn Twin>> = OnceLock::new();
    TWIN.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lab.yml");
        let topo = nettwin_model::load_file(std::path::Path::new(path)).unwrap();
        Arc::new(ModelTwin::new(topo))
    })
    .clone()
}

const WORDS: &[&str] = &[
    "show",
    "sh",
    "s",
    "ip",
    "i",
    "route",
    "ro",
    "interface",
    "int",
    "brief",
    "b",
    "gi0/1",
    "gi",
    "0/2",
    "Gi0/9",
    "lo0",
    "conf",
    "t",
    "terminal",
    "length",
    "0",
    "5",
    "width",
    "511",
    "enable",
    "cisco",
    "end",
    "exit",
    "do",
    "no",
    "shutdown",
    "shut",
    "mtu",
    "1400",
    "9000",
    "address",
    "198.19.0.1",
    "255.255.255.252",
    "10.0.0.0",
    "255.0.0.0",
    "null0",
    "router",
    "ospf",
    "bgp",
    "65000",
    "neighbor",
    "cost",
    "abbrev",
    "x",
    "|",
    "include",
    "exclude",
    "begin",
    "?",
    "\t",
    "ping",
    "traceroute",
    "198.18.30.10",
    "version",
    "running-config",
    "cdp",
    "lldp",
    "neighbors",
    "summary",
    "history",
    "write",
    "memory",
    "disable",
    "-1",
    "999999999999",
    "\u{e9}",
    "(",
    "[",
    "*",
];

fn run_and_recover(s: &mut Session, input: &[u8]) {
    let out = s.feed(input);
    // Output is bounded by what the commands print, never by echoing unbounded input.
    assert!(out.len() < 200_000, "output {} bytes", out.len());
    if s.is_closed() {
        return;
    }
    // Leave any pager or password prompt, clear the line: the session must answer Enter.
    s.feed(b"q");
    s.feed(b"\r");
    s.feed(b"\x15\x1a");
    let out = String::from_utf8_lossy(&s.feed(b"\r")).into_owned();
    assert!(
        out.ends_with('#') || out.ends_with('>') || out.contains("Password:") || s.is_closed(),
        "no prompt after {input:?}: {out:?}"
    );
}

fn session(privileged: bool) -> Session {
    let t = twin();
    let mut s = Session::new(
        t,
        nettwin_model::NodeId(1),
        SessionOptions {
            enable_secret: Some("cisco".into()),
            privileged,
            abbrevs: vec![("sir".into(), "show ip route".into())],
        },
    );
    s.start();
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600), privileged in any::<bool>()) {
        let mut s = session(privileged);
        run_and_recover(&mut s, &bytes);
    }

    #[test]
    fn random_command_lines(
        lines in proptest::collection::vec(proptest::collection::vec(0..WORDS.len(), 0..8), 1..8),
        spaces in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let mut s = session(true);
        for (n, words) in lines.iter().enumerate() {
            let mut line = String::new();
            for (k, w) in words.iter().enumerate() {
                line.push_str(WORDS[*w]);
                if spaces[(k + n) % spaces.len()] || k + 1 < words.len() {
                    line.push(' ');
                }
            }
            line.push('\r');
            run_and_recover(&mut s, line.as_bytes());
            if s.is_closed() {
                break;
            }
        }
    }
}
