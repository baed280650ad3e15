//! TLS for probes with rustls (ring backend): the client configuration (trusted CAs from a file
//! or the system bundle, SNI, minimum version, skipping verification on request), the gauges
//! blackbox_exporter exports about a handshake, and the few certificate fields they need, read
//! from the DER directly (rustls does not parse certificates for its callers).

use crate::result::Outcome;
use crate::spec::TlsSpec;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// Where Debian and most distributions keep the system's trusted CAs.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for `spec`, offering `alpn` (e.g. `h2`, `http/1.1`).
pub fn client_config(spec: &TlsSpec, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, String> {
    let versions: &[&rustls::SupportedProtocolVersion] = if spec.min_version_13 {
        &[&rustls::version::TLS13]
    } else if spec.max_version_12 {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?;
    let mut config = if spec.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
            .with_no_client_auth()
    } else {
        let path = spec
            .ca_file
            .as_deref()
            .unwrap_or(std::path::Path::new(SYSTEM_CA_BUNDLE));
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        for c in certs {
            let c = c.map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
            roots
                .add(c)
                .map_err(|e| format!("bad CA certificate in {}: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("no certificates in {}", path.display()));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The SNI for `host` (an IP address is sent as no SNI and checked against IP SANs).
pub fn server_name(spec: &TlsSpec, host: &str) -> Result<ServerName<'static>, String> {
    let name = spec.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_string()).map_err(|e| format!("bad TLS server name `{name}`: {e}"))
}

/// The TLS handshake over `tcp`: the stream and what the gauges need, or why it failed.
pub async fn connect(
    tcp: tokio::net::TcpStream,
    spec: &TlsSpec,
    host: &str,
    alpn: &[&[u8]],
) -> Result<
    (
        tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
        HandshakeInfo,
    ),
    String,
> {
    let config = client_config(spec, alpn)?;
    let name = server_name(spec, host)?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let info = handshake_info(stream.get_ref().1, !spec.insecure_skip_verify);
    Ok((stream, info))
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Go's `tls.CipherSuiteName` for the suites rustls offers.
pub fn cipher_name(suite: rustls::CipherSuite) -> String {
    let raw = format!("{suite:?}");
    match raw.as_str() {
        "TLS13_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256".into(),
        "TLS13_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384".into(),
        "TLS13_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256".into(),
        _ => raw,
    }
}

/// What the gauges need from a finished handshake.
#[derive(Clone, Debug, Default)]
pub struct HandshakeInfo {
    pub version: String,
    pub cipher: String,
    pub alpn: Option<Vec<u8>>,
    pub certs: Vec<Cert>,
    pub verified: bool,
}

pub fn handshake_info(conn: &rustls::ClientConnection, verified: bool) -> HandshakeInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        _ => "unknown",
    };
    HandshakeInfo {
        version: version.into(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| cipher_name(s.suite()))
            .unwrap_or_default(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        certs: conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| Cert::parse(c.as_ref()))
            .collect(),
        verified,
    }
}

/// Go's zero `time.Time` as Unix seconds: what blackbox_exporter exports for a chain expiry it
/// has no verified chain for.
const GO_ZERO_TIME_UNIX: f64 = -62_135_596_800.0;

/// Records the TLS gauges (as the http and tcp probers do) and checks the days to expiry.
pub fn record(info: &HandshakeInfo, spec: &TlsSpec, with_cipher: bool, out: &mut Outcome) {
    let earliest = info.certs.iter().map(|c| c.not_after).min();
    out.gauge(
        "probe_ssl_earliest_cert_expiry",
        "Returns last SSL chain expiry in unixtime",
        earliest.map_or(GO_ZERO_TIME_UNIX, |t| t as f64),
    );
    out.gauge_l(
        "probe_tls_version_info",
        "Returns the TLS version used or NaN when unknown",
        vec![("version", info.version.clone())],
        1.0,
    );
    if with_cipher {
        out.gauge_l(
            "probe_tls_cipher_info",
            "Returns the TLS cipher negotiated during handshake",
            vec![("cipher", info.cipher.clone())],
            1.0,
        );
    }
    // Go takes this over the verified chains, which end in the trust anchor; the presented
    // chain is what rustls gives, so the leaf and intermediates stand in for it.
    out.gauge(
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "Returns last SSL chain expiry in timestamp",
        if info.verified {
            earliest.map_or(GO_ZERO_TIME_UNIX, |t| t as f64)
        } else {
            GO_ZERO_TIME_UNIX
        },
    );
    if let Some(leaf) = info.certs.first() {
        out.gauge_l(
            "probe_ssl_last_chain_info",
            "Contains SSL leaf certificate information",
            vec![
                ("fingerprint_sha256", leaf.fingerprint.clone()),
                ("subject", leaf.subject.clone()),
                ("issuer", leaf.issuer.clone()),
                ("subjectalternative", leaf.dns_names.join(",")),
                ("serialnumber", leaf.serial.clone()),
            ],
            1.0,
        );
    }
    if let (Some(days), Some(t)) = (spec.min_days_to_expiry, earliest) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let left = (t - now) as f64 / 86400.0;
        if left < days as f64 {
            out.fail(
                "tls",
                format!(
                    "certificate expires in {left:.1} days, fewer than min_days_to_expiry {days}"
                ),
            );
        }
    }
}

/// The certificate fields blackbox_exporter reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cert {
    /// Unix seconds.
    pub not_after: i64,
    /// Go's `pkix.Name.String()`: `CN=x,O=y`.
    pub subject: String,
    pub issuer: String,
    pub dns_names: Vec<String>,
    /// Lowercase hex without leading zero bytes.
    pub serial: String,
    pub fingerprint: String,
}

/// One DER element: tag, contents, and what follows it.
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let l0 = *b.get(1)?;
    let (len, hdr) = if l0 < 0x80 {
        (l0 as usize, 2)
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, b.get(hdr..end)?, &b[end..]))
}

impl Cert {
    pub fn parse(cert: &[u8]) -> Option<Cert> {
        let (_, c, _) = der(cert)?;
        let (_, mut tbs, _) = der(c)?;
        let (mut tag, mut v, mut rest) = der(tbs)?;
        if tag == 0xa0 {
            (tag, v, rest) = der(rest)?;
        }
        if tag != 0x02 {
            return None;
        }
        let mut serial = v;
        while serial.len() > 1 && serial[0] == 0 {
            serial = &serial[1..];
        }
        let serial: String = serial.iter().map(|b| format!("{b:02x}")).collect();
        tbs = rest;
        let (_, _sig, rest) = der(tbs)?;
        let (_, issuer, rest) = der(rest)?;
        let (_, validity, rest) = der(rest)?;
        let (_, subject, rest) = der(rest)?;
        let (_, _spki, mut rest) = der(rest)?;
        let (_, _nb, after) = der(validity)?;
        let (ttag, na, _) = der(after)?;
        let not_after = parse_time(ttag, na)?;
        let mut dns_names = Vec::new();
        while let Some((tag, v, r)) = der(rest) {
            rest = r;
            if tag != 0xa3 {
                continue;
            }
            let (_, mut exts, _) = der(v)?;
            while let Some((_, ext, r)) = der(exts) {
                exts = r;
                let (_, oid, mut er) = der(ext)?;
                if oid != [0x55, 0x1d, 0x11] {
                    continue;
                }
                let (mut t, mut val, r2) = der(er)?;
                if t == 0x01 {
                    er = r2;
                    (t, val, _) = der(er)?;
                }
                if t != 0x04 {
                    continue;
                }
                let (_, mut names, _) = der(val)?;
                while let Some((nt, nv, r)) = der(names) {
                    names = r;
                    if nt == 0x82 {
                        dns_names.push(String::from_utf8_lossy(nv).into_owned());
                    }
                }
            }
        }
        let fp = ring::digest::digest(&ring::digest::SHA256, cert);
        Some(Cert {
            not_after,
            subject: name_string(subject),
            issuer: name_string(issuer),
            dns_names,
            serial,
            fingerprint: fp.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// Go's `pkix.Name.String()`: attributes other than the nine it parses first, then C, ST, L,
/// STREET, POSTALCODE, O, OU, CN, SERIALNUMBER, the whole sequence written in reverse.
fn name_string(mut name: &[u8]) -> String {
    const ORDER: [(u8, &str); 9] = [
        (6, "C"),
        (8, "ST"),
        (7, "L"),
        (9, "STREET"),
        (17, "POSTALCODE"),
        (10, "O"),
        (11, "OU"),
        (3, "CN"),
        (5, "SERIALNUMBER"),
    ];
    let mut known: Vec<(u8, String)> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    while let Some((_, set, r)) = der(name) {
        name = r;
        let mut set = set;
        while let Some((_, atv, r)) = der(set) {
            set = r;
            let Some((_, oid, vr)) = der(atv) else {
                continue;
            };
            let Some((_, val, _)) = der(vr) else { continue };
            let text = String::from_utf8_lossy(val).into_owned();
            if oid.len() == 3
                && oid[0] == 0x55
                && oid[1] == 0x04
                && ORDER.iter().any(|o| o.0 == oid[2])
            {
                known.push((oid[2], text));
            } else {
                other.push(format!("{}=#{}", oid_string(oid), hex_of_der(atv, vr)));
            }
        }
    }
    let mut seq: Vec<String> = other;
    for (t, label) in ORDER {
        for (_, v) in known.iter().filter(|(k, _)| *k == t) {
            seq.push(format!("{label}={}", escape_dn(v)));
        }
    }
    seq.reverse();
    seq.join(",")
}

fn hex_of_der(_atv: &[u8], value: &[u8]) -> String {
    value.iter().map(|b| format!("{b:02x}")).collect()
}

fn oid_string(oid: &[u8]) -> String {
    let Some(first) = oid.first() else {
        return String::new();
    };
    let mut parts = vec![u64::from(first / 40), u64::from(first % 40)];
    let mut acc = 0u64;
    for b in &oid[1..] {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            parts.push(acc);
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// RFC 4514 escaping as Go applies it.
fn escape_dn(v: &str) -> String {
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == v.chars().count() - 1 && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn parse_time(tag: u8, v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(0..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<i64> { rest.get(r)?.parse().ok() };
    let (mo, d, h, mi, se) = (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10)?);
    Some(days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(parse_time(0x17, b"491231235959Z"), Some(2524607999));
    }

    #[test]
    fn reads_a_generated_certificate() {
        let ident = crate::serve::Identity::generate(&["probe.test".into()], 30).unwrap();
        let leaf = Cert::parse(ident.chain[0].as_ref()).unwrap();
        assert_eq!(leaf.dns_names, ["probe.test"]);
        assert_eq!(leaf.subject, "CN=probe.test,O=nettwin");
        assert_eq!(leaf.issuer, "CN=nettwin probe CA,O=nettwin");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let days = (leaf.not_after - now) as f64 / 86400.0;
        assert!((29.0..=30.01).contains(&days), "{days}");
        assert_eq!(leaf.fingerprint.len(), 64);
        assert!(!leaf.serial.starts_with("00"));
    }
}
