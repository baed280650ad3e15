//! The cluster as the policy engine sees it: namespaces, pods (workloads expanded), network
//! sets, tiers, and every policy converted to one form, Calico's: a tier, an order, an endpoint
//! selector and ordered rules per direction.

use crate::selector::{Expr, Labels};
use nettwin_model::Prefix;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Where something was written: `file:line`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// IP protocol numbers nettwin names.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
    pub const UDPLITE: u8 = 136;

    /// `TCP`, `UDP`, ... or the number.
    pub fn name(p: u8) -> String {
        match p {
            ICMP => "ICMP".into(),
            TCP => "TCP".into(),
            UDP => "UDP".into(),
            ICMPV6 => "ICMPv6".into(),
            SCTP => "SCTP".into(),
            UDPLITE => "UDPLite".into(),
            n => n.to_string(),
        }
    }

    /// Whether the protocol has ports.
    pub fn has_ports(p: u8) -> bool {
        matches!(p, TCP | UDP | SCTP | UDPLITE)
    }
}

/// The label Calico gives every endpoint for its namespace.
pub const LABEL_NAMESPACE: &str = "projectcalico.org/namespace";
/// The label Calico gives Kubernetes pods.
pub const LABEL_ORCHESTRATOR: &str = "projectcalico.org/orchestrator";
/// The label Calico gives a pod for its service account.
pub const LABEL_SERVICE_ACCOUNT: &str = "projectcalico.org/serviceaccount";
/// The label Calico gives a namespace (prefixed `pcns.`) or a service account (`pcsa.`) for its name.
pub const LABEL_NAME: &str = "projectcalico.org/name";
/// The label the API server gives every namespace.
pub const LABEL_K8S_NS_NAME: &str = "kubernetes.io/metadata.name";
/// Prefix of namespace labels inherited by endpoints.
pub const NS_PREFIX: &str = "pcns.";
/// Prefix of service account labels inherited by endpoints.
pub const SA_PREFIX: &str = "pcsa.";

#[derive(Clone, Debug, Serialize)]
pub struct Namespace {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Named by a pod or policy but not defined in the manifests.
    pub implicit: bool,
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    #[serde(serialize_with = "ser_proto")]
    pub protocol: u8,
}

fn ser_proto<S: serde::Serializer>(p: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&proto::name(*p))
}

#[derive(Clone, Debug, Serialize)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ips: Vec<IpAddr>,
    /// True when the IPs were assigned from the pod CIDR, not read from the manifest.
    pub assigned_ip: bool,
    pub ports: Vec<ContainerPort>,
    pub service_account: String,
    /// `Deployment/web` for a pod expanded from a workload.
    pub owner: Option<String>,
    pub origin: Origin,
    /// The labels Calico's selectors see: the pod's own, `projectcalico.org/*`, and the
    /// namespace's and service account's with their prefixes.
    #[serde(skip)]
    pub endpoint_labels: BTreeMap<String, String>,
}

impl Pod {
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A Calico `NetworkSet` (namespaced) or `GlobalNetworkSet`.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkSet {
    pub namespace: Option<String>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub nets: Vec<Prefix>,
    pub origin: Origin,
    #[serde(skip)]
    pub endpoint_labels: BTreeMap<String, String>,
}

/// What the end of a tier does to traffic a policy of the tier selected but no rule decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TierAction {
    Deny,
    Pass,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tier {
    pub name: String,
    /// `None` sorts after every ordered tier.
    pub order: Option<f64>,
    pub default_action: TierAction,
    /// `None` for the tiers Calico creates itself.
    pub origin: Option<Origin>,
}

/// Calico's tiers for Kubernetes' admin policies (v3.29 to v3.31, which convert
/// `AdminNetworkPolicy` and `BaselineAdminNetworkPolicy`), and the default tier.
pub const ANP_TIER: &str = "adminnetworkpolicy";
pub const DEFAULT_TIER: &str = "default";
pub const BANP_TIER: &str = "baselineadminnetworkpolicy";
pub const ANP_TIER_ORDER: f64 = 1_000.0;
pub const DEFAULT_TIER_ORDER: f64 = 1_000_000.0;
pub const BANP_TIER_ORDER: f64 = 10_000_000.0;
/// The order Calico gives every Kubernetes NetworkPolicy, and every BaselineAdminNetworkPolicy.
pub const KNP_ORDER: f64 = 1_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum PolicyKind {
    /// `networking.k8s.io/v1 NetworkPolicy`
    NetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy`
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy`
    BaselineAdminNetworkPolicy,
    /// `projectcalico.org/v3 NetworkPolicy`
    CalicoNetworkPolicy,
    /// `projectcalico.org/v3 GlobalNetworkPolicy`
    CalicoGlobalNetworkPolicy,
}

impl PolicyKind {
    /// The kind as felix's policy key names it (used to break ties in order).
    pub fn key_kind(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => "KubernetesNetworkPolicy",
            PolicyKind::AdminNetworkPolicy => "KubernetesAdminNetworkPolicy",
            PolicyKind::BaselineAdminNetworkPolicy => "KubernetesBaselineAdminNetworkPolicy",
            PolicyKind::CalicoNetworkPolicy => "NetworkPolicy",
            PolicyKind::CalicoGlobalNetworkPolicy => "GlobalNetworkPolicy",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => "knp",
            PolicyKind::AdminNetworkPolicy => "anp",
            PolicyKind::BaselineAdminNetworkPolicy => "banp",
            PolicyKind::CalicoNetworkPolicy => "calico-np",
            PolicyKind::CalicoGlobalNetworkPolicy => "calico-gnp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    Allow,
    Deny,
    Pass,
    Log,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
            Action::Log => "Log",
        })
    }
}

/// A destination or source port: a range (one port is a range of one) or a named container port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PortSpec {
    Range(u16, u16),
    Named(String),
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Range(a, b) if a == b => write!(f, "{a}"),
            PortSpec::Range(a, b) => write!(f, "{a}:{b}"),
            PortSpec::Named(n) => f.write_str(n),
        }
    }
}

/// One side of a rule (Calico's EntityRule, with the namespace scoping already folded into
/// `selector` as libcalico-go does).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Entity {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_expr")]
    pub selector: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_expr")]
    pub not_selector: Option<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<Prefix>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_nets: Vec<Prefix>,
    /// The nets come from a Kubernetes `ipBlock` (Cilium does not match them against pods).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ip_block: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_ports: Vec<PortSpec>,
    /// Matches nothing: an admin-policy peer nettwin cannot place (nodes, domain names).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nothing: bool,
}

fn ser_expr<S: serde::Serializer>(e: &Option<Expr>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.collect_str(e),
        None => s.serialize_none(),
    }
}

impl Entity {
    pub fn is_empty(&self) -> bool {
        self.selector.is_none()
            && self.not_selector.is_none()
            && self.nets.is_empty()
            && self.not_nets.is_empty()
            && self.ports.is_empty()
            && self.not_ports.is_empty()
            && !self.nothing
    }
}

/// ICMP type and code (either may be absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Icmp {
    pub r#type: Option<u8>,
    pub code: Option<u8>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_protocol: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<Icmp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_icmp: Option<Icmp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<u8>,
    pub src: Entity,
    pub dst: Entity,
    /// Where the rule (or the peer it was made from) is written.
    pub origin: Origin,
    /// Its key path in the manifest: `spec.ingress[0].from[1]`.
    pub path: String,
    /// An admin policy rule's `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Policy {
    pub kind: PolicyKind,
    /// The name as written in the manifest.
    pub name: String,
    /// The name Calico shows: `knp.default.NAME`, `kanp.adminnetworkpolicy.NAME`, ...
    pub display: String,
    pub namespace: Option<String>,
    pub tier: String,
    /// `None` sorts after every ordered policy (felix uses +infinity).
    pub order: Option<f64>,
    /// The endpoints the policy applies to, with its namespace folded in.
    #[serde(serialize_with = "ser_expr_plain")]
    pub selector: Expr,
    /// `None` when the policy does not apply to ingress (its types).
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
    pub origin: Origin,
}

fn ser_expr_plain<S: serde::Serializer>(e: &Expr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

impl Policy {
    /// `name/namespace/kind`: felix's tie-break between policies of equal order.
    pub fn sort_key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.name,
            self.namespace.as_deref().unwrap_or(""),
            self.kind.key_kind()
        )
    }

    pub fn rules(&self, dir: Direction) -> Option<&[Rule]> {
        match dir {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    /// `knp.default.deny-all (x)` with the namespace for namespaced policies.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} ({ns})", self.display),
            None => self.display.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

/// Everything read from the manifests.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cluster {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub network_sets: Vec<NetworkSet>,
    /// Tiers sorted as felix applies them.
    pub tiers: Vec<Tier>,
    /// Policies sorted by tier (as `tiers`), then order, then felix's name key.
    pub policies: Vec<Policy>,
    /// Objects of kinds nettwin does not model, by kind.
    pub skipped: BTreeMap<String, usize>,
    /// Host-network pods: they use the node's address and no policy applies to them.
    pub host_network_pods: usize,
}

impl Cluster {
    pub fn pod(&self, id: &str) -> Option<usize> {
        let (ns, name) = id.split_once('/')?;
        self.pods
            .iter()
            .position(|p| p.namespace == ns && p.name == name)
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    /// How many policies of each kind.
    pub fn policy_counts(&self) -> BTreeMap<PolicyKind, usize> {
        let mut m = BTreeMap::new();
        for p in &self.policies {
            *m.entry(p.kind).or_insert(0) += 1;
        }
        m
    }
}

impl Labels for Pod {
    fn label(&self, key: &str) -> Option<&str> {
        self.endpoint_labels.get(key).map(String::as_str)
    }
}

impl Labels for NetworkSet {
    fn label(&self, key: &str) -> Option<&str> {
        self.endpoint_labels.get(key).map(String::as_str)
    }
}
