//! IP prefixes and interface addresses, IPv4 and IPv6.
//!
//! Prefixes keep their address as a plain integer with the host bits cleared, so comparisons,
//! containment and longest-prefix work are integer operations.

use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn max_len(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

/// An IPv4 or IPv6 prefix whose host bits are zero, e.g. `198.18.0.0/15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// The network address, IPv4 in the low 32 bits.
    bits: u128,
    len: u8,
    family: Family,
}

/// Why a string is not a prefix or an address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddrParseError {
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    BadAddress(String),
    #[error("`{0}` has no prefix length (write it as ADDRESS/LENGTH)")]
    MissingLength(String),
    #[error("prefix length in `{text}` must be 0..={max}")]
    BadLength { text: String, max: u8 },
    #[error("`{text}` has host bits set; the prefix is {network}")]
    HostBitsSet { text: String, network: Prefix },
}

fn mask(len: u8, family: Family) -> u128 {
    let width = u32::from(family.max_len());
    if len == 0 {
        0
    } else {
        let ones = u128::MAX << (128 - u32::from(len));
        ones >> (128 - width)
    }
}

fn addr_bits(addr: IpAddr) -> (u128, Family) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), Family::Ipv4),
        IpAddr::V6(a) => (u128::from(a), Family::Ipv6),
    }
}

fn bits_addr(bits: u128, family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

impl Prefix {
    /// The prefix of `len` bits that contains `addr` (host bits are cleared).
    ///
    /// # Panics
    /// If `len` is longer than the family allows; parse user input with [`Prefix::from_str`].
    pub fn new(addr: IpAddr, len: u8) -> Prefix {
        let (bits, family) = addr_bits(addr);
        assert!(len <= family.max_len(), "prefix length {len} too long");
        Prefix {
            bits: bits & mask(len, family),
            len,
            family,
        }
    }

    /// The /32 or /128 that holds exactly `addr`.
    pub fn host(addr: IpAddr) -> Prefix {
        let (_, family) = addr_bits(addr);
        Prefix::new(addr, family.max_len())
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The prefix length (mask bits). A prefix has no "empty" state, hence no `is_empty`.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u8 {
        self.len
    }

    /// True for the zero-length default route.
    pub fn is_default(&self) -> bool {
        self.len == 0
    }

    pub fn network(&self) -> IpAddr {
        bits_addr(self.bits, self.family)
    }

    /// The network address as an integer (IPv4 in the low 32 bits), for compact tables.
    pub fn bits(&self) -> u128 {
        self.bits
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let (bits, family) = addr_bits(addr);
        family == self.family && bits & mask(self.len, family) == self.bits
    }

    /// True when `other` lies inside this prefix (or is it).
    pub fn covers(&self, other: &Prefix) -> bool {
        other.family == self.family
            && other.len >= self.len
            && other.bits & mask(self.len, self.family) == self.bits
    }

    pub fn overlaps(&self, other: &Prefix) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// How many addresses the prefix spans, saturating for huge IPv6 prefixes.
    pub fn size(&self) -> u128 {
        let host_bits = u32::from(self.family.max_len() - self.len);
        1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
    }

    /// The `n`-th address inside the prefix (0 is the network address), if it fits.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        (n < self.size()).then(|| bits_addr(self.bits + n, self.family))
    }

    /// The `n`-th subnet of length `len` inside this prefix, if it fits.
    pub fn subnet(&self, len: u8, n: u128) -> Option<Prefix> {
        if len < self.len || len > self.family.max_len() {
            return None;
        }
        let count_bits = u32::from(len - self.len);
        if count_bits < 128 && n >= (1u128 << count_bits) {
            return None;
        }
        let step_bits = u32::from(self.family.max_len() - len);
        let offset = n.checked_shl(step_bits)?;
        Some(Prefix {
            bits: self.bits + offset,
            len,
            family: self.family,
        })
    }
}

impl Ord for Prefix {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.family, self.bits, self.len).cmp(&(other.family, other.bits, other.len))
    }
}

impl PartialOrd for Prefix {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.len)
    }
}

impl Serialize for Prefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn split_len(text: &str) -> Result<(IpAddr, Option<u8>), AddrParseError> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .trim()
        .parse()
        .map_err(|_| AddrParseError::BadAddress(text.to_string()))?;
    let max = addr_bits(addr).1.max_len();
    let len = match len {
        None => None,
        Some(l) => match l.trim().parse::<u8>() {
            Ok(l) if l <= max => Some(l),
            _ => {
                return Err(AddrParseError::BadLength {
                    text: text.to_string(),
                    max,
                })
            }
        },
    };
    Ok((addr, len))
}

impl FromStr for Prefix {
    type Err = AddrParseError;

    /// Parses `ADDRESS/LENGTH`; host bits must be zero, since a prefix with host bits set is
    /// almost always a typo for an interface address or a wrong length.
    fn from_str(text: &str) -> Result<Prefix, AddrParseError> {
        let (addr, len) = split_len(text)?;
        let len = len.ok_or_else(|| AddrParseError::MissingLength(text.to_string()))?;
        let p = Prefix::new(addr, len);
        if p.network() != addr {
            return Err(AddrParseError::HostBitsSet {
                text: text.to_string(),
                network: p,
            });
        }
        Ok(p)
    }
}

/// An address configured on an interface with its prefix length, e.g. `198.18.1.1/31`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub len: u8,
}

impl IfAddr {
    /// The subnet the address sits in.
    pub fn subnet(&self) -> Prefix {
        Prefix::new(self.addr, self.len)
    }

    pub fn family(&self) -> Family {
        addr_bits(self.addr).1
    }

    /// Parses `ADDRESS/LENGTH`, or a bare `ADDRESS` which takes `default_len` when given.
    pub fn parse(text: &str, default_len: Option<u8>) -> Result<IfAddr, AddrParseError> {
        let (addr, len) = split_len(text)?;
        let len = len
            .or(default_len)
            .ok_or_else(|| AddrParseError::MissingLength(text.to_string()))?;
        if len > addr_bits(addr).1.max_len() {
            return Err(AddrParseError::BadLength {
                text: text.to_string(),
                max: addr_bits(addr).1.max_len(),
            });
        }
        Ok(IfAddr { addr, len })
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Serialize for IfAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses a bare address (no length).
pub fn parse_addr(text: &str) -> Result<IpAddr, AddrParseError> {
    text.trim()
        .parse()
        .map_err(|_| AddrParseError::BadAddress(text.to_string()))
}

/// Address ranges no interface or loopback may use, with the reason; every subnet that takes in
/// one of them is refused too (a `/0` takes in all of them).
const SPECIAL: [(&str, &str); 7] = [
    ("0.0.0.0/8", "\"this network\", never assigned"),
    ("127.0.0.0/8", "the host loopback range"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "the limited broadcast address"),
    ("::/128", "the unspecified address"),
    ("::1/128", "the host loopback address"),
    ("ff00::/8", "multicast"),
];

/// The special-purpose range `p` overlaps, if any, and why nothing there can be configured.
pub fn special_use(p: &Prefix) -> Option<(Prefix, &'static str)> {
    if p.len() == p.family().max_len() && p.bits() == 0 && p.family() == Family::Ipv4 {
        return Some((*p, "the unspecified address"));
    }
    SPECIAL.iter().find_map(|(range, why)| {
        let range: Prefix = range.parse().expect("valid built-in range");
        range.overlaps(p).then_some((range, *why))
    })
}

/// Whether `addr` is link-local (169.254.0.0/16, fe80::/10): valid on a link, but never routed,
/// so useless as a loopback or router identity.
pub fn is_link_local(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(p("198.18.0.0/15").to_string(), "198.18.0.0/15");
        assert_eq!(p("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(p("0.0.0.0/0").len(), 0);
        assert!(matches!(
            "198.18.0.1/24".parse::<Prefix>(),
            Err(AddrParseError::HostBitsSet { .. })
        ));
        assert!(matches!(
            "198.18.0.0/33".parse::<Prefix>(),
            Err(AddrParseError::BadLength { max: 32, .. })
        ));
        assert!(matches!(
            "198.18.0.0".parse::<Prefix>(),
            Err(AddrParseError::MissingLength(_))
        ));
        assert!(matches!(
            "198.318.0.0/16".parse::<Prefix>(),
            Err(AddrParseError::BadAddress(_))
        ));
    }

    #[test]
    fn containment() {
        let net = p("198.18.0.0/15");
        assert!(net.contains("198.19.255.255".parse().unwrap()));
        assert!(!net.contains("198.20.0.0".parse().unwrap()));
        assert!(!net.contains("2001:db8::1".parse().unwrap()));
        assert!(net.covers(&p("198.19.4.0/24")));
        assert!(!p("198.19.4.0/24").covers(&net));
        assert!(p("198.19.4.0/24").overlaps(&net));
        assert!(!p("198.18.0.0/24").overlaps(&p("198.18.1.0/24")));
        assert!(p("0.0.0.0/0").covers(&p("198.18.1.0/24")));
        assert!(!p("::/0").covers(&p("198.18.1.0/24")));
    }

    #[test]
    fn subnets_and_nth() {
        let pool = p("198.18.128.0/17");
        assert_eq!(pool.subnet(24, 0).unwrap(), p("198.18.128.0/24"));
        assert_eq!(pool.subnet(24, 127).unwrap(), p("198.18.255.0/24"));
        assert_eq!(pool.subnet(24, 128), None);
        assert_eq!(
            p("2001:db8:1::/48").subnet(64, 3).unwrap(),
            p("2001:db8:1:3::/64")
        );
        assert_eq!(
            p("198.18.0.0/31").nth(1).unwrap(),
            "198.18.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(p("198.18.0.0/31").nth(2), None);
        assert_eq!(p("::/0").size(), u128::MAX);
    }

    #[test]
    fn special_ranges() {
        let why = |s: &str| special_use(&p(s)).map(|(r, _)| r.to_string());
        assert_eq!(why("0.0.0.0/32").unwrap(), "0.0.0.0/32");
        assert_eq!(why("0.0.0.0/0").unwrap(), "0.0.0.0/8");
        assert_eq!(why("127.0.0.1/32").unwrap(), "127.0.0.0/8");
        assert_eq!(why("239.1.1.1/32").unwrap(), "224.0.0.0/4");
        assert_eq!(why("255.255.255.255/32").unwrap(), "255.255.255.255/32");
        assert_eq!(why("::/0").unwrap(), "::/128");
        assert_eq!(why("::1/128").unwrap(), "::1/128");
        assert_eq!(why("ff02::1/128").unwrap(), "ff00::/8");
        assert_eq!(why("198.18.0.0/15"), None);
        assert_eq!(why("10.0.0.0/8"), None);
        assert_eq!(why("2001:db8::/32"), None);
        assert!(is_link_local("169.254.1.1".parse().unwrap()));
        assert!(is_link_local("fe80::1".parse().unwrap()));
        assert!(!is_link_local("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn interface_addresses() {
        let a = IfAddr::parse("198.18.1.1/31", None).unwrap();
        assert_eq!(a.subnet(), p("198.18.1.0/31"));
        let b = IfAddr::parse("2001:db8::1", Some(64)).unwrap();
        assert_eq!(b.to_string(), "2001:db8::1/64");
        assert!(IfAddr::parse("198.18.1.1", None).is_err());
    }
}
