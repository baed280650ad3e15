//! One CLI session on one device: the line editor (echo, backspace, history, Tab, `?`), the
//! modes and prompts, `--More--` paging, user abbreviations, and command execution against
//! the twin.
//!
//! The session is a plain state machine over bytes: [`Session::feed`] takes what the terminal
//! sent and returns what to write back. The SSH layer only moves bytes, so everything here is
//! tested without a network.

use crate::ifname::{self, display_name, IfTarget};
use crate::parse::{self, Command, ParseError};
use crate::render;
use crate::twin::{Change, Twin, TwinView};
use nettwin_model::{IfAddr, NodeId, Prefix, StaticNextHop};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

/// Longest line kept; further characters are dropped (not echoed), as a terminal server would.
pub const MAX_LINE: usize = 4096;
const MAX_HISTORY: usize = 20;
/// User abbreviations one session may define: each costs memory for the session's life,
/// so a script cannot grow a session without bound.
pub const MAX_ABBREVS: usize = 256;
/// Longest abbreviation expansion, in bytes (a name is one word of at most this too).
pub const MAX_ABBREV_LEN: usize = 1024;
/// Wrong enable secrets before the session is closed.
pub const ENABLE_TRIES: u8 = 3;

const USER: u32 = 1;
const PRIV: u32 = 2;
const CONF: u32 = 4;
const CONF_IF: u32 = 8;
const CONF_OSPF: u32 = 16;
const CONF_BGP: u32 = 32;
const EXEC: u32 = USER | PRIV;
const ANY_CONF: u32 = CONF | CONF_IF | CONF_OSPF | CONF_BGP;
const ALL: u32 = EXEC | ANY_CONF;

/// The mode the session is in, which decides the prompt and the commands available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    User,
    Privileged,
    Config,
    Interface(IfTarget),
    RouterOspf,
    RouterBgp,
}

impl Mode {
    fn bit(self) -> u32 {
        match self {
            Mode::User => USER,
            Mode::Privileged => PRIV,
            Mode::Config => CONF,
            Mode::Interface(_) => CONF_IF,
            Mode::RouterOspf => CONF_OSPF,
            Mode::RouterBgp => CONF_BGP,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Enable,
    Disable,
    Logout,
    TermLength,
    TermWidth,
    ShowVersion,
    ShowRunning,
    ShowIpIntBrief,
    ShowInterfaces,
    ShowInterface,
    ShowIpRoute,
    ShowIpRouteAddr,
    ShowIpRouteVrf,
    ShowVrf,
    ShowOspfNeighbor,
    ShowBgpSummary,
    ShowMplsForwarding,
    ShowSrTePolicy,
    ShowMplsLdpBindings,
    ShowBgp,
    ShowCdp,
    ShowLldp,
    ShowAbbrev,
    ShowHistory,
    Ping,
    Traceroute,
    Abbrev,
    NoAbbrev,
    ConfigureTerminal,
    WriteMemory,
    Interface,
    IpRouteVia,
    IpRouteViaDistance,
    IpRouteIf,
    IpRouteIfDistance,
    IpRouteIfVia,
    NoIpRouteVia,
    NoIpRouteIf,
    RouterOspf,
    RouterBgp,
    End,
    ExitConfig,
    ExitSub,
    Do,
    Shutdown,
    NoShutdown,
    IpAddress,
    NoIpAddress,
    Mtu,
    NoMtu,
    OspfCost,
    NoOspfCost,
    NeighborShutdown,
    NoNeighborShutdown,
}

fn table() -> &'static [Command<Action>] {
    static TABLE: OnceLock<Vec<Command<Action>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        use Action::*;
        let c = Command::new;
        vec![
            c("enable", EXEC, Enable),
            c("disable", PRIV, Disable),
            c("exit", EXEC, Logout),
            c("logout", EXEC, Logout),
            c("quit", EXEC, Logout),
            c("terminal length <0-512>", EXEC, TermLength),
            c("terminal width <0-512>", EXEC, TermWidth),
            c("show version", EXEC, ShowVersion),
            c("show running-config", PRIV, ShowRunning),
            c("show ip interface brief", EXEC, ShowIpIntBrief),
            c("show interfaces", EXEC, ShowInterfaces),
            c("show interfaces INTERFACE", EXEC, ShowInterface),
            c("show ip route", EXEC, ShowIpRoute),
            c("show ip route A.B.C.D", EXEC, ShowIpRouteAddr),
            c("show ip route vrf WORD", EXEC, ShowIpRouteVrf),
            c("show vrf", EXEC, ShowVrf),
            c("show ip ospf neighbor", EXEC, ShowOspfNeighbor),
            c("show ip bgp summary", EXEC, ShowBgpSummary),
            c("show ip bgp", EXEC, ShowBgp),
            c("show mpls forwarding-table", EXEC, ShowMplsForwarding),
            c(
                "show segment-routing traffic-eng policy",
                EXEC,
                ShowSrTePolicy,
            ),
            c("show mpls ldp bindings", EXEC, ShowMplsLdpBindings),
            c("show cdp neighbors", EXEC, ShowCdp),
            c("show lldp neighbors", EXEC, ShowLldp),
            c("show abbrev", EXEC, ShowAbbrev),
            c("show history", EXEC, ShowHistory),
            c("ping A.B.C.D", EXEC, Ping),
            c("traceroute A.B.C.D", EXEC, Traceroute),
            c("abbrev WORD LINE", ALL, Abbrev),
            c("no abbrev WORD", ALL, NoAbbrev),
            c("configure terminal", PRIV, ConfigureTerminal),
            c("write memory", PRIV, WriteMemory),
            c("write", PRIV, WriteMemory),
            c("copy running-config startup-config", PRIV, WriteMemory),
            c("interface INTERFACE", ANY_CONF, Interface),
            c("ip route A.B.C.D A.B.C.D A.B.C.D", ANY_CONF, IpRouteVia),
            c(
                "ip route A.B.C.D A.B.C.D A.B.C.D <1-255>",
                ANY_CONF,
                IpRouteViaDistance,
            ),
            c("ip route A.B.C.D A.B.C.D INTERFACE", ANY_CONF, IpRouteIf),
            c(
                "ip route A.B.C.D A.B.C.D INTERFACE <1-255>",
                ANY_CONF,
                IpRouteIfDistance,
            ),
            c(
                "ip route A.B.C.D A.B.C.D INTERFACE A.B.C.D",
                ANY_CONF,
                IpRouteIfVia,
            ),
            c(
                "no ip route A.B.C.D A.B.C.D A.B.C.D",
                ANY_CONF,
                NoIpRouteVia,
            ),
            c(
                "no ip route A.B.C.D A.B.C.D INTERFACE",
                ANY_CONF,
                NoIpRouteIf,
            ),
            c("router ospf <1-65535>", ANY_CONF, RouterOspf),
            c("router bgp <1-4294967295>", ANY_CONF, RouterBgp),
            c("end", ANY_CONF, End),
            c("exit", CONF, ExitConfig),
            c("exit", CONF_IF | CONF_OSPF | CONF_BGP, ExitSub),
            c("do LINE", ANY_CONF, Do),
            c("shutdown", CONF_IF, Shutdown),
            c("no shutdown", CONF_IF, NoShutdown),
            c("ip address A.B.C.D A.B.C.D", CONF_IF, IpAddress),
            c("no ip address", CONF_IF, NoIpAddress),
            c("mtu <68-65535>", CONF_IF, Mtu),
            c("no mtu", CONF_IF, NoMtu),
            c("ip ospf cost <1-65535>", CONF_IF, OspfCost),
            c("no ip ospf cost", CONF_IF, NoOspfCost),
            c("neighbor A.B.C.D shutdown", CONF_BGP, NeighborShutdown),
            c("no neighbor A.B.C.D shutdown", CONF_BGP, NoNeighborShutdown),
        ]
    })
}

/// The short help `?` prints beside a keyword.
fn help(word: &str) -> &'static str {
    match word {
        "abbrev" => "Define a user abbreviation, expanded when space is typed",
        "address" => "Set the IP address of an interface",
        "bgp" => "BGP information / Border Gateway Protocol",
        "brief" => "Brief summary of IP status and configuration",
        "cdp" => "CDP information",
        "configure" => "Enter configuration mode",
        "copy" => "Copy from one file to another",
        "cost" => "Interface cost",
        "disable" => "Turn off privileged commands",
        "do" => "To run exec commands in config mode",
        "enable" => "Turn on privileged commands",
        "end" => "Exit from configure mode",
        "exit" => "Exit from the EXEC / current mode",
        "history" => "Display the session command history",
        "interface" => "Select an interface to configure",
        "interfaces" => "Interface status and configuration",
        "ip" => "IP information / Global IP configuration subcommands",
        "length" => "Set number of lines on a screen",
        "lldp" => "LLDP information",
        "logout" => "Exit from the EXEC",
        "memory" => "Write to NV memory",
        "mpls" => "MPLS information",
        "forwarding-table" => "Show MPLS forwarding table",
        "segment-routing" => "Segment Routing",
        "traffic-eng" => "Segment Routing Traffic Engineering",
        "policy" => "SR-TE policies",
        "ldp" => "Label Distribution Protocol information",
        "bindings" => "Show the LDP Label Information Base (LIB)",
        "mtu" => "Set the interface Maximum Transmission Unit (MTU)",
        "neighbor" => "Specify a neighbor router",
        "neighbors" => "Neighbor entries",
        "no" => "Negate a command or set its defaults",
        "ospf" => "OSPF information / Open Shortest Path First (OSPF)",
        "ping" => "Send echo messages",
        "quit" => "Exit from the EXEC",
        "route" => "IP routing table / Establish static routes",
        "router" => "Enable a routing process",
        "running-config" => "Current operating configuration",
        "show" => "Show running system information",
        "shutdown" => "Shutdown the selected interface / neighbor",
        "startup-config" => "Copy to startup configuration",
        "summary" => "Summarized neighbor status",
        "terminal" => "Set terminal line parameters",
        "traceroute" => "Trace route to destination",
        "version" => "System hardware and software status",
        "width" => "Set width of the display terminal",
        "write" => "Write running configuration to memory",
        "A.B.C.D" => "IP address, prefix or mask",
        "INTERFACE" => "Interface name, e.g. GigabitEthernet0/1",
        "WORD" => "Name",
        "LINE" => "The rest of the line",
        "<cr>" => "",
        _ => "",
    }
}

/// Filters after `|` in an exec command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PipeFilter {
    Include,
    Exclude,
    Begin,
}

fn pipe_table() -> &'static [Command<PipeFilter>] {
    static TABLE: OnceLock<Vec<Command<PipeFilter>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        vec![
            Command::new("include LINE", 1, PipeFilter::Include),
            Command::new("exclude LINE", 1, PipeFilter::Exclude),
            Command::new("begin LINE", 1, PipeFilter::Begin),
        ]
    })
}

/// What a session starts with.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// The secret `enable` asks for; `None` lets `enable` through without a prompt.
    pub enable_secret: Option<String>,
    /// Start in privileged mode (a user with privilege 15).
    pub privileged: bool,
    /// Abbreviations defined before the session starts.
    pub abbrevs: Vec<(String, String)>,
}

enum Pending {
    None,
    /// Reading the `enable` secret; tries so far.
    EnableSecret(u8),
    /// Showing paged output: the lines not shown yet.
    More(Vec<String>),
}

/// One CLI session on one device.
pub struct Session {
    twin: Arc<dyn Twin>,
    node: NodeId,
    hostname: String,
    mode: Mode,
    opts: SessionOptions,
    line: String,
    history: Vec<String>,
    history_pos: Option<usize>,
    escape: Vec<u8>,
    after_cr: bool,
    length: u32,
    width: u32,
    pending: Pending,
    abbrevs: Vec<(String, String)>,
    closed: bool,
    /// Wrong enable secrets not yet collected by [`Session::take_secret_failures`].
    secret_failures: u32,
    out: Vec<u8>,
}

impl Session {
    pub fn new(twin: Arc<dyn Twin>, node: NodeId, opts: SessionOptions) -> Session {
        let hostname = twin.view().topology().node(node).name.clone();
        let mode = if opts.privileged {
            Mode::Privileged
        } else {
            Mode::User
        };
        Session {
            twin,
            node,
            hostname,
            mode,
            abbrevs: opts.abbrevs.clone(),
            opts,
            line: String::new(),
            history: Vec::new(),
            history_pos: None,
            escape: Vec::new(),
            after_cr: false,
            length: 24,
            width: 80,
            pending: Pending::None,
            closed: false,
            secret_failures: 0,
            out: Vec::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// True once the user logged out (or was put out); the transport closes the channel.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// How many wrong enable secrets were typed since the last call. The transport pauses
    /// for each before it sends the output, as IOS does, so secrets cannot be guessed at the
    /// speed of the link.
    pub fn take_secret_failures(&mut self) -> u32 {
        std::mem::take(&mut self.secret_failures)
    }

    pub fn prompt(&self) -> String {
        let h = &self.hostname;
        match self.mode {
            Mode::User => format!("{h}>"),
            Mode::Privileged => format!("{h}#"),
            Mode::Config => format!("{h}(config)#"),
            Mode::Interface(_) => format!("{h}(config-if)#"),
            Mode::RouterOspf | Mode::RouterBgp => format!("{h}(config-router)#"),
        }
    }

    /// What to send when the shell starts: a blank line and the prompt.
    pub fn start(&mut self) -> Vec<u8> {
        self.write("\n");
        let p = self.prompt();
        self.write(&p);
        std::mem::take(&mut self.out)
    }

    /// Feeds what the terminal sent; returns what to write back.
    pub fn feed(&mut self, input: &[u8]) -> Vec<u8> {
        for &b in input {
            if self.closed {
                break;
            }
            self.byte(b);
        }
        std::mem::take(&mut self.out)
    }

    /// Runs one command line as if typed (without echo), e.g. for an SSH `exec` request.
    pub fn run_line(&mut self, line: &str) -> Vec<u8> {
        self.execute(line);
        std::mem::take(&mut self.out)
    }

    fn write(&mut self, text: &str) {
        for b in text.bytes() {
            if b == b'\n' {
                self.out.extend_from_slice(b"\r\n");
            } else {
                self.out.push(b);
            }
        }
    }

    fn byte(&mut self, b: u8) {
        let was_cr = std::mem::replace(&mut self.after_cr, false);
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::More(rest) => {
                if b == b'\n' && was_cr {
                    self.pending = Pending::More(rest);
                    return;
                }
                self.after_cr = b == b'\r';
                self.more_key(b, rest);
                return;
            }
            Pending::EnableSecret(tries) => {
                self.pending = Pending::EnableSecret(tries);
                if b == b'\n' && was_cr {
                    return;
                }
                if b == b'\r' || b == b'\n' {
                    self.after_cr = b == b'\r';
                    let secret = std::mem::take(&mut self.line);
                    self.check_secret(&secret, tries);
                } else if b == 0x7f || b == 0x08 {
                    self.line.pop();
                } else if (0x20..0x7f).contains(&b) && self.line.len() < MAX_LINE {
                    self.line.push(b as char);
                }
                return;
            }
            Pending::None => {}
        }
        if !self.escape.is_empty() || b == 0x1b {
            self.escape.push(b);
            self.escape_seq();
            return;
        }
        match b {
            b'\n' if was_cr => {}
            b'\r' | b'\n' => {
                self.after_cr = b == b'\r';
                self.enter();
            }
            0x7f | 0x08 if self.line.pop().is_some() => self.write("\x08 \x08"),
            0x03 => {
                // Ctrl-C abandons the line; in a config mode it also leaves for privileged.
                self.write("^C\n");
                self.line.clear();
                if self.mode.bit() & ANY_CONF != 0 {
                    self.mode = Mode::Privileged;
                }
                self.prompt_again();
            }
            0x1a => {
                self.line.clear();
                if self.mode.bit() & ANY_CONF != 0 {
                    self.write("^Z\n");
                    self.mode = Mode::Privileged;
                    self.prompt_again();
                }
            }
            0x15 => {
                let n = self.line.len();
                self.erase(n);
                self.line.clear();
            }
            b'\t' => self.tab(),
            b'?' => self.question(),
            b' ' => {
                self.expand_abbrev();
                self.push_char(' ');
            }
            0x21..=0x7e => self.push_char(b as char),
            _ => {}
        }
    }

    fn push_char(&mut self, c: char) {
        if self.line.len() >= MAX_LINE {
            return;
        }
        self.line.push(c);
        let mut buf = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    fn erase(&mut self, n: usize) {
        for _ in 0..n {
            self.out.extend_from_slice(b"\x08 \x08");
        }
    }

    fn replace_line(&mut self, new: String) {
        let n = self.line.len();
        self.erase(n);
        self.line = new;
        let shown = self.line.clone();
        self.write(&shown);
    }

    fn prompt_again(&mut self) {
        let p = self.prompt();
        self.write(&p);
    }

    fn escape_seq(&mut self) {
        match self.escape.as_slice() {
            [0x1b] | [0x1b, b'['] | [0x1b, b'O'] => {}
            [0x1b, b'[' | b'O', k] => {
                let k = *k;
                self.escape.clear();
                match k {
                    b'A' => self.history_step(true),
                    b'B' => self.history_step(false),
                    _ => {}
                }
            }
            _ => self.escape.clear(),
        }
    }

    fn history_step(&mut self, back: bool) {
        if self.history.is_empty() {
            return;
        }
        let pos = match (self.history_pos, back) {
            (None, true) => Some(self.history.len() - 1),
            (None, false) => None,
            (Some(0), true) => Some(0),
            (Some(p), true) => Some(p - 1),
            (Some(p), false) if p + 1 < self.history.len() => Some(p + 1),
            (Some(_), false) => None,
        };
        self.history_pos = pos;
        let text = pos.map(|p| self.history[p].clone()).unwrap_or_default();
        self.replace_line(text);
    }

    /// fish-style abbreviations: a first word that names one expands in place.
    fn expand_abbrev(&mut self) {
        if self.line.contains(' ') || self.line.is_empty() {
            return;
        }
        if let Some((_, exp)) = self.abbrevs.iter().find(|(n, _)| *n == self.line) {
            let exp = exp.clone();
            self.replace_line(exp);
        }
    }

    fn tab(&mut self) {
        let (mode, line) = self.effective(&self.line.clone());
        if let Some(word) = parse::complete(table(), mode, &line) {
            let typed = parse::split_words(&line)
                .last()
                .map(|w| w.text.len())
                .unwrap_or(0);
            let rest = word[typed.min(word.len())..].to_string() + " ";
            for c in rest.chars() {
                self.push_char(c);
            }
        }
    }

    /// The command table mode and line to use: `do` in config mode looks up exec commands.
    fn effective(&self, line: &str) -> (u32, String) {
        let bit = self.mode.bit();
        if bit & ANY_CONF != 0 {
            let words = parse::split_words(line);
            if let Some(first) = words.first() {
                if words.len() > 1 || line.ends_with(' ') {
                    let lower = first.text.to_ascii_lowercase();
                    if "do".starts_with(&lower) && lower.len() >= 2 {
                        let rest = line[first.start + first.text.len()..].trim_start();
                        return (PRIV, rest.to_string());
                    }
                }
            }
        }
        (bit, line.to_string())
    }

    fn question(&mut self) {
        self.write("?\n");
        let (mode, line) = self.effective(&self.line.clone());
        match parse::next_words(table(), mode, &line) {
            Ok(words) if !words.is_empty() => {
                let width = words
                    .iter()
                    .map(|(w, _)| w.len())
                    .max()
                    .unwrap_or(0)
                    .max(12);
                let mut text = String::new();
                for (w, _) in words {
                    text.push_str(&format!("  {w:<width$}  {}\n", help(&w)));
                }
                self.write(&text);
            }
            Ok(_) | Err(_) => {
                self.write("% Unrecognized command\n");
            }
        }
        self.prompt_again();
        let line = self.line.clone();
        self.write(&line);
    }

    fn enter(&mut self) {
        // An abbreviation alone on the line expands visibly before it runs.
        if let Some((_, exp)) = self.abbrevs.iter().find(|(n, _)| *n == self.line.trim()) {
            let exp = exp.clone();
            self.replace_line(exp);
        }
        self.write("\n");
        let line = std::mem::take(&mut self.line);
        self.history_pos = None;
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            self.history.push(line.clone());
            if self.history.len() > MAX_HISTORY {
                self.history.remove(0);
            }
        }
        self.execute(&line);
        if !self.closed && matches!(self.pending, Pending::None) {
            self.prompt_again();
        }
    }

    fn check_secret(&mut self, typed: &str, tries: u8) {
        self.write("\n");
        if self.opts.enable_secret.as_deref() == Some(typed) {
            self.pending = Pending::None;
            self.mode = Mode::Privileged;
            self.prompt_again();
        } else if tries + 1 >= ENABLE_TRIES {
            // The third wrong secret ends the session: a guesser has to log in again.
            self.secret_failures += 1;
            self.pending = Pending::None;
            self.write("% Bad secrets\n\n");
            self.closed = true;
        } else {
            self.secret_failures += 1;
            self.pending = Pending::EnableSecret(tries + 1);
            self.write("Password: ");
        }
    }

    /// Shows output, paged when the terminal length is not 0.
    fn show(&mut self, text: &str) {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let page = self.length.saturating_sub(1) as usize;
        if self.length == 0 || lines.len() <= page {
            for l in &lines {
                self.write(l);
                self.write("\n");
            }
            return;
        }
        for l in &lines[..page] {
            self.write(l);
            self.write("\n");
        }
        self.write(" --More-- ");
        self.pending = Pending::More(lines[page..].to_vec());
    }

    fn more_key(&mut self, b: u8, mut rest: Vec<String>) {
        self.write("\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08          \x08\x08\x08\x08\x08\x08\x08\x08\x08\x08");
        let take = match b {
            b' ' => self.length.saturating_sub(1).max(1) as usize,
            b'\r' | b'\n' => 1,
            _ => 0,
        };
        if take == 0 {
            self.prompt_again();
            return;
        }
        let n = take.min(rest.len());
        let shown: Vec<String> = rest.drain(..n).collect();
        for l in shown {
            self.write(&l);
            self.write("\n");
        }
        if rest.is_empty() {
            self.prompt_again();
        } else {
            self.write(" --More-- ");
            self.pending = Pending::More(rest);
        }
    }

    fn error(&mut self, line: &str, e: ParseError) {
        match e {
            ParseError::Empty => {}
            ParseError::Invalid { at } => {
                let col = self.prompt().len() + line[..at].chars().count();
                self.write(&format!(
                    "{:col$}^\n% Invalid input detected at '^' marker.\n\n",
                    ""
                ));
            }
            ParseError::Ambiguous { end } => {
                self.write(&format!(
                    "% Ambiguous command: \"{}\"\n",
                    line[..end].trim()
                ));
            }
            ParseError::Incomplete => self.write("% Incomplete command.\n\n"),
        }
    }

    fn execute(&mut self, raw: &str) {
        let (command, pipe) = match raw.split_once('|') {
            Some((c, p)) => (c, Some(p)),
            None => (raw, None),
        };
        let filter = match pipe {
            None => None,
            Some(p) => match parse::parse(pipe_table(), 1, p) {
                Ok(m) => {
                    let pattern = m.args[1].clone();
                    match regex::Regex::new(&pattern) {
                        Ok(re) => Some((pipe_table()[m.command].action, re)),
                        Err(_) => {
                            self.write("% Invalid regular expression\n");
                            return;
                        }
                    }
                }
                Err(e) => {
                    let offset = command.len() + 1;
                    let shifted = match e {
                        ParseError::Invalid { at } => ParseError::Invalid { at: at + offset },
                        ParseError::Ambiguous { end } => {
                            ParseError::Ambiguous { end: end + offset }
                        }
                        other => other,
                    };
                    self.error(raw, shifted);
                    return;
                }
            },
        };
        let mode = self.mode.bit();
        let matched = match parse::parse(table(), mode, command) {
            Ok(m) => m,
            Err(e) => {
                self.error(raw, e);
                return;
            }
        };
        let action = table()[matched.command].action;
        let output = self.run(action, &matched.args, command);
        if let Some(text) = output {
            let text = match filter {
                None => text,
                Some((f, re)) => {
                    let mut out = String::new();
                    let mut begun = false;
                    for l in text.lines() {
                        let keep = match f {
                            PipeFilter::Include => re.is_match(l),
                            PipeFilter::Exclude => !re.is_match(l),
                            PipeFilter::Begin => {
                                begun = begun || re.is_match(l);
                                begun
                            }
                        };
                        if keep {
                            out.push_str(l);
                            out.push('\n');
                        }
                    }
                    out
                }
            };
            self.show(&text);
        }
    }

    fn view(&self) -> Arc<dyn TwinView> {
        self.twin.view()
    }

    fn apply(&mut self, change: Change) -> Option<String> {
        match self.twin.apply(self.node, &change) {
            Ok(()) => None,
            Err(e) => Some(format!("{e}\n")),
        }
    }

    fn interface_target(&self, typed: &str) -> Option<IfTarget> {
        let view = self.view();
        ifname::resolve(view.topology().node(self.node), typed)
    }

    fn current_interface(&self) -> Result<u32, String> {
        match self.mode {
            Mode::Interface(IfTarget::Interface(i)) => Ok(i),
            Mode::Interface(IfTarget::Loopback) => {
                Err("% Loopback0 is read-only in nettwin (set it in the topology file)\n".into())
            }
            _ => Err("% Not in interface mode\n".into()),
        }
    }

    /// Runs one matched command; returns text to show (paged), if any.
    fn run(&mut self, action: Action, args: &[String], line: &str) -> Option<String> {
        use Action::*;
        let node = self.node;
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        let ip = |i: usize| arg(i).parse::<Ipv4Addr>().ok();
        match action {
            Enable => {
                if self.mode == Mode::User {
                    if self.opts.enable_secret.is_some() {
                        self.write("Password: ");
                        self.pending = Pending::EnableSecret(0);
                    } else {
                        self.mode = Mode::Privileged;
                    }
                }
                None
            }
            Disable => {
                self.mode = Mode::User;
                None
            }
            Logout => {
                self.closed = true;
                None
            }
            TermLength => {
                self.length = arg(2).parse().unwrap_or(24);
                None
            }
            TermWidth => {
                self.width = arg(2).parse().unwrap_or(80);
                None
            }
            ShowVersion => Some(render::show_version(&*self.view(), node)),
            ShowRunning => Some(render::running_config(&*self.view(), node)),
            ShowIpIntBrief => Some(render::show_ip_interface_brief(&*self.view(), node)),
            ShowInterfaces => Some(render::show_interfaces(&*self.view(), node, None)),
            ShowInterface => {
                let view = self.view();
                let name = match ifname::resolve(view.topology().node(node), arg(2)) {
                    Some(IfTarget::Interface(i)) => {
                        display_name(&view.topology().node(node).interfaces[i as usize].name)
                    }
                    Some(IfTarget::Loopback) => ifname::LOOPBACK_MODEL_NAME.to_string(),
                    None => return Some(invalid_interface(line, arg(2), &self.prompt())),
                };
                Some(render::show_interfaces(&*view, node, Some(&name)))
            }
            ShowIpRoute => Some(render::show_ip_route(&*self.view(), node)),
            ShowIpRouteAddr => {
                let a = ip(3)?;
                Some(render::show_ip_route_detail(
                    &*self.view(),
                    node,
                    IpAddr::V4(a),
                ))
            }
            ShowIpRouteVrf => Some(render::show_ip_route_vrf(&*self.view(), node, arg(4))),
            ShowVrf => Some(render::show_vrf(&*self.view(), node)),
            ShowOspfNeighbor => Some(render::show_ip_ospf_neighbor(&*self.view(), node)),
            ShowBgpSummary => Some(render::show_ip_bgp_summary(&*self.view(), node)),
            ShowBgp => Some(render::show_ip_bgp(&*self.view(), node)),
            ShowMplsForwarding => Some(render::show_mpls_forwarding_table(&*self.view(), node)),
            ShowSrTePolicy => Some(render::show_sr_te_policy(&*self.view(), node)),
            ShowMplsLdpBindings => Some(render::show_mpls_ldp_bindings(&*self.view(), node)),
            ShowCdp => Some(render::show_cdp_neighbors(&*self.view(), node)),
            ShowLldp => Some(render::show_lldp_neighbors(&*self.view(), node)),
            ShowAbbrev => {
                let mut out = String::from("Abbreviation     Expansion\n");
                for (n, e) in &self.abbrevs {
                    out.push_str(&format!("{n:<16} {e}\n"));
                }
                Some(out)
            }
            ShowHistory => Some(
                self.history
                    .iter()
                    .map(|h| format!("  {h}\n"))
                    .collect::<String>(),
            ),
            Ping => {
                let a = IpAddr::V4(ip(1)?);
                let result = self.view().ping(node, a, 5);
                Some(render::ping(&result, a))
            }
            Traceroute => {
                let a = IpAddr::V4(ip(1)?);
                let hops = self.view().traceroute(node, a);
                Some(render::traceroute(&hops, a))
            }
            Abbrev => {
                let name = arg(1).to_string();
                let exp = arg(2).to_string();
                if name.len() > MAX_ABBREV_LEN || exp.len() > MAX_ABBREV_LEN {
                    return Some(format!(
                        "% Abbreviation too long (at most {MAX_ABBREV_LEN} characters)\n"
                    ));
                }
                let redefined = self.abbrevs.iter().any(|(n, _)| *n == name);
                if !redefined && self.abbrevs.len() >= MAX_ABBREVS {
                    return Some(format!(
                        "% Too many abbreviations (at most {MAX_ABBREVS}); remove one with \"no abbrev NAME\"\n"
                    ));
                }
                self.abbrevs.retain(|(n, _)| *n != name);
                self.abbrevs.push((name, exp));
                None
            }
            NoAbbrev => {
                let before = self.abbrevs.len();
                self.abbrevs.retain(|(n, _)| n != arg(2));
                (before == self.abbrevs.len()).then(|| "% No such abbreviation\n".to_string())
            }
            ConfigureTerminal => {
                self.mode = Mode::Config;
                Some("Enter configuration commands, one per line.  End with CNTL/Z.\n".into())
            }
            WriteMemory => Some("Building configuration...\n[OK]\n".into()),
            Interface => match self.interface_target(arg(1)) {
                Some(t) => {
                    self.mode = Mode::Interface(t);
                    None
                }
                None => Some(invalid_interface(line, arg(1), &self.prompt())),
            },
            IpRouteVia | IpRouteViaDistance | IpRouteIf | IpRouteIfDistance | IpRouteIfVia
            | NoIpRouteVia | NoIpRouteIf => {
                let add = !matches!(action, NoIpRouteVia | NoIpRouteIf);
                let base = if add { 2 } else { 3 };
                let (Some(net), Some(mask)) = (ip(base), ip(base + 1)) else {
                    return Some("% Inconsistent address and mask\n".into());
                };
                let Some(len) = render::len_of(mask) else {
                    return Some("% Inconsistent address and mask\n".into());
                };
                let prefix = Prefix::new(IpAddr::V4(net), len);
                if prefix.network() != IpAddr::V4(net) {
                    return Some("% Inconsistent address and mask\n".into());
                }
                let target = arg(base + 2);
                let next_hop = match action {
                    IpRouteVia | IpRouteViaDistance | NoIpRouteVia => StaticNextHop::Address {
                        address: IpAddr::V4(ip(base + 2)?),
                        interface: None,
                    },
                    _ if target.eq_ignore_ascii_case("null0") => StaticNextHop::Discard,
                    _ => {
                        let Some(IfTarget::Interface(i)) = self.interface_target(target) else {
                            return Some(invalid_interface(line, target, &self.prompt()));
                        };
                        match action {
                            IpRouteIfVia => StaticNextHop::Address {
                                address: IpAddr::V4(ip(base + 3)?),
                                interface: Some(i),
                            },
                            _ => StaticNextHop::Interface { interface: i },
                        }
                    }
                };
                let distance = match action {
                    IpRouteViaDistance | IpRouteIfDistance => arg(base + 3).parse().unwrap_or(1),
                    _ => 1,
                };
                let distance = if add {
                    distance
                } else {
                    // `no ip route` removes whatever distance the route had.
                    let view = self.view();
                    view.topology()
                        .node(node)
                        .statics
                        .iter()
                        .find(|s| s.prefix == prefix && s.next_hop == next_hop)
                        .map_or(1, |s| s.distance)
                };
                self.apply(Change::StaticRoute {
                    prefix,
                    next_hop,
                    distance,
                    add,
                })
            }
            RouterOspf => {
                self.mode = Mode::RouterOspf;
                None
            }
            RouterBgp => {
                let asn: u32 = arg(2).parse().ok()?;
                let view = self.view();
                match view.topology().node(node).asn {
                    Some(a) if a != asn => Some(format!("% BGP is already running; AS is {a}\n")),
                    _ => {
                        self.mode = Mode::RouterBgp;
                        None
                    }
                }
            }
            End => {
                self.mode = Mode::Privileged;
                None
            }
            ExitConfig => {
                self.mode = Mode::Privileged;
                None
            }
            ExitSub => {
                self.mode = Mode::Config;
                None
            }
            Do => {
                let saved = self.mode;
                self.mode = Mode::Privileged;
                let rest = arg(1).to_string();
                self.execute(&rest);
                // `do` never changes the mode (a `do configure terminal` is refused by IOS).
                if !self.closed {
                    self.mode = saved;
                }
                None
            }
            Shutdown | NoShutdown => match self.current_interface() {
                Ok(i) => self.apply(Change::InterfaceAdmin {
                    interface: i,
                    up: action == NoShutdown,
                }),
                Err(e) => Some(e),
            },
            IpAddress => {
                let (Some(a), Some(m)) = (ip(2), ip(3)) else {
                    return None;
                };
                let Some(len) = render::len_of(m) else {
                    return Some("% Bad mask for address\n".into());
                };
                match self.current_interface() {
                    Ok(i) => self.apply(Change::InterfaceIpv4 {
                        interface: i,
                        address: Some(IfAddr {
                            addr: IpAddr::V4(a),
                            len,
                        }),
                    }),
                    Err(e) => Some(e),
                }
            }
            NoIpAddress => match self.current_interface() {
                Ok(i) => self.apply(Change::InterfaceIpv4 {
                    interface: i,
                    address: None,
                }),
                Err(e) => Some(e),
            },
            Mtu | NoMtu => match self.current_interface() {
                Ok(i) => {
                    let mtu = if action == Mtu {
                        arg(1).parse().unwrap_or(1500)
                    } else {
                        1500
                    };
                    self.apply(Change::InterfaceMtu { interface: i, mtu })
                }
                Err(e) => Some(e),
            },
            OspfCost | NoOspfCost => match self.current_interface() {
                Ok(i) => {
                    let cost = (action == OspfCost).then(|| arg(3).parse().unwrap_or(1));
                    self.apply(Change::OspfCost { interface: i, cost })
                }
                Err(e) => Some(e),
            },
            NeighborShutdown | NoNeighborShutdown => {
                let at = if action == NeighborShutdown { 1 } else { 2 };
                let a = ip(at)?;
                self.apply(Change::BgpNeighborAdmin {
                    neighbor: IpAddr::V4(a),
                    up: action == NoNeighborShutdown,
                })
            }
        }
    }
}

/// IOS's marker under an interface name it does not know.
fn invalid_interface(line: &str, typed: &str, prompt: &str) -> String {
    let at = line
        .to_ascii_lowercase()
        .rfind(&typed.to_ascii_lowercase()[..typed.len().min(2)])
        .unwrap_or(0);
    let col = prompt.len() + at;
    format!("{:col$}^\n% Invalid input detected at '^' marker.\n\n", "")
}
