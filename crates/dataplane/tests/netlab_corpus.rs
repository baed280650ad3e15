//! The netlab-style labs of `tests/netlab` (written from netlab's documentation; their addressing
//! is compared with `netlab create` by `tests/netlab/run.sh`) load as written and route: every
//! node reaches every other node's addresses, except the pairs each lab lists with why.

use nettwin_dataplane::reach::ReachOptions;
use nettwin_dataplane::{operational, Net};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/netlab")
}

/// Every lab file under `dir`; files with `defaults` in their name are defaults files the labs
/// include, not labs.
fn labs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            labs(&p, out);
        } else if name.ends_with(".yml") && !name.contains("defaults") {
            out.push(p);
        }
    }
}

/// Pairs that do not deliver, by design of the lab: (lab, from, to address, why).
const EXPECTED_FAILURES: &[(&str, &str, &str, &str)] = &[];

#[test]
fn every_lab_loads_routes_and_reaches() {
    let mut files = Vec::new();
    labs(&corpus(), &mut files);
    assert!(files.len() >= 8, "the corpus has {} labs", files.len());
    let mut problems = Vec::new();
    let mut failed: Vec<(String, String, String)> = Vec::new();
    for f in &files {
        let lab = f.strip_prefix(corpus()).unwrap().display().to_string();
        let topo = match nettwin_model::load_file(f) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{lab}: does not load: {e}"));
                continue;
            }
        };
        let routing = match nettwin_routing::compute(&topo) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{lab}: does not route: {e}"));
                continue;
            }
        };
        let topo = operational(&topo);
        let net = Net::new(&topo, &routing);
        let r = nettwin_dataplane::reach(&net, ReachOptions { size: 100, ttl: 64 });
        let sum = r.summary();
        assert!(sum.pairs > 0, "{lab}: no pairs to check");
        for p in r.failures(&topo) {
            failed.push((lab.clone(), p.from.clone(), p.to.to_string()));
            let expected = EXPECTED_FAILURES
                .iter()
                .any(|(l, from, to, _)| *l == lab && *from == p.from && *to == p.to.to_string());
            if !expected {
                problems.push(format!(
                    "{lab}: {} -> {} ({}): {:?} at {}",
                    p.from, p.to, p.to_node, p.disposition, p.at
                ));
            }
        }
    }
    for (lab, from, to, why) in EXPECTED_FAILURES {
        if !failed.contains(&(lab.to_string(), from.to_string(), to.to_string())) {
            problems.push(format!(
                "{lab}: {from} -> {to} delivers now; drop it from EXPECTED_FAILURES ({why})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
