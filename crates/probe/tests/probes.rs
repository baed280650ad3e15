//! Every prober against the real target server (`serve`) on 127.0.0.1: successes, each kind
//! of failure with its phase, TLS details, redirects, retries and a transaction with captures.

use nettwin_probe::run::run_once;
use nettwin_probe::serve::{start, ServeConfig, ServeHandle};
use nettwin_probe::{parse, ProbeResult};
use std::time::Duration;

struct Target {
    h: ServeHandle,
    ca: std::path::PathBuf,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn target(cfg: impl FnOnce(&mut ServeConfig)) -> Target {
    let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap());
    c.tls_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg(&mut c);
    let h = start(c).await.unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "nettwin-probe-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &h.ca_pem).unwrap();
    Target {
        h,
        ca,
        _dir: TempDir(dir),
    }
}

impl Target {
    fn http(&self) -> String {
        format!("http://{}", self.h.http)
    }
    fn https(&self) -> String {
        format!("https://{}", self.h.https.unwrap())
    }
}

async fn run(yaml: &str) -> ProbeResult {
    let file = parse("t.yml", yaml).unwrap_or_else(|d| panic!("{d}"));
    run_once(&file.probes[0]).await
}

fn one(body: &str) -> String {
    format!("probes:\n- name: p\n  timeout: 3s\n{body}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_success_phases_and_gauges() {
    let t = target(|_| {}).await;
    let r = run(&one(&format!("  kind: http\n  url: {}/\n", t.http()))).await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.metric("probe_http_status_code"), Some(200.0));
    assert_eq!(r.metric("probe_http_version"), Some(1.1));
    assert_eq!(r.metric("probe_http_ssl"), Some(0.0));
    assert_eq!(r.metric("probe_ip_protocol"), Some(4.0));
    assert_eq!(r.metric("probe_http_content_length"), Some(21.0));
    assert_eq!(r.metric("probe_http_uncompressed_body_length"), Some(21.0));
    assert_eq!(
        r.metric("probe_http_last_modified_timestamp_seconds"),
        Some(1445412480.0)
    );
    let names: Vec<&str> = r.phases.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["resolve", "connect", "tls", "processing", "transfer"]
    );
    assert_eq!(r.phase("tls"), Some(0.0));
    assert!(r.phase("connect").unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_generated_ca_over_http2() {
    let t = target(|_| {}).await;
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/json\n  http2: true\n  ca_file: {}\n  json: [{{path: \"$.items[2]\", equals: 3}}, {{path: $.status, equals: ok}}]\n",
        t.https(),
        t.ca.display()
    )))
    .await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.metric("probe_http_version"), Some(2.0));
    assert_eq!(r.metric("probe_http_ssl"), Some(1.0));
    assert!(r.phase("tls").unwrap() > 0.0);
    let tls = r
        .metrics
        .iter()
        .find(|m| m.name == "probe_tls_version_info")
        .unwrap();
    assert_eq!(tls.labels, [("version", "TLS 1.3".to_string())]);
    let info = r
        .metrics
        .iter()
        .find(|m| m.name == "probe_ssl_last_chain_info")
        .unwrap();
    assert!(
        info.labels
            .contains(&("subject", "CN=localhost,O=nettwin".to_string())),
        "{info:?}"
    );
    assert!(info
        .labels
        .contains(&("issuer", "CN=nettwin probe CA,O=nettwin".to_string())));
    let expiry = r.metric("probe_ssl_earliest_cert_expiry").unwrap();
    let days = (expiry - r.time) / 86400.0;
    assert!((89.0..=90.01).contains(&days), "{days}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failures_name_their_phase() {
    let t = target(|c| c.cert_days = 10).await;
    // Trusting only a bundle without the generated CA: the handshake fails verification.
    let other = t.ca.with_file_name("other.pem");
    let other_ident = nettwin_probe::serve::Identity::generate(&["x".into()], 5).unwrap();
    std::fs::write(&other, other_ident.ca_pem).unwrap();
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/\n  ca_file: {}\n",
        t.https(),
        other.display()
    )))
    .await;
    assert!(!r.success);
    assert_eq!(r.failed_phase, Some("tls"), "{r:?}");
    // Same CA name, another key: rustls says the signature does not verify.
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("invalid peer certificate"),
        "{r:?}"
    );
    // A certificate closer to expiry than allowed.
    let addr = t.h.https.unwrap();
    let r = run(&one(&format!(
        "  kind: tls\n  target: {addr}\n  server_name: localhost\n  ca_file: {}\n  min_days_to_expiry: 30\n",
        t.ca.display()
    )))
    .await;
    assert_eq!(r.failed_phase, Some("tls"), "{r:?}");
    assert!(r
        .error
        .as_deref()
        .unwrap()
        .contains("fewer than min_days_to_expiry 30"));
    // TLS 1.3 required from a TLS 1.2 server.
    let t12 = target(|c| c.tls12_only = true).await;
    let r = run(&one(&format!(
        "  kind: tls\n  target: {}\n  ca_file: {}\n  min_version: \"1.3\"\n",
        t12.h.https.unwrap(),
        t12.ca.display()
    )))
    .await;
    assert_eq!(r.failed_phase, Some("tls"), "{r:?}");
    let r = run(&one(&format!(
        "  kind: tls\n  target: {}\n  ca_file: {}\n",
        t12.h.https.unwrap(),
        t12.ca.display()
    )))
    .await;
    assert!(r.success, "{r:?}");
    let v = r
        .metrics
        .iter()
        .find(|m| m.name == "probe_tls_version_info")
        .unwrap();
    assert_eq!(v.labels[0].1, "TLS 1.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_statuses_bodies_and_timeouts() {
    let t = target(|_| {}).await;
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/redirect/3\n",
        t.http()
    )))
    .await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.metric("probe_http_redirects"), Some(3.0));
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/redirect/3\n  no_follow_redirects: true\n",
        t.http()
    )))
    .await;
    assert!(!r.success);
    assert_eq!(r.metric("probe_http_status_code"), Some(302.0));
    assert_eq!(r.metric("probe_http_redirects"), Some(1.0));
    assert_eq!(r.failed_phase, Some("validate"));
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/status/500\n",
        t.http()
    )))
    .await;
    assert_eq!((r.success, r.failed_phase), (false, Some("validate")));
    assert!(r.error.unwrap().contains("status 500, wanted 2xx"));
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/status/500\n  valid_status_codes: [500]\n",
        t.http()
    )))
    .await;
    assert!(r.success);
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/\n  fail_if_body_not_matches_regexp: [\"probe target\"]\n  fail_if_body_matches_regexp: [\"error\"]\n",
        t.http()
    )))
    .await;
    assert!(r.success, "{r:?}");
    let r = run(&one(&format!(
        "  kind: http\n  url: {}/\n  fail_if_body_matches_regexp: [\"target\"]\n",
        t.http()
    )))
    .await;
    assert!(!r.success);
    assert_eq!(r.metric("probe_failed_due_to_regex"), Some(1.0));
    let r = run(&format!(
        "probes:\n- name: slow\n  kind: http\n  url: {}/delay/3000\n  timeout: 300ms\n",
        t.http()
    ))
    .await;
    assert_eq!(r.failed_phase, Some("processing"), "{r:?}");
    assert!(r.duration < 2.0, "{}", r.duration);
    // A closed port: connection refused in phase connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = run(&one(&format!("  kind: http\n  url: http://{closed}/\n"))).await;
    assert_eq!(r.failed_phase, Some("connect"), "{r:?}");
    assert_eq!(r.metric("probe_http_status_code"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_ride_over_one_failure() {
    let t = target(|c| c.fail_every = 2).await;
    let yaml = format!(
        "probes:\n- name: p\n  kind: http\n  url: {}/\n  retries: 1\n",
        t.http()
    );
    let r1 = run(&yaml).await;
    assert!(r1.success);
    assert_eq!(r1.attempts, 1);
    let r2 = run(&yaml).await;
    assert!(r2.success, "{r2:?}");
    assert_eq!(r2.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_answers_rcodes_and_record_checks() {
    let t = target(|c| {
        c.records
            .push(("db.example.test".into(), "198.18.0.7".parse().unwrap()))
    })
    .await;
    let server = t.h.dns.unwrap();
    let r = run(&one(&format!(
        "  kind: dns\n  server: {server}\n  qname: www.example.test\n  type: A\n  validate_answer_rrs: {{fail_if_none_matches_regexp: [\"\\tA\\t127\\\\.0\\\\.0\\\\.1$\"]}}\n"
    )))
    .await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.metric("probe_dns_answer_rrs"), Some(1.0));
    assert_eq!(r.metric("probe_dns_query_succeeded"), Some(1.0));
    let names: Vec<&str> = r.phases.iter().map(|p| p.name).collect();
    assert_eq!(names, ["resolve", "connect", "request"]);
    let r = run(&one(&format!(
        "  kind: dns\n  server: {server}\n  qname: db.example.test\n  type: A\n"
    )))
    .await;
    assert!(r.success);
    let r = run(&one(&format!(
        "  kind: dns\n  server: {server}\n  qname: nope.example.test\n  type: A\n"
    )))
    .await;
    assert_eq!(r.failed_phase, Some("validate"));
    assert!(r.error.as_deref().unwrap().contains("NXDOMAIN"));
    assert_eq!(r.metric("probe_dns_authority_rrs"), Some(1.0));
    let r = run(&one(&format!(
        "  kind: dns\n  server: {server}\n  qname: nope.example.test\n  type: A\n  valid_rcodes: [NXDOMAIN]\n"
    )))
    .await;
    assert!(r.success);
    let r = run(&one(&format!(
        "  kind: dns\n  server: {server}\n  qname: example.test\n  type: SOA\n"
    )))
    .await;
    assert_eq!(r.metric("probe_dns_serial"), Some(2026120301.0));
    // No answer in time: the request phase fails.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = run(&format!(
        "probes:\n- name: p\n  kind: dns\n  server: {}\n  qname: www.example.test\n  timeout: 300ms\n",
        silent.local_addr().unwrap()
    ))
    .await;
    assert_eq!(r.failed_phase, Some("request"), "{r:?}");
    assert_eq!(r.metric("probe_dns_query_succeeded"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_query_response() {
    let t = target(|_| {}).await;
    let r = run(&one(&format!(
        "  kind: tcp\n  target: {}\n  query_response:\n  - send: \"GET / HTTP/1.0\\r\\n\"\n  - expect: \"^HTTP/1\\\\.[01] 200\"\n",
        t.h.http
    )))
    .await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.metric("probe_failed_due_to_regex"), Some(0.0));
    let r = run(&one(&format!(
        "  kind: tcp\n  target: {}\n  query_response:\n  - send: \"GET / HTTP/1.0\\r\\n\"\n  - expect: \"^SSH-2.0\"\n",
        t.h.http
    )))
    .await;
    assert_eq!(r.failed_phase, Some("validate"), "{r:?}");
    assert_eq!(r.metric("probe_failed_due_to_regex"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_logs_in_and_uses_the_token() {
    let t = target(|_| {}).await;
    let yaml = format!(
        "probes:\n- name: login\n  kind: transaction\n  steps:\n  - name: login\n    kind: http\n    method: POST\n    url: {h}/login\n    body: '{{\"user\": \"alice\"}}'\n    capture: {{token: {{json: $.token}}, cookie: {{header: set-cookie}}}}\n  - name: me\n    kind: http\n    url: {h}/api/me\n    headers: {{Authorization: \"Bearer ${{token}}\"}}\n    json: [{{path: $.user, equals: alice}}]\n",
        h = t.http()
    );
    let r = run(&yaml).await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.steps.len(), 2);
    assert!(r.steps[0]
        .captured
        .iter()
        .any(|(k, v)| k == "token" && v.starts_with("tok-")));
    assert!(r.steps[1].start >= r.steps[0].duration);
    assert_eq!(r.steps[1].status, Some(200));
    // A step that cannot authenticate fails the transaction at that step.
    let bad = yaml.replace("Bearer ${token}", "Bearer ${token}x");
    let r = run(&bad).await;
    assert!(!r.success);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .starts_with("step me: status 401"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icmp_echo_or_a_clear_skip() {
    let r = run("probes:\n- name: lo\n  kind: icmp\n  target: 127.0.0.1\n  timeout: 2s\n").await;
    match &r.skipped {
        Some(why) => assert!(why.contains("not permitted"), "{why}"),
        None => {
            assert!(r.success, "{r:?}");
            assert!(r.phase("rtt").unwrap() > 0.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposition_has_blackbox_names() {
    let t = target(|_| {}).await;
    let r = run(&one(&format!("  kind: http\n  url: {}/\n", t.http()))).await;
    let text = nettwin_probe::metrics::exposition(&nettwin_probe::metrics::samples(&r, 3.0, &[]));
    for line in [
        "# TYPE probe_success gauge",
        "probe_success 1",
        "probe_http_status_code 200",
        "probe_http_duration_seconds{phase=\"tls\"} 0",
        "probe_timeout_seconds 3",
        "probe_ip_protocol 4",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    let _ = Duration::ZERO;
}
