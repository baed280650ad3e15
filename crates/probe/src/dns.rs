//! The dns prober, following blackbox_exporter's `ProbeDNS`: one query (hickory-proto encodes
//! and decodes it) over UDP or TCP to the chosen resolver, phases `resolve`, `connect` and
//! `request`, success when the rcode is one of `valid_rcodes` (NOERROR by default) and the
//! answer, authority and additional records pass their regular expressions. Records are matched
//! in miekg/dns's text form (`name.\tTTL\tIN\tTYPE\trdata`) as blackbox_exporter matches them.

use crate::result::Outcome;
use crate::spec::{DnsSpec, RrValidator};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn record_type(name: &str) -> Option<RecordType> {
    match RecordType::from_str(name) {
        Ok(RecordType::Unknown(_)) | Err(_) => None,
        Ok(t) => Some(t),
    }
}

/// miekg/dns's rcode names (`dns.RcodeToString`).
const RCODES: &[(u16, &str)] = &[
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (6, "YXDOMAIN"),
    (7, "YXRRSET"),
    (8, "NXRRSET"),
    (9, "NOTAUTH"),
    (10, "NOTZONE"),
    (16, "BADSIG"),
    (17, "BADKEY"),
    (18, "BADTIME"),
    (19, "BADMODE"),
    (20, "BADNAME"),
    (21, "BADALG"),
    (22, "BADTRUNC"),
    (23, "BADCOOKIE"),
];

pub fn rcode_from_name(name: &str) -> Option<u16> {
    RCODES.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
}

pub fn rcode_name(code: u16) -> String {
    RCODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| code.to_string(), |(_, n)| n.to_string())
}

/// A record in miekg/dns's `RR.String()` form.
pub fn rr_string(r: &Record) -> String {
    let mut name = r.name().to_string();
    if !name.ends_with('.') {
        name.push('.');
    }
    let data = match r.data() {
        RData::SOA(soa) => format!(
            "{} {} {} {} {} {} {}",
            fqdn(soa.mname()),
            fqdn(soa.rname()),
            soa.serial(),
            soa.refresh(),
            soa.retry(),
            soa.expire(),
            soa.minimum()
        ),
        RData::CNAME(n) => fqdn(&n.0),
        RData::NS(n) => fqdn(&n.0),
        other => other.to_string(),
    };
    format!(
        "{name}\t{}\t{}\t{}\t{data}",
        r.ttl(),
        r.dns_class(),
        r.record_type()
    )
}

fn fqdn(n: &Name) -> String {
    let mut s = n.to_string();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// blackbox_exporter's `validRRs`.
fn valid_rrs(rrs: &[Record], v: &RrValidator) -> Result<(), String> {
    let texts: Vec<String> = rrs.iter().map(rr_string).collect();
    if texts.is_empty() && !v.fail_if_not_matches.is_empty() {
        return Err("fail_if_not_matches_regexp specified but no RRs returned".into());
    }
    if texts.is_empty() && !v.fail_if_none_matches.is_empty() {
        return Err("fail_if_none_matches_regexp specified but no RRs returned".into());
    }
    let mut any = false;
    let mut all = true;
    for t in &texts {
        if let Some(r) = v.fail_if_matches.iter().find(|r| r.is_match(t)) {
            return Err(format!("record {t:?} matched {}", r.as_str()));
        }
        if v.fail_if_all_match.iter().any(|r| !r.is_match(t)) {
            all = false;
        }
        if let Some(r) = v.fail_if_not_matches.iter().find(|r| !r.is_match(t)) {
            return Err(format!("record {t:?} did not match {}", r.as_str()));
        }
        if v.fail_if_none_matches.iter().any(|r| r.is_match(t)) {
            any = true;
        }
    }
    if !v.fail_if_all_match.is_empty() && all {
        return Err("every record matched fail_if_all_match_regexp".into());
    }
    if !v.fail_if_none_matches.is_empty() && !any {
        return Err("no record matched fail_if_none_matches_regexp".into());
    }
    Ok(())
}

/// `host`, `host:port` or `[v6]:port`, port 53 by default (as `net.SplitHostPort` failing does).
fn server_host_port(server: &str) -> (String, u16) {
    crate::spec::host_port(server).unwrap_or_else(|| (server.to_string(), 53))
}

/// Runs the dns prober with `qname` already substituted.
pub async fn probe(spec: &DnsSpec, qname: &str, deadline: tokio::time::Instant, out: &mut Outcome) {
    let help = "Duration of DNS request by phase";
    for phase in ["resolve", "connect", "request"] {
        out.add_phase(phase, 0.0);
    }
    out.gauge(
        "probe_dns_answer_rrs",
        "Returns number of entries in the answer resource record list",
        0.0,
    );
    out.gauge(
        "probe_dns_authority_rrs",
        "Returns number of entries in the authority resource record list",
        0.0,
    );
    out.gauge(
        "probe_dns_additional_rrs",
        "Returns number of entries in the additional resource record list",
        0.0,
    );
    out.gauge(
        "probe_dns_query_succeeded",
        "Displays whether or not the query was executed successfully",
        0.0,
    );
    let _ = help;
    let Some(qtype) = record_type(&spec.qtype) else {
        out.fail("request", format!("unknown record type {}", spec.qtype));
        return;
    };
    let name = match Name::from_ascii(qname) {
        Ok(mut n) => {
            n.set_fqdn(true);
            n
        }
        Err(e) => {
            out.fail("request", format!("bad query name {qname}: {e}"));
            return;
        }
    };
    let (host, port) = server_host_port(&spec.server);
    let Some((ip, lookup)) = crate::net::choose(&host, spec.ip, out).await else {
        return;
    };
    out.add_phase("resolve", lookup);
    let server = SocketAddr::new(ip, port);
    let mut msg = Message::new();
    msg.set_id(rand_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(spec.recursion)
        .add_query(Query::query(name, qtype));
    let wire = match msg.to_vec() {
        Ok(w) => w,
        Err(e) => {
            out.fail("request", format!("cannot encode the query: {e}"));
            return;
        }
    };
    let start = Instant::now();
    let exchanged =
        tokio::time::timeout_at(deadline, exchange(server, &wire, spec.transport_tcp)).await;
    let total = start.elapsed().as_secs_f64();
    let (reply, rtt) = match exchanged {
        Ok(Ok((reply, rtt))) => (reply, rtt),
        Ok(Err((rtt, e))) => {
            out.set_phase("connect", total - rtt);
            out.set_phase("request", rtt);
            out.fail(if rtt > 0.0 { "request" } else { "connect" }, e);
            return;
        }
        Err(_) => {
            out.set_phase("request", total);
            out.fail("request", format!("no answer from {server} in time"));
            return;
        }
    };
    // miekg's Exchange reports the write-to-read time as rtt; the rest is dialling.
    out.set_phase("connect", total - rtt);
    out.set_phase("request", rtt);
    let resp = match Message::from_vec(&reply) {
        Ok(m) if m.id() == msg.id() => m,
        Ok(_) => {
            out.fail("request", "the answer's id does not match the query");
            return;
        }
        Err(e) => {
            out.fail("request", format!("malformed answer: {e}"));
            return;
        }
    };
    out.set_metric("probe_dns_answer_rrs", resp.answers().len() as f64);
    out.set_metric("probe_dns_authority_rrs", resp.name_servers().len() as f64);
    out.set_metric("probe_dns_additional_rrs", resp.additionals().len() as f64);
    out.set_metric("probe_dns_query_succeeded", 1.0);
    if qtype == RecordType::SOA {
        let serial = resp
            .answers()
            .iter()
            .find_map(|r| match r.data() {
                RData::SOA(s) => Some(f64::from(s.serial())),
                _ => None,
            })
            .unwrap_or(0.0);
        out.gauge(
            "probe_dns_serial",
            "Returns the serial number of the zone",
            serial,
        );
    }
    let rcode = u16::from(resp.response_code());
    let valid: Vec<u16> = if spec.valid_rcodes.is_empty() {
        vec![0]
    } else {
        spec.valid_rcodes
            .iter()
            .filter_map(|n| rcode_from_name(n))
            .collect()
    };
    if !valid.contains(&rcode) {
        out.fail(
            "validate",
            format!("rcode {} is not one of the valid rcodes", rcode_name(rcode)),
        );
        return;
    }
    for (what, rrs, v) in [
        ("answer", resp.answers(), &spec.answer),
        ("authority", resp.name_servers(), &spec.authority),
        ("additional", resp.additionals(), &spec.additional),
    ] {
        if let Err(e) = valid_rrs(rrs, v) {
            out.fail("validate", format!("{what} records: {e}"));
            return;
        }
    }
    out.success = true;
}

impl Outcome {
    pub fn set_phase(&mut self, name: &'static str, seconds: f64) {
        match self.phases.iter_mut().find(|p| p.name == name) {
            Some(p) => p.seconds = seconds,
            None => self.phases.push(crate::result::Phase { name, seconds }),
        }
    }
}

fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        return 0x4e54;
    }
    u16::from_be_bytes(b)
}

/// Sends `wire` and reads one answer: (answer, seconds from write to read), or the time spent
/// in the request and why it failed.
async fn exchange(
    server: SocketAddr,
    wire: &[u8],
    tcp: bool,
) -> Result<(Vec<u8>, f64), (f64, String)> {
    if tcp {
        let mut s = tokio::net::TcpStream::connect(server)
            .await
            .map_err(|e| (0.0, format!("connect to {server}: {e}")))?;
        let t = Instant::now();
        let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(wire);
        let err = |e: std::io::Error| (t.elapsed().as_secs_f64(), format!("{server}: {e}"));
        s.write_all(&framed).await.map_err(err)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.map_err(err)?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.map_err(err)?;
        Ok((buf, t.elapsed().as_secs_f64()))
    } else {
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let sock = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|e| (0.0, format!("udp socket: {e}")))?;
        sock.connect(server)
            .await
            .map_err(|e| (0.0, format!("connect to {server}: {e}")))?;
        let t = Instant::now();
        let err = |e: std::io::Error| (t.elapsed().as_secs_f64(), format!("{server}: {e}"));
        sock.send(wire).await.map_err(err)?;
        let mut buf = vec![0u8; 65535];
        let n = sock.recv(&mut buf).await.map_err(err)?;
        buf.truncate(n);
        Ok((buf, t.elapsed().as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::A;

    #[test]
    fn records_in_miekg_text_form() {
        let r = Record::from_rdata(
            Name::from_ascii("www.example.test.").unwrap(),
            300,
            RData::A(A::new(192, 0, 2, 1)),
        );
        assert_eq!(rr_string(&r), "www.example.test.\t300\tIN\tA\t192.0.2.1");
        assert_eq!(rcode_from_name("NXDOMAIN"), Some(3));
        assert!(record_type("AAAA").is_some());
        assert!(record_type("BOGUS").is_none());
    }
}
