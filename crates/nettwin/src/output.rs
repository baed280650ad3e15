//! Shared output helpers: error reports with source snippets, JSON printing, atomic file writes.

use nettwin_model::{Diagnostics, LoadError};
use std::io::Write;
use std::process::ExitCode;

/// Exit status for input the user must fix (bad file, bad arguments).
pub const EXIT_BAD_INPUT: u8 = 2;

/// An error about input the user gave, already rendered; exits with status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A command that already said what went wrong (e.g. failed checks) and only needs status 1.
#[derive(Debug)]
pub struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

/// A command that already printed its result and only needs this exit status (e.g. 3 for
/// `validate` tests that only warned, as netlab).
#[derive(Debug)]
pub struct ExitWith(pub u8);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for ExitWith {}

/// Prints `e` to stderr and picks the exit status: 2 for bad input, 1 for anything else.
pub fn report_error(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<Failed>().is_some() {
        return ExitCode::FAILURE;
    }
    if let Some(ExitWith(code)) = e.downcast_ref::<ExitWith>() {
        return ExitCode::from(*code);
    }
    if let Some(BadInput(msg)) = e.downcast_ref::<BadInput>() {
        eprintln!("{msg}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(LoadError::Io { .. }) = e.downcast_ref::<LoadError>() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

/// How many errors a report shows with their source lines; the rest are counted. A file with
/// hundreds of thousands of mistakes would otherwise write hundreds of megabytes.
pub const MAX_SHOWN: usize = 100;

/// Renders the diagnostics like a compiler does: the message, then the line with a caret; the
/// first [`MAX_SHOWN`] of them, then how many more there are.
pub fn render_diagnostics(diags: &Diagnostics, source: &str) -> String {
    // Columns count from after a byte order mark, as the loader skips it.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    for d in diags.iter().take(MAX_SHOWN) {
        out.push_str(&format!("error: {d}\n"));
        // The source shown is the main file's; an error in an included file has no snippet.
        let here = (d.file == diags.file()).then_some(());
        if let Some(line) = here.and_then(|_| lines.get((d.line as usize).wrapping_sub(1))) {
            let num = d.line.to_string();
            let pad = " ".repeat(num.len());
            let caret_at = line
                .char_indices()
                .take((d.col as usize).saturating_sub(1))
                .count();
            out.push_str(&format!(
                "{pad} |\n{num} | {line}\n{pad} | {}^\n",
                " ".repeat(caret_at)
            ));
        }
    }
    let n = diags.len();
    if n > MAX_SHOWN {
        let more = n - MAX_SHOWN;
        out.push_str(&format!(
            "and {more} more error{}\n",
            if more == 1 { "" } else { "s" }
        ));
    }
    out.push_str(&format!(
        "{n} error{} in {}",
        if n == 1 { "" } else { "s" },
        diags.file()
    ));
    out
}

/// `warning: file:line:col: message` lines for the warnings of a loaded topology.
pub fn render_warnings(warnings: &Diagnostics) -> String {
    warnings.iter().map(|w| format!("warning: {w}\n")).collect()
}

/// Loads a topology file, turning validation errors into a rendered [`BadInput`] and printing
/// its warnings on stderr.
pub fn load_topology(path: &std::path::Path) -> anyhow::Result<nettwin_model::Topology> {
    // `load_file`, not the bytes alone: a netlab lab's defaults files are read beside it.
    match nettwin_model::load_file(path) {
        Ok(t) => Ok(warn(t)),
        Err(LoadError::Invalid(d)) => {
            let bytes = std::fs::read(path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            Err(BadInput(render_diagnostics(&d, &text)).into())
        }
        Err(e) => Err(e.into()),
    }
}

pub fn load_topology_str(name: &str, text: &str) -> anyhow::Result<nettwin_model::Topology> {
    match nettwin_model::load_str(name, text) {
        Ok(t) => Ok(warn(t)),
        Err(LoadError::Invalid(d)) => Err(BadInput(render_diagnostics(&d, text)).into()),
        Err(e) => Err(e.into()),
    }
}

/// Whether `-v` was given, for the loader's listing of ignored netlab settings.
pub static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints the topology's warnings, and with `-v` the netlab settings read and ignored; they
/// never change the exit status.
fn warn(topo: nettwin_model::Topology) -> nettwin_model::Topology {
    eprint!("{}", render_warnings(&topo.warnings));
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        for i in &topo.ignored {
            eprintln!("ignored: {}:{}: `{}`: {}", i.file, i.line, i.path, i.reason);
        }
    }
    topo
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    serde_json::to_writer_pretty(&mut lock, value)?;
    writeln!(lock)?;
    Ok(())
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename, so
/// a reader never sees a half-written file and a failure leaves the old file in place.
#[allow(dead_code)]
pub fn write_atomic(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Aligns rows into columns separated by two spaces; the first row is the header.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `campus: 7 nodes (3 routers, 1 switch, 3 hosts), 6 links, 4 segments, 9 prefixes`.
pub fn summary_line(topo: &nettwin_model::Topology) -> String {
    let s = topo.summary();
    let mut kinds = Vec::new();
    for (n, one, many) in [
        (s.routers, "router", "routers"),
        (s.linux, "linux box", "linux boxes"),
        (s.switches, "switch", "switches"),
        (s.hosts, "host", "hosts"),
    ] {
        if n > 0 {
            kinds.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    format!(
        "{}: {} nodes ({}), {} links, {} IP segments, {} prefixes",
        topo.name,
        s.nodes,
        kinds.join(", "),
        s.links,
        s.segments,
        s.prefixes
    )
}
