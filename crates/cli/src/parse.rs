//! The command matcher: IOS's unique-prefix abbreviation over a table of command patterns.
//!
//! A pattern is a space-separated list of tokens: keywords (`show`, `ip`), and parameters
//! written the way IOS's `?` shows them: `A.B.C.D`, `<lo-hi>`, `WORD`, `LINE` (the rest of the
//! line, verbatim) and `INTERFACE` (`gi0/1`, or `gi 0/1` as two words). At every position a
//! typed word picks the keyword it is a prefix of, when exactly one keyword in play starts with
//! it (or it equals one); otherwise it is ambiguous, or it must fit a parameter.

use std::net::Ipv4Addr;

/// One token of a command pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Keyword(&'static str),
    Ipv4,
    Number(u32, u32),
    Word,
    Line,
    Interface,
}

impl Token {
    fn parse(text: &'static str) -> Token {
        match text {
            "A.B.C.D" => Token::Ipv4,
            "WORD" => Token::Word,
            "LINE" => Token::Line,
            "INTERFACE" => Token::Interface,
            t if t.starts_with('<') && t.ends_with('>') => {
                let (lo, hi) = t[1..t.len() - 1]
                    .split_once('-')
                    .expect("range pattern is <lo-hi>");
                Token::Number(
                    lo.parse().expect("range low bound"),
                    hi.parse().expect("range high bound"),
                )
            }
            t => Token::Keyword(t),
        }
    }

    /// How `?` names the token.
    pub fn display(&self) -> String {
        match self {
            Token::Keyword(k) => (*k).to_string(),
            Token::Ipv4 => "A.B.C.D".into(),
            Token::Number(lo, hi) => format!("<{lo}-{hi}>"),
            Token::Word => "WORD".into(),
            Token::Line => "LINE".into(),
            Token::Interface => "INTERFACE".into(),
        }
    }

    fn accepts(&self, word: &str) -> bool {
        match self {
            Token::Keyword(_) => false,
            Token::Ipv4 => word.parse::<Ipv4Addr>().is_ok(),
            Token::Number(lo, hi) => word.parse::<u32>().is_ok_and(|n| (*lo..=*hi).contains(&n)),
            Token::Word | Token::Line => true,
            Token::Interface => word.starts_with(|c: char| c.is_ascii_alphabetic()),
        }
    }
}

/// A command pattern with what it does and in which modes it exists.
#[derive(Clone, Debug)]
pub struct Command<A> {
    pub tokens: Vec<Token>,
    pub action: A,
    /// Bit set of modes (the session defines the bits).
    pub modes: u32,
}

impl<A> Command<A> {
    pub fn new(pattern: &'static str, modes: u32, action: A) -> Command<A> {
        Command {
            tokens: pattern.split_whitespace().map(Token::parse).collect(),
            action,
            modes,
        }
    }
}

/// A typed word and where it starts in the line (for the `^` marker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
}

pub fn split_words(line: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(Word {
                    text: &line[s..i],
                    start: s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Word {
            text: &line[s..],
            start: s,
        });
    }
    out
}

/// Why a line does not name one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// No command at all (empty line).
    Empty,
    /// The word starting at this byte offset fits nothing.
    Invalid { at: usize },
    /// The line up to and including this byte offset fits several keywords.
    Ambiguous { end: usize },
    /// A command starts this way but needs more words.
    Incomplete,
}

/// A matched command: its index in the table and its argument values in order (keywords give
/// their full spelling, parameters the typed text; `LINE` gets the rest of the line verbatim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    pub command: usize,
    pub args: Vec<String>,
}

/// The commands still in play after some words, and the position reached.
struct Walk {
    alive: Vec<usize>,
    token: usize,
    args: Vec<Vec<String>>,
    /// Index of the command whose `LINE` swallowed the rest, if any.
    line_taken: Option<usize>,
}

fn walk<A>(
    table: &[Command<A>],
    mode: u32,
    line: &str,
    words: &[Word<'_>],
) -> Result<Walk, ParseError> {
    let mut alive: Vec<usize> = (0..table.len())
        .filter(|&i| table[i].modes & mode != 0)
        .collect();
    let mut args: Vec<Vec<String>> = vec![Vec::new(); table.len()];
    let mut t = 0;
    let mut w = 0;
    while w < words.len() {
        let word = &words[w];
        let lower = word.text.to_ascii_lowercase();
        // A LINE parameter takes the rest of the line as typed.
        if let Some(&c) = alive
            .iter()
            .find(|&&c| table[c].tokens.get(t) == Some(&Token::Line))
        {
            let keyword_fits = alive.iter().any(|&o| {
                matches!(table[o].tokens.get(t), Some(Token::Keyword(k)) if k.starts_with(&lower))
            });
            if !keyword_fits {
                args[c].push(line[word.start..].trim_end().to_string());
                return Ok(Walk {
                    alive: vec![c],
                    token: t + 1,
                    args,
                    line_taken: Some(c),
                });
            }
        }
        let mut keywords: Vec<&'static str> = alive
            .iter()
            .filter_map(|&c| match table[c].tokens.get(t) {
                Some(Token::Keyword(k)) if k.starts_with(&lower) => Some(*k),
                _ => None,
            })
            .collect();
        keywords.sort_unstable();
        keywords.dedup();
        let chosen = if keywords.contains(&lower.as_str()) {
            Some(lower.clone())
        } else if keywords.len() == 1 {
            Some(keywords[0].to_string())
        } else if keywords.len() > 1 {
            return Err(ParseError::Ambiguous {
                end: word.start + word.text.len(),
            });
        } else {
            None
        };
        let mut consumed = 1;
        match chosen {
            Some(k) => {
                alive.retain(
                    |&c| matches!(table[c].tokens.get(t), Some(Token::Keyword(kw)) if *kw == k),
                );
                for &c in &alive {
                    args[c].push(k.clone());
                }
            }
            None => {
                // `gi 0/1`: an interface type and its number typed as two words.
                let joined = match words.get(w + 1) {
                    Some(next)
                        if word.text.chars().all(|c| c.is_ascii_alphabetic())
                            && next.text.starts_with(|c: char| c.is_ascii_digit()) =>
                    {
                        Some(format!("{}{}", word.text, next.text))
                    }
                    _ => None,
                };
                alive.retain(|&c| {
                    table[c]
                        .tokens
                        .get(t)
                        .is_some_and(|tok| tok.accepts(word.text))
                });
                if alive.is_empty() {
                    return Err(ParseError::Invalid { at: word.start });
                }
                let interface_join = joined.is_some()
                    && alive
                        .iter()
                        .all(|&c| table[c].tokens.get(t) == Some(&Token::Interface));
                let value = match (&joined, interface_join) {
                    (Some(j), true) => {
                        consumed = 2;
                        j.clone()
                    }
                    _ => word.text.to_string(),
                };
                for &c in &alive {
                    args[c].push(value.clone());
                }
            }
        }
        if alive.is_empty() {
            return Err(ParseError::Invalid { at: word.start });
        }
        t += 1;
        w += consumed;
    }
    Ok(Walk {
        alive,
        token: t,
        args,
        line_taken: None,
    })
}

/// Matches a whole line against the commands of `mode`.
pub fn parse<A>(table: &[Command<A>], mode: u32, line: &str) -> Result<Matched, ParseError> {
    let words = split_words(line);
    if words.is_empty() {
        return Err(ParseError::Empty);
    }
    let walk = walk(table, mode, line, &words)?;
    if let Some(c) = walk.line_taken {
        if table[c].tokens.len() == walk.token {
            return Ok(Matched {
                command: c,
                args: walk.args[c].clone(),
            });
        }
        return Err(ParseError::Incomplete);
    }
    match walk
        .alive
        .iter()
        .find(|&&c| table[c].tokens.len() == walk.token)
    {
        Some(&c) => Ok(Matched {
            command: c,
            args: walk.args[c].clone(),
        }),
        None => Err(ParseError::Incomplete),
    }
}

/// What may come next after `line` (for `?`): `(token display, is_cr)`; the partial last word
/// (no trailing space) filters keywords by prefix.
pub fn next_words<A>(
    table: &[Command<A>],
    mode: u32,
    line: &str,
) -> Result<Vec<(String, usize)>, ParseError> {
    let words = split_words(line);
    let partial = if line.ends_with(char::is_whitespace) || words.is_empty() {
        None
    } else {
        words.last().map(|w| w.text.to_ascii_lowercase())
    };
    let complete = match partial {
        Some(_) => &words[..words.len() - 1],
        None => &words[..],
    };
    let walk = walk(table, mode, line, complete)?;
    if walk.line_taken.is_some() {
        return Ok(vec![("<cr>".into(), usize::MAX)]);
    }
    let mut out: Vec<(String, usize)> = Vec::new();
    for &c in &walk.alive {
        match table[c].tokens.get(walk.token) {
            Some(tok) => {
                let shown = tok.display();
                let fits = match (&partial, tok) {
                    (None, _) => true,
                    (Some(p), Token::Keyword(k)) => k.starts_with(p.as_str()),
                    (Some(_), _) => false,
                };
                if fits && !out.iter().any(|(s, _)| *s == shown) {
                    out.push((shown, c));
                }
            }
            None if partial.is_none() && !out.iter().any(|(s, _)| s == "<cr>") => {
                out.push(("<cr>".into(), usize::MAX));
            }
            None => {}
        }
    }
    // Keywords sorted, then parameters, then <cr>, as IOS lists them.
    out.sort_by_key(|(s, _)| {
        let rank = if s == "<cr>" {
            2
        } else if s.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            0
        } else {
            1
        };
        (rank, s.clone())
    });
    Ok(out)
}

/// Tab completion of the last, partial word: the full keyword when exactly one fits.
pub fn complete<A>(table: &[Command<A>], mode: u32, line: &str) -> Option<String> {
    if line.ends_with(char::is_whitespace) || line.is_empty() {
        return None;
    }
    let candidates = next_words(table, mode, line).ok()?;
    let keywords: Vec<&String> = candidates
        .iter()
        .map(|(s, _)| s)
        .filter(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect();
    match keywords.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<Command<u8>> {
        vec![
            Command::new("show ip route", 1, 0),
            Command::new("show ip route A.B.C.D", 1, 1),
            Command::new("show ip interface brief", 1, 2),
            Command::new("show interfaces", 1, 3),
            Command::new("show interfaces INTERFACE", 1, 4),
            Command::new("set WORD", 1, 5),
            Command::new("terminal length <0-512>", 1, 6),
            Command::new("abbrev WORD LINE", 1, 7),
            Command::new("configure terminal", 1, 8),
            Command::new("interface INTERFACE", 2, 9),
        ]
    }

    fn action(line: &str) -> Result<(u8, Vec<String>), ParseError> {
        let t = table();
        parse(&t, 1, line).map(|m| (t[m.command].action, m.args))
    }

    #[test]
    fn abbreviations_resolve() {
        assert_eq!(action("sh ip ro").unwrap().0, 0);
        assert_eq!(action("SHOW IP ROUTE").unwrap().0, 0);
        assert_eq!(
            action("sh ip ro 10.1.2.3").unwrap(),
            (
                1,
                vec![
                    "show".into(),
                    "ip".into(),
                    "route".into(),
                    "10.1.2.3".into()
                ]
            )
        );
        assert_eq!(action("sh ip int b").unwrap().0, 2);
        assert_eq!(action("conf t").unwrap().0, 8);
        assert_eq!(action("sh int").unwrap().0, 3);
        assert_eq!(action("sh int gi0/1").unwrap().1[2], "gi0/1");
        assert_eq!(action("sh int gi 0/1").unwrap().1[2], "gi0/1");
        assert_eq!(action("term len 0").unwrap().0, 6);
    }

    #[test]
    fn errors_point_at_the_word() {
        // `s` fits show and set.
        assert_eq!(action("s ip"), Err(ParseError::Ambiguous { end: 1 }));
        assert_eq!(action("show ipx route"), Err(ParseError::Invalid { at: 5 }));
        assert_eq!(
            action("sh ip ro 300.1.1.1"),
            Err(ParseError::Invalid { at: 9 })
        );
        assert_eq!(action("term len 513"), Err(ParseError::Invalid { at: 9 }));
        assert_eq!(action("sh ip"), Err(ParseError::Incomplete));
        assert_eq!(action("   "), Err(ParseError::Empty));
        // A command of another mode is not there.
        assert_eq!(
            action("interface gi0/1"),
            Err(ParseError::Invalid { at: 0 })
        );
    }

    #[test]
    fn line_parameter_keeps_the_rest_verbatim() {
        assert_eq!(
            action("abbrev sir show  ip route").unwrap().1,
            vec!["abbrev".to_string(), "sir".into(), "show  ip route".into()]
        );
    }

    #[test]
    fn help_lists_next_words() {
        let t = table();
        let names = |line: &str| -> Vec<String> {
            next_words(&t, 1, line)
                .unwrap()
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        };
        assert_eq!(names("show ip route "), vec!["A.B.C.D", "<cr>"]);
        assert_eq!(names("show ip "), vec!["interface", "route"]);
        assert_eq!(names("s"), vec!["set", "show"]);
        assert_eq!(names("sh i"), vec!["interfaces", "ip"]);
        assert_eq!(complete(&t, 1, "sh").as_deref(), Some("show"));
        assert_eq!(complete(&t, 1, "s"), None);
        assert_eq!(complete(&t, 1, "show ip ro").as_deref(), Some("route"));
    }
}
