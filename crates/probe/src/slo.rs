//! Service level objectives per probe and multi-window, multi-burn-rate alerts as the Google SRE
//! workbook ("Alerting on SLOs") recommends: an alert fires when the error budget burns faster
//! than a rate over both a long window and a short one (the short one makes it reset quickly
//! once the problem is gone), and resolves when either drops back.

use crate::spec::{Probe, Slo};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Duration;

/// One row of the alert table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BurnAlert {
    pub severity: String,
    #[serde(serialize_with = "secs")]
    pub long: Duration,
    #[serde(serialize_with = "secs")]
    pub short: Duration,
    pub burn_rate: f64,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The SRE workbook's table for a 30-day SLO: page at 14.4x over 1h and 5m (2% of the budget
/// spent), page at 6x over 6h and 30m (5%), ticket at 1x over 3d and 6h (10%). For another
/// period the windows scale with it, so each row still means the same share of the budget.
pub fn workbook_alerts(period: Duration) -> Vec<BurnAlert> {
    let scale = period.as_secs_f64() / (30.0 * 86400.0);
    let row = |sev: &str, long_h: f64, short_h: f64, rate: f64| BurnAlert {
        severity: sev.to_string(),
        long: Duration::from_secs_f64(long_h * 3600.0 * scale),
        short: Duration::from_secs_f64(short_h * 3600.0 * scale),
        burn_rate: rate,
    };
    vec![
        row("page", 1.0, 5.0 / 60.0, 14.4),
        row("page", 6.0, 0.5, 6.0),
        row("ticket", 72.0, 6.0, 1.0),
    ]
}

/// A change of an alert's state, written as JSON and POSTed to the webhook.
#[derive(Clone, Debug, Serialize)]
pub struct AlertEvent {
    pub probe: String,
    /// `availability` or `latency`.
    pub slo: &'static str,
    /// The objective as a fraction (0.999).
    pub objective: f64,
    pub severity: String,
    /// `firing` or `resolved`.
    pub state: &'static str,
    pub long_window_seconds: f64,
    pub short_window_seconds: f64,
    pub burn_rate_threshold: f64,
    pub burn_rate_long: f64,
    pub burn_rate_short: f64,
    /// Unix seconds of the result that changed the state.
    pub time: f64,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The results of one probe over the longest alert window, and which alerts are firing.
#[derive(Clone, Debug)]
pub struct Tracker {
    probe: String,
    labels: std::collections::BTreeMap<String, String>,
    slo: Slo,
    /// (time, availability bad, latency bad), oldest first.
    samples: VecDeque<(f64, bool, bool)>,
    /// Firing state per (objective, alert row): availability rows first.
    firing: Vec<bool>,
}

impl Tracker {
    pub fn new(probe: &Probe) -> Option<Tracker> {
        let slo = probe.slo.clone()?;
        let rows = slo.alerts.len();
        Some(Tracker {
            probe: probe.name.clone(),
            labels: probe.labels.clone(),
            slo,
            samples: VecDeque::new(),
            firing: vec![false; rows * 2],
        })
    }

    /// The bad fraction of one objective over the last `window` before `now`.
    fn ratio(&self, now: f64, window: Duration, latency: bool) -> f64 {
        let from = now - window.as_secs_f64();
        let (mut total, mut bad) = (0u64, 0u64);
        for &(t, a, l) in self.samples.iter().rev() {
            if t < from {
                break;
            }
            total += 1;
            bad += u64::from(if latency { l } else { a });
        }
        if total == 0 {
            0.0
        } else {
            bad as f64 / total as f64
        }
    }

    /// The burn rate of one objective over `window`: the bad fraction over the budget.
    pub fn burn_rate(&self, now: f64, window: Duration, latency: bool) -> f64 {
        let objective = if latency {
            self.slo.latency.map(|l| l.1)
        } else {
            self.slo.availability
        };
        match objective {
            Some(o) if o < 1.0 => self.ratio(now, window, latency) / (1.0 - o),
            _ => 0.0,
        }
    }

    /// Records one run (at unix `time`, its success and duration) and returns the alerts that
    /// started or stopped firing.
    pub fn record(&mut self, time: f64, success: bool, duration: f64) -> Vec<AlertEvent> {
        let slow = self
            .slo
            .latency
            .is_some_and(|(t, _)| !success || duration > t.as_secs_f64());
        self.samples.push_back((time, !success, slow));
        let keep = self
            .slo
            .alerts
            .iter()
            .map(|a| a.long.max(a.short))
            .max()
            .unwrap_or_default()
            .as_secs_f64();
        while self.samples.front().is_some_and(|s| s.0 < time - keep) {
            self.samples.pop_front();
        }
        let mut events = Vec::new();
        let rows = self.slo.alerts.len();
        for (obj_i, (name, objective)) in [
            ("availability", self.slo.availability),
            ("latency", self.slo.latency.map(|l| l.1)),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(objective) = objective else {
                continue;
            };
            let latency = obj_i == 1;
            for (row_i, a) in self.slo.alerts.iter().enumerate() {
                let long = self.burn_rate(time, a.long, latency);
                let short = self.burn_rate(time, a.short, latency);
                let now_firing = long > a.burn_rate && short > a.burn_rate;
                let slot = obj_i * rows + row_i;
                if now_firing != self.firing[slot] {
                    self.firing[slot] = now_firing;
                    events.push(AlertEvent {
                        probe: self.probe.clone(),
                        slo: name,
                        objective,
                        severity: a.severity.clone(),
                        state: if now_firing { "firing" } else { "resolved" },
                        long_window_seconds: a.long.as_secs_f64(),
                        short_window_seconds: a.short.as_secs_f64(),
                        burn_rate_threshold: a.burn_rate,
                        burn_rate_long: long,
                        burn_rate_short: short,
                        time,
                        labels: self.labels.clone(),
                    });
                }
            }
        }
        events
    }

    /// Whether any alert of this probe is firing.
    pub fn any_firing(&self) -> bool {
        self.firing.iter().any(|f| *f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(slo: &str) -> Probe {
        let text = format!(
            "probes:\n- name: web\n  kind: http\n  url: http://127.0.0.1:1/\n  slo: {slo}\n"
        );
        crate::spec::parse("t.yml", &text).unwrap().probes.remove(0)
    }

    #[test]
    fn the_workbook_table_for_30_days() {
        let t = workbook_alerts(Duration::from_secs(30 * 86400));
        assert_eq!(t[0].long, Duration::from_secs(3600));
        assert_eq!(t[0].short, Duration::from_secs(300));
        assert_eq!(t[0].burn_rate, 14.4);
        assert_eq!(t[2].long, Duration::from_secs(3 * 86400));
        // Each row spends burn * long / period of the budget: 2%, 5%, 10%.
        let spent: Vec<f64> = t
            .iter()
            .map(|a| {
                (a.burn_rate * a.long.as_secs_f64() / (30.0 * 86400.0) * 1000.0).round() / 1000.0
            })
            .collect();
        assert_eq!(spent, [0.02, 0.05, 0.1]);
    }

    #[test]
    fn pages_only_when_both_windows_burn_and_resolves_fast() {
        // 99.9% over 30 days: a page needs >1.44% errors over both 1h and 5m.
        let mut t = Tracker::new(&probe("{availability: 99.9}")).unwrap();
        // One good run a minute for two hours.
        let mut now = 0.0;
        for _ in 0..120 {
            assert!(t.record(now, true, 0.1).is_empty());
            now += 60.0;
        }
        // Ten minutes of failures: the 5m window burns at once, the 1h window passes 14.4x
        // after 1.44% of an hour's runs fail, so the first failure pages.
        let mut fired_at = None;
        for i in 0..10 {
            let ev = t.record(now, false, 0.1);
            if let Some(e) = ev
                .iter()
                .find(|e| e.state == "firing" && e.long_window_seconds == 3600.0)
            {
                fired_at.get_or_insert(i);
                assert_eq!(e.severity, "page");
                assert!(e.burn_rate_short > 14.4 && e.burn_rate_long > 14.4);
            }
            now += 60.0;
        }
        assert_eq!(fired_at, Some(0));
        assert!(t.any_firing());
        // Recovery: the 5m window clears after five good minutes, resolving the 1h page though
        // the 1h window still holds the failures.
        let mut resolved_after = None;
        for i in 1..=10 {
            let ev = t.record(now, true, 0.1);
            if ev
                .iter()
                .any(|e| e.state == "resolved" && e.long_window_seconds == 3600.0)
            {
                resolved_after.get_or_insert(i);
            }
            now += 60.0;
        }
        assert_eq!(resolved_after, Some(6));
        assert!(t.burn_rate(now, Duration::from_secs(3600), false) > 14.4);
    }

    #[test]
    fn latency_objective_counts_slow_runs() {
        let mut t = Tracker::new(&probe(
            "{latency: {threshold: 200ms, objective: 99}, window: 1h, alerts: [{severity: page, long: 60s, short: 10s, burn_rate: 10}]}",
        ))
        .unwrap();
        assert!(t.record(0.0, true, 0.1).is_empty());
        let ev = t.record(1.0, true, 0.5);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].slo, ev[0].state), ("latency", "firing"));
    }
}
