//! `probe serve`: a small target for probes, for tests and the lab. HTTP/1.1 and HTTP/2 in
//! clear text, HTTPS with a certificate generated at start (signed by a generated CA whose PEM
//! is written out for `ca_file`), DNS over UDP and TCP for a small zone, and a webhook sink; with
//! delays and failures set for the whole server or per request.
//!
//! HTTP paths: `/` (200 with Last-Modified), `/status/CODE`, `/delay/MS`, `/redirect/N` (N
//! redirects down to `/`), `/json`, `/bytes/N`, `POST /login` (a token in JSON and a session
//! cookie), `GET /api/me` (200 with `Authorization: Bearer TOKEN`, else 401), `/hook` (POST
//! stores the body, GET lists what was stored). Any path takes `?delay=MS` and `?status=CODE`.

use bytes::Bytes;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot make the certificate: {0}")]
    Cert(String),
}

/// What to serve and how badly.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// HTTP listens here (TCP), and DNS on the same address and port number over UDP.
    pub listen: SocketAddr,
    /// HTTPS; none to serve no TLS.
    pub tls_listen: Option<SocketAddr>,
    /// Serve DNS on UDP at `listen`'s address and port.
    pub dns: bool,
    /// DNS on this UDP port instead of `listen`'s (53 in the lab).
    pub dns_port: Option<u16>,
    /// Names in the certificate (DNS names or addresses).
    pub cert_names: Vec<String>,
    /// Days until the certificate expires.
    pub cert_days: u32,
    /// Offer TLS 1.2 only (a two round-trip handshake).
    pub tls12_only: bool,
    /// Added before every HTTP answer.
    pub delay: Duration,
    /// Added before every DNS answer.
    pub dns_delay: Duration,
    /// Every Nth HTTP request answers 503 (0: never).
    pub fail_every: u64,
    /// Extra DNS records: (name, address) for A/AAAA.
    pub records: Vec<(String, IpAddr)>,
}

impl ServeConfig {
    pub fn new(listen: SocketAddr) -> ServeConfig {
        ServeConfig {
            listen,
            tls_listen: Some(SocketAddr::new(listen.ip(), listen.port().wrapping_add(1))),
            dns: true,
            dns_port: None,
            cert_names: vec![
                "localhost".into(),
                "probe.test".into(),
                "127.0.0.1".into(),
                "::1".into(),
            ],
            cert_days: 90,
            tls12_only: false,
            delay: Duration::ZERO,
            dns_delay: Duration::ZERO,
            fail_every: 0,
            records: Vec::new(),
        }
    }
}

/// The zone `probe serve` answers for.
pub const ZONE: &str = "example.test.";
/// The zone's SOA serial.
pub const SERIAL: u32 = 2026120301;

/// A generated CA and a leaf certificate it signed.
pub struct Identity {
    /// Leaf first, then the CA.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The CA certificate in PEM, for clients' `ca_file`.
    pub ca_pem: String,
}

impl Identity {
    pub fn generate(names: &[String], days: u32) -> Result<Identity, ServeError> {
        use rcgen::{
            BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let err = |e: rcgen::Error| ServeError::Cert(e.to_string());
        let now = time::OffsetDateTime::now_utc();
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "nettwin");
        dn.push(DnType::CommonName, "nettwin probe CA");
        ca.distinguished_name = dn;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = now - time::Duration::hours(1);
        ca.not_after = now + time::Duration::days(3650);
        let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
        let key = KeyPair::generate().map_err(err)?;
        let mut leaf = CertificateParams::new(names.to_vec()).map_err(err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "nettwin");
        dn.push(
            DnType::CommonName,
            names.first().map_or("nettwin", String::as_str),
        );
        leaf.distinguished_name = dn;
        leaf.not_before = now - time::Duration::hours(1);
        leaf.not_after = now + time::Duration::days(i64::from(days));
        let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(err)?;
        Ok(Identity {
            chain: vec![leaf_cert.der().clone(), ca_cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            ca_pem: ca_cert.pem(),
        })
    }
}

/// A running server: its addresses and the CA clients should trust.
pub struct ServeHandle {
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    pub dns: Option<SocketAddr>,
    pub ca_pem: String,
    stop: tokio::sync::watch::Sender<bool>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ServeHandle {
    /// Stops accepting; connections in progress finish on their own.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

struct State {
    config: ServeConfig,
    requests: AtomicU64,
    tokens: Mutex<Vec<(String, String)>>,
    hooks: Mutex<Vec<serde_json::Value>>,
}

/// Starts every listener and returns once they are bound.
pub async fn start(config: ServeConfig) -> Result<ServeHandle, ServeError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })
    };
    let http = bind(config.listen).await?;
    let http_addr = http.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;
    let ident = Identity::generate(&config.cert_names, config.cert_days)?;
    let state = Arc::new(State {
        config: config.clone(),
        requests: AtomicU64::new(0),
        tokens: Mutex::new(Vec::new()),
        hooks: Mutex::new(Vec::new()),
    });
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(accept_loop(
        http,
        None,
        state.clone(),
        stop_rx.clone(),
    )));
    let mut https_addr = None;
    if let Some(addr) = config.tls_listen {
        let l = bind(addr).await?;
        https_addr = l.local_addr().ok();
        let versions: &[&rustls::SupportedProtocolVersion] = if config.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let mut sc = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
            .with_protocol_versions(versions)
            .map_err(|e| ServeError::Cert(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(ident.chain.clone(), ident.key.clone_key())
            .map_err(|e| ServeError::Cert(e.to_string()))?;
        sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(sc));
        tasks.push(tokio::spawn(accept_loop(
            l,
            Some(acceptor),
            state.clone(),
            stop_rx.clone(),
        )));
    }
    let mut dns_addr = None;
    if config.dns {
        let addr = SocketAddr::new(http_addr.ip(), config.dns_port.unwrap_or(http_addr.port()));
        let sock = UdpSocket::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        dns_addr = sock.local_addr().ok();
        tasks.push(tokio::spawn(dns_loop(
            Arc::new(sock),
            state.clone(),
            stop_rx.clone(),
        )));
    }
    Ok(ServeHandle {
        http: http_addr,
        https: https_addr,
        dns: dns_addr,
        ca_pem: ident.ca_pem,
        stop: stop_tx,
        tasks,
    })
}

async fn accept_loop(
    l: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = l.accept() => match r {
                Ok(s) => s,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acc) => {
                    if let Ok(s) = acc.accept(stream).await {
                        let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
                        serve_conn(TokioIo::new(s), h2, state).await;
                    }
                }
                None => {
                    // HTTP/2 in clear text starts with its preface (prior knowledge).
                    let mut peek = [0u8; 3];
                    let h2 = matches!(stream.peek(&mut peek).await, Ok(3) if &peek == b"PRI");
                    serve_conn(TokioIo::new(stream), h2, state).await;
                }
            }
        });
    }
}

async fn serve_conn<I>(io: TokioIo<I>, h2: bool, state: Arc<State>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(req, &state).await) }
    });
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, svc)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .await;
    }
}

fn reply(status: u16, ctype: &str, body: impl Into<Bytes>) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(body.into()));
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(req: http::Request<Incoming>, state: &State) -> http::Response<Full<Bytes>> {
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let q = |k: &str| query.iter().find(|(qk, _)| qk == k).map(|(_, v)| v.clone());
    let mut delay = state.config.delay;
    if let Some(ms) = q("delay").and_then(|v| v.parse::<u64>().ok()) {
        delay += Duration::from_millis(ms);
    }
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    // The webhook sink is exempt from delays and failures: it records what alerts say.
    if path == "/hook" {
        return hook(&method, &body, state);
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if state.config.fail_every > 0 && n % state.config.fail_every == 0 {
        return reply(503, "text/plain", "failing as configured (--fail-every)\n");
    }
    if let Some(code) = q("status").and_then(|v| v.parse::<u16>().ok()) {
        return reply(code, "text/plain", format!("status {code} as asked\n"));
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        (_, [""]) => {
            let mut r = reply(200, "text/plain", "nettwin probe target\n");
            r.headers_mut().insert(
                http::header::LAST_MODIFIED,
                http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
            );
            r
        }
        (_, ["status", code]) => match code.parse::<u16>() {
            Ok(c) if (100..1000).contains(&c) => reply(c, "text/plain", format!("status {c}\n")),
            _ => reply(400, "text/plain", "bad status\n"),
        },
        (_, ["delay", ms]) => {
            let ms: u64 = ms.parse().unwrap_or(0).min(60_000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            reply(200, "text/plain", format!("waited {ms} ms\n"))
        }
        (_, ["redirect", k]) => {
            let k: u32 = k.parse().unwrap_or(0);
            let to = if k <= 1 {
                "/".to_string()
            } else {
                format!("/redirect/{}", k - 1)
            };
            let mut r = reply(302, "text/plain", "");
            if let Ok(v) = http::HeaderValue::from_str(&to) {
                r.headers_mut().insert(http::header::LOCATION, v);
            }
            r
        }
        (_, ["json"]) => reply(
            200,
            "application/json",
            r#"{"status":"ok","server":"nettwin","items":[1,2,3]}"#,
        ),
        (_, ["bytes", k]) => {
            let k: usize = k.parse().unwrap_or(0).min(16 << 20);
            reply(200, "application/octet-stream", vec![b'x'; k])
        }
        ("POST", ["login"]) => {
            let user = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("user").and_then(|u| u.as_str()).map(str::to_string));
            let Some(user) = user else {
                return reply(
                    400,
                    "application/json",
                    r#"{"error":"send {\"user\": NAME}"}"#,
                );
            };
            let token = format!("tok-{n}");
            if let Ok(mut t) = state.tokens.lock() {
                t.push((token.clone(), user.clone()));
            }
            let mut r = reply(
                200,
                "application/json",
                serde_json::json!({"token": token, "user": user}).to_string(),
            );
            if let Ok(v) = http::HeaderValue::from_str(&format!("session=s-{n}; Path=/; HttpOnly"))
            {
                r.headers_mut().insert(http::header::SET_COOKIE, v);
            }
            r
        }
        ("GET", ["api", "me"]) => {
            let token = auth
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or("");
            let user = state
                .tokens
                .lock()
                .ok()
                .and_then(|t| t.iter().find(|(k, _)| k == token).map(|(_, u)| u.clone()));
            match user {
                Some(u) => reply(
                    200,
                    "application/json",
                    serde_json::json!({"user": u}).to_string(),
                ),
                None => reply(401, "application/json", r#"{"error":"unauthorized"}"#),
            }
        }
        _ => reply(404, "text/plain", "not found\n"),
    }
}

fn hook(method: &http::Method, body: &[u8], state: &State) -> http::Response<Full<Bytes>> {
    if method == http::Method::POST {
        let v = serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        });
        if let Ok(mut h) = state.hooks.lock() {
            h.push(v);
        }
        return reply(200, "application/json", "{}");
    }
    let list = state.hooks.lock().map(|h| h.clone()).unwrap_or_default();
    reply(
        200,
        "application/json",
        serde_json::Value::Array(list).to_string(),
    )
}

/// The answer to one DNS query, from the zone and the configured records.
fn answer(query: &Message, state: &State) -> Message {
    let mut resp = Message::new();
    resp.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_authoritative(true);
    let Some(q) = query.queries().first() else {
        resp.set_response_code(ResponseCode::FormErr);
        return resp;
    };
    resp.add_query(q.clone());
    let zone = Name::from_ascii(ZONE).expect("constant zone name");
    let mut qname = q.name().clone();
    qname.set_fqdn(true);
    if !zone.zone_of(&qname) {
        resp.set_response_code(ResponseCode::Refused);
        return resp;
    }
    let soa = Record::from_rdata(
        zone.clone(),
        3600,
        RData::SOA(SOA::new(
            Name::from_ascii("ns.example.test.").expect("constant"),
            Name::from_ascii("hostmaster.example.test.").expect("constant"),
            SERIAL,
            7200,
            3600,
            1_209_600,
            300,
        )),
    );
    let mut records: Vec<Record> = Vec::new();
    let www = Name::from_ascii("www.example.test.").expect("constant");
    records.push(Record::from_rdata(
        www.clone(),
        300,
        RData::A(A::new(127, 0, 0, 1)),
    ));
    records.push(Record::from_rdata(
        www.clone(),
        300,
        RData::AAAA(AAAA::new(0, 0, 0, 0, 0, 0, 0, 1)),
    ));
    records.push(Record::from_rdata(
        zone.clone(),
        300,
        RData::TXT(TXT::new(vec!["nettwin probe target".into()])),
    ));
    records.push(soa.clone());
    for (name, ip) in &state.config.records {
        if let Ok(mut n) = Name::from_ascii(name) {
            n.set_fqdn(true);
            let data = match ip {
                IpAddr::V4(a) => RData::A(A::from(*a)),
                IpAddr::V6(a) => RData::AAAA(AAAA::from(*a)),
            };
            records.push(Record::from_rdata(n, 300, data));
        }
    }
    let matching_name: Vec<&Record> = records.iter().filter(|r| r.name() == &qname).collect();
    if matching_name.is_empty() {
        resp.set_response_code(ResponseCode::NXDomain);
        resp.add_name_server(soa);
        return resp;
    }
    let qt = q.query_type();
    let hits: Vec<Record> = matching_name
        .into_iter()
        .filter(|r| qt == RecordType::ANY || r.record_type() == qt)
        .cloned()
        .collect();
    if hits.is_empty() {
        resp.add_name_server(soa);
    }
    for r in hits {
        resp.add_answer(r);
    }
    resp.set_response_code(ResponseCode::NoError);
    resp
}

async fn dns_loop(
    sock: Arc<UdpSocket>,
    state: Arc<State>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let Ok(q) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let resp = answer(&q, &state);
        let delay = state.config.dns_delay;
        let sock = sock.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Ok(w) = resp.to_vec() {
                let _ = sock.send_to(&w, from).await;
            }
        });
    }
}
