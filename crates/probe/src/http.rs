//! The http prober, following blackbox_exporter's `ProbeHTTP`: one fresh connection per
//! request (keep-alives off), redirects followed up to 10 unless `no_follow_redirects`, phases
//! `resolve`, `connect`, `tls`, `processing`, `transfer` summed over redirects, success when the
//! status is 2xx (or one of `valid_status_codes`) and the body regexes hold; JSON path
//! assertions come on top.

use crate::result::Outcome;
use crate::spec::{HttpSpec, IpProtocol};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tokio::net::TcpStream;

/// The User-Agent sent unless the probe sets one (blackbox_exporter sends its own name).
pub const USER_AGENT: &str = concat!("nettwin-probe/", env!("CARGO_PKG_VERSION"));

/// Largest body read; a probe is not a download.
const MAX_BODY: usize = 16 << 20;

/// A URL split into what a connection needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for the Host header.
    pub authority: String,
    pub path_and_query: String,
}

impl Url {
    pub fn to_uri(&self) -> String {
        format!(
            "{}://{}{}",
            if self.https { "https" } else { "http" },
            self.authority,
            self.path_and_query
        )
    }
}

pub fn parse_url(text: &str) -> Result<Url, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(s) => return Err(format!("`{text}`: scheme {s} is not http or https")),
        None => return Err(format!("`{text}` needs http:// or https://")),
    };
    let auth = uri
        .authority()
        .ok_or_else(|| format!("`{text}` has no host"))?;
    let host = auth
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(Url {
        https,
        port: auth.port_u16().unwrap_or(if https { 443 } else { 80 }),
        host,
        authority: auth.as_str().to_string(),
        path_and_query: uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string()),
    })
}

/// `location` resolved against `base` (absolute, absolute-path or relative).
fn join(base: &Url, location: &str) -> Result<Url, String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return parse_url(location);
    }
    let mut u = base.clone();
    if let Some(rest) = location.strip_prefix("//") {
        return parse_url(&format!(
            "{}://{rest}",
            if base.https { "https" } else { "http" }
        ));
    }
    if location.starts_with('/') {
        u.path_and_query = location.to_string();
    } else {
        let path = base.path_and_query.split('?').next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        u.path_and_query = format!("{dir}{location}");
    }
    Ok(u)
}

/// State a transaction keeps between HTTP steps: cookies, as Go's cookie jar would.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// (host, name, value).
    pub cookies: Vec<(String, String, String)>,
}

impl Session {
    fn cookie_header(&self, host: &str) -> Option<String> {
        let v: Vec<String> = self
            .cookies
            .iter()
            .filter(|(h, _, _)| h == host)
            .map(|(_, n, v)| format!("{n}={v}"))
            .collect();
        (!v.is_empty()).then(|| v.join("; "))
    }

    fn store(&mut self, host: &str, set_cookie: &str) {
        let Some((name, value)) = set_cookie.split(';').next().and_then(|c| c.split_once('='))
        else {
            return;
        };
        let (name, value) = (name.trim().to_string(), value.trim().to_string());
        self.cookies.retain(|(h, n, _)| !(h == host && *n == name));
        self.cookies.push((host.to_string(), name, value));
    }
}

/// Waits for `fut` until `deadline`; a timeout fails `phase`.
async fn within<T>(
    deadline: tokio::time::Instant,
    phase: &'static str,
    fut: impl std::future::Future<Output = Result<T, String>>,
    out: &mut Outcome,
) -> Option<T> {
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            out.fail(phase, e);
            None
        }
        Err(_) => {
            out.fail(phase, format!("timed out during {phase}"));
            None
        }
    }
}

async fn resolve_again(host: &str, ip: IpProtocol) -> Result<IpAddr, String> {
    let mut scratch = Outcome::default();
    crate::net::choose(host, ip, &mut scratch)
        .await
        .map(|(a, _)| a)
        .ok_or_else(|| scratch.error.unwrap_or_default())
}

type ReqBody = Full<Bytes>;

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<ReqBody>),
    H2(hyper::client::conn::http2::SendRequest<ReqBody>),
}

impl Sender {
    async fn send(
        &mut self,
        req: http::Request<ReqBody>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper::Error> {
        match self {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
    }
}

/// Runs the http prober; `deadline` bounds the whole probe.
pub async fn probe(
    spec: &HttpSpec,
    session: &mut Session,
    deadline: tokio::time::Instant,
    out: &mut Outcome,
) {
    // Registered up front as blackbox_exporter does, so they read 0 when never reached.
    for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
        out.add_phase(phase, 0.0);
    }
    let mut url = match parse_url(&spec.url) {
        Ok(u) => u,
        Err(e) => {
            out.fail("resolve", e);
            return;
        }
    };
    let Some((mut addr, lookup)) = crate::net::choose(&url.host, spec.ip, out).await else {
        finish_gauges(out, 0, -1.0, 0, false, 0.0, &[]);
        return;
    };
    out.add_phase("resolve", lookup);
    let mut method = spec.method.clone();
    let mut body = spec.body.clone().unwrap_or_default();
    let mut redirects = 0u32;
    let mut first = true;
    loop {
        if !first {
            let t = Instant::now();
            let r = within(deadline, "resolve", resolve_again(&url.host, spec.ip), out).await;
            out.add_phase("resolve", t.elapsed().as_secs_f64());
            match r {
                Some(a) => addr = a,
                None => break finish_gauges(out, redirects, -1.0, 0, false, 0.0, &[]),
            }
        }
        first = false;
        let t_dns = Instant::now();
        let sa = SocketAddr::new(addr, url.port);
        let Some(tcp) = within(
            deadline,
            "connect",
            async {
                TcpStream::connect(sa)
                    .await
                    .map_err(|e| format!("connect to {sa}: {e}"))
            },
            out,
        )
        .await
        else {
            out.add_phase("connect", t_dns.elapsed().as_secs_f64());
            break finish_gauges(out, redirects, -1.0, 0, false, 0.0, &[]);
        };
        let _ = tcp.set_nodelay(true);
        let t_conn = Instant::now();
        out.add_phase("connect", (t_conn - t_dns).as_secs_f64());
        let alpn: &[&[u8]] = if spec.http2 != Some(false) {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"http/1.1"]
        };
        let (sender, tls_info) = if url.https {
            let Some((stream, info)) = within(
                deadline,
                "tls",
                crate::tls::connect(tcp, &spec.tls, &url.host, alpn),
                out,
            )
            .await
            else {
                out.add_phase("tls", t_conn.elapsed().as_secs_f64());
                break finish_gauges(out, redirects, -1.0, 0, true, 0.0, &[]);
            };
            out.add_phase("tls", t_conn.elapsed().as_secs_f64());
            let h2 = info.alpn.as_deref() == Some(b"h2");
            let s = within(
                deadline,
                "processing",
                handshake(TokioIo::new(stream), h2),
                out,
            )
            .await;
            let Some(s) = s else {
                break finish_gauges(out, redirects, -1.0, 0, true, 0.0, &[]);
            };
            (s, Some(info))
        } else {
            let s = within(
                deadline,
                "processing",
                handshake(TokioIo::new(tcp), spec.http2 == Some(true)),
                out,
            )
            .await;
            let Some(s) = s else {
                break finish_gauges(out, redirects, -1.0, 0, false, 0.0, &[]);
            };
            (s, None)
        };
        let got_conn = Instant::now();
        let mut sender = sender;
        let h2 = matches!(sender, Sender::H2(_));
        let mut req = http::Request::builder().method(method.as_str());
        req = if h2 {
            req.uri(url.to_uri())
        } else {
            req.uri(url.path_and_query.as_str())
                .header(http::header::HOST, url.authority.as_str())
        };
        let mut has_ua = false;
        for (k, v) in &spec.headers {
            if k.eq_ignore_ascii_case("host") {
                if !h2 {
                    if let Some(h) = req.headers_mut() {
                        h.remove(http::header::HOST);
                    }
                    req = req.header(http::header::HOST, v.as_str());
                }
                continue;
            }
            has_ua |= k.eq_ignore_ascii_case("user-agent");
            req = req.header(k.as_str(), v.as_str());
        }
        if !has_ua {
            req = req.header(http::header::USER_AGENT, USER_AGENT);
        }
        if let Some(c) = session.cookie_header(&url.host) {
            req = req.header(http::header::COOKIE, c);
        }
        let req = match req.body(Full::new(Bytes::from(body.clone()))) {
            Ok(r) => r,
            Err(e) => {
                out.fail("processing", format!("bad request: {e}"));
                break finish_gauges(out, redirects, -1.0, 0, url.https, 0.0, &[]);
            }
        };
        let Some(resp) = within(
            deadline,
            "processing",
            async { sender.send(req).await.map_err(|e| format!("request: {e}")) },
            out,
        )
        .await
        else {
            out.add_phase("processing", got_conn.elapsed().as_secs_f64());
            break finish_gauges(out, redirects, -1.0, 0, url.https, 0.0, &[]);
        };
        let first_byte = Instant::now();
        out.add_phase("processing", (first_byte - got_conn).as_secs_f64());
        let status = resp.status().as_u16();
        for v in resp.headers().get_all(http::header::SET_COOKIE) {
            if let Ok(v) = v.to_str() {
                session.store(&url.host, v);
            }
        }
        let location = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if (300..400).contains(&status) && status != 304 {
            if let Some(loc) = location {
                // Go's client counts the redirect it is asked about even when it refuses it.
                redirects += 1;
                if spec.follow_redirects && redirects <= 10 {
                    if matches!(status, 301..=303) && method != "HEAD" {
                        method = "GET".into();
                        body.clear();
                    }
                    // The redirect's own body is not read; its connection is dropped.
                    match join(&url, &loc) {
                        Ok(next) => {
                            url = next;
                            continue;
                        }
                        Err(e) => {
                            out.fail("processing", format!("bad redirect: {e}"));
                            break finish_gauges(out, redirects, -1.0, 0, url.https, 0.0, &[]);
                        }
                    }
                }
                if redirects > 10 {
                    redirects = 10;
                }
            }
        }
        let version = match resp.version() {
            http::Version::HTTP_10 => 1.0,
            http::Version::HTTP_11 => 1.1,
            http::Version::HTTP_2 => 2.0,
            _ => 0.0,
        };
        let proto = match resp.version() {
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        let content_length = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
            .unwrap_or(-1.0);
        let last_modified = resp
            .headers()
            .get(http::header::LAST_MODIFIED)
            .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64());
        out.headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        out.status = Some(status);
        let collected = within(
            deadline,
            "transfer",
            async {
                Limited::new(resp.into_body(), MAX_BODY)
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .map_err(|e| format!("reading the body: {e}"))
            },
            out,
        )
        .await;
        out.add_phase("transfer", first_byte.elapsed().as_secs_f64());
        let body_bytes = collected.unwrap_or_default();
        out.body = body_bytes.to_vec();
        if let Some(info) = &tls_info {
            crate::tls::record(info, &spec.tls, true, out);
        }
        // Success as blackbox_exporter decides it, in its order.
        let mut ok = out.failed_phase.is_none();
        let status_ok = if spec.valid_status_codes.is_empty() {
            (200..300).contains(&status)
        } else {
            spec.valid_status_codes.contains(&status)
        };
        if ok && !status_ok {
            let wanted = if spec.valid_status_codes.is_empty() {
                "2xx".to_string()
            } else {
                format!("{:?}", spec.valid_status_codes)
            };
            out.fail("validate", format!("status {status}, wanted {wanted}"));
            ok = false;
        }
        let mut regex_failed = None;
        if ok && !(spec.fail_if_body_matches.is_empty() && spec.fail_if_body_not_matches.is_empty())
        {
            let text = String::from_utf8_lossy(&body_bytes);
            let bad = spec
                .fail_if_body_matches
                .iter()
                .find(|r| r.is_match(&text))
                .map(|r| format!("body matched {}", r.as_str()))
                .or_else(|| {
                    spec.fail_if_body_not_matches
                        .iter()
                        .find(|r| !r.is_match(&text))
                        .map(|r| format!("body did not match {}", r.as_str()))
                });
            regex_failed = Some(bad.is_some());
            if let Some(why) = bad {
                out.fail("validate", why);
                ok = false;
            }
        }
        if ok && !spec.json.is_empty() {
            match serde_json::from_slice::<serde_json::Value>(&body_bytes) {
                Err(e) => out.fail("validate", format!("body is not JSON: {e}")),
                Ok(v) => {
                    for a in &spec.json {
                        match (a.path.get(&v), &a.equals) {
                            (None, _) => {
                                out.fail("validate", format!("{} is missing", a.path.text));
                                break;
                            }
                            (Some(got), Some(want)) if !json_eq(got, want) => {
                                out.fail(
                                    "validate",
                                    format!("{} is {got}, wanted {want}", a.path.text),
                                );
                                break;
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        if out.failed_phase.is_none()
            && !spec.valid_http_versions.is_empty()
            && !spec.valid_http_versions.iter().any(|v| v == proto)
        {
            out.fail(
                "validate",
                format!("{proto} is not one of {:?}", spec.valid_http_versions),
            );
        }
        let mut extra = Vec::new();
        if let Some(t) = last_modified {
            extra.push(t);
        }
        finish_gauges(
            out,
            redirects,
            content_length,
            body_bytes.len(),
            url.https,
            version,
            &extra,
        );
        out.set_metric("probe_http_status_code", f64::from(status));
        if regex_failed == Some(true) {
            out.set_metric("probe_failed_due_to_regex", 1.0);
        }
        out.success = out.failed_phase.is_none();
        return;
    }
}

fn json_eq(got: &serde_json::Value, want: &serde_json::Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => {
            got == want
                || got
                    .as_str()
                    .is_some_and(|g| want.to_string().trim_matches('"') == g)
        }
    }
}

/// The gauges every http probe has, as blackbox_exporter registers them.
fn finish_gauges(
    out: &mut Outcome,
    redirects: u32,
    content_length: f64,
    body_len: usize,
    ssl: bool,
    version: f64,
    last_modified: &[f64],
) {
    if !out
        .metrics
        .iter()
        .any(|m| m.name == "probe_http_status_code")
    {
        out.gauge("probe_http_status_code", "Response HTTP status code", 0.0);
    }
    // A failure before any response leaves content length at Go's zero value.
    let content_length = if out.status.is_some() {
        content_length
    } else {
        0.0
    };
    out.gauge(
        "probe_http_content_length",
        "Length of http content response",
        content_length,
    );
    out.gauge(
        "probe_http_uncompressed_body_length",
        "Length of uncompressed response body",
        body_len as f64,
    );
    out.gauge(
        "probe_http_redirects",
        "The number of redirects",
        f64::from(redirects),
    );
    out.gauge(
        "probe_http_ssl",
        "Indicates if SSL was used for the final redirect",
        if ssl && out.status.is_some() {
            1.0
        } else {
            0.0
        },
    );
    out.gauge(
        "probe_http_version",
        "Returns the version of HTTP of the probe response",
        version,
    );
    out.gauge(
        "probe_failed_due_to_regex",
        "Indicates if probe failed due to regex",
        0.0,
    );
    if let Some(t) = last_modified.first() {
        out.gauge(
            "probe_http_last_modified_timestamp_seconds",
            "Returns the Last-Modified HTTP response header in unixtime",
            *t,
        );
    }
}

async fn handshake<I>(io: TokioIo<I>, h2: bool) -> Result<Sender, String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Sender::H2(s))
    } else {
        let (s, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Sender::H1(s))
    }
}

/// POSTs `body` as JSON to `url` (alert webhooks); the status on success.
pub async fn post_json(
    url: &str,
    body: String,
    timeout: std::time::Duration,
) -> Result<u16, String> {
    let u = parse_url(url)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let run = async {
        let addr = resolve_again(
            &u.host,
            IpProtocol {
                prefer_v6: false,
                fallback: true,
            },
        )
        .await?;
        let tcp = TcpStream::connect(SocketAddr::new(addr, u.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut sender = if u.https {
            let (s, _) = crate::tls::connect(
                tcp,
                &crate::spec::TlsSpec::default(),
                &u.host,
                &[b"http/1.1"],
            )
            .await?;
            handshake(TokioIo::new(s), false).await?
        } else {
            handshake(TokioIo::new(tcp), false).await?
        };
        let req = http::Request::post(u.path_and_query.as_str())
            .header(http::header::HOST, u.authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, USER_AGENT)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(format!("webhook answered {status}"))
        }
    };
    tokio::time::timeout_at(deadline, run)
        .await
        .unwrap_or_else(|_| Err("webhook timed out".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_redirect_targets() {
        let u = parse_url("http://[::1]:8080/a/b?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority.as_str()),
            ("::1", 8080, "[::1]:8080")
        );
        assert_eq!(u.path_and_query, "/a/b?x=1");
        assert_eq!(join(&u, "/c").unwrap().path_and_query, "/c");
        assert_eq!(join(&u, "c").unwrap().path_and_query, "/a/c");
        assert!(join(&u, "https://h/").unwrap().https);
        assert!(parse_url("ftp://h/").is_err());
        assert_eq!(parse_url("https://h").unwrap().port, 443);
    }
}
