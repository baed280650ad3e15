//! Per-layer parameter, FLOP and activation counts derived from the model shape.
//!
//! Conventions: FLOPs count 2 per multiply-accumulate; activation bytes follow Korthikanti et al.
//! 2022 ("Reducing Activation Recomputation in Large Transformer Models"): 16-bit tensors, 1-byte
//! dropout masks, counted per token of a micro-batch.

use serde::Serialize;

use crate::spec::{Attention, Model, Precision, Transformer};

/// What a pipeline unit is, so placement and reports can name it.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Embedding,
    Transformer,
    MoeTransformer,
    Head,
    Dense,
}

/// Costs of one block, unsplit (as if on one GPU).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BlockCost {
    pub kind: BlockKind,
    /// Parameters split by tensor parallelism (matrices, column biases).
    pub params_tp: f64,
    /// Parameters every TP rank keeps whole (norms, row biases).
    pub params_rep: f64,
    /// Routed-expert parameters, split by EP x TP.
    pub params_expert: f64,
    /// Matmul FLOPs per token, forward pass, counting only the experts a token uses.
    pub flops_fwd_tok: f64,
    /// Attention-core FLOPs (scores and weighted values) per token, forward.
    pub attn_fwd_tok: f64,
    /// Stored activation bytes per token split by TP.
    pub act_split_tok: f64,
    /// Stored activation bytes per token kept whole by each TP rank (split only with SP).
    pub act_rep_tok: f64,
    /// Attention score/softmax bytes per token (split by TP; absent with fused attention).
    pub act_core_tok: f64,
    /// Bytes per token of the block input (all that full recomputation keeps).
    pub input_tok: f64,
    /// TP all-reduces of the hidden state per forward pass.
    pub tp_allreduces: u32,
    /// Bytes per token each MoE all-to-all moves (dispatch or combine), 0 for dense blocks.
    pub alltoall_tok: f64,
    /// K plus V bytes per token that context parallelism exchanges.
    pub kv_tok: f64,
    /// Hidden-state bytes per token (TP all-reduce and pipeline send size).
    pub hidden_tok: f64,
}

impl BlockCost {
    pub fn params(&self) -> f64 {
        self.params_tp + self.params_rep + self.params_expert
    }

    fn zero(kind: BlockKind) -> BlockCost {
        BlockCost {
            kind,
            params_tp: 0.0,
            params_rep: 0.0,
            params_expert: 0.0,
            flops_fwd_tok: 0.0,
            attn_fwd_tok: 0.0,
            act_split_tok: 0.0,
            act_rep_tok: 0.0,
            act_core_tok: 0.0,
            input_tok: 0.0,
            tp_allreduces: 0,
            alltoall_tok: 0.0,
            kv_tok: 0.0,
            hidden_tok: 0.0,
        }
    }
}

/// The model as a sequence of blocks: `pre` (embedding, placed on the first pipeline stage),
/// `layers` (split over pipeline stages), `post` (output head, on the last stage).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelCosts {
    pub pre: BlockCost,
    pub layers: Vec<BlockCost>,
    pub post: BlockCost,
}

impl ModelCosts {
    pub fn total_params(&self) -> f64 {
        self.pre.params() + self.post.params() + self.layers.iter().map(|b| b.params()).sum::<f64>()
    }

    /// Parameters a token actually multiplies through (MoE: shared + top-k experts only).
    pub fn active_params(&self, model: &Model) -> f64 {
        let mut p = self.total_params();
        if let Model::Transformer(t) = model {
            if let Some(moe) = &t.moe {
                let frac = moe.active_experts as f64 / moe.experts as f64;
                for b in &self.layers {
                    p -= b.params_expert * (1.0 - frac);
                }
            }
        }
        p
    }

    /// Model FLOPs per token for forward + backward (3x forward), no recomputation.
    pub fn model_flops_per_token(&self) -> f64 {
        let fwd: f64 = [&self.pre, &self.post]
            .into_iter()
            .chain(self.layers.iter())
            .map(|b| b.flops_fwd_tok + b.attn_fwd_tok)
            .sum();
        3.0 * fwd
    }
}

/// Count the model's blocks.
pub fn model_costs(model: &Model, precision: Precision) -> ModelCosts {
    match model {
        Model::Transformer(t) => transformer_costs(t),
        Model::Mlp(m) => {
            let eb = precision.element_bytes();
            let mut widths = vec![m.inputs];
            widths.extend(&m.hidden);
            widths.push(m.outputs);
            let mut pre = BlockCost::zero(BlockKind::Embedding);
            // The input samples stay on the first stage for the first layer's weight gradient.
            pre.act_split_tok = m.inputs as f64 * eb;
            pre.hidden_tok = m.inputs as f64 * eb;
            let layers = widths
                .windows(2)
                .map(|w| {
                    let (i, o) = (w[0] as f64, w[1] as f64);
                    let mut b = BlockCost::zero(BlockKind::Dense);
                    b.params_tp = i * o + o;
                    b.flops_fwd_tok = 2.0 * i * o;
                    // Weighted sums z and activations a of every sample are kept for backward.
                    b.act_split_tok = 2.0 * o * eb;
                    b.input_tok = i * eb;
                    b.hidden_tok = o * eb;
                    b
                })
                .collect();
            ModelCosts {
                pre,
                layers,
                post: BlockCost::zero(BlockKind::Head),
            }
        }
    }
}

/// Query, key, value and attention-output widths.
fn attention_dims(a: &Attention) -> (f64, f64, f64, f64) {
    match *a {
        Attention::Mha {
            heads,
            kv_heads,
            head_dim,
        } => {
            let q = (heads * head_dim) as f64;
            let kv = (kv_heads * head_dim) as f64;
            (q, kv, kv, q)
        }
        Attention::Mla {
            heads,
            qk_nope_dim,
            qk_rope_dim,
            v_head_dim,
            ..
        } => {
            let qk = (heads * (qk_nope_dim + qk_rope_dim)) as f64;
            let v = (heads * v_head_dim) as f64;
            (qk, qk, v, v)
        }
    }
}

fn attention_params(a: &Attention, h: f64) -> f64 {
    match *a {
        Attention::Mha { .. } => {
            let (q, k, v, o) = attention_dims(a);
            h * (q + k + v) + o * h
        }
        Attention::Mla {
            heads,
            q_lora_rank,
            kv_lora_rank,
            qk_nope_dim,
            qk_rope_dim,
            v_head_dim,
        } => {
            let (heads, ql, kvl) = (heads as f64, q_lora_rank as f64, kv_lora_rank as f64);
            let (nope, rope, vd) = (qk_nope_dim as f64, qk_rope_dim as f64, v_head_dim as f64);
            h * ql
                + ql * heads * (nope + rope)
                + h * (kvl + rope)
                + kvl * heads * (nope + vd)
                + heads * vd * h
                + ql
                + kvl
        }
    }
}

fn transformer_costs(t: &Transformer) -> ModelCosts {
    let h = t.hidden as f64;
    let s = t.seq_len as f64;
    let v = t.vocab as f64;
    let f = t.ffn_hidden as f64;
    // GPT-style models carry biases, LayerNorm with bias, dropout and learned positions;
    // Llama/DeepSeek-style (gated FFN) ones use RMSNorm, no biases, no dropout, rotary positions.
    let gpt_style = !t.gated_ffn;
    let norm = if gpt_style { 2.0 * h } else { h };
    let masks = if gpt_style { 2.0 * h } else { 0.0 };
    let (dq, dk, dv, dout) = attention_dims(&t.attention);
    let heads = t.attention.heads() as f64;
    let attn_p = attention_params(&t.attention, h);
    let attn_bias_col = if gpt_style { dq + dk + dv } else { 0.0 };
    let attn_bias_row = if gpt_style { h } else { 0.0 };
    let ffn_mats = if t.gated_ffn { 3.0 } else { 2.0 };
    let ffn_inner_act = if t.gated_ffn { 6.0 } else { 4.0 };

    let mut layers = Vec::with_capacity(t.layers as usize);
    for l in 0..t.layers {
        let moe = t.moe.as_ref().filter(|m| l >= m.dense_layers);
        let mut b = BlockCost::zero(if moe.is_some() {
            BlockKind::MoeTransformer
        } else {
            BlockKind::Transformer
        });
        b.params_rep = 2.0 * norm + attn_bias_row;
        b.params_tp = attn_p + attn_bias_col;
        b.flops_fwd_tok = 2.0 * attn_p;
        // QK^T and softmax(QK^T)V over the full sequence (Megatron's counting, no causal halving).
        b.attn_fwd_tok = 2.0 * s * dq + 2.0 * s * dout;
        b.act_rep_tok = 2.0 * h + 2.0 * h + 2.0 * h + 2.0 * h + masks;
        b.act_split_tok = 2.0 * (dq + dk + dv + dout);
        b.act_core_tok = if gpt_style {
            5.0 * heads * s
        } else {
            4.0 * heads * s
        };
        b.input_tok = 2.0 * h;
        b.tp_allreduces = 2;
        b.kv_tok = 2.0 * (dk + dv);
        b.hidden_tok = 2.0 * h;
        match moe {
            None => {
                b.params_tp += ffn_mats * h * f + if gpt_style { f } else { 0.0 };
                b.params_rep += if gpt_style { h } else { 0.0 };
                b.flops_fwd_tok += 2.0 * ffn_mats * h * f;
                b.act_split_tok += ffn_inner_act * f;
            }
            Some(m) => {
                let fe = m.expert_ffn_hidden as f64;
                let expert = ffn_mats * h * fe;
                let k = m.active_experts as f64;
                let shared = m.shared_experts as f64;
                b.params_expert = m.experts as f64 * expert;
                b.params_tp += shared * expert;
                // Router weights: one row per expert.
                b.params_rep += m.experts as f64 * h;
                b.flops_fwd_tok += 2.0 * (k + shared) * expert + 2.0 * m.experts as f64 * h;
                b.act_split_tok += (k + shared) * (2.0 * h + ffn_inner_act * fe);
                b.alltoall_tok = k * 2.0 * h;
            }
        }
        layers.push(b);
    }
    let mut pre = BlockCost::zero(BlockKind::Embedding);
    pre.params_tp = v * h;
    pre.params_rep = if gpt_style { s * h } else { 0.0 };
    pre.hidden_tok = 2.0 * h;
    let mut post = BlockCost::zero(BlockKind::Head);
    post.params_rep = norm;
    if !t.tied_embeddings {
        post.params_tp = v * h;
    }
    post.flops_fwd_tok = 2.0 * h * v;
    // fp32 logits for the cross-entropy, split over TP (vocabulary-parallel).
    post.act_split_tok = 4.0 * v;
    post.hidden_tok = 2.0 * h;
    ModelCosts { pre, layers, post }
}
