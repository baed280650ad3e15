//! Batch questions for CI (`mesh check --queries`): the input and answer shapes.

use crate::check::SshResult;
use crate::hujson;
use crate::tailnet::Tailnet;
use crate::Error;
use nettwin_model::diag::Diagnostics;
use nettwin_model::yaml::{self, MapReader, Path};

/// One network question.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct NetQuery {
    pub src: String,
    pub dst: String,
    pub proto: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<String>,
}

/// One SSH question.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SshQuery {
    pub src: String,
    pub dst: String,
    pub ssh_user: String,
}

/// The whole queries file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queries {
    pub checks: Vec<NetQuery>,
    pub ssh_checks: Vec<SshQuery>,
    pub run_tests: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NetAnswer {
    #[serde(flatten)]
    pub query: NetQuery,
    pub allowed: bool,
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub reason: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SshAnswer {
    #[serde(flatten)]
    pub query: SshQuery,
    pub result: SshResult,
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Parses a queries file (JSON).
pub fn parse_queries(file: &str, text: &str) -> Result<Queries, Error> {
    let mut diags = Diagnostics::new(file);
    let root = hujson::parse(text).map_err(|(span, msg)| {
        let mut d = Diagnostics::new(file);
        d.error(span, &Path::root(), msg);
        Error::Policy(d)
    })?;
    let mut q = Queries::default();
    let top = Path::root();
    if let Some(mut m) = MapReader::new(&root, &top, &mut diags) {
        let s = |n: Option<&yaml::Node>, p: &Path, d: &mut Diagnostics| {
            n.and_then(|n| yaml::read_str(n, p, d))
        };
        if let Some(c) = m.take("checks") {
            for (i, it) in yaml::read_list(c, &top.key("checks"), &mut diags)
                .into_iter()
                .enumerate()
            {
                let p = top.key("checks").index(i);
                let Some(mut r) = MapReader::new(it, &p, &mut diags) else {
                    continue;
                };
                let nq = NetQuery {
                    src: s(r.take("src"), &p.key("src"), &mut diags).unwrap_or_default(),
                    dst: s(r.take("dst"), &p.key("dst"), &mut diags).unwrap_or_default(),
                    proto: s(r.take("proto"), &p.key("proto"), &mut diags)
                        .unwrap_or_else(|| "tcp".into()),
                    exit_node: s(r.take("exit_node"), &p.key("exit_node"), &mut diags),
                    ingress: s(r.take("ingress"), &p.key("ingress"), &mut diags),
                };
                r.finish(&["src", "dst", "proto", "exit_node", "ingress"], &mut diags);
                q.checks.push(nq);
            }
        }
        if let Some(c) = m.take("ssh_checks") {
            for (i, it) in yaml::read_list(c, &top.key("ssh_checks"), &mut diags)
                .into_iter()
                .enumerate()
            {
                let p = top.key("ssh_checks").index(i);
                let Some(mut r) = MapReader::new(it, &p, &mut diags) else {
                    continue;
                };
                let sq = SshQuery {
                    src: s(r.take("src"), &p.key("src"), &mut diags).unwrap_or_default(),
                    dst: s(r.take("dst"), &p.key("dst"), &mut diags).unwrap_or_default(),
                    ssh_user: s(r.take("ssh_user"), &p.key("ssh_user"), &mut diags)
                        .unwrap_or_default(),
                };
                r.finish(&["src", "dst", "ssh_user"], &mut diags);
                q.ssh_checks.push(sq);
            }
        }
        if let Some(b) = m.take("run_tests") {
            q.run_tests = yaml::read_bool(b, &top.key("run_tests"), &mut diags).unwrap_or(false);
        }
        m.finish(&["checks", "ssh_checks", "run_tests"], &mut diags);
    }
    if diags.is_empty() {
        Ok(q)
    } else {
        Err(Error::Policy(diags))
    }
}

impl Tailnet {
    /// Answers one network query.
    pub fn answer(&self, q: &NetQuery) -> NetAnswer {
        let fail = |reason: String| NetAnswer {
            query: q.clone(),
            allowed: false,
            rule: None,
            line: None,
            reason,
        };
        let who = match self.who(&q.src) {
            Ok(w) => w,
            Err(e) => return fail(e),
        };
        let dev = |s: &Option<String>| -> Result<Option<usize>, String> {
            match s {
                None => Ok(None),
                Some(n) => self
                    .device(n)
                    .map(Some)
                    .ok_or_else(|| format!("no node named `{n}`")),
            }
        };
        let (exit, ingress) = match (dev(&q.exit_node), dev(&q.ingress)) {
            (Ok(e), Ok(i)) => (e, i),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        let t = match self.target(&q.dst, Some(&q.proto)) {
            Ok(t) => t,
            Err(e) => return fail(e),
        };
        let a = self.can(&q.src, &who, &t, exit, ingress);
        let reason = a
            .per_source
            .iter()
            .find(|p| p.decision.allowed == a.allowed)
            .map(|p| p.decision.reason.clone())
            .unwrap_or_default();
        NetAnswer {
            query: q.clone(),
            allowed: a.allowed,
            rule: a.rule,
            line: a.line,
            reason,
        }
    }

    /// Answers one SSH query: every source device must get the answer; the strictest wins.
    pub fn answer_ssh(&self, q: &SshQuery) -> SshAnswer {
        let fail = |e: String| SshAnswer {
            query: q.clone(),
            result: SshResult::Deny,
            rule: None,
            error: Some(e),
        };
        let srcs = match self.who(&q.src) {
            Ok(crate::check::Who::Devices(d)) => d,
            Ok(_) => return fail(format!("`{}` is not a device of the tailnet", q.src)),
            Err(e) => return fail(e),
        };
        let Some(dst) = self.device(&q.dst) else {
            return fail(format!("no node named `{}`", q.dst));
        };
        let mut out: Option<(SshResult, Option<String>)> = None;
        for s in srcs {
            let (r, rule) = self.ssh_decide(s, dst, &q.ssh_user);
            let rank = |r: SshResult| match r {
                SshResult::Deny => 0,
                SshResult::Check => 1,
                SshResult::Accept => 2,
            };
            if out.as_ref().is_none_or(|(o, _)| rank(r) < rank(*o)) {
                out = Some((r, rule));
            }
        }
        let (result, rule) = out.unwrap_or((SshResult::Deny, None));
        SshAnswer {
            query: q.clone(),
            result,
            rule,
            error: None,
        }
    }
}
