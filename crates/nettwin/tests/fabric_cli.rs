//! `nettwin fabric` as a user runs it. The numbers checked here are the hand-worked values that
//! `crates/fabric/tests/closed_form.rs` asserts on the library, so a rendering bug (wrong field,
//! unit or rounding) in the command shows up as a mismatch.

mod common;
use common::*;

const MLP_A: &str = "examples/fabric/a-mlp-pipeline.yaml";
const SEARCH_70B: &str = "examples/fabric/search-70b-1024-h100.yaml";

/// One 1024x1024 layer with biases: 1,049,600 fp32 numbers.
const LAYER_PARAMS: f64 = 1024.0 * 1024.0 + 1024.0;

/// The text block that starts with `title` (a line of its own) up to the next blank line.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = text.lines();
    assert!(
        lines.any(|l| l.starts_with(title)),
        "no section `{title}` in:\n{text}"
    );
    lines.take_while(|l| !l.trim().is_empty()).collect()
}

fn num(cell: &str) -> f64 {
    cell.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn plan_mlp_pipeline_prints_the_hand_worked_numbers() {
    let o = nettwin(&["fabric", "plan", MLP_A]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "mlp-small on two nodes A and B, two A100 each: dp1 tp1 pp4 mb32 zero0 gpipe recompute-none\n"
        ),
        "{out}"
    );
    // 3 passes x 2 FLOPs per MAC x 4 layers x 1024^2 MACs x 128 samples.
    let flops = 3.0 * 2.0 * 4.0 * 1024.0 * 1024.0 * 128.0;
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("model FLOPs/step"))
        .expect("FLOPs line");
    assert_eq!(
        num(line.split_whitespace().nth(2).unwrap()),
        flops,
        "{line}"
    );
    assert!(out.contains("fits: peak"), "{out}");

    // Per-layer items, bytes: layer l on GPU l.
    let rows = section(&out, "Memory per layer");
    let header = cells(rows[0]);
    assert_eq!(
        header,
        [
            "layer",
            "shape",
            "GPUs",
            "weights",
            "weighted sums",
            "activations",
            "errors",
            "local grads",
            "remote grads",
            "learning rate",
            "weight adjustments"
        ]
    );
    let layers: Vec<Vec<&str>> = rows[1..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with('('))
        .map(|l| cells(l))
        .collect();
    assert_eq!(layers.len(), 4, "{out}");
    for (i, c) in layers.iter().enumerate() {
        assert_eq!(c[0], (i + 1).to_string());
        assert_eq!(c[1], "1024x1024");
        assert_eq!(c[2], ["A1", "A2", "B1", "B2"][i]);
        let vals: Vec<f64> = c[3..].iter().map(|x| num(x)).collect();
        assert_eq!(
            vals,
            [
                LAYER_PARAMS * 4.0,        // weights
                4.0 * 32.0 * 1024.0 * 4.0, // z for 4 micro-batches in flight (GPipe)
                4.0 * 32.0 * 1024.0 * 4.0, // activations a
                32.0 * 1024.0 * 4.0,       // errors of one micro-batch
                LAYER_PARAMS * 4.0,        // local gradients
                0.0,                       // no data parallelism
                4.0,                       // one fp32 learning rate
                LAYER_PARAMS * 4.0,        // momentum buffer
            ],
            "layer {}",
            i + 1
        );
    }

    // Stage memory: stage 0 keeps z, a and the input for all 4 micro-batches.
    let rows = section(&out, "Memory per GPU (GiB)");
    let s0 = cells(rows[1]);
    assert_eq!(s0[0], "0");
    let gib = 1024.0f64.powi(3);
    let states = num(s0[1]) + num(s0[2]) + num(s0[3]);
    assert!(
        (states - 3.0 * LAYER_PARAMS * 4.0 / gib).abs() < 2e-6,
        "{s0:?}"
    );
    assert!((num(s0[4]) - 4.0 * 32.0 * 3072.0 * 4.0 / gib).abs() < 1e-6);
    assert_eq!(s0[6], "4", "in-flight micro-batches under GPipe");

    // Pipeline traffic: each boundary moves 4 micro-batches x 32 x 1024 fp32 each way; A2-B1
    // crosses the NICs via PXN, the other hops are NVLink.
    let msg = 32.0 * 1024.0 * 4.0;
    let rows = section(&out, "Traffic per link class");
    let class = |name: &str| {
        rows.iter()
            .map(|l| cells(l))
            .find(|c| c[0] == name)
            .map(|c| num(c[2]))
            .unwrap_or(0.0)
    };
    assert_eq!(class("NvlinkUp"), (2.0 * 2.0 + 2.0) * 4.0 * msg);
    assert_eq!(class("NicUp"), 2.0 * 4.0 * msg);
    assert_eq!(class("LeafToSpine"), 0.0);

    // Placement: one layer per stage on A1, A2, B1, B2.
    let rows = section(&out, "Placement");
    for (i, gpu) in ["A1", "A2", "B1", "B2"].iter().enumerate() {
        let c = cells(rows[i + 1]);
        assert_eq!(c[0], i.to_string());
        assert!(c[1].contains(&(i + 1).to_string()), "{c:?}");
        assert_eq!(c[2], *gpu);
    }
    for title in [
        "Groups",
        "Collectives",
        "Busiest links",
        "ECMP on the spine",
    ] {
        assert!(out.contains(&format!("\n{title}")), "no {title}:\n{out}");
    }
}

#[test]
fn plan_svg_has_a_row_per_gpu_and_is_written_whole() {
    let dir = TempDir::new("svg");
    let svg_path = dir.dir().join("a.svg");
    let o = nettwin(&["fabric", "plan", MLP_A, "--svg", svg_path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&svg_path).expect("svg written");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    for (stage, gpu) in ["A1", "A2", "B1", "B2"].iter().enumerate() {
        assert!(
            svg.contains(&format!(">{gpu} (stage {stage})</text>")),
            "no row for {gpu}"
        );
    }
    // 4 forwards and 4 backwards per GPU.
    assert_eq!(svg.matches("<title>Forward micro-batch").count(), 16);
    assert_eq!(svg.matches("<title>Backward micro-batch").count(), 16);
    // Nothing left behind but the chart (the temp file was renamed).
    let names: Vec<_> = std::fs::read_dir(dir.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.svg"]);
}

#[test]
fn plan_json_has_the_summary_and_agrees_with_itself() {
    let o = nettwin(&["fabric", "plan", MLP_A, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let s = &v["summary"];
    for key in [
        "step_time_s",
        "tokens_per_s",
        "mfu",
        "bubble_fraction",
        "peak_memory_bytes",
        "model_flops_per_step",
    ] {
        assert!(s[key].is_number(), "summary.{key}: {s}");
    }
    assert_eq!(s["fits"], true);
    assert_eq!(s["gpus"], 4);
    assert_eq!(s["micro_batches"], 4);
    assert_eq!(
        s["model_flops_per_step"].as_f64().unwrap(),
        3.0 * 2.0 * 4.0 * 1024.0 * 1024.0 * 128.0
    );
    // 128 samples of one token per step.
    let step = s["step_time_s"].as_f64().unwrap();
    let tps = s["tokens_per_s"].as_f64().unwrap();
    assert!((tps * step - 128.0).abs() < 1e-9, "{tps} x {step}");
    // The step ends with the last event of any GPU's timeline.
    let last = v["timelines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["events"].as_array().unwrap())
        .map(|e| e["end_s"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        (last - step).abs() <= 1e-12 * step.max(1.0),
        "{last} vs {step}"
    );
    assert_eq!(v["plan"]["pp"], 4);
    assert_eq!(v["file"], MLP_A);
    assert!(v["fit"].as_str().unwrap().starts_with("fits"));
    let layers = v["layer_memory"].as_array().unwrap();
    assert_eq!(layers.len(), 4);
    assert_eq!(layers[2]["gpus"][0], "B1");
    assert_eq!(layers[2]["weights"].as_f64().unwrap(), LAYER_PARAMS * 4.0);
}

#[test]
fn plan_flags_override_the_file_and_dp_takes_the_rest() {
    // The same four GPUs, data parallel: --pp 1 leaves dp = 4.
    let o = nettwin(&[
        "fabric",
        "plan",
        MLP_A,
        "--pp",
        "1",
        "--schedule",
        "1f1b",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["dp"], 4);
    assert_eq!(v["plan"]["pp"], 1);
    // Every GPU now holds all four layers, and the peers' gradients arrive for each.
    let layers = v["layer_memory"].as_array().unwrap();
    assert_eq!(layers.len(), 4);
    for l in layers {
        assert_eq!(l["gpus"].as_array().unwrap().len(), 4);
        assert_eq!(l["remote_gradients"].as_f64().unwrap(), LAYER_PARAMS * 4.0);
    }
}

#[test]
fn plan_from_presets_without_a_file() {
    let o = nettwin(&[
        "fabric",
        "plan",
        "--model",
        "llama-70b",
        "--gpu",
        "h100",
        "--gpus",
        "64",
        "--global-batch",
        "64",
        "--tp",
        "8",
        "--pp",
        "4",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["dp"], 2);
    assert_eq!(v["summary"]["gpus"], 64);
    assert_eq!(v["model"], "llama-70b");
    assert_eq!(v["memory"].as_array().unwrap().len(), 4);
    assert_eq!(v["file"], serde_json::Value::Null);
}

#[test]
fn plan_that_cannot_run_exits_2_with_the_reason() {
    // 3 does not divide the 4 GPUs.
    let o = nettwin(&["fabric", "plan", MLP_A, "--pp", "3"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not divide the cluster's 4 GPUs"),
        "{}",
        stderr(&o)
    );
    // An MLP has no tensor parallelism.
    let o = nettwin(&["fabric", "plan", MLP_A, "--tp", "2", "--pp", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("error: {MLP_A}: invalid plan"))
            && stderr(&o).contains("only data and pipeline parallelism"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn broken_scenario_exits_2_with_every_error_at_file_line_col() {
    let dir = TempDir::new("broken");
    let file = dir.dir().join("bad.yaml");
    std::fs::write(
        &file,
        "model: llama-7b\ngpu:\n  preset: h100\n  memroy_gib: 80\ncluster:\n  gpus_per_node: 8\n  nodes: 2\n  shape: torus\njob:\n  global_batch: 16\n",
    )
    .unwrap();
    let o = nettwin(&["fabric", "plan", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let f = file.display();
    assert!(err.contains(&format!("error: {f}:1:8: ")), "{err}");
    assert!(err.contains("unknown model preset `llama-7b`"), "{err}");
    assert!(err.contains(&format!("error: {f}:4:3: ")), "{err}");
    assert!(err.contains("memory_gib"), "did-you-mean hint: {err}");
    assert!(err.contains(&format!("error: {f}:8:10: ")), "{err}");
    assert!(
        err.contains("8 |   shape: torus\n  |          ^\n"),
        "snippet:\n{err}"
    );
    assert!(err.contains("3 errors in"), "{err}");
    assert!(err.trim_end().ends_with(&format!("in {f}")), "{err}");
    assert!(stdout(&o).is_empty());

    let o = nettwin(&["fabric", "search", "no/such/scenario.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: cannot read no/such/scenario.yaml: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn search_lists_ranked_plans_best_first() {
    let o = nettwin(&["fabric", "search", SEARCH_70B, "--top", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // Counts published in docs/fabric.md for this case.
    assert!(
        out.contains("1136 candidate plans, 171 fit in 80.0 GiB"),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("rank"))
        .expect("table header");
    let header = cells(lines[head]);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines[head + 1..].iter().map(|l| cells(l)).collect();
    assert_eq!(rows.len(), 5, "{out}");
    let mut prev = f64::INFINITY;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), header.len(), "{r:?}");
        assert_eq!(r[0], (i + 1).to_string());
        let deg = |c| num(r[col(c)]);
        assert_eq!(
            deg("DP") * deg("TP") * deg("PP") * deg("CP"),
            1024.0,
            "{r:?}"
        );
        let tps = num(r[col("tokens/s")]);
        assert!(tps <= prev, "rank {} has {tps} after {prev}", i + 1);
        prev = tps;
        assert_eq!(r[col("fits")], "yes");
        assert!(num(r[col("mem/GPU GiB")]) <= 80.0);
    }
}

#[test]
fn search_json_is_consistent() {
    let o = nettwin(&["fabric", "search", SEARCH_70B, "--top", "3", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["candidates"], 1136);
    assert_eq!(v["fitting"], 171);
    let ranked = v["ranked"].as_array().unwrap();
    assert_eq!(ranked.len(), 3);
    for (i, r) in ranked.iter().enumerate() {
        assert_eq!(r["rank"], i + 1);
        // 1,024 sequences of 8,192 tokens per step.
        let tokens = r["tokens_per_s"].as_f64().unwrap() * r["step_time_s"].as_f64().unwrap();
        assert!((tokens / (1024.0 * 8192.0) - 1.0).abs() < 1e-9, "{tokens}");
        assert!(r["peak_memory_bytes"].as_f64().unwrap() <= 80.0 * 1024f64.powi(3));
    }
}

#[test]
fn sizes_beyond_what_can_be_simulated_exit_2_before_any_work() {
    // 4,294,967,288 GPUs used to allocate hundreds of GB and abort.
    let o = nettwin(&[
        "fabric",
        "search",
        "--model",
        "llama-70b",
        "--gpu",
        "h100",
        "--gpus",
        "4294967288",
        "--global-batch",
        "1024",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is more than the 1048576 GPUs nettwin models"),
        "{}",
        stderr(&o)
    );
    // A billion micro-batches per step: memory grew with each one.
    let o = nettwin(&[
        "fabric",
        "plan",
        "--model",
        "llama-70b",
        "--gpu",
        "h100",
        "--gpus",
        "8",
        "--global-batch",
        "1000000000",
        "--tp",
        "8",
        "--pp",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1000000000 micro-batches per step is more than the 65536"),
        "{}",
        stderr(&o)
    );
}
