//! The users file: one account per line,
//! `NAME [password=PW] [secret=ENABLE] [privilege=1|15] [ALGORITHM BASE64-KEY [COMMENT]]...`;
//! `#` starts a comment line. See docs/cli.md.

use russh::keys::PublicKey;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// One mistake in a users file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsersFileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for UsersFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Every mistake of a users file, in line order, so one edit can fix them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsersFileErrors(pub Vec<UsersFileError>);

impl fmt::Display for UsersFileErrors {
    /// One mistake per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// One account of the users file.
#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
    pub password: Option<String>,
    /// The secret `enable` asks for; without one, `enable` lets the user straight in.
    pub secret: Option<String>,
    /// Start sessions in privileged mode (IOS privilege 15).
    pub privileged: bool,
    pub keys: Vec<PublicKey>,
}

/// The accounts the server accepts.
#[derive(Clone, Debug, Default)]
pub struct Users {
    pub users: Vec<User>,
}

fn is_key_algorithm(w: &str) -> bool {
    w.starts_with("ssh-") || w.starts_with("ecdsa-")
}

/// Reads one account line; mistakes go to `errors`, the account (whatever of it parsed) is
/// returned so later lines can still be checked against it.
fn parse_line(line: &str, errors: &mut Vec<String>) -> User {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or_default().to_string();
    if name.contains('+') || name.contains('@') {
        errors.push(format!(
            "user name `{name}` may not contain `+` or `@` (they pick the device)"
        ));
    }
    let mut user = User {
        name,
        ..User::default()
    };
    let rest: Vec<&str> = words.collect();
    let mut privilege_seen = false;
    let mut k = 0;
    while k < rest.len() {
        let w = rest[k];
        if let Some(v) = w.strip_prefix("password=") {
            // An empty password would let anyone in who knows the user name.
            if v.is_empty() {
                errors.push(
                    "empty password (leave `password=` out for a key-only account)".to_string(),
                );
            } else if user.password.replace(v.to_string()).is_some() {
                errors.push("`password=` given twice".to_string());
            }
        } else if let Some(v) = w.strip_prefix("secret=") {
            // An empty secret would make `enable` a formality; without `secret=` it is one
            // openly.
            if v.is_empty() {
                errors.push(
                    "empty enable secret (leave `secret=` out for an enable without a secret)"
                        .to_string(),
                );
            } else if user.secret.replace(v.to_string()).is_some() {
                errors.push("`secret=` given twice".to_string());
            }
        } else if let Some(v) = w.strip_prefix("privilege=") {
            if std::mem::replace(&mut privilege_seen, true) {
                errors.push("`privilege=` given twice".to_string());
            }
            match v {
                "15" => user.privileged = true,
                "1" => user.privileged = false,
                _ => errors.push(format!("privilege must be 1 or 15, not `{v}`")),
            }
        } else if is_key_algorithm(w) {
            match rest.get(k + 1) {
                None => errors.push(format!("key `{w}` has no base64 data")),
                Some(blob) => match PublicKey::from_openssh(&format!("{w} {blob}")) {
                    Ok(key) => user.keys.push(key),
                    Err(e) => errors.push(format!("bad public key: {e}")),
                },
            }
            k += 1;
            // A key comment runs to the next `field=` or key.
            while k + 1 < rest.len() && !rest[k + 1].contains('=') && !is_key_algorithm(rest[k + 1])
            {
                k += 1;
            }
        } else {
            errors.push(format!(
                "unknown field `{w}` (expected password=, secret=, privilege= or a public key)"
            ));
        }
        k += 1;
    }
    if user.password.is_none() && user.keys.is_empty() && errors.is_empty() {
        errors.push(format!(
            "user `{}` has neither a password nor a public key",
            user.name
        ));
    }
    user
}

impl Users {
    /// Parses a users file; every mistake is reported, each with its line.
    pub fn parse(file: &str, text: &str) -> Result<Users, UsersFileErrors> {
        let mut users = Vec::new();
        let mut errors = Vec::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut messages = Vec::new();
            let user = parse_line(line, &mut messages);
            // Two lines for one name would leave which one counts to the reader's guess.
            if let Some(first) = first_line.get(&user.name) {
                messages.push(format!(
                    "user `{}` is already defined on line {first}",
                    user.name
                ));
            } else {
                first_line.insert(user.name.clone(), i + 1);
            }
            errors.extend(messages.into_iter().map(|message| UsersFileError {
                file: file.to_string(),
                line: i + 1,
                message,
            }));
            users.push(user);
        }
        if errors.is_empty() {
            Ok(Users { users })
        } else {
            Err(UsersFileErrors(errors))
        }
    }

    pub fn load(path: &Path) -> Result<Users, super::ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| super::ServeError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Users::parse(&path.display().to_string(), &text)?)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF7TDbwgKH/o/E33PZ4MXt6lTZgzQmABh9LkHHXdl8MQ";

    #[test]
    fn users_file_parses_and_reports_lines() {
        let text = format!(
            "# accounts\nadmin password=admin secret=cisco\n\nops privilege=15 {KEY} ops@laptop\n"
        );
        let users = Users::parse("users.txt", &text).unwrap();
        assert_eq!(users.users.len(), 2);
        assert_eq!(users.users[0].password.as_deref(), Some("admin"));
        assert_eq!(users.users[0].secret.as_deref(), Some("cisco"));
        assert!(users.users[1].privileged);
        assert_eq!(users.users[1].keys.len(), 1);
        let e = Users::parse("users.txt", "admin\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "users.txt:1: user `admin` has neither a password nor a public key"
        );
        let e = Users::parse("u", "a password=x\nb colour=red\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("u:2: unknown field `colour=red`"), "{e}");
        let e = Users::parse("u", "a ssh-ed25519 notbase64\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("u:1: bad public key"), "{e}");
    }

    #[test]
    fn empty_password_or_secret_is_refused() {
        let e = Users::parse("u", "admin password=\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "u:1: empty password (leave `password=` out for a key-only account)"
        );
        // With a key the account would otherwise load, and log in with an empty password.
        let e = Users::parse("u", &format!("ops password= {KEY}\n")).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(e.0[0].message.starts_with("empty password"), "{e}");
        let e = Users::parse("u", "admin password=a secret=\n").unwrap_err();
        assert!(e.0[0].message.starts_with("empty enable secret"), "{e}");
    }

    #[test]
    fn duplicate_users_are_errors() {
        let e = Users::parse(
            "u",
            "admin password=a\nops password=b\n# again\nadmin password=c\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "u:4: user `admin` is already defined on line 1"
        );
        let e = Users::parse("u", "a password=x password=y privilege=1 privilege=15\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "u:1: `password=` given twice\nu:1: `privilege=` given twice"
        );
    }

    #[test]
    fn every_mistake_is_reported_with_its_line() {
        let text = "admin password=\nok password=fine\nbad+name password=x\nnokey\nx colour=red secret=\nok password=again\n";
        let e = Users::parse("users.txt", text).unwrap_err();
        let lines: Vec<String> = e.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            lines,
            [
                "users.txt:1: empty password (leave `password=` out for a key-only account)",
                "users.txt:3: user name `bad+name` may not contain `+` or `@` (they pick the device)",
                "users.txt:4: user `nokey` has neither a password nor a public key",
                "users.txt:5: unknown field `colour=red` (expected password=, secret=, privilege= or a public key)",
                "users.txt:5: empty enable secret (leave `secret=` out for an enable without a secret)",
                "users.txt:6: user `ok` is already defined on line 2",
            ]
        );
    }
}
