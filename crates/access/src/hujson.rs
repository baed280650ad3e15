//! HuJSON ("human JSON", the tailnet policy file's format): JSON with `//` and `/* */` comments
//! and trailing commas. Parsed into the model's spanned YAML tree, so the policy is decoded with
//! the same readers (unknown keys, did-you-mean, `file:line:col`) as every other nettwin file.
//!
//! Strings become quoted scalars; numbers, `true` and `false` become plain scalars; `null` is
//! `Null`. Nesting is limited to [`MAX_DEPTH`] so a hostile file cannot exhaust the stack.

use nettwin_model::yaml::{Node, Span, Value};

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 128;

/// Parses one HuJSON document. Errors carry the place (1-based line and column).
pub fn parse(text: &str) -> Result<Node, (Span, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        col: 1,
    };
    p.skip_ws()?;
    let node = p.value(0)?;
    p.skip_ws()?;
    if p.pos < p.chars.len() {
        return Err((p.span(), "unexpected text after the document".into()));
    }
    Ok(node)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    col: u32,
}

impl Parser {
    fn span(&self) -> Span {
        Span::new(self.line, self.col)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) -> Result<(), (Span, String)> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r') => {
                    self.bump();
                }
                Some('/') => {
                    let start = self.span();
                    match self.chars.get(self.pos + 1) {
                        Some('/') => {
                            while let Some(c) = self.peek() {
                                if c == '\n' {
                                    break;
                                }
                                self.bump();
                            }
                        }
                        Some('*') => {
                            self.bump();
                            self.bump();
                            loop {
                                match self.bump() {
                                    None => return Err((start, "unterminated /* comment".into())),
                                    Some('*') if self.peek() == Some('/') => {
                                        self.bump();
                                        break;
                                    }
                                    _ => {}
                                }
                            }
                        }
                        _ => return Err((start, "unexpected `/`".into())),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, (Span, String)> {
        let span = self.span();
        if depth > MAX_DEPTH {
            return Err((span, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        match self.peek() {
            None => Err((span, "unexpected end of file, expected a value".into())),
            Some('{') => self.object(depth),
            Some('[') => self.array(depth),
            Some('"') => Ok(Node {
                value: Value::Scalar {
                    text: self.string()?,
                    quoted: true,
                },
                span,
            }),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let mut text = String::new();
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.') {
                        text.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                if text.parse::<f64>().is_err() {
                    return Err((span, format!("`{text}` is not a number")));
                }
                Ok(Node {
                    value: Value::Scalar {
                        text,
                        quoted: false,
                    },
                    span,
                })
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let mut word = String::new();
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        word.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                match word.as_str() {
                    "true" | "false" => Ok(Node {
                        value: Value::Scalar {
                            text: word,
                            quoted: false,
                        },
                        span,
                    }),
                    "null" => Ok(Node {
                        value: Value::Null,
                        span,
                    }),
                    _ => Err((
                        span,
                        format!("`{word}` is not a JSON value (strings need double quotes)"),
                    )),
                }
            }
            Some(c) => Err((span, format!("unexpected `{c}`, expected a value"))),
        }
    }

    fn string(&mut self) -> Result<String, (Span, String)> {
        let start = self.span();
        self.bump();
        let mut out = String::new();
        loop {
            let here = self.span();
            match self.bump() {
                None | Some('\n') => return Err((start, "unterminated string".into())),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let hi = self.hex4(here)?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            if self.bump() != Some('\\') || self.bump() != Some('u') {
                                return Err((here, "unpaired surrogate in \\u escape".into()));
                            }
                            let lo = self.hex4(here)?;
                            0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                        } else {
                            hi
                        };
                        out.push(
                            char::from_u32(code)
                                .ok_or_else(|| (here, "invalid \\u escape".to_string()))?,
                        );
                    }
                    _ => return Err((here, "invalid escape in string".into())),
                },
                Some(c) if (c as u32) < 0x20 => {
                    return Err((here, "control character in string".into()))
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn hex4(&mut self, at: Span) -> Result<u32, (Span, String)> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| (at, "invalid \\u escape".to_string()))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn object(&mut self, depth: usize) -> Result<Node, (Span, String)> {
        let span = self.span();
        self.bump();
        let mut entries = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some('}') => {
                    self.bump();
                    break;
                }
                Some('"') => {}
                Some(c) => {
                    return Err((
                        self.span(),
                        format!("unexpected `{c}`, expected a quoted key or `}}`"),
                    ))
                }
                None => return Err((span, "unterminated object".into())),
            }
            let kspan = self.span();
            let key = self.string()?;
            self.skip_ws()?;
            if self.peek() != Some(':') {
                return Err((self.span(), format!("expected `:` after key \"{key}\"")));
            }
            self.bump();
            self.skip_ws()?;
            let v = self.value(depth + 1)?;
            entries.push((
                Node {
                    value: Value::Scalar {
                        text: key,
                        quoted: true,
                    },
                    span: kspan,
                },
                v,
            ));
            self.skip_ws()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {
                    self.bump();
                    break;
                }
                Some(c) => {
                    return Err((
                        self.span(),
                        format!("unexpected `{c}`, expected `,` or `}}`"),
                    ))
                }
                None => return Err((span, "unterminated object".into())),
            }
        }
        Ok(Node {
            value: Value::Map(entries),
            span,
        })
    }

    fn array(&mut self, depth: usize) -> Result<Node, (Span, String)> {
        let span = self.span();
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(']') => {
                    self.bump();
                    break;
                }
                None => return Err((span, "unterminated list".into())),
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {
                    self.bump();
                    break;
                }
                Some(c) => {
                    return Err((
                        self.span(),
                        format!("unexpected `{c}`, expected `,` or `]`"),
                    ))
                }
                None => return Err((span, "unterminated list".into())),
            }
        }
        Ok(Node {
            value: Value::Seq(items),
            span,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas() {
        let doc = parse(
            "// top\n{\n  /* block */ \"acls\": [\n    {\"action\": \"accept\",}, // x\n  ],\n  \"n\": 3, \"b\": true, \"z\": null,\n}\n",
        )
        .unwrap();
        let acls = doc.get("acls").unwrap();
        assert_eq!(acls.span, Span::new(3, 23));
        let first = &acls.as_seq().unwrap()[0];
        assert_eq!(first.get("action").unwrap().as_scalar(), Some("accept"));
        assert_eq!(first.get("action").unwrap().span, Span::new(4, 16));
        assert!(doc.get("z").unwrap().is_null());
        assert_eq!(doc.get("n").unwrap().as_scalar(), Some("3"));
    }

    #[test]
    fn errors_have_places() {
        let (span, msg) = parse("{\n  \"a\": [1, 2\n}").unwrap_err();
        assert_eq!(span.line, 3, "{msg}");
        let (span, _) = parse("{\"a\": 'x'}").unwrap_err();
        assert_eq!(span, Span::new(1, 7));
        assert!(parse("{} x").is_err());
        assert!(parse("/* open").is_err());
        let deep = "[".repeat(1000);
        assert!(parse(&deep).unwrap_err().1.contains("nesting"));
    }

    #[test]
    fn escapes() {
        let doc = parse(r#"["a\"b\\c\u00e9\ud83d\ude00"]"#).unwrap();
        assert_eq!(doc.as_seq().unwrap()[0].as_scalar(), Some("a\"b\\cé😀"));
    }
}
