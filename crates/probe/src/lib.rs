//! Synthetic transactions for nettwin: scripted ICMP, DNS, TCP, TLS and HTTP probes and
//! multi-step transactions, timed per phase with blackbox_exporter's phase names and exported
//! with its metric names; service level objectives with multi-window multi-burn-rate alerts; a
//! small target server (`serve`); and the same probes predicted on the twin's forwarding
//! (`predict`).
//!
//! Owns: probe files (`spec`), the probers (`http`, `dns`, `tcp`, `tls`, `icmp`, `net`), runs,
//! retries and schedules (`run`), results (`result`), Prometheus exposition (`metrics`), the
//! exporter's HTTP endpoints (`exporter`), SLOs (`slo`), the target server (`serve`) and
//! predictions (`predict`), and the same probes run in an `emu` run's namespaces (`lab`). It does not compute routes or forward packets (it asks
//! `nettwin-dataplane`), and never prints: the binary renders what it returns.

pub mod dns;
pub mod exporter;
pub mod http;
pub mod icmp;
pub mod lab;
pub mod metrics;
pub mod net;
pub mod predict;
pub mod result;
pub mod run;
pub mod serve;
pub mod slo;
pub mod spec;
pub mod tcp;
pub mod tls;

pub use result::{Metric, Phase, ProbeResult, StepResult};
pub use spec::{parse, Kind, Probe, ProbeFile};
