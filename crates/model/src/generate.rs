//! Generators of topology files for benchmarks and tests: they write YAML text, so what is
//! measured or tested is the same path a user's file takes.

use std::fmt::Write;

/// nettwin's former default pools, inside 198.18.0.0/15 (RFC 2544 benchmarking space) and
/// handed out in file order, as an `addressing:` section. The defaults are netlab's now (10/8
/// and 172.16/16, which an emulated network may not use); tests and generated topologies that
/// run in network namespaces put this in front of their text.
pub const BENCHMARK_POOLS: &str = "addressing:\n  loopback: {ipv4: 198.18.0.0/18}\n  p2p: {ipv4: 198.19.0.0/16, prefix: 31, allocation: sequential}\n  lan: {ipv4: 198.18.128.0/17, prefix: 24, allocation: sequential}\n";

/// `text` with [`BENCHMARK_POOLS`] in front, unless it has its own `addressing`.
pub fn with_benchmark_pools(text: &str) -> String {
    if text.lines().any(|l| l.starts_with("addressing")) {
        text.to_string()
    } else {
        format!("{BENCHMARK_POOLS}{text}")
    }
}

/// SplitMix64: a tiny seeded generator whose output never changes between versions, so a
/// generated topology is the same for the same seed forever.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Writes `links:` joining routers `r0`..: a random spanning tree first (so the network is
/// connected), each tree link with a cost in `1..=tree_cost`, then `extra` more links between
/// pairs not joined yet, with a cost in `1..=c` for `extra_cost: Some(c)` or none (the default).
/// `extra` must fit in the pairs left.
pub fn mesh_links(
    out: &mut String,
    rng: &mut SplitMix64,
    nodes: usize,
    mut extra: usize,
    tree_cost: u64,
    extra_cost: Option<u64>,
) {
    out.push_str("links:\n");
    let mut seen = std::collections::HashSet::with_capacity(nodes + extra);
    for i in 1..nodes {
        let j = rng.below(i as u64) as usize;
        seen.insert((j, i));
        let _ = writeln!(
            out,
            "  - {{r{j}: {{}}, r{i}: {{}}, cost: {}}}",
            1 + rng.below(tree_cost)
        );
    }
    while extra > 0 {
        let a = rng.below(nodes as u64) as usize;
        let b = rng.below(nodes as u64) as usize;
        let key = (a.min(b), a.max(b));
        if a == b || !seen.insert(key) {
            continue;
        }
        let _ = match extra_cost {
            Some(c) => writeln!(
                out,
                "  - {{r{}: {{}}, r{}: {{}}, cost: {}}}",
                key.0,
                key.1,
                1 + rng.below(c)
            ),
            None => writeln!(out, "  - [r{}, r{}]", key.0, key.1),
        };
        extra -= 1;
    }
}

/// A connected random network of `nodes` routers and `links` point-to-point links (at least
/// `nodes - 1`: a random spanning tree first, then random extra links), with random costs.
/// Addressing pools are sized to fit.
pub fn random_routers(nodes: usize, links: usize, seed: u64) -> String {
    assert!(
        nodes >= 2 && links + 1 >= nodes,
        "need nodes >= 2 and links >= nodes - 1"
    );
    let mut rng = SplitMix64::new(seed);
    let mut out = String::with_capacity(nodes * 20 + links * 40);
    out.push_str("name: random\naddressing:\n  loopback: {ipv4: 10.0.0.0/16}\n  p2p: {ipv4: 10.128.0.0/10, prefix: 31, allocation: sequential}\nnodes:\n");
    for i in 0..nodes {
        let _ = writeln!(out, "  r{i}: {{asn: {}}}", 65000 + (i % 100));
    }
    mesh_links(&mut out, &mut rng, nodes, links + 1 - nodes, 20, None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_topology_loads_with_the_requested_size() {
        let text = random_routers(50, 80, 7);
        let t = crate::load_str("random.yml", &text).unwrap();
        assert_eq!(t.nodes.len(), 50);
        assert_eq!(t.links.len(), 80);
        assert_eq!(random_routers(50, 80, 7), text, "same seed, same file");
    }
}

/// An ISP-like network: `routers` routers in one AS with a random mesh (average degree about
/// four), OSPF inside, two route reflectors (r0 and r1) and every router originating
/// `prefixes` /24s into BGP.
pub fn isp(routers: usize, prefixes: usize, seed: u64) -> String {
    assert!(routers >= 2);
    let mut rng = SplitMix64::new(seed);
    let mut out = String::with_capacity(routers * (60 + prefixes * 18));
    out.push_str("name: isp\nmodule: [ospf, bgp]\naddressing:\n  loopback: {ipv4: 10.0.0.0/16}\n  p2p: {ipv4: 10.128.0.0/10, prefix: 31, allocation: sequential}\nnodes:\n");
    for i in 0..routers {
        let _ = write!(out, "  r{i}: {{asn: 65000, bgp: {{");
        if i < 2 {
            out.push_str("rr: true, ");
        }
        out.push_str("originate: [");
        for p in 0..prefixes {
            let n = i * prefixes + p;
            let _ = write!(
                out,
                "{}{}.{}.{}.0/24",
                if p > 0 { ", " } else { "" },
                100 + (n >> 16),
                (n >> 8) & 255,
                n & 255
            );
        }
        out.push_str("]}}\n");
    }
    mesh_links(&mut out, &mut rng, routers, routers, 10, Some(10));
    out
}

/// A k-ary fat-tree (Al-Fares et al.): (k/2)^2 core, k pods of k/2 aggregation and k/2 edge
/// routers, one host per edge router; OSPF everywhere, every link cost 1 (maximal ECMP).
pub fn fat_tree(k: usize) -> String {
    assert!(k >= 2 && k % 2 == 0, "k must be even");
    let half = k / 2;
    let mut out = String::new();
    out.push_str("name: fat-tree\nmodule: [ospf]\naddressing:\n  loopback: {ipv4: 10.0.0.0/16}\n  p2p: {ipv4: 10.128.0.0/10, prefix: 31, allocation: sequential}\nnodes:\n");
    for c in 0..half * half {
        let _ = writeln!(out, "  c{c}: {{}}");
    }
    for p in 0..k {
        for a in 0..half {
            let _ = writeln!(out, "  a{p}_{a}: {{}}");
            let _ = writeln!(out, "  e{p}_{a}: {{}}");
            let _ = writeln!(out, "  h{p}_{a}: {{kind: host}}");
        }
    }
    out.push_str("links:\n");
    for p in 0..k {
        for a in 0..half {
            for c in 0..half {
                let _ = writeln!(out, "  - [c{}, a{p}_{a}]", a * half + c);
            }
            for e in 0..half {
                let _ = writeln!(out, "  - [a{p}_{a}, e{p}_{e}]");
            }
            let _ = writeln!(out, "  - [e{p}_{a}, h{p}_{a}]");
        }
    }
    out
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn fat_tree_has_the_textbook_counts() {
        let t = crate::load_str("ft.yml", &fat_tree(4)).unwrap();
        // k=4: 4 core, 8 aggregation, 8 edge, 8 hosts; k^3/4 = 16 core-agg + 16 agg-edge links.
        assert_eq!(t.nodes.len(), 4 + 8 + 8 + 8);
        assert_eq!(t.links.len(), 16 + 16 + 8);
    }

    #[test]
    fn isp_loads_with_reflectors_and_originated_prefixes() {
        let t = crate::load_str("isp.yml", &isp(20, 3, 1)).unwrap();
        assert_eq!(t.nodes.len(), 20);
        assert_eq!(t.links.len(), 19 + 20);
        assert!(t.nodes[0].config["bgp"].get("rr").is_some());
    }
}

/// An SR-MPLS network for the TE benchmark: `routers` routers on IS-IS with node SIDs, iBGP
/// to two route reflectors (each router originates one /24), every tenth link red with 1
/// Gbit/s reservable, and `policies` SR-TE policies on head-ends r0.. (ten each, colours
/// 100-109) to random endpoints by CSPF (a third exclude red, half reserve 10 Mbit/s), each
/// with a colour rule that steers the endpoint's /24 into it.
pub fn sr_te(routers: usize, policies: usize, seed: u64) -> String {
    assert!(routers >= 2);
    let mut rng = SplitMix64::new(seed);
    let prefix = |i: usize| format!("{}.{}.{}.0/24", 100 + (i >> 16), (i >> 8) & 255, i & 255);
    let mut out = String::with_capacity(routers * 80 + policies * 160);
    out.push_str("name: sr-te\nmodule: [isis, sr, bgp]\naddressing:\n  loopback: {ipv4: 10.0.0.0/16}\n  p2p: {ipv4: 10.128.0.0/10, prefix: 31, allocation: sequential}\nnodes:\n");
    let heads = policies.div_ceil(10).min(routers);
    let mut left = policies;
    for i in 0..routers {
        let _ = write!(out, "  r{i}: {{asn: 65000, bgp: {{");
        if i < 2 {
            out.push_str("rr: true, ");
        }
        let _ = write!(out, "originate: [{}]}}", prefix(i));
        if i < heads && left > 0 {
            let k_max = left.min(10);
            left -= k_max;
            let mut tunnels = Vec::new();
            let mut colors = Vec::new();
            for k in 0..k_max {
                let mut e = rng.below(routers as u64) as usize;
                if e == i {
                    e = (e + 1) % routers;
                }
                let mut t = format!("p{k}: {{type: sr, to: r{e}, color: {}", 100 + k);
                if k % 3 == 0 {
                    t.push_str(", affinity: {exclude: [red]}");
                }
                if k % 2 == 0 {
                    t.push_str(", bandwidth: 10000");
                }
                t.push('}');
                tunnels.push(t);
                colors.push(format!("{{prefix: {}, color: {}}}", prefix(e), 100 + k));
            }
            let _ = write!(
                out,
                ", sr: {{te: {{tunnels: {{{}}}, color: [{}]}}}}",
                tunnels.join(", "),
                colors.join(", ")
            );
        }
        out.push_str("}\n");
    }
    let mut links = String::new();
    mesh_links(&mut links, &mut rng, routers, routers, 10, Some(10));
    for (n, line) in links.lines().enumerate() {
        if n > 0 && n % 10 == 0 {
            let line = line.strip_suffix('}').unwrap_or(line);
            let _ = writeln!(
                out,
                "{line}, sr: {{te: {{affinity: [red], bandwidth: 1000000}}}}}}"
            );
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
