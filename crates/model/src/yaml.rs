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
    /// Which file: 0 is the topology file itself, others are files it includes (netlab's
    /// `defaults.sources`), named by [`Diagnostics::add_file`].
    pub file: u16,
}

impl Span {
    pub const fn new(line: u32, col: u32) -> Span {
        Span { line, col, file: 0 }
    }

    fn from_marker(m: Marker, file: u16) -> Span {
        Span {
            line: m.line() as u32,
            col: m.col() as u32 + 1,
            file,
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

    /// The value of an unquoted YAML 1.1 boolean (`true`, `True`, `yes`, `Off`, ...), as PyYAML
    /// and so netlab read it; `None` for anything else.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.as_str() {
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
                    Some(false)
                }
                _ => None,
            },
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
///
/// Hostile input is refused with a place rather than exhausting the machine: nesting deeper than
/// [`MAX_DEPTH`], anchors and aliases that copy more than [`MAX_COPIED_NODES`] nodes or
/// [`MAX_COPIED_TEXT`] bytes of text, and a second document in the stream. A leading byte order
/// mark is skipped.
pub fn parse(text: &str) -> Result<Node, (Span, String)> {
    parse_in(text, 0)
}

/// [`parse`] for the file numbered `file` (see [`Span::file`]).
pub fn parse_in(text: &str, file: u16) -> Result<Node, (Span, String)> {
    let mut docs = parse_documents(text, file, false)?;
    Ok(docs.pop().map_or(
        Node {
            value: Value::Null,
            span: Span {
                line: 1,
                col: 1,
                file,
            },
        },
        |(_, node)| node,
    ))
}

/// Parses a stream of YAML documents (separated by `---`), as `kubectl apply -f` reads them.
/// Each document comes with the place it starts at; an empty document is a `Null` node there.
/// The same limits as [`parse`] apply to the whole stream (the copy budgets are shared), and
/// anchors are per document, as YAML defines them.
pub fn parse_stream(text: &str) -> Result<Vec<(Span, Node)>, (Span, String)> {
    parse_documents(text, 0, true)
}

fn parse_documents(text: &str, file: u16, many: bool) -> Result<Vec<(Span, Node)>, (Span, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder {
        file,
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    let mut docs = Vec::new();
    let mut doc_start = Span {
        line: 1,
        col: 1,
        file,
    };
    // Events are pulled one at a time: `Parser::load` recurses once per nesting level and
    // overflows the stack on a few kilobytes of `[[[[` or `- - - -` before any limit applies.
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| {
            let span = Span::from_marker(*e.marker(), file);
            // The scanner's own limit on `[` and `{` nesting (255) is the same mistake as ours.
            if e.info() == "recursion limit exceeded" {
                (span, too_deep())
            } else {
                (span, format!("YAML syntax error: {}", e.info()))
            }
        })?;
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 && !many {
                    return Err((
                        Span::from_marker(mark, file),
                        "a second YAML document starts here; a topology file holds one document"
                            .into(),
                    ));
                }
                doc_start = Span::from_marker(mark, file);
                builder.anchors.clear();
            }
            Event::DocumentEnd => {
                let node = builder.root.take().unwrap_or(Node {
                    value: Value::Null,
                    span: doc_start,
                });
                docs.push((doc_start, node));
            }
            _ => builder.on_event(ev, mark),
        }
        if let Some(err) = builder.error.take() {
            return Err(err);
        }
    }
    Ok(docs)
}

/// Parses the document `text` of `file`; a syntax error (or a limit above) becomes the one
/// diagnostic returned.
pub fn parse_document(file: &str, text: &str) -> Result<Node, Diagnostics> {
    parse(text).map_err(|(span, msg)| {
        let mut diags = Diagnostics::new(file);
        diags.error(span, &Path::root(), msg);
        diags
    })
}

/// Deeply nested documents are refused rather than risking the stack of later recursive readers
/// (decoding, cloning and dropping the tree all recurse). Real topologies nest a dozen levels.
pub const MAX_DEPTH: usize = 200;

fn too_deep() -> String {
    format!("the document nests deeper than {MAX_DEPTH} levels")
}

/// How many nodes aliases may copy into one document, and anchors keep copies of. An alias
/// copies its anchor, so a few lines of nested aliases ("billion laughs") would otherwise build a
/// tree of billions of nodes; real topologies copy a few small sections.
pub const MAX_COPIED_NODES: u64 = 1_000_000;

/// How many bytes of scalar text aliases may copy into one document, and anchors keep copies of
/// (an alias to one long string, repeated).
pub const MAX_COPIED_TEXT: u64 = 64 << 20;

/// The size of a subtree: how many nodes and how many bytes of scalar text.
#[derive(Clone, Copy, Debug, Default)]
struct Size {
    nodes: u64,
    text: u64,
}

impl Size {
    fn add(&mut self, other: Size) {
        self.nodes += other.nodes;
        self.text += other.text;
    }
}

/// An open collection: the node under construction, the pending key of a mapping, its anchor id
/// (registered when it closes) and the size of what it holds so far.
struct Frame {
    node: Node,
    pending_key: Option<Node>,
    anchor: usize,
    size: Size,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: Vec<Option<(Node, Size)>>,
    /// What aliases and anchors have copied so far, each within the limits.
    alias_copies: Size,
    anchor_copies: Size,
    root: Option<Node>,
    error: Option<(Span, String)>,
    /// The file number every span gets.
    file: u16,
}

impl Builder {
    fn push_value(&mut self, node: Node, size: Size) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(frame) => {
                frame.size.add(size);
                match &mut frame.node.value {
                    Value::Seq(items) => items.push(node),
                    Value::Map(entries) => match frame.pending_key.take() {
                        None => frame.pending_key = Some(node),
                        Some(key) => entries.push((key, node)),
                    },
                    _ => {}
                }
            }
        }
    }

    /// Charges a copy of `size` to `budget`; `false` (with the error recorded at `span`) when it
    /// would go over the limits.
    fn charge(&mut self, which: Copies, size: Size, span: Span) -> bool {
        let budget = match which {
            Copies::Alias => &mut self.alias_copies,
            Copies::Anchor => &mut self.anchor_copies,
        };
        let mut after = *budget;
        after.add(size);
        if after.nodes <= MAX_COPIED_NODES && after.text <= MAX_COPIED_TEXT {
            *budget = after;
            return true;
        }
        let what = match which {
            Copies::Alias => "aliases expand the document",
            Copies::Anchor => "anchors (each keeps a copy of its node) grow",
        };
        self.error = Some((
            span,
            format!(
                "{what} beyond {MAX_COPIED_NODES} copied nodes or {} MiB of copied text (an alias bomb?)",
                MAX_COPIED_TEXT >> 20
            ),
        ));
        false
    }

    fn register_anchor(&mut self, id: usize, node: &Node, size: Size) {
        if id == 0 {
            return;
        }
        // Nested anchors would otherwise keep one copy of the same subtree per level.
        if !self.charge(Copies::Anchor, size, node.span) {
            return;
        }
        if self.anchors.len() <= id {
            self.anchors.resize(id + 1, None);
        }
        self.anchors[id] = Some((node.clone(), size));
    }
}

/// What a copy of a subtree is for.
#[derive(Clone, Copy)]
enum Copies {
    /// An alias in the tree.
    Alias,
    /// The copy an anchor keeps for later aliases.
    Anchor,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let span = Span::from_marker(mark, self.file);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let size = Size {
                    nodes: 1,
                    text: text.len() as u64,
                };
                let value =
                    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar { text, quoted }
                    };
                let node = Node { value, span };
                self.register_anchor(anchor, &node, size);
                self.push_value(node, size);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.error = Some((span, too_deep()));
                    return;
                }
                let value = if matches!(ev, Event::SequenceStart(..)) {
                    Value::Seq(Vec::new())
                } else {
                    Value::Map(Vec::new())
                };
                self.stack.push(Frame {
                    node: Node { value, span },
                    pending_key: None,
                    anchor,
                    size: Size { nodes: 1, text: 0 },
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    self.register_anchor(frame.anchor, &frame.node, frame.size);
                    self.push_value(frame.node, frame.size);
                }
            }
            Event::Alias(id) => {
                let Some(Some((_, size))) = self.anchors.get(id) else {
                    self.error = Some((span, "alias to an unknown or unfinished anchor".into()));
                    return;
                };
                // Checked before copying: the copy is what the limit is there to prevent.
                let size = *size;
                if !self.charge(Copies::Alias, size, span) {
                    return;
                }
                if let Some(Some((node, _))) = self.anchors.get(id) {
                    let node = node.clone();
                    self.push_value(node, size);
                }
            }
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
        // A set, not a scan of the earlier keys: a mapping may have a million keys.
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            let Some(name) = key.as_scalar() else {
                diags.error(key.span, path, "mapping keys must be plain names");
                used[i] = true;
                continue;
            };
            if !seen.insert(name) {
                diags.error(key.span, &path.key(name), format!("duplicate key `{name}`"));
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
        _ if node.as_bool().is_some() => node.as_bool(),
        Value::Scalar {
            text,
            quoted: false,
        } => {
            diags.error(
                node.span,
                path,
                format!("expected true or false, found `{text}`"),
            );
            None
        }
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
            file: self.file_name(span.file).to_string(),
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
        assert_eq!(items[0].span, Span::new(3, 5));
        assert_eq!(items[1].span, Span::new(4, 5));
        assert_eq!(items[1].get("c").unwrap().span, Span::new(4, 9));
        assert_eq!(doc.get("a").unwrap().span, Span::new(1, 4));
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

    /// Nine levels of nine aliases: 9^9 copies of "lol" (the classic "billion laughs").
    fn billion_laughs() -> String {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
        }
        text
    }

    #[test]
    fn alias_bombs_stop_at_the_alias_that_goes_over_the_limit() {
        let text = billion_laughs();
        assert!(text.len() < 512, "{}", text.len());
        let start = std::time::Instant::now();
        let (span, msg) = parse(&text).unwrap_err();
        // a5 holds 597,871 nodes: the first alias to it, in a6, goes past a million copies.
        assert_eq!(span, Span::new(7, 10), "{msg}");
        assert_eq!(msg, "aliases expand the document beyond 1000000 copied nodes or 64 MiB of copied text (an alias bomb?)");
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn one_long_string_copied_by_many_aliases_is_refused() {
        let mut text = format!("a: &a {}\nb: [", "x".repeat(100_000));
        text.push_str(&vec!["*a"; 1000].join(", "));
        text.push_str("]\n");
        let (span, msg) = parse(&text).unwrap_err();
        assert_eq!(span.line, 2, "{msg}");
        assert!(msg.contains("MiB of copied text"), "{msg}");
    }

    #[test]
    fn nested_anchors_count_their_copies() {
        // Each anchor keeps a copy of its subtree; 150 nested anchors around 10,000 items would
        // keep 1.5 million nodes without a single alias.
        let mut text = String::new();
        for i in 0..150 {
            text.push_str(&format!("&a{i} ["));
        }
        text.push_str(&vec!["x"; 10_000].join(","));
        text.push_str(&"]".repeat(150));
        let (_, msg) = parse(&text).unwrap_err();
        assert!(
            msg.starts_with("anchors (each keeps a copy of its node) grow beyond"),
            "{msg}"
        );
    }

    #[test]
    fn modest_aliases_are_fine() {
        let text = "d: &d {mtu: 9000, cost: 5}\nl: [*d, *d, *d]\n";
        let doc = parse(text).unwrap();
        assert_eq!(doc.get("l").unwrap().as_seq().unwrap().len(), 3);
    }

    /// Each of these would overflow a recursive parser's stack (the test thread has 2 MiB).
    #[test]
    fn deep_nesting_is_refused_with_a_place() {
        let block_seq = "- ".repeat(20_200);
        let flow_seq = "[".repeat(20_000);
        let flow_map = "{a: ".repeat(20_000);
        let explicit_keys = "? ".repeat(20_000);
        let block_map: String = (0..300).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        for (name, text, line) in [
            ("block sequence", block_seq, 1),
            ("flow sequence", flow_seq, 1),
            ("flow mapping", flow_map, 1),
            ("explicit keys", explicit_keys, 1),
            ("block mapping", block_map, MAX_DEPTH as u32 + 1),
        ] {
            let (span, msg) = parse(&text).unwrap_err();
            assert_eq!(msg, "the document nests deeper than 200 levels", "{name}");
            assert_eq!(span.line, line, "{name}: {span}");
            assert!(span.col > 1, "{name}: {span}");
        }
    }

    #[test]
    fn nesting_up_to_the_limit_is_fine() {
        let depth = MAX_DEPTH;
        let text = format!("{}x{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse(&text).is_ok());
        let text = format!("{}x", "- ".repeat(depth));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn a_second_document_is_an_error_at_its_start() {
        let (span, msg) = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(span, Span::new(2, 1));
        assert!(msg.contains("second YAML document"), "{msg}");
        let (span, _) = parse("---\na: 1\n...\n---\nb: 2\n").unwrap_err();
        assert_eq!(span.line, 4);
        // An explicit start and end around one document is fine.
        assert!(parse("---\na: 1\n...\n").is_ok());
    }

    #[test]
    fn a_stream_holds_every_document_with_its_start() {
        let docs = parse_stream("a: 1\n---\nb: 2\n---\n---\nc: &x 3\nd: *x\n").unwrap();
        assert_eq!(docs.len(), 4);
        assert_eq!(docs[0].1.get("a").unwrap().as_scalar(), Some("1"));
        assert_eq!(docs[1].0.line, 2);
        assert_eq!(docs[1].1.get("b").unwrap().span, Span::new(3, 4));
        assert!(docs[2].1.is_null());
        assert_eq!(docs[3].1.get("d").unwrap().as_scalar(), Some("3"));
        assert!(parse_stream("").unwrap().is_empty());
        // An alias may not reach into an earlier document.
        assert!(parse_stream("a: &x 1\n---\nb: *x\n").is_err());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let doc = parse("\u{feff}name: x\n").unwrap();
        assert_eq!(doc.get("name").unwrap().as_scalar(), Some("x"));
        assert_eq!(doc.get("name").unwrap().span, Span::new(1, 7));
    }

    #[test]
    fn closest_only_suggests_near_names() {
        assert_eq!(closest("nodse", &["nodes", "links"]), Some("nodes"));
        assert_eq!(closest("zzzzzz", &["nodes", "links"]), None);
    }
}
