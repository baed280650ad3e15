//! `cargo run --example worked -- FILE.yaml [OUT.svg]`: evaluate a scenario file's plan and
//! print a text report (the lead's `nettwin fabric plan` is the real front end).
use std::io::Write;

fn gib(b: f64) -> String {
    format!("{:.3} GiB", b / (1u64 << 30) as f64)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().ok_or("usage: worked FILE.yaml [OUT.svg]")?;
    let s = nettwin_fabric::load_file(std::path::Path::new(&file))?;
    let plan = s.plan.clone().ok_or("the file has no plan")?;
    let r = nettwin_fabric::evaluate(&s.job, &s.cluster, &plan)?;
    let m = &r.summary;
    println!("{} on {}: {}", r.model, r.cluster, r.plan_label);
    println!(
        "step {:.6} s, pipeline {:.6} s, bubble {:.3}, {:.0} tokens/s ({:.1}/GPU), MFU {:.3}, HFU {:.3}, {:.1} model TFLOP/s/GPU",
        m.step_time_s, m.pipeline_time_s, m.bubble_fraction, m.tokens_per_s, m.tokens_per_s_per_gpu, m.mfu, m.hfu, m.model_tflops_per_gpu
    );
    println!(
        "params {:.3e} (active {:.3e}); peak memory {} of {}; fits {}",
        m.total_params,
        m.active_params,
        gib(m.peak_memory_bytes),
        gib(m.gpu_memory_bytes),
        m.fits
    );
    println!(
        "ECMP step time: ideal {:.6} s, expected {:.6} s, worst {:.6} s",
        r.ecmp.ideal_s, r.ecmp.expected_s, r.ecmp.worst_s
    );
    for st in r.memory.iter().take(4) {
        let x = &st.memory;
        println!(
            "stage {}: weights {} grads {} optimizer {} activations {} ({} per micro-batch x {} in flight) recompute buffer {} reserve {} total {}",
            st.stage, gib(x.weights), gib(x.gradients), gib(x.optimizer_states), gib(x.activations), gib(x.activations_per_micro_batch), x.in_flight, gib(x.recompute_buffer), gib(x.reserve), gib(x.total)
        );
    }
    for l in &r.layer_memory {
        println!(
            "layer {} on {:?}: weights {} B, weighted sums {} B, activations {} B, errors {} B, local gradients {} B, remote gradients {} B, learning rate {} B, weight adjustments {} B",
            l.layer, l.gpus, l.weights, l.weighted_sums, l.activations, l.errors, l.local_gradients, l.remote_gradients, l.learning_rate, l.weight_adjustments
        );
    }
    for g in &r.placement.groups {
        println!(
            "{} groups: {} of size {}, first [{}], links {:?}",
            g.kind,
            g.count,
            g.size,
            g.examples
                .first()
                .map(|e| e.iter().take(8).cloned().collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            g.links
        );
    }
    for c in &r.collectives {
        println!(
            "{}: {:?} of {} B over {} GPUs, {} per step, {:.6} s each",
            c.name, c.op, c.bytes, c.group_size, c.per_step, c.cost.time_s
        );
    }
    for l in r.links.busiest.iter().take(5) {
        println!(
            "busy link {}: {:.4e} B/step, {:.1}% of the step",
            l.link,
            l.bytes_per_step,
            100.0 * l.utilisation
        );
    }
    if r.timelines.len() <= 4 {
        for t in &r.timelines {
            println!("timeline {} (stage {}):", t.gpu, t.stage);
            for e in t
                .events
                .iter()
                .filter(|e| e.lane == 0 || r.timelines.len() <= 4)
            {
                println!(
                    "  {:>9.3} - {:>9.3} us  {:?}{}",
                    e.start_s * 1e6,
                    e.end_s * 1e6,
                    e.kind,
                    e.micro_batch
                        .map(|m| format!(" mb{}", m + 1))
                        .unwrap_or_default()
                );
            }
        }
    }
    if let Some(out) = args.next() {
        let svg = nettwin_fabric::gantt::render_svg(
            &format!("{} - {}", r.model, r.plan_label),
            &r.timelines,
        );
        let tmp = format!("{out}.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(svg.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &out)?;
    }
    Ok(())
}
