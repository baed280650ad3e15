//! Helpers shared by the binary's integration tests: run `nettwin` from the repository root,
//! read its output, and scratch directories that clean up even when a test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs the built `nettwin` with `args` in the repository root.
pub fn nettwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run nettwin")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o`, after asserting that the command succeeded.
pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "stderr:\n{}", stderr(&o));
    o
}

/// A fresh directory removed when dropped, even when the test fails first.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nettwin-test-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// The path of `file` inside the directory, as a string for command-line arguments.
    pub fn file(&self, file: &str) -> String {
        self.0.join(file).to_str().expect("utf-8 path").to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
