//! Scenarios: who announces what (the attack), how far it is scoped (stealth), which defences
//! which ASes run, and which ASes feed route collectors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::graph::AsGraph;
use crate::prefix::{rov_state, Prefix, Roa, RovState};

/// What the attacker announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// No attack: only the victim's legitimate announcement (the baseline).
    None,
    /// The attacker originates the victim's prefix.
    Prefix,
    /// The attacker originates a more specific prefix inside the victim's prefix.
    Subprefix,
    /// The attacker announces the victim's prefix with path `attacker victim` (forged origin,
    /// RPKI-valid).
    ForgedOrigin,
    /// Forged origin on a more specific prefix (valid only when the ROA's max length allows it).
    ForgedOriginSubprefix,
    /// The attacker re-exports its best route for the victim's prefix, learnt from a provider or
    /// peer, to all its neighbours (a type-1 "hairpin" leak, RFC 7908). No leak happens when the
    /// attacker's route is a customer route (exporting that everywhere is legitimate).
    RouteLeak,
}

impl AttackKind {
    pub const ALL: [AttackKind; 6] = [
        AttackKind::None,
        AttackKind::Prefix,
        AttackKind::Subprefix,
        AttackKind::ForgedOrigin,
        AttackKind::ForgedOriginSubprefix,
        AttackKind::RouteLeak,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AttackKind::None => "none",
            AttackKind::Prefix => "prefix",
            AttackKind::Subprefix => "subprefix",
            AttackKind::ForgedOrigin => "forged-origin",
            AttackKind::ForgedOriginSubprefix => "forged-origin-subprefix",
            AttackKind::RouteLeak => "route-leak",
        }
    }

    fn uses_subprefix(self) -> bool {
        matches!(
            self,
            AttackKind::Subprefix | AttackKind::ForgedOriginSubprefix
        )
    }
}

impl fmt::Display for AttackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}; expected one of: {expected}")]
pub struct ParseNameError {
    pub what: &'static str,
    pub text: String,
    pub expected: &'static str,
}

impl FromStr for AttackKind {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        AttackKind::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .or(match t.as_str() {
                "legitimate" => Some(AttackKind::None),
                "prefix-hijack" => Some(AttackKind::Prefix),
                "subprefix-hijack" | "sub-prefix" => Some(AttackKind::Subprefix),
                "leak" => Some(AttackKind::RouteLeak),
                _ => None,
            })
            .ok_or(ParseNameError {
                what: "attack",
                text: s.to_string(),
                expected:
                    "none, prefix, subprefix, forged-origin, forged-origin-subprefix, route-leak",
            })
    }
}

/// To which of its neighbours the attacker sends its announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Targets {
    /// Every neighbour, as the relationship-based export policy allows.
    All,
    /// Only these neighbour ASNs (others listed but not neighbours are ignored).
    Only(Vec<u32>),
    /// Only neighbours that are not collector peers.
    NonCollectors,
}

/// How an attacker scopes its announcement to stay out of route collectors' view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub targets: Targets,
    /// Tag with the NO_EXPORT community (RFC 1997): receivers keep the route but do not pass it
    /// to any eBGP neighbour, route collectors included.
    pub no_export: bool,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            targets: Targets::All,
            no_export: false,
        }
    }
}

impl FromStr for Scope {
    type Err = ParseNameError;
    /// `all`, `no-export`, `avoid-collectors`, `neighbors:ASN,ASN`, combinable with `+`
    /// (e.g. `avoid-collectors+no-export`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseNameError {
            what: "stealth scope",
            text: s.to_string(),
            expected: "all, no-export, avoid-collectors, neighbors:ASN,ASN (combine with +)",
        };
        let mut scope = Scope::default();
        for part in s.split('+') {
            let part = part.trim().to_ascii_lowercase();
            match part.as_str() {
                "all" | "" => {}
                "no-export" | "noexport" => scope.no_export = true,
                "avoid-collectors" | "non-collectors" => scope.targets = Targets::NonCollectors,
                _ => {
                    let list = part.strip_prefix("neighbors:").ok_or_else(err)?;
                    let asns = list
                        .split(',')
                        .map(|a| a.trim().trim_start_matches("as").parse::<u32>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| err())?;
                    scope.targets = Targets::Only(asns);
                }
            }
        }
        Ok(scope)
    }
}

/// Which filters adopting ASes run; any combination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defences {
    /// Route origin validation: drop RPKI-invalid routes (RFC 6811).
    pub rov: bool,
    /// ASPA AS_PATH verification: drop ASPA-invalid routes.
    pub aspa: bool,
    /// Peer-lock: drop routes from customers or peers whose path contains a locked AS other than
    /// the neighbour itself.
    pub peer_lock: bool,
}

impl Defences {
    pub fn none() -> Self {
        Defences::default()
    }

    pub fn is_none(&self) -> bool {
        !(self.rov || self.aspa || self.peer_lock)
    }
}

impl fmt::Display for Defences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.rov {
            parts.push("rov");
        }
        if self.aspa {
            parts.push("aspa");
        }
        if self.peer_lock {
            parts.push("peerlock");
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join("+"))
        }
    }
}

impl FromStr for Defences {
    type Err = ParseNameError;
    /// `none`, `rov`, `aspa`, `peerlock`, combinable with `+` (e.g. `rov+aspa`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut d = Defences::default();
        for part in s.split('+') {
            match part.trim().to_ascii_lowercase().as_str() {
                "none" => {}
                "rov" => d.rov = true,
                "aspa" => d.aspa = true,
                "peerlock" | "peer-lock" => d.peer_lock = true,
                _ => {
                    return Err(ParseNameError {
                        what: "defence",
                        text: s.to_string(),
                        expected: "none, rov, aspa, peerlock (combine with +)",
                    })
                }
            }
        }
        Ok(d)
    }
}

/// One simulation: the victim's announcement, the attack, defences and observers. ASes are
/// named by ASN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub attack: AttackKind,
    pub victim: u32,
    /// Ignored when `attack` is `None`.
    pub attacker: u32,
    /// The victim's announced prefix.
    pub victim_prefix: Prefix,
    /// Length of the attacker's more specific for sub-prefix attacks (the first such prefix
    /// inside `victim_prefix` is announced).
    pub subprefix_len: u8,
    /// ROAs; `None` means one ROA for the victim's prefix with max length equal to its length.
    pub roas: Option<Vec<Roa>>,
    pub scope: Scope,
    pub defences: Defences,
    /// ASes that run `defences`.
    pub adopters: Vec<u32>,
    /// ASes that publish an ASPA record (their true provider set); `None` means the adopters.
    pub aspa_records: Option<Vec<u32>>,
    /// ASes protected by peer-lock; `None` means the graph's tier-1s.
    pub locked: Option<Vec<u32>>,
    /// ASes that feed route collectors (their best routes are what the collectors see).
    pub collectors: Vec<u32>,
}

/// The prefix used when none is given.
pub fn default_victim_prefix() -> Prefix {
    "10.0.0.0/16".parse().expect("valid literal")
}

impl Scenario {
    /// A scenario with the default prefix (10.0.0.0/16, sub-prefix /24), no defences and no
    /// collectors.
    pub fn new(attack: AttackKind, victim: u32, attacker: u32) -> Scenario {
        Scenario {
            attack,
            victim,
            attacker,
            victim_prefix: default_victim_prefix(),
            subprefix_len: 24,
            roas: None,
            scope: Scope::default(),
            defences: Defences::none(),
            adopters: Vec::new(),
            aspa_records: None,
            locked: None,
            collectors: Vec::new(),
        }
    }

    pub fn with_defences(mut self, defences: Defences, adopters: Vec<u32>) -> Scenario {
        self.defences = defences;
        self.adopters = adopters;
        self
    }

    pub fn with_scope(mut self, scope: Scope) -> Scenario {
        self.scope = scope;
        self
    }

    pub fn with_collectors(mut self, collectors: Vec<u32>) -> Scenario {
        self.collectors = collectors;
        self
    }

    pub fn effective_roas(&self) -> Vec<Roa> {
        self.roas.clone().unwrap_or_else(|| {
            vec![Roa {
                prefix: self.victim_prefix,
                max_length: self.victim_prefix.len(),
                asn: self.victim,
            }]
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("{role} AS{asn} is not in the graph")]
    UnknownAs { role: &'static str, asn: u32 },
    #[error("the attacker and the victim are the same AS{0}")]
    SameAs(u32),
    #[error("sub-prefix length /{len} must be longer than the victim prefix {prefix} and at most /{}", .prefix.max_len())]
    BadSubprefix { prefix: Prefix, len: u8 },
}

/// Which side an announcement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    Victim,
    Attacker,
}

/// A route injected at one AS: an origination, a forged-origin announcement or a leak.
#[derive(Debug, Clone)]
pub(crate) struct Seed {
    pub prefix: usize,
    pub at: u32,
    /// Dense ids, `at` first, origin last.
    pub path: Vec<u32>,
    pub owner: Owner,
    pub rov_invalid: bool,
    /// Sorted neighbour ids the seed is sent to; `None` = all.
    pub targets: Option<Vec<u32>>,
    pub no_export: bool,
}

pub(crate) const F_ROV: u8 = 1;
pub(crate) const F_ASPA_VERIFY: u8 = 2;
pub(crate) const F_PEER_LOCK: u8 = 4;
pub(crate) const F_ASPA_RECORD: u8 = 8;
pub(crate) const F_COLLECTOR: u8 = 16;
pub(crate) const F_LOCKED: u8 = 32;

/// A scenario resolved to dense ids, ready for the engine.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub attack: AttackKind,
    pub victim: u32,
    pub attacker: Option<u32>,
    pub victim_prefix: Prefix,
    /// Index 0 is the victim's prefix; index 1, when present, the attacker's more specific.
    pub prefixes: Vec<Prefix>,
    pub seeds: Vec<Seed>,
    pub roas: Vec<Roa>,
    pub scope: Scope,
    /// Per-AS bit set of the `F_*` flags.
    pub flags: Vec<u8>,
}

impl Prepared {
    /// Resolves the scenario's ASNs to ids, builds the per-AS defence/collector flags and the
    /// announcements. Experiments, which compute flags themselves, use `with_flags`.
    pub fn new(graph: &AsGraph, sc: &Scenario) -> Result<Prepared, ScenarioError> {
        let id = |role: &'static str, asn: u32| {
            graph.id(asn).ok_or(ScenarioError::UnknownAs { role, asn })
        };
        let n = graph.len();
        let mut flags = vec![0u8; n];
        let mut verify = 0u8;
        if sc.defences.rov {
            verify |= F_ROV;
        }
        if sc.defences.aspa {
            verify |= F_ASPA_VERIFY;
        }
        if sc.defences.peer_lock {
            verify |= F_PEER_LOCK;
        }
        for &a in &sc.adopters {
            flags[id("adopter", a)? as usize] |= verify;
        }
        if sc.defences.aspa {
            match &sc.aspa_records {
                Some(list) => {
                    for &a in list {
                        flags[id("ASPA record holder", a)? as usize] |= F_ASPA_RECORD;
                    }
                }
                None => {
                    for &a in &sc.adopters {
                        flags[id("adopter", a)? as usize] |= F_ASPA_RECORD;
                    }
                }
            }
        }
        if sc.defences.peer_lock {
            match &sc.locked {
                Some(list) => {
                    for &a in list {
                        flags[id("locked", a)? as usize] |= F_LOCKED;
                    }
                }
                None => {
                    for t in graph.tier1s() {
                        flags[t as usize] |= F_LOCKED;
                    }
                }
            }
        }
        for &c in &sc.collectors {
            flags[id("collector", c)? as usize] |= F_COLLECTOR;
        }
        let victim = id("victim", sc.victim)?;
        let attacker = if sc.attack == AttackKind::None {
            None
        } else {
            let a = id("attacker", sc.attacker)?;
            if a == victim {
                return Err(ScenarioError::SameAs(sc.victim));
            }
            Some(a)
        };
        if sc.attack.uses_subprefix() && !sc.victim_prefix.has_subprefix_len(sc.subprefix_len) {
            return Err(ScenarioError::BadSubprefix {
                prefix: sc.victim_prefix,
                len: sc.subprefix_len,
            });
        }
        Ok(Self::with_flags(
            graph,
            sc.attack,
            victim,
            attacker,
            sc.victim_prefix,
            sc.subprefix_len,
            sc.effective_roas(),
            sc.scope.clone(),
            flags,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn with_flags(
        graph: &AsGraph,
        attack: AttackKind,
        victim: u32,
        attacker: Option<u32>,
        victim_prefix: Prefix,
        subprefix_len: u8,
        roas: Vec<Roa>,
        scope: Scope,
        flags: Vec<u8>,
    ) -> Prepared {
        let mut prefixes = vec![victim_prefix];
        if attack.uses_subprefix() {
            prefixes.push(victim_prefix.first_subprefix(subprefix_len));
        }
        let mut p = Prepared {
            attack,
            victim,
            attacker,
            victim_prefix,
            prefixes,
            seeds: Vec::new(),
            roas,
            scope,
            flags,
        };
        p.push_seed(graph, 0, victim, vec![victim], Owner::Victim, false);
        if let Some(a) = attacker {
            match attack {
                AttackKind::None | AttackKind::RouteLeak => {}
                AttackKind::Prefix => p.push_seed(graph, 0, a, vec![a], Owner::Attacker, true),
                AttackKind::Subprefix => p.push_seed(graph, 1, a, vec![a], Owner::Attacker, true),
                AttackKind::ForgedOrigin => {
                    p.push_seed(graph, 0, a, vec![a, victim], Owner::Attacker, true)
                }
                AttackKind::ForgedOriginSubprefix => {
                    p.push_seed(graph, 1, a, vec![a, victim], Owner::Attacker, true)
                }
            }
        }
        p
    }

    /// Adds a seed; `scoped` applies the scenario's stealth scope (attacker announcements only).
    pub fn push_seed(
        &mut self,
        graph: &AsGraph,
        prefix: usize,
        at: u32,
        path: Vec<u32>,
        owner: Owner,
        scoped: bool,
    ) {
        let origin = graph.asn(*path.last().expect("non-empty path"));
        let rov_invalid =
            rov_state(&self.roas, &self.prefixes[prefix], origin) == RovState::Invalid;
        let (targets, no_export) = if scoped {
            let targets = match &self.scope.targets {
                Targets::All => None,
                Targets::Only(list) => {
                    let mut ids: Vec<u32> = list.iter().filter_map(|&a| graph.id(a)).collect();
                    ids.sort_unstable();
                    Some(ids)
                }
                Targets::NonCollectors => {
                    let mut ids: Vec<u32> = graph
                        .providers(at)
                        .iter()
                        .chain(graph.peers(at))
                        .chain(graph.customers(at))
                        .copied()
                        .filter(|&x| self.flags[x as usize] & F_COLLECTOR == 0)
                        .collect();
                    ids.sort_unstable();
                    Some(ids)
                }
            };
            (targets, self.scope.no_export)
        } else {
            (None, false)
        };
        self.seeds.push(Seed {
            prefix,
            at,
            path,
            owner,
            rov_invalid,
            targets,
            no_export,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(
            "subprefix".parse::<AttackKind>().unwrap(),
            AttackKind::Subprefix
        );
        assert_eq!(
            "Route-Leak".parse::<AttackKind>().unwrap(),
            AttackKind::RouteLeak
        );
        for k in AttackKind::ALL {
            assert_eq!(k.name().parse::<AttackKind>().unwrap(), k);
        }
        assert!("bogus".parse::<AttackKind>().is_err());
        let d: Defences = "rov+aspa".parse().unwrap();
        assert!(d.rov && d.aspa && !d.peer_lock);
        assert_eq!(d.to_string(), "rov+aspa");
        assert!("none".parse::<Defences>().unwrap().is_none());
        assert!("rpki".parse::<Defences>().is_err());
        let s: Scope = "avoid-collectors+no-export".parse().unwrap();
        assert_eq!(
            s,
            Scope {
                targets: Targets::NonCollectors,
                no_export: true
            }
        );
        let s: Scope = "neighbors:AS5,6".parse().unwrap();
        assert_eq!(s.targets, Targets::Only(vec![5, 6]));
        assert!("neighbors:x".parse::<Scope>().is_err());
    }
}
