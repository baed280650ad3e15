//! The packet being traced: its 5-tuple, size, DF bit and TTL, the flow hash that picks one ECMP
//! branch, and IPv4/IPv6 fragmentation arithmetic.

use nettwin_model::{Family, NodeId};
use serde::Serialize;
use std::net::IpAddr;

/// Transport protocol of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Icmp,
    Tcp,
    Udp,
}

impl Proto {
    /// The IP protocol number (ICMPv6 is 58, ICMP 1).
    pub fn number(self, family: Family) -> u8 {
        match (self, family) {
            (Proto::Icmp, Family::Ipv4) => 1,
            (Proto::Icmp, Family::Ipv6) => 58,
            (Proto::Tcp, _) => 6,
            (Proto::Udp, _) => 17,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Icmp => "icmp",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    pub fn parse(text: &str) -> Option<Proto> {
        match text.to_ascii_lowercase().as_str() {
            "icmp" | "icmpv6" | "ping" => Some(Proto::Icmp),
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

/// One packet to follow through the network.
#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    /// The node that sends it.
    #[serde(skip)]
    pub from: NodeId,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: Proto,
    pub sport: u16,
    pub dport: u16,
    /// IP packet size in bytes, header included (`ping -s 1472` sends 1500 on IPv4).
    pub size: u32,
    /// IPv4 Don't Fragment; on IPv6 it means the sender does not fragment either
    /// (`IPV6_DONTFRAG`), since routers never fragment IPv6.
    pub df: bool,
    /// Initial TTL / hop limit.
    pub ttl: u8,
    /// Follow one ECMP branch chosen by [`flow_hash`] instead of every branch.
    pub flow_hash: bool,
}

/// Default initial TTL (Linux `net.ipv4.ip_default_ttl`, `net.ipv6.conf.*.hop_limit`).
pub const DEFAULT_TTL: u8 = 64;

/// Smallest legal packet: IP header plus an 8-byte ICMP/UDP header.
pub fn min_size(family: Family) -> u32 {
    header_len(family) + 8
}

pub fn header_len(family: Family) -> u32 {
    match family {
        Family::Ipv4 => 20,
        Family::Ipv6 => 40,
    }
}

pub fn family_of(addr: IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::Ipv4,
        IpAddr::V6(_) => Family::Ipv6,
    }
}

impl Probe {
    pub fn family(&self) -> Family {
        family_of(self.dst)
    }
}

/// The ECMP hash: 64-bit FNV-1a over source address bytes, destination address bytes, the IP
/// protocol number, source port and destination port (big-endian), then the deciding node's id
/// (big-endian u32) so that consecutive routers do not all pick the same index (hash
/// polarisation). The branch taken is `hash % number_of_next_hops`, next hops in FIB order.
pub fn flow_hash(p: &Probe, node: NodeId) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    match p.src {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    match p.dst {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    eat(&[p.proto.number(p.family())]);
    eat(&p.sport.to_be_bytes());
    eat(&p.dport.to_be_bytes());
    eat(&node.0.to_be_bytes());
    h
}

/// Splits packets (given by their sizes) so that none exceeds `mtu`, the way RFC 791 (IPv4) and
/// RFC 8200 section 4.5 (IPv6, source only, with an 8-byte fragment header) do: every fragment
/// but the last carries a multiple of 8 data bytes. Packets that fit are kept as they are.
pub fn fragment(sizes: &[u32], mtu: u32, family: Family) -> Vec<u32> {
    let header = header_len(family);
    let frag_header = match family {
        Family::Ipv4 => header,
        Family::Ipv6 => header + 8,
    };
    let chunk = (mtu.saturating_sub(frag_header) / 8 * 8).max(8);
    let mut out = Vec::with_capacity(sizes.len());
    for &s in sizes {
        if s <= mtu {
            out.push(s);
            continue;
        }
        let mut data = s - header;
        while data > chunk {
            out.push(frag_header + chunk);
            data -= chunk;
        }
        out.push(frag_header + data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_fragments_follow_rfc791_offsets() {
        // 1500-byte packet over a 1400 MTU: 1480 data bytes, 1376 per fragment (1380 rounded
        // down to a multiple of 8), so 1396 + (20 + 104).
        assert_eq!(fragment(&[1500], 1400, Family::Ipv4), vec![1396, 124]);
        // A 4000-byte packet over Ethernet: 1480 + 1480 + 1020 data bytes.
        assert_eq!(
            fragment(&[4000], 1500, Family::Ipv4),
            vec![1500, 1500, 1040]
        );
        assert_eq!(fragment(&[576], 1500, Family::Ipv4), vec![576]);
    }

    #[test]
    fn ipv6_source_fragments_carry_a_fragment_header() {
        // 1500 over 1280: 1460 data bytes, 1232 per fragment (1280 - 48 = 1232).
        assert_eq!(fragment(&[1500], 1280, Family::Ipv6), vec![1280, 276]);
    }

    #[test]
    fn flow_hash_is_a_pure_function_of_the_five_tuple_and_node() {
        let p = Probe {
            from: NodeId(0),
            src: "198.18.0.1".parse().unwrap(),
            dst: "198.18.0.2".parse().unwrap(),
            proto: Proto::Udp,
            sport: 49152,
            dport: 53,
            size: 64,
            df: false,
            ttl: 64,
            flow_hash: true,
        };
        let mut q = p.clone();
        q.size = 1500;
        assert_eq!(flow_hash(&p, NodeId(3)), flow_hash(&q, NodeId(3)));
        q.dport = 54;
        assert_ne!(flow_hash(&p, NodeId(3)), flow_hash(&q, NodeId(3)));
        assert_ne!(flow_hash(&p, NodeId(3)), flow_hash(&p, NodeId(4)));
    }
}
