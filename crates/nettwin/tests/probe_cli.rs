//! `nettwin probe` end to end: `probe serve` as the target on 127.0.0.1 (waited for by polling
//! its port), `probe run --once --json`, the exporter's `/metrics` and `/probe`, SLO alerts
//! POSTed to the server's webhook sink, bad files with exit status 2, and `probe predict`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nettwin");

/// A child process killed when the test ends, passed or not.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("nettwin-probe-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls until `cond` holds, for at most `limit`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A plain HTTP/1.0 GET: (status, body).
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

struct Target {
    _p: Proc,
    http: SocketAddr,
    https: SocketAddr,
    ca: PathBuf,
}

fn serve(dir: &Dir, extra: &[&str]) -> Target {
    let (hp, tp) = (free_port(), free_port());
    let http: SocketAddr = format!("127.0.0.1:{hp}").parse().unwrap();
    let https: SocketAddr = format!("127.0.0.1:{tp}").parse().unwrap();
    let ca = dir.0.join("ca.pem");
    let child = Command::new(BIN)
        .args([
            "probe",
            "serve",
            "--listen",
            &http.to_string(),
            "--tls-listen",
            &https.to_string(),
        ])
        .arg("--ca-out")
        .arg(&ca)
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    assert!(
        wait_for(Duration::from_secs(10), || TcpStream::connect(https)
            .is_ok()
            && ca.exists()),
        "probe serve did not come up"
    );
    Target {
        _p: p,
        http,
        https,
        ca,
    }
}

#[test]
fn run_once_against_probe_serve() {
    let dir = tempdir("once");
    let t = serve(&dir, &[]);
    let file = dir.0.join("p.yml");
    std::fs::write(
        &file,
        format!(
            "probes:\n- {{name: web, kind: http, url: \"http://{h}/\"}}\n- {{name: tls, kind: http, url: \"https://{s}/json\", http2: true, ca_file: \"{ca}\"}}\n- {{name: dns, kind: dns, server: \"{h}\", qname: www.example.test, type: AAAA}}\n- {{name: tcp, kind: tcp, target: \"{h}\"}}\n",
            h = t.http,
            s = t.https,
            ca = t.ca.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["probe", "run", "--once", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| l["probe"].as_str().unwrap()).collect();
    assert_eq!(names, ["web", "tls", "dns", "tcp"]);
    assert!(lines.iter().all(|l| l["success"] == true));
    let tls = &lines[1];
    let phases: Vec<&str> = tls["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["resolve", "connect", "tls", "processing", "transfer"]
    );
    assert!(tls["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "probe_http_version" && m["value"] == 2.0));

    // A failing probe: exit status 1, the phase and reason in the table.
    std::fs::write(
        &file,
        format!(
            "probes:\n- {{name: web, kind: http, url: \"http://{}/status/503\"}}\n",
            t.http
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["probe", "run", "--once"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("[validate] status 503, wanted 2xx"),
        "{text}"
    );
}

#[test]
fn bad_probe_files_exit_2_with_places() {
    let dir = tempdir("bad");
    let file = dir.0.join("bad.yml");
    std::fs::write(&file, "probes:\n  - name: a\n    kind: htp\n  - name: b\n    kind: dns\n    server: 127.0.0.1\n    qname: x\n    type: AAAAA\n").unwrap();
    let out = Command::new(BIN)
        .args(["probe", "run", "--once"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let name = file.display().to_string();
    assert!(
        err.contains(&format!(
            "{name}:3:11: unknown probe kind `htp` (did you mean `http`?)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:8:11: unknown record type `AAAAA`")),
        "{err}"
    );
    assert!(err.contains("2 errors in"), "{err}");
}

#[test]
fn exporter_answers_metrics_and_probe() {
    let dir = tempdir("exporter");
    let t = serve(&dir, &[]);
    let file = dir.0.join("p.yml");
    std::fs::write(
        &file,
        format!(
            "probes:\n- {{name: web, kind: http, url: \"http://{}/\", interval: 200ms, labels: {{team: net}}}}\n- {{name: dns_a, kind: dns, server: \"{}\", qname: www.example.test, type: A, interval: 1h}}\n",
            t.http, t.http
        ),
    )
    .unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let _run = Proc(
        Command::new(BIN)
            .args([
                "probe",
                "run",
                "--duration",
                "60s",
                "--listen",
                &listen.to_string(),
            ])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut metrics = String::new();
    assert!(
        wait_for(Duration::from_secs(15), || {
            metrics = get(listen, "/metrics").map(|r| r.1).unwrap_or_default();
            metrics.contains("probe_success{probe=\"web\",team=\"net\"} 1")
                && metrics.contains("probe_success{probe=\"dns_a\"} 1")
        }),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE probe_http_duration_seconds gauge"));
    assert!(metrics
        .contains("probe_http_duration_seconds{phase=\"connect\",probe=\"web\",team=\"net\"}"));
    assert!(metrics.contains("probe_dns_answer_rrs{probe=\"dns_a\"} 1"));
    // /probe runs a module (a probe of the file) against the target given, as blackbox_exporter.
    let (status, body) = get(
        listen,
        &format!(
            "/probe?module=web&target=http%3A%2F%2F{}%2Fstatus%2F404",
            t.http
        ),
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("probe_success 0\n") && body.contains("probe_http_status_code 404\n"),
        "{body}"
    );
    let (_, body) = get(listen, &format!("/probe?module=dns_a&target={}", t.http)).unwrap();
    assert!(
        body.contains("probe_success 1\n")
            && body.contains("probe_dns_duration_seconds{phase=\"request\"}"),
        "{body}"
    );
    let (status, body) = get(listen, "/probe?module=nope&target=x").unwrap();
    assert_eq!((status, body.as_str()), (400, "Unknown module \"nope\"\n"));
    let (status, _) = get(listen, "/probe?module=web").unwrap();
    assert_eq!(status, 400);
}

#[test]
fn slo_burn_alerts_go_to_the_webhook() {
    let dir = tempdir("slo");
    // Every request fails: the availability objective burns at 100x.
    let t = serve(&dir, &["--fail-every", "1"]);
    let file = dir.0.join("p.yml");
    let alerts = dir.0.join("alerts.jsonl");
    std::fs::write(
        &file,
        format!(
            "webhook: http://{h}/hook\nprobes:\n- name: web\n  kind: http\n  url: http://{h}/\n  interval: 100ms\n  labels: {{site: lab}}\n  slo:\n    availability: 99\n    window: 1h\n    alerts: [{{severity: page, long: 10s, short: 1s, burn_rate: 14.4}}]\n",
            h = t.http
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["probe", "run", "--duration", "1s", "--alerts"])
        .arg(&alerts)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("alert firing: web availability page"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&alerts).unwrap();
    let first: serde_json::Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    assert_eq!(first["state"], "firing");
    assert!(
        (first["burn_rate_long"].as_f64().unwrap() - 100.0).abs() < 1e-6,
        "{first}"
    );
    assert_eq!(first["labels"]["site"], "lab");
    let mut hooks = serde_json::Value::Null;
    assert!(
        wait_for(Duration::from_secs(10), || {
            hooks = get(t.http, "/hook")
                .and_then(|(_, b)| serde_json::from_str(&b).ok())
                .unwrap_or(serde_json::Value::Null);
            hooks.as_array().is_some_and(|a| !a.is_empty())
        }),
        "no webhook POST arrived"
    );
    assert_eq!(hooks[0]["probe"], "web");
    assert_eq!(hooks[0]["severity"], "page");
}

#[test]
fn predict_with_a_failed_link() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    let out = Command::new(BIN)
        .current_dir(root)
        .args([
            "probe",
            "predict",
            "examples/isp-dc.yml",
            "examples/probe/isp-dc.yml",
            "--fail",
            "pe2-ce1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("web1-http") && text.contains("breaks"),
        "{text}"
    );
    assert!(
        text.contains("web1-http: unreachable on the twin: no-route at ce1"),
        "{text}"
    );
    let out = Command::new(BIN)
        .current_dir(root)
        .args([
            "probe",
            "predict",
            "examples/isp-dc.yml",
            "examples/probe/isp-dc.yml",
            "--fail",
            "pe2-ce9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `pe2-ce1`?"));
}

fn root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs `nettwin emu down RUN` when dropped, also when the test fails.
struct EmuGuard(&'static str);
impl Drop for EmuGuard {
    fn drop(&mut self) {
        let _ = Command::new(BIN).args(["emu", "down", self.0]).output();
    }
}

const LAB: &str = "nodes:
  h1: {kind: host}
  r1: {loopback: 198.18.0.1/32}
  h2: {kind: host}
links:
  - {h1: {ipv4: 198.18.1.2/24}, r1: {ipv4: 198.18.1.1/24}}
  - {r1: {ipv4: 198.18.2.1/24}, h2: {ipv4: 198.18.2.2/24}, latency: 10ms}
";

const LAB_PROBES: &str = "defaults: {from: h1, timeout: 3s}
probes:
  - {name: web, kind: http, url: \"http://h2/\"}
  - {name: web-tls, kind: http, url: \"https://h2/json\", http2: true}
  - {name: dns, kind: dns, server: h2, qname: www.example.test, type: A}
  - {name: ping, kind: icmp, target: h2}
  - {name: nowhere, kind: tcp, target: \"198.18.9.9:80\", timeout: 1s}
  - name: login
    kind: transaction
    steps:
      - {name: login, kind: http, method: POST, url: \"http://h2/login\", body: '{\"user\": \"bob\"}', capture: {token: {json: $.token}}}
      - {name: me, kind: http, url: \"http://h2/api/me\", headers: {Authorization: \"Bearer ${token}\"}}
";

#[test]
fn probes_run_in_the_lab_beside_the_prediction() {
    if !root() {
        eprintln!(
            "SKIPPED probes_run_in_the_lab_beside_the_prediction: needs root (network namespaces)"
        );
        return;
    }
    let dir = tempdir("lab");
    let topo = dir.0.join("lab.yml");
    let probes = dir.0.join("probes.yml");
    std::fs::write(&topo, LAB).unwrap();
    std::fs::write(&probes, LAB_PROBES).unwrap();
    let up = Command::new(BIN)
        .args(["emu", "up"])
        .arg(&topo)
        .args(["--name", "plabt"])
        .output()
        .unwrap();
    let _g = EmuGuard("plabt");
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let netem = !String::from_utf8_lossy(&up.stdout).contains("no netem");
    let out = Command::new(BIN)
        .args(["probe", "run", "--emu", "plabt", "--json"])
        .arg(&probes)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 6);
    for r in list {
        let (p, m) = (&r["predicted"], &r["measured"]);
        assert_eq!(p["success"], m["success"], "{r}");
        if p["probe"] == "nowhere" {
            assert_eq!(p["failed_phase"], "connect");
            assert_eq!(m["failed_phase"], "connect", "{m}");
            continue;
        }
        assert_eq!(m["success"], true, "{m}");
        if netem {
            // 10 ms each way on r1-h2: the lab takes at least what the twin predicts.
            let (pd, md) = (
                p["duration"].as_f64().unwrap(),
                m["duration"].as_f64().unwrap(),
            );
            assert!(
                md >= 0.9 * pd && md < pd + 0.2,
                "{} predicted {pd} measured {md}",
                p["probe"]
            );
        }
    }
    let tls = list
        .iter()
        .find(|r| r["predicted"]["probe"] == "web-tls")
        .unwrap();
    assert_eq!(tls["predicted"]["round_trips"], 3.0);
    assert!(tls["measured"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "probe_http_version" && m["value"] == 2.0));
}
