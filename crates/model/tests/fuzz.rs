//! No input makes the loader panic: mutated versions of the example files and random YAML.

use proptest::prelude::*;

fn examples() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "yml").then(|| std::fs::read_to_string(p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Tokens that matter to the loader, to splice into files.
const TOKENS: &[&str] = &[
    "",
    " ",
    ":",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "\n  ",
    "'",
    "\"",
    "&a",
    "*a",
    "~",
    "null",
    "0",
    "65536",
    "-1",
    "99999999999999999999",
    "0.0.0.0/0",
    "::/0",
    "198.18.0.1/33",
    "2001:db8::1/64",
    "r1",
    "switch",
    "host",
    "links:",
    "nodes:",
    "mtu:",
    "ipv4:",
    "prefix:",
    "static:",
    "interfaces:",
    "members:",
    "kind:",
    "loopback:",
    "\t",
    "#",
    "!!str",
    "?",
    "|",
    ">",
];

#[derive(Clone, Debug)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, usize),
    Replace(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 1..12usize, 0..TOKENS.len()).prop_map(|(a, n, t)| Edit::Replace(a, n, t)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut s;
    for e in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match *e {
            Edit::DeleteLine(i) => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::SwapLines(a, b) => lines.swap(a % n, b % n),
            Edit::Insert(at, t) => {
                s = lines.join("\n");
                let mut at = at % (s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                s.insert_str(at, TOKENS[t]);
                lines = s.lines().map(String::from).collect();
            }
            Edit::Replace(at, len, t) => {
                s = lines.join("\n");
                let mut at = at % (s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + len).min(s.len());
                while !s.is_char_boundary(end) {
                    end += 1;
                }
                s.replace_range(at..end, TOKENS[t]);
                lines = s.lines().map(String::from).collect();
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(which in 0usize..16, edits in prop::collection::vec(edit(), 1..6)) {
        let ex = examples();
        let text = apply(&ex[which % ex.len()], &edits);
        // Either it loads or it says why, with places inside the file.
        match nettwin_model::load_str("m.yml", &text) {
            Ok(_) => {}
            Err(nettwin_model::LoadError::Invalid(d)) => {
                prop_assert!(!d.is_empty());
                let lines = text.lines().count().max(1) as u32;
                for e in &d {
                    prop_assert!(e.line >= 1 && e.line <= lines + 1, "{} outside {} lines", e, lines);
                }
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[a-z0-9:\\[\\]{}, \\n/.-]{0,200}") {
        let _ = nettwin_model::load_str("a.yml", &text);
    }
}

#[test]
fn deeply_nested_yaml_is_refused_not_overflowed() {
    let text = format!("nodes: {}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(nettwin_model::load_str("deep.yml", &text).is_err());
}
