//! The automation runner until `nettwin exec` is wired:
//! `exec --target HOST:PORT --user U [--password P | --key PATH] [--secret S]
//!       --commands FILE [--expect FILE]`.
//! Prints PASS/FAIL per step and exits 1 when a step fails, 2 on a usage or connection error.

use nettwin_cli::runner::{self, Target};
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn run() -> Result<bool, String> {
    let mut args = std::env::args().skip(1);
    let (mut target, mut user, mut password, mut key, mut secret, mut commands, mut expect) =
        (None, None, None, None, None, None, None);
    while let Some(a) = args.next() {
        let v = args.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--target" => target = Some(v),
            "--user" => user = Some(v),
            "--password" => password = Some(v),
            "--key" => key = Some(PathBuf::from(v)),
            "--secret" => secret = Some(v),
            "--commands" => commands = Some(v),
            "--expect" => expect = Some(v),
            _ => return Err(format!("unexpected argument `{a}`")),
        }
    }
    let commands = commands.ok_or("--commands is required")?;
    let list = runner::parse_commands(&read(&commands)?);
    let steps = match &expect {
        Some(f) => runner::build_steps(list, f, &read(f)?).map_err(|e| e.to_string())?,
        None => runner::build_steps(list, "", "").map_err(|e| e.to_string())?,
    };
    let t = Target {
        address: target.ok_or("--target is required")?,
        user: user.ok_or("--user is required")?,
        password,
        key,
        enable_secret: secret,
        timeout: Duration::from_secs(30),
    };
    let results = runner::run_blocking(&t, &steps).map_err(|e| e.to_string())?;
    let mut ok = true;
    for (i, r) in results.iter().enumerate() {
        let verdict = if r.passed() { "PASS" } else { "FAIL" };
        ok &= r.passed();
        println!("{verdict} {:>3} {}{}", i + 1, r.prompt, r.command);
        if let Some(e) = &r.error {
            println!("         {e}");
        }
        for c in &r.checks {
            println!(
                "       {} {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.expect
            );
        }
    }
    Ok(ok)
}
