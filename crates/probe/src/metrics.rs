//! Prometheus text exposition of probe results with blackbox_exporter's metric names, help
//! texts and labels, written as client_golang writes them (families sorted by name, samples by
//! label values, floats in Go's shortest `%g` form), so dashboards and alert rules made for
//! blackbox_exporter read nettwin's answers unchanged.

use crate::result::ProbeResult;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)`, as client_golang writes samples.
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent is a number");
    // Go switches to the exponent form below 1e-4 and from 1e6 on (precision 6 for shortest).
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One sample to write: family name and help, labels sorted by name, value.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub help: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// The phase gauge a kind exports, if any.
fn phase_family(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "http" => Some((
            "probe_http_duration_seconds",
            "Duration of http request by phase, summed over all redirects",
        )),
        "dns" => Some((
            "probe_dns_duration_seconds",
            "Duration of DNS request by phase",
        )),
        "icmp" => Some((
            "probe_icmp_duration_seconds",
            "Duration of icmp request by phase",
        )),
        _ => None,
    }
}

/// The samples blackbox_exporter's `/probe` would answer for `r`, with `extra` labels on each.
pub fn samples(r: &ProbeResult, timeout: f64, extra: &[(String, String)]) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut push = |name: &str, help: &str, labels: Vec<(String, String)>, value: f64| {
        let mut labels: Vec<(String, String)> =
            labels.into_iter().chain(extra.iter().cloned()).collect();
        labels.sort();
        out.push(Sample {
            name: name.to_string(),
            help: help.to_string(),
            labels,
            value,
        });
    };
    push(
        "probe_success",
        "Displays whether or not the probe was a success",
        vec![],
        if r.success { 1.0 } else { 0.0 },
    );
    push(
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        vec![],
        r.duration,
    );
    push(
        "probe_timeout_seconds",
        "Returns how long the probe timeout is in seconds",
        vec![],
        timeout,
    );
    // A transaction exports what its steps add up to, as http.
    let kind = if r.kind == "transaction" {
        "http"
    } else {
        r.kind
    };
    if let Some((family, help)) = phase_family(kind) {
        for p in &r.phases {
            let known = match kind {
                "http" => ["resolve", "connect", "tls", "processing", "transfer"].contains(&p.name),
                "dns" => ["resolve", "connect", "request"].contains(&p.name),
                _ => ["resolve", "setup", "rtt"].contains(&p.name),
            };
            if known {
                push(
                    family,
                    help,
                    vec![("phase".into(), p.name.into())],
                    p.seconds,
                );
            }
        }
    }
    for m in &r.metrics {
        push(
            m.name,
            m.help,
            m.labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            m.value,
        );
    }
    out
}

/// Writes samples as client_golang does: families by name, each with HELP and TYPE, samples
/// ordered by their label values.
pub fn exposition(samples: &[Sample]) -> String {
    let mut families: BTreeMap<&str, (&str, Vec<&Sample>)> = BTreeMap::new();
    for s in samples {
        families
            .entry(s.name.as_str())
            .or_insert_with(|| (s.help.as_str(), Vec::new()))
            .1
            .push(s);
    }
    let mut text = String::new();
    for (name, (help, mut list)) in families {
        list.sort_by(|a, b| {
            let ka: Vec<&str> = a.labels.iter().map(|l| l.1.as_str()).collect();
            let kb: Vec<&str> = b.labels.iter().map(|l| l.1.as_str()).collect();
            ka.cmp(&kb)
        });
        let _ = writeln!(
            text,
            "# HELP {name} {}",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        );
        let _ = writeln!(text, "# TYPE {name} gauge");
        for s in list {
            text.push_str(name);
            if !s.labels.is_empty() {
                text.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    let _ = write!(text, "{k}=\"{}\"", escape(v));
                }
                text.push('}');
            }
            let _ = writeln!(text, " {}", go_float(s.value));
        }
    }
    text
}

/// A parsed exposition: (name, sorted labels) -> value. For tests and comparisons.
pub fn parse(text: &str) -> BTreeMap<(String, Vec<(String, String)>), f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (head, value) = match line.rsplit_once(' ') {
            Some(x) => x,
            None => continue,
        };
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head.to_string(), Vec::new()),
            Some((n, rest)) => {
                let body = rest.trim_end_matches('}');
                let mut labels = Vec::new();
                let mut rest = body;
                while let Some((k, after)) = rest.split_once("=\"") {
                    let mut val = String::new();
                    let mut chars = after.char_indices();
                    let mut end = after.len();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, n)) = chars.next() {
                                    val.push(if n == 'n' { '\n' } else { n });
                                }
                            }
                            '"' => {
                                end = i + 1;
                                break;
                            }
                            c => val.push(c),
                        }
                    }
                    labels.push((k.trim_start_matches(',').to_string(), val));
                    rest = &after[end..];
                }
                labels.sort();
                (n.to_string(), labels)
            }
        };
        out.insert((name, labels), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_writes_them() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(200.0), "200");
        assert_eq!(go_float(0.000123), "0.000123");
        assert_eq!(go_float(0.0000123), "1.23e-05");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1.7409e9), "1.7409e+09");
        assert_eq!(go_float(-62135596800.0), "-6.21355968e+10");
        assert_eq!(go_float(f64::NAN), "NaN");
    }

    #[test]
    fn exposition_round_trips() {
        let s = vec![
            Sample {
                name: "b".into(),
                help: "h".into(),
                labels: vec![("phase".into(), "tls".into())],
                value: 0.5,
            },
            Sample {
                name: "b".into(),
                help: "h".into(),
                labels: vec![("phase".into(), "connect".into())],
                value: 1.0,
            },
            Sample {
                name: "a".into(),
                help: "x".into(),
                labels: vec![("v".into(), "q\"uote".into())],
                value: 2.0,
            },
        ];
        let text = exposition(&s);
        assert_eq!(
            text,
            "# HELP a x\n# TYPE a gauge\na{v=\"q\\\"uote\"} 2\n# HELP b h\n# TYPE b gauge\nb{phase=\"connect\"} 1\nb{phase=\"tls\"} 0.5\n"
        );
        let p = parse(&text);
        assert_eq!(
            p[&(
                "a".to_string(),
                vec![("v".to_string(), "q\"uote".to_string())]
            )],
            2.0
        );
    }
}
