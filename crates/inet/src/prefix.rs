//! IP prefixes and ROAs, just enough for origin validation (RFC 6811) and longest-match forwarding.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 or IPv6 prefix with its host bits cleared. IPv4 lives in the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    bits: u128,
    len: u8,
    v6: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid prefix {text:?}: {reason}")]
pub struct PrefixError {
    pub text: String,
    pub reason: &'static str,
}

impl Prefix {
    fn width(v6: bool) -> u8 {
        if v6 {
            128
        } else {
            32
        }
    }

    fn mask(v6: bool, len: u8) -> u128 {
        let w = Self::width(v6);
        if len == 0 {
            0
        } else {
            let all = if v6 { u128::MAX } else { u32::MAX as u128 };
            (all >> (w - len)) << (w - len)
        }
    }

    /// Builds a prefix, clearing host bits. `len` is clamped to the family width.
    pub fn new(addr: IpAddr, len: u8) -> Prefix {
        let (bits, v6) = match addr {
            IpAddr::V4(a) => (u32::from(a) as u128, false),
            IpAddr::V6(a) => (u128::from(a), true),
        };
        let len = len.min(Self::width(v6));
        Prefix {
            bits: bits & Self::mask(v6, len),
            len,
            v6,
        }
    }

    /// Prefix length in bits (a prefix is not a container, so there is no `is_empty`).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u8 {
        self.len
    }

    pub fn is_ipv6(&self) -> bool {
        self.v6
    }

    /// The longest prefix length of this prefix's family (32 or 128).
    pub fn max_len(&self) -> u8 {
        Prefix::width(self.v6)
    }

    /// Whether a more specific of length `len` inside this prefix exists.
    pub fn has_subprefix_len(&self, len: u8) -> bool {
        len > self.len && len <= self.max_len()
    }

    /// The first address of the prefix.
    pub fn network(&self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(self.bits))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.bits as u32))
        }
    }

    /// True when `other` is equal to or more specific than `self`.
    pub fn covers(&self, other: &Prefix) -> bool {
        self.v6 == other.v6
            && other.len >= self.len
            && (other.bits & Self::mask(self.v6, self.len)) == self.bits
    }

    /// The first sub-prefix of length `len` (e.g. the /24 an attacker announces inside a /16).
    pub fn first_subprefix(&self, len: u8) -> Prefix {
        Prefix {
            bits: self.bits,
            len: len.clamp(self.len, Self::width(self.v6)),
            v6: self.v6,
        }
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| PrefixError {
            text: s.to_string(),
            reason,
        };
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| err("expected ADDRESS/LENGTH"))?;
        let addr: IpAddr = a.trim().parse().map_err(|_| err("bad address"))?;
        let len: u8 = l.trim().parse().map_err(|_| err("bad length"))?;
        let w = Self::width(addr.is_ipv6());
        if len > w {
            return Err(err("length longer than the address"));
        }
        let p = Prefix::new(addr, len);
        if p.network() != addr {
            return Err(err("host bits set"));
        }
        Ok(p)
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

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A Route Origin Authorisation: `asn` may originate `prefix` and its sub-prefixes up to
/// `max_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roa {
    pub prefix: Prefix,
    pub max_length: u8,
    pub asn: u32,
}

/// RFC 6811 origin validation state of a (prefix, origin AS) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RovState {
    Valid,
    Invalid,
    NotFound,
}

/// RFC 6811 section 2: a route is Valid if some covering ROA matches origin and length, Invalid
/// if ROAs cover it but none matches, NotFound if no ROA covers it.
pub fn rov_state(roas: &[Roa], prefix: &Prefix, origin: u32) -> RovState {
    let mut covered = false;
    for roa in roas {
        if roa.prefix.covers(prefix) {
            covered = true;
            if roa.asn == origin && prefix.len() <= roa.max_length {
                return RovState::Valid;
            }
        }
    }
    if covered {
        RovState::Invalid
    } else {
        RovState::NotFound
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct RoaFileError {
    pub file: String,
    pub line: usize,
    pub field: &'static str,
    pub message: String,
}

/// Reads ROAs in the CSV layout RPKI validators export (`ASN,IP Prefix,Max Length[,Trust
/// Anchor...]`, e.g. `AS13335,1.1.1.0/24,24,apnic`). A header line starting with `ASN`, blank
/// lines and `#` comments are skipped.
pub fn parse_roas(text: &str, file_name: &str) -> Result<Vec<Roa>, RoaFileError> {
    let mut roas = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.to_ascii_uppercase().starts_with("ASN")
        {
            continue;
        }
        let err = |field: &'static str, message: String| RoaFileError {
            file: file_name.to_string(),
            line: i + 1,
            field,
            message,
        };
        let mut f = line.split(',').map(str::trim);
        let asn_text = f.next().unwrap_or("");
        let asn: u32 = asn_text
            .strip_prefix("AS")
            .unwrap_or(asn_text)
            .parse()
            .map_err(|_| err("asn", format!("{asn_text:?} is not an AS number")))?;
        let prefix: Prefix = f
            .next()
            .ok_or_else(|| err("prefix", "missing field".into()))?
            .parse()
            .map_err(|e: PrefixError| err("prefix", e.to_string()))?;
        let max_text = f
            .next()
            .ok_or_else(|| err("max_length", "missing field".into()))?;
        let max_length: u8 = max_text
            .parse()
            .ok()
            .filter(|m| *m >= prefix.len() && *m <= if prefix.is_ipv6() { 128 } else { 32 })
            .ok_or_else(|| {
                err(
                    "max_length",
                    format!(
                        "{max_text:?} is not a length between /{} and the address width",
                        prefix.len()
                    ),
                )
            })?;
        roas.push(Roa {
            prefix,
            max_length,
            asn,
        });
    }
    Ok(roas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn parse_display_and_cover() {
        assert_eq!(p("10.1.0.0/16").to_string(), "10.1.0.0/16");
        assert_eq!(p("2001:db8::/32").to_string(), "2001:db8::/32");
        assert!(p("10.1.0.0/16").covers(&p("10.1.2.0/24")));
        assert!(!p("10.1.2.0/24").covers(&p("10.1.0.0/16")));
        assert!(!p("10.1.0.0/16").covers(&p("10.2.0.0/24")));
        assert!(p("0.0.0.0/0").covers(&p("192.0.2.0/24")));
        assert!(!p("0.0.0.0/0").covers(&p("2001:db8::/32")));
        assert!("10.1.0.1/16".parse::<Prefix>().is_err());
        assert!("10.1.0.0/33".parse::<Prefix>().is_err());
        assert!("10.1.0.0".parse::<Prefix>().is_err());
        assert_eq!(p("10.1.0.0/16").first_subprefix(24), p("10.1.0.0/24"));
    }

    #[test]
    fn roa_csv() {
        let roas = parse_roas(
            "ASN,IP Prefix,Max Length,Trust Anchor\nAS13335,1.1.1.0/24,24,apnic\n64500,2001:db8::/32,48\n",
            "r.csv",
        )
        .unwrap();
        assert_eq!(roas.len(), 2);
        assert_eq!(roas[1].max_length, 48);
        assert_eq!(roas[0].asn, 13335);
        let e = parse_roas("AS1,10.0.0.0/16,8\n", "r.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv:1: max_length: \"8\" is not a length between /16 and the address width"
        );
        assert!(parse_roas("AS1,10.0.0.1/16,16\n", "r.csv").is_err());
    }

    #[test]
    fn rov_with_max_length() {
        let roas = [Roa {
            prefix: p("10.1.0.0/16"),
            max_length: 16,
            asn: 65001,
        }];
        assert_eq!(rov_state(&roas, &p("10.1.0.0/16"), 65001), RovState::Valid);
        assert_eq!(
            rov_state(&roas, &p("10.1.0.0/16"), 65002),
            RovState::Invalid
        );
        // Right origin but longer than max length: Invalid (the sub-prefix hijack case).
        assert_eq!(
            rov_state(&roas, &p("10.1.0.0/24"), 65001),
            RovState::Invalid
        );
        assert_eq!(
            rov_state(&roas, &p("10.2.0.0/16"), 65002),
            RovState::NotFound
        );
        let loose = [Roa {
            max_length: 24,
            ..roas[0]
        }];
        assert_eq!(rov_state(&loose, &p("10.1.0.0/24"), 65001), RovState::Valid);
        assert_eq!(
            rov_state(&loose, &p("10.1.0.0/25"), 65001),
            RovState::Invalid
        );
    }
}
