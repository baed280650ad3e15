//! Calico's selector language, parsed and evaluated as felix does
//! (`libcalico-go/lib/selector/{tokenizer,parser}`).
//!
//! Grammar, lowest precedence first: `a || b`, `a && b`, a run of `!` before one operation, and
//! the operations `label == "v"`, `label != "v"`, `has(label)`, `label in {"a", "b"}`,
//! `label not in {...}`, `label contains "s"`, `label starts with "s"`, `label ends with "s"`,
//! `all()`, `global()` and `( expr )`. Values are quoted with `"` or `'` and have no escapes.
//! Whitespace is spaces and tabs only. Labels are made of `a-z A-Z 0-9 _ . / -`, at most 512 bytes.
//! An empty selector selects everything.
//!
//! Evaluation: `!=` and `not in` are true for an endpoint without the label; `==`, `in`,
//! `contains`, `starts with`, `ends with` are false without it; `all()` and `global()` are true
//! (`global()` only means something in a rule's namespaceSelector, where the loader rewrites it).

use std::collections::BTreeSet;
use std::fmt;

/// A parsed selector expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    All,
    Global,
    Has(String),
    Eq(String, String),
    Ne(String, String),
    Contains(String, String),
    StartsWith(String, String),
    EndsWith(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Something with labels: a pod, a namespace, a network set.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for std::collections::BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Expr {
    pub fn matches(&self, l: &dyn Labels) -> bool {
        match self {
            Expr::All | Expr::Global => true,
            Expr::Has(k) => l.label(k).is_some(),
            Expr::Eq(k, v) => l.label(k) == Some(v.as_str()),
            Expr::Ne(k, v) => l.label(k) != Some(v.as_str()),
            Expr::Contains(k, v) => l.label(k).is_some_and(|x| x.contains(v.as_str())),
            Expr::StartsWith(k, v) => l.label(k).is_some_and(|x| x.starts_with(v.as_str())),
            Expr::EndsWith(k, v) => l.label(k).is_some_and(|x| x.ends_with(v.as_str())),
            Expr::In(k, set) => l.label(k).is_some_and(|x| set.contains(x)),
            Expr::NotIn(k, set) => l.label(k).is_none_or(|x| !set.contains(x)),
            Expr::Not(e) => !e.matches(l),
            Expr::And(es) => es.iter().all(|e| e.matches(l)),
            Expr::Or(es) => es.iter().any(|e| e.matches(l)),
        }
    }

    /// `a && b`, flattening nested conjunctions and dropping `all()`.
    pub fn and(self, other: Expr) -> Expr {
        let mut parts = Vec::new();
        for e in [self, other] {
            match e {
                Expr::All => {}
                Expr::And(es) => parts.extend(es),
                e => parts.push(e),
            }
        }
        match parts.len() {
            0 => Expr::All,
            1 => parts.pop().unwrap_or(Expr::All),
            _ => Expr::And(parts),
        }
    }

    /// The same expression with every label name prefixed (`pcns.` for namespace selectors).
    pub fn prefixed(&self, prefix: &str) -> Expr {
        let p = |k: &String| format!("{prefix}{k}");
        match self {
            Expr::All => Expr::All,
            Expr::Global => Expr::Global,
            Expr::Has(k) => Expr::Has(p(k)),
            Expr::Eq(k, v) => Expr::Eq(p(k), v.clone()),
            Expr::Ne(k, v) => Expr::Ne(p(k), v.clone()),
            Expr::Contains(k, v) => Expr::Contains(p(k), v.clone()),
            Expr::StartsWith(k, v) => Expr::StartsWith(p(k), v.clone()),
            Expr::EndsWith(k, v) => Expr::EndsWith(p(k), v.clone()),
            Expr::In(k, s) => Expr::In(p(k), s.clone()),
            Expr::NotIn(k, s) => Expr::NotIn(p(k), s.clone()),
            Expr::Not(e) => Expr::Not(Box::new(e.prefixed(prefix))),
            Expr::And(es) => Expr::And(es.iter().map(|e| e.prefixed(prefix)).collect()),
            Expr::Or(es) => Expr::Or(es.iter().map(|e| e.prefixed(prefix)).collect()),
        }
    }

    /// Replaces `all()` and `global()` everywhere, as libcalico-go does by text substitution
    /// when it turns a namespace selector into an endpoint selector.
    pub fn replace_all_global(&self, all: &Expr, global: &Expr) -> Expr {
        let r = |e: &Expr| e.replace_all_global(all, global);
        match self {
            Expr::All => all.clone(),
            Expr::Global => global.clone(),
            Expr::Not(e) => Expr::Not(Box::new(r(e))),
            Expr::And(es) => Expr::And(es.iter().map(r).collect()),
            Expr::Or(es) => Expr::Or(es.iter().map(r).collect()),
            e => e.clone(),
        }
    }

    /// Whether `global()` appears anywhere.
    pub fn has_global(&self) -> bool {
        match self {
            Expr::Global => true,
            Expr::Not(e) => e.has_global(),
            Expr::And(es) | Expr::Or(es) => es.iter().any(Expr::has_global),
            _ => false,
        }
    }

    /// Every label name the expression reads.
    pub fn label_names(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::All | Expr::Global => {}
            Expr::Has(k)
            | Expr::Eq(k, _)
            | Expr::Ne(k, _)
            | Expr::Contains(k, _)
            | Expr::StartsWith(k, _)
            | Expr::EndsWith(k, _)
            | Expr::In(k, _)
            | Expr::NotIn(k, _) => {
                out.insert(k.clone());
            }
            Expr::Not(e) => e.label_names(out),
            Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| e.label_names(out)),
        }
    }
}

fn quote(v: &str) -> String {
    if v.contains('"') {
        format!("'{v}'")
    } else {
        format!("\"{v}\"")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &BTreeSet<String>| s.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ");
        match self {
            Expr::All => f.write_str("all()"),
            Expr::Global => f.write_str("global()"),
            Expr::Has(k) => write!(f, "has({k})"),
            Expr::Eq(k, v) => write!(f, "{k} == {}", quote(v)),
            Expr::Ne(k, v) => write!(f, "{k} != {}", quote(v)),
            Expr::Contains(k, v) => write!(f, "{k} contains {}", quote(v)),
            Expr::StartsWith(k, v) => write!(f, "{k} starts with {}", quote(v)),
            Expr::EndsWith(k, v) => write!(f, "{k} ends with {}", quote(v)),
            Expr::In(k, s) => write!(f, "{k} in {{{}}}", set(s)),
            Expr::NotIn(k, s) => write!(f, "{k} not in {{{}}}", set(s)),
            Expr::Not(e) => match **e {
                Expr::And(_) | Expr::Or(_) => write!(f, "!({e})"),
                _ => write!(f, "!{e}"),
            },
            Expr::And(es) | Expr::Or(es) => {
                let op = if matches!(self, Expr::And(_)) {
                    " && "
                } else {
                    " || "
                };
                for (i, e) in es.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    match e {
                        Expr::And(_) | Expr::Or(_) => write!(f, "({e})")?,
                        _ => write!(f, "{e}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// A selector that does not parse: the byte offset in the selector where it goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectorError {
    pub pos: usize,
    pub message: String,
}

impl SelectorError {
    /// The selector on one line and a caret under the place of the error on the next.
    pub fn caret(&self, selector: &str) -> String {
        let col = selector
            .get(..self.pos.min(selector.len()))
            .map_or(0, |s| s.chars().count());
        format!("{selector}\n{}^", " ".repeat(col))
    }
}

/// The longest label felix accepts.
pub const MAX_LABEL_LEN: usize = 512;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Label(String),
    Str(String),
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    In,
    Not,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    All,
    Global,
    Has(String),
    LParen,
    RParen,
    And,
    Or,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Label(l) => format!("label `{l}`"),
            Tok::Str(s) => format!("string {}", quote(s)),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::In => "`in`".into(),
            Tok::Not => "`!`".into(),
            Tok::NotIn => "`not in`".into(),
            Tok::Contains => "`contains`".into(),
            Tok::StartsWith => "`starts with`".into(),
            Tok::EndsWith => "`ends with`".into(),
            Tok::All => "`all()`".into(),
            Tok::Global => "`global()`".into(),
            Tok::Has(l) => format!("`has({l})`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::And => "`&&`".into(),
            Tok::Or => "`||`".into(),
            Tok::Eof => "the end of the selector".into(),
        }
    }
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-')
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

fn err(pos: usize, message: impl Into<String>) -> SelectorError {
    SelectorError {
        pos,
        message: message.into(),
    }
}

/// `word` at `i` followed by a word boundary (end, or a character that is not a label's).
fn word_at(s: &[u8], i: usize, word: &str) -> Option<usize> {
    let end = i + word.len();
    if s.get(i..end)? == word.as_bytes() && s.get(end).is_none_or(|c| !ident_char(*c)) {
        Some(end)
    } else {
        None
    }
}

/// Words separated by spaces or tabs (or nothing: felix accepts `notin`), then a boundary.
fn words_at(s: &[u8], mut i: usize, words: &[&str]) -> Option<usize> {
    for (n, w) in words.iter().enumerate() {
        let end = i + w.len();
        if s.get(i..end)? != w.as_bytes() {
            return None;
        }
        i = end;
        if n + 1 < words.len() {
            i = skip_ws(s, i);
        }
    }
    if s.get(i).is_none_or(|c| !ident_char(*c)) {
        Some(i)
    } else {
        None
    }
}

fn ident(s: &[u8], i: usize) -> Result<(String, usize), SelectorError> {
    let mut end = i;
    while end < s.len() && ident_char(s[end]) {
        end += 1;
    }
    if end == i {
        let what = match std::str::from_utf8(&s[i..])
            .ok()
            .and_then(|r| r.chars().next())
        {
            Some(c) => format!("expected a label name, found `{c}`"),
            None => "expected a label name".to_string(),
        };
        return Err(err(i, what));
    }
    if end - i > MAX_LABEL_LEN {
        return Err(err(
            i,
            format!("label longer than {MAX_LABEL_LEN} characters"),
        ));
    }
    // Identifier characters are ASCII.
    Ok((String::from_utf8_lossy(&s[i..end]).into_owned(), end))
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, SelectorError> {
    let s = text.as_bytes();
    let mut toks: Vec<(Tok, usize)> = Vec::new();
    let mut i = 0;
    loop {
        i = skip_ws(s, i);
        if i >= s.len() {
            toks.push((Tok::Eof, i));
            return Ok(toks);
        }
        let start = i;
        let after_label = matches!(toks.last(), Some((Tok::Label(_), _)));
        let tok = match s[i] {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b'"' | b'\'' => {
                let q = s[i];
                let Some(len) = s[i + 1..].iter().position(|c| *c == q) else {
                    return Err(err(i, "unterminated string"));
                };
                let v = String::from_utf8_lossy(&s[i + 1..i + 1 + len]).into_owned();
                i += len + 2;
                Tok::Str(v)
            }
            b'{' => {
                i += 1;
                Tok::LBrace
            }
            b'}' => {
                i += 1;
                Tok::RBrace
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'=' => {
                if s.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Eq
                } else {
                    return Err(err(i, "expected `==`"));
                }
            }
            b'!' => {
                if s.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Ne
                } else {
                    i += 1;
                    Tok::Not
                }
            }
            b'&' => {
                if s.get(i + 1) == Some(&b'&') {
                    i += 2;
                    Tok::And
                } else {
                    return Err(err(i, "expected `&&`"));
                }
            }
            b'|' => {
                if s.get(i + 1) == Some(&b'|') {
                    i += 2;
                    Tok::Or
                } else {
                    return Err(err(i, "expected `||`"));
                }
            }
            _ if after_label => {
                if let Some(e) = word_at(s, i, "contains") {
                    i = e;
                    Tok::Contains
                } else if let Some(e) = words_at(s, i, &["starts", "with"]) {
                    i = e;
                    Tok::StartsWith
                } else if let Some(e) = words_at(s, i, &["ends", "with"]) {
                    i = e;
                    Tok::EndsWith
                } else if let Some(e) = words_at(s, i, &["not", "in"]) {
                    i = e;
                    Tok::NotIn
                } else if let Some(e) = word_at(s, i, "in") {
                    i = e;
                    Tok::In
                } else {
                    let label = match &toks.last() {
                        Some((Tok::Label(l), _)) => l.clone(),
                        _ => String::new(),
                    };
                    return Err(err(
                        i,
                        format!("expected an operator after label `{label}` (==, !=, in, not in, contains, starts with, ends with)"),
                    ));
                }
            }
            _ if s[i..].starts_with(b"has(") => {
                let j = skip_ws(s, i + 4);
                let (name, j) = ident(s, j)?;
                let j = skip_ws(s, j);
                if s.get(j) != Some(&b')') {
                    return Err(err(j, "expected `)` to close `has(`"));
                }
                i = j + 1;
                Tok::Has(name)
            }
            _ if s[i..].starts_with(b"all(") || s[i..].starts_with(b"global(") => {
                let global = s[i] == b'g';
                let j = skip_ws(s, i + if global { 7 } else { 4 });
                if s.get(j) != Some(&b')') {
                    return Err(err(
                        j,
                        format!(
                            "expected `)` after `{}(`",
                            if global { "global" } else { "all" }
                        ),
                    ));
                }
                i = j + 1;
                if global {
                    Tok::Global
                } else {
                    Tok::All
                }
            }
            _ => {
                let (name, j) = ident(s, i)?;
                i = j;
                Tok::Label(name)
            }
        };
        toks.push((tok, start));
    }
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].0
    }

    fn pos(&self) -> usize {
        self.toks[self.at.min(self.toks.len() - 1)].1
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Expr, SelectorError> {
        let mut parts = vec![self.and()?];
        while *self.peek() == Tok::Or {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, SelectorError> {
        let mut parts = vec![self.operation()?];
        while *self.peek() == Tok::And {
            self.next();
            parts.push(self.operation()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn string(&mut self) -> Result<String, SelectorError> {
        let pos = self.pos();
        match self.next() {
            Tok::Str(s) => Ok(s),
            t => Err(err(
                pos,
                format!(
                    "expected a quoted value, found {} (quote values: \"v\" or 'v')",
                    t.describe()
                ),
            )),
        }
    }

    fn operation(&mut self) -> Result<Expr, SelectorError> {
        // A run of `!` collapses to one negation or none, as felix does.
        let mut negated = false;
        while *self.peek() == Tok::Not {
            negated = !negated;
            self.next();
        }
        let pos = self.pos();
        let e = match self.next() {
            Tok::Has(l) => Expr::Has(l),
            Tok::All => Expr::All,
            Tok::Global => Expr::Global,
            Tok::Label(l) => {
                let op_pos = self.pos();
                match self.next() {
                    Tok::Eq => Expr::Eq(l, self.string()?),
                    Tok::Ne => Expr::Ne(l, self.string()?),
                    Tok::Contains => Expr::Contains(l, self.string()?),
                    Tok::StartsWith => Expr::StartsWith(l, self.string()?),
                    Tok::EndsWith => Expr::EndsWith(l, self.string()?),
                    op @ (Tok::In | Tok::NotIn) => {
                        let brace = self.pos();
                        if self.next() != Tok::LBrace {
                            return Err(err(brace, "expected a set of values: {\"a\", \"b\"}"));
                        }
                        let mut set = BTreeSet::new();
                        while let Tok::Str(v) = self.peek().clone() {
                            self.next();
                            set.insert(v);
                            if *self.peek() == Tok::Comma {
                                self.next();
                            } else {
                                break;
                            }
                        }
                        let close = self.pos();
                        if self.next() != Tok::RBrace {
                            return Err(err(close, "expected `}` to close the set"));
                        }
                        if op == Tok::In {
                            Expr::In(l, set)
                        } else {
                            Expr::NotIn(l, set)
                        }
                    }
                    Tok::Eof => {
                        return Err(err(
                            op_pos,
                            format!("expected an operator after label `{l}`"),
                        ))
                    }
                    t => {
                        return Err(err(
                            op_pos,
                            format!(
                                "expected an operator after label `{l}`, found {}",
                                t.describe()
                            ),
                        ))
                    }
                }
            }
            Tok::LParen => {
                let e = self.or()?;
                let close = self.pos();
                if self.next() != Tok::RParen {
                    return Err(err(close, "expected `)`"));
                }
                e
            }
            t => {
                return Err(err(
                    pos,
                    format!(
                        "expected a label, has(), all() or `(`, found {}",
                        t.describe()
                    ),
                ))
            }
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }
}

/// Parses a selector; an empty (or blank) selector is `all()`.
pub fn parse(text: &str) -> Result<Expr, SelectorError> {
    let toks = tokenize(text)?;
    if toks[0].0 == Tok::Eof {
        return Ok(Expr::All);
    }
    let mut p = Parser { toks, at: 0 };
    let e = p.or()?;
    if *p.peek() != Tok::Eof {
        return Err(err(
            p.pos(),
            format!(
                "unexpected {} after a complete selector",
                p.peek().describe()
            ),
        ));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn eval(sel: &str, pairs: &[(&str, &str)]) -> bool {
        parse(sel)
            .unwrap_or_else(|e| panic!("{sel}: {e}"))
            .matches(&labels(pairs))
    }

    type Set<'a> = &'a [&'a [(&'a str, &'a str)]];
    type Case<'a> = (&'a str, Set<'a>, Set<'a>);

    // Cases after the semantics felix's parser tests pin (selectorTestCases in parser_test.go):
    // each selector with labels it must select and labels it must not.
    #[test]
    fn operators_select_as_felix_does() {
        let cases: &[Case] = &[
            ("", &[&[], &[("a", "b")]], &[]),
            ("all()", &[&[], &[("a", "b")]], &[]),
            ("  all( )  ", &[&[]], &[]),
            (
                "a == 'b'",
                &[&[("a", "b")]],
                &[&[("a", "c")], &[], &[("c", "b")]],
            ),
            ("a == \"b\"", &[&[("a", "b")]], &[&[("a", "B")]]),
            ("a==\"b\"", &[&[("a", "b")]], &[]),
            ("a == ''", &[&[("a", "")]], &[&[]]),
            (
                "a != 'b'",
                &[&[("a", "c")], &[], &[("c", "b")]],
                &[&[("a", "b")]],
            ),
            (
                "has(a)",
                &[&[("a", "")], &[("a", "b")]],
                &[&[], &[("b", "a")]],
            ),
            ("has( a )", &[&[("a", "x")]], &[&[]]),
            ("!has(a)", &[&[], &[("b", "a")]], &[&[("a", "")]]),
            (
                "a in {'b', 'c'}",
                &[&[("a", "b")], &[("a", "c")]],
                &[&[("a", "d")], &[]],
            ),
            ("a in {}", &[], &[&[("a", "b")], &[]]),
            ("a in {'b',}", &[&[("a", "b")]], &[]),
            ("a not in {'b'}", &[&[("a", "c")], &[]], &[&[("a", "b")]]),
            ("a notin {'b'}", &[&[]], &[&[("a", "b")]]),
            ("a not  in {}", &[&[("a", "b")], &[]], &[]),
            (
                "a contains 'bc'",
                &[&[("a", "abcd")], &[("a", "bc")]],
                &[&[("a", "b")], &[]],
            ),
            (
                "a starts with 'ab'",
                &[&[("a", "abc")]],
                &[&[("a", "cab")], &[]],
            ),
            (
                "a ends with 'bc'",
                &[&[("a", "abc")]],
                &[&[("a", "bca")], &[]],
            ),
            ("a starts  with ''", &[&[("a", "")]], &[&[]]),
            ("global()", &[&[]], &[]),
            (
                "a == 'b' && c == 'd'",
                &[&[("a", "b"), ("c", "d")]],
                &[&[("a", "b")], &[("c", "d")]],
            ),
            (
                "a == 'b' || c == 'd'",
                &[&[("a", "b")], &[("c", "d")]],
                &[&[("a", "x")]],
            ),
            // && binds tighter than ||.
            (
                "a == 'b' || c == 'd' && e == 'f'",
                &[&[("a", "b")], &[("c", "d"), ("e", "f")]],
                &[&[("c", "d")]],
            ),
            (
                "(a == 'b' || c == 'd') && e == 'f'",
                &[&[("a", "b"), ("e", "f")]],
                &[&[("a", "b")], &[("c", "d")]],
            ),
            // ! applies to one operation only, and a run of them collapses.
            (
                "!a == 'b' && c == 'd'",
                &[&[("c", "d")], &[("a", "x"), ("c", "d")]],
                &[&[("a", "b"), ("c", "d")]],
            ),
            ("!!a == 'b'", &[&[("a", "b")]], &[&[]]),
            (
                "!(a == 'b' || c == 'd')",
                &[&[], &[("a", "x")]],
                &[&[("a", "b")], &[("c", "d")]],
            ),
            ("! has(a)", &[&[]], &[&[("a", "")]]),
            // Label names take dots, slashes, dashes and underscores.
            (
                "k8s-app.io/name_x == 'v'",
                &[&[("k8s-app.io/name_x", "v")]],
                &[],
            ),
            // Operator words need a boundary but quotes need no space.
            ("a in{'b'}", &[&[("a", "b")]], &[]),
            ("contains contains 'x'", &[&[("contains", "axb")]], &[]),
            ("in in {'x'}", &[&[("in", "x")]], &[]),
            ("has == 'x'", &[&[("has", "x")]], &[]),
            ("all == 'x'", &[&[("all", "x")]], &[]),
            ("\ta\t==\t'b'\t", &[&[("a", "b")]], &[]),
            ("a == \"it's\"", &[&[("a", "it's")]], &[]),
        ];
        for (sel, yes, no) in cases {
            for l in *yes {
                assert!(eval(sel, l), "{sel} should select {l:?}");
            }
            for l in *no {
                assert!(!eval(sel, l), "{sel} should not select {l:?}");
            }
        }
    }

    #[test]
    fn bad_selectors_are_refused_with_a_place() {
        let cases: &[(&str, usize, &str)] = &[
            ("a = 'b'", 2, "expected `==`"),
            ("a == b", 5, "expected a quoted value"),
            ("a == 'b", 5, "unterminated string"),
            ("a", 1, "expected an operator after label `a`"),
            ("a b", 2, "expected an operator after label `a`"),
            ("a == 'b' & c", 9, "expected `&&`"),
            ("a == 'b' | c", 9, "expected `||`"),
            ("has(a", 5, "expected `)` to close `has(`"),
            ("has()", 4, "expected a label name"),
            ("has (a)", 4, "expected an operator after label `has`"),
            ("all(x)", 4, "expected `)` after `all(`"),
            ("(a == 'b'", 9, "expected `)`"),
            ("a in 'b'", 5, "expected a set of values"),
            ("a in {'b' 'c'}", 10, "expected `}`"),
            ("a in {b}", 6, "expected `}`"),
            ("a == 'b' c == 'd'", 9, "unexpected label `c`"),
            ("a == 'b' &&", 11, "found the end of the selector"),
            ("()", 1, "found `)`"),
            ("a == 'b'\nc", 8, "expected a label name, found `\n`"),
            ("é == 'x'", 0, "expected a label name, found `é`"),
            ("a not 'x'", 2, "expected an operator"),
        ];
        for (sel, pos, msg) in cases {
            let e = parse(sel).expect_err(sel);
            assert!(e.message.contains(msg), "{sel}: {e}");
            assert_eq!(e.pos, *pos, "{sel}: {e}");
        }
        let long = format!("has({})", "a".repeat(MAX_LABEL_LEN + 1));
        assert!(parse(&long).unwrap_err().message.contains("longer"));
        assert!(parse(&format!("has({})", "a".repeat(MAX_LABEL_LEN))).is_ok());
    }

    #[test]
    fn the_caret_sits_under_the_mistake() {
        let sel = "app == 'web' && tier = 'db'";
        let e = parse(sel).unwrap_err();
        assert_eq!(
            e.caret(sel),
            "app == 'web' && tier = 'db'\n                     ^"
        );
    }

    #[test]
    fn display_round_trips() {
        for sel in [
            "a == \"b\" && (c != \"d\" || !has(e))",
            "a in {\"x\", \"y\"} || b not in {}",
            "!(a contains \"q\" && b starts with \"r\") && c ends with \"s\"",
            "all()",
        ] {
            let e = parse(sel).unwrap();
            assert_eq!(parse(&e.to_string()).unwrap(), e, "{sel} -> {e}");
        }
    }

    #[test]
    fn prefixing_and_replacing() {
        let e = parse("all() || (a == 'b' && !global())").unwrap();
        let ns = Expr::Has("projectcalico.org/namespace".into());
        let r = e
            .prefixed("pcns.")
            .replace_all_global(&ns, &Expr::Not(Box::new(ns.clone())));
        assert_eq!(
            r.to_string(),
            "has(projectcalico.org/namespace) || (pcns.a == \"b\" && !!has(projectcalico.org/namespace))"
        );
    }
}
