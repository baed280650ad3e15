//! What one run of a probe found: success, the phase that failed and why, phase timings named as
//! blackbox_exporter names them, the gauges blackbox_exporter would export, and per-step
//! results of a transaction (the waterfall).

use serde::Serialize;

/// One gauge sample, as blackbox_exporter registers it for a probe.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    pub name: &'static str,
    #[serde(skip)]
    pub help: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// Time spent in one phase (`resolve`, `connect`, `tls`, `processing`, `transfer`, `request`,
/// `setup`, `rtt`), in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    pub name: &'static str,
    pub seconds: f64,
}

/// The outcome of one step of a transaction: where it started relative to the transaction and
/// its own phases.
#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    pub name: String,
    pub kind: &'static str,
    pub target: String,
    pub success: bool,
    /// Seconds from the start of the transaction.
    pub start: f64,
    pub duration: f64,
    pub phases: Vec<Phase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_phase: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Variables this step captured (values included: they are what later steps sent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub captured: Vec<(String, String)>,
}

/// One run of one probe.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResult {
    pub probe: String,
    pub kind: &'static str,
    pub target: String,
    /// Unix time the run started, in seconds.
    pub time: f64,
    pub success: bool,
    /// Seconds the whole run took (blackbox_exporter's `probe_duration_seconds`).
    pub duration: f64,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_phase: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The probe could not run here (ICMP sockets not permitted): neither success nor failure
    /// of the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub phases: Vec<Phase>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepResult>,
    /// The gauges blackbox_exporter would register for this probe, besides `probe_success` and
    /// `probe_duration_seconds`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

impl ProbeResult {
    pub fn phase(&self, name: &str) -> Option<f64> {
        self.phases
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.seconds)
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }
}

/// What a kind's prober returns: blackbox_exporter's `success` plus the registry it filled.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub success: bool,
    pub failed_phase: Option<&'static str>,
    pub error: Option<String>,
    pub skipped: Option<String>,
    pub phases: Vec<Phase>,
    pub metrics: Vec<Metric>,
    pub status: Option<u16>,
    /// Response headers and body, kept for a transaction's captures.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Outcome {
    pub fn gauge(&mut self, name: &'static str, help: &'static str, value: f64) {
        self.metrics.push(Metric {
            name,
            help,
            labels: Vec::new(),
            value,
        });
    }

    pub fn gauge_l(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: Vec<(&'static str, String)>,
        value: f64,
    ) {
        self.metrics.push(Metric {
            name,
            help,
            labels,
            value,
        });
    }

    /// Sets (or adds to, as blackbox_exporter's `Add` on redirects) a phase.
    pub fn add_phase(&mut self, name: &'static str, seconds: f64) {
        match self.phases.iter_mut().find(|p| p.name == name) {
            Some(p) => p.seconds += seconds,
            None => self.phases.push(Phase { name, seconds }),
        }
    }

    pub fn fail(&mut self, phase: &'static str, error: impl Into<String>) {
        self.success = false;
        if self.failed_phase.is_none() {
            self.failed_phase = Some(phase);
            self.error = Some(error.into());
        }
    }

    pub fn set_metric(&mut self, name: &str, value: f64) {
        if let Some(m) = self.metrics.iter_mut().find(|m| m.name == name) {
            m.value = value;
        }
    }
}
