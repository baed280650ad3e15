//! SVG Gantt chart of per-GPU timelines (string out, no I/O).

use std::fmt::Write;

use crate::evaluate::GpuTimeline;
use crate::schedule::EventKind;

fn colour(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Forward => "#4e79a7",
        EventKind::Backward => "#59a14f",
        EventKind::Send => "#f28e2b",
        EventKind::Recv => "#edc948",
        EventKind::GradSync => "#e15759",
        EventKind::ParamGather => "#b07aa1",
        EventKind::Optimizer => "#9c9c9c",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Render the timelines as a Gantt chart: one row per GPU, compute on the upper lane and
/// communication on the lower lane, micro-batch numbers inside bars wide enough to hold them.
pub fn render_svg(title: &str, timelines: &[GpuTimeline]) -> String {
    let end = timelines
        .iter()
        .flat_map(|t| t.events.iter().map(|e| e.end_s))
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let (left, top, width, lane_h, row_gap) = (90.0, 40.0, 1000.0, 18.0, 10.0);
    let row_h = 2.0 * lane_h + row_gap;
    let height = top + row_h * timelines.len() as f64 + 60.0;
    let scale = width / end;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">"#,
        left + width + 20.0,
        height
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="14">{}</text>"#,
        escape(title)
    );
    for (i, tl) in timelines.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let _ = writeln!(
            s,
            r#"<text x="4" y="{:.1}">{} (stage {})</text>"#,
            y + lane_h,
            escape(&tl.gpu),
            tl.stage
        );
        for e in &tl.events {
            let x = left + e.start_s * scale;
            let w = ((e.end_s - e.start_s) * scale).max(0.5);
            let ly = y + e.lane as f64 * lane_h;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.2}" y="{ly:.1}" width="{w:.2}" height="{:.1}" fill="{}" stroke="white" stroke-width="0.5"><title>{:?}{}{} {:.6}-{:.6} s</title></rect>"#,
                lane_h - 2.0,
                colour(e.kind),
                e.kind,
                e.micro_batch
                    .map(|m| format!(" micro-batch {}", m + 1))
                    .unwrap_or_default(),
                e.chunk.map(|c| format!(" chunk {c}")).unwrap_or_default(),
                e.start_s,
                e.end_s
            );
            if let (Some(mb), true) = (e.micro_batch, w > 14.0 && e.lane == 0) {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.2}" y="{:.1}" fill="white" text-anchor="middle">{}</text>"#,
                    x + w / 2.0,
                    ly + lane_h - 6.0,
                    mb + 1
                );
            }
        }
    }
    let axis_y = top + row_h * timelines.len() as f64 + 10.0;
    let _ = writeln!(
        s,
        r#"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="black"/>"#,
        left + width
    );
    let (unit, div) = if end < 1e-3 {
        ("us", 1e-6)
    } else if end < 1.0 {
        ("ms", 1e-3)
    } else {
        ("s", 1.0)
    };
    for t in 0..=10 {
        let x = left + width * t as f64 / 10.0;
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{:.3} {unit}</text>"#,
            axis_y + 14.0,
            end * t as f64 / 10.0 / div
        );
    }
    let mut lx = left;
    for k in [
        EventKind::Forward,
        EventKind::Backward,
        EventKind::Send,
        EventKind::Recv,
        EventKind::GradSync,
        EventKind::ParamGather,
        EventKind::Optimizer,
    ] {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{}" y="{:.1}">{:?}</text>"#,
            axis_y + 24.0,
            colour(k),
            lx + 14.0,
            axis_y + 33.0,
            k
        );
        lx += 110.0;
    }
    s.push_str("</svg>\n");
    s
}
