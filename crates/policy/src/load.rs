//! Reading manifests: multi-document YAML (or JSON), `kind: List`, files and directories, into a
//! [`Cluster`]. Every mistake is collected with `file:line:col` and its key path.
//!
//! Each policy kind is converted to Calico's form here, the way libcalico-go converts it
//! (`lib/backend/k8s/conversion`, `lib/backend/syncersv1/updateprocessors`): the policy's
//! namespace and the rule's namespace selector are folded into selectors over endpoint labels.

use crate::cluster::*;
use crate::selector::{self, Expr};
use nettwin_model::diag::Diagnostics;
use nettwin_model::yaml::{self, MapReader, Node, Path, Span, Value};
use nettwin_model::{IfAddr, Prefix};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// One input: a file's name (for messages) and its text.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Errors of one file, with its text so the caller can show the lines.
#[derive(Clone, Debug)]
pub struct FileErrors {
    pub diags: Diagnostics,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{} errors in the manifests", .0.iter().map(|f| f.diags.len()).sum::<usize>())]
    Invalid(Vec<FileErrors>),
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Where pods without `status.podIPs` get their address (IPv4).
    pub pod_cidr: Prefix,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            pod_cidr: "10.244.0.0/16".parse().expect("valid default pod CIDR"),
        }
    }
}

/// Reads files and directories (recursively, `*.yaml`, `*.yml`, `*.json`, in name order). A
/// file named explicitly is read whatever its extension.
pub fn read_paths(paths: &[std::path::PathBuf]) -> Result<Vec<Source>, LoadError> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for p in paths {
        read_path(p, true, &mut out, &mut bad)?;
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(LoadError::Invalid(bad))
    }
}

fn read_path(
    p: &std::path::Path,
    explicit: bool,
    out: &mut Vec<Source>,
    bad: &mut Vec<FileErrors>,
) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: p.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(p).map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let is_dir = std::fs::metadata(&e).map(|m| m.is_dir()).unwrap_or(false);
            let ext_ok = e
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"));
            if is_dir || ext_ok {
                read_path(&e, false, out, bad)?;
            }
        }
        return Ok(());
    }
    if !explicit && !meta.is_file() {
        return Ok(());
    }
    let bytes = std::fs::read(p).map_err(io)?;
    let name = p.display().to_string();
    match nettwin_model::load::decode_utf8(&name, &bytes) {
        Ok(text) => out.push(Source {
            name,
            text: text.to_string(),
        }),
        Err(diags) => bad.push(FileErrors {
            diags,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }),
    }
    Ok(())
}

/// A pod before namespaces, service accounts and addresses are known.
struct PodDraft {
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    ips: Vec<IpAddr>,
    ports: Vec<ContainerPort>,
    service_account: String,
    owner: Option<String>,
    origin: Origin,
    file: usize,
    span: Span,
}

struct PodSpec {
    ports: Vec<ContainerPort>,
    service_account: String,
    host_network: bool,
}

struct Loader {
    opts: LoadOptions,
    files: Vec<FileErrors>,
    names: Vec<String>,
    file: usize,
    namespaces: Vec<Namespace>,
    service_accounts: BTreeMap<(String, String), BTreeMap<String, String>>,
    pods: Vec<PodDraft>,
    network_sets: Vec<NetworkSet>,
    tiers: Vec<Tier>,
    policies: Vec<(Policy, usize, Span)>,
    skipped: BTreeMap<String, usize>,
    host_network: usize,
    /// (kind group, namespace, name) -> where first defined.
    seen: HashMap<(String, String, String), Origin>,
}

/// Loads every source into one cluster; all mistakes in all files, or the cluster.
pub fn load(sources: &[Source], opts: &LoadOptions) -> Result<Cluster, LoadError> {
    let mut l = Loader {
        opts: opts.clone(),
        files: Vec::new(),
        names: Vec::new(),
        file: 0,
        namespaces: Vec::new(),
        service_accounts: BTreeMap::new(),
        pods: Vec::new(),
        network_sets: Vec::new(),
        tiers: Vec::new(),
        policies: Vec::new(),
        skipped: BTreeMap::new(),
        host_network: 0,
        seen: HashMap::new(),
    };
    for (i, src) in sources.iter().enumerate() {
        l.files.push(FileErrors {
            diags: Diagnostics::new(src.name.clone()),
            text: src.text.clone(),
        });
        l.names.push(src.name.clone());
        l.file = i;
        match yaml::parse_stream(&src.text) {
            Err((span, msg)) => l.d().error(span, &Path::root(), msg),
            Ok(docs) => {
                for (_, doc) in &docs {
                    if !doc.is_null() {
                        l.object(doc, &Path::root());
                    }
                }
            }
        }
    }
    let cluster = l.finish();
    if l.files.iter().any(|f| !f.diags.is_empty()) {
        let mut bad: Vec<FileErrors> = l
            .files
            .into_iter()
            .filter(|f| !f.diags.is_empty())
            .collect();
        for f in &mut bad {
            f.diags.sort();
        }
        return Err(LoadError::Invalid(bad));
    }
    Ok(cluster)
}

/// Loads manifests given as text (tests, stdin).
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Result<Cluster, LoadError> {
    load(
        &[Source {
            name: name.to_string(),
            text: text.to_string(),
        }],
        opts,
    )
}

struct Meta {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
}

impl Loader {
    fn d(&mut self) -> &mut Diagnostics {
        &mut self.files[self.file].diags
    }

    fn origin(&self, span: Span) -> Origin {
        Origin {
            file: self.names[self.file].clone(),
            line: span.line,
            col: span.col,
        }
    }

    fn err(&mut self, span: Span, path: &Path, msg: impl Into<String>) {
        self.d().error(span, path, msg);
    }

    /// One object, or a `List` of them.
    fn object(&mut self, node: &Node, path: &Path) {
        if node.as_map().is_none() {
            self.err(
                start(node),
                path,
                format!("expected a Kubernetes object, found {}", node.kind_name()),
            );
            return;
        }
        let kind = node.get("kind").and_then(Node::as_scalar).unwrap_or("");
        let api = node
            .get("apiVersion")
            .and_then(Node::as_scalar)
            .unwrap_or("");
        if kind.is_empty() {
            self.err(start(node), path, "the object has no `kind`");
            return;
        }
        if let Some(items) = node.get("items") {
            if kind == "List" || kind.ends_with("List") {
                let items_path = path.key("items");
                match items.as_seq() {
                    Some(list) => {
                        for (i, it) in list.iter().enumerate() {
                            self.object(it, &items_path.index(i));
                        }
                    }
                    None if items.is_null() => {}
                    None => self.err(items.span, &items_path, "expected a list of objects"),
                }
                return;
            }
        }
        let group = api.rsplit_once('/').map_or("", |(g, _)| g);
        match (group, kind) {
            ("", "Namespace") => self.namespace(node, path),
            ("", "Pod") => self.pod(node, path),
            ("", "ServiceAccount") => self.service_account(node, path),
            ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            | ("batch", "Job") => self.workload(node, path, kind),
            ("networking.k8s.io", "NetworkPolicy") => self.knp(node, path),
            ("policy.networking.k8s.io", "AdminNetworkPolicy") => self.anp(node, path, false),
            ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy") => {
                self.anp(node, path, true)
            }
            ("projectcalico.org" | "crd.projectcalico.org", "NetworkPolicy") => {
                self.calico_policy(node, path, false)
            }
            ("projectcalico.org" | "crd.projectcalico.org", "GlobalNetworkPolicy") => {
                self.calico_policy(node, path, true)
            }
            ("projectcalico.org" | "crd.projectcalico.org", "Tier") => self.tier(node, path),
            ("projectcalico.org" | "crd.projectcalico.org", "NetworkSet") => {
                self.network_set(node, path, false)
            }
            ("projectcalico.org" | "crd.projectcalico.org", "GlobalNetworkSet") => {
                self.network_set(node, path, true)
            }
            _ => *self.skipped.entry(kind.to_string()).or_insert(0) += 1,
        }
    }

    fn labels(&mut self, node: &Node, path: &Path) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(mut m) = MapReader::new(node, path, self.d()) else {
            return out;
        };
        for (k, v) in m.take_rest() {
            let key = k.as_scalar().unwrap_or_default().to_string();
            let p = path.key(&key);
            if let Err(msg) = check_label_key(&key) {
                self.err(k.span, &p, msg);
                continue;
            }
            match &v.value {
                Value::Scalar { text, .. } => {
                    if let Err(msg) = check_label_value(text) {
                        self.err(start(v), &p, msg);
                    }
                    out.insert(key, text.clone());
                }
                Value::Null => {
                    out.insert(key, String::new());
                }
                _ => self.err(
                    start(v),
                    &p,
                    format!("a label value is a string, found {}", v.kind_name()),
                ),
            }
        }
        out
    }

    /// `metadata`: name (required), namespace (`default` when absent for namespaced kinds),
    /// labels. Other metadata keys are ignored (dumps carry many).
    fn meta(&mut self, node: &Node, path: &Path, namespaced: bool) -> Option<Meta> {
        let mp = path.key("metadata");
        let Some(md) = node.get("metadata") else {
            self.err(start(node), path, "the object has no `metadata`");
            return None;
        };
        // Reports duplicate keys; other metadata (annotations, uid, ...) is not read.
        MapReader::new(md, &mp, self.d())?;
        let name = match md.get("name") {
            Some(n) => yaml::read_str(n, &mp.key("name"), self.d())?,
            None => {
                self.err(start(md), &mp, "`metadata.name` is missing");
                return None;
            }
        };
        if name.is_empty() {
            self.err(start(md), &mp.key("name"), "the name is empty");
            return None;
        }
        let namespace = match (namespaced, md.get("namespace")) {
            (true, Some(n)) => yaml::read_str(n, &mp.key("namespace"), self.d())?,
            (true, None) => "default".to_string(),
            (false, Some(n)) => {
                self.err(
                    start(n),
                    &mp.key("namespace"),
                    "this kind is cluster-wide and has no namespace",
                );
                String::new()
            }
            (false, None) => String::new(),
        };
        let labels = match md.get("labels") {
            Some(l) => self.labels(l, &mp.key("labels")),
            None => BTreeMap::new(),
        };
        Some(Meta {
            name,
            namespace,
            labels,
        })
    }

    /// Records `kind`/`ns`/`name` as defined here; false (with an error) if it already was.
    fn first_definition(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        span: Span,
        path: &Path,
    ) -> bool {
        let key = (kind.to_string(), ns.to_string(), name.to_string());
        let here = self.origin(span);
        if let Some(first) = self.seen.get(&key) {
            let what = if ns.is_empty() {
                format!("{kind} `{name}`")
            } else {
                format!("{kind} `{ns}/{name}`")
            };
            let msg = format!("{what} is defined twice; first at {first}");
            self.err(span, path, msg);
            return false;
        }
        self.seen.insert(key, here);
        true
    }

    fn namespace(&mut self, node: &Node, path: &Path) {
        let Some(m) = self.meta(node, path, false) else {
            return;
        };
        if !self.first_definition("Namespace", "", &m.name, obj_span(node), path) {
            return;
        }
        let origin = self.origin(obj_span(node));
        self.namespaces.push(Namespace {
            name: m.name,
            labels: m.labels,
            implicit: false,
            origin: Some(origin),
        });
    }

    fn service_account(&mut self, node: &Node, path: &Path) {
        let Some(m) = self.meta(node, path, true) else {
            return;
        };
        if self.first_definition(
            "ServiceAccount",
            &m.namespace,
            &m.name,
            obj_span(node),
            path,
        ) {
            self.service_accounts
                .insert((m.namespace, m.name), m.labels);
        }
    }

    fn pod(&mut self, node: &Node, path: &Path) {
        let Some(m) = self.meta(node, path, true) else {
            return;
        };
        if !self.first_definition("Pod", &m.namespace, &m.name, obj_span(node), path) {
            return;
        }
        if let Some(phase) = node
            .get("status")
            .and_then(|s| s.get("phase"))
            .and_then(Node::as_scalar)
        {
            // Calico removes the endpoint of a finished pod.
            if phase == "Succeeded" || phase == "Failed" {
                *self.skipped.entry(format!("Pod ({phase})")).or_insert(0) += 1;
                return;
            }
        }
        let spec = node.get("spec");
        let Some(ps) = self.pod_spec(spec, &path.key("spec"), node.span) else {
            return;
        };
        if ps.host_network {
            self.host_network += 1;
            return;
        }
        let mut ips = Vec::new();
        if let Some(status) = node.get("status") {
            let sp = path.key("status");
            if let Some(list) = status.get("podIPs").and_then(Node::as_seq) {
                for (i, item) in list.iter().enumerate() {
                    if let Some(ip) = item.get("ip") {
                        let p = sp.key("podIPs").index(i).key("ip");
                        if let Some(a) = self.ip(ip, &p) {
                            ips.push(a);
                        }
                    }
                }
            } else if let Some(ip) = status.get("podIP") {
                if let Some(a) = self.ip(ip, &sp.key("podIP")) {
                    ips.push(a);
                }
            }
        }
        let origin = self.origin(obj_span(node));
        self.pods.push(PodDraft {
            namespace: m.namespace,
            name: m.name,
            labels: m.labels,
            ips,
            ports: ps.ports,
            service_account: ps.service_account,
            owner: None,
            origin,
            file: self.file,
            span: obj_span(node),
        });
    }

    fn ip(&mut self, node: &Node, path: &Path) -> Option<IpAddr> {
        let text = yaml::read_str(node, path, self.d())?;
        match nettwin_model::addr::parse_addr(&text) {
            Ok(a) => Some(a),
            Err(e) => {
                self.err(start(node), path, e.to_string());
                None
            }
        }
    }

    fn pod_spec(&mut self, spec: Option<&Node>, path: &Path, at: Span) -> Option<PodSpec> {
        let mut ps = PodSpec {
            ports: Vec::new(),
            service_account: "default".into(),
            host_network: false,
        };
        let Some(spec) = spec else {
            return Some(ps);
        };
        if spec.as_map().is_none() {
            self.err(at, path, "`spec` must be a mapping");
            return None;
        }
        if let Some(sa) = spec
            .get("serviceAccountName")
            .or_else(|| spec.get("serviceAccount"))
            .and_then(Node::as_scalar)
        {
            ps.service_account = sa.to_string();
        }
        if let Some(h) = spec.get("hostNetwork") {
            ps.host_network = yaml::read_bool(h, &path.key("hostNetwork"), self.d())?;
        }
        let cp = path.key("containers");
        let mut names = BTreeSet::new();
        for (ci, c) in spec
            .get("containers")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let pp = cp.index(ci).key("ports");
            for (pi, port) in c
                .get("ports")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                let p = pp.index(pi);
                let Some(num) = port.get("containerPort") else {
                    self.err(start(port), &p, "`containerPort` is missing");
                    continue;
                };
                let Some(n) = yaml::read_u64(num, &p.key("containerPort"), 1..=65535, self.d())
                else {
                    continue;
                };
                let protocol = match port.get("protocol") {
                    Some(pr) => match self.k8s_protocol(pr, &p.key("protocol")) {
                        Some(x) => x,
                        None => continue,
                    },
                    None => proto::TCP,
                };
                let name = match port.get("name") {
                    Some(nm) => {
                        let Some(s) = yaml::read_str(nm, &p.key("name"), self.d()) else {
                            continue;
                        };
                        if let Err(msg) = check_port_name(&s) {
                            self.err(nm.span, &p.key("name"), msg);
                            continue;
                        }
                        if !names.insert(s.clone()) {
                            self.err(
                                start(nm),
                                &p.key("name"),
                                format!("port name `{s}` is used twice in the pod"),
                            );
                            continue;
                        }
                        Some(s)
                    }
                    None => None,
                };
                ps.ports.push(ContainerPort {
                    name,
                    port: n as u16,
                    protocol,
                });
            }
        }
        Some(ps)
    }

    fn workload(&mut self, node: &Node, path: &Path, kind: &str) {
        let Some(m) = self.meta(node, path, true) else {
            return;
        };
        if !self.first_definition(kind, &m.namespace, &m.name, obj_span(node), path) {
            return;
        }
        let sp = path.key("spec");
        let spec = node.get("spec");
        let count_key = if kind == "Job" {
            "parallelism"
        } else {
            "replicas"
        };
        let count = match (kind, spec.and_then(|s| s.get(count_key))) {
            ("DaemonSet", _) => 1,
            (_, Some(r)) => match yaml::read_u64(r, &sp.key(count_key), 0..=100_000, self.d()) {
                Some(n) => n,
                None => return,
            },
            (_, None) => 1,
        };
        let tp = sp.key("template");
        let template = spec.and_then(|s| s.get("template"));
        let labels = match template
            .and_then(|t| t.get("metadata"))
            .and_then(|md| md.get("labels"))
        {
            Some(l) => self.labels(l, &tp.key("metadata").key("labels")),
            None => BTreeMap::new(),
        };
        let Some(ps) = self.pod_spec(
            template.and_then(|t| t.get("spec")),
            &tp.key("spec"),
            node.span,
        ) else {
            return;
        };
        if ps.host_network {
            self.host_network += count as usize;
            return;
        }
        let origin = self.origin(obj_span(node));
        for i in 0..count {
            self.pods.push(PodDraft {
                namespace: m.namespace.clone(),
                name: format!("{}-{i}", m.name),
                labels: labels.clone(),
                ips: Vec::new(),
                ports: ps.ports.clone(),
                service_account: ps.service_account.clone(),
                owner: Some(format!("{kind}/{}", m.name)),
                origin: origin.clone(),
                file: self.file,
                span: obj_span(node),
            });
        }
    }

    fn k8s_protocol(&mut self, node: &Node, path: &Path) -> Option<u8> {
        let s = yaml::read_str(node, path, self.d())?;
        match s.as_str() {
            "TCP" => Some(proto::TCP),
            "UDP" => Some(proto::UDP),
            "SCTP" => Some(proto::SCTP),
            _ => {
                self.err(
                    start(node),
                    path,
                    format!("protocol `{s}` is not TCP, UDP or SCTP"),
                );
                None
            }
        }
    }

    /// A Kubernetes `LabelSelector` as a Calico expression (without any prefix).
    fn label_selector(&mut self, node: &Node, path: &Path) -> Option<Expr> {
        let mut m = MapReader::new(node, path, self.d())?;
        let mut e = Expr::All;
        let mut ok = true;
        if let Some(ml) = m.take("matchLabels") {
            for (k, v) in self.labels(ml, &path.key("matchLabels")) {
                e = e.and(Expr::Eq(k, v));
            }
        }
        if let Some(me) = m.take("matchExpressions") {
            let mp = path.key("matchExpressions");
            for (i, item) in yaml::read_list(me, &mp, self.d()).into_iter().enumerate() {
                let p = mp.index(i);
                let Some(mut r) = MapReader::new(item, &p, self.d()) else {
                    ok = false;
                    continue;
                };
                let key = r.take("key").and_then(|k| {
                    yaml::read_str(k, &p.key("key"), &mut self.files[self.file].diags)
                });
                let op = r.take("operator");
                let values: Vec<String> = match r.take("values") {
                    Some(v) => {
                        yaml::read_list(v, &p.key("values"), &mut self.files[self.file].diags)
                            .into_iter()
                            .filter_map(|x| x.as_scalar().map(str::to_string))
                            .collect()
                    }
                    None => Vec::new(),
                };
                r.finish(&["key", "operator", "values"], self.d());
                let Some(key) = key else {
                    self.err(start(item), &p, "`key` is missing");
                    ok = false;
                    continue;
                };
                if let Err(msg) = check_label_key(&key) {
                    self.err(start(item), &p.key("key"), msg);
                    ok = false;
                    continue;
                }
                let Some(op) = op else {
                    self.err(start(item), &p, "`operator` is missing");
                    ok = false;
                    continue;
                };
                let op_s = op.as_scalar().unwrap_or("");
                let set: BTreeSet<String> = values.iter().cloned().collect();
                let expr = match op_s {
                    "In" | "NotIn" if values.is_empty() => {
                        self.err(
                            start(op),
                            &p.key("values"),
                            format!("operator {op_s} needs at least one value"),
                        );
                        ok = false;
                        continue;
                    }
                    "Exists" | "DoesNotExist" if !values.is_empty() => {
                        self.err(
                            start(op),
                            &p.key("values"),
                            format!("operator {op_s} takes no values"),
                        );
                        ok = false;
                        continue;
                    }
                    "In" => Expr::In(key, set),
                    "NotIn" => Expr::NotIn(key, set),
                    "Exists" => Expr::Has(key),
                    "DoesNotExist" => Expr::Not(Box::new(Expr::Has(key))),
                    _ => {
                        self.err(
                            start(op),
                            &p.key("operator"),
                            format!("operator `{op_s}` is not In, NotIn, Exists or DoesNotExist"),
                        );
                        ok = false;
                        continue;
                    }
                };
                e = e.and(expr);
            }
        }
        m.finish(&["matchLabels", "matchExpressions"], self.d());
        ok.then_some(e)
    }

    /// A namespace selector as an endpoint selector: labels prefixed `pcns.`, `all()` meaning
    /// "any namespace" (`has(projectcalico.org/namespace)`), `global()` meaning "no namespace".
    fn ns_expr(e: &Expr) -> Expr {
        let has_ns = Expr::Has(LABEL_NAMESPACE.into());
        e.prefixed(NS_PREFIX)
            .replace_all_global(&has_ns, &Expr::Not(Box::new(has_ns.clone())))
    }

    fn pod_expr(e: Expr) -> Expr {
        Expr::Eq(LABEL_ORCHESTRATOR.into(), "k8s".into()).and(e)
    }

    fn own_ns(ns: &str) -> Expr {
        Expr::Eq(LABEL_NAMESPACE.into(), ns.into())
    }

    fn check_kind_keys(&mut self, node: &Node, path: &Path, allowed: &[&str]) {
        if let Some(mut m) = MapReader::new(node, path, self.d()) {
            for k in allowed {
                m.take(k);
            }
            m.finish(allowed, self.d());
        }
    }

    fn push_policy(&mut self, p: Policy, span: Span) {
        let f = self.file;
        self.policies.push((p, f, span));
    }

    /// `networking.k8s.io/v1 NetworkPolicy`, as Calico converts it (`K8sNetworkPolicyToCalico`).
    fn knp(&mut self, node: &Node, path: &Path) {
        self.check_kind_keys(
            node,
            path,
            &["apiVersion", "kind", "metadata", "spec", "status"],
        );
        let Some(m) = self.meta(node, path, true) else {
            return;
        };
        if !self.first_definition("NetworkPolicy", &m.namespace, &m.name, obj_span(node), path) {
            return;
        }
        let sp = path.key("spec");
        let empty = Node {
            value: Value::Null,
            span: node.span,
        };
        let spec = node.get("spec").unwrap_or(&empty);
        let Some(mut s) = MapReader::new(spec, &sp, self.d()) else {
            return;
        };
        let pod_sel = match s.take("podSelector") {
            Some(ps) => self.label_selector(ps, &sp.key("podSelector")),
            None => Some(Expr::All),
        };
        let mut types: Option<(bool, bool)> = None;
        if let Some(pt) = s.take("policyTypes") {
            let p = sp.key("policyTypes");
            let (mut i, mut e) = (false, false);
            for (n, t) in yaml::read_list(pt, &p, self.d()).into_iter().enumerate() {
                match t.as_scalar() {
                    Some("Ingress") => i = true,
                    Some("Egress") => e = true,
                    _ => self.err(start(t), &p.index(n), "a policy type is Ingress or Egress"),
                }
            }
            if i || e {
                types = Some((i, e));
            }
        }
        let ns = m.namespace.clone();
        let ingress = s
            .take("ingress")
            .map(|r| self.knp_rules(r, &sp.key("ingress"), &ns, Direction::Ingress));
        let egress = s
            .take("egress")
            .map(|r| self.knp_rules(r, &sp.key("egress"), &ns, Direction::Egress));
        s.finish(
            &["podSelector", "policyTypes", "ingress", "egress"],
            self.d(),
        );
        let Some(pod_sel) = pod_sel else { return };
        let (Some(ingress), Some(egress)) = (
            ingress.unwrap_or(Some(Vec::new())),
            egress.unwrap_or(Some(Vec::new())),
        ) else {
            return;
        };
        // The API server's default: Ingress always, Egress when there are egress rules.
        let (ti, te) = types.unwrap_or((true, !egress.is_empty()));
        let origin = self.origin(obj_span(node));
        let policy = Policy {
            kind: PolicyKind::NetworkPolicy,
            display: format!("knp.default.{}", m.name),
            name: m.name,
            namespace: Some(ns.clone()),
            tier: DEFAULT_TIER.into(),
            order: Some(KNP_ORDER),
            selector: Self::own_ns(&ns).and(Self::pod_expr(pod_sel)),
            ingress: ti.then_some(ingress),
            egress: te.then_some(egress),
            origin,
        };
        self.push_policy(policy, obj_span(node));
    }

    fn knp_rules(
        &mut self,
        node: &Node,
        path: &Path,
        ns: &str,
        dir: Direction,
    ) -> Option<Vec<Rule>> {
        let mut out = Vec::new();
        let mut ok = true;
        let peer_key = if dir == Direction::Ingress {
            "from"
        } else {
            "to"
        };
        for (i, rn) in yaml::read_list(node, path, self.d())
            .into_iter()
            .enumerate()
        {
            let rp = path.index(i);
            let Some(mut r) = MapReader::new(rn, &rp, self.d()) else {
                ok = false;
                continue;
            };
            // Peers: each becomes (selector, nets) as Calico's k8sPeerToCalicoFields.
            let mut peers: Vec<(Entity, Span, Path)> = Vec::new();
            if let Some(pn) = r.take(peer_key) {
                let pp = rp.key(peer_key);
                for (j, peer) in yaml::read_list(pn, &pp, self.d()).into_iter().enumerate() {
                    match self.knp_peer(peer, &pp.index(j), ns) {
                        Some(e) => peers.push((e, start(peer), pp.index(j))),
                        None => ok = false,
                    }
                }
            }
            // Ports grouped by protocol, as Calico's k8sRuleToCalico.
            let mut by_proto: BTreeMap<String, (u8, Option<Vec<PortSpec>>)> = BTreeMap::new();
            let mut all_ports = true;
            if let Some(pn) = r.take("ports") {
                let pp = rp.key("ports");
                let items = yaml::read_list(pn, &pp, self.d());
                all_ports = items.is_empty();
                for (j, port) in items.into_iter().enumerate() {
                    match self.knp_port(port, &pp.index(j)) {
                        Some((p, spec)) => {
                            let e = by_proto
                                .entry(proto::name(p))
                                .or_insert((p, Some(Vec::new())));
                            match (spec, &mut e.1) {
                                (None, slot) => *slot = None,
                                (Some(s), Some(list)) => list.push(s),
                                (Some(_), None) => {}
                            }
                        }
                        None => ok = false,
                    }
                }
            }
            r.finish(&[peer_key, "ports"], self.d());
            if peers.is_empty() {
                peers.push((Entity::default(), start(rn), rp.clone()));
            }
            let mut groups: Vec<(Option<u8>, Vec<PortSpec>)> = Vec::new();
            if all_ports {
                groups.push((None, Vec::new()));
            } else {
                for (_, (p, ports)) in by_proto {
                    groups.push((Some(p), ports.unwrap_or_default()));
                }
            }
            for (protocol, ports) in &groups {
                for (peer, span, ppath) in &peers {
                    let mut rule = Rule {
                        action: Action::Allow,
                        protocol: *protocol,
                        not_protocol: None,
                        icmp: None,
                        not_icmp: None,
                        ip_version: None,
                        src: Entity::default(),
                        dst: Entity::default(),
                        origin: self.origin(*span),
                        path: ppath.to_string(),
                        name: None,
                    };
                    let mut peer = peer.clone();
                    if dir == Direction::Ingress {
                        rule.src = peer;
                        rule.dst.ports = ports.clone();
                    } else {
                        peer.ports = ports.clone();
                        rule.dst = peer;
                    }
                    out.push(rule);
                }
            }
        }
        ok.then_some(out)
    }

    fn knp_peer(&mut self, node: &Node, path: &Path, ns: &str) -> Option<Entity> {
        let mut m = MapReader::new(node, path, self.d())?;
        let pod = m.take("podSelector");
        let nsn = m.take("namespaceSelector");
        let ipb = m.take("ipBlock");
        m.finish(&["podSelector", "namespaceSelector", "ipBlock"], self.d());
        if let Some(ipb) = ipb {
            if pod.is_some() || nsn.is_some() {
                self.err(
                    start(node),
                    path,
                    "`ipBlock` cannot be combined with `podSelector` or `namespaceSelector`",
                );
                return None;
            }
            let bp = path.key("ipBlock");
            let mut b = MapReader::new(ipb, &bp, self.d())?;
            let cidr = b.take("cidr");
            let except = b.take("except");
            b.finish(&["cidr", "except"], self.d());
            let Some(cidr) = cidr else {
                self.err(start(ipb), &bp, "`cidr` is missing");
                return None;
            };
            let net = self.cidr(cidr, &bp.key("cidr"))?;
            let mut not_nets = Vec::new();
            let mut ok = true;
            if let Some(ex) = except {
                let ep = bp.key("except");
                for (i, e) in yaml::read_list(ex, &ep, self.d()).into_iter().enumerate() {
                    match self.cidr(e, &ep.index(i)) {
                        Some(x) if net.covers(&x) && x != net => not_nets.push(x),
                        Some(x) => {
                            self.err(
                                start(e),
                                &ep.index(i),
                                format!("{x} is not a strict subset of the cidr {net}"),
                            );
                            ok = false;
                        }
                        None => ok = false,
                    }
                }
            }
            return ok.then_some(Entity {
                nets: vec![net],
                not_nets,
                ip_block: true,
                ..Entity::default()
            });
        }
        if pod.is_none() && nsn.is_none() {
            self.err(
                start(node),
                path,
                "a peer needs `podSelector`, `namespaceSelector` or `ipBlock`",
            );
            return None;
        }
        let pod_e = match pod {
            Some(p) => self.label_selector(p, &path.key("podSelector"))?,
            None => Expr::All,
        };
        let ns_e = match nsn {
            Some(n) => Self::ns_expr(&self.label_selector(n, &path.key("namespaceSelector"))?),
            None => Self::own_ns(ns),
        };
        Some(Entity {
            selector: Some(ns_e.and(Self::pod_expr(pod_e))),
            ..Entity::default()
        })
    }

    /// A CIDR as Kubernetes and Calico read it: host bits are cleared.
    fn cidr(&mut self, node: &Node, path: &Path) -> Option<Prefix> {
        let text = yaml::read_str(node, path, self.d())?;
        match IfAddr::parse(text.trim(), None) {
            Ok(a) => Some(a.subnet()),
            Err(e) => {
                self.err(start(node), path, e.to_string());
                None
            }
        }
    }

    /// A CIDR or a bare address (a host), as Calico's `nets` accept.
    fn net(&mut self, node: &Node, path: &Path) -> Option<Prefix> {
        let text = yaml::read_str(node, path, self.d())?;
        let r = if text.contains('/') {
            IfAddr::parse(text.trim(), None).map(|a| a.subnet())
        } else {
            nettwin_model::addr::parse_addr(&text).map(Prefix::host)
        };
        match r {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(start(node), path, e.to_string());
                None
            }
        }
    }

    /// A `NetworkPolicyPort`: protocol (TCP when absent) and the port, range or name.
    fn knp_port(&mut self, node: &Node, path: &Path) -> Option<(u8, Option<PortSpec>)> {
        let mut m = MapReader::new(node, path, self.d())?;
        let pr = m.take("protocol");
        let port = m.take("port");
        let end = m.take("endPort");
        m.finish(&["protocol", "port", "endPort"], self.d());
        let protocol = match pr {
            Some(p) => self.k8s_protocol(p, &path.key("protocol"))?,
            None => proto::TCP,
        };
        let Some(port) = port else {
            if let Some(e) = end {
                self.err(start(e), &path.key("endPort"), "`endPort` needs `port`");
                return None;
            }
            return Some((protocol, None));
        };
        let spec = self.int_or_name(port, &path.key("port"))?;
        if let Some(e) = end {
            let ep = path.key("endPort");
            let end = yaml::read_u64(e, &ep, 1..=65535, self.d())? as u16;
            return match spec {
                PortSpec::Range(a, _) if end >= a => {
                    Some((protocol, Some(PortSpec::Range(a, end))))
                }
                PortSpec::Range(a, _) => {
                    self.err(
                        start(e),
                        &ep,
                        format!("`endPort` {end} is below `port` {a}"),
                    );
                    None
                }
                PortSpec::Named(_) => {
                    self.err(
                        start(e),
                        &ep,
                        "`endPort` needs a numeric `port`, not a named one",
                    );
                    None
                }
            };
        }
        Some((protocol, Some(spec)))
    }

    /// An IntOrString port: an unquoted number is a port, anything else a port name.
    fn int_or_name(&mut self, node: &Node, path: &Path) -> Option<PortSpec> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } if text.chars().all(|c| c.is_ascii_digit()) => {
                let n = yaml::read_u64(node, path, 1..=65535, self.d())? as u16;
                Some(PortSpec::Range(n, n))
            }
            Value::Scalar { text, .. } => match check_port_name(text) {
                Ok(()) => Some(PortSpec::Named(text.clone())),
                Err(msg) => {
                    self.err(start(node), path, msg);
                    None
                }
            },
            _ => {
                self.err(
                    start(node),
                    path,
                    format!("expected a port number or name, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// `AdminNetworkPolicy` / `BaselineAdminNetworkPolicy` v1alpha1, as Calico v3.31 converts
    /// them (`K8sAdminNetworkPolicyToCalico`), except named ports, which follow the API.
    fn anp(&mut self, node: &Node, path: &Path, baseline: bool) {
        self.check_kind_keys(
            node,
            path,
            &["apiVersion", "kind", "metadata", "spec", "status"],
        );
        let Some(m) = self.meta(node, path, false) else {
            return;
        };
        let kind = if baseline {
            "BaselineAdminNetworkPolicy"
        } else {
            "AdminNetworkPolicy"
        };
        if !self.first_definition(kind, "", &m.name, obj_span(node), path) {
            return;
        }
        if baseline && m.name != "default" {
            self.err(
                obj_span(node),
                &path.key("metadata").key("name"),
                "a BaselineAdminNetworkPolicy must be named `default` (there is one per cluster)",
            );
            return;
        }
        let sp = path.key("spec");
        let Some(spec) = node.get("spec") else {
            self.err(start(node), path, "`spec` is missing");
            return;
        };
        let Some(mut s) = MapReader::new(spec, &sp, self.d()) else {
            return;
        };
        let mut ok = true;
        let priority = if baseline {
            None
        } else {
            match s.take("priority") {
                Some(p) => {
                    let v = yaml::read_u64(p, &sp.key("priority"), 0..=1000, self.d());
                    ok &= v.is_some();
                    v
                }
                None => {
                    self.err(start(spec), &sp, "`priority` is missing (0 to 1000)");
                    ok = false;
                    None
                }
            }
        };
        let subject = match s.take("subject") {
            Some(sub) => self.anp_subject(sub, &sp.key("subject")),
            None => {
                self.err(start(spec), &sp, "`subject` is missing");
                None
            }
        };
        let ingress = s
            .take("ingress")
            .map(|r| self.anp_rules(r, &sp.key("ingress"), Direction::Ingress, baseline));
        let egress = s
            .take("egress")
            .map(|r| self.anp_rules(r, &sp.key("egress"), Direction::Egress, baseline));
        s.finish(&["priority", "subject", "ingress", "egress"], self.d());
        let (Some(selector), true) = (subject, ok) else {
            return;
        };
        let (Some(ingress), Some(egress)) = (
            ingress.unwrap_or(Some(Vec::new())),
            egress.unwrap_or(Some(Vec::new())),
        ) else {
            return;
        };
        let origin = self.origin(obj_span(node));
        let (tier, prefix, order, kind) = if baseline {
            (
                BANP_TIER,
                "kbanp.baselineadminnetworkpolicy.",
                KNP_ORDER,
                PolicyKind::BaselineAdminNetworkPolicy,
            )
        } else {
            (
                ANP_TIER,
                "kanp.adminnetworkpolicy.",
                priority.unwrap_or(0) as f64,
                PolicyKind::AdminNetworkPolicy,
            )
        };
        // The admin tiers end in Pass, so a direction counts only when it has rules.
        let policy = Policy {
            kind,
            display: format!("{prefix}{}", m.name),
            name: m.name,
            namespace: None,
            tier: tier.into(),
            order: Some(order),
            selector,
            ingress: (!ingress.is_empty()).then_some(ingress),
            egress: (!egress.is_empty()).then_some(egress),
            origin,
        };
        self.push_policy(policy, obj_span(node));
    }

    /// `namespaces` or `pods` (exactly one), for a subject or a peer.
    fn anp_pods_or_namespaces(
        &mut self,
        node: &Node,
        path: &Path,
        m: &mut MapReader<'_>,
    ) -> Option<Option<(Expr, Expr)>> {
        let nsn = m.take("namespaces");
        let pods = m.take("pods");
        match (nsn, pods) {
            (Some(_), Some(_)) => {
                self.err(start(node), path, "set only one of `namespaces` and `pods`");
                None
            }
            (Some(n), None) => {
                let e = self.label_selector(n, &path.key("namespaces"))?;
                Some(Some((e, Expr::All)))
            }
            (None, Some(p)) => {
                let pp = path.key("pods");
                let mut r = MapReader::new(p, &pp, self.d())?;
                let nsn = r.take("namespaceSelector");
                let pod = r.take("podSelector");
                r.finish(&["namespaceSelector", "podSelector"], self.d());
                let (Some(nsn), Some(pod)) = (nsn, pod) else {
                    self.err(
                        start(p),
                        &pp,
                        "`pods` needs both `namespaceSelector` and `podSelector`",
                    );
                    return None;
                };
                let ne = self.label_selector(nsn, &pp.key("namespaceSelector"));
                let pe = self.label_selector(pod, &pp.key("podSelector"));
                Some(Some((ne?, pe?)))
            }
            (None, None) => Some(None),
        }
    }

    fn anp_subject(&mut self, node: &Node, path: &Path) -> Option<Expr> {
        let mut m = MapReader::new(node, path, self.d())?;
        let r = self.anp_pods_or_namespaces(node, path, &mut m);
        m.finish(&["namespaces", "pods"], self.d());
        match r? {
            Some((ns, pod)) => Some(Self::pod_expr(pod).and(Self::ns_expr(&ns))),
            None => {
                self.err(
                    start(node),
                    path,
                    "the subject needs `namespaces` or `pods`",
                );
                None
            }
        }
    }

    fn anp_rules(
        &mut self,
        node: &Node,
        path: &Path,
        dir: Direction,
        baseline: bool,
    ) -> Option<Vec<Rule>> {
        let mut out = Vec::new();
        let mut ok = true;
        let peer_key = if dir == Direction::Ingress {
            "from"
        } else {
            "to"
        };
        let items = yaml::read_list(node, path, self.d());
        if items.len() > 100 {
            self.err(start(node), path, "at most 100 rules");
            ok = false;
        }
        for (i, rn) in items.into_iter().enumerate() {
            let rp = path.index(i);
            let Some(mut r) = MapReader::new(rn, &rp, self.d()) else {
                ok = false;
                continue;
            };
            let name = r
                .take("name")
                .and_then(|n| n.as_scalar().map(str::to_string));
            let action = match r.take("action").map(|a| (a, a.as_scalar().unwrap_or(""))) {
                Some((_, "Allow")) => Some(Action::Allow),
                Some((_, "Deny")) => Some(Action::Deny),
                Some((_, "Pass")) if !baseline => Some(Action::Pass),
                Some((a, other)) => {
                    let allowed = if baseline {
                        "Allow or Deny"
                    } else {
                        "Allow, Deny or Pass"
                    };
                    self.err(
                        start(a),
                        &rp.key("action"),
                        format!("action `{other}` is not {allowed}"),
                    );
                    None
                }
                None => {
                    self.err(start(rn), &rp, "`action` is missing");
                    None
                }
            };
            let mut peers: Vec<(Entity, Span, Path)> = Vec::new();
            let mut unplaceable = false;
            match r.take(peer_key) {
                Some(pn) => {
                    let pp = rp.key(peer_key);
                    let list = yaml::read_list(pn, &pp, self.d());
                    if list.is_empty() {
                        self.err(
                            start(pn),
                            &pp,
                            format!("`{peer_key}` needs at least one peer"),
                        );
                        ok = false;
                    }
                    for (j, peer) in list.into_iter().enumerate() {
                        match self.anp_peer(peer, &pp.index(j), dir) {
                            Some(Some(e)) => peers.push((e, start(peer), pp.index(j))),
                            Some(None) => unplaceable = true,
                            None => ok = false,
                        }
                    }
                }
                None => {
                    self.err(start(rn), &rp, format!("`{peer_key}` is missing"));
                    ok = false;
                }
            }
            let mut groups: BTreeMap<String, (Option<u8>, Vec<PortSpec>)> = BTreeMap::new();
            let mut all = true;
            if let Some(pn) = r.take("ports") {
                let pp = rp.key("ports");
                for (j, port) in yaml::read_list(pn, &pp, self.d()).into_iter().enumerate() {
                    all = false;
                    match self.anp_port(port, &pp.index(j)) {
                        Some((p, spec)) => {
                            let key = p.map_or("named".to_string(), proto::name);
                            groups.entry(key).or_insert((p, Vec::new())).1.push(spec);
                        }
                        None => ok = false,
                    }
                }
            }
            r.finish(&["name", "action", peer_key, "ports"], self.d());
            let Some(action) = action else {
                ok = false;
                continue;
            };
            if all {
                groups.insert(String::new(), (None, Vec::new()));
            }
            if unplaceable {
                // Calico cannot convert a rule with a peer it does not support (nodes, domain
                // names): a Deny or Pass rule fails closed as "deny everything", an Allow rule
                // is dropped.
                if action != Action::Allow {
                    out.push(Rule {
                        action: Action::Deny,
                        protocol: None,
                        not_protocol: None,
                        icmp: None,
                        not_icmp: None,
                        ip_version: None,
                        src: Entity::default(),
                        dst: Entity::default(),
                        origin: self.origin(start(rn)),
                        path: format!("{rp} (fails closed: peer not supported)"),
                        name: name.clone(),
                    });
                }
                continue;
            }
            for (protocol, ports) in groups.values() {
                for (peer, span, ppath) in &peers {
                    let mut rule = Rule {
                        action,
                        protocol: *protocol,
                        not_protocol: None,
                        icmp: None,
                        not_icmp: None,
                        ip_version: None,
                        src: Entity::default(),
                        dst: Entity::default(),
                        origin: self.origin(*span),
                        path: ppath.to_string(),
                        name: name.clone(),
                    };
                    if dir == Direction::Ingress {
                        rule.src = peer.clone();
                        rule.dst.ports = ports.clone();
                    } else {
                        rule.dst = peer.clone();
                        rule.dst.ports = ports.clone();
                    }
                    out.push(rule);
                }
            }
        }
        ok.then_some(out)
    }

    /// `Some(None)` for a peer Calico cannot express (nodes, domain names).
    fn anp_peer(&mut self, node: &Node, path: &Path, dir: Direction) -> Option<Option<Entity>> {
        let mut m = MapReader::new(node, path, self.d())?;
        let sel = self.anp_pods_or_namespaces(node, path, &mut m);
        let (mut networks, mut nodes, mut domains) = (None, None, None);
        if dir == Direction::Egress {
            networks = m.take("networks");
            nodes = m.take("nodes");
            domains = m.take("domainNames");
        }
        let allowed: &[&str] = if dir == Direction::Egress {
            &["namespaces", "pods", "networks", "nodes", "domainNames"]
        } else {
            &["namespaces", "pods"]
        };
        m.finish(allowed, self.d());
        let sel = sel?;
        let set = usize::from(sel.is_some())
            + usize::from(networks.is_some())
            + usize::from(nodes.is_some())
            + usize::from(domains.is_some());
        if set != 1 {
            self.err(
                start(node),
                path,
                format!("a peer sets exactly one of: {}", allowed.join(", ")),
            );
            return None;
        }
        if let Some((ns, pod)) = sel {
            let selector = if pod == Expr::All && node.get("namespaces").is_some() {
                Self::ns_expr(&ns)
            } else {
                Self::ns_expr(&ns).and(Self::pod_expr(pod))
            };
            return Some(Some(Entity {
                selector: Some(selector),
                ..Entity::default()
            }));
        }
        if let Some(n) = networks {
            let np = path.key("networks");
            let mut nets = Vec::new();
            let list = yaml::read_list(n, &np, self.d());
            if list.is_empty() || list.len() > 25 {
                self.err(start(n), &np, "`networks` holds 1 to 25 CIDRs");
                return None;
            }
            for (i, x) in list.into_iter().enumerate() {
                nets.push(self.cidr(x, &np.index(i))?);
            }
            return Some(Some(Entity {
                nets,
                ..Entity::default()
            }));
        }
        if let Some(n) = nodes {
            self.label_selector(n, &path.key("nodes"))?;
        }
        Some(None)
    }

    /// `portNumber`, `portRange` or `namedPort`: (protocol, port); a named port has no protocol
    /// of its own (the destination pod's port decides).
    fn anp_port(&mut self, node: &Node, path: &Path) -> Option<(Option<u8>, PortSpec)> {
        let mut m = MapReader::new(node, path, self.d())?;
        let num = m.take("portNumber");
        let range = m.take("portRange");
        let named = m.take("namedPort");
        m.finish(&["portNumber", "portRange", "namedPort"], self.d());
        let set = usize::from(num.is_some())
            + usize::from(range.is_some())
            + usize::from(named.is_some());
        if set != 1 {
            self.err(
                start(node),
                path,
                "a port sets exactly one of `portNumber`, `portRange`, `namedPort`",
            );
            return None;
        }
        if let Some(n) = named {
            let s = yaml::read_str(n, &path.key("namedPort"), self.d())?;
            return Some((None, PortSpec::Named(s)));
        }
        let (node2, p2, is_range) = match (num, range) {
            (Some(n), _) => (n, path.key("portNumber"), false),
            (_, Some(r)) => (r, path.key("portRange"), true),
            _ => return None,
        };
        let mut r = MapReader::new(node2, &p2, self.d())?;
        let pr = r.take("protocol");
        let protocol = match pr {
            Some(p) => self.k8s_protocol(p, &p2.key("protocol"))?,
            None => proto::TCP,
        };
        let spec = if is_range {
            let (s, e) = (r.take("start"), r.take("end"));
            r.finish(&["protocol", "start", "end"], self.d());
            let (Some(s), Some(e)) = (s, e) else {
                self.err(start(node2), &p2, "`portRange` needs `start` and `end`");
                return None;
            };
            let a = yaml::read_u64(s, &p2.key("start"), 1..=65535, self.d())? as u16;
            let b = yaml::read_u64(e, &p2.key("end"), 1..=65535, self.d())? as u16;
            if b < a {
                self.err(
                    start(e),
                    &p2.key("end"),
                    format!("`end` {b} is below `start` {a}"),
                );
                return None;
            }
            PortSpec::Range(a, b)
        } else {
            let port = r.take("port");
            r.finish(&["protocol", "port"], self.d());
            let Some(port) = port else {
                self.err(start(node2), &p2, "`port` is missing");
                return None;
            };
            let n = yaml::read_u64(port, &p2.key("port"), 1..=65535, self.d())? as u16;
            PortSpec::Range(n, n)
        };
        Some((Some(protocol), spec))
    }

    fn tier(&mut self, node: &Node, path: &Path) {
        self.check_kind_keys(
            node,
            path,
            &["apiVersion", "kind", "metadata", "spec", "status"],
        );
        let Some(m) = self.meta(node, path, false) else {
            return;
        };
        if !self.first_definition("Tier", "", &m.name, obj_span(node), path) {
            return;
        }
        let sp = path.key("spec");
        let mut order = None;
        let mut default_action = TierAction::Deny;
        if let Some(spec) = node.get("spec") {
            let Some(mut s) = MapReader::new(spec, &sp, self.d()) else {
                return;
            };
            if let Some(o) = s.take("order") {
                order = yaml::read_f64(o, &sp.key("order"), f64::MIN..=f64::MAX, self.d());
                if order.is_none() {
                    return;
                }
            }
            if let Some(a) = s.take("defaultAction") {
                default_action = match a.as_scalar() {
                    Some("Deny") => TierAction::Deny,
                    Some("Pass") => TierAction::Pass,
                    _ => {
                        self.err(
                            start(a),
                            &sp.key("defaultAction"),
                            "a tier's defaultAction is Deny or Pass",
                        );
                        return;
                    }
                };
            }
            s.finish(&["order", "defaultAction"], self.d());
        }
        let origin = self.origin(obj_span(node));
        self.tiers.push(Tier {
            name: m.name,
            order,
            default_action,
            origin: Some(origin),
        });
    }

    fn network_set(&mut self, node: &Node, path: &Path, global: bool) {
        self.check_kind_keys(node, path, &["apiVersion", "kind", "metadata", "spec"]);
        let Some(m) = self.meta(node, path, !global) else {
            return;
        };
        let kind = if global {
            "GlobalNetworkSet"
        } else {
            "NetworkSet"
        };
        if !self.first_definition(kind, &m.namespace, &m.name, obj_span(node), path) {
            return;
        }
        let sp = path.key("spec");
        let mut nets = Vec::new();
        if let Some(spec) = node.get("spec") {
            let Some(mut s) = MapReader::new(spec, &sp, self.d()) else {
                return;
            };
            if let Some(n) = s.take("nets") {
                let np = sp.key("nets");
                for (i, x) in yaml::read_list(n, &np, self.d()).into_iter().enumerate() {
                    if let Some(p) = self.net(x, &np.index(i)) {
                        nets.push(p);
                    }
                }
            }
            s.take("allowedEgressDomains");
            s.finish(&["nets", "allowedEgressDomains"], self.d());
        }
        let origin = self.origin(obj_span(node));
        self.network_sets.push(NetworkSet {
            namespace: (!global).then_some(m.namespace),
            name: m.name,
            labels: m.labels,
            nets,
            origin,
            endpoint_labels: BTreeMap::new(),
        });
    }

    /// A Calico selector string; errors show the selector with a caret.
    fn calico_selector(&mut self, node: &Node, path: &Path) -> Option<Expr> {
        let text = match &node.value {
            Value::Null => return Some(Expr::All),
            Value::Scalar { text, .. } => text.clone(),
            _ => {
                self.err(
                    start(node),
                    path,
                    format!("a selector is a string, found {}", node.kind_name()),
                );
                return None;
            }
        };
        match selector::parse(&text) {
            Ok(e) => Some(e),
            Err(e) => {
                let quoted = matches!(node.value, Value::Scalar { quoted: true, .. });
                let single_line = !text.contains('\n');
                let col_off = text[..e.pos.min(text.len())].chars().count() as u32;
                let span = if single_line {
                    Span {
                        col: node.span.col + col_off + u32::from(quoted),
                        ..node.span
                    }
                } else {
                    node.span
                };
                let caret = e.caret(&text);
                self.err(
                    span,
                    path,
                    format!(
                        "bad selector: {}\n    {}",
                        e.message,
                        caret.replace('\n', "\n    ")
                    ),
                );
                None
            }
        }
    }

    /// Calico `NetworkPolicy` (namespaced) and `GlobalNetworkPolicy`, converted as
    /// libcalico-go's update processors do.
    fn calico_policy(&mut self, node: &Node, path: &Path, global: bool) {
        self.check_kind_keys(
            node,
            path,
            &["apiVersion", "kind", "metadata", "spec", "status"],
        );
        let Some(m) = self.meta(node, path, !global) else {
            return;
        };
        let kind = if global {
            "GlobalNetworkPolicy"
        } else {
            "CalicoNetworkPolicy"
        };
        if !self.first_definition(kind, &m.namespace, &m.name, obj_span(node), path) {
            return;
        }
        let sp = path.key("spec");
        let empty = Node {
            value: Value::Null,
            span: node.span,
        };
        let spec = node.get("spec").unwrap_or(&empty);
        let Some(mut s) = MapReader::new(spec, &sp, self.d()) else {
            return;
        };
        let mut ok = true;
        let tier = match s.take("tier") {
            Some(t) => yaml::read_str(t, &sp.key("tier"), self.d()).unwrap_or_default(),
            None => DEFAULT_TIER.to_string(),
        };
        let order = match s.take("order") {
            Some(o) if !o.is_null() => {
                let v = yaml::read_f64(o, &sp.key("order"), f64::MIN..=f64::MAX, self.d());
                ok &= v.is_some();
                v
            }
            _ => None,
        };
        let mut sel = match s.take("selector") {
            Some(x) => self.calico_selector(x, &sp.key("selector")),
            None => Some(Expr::All),
        };
        let ns_sel = if global {
            s.take("namespaceSelector")
                .map(|x| (x, self.calico_selector(x, &sp.key("namespaceSelector"))))
        } else {
            None
        };
        let sa_sel = s
            .take("serviceAccountSelector")
            .map(|x| self.calico_selector(x, &sp.key("serviceAccountSelector")));
        for (key, e) in [("selector", &sel)] {
            if e.as_ref().is_some_and(Expr::has_global) {
                self.err(
                    start(spec),
                    &sp.key(key),
                    "global() can only be used in a rule's namespaceSelector",
                );
                ok = false;
            }
        }
        let mut types: Option<(bool, bool)> = None;
        if let Some(t) = s.take("types") {
            let tp = sp.key("types");
            let (mut i, mut e) = (false, false);
            for (n, x) in yaml::read_list(t, &tp, self.d()).into_iter().enumerate() {
                match x.as_scalar() {
                    Some("Ingress") => i = true,
                    Some("Egress") => e = true,
                    _ => {
                        self.err(start(x), &tp.index(n), "a policy type is Ingress or Egress");
                        ok = false;
                    }
                }
            }
            if i || e {
                types = Some((i, e));
            }
        }
        let ns = (!global).then(|| m.namespace.clone());
        let ingress = s
            .take("ingress")
            .map(|r| self.calico_rules(r, &sp.key("ingress"), ns.as_deref()));
        let egress = s
            .take("egress")
            .map(|r| self.calico_rules(r, &sp.key("egress"), ns.as_deref()));
        let mut host_only = false;
        for k in ["doNotTrack", "preDNAT"] {
            if let Some(v) = s.take(k) {
                if global {
                    host_only |= yaml::read_bool(v, &sp.key(k), self.d()).unwrap_or(false);
                } else {
                    self.err(
                        start(v),
                        &sp.key(k),
                        format!("`{k}` is only for GlobalNetworkPolicy"),
                    );
                }
            }
        }
        for k in ["applyOnForward", "performanceHints", "stagedAction"] {
            s.take(k);
        }
        let mut allowed = vec![
            "tier",
            "order",
            "selector",
            "serviceAccountSelector",
            "types",
            "ingress",
            "egress",
            "performanceHints",
            "doNotTrack",
            "preDNAT",
            "applyOnForward",
        ];
        if global {
            allowed.push("namespaceSelector");
        }
        s.finish(&allowed, self.d());
        // Policy selector, as the update processors build it.
        if let Some(ns) = &ns {
            sel = sel.map(|e| e.and(Self::own_ns(ns)));
        }
        if let Some((_, nse)) = &ns_sel {
            match nse {
                Some(n) => {
                    let has_ns = Expr::Has(LABEL_NAMESPACE.into());
                    sel = sel.map(|e| {
                        e.and(n.prefixed(NS_PREFIX))
                            .replace_all_global(&has_ns, &Expr::Global)
                    });
                }
                None => ok = false,
            }
        }
        if let Some(sa) = sa_sel {
            match sa {
                Some(sa) => {
                    let has_sa = Expr::Has(LABEL_SERVICE_ACCOUNT.into());
                    sel = sel.map(|e| {
                        e.and(sa.prefixed(SA_PREFIX))
                            .replace_all_global(&has_sa, &Expr::Global)
                    });
                }
                None => ok = false,
            }
        }
        let (Some(sel), true) = (sel, ok) else {
            return;
        };
        let (Some(ingress), Some(egress)) = (
            ingress.unwrap_or(Some(Vec::new())),
            egress.unwrap_or(Some(Vec::new())),
        ) else {
            return;
        };
        if host_only {
            // Untracked and pre-DNAT policy applies to host endpoints only.
            *self
                .skipped
                .entry("GlobalNetworkPolicy (doNotTrack/preDNAT: host endpoints only)".into())
                .or_insert(0) += 1;
            return;
        }
        // Calico's default types: Ingress unless there are only egress rules; Egress when
        // there are egress rules.
        let (ti, te) =
            types.unwrap_or((!ingress.is_empty() || egress.is_empty(), !egress.is_empty()));
        let origin = self.origin(obj_span(node));
        let policy = Policy {
            kind: if global {
                PolicyKind::CalicoGlobalNetworkPolicy
            } else {
                PolicyKind::CalicoNetworkPolicy
            },
            display: m.name.clone(),
            name: m.name,
            namespace: ns,
            tier,
            order,
            selector: sel,
            ingress: ti.then_some(ingress),
            egress: te.then_some(egress),
            origin,
        };
        self.push_policy(policy, obj_span(node));
    }

    fn calico_protocol(&mut self, node: &Node, path: &Path) -> Option<u8> {
        let text = match &node.value {
            Value::Scalar { text, .. } => text.clone(),
            _ => {
                self.err(start(node), path, "a protocol is a name or a number");
                return None;
            }
        };
        let p = match text.to_ascii_lowercase().as_str() {
            "tcp" => proto::TCP,
            "udp" => proto::UDP,
            "icmp" => proto::ICMP,
            "icmpv6" => proto::ICMPV6,
            "sctp" => proto::SCTP,
            "udplite" => proto::UDPLITE,
            t => match t.parse::<u8>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.err(
                        start(node),
                        path,
                        format!("protocol `{text}` is not TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1..255"),
                    );
                    return None;
                }
            },
        };
        Some(p)
    }

    fn calico_ports(&mut self, node: &Node, path: &Path) -> Option<Vec<PortSpec>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, x) in yaml::read_list(node, path, self.d())
            .into_iter()
            .enumerate()
        {
            let p = path.index(i);
            let Some(text) = x.as_scalar() else {
                self.err(start(x), &p, "a port is a number, a range `A:B` or a name");
                ok = false;
                continue;
            };
            let parse = |s: &str| s.trim().parse::<u16>().ok();
            if let Some((a, b)) = text.split_once(':') {
                match (parse(a), parse(b)) {
                    (Some(a), Some(b)) if a <= b => out.push(PortSpec::Range(a, b)),
                    _ => {
                        self.err(
                            start(x),
                            &p,
                            format!("`{text}` is not a port range MIN:MAX (0..65535)"),
                        );
                        ok = false;
                    }
                }
            } else if text.chars().all(|c| c.is_ascii_digit()) {
                match parse(text) {
                    Some(n) => out.push(PortSpec::Range(n, n)),
                    None => {
                        self.err(
                            start(x),
                            &p,
                            format!("port {text} is out of range 0..65535"),
                        );
                        ok = false;
                    }
                }
            } else {
                match check_port_name(text) {
                    Ok(()) => out.push(PortSpec::Named(text.to_string())),
                    Err(msg) => {
                        self.err(start(x), &p, msg);
                        ok = false;
                    }
                }
            }
        }
        ok.then_some(out)
    }

    fn icmp(&mut self, node: &Node, path: &Path) -> Option<Icmp> {
        let mut m = MapReader::new(node, path, self.d())?;
        let t = m.take("type");
        let c = m.take("code");
        m.finish(&["type", "code"], self.d());
        let ty = match t {
            Some(t) => Some(yaml::read_u64(t, &path.key("type"), 0..=254, self.d())? as u8),
            None => None,
        };
        let code = match c {
            Some(c) => {
                if ty.is_none() {
                    self.err(start(c), &path.key("code"), "an ICMP code needs a type");
                    return None;
                }
                Some(yaml::read_u64(c, &path.key("code"), 0..=255, self.d())? as u8)
            }
            None => None,
        };
        Some(Icmp { r#type: ty, code })
    }

    fn calico_rules(&mut self, node: &Node, path: &Path, ns: Option<&str>) -> Option<Vec<Rule>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, rn) in yaml::read_list(node, path, self.d())
            .into_iter()
            .enumerate()
        {
            match self.calico_rule(rn, &path.index(i), ns) {
                Some(r) => out.push(r),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn calico_rule(&mut self, node: &Node, path: &Path, ns: Option<&str>) -> Option<Rule> {
        let mut m = MapReader::new(node, path, self.d())?;
        let mut ok = true;
        let action = match m.take("action") {
            Some(a) => match a.as_scalar() {
                Some("Allow") => Some(Action::Allow),
                Some("Deny") => Some(Action::Deny),
                Some("Pass") => Some(Action::Pass),
                Some("Log") => Some(Action::Log),
                _ => {
                    self.err(
                        start(a),
                        &path.key("action"),
                        "action is Allow, Deny, Pass or Log",
                    );
                    None
                }
            },
            None => {
                self.err(start(node), path, "`action` is missing");
                None
            }
        };
        let protocol = match m.take("protocol") {
            Some(p) => {
                let v = self.calico_protocol(p, &path.key("protocol"));
                ok &= v.is_some();
                v
            }
            None => None,
        };
        let not_protocol = match m.take("notProtocol") {
            Some(p) => {
                let v = self.calico_protocol(p, &path.key("notProtocol"));
                ok &= v.is_some();
                v
            }
            None => None,
        };
        let mut icmps = [None, None];
        for (n, key) in ["icmp", "notICMP"].into_iter().enumerate() {
            if let Some(x) = m.take(key) {
                let v = self.icmp(x, &path.key(key));
                ok &= v.is_some();
                if v.is_some() && !matches!(protocol, Some(proto::ICMP | proto::ICMPV6)) {
                    self.err(
                        start(x),
                        &path.key(key),
                        format!("`{key}` needs protocol ICMP or ICMPv6"),
                    );
                    ok = false;
                }
                icmps[n] = v;
            }
        }
        let ip_version = match m.take("ipVersion") {
            Some(v) => match v.as_scalar() {
                Some("4") => Some(4),
                Some("6") => Some(6),
                _ => {
                    self.err(start(v), &path.key("ipVersion"), "ipVersion is 4 or 6");
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let src = match m.take("source") {
            Some(x) => self.calico_entity(x, &path.key("source"), ns, protocol),
            None => Some(Entity::default()),
        };
        let dst = match m.take("destination") {
            Some(x) => self.calico_entity(x, &path.key("destination"), ns, protocol),
            None => Some(Entity::default()),
        };
        if let Some(h) = m.take("http") {
            self.err(
                start(h),
                &path.key("http"),
                "`http` matches need Calico's application layer policy, which nettwin does not model",
            );
            ok = false;
        }
        m.take("metadata");
        m.finish(
            &[
                "action",
                "protocol",
                "notProtocol",
                "icmp",
                "notICMP",
                "ipVersion",
                "source",
                "destination",
                "http",
                "metadata",
            ],
            self.d(),
        );
        let (Some(action), Some(src), Some(dst), true) = (action, src, dst, ok) else {
            return None;
        };
        Some(Rule {
            action,
            protocol,
            not_protocol,
            icmp: icmps[0],
            not_icmp: icmps[1],
            ip_version,
            src,
            dst,
            origin: self.origin(obj_span(node)),
            path: path.to_string(),
            name: None,
        })
    }

    /// A Calico EntityRule, with its selectors combined as `getEndpointSelector` does.
    fn calico_entity(
        &mut self,
        node: &Node,
        path: &Path,
        ns: Option<&str>,
        protocol: Option<u8>,
    ) -> Option<Entity> {
        let mut m = MapReader::new(node, path, self.d())?;
        let mut ok = true;
        let mut e = Entity::default();
        let mut sel = None;
        let mut ns_sel = None;
        if let Some(x) = m.take("selector") {
            sel = self.calico_selector(x, &path.key("selector"));
            ok &= sel.is_some();
            if sel.as_ref().is_some_and(Expr::has_global) {
                self.err(
                    start(x),
                    &path.key("selector"),
                    "global() can only be used in a namespaceSelector",
                );
                ok = false;
            }
        }
        if let Some(x) = m.take("notSelector") {
            e.not_selector = self.calico_selector(x, &path.key("notSelector"));
            ok &= e.not_selector.is_some();
        }
        if let Some(x) = m.take("namespaceSelector") {
            ns_sel = self.calico_selector(x, &path.key("namespaceSelector"));
            ok &= ns_sel.is_some();
            if let Some(n) = &ns_sel {
                if n.has_global() && *n != Expr::Global {
                    self.err(
                        start(x),
                        &path.key("namespaceSelector"),
                        "global() must be the whole namespaceSelector",
                    );
                    ok = false;
                }
            }
        }
        let mut sa_sel = None;
        if let Some(x) = m.take("serviceAccounts") {
            let sp = path.key("serviceAccounts");
            let mut r = MapReader::new(x, &sp, self.d())?;
            let mut parts = Expr::All;
            let mut any = false;
            if let Some(s) = r.take("selector") {
                match self.calico_selector(s, &sp.key("selector")) {
                    Some(s) => {
                        parts = parts.and(s.prefixed(SA_PREFIX));
                        any = true;
                    }
                    None => ok = false,
                }
            }
            if let Some(n) = r.take("names") {
                let names: BTreeSet<String> =
                    yaml::read_list(n, &sp.key("names"), &mut self.files[self.file].diags)
                        .into_iter()
                        .filter_map(|x| x.as_scalar().map(str::to_string))
                        .collect();
                if !names.is_empty() {
                    parts = parts.and(Expr::In(LABEL_SERVICE_ACCOUNT.into(), names));
                    any = true;
                }
            }
            r.finish(&["selector", "names"], self.d());
            if any {
                sa_sel = Some(parts);
            }
        }
        for (key, dst) in [("nets", false), ("notNets", true)] {
            if let Some(x) = m.take(key) {
                let np = path.key(key);
                for (i, n) in yaml::read_list(x, &np, self.d()).into_iter().enumerate() {
                    match self.net(n, &np.index(i)) {
                        Some(p) if dst => e.not_nets.push(p),
                        Some(p) => e.nets.push(p),
                        None => ok = false,
                    }
                }
            }
        }
        for (key, not) in [("ports", false), ("notPorts", true)] {
            if let Some(x) = m.take(key) {
                match self.calico_ports(x, &path.key(key)) {
                    Some(p) => {
                        if !p.is_empty() && !protocol.is_some_and(proto::has_ports) {
                            self.err(
                                start(x),
                                &path.key(key),
                                "ports need the rule's protocol to be TCP, UDP, SCTP or UDPLite",
                            );
                            ok = false;
                        }
                        if not {
                            e.not_ports = p;
                        } else {
                            e.ports = p;
                        }
                    }
                    None => ok = false,
                }
            }
        }
        if let Some(x) = m.take("services") {
            self.err(
                start(x),
                &path.key("services"),
                "service matches are not modelled by nettwin (use selectors)",
            );
            ok = false;
        }
        m.finish(
            &[
                "selector",
                "notSelector",
                "namespaceSelector",
                "serviceAccounts",
                "nets",
                "notNets",
                "ports",
                "notPorts",
                "services",
            ],
            self.d(),
        );
        if !ok {
            return None;
        }
        // getEndpointSelector: the namespace part, then the endpoint part.
        let has_ns_sel = ns_sel.is_some();
        let ns_part = match (ns_sel, ns) {
            (Some(n), _) => Some(Self::ns_expr(&n)),
            (None, Some(ns)) => Some(Self::own_ns(ns)),
            (None, None) => None,
        };
        let ep_part = match (sa_sel, sel) {
            (None, None) => None,
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b),
            (Some(a), Some(b)) => Some(a.and(b)),
        };
        e.selector = match (ns_part, ep_part) {
            (Some(n), Some(s)) => Some(n.and(s)),
            (Some(n), None) if e.not_selector.is_some() || has_ns_sel => Some(n),
            (_, s) => s,
        };
        Some(e)
    }

    /// Namespaces, addresses, endpoint labels, tiers and ordering.
    fn finish(&mut self) -> Cluster {
        // Namespaces named by pods, sets or policies but not defined.
        let mut known: BTreeSet<String> = self.namespaces.iter().map(|n| n.name.clone()).collect();
        let mut implicit = BTreeSet::new();
        for p in &self.pods {
            implicit.insert(p.namespace.clone());
        }
        for s in &self.network_sets {
            if let Some(ns) = &s.namespace {
                implicit.insert(ns.clone());
            }
        }
        for (p, _, _) in &self.policies {
            if let Some(ns) = &p.namespace {
                implicit.insert(ns.clone());
            }
        }
        for ns in implicit {
            if known.insert(ns.clone()) {
                self.namespaces.push(Namespace {
                    name: ns,
                    labels: BTreeMap::new(),
                    implicit: true,
                    origin: None,
                });
            }
        }
        for n in &mut self.namespaces {
            // The API server sets this label on every namespace.
            n.labels.insert(LABEL_K8S_NS_NAME.into(), n.name.clone());
        }
        self.namespaces.sort_by(|a, b| a.name.cmp(&b.name));

        // Addresses: those given, then the pod CIDR for the rest, each at a place derived from
        // the pod's name so that adding a pod moves no other pod.
        let mut used: HashMap<IpAddr, usize> = HashMap::new();
        self.pods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for i in 0..self.pods.len() {
            for ip in self.pods[i].ips.clone() {
                if let Some(&j) = used.get(&ip) {
                    let (file, span) = (self.pods[i].file, self.pods[i].span);
                    let other = self.pods[j].namespace.clone() + "/" + &self.pods[j].name;
                    self.file = file;
                    self.err(
                        span,
                        &Path::root(),
                        format!("pod IP {ip} is also the IP of pod {other}"),
                    );
                } else {
                    used.insert(ip, i);
                }
            }
        }
        let cidr = self.opts.pod_cidr;
        let size = cidr.size();
        let mut assigned = vec![false; self.pods.len()];
        for (i, done) in assigned.iter_mut().enumerate() {
            if !self.pods[i].ips.is_empty() {
                continue;
            }
            if (used.len() as u128) + 2 >= size {
                let (file, span) = (self.pods[i].file, self.pods[i].span);
                self.file = file;
                self.err(
                    span,
                    &Path::root(),
                    format!("the pod CIDR {cidr} has no address left for this pod (--pod-cidr)"),
                );
                break;
            }
            let key = format!("{}/{}", self.pods[i].namespace, self.pods[i].name);
            let span_hosts = size.saturating_sub(2).max(1);
            let mut n = (fnv(&key) as u128) % span_hosts + 1;
            while let Some(ip) = cidr.nth(n) {
                if let std::collections::hash_map::Entry::Vacant(v) = used.entry(ip) {
                    v.insert(i);
                    self.pods[i].ips.push(ip);
                    *done = true;
                    break;
                }
                n = n % span_hosts + 1;
            }
        }

        // Endpoint labels as felix sees them.
        let ns_labels: HashMap<String, BTreeMap<String, String>> = self
            .namespaces
            .iter()
            .map(|n| {
                let mut l: BTreeMap<String, String> = n
                    .labels
                    .iter()
                    .map(|(k, v)| (format!("{NS_PREFIX}{k}"), v.clone()))
                    .collect();
                l.insert(format!("{NS_PREFIX}{LABEL_NAME}"), n.name.clone());
                (n.name.clone(), l)
            })
            .collect();
        let mut pods = Vec::with_capacity(self.pods.len());
        for (i, d) in std::mem::take(&mut self.pods).into_iter().enumerate() {
            let mut el = ns_labels.get(&d.namespace).cloned().unwrap_or_default();
            if let Some(sa) = self
                .service_accounts
                .get(&(d.namespace.clone(), d.service_account.clone()))
            {
                for (k, v) in sa {
                    el.insert(format!("{SA_PREFIX}{k}"), v.clone());
                }
            }
            el.insert(
                format!("{SA_PREFIX}{LABEL_NAME}"),
                d.service_account.clone(),
            );
            el.extend(d.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            el.insert(LABEL_NAMESPACE.into(), d.namespace.clone());
            el.insert(LABEL_ORCHESTRATOR.into(), "k8s".into());
            el.insert(LABEL_SERVICE_ACCOUNT.into(), d.service_account.clone());
            pods.push(Pod {
                namespace: d.namespace,
                name: d.name,
                labels: d.labels,
                ips: d.ips,
                assigned_ip: assigned[i],
                ports: d.ports,
                service_account: d.service_account,
                owner: d.owner,
                origin: d.origin,
                endpoint_labels: el,
            });
        }
        let mut sets = std::mem::take(&mut self.network_sets);
        for s in &mut sets {
            let mut el = BTreeMap::new();
            if let Some(ns) = &s.namespace {
                el = ns_labels.get(ns).cloned().unwrap_or_default();
                el.insert(LABEL_NAMESPACE.into(), ns.clone());
            }
            el.extend(s.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            s.endpoint_labels = el;
        }

        // Tiers: Calico's own, replaced by a manifest's Tier of the same name.
        let mut tiers = std::mem::take(&mut self.tiers);
        for (name, order, action) in [
            (ANP_TIER, ANP_TIER_ORDER, TierAction::Pass),
            (DEFAULT_TIER, DEFAULT_TIER_ORDER, TierAction::Deny),
            (BANP_TIER, BANP_TIER_ORDER, TierAction::Pass),
        ] {
            if !tiers.iter().any(|t| t.name == name) {
                tiers.push(Tier {
                    name: name.into(),
                    order: Some(order),
                    default_action: action,
                    origin: None,
                });
            }
        }
        // felix's TierLess: ordered tiers by order then name, unordered ones last by name.
        tiers.sort_by(|a, b| match (a.order, b.order) {
            (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.name.cmp(&b.name)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.name.cmp(&b.name),
        });
        let tier_index: HashMap<String, usize> = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let mut policies = Vec::new();
        for (p, file, span) in std::mem::take(&mut self.policies) {
            if !tier_index.contains_key(&p.tier) {
                self.file = file;
                let msg = format!(
                    "tier `{}` is not defined; add a projectcalico.org/v3 Tier named `{}`",
                    p.tier, p.tier
                );
                self.err(span, &Path::root().key("spec").key("tier"), msg);
                continue;
            }
            policies.push(p);
        }
        // felix's PolKVLess within a tier: order (none is +infinity), then name/namespace/kind.
        policies.sort_by(|a, b| {
            tier_index[&a.tier]
                .cmp(&tier_index[&b.tier])
                .then_with(|| {
                    a.order
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&b.order.unwrap_or(f64::INFINITY))
                })
                .then_with(|| a.sort_key().cmp(&b.sort_key()))
        });
        Cluster {
            namespaces: std::mem::take(&mut self.namespaces),
            pods,
            network_sets: sets,
            tiers,
            policies,
            skipped: std::mem::take(&mut self.skipped),
            host_network_pods: self.host_network,
        }
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63
/// characters: alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Err(format!(
                "label key `{key}`: the prefix must be a DNS subdomain (lowercase)"
            ));
        }
    }
    check_label_value(name)
        .and_then(|()| if name.is_empty() { Err(String::new()) } else { Ok(()) })
        .map_err(|_| format!("label key `{key}`: the name must be 1-63 characters: letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit"))
}

/// A Kubernetes label value: empty, or up to 63 characters as a label name.
pub fn check_label_value(v: &str) -> Result<(), String> {
    let ok = v.is_empty()
        || (v.len() <= 63
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!("label value `{v}` must be at most 63 characters: letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit"))
    }
}

/// A port name (IANA_SVC_NAME): 1-15 lowercase letters, digits and `-`, at least one letter,
/// no `-` at either end or twice in a row.
pub fn check_port_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 15
        && n.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && n.bytes().any(|c| c.is_ascii_lowercase())
        && !n.starts_with('-')
        && !n.ends_with('-')
        && !n.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!("`{n}` is not a port name: 1-15 lowercase letters, digits and `-`, with at least one letter"))
    }
}

/// Where a node starts as a reader sees it: a mapping at its first key.
fn start(node: &Node) -> Span {
    match node.as_map() {
        Some([(k, _), ..]) => k.span,
        _ => node.span,
    }
}

/// The place that names an object: its `metadata.name`, else its first key.
fn obj_span(node: &Node) -> Span {
    node.get("metadata")
        .and_then(|m| m.get("name"))
        .map_or_else(|| start(node), |n| n.span)
}
