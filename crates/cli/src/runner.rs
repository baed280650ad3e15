//! The automation runner, the client side: log in to an IOS-like device over SSH (a nettwin
//! device or a real one), run a list of commands across mode changes (exec, enable with its
//! secret, config, interface), and check each output against expectations.
//!
//! Commands file: one command per line; blank lines and lines starting with `#` are skipped.
//! Expectations file: one check per line, `STEP KIND ARGUMENT`, where STEP is the 1-based
//! command number and KIND is `contains`, `!contains`, `regex`, or `field` (ARGUMENT
//! `COLUMN=VALUE [COLUMN=VALUE ...]`: some row of the output's table has these values in the
//! columns under these headers; `_` stands for a space inside a header or value).

use regex::Regex;
use russh::client;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::ChannelMsg;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

/// Why the runner could not run (as opposed to a step failing its checks).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{file}:{line}: {message}")]
    File {
        file: String,
        line: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("authentication as {user} refused by {target}")]
    Auth { target: String, user: String },
    #[error("{target}: {message}")]
    Session { target: String, message: String },
}

/// Where and how to log in.
#[derive(Clone, Debug)]
pub struct Target {
    /// `HOST:PORT`.
    pub address: String,
    pub user: String,
    pub password: Option<String>,
    pub key: Option<PathBuf>,
    /// Answer to `enable`'s `Password:` prompt.
    pub enable_secret: Option<String>,
    /// How long one command may take to bring the prompt back.
    pub timeout: Duration,
}

/// One check of a step's output.
#[derive(Clone, Debug)]
pub enum Expect {
    Contains(String),
    NotContains(String),
    Regex(Regex),
    /// Some row of the output's table has all these (column header, value) pairs.
    Field(Vec<(String, String)>),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Contains(s) => write!(f, "contains {s:?}"),
            Expect::NotContains(s) => write!(f, "does not contain {s:?}"),
            Expect::Regex(r) => write!(f, "matches /{}/", r.as_str()),
            Expect::Field(pairs) => {
                let p: Vec<String> = pairs.iter().map(|(c, v)| format!("{c}={v}")).collect();
                write!(f, "has a row with {}", p.join(", "))
            }
        }
    }
}

/// A command with what its output must satisfy.
#[derive(Clone, Debug)]
pub struct Step {
    pub command: String,
    pub expects: Vec<Expect>,
}

/// The outcome of one check.
#[derive(Clone, Debug)]
pub struct Check {
    pub expect: String,
    pub passed: bool,
}

/// The outcome of one step.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub command: String,
    pub output: String,
    /// The prompt the command was typed at (`r1(config-if)#`).
    pub prompt: String,
    pub checks: Vec<Check>,
    /// Set when the device did not answer (timeout, closed session).
    pub error: Option<String>,
}

impl StepResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.passed)
    }
}

pub fn parse_commands(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Reads the expectations file and attaches its checks to the commands.
pub fn build_steps(
    commands: Vec<String>,
    expect_file: &str,
    expect_text: &str,
) -> Result<Vec<Step>, RunnerError> {
    let mut steps: Vec<Step> = commands
        .into_iter()
        .map(|command| Step {
            command,
            expects: Vec::new(),
        })
        .collect();
    for (i, raw) in expect_text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| RunnerError::File {
            file: expect_file.to_string(),
            line: i + 1,
            message,
        };
        let mut parts = line.splitn(3, char::is_whitespace);
        let step = parts.next().unwrap_or_default();
        let kind = parts.next().unwrap_or_default();
        let arg = parts.next().unwrap_or_default().trim();
        let n: usize = step
            .parse()
            .map_err(|_| err(format!("step `{step}` is not a command number")))?;
        if n == 0 || n > steps.len() {
            return Err(err(format!(
                "step {n} is out of range (the commands file has {})",
                steps.len()
            )));
        }
        if arg.is_empty() {
            return Err(err(format!("`{kind}` needs an argument")));
        }
        let expect = match kind {
            "contains" => Expect::Contains(arg.to_string()),
            "!contains" => Expect::NotContains(arg.to_string()),
            "regex" => Expect::Regex(
                Regex::new(&format!("(?m){arg}")).map_err(|e| err(format!("bad regex: {e}")))?,
            ),
            "field" => {
                let mut pairs = Vec::new();
                for p in arg.split_whitespace() {
                    let (c, v) = p
                        .split_once('=')
                        .ok_or_else(|| err(format!("`{p}` is not COLUMN=VALUE")))?;
                    pairs.push((c.replace('_', " "), v.replace('_', " ")));
                }
                Expect::Field(pairs)
            }
            _ => {
                return Err(err(format!(
                    "unknown check `{kind}` (contains, !contains, regex, field)"
                )))
            }
        };
        steps[n - 1].expects.push(expect);
    }
    Ok(steps)
}

/// Where the column called `name` starts in a header line, and where the next column starts.
fn column_span(header: &str, name: &str) -> Option<(usize, Option<usize>)> {
    let h = header.to_ascii_lowercase();
    let n = name.to_ascii_lowercase();
    let bytes = h.as_bytes();
    let mut from = 0;
    while let Some(off) = h[from..].find(&n) {
        let p = from + off;
        let end = p + n.len();
        if (p == 0 || bytes[p - 1] == b' ') && (end == bytes.len() || bytes[end] == b' ') {
            let next = (end..bytes.len()).find(|&i| bytes[i] != b' ');
            return Some((p, next));
        }
        from = p + 1;
    }
    None
}

/// The cell of `row` between a column's start and the next column's start, widened to whole
/// words (a value may run past its header, or a right-aligned one start before it).
fn cell(row: &str, start: usize, end: Option<usize>) -> String {
    let b = row.as_bytes();
    let mut s = start.min(b.len());
    let mut e = end.unwrap_or(b.len()).min(b.len()).max(s);
    while s > 0 && s < b.len() && b[s - 1] != b' ' && b[s] != b' ' {
        s -= 1;
    }
    while e > 0 && e < b.len() && b[e - 1] != b' ' && b[e] != b' ' {
        e += 1;
    }
    row[s..e].trim().to_string()
}

/// Whether some row under a header holding every named column has all the values.
pub fn table_has_row(output: &str, pairs: &[(String, String)]) -> bool {
    let lines: Vec<&str> = output.lines().collect();
    for (h, header) in lines.iter().enumerate() {
        let wanted: Option<Vec<(usize, Option<usize>, &str)>> = pairs
            .iter()
            .map(|(name, value)| {
                let (s, e) = column_span(header, name)?;
                Some((s, e, value.as_str()))
            })
            .collect();
        let Some(wanted) = wanted else { continue };
        for row in &lines[h + 1..] {
            if row.trim().is_empty() {
                continue;
            }
            if wanted.iter().all(|(s, e, v)| cell(row, *s, *e) == *v) {
                return true;
            }
        }
    }
    false
}

pub fn check(output: &str, expect: &Expect) -> bool {
    match expect {
        Expect::Contains(s) => output.contains(s.as_str()),
        Expect::NotContains(s) => !output.contains(s.as_str()),
        Expect::Regex(r) => r.is_match(output),
        Expect::Field(pairs) => table_has_row(output, pairs),
    }
}

fn prompt_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:^|\n)([A-Za-z0-9_.\-/:@+]{1,63}(?:\([A-Za-z0-9_.\-/ ]{1,40}\))?[>#])\s?$")
            .expect("prompt regex")
    })
}

struct Trusting;

impl client::Handler for Trusting {
    type Error = russh::Error;

    // The runner targets lab devices; pinning is left to `known_hosts`-aware callers.
    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// An interactive shell on a device, read up to each prompt.
pub struct Shell {
    target: String,
    handle: client::Handle<Trusting>,
    channel: russh::Channel<client::Msg>,
    buffer: String,
    pub prompt: String,
}

impl Shell {
    pub async fn open(t: &Target) -> Result<Shell, RunnerError> {
        let conn_err = |message: String| RunnerError::Connect {
            target: t.address.clone(),
            message,
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(600)),
            nodelay: true,
            ..Default::default()
        });
        let mut handle = tokio::time::timeout(
            t.timeout,
            client::connect(config, t.address.as_str(), Trusting),
        )
        .await
        .map_err(|_| conn_err("timed out".into()))?
        .map_err(|e| conn_err(e.to_string()))?;
        let ok = match (&t.key, &t.password) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).map_err(|source| RunnerError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let key = PrivateKey::from_openssh(text)
                    .map_err(|e| conn_err(format!("{}: {e}", path.display())))?;
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(|e| conn_err(e.to_string()))?
                    .flatten();
                handle
                    .authenticate_publickey(
                        t.user.clone(),
                        PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                    )
                    .await
                    .map_err(|e| conn_err(e.to_string()))?
                    .success()
            }
            (None, Some(pw)) => handle
                .authenticate_password(t.user.clone(), pw.clone())
                .await
                .map_err(|e| conn_err(e.to_string()))?
                .success(),
            (None, None) => false,
        };
        if !ok {
            return Err(RunnerError::Auth {
                target: t.address.clone(),
                user: t.user.clone(),
            });
        }
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        channel
            .request_pty(false, "vt100", 511, 24, 0, 0, &[])
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        channel
            .request_shell(false)
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        let mut shell = Shell {
            target: t.address.clone(),
            handle,
            channel,
            buffer: String::new(),
            prompt: String::new(),
        };
        shell.read_until_prompt(t.timeout, None).await?;
        Ok(shell)
    }

    fn session_err(&self, message: impl Into<String>) -> RunnerError {
        RunnerError::Session {
            target: self.target.clone(),
            message: message.into(),
        }
    }

    /// Reads until a prompt ends the buffer (or `Password:` when a secret is to be sent);
    /// returns everything before the prompt.
    async fn read_until_prompt(
        &mut self,
        timeout: Duration,
        secret: Option<&str>,
    ) -> Result<String, RunnerError> {
        let deadline = Instant::now() + timeout;
        let mut secret = secret;
        loop {
            let clean = self.buffer.replace('\r', "");
            if let Some(m) = prompt_re().captures(&clean) {
                let whole = m.get(0).expect("match");
                self.prompt = m[1].to_string();
                let before = clean[..whole.start()].to_string();
                self.buffer.clear();
                return Ok(before);
            }
            if clean.trim_end().ends_with("Password:") {
                match secret.take() {
                    Some(s) => {
                        self.buffer.clear();
                        self.send(&format!("{s}\n")).await?;
                    }
                    None => return Err(self.session_err("asked for a password and none was given")),
                }
            }
            let msg = tokio::time::timeout_at(deadline, self.channel.wait())
                .await
                .map_err(|_| self.session_err("timed out waiting for the prompt"))?;
            match msg {
                Some(ChannelMsg::Data { data }) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&data));
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    return Err(self.session_err("the device closed the session"))
                }
                Some(_) => {}
            }
        }
    }

    async fn send(&mut self, text: &str) -> Result<(), RunnerError> {
        self.channel
            .data_bytes(text.as_bytes().to_vec())
            .await
            .map_err(|e| self.session_err(e.to_string()))
    }

    /// Sends one command and returns its output (the echoed command line removed).
    pub async fn command(
        &mut self,
        line: &str,
        timeout: Duration,
        secret: Option<&str>,
    ) -> Result<String, RunnerError> {
        self.send(&format!("{line}\n")).await?;
        let raw = self.read_until_prompt(timeout, secret).await?;
        // The first line is the echo of the command (possibly after abbreviation expansion).
        Ok(match raw.split_once('\n') {
            Some((_, rest)) => rest.to_string(),
            None => String::new(),
        })
    }

    pub async fn close(self) {
        let _ = self.channel.eof().await;
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// Runs every step in one session; steps after a lost session fail with its error.
pub async fn run(target: &Target, steps: &[Step]) -> Result<Vec<StepResult>, RunnerError> {
    let mut shell = Shell::open(target).await?;
    shell
        .command("terminal length 0", target.timeout, None)
        .await?;
    let mut results = Vec::new();
    let mut lost: Option<String> = None;
    for step in steps {
        let prompt = shell.prompt.clone();
        let (output, error) = match &lost {
            Some(e) => (String::new(), Some(e.clone())),
            None => match shell
                .command(
                    &step.command,
                    target.timeout,
                    target.enable_secret.as_deref(),
                )
                .await
            {
                Ok(o) => (o, None),
                Err(e) => {
                    lost = Some(e.to_string());
                    (String::new(), lost.clone())
                }
            },
        };
        let checks = step
            .expects
            .iter()
            .map(|e| Check {
                expect: e.to_string(),
                passed: error.is_none() && check(&output, e),
            })
            .collect();
        results.push(StepResult {
            command: step.command.clone(),
            output,
            prompt,
            checks,
            error,
        });
    }
    shell.close().await;
    Ok(results)
}

/// [`run`] on a runtime of its own, for the `nettwin exec` binary.
pub fn run_blocking(target: &Target, steps: &[Step]) -> Result<Vec<StepResult>, RunnerError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunnerError::Connect {
            target: target.address.clone(),
            message: e.to_string(),
        })?;
    rt.block_on(run(target, steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIEF: &str =
        "Interface                  IP-Address      OK? Method Status                Protocol
GigabitEthernet0/1         198.19.0.1      YES NVRAM  administratively down down
Loopback0                  198.18.0.1      YES NVRAM  up                    up
";
    const OSPF: &str = "
Neighbor ID     Pri   State           Dead Time   Address         Interface
198.18.0.2        0   FULL/  -        00:00:33    198.19.0.2      GigabitEthernet0/1
";

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn table_rows_by_header() {
        assert!(table_has_row(
            BRIEF,
            &pairs(&[
                ("Interface", "GigabitEthernet0/1"),
                ("Status", "administratively down")
            ])
        ));
        assert!(table_has_row(
            BRIEF,
            &pairs(&[("Interface", "Loopback0"), ("Protocol", "up")])
        ));
        assert!(!table_has_row(
            BRIEF,
            &pairs(&[("Interface", "Loopback0"), ("Protocol", "down")])
        ));
        assert!(!table_has_row(BRIEF, &pairs(&[("Nope", "x")])));
        assert!(table_has_row(
            OSPF,
            &pairs(&[
                ("Neighbor ID", "198.18.0.2"),
                ("Pri", "0"),
                ("State", "FULL/  -")
            ])
        ));
        assert!(table_has_row(OSPF, &pairs(&[("Dead Time", "00:00:33")])));
    }

    #[test]
    fn expectation_files() {
        let cmds = parse_commands("# login\nshow ip int brief\n\nconf t\n");
        assert_eq!(cmds, vec!["show ip int brief", "conf t"]);
        let steps = build_steps(
            cmds.clone(),
            "e.txt",
            "1 field Interface=Loopback0 Status=up\n1 regex ^Loop\n2 !contains %\n",
        )
        .unwrap();
        assert_eq!(steps[0].expects.len(), 2);
        assert!(check(BRIEF, &steps[0].expects[0]));
        assert!(check(BRIEF, &steps[0].expects[1]));
        assert!(!check("% Invalid", &steps[1].expects[0]));
        let e = build_steps(cmds.clone(), "e.txt", "\n3 contains x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "e.txt:2: step 3 is out of range (the commands file has 2)"
        );
        let e = build_steps(cmds.clone(), "e.txt", "1 smells x\n").unwrap_err();
        assert!(e.to_string().starts_with("e.txt:1: unknown check `smells`"));
        let e = build_steps(cmds, "e.txt", "1 regex (\n").unwrap_err();
        assert!(e.to_string().starts_with("e.txt:1: bad regex"));
    }

    #[test]
    fn prompts_are_recognised() {
        for p in [
            "r1>",
            "r1#",
            "r1(config)#",
            "r1(config-if)#",
            "core-sw.lab(config-router)# ",
        ] {
            let text = format!("output\n{p}");
            assert!(prompt_re().is_match(&text), "{p}");
        }
        assert!(!prompt_re().is_match("Building configuration...\n"));
        assert!(!prompt_re().is_match("a line ending in # but with spaces #"));
    }
}
