//! Property: the matrix (port ranges aggregated from each device's filter) agrees with asking
//! `can` for every ordered pair, protocol and port (range ends, neighbours and random ports).

use nettwin_access::policy::{ICMP, TCP, UDP};
use nettwin_access::{load, Tailnet};
use proptest::prelude::*;

const USERS: &[&str] = &["a@x.com", "b@x.com", "c@x.com"];
const TAGS: &[&str] = &["tag:s", "tag:t"];

fn nodes(owners: &[usize]) -> String {
    let mut s = String::new();
    for (i, o) in owners.iter().enumerate() {
        if *o < USERS.len() {
            s.push_str(&format!("- {{name: n{i}, user: {}}}\n", USERS[*o]));
        } else {
            s.push_str(&format!(
                "- {{name: n{i}, user: null, tags: ['{}']}}\n",
                TAGS[o - USERS.len()]
            ));
        }
    }
    s
}

fn src_alias() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        Just("autogroup:member".to_string()),
        Just("autogroup:tagged".to_string()),
        Just("group:g".to_string()),
        (0..USERS.len()).prop_map(|i| USERS[i].to_string()),
        (0..TAGS.len()).prop_map(|i| TAGS[i].to_string()),
        (1u8..6).prop_map(|i| format!("100.64.0.{i}")),
    ]
}

fn dst_alias() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        Just("autogroup:member".to_string()),
        Just("autogroup:self".to_string()),
        (0..USERS.len()).prop_map(|i| USERS[i].to_string()),
        (0..TAGS.len()).prop_map(|i| TAGS[i].to_string()),
        (1u8..6).prop_map(|i| format!("100.64.0.{i}")),
        Just("100.64.0.0/30".to_string()),
    ]
}

fn ports() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        (1u16..100).prop_map(|p| p.to_string()),
        (1u16..100, 0u16..50).prop_map(|(a, w)| format!("{a}-{}", a + w)),
        (1u16..50, 50u16..100).prop_map(|(a, b)| format!("{a},{b}")),
    ]
}

fn proto() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("tcp")),
        Just(Some("udp")),
        Just(Some("icmp"))
    ]
}

fn rule() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(src_alias(), 1..3),
        prop::collection::vec((dst_alias(), ports()), 1..3),
        proto(),
        any::<bool>(),
    )
        .prop_map(|(srcs, dsts, proto, grant)| {
            let self_dst = dsts.iter().any(|(d, _)| d == "autogroup:self");
            // autogroup:self needs user-like sources (and grants refuse `*` with it).
            let srcs: Vec<String> = if self_dst {
                vec!["autogroup:member".into()]
            } else {
                srcs
            };
            let src = srcs
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(",");
            if grant {
                let dst = dsts
                    .iter()
                    .map(|(d, _)| format!("\"{d}\""))
                    .collect::<Vec<_>>()
                    .join(",");
                let ip = match proto {
                    Some("icmp") => "\"icmp:*\"".to_string(),
                    Some(p) => format!("\"{p}:{}\"", dsts[0].1),
                    None => format!("\"{}\"", dsts[0].1),
                };
                format!("{{\"src\": [{src}], \"dst\": [{dst}], \"ip\": [{ip}]}}")
            } else {
                let p = proto
                    .map(|p| format!(", \"proto\": \"{p}\""))
                    .unwrap_or_default();
                let dst = dsts
                    .iter()
                    .map(|(d, ports)| {
                        let ports = if proto == Some("icmp") {
                            "*"
                        } else {
                            ports.as_str()
                        };
                        format!("\"{d}:{ports}\"")
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                format!("{{\"action\": \"accept\", \"src\": [{src}], \"dst\": [{dst}]{p}}}")
            }
        })
}

fn policy(rules: &[String]) -> String {
    let (grants, acls): (Vec<&String>, Vec<&String>) =
        rules.iter().partition(|r| r.contains("\"ip\""));
    let join = |v: Vec<&String>| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",\n");
    format!(
        "{{\"groups\": {{\"group:g\": [\"a@x.com\", \"c@x.com\"]}},\n \"tagOwners\": {{\"tag:s\": [], \"tag:t\": []}},\n \"acls\": [{}],\n \"grants\": [{}]}}",
        join(acls),
        join(grants)
    )
}

/// Ports worth asking about: every range end, its neighbours, and a few fixed ones.
fn probe_ports(allowed: &[String]) -> Vec<u16> {
    let mut v = vec![1, 22, 50, 99, 100, 65535];
    for a in allowed {
        if let Some((_, r)) = a.split_once(':') {
            if let Some((x, y)) = r.split_once('-') {
                let (x, y): (u16, u16) = (x.parse().unwrap(), y.parse().unwrap());
                v.extend([x.saturating_sub(1), x, y, y.saturating_add(1)]);
            } else if let Ok(p) = r.parse::<u16>() {
                v.extend([p.saturating_sub(1), p, p.saturating_add(1)]);
            }
        }
    }
    v.retain(|p| *p > 0);
    v
}

fn matrix_allows(allowed: &[String], proto: &str, port: u16) -> bool {
    allowed.iter().any(|a| {
        if a == "*" {
            return true;
        }
        if proto == "icmp" {
            return a == "icmp";
        }
        match a.split_once(':') {
            Some((p, r)) if p == proto => {
                r == "*"
                    || match r.split_once('-') {
                        Some((x, y)) => {
                            (x.parse::<u16>().unwrap()..=y.parse::<u16>().unwrap()).contains(&port)
                        }
                        None => r.parse::<u16>().unwrap() == port,
                    }
            }
            _ => false,
        }
    })
}

fn check(t: &Tailnet) -> Result<(), TestCaseError> {
    let m = t.matrix();
    for a in 0..t.devices.len() {
        for b in 0..t.devices.len() {
            if a == b {
                continue;
            }
            let (an, bn) = (&t.devices[a].name, &t.devices[b].name);
            let allowed: Vec<String> = m
                .iter()
                .find(|e| &e.from == an && &e.to == bn)
                .map(|e| e.allowed.clone())
                .unwrap_or_default();
            let who = t.who(an).unwrap();
            for (pname, pnum) in [("tcp", TCP), ("udp", UDP), ("icmp", ICMP)] {
                let ports = if pnum == ICMP {
                    vec![0]
                } else {
                    probe_ports(&allowed)
                };
                for port in ports {
                    let to = if pnum == ICMP {
                        bn.to_string()
                    } else {
                        format!("{bn}:{port}")
                    };
                    let target = t.target(&to, Some(pname)).unwrap();
                    let c = t.can(an, &who, &target, None, None);
                    prop_assert_eq!(
                        c.allowed,
                        matrix_allows(&allowed, pname, port),
                        "{} -> {} {}:{} matrix {:?} can {:?}\n{}",
                        an,
                        bn,
                        pname,
                        port,
                        allowed,
                        c,
                        t.policy.file
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn matrix_equals_can_for_every_pair(
        owners in prop::collection::vec(0usize..5, 2..6),
        rules in prop::collection::vec(rule(), 0..5),
    ) {
        let text = policy(&rules);
        let t = match load("p.hujson", &text, "n.yml", &nodes(&owners)) {
            Ok(t) => t,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}"))),
        };
        check(&t)?;
    }
}

#[test]
fn allow_all_matrix_equals_can() {
    let t = load("p.hujson", "{}", "n.yml", &nodes(&[0, 1, 3])).unwrap();
    check(&t).unwrap();
    assert_eq!(t.matrix().len(), 6);
}
