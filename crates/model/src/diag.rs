//! Errors about an input file, each with the place it concerns.

use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};

/// One problem in an input file: `file:line:col: message (at `path`)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub col: u32,
    /// The key path of the offending value, e.g. `links[2].mtu`; empty for the whole document.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )?;
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", self.path)?;
        }
        Ok(())
    }
}

/// How many problems one file's report keeps. A generated or hostile file can hold hundreds of
/// thousands of mistakes; past this many only the count grows, so memory stays bounded.
pub const MAX_KEPT: usize = 10_000;

/// Every problem found in one file, in the order found; past [`MAX_KEPT`] only counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostics {
    #[serde(skip)]
    pub(crate) file: String,
    list: Vec<Diagnostic>,
    /// Problems found after the list was full.
    #[serde(skip_serializing_if = "is_zero")]
    omitted: usize,
    /// A hash of the place and message of everything recorded, to drop repeats: a section in
    /// `defaults` or a group is decoded once per node it applies to, and its one mistake would
    /// otherwise be listed once per node (under each node's key path; the first is kept). Hashes
    /// keep the memory small past the list too.
    #[serde(skip)]
    seen: HashSet<u64>,
    /// Files the main one includes, numbered from 1 (see `yaml::Span::file`).
    #[serde(skip)]
    /// Boxed, not a `Vec`: this type travels in `Result`s and stays small (a `Vec` would make
    /// every routing error larger).
    #[allow(clippy::box_collection)]
    included: Option<Box<Vec<String>>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Diagnostics {
    pub fn new(file: impl Into<String>) -> Diagnostics {
        Diagnostics {
            file: file.into(),
            list: Vec::new(),
            omitted: 0,
            seen: HashSet::new(),
            included: None,
        }
    }

    /// Numbers an included file for spans (`yaml::Span::file`); the main file is 0.
    pub fn add_file(&mut self, name: impl Into<String>) -> u16 {
        let files = self.included.get_or_insert_with(Box::default);
        files.push(name.into());
        files.len().min(u16::MAX as usize) as u16
    }

    /// The files numbered by [`Diagnostics::add_file`], in order.
    pub fn included_files(&self) -> &[String] {
        self.included.as_deref().map_or(&[], Vec::as_slice)
    }

    /// A new, empty list for the same file and included files.
    pub fn empty_like(&self) -> Diagnostics {
        Diagnostics {
            included: self.included.clone(),
            ..Diagnostics::new(self.file.clone())
        }
    }

    /// The name of file number `n` (0: the main file).
    pub fn file_name(&self, n: u16) -> &str {
        match n {
            0 => &self.file,
            n => self
                .included_files()
                .get(usize::from(n) - 1)
                .map_or(self.file.as_str(), String::as_str),
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// Records `d`, unless the same message was already recorded at the same place.
    pub fn push(&mut self, d: Diagnostic) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&d.file, d.line, d.col, &d.message).hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return;
        }
        if self.list.len() < MAX_KEPT {
            self.list.push(d);
        } else {
            self.omitted += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How many problems were found, kept or not.
    pub fn len(&self) -> usize {
        self.list.len() + self.omitted
    }

    /// How many problems were found after [`MAX_KEPT`] and are only counted.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.list.iter()
    }

    /// Sorts by place so that the report reads top to bottom like the file.
    pub fn sort(&mut self) {
        // The main file first, then included ones; each top to bottom.
        let main = self.file.clone();
        self.list.sort_by(|a, b| {
            (a.file != main, &a.file, a.line, a.col).cmp(&(b.file != main, &b.file, b.line, b.col))
        });
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.list.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.omitted > 0 {
            write!(f, "\nand {} more", self.omitted)?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_problems_are_only_counted() {
        let mut diags = Diagnostics::new("t.yml");
        for i in 0..MAX_KEPT + 5 {
            diags.push(Diagnostic {
                file: "t.yml".into(),
                line: i as u32 + 1,
                col: 1,
                path: String::new(),
                message: "bad".into(),
            });
        }
        assert_eq!(diags.iter().count(), MAX_KEPT);
        assert_eq!(diags.len(), MAX_KEPT + 5);
        assert_eq!(diags.omitted(), 5);
        assert!(diags.to_string().ends_with("\nand 5 more"));
    }

    #[test]
    fn repeats_at_the_same_place_are_dropped() {
        let mut diags = Diagnostics::new("t.yml");
        for (line, message, path) in [(3, "b", "x"), (1, "a", ""), (3, "b", "y"), (3, "c", "")] {
            diags.push(Diagnostic {
                file: "t.yml".into(),
                line,
                col: 1,
                path: path.into(),
                message: message.into(),
            });
        }
        diags.sort();
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            ["t.yml:1:1: a", "t.yml:3:1: b (at `x`)", "t.yml:3:1: c"]
        );
    }
}
