//! Loading a fabric scenario (model, GPU, cluster, job and optional plan) from YAML, with every
//! mistake reported at its `file:line:col`. Each section is a preset name or a mapping; a
//! mapping may start from a preset (`preset: h100`) and override single fields.

use nettwin_model::yaml::{
    self, read_bool, read_f64, read_list, read_str, read_u64, MapReader, Node, Path,
};
use nettwin_model::Diagnostics;

use crate::search::SearchOptions;
use crate::spec::*;
use crate::FabricError;

/// Everything one scenario file describes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Scenario {
    pub job: Job,
    pub cluster: Cluster,
    /// The plan to evaluate, if the file gives one (`plan:`); `search` ignores it.
    pub plan: Option<Plan>,
    /// Search options (`search:`), defaulting from the job.
    pub search: SearchOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "model",
    "gpu",
    "cluster",
    "job",
    "plan",
    "search",
];
const TRANSFORMER_KEYS: &[&str] = &[
    "preset",
    "kind",
    "name",
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "head_dim",
    "ffn_hidden",
    "gated_ffn",
    "vocab",
    "seq_len",
    "tied_embeddings",
    "moe",
];
const MLP_KEYS: &[&str] = &["preset", "kind", "name", "inputs", "hidden", "outputs"];
const MOE_KEYS: &[&str] = &[
    "experts",
    "active_experts",
    "shared_experts",
    "expert_ffn_hidden",
    "dense_layers",
];
const GPU_KEYS: &[&str] = &[
    "preset",
    "name",
    "memory_gib",
    "peak_fp32_tflops",
    "peak_bf16_tflops",
    "peak_fp8_tflops",
    "hbm_tbps",
    "nvlink_gbps",
    "matmul_efficiency",
];
const CLUSTER_KEYS: &[&str] = &[
    "name",
    "gpus_per_node",
    "nodes",
    "node_names",
    "nic_gbps",
    "shape",
    "nodes_per_leaf",
    "oversubscription",
    "spine_links_per_leaf",
    "link_latency_us",
    "nvlink_latency_us",
    "step_overhead_us",
    "nvlink_efficiency",
    "network_efficiency",
    "ecmp",
];
const JOB_KEYS: &[&str] = &[
    "global_batch",
    "micro_batch",
    "precision",
    "optimizer",
    "recompute",
    "zero",
    "flash_attention",
    "overlap_grad_reduce",
    "overlap_moe_alltoall",
    "overlap_cp_kv",
    "activation_precision",
    "gradient_precision",
    "moment_precision",
    "memory_reserve_gib",
];
const PLAN_KEYS: &[&str] = &[
    "dp",
    "tp",
    "pp",
    "virtual_stages",
    "ep",
    "cp",
    "sequence_parallel",
    "micro_batch",
    "zero",
    "recompute",
    "schedule",
    "algorithm",
];
const SEARCH_KEYS: &[&str] = &[
    "micro_batches",
    "zero_stages",
    "schedules",
    "virtual_stages",
    "recompute",
    "context_parallel",
    "max_tp",
    "algorithm",
    "include_unfit",
];

/// Reads and resolves the scenario in `path`.
pub fn load_file(path: &std::path::Path) -> Result<Scenario, LoadError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: name.clone(),
        source,
    })?;
    load_str(&name, &text)
}

/// Resolves the scenario in `text`; `file` names it in errors.
pub fn load_str(file: &str, text: &str) -> Result<Scenario, LoadError> {
    let root = yaml::parse_document(file, text).map_err(LoadError::Invalid)?;
    let mut diags = Diagnostics::new(file);
    let scenario = Reader { diags: &mut diags }.scenario(&root);
    match scenario {
        Some(s) if diags.is_empty() => Ok(s),
        _ => {
            if diags.is_empty() {
                diags.error(root.span, &Path::root(), "incomplete scenario");
            }
            diags.sort();
            Err(LoadError::Invalid(diags))
        }
    }
}

struct Reader<'d> {
    diags: &'d mut Diagnostics,
}

fn u32_of(v: Option<u64>) -> Option<u32> {
    v.map(|x| x as u32)
}

impl Reader<'_> {
    fn scenario(&mut self, root: &Node) -> Option<Scenario> {
        let p = Path::root();
        let mut top = MapReader::new(root, &p, self.diags)?;
        top.take("name");
        top.take("description");
        let model = self
            .required(&mut top, "model", root)
            .and_then(|(n, p)| self.model(n, &p));
        let gpu = self
            .required(&mut top, "gpu", root)
            .and_then(|(n, p)| self.gpu(n, &p));
        let cluster_node = self.required(&mut top, "cluster", root);
        let job_node = self.required(&mut top, "job", root);
        let plan_node = top.take("plan");
        let search_node = top.take("search");
        top.finish(TOP_KEYS, self.diags);
        let cluster = match (gpu, cluster_node) {
            (Some(g), Some((n, p))) => self.cluster(n, &p, g),
            _ => None,
        };
        let job = match (model, job_node) {
            (Some(m), Some((n, p))) => self.job(n, &p, m),
            _ => None,
        };
        let job = job?;
        let cluster = cluster?;
        let plan = match plan_node {
            Some(n) => Some(self.plan(n, &Path::root().key("plan"), &job)?),
            None => None,
        };
        let search = match search_node {
            Some(n) => self.search(n, &Path::root().key("search"), &job)?,
            None => SearchOptions::for_job(&job),
        };
        Some(Scenario {
            job,
            cluster,
            plan,
            search,
        })
    }

    fn required<'a>(
        &mut self,
        map: &mut MapReader<'a>,
        key: &str,
        parent: &Node,
    ) -> Option<(&'a Node, Path)> {
        let path = map.path().key(key);
        match map.take(key) {
            Some(n) => Some((n, path)),
            None => {
                self.diags
                    .error(parent.span, &path, format!("missing `{key}`"));
                None
            }
        }
    }

    /// Report a semantic error from the spec checks at the section it concerns.
    fn check(&mut self, node: &Node, path: &Path, r: Result<(), FabricError>) -> bool {
        match r {
            Ok(()) => true,
            Err(FabricError::InvalidInput { field, reason }) => {
                let key = field.rsplit('.').next().unwrap_or(&field).to_string();
                let at = node.get(&key).map(|n| n.span).unwrap_or(node.span);
                self.diags.error(at, &path.key(&key), reason);
                false
            }
            Err(e) => {
                self.diags.error(node.span, path, e.to_string());
                false
            }
        }
    }

    fn preset<T>(
        &mut self,
        node: &Node,
        path: &Path,
        f: fn(&str) -> Result<T, FabricError>,
    ) -> Option<T> {
        let name = read_str(node, path, self.diags)?;
        match f(&name) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diags.error(node.span, path, e.to_string());
                None
            }
        }
    }

    fn enum_of<T>(
        &mut self,
        node: &Node,
        path: &Path,
        what: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let s = read_str(node, path, self.diags)?;
        let v = parse(&s);
        if v.is_none() {
            self.diags
                .error(node.span, path, format!("unknown {what} `{s}`"));
        }
        v
    }

    fn model(&mut self, node: &Node, path: &Path) -> Option<Model> {
        if node.as_scalar().is_some() {
            return self.preset(node, path, model_preset);
        }
        let base = match node.get("preset") {
            Some(n) => Some(self.preset(n, &path.key("preset"), model_preset)?),
            None => None,
        };
        let kind = match node.get("kind") {
            Some(n) => read_str(n, &path.key("kind"), self.diags),
            None => None,
        };
        let is_mlp = match (&base, kind.as_deref()) {
            (Some(Model::Mlp(_)), _) | (_, Some("mlp")) => true,
            (_, Some("transformer")) | (Some(Model::Transformer(_)), None) => false,
            (None, None) => {
                self.diags.error(
                    node.span,
                    path,
                    "a model needs `preset` or `kind: transformer|mlp`",
                );
                return None;
            }
            (_, Some(k)) => {
                self.diags.error(
                    node.span,
                    &path.key("kind"),
                    format!("unknown model kind `{k}` (transformer, mlp)"),
                );
                return None;
            }
        };
        let mut m = MapReader::new(node, path, self.diags)?;
        m.take("preset");
        m.take("kind");
        let model = if is_mlp {
            let mut mlp = match base {
                Some(Model::Mlp(b)) => b,
                _ => Mlp {
                    name: "mlp".into(),
                    inputs: 0,
                    hidden: Vec::new(),
                    outputs: 0,
                },
            };
            if let Some(n) = m.take("name") {
                mlp.name = read_str(n, &path.key("name"), self.diags)?;
            }
            if let Some(n) = m.take("inputs") {
                mlp.inputs = read_u64(n, &path.key("inputs"), 1..=u32::MAX as u64, self.diags)?;
            }
            if let Some(n) = m.take("outputs") {
                mlp.outputs = read_u64(n, &path.key("outputs"), 1..=u32::MAX as u64, self.diags)?;
            }
            if let Some(n) = m.take("hidden") {
                let hp = path.key("hidden");
                mlp.hidden = read_list(n, &hp, self.diags)
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, x)| read_u64(x, &hp.index(i), 1..=u32::MAX as u64, self.diags))
                    .collect();
            }
            m.finish(MLP_KEYS, self.diags);
            Model::Mlp(mlp)
        } else {
            let mut t = match base {
                Some(Model::Transformer(b)) => b,
                _ => Transformer {
                    name: "transformer".into(),
                    layers: 0,
                    hidden: 0,
                    attention: Attention::Mha {
                        heads: 0,
                        kv_heads: 0,
                        head_dim: 0,
                    },
                    ffn_hidden: 0,
                    gated_ffn: false,
                    vocab: 0,
                    seq_len: 0,
                    tied_embeddings: false,
                    moe: None,
                },
            };
            let big = 1..=u32::MAX as u64;
            if let Some(n) = m.take("name") {
                t.name = read_str(n, &path.key("name"), self.diags)?;
            }
            for (key, slot) in [
                ("layers", &mut t.layers),
                ("hidden", &mut t.hidden),
                ("ffn_hidden", &mut t.ffn_hidden),
                ("vocab", &mut t.vocab),
                ("seq_len", &mut t.seq_len),
            ] {
                if let Some(n) = m.take(key) {
                    if let Some(v) = read_u64(n, &path.key(key), big.clone(), self.diags) {
                        *slot = v;
                    }
                }
            }
            for (key, slot) in [
                ("gated_ffn", &mut t.gated_ffn),
                ("tied_embeddings", &mut t.tied_embeddings),
            ] {
                if let Some(n) = m.take(key) {
                    if let Some(v) = read_bool(n, &path.key(key), self.diags) {
                        *slot = v;
                    }
                }
            }
            let heads = m
                .take("heads")
                .and_then(|n| read_u64(n, &path.key("heads"), big.clone(), self.diags));
            let kv = m
                .take("kv_heads")
                .and_then(|n| read_u64(n, &path.key("kv_heads"), big.clone(), self.diags));
            let hd = m
                .take("head_dim")
                .and_then(|n| read_u64(n, &path.key("head_dim"), big.clone(), self.diags));
            if heads.is_some() || kv.is_some() || hd.is_some() {
                let (h0, kv0, hd0) = match t.attention {
                    Attention::Mha {
                        heads,
                        kv_heads,
                        head_dim,
                    } => (heads, kv_heads, head_dim),
                    Attention::Mla { heads, .. } => (heads, heads, 0),
                };
                let h = heads.unwrap_or(h0);
                t.attention = Attention::Mha {
                    heads: h,
                    kv_heads: kv.unwrap_or(if kv0 == 0 { h } else { kv0 }),
                    head_dim: hd.unwrap_or(if hd0 == 0 && h > 0 { t.hidden / h } else { hd0 }),
                };
            }
            if let Some(n) = m.take("moe") {
                let mp = path.key("moe");
                let mut mr = MapReader::new(n, &mp, self.diags)?;
                let mut moe = t.moe.clone().unwrap_or(Moe {
                    experts: 0,
                    active_experts: 0,
                    shared_experts: 0,
                    expert_ffn_hidden: 0,
                    dense_layers: 0,
                });
                for (key, slot) in [
                    ("experts", &mut moe.experts),
                    ("active_experts", &mut moe.active_experts),
                    ("shared_experts", &mut moe.shared_experts),
                    ("expert_ffn_hidden", &mut moe.expert_ffn_hidden),
                    ("dense_layers", &mut moe.dense_layers),
                ] {
                    if let Some(x) = mr.take(key) {
                        if let Some(v) = read_u64(x, &mp.key(key), 0..=u32::MAX as u64, self.diags)
                        {
                            *slot = v;
                        }
                    }
                }
                mr.finish(MOE_KEYS, self.diags);
                t.moe = Some(moe);
            }
            m.finish(TRANSFORMER_KEYS, self.diags);
            Model::Transformer(t)
        };
        let ok = self.check(node, path, model.validate());
        ok.then_some(model)
    }

    fn gpu(&mut self, node: &Node, path: &Path) -> Option<Gpu> {
        if node.as_scalar().is_some() {
            return self.preset(node, path, gpu_preset);
        }
        let mut m = MapReader::new(node, path, self.diags)?;
        let mut g = match m.take("preset") {
            Some(n) => self.preset(n, &path.key("preset"), gpu_preset)?,
            None => Gpu {
                name: "gpu".into(),
                memory_bytes: 0.0,
                peak_fp32: 0.0,
                peak_bf16: 0.0,
                peak_fp8: 0.0,
                hbm_bytes_per_s: 0.0,
                nvlink_bytes_per_s: 0.0,
                matmul_efficiency: 0.75,
            },
        };
        if let Some(n) = m.take("name") {
            g.name = read_str(n, &path.key("name"), self.diags)?;
        }
        let pos = 0.0..=f64::MAX;
        for (key, slot, scale) in [
            ("memory_gib", &mut g.memory_bytes, GIB),
            ("peak_fp32_tflops", &mut g.peak_fp32, 1e12),
            ("peak_bf16_tflops", &mut g.peak_bf16, 1e12),
            ("peak_fp8_tflops", &mut g.peak_fp8, 1e12),
            ("hbm_tbps", &mut g.hbm_bytes_per_s, 1e12),
            ("nvlink_gbps", &mut g.nvlink_bytes_per_s, 1e9),
            ("matmul_efficiency", &mut g.matmul_efficiency, 1.0),
        ] {
            if let Some(n) = m.take(key) {
                if let Some(v) = read_f64(n, &path.key(key), pos.clone(), self.diags) {
                    *slot = v * scale;
                }
            }
        }
        m.finish(GPU_KEYS, self.diags);
        for (key, v) in [
            ("memory_gib", g.memory_bytes),
            ("peak_bf16_tflops", g.peak_bf16),
            ("hbm_tbps", g.hbm_bytes_per_s),
            ("nvlink_gbps", g.nvlink_bytes_per_s),
        ] {
            if v <= 0.0 {
                self.diags.error(
                    node.span,
                    &path.key(key),
                    format!("`{key}` must be given and positive"),
                );
                return None;
            }
        }
        Some(g)
    }

    fn cluster(&mut self, node: &Node, path: &Path, gpu: Gpu) -> Option<Cluster> {
        let mut m = MapReader::new(node, path, self.diags)?;
        let big = 1..=u32::MAX as u64;
        let gpn = self
            .required(&mut m, "gpus_per_node", node)
            .and_then(|(n, p)| read_u64(n, &p, big.clone(), self.diags));
        let nodes = self
            .required(&mut m, "nodes", node)
            .and_then(|(n, p)| read_u64(n, &p, big.clone(), self.diags));
        let (gpn, nodes) = (u32_of(gpn), u32_of(nodes));
        let mut c = Cluster::new(gpu, gpn.unwrap_or(1), nodes.unwrap_or(1));
        if let Some(n) = m.take("name") {
            c.name = read_str(n, &path.key("name"), self.diags).unwrap_or_default();
        }
        if let Some(n) = m.take("node_names") {
            let np = path.key("node_names");
            c.node_names = read_list(n, &np, self.diags)
                .into_iter()
                .enumerate()
                .filter_map(|(i, x)| read_str(x, &np.index(i), self.diags))
                .collect();
        }
        if let Some(n) = m.take("shape") {
            c.shape = self.enum_of(n, &path.key("shape"), "fabric shape", |s| match s {
                "rail-optimized" | "rail_optimized" => Some(FabricShape::RailOptimized),
                "fat-tree" | "fat_tree" => Some(FabricShape::FatTree),
                _ => None,
            })?;
        }
        if let Some(n) = m.take("ecmp") {
            c.ecmp = self.enum_of(n, &path.key("ecmp"), "ECMP model", |s| match s {
                "ideal" => Some(Ecmp::Ideal),
                "expected" => Some(Ecmp::Expected),
                "worst" => Some(Ecmp::Worst),
                _ => None,
            })?;
        }
        for (key, slot) in [
            ("nodes_per_leaf", &mut c.nodes_per_leaf),
            ("spine_links_per_leaf", &mut c.spine_links_per_leaf),
        ] {
            if let Some(n) = m.take(key) {
                if let Some(v) = read_u64(n, &path.key(key), big.clone(), self.diags) {
                    *slot = v as u32;
                }
            }
        }
        for (key, slot, scale) in [
            ("nic_gbps", &mut c.nic_gbps, 1.0),
            ("oversubscription", &mut c.oversubscription, 1.0),
            ("link_latency_us", &mut c.link_latency_s, 1e-6),
            ("nvlink_latency_us", &mut c.nvlink_latency_s, 1e-6),
            ("step_overhead_us", &mut c.step_overhead_s, 1e-6),
            ("nvlink_efficiency", &mut c.nvlink_efficiency, 1.0),
            ("network_efficiency", &mut c.network_efficiency, 1.0),
        ] {
            if let Some(n) = m.take(key) {
                if let Some(v) = read_f64(n, &path.key(key), 0.0..=f64::MAX, self.diags) {
                    *slot = v * scale;
                }
            }
        }
        m.finish(CLUSTER_KEYS, self.diags);
        gpn?;
        nodes?;
        let ok = self.check(node, path, c.validate());
        ok.then_some(c)
    }

    fn job(&mut self, node: &Node, path: &Path, model: Model) -> Option<Job> {
        let mut m = MapReader::new(node, path, self.diags)?;
        let gb = self
            .required(&mut m, "global_batch", node)
            .and_then(|(n, p)| read_u64(n, &p, 1..=u64::MAX, self.diags));
        let mut job = Job::new(model, gb.unwrap_or(1));
        if let Some(n) = m.take("micro_batch") {
            job.micro_batch =
                read_u64(n, &path.key("micro_batch"), 1..=u64::MAX, self.diags).unwrap_or(1);
        }
        if let Some(n) = m.take("precision") {
            job.precision =
                self.enum_of(n, &path.key("precision"), "precision", Precision::parse)?;
        }
        if let Some(n) = m.take("activation_precision") {
            job.activation_precision = Some(self.enum_of(
                n,
                &path.key("activation_precision"),
                "precision",
                Precision::parse,
            )?);
        }
        if let Some(n) = m.take("gradient_precision") {
            job.gradient_precision = Some(self.enum_of(
                n,
                &path.key("gradient_precision"),
                "precision",
                Precision::parse,
            )?);
        }
        if let Some(n) = m.take("moment_precision") {
            job.moment_precision = self.enum_of(
                n,
                &path.key("moment_precision"),
                "precision",
                Precision::parse,
            )?;
        }
        if let Some(n) = m.take("optimizer") {
            job.optimizer =
                self.enum_of(n, &path.key("optimizer"), "optimizer", Optimizer::parse)?;
        }
        if let Some(n) = m.take("recompute") {
            job.recompute =
                self.enum_of(n, &path.key("recompute"), "recomputation", Recompute::parse)?;
        }
        if let Some(n) = m.take("zero") {
            job.zero = ZeroStage(read_u64(n, &path.key("zero"), 0..=3, self.diags)? as u8);
        }
        for (key, slot) in [
            ("flash_attention", &mut job.flash_attention),
            ("overlap_grad_reduce", &mut job.overlap_grad_reduce),
            ("overlap_moe_alltoall", &mut job.overlap_moe_alltoall),
            ("overlap_cp_kv", &mut job.overlap_cp_kv),
        ] {
            if let Some(n) = m.take(key) {
                if let Some(v) = read_bool(n, &path.key(key), self.diags) {
                    *slot = v;
                }
            }
        }
        if let Some(n) = m.take("memory_reserve_gib") {
            job.memory_reserve_bytes = read_f64(
                n,
                &path.key("memory_reserve_gib"),
                0.0..=f64::MAX,
                self.diags,
            )? * GIB;
        }
        m.finish(JOB_KEYS, self.diags);
        gb?;
        Some(job)
    }

    fn plan(&mut self, node: &Node, path: &Path, job: &Job) -> Option<Plan> {
        let mut m = MapReader::new(node, path, self.diags)?;
        let deg = 1..=u32::MAX as u64;
        let mut plan = Plan::new(job, 1, 1, 1);
        for (key, slot) in [
            ("dp", &mut plan.dp),
            ("tp", &mut plan.tp),
            ("pp", &mut plan.pp),
            ("virtual_stages", &mut plan.virtual_stages),
            ("ep", &mut plan.ep),
            ("cp", &mut plan.cp),
        ] {
            if let Some(n) = m.take(key) {
                if let Some(v) = read_u64(n, &path.key(key), deg.clone(), self.diags) {
                    *slot = v as u32;
                }
            }
        }
        plan.sequence_parallel = plan.tp > 1;
        if let Some(n) = m.take("sequence_parallel") {
            plan.sequence_parallel = read_bool(n, &path.key("sequence_parallel"), self.diags)?;
        }
        if let Some(n) = m.take("micro_batch") {
            plan.micro_batch = read_u64(n, &path.key("micro_batch"), 1..=u64::MAX, self.diags)?;
        }
        if let Some(n) = m.take("zero") {
            plan.zero = ZeroStage(read_u64(n, &path.key("zero"), 0..=3, self.diags)? as u8);
        }
        if let Some(n) = m.take("recompute") {
            plan.recompute =
                self.enum_of(n, &path.key("recompute"), "recomputation", Recompute::parse)?;
        }
        if let Some(n) = m.take("schedule") {
            plan.schedule = self.enum_of(
                n,
                &path.key("schedule"),
                "schedule (gpipe, 1f1b, interleaved)",
                Schedule::parse,
            )?;
        }
        if let Some(n) = m.take("algorithm") {
            plan.algorithm = self.enum_of(
                n,
                &path.key("algorithm"),
                "algorithm (ring, tree, auto)",
                parse_algorithm,
            )?;
        }
        m.finish(PLAN_KEYS, self.diags);
        Some(plan)
    }

    fn search(&mut self, node: &Node, path: &Path, job: &Job) -> Option<SearchOptions> {
        let mut m = MapReader::new(node, path, self.diags)?;
        let mut o = SearchOptions::for_job(job);
        let nums = |m: &mut MapReader,
                    key: &str,
                    range: std::ops::RangeInclusive<u64>,
                    diags: &mut Diagnostics| {
            m.take(key).map(|n| {
                let p = path.key(key);
                read_list(n, &p, diags)
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, x)| read_u64(x, &p.index(i), range.clone(), diags))
                    .collect::<Vec<u64>>()
            })
        };
        if let Some(v) = nums(&mut m, "micro_batches", 1..=u64::MAX, self.diags) {
            o.micro_batches = v;
        }
        if let Some(v) = nums(&mut m, "zero_stages", 0..=3, self.diags) {
            o.zero_stages = v.into_iter().map(|z| z as u8).collect();
        }
        if let Some(v) = nums(&mut m, "virtual_stages", 2..=64, self.diags) {
            o.virtual_stages = v.into_iter().map(|z| z as u32).collect();
        }
        if let Some(v) = nums(&mut m, "context_parallel", 1..=1024, self.diags) {
            o.context_parallel = v.into_iter().map(|z| z as u32).collect();
        }
        if let Some(n) = m.take("max_tp") {
            o.max_tp = u32_of(read_u64(n, &path.key("max_tp"), 1..=1024, self.diags));
        }
        if let Some(n) = m.take("include_unfit") {
            o.include_unfit = read_bool(n, &path.key("include_unfit"), self.diags)?;
        }
        if let Some(n) = m.take("algorithm") {
            o.algorithm = self.enum_of(
                n,
                &path.key("algorithm"),
                "algorithm (ring, tree, auto)",
                parse_algorithm,
            )?;
        }
        if let Some(n) = m.take("schedules") {
            let p = path.key("schedules");
            o.schedules = read_list(n, &p, self.diags)
                .into_iter()
                .enumerate()
                .filter_map(|(i, x)| self.enum_of(x, &p.index(i), "schedule", Schedule::parse))
                .collect();
        }
        if let Some(n) = m.take("recompute") {
            let p = path.key("recompute");
            o.recompute = read_list(n, &p, self.diags)
                .into_iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    self.enum_of(x, &p.index(i), "recomputation", Recompute::parse)
                })
                .collect();
        }
        m.finish(SEARCH_KEYS, self.diags);
        Some(o)
    }
}

fn parse_algorithm(s: &str) -> Option<Algorithm> {
    match s {
        "ring" => Some(Algorithm::Ring),
        "tree" => Some(Algorithm::Tree),
        "auto" => Some(Algorithm::Auto),
        _ => None,
    }
}
