//! The CLI session driven byte by byte, as a terminal would, over the lab topology.

use nettwin_cli::session::{Mode, Session, SessionOptions};
use nettwin_cli::{ModelTwin, Twin};
use std::sync::Arc;

fn lab() -> Arc<dyn Twin> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lab.yml");
    let topo = nettwin_model::load_file(std::path::Path::new(path)).expect("lab.yml loads");
    Arc::new(ModelTwin::new(topo))
}

fn session(twin: &Arc<dyn Twin>, node: &str, privileged: bool) -> Session {
    let id = twin.view().topology().node_by_name(node).unwrap().id;
    let mut s = Session::new(
        twin.clone(),
        id,
        SessionOptions {
            enable_secret: Some("cisco".into()),
            privileged,
            abbrevs: Vec::new(),
        },
    );
    s.start();
    s
}

fn type_line(s: &mut Session, line: &str) -> String {
    let mut input = line.as_bytes().to_vec();
    input.push(b'\r');
    String::from_utf8_lossy(&s.feed(&input)).into_owned()
}

#[test]
fn prompts_modes_and_enable_secret() {
    let twin = lab();
    let id = twin.view().topology().node_by_name("r1").unwrap().id;
    let mut s = Session::new(
        twin.clone(),
        id,
        SessionOptions {
            enable_secret: Some("cisco".into()),
            ..Default::default()
        },
    );
    assert_eq!(String::from_utf8(s.start()).unwrap(), "\r\nr1>");
    let out = type_line(&mut s, "enable");
    assert_eq!(out, "enable\r\nPassword: ");
    // The secret is not echoed; a wrong one asks again.
    assert_eq!(type_line(&mut s, "wrong"), "\r\nPassword: ");
    assert_eq!(type_line(&mut s, "cisco"), "\r\nr1#");
    assert_eq!(s.mode(), Mode::Privileged);
    let out = type_line(&mut s, "conf t");
    assert!(out.ends_with("End with CNTL/Z.\r\nr1(config)#"), "{out:?}");
    assert!(type_line(&mut s, "int gi0/1").ends_with("r1(config-if)#"));
    assert!(type_line(&mut s, "exit").ends_with("r1(config)#"));
    assert!(type_line(&mut s, "router ospf 1").ends_with("r1(config-router)#"));
    assert!(type_line(&mut s, "end").ends_with("r1#"));
    assert!(type_line(&mut s, "disable").ends_with("r1>"));
    // A privileged command does not exist in user mode.
    assert!(type_line(&mut s, "configure terminal").contains("% Invalid input detected"));
    type_line(&mut s, "exit");
    assert!(s.is_closed());
}

#[test]
fn three_wrong_enable_secrets_end_the_session() {
    let twin = lab();
    let mut s = session(&twin, "r1", false);
    assert_eq!(type_line(&mut s, "enable"), "enable\r\nPassword: ");
    assert_eq!(s.take_secret_failures(), 0);
    assert_eq!(type_line(&mut s, "one"), "\r\nPassword: ");
    assert_eq!(s.take_secret_failures(), 1);
    // Guesses typed ahead in one go are each counted, so the transport delays each.
    let out = String::from_utf8_lossy(&s.feed(b"two\rthree\rcisco\r")).into_owned();
    assert_eq!(out, "\r\nPassword: \r\n% Bad secrets\r\n\r\n");
    assert_eq!(s.take_secret_failures(), 2);
    assert!(s.is_closed());
    assert_eq!(s.mode(), Mode::User);
}

#[test]
fn every_character_is_echoed() {
    let twin = lab();
    let mut s = session(&twin, "r1", true);
    for c in "terminal width 511".bytes() {
        assert_eq!(s.feed(&[c]), vec![c]);
    }
    assert_eq!(s.feed(b"\n"), b"\r\nr1#".to_vec());
    // CR LF counts as one Enter.
    assert_eq!(s.feed(b"\r\n"), b"\r\nr1#".to_vec());
}

#[test]
fn abbreviations_and_errors() {
    let twin = lab();
    let mut s = session(&twin, "r1", true);
    let out = type_line(&mut s, "sh ip ro");
    assert!(out.contains("Gateway of last resort is 198.19.0.2 to network 0.0.0.0"));
    assert!(
        out.contains("S*    0.0.0.0/0 [1/0] via 198.19.0.2\r\n"),
        "{out}"
    );
    assert!(out.contains("C        198.18.0.1 is directly connected, Loopback0"));
    assert!(out.contains("C        198.19.0.0/30 is directly connected, GigabitEthernet0/1"));
    assert!(out.contains("L        198.19.0.1/32 is directly connected, GigabitEthernet0/1"));
    // 198.18.30.0/24 is a whole class C network: no subnet header, the mask shown.
    assert!(
        out.contains("S     198.18.30.0/24 [1/0] via 198.19.0.2\r\n"),
        "{out}"
    );
    // `t` fits terminal and traceroute.
    assert!(type_line(&mut s, "t").contains("% Ambiguous command: \"t\""));
    let out = type_line(&mut s, "show ipx route");
    // Marker under `ipx`: prompt `r1#` (3) + `show ` (5).
    assert!(
        out.contains("\r\n        ^\r\n% Invalid input detected at '^' marker."),
        "{out:?}"
    );
    assert!(type_line(&mut s, "show ip").contains("% Incomplete command."));
    let out = type_line(&mut s, "sh ip int b");
    assert!(out.contains(
        "GigabitEthernet0/1         198.19.0.1      YES NVRAM  up                    up"
    ));
    assert!(out.contains("Loopback0                  198.18.0.1"));
}

#[test]
fn help_tab_and_history() {
    let twin = lab();
    let mut s = session(&twin, "r1", true);
    let out = String::from_utf8(s.feed(b"show ip ?")).unwrap();
    assert!(out.starts_with("show ip ?\r\n"));
    for w in ["bgp", "interface", "ospf", "route"] {
        assert!(out.contains(&format!("  {w} ")), "{w} in {out}");
    }
    // The line is typed again after the help.
    assert!(out.ends_with("r1#show ip "));
    s.feed(b"\x15");
    assert_eq!(String::from_utf8(s.feed(b"sh\t")).unwrap(), "show ");
    assert_eq!(String::from_utf8(s.feed(b"ver\t")).unwrap(), "version ");
    let out = type_line(&mut s, "");
    assert!(out.contains("nettwin Software"));
    // Arrow up recalls the last command.
    let out = String::from_utf8(s.feed(b"\x1b[A")).unwrap();
    assert!(out.ends_with("show version "), "{out:?}");
    let out = type_line(&mut s, "");
    assert!(out.contains("r1 uptime is"));
}

#[test]
fn user_abbreviations_are_bounded() {
    use nettwin_cli::session::{MAX_ABBREVS, MAX_ABBREV_LEN};
    let twin = lab();
    let mut s = session(&twin, "r1", true);
    for k in 0..MAX_ABBREVS {
        let out = type_line(&mut s, &format!("abbrev a{k} show version"));
        assert_eq!(out, format!("abbrev a{k} show version\r\nr1#"));
    }
    let out = type_line(&mut s, "abbrev one-more show version");
    assert!(
        out.contains("% Too many abbreviations (at most 256); remove one with \"no abbrev NAME\""),
        "{out:?}"
    );
    // Redefining one is not one more; removing one makes room.
    assert!(!type_line(&mut s, "abbrev a0 show ip route").contains('%'));
    type_line(&mut s, "no abbrev a1");
    assert!(!type_line(&mut s, "abbrev one-more show version").contains('%'));
    let long = "x".repeat(MAX_ABBREV_LEN + 1);
    let out = type_line(&mut s, &format!("no abbrev a2\rabbrev big show {long}"));
    assert!(
        out.contains("% Abbreviation too long (at most 1024 characters)"),
        "{out:?}"
    );
    let out = type_line(&mut s, &format!("abbrev {long} show version"));
    assert!(out.contains("% Abbreviation too long"), "{out:?}");
    // a2 went to make room for `big`, which was refused.
    let listed = type_line(&mut s, "terminal length 0\rshow abbrev");
    assert_eq!(
        listed.matches(" show ").count(),
        MAX_ABBREVS - 1,
        "{listed}"
    );
}

#[test]
fn user_abbreviations_expand_on_space() {
    let twin = lab();
    let mut s = session(&twin, "r2", true);
    type_line(&mut s, "abbrev sir show ip route");
    let listed = type_line(&mut s, "show abbrev");
    assert!(listed.contains("sir              show ip route"));
    // Typing `sir ` erases the word and prints the expansion.
    let out = String::from_utf8(s.feed(b"sir ")).unwrap();
    assert_eq!(out, "sir\x08 \x08\x08 \x08\x08 \x08show ip route ");
    let out = type_line(&mut s, "198.18.30.1");
    assert!(out.contains("Routing entry for 198.18.30.0/24"));
    assert!(out.contains("Known via \"static\", distance 1, metric 0"));
    assert!(out.contains("* 198.19.0.6"));
    // Alone on the line, it expands when Enter is pressed.
    let out = type_line(&mut s, "sir");
    assert!(out.contains("show ip route\r\n"));
    assert!(out.contains("Gateway of last resort is not set"));
    type_line(&mut s, "no abbrev sir");
    assert!(type_line(&mut s, "sir").contains("% Invalid input detected"));
}

#[test]
fn paging_with_more() {
    let twin = lab();
    let mut s = session(&twin, "r1", true);
    type_line(&mut s, "terminal length 5");
    let out = type_line(&mut s, "show running-config");
    assert!(out.ends_with(" --More-- "), "{out:?}");
    assert_eq!(
        out.matches("\r\n").count(),
        5,
        "echo line + 4 lines: {out:?}"
    );
    let out = String::from_utf8(s.feed(b"\r")).unwrap();
    assert_eq!(out.matches("\r\n").count(), 1);
    let out = String::from_utf8(s.feed(b"q")).unwrap();
    assert!(out.ends_with("r1#"));
    type_line(&mut s, "terminal length 0");
    let out = type_line(&mut s, "show running-config");
    assert!(!out.contains("--More--"));
    assert!(out.contains("hostname r1"));
    assert!(out.contains("ip route 0.0.0.0 0.0.0.0 198.19.0.2"));
    assert!(out.contains(
        "interface GigabitEthernet0/1\r\n ip address 198.19.0.1 255.255.255.252\r\n mtu 9000"
    ));
}

#[test]
fn pipes_and_do() {
    let twin = lab();
    let mut s = session(&twin, "r1", true);
    let out = type_line(&mut s, "show running-config | include ^hostname|^ip route");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1..lines.len() - 1],
        [
            "hostname r1",
            "ip route 198.18.30.0 255.255.255.0 198.19.0.2",
            "ip route 0.0.0.0 0.0.0.0 198.19.0.2"
        ]
    );
    type_line(&mut s, "conf t");
    let out = type_line(&mut s, "do sh ip int br | inc Loopback");
    assert!(out.contains("Loopback0                  198.18.0.1"));
    assert!(out.ends_with("r1(config)#"));
}

#[test]
fn changes_are_seen_by_other_devices() {
    let twin = lab();
    let mut r1 = session(&twin, "r1", true);
    let mut r2 = session(&twin, "r2", true);
    assert!(type_line(&mut r2, "show ip route").contains("198.19.0.0/30 is directly connected"));
    for l in ["conf t", "interface GigabitEthernet0/1", "shutdown", "end"] {
        let out = type_line(&mut r1, l);
        assert!(!out.contains('%'), "{l}: {out}");
    }
    // The far end loses carrier: down/down, and its connected route is gone.
    let brief = type_line(&mut r2, "show ip interface brief");
    assert!(brief.contains(
        "GigabitEthernet0/1         198.19.0.2      YES NVRAM  down                  down"
    ));
    let brief1 = type_line(&mut r1, "show ip interface brief");
    assert!(brief1.contains("administratively down down"));
    let routes = type_line(&mut r2, "show ip route");
    assert!(!routes.contains("198.19.0.0/30"));
    // r2's static to r1's loopback no longer resolves.
    assert!(!routes.contains("198.18.0.1"));
    let cfg = type_line(&mut r1, "show running-config");
    assert!(cfg.contains("mtu 9000\r\n shutdown\r\n"));
    for l in [
        "conf t",
        "int gi0/1",
        "no shut",
        "ip address 198.19.0.9 255.255.255.252",
        "end",
    ] {
        type_line(&mut r1, l);
    }
    let routes = type_line(&mut r2, "show ip route");
    assert!(routes.contains("198.19.0.0/30 is directly connected"));
    // r1 moved to another subnet: its old address is gone and the new one is local.
    let routes1 = type_line(&mut r1, "show ip route");
    assert!(routes1.contains("L        198.19.0.9/32 is directly connected"));
    assert!(!routes1.contains("198.19.0.1/32"));
}

#[test]
fn static_routes_and_ping() {
    let twin = lab();
    let mut r1 = session(&twin, "r1", true);
    let out = type_line(&mut r1, "ping 198.18.30.10");
    assert!(out.contains("!!!!!\r\n"), "{out}");
    // r2-r3 is 2 ms each way, the rest 0: 4 ms round trip.
    assert!(out.contains("Success rate is 100 percent (5/5), round-trip min/avg/max = 4/4/4 ms"));
    let out = type_line(&mut r1, "traceroute 198.18.30.10");
    assert!(out.contains("  1 198.19.0.2 1 msec"), "{out}");
    assert!(out.contains("  2 198.19.0.6 4 msec"));
    assert!(out.contains("  3 198.18.30.10 4 msec"));
    // Take the r2 -> LAN static away: r2 answers unreachable.
    let mut r2 = session(&twin, "r2", true);
    type_line(&mut r2, "terminal length 0");
    for l in [
        "conf t",
        "no ip route 198.18.30.0 255.255.255.0 198.19.0.6",
        "end",
    ] {
        let out = type_line(&mut r2, l);
        assert!(!out.contains('%'), "{l}: {out}");
    }
    let out = type_line(&mut r1, "ping 198.18.30.10");
    assert!(
        out.contains("UUUUU\r\nSuccess rate is 0 percent (0/5)"),
        "{out}"
    );
    // Adding it back with a floating distance restores reachability.
    type_line(&mut r2, "conf t");
    type_line(&mut r2, "ip route 198.18.30.0 255.255.255.0 198.19.0.6 200");
    let out = type_line(&mut r2, "do show ip route");
    assert!(
        out.contains("S     198.18.30.0/24 [200/0] via 198.19.0.6"),
        "{out}"
    );
    assert!(type_line(&mut r1, "ping 198.18.30.10").contains("(5/5)"));
    // Bad input to config commands.
    assert!(
        type_line(&mut r2, "ip route 198.18.30.1 255.255.255.0 198.19.0.6")
            .contains("% Inconsistent address and mask")
    );
    assert!(
        type_line(&mut r2, "no ip route 198.18.99.0 255.255.255.0 198.19.0.6")
            .contains("% No matching route to delete")
    );
    assert!(type_line(&mut r2, "interface gi0/9").contains("% Invalid input detected"));
    type_line(&mut r2, "int gi0/2");
    assert!(type_line(&mut r2, "mtu 40").contains("% Invalid input detected"));
    assert!(type_line(&mut r2, "ip address 198.19.0.1 255.255.255.0").contains("overlaps"));
    type_line(&mut r2, "mtu 1400");
    type_line(&mut r2, "ip ospf cost 7");
    let cfg = type_line(&mut r2, "do show run");
    assert!(
        cfg.contains(" ip address 198.19.0.5 255.255.255.252\r\n ip ospf cost 7\r\n mtu 1400\r\n")
    );
    let intf = type_line(&mut r2, "do show interfaces gi0/2");
    assert!(
        intf.starts_with(
            "do show interfaces gi0/2\r\nGigabitEthernet0/2 is up, line protocol is up"
        ),
        "{intf:?}"
    );
    assert!(intf.contains("  MTU 1400 bytes, BW 1000000 Kbit/sec, DLY 10 usec,"));
}

#[test]
fn hostile_input_is_bounded() {
    let twin = lab();
    let mut s = session(&twin, "r1", true);
    let big = vec![b'a'; 1 << 20];
    let out = s.feed(&big);
    assert_eq!(out.len(), nettwin_cli::session::MAX_LINE);
    let out = String::from_utf8(s.feed(b"\r")).unwrap();
    assert!(out.contains("% Invalid input detected"));
    // Control bytes, stray escapes and non-ASCII bytes do not break the session.
    s.feed(&[0x1b, b'[', b'Z', 0xff, 0xfe, 0x00, 0x1b, 0x1b]);
    s.feed(b"\x15");
    assert!(type_line(&mut s, "show version").contains("r1 uptime is"));
}

#[test]
fn concurrent_writers_and_readers_see_whole_states() {
    use nettwin_cli::{Change, RouteProtocol};
    let twin = lab();
    let view = twin.view();
    let topo = view.topology();
    let r1 = topo.node_by_name("r1").unwrap().id;
    let r2 = topo.node_by_name("r2").unwrap().id;
    let subnet: nettwin_model::Prefix = "198.19.0.0/30".parse().unwrap();
    std::thread::scope(|s| {
        for w in 0..3 {
            let twin = twin.clone();
            s.spawn(move || {
                for k in 0..200 {
                    let up = (k + w) % 2 == 0;
                    twin.apply(r1, &Change::InterfaceAdmin { interface: 0, up })
                        .unwrap();
                }
            });
        }
        for _ in 0..3 {
            let twin = twin.clone();
            s.spawn(move || {
                for _ in 0..500 {
                    let v = twin.view();
                    let r1_up = v.topology().node(r1).interfaces[0].up;
                    let r2_has = v
                        .routes(r2)
                        .iter()
                        .any(|r| r.prefix == subnet && r.protocol == RouteProtocol::Connected);
                    // One view is one converged network: r1's admin state and r2's table agree.
                    assert_eq!(r1_up, r2_has);
                }
            });
        }
    });
}

/// `show mpls forwarding-table` and `show mpls ldp bindings` on a Cisco LDP chain: the LFIB
/// and LIB of the routing engine in IOS's layouts (ntc-templates has no template for either,
/// so the layout is checked here line by line).
#[test]
fn show_mpls_forwarding_table_and_ldp_bindings() {
    let text = nettwin_model::generate::with_benchmark_pools(
        "module: [ospf, mpls]\ndefaults.platform: cisco-xe\nnodes: [pe1, p1, pe2]\nlinks: [pe1-p1, p1-pe2]\n",
    );
    let topo = nettwin_model::load_str("t.yml", &text).unwrap();
    let twin: Arc<dyn Twin> = Arc::new(ModelTwin::with_routing(topo).unwrap());
    let mut s = session(&twin, "p1", false);
    let out = type_line(&mut s, "show mpls forwarding-table");
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(
        &lines[1..5],
        &[
            "Local      Outgoing   Prefix           Bytes Label   Outgoing   Next Hop    ",
            "Label      Label      or Tunnel Id     Switched      interface              ",
            "16         Pop Label  198.18.0.1/32    0             Gi0/1      198.19.0.0",
            "17         Pop Label  198.18.0.3/32    0             Gi0/2      198.19.0.3",
        ],
        "{out}"
    );
    let out = type_line(&mut s, "sh mpls ldp bind");
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(
        &lines[1..5],
        &[
            "  lib entry: 198.18.0.1/32, rev 2",
            "        local binding:  label: 16",
            "        remote binding: lsr: 198.18.0.1:0, label: imp-null",
            "        remote binding: lsr: 198.18.0.3:0, label: 16",
        ],
        "{out}"
    );
    // Without MPLS the command says so.
    let plain = lab();
    let mut s = session(&plain, "r1", false);
    assert!(type_line(&mut s, "show mpls forwarding-table").contains("% MPLS not enabled"));
}

/// `show segment-routing traffic-eng policy` (IOS XR layout) with a policy pinned through p3
/// and p4, and `show ip route` listing the autoroute tunnel as the next hop of pe2's loopback.
#[test]
fn show_sr_te_policy_and_tunnel_next_hops() {
    let text = nettwin_model::generate::with_benchmark_pools(
        "module: [isis, mpls, sr]
defaults.platform: cisco-xr
nodes:
  pe1:
    mpls.te.tunnels.tunnel-te1: {type: sr, to: pe2, color: 100, autoroute: true, binding_sid: 15001, paths: [{explicit: [p3, p4]}]}
  p1:
  p3:
  p4:
  pe2:
links: [pe1-p1, p1-pe2, pe1-p3, p3-p4, p4-pe2]
",
    );
    let topo = nettwin_model::load_str("t.yml", &text).unwrap();
    let twin: Arc<dyn Twin> = Arc::new(ModelTwin::with_routing(topo).unwrap());
    let mut s = session(&twin, "pe1", false);
    let out = type_line(&mut s, "show segment-routing traffic-eng policy");
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(
        &lines[1..lines.len() - 1],
        &[
            "",
            "SR-TE policy database",
            "---------------------",
            "",
            "Color: 100, End-point: 198.18.0.5",
            "  Name: tunnel-te1",
            "  Status:",
            "    Admin: up  Operational: up",
            "  Candidate-paths:",
            "    Preference: 100 (configuration) (active)",
            "      path option 1",
            "      Metric Type: TE, Path Accumulated Metric: 30",
            "        16004 [Prefix-SID, 198.18.0.4]",
            "        16005 [Prefix-SID, 198.18.0.5]",
            "  Attributes:",
            "    Binding SID: 15001",
        ],
        "{out}"
    );
    let out = type_line(&mut s, "show ip route 198.18.0.5");
    assert!(out.contains("Tunnel1"), "{out}");
}
