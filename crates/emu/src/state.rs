//! The state file of a run: everything the run is about to create, written (atomically) before
//! each creation step, so `down` can remove exactly what was made even after a crash or a kill.

use crate::{EmuError, RoutesMode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where state files live; `/run` is a tmpfs, so a reboot (which also drops every namespace)
/// forgets them too.
pub const STATE_DIR: &str = "/run/nettwin";

/// Something a run created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Created {
    /// A network namespace; deleting it also deletes every interface and bridge inside, and
    /// the processes in it are stopped first.
    Netns { name: String },
    /// A directory (configuration, logs, FRR's per-instance run directory).
    Dir { path: String },
}

/// One run: its name, where it came from, and what it created, in creation order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    pub run: String,
    pub file: String,
    pub pid: u32,
    pub started_unix: u64,
    pub routes: RoutesMode,
    /// Node name to namespace name.
    pub nodes: BTreeMap<String, String>,
    pub created: Vec<Created>,
    /// Set once `up` finished; a run without it was interrupted or is still being built.
    pub complete: bool,
    /// The run lives only as long as the process that built it (`verify` without `--keep`).
    #[serde(default)]
    pub ephemeral: bool,
    /// The builder's start time (field 22 of `/proc/PID/stat`), so a recycled pid is not
    /// taken for the builder.
    #[serde(default)]
    pub pid_start: Option<u64>,
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The state directory (overridable for tests that must not share it).
pub fn dir() -> PathBuf {
    std::env::var_os("NETTWIN_EMU_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(STATE_DIR))
}

pub fn path_of(run: &str) -> PathBuf {
    dir().join(format!("{run}.json"))
}

fn io_err(path: &Path, source: std::io::Error) -> EmuError {
    EmuError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl RunState {
    /// Writes the state to a temporary file and renames it into place: a reader never sees a
    /// half-written file, even if this process dies mid-write.
    pub fn save(&self) -> Result<(), EmuError> {
        let d = dir();
        std::fs::create_dir_all(&d).map_err(|e| io_err(&d, e))?;
        let path = path_of(&self.run);
        let tmp = d.join(format!(".{}.json.tmp", self.run));
        let text = serde_json::to_vec_pretty(self).expect("state serialises");
        std::fs::write(&tmp, text).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))
    }

    /// Records `what` and saves, before the caller creates it.
    pub fn record(&mut self, what: Created) -> Result<(), EmuError> {
        crate::sys::check_interrupted()?;
        if !self.created.contains(&what) {
            self.created.push(what);
        }
        self.save()
    }

    pub fn load(run: &str) -> Result<RunState, EmuError> {
        let path = path_of(run);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EmuError::UnknownRun(run.to_string()))
            }
            Err(e) => return Err(io_err(&path, e)),
        };
        let st: RunState = serde_json::from_slice(&text).map_err(|e| EmuError::State {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if st.run != run {
            return Err(EmuError::State {
                path: path.display().to_string(),
                message: format!("names run `{}`, not `{run}`", st.run),
            });
        }
        Ok(st)
    }

    pub fn remove_file(&self) {
        let _ = std::fs::remove_file(path_of(&self.run));
    }

    /// The namespace of `node`.
    pub fn netns(&self, node: &str) -> Result<&str, EmuError> {
        self.nodes
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| EmuError::UnknownNode {
                run: self.run.clone(),
                node: node.to_string(),
            })
    }

    /// Whether the process that built the run is still alive.
    pub fn builder_alive(&self) -> bool {
        match self.pid_start {
            Some(start) => process_start(self.pid) == Some(start),
            None => Path::new(&format!("/proc/{}", self.pid)).exists(),
        }
    }
}

/// Where the files FRR daemons write outside their pathspace are listed when nettwin made
/// them (they did not exist before); shared by every run, removed when the last run goes.
pub fn shared_list() -> PathBuf {
    dir().join(".frr-shared")
}

/// Adds `path` to the shared list.
pub fn add_shared(path: &str) -> Result<(), EmuError> {
    let list = shared_list();
    let mut items: Vec<String> = std::fs::read_to_string(&list)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    if items.iter().any(|i| i == path) {
        return Ok(());
    }
    items.push(path.to_string());
    let tmp = dir().join(format!(".frr-shared.{}.tmp", std::process::id()));
    std::fs::write(&tmp, items.join("\n") + "\n").map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, &list).map_err(|e| io_err(&list, e))
}

/// Removes the shared files and the list (call when no run is left). Only FRR's own files in
/// its run directory are removed, whatever else the list says.
pub fn remove_shared() {
    let list = shared_list();
    for p in std::fs::read_to_string(&list).unwrap_or_default().lines() {
        let ours = crate::frr::SHARED_FILES
            .iter()
            .any(|f| p == format!("{}/{f}", crate::frr::FRR_RUN));
        if ours {
            let _ = std::fs::remove_file(p);
        }
    }
    let _ = std::fs::remove_file(list);
}

/// The names of every recorded run, sorted.
pub fn runs() -> Result<Vec<String>, EmuError> {
    let d = dir();
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&d, e)),
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let run = name.strip_suffix(".json")?;
            (!run.starts_with('.')).then(|| run.to_string())
        })
        .collect();
    out.sort();
    Ok(out)
}
