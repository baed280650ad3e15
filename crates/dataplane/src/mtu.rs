//! What each kind of device does with a packet larger than an MTU, as a table of rules.
//!
//! The table is the single source of truth; `docs/mtu.md` mirrors it row by row with the reason
//! for each rule. Rules are matched in order; the first whose conditions hold applies.

use nettwin_model::Family;
use serde::Serialize;

/// Where the oversized packet meets the MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The sending node, on its own egress interface (the socket layer of the sender).
    Source,
    /// A router or Linux box forwarding the packet out of an egress interface.
    Router,
    /// A Linux bridge (switch) sending the frame out of one of its ports.
    Bridge,
    /// Any interface (router, host, bridge port) receiving a frame.
    Receiver,
    /// A label switching router sending a labelled packet on (swap), whose IP packet plus
    /// label stack does not fit the egress MTU.
    LabelSwitch,
}

/// What the device does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oversize {
    /// Drop and send ICMP "fragmentation needed" (IPv4 type 3 code 4) or "packet too big"
    /// (ICMPv6 type 2) carrying the egress MTU back to the source.
    IcmpTooBig,
    /// Split into fragments that fit and forward them.
    Fragment,
    /// Refuse to send: the application gets `EMSGSIZE` and learns the MTU locally.
    LocalError,
    /// Drop without telling anyone.
    SilentDrop,
}

/// One rule. `None` in a condition means "any".
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MtuRule {
    pub role: Role,
    pub family: Option<Family>,
    pub df: Option<bool>,
    /// For bridges: whether `br_netfilter` is loaded.
    pub bridge_netfilter: Option<bool>,
    /// For label switching: whether the Linux kernel forwards the labels (FRR's platform).
    pub kernel_mpls: Option<bool>,
    pub action: Oversize,
    pub reason: &'static str,
}

const fn rule(
    role: Role,
    family: Option<Family>,
    df: Option<bool>,
    bridge_netfilter: Option<bool>,
    action: Oversize,
    reason: &'static str,
) -> MtuRule {
    MtuRule {
        role,
        family,
        df,
        bridge_netfilter,
        kernel_mpls: None,
        action,
        reason,
    }
}

use Family::{Ipv4, Ipv6};
use Oversize::*;
use Role::*;

/// The rules, in match order.
pub const RULES: &[MtuRule] = &[
    rule(Receiver, None, None, None, SilentDrop,
        "an interface drops a received frame longer than its own MTU (Linux veth and most NICs count it as rx_length_error); nobody is told"),
    rule(Source, None, Some(true), None, LocalError,
        "with DF (IP_PMTUDISC_DO / IPV6_DONTFRAG) the sender's stack refuses a datagram larger than the route MTU and returns EMSGSIZE"),
    rule(Source, Some(Ipv4), Some(false), None, Fragment,
        "without DF the sending IPv4 stack fragments (RFC 791)"),
    rule(Source, Some(Ipv6), Some(false), None, Fragment,
        "an IPv6 source may fragment its own packets with a Fragment header (RFC 8200 section 4.5)"),
    rule(Router, Some(Ipv4), Some(true), None, IcmpTooBig,
        "an IPv4 router must not fragment a DF packet: it drops it and sends ICMP type 3 code 4 with the next-hop MTU (RFC 1191 section 4)"),
    rule(Router, Some(Ipv4), Some(false), None, Fragment,
        "an IPv4 router fragments a packet without DF (RFC 791)"),
    rule(Router, Some(Ipv6), None, None, IcmpTooBig,
        "IPv6 routers never fragment: they drop and send ICMPv6 Packet Too Big with the MTU (RFC 8200 section 5, RFC 8201)"),
    rule(Bridge, Some(Ipv4), Some(false), Some(true), Fragment,
        "with br_netfilter loaded, IPv4 without DF is handed to the IP layer, which fragments it to the port MTU (br_nf_dev_queue_xmit)"),
    rule(Bridge, None, None, None, SilentDrop,
        "a bridge has no IP address to send ICMP from: a frame longer than the egress port MTU is dropped (br_dev_queue_push_xmit / is_skb_forwardable), an MTU black hole"),
    lsr(Some(true), None, None, SilentDrop,
        "the Linux kernel (FRR) drops an MPLS packet whose labels do not fit the egress MTU in mpls_forward (mpls_pkt_too_big, counted as tx_errors) and sends no ICMP"),
    lsr(Some(false), Some(Ipv4), Some(false), Fragment,
        "an LSR may fragment the IPv4 packet under the label stack when DF is clear, each fragment carrying the stack (RFC 3032 section 3.4)"),
    lsr(Some(false), None, None, IcmpTooBig,
        "with DF set, or IPv6, the LSR drops and sends ICMP too big with the MTU less the label stack (RFC 3032 sections 3.4 and 3.5), routed back to the source"),
];

const fn lsr(
    kernel_mpls: Option<bool>,
    family: Option<Family>,
    df: Option<bool>,
    action: Oversize,
    reason: &'static str,
) -> MtuRule {
    MtuRule {
        role: LabelSwitch,
        family,
        df,
        bridge_netfilter: None,
        kernel_mpls,
        action,
        reason,
    }
}

/// The rule for a labelled packet too big at a label switching router.
pub fn rule_for_label_switch(family: Family, df: bool, kernel_mpls: bool) -> &'static MtuRule {
    RULES
        .iter()
        .find(|r| {
            r.role == LabelSwitch
                && r.family.is_none_or(|f| f == family)
                && r.df.is_none_or(|d| d == df)
                && r.kernel_mpls.is_none_or(|k| k == kernel_mpls)
        })
        .expect("the label switching rules cover every family and DF combination")
}

/// The first rule that applies.
pub fn rule_for(role: Role, family: Family, df: bool, bridge_netfilter: bool) -> &'static MtuRule {
    RULES
        .iter()
        .find(|r| {
            r.role == role
                && r.family.is_none_or(|f| f == family)
                && r.df.is_none_or(|d| d == df)
                && r.bridge_netfilter.is_none_or(|b| b == bridge_netfilter)
        })
        .expect("the rules cover every role, family and DF combination")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_has_a_rule() {
        for role in [Source, Router, Bridge, Receiver] {
            for fam in [Ipv4, Ipv6] {
                for df in [false, true] {
                    for nf in [false, true] {
                        rule_for(role, fam, df, nf);
                    }
                }
            }
        }
    }

    #[test]
    fn label_switching_follows_the_kernel_or_rfc3032() {
        for fam in [Ipv4, Ipv6] {
            for df in [false, true] {
                assert_eq!(rule_for_label_switch(fam, df, true).action, SilentDrop);
            }
        }
        assert_eq!(rule_for_label_switch(Ipv4, false, false).action, Fragment);
        assert_eq!(rule_for_label_switch(Ipv4, true, false).action, IcmpTooBig);
        assert_eq!(rule_for_label_switch(Ipv6, false, false).action, IcmpTooBig);
    }

    #[test]
    fn routers_never_fragment_ipv6() {
        assert_eq!(rule_for(Router, Ipv6, false, false).action, IcmpTooBig);
        assert_eq!(rule_for(Router, Ipv4, false, false).action, Fragment);
        assert_eq!(rule_for(Bridge, Ipv4, false, true).action, Fragment);
        assert_eq!(rule_for(Bridge, Ipv4, false, false).action, SilentDrop);
        assert_eq!(rule_for(Bridge, Ipv6, false, true).action, SilentDrop);
    }
}
