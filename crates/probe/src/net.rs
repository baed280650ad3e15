//! Resolving a target as blackbox_exporter's `chooseProtocol` does: the preferred family first
//! (IPv6 unless `ip_protocol: ip4`), the other one as a fallback when allowed, and the three
//! gauges it registers (`probe_ip_protocol`, `probe_dns_lookup_time_seconds`,
//! `probe_ip_addr_hash`).

use crate::result::Outcome;
use crate::spec::IpProtocol;
use std::net::IpAddr;
use std::time::Instant;

/// FNV-1a over the address bytes (4 for IPv4, 16 for IPv6), as `ipHash` does.
pub fn ip_hash(ip: IpAddr) -> f64 {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => a.octets().to_vec(),
        },
    };
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    f64::from(h)
}

/// Resolves `host`, records the gauges and the time in `out`, and returns the address chosen
/// and the lookup time in seconds. A failure is recorded in phase `resolve`.
pub async fn choose(host: &str, ip: IpProtocol, out: &mut Outcome) -> Option<(IpAddr, f64)> {
    out.gauge(
        "probe_ip_protocol",
        "Specifies whether probe ip protocol is IP4 or IP6",
        0.0,
    );
    out.gauge(
        "probe_dns_lookup_time_seconds",
        "Returns the time taken for probe dns lookup in seconds",
        0.0,
    );
    out.gauge(
        "probe_ip_addr_hash",
        "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
        0.0,
    );
    let start = Instant::now();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let found: Result<Vec<IpAddr>, String> = match host.parse::<IpAddr>() {
        Ok(a) => Ok(vec![a]),
        Err(_) => tokio::net::lookup_host((host, 0))
            .await
            .map(|it| it.map(|sa| sa.ip()).collect())
            .map_err(|e| e.to_string()),
    };
    let took = start.elapsed().as_secs_f64();
    out.set_metric("probe_dns_lookup_time_seconds", took);
    let addrs = match found {
        Ok(a) => a,
        Err(e) => {
            out.fail("resolve", format!("cannot resolve {host}: {e}"));
            return None;
        }
    };
    let wanted = |a: &IpAddr| a.is_ipv6() == ip.prefer_v6;
    let chosen = match addrs.iter().find(|a| wanted(a)) {
        Some(a) => Some(*a),
        // Without fallback a name with only the other family fails, as blackbox_exporter.
        None if ip.fallback => addrs.last().copied(),
        None => None,
    };
    let Some(addr) = chosen else {
        let fam = if ip.prefer_v6 { "ip6" } else { "ip4" };
        out.fail(
            "resolve",
            format!("{host} has no {fam} address and ip_protocol_fallback is off"),
        );
        return None;
    };
    out.set_metric("probe_ip_protocol", if addr.is_ipv6() { 6.0 } else { 4.0 });
    out.set_metric("probe_ip_addr_hash", ip_hash(addr));
    Some((addr, took))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_hash_of_an_address() {
        // FNV-1a 32 of the bytes 127,0,0,1.
        let mut h: u32 = 0x811c9dc5;
        for b in [127u8, 0, 0, 1] {
            h ^= b as u32;
            h = h.wrapping_mul(16777619);
        }
        assert_eq!(ip_hash("127.0.0.1".parse().unwrap()), h as f64);
    }
}
