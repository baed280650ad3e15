//! The small part of Python that netlab's `plugin:` calls and `valid:` expressions use: literals
//! (strings, numbers, `True`/`False`/`None`, lists, dicts), names, attribute and index
//! references (`nodes.r2.loopback.ipv4`, `node.interfaces[0].ipv4`), calls (`re.search(p,
//! stdout)`, `len(x)`), `in`/`not in`, comparisons, `and`/`or`/`not` and `a if c else b`.
//!
//! netlab evaluates these with Python's `eval` over the lab's data; anything beyond this subset
//! (comprehensions, lambdas, f-strings) is refused with [`ExprError::Unsupported`], and the
//! test that uses it is reported as skipped rather than guessed at.

use std::collections::BTreeMap;
use std::fmt;

/// A Python value as far as the tests need one.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Dict(BTreeMap<String, Value>),
}

impl Value {
    /// Python's truth value.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Dict(d) => !d.is_empty(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }

    /// A dict from `(key, value)` pairs.
    pub fn dict<I: IntoIterator<Item = (K, Value)>, K: Into<String>>(items: I) -> Value {
        Value::Dict(items.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// Python `==` (an int equals the float of the same value; `True == 1`).
    pub fn py_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => *a as f64 == *b,
            (Value::Bool(a), Value::Int(b)) | (Value::Int(b), Value::Bool(a)) => *a as i64 == *b,
            _ => self == other,
        }
    }

    /// Python `needle in self`.
    pub fn contains(&self, needle: &Value) -> Result<bool, ExprError> {
        match (self, needle) {
            (Value::Str(h), Value::Str(n)) => Ok(h.contains(n.as_str())),
            (Value::List(l), n) => Ok(l.iter().any(|x| x.py_eq(n))),
            (Value::Dict(d), Value::Str(k)) => Ok(d.contains_key(k)),
            (Value::Dict(_), _) => Ok(false),
            (h, n) => Err(ExprError::Type(format!(
                "`in` needs a container: {} in {}",
                n.type_name(),
                h.type_name()
            ))),
        }
    }
}

impl fmt::Display for Value {
    /// As Python's `str()` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match v {
                        Value::Str(s) => write!(f, "'{s}'")?,
                        v => write!(f, "{v}")?,
                    }
                }
                f.write_str("]")
            }
            Value::Dict(d) => {
                f.write_str("{")?;
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match v {
                        Value::Str(s) => write!(f, "'{k}': '{s}'")?,
                        v => write!(f, "'{k}': {v}")?,
                    }
                }
                f.write_str("}")
            }
        }
    }
}

/// Why an expression could not be parsed or evaluated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExprError {
    /// Not Python at all (a typo in the lab).
    #[error("syntax error: {0}")]
    Syntax(String),
    /// Python the twin does not evaluate (a comprehension, a lambda, ...).
    #[error("{0}")]
    Unsupported(String),
    /// A reference to lab data that the twin does not model (`vrfs`, `vlans`, `prefix`, ...).
    #[error("{0}")]
    NotModelled(String),
    /// A reference to lab data that is modelled but absent (a node without `ospf`).
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Type(String),
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Lit(Value),
    Name(String),
    Attr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        kwargs: Vec<(String, Expr)>,
    },
    List(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    IfElse {
        then: Box<Expr>,
        cond: Box<Expr>,
        other: Box<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
}

impl Expr {
    /// The source form of a reference (`nodes.r2.loopback.ipv4`), for messages.
    pub fn describe(&self) -> String {
        match self {
            Expr::Name(n) => n.clone(),
            Expr::Attr(b, a) => format!("{}.{a}", b.describe()),
            Expr::Index(b, i) => format!("{}[{}]", b.describe(), i.describe()),
            Expr::Lit(Value::Str(s)) => format!("'{s}'"),
            Expr::Lit(v) => v.to_string(),
            _ => "(expression)".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "==", "!=", "<=", ">=", "**", "//", "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "<", ">",
    "+", "-", "*", "/", "%", "|", "&", "@", "~", "^",
];

fn tokenize(src: &str) -> Result<Vec<Tok>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // String prefixes: r'..' is a raw string, f'..' is not supported.
            if i < chars.len() && (chars[i] == '\'' || chars[i] == '"') {
                match word.to_ascii_lowercase().as_str() {
                    "r" => {
                        let (s, next) = string(&chars, i, true)?;
                        out.push(Tok::Str(s));
                        i = next;
                        continue;
                    }
                    "f" | "rf" | "fr" | "b" | "br" | "rb" | "u" => {
                        return Err(ExprError::Unsupported(format!(
                            "`{word}'...'` strings are not evaluated"
                        )))
                    }
                    _ => {}
                }
            }
            out.push(Tok::Name(word));
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let mut float = false;
            if i < chars.len()
                && chars[i] == '.'
                && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
            {
                float = true;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            if float {
                let v = text
                    .parse::<f64>()
                    .map_err(|_| ExprError::Syntax(format!("bad number `{text}`")))?;
                out.push(Tok::Float(v));
            } else {
                let v = text
                    .parse::<i64>()
                    .map_err(|_| ExprError::Syntax(format!("bad number `{text}`")))?;
                out.push(Tok::Int(v));
            }
            continue;
        }
        if c == '\'' || c == '"' {
            let (s, next) = string(&chars, i, false)?;
            out.push(Tok::Str(s));
            i = next;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                out.push(Tok::Op(op));
                i += op.len();
            }
            None => return Err(ExprError::Syntax(format!("unexpected character `{c}`"))),
        }
    }
    Ok(out)
}

/// A string literal starting at `chars[i]` (the quote); returns it and the index after it.
fn string(chars: &[char], i: usize, raw: bool) -> Result<(String, usize), ExprError> {
    let q = chars[i];
    let triple = chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q);
    let mut j = if triple { i + 3 } else { i + 1 };
    let mut s = String::new();
    loop {
        let Some(&c) = chars.get(j) else {
            return Err(ExprError::Syntax("unterminated string".into()));
        };
        if c == q {
            if !triple {
                return Ok((s, j + 1));
            }
            if chars.get(j + 1) == Some(&q) && chars.get(j + 2) == Some(&q) {
                return Ok((s, j + 3));
            }
        }
        if c == '\\' {
            let Some(&n) = chars.get(j + 1) else {
                return Err(ExprError::Syntax("unterminated string".into()));
            };
            if raw {
                s.push('\\');
                s.push(n);
            } else {
                match n {
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    '\\' => s.push('\\'),
                    '\'' => s.push('\''),
                    '"' => s.push('"'),
                    // Python keeps unknown escapes (`\.`, `\d`) as written.
                    other => {
                        s.push('\\');
                        s.push(other);
                    }
                }
            }
            j += 2;
            continue;
        }
        if c == '\n' && !triple {
            return Err(ExprError::Syntax("unterminated string".into()));
        }
        s.push(c);
        j += 1;
    }
}

/// Keyword arguments of a call, in order.
type KwArgs = Vec<(String, Expr)>;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

/// Parses one expression.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut p = Parser {
        toks: tokenize(src)?,
        pos: 0,
    };
    if p.toks.is_empty() {
        return Err(ExprError::Syntax("empty expression".into()));
    }
    let e = p.expr()?;
    match p.peek() {
        None => Ok(e),
        Some(Tok::Name(n)) if n == "for" => Err(ExprError::Unsupported(
            "comprehensions are not evaluated".into(),
        )),
        Some(t) => Err(ExprError::Syntax(format!(
            "unexpected {} after the expression",
            show(t)
        ))),
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("`{n}`"),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Int(i) => i.to_string(),
        Tok::Float(f) => f.to_string(),
        Tok::Op(o) => format!("`{o}`"),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == kw)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ExprError> {
        if self.eat_op(op) {
            return Ok(());
        }
        if self.is_kw("for") {
            return Err(ExprError::Unsupported(
                "comprehensions are not evaluated".into(),
            ));
        }
        Err(ExprError::Syntax(match self.peek() {
            Some(t) => format!("expected `{op}`, found {}", show(t)),
            None => format!("expected `{op}` at the end"),
        }))
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        if self.is_kw("lambda") {
            return Err(ExprError::Unsupported("lambdas are not evaluated".into()));
        }
        let then = self.or()?;
        if self.eat_kw("if") {
            let cond = self.or()?;
            if !self.eat_kw("else") {
                return Err(ExprError::Syntax("`if` without `else`".into()));
            }
            let other = self.expr()?;
            return Ok(Expr::IfElse {
                then: Box::new(then),
                cond: Box::new(cond),
                other: Box::new(other),
            });
        }
        Ok(then)
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.and()?;
        while self.eat_kw("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.not()?;
        while self.eat_kw("and") {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.eat_kw("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("==")) => CmpOp::Eq,
                Some(Tok::Op("!=")) => CmpOp::Ne,
                Some(Tok::Op("<")) => CmpOp::Lt,
                Some(Tok::Op("<=")) => CmpOp::Le,
                Some(Tok::Op(">")) => CmpOp::Gt,
                Some(Tok::Op(">=")) => CmpOp::Ge,
                Some(Tok::Name(n)) if n == "in" => CmpOp::In,
                Some(Tok::Name(n)) if n == "not" => {
                    if matches!(self.peek_at(1), Some(Tok::Name(m)) if m == "in") {
                        self.pos += 1;
                        CmpOp::NotIn
                    } else {
                        break;
                    }
                }
                Some(Tok::Name(n)) if n == "is" => {
                    if matches!(self.peek_at(1), Some(Tok::Name(m)) if m == "not") {
                        self.pos += 1;
                        CmpOp::IsNot
                    } else {
                        CmpOp::Is
                    }
                }
                _ => break,
            };
            self.pos += 1;
            let rhs = self.unary()?;
            // Chained comparisons (`a < b < c`) are rare in tests: refuse rather than guess.
            if let Expr::Cmp(..) = e {
                return Err(ExprError::Unsupported(
                    "chained comparisons are not evaluated".into(),
                ));
            }
            e = Expr::Cmp(Box::new(e), op, Box::new(rhs));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.eat_op("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if let Some(Tok::Op(o)) = self.peek() {
            if ["+", "*", "/", "%", "|", "&", "~", "^", "@", "**", "//"].contains(o) {
                return Err(ExprError::Unsupported(format!(
                    "the `{o}` operator is not evaluated"
                )));
            }
        }
        let e = self.postfix()?;
        if let Some(Tok::Op(o)) = self.peek() {
            if ["+", "-", "*", "/", "%", "|", "&", "^", "@", "**", "//"].contains(o) {
                return Err(ExprError::Unsupported(format!(
                    "the `{o}` operator is not evaluated"
                )));
            }
        }
        Ok(e)
    }

    fn postfix(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.atom()?;
        loop {
            if self.eat_op(".") {
                match self.toks.get(self.pos).cloned() {
                    Some(Tok::Name(n)) => {
                        self.pos += 1;
                        e = Expr::Attr(Box::new(e), n);
                    }
                    // `a.0` is how Jinja2 indexes; Python does not, so neither do we.
                    _ => return Err(ExprError::Syntax("expected a name after `.`".into())),
                }
            } else if self.eat_op("[") {
                if self.is_op(":") {
                    return Err(ExprError::Unsupported("slices are not evaluated".into()));
                }
                let idx = self.expr()?;
                if self.is_op(":") {
                    return Err(ExprError::Unsupported("slices are not evaluated".into()));
                }
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(idx));
            } else if self.eat_op("(") {
                let (args, kwargs) = self.call_args()?;
                e = Expr::Call {
                    func: Box::new(e),
                    args,
                    kwargs,
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn call_args(&mut self) -> Result<(Vec<Expr>, KwArgs), ExprError> {
        let mut args = Vec::new();
        let mut kwargs: Vec<(String, Expr)> = Vec::new();
        while !self.eat_op(")") {
            if self.is_op("*") || self.is_op("**") {
                return Err(ExprError::Unsupported(
                    "`*args`/`**kwargs` are not evaluated".into(),
                ));
            }
            let kw = match (self.peek(), self.peek_at(1)) {
                (Some(Tok::Name(n)), Some(Tok::Op("="))) => Some(n.clone()),
                _ => None,
            };
            if let Some(k) = kw {
                self.pos += 2;
                if kwargs.iter().any(|(x, _)| *x == k) {
                    return Err(ExprError::Syntax(format!(
                        "keyword argument `{k}` repeated"
                    )));
                }
                kwargs.push((k, self.expr()?));
            } else {
                if !kwargs.is_empty() {
                    return Err(ExprError::Syntax(
                        "positional argument follows keyword argument".into(),
                    ));
                }
                args.push(self.expr()?);
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok((args, kwargs))
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Err(ExprError::Syntax("unexpected end of the expression".into()));
        };
        self.pos += 1;
        match t {
            Tok::Str(mut s) => {
                // Adjacent literals concatenate.
                while let Some(Tok::Str(more)) = self.peek() {
                    s.push_str(more);
                    self.pos += 1;
                }
                Ok(Expr::Lit(Value::Str(s)))
            }
            Tok::Int(i) => Ok(Expr::Lit(Value::Int(i))),
            Tok::Float(f) => Ok(Expr::Lit(Value::Float(f))),
            Tok::Name(n) => match n.as_str() {
                "True" => Ok(Expr::Lit(Value::Bool(true))),
                "False" => Ok(Expr::Lit(Value::Bool(false))),
                "None" => Ok(Expr::Lit(Value::None)),
                "and" | "or" | "not" | "in" | "is" | "if" | "else" | "for" => {
                    Err(ExprError::Syntax(format!("unexpected keyword `{n}`")))
                }
                _ => Ok(Expr::Name(n)),
            },
            Tok::Op("(") => {
                if self.eat_op(")") {
                    return Err(ExprError::Unsupported("tuples are not evaluated".into()));
                }
                let e = self.expr()?;
                if self.is_op(",") {
                    return Err(ExprError::Unsupported("tuples are not evaluated".into()));
                }
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.eat_op("]") {
                    items.push(self.expr()?);
                    if !self.eat_op(",") {
                        self.expect_op("]")?;
                        break;
                    }
                }
                Ok(Expr::List(items))
            }
            Tok::Op("{") => {
                let mut items = Vec::new();
                while !self.eat_op("}") {
                    let k = self.expr()?;
                    if !self.eat_op(":") {
                        return Err(ExprError::Unsupported("sets are not evaluated".into()));
                    }
                    let v = self.expr()?;
                    items.push((k, v));
                    if !self.eat_op(",") {
                        self.expect_op("}")?;
                        break;
                    }
                }
                Ok(Expr::Dict(items))
            }
            t => Err(ExprError::Syntax(format!("unexpected {}", show(&t)))),
        }
    }
}

/// What names mean while evaluating: variables and the functions a caller provides.
pub trait Env {
    /// The value of a top-level name.
    fn name(&self, name: &str) -> Result<Value, ExprError>;
    /// A call of a function or method the environment provides (`len`, `re.search`), with the
    /// callee as written (`re.search`) and evaluated arguments; `None` when it has none.
    fn call(&self, _callee: &str, _args: &[Value]) -> Option<Result<Value, ExprError>> {
        None
    }
}

/// Evaluates `e` in `env`.
pub fn eval(e: &Expr, env: &dyn Env) -> Result<Value, ExprError> {
    match e {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Name(n) => env.name(n),
        Expr::Attr(base, attr) => {
            let b = eval(base, env)?;
            member(&b, attr, || base.describe())
        }
        Expr::Index(base, idx) => {
            let b = eval(base, env)?;
            let i = eval(idx, env)?;
            match (&b, &i) {
                (Value::List(l), Value::Int(k)) => {
                    let k2 = if *k < 0 { l.len() as i64 + k } else { *k };
                    l.get(k2 as usize)
                        .filter(|_| k2 >= 0)
                        .cloned()
                        .ok_or_else(|| {
                            ExprError::Missing(format!(
                                "{} has no element {k} (it has {})",
                                base.describe(),
                                l.len()
                            ))
                        })
                }
                (Value::Dict(_), Value::Str(k)) => member(&b, k, || base.describe()),
                _ => Err(ExprError::Type(format!(
                    "cannot index {} with {}",
                    b.type_name(),
                    i.type_name()
                ))),
            }
        }
        Expr::Call { func, args, kwargs } => {
            if !kwargs.is_empty() {
                return Err(ExprError::Unsupported(format!(
                    "keyword arguments to `{}` are not evaluated",
                    func.describe()
                )));
            }
            let vals = args
                .iter()
                .map(|a| eval(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            let callee = func.describe();
            if let Some(r) = env.call(&callee, &vals) {
                return r;
            }
            // String methods.
            if let Expr::Attr(base, m) = &**func {
                let b = eval(base, env)?;
                if let Value::Str(s) = &b {
                    if let Some(r) = str_method(s, m, &vals) {
                        return r;
                    }
                }
                if let (Value::Dict(d), "get") = (&b, m.as_str()) {
                    return match vals.as_slice() {
                        [Value::Str(k)] => Ok(d.get(k).cloned().unwrap_or(Value::None)),
                        [Value::Str(k), dflt] => Ok(d.get(k).cloned().unwrap_or(dflt.clone())),
                        _ => Err(ExprError::Type("get() takes a key and a default".into())),
                    };
                }
            }
            Err(ExprError::Unsupported(format!(
                "the function `{callee}` is not evaluated"
            )))
        }
        Expr::List(items) => Ok(Value::List(
            items
                .iter()
                .map(|i| eval(i, env))
                .collect::<Result<_, _>>()?,
        )),
        Expr::Dict(items) => {
            let mut out = BTreeMap::new();
            for (k, v) in items {
                let key = match eval(k, env)? {
                    Value::Str(s) => s,
                    other => {
                        return Err(ExprError::Unsupported(format!(
                            "dict keys of type {} are not evaluated",
                            other.type_name()
                        )))
                    }
                };
                out.insert(key, eval(v, env)?);
            }
            Ok(Value::Dict(out))
        }
        Expr::Not(x) => Ok(Value::Bool(!eval(x, env)?.truthy())),
        Expr::Neg(x) => match eval(x, env)? {
            Value::Int(i) => Ok(Value::Int(-i)),
            Value::Float(f) => Ok(Value::Float(-f)),
            v => Err(ExprError::Type(format!("cannot negate {}", v.type_name()))),
        },
        Expr::And(a, b) => {
            let x = eval(a, env)?;
            if !x.truthy() {
                return Ok(x);
            }
            eval(b, env)
        }
        Expr::Or(a, b) => {
            let x = eval(a, env)?;
            if x.truthy() {
                return Ok(x);
            }
            eval(b, env)
        }
        Expr::IfElse { then, cond, other } => {
            if eval(cond, env)?.truthy() {
                eval(then, env)
            } else {
                eval(other, env)
            }
        }
        Expr::Cmp(a, op, b) => {
            let x = eval(a, env)?;
            let y = eval(b, env)?;
            let r = match op {
                CmpOp::Eq => x.py_eq(&y),
                CmpOp::Ne => !x.py_eq(&y),
                CmpOp::In => y.contains(&x)?,
                CmpOp::NotIn => !y.contains(&x)?,
                CmpOp::Is => x == y && matches!(x, Value::None | Value::Bool(_)),
                CmpOp::IsNot => !(x == y && matches!(x, Value::None | Value::Bool(_))),
                CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
                    let ord = match (&x, &y) {
                        (Value::Int(a), Value::Int(b)) => a.cmp(b),
                        (Value::Str(a), Value::Str(b)) => a.cmp(b),
                        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                            let f = |v: &Value| match v {
                                Value::Int(i) => *i as f64,
                                Value::Float(f) => *f,
                                _ => 0.0,
                            };
                            f(&x)
                                .partial_cmp(&f(&y))
                                .unwrap_or(std::cmp::Ordering::Equal)
                        }
                        _ => {
                            return Err(ExprError::Type(format!(
                                "cannot order {} and {}",
                                x.type_name(),
                                y.type_name()
                            )))
                        }
                    };
                    match op {
                        CmpOp::Lt => ord.is_lt(),
                        CmpOp::Le => ord.is_le(),
                        CmpOp::Gt => ord.is_gt(),
                        _ => ord.is_ge(),
                    }
                }
            };
            Ok(Value::Bool(r))
        }
    }
}

/// `base.attr` (or `base['attr']`): a dict member.
///
/// A key the twin does not build at all ([`crate::data::MODELLED_KEYS`]) is
/// [`ExprError::NotModelled`]; one it builds but this dict lacks is [`ExprError::Missing`].
fn member(base: &Value, attr: &str, what: impl Fn() -> String) -> Result<Value, ExprError> {
    match base {
        Value::Dict(d) => d.get(attr).cloned().ok_or_else(|| {
            if crate::data::MODELLED_KEYS.contains(&attr) {
                ExprError::Missing(format!("{} has no `{attr}`", what()))
            } else {
                ExprError::NotModelled(format!(
                    "`{}.{attr}` refers to lab data nettwin does not model",
                    what()
                ))
            }
        }),
        other => Err(ExprError::Type(format!(
            "{} is a {}, it has no `{attr}`",
            what(),
            other.type_name()
        ))),
    }
}

fn str_method(s: &str, m: &str, args: &[Value]) -> Option<Result<Value, ExprError>> {
    let arg = |i: usize| args.get(i).and_then(Value::as_str);
    Some(Ok(match (m, args.len()) {
        ("lower", 0) => Value::Str(s.to_lowercase()),
        ("upper", 0) => Value::Str(s.to_uppercase()),
        ("strip", 0) => Value::Str(s.trim().to_string()),
        ("startswith", 1) => Value::Bool(s.starts_with(arg(0)?)),
        ("endswith", 1) => Value::Bool(s.ends_with(arg(0)?)),
        ("count", 1) => Value::Int(s.matches(arg(0)?).count() as i64),
        ("find", 1) => Value::Int(s.find(arg(0)?).map(|i| i as i64).unwrap_or(-1)),
        ("split", 0) => Value::List(s.split_whitespace().map(Value::str).collect()),
        ("split", 1) => Value::List(s.split(arg(0)?).map(Value::str).collect()),
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(BTreeMap<String, Value>);

    impl Env for Vars {
        fn name(&self, name: &str) -> Result<Value, ExprError> {
            self.0
                .get(name)
                .cloned()
                .ok_or_else(|| ExprError::NotModelled(format!("unknown name `{name}`")))
        }
    }

    fn env() -> Vars {
        let r2 = Value::dict([
            ("name", Value::str("r2")),
            (
                "loopback",
                Value::dict([("ipv4", Value::str("10.0.0.2/32"))]),
            ),
            (
                "interfaces",
                Value::List(vec![Value::dict([("ipv4", Value::str("10.1.0.2/30"))])]),
            ),
        ]);
        Vars(BTreeMap::from([(
            "nodes".to_string(),
            Value::dict([("r2", r2)]),
        )]))
    }

    fn ev(src: &str) -> Result<Value, ExprError> {
        eval(&parse(src)?, &env())
    }

    #[test]
    fn plugin_calls_parse_into_name_positional_and_keyword_arguments() {
        let e = parse("bgp_prefix('10.0.0.1/32', af='ipv6', med=73, best=True)").unwrap();
        let Expr::Call { func, args, kwargs } = e else {
            panic!("a call")
        };
        assert_eq!(*func, Expr::Name("bgp_prefix".into()));
        assert_eq!(args, vec![Expr::Lit(Value::str("10.0.0.1/32"))]);
        let names: Vec<&str> = kwargs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["af", "med", "best"]);
        assert_eq!(kwargs[1].1, Expr::Lit(Value::Int(73)));
        assert_eq!(kwargs[2].1, Expr::Lit(Value::Bool(true)));
    }

    #[test]
    fn references_conditionals_and_membership_evaluate_like_python() {
        assert_eq!(
            ev("nodes.r2.loopback.ipv4").unwrap(),
            Value::str("10.0.0.2/32")
        );
        assert_eq!(
            ev("nodes['r2'].interfaces[0].ipv4").unwrap(),
            Value::str("10.1.0.2/30")
        );
        assert_eq!(
            ev("nodes.r2.loopback.ipv4 if 'loopback' in nodes.r2 else nodes.r2.interfaces[0].ipv4")
                .unwrap(),
            Value::str("10.0.0.2/32")
        );
        assert_eq!(
            ev("'x' not in nodes.r2 and not False").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            ev("{'community': '65000:1'}").unwrap(),
            Value::dict([("community", Value::str("65000:1"))])
        );
        assert_eq!(ev("[1, 'a', -2]").unwrap().to_string(), "[1, 'a', -2]");
        assert!(matches!(
            ev("nodes.r2.ospf.router_id"),
            Err(ExprError::Missing(m)) if m == "nodes.r2 has no `ospf`"
        ));
        assert!(matches!(ev("prefix.pf1"), Err(ExprError::NotModelled(_))));
    }

    #[test]
    fn python_beyond_the_subset_is_refused_not_guessed() {
        for src in [
            "bgp_neighbor([ n for n in node.bgp.neighbors if 'multihop' not in n ],'spine')",
            "f'{x}'",
            "a + b",
            "x[1:2]",
            "lambda: 1",
        ] {
            assert!(
                matches!(parse(src), Err(ExprError::Unsupported(_))),
                "{src}: {:?}",
                parse(src)
            );
        }
        for src in ["ping('a'", "ping(,)", "'abc", "a b"] {
            assert!(matches!(parse(src), Err(ExprError::Syntax(_))), "{src}");
        }
    }
}
