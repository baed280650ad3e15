//! AI training fabric model: how a training job splits over a GPU cluster and what that costs.
//!
//! Owns: model/GPU/cluster/job/plan inputs and their presets, per-GPU memory (ZeRO, activation
//! recomputation, pipeline in-flight micro-batches), FLOPs, pipeline schedules and their
//! timelines, collectives costed on the physical links (NVLink, NIC, leaf/spine with
//! oversubscription and ECMP collisions), plan evaluation and plan search, and an SVG Gantt
//! renderer, and loading scenario files (YAML via `nettwin_model::yaml`). Does not own: writing
//! files, printing or argument parsing (the `nettwin` binary), nor the general network topology
//! (`nettwin-model`); the fabric here is a two-tier leaf-spine built from a handful of cluster
//! parameters.
//!
//! Entry points: [`evaluate()`] for one [`Plan`], [`search()`] to rank every valid plan, and
//! [`gantt::render_svg`] for a timeline chart. See `docs/fabric.md` for the formulas.

pub mod costs;
pub mod evaluate;
pub mod gantt;
pub mod load;
pub mod net;
pub mod schedule;
pub mod search;
pub mod spec;
pub mod worked;

pub use evaluate::{evaluate, Evaluator, Report};
pub use load::{load_file, load_str, LoadError, Scenario};
pub use search::{search, search_with, RankedPlan, SearchOptions, SearchOutcome};
pub use spec::{
    gpu_preset, megatron_gpt, model_preset, Algorithm, Attention, Cluster, Ecmp, FabricShape, Gpu,
    Job, Mlp, Model, Moe, Optimizer, Plan, Precision, Recompute, Schedule, Transformer, ZeroStage,
    GPU_PRESETS, MODEL_PRESETS,
};

/// Errors from building inputs or evaluating a plan.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FabricError {
    #[error("unknown {kind} preset `{name}` (known: {known})")]
    UnknownPreset {
        kind: &'static str,
        name: String,
        known: String,
    },
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("invalid plan {plan}: {reason}")]
    InvalidPlan { plan: String, reason: String },
    #[error("internal error: {0}")]
    Internal(String),
}
