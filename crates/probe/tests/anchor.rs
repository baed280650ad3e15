//! The anchor: Debian's prometheus-blackbox-exporter and nettwin probe the same local targets
//! (the in-process `serve` on 127.0.0.1) with the same modules, and must agree on metric names,
//! label names, success, and every value that does not depend on timing.
//!
//! Needs the package (`scripts/probe-deps.sh`, run by `test.sh` as root; this test runs it too
//! when root and the package is missing). Without it and without root the test prints SKIPPED.
//! Debian ships 0.23.0; nettwin follows upstream's current code, so the metrics upstream added
//! since 0.23.0 (listed in `NEWER`, with the release that brought them) are the only ones
//! allowed on nettwin's side alone.

use nettwin_probe::metrics::{exposition, parse, samples};
use nettwin_probe::serve::{start, ServeConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXPORTER: &str = "/usr/bin/prometheus-blackbox-exporter";

/// Metrics (or label names) upstream added after 0.23.0, with the release that added them.
const NEWER: &[(&str, &str)] = &[
    ("probe_timeout_seconds", "after v0.28 (#1571)"),
    ("probe_tls_cipher_info", "v0.26.0 (#1203)"),
    ("probe_failed_due_to_bytes", "v0.28.0 (#1441)"),
    ("probe_ssl_last_chain_info.serialnumber", "v0.26.0 (#1333)"),
];

/// Gauges 0.23.0 registers before the tcp prober dials and upstream now registers only after a
/// connection (#1480, unix socket probes): absent from nettwin's answer when the dial fails.
const AFTER_DIAL: &[&str] = &["probe_failed_due_to_regex"];

/// Gauges whose values depend on timing; their presence and labels are compared, not values.
const TIMED: &[&str] = &[
    "probe_duration_seconds",
    "probe_dns_lookup_time_seconds",
    "probe_http_duration_seconds",
    "probe_dns_duration_seconds",
    "probe_icmp_duration_seconds",
];

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Dir(std::path::PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn ensure_exporter() -> bool {
    if std::path::Path::new(EXPORTER).exists() {
        return true;
    }
    if !is_root() {
        eprintln!("SKIPPED blackbox_exporter anchor: {EXPORTER} is missing and installing it needs root (sh scripts/probe-deps.sh)");
        return false;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/probe-deps.sh");
    let ok = Command::new("sh")
        .arg(script)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok && std::path::Path::new(EXPORTER).exists(),
        "{script} did not install {EXPORTER}"
    );
    true
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    if !text.starts_with("HTTP/1.0 200") && !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    Some(text.split_once("\r\n\r\n")?.1.to_string())
}

type Parsed = BTreeMap<(String, Vec<(String, String)>), f64>;

/// (family, label names) of every sample, with newer label names dropped.
fn shape(m: &Parsed) -> BTreeSet<(String, Vec<String>)> {
    m.keys()
        .map(|(n, l)| {
            (
                n.clone(),
                l.iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| !NEWER.iter().any(|(x, _)| *x == format!("{n}.{k}")))
                    .collect(),
            )
        })
        .collect()
}

/// Values that must agree: everything but timings, with newer labels dropped.
fn values(m: &Parsed) -> BTreeMap<(String, Vec<(String, String)>), f64> {
    m.iter()
        .filter(|((n, _), _)| !TIMED.contains(&n.as_str()))
        .map(|((n, l), v)| {
            let l = l
                .iter()
                .filter(|(k, _)| !NEWER.iter().any(|(x, _)| *x == format!("{n}.{k}")))
                .cloned()
                .collect();
            ((n.clone(), l), *v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_names_labels_and_success_agree_with_blackbox_exporter() {
    if !ensure_exporter() {
        return;
    }
    let mut cfg = ServeConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.tls_listen = Some("127.0.0.1:0".parse().unwrap());
    let t = start(cfg).await.unwrap();
    let dir = Dir(std::env::temp_dir().join(format!("nettwin-anchor-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, &t.ca_pem).unwrap();
    // The same modules in both dialects.
    let bb = format!(
        "modules:
  web: {{prober: http, timeout: 5s, http: {{preferred_ip_protocol: ip4}}}}
  web_nofollow: {{prober: http, timeout: 5s, http: {{preferred_ip_protocol: ip4, follow_redirects: false}}}}
  web_regex: {{prober: http, timeout: 5s, http: {{preferred_ip_protocol: ip4, fail_if_body_matches_regexp: [target]}}}}
  web_tls: {{prober: http, timeout: 5s, http: {{preferred_ip_protocol: ip4, tls_config: {{ca_file: {ca}}}}}}}
  tcp: {{prober: tcp, timeout: 5s, tcp: {{preferred_ip_protocol: ip4}}}}
  tcp_expect: {{prober: tcp, timeout: 5s, tcp: {{preferred_ip_protocol: ip4, query_response: [{{send: \"GET / HTTP/1.0\\r\\n\"}}, {{expect: \"^HTTP/1\\\\.[01] 200\"}}]}}}}
  tls: {{prober: tcp, timeout: 5s, tcp: {{preferred_ip_protocol: ip4, tls: true, tls_config: {{ca_file: {ca}, server_name: localhost}}}}}}
  dns_a: {{prober: dns, timeout: 5s, dns: {{preferred_ip_protocol: ip4, query_name: www.example.test, query_type: A}}}}
  dns_nx: {{prober: dns, timeout: 5s, dns: {{preferred_ip_protocol: ip4, query_name: nope.example.test, query_type: A}}}}
  dns_soa: {{prober: dns, timeout: 5s, dns: {{preferred_ip_protocol: ip4, query_name: example.test, query_type: SOA, valid_rcodes: [NOERROR]}}}}
  icmp: {{prober: icmp, timeout: 5s, icmp: {{preferred_ip_protocol: ip4}}}}
",
        ca = ca.display()
    );
    let ours = format!(
        "probes:
- {{name: web, kind: http, url: \"http://x/\", timeout: 5s, ip_protocol: ip4}}
- {{name: web_nofollow, kind: http, url: \"http://x/\", timeout: 5s, ip_protocol: ip4, no_follow_redirects: true}}
- {{name: web_regex, kind: http, url: \"http://x/\", timeout: 5s, ip_protocol: ip4, fail_if_body_matches_regexp: [target]}}
- {{name: web_tls, kind: http, url: \"http://x/\", timeout: 5s, ip_protocol: ip4, ca_file: {ca}}}
- {{name: tcp, kind: tcp, target: \"x:1\", timeout: 5s, ip_protocol: ip4}}
- {{name: tcp_expect, kind: tcp, target: \"x:1\", timeout: 5s, ip_protocol: ip4, query_response: [{{send: \"GET / HTTP/1.0\\r\\n\"}}, {{expect: \"^HTTP/1\\\\.[01] 200\"}}]}}
- {{name: tls, kind: tls, target: \"x:1\", timeout: 5s, ip_protocol: ip4, ca_file: {ca}, server_name: localhost}}
- {{name: dns_a, kind: dns, server: x, qname: www.example.test, type: A, timeout: 5s, ip_protocol: ip4}}
- {{name: dns_nx, kind: dns, server: x, qname: nope.example.test, type: A, timeout: 5s, ip_protocol: ip4}}
- {{name: dns_soa, kind: dns, server: x, qname: example.test, type: SOA, timeout: 5s, ip_protocol: ip4, valid_rcodes: [NOERROR]}}
- {{name: icmp, kind: icmp, target: x, timeout: 5s, ip_protocol: ip4}}
",
        ca = ca.display()
    );
    let bb_file = dir.0.join("blackbox.yml");
    std::fs::write(&bb_file, bb).unwrap();
    let probes = nettwin_probe::parse("anchor.yml", &ours).unwrap().probes;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _bb = Proc(
        Command::new(EXPORTER)
            .arg(format!("--config.file={}", bb_file.display()))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let end = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(listen).is_err() {
        assert!(Instant::now() < end, "blackbox_exporter did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let http = t.http;
    let https = t.https.unwrap();
    let dns = t.dns.unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("web", format!("http://{http}/")),
        ("web", format!("http://{http}/redirect/2")),
        ("web", format!("http://{http}/status/404")),
        ("web", format!("http://{closed}/")),
        ("web_nofollow", format!("http://{http}/redirect/2")),
        ("web_regex", format!("http://{http}/")),
        ("web_tls", format!("https://{https}/json")),
        ("tcp", http.to_string()),
        ("tcp", closed.to_string()),
        ("tcp_expect", http.to_string()),
        ("tls", https.to_string()),
        ("dns_a", dns.to_string()),
        ("dns_nx", dns.to_string()),
        ("dns_soa", dns.to_string()),
        ("icmp", "127.0.0.1".to_string()),
    ];
    let mut report = Vec::new();
    for (module, target) in &cases {
        let theirs_text = tokio::task::spawn_blocking({
            let path = format!("/probe?module={module}&target={target}");
            move || get(listen, &path)
        })
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("blackbox_exporter gave no answer for {module} {target}"));
        let theirs = parse(&theirs_text);
        let probe = probes.iter().find(|p| p.name == *module).unwrap();
        let r = nettwin_probe::run::run_with(probe, &probe.kind.with_target(target)).await;
        if r.skipped.is_some() {
            eprintln!("SKIPPED {module}: {:?}", r.skipped);
            continue;
        }
        let ours = parse(&exposition(&samples(&r, 5.0, &[])));
        let (ts, os) = (shape(&theirs), shape(&ours));
        let dial_failed = r.failed_phase == Some("connect");
        let missing: Vec<_> = ts
            .difference(&os)
            .filter(|(n, _)| !(dial_failed && AFTER_DIAL.contains(&n.as_str())))
            .collect();
        let extra: Vec<_> = os
            .difference(&ts)
            .filter(|(n, _)| !NEWER.iter().any(|(x, _)| x == n))
            .collect();
        assert!(
            missing.is_empty(),
            "{module} {target}: nettwin lacks {missing:?}\nblackbox:\n{theirs_text}"
        );
        assert!(
            extra.is_empty(),
            "{module} {target}: nettwin adds {extra:?}\nblackbox:\n{theirs_text}"
        );
        let key = ("probe_success".to_string(), vec![]);
        assert_eq!(
            theirs[&key], ours[&key],
            "{module} {target}: success differs ({r:?})"
        );
        let (tv, ov) = (values(&theirs), values(&ours));
        for (k, v) in &tv {
            if dial_failed && AFTER_DIAL.contains(&k.0.as_str()) {
                continue;
            }
            let o = ov.get(k).unwrap_or_else(|| {
                panic!("{module} {target}: no {k:?} in nettwin's answer\n{ov:?}")
            });
            assert_eq!(
                o, v,
                "{module} {target}: {k:?} is {o} in nettwin, {v} in blackbox_exporter"
            );
        }
        report.push(format!(
            "{module} {target}: {} samples agree, success {}",
            tv.len(),
            theirs[&key]
        ));
    }
    eprintln!("{}", report.join("\n"));
    t.stop();
}
