//! Scenario files: the worked examples load to the same inputs as the built-in ones, and
//! mistakes are reported with file, line, column and key.

use nettwin_fabric::*;

fn example(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/fabric")
        .join(name)
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn worked_example_files_match_the_builtin_examples() {
    for (file, f) in [
        (
            "a-mlp-pipeline.yaml",
            worked::example_a as fn() -> Result<(Job, Cluster, Plan), FabricError>,
        ),
        ("b-mlp-data-parallel.yaml", worked::example_b),
        ("c-llama70b-2048-h100.yaml", worked::example_c_dense),
        ("c-deepseek-v3-2048-h800.yaml", worked::example_c_moe),
    ] {
        let s = load_file(&example(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (job, cluster, plan) = f().unwrap();
        assert_eq!(json(&s.job), json(&job), "{file} job");
        let mut c = s.cluster.clone();
        c.name = cluster.name.clone();
        assert_eq!(json(&c), json(&cluster), "{file} cluster");
        assert_eq!(s.plan.as_ref(), Some(&plan), "{file} plan");
    }
    let s = load_file(&example("search-70b-1024-h100.yaml")).unwrap();
    let (job, cluster) = search::benchmark_case().unwrap();
    assert_eq!(json(&s.job), json(&job));
    assert_eq!(json(&s.cluster), json(&cluster));
    assert!(s.plan.is_none());
    assert_eq!(json(&s.search), json(&SearchOptions::for_job(&job)));
}

#[test]
fn custom_model_and_gpu_mappings() {
    let text = "\
model:
  kind: transformer
  layers: 4
  hidden: 256
  heads: 8
  ffn_hidden: 1024
  vocab: 1000
  seq_len: 128
gpu:
  preset: h100
  memory_gib: 40
cluster: {gpus_per_node: 4, nodes: 1}
job: {global_batch: 8}
plan: {dp: 2, tp: 2}
";
    let s = load_str("t.yaml", text).unwrap();
    let Model::Transformer(t) = &s.job.model else {
        panic!()
    };
    assert_eq!(
        t.attention,
        Attention::Mha {
            heads: 8,
            kv_heads: 8,
            head_dim: 32
        }
    );
    assert_eq!(s.cluster.gpu.memory_bytes, 40.0 * 1024.0 * 1024.0 * 1024.0);
    assert_eq!(s.cluster.gpu.peak_bf16, 989e12);
    let r = evaluate(&s.job, &s.cluster, s.plan.as_ref().unwrap()).unwrap();
    assert!(r.summary.step_time_s > 0.0);
}

#[test]
fn all_mistakes_are_reported_with_their_place() {
    let text = "\
model: llama-70b
gpu: h100
cluster:
  gpus_per_nod: 8
  nodes: 4
  oversubscription: 0.5
job:
  global_batch: 64
  precision: fp4
plan:
  dp: 2
  schedule: zigzag
";
    let err = load_str("bad.yaml", text).unwrap_err();
    let LoadError::Invalid(d) = err else {
        panic!("expected diagnostics")
    };
    let all = d.to_string();
    assert!(
        all.contains("bad.yaml:4:3: unknown key `gpus_per_nod` (did you mean `gpus_per_node`?)"),
        "{all}"
    );
    assert!(
        all.contains("bad.yaml:9:14: unknown precision `fp4`"),
        "{all}"
    );
    assert!(all.contains("missing `gpus_per_node`"), "{all}");
    // Three sections broken independently: every error is there at once.
    assert!(d.len() >= 3, "{all}");
    let err = load_str("s.yaml", "model: [1, 2\n").unwrap_err();
    assert!(err.to_string().starts_with("s.yaml:"), "{err}");
    let err = load_str(
        "p.yaml",
        "model: gpt9\ngpu: h100\ncluster: {gpus_per_node: 8, nodes: 1}\njob: {global_batch: 8}\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("p.yaml:1:8: unknown model preset `gpt9`"),
        "{err}"
    );
    let err = load_str("o.yaml", "model: mlp-small\ngpu: h100\ncluster:\n  gpus_per_node: 8\n  nodes: 1\n  oversubscription: 0.5\njob: {global_batch: 8}\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("o.yaml:6:21: must be >= 1 (at `cluster.oversubscription`)"),
        "{err}"
    );
}
