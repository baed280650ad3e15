//! Route-collector vantage points: the ASes that feed RIPE RIS / RouteViews style collectors.

use crate::graph::AsGraph;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct CollectorFileError {
    pub file: String,
    pub line: usize,
    pub field: &'static str,
    pub message: String,
}

/// Reads a list of collector-peer ASNs (see `parse_asn_list`).
pub fn parse_collector_peers(text: &str, file_name: &str) -> Result<Vec<u32>, CollectorFileError> {
    parse_asn_list(text, file_name)
}

/// Reads a list of ASNs (collector peers, adopters): one per line, optionally written
/// `AS64500`, `#` starts a comment, blank lines are skipped. Duplicates are merged; the result
/// is sorted.
pub fn parse_asn_list(text: &str, file_name: &str) -> Result<Vec<u32>, CollectorFileError> {
    let mut asns = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let t = line
            .strip_prefix("AS")
            .or_else(|| line.strip_prefix("as"))
            .unwrap_or(line);
        match t.parse::<u32>() {
            Ok(a) if a != 0 => asns.push(a),
            _ => {
                return Err(CollectorFileError {
                    file: file_name.to_string(),
                    line: i + 1,
                    field: "asn",
                    message: format!("{line:?} is not an AS number"),
                })
            }
        }
    }
    asns.sort_unstable();
    asns.dedup();
    Ok(asns)
}

/// The `count` best-connected ASes (by number of neighbours, ties to the lower ASN): real
/// collector peers are mostly large transit and well-peered networks.
pub fn default_collectors(graph: &AsGraph, count: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..graph.len() as u32).collect();
    ids.sort_by_key(|&x| (std::cmp::Reverse(graph.degree(x)), x));
    let mut asns: Vec<u32> = ids.iter().take(count).map(|&x| graph.asn(x)).collect();
    asns.sort_unstable();
    asns
}

/// The number of default collector peers used when none are given: about as many as RIS and
/// RouteViews have full-feed peers, capped for small graphs.
pub fn default_collector_count(graph: &AsGraph) -> usize {
    (graph.len() / 20).clamp(1, 400)
}

/// Splits `asns` into those present in `graph` (kept, in order) and those absent (returned), so
/// that a real collector-peer list can be used on a graph that lacks a few of its ASes.
pub fn retain_known(graph: &AsGraph, asns: &mut Vec<u32>) -> Vec<u32> {
    let missing = asns
        .iter()
        .copied()
        .filter(|&a| graph.id(a).is_none())
        .collect();
    asns.retain(|&a| graph.id(a).is_some());
    missing
}
