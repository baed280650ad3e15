//! Probe definitions: a YAML file with a `probes:` list, decoded with the model's spanned YAML
//! helpers so that every mistake comes back at once with `file:line:col` and its key path.
//!
//! Field names follow blackbox_exporter's module configuration where it has one
//! (`valid_status_codes`, `fail_if_body_not_matches_regexp`, `query_response`, `valid_rcodes`,
//! `validate_answer_rrs`, `ip_protocol`, `no_follow_redirects`), so that a module moves between
//! the two with little editing.

use nettwin_model::yaml::{self, MapReader, Node, Path};
use nettwin_model::Diagnostics;
use regex::Regex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A probe file: the probes and where alerts go.
#[derive(Clone, Debug)]
pub struct ProbeFile {
    pub probes: Vec<Probe>,
    /// Where alert events are POSTed as JSON (`webhook:` at the top level).
    pub webhook: Option<String>,
}

/// One synthetic transaction, run every `interval`.
#[derive(Clone, Debug)]
pub struct Probe {
    pub name: String,
    pub kind: Kind,
    pub interval: Duration,
    /// Budget for one attempt (blackbox_exporter's module `timeout`).
    pub timeout: Duration,
    /// Extra attempts after a failed one, within the same run.
    pub retries: u32,
    /// Added to every metric of this probe in `/metrics`.
    pub labels: BTreeMap<String, String>,
    /// The node the probe runs from when predicted on the twin, or in the lab.
    pub from: Option<String>,
    /// Server think time for predictions (the HTTP request's wait for the first byte).
    pub server_time: Duration,
    pub slo: Option<Slo>,
    /// Line of the probe in the file, for messages.
    pub line: u32,
}

/// What a probe does.
#[derive(Clone, Debug)]
pub enum Kind {
    Icmp(IcmpSpec),
    Dns(DnsSpec),
    Tcp(TcpSpec),
    Http(HttpSpec),
    Transaction(Vec<Step>),
}

impl Kind {
    /// The kind as written in the file; `tls` is a `tcp` probe with TLS.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Icmp(_) => "icmp",
            Kind::Dns(_) => "dns",
            Kind::Tcp(t) if t.tls.is_some() => "tls",
            Kind::Tcp(_) => "tcp",
            Kind::Http(_) => "http",
            Kind::Transaction(_) => "transaction",
        }
    }

    /// What the probe is aimed at, as blackbox_exporter's `target` parameter names it.
    pub fn target(&self) -> String {
        match self {
            Kind::Icmp(s) => s.target.clone(),
            Kind::Dns(s) => s.server.clone(),
            Kind::Tcp(s) => s.target.clone(),
            Kind::Http(s) => s.url.clone(),
            Kind::Transaction(steps) => steps.first().map_or(String::new(), |s| s.kind.target()),
        }
    }

    /// The same probe aimed at `target` (blackbox_exporter's `/probe?target=`).
    pub fn with_target(&self, target: &str) -> Kind {
        let mut k = self.clone();
        match &mut k {
            Kind::Icmp(s) => s.target = target.to_string(),
            Kind::Dns(s) => s.server = target.to_string(),
            Kind::Tcp(s) => s.target = target.to_string(),
            Kind::Http(s) => s.url = target.to_string(),
            Kind::Transaction(_) => {}
        }
        k
    }
}

/// `ip4` or `ip6` first, with or without falling back to the other (blackbox_exporter's
/// `preferred_ip_protocol`/`ip_protocol` and `ip_protocol_fallback`; it prefers ip6 and falls
/// back by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpProtocol {
    pub prefer_v6: bool,
    pub fallback: bool,
}

impl Default for IpProtocol {
    fn default() -> Self {
        IpProtocol {
            prefer_v6: true,
            fallback: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct IcmpSpec {
    pub target: String,
    pub ip: IpProtocol,
    /// ICMP payload size in bytes (the packet is this plus 8 + IP header).
    pub payload: u32,
}

#[derive(Clone, Debug)]
pub struct DnsSpec {
    /// The resolver asked: `host` or `host:port` (port 53 by default).
    pub server: String,
    pub qname: String,
    /// Record type by name (`A`, `AAAA`, `SOA`, ...); blackbox_exporter's default is `ANY`.
    pub qtype: String,
    /// `udp` or `tcp`.
    pub transport_tcp: bool,
    pub recursion: bool,
    /// Rcode names that count as success; NOERROR when empty.
    pub valid_rcodes: Vec<String>,
    pub answer: RrValidator,
    pub authority: RrValidator,
    pub additional: RrValidator,
    pub ip: IpProtocol,
}

/// blackbox_exporter's `validate_*_rrs`: regular expressions over records written as
/// `name.\tTTL\tIN\tTYPE\trdata`.
#[derive(Clone, Debug, Default)]
pub struct RrValidator {
    pub fail_if_matches: Vec<Regex>,
    pub fail_if_all_match: Vec<Regex>,
    pub fail_if_not_matches: Vec<Regex>,
    pub fail_if_none_matches: Vec<Regex>,
}

#[derive(Clone, Debug)]
pub struct TcpSpec {
    /// `host:port`.
    pub target: String,
    pub query_response: Vec<QueryResponse>,
    /// TLS from the start (a `tls` probe); `None` for plain TCP.
    pub tls: Option<TlsSpec>,
    pub ip: IpProtocol,
}

/// One exchange of blackbox_exporter's `query_response`: wait for a line matching `expect`,
/// then send `send` (with `${1}` expanded from the match).
#[derive(Clone, Debug, Default)]
pub struct QueryResponse {
    pub expect: Option<Regex>,
    pub send: Option<String>,
}

/// TLS client settings.
#[derive(Clone, Debug, Default)]
pub struct TlsSpec {
    /// SNI and the name checked against the certificate; the target's host when unset.
    pub server_name: Option<String>,
    /// `1.2` or `1.3`: refuse to negotiate anything older.
    pub min_version_13: bool,
    /// `max_version: "1.2"`: never offer TLS 1.3 (a two round-trip handshake).
    pub max_version_12: bool,
    /// PEM file of trusted CAs; the system's bundle when unset.
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    /// Fail when the earliest certificate expires sooner than this many days.
    pub min_days_to_expiry: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct HttpSpec {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Empty: any 2xx, as blackbox_exporter.
    pub valid_status_codes: Vec<u16>,
    pub fail_if_body_matches: Vec<Regex>,
    pub fail_if_body_not_matches: Vec<Regex>,
    pub json: Vec<JsonAssert>,
    pub follow_redirects: bool,
    /// `None`: offer `h2` by ALPN over TLS and speak HTTP/1.1 in clear text, as Go's client in
    /// blackbox_exporter does (`enable_http2` defaults to true); `Some(true)`: HTTP/2 in clear
    /// text too (prior knowledge); `Some(false)`: HTTP/1.1 only.
    pub http2: Option<bool>,
    /// `HTTP/1.1`, `HTTP/2.0`: fail on other versions (`valid_http_versions`).
    pub valid_http_versions: Vec<String>,
    pub tls: TlsSpec,
    pub ip: IpProtocol,
}

/// A JSON path assertion on the response body: the value exists, or equals a value.
#[derive(Clone, Debug)]
pub struct JsonAssert {
    pub path: JsonPath,
    pub equals: Option<serde_json::Value>,
}

/// `$.a.b[0]`: keys and indexes from the root.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    pub text: String,
    pub parts: Vec<JsonPart>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JsonPart {
    Key(String),
    Index(usize),
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| format!("a JSON path starts with `$`, found `{text}`"))?;
        let mut parts = Vec::new();
        let b = rest.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                        j += 1;
                    }
                    if j == start {
                        return Err(format!("empty key in JSON path `{text}`"));
                    }
                    parts.push(JsonPart::Key(rest[start..j].to_string()));
                    i = j;
                }
                b'[' => {
                    let end = rest[i..]
                        .find(']')
                        .map(|e| e + i)
                        .ok_or_else(|| format!("unclosed `[` in JSON path `{text}`"))?;
                    let inner = &rest[i + 1..end];
                    let quoted = inner
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                    match quoted {
                        Some(k) => parts.push(JsonPart::Key(k.to_string())),
                        None => parts.push(JsonPart::Index(inner.parse().map_err(|_| {
                            format!("`[{inner}]` in JSON path `{text}` is not an index")
                        })?)),
                    }
                    i = end + 1;
                }
                _ => return Err(format!("expected `.` or `[` in JSON path `{text}`")),
            }
        }
        Ok(JsonPath {
            text: text.to_string(),
            parts,
        })
    }

    /// The value at this path in `v`.
    pub fn get<'v>(&self, v: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        let mut cur = v;
        for p in &self.parts {
            cur = match p {
                JsonPart::Key(k) => cur.get(k.as_str())?,
                JsonPart::Index(i) => cur.get(*i)?,
            };
        }
        Some(cur)
    }
}

/// One step of a transaction: a probe of another kind, and what to keep from its response.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    pub kind: Kind,
    pub captures: Vec<Capture>,
    /// Server think time for predictions; the probe's `server_time` when unset.
    pub server_time: Option<Duration>,
}

/// A value taken from a step's response into a variable, used later as `${name}`.
#[derive(Clone, Debug)]
pub struct Capture {
    pub var: String,
    pub from: CaptureFrom,
}

#[derive(Clone, Debug)]
pub enum CaptureFrom {
    Header(String),
    Json(JsonPath),
    /// The first group of the first match in the body (the whole match without a group).
    Regex(Regex),
}

/// Objectives of one probe, judged over `window`, with multi-window multi-burn-rate alerts.
#[derive(Clone, Debug)]
pub struct Slo {
    /// Fraction of runs that must succeed (0.999 for `availability: 99.9`).
    pub availability: Option<f64>,
    /// Runs that must finish within `threshold`, as a fraction.
    pub latency: Option<(Duration, f64)>,
    /// The SLO period (30 days by default, as the SRE workbook's table assumes).
    pub window: Duration,
    /// The alert windows; the SRE workbook's table scaled to `window` when not given.
    pub alerts: Vec<crate::slo::BurnAlert>,
}

/// Reads a duration: `500ms`, `1s`, `2m`, `1h`, `30d`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        "w" => n * 7.0 * 86400.0,
        _ => return None,
    };
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// Parses and decodes a probe file; every mistake comes back in the `Diagnostics`.
pub fn parse(file: &str, text: &str) -> Result<ProbeFile, Diagnostics> {
    let root = yaml::parse_document(file, text)?;
    let mut diags = Diagnostics::new(file);
    let out = decode(&root, &mut diags);
    if diags.is_empty() {
        Ok(out)
    } else {
        diags.sort();
        Err(diags)
    }
}

const TOP_KEYS: &[&str] = &["probes", "webhook", "defaults"];
const COMMON_KEYS: &[&str] = &[
    "name",
    "kind",
    "interval",
    "timeout",
    "retries",
    "labels",
    "from",
    "server_time",
    "slo",
];

fn decode(root: &Node, diags: &mut Diagnostics) -> ProbeFile {
    let mut file = ProbeFile {
        probes: Vec::new(),
        webhook: None,
    };
    let Some(mut top) = MapReader::new(root, &Path::root(), diags) else {
        return file;
    };
    let defaults = top.take("defaults");
    let probes = top.take("probes");
    if let Some(w) = top.take("webhook") {
        file.webhook = yaml::read_str(w, &Path::root().key("webhook"), diags);
        if let Some(url) = &file.webhook {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                diags.error(
                    w.span,
                    &Path::root().key("webhook"),
                    format!("webhook `{url}` is not an http:// or https:// URL"),
                );
            }
        }
    }
    top.finish(TOP_KEYS, diags);
    let Some(probes) = probes else {
        diags.error(
            root.span,
            &Path::root(),
            "a probe file needs a `probes:` list",
        );
        return file;
    };
    let path = Path::root().key("probes");
    let Some(items) = probes.as_seq() else {
        diags.error(
            probes.span,
            &path,
            format!("expected a list of probes, found {}", probes.kind_name()),
        );
        return file;
    };
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        // Names are checked even on probes that fail to decode, so one report says it all.
        if let Some(n) = item.get("name").filter(|n| n.as_scalar().is_some()) {
            let name = n.as_scalar().unwrap_or_default().to_string();
            if let Some(line) = seen.insert(name.clone(), item.span.line) {
                diags.error(
                    n.span,
                    &p.key("name"),
                    format!("probe `{name}` is already defined at line {line}"),
                );
            }
        }
        if let Some(probe) = decode_probe(item, defaults, &p, diags) {
            file.probes.push(probe);
        }
    }
    file
}

fn decode_probe(
    node: &Node,
    defaults: Option<&Node>,
    path: &Path,
    diags: &mut Diagnostics,
) -> Option<Probe> {
    let mut m = MapReader::new(node, path, diags)?;
    // `defaults:` supplies interval/timeout/retries/labels/from a probe does not set.
    let dflt = |key: &str| defaults.and_then(|d| d.get(key));
    let name = match m.take("name") {
        Some(n) => yaml::read_str(n, &path.key("name"), diags),
        None => {
            diags.error(node.span, path, "a probe needs a `name`");
            None
        }
    };
    let interval = read_dur(
        m.take("interval").or(dflt("interval")),
        path,
        "interval",
        diags,
    )
    .unwrap_or(Duration::from_secs(60));
    let timeout = read_dur(
        m.take("timeout").or(dflt("timeout")),
        path,
        "timeout",
        diags,
    )
    .unwrap_or(Duration::from_secs(5));
    if interval.is_zero() {
        diags.error(
            node.span,
            &path.key("interval"),
            "interval must be above zero",
        );
    }
    let retries = m
        .take("retries")
        .or(dflt("retries"))
        .and_then(|n| yaml::read_u64(n, &path.key("retries"), 0..=10, diags))
        .unwrap_or(0) as u32;
    let mut labels = BTreeMap::new();
    for src in [dflt("labels"), m.take("labels")].into_iter().flatten() {
        let lp = path.key("labels");
        if let Some(mut lm) = MapReader::new(src, &lp, diags) {
            for (k, v) in lm.take_rest() {
                let key = k.as_scalar().unwrap_or_default().to_string();
                if !valid_label_name(&key) || key.starts_with("__") {
                    diags.error(
                        k.span,
                        &lp.key(&key),
                        format!("`{key}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)"),
                    );
                    continue;
                }
                if let Some(val) = yaml::read_str(v, &lp.key(&key), diags) {
                    labels.insert(key, val);
                }
            }
        }
    }
    let from = m
        .take("from")
        .or(dflt("from"))
        .and_then(|n| yaml::read_str(n, &path.key("from"), diags));
    let server_time =
        read_dur(m.take("server_time"), path, "server_time", diags).unwrap_or_default();
    let slo = m
        .take("slo")
        .and_then(|n| decode_slo(n, &path.key("slo"), diags));
    let kind_node = m.take("kind");
    let kind = match kind_node {
        None => {
            diags.error(
                node.span,
                path,
                "a probe needs a `kind` (icmp, dns, tcp, tls, http, transaction)",
            );
            None
        }
        Some(k) => yaml::read_str(k, &path.key("kind"), diags)
            .and_then(|kind| decode_kind(&kind, k, &mut m, path, diags, true)),
    };
    let allowed: Vec<&str> = COMMON_KEYS
        .iter()
        .chain(kind_keys(kind.as_ref()))
        .copied()
        .collect();
    m.finish(&allowed, diags);
    Some(Probe {
        name: name?,
        kind: kind?,
        interval,
        timeout,
        retries,
        labels,
        from,
        server_time,
        slo,
        line: node.span.line,
    })
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const ICMP_KEYS: &[&str] = &[
    "target",
    "ip_protocol",
    "ip_protocol_fallback",
    "payload_size",
];
const DNS_KEYS: &[&str] = &[
    "server",
    "qname",
    "type",
    "transport",
    "recursion",
    "valid_rcodes",
    "validate_answer_rrs",
    "validate_authority_rrs",
    "validate_additional_rrs",
    "ip_protocol",
    "ip_protocol_fallback",
];
const TCP_KEYS: &[&str] = &[
    "target",
    "query_response",
    "ip_protocol",
    "ip_protocol_fallback",
];
const TLS_KEYS: &[&str] = &[
    "target",
    "query_response",
    "server_name",
    "min_version",
    "max_version",
    "ca_file",
    "insecure_skip_verify",
    "min_days_to_expiry",
    "ip_protocol",
    "ip_protocol_fallback",
];
const HTTP_KEYS: &[&str] = &[
    "url",
    "method",
    "headers",
    "body",
    "valid_status_codes",
    "fail_if_body_matches_regexp",
    "fail_if_body_not_matches_regexp",
    "json",
    "no_follow_redirects",
    "http2",
    "valid_http_versions",
    "server_name",
    "min_version",
    "max_version",
    "ca_file",
    "insecure_skip_verify",
    "min_days_to_expiry",
    "ip_protocol",
    "ip_protocol_fallback",
];
const TRANSACTION_KEYS: &[&str] = &["steps"];
const STEP_KEYS: &[&str] = &["name", "kind", "capture", "server_time"];

fn kind_keys(kind: Option<&Kind>) -> &'static [&'static str] {
    match kind {
        None => &[],
        Some(Kind::Icmp(_)) => ICMP_KEYS,
        Some(Kind::Dns(_)) => DNS_KEYS,
        Some(Kind::Tcp(t)) if t.tls.is_some() => TLS_KEYS,
        Some(Kind::Tcp(_)) => TCP_KEYS,
        Some(Kind::Http(_)) => HTTP_KEYS,
        Some(Kind::Transaction(_)) => TRANSACTION_KEYS,
    }
}

fn read_dur(
    node: Option<&Node>,
    path: &Path,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<Duration> {
    let node = node?;
    let text = yaml::read_str(node, &path.key(key), diags)?;
    let d = parse_duration(&text);
    if d.is_none() {
        diags.error(
            node.span,
            &path.key(key),
            format!("`{text}` is not a duration (500ms, 10s, 5m, 1h, 30d)"),
        );
    }
    d
}

fn required<'a>(
    m: &mut MapReader<'a>,
    key: &str,
    kind: &str,
    at: &Node,
    path: &Path,
    diags: &mut Diagnostics,
) -> Option<String> {
    match m.take(key) {
        Some(n) => yaml::read_str(n, &path.key(key), diags),
        None => {
            diags.error(at.span, path, format!("a `{kind}` probe needs `{key}`"));
            None
        }
    }
}

fn read_regexes(node: Option<&Node>, path: &Path, diags: &mut Diagnostics) -> Vec<Regex> {
    let Some(node) = node else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in yaml::read_list(node, path, diags).into_iter().enumerate() {
        let p = path.index(i);
        if let Some(text) = yaml::read_str(item, &p, diags) {
            match Regex::new(&text) {
                Ok(r) => out.push(r),
                Err(e) => diags.error(item.span, &p, format!("bad regular expression: {e}")),
            }
        }
    }
    out
}

fn read_ip(m: &mut MapReader, path: &Path, diags: &mut Diagnostics) -> IpProtocol {
    let mut ip = IpProtocol::default();
    if let Some(n) = m.take("ip_protocol") {
        match yaml::read_str(n, &path.key("ip_protocol"), diags).as_deref() {
            Some("ip4") => ip.prefer_v6 = false,
            Some("ip6") => ip.prefer_v6 = true,
            Some(other) => diags.error(
                n.span,
                &path.key("ip_protocol"),
                format!("ip_protocol is ip4 or ip6, found `{other}`"),
            ),
            None => {}
        }
    }
    if let Some(n) = m.take("ip_protocol_fallback") {
        if let Some(b) = yaml::read_bool(n, &path.key("ip_protocol_fallback"), diags) {
            ip.fallback = b;
        }
    }
    ip
}

fn read_tls(m: &mut MapReader, path: &Path, diags: &mut Diagnostics) -> TlsSpec {
    let mut t = TlsSpec {
        server_name: m
            .take("server_name")
            .and_then(|n| yaml::read_str(n, &path.key("server_name"), diags)),
        ca_file: m
            .take("ca_file")
            .and_then(|n| yaml::read_str(n, &path.key("ca_file"), diags))
            .map(PathBuf::from),
        ..TlsSpec::default()
    };
    if let Some(n) = m.take("min_version") {
        match yaml::read_str(n, &path.key("min_version"), diags).as_deref() {
            Some("1.2" | "TLS12" | "TLS 1.2") => {}
            Some("1.3" | "TLS13" | "TLS 1.3") => t.min_version_13 = true,
            Some(other) => diags.error(
                n.span,
                &path.key("min_version"),
                format!(
                    "min_version is 1.2 or 1.3 (older versions are not offered), found `{other}`"
                ),
            ),
            None => {}
        }
    }
    if let Some(n) = m.take("max_version") {
        match yaml::read_str(n, &path.key("max_version"), diags).as_deref() {
            Some("1.3" | "TLS13" | "TLS 1.3") => {}
            Some("1.2" | "TLS12" | "TLS 1.2") => t.max_version_12 = true,
            Some(other) => diags.error(
                n.span,
                &path.key("max_version"),
                format!("max_version is 1.2 or 1.3, found `{other}`"),
            ),
            None => {}
        }
        if t.max_version_12 && t.min_version_13 {
            diags.error(
                n.span,
                &path.key("max_version"),
                "max_version 1.2 is below min_version 1.3",
            );
        }
    }
    if let Some(n) = m.take("insecure_skip_verify") {
        t.insecure_skip_verify =
            yaml::read_bool(n, &path.key("insecure_skip_verify"), diags).unwrap_or(false);
    }
    if let Some(n) = m.take("min_days_to_expiry") {
        t.min_days_to_expiry = yaml::read_u64(n, &path.key("min_days_to_expiry"), 0..=36500, diags);
    }
    t
}

fn split_host_port(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(':') && !target.starts_with('[') {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Splits `host:port` or `[v6]:port`.
pub fn host_port(target: &str) -> Option<(String, u16)> {
    split_host_port(target).map(|(h, p)| (h.to_string(), p))
}

fn check_host_port(
    target: &str,
    node: Option<&Node>,
    at: &Node,
    path: &Path,
    diags: &mut Diagnostics,
) {
    if split_host_port(target).is_none() {
        diags.error(
            node.unwrap_or(at).span,
            &path.key("target"),
            format!("target `{target}` is not host:port (use [addr]:port for IPv6)"),
        );
    }
}

fn decode_kind(
    kind: &str,
    kind_node: &Node,
    m: &mut MapReader,
    path: &Path,
    diags: &mut Diagnostics,
    top_level: bool,
) -> Option<Kind> {
    let at = kind_node;
    match kind {
        "icmp" => {
            let target = required(m, "target", kind, at, path, diags)?;
            let ip = read_ip(m, path, diags);
            let payload = m
                .take("payload_size")
                .and_then(|n| yaml::read_u64(n, &path.key("payload_size"), 0..=65000, diags))
                .unwrap_or(56) as u32;
            Some(Kind::Icmp(IcmpSpec {
                target,
                ip,
                payload,
            }))
        }
        "dns" => {
            let server = required(m, "server", kind, at, path, diags);
            let qname = required(m, "qname", kind, at, path, diags);
            let qtype = m
                .take("type")
                .and_then(|n| {
                    let t = yaml::read_str(n, &path.key("type"), diags)?.to_ascii_uppercase();
                    if crate::dns::record_type(&t).is_none() {
                        diags.error(
                            n.span,
                            &path.key("type"),
                            format!("unknown record type `{t}`"),
                        );
                        return None;
                    }
                    Some(t)
                })
                .unwrap_or_else(|| "ANY".into());
            let mut transport_tcp = false;
            if let Some(n) = m.take("transport") {
                match yaml::read_str(n, &path.key("transport"), diags).as_deref() {
                    Some("udp") => {}
                    Some("tcp") => transport_tcp = true,
                    Some(o) => diags.error(
                        n.span,
                        &path.key("transport"),
                        format!("transport is udp or tcp, found `{o}`"),
                    ),
                    None => {}
                }
            }
            let recursion = m
                .take("recursion")
                .and_then(|n| yaml::read_bool(n, &path.key("recursion"), diags))
                .unwrap_or(true);
            let mut valid_rcodes = Vec::new();
            if let Some(n) = m.take("valid_rcodes") {
                let p = path.key("valid_rcodes");
                for (i, item) in yaml::read_list(n, &p, diags).into_iter().enumerate() {
                    if let Some(r) = yaml::read_str(item, &p.index(i), diags) {
                        let r = r.to_ascii_uppercase();
                        if crate::dns::rcode_from_name(&r).is_none() {
                            diags.error(item.span, &p.index(i), format!("unknown rcode `{r}`"));
                        } else {
                            valid_rcodes.push(r);
                        }
                    }
                }
            }
            let answer = read_rrv(
                m.take("validate_answer_rrs"),
                &path.key("validate_answer_rrs"),
                diags,
            );
            let authority = read_rrv(
                m.take("validate_authority_rrs"),
                &path.key("validate_authority_rrs"),
                diags,
            );
            let additional = read_rrv(
                m.take("validate_additional_rrs"),
                &path.key("validate_additional_rrs"),
                diags,
            );
            let ip = read_ip(m, path, diags);
            Some(Kind::Dns(DnsSpec {
                server: server?,
                qname: qname?,
                qtype,
                transport_tcp,
                recursion,
                valid_rcodes,
                answer,
                authority,
                additional,
                ip,
            }))
        }
        "tcp" | "tls" => {
            let tnode = m.take("target");
            let target = match tnode {
                Some(n) => yaml::read_str(n, &path.key("target"), diags),
                None => {
                    diags.error(at.span, path, format!("a `{kind}` probe needs `target`"));
                    None
                }
            };
            if let Some(t) = &target {
                if !t.contains("${") {
                    check_host_port(t, tnode, at, path, diags);
                }
            }
            let mut query_response = Vec::new();
            if let Some(n) = m.take("query_response") {
                let p = path.key("query_response");
                for (i, item) in yaml::read_list(n, &p, diags).into_iter().enumerate() {
                    let ip = p.index(i);
                    if let Some(mut qm) = MapReader::new(item, &ip, diags) {
                        let expect = read_regexes(qm.take("expect"), &ip.key("expect"), diags)
                            .into_iter()
                            .next();
                        let send = qm
                            .take("send")
                            .and_then(|s| yaml::read_str(s, &ip.key("send"), diags));
                        qm.finish(&["expect", "send"], diags);
                        query_response.push(QueryResponse { expect, send });
                    }
                }
            }
            let tls = (kind == "tls").then(|| read_tls(m, path, diags));
            let ip = read_ip(m, path, diags);
            Some(Kind::Tcp(TcpSpec {
                target: target?,
                query_response,
                tls,
                ip,
            }))
        }
        "http" => {
            let unode = m.take("url");
            let url = match unode {
                Some(n) => yaml::read_str(n, &path.key("url"), diags),
                None => {
                    diags.error(at.span, path, "an `http` probe needs `url`");
                    None
                }
            };
            if let (Some(u), Some(n)) = (&url, unode) {
                if !u.contains("${") {
                    if let Err(e) = crate::http::parse_url(u) {
                        diags.error(n.span, &path.key("url"), e);
                    }
                }
            }
            let method = m
                .take("method")
                .and_then(|n| yaml::read_str(n, &path.key("method"), diags))
                .map(|s| s.to_ascii_uppercase())
                .unwrap_or_else(|| "GET".into());
            let mut headers = Vec::new();
            if let Some(h) = m.take("headers") {
                let hp = path.key("headers");
                if let Some(mut hm) = MapReader::new(h, &hp, diags) {
                    for (k, v) in hm.take_rest() {
                        let key = k.as_scalar().unwrap_or_default().to_string();
                        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                            diags.error(
                                k.span,
                                &hp.key(&key),
                                format!("`{key}` is not a header name"),
                            );
                            continue;
                        }
                        if let Some(val) = yaml::read_str(v, &hp.key(&key), diags) {
                            headers.push((key, val));
                        }
                    }
                }
            }
            let body = m
                .take("body")
                .and_then(|n| yaml::read_str(n, &path.key("body"), diags));
            let mut valid_status_codes = Vec::new();
            if let Some(n) = m.take("valid_status_codes") {
                let p = path.key("valid_status_codes");
                for (i, item) in yaml::read_list(n, &p, diags).into_iter().enumerate() {
                    if let Some(c) = yaml::read_u64(item, &p.index(i), 100..=999, diags) {
                        valid_status_codes.push(c as u16);
                    }
                }
            }
            let fail_if_body_matches = read_regexes(
                m.take("fail_if_body_matches_regexp"),
                &path.key("fail_if_body_matches_regexp"),
                diags,
            );
            let fail_if_body_not_matches = read_regexes(
                m.take("fail_if_body_not_matches_regexp"),
                &path.key("fail_if_body_not_matches_regexp"),
                diags,
            );
            let mut json = Vec::new();
            if let Some(n) = m.take("json") {
                let p = path.key("json");
                for (i, item) in yaml::read_list(n, &p, diags).into_iter().enumerate() {
                    let ip = p.index(i);
                    if let Some(mut jm) = MapReader::new(item, &ip, diags) {
                        let jpath = match jm.take("path") {
                            Some(pn) => yaml::read_str(pn, &ip.key("path"), diags).and_then(|t| {
                                JsonPath::parse(&t)
                                    .map_err(|e| diags.error(pn.span, &ip.key("path"), e))
                                    .ok()
                            }),
                            None => {
                                diags.error(item.span, &ip, "a JSON assertion needs `path`");
                                None
                            }
                        };
                        let equals = jm.take("equals").map(yaml_to_json);
                        jm.finish(&["path", "equals"], diags);
                        if let Some(path) = jpath {
                            json.push(JsonAssert { path, equals });
                        }
                    }
                }
            }
            let follow_redirects = !m
                .take("no_follow_redirects")
                .and_then(|n| yaml::read_bool(n, &path.key("no_follow_redirects"), diags))
                .unwrap_or(false);
            let http2 = m
                .take("http2")
                .and_then(|n| yaml::read_bool(n, &path.key("http2"), diags));
            let mut valid_http_versions = Vec::new();
            if let Some(n) = m.take("valid_http_versions") {
                let p = path.key("valid_http_versions");
                for (i, item) in yaml::read_list(n, &p, diags).into_iter().enumerate() {
                    if let Some(v) = yaml::read_str(item, &p.index(i), diags) {
                        valid_http_versions.push(v);
                    }
                }
            }
            let tls = read_tls(m, path, diags);
            let ip = read_ip(m, path, diags);
            Some(Kind::Http(HttpSpec {
                method,
                url: url?,
                headers,
                body,
                valid_status_codes,
                fail_if_body_matches,
                fail_if_body_not_matches,
                json,
                follow_redirects,
                http2,
                valid_http_versions,
                tls,
                ip,
            }))
        }
        "transaction" if top_level => {
            let Some(steps_node) = m.take("steps") else {
                diags.error(at.span, path, "a `transaction` probe needs `steps`");
                return None;
            };
            let sp = path.key("steps");
            let mut steps = Vec::new();
            let mut defined: Vec<String> = Vec::new();
            for (i, item) in yaml::read_list(steps_node, &sp, diags)
                .into_iter()
                .enumerate()
            {
                let ip = sp.index(i);
                let Some(mut sm) = MapReader::new(item, &ip, diags) else {
                    continue;
                };
                let name = sm
                    .take("name")
                    .and_then(|n| yaml::read_str(n, &ip.key("name"), diags))
                    .unwrap_or_else(|| format!("step{}", i + 1));
                let kind = match sm.take("kind") {
                    Some(k) => yaml::read_str(k, &ip.key("kind"), diags)
                        .and_then(|kn| decode_kind(&kn, k, &mut sm, &ip, diags, false)),
                    None => {
                        diags.error(
                            item.span,
                            &ip,
                            "a step needs a `kind` (icmp, dns, tcp, tls, http)",
                        );
                        None
                    }
                };
                let server_time = read_dur(sm.take("server_time"), &ip, "server_time", diags);
                let mut captures = Vec::new();
                if let Some(c) = sm.take("capture") {
                    let cp = ip.key("capture");
                    if let Some(mut cm) = MapReader::new(c, &cp, diags) {
                        for (k, v) in cm.take_rest() {
                            let var = k.as_scalar().unwrap_or_default().to_string();
                            if let Some(from) = decode_capture(v, &cp.key(&var), diags) {
                                captures.push(Capture {
                                    var: var.clone(),
                                    from,
                                });
                            }
                        }
                    }
                }
                if let Some(k) = &kind {
                    for used in variables_used(k) {
                        if !defined.contains(&used) {
                            diags.error(
                                item.span,
                                &ip,
                                format!(
                                    "`${{{used}}}` is used before any earlier step captures it"
                                ),
                            );
                        }
                    }
                }
                defined.extend(captures.iter().map(|c| c.var.clone()));
                let allowed: Vec<&str> = STEP_KEYS
                    .iter()
                    .chain(kind_keys(kind.as_ref()))
                    .copied()
                    .collect();
                sm.finish(&allowed, diags);
                if let Some(kind) = kind {
                    steps.push(Step {
                        name,
                        kind,
                        captures,
                        server_time,
                    });
                }
            }
            if steps.is_empty() {
                diags.error(
                    steps_node.span,
                    &sp,
                    "a transaction needs at least one step",
                );
                return None;
            }
            Some(Kind::Transaction(steps))
        }
        other => {
            let allowed: &[&str] = if top_level {
                &["icmp", "dns", "tcp", "tls", "http", "transaction"]
            } else {
                &["icmp", "dns", "tcp", "tls", "http"]
            };
            let mut msg = format!("unknown probe kind `{other}`");
            match yaml::closest(other, allowed) {
                Some(near) => msg.push_str(&format!(" (did you mean `{near}`?)")),
                None => msg.push_str(&format!("; expected one of: {}", allowed.join(", "))),
            }
            diags.error(kind_node.span, &path.key("kind"), msg);
            None
        }
    }
}

fn decode_capture(node: &Node, path: &Path, diags: &mut Diagnostics) -> Option<CaptureFrom> {
    let mut m = MapReader::new(node, path, diags)?;
    let header = m.take("header");
    let json = m.take("json");
    let regex = m.take("regex");
    m.finish(&["header", "json", "regex"], diags);
    let from = match (header, json, regex) {
        (Some(h), None, None) => {
            CaptureFrom::Header(yaml::read_str(h, &path.key("header"), diags)?)
        }
        (None, Some(j), None) => {
            let t = yaml::read_str(j, &path.key("json"), diags)?;
            CaptureFrom::Json(
                JsonPath::parse(&t)
                    .map_err(|e| diags.error(j.span, &path.key("json"), e))
                    .ok()?,
            )
        }
        (None, None, Some(r)) => {
            let t = yaml::read_str(r, &path.key("regex"), diags)?;
            CaptureFrom::Regex(
                Regex::new(&t)
                    .map_err(|e| {
                        diags.error(
                            r.span,
                            &path.key("regex"),
                            format!("bad regular expression: {e}"),
                        )
                    })
                    .ok()?,
            )
        }
        _ => {
            diags.error(
                node.span,
                path,
                "a capture takes exactly one of `header`, `json`, `regex`",
            );
            return None;
        }
    };
    Some(from)
}

fn read_rrv(node: Option<&Node>, path: &Path, diags: &mut Diagnostics) -> RrValidator {
    let Some(node) = node else {
        return RrValidator::default();
    };
    let Some(mut m) = MapReader::new(node, path, diags) else {
        return RrValidator::default();
    };
    let v = RrValidator {
        fail_if_matches: read_regexes(
            m.take("fail_if_matches_regexp"),
            &path.key("fail_if_matches_regexp"),
            diags,
        ),
        fail_if_all_match: read_regexes(
            m.take("fail_if_all_match_regexp"),
            &path.key("fail_if_all_match_regexp"),
            diags,
        ),
        fail_if_not_matches: read_regexes(
            m.take("fail_if_not_matches_regexp"),
            &path.key("fail_if_not_matches_regexp"),
            diags,
        ),
        fail_if_none_matches: read_regexes(
            m.take("fail_if_none_matches_regexp"),
            &path.key("fail_if_none_matches_regexp"),
            diags,
        ),
    };
    m.finish(
        &[
            "fail_if_matches_regexp",
            "fail_if_all_match_regexp",
            "fail_if_not_matches_regexp",
            "fail_if_none_matches_regexp",
        ],
        diags,
    );
    v
}

fn decode_slo(node: &Node, path: &Path, diags: &mut Diagnostics) -> Option<Slo> {
    let mut m = MapReader::new(node, path, diags)?;
    let percent = |n: &Node, p: &Path, diags: &mut Diagnostics| {
        yaml::read_f64(n, p, 0.0..=100.0, diags).map(|v| v / 100.0)
    };
    let availability = m
        .take("availability")
        .and_then(|n| percent(n, &path.key("availability"), diags));
    let mut latency = None;
    if let Some(l) = m.take("latency") {
        let lp = path.key("latency");
        if let Some(mut lm) = MapReader::new(l, &lp, diags) {
            let threshold = match lm.take("threshold") {
                Some(t) => read_dur(Some(t), &lp, "threshold", diags),
                None => {
                    diags.error(l.span, &lp, "a latency objective needs `threshold`");
                    None
                }
            };
            let objective = match lm.take("objective") {
                Some(o) => percent(o, &lp.key("objective"), diags),
                None => {
                    diags.error(
                        l.span,
                        &lp,
                        "a latency objective needs `objective` (a percentage)",
                    );
                    None
                }
            };
            lm.finish(&["threshold", "objective"], diags);
            if let (Some(t), Some(o)) = (threshold, objective) {
                latency = Some((t, o));
            }
        }
    }
    let window = read_dur(m.take("window"), path, "window", diags)
        .unwrap_or(Duration::from_secs(30 * 86400));
    let mut alerts = Vec::new();
    if let Some(a) = m.take("alerts") {
        let ap = path.key("alerts");
        for (i, item) in yaml::read_list(a, &ap, diags).into_iter().enumerate() {
            let ip = ap.index(i);
            let Some(mut am) = MapReader::new(item, &ip, diags) else {
                continue;
            };
            let severity = am
                .take("severity")
                .and_then(|n| yaml::read_str(n, &ip.key("severity"), diags))
                .unwrap_or_else(|| "page".into());
            let long = read_dur(am.take("long"), &ip, "long", diags);
            let short = read_dur(am.take("short"), &ip, "short", diags);
            let burn = am
                .take("burn_rate")
                .and_then(|n| yaml::read_f64(n, &ip.key("burn_rate"), 0.0..=1e6, diags));
            am.finish(&["severity", "long", "short", "burn_rate"], diags);
            match (long, short, burn) {
                (Some(long), Some(short), Some(burn_rate)) => alerts.push(crate::slo::BurnAlert {
                    severity,
                    long,
                    short,
                    burn_rate,
                }),
                _ => diags.error(
                    item.span,
                    &ip,
                    "an alert needs `long`, `short` and `burn_rate`",
                ),
            }
        }
    }
    m.finish(&["availability", "latency", "window", "alerts"], diags);
    for (what, obj) in [
        ("availability", availability),
        ("latency.objective", latency.map(|l| l.1)),
    ] {
        if obj == Some(1.0) {
            diags.error(
                node.span,
                &path.key(what),
                "an objective of 100% leaves no error budget: burn rates are undefined",
            );
        }
    }
    if availability.is_none() && latency.is_none() {
        diags.error(node.span, path, "an SLO needs `availability` or `latency`");
        return None;
    }
    if alerts.is_empty() {
        alerts = crate::slo::workbook_alerts(window);
    }
    Some(Slo {
        availability,
        latency,
        window,
        alerts,
    })
}

fn yaml_to_json(n: &Node) -> serde_json::Value {
    use nettwin_model::yaml::Value;
    match &n.value {
        Value::Null => serde_json::Value::Null,
        Value::Scalar { text, quoted } => {
            if !quoted {
                if let Ok(i) = text.parse::<i64>() {
                    return i.into();
                }
                if let Ok(f) = text.parse::<f64>() {
                    return serde_json::json!(f);
                }
                match text.as_str() {
                    "true" => return true.into(),
                    "false" => return false.into(),
                    _ => {}
                }
            }
            serde_json::Value::String(text.clone())
        }
        Value::Seq(items) => items.iter().map(yaml_to_json).collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                (
                    k.as_scalar().unwrap_or_default().to_string(),
                    yaml_to_json(v),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// Names of the `${var}`s a step refers to.
pub fn variables_used(kind: &Kind) -> Vec<String> {
    let mut texts: Vec<&str> = Vec::new();
    match kind {
        Kind::Http(h) => {
            texts.push(&h.url);
            texts.extend(h.headers.iter().map(|(_, v)| v.as_str()));
            if let Some(b) = &h.body {
                texts.push(b);
            }
        }
        Kind::Tcp(t) => {
            texts.push(&t.target);
            texts.extend(t.query_response.iter().filter_map(|q| q.send.as_deref()));
        }
        Kind::Dns(d) => texts.push(&d.qname),
        Kind::Icmp(i) => texts.push(&i.target),
        Kind::Transaction(_) => {}
    }
    let mut out = Vec::new();
    for t in texts {
        let mut rest = t;
        while let Some(s) = rest.find("${") {
            let after = &rest[s + 2..];
            let Some(e) = after.find('}') else { break };
            let name = &after[..e];
            // `${1}` in a tcp `send` is a regex group, not a variable.
            if !name.chars().all(|c| c.is_ascii_digit()) {
                out.push(name.to_string());
            }
            rest = &after[e + 1..];
        }
    }
    out
}

/// Replaces `${var}` by its value; an unknown variable is an error naming it.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(s) = rest.find("${") {
        out.push_str(&rest[..s]);
        let after = &rest[s + 2..];
        let Some(e) = after.find('}') else {
            out.push_str(&rest[s..]);
            return Ok(out);
        };
        let name = &after[..e];
        if name.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&rest[s..s + 3 + e]);
        } else {
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => return Err(format!("variable `${{{name}}}` was not captured")),
            }
        }
        rest = &after[e + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("5 parsecs"), None);
    }

    #[test]
    fn json_paths() {
        let v = serde_json::json!({"a": {"b": [10, {"c": "x"}]}, "k.y": 1});
        assert_eq!(
            JsonPath::parse("$.a.b[0]").unwrap().get(&v),
            Some(&serde_json::json!(10))
        );
        assert_eq!(
            JsonPath::parse("$.a.b[1].c").unwrap().get(&v),
            Some(&serde_json::json!("x"))
        );
        assert_eq!(
            JsonPath::parse("$['k.y']").unwrap().get(&v),
            Some(&serde_json::json!(1))
        );
        assert!(JsonPath::parse("a.b").is_err());
        assert_eq!(JsonPath::parse("$.a.z").unwrap().get(&v), None);
    }

    #[test]
    fn every_mistake_with_its_place() {
        let text = "probes:\n  - name: web\n    kind: htp\n  - name: db\n    kind: tcp\n    target: nocolon\n    intervall: 1s\n  - {name: web, kind: http, url: \"http://x/\", timeout: soon}\n";
        let err = parse("p.yml", text).unwrap_err();
        let msgs: Vec<String> = err.iter().map(|d| d.to_string()).collect();
        assert!(
            msgs[0].starts_with("p.yml:3:11: unknown probe kind `htp` (did you mean `http`?)"),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("p.yml:6:13: target `nocolon` is not host:port")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m
                    .starts_with("p.yml:7:5: unknown key `intervall` (did you mean `interval`?)")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("8:") && m.contains("`soon` is not a duration")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("probe `web` is already defined at line 2")),
            "{msgs:?}"
        );
    }

    #[test]
    fn variables_must_be_captured_first() {
        let text = "probes:\n- name: t\n  kind: transaction\n  steps:\n  - {kind: http, url: \"http://h:1/${token}\"}\n  - {kind: http, url: \"http://h:1/login\", capture: {token: {json: $.token}}}\n";
        let err = parse("t.yml", text).unwrap_err();
        assert!(
            err.to_string()
                .contains("t.yml:5:5: `${token}` is used before any earlier step captures it"),
            "{err}"
        );
    }

    #[test]
    fn substitution() {
        let mut vars = BTreeMap::new();
        vars.insert("t".to_string(), "abc".to_string());
        assert_eq!(
            substitute("Bearer ${t}/${1}", &vars).unwrap(),
            "Bearer abc/${1}"
        );
        assert!(substitute("${u}", &vars).unwrap_err().contains("`${u}`"));
    }
}
