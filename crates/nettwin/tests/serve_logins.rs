//! `nettwin serve` as its operator sees it: every users-file mistake reported.

mod common;
use common::*;

#[test]
fn every_users_file_mistake_is_reported_with_its_line() {
    let dir = TempDir::new("serve-users");
    let users = dir.file("users.txt");
    std::fs::write(
        &users,
        "admin password=\nops password=ok\nops password=again\nx colour=red\n",
    )
    .unwrap();
    let o = nettwin(&[
        "serve",
        "examples/isp-dc.yml",
        "--users",
        &users,
        "--host-key",
        &dir.file("host_key"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            format!("error: {users}:1: empty password (leave `password=` out for a key-only account)"),
            format!("error: {users}:3: user `ops` is already defined on line 2"),
            format!("error: {users}:4: unknown field `colour=red` (expected password=, secret=, privilege= or a public key)"),
        ],
        "{err}"
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}
