//! `nettwin inet ...` as a user runs it: the files it writes, what it prints, exit codes.
//!
//! The hand-made graph examples/inet/ten-as.txt (provider > customer: 1>3 1>4 2>4 2>5 3>6 3>7
//! 4>7 4>8 4>10 5>9 5>10; peers 1=2 3=4 8=9). Scenario S: victim AS6 announces 10.0.0.0/16,
//! attacker AS9 announces 10.0.0.0/24 (RPKI-invalid: the ROA allows AS6 up to /16), AS1 and AS4
//! run ROV (examples/inet/adopters.txt), collector peers AS1, AS4, AS10.
//!
//! The /16, by Gao-Rexford: up, 3 learns [3 6] from its customer 6 and 1 learns [1 3 6] from
//! its customer 3; across, 2 takes [2 1 3 6] from its peer 1 and 4 takes [4 3 6] from its peer
//! 3 (a peer route beats 4's provider routes); down, 5 gets [5 2 1 3 6] from 2, 7 prefers
//! [7 3 6] (provider 3, shorter than via 4), 8 gets [8 4 3 6] (its peer 9 only has a provider
//! route, which is not exported to peers), 9 gets [9 5 2 1 3 6], 10 prefers [10 4 3 6]
//! (length 4) over [10 5 2 1 3 6].
//!
//! The /24: up, 5 learns [5 9] from its customer 9 and 2 learns [2 5 9] from its customer 5;
//! across, 8 takes [8 9] from its peer 9, and 1 drops [1 2 5 9] from its peer 2 (ROV); down, 4
//! (ROV) drops [4 2 5 9], so 3, 6 and 7 (whose providers are 1, 3 and 4) get nothing, and 10
//! gets [10 5 9] from 5. Data plane to 10.0.0.0: 2, 5, 8, 10 hold the /24 towards 9 (attacker);
//! 1, 3, 4, 7 only hold the /16 and reach 6 (victim): 4 of 8 counted ASes each. Collectors: only
//! AS10 exports the attacker's /24, so 1 of 3, and the monitor sees a new more specific with
//! another origin.

mod common;
use common::*;
use std::process::Output;

const GRAPH: &str = "examples/inet/ten-as.txt";
const ADOPTERS: &str = "examples/inet/adopters.txt";
const COLLECTORS: &str = "examples/inet/collectors.txt";

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn scenario_s(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "inet",
        "run",
        "--graph",
        GRAPH,
        "--victim",
        "6",
        "--attacker",
        "9",
        "--attack",
        "subprefix",
        "--defense",
        "rov",
        "--adopters",
        ADOPTERS,
        "--collectors",
        COLLECTORS,
    ]
    .map(String::from)
    .to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn single_scenario_writes_the_hand_derived_per_as_lines() {
    let tmp = TempDir::new("per-as");
    let file = tmp.file("routes.jsonl");
    let o = ok(nettwin(&args(&scenario_s(&["--per-as", &file]))));
    let text = read(&file);
    let lines: Vec<&str> = text.lines().collect();
    // Every AS holds the /16; 2, 5, 8, 9 and 10 also hold the /24.
    assert_eq!(lines.len(), 15, "{text}");
    for expected in [
        r#"{"asn":1,"prefix":"10.0.0.0/16","as_path":[1,3,6],"received_from":3,"relationship":"customer","outcome":"victim"}"#,
        r#"{"asn":4,"prefix":"10.0.0.0/16","as_path":[4,3,6],"received_from":3,"relationship":"peer","outcome":"victim"}"#,
        r#"{"asn":6,"prefix":"10.0.0.0/16","as_path":[6],"received_from":null,"relationship":"origin","outcome":"victim"}"#,
        r#"{"asn":7,"prefix":"10.0.0.0/16","as_path":[7,3,6],"received_from":3,"relationship":"provider","outcome":"victim"}"#,
        r#"{"asn":8,"prefix":"10.0.0.0/16","as_path":[8,4,3,6],"received_from":4,"relationship":"provider","outcome":"attacker"}"#,
        r#"{"asn":8,"prefix":"10.0.0.0/24","as_path":[8,9],"received_from":9,"relationship":"peer","outcome":"attacker"}"#,
        r#"{"asn":9,"prefix":"10.0.0.0/24","as_path":[9],"received_from":null,"relationship":"origin","outcome":"attacker"}"#,
        r#"{"asn":10,"prefix":"10.0.0.0/16","as_path":[10,4,3,6],"received_from":4,"relationship":"provider","outcome":"attacker"}"#,
        r#"{"asn":10,"prefix":"10.0.0.0/24","as_path":[10,5,9],"received_from":5,"relationship":"provider","outcome":"attacker"}"#,
    ] {
        assert!(lines.contains(&expected), "missing {expected}\nin\n{text}");
    }
    // ASes in ascending order, the /16 before the /24, and each line a full record.
    let mut last = (0u64, String::new());
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        let key = (v["asn"].as_u64().unwrap(), v["prefix"].to_string());
        assert!(key > last, "order: {l}");
        last = key;
        for field in [
            "as_path",
            "received_from",
            "relationship",
            "outcome",
            "prefix",
        ] {
            assert!(v.get(field).is_some(), "{field} in {l}");
        }
    }
    let out = stdout(&o);
    assert!(out.contains("attacker  4     50.0%"), "{out}");
    assert!(out.contains("victim    4     50.0%"), "{out}");
    assert!(
        out.contains("collectors: 1 of 3 peer(s) show the attacker's route (33.3%)"),
        "{out}"
    );
    assert!(
        out.contains("monitor: ALERT (origin_change, new_subprefix)"),
        "{out}"
    );
    assert!(out.contains("stealth gap: 16.7 points"), "{out}");
    assert!(out.contains("(15 lines)"), "{out}");
}

#[test]
fn single_scenario_json_summary_and_no_defence_baseline() {
    let o = ok(nettwin(&args(&{
        let mut v = scenario_s(&[]);
        v.insert(0, "--json".into());
        v
    })));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["summary"]["counted"], 8);
    assert_eq!(v["summary"]["attacker"], 4);
    assert_eq!(v["summary"]["collectors_seeing_attacker"], 1);
    assert_eq!(v["alert"], true);
    let seen: Vec<_> = v["collector_view"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["owner"] == "attacker")
        .map(|o| o["as_path"].clone())
        .collect();
    assert_eq!(seen, vec![serde_json::json!([10, 5, 9])]);

    // Without ROV nobody drops the /24 and longest-prefix match sends all 8 to the attacker.
    let o = ok(nettwin(&[
        "--json",
        "inet",
        "run",
        "--graph",
        GRAPH,
        "--victim",
        "6",
        "--attacker",
        "9",
        "--attack",
        "subprefix",
    ]));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["summary"]["attacker"], 8);
    assert_eq!(v["shares"]["attacker"], 1.0);
}

#[test]
fn route_names_the_deciding_rule_and_the_candidates() {
    let route = |asn: &str, defended: bool| {
        let mut a = vec![
            "inet",
            "route",
            "--graph",
            GRAPH,
            "--victim",
            "6",
            "--attacker",
            "9",
            "--attack",
            "subprefix",
            "--as",
            asn,
        ];
        if defended {
            a.extend(["--defense", "rov", "--adopters", ADOPTERS]);
        }
        stdout(&ok(nettwin(&a)))
    };
    // AS4: the /16 from its peer 3 beats its providers 1 and 2; the /24 is offered only by
    // provider 2 and dropped by ROV.
    let out = route("4", true);
    assert!(
        out.contains("10.0.0.0/16: chose 4 3 6 (from AS3, victim), decided by relationship"),
        "{out}"
    );
    assert!(
        out.contains("10.0.0.0/24: no route, decided by no-candidate"),
        "{out}"
    );
    assert!(
        out.contains("AS2       provider      2 5 9    attacker  rejected: rov-invalid"),
        "{out}"
    );
    // AS10: two provider routes for the /16, [4 3 6] shorter than [5 2 1 3 6].
    let out = route("10", true);
    assert!(
        out.contains("10.0.0.0/16: chose 10 4 3 6 (from AS4, victim), decided by path-length"),
        "{out}"
    );
    assert!(
        out.contains(" * AS4       provider      4 3 6      victim  accepted"),
        "{out}"
    );
    // Undefended, AS7 hears the /24 from providers 3 [3 1 2 5 9] and 4 [4 2 5 9]: shorter wins.
    let out = route("7", false);
    assert!(
        out.contains("10.0.0.0/24: chose 7 4 2 5 9 (from AS4, attacker), decided by path-length"),
        "{out}"
    );
    // The victim's own announcement.
    assert!(route("6", false)
        .contains("10.0.0.0/16: chose 6 (own announcement, victim), decided by originated"));

    let o = ok(nettwin(&[
        "--json",
        "inet",
        "route",
        "--graph",
        GRAPH,
        "--victim",
        "6",
        "--attacker",
        "9",
        "--attack",
        "subprefix",
        "--as",
        "10",
    ]));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["prefixes"][0]["rule"], "path-length");
    assert_eq!(v["prefixes"][0]["candidates"].as_array().unwrap().len(), 2);
}

const MC: [&str; 13] = [
    "inet",
    "run",
    "--synthetic",
    "300",
    "--seed",
    "5",
    "--attack",
    "subprefix",
    "--defense",
    "rov",
    "--adoption",
    "0,50,100",
    "--trials",
];

fn mc(trials: &str, extra: &[&str]) -> Output {
    let mut a = MC.to_vec();
    a.push(trials);
    a.extend(extra);
    ok(nettwin(&a))
}

#[test]
fn monte_carlo_run_writes_valid_csv_json_and_svg() {
    let tmp = TempDir::new("mc");
    let out = tmp.file("res");
    let o = mc("12", &["--out", &out]);
    assert!(stdout(&o).contains("12 trials"), "{}", stdout(&o));

    let csv = read(&format!("{out}/results.csv"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("adoption,metric,trials,mean,std_dev,ci_low,ci_high")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3 * 7, "{csv}");
    let mean = |level: &str, metric: &str| -> f64 {
        let r = rows
            .iter()
            .find(|r| r[0] == level && r[1] == metric)
            .unwrap_or_else(|| panic!("{level} {metric} in\n{csv}"));
        r[3].parse().unwrap()
    };
    for r in &rows {
        assert_eq!(r.len(), 7);
        assert_eq!(r[2], "12");
        let v: Vec<f64> = r[3..].iter().map(|x| x.parse().unwrap()).collect();
        assert!(
            v[2] <= v[0] + 1e-9 && v[0] <= v[3] + 1e-9,
            "CI around mean: {r:?}"
        );
    }
    for level in ["0", "50", "100"] {
        let total = mean(level, "attacker") + mean(level, "victim") + mean(level, "disconnected");
        assert!((total - 1.0).abs() < 1e-5, "shares sum to 1 at {level}%");
    }
    // No adopter: the /24 reaches every AS and longest match captures all traffic. Every AS
    // adopting ROV: the invalid /24 goes nowhere and nobody is captured.
    assert_eq!(mean("0", "attacker"), 1.0);
    assert_eq!(mean("100", "attacker"), 0.0);
    assert!(mean("50", "attacker") > 0.0 && mean("50", "attacker") < 1.0);

    let json: serde_json::Value =
        serde_json::from_str(&read(&format!("{out}/results.json"))).expect("JSON");
    assert_eq!(json["params"]["trials"], 12);
    assert_eq!(json["graph"]["ases"], 300);
    assert_eq!(json["records"].as_array().unwrap().len(), 36);
    assert_eq!(json["rows"].as_array().unwrap().len(), 21);

    let svg = read(&format!("{out}/results.svg"));
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polygon").count(), 4, "one CI band per series");
    for name in ["attacker", "victim", "disconnected", "undetected_attacker"] {
        assert!(svg.contains(&format!(">{name}</text>")), "legend {name}");
    }

    // Reproducible from the seed, whatever the thread count.
    let again = tmp.file("again");
    mc("12", &["--out", &again, "--threads", "1"]);
    assert_eq!(read(&format!("{again}/results.csv")), csv);
    assert_eq!(
        read(&format!("{again}/results.json")),
        read(&format!("{out}/results.json"))
    );
}

#[test]
fn merged_shards_equal_the_unsharded_run() {
    let tmp = TempDir::new("shards");
    let whole = tmp.file("whole");
    mc("9", &["--out", &whole]);
    let shards = tmp.file("shards");
    for s in ["1/2", "0/2"] {
        let o = mc("9", &["--shard", s, "--out", &shards]);
        assert!(
            stdout(&o).contains(&format!("shard {s}:")),
            "{}",
            stdout(&o)
        );
    }
    let merged = tmp.file("merged");
    let s0 = format!("{shards}/shard-0-of-2.json");
    let s1 = format!("{shards}/shard-1-of-2.json");
    ok(nettwin(&["inet", "merge", &s1, &s0, "--out", &merged]));
    let whole_csv = read(&format!("{whole}/results.csv"));
    assert_eq!(read(&format!("{merged}/results.csv")), whole_csv);
    assert_eq!(
        read(&format!("{merged}/results.svg")),
        read(&format!("{whole}/results.svg"))
    );

    // A missing shard or one given twice is refused.
    let o = nettwin(&["inet", "merge", &s1, "--out", &merged]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("shard(s) 0/2 missing"),
        "{}",
        stderr(&o)
    );
    let o = nettwin(&["inet", "merge", &s1, &s1, "--out", &merged]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("shard 1/2 is given twice"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(&format!("{merged}/results.csv")), whole_csv);
}

fn fails_with(a: &[&str], message: &str) {
    let o = nettwin(a);
    assert_eq!(o.status.code(), Some(2), "{a:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains(message),
        "{a:?}: expected {message:?} in\n{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn bad_inputs_exit_2_naming_file_line_or_flag() {
    let tmp = TempDir::new("bad");
    let graph = tmp.file("rels.txt");
    std::fs::write(&graph, "# test\n1|2|-1\n2|3|-1|bgp\n3|4|2\n").unwrap();
    fails_with(
        &["inet", "run", "--graph", &graph, "--attack", "prefix"],
        &format!("error: {graph}:4: relationship: \"2\" is neither -1"),
    );
    let adopters = tmp.file("adopters.txt");
    std::fs::write(&adopters, "AS1\nAS4\nAS77\n").unwrap();
    let base = [
        "inet",
        "run",
        "--graph",
        GRAPH,
        "--victim",
        "6",
        "--attack",
        "subprefix",
    ];
    fails_with(
        &[&base[..], &["--attacker", "99"]].concat(),
        "error: --attacker: AS99 is not in the graph (examples/inet/ten-as.txt)",
    );
    fails_with(
        &[
            &base[..],
            &[
                "--attacker",
                "9",
                "--defense",
                "rov",
                "--adopters",
                adopters.as_str(),
            ],
        ]
        .concat(),
        &format!("error: {adopters}:3: adopter AS77 is not in the graph"),
    );
    std::fs::write(&adopters, "AS1\nfour\n").unwrap();
    fails_with(
        &[
            &base[..],
            &[
                "--attacker",
                "9",
                "--defense",
                "rov",
                "--adopters",
                adopters.as_str(),
            ],
        ]
        .concat(),
        &format!("error: {adopters}:2: asn:"),
    );
    fails_with(
        &[&base[..], &["--attacker", "9", "--defense", "rov"]].concat(),
        "error: --defense rov needs --adopters FILE",
    );
    fails_with(
        &[
            "inet",
            "route",
            "--graph",
            GRAPH,
            "--victim",
            "6",
            "--attacker",
            "9",
            "--attack",
            "prefix",
            "--as",
            "12",
        ],
        "error: --as: AS12 is not in the graph",
    );
    for shard in ["2/2", "1", "a/b", "0/0"] {
        fails_with(
            &[
                "inet",
                "run",
                "--synthetic",
                "300",
                "--attack",
                "prefix",
                "--shard",
                shard,
            ],
            &format!("error: --shard: shard \"{shard}\" is not i/n"),
        );
    }
    fails_with(
        &["inet", "run", "--synthetic", "300", "--attack", "hijack"],
        "error: --attack: unknown attack \"hijack\"",
    );
    fails_with(
        &[
            "inet",
            "run",
            "--synthetic",
            "300",
            "--attack",
            "prefix",
            "--defense",
            "rov",
            "--adoption",
            "0,10,...,95",
        ],
        "error: --adoption:",
    );
    fails_with(
        &[
            "inet",
            "run",
            "--graph",
            &tmp.file("missing.txt"),
            "--attack",
            "prefix",
        ],
        &format!("error: cannot read {} (--graph)", tmp.file("missing.txt")),
    );
    fails_with(
        &[
            "inet",
            "run",
            "--synthetic",
            "300",
            "--attack",
            "prefix",
            "--adopters",
            ADOPTERS,
        ],
        "error: --adopters and --adoption-strategy need --defense D",
    );
    let not_a_shard = tmp.file("x.json");
    std::fs::write(&not_a_shard, "{}").unwrap();
    fails_with(
        &["inet", "merge", &not_a_shard],
        &format!("error: {not_a_shard}: not a shard file"),
    );
    assert!(tmp.dir().exists());
}

#[test]
fn thread_counts_and_subprefix_lengths_out_of_range_are_refused() {
    // 100,000 threads used to be created without a bound.
    let mut a = MC.to_vec();
    a.extend(["2", "--threads", "100000"]);
    fails_with(&a, "error: --threads 100000: at most");
    let mut a = MC.to_vec();
    a.extend(["2", "--threads", "0"]);
    fails_with(&a, "error: --threads: need at least 1 thread");
    // A /99 inside an IPv4 /16 used to become a /32 without a word.
    let base = [
        "inet",
        "run",
        "--graph",
        GRAPH,
        "--victim",
        "6",
        "--attacker",
        "9",
        "--attack",
        "subprefix",
    ];
    fails_with(
        &[&base[..], &["--subprefix-len", "99"]].concat(),
        "error: --subprefix-len: sub-prefix length /99 must be longer than the victim prefix 10.0.0.0/16 and at most /32",
    );
    fails_with(
        &[&base[..], &["--subprefix-len", "16"]].concat(),
        "must be longer than the victim prefix 10.0.0.0/16",
    );
    // The longest one allowed works.
    ok(nettwin(&[&base[..], &["--subprefix-len", "32"]].concat()));
}
