//! ASPA-based AS_PATH verification, after draft-ietf-sidrops-aspa-verification (the hop-check
//! function, the upstream verification procedure for routes from customers and peers, and the
//! downstream procedure for routes from providers, with the up-ramp/down-ramp formulation used
//! since draft -16).

use serde::{Deserialize, Serialize};

use crate::graph::AsGraph;

/// Result of the hop check `hop(AS_i, AS_j)` (draft section "Hop-Check Function").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    /// AS_i has an ASPA and AS_j is in its provider set.
    ProviderPlus,
    /// AS_i has an ASPA and AS_j is not in it.
    NotProviderPlus,
    /// AS_i has no ASPA.
    NoAttestation,
}

/// Outcome of AS_PATH verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AspaState {
    Valid,
    Invalid,
    Unknown,
}

/// Whether the route came from a customer or a peer (upstream) or from a provider (downstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upstream,
    Downstream,
}

fn hop(graph: &AsGraph, has_record: &dyn Fn(u32) -> bool, a: u32, b: u32) -> Hop {
    if !has_record(a) {
        Hop::NoAttestation
    } else if graph.providers(a).binary_search(&b).is_ok() {
        // Records are truthful: an AS attests exactly its providers in the graph.
        Hop::ProviderPlus
    } else {
        Hop::NotProviderPlus
    }
}

/// Verifies `path` (dense ids, neighbour first, origin last, as received). Repeated ASes
/// (prepending) are collapsed first, as the draft requires. `has_record(id)` says whether an AS
/// published an ASPA.
pub fn verify(
    graph: &AsGraph,
    has_record: &dyn Fn(u32) -> bool,
    path: &[u32],
    direction: Direction,
) -> AspaState {
    // Work origin-first like the draft: seq[0] = AS_1 (origin), seq[n-1] = AS_N (neighbour).
    // Paths are short: collapse into a stack buffer, falling back to the heap for long ones.
    let mut stack = [0u32; 64];
    let mut heap = Vec::new();
    let mut n = 0;
    for &a in path.iter().rev() {
        if n > 0 && (if n <= 64 { stack[n - 1] } else { heap[n - 1] }) == a {
            continue;
        }
        if n < 64 {
            stack[n] = a;
        } else {
            if n == 64 {
                heap.extend_from_slice(&stack);
            }
            heap.push(a);
        }
        n += 1;
    }
    let seq: &[u32] = if n <= 64 { &stack[..n] } else { &heap };
    if n == 0 {
        return AspaState::Invalid;
    }
    // max_up_ramp / min_up_ramp: how far from the origin the path can be (resp. is proven to
    // be) a chain of customer-to-provider hops.
    let mut max_up = n;
    let mut min_up = n;
    for i in 0..n - 1 {
        match hop(graph, has_record, seq[i], seq[i + 1]) {
            Hop::ProviderPlus => {}
            Hop::NoAttestation => {
                if min_up == n {
                    min_up = i + 1;
                }
            }
            Hop::NotProviderPlus => {
                if min_up == n {
                    min_up = i + 1;
                }
                max_up = i + 1;
                break;
            }
        }
    }
    match direction {
        // Upstream procedure: the whole path must be an up-ramp.
        Direction::Upstream => {
            if max_up < n {
                AspaState::Invalid
            } else if min_up < n {
                AspaState::Unknown
            } else {
                AspaState::Valid
            }
        }
        // Downstream procedure: an up-ramp from the origin and a down-ramp from the neighbour
        // (read as provider hops seen from the receiving end) must together cover the path.
        Direction::Downstream => {
            if n <= 2 {
                return AspaState::Valid;
            }
            let mut max_down = n;
            let mut min_down = n;
            for j in (1..n).rev() {
                match hop(graph, has_record, seq[j], seq[j - 1]) {
                    Hop::ProviderPlus => {}
                    Hop::NoAttestation => {
                        if min_down == n {
                            min_down = n - j;
                        }
                    }
                    Hop::NotProviderPlus => {
                        if min_down == n {
                            min_down = n - j;
                        }
                        max_down = n - j;
                        break;
                    }
                }
            }
            if max_up + max_down < n {
                AspaState::Invalid
            } else if min_up + min_down < n {
                AspaState::Unknown
            } else {
                AspaState::Valid
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_with_prepending_verify_like_short_ones() {
        // AS i+1 is the provider of AS i, for 1..=100: a 100-AS climb is a valid upstream path.
        let text: String = (1..100).map(|i| format!("{}|{}|-1\n", i + 1, i)).collect();
        let g = AsGraph::parse_caida(&text, "chain").unwrap();
        let all = |_: u32| true;
        // Neighbour first: 100, 99, ..., 1 with the origin prepended three times.
        let mut path: Vec<u32> = (1..=100).rev().map(|a| g.id(a).unwrap()).collect();
        path.extend([g.id(1).unwrap(); 3]);
        assert_eq!(
            verify(&g, &all, &path, Direction::Upstream),
            AspaState::Valid
        );
        // Swap two hops in the middle: 51 is not a provider of 49.
        path.swap(49, 50);
        assert_eq!(
            verify(&g, &all, &path, Direction::Upstream),
            AspaState::Invalid
        );
        let none = |_: u32| false;
        assert_eq!(
            verify(&g, &none, &path, Direction::Upstream),
            AspaState::Unknown
        );
    }
}
