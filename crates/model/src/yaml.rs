//! A YAML document as a tree whose every node knows its line and column, and the helpers that
//! read such a tree into typed values while collecting every error with its place.
//!
//! Serde-based YAML loaders stop at the first error and forget where a value came from. A network
//! engineer fixing a topology file wants all the mistakes at once, each with `file:line:col` and
//! the key it concerns, so nettwin parses into this tree first and decodes it by hand.

use crate::diag::{Diagnostic, Diagnostics};
use std::fmt;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A place in a source file, 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub line: u32,
    pub col: u32,
}

impl Span {
    fn from_marker(m: Marker) -> Span {
        Span {
            line: m.line() as u32,
            col: m.col() as u32 + 1,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// The value held by a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or an empty value.
    Null,
    /// Any scalar; `quoted` scalars are never read as numbers, booleans or null.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys keep their file order; a key that appears twice is reported by [`MapReader`].
    Map(Vec<(Node, Node)>),
}

/// One YAML node with the place it starts at.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The text of a scalar, whatever its style.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map(|(_, v)| v)
    }

    /// What kind of node this is, for error messages ("expected a mapping, found a list").
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document. An empty document is a `Null` node at 1:1.
///
/// Anchors and aliases are resolved by copying the anchored node, so an alias has the span of its
/// anchor: errors inside it point at the text that defines it.
pub fn parse(text: &str) -> Result<Node, (Span, String)> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|e| (Span::from_marker(*e.marker()), e.info().to_string()))?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        span: Span { line: 1, col: 1 },
    }))
}

/// Parses the document `text` of `file`; a syntax error becomes the one diagnostic returned.
pub fn parse_document(file: &str, text: &str) -> Result<Node, Diagnostics> {
    parse(text).map_err(|(span, msg)| {
        let mut diags = Diagnostics::new(file);
        diags.error(span, &Path::root(), format!("YAML syntax error: {msg}"));
        diags
    })
}

/// Deeply nested documents are refused rather than risking the stack of later recursive readers.
const MAX_DEPTH: usize = 256;

#[derive(Default)]
struct Builder {
    /// Open collections: the node under construction and, for mappings, a pending key.
    stack: Vec<(Node, Option<Node>)>,
    anchors: Vec<Option<Node>>,
    /// Anchor id of each open collection, registered when it closes.
    open_anchors: Vec<usize>,
    root: Option<Node>,
    error: Option<(Span, String)>,
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some((parent, pending_key)) => match &mut parent.value {
                Value::Seq(items) => items.push(node),
                Value::Map(entries) => match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                _ => {}
            },
        }
    }

    fn register_anchor(&mut self, id: usize, node: &Node) {
        if id == 0 {
            return;
        }
        if self.anchors.len() <= id {
            self.anchors.resize(id + 1, None);
        }
        self.anchors[id] = Some(node.clone());
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let span = Span::from_marker(mark);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let value =
                    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar { text, quoted }
                    };
                let node = Node { value, span };
                self.register_anchor(anchor, &node);
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.error = Some((span, format!("nesting deeper than {MAX_DEPTH} levels")));
                    return;
                }
                let value = if matches!(ev, Event::SequenceStart(..)) {
                    Value::Seq(Vec::new())
                } else {
                    Value::Map(Vec::new())
                };
                self.stack.push((Node { value, span }, None));
                self.open_anchors.push(anchor);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let (Some((node, _)), Some(anchor)) = (self.stack.pop(), self.open_anchors.pop())
                {
                    self.register_anchor(anchor, &node);
                    self.push_value(node);
                }
            }
            Event::Alias(id) => match self.anchors.get(id).cloned().flatten() {
                Some(node) => self.push_value(node),
                None => {
                    self.error = Some((span, "alias to an unknown or unfinished anchor".into()))
                }
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Where in the document a value sits, as a user would name it: `links[2].mtu`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn root() -> Path {
        Path(String::new())
    }

    pub fn key(&self, key: &str) -> Path {
        if self.0.is_empty() {
            Path(key.to_string())
        } else {
            Path(format!("{}.{}", self.0, key))
        }
    }

    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{}]", self.0, i))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a mapping key by key, remembering which keys were read so that [`MapReader::finish`]
/// can report every key nobody asked for. Duplicate keys are reported when the reader is made.
pub struct MapReader<'a> {
    entries: &'a [(Node, Node)],
    used: Vec<bool>,
    path: Path,
}

impl<'a> MapReader<'a> {
    /// `None` (with an error recorded) when `node` is not a mapping; a null node reads as empty.
    pub fn new(node: &'a Node, path: &Path, diags: &mut Diagnostics) -> Option<MapReader<'a>> {
        let entries: &'a [(Node, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                diags.error(
                    node.span,
                    path,
                    format!("expected a mapping, found {}", node.kind_name()),
                );
                return None;
            }
        };
        // Duplicates and non-scalar keys are reported here once, and count as read.
        let mut used = vec![false; entries.len()];
        for (i, (key, _)) in entries.iter().enumerate() {
            if key.as_scalar().is_none() {
                diags.error(key.span, path, "mapping keys must be plain names");
                used[i] = true;
                continue;
            }
            if entries[..i]
                .iter()
                .any(|(k, _)| k.as_scalar() == key.as_scalar())
            {
                diags.error(
                    key.span,
                    &path.key(key.as_scalar().unwrap_or_default()),
                    format!("duplicate key `{}`", key.as_scalar().unwrap_or_default()),
                );
                used[i] = true;
            }
        }
        Some(MapReader {
            used,
            entries,
            path: path.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value under `key`, marked as read.
    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.as_scalar() == Some(key))?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// The entries nobody has read yet, marking them read. For maps whose keys are names
    /// (node names, group names) rather than a fixed schema.
    pub fn take_rest(&mut self) -> Vec<(&'a Node, &'a Node)> {
        let mut rest = Vec::new();
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                self.used[i] = true;
                rest.push((k, v));
            }
        }
        rest
    }

    /// Reports each key that was never read, naming the keys that are allowed here.
    pub fn finish(self, allowed: &[&str], diags: &mut Diagnostics) {
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let Some(name) = key.as_scalar() else {
                continue;
            };
            let mut msg = format!("unknown key `{name}`");
            if let Some(near) = closest(name, allowed) {
                msg.push_str(&format!(" (did you mean `{near}`?)"));
            } else if !allowed.is_empty() {
                msg.push_str(&format!("; expected one of: {}", allowed.join(", ")));
            }
            diags.error(key.span, &self.path.key(name), msg);
        }
    }
}

/// The allowed name nearest to a misspelt one, if it is near enough to be a likely typo.
pub fn closest<'s>(name: &str, allowed: &[&'s str]) -> Option<&'s str> {
    allowed
        .iter()
        .map(|a| (edit_distance(name, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4) && *d < a.len())
        .min()
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Typed readers for scalars. Each records an error and returns `None` on a bad value, so a
/// caller can go on and find the next mistake.
pub fn read_str(node: &Node, path: &Path, diags: &mut Diagnostics) -> Option<String> {
    match &node.value {
        Value::Scalar { text, .. } => Some(text.clone()),
        _ => {
            diags.error(
                node.span,
                path,
                format!("expected a string, found {}", node.kind_name()),
            );
            None
        }
    }
}

pub fn read_bool(node: &Node, path: &Path, diags: &mut Diagnostics) -> Option<bool> {
    match &node.value {
        Value::Scalar {
            text,
            quoted: false,
        } => match text.as_str() {
            "true" | "True" | "TRUE" | "yes" | "on" => Some(true),
            "false" | "False" | "FALSE" | "no" | "off" => Some(false),
            _ => {
                diags.error(
                    node.span,
                    path,
                    format!("expected true or false, found `{text}`"),
                );
                None
            }
        },
        _ => {
            diags.error(
                node.span,
                path,
                format!("expected true or false, found {}", node.kind_name()),
            );
            None
        }
    }
}

/// An unsigned integer within `range` (inclusive), written in decimal.
pub fn read_u64(
    node: &Node,
    path: &Path,
    range: std::ops::RangeInclusive<u64>,
    diags: &mut Diagnostics,
) -> Option<u64> {
    let text = match &node.value {
        Value::Scalar { text, .. } => text,
        _ => {
            diags.error(
                node.span,
                path,
                format!("expected a number, found {}", node.kind_name()),
            );
            return None;
        }
    };
    match text.replace('_', "").parse::<u64>() {
        Ok(v) if range.contains(&v) => Some(v),
        Ok(v) => {
            diags.error(
                node.span,
                path,
                format!("{v} is out of range {}..={}", range.start(), range.end()),
            );
            None
        }
        Err(_) => {
            diags.error(
                node.span,
                path,
                format!("expected a whole number, found `{text}`"),
            );
            None
        }
    }
}

/// A decimal number within `range` (inclusive).
pub fn read_f64(
    node: &Node,
    path: &Path,
    range: std::ops::RangeInclusive<f64>,
    diags: &mut Diagnostics,
) -> Option<f64> {
    let Some(text) = node.as_scalar() else {
        diags.error(
            node.span,
            path,
            format!("expected a number, found {}", node.kind_name()),
        );
        return None;
    };
    match text.parse::<f64>() {
        Ok(v) if range.contains(&v) => Some(v),
        Ok(v) => {
            diags.error(
                node.span,
                path,
                format!("{v} is out of range {}..={}", range.start(), range.end()),
            );
            None
        }
        Err(_) => {
            diags.error(
                node.span,
                path,
                format!("expected a number, found `{text}`"),
            );
            None
        }
    }
}

/// The items of a list; a single scalar reads as a one-item list, as netlab allows.
pub fn read_list<'a>(node: &'a Node, path: &Path, diags: &mut Diagnostics) -> Vec<&'a Node> {
    match &node.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Scalar { .. } => vec![node],
        Value::Null => Vec::new(),
        Value::Map(_) => {
            diags.error(node.span, path, "expected a list, found a mapping");
            Vec::new()
        }
    }
}

impl Diagnostics {
    /// Records an error at `span` about the value at `path`.
    pub fn error(&mut self, span: Span, path: &Path, message: impl Into<String>) {
        self.push(Diagnostic {
            file: self.file.clone(),
            line: span.line,
            col: span.col,
            path: path.as_str().to_string(),
            message: message.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_one_based_line_and_column() {
        let doc = parse("a: 1\nb:\n  - x\n  - {c: d}\n").unwrap();
        let b = doc.get("b").unwrap();
        let items = b.as_seq().unwrap();
        assert_eq!(items[0].span, Span { line: 3, col: 5 });
        assert_eq!(items[1].span, Span { line: 4, col: 5 });
        assert_eq!(items[1].get("c").unwrap().span, Span { line: 4, col: 9 });
        assert_eq!(doc.get("a").unwrap().span, Span { line: 1, col: 4 });
    }

    #[test]
    fn quoted_scalars_and_nulls() {
        let doc = parse("a: ~\nb: 'null'\nc:\n").unwrap();
        assert!(doc.get("a").unwrap().is_null());
        assert_eq!(doc.get("b").unwrap().as_scalar(), Some("null"));
        assert!(doc.get("c").unwrap().is_null());
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let doc = parse("x: &m {mtu: 9000}\ny: *m\n").unwrap();
        assert_eq!(
            doc.get("y").unwrap().get("mtu").unwrap().as_scalar(),
            Some("9000")
        );
    }

    #[test]
    fn syntax_error_has_a_place() {
        let (span, msg) = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(span.line >= 1, "{span} {msg}");
        assert!(!msg.is_empty());
    }

    #[test]
    fn unknown_and_duplicate_keys_are_reported() {
        let doc = parse("mtu: 1500\nmut: 9000\nmtu: 1400\n").unwrap();
        let mut diags = Diagnostics::new("t.yml");
        let mut m = MapReader::new(&doc, &Path::root(), &mut diags).unwrap();
        m.take("mtu");
        m.finish(&["mtu", "kind"], &mut diags);
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            vec![
                "t.yml:3:1: duplicate key `mtu` (at `mtu`)",
                "t.yml:2:1: unknown key `mut` (did you mean `mtu`?) (at `mut`)",
            ]
        );
    }

    #[test]
    fn closest_only_suggests_near_names() {
        assert_eq!(closest("nodse", &["nodes", "links"]), Some("nodes"));
        assert_eq!(closest("zzzzzz", &["nodes", "links"]), None);
    }
}
