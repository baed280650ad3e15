//! A dependency-free SVG line chart with shaded confidence bands. Returns a string; writing it
//! anywhere is the caller's business.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One data point: `y` with its confidence interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

const COLOURS: [&str; 8] = [
    "#d62728", "#1f77b4", "#7f7f7f", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// About five round tick values covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let mut v = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-6 {
        v.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    v
}

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.2}")
    }
}

/// Renders `series` as lines with markers over shaded `[low, high]` bands, with axes, ticks,
/// a title and a legend. Non-finite points are skipped. The y axis always includes 0.
pub fn line_chart_with_bands_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> String {
    let (w, h) = (720.0, 440.0);
    let (left, right, top, bottom) = (70.0, 170.0, 40.0, 55.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let finite = |p: &&Point| p.x.is_finite() && p.y.is_finite();
    let all: Vec<&Point> = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(finite)
        .collect();
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (0.0f64, f64::NEG_INFINITY);
    for p in &all {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        for v in [p.y, p.low, p.high] {
            if v.is_finite() {
                y0 = y0.min(v);
                y1 = y1.max(v);
            }
        }
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if !y1.is_finite() || y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let yt = ticks(y0, y1);
    y1 = y1.max(*yt.last().unwrap_or(&y1));
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| top + ph - (y - y0) / (y1 - y0) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        left + pw / 2.0,
        escape(title)
    );
    for t in &yt {
        let y = sy(*t);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            fmt_num(*t)
        );
    }
    for t in ticks(x0, x1) {
        let x = sx(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#000"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + ph,
            top + ph + 5.0,
            top + ph + 19.0,
            fmt_num(t)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#000"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        h - 12.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">{}</text>"#,
        top + ph / 2.0,
        top + ph / 2.0,
        escape(y_label)
    );
    for (i, ser) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut pts: Vec<&Point> = ser.points.iter().filter(finite).collect();
        pts.sort_by(|a, b| a.x.total_cmp(&b.x));
        let band: Vec<&&Point> = pts
            .iter()
            .filter(|p| p.low.is_finite() && p.high.is_finite())
            .collect();
        if band.len() >= 2 {
            let mut d = String::new();
            for p in &band {
                let _ = write!(d, "{:.1},{:.1} ", sx(p.x), sy(p.high));
            }
            for p in band.iter().rev() {
                let _ = write!(d, "{:.1},{:.1} ", sx(p.x), sy(p.low));
            }
            let _ = writeln!(
                s,
                r#"<polygon points="{}" fill="{colour}" fill-opacity="0.18" stroke="none"/>"#,
                d.trim_end()
            );
        }
        if !pts.is_empty() {
            let mut d = String::new();
            for p in &pts {
                let _ = write!(d, "{:.1},{:.1} ", sx(p.x), sy(p.y));
            }
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                d.trim_end()
            );
            for p in &pts {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                    sx(p.x),
                    sy(p.y)
                );
            }
        }
        let ly = top + 10.0 + 20.0 * i as f64;
        let lx = left + pw + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(&ser.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 100.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(
            ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
    }

    #[test]
    fn chart_places_points_and_bands() {
        let series = vec![Series {
            name: "attacker <a&b>".into(),
            points: vec![
                Point {
                    x: 0.0,
                    y: 50.0,
                    low: 40.0,
                    high: 60.0,
                },
                Point {
                    x: 100.0,
                    y: 0.0,
                    low: 0.0,
                    high: 0.0,
                },
            ],
        }];
        let svg = line_chart_with_bands_svg("t", "adoption (%)", "ASes (%)", &series);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("attacker &lt;a&amp;b&gt;"));
        // x=0 maps to the left edge (70), y=50 of a 0..60 axis maps to 40 + 345*(1-50/60).
        assert!(svg.contains(r#"<circle cx="70.0" cy="97.5""#), "{svg}");
        assert_eq!(svg.matches("<polygon").count(), 1);
    }
}
