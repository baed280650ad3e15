//! Inputs: model, GPU, cluster, training job and parallel plan, plus built-in presets.

use serde::Serialize;

use crate::FabricError;

/// Bytes in one gibibyte; GPU memory capacities are quoted in these.
pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The network being trained.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    Transformer(Transformer),
    Mlp(Mlp),
}

/// Attention projection shape. MLA is DeepSeek's multi-head latent attention.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attention {
    /// Multi-head (kv_heads == heads) or grouped-query attention.
    Mha {
        heads: u64,
        kv_heads: u64,
        head_dim: u64,
    },
    Mla {
        heads: u64,
        q_lora_rank: u64,
        kv_lora_rank: u64,
        qk_nope_dim: u64,
        qk_rope_dim: u64,
        v_head_dim: u64,
    },
}

/// Mixture-of-experts feed-forward replacing the dense FFN in all but the first `dense_layers`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Moe {
    /// Routed experts per MoE layer.
    pub experts: u64,
    /// Routed experts each token is sent to (top-k).
    pub active_experts: u64,
    /// Always-on shared experts per MoE layer.
    pub shared_experts: u64,
    /// Hidden size of one expert's FFN.
    pub expert_ffn_hidden: u64,
    /// Leading layers that keep a dense FFN of `ffn_hidden`.
    pub dense_layers: u64,
}

/// Decoder-only transformer (GPT / Llama / DeepSeek family).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Transformer {
    pub name: String,
    pub layers: u64,
    pub hidden: u64,
    pub attention: Attention,
    pub ffn_hidden: u64,
    /// SwiGLU-style FFN with three matrices instead of two.
    pub gated_ffn: bool,
    pub vocab: u64,
    pub seq_len: u64,
    /// Input embedding and output projection share one matrix.
    pub tied_embeddings: bool,
    pub moe: Option<Moe>,
}

/// Plain multi-layer perceptron: `inputs -> hidden[0] -> ... -> outputs`, one sample = one token.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Mlp {
    pub name: String,
    pub inputs: u64,
    pub hidden: Vec<u64>,
    pub outputs: u64,
}

impl Model {
    pub fn name(&self) -> &str {
        match self {
            Model::Transformer(t) => &t.name,
            Model::Mlp(m) => &m.name,
        }
    }

    /// Layers the pipeline splits: transformer blocks, or MLP weight layers.
    pub fn pipeline_layers(&self) -> u64 {
        match self {
            Model::Transformer(t) => t.layers,
            Model::Mlp(m) => m.hidden.len() as u64 + 1,
        }
    }

    /// Tokens per sample (sequence length; 1 for an MLP).
    pub fn seq_len(&self) -> u64 {
        match self {
            Model::Transformer(t) => t.seq_len,
            Model::Mlp(_) => 1,
        }
    }

    pub fn validate(&self) -> Result<(), FabricError> {
        let bad = |field: &str, reason: &str| {
            Err(FabricError::InvalidInput {
                field: field.to_string(),
                reason: reason.to_string(),
            })
        };
        match self {
            Model::Transformer(t) => {
                for (f, v) in [
                    ("layers", t.layers),
                    ("hidden", t.hidden),
                    ("ffn_hidden", t.ffn_hidden),
                    ("vocab", t.vocab),
                    ("seq_len", t.seq_len),
                ] {
                    if v == 0 {
                        return bad(&format!("model.{f}"), "must be positive");
                    }
                }
                match t.attention {
                    Attention::Mha {
                        heads,
                        kv_heads,
                        head_dim,
                    } => {
                        if heads == 0 || kv_heads == 0 || head_dim == 0 {
                            return bad(
                                "model.heads",
                                "heads, kv_heads and head_dim must be positive",
                            );
                        }
                        if heads % kv_heads != 0 {
                            return bad("model.kv_heads", "must divide heads");
                        }
                    }
                    Attention::Mla { heads, .. } => {
                        if heads == 0 {
                            return bad("model.heads", "must be positive");
                        }
                    }
                }
                if let Some(m) = &t.moe {
                    if m.experts == 0 || m.active_experts == 0 || m.active_experts > m.experts {
                        return bad(
                            "model.moe.active_experts",
                            "need 0 < active_experts <= experts",
                        );
                    }
                    if m.expert_ffn_hidden == 0 {
                        return bad("model.moe.expert_ffn_hidden", "must be positive");
                    }
                    if m.dense_layers > t.layers {
                        return bad("model.moe.dense_layers", "exceeds layers");
                    }
                }
            }
            Model::Mlp(m) => {
                if m.inputs == 0 || m.outputs == 0 || m.hidden.contains(&0) {
                    return bad("model.hidden", "layer widths must be positive");
                }
            }
        }
        Ok(())
    }
}

impl Attention {
    pub fn heads(&self) -> u64 {
        match *self {
            Attention::Mha { heads, .. } | Attention::Mla { heads, .. } => heads,
        }
    }
}

/// Numeric format of the matrix multiplies.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Fp32,
    Bf16,
    Fp16,
    /// FP8 matmuls (Transformer Engine style); weights, activations and gradients stay 16-bit
    /// unless the job sets narrower storage formats (`Job::activation_precision`).
    Fp8,
}

impl Precision {
    /// Bytes of one stored weight / activation / gradient element.
    pub fn element_bytes(self) -> f64 {
        match self {
            Precision::Fp32 => 4.0,
            _ => 2.0,
        }
    }

    /// Bytes of one element of a tensor *stored* in this format (FP8 is one byte), for the
    /// storage formats a job may choose for cached activations and optimizer moments.
    pub fn storage_bytes(self) -> f64 {
        match self {
            Precision::Fp32 => 4.0,
            Precision::Bf16 | Precision::Fp16 => 2.0,
            Precision::Fp8 => 1.0,
        }
    }

    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s.to_ascii_lowercase().as_str() {
            "fp32" | "float32" => Precision::Fp32,
            "bf16" | "bfloat16" => Precision::Bf16,
            "fp16" | "float16" => Precision::Fp16,
            "fp8" => Precision::Fp8,
            _ => return None,
        })
    }
}

/// Optimizer, which fixes the bytes of optimizer state per parameter.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    Adam,
    /// SGD with a momentum buffer (the "weight adjustments").
    SgdMomentum,
    Sgd,
}

impl Optimizer {
    /// Optimizer-state bytes per parameter (the ZeRO paper's K), including an fp32 master copy
    /// when the weights themselves are 16-bit.
    pub fn state_bytes(self, precision: Precision) -> f64 {
        self.state_bytes_with_moments(precision, 4.0)
    }

    /// As `state_bytes`, with each moment (Adam's m and v, the momentum buffer) stored in
    /// `moment_bytes` bytes instead of fp32; the fp32 master copy is kept either way.
    pub fn state_bytes_with_moments(self, precision: Precision, moment_bytes: f64) -> f64 {
        let master = if precision == Precision::Fp32 {
            0.0
        } else {
            4.0
        };
        match self {
            Optimizer::Adam => master + 2.0 * moment_bytes,
            Optimizer::SgdMomentum => master + moment_bytes,
            Optimizer::Sgd => master,
        }
    }

    pub fn parse(s: &str) -> Option<Optimizer> {
        Some(match s.to_ascii_lowercase().as_str() {
            "adam" | "adamw" => Optimizer::Adam,
            "sgd-momentum" | "sgd_momentum" | "momentum" => Optimizer::SgdMomentum,
            "sgd" => Optimizer::Sgd,
            _ => return None,
        })
    }
}

/// Activation recomputation (Korthikanti et al. 2022).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Recompute {
    None,
    /// Recompute only the attention core (softmax, dropout, scores).
    Selective,
    /// Keep only each layer's input; rerun the whole forward before backward.
    Full,
}

impl Recompute {
    pub fn parse(s: &str) -> Option<Recompute> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" | "off" => Recompute::None,
            "selective" => Recompute::Selective,
            "full" => Recompute::Full,
            _ => return None,
        })
    }
}

/// ZeRO data-parallel sharding stage (Rajbhandari et al. 2020): 1 = optimizer states,
/// 2 = + gradients, 3 = + parameters.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZeroStage(pub u8);

/// Pipeline schedule.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// All forwards, then all backwards (Huang et al. 2019).
    Gpipe,
    /// One-forward-one-backward (PipeDream-flush).
    OneFOneB,
    /// Interleaved 1F1B with `Plan::virtual_stages` model chunks per GPU (Narayanan et al. 2021).
    Interleaved,
}

impl Schedule {
    pub fn parse(s: &str) -> Option<Schedule> {
        Some(match s.to_ascii_lowercase().as_str() {
            "gpipe" => Schedule::Gpipe,
            "1f1b" => Schedule::OneFOneB,
            "interleaved" | "interleaved-1f1b" => Schedule::Interleaved,
            _ => return None,
        })
    }
}

/// Collective algorithm.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    Ring,
    /// NCCL-style double binary tree (all-reduce only; other collectives use rings).
    Tree,
    /// Whichever of ring and tree is faster for each all-reduce.
    Auto,
}

/// Accelerator.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Gpu {
    pub name: String,
    pub memory_bytes: f64,
    /// Dense (no sparsity) peak FLOP/s.
    pub peak_fp32: f64,
    pub peak_bf16: f64,
    pub peak_fp8: f64,
    /// HBM bandwidth, bytes/s.
    pub hbm_bytes_per_s: f64,
    /// NVLink bandwidth per GPU per direction, bytes/s.
    pub nvlink_bytes_per_s: f64,
    /// Fraction of peak that large matmuls reach (cuBLAS on big GEMMs).
    pub matmul_efficiency: f64,
}

impl Gpu {
    pub fn peak(&self, p: Precision) -> f64 {
        match p {
            Precision::Fp32 => self.peak_fp32,
            Precision::Bf16 | Precision::Fp16 => self.peak_bf16,
            Precision::Fp8 => self.peak_fp8,
        }
    }
}

/// Switching fabric between nodes.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FabricShape {
    /// GPU i of every node in a scalable unit connects to leaf i (rail i); rails meet at the spine.
    RailOptimized,
    /// Every GPU of a node connects to the same leaf; leaves meet at the spine.
    FatTree,
}

/// How flows that cross the spine are spread over the parallel leaf-spine links.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Ecmp {
    /// Perfect spreading (packet spraying / adaptive routing).
    Ideal,
    /// Per-flow hashing: the busiest link carries the expected maximum of a balls-in-bins draw.
    Expected,
    /// Per-flow hashing where every flow of a leaf lands on the same link.
    Worst,
}

/// GPUs, nodes and the network that joins them.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub gpu: Gpu,
    pub gpus_per_node: u32,
    pub nodes: u32,
    /// Node names for reports (GPU names are node name + 1-based index); default n0, n1, ...
    pub node_names: Vec<String>,
    /// NIC bandwidth per GPU per direction, Gbit/s.
    pub nic_gbps: f64,
    pub shape: FabricShape,
    /// Nodes under one leaf (one rail leaf per rail in a rail-optimized unit).
    pub nodes_per_leaf: u32,
    /// Leaf downlink:uplink capacity ratio (1 = non-blocking).
    pub oversubscription: f64,
    /// Parallel links from each leaf to the spine layer (ECMP width).
    pub spine_links_per_leaf: u32,
    /// One-way latency per network switch hop, seconds.
    pub link_latency_s: f64,
    /// One-way latency of an NVLink hop through the NVSwitch, seconds.
    pub nvlink_latency_s: f64,
    /// Fixed software cost per collective step (kernel launch, protocol), seconds.
    pub step_overhead_s: f64,
    /// Fraction of NVLink bandwidth a collective reaches.
    pub nvlink_efficiency: f64,
    /// Fraction of NIC / switch link bandwidth a collective reaches.
    pub network_efficiency: f64,
    pub ecmp: Ecmp,
}

/// The largest cluster nettwin evaluates (2^20 GPUs).
pub const MAX_GPUS: u32 = 1 << 20;

/// The most micro-batches one pipeline may run per step (2^16; real jobs run at most a few
/// thousand): schedules and timelines keep state per micro-batch (about 400 bytes each).
pub const MAX_MICRO_BATCHES: u64 = 1 << 16;

/// The most (micro-batch, pipeline chunk) pairs a schedule may hold (2^22).
pub const MAX_SCHEDULE_EVENTS: u64 = 1 << 22;

impl Cluster {
    pub fn gpus(&self) -> u32 {
        self.gpus_per_node * self.nodes
    }

    /// Report name of GPU `g` (e.g. `A1` for the first GPU of node `A`).
    pub fn gpu_name(&self, g: u32) -> String {
        let node = g / self.gpus_per_node;
        let local = g % self.gpus_per_node;
        match self.node_names.get(node as usize) {
            Some(n) => format!("{n}{}", local + 1),
            None => format!("n{node}g{local}"),
        }
    }

    pub fn validate(&self) -> Result<(), FabricError> {
        let bad = |field: &str, reason: &str| {
            Err(FabricError::InvalidInput {
                field: field.to_string(),
                reason: reason.to_string(),
            })
        };
        if self.gpus_per_node == 0 || self.nodes == 0 {
            return bad("cluster.nodes", "gpus_per_node and nodes must be positive");
        }
        // Per-GPU state (placements, link loads) is kept for every GPU: bound the cluster
        // before anything is allocated, well above the largest clusters built (~200k GPUs).
        match self.gpus_per_node.checked_mul(self.nodes) {
            Some(n) if n <= MAX_GPUS => {}
            _ => {
                return Err(FabricError::InvalidInput {
                    field: "cluster.nodes".into(),
                    reason: format!(
                        "{} nodes x {} GPUs is more than the {MAX_GPUS} GPUs nettwin models",
                        self.nodes, self.gpus_per_node
                    ),
                })
            }
        }
        if self.nodes_per_leaf == 0 || self.spine_links_per_leaf == 0 {
            return bad(
                "cluster.nodes_per_leaf",
                "nodes_per_leaf and spine_links_per_leaf must be positive",
            );
        }
        if self.oversubscription.is_nan() || self.oversubscription < 1.0 {
            return bad("cluster.oversubscription", "must be >= 1");
        }
        if !positive(self.nic_gbps) || !positive(self.gpu.nvlink_bytes_per_s) {
            return bad("cluster.nic_gbps", "link bandwidths must be positive");
        }
        for (f, v) in [
            ("cluster.nvlink_efficiency", self.nvlink_efficiency),
            ("cluster.network_efficiency", self.network_efficiency),
            ("gpu.matmul_efficiency", self.gpu.matmul_efficiency),
        ] {
            if !positive(v) || v > 1.0 {
                return bad(f, "must be in (0, 1]");
            }
        }
        for (f, v) in [
            ("gpu.memory_gib", self.gpu.memory_bytes),
            ("gpu.peak_bf16_tflops", self.gpu.peak(Precision::Bf16)),
            ("gpu.hbm_tbps", self.gpu.hbm_bytes_per_s),
        ] {
            if !positive(v) {
                return bad(f, "must be positive");
            }
        }
        if !self.node_names.is_empty() && self.node_names.len() != self.nodes as usize {
            return bad("cluster.node_names", "need one name per node");
        }
        Ok(())
    }

    /// A cluster of `nodes` nodes of `gpus_per_node` GPUs with typical defaults: rail-optimized,
    /// 32 nodes per leaf, non-blocking, 400 Gbit/s per GPU.
    pub fn new(gpu: Gpu, gpus_per_node: u32, nodes: u32) -> Cluster {
        Cluster {
            name: format!("{}x{} {}", nodes, gpus_per_node, gpu.name),
            gpu,
            gpus_per_node,
            nodes,
            node_names: Vec::new(),
            nic_gbps: 400.0,
            shape: FabricShape::RailOptimized,
            nodes_per_leaf: 32,
            oversubscription: 1.0,
            spine_links_per_leaf: 32,
            link_latency_s: 1.0e-6,
            nvlink_latency_s: 0.5e-6,
            step_overhead_s: 3.0e-6,
            nvlink_efficiency: 0.8,
            network_efficiency: 0.9,
            ecmp: Ecmp::Expected,
        }
    }
}

/// A training job: what is trained and how, independent of how it is split.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Job {
    pub model: Model,
    /// Samples (sequences) per optimizer step.
    pub global_batch: u64,
    /// Default samples per micro-batch (a plan may override).
    pub micro_batch: u64,
    pub precision: Precision,
    pub optimizer: Optimizer,
    pub recompute: Recompute,
    pub zero: ZeroStage,
    /// Fused attention that never materialises the s x s score matrix.
    pub flash_attention: bool,
    /// Start the gradient reduction during the last backward pass.
    pub overlap_grad_reduce: bool,
    /// Hide MoE all-to-all under computation (DeepSeek DualPipe style).
    pub overlap_moe_alltoall: bool,
    /// Context parallelism exchanges K and V ring-style, block by block under the attention
    /// core (Megatron-Core's default), so only the excess over the attention time counts.
    /// `false`: all-gather based CP (Llama 3): K and V are all-gathered before the attention
    /// and dK, dV reduce-scattered after it, on the critical path.
    pub overlap_cp_kv: bool,
    /// Format of the activations cached for the backward pass; `None` keeps the 16-bit (fp32
    /// for FP32 jobs) counts. `Some(Fp8)`: DeepSeek-V3-style FP8 caching of the stored
    /// tensors, 1 byte per element. The fp32 logits of the output head are not affected.
    pub activation_precision: Option<Precision>,
    /// Format of the gradient buffer; `None` keeps the weights' element size. DeepSeek-V3 keeps
    /// gradients in fp32 for accumulation over micro-batches. Memory only: the gradient
    /// reduction is still costed at the weights' element size.
    pub gradient_precision: Option<Precision>,
    /// Format of the optimizer moments (Adam's m and v, the momentum buffer): fp32 by default,
    /// BF16 in DeepSeek-V3. The master weights stay fp32.
    pub moment_precision: Precision,
    /// Memory kept aside per GPU for the CUDA context, NCCL buffers and fragmentation, bytes.
    pub memory_reserve_bytes: f64,
}

impl Job {
    pub fn new(model: Model, global_batch: u64) -> Job {
        let mlp = matches!(model, Model::Mlp(_));
        Job {
            model,
            global_batch,
            micro_batch: 1,
            precision: if mlp {
                Precision::Fp32
            } else {
                Precision::Bf16
            },
            optimizer: if mlp {
                Optimizer::SgdMomentum
            } else {
                Optimizer::Adam
            },
            recompute: Recompute::None,
            zero: ZeroStage(0),
            flash_attention: true,
            overlap_grad_reduce: true,
            overlap_moe_alltoall: false,
            overlap_cp_kv: true,
            activation_precision: None,
            gradient_precision: None,
            moment_precision: Precision::Fp32,
            memory_reserve_bytes: if mlp { 0.0 } else { 2.0 * GIB },
        }
    }

    /// Optimizer-state bytes per parameter (K) with the job's moment format.
    pub fn optimizer_state_bytes(&self) -> f64 {
        self.optimizer
            .state_bytes_with_moments(self.precision, self.moment_precision.storage_bytes())
    }

    /// Factor on the stored-activation counts for the job's activation format.
    pub fn activation_scale(&self) -> f64 {
        // Transformer activation counts are in 16-bit bytes; MLP ones in the job's precision.
        let counted = match self.model {
            Model::Mlp(_) => self.precision.element_bytes(),
            Model::Transformer(_) => 2.0,
        };
        match self.activation_precision {
            Some(p) => p.storage_bytes() / counted,
            None => 1.0,
        }
    }

    pub fn tokens_per_step(&self) -> f64 {
        (self.global_batch * self.model.seq_len()) as f64
    }
}

/// How the job is split over the cluster. Rank layout (fastest first): TP, CP, DP (EP is the
/// fastest-varying part of DP), PP, as in Megatron-LM's default `tp-cp-ep-dp-pp` order.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Hash)]
pub struct Plan {
    pub dp: u32,
    pub tp: u32,
    pub pp: u32,
    /// Model chunks per pipeline GPU (only with the interleaved schedule; otherwise 1).
    pub virtual_stages: u32,
    /// Expert parallelism, carved out of DP.
    pub ep: u32,
    /// Context parallelism (sequence split for attention).
    pub cp: u32,
    /// Megatron sequence parallelism on top of TP (shards norms/dropout activations).
    pub sequence_parallel: bool,
    pub micro_batch: u64,
    pub zero: ZeroStage,
    pub recompute: Recompute,
    pub schedule: Schedule,
    pub algorithm: Algorithm,
}

impl Plan {
    /// A plan with the given degrees and the job's defaults for everything else.
    pub fn new(job: &Job, dp: u32, tp: u32, pp: u32) -> Plan {
        Plan {
            dp,
            tp,
            pp,
            virtual_stages: 1,
            ep: 1,
            cp: 1,
            sequence_parallel: tp > 1,
            micro_batch: job.micro_batch,
            zero: job.zero,
            recompute: job.recompute,
            schedule: Schedule::OneFOneB,
            algorithm: Algorithm::Ring,
        }
    }

    pub fn world(&self) -> u64 {
        // Saturating: degrees read from a file can be anything up to u32::MAX.
        [self.tp, self.pp, self.cp]
            .iter()
            .fold(self.dp as u64, |w, &d| w.saturating_mul(d as u64))
    }

    /// Micro-batches each pipeline runs per step.
    pub fn micro_batches(&self, job: &Job) -> u64 {
        job.global_batch / (self.dp as u64 * self.micro_batch)
    }

    /// Short one-line description, e.g. `dp8 tp8 pp16 v2 mb1 zero1 1f1b`.
    pub fn label(&self) -> String {
        let sched = match self.schedule {
            Schedule::Gpipe => "gpipe".to_string(),
            Schedule::OneFOneB => "1f1b".to_string(),
            Schedule::Interleaved => format!("interleaved-v{}", self.virtual_stages),
        };
        let mut s = format!("dp{} tp{} pp{}", self.dp, self.tp, self.pp);
        if self.ep > 1 {
            s += &format!(" ep{}", self.ep);
        }
        if self.cp > 1 {
            s += &format!(" cp{}", self.cp);
        }
        s += &format!(
            " mb{} zero{} {} recompute-{:?}",
            self.micro_batch, self.zero.0, sched, self.recompute
        );
        s.to_lowercase()
    }
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn tflops(x: f64) -> f64 {
    x * 1e12
}

/// Built-in GPU presets (dense peaks, SXM parts).
pub fn gpu_preset(name: &str) -> Result<Gpu, FabricError> {
    let g =
        |name: &str, mem_gib: f64, fp32: f64, bf16: f64, fp8: f64, hbm_tbs: f64, nvl_gbs: f64| {
            Gpu {
                name: name.to_string(),
                memory_bytes: mem_gib * GIB,
                peak_fp32: tflops(fp32),
                peak_bf16: tflops(bf16),
                peak_fp8: tflops(fp8),
                hbm_bytes_per_s: hbm_tbs * 1e12,
                nvlink_bytes_per_s: nvl_gbs * 1e9,
                matmul_efficiency: 0.75,
            }
        };
    Ok(match name.to_ascii_lowercase().as_str() {
        // V100 SXM2 32 GB: 125 TFLOP/s FP16 tensor, NVLink2 300 GB/s bidirectional.
        "v100" => g("V100", 32.0, 15.7, 125.0, 125.0, 0.9, 150.0),
        // A100 SXM 80 GB: 312 TFLOP/s BF16, NVLink3 600 GB/s bidirectional.
        "a100" => g("A100", 80.0, 19.5, 312.0, 312.0, 2.039, 300.0),
        // H100 SXM: 989 TFLOP/s BF16 dense, 1979 FP8, NVLink4 900 GB/s bidirectional.
        "h100" => g("H100", 80.0, 67.0, 989.0, 1979.0, 3.35, 450.0),
        // H800: H100 compute with NVLink cut to 400 GB/s bidirectional.
        "h800" => g("H800", 80.0, 67.0, 989.0, 1979.0, 3.35, 200.0),
        // H200: H100 compute, 141 GB HBM3e at 4.8 TB/s.
        "h200" => g("H200", 141e9 / GIB, 67.0, 989.0, 1979.0, 4.8, 450.0),
        // B200 (HGX): 2.25 PFLOP/s BF16 dense, 4.5 FP8, 180 GB, NVLink5 1.8 TB/s bidirectional.
        "b200" => g("B200", 180e9 / GIB, 75.0, 2250.0, 4500.0, 8.0, 900.0),
        _ => {
            return Err(FabricError::UnknownPreset {
                kind: "gpu",
                name: name.to_string(),
                known: GPU_PRESETS.join(", "),
            })
        }
    })
}

pub const GPU_PRESETS: &[&str] = &["v100", "a100", "h100", "h800", "h200", "b200"];
pub const MODEL_PRESETS: &[&str] = &[
    "mlp-small",
    "gpt3-175b",
    "llama-70b",
    "llama3-405b",
    "deepseek-v3",
];

fn gpt(name: &str, layers: u64, hidden: u64, heads: u64, seq: u64, vocab: u64) -> Transformer {
    Transformer {
        name: name.to_string(),
        layers,
        hidden,
        attention: Attention::Mha {
            heads,
            kv_heads: heads,
            head_dim: hidden / heads,
        },
        ffn_hidden: 4 * hidden,
        gated_ffn: false,
        vocab,
        seq_len: seq,
        tied_embeddings: true,
        moe: None,
    }
}

/// A GPT-style model as configured in Megatron-LM's scaling study (vocabulary 51,200,
/// sequence 2,048, FFN 4h, tied embeddings).
pub fn megatron_gpt(layers: u64, hidden: u64, heads: u64) -> Model {
    Model::Transformer(gpt(
        &format!("gpt-l{layers}-h{hidden}"),
        layers,
        hidden,
        heads,
        2048,
        51200,
    ))
}

fn llama(name: &str, layers: u64, hidden: u64, heads: u64, ffn: u64) -> Transformer {
    Transformer {
        name: name.to_string(),
        layers,
        hidden,
        attention: Attention::Mha {
            heads,
            kv_heads: 8,
            head_dim: 128,
        },
        ffn_hidden: ffn,
        gated_ffn: true,
        vocab: 128256,
        seq_len: 8192,
        tied_embeddings: false,
        moe: None,
    }
}

/// Built-in model presets.
pub fn model_preset(name: &str) -> Result<Model, FabricError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        // Worked example: three hidden layers and an output layer, all 1,024 wide.
        "mlp-small" => Model::Mlp(Mlp {
            name: "mlp-small".to_string(),
            inputs: 1024,
            hidden: vec![1024, 1024, 1024],
            outputs: 1024,
        }),
        "gpt3-175b" => Model::Transformer(gpt("gpt3-175b", 96, 12288, 96, 2048, 51200)),
        "llama-70b" => Model::Transformer(llama("llama-70b", 80, 8192, 64, 28672)),
        "llama3-405b" => Model::Transformer(llama("llama3-405b", 126, 16384, 128, 53248)),
        "deepseek-v3" => Model::Transformer(Transformer {
            name: "deepseek-v3".to_string(),
            layers: 61,
            hidden: 7168,
            attention: Attention::Mla {
                heads: 128,
                q_lora_rank: 1536,
                kv_lora_rank: 512,
                qk_nope_dim: 128,
                qk_rope_dim: 64,
                v_head_dim: 128,
            },
            ffn_hidden: 18432,
            gated_ffn: true,
            vocab: 129280,
            seq_len: 4096,
            tied_embeddings: false,
            moe: Some(Moe {
                experts: 256,
                active_experts: 8,
                shared_experts: 1,
                expert_ffn_hidden: 2048,
                dense_layers: 3,
            }),
        }),
        _ => {
            return Err(FabricError::UnknownPreset {
                kind: "model",
                name: name.to_string(),
                known: MODEL_PRESETS.join(", "),
            })
        }
    })
}
