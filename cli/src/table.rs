//! The human-readable table of `portreg list`.

use std::borrow::Cow;
use std::io::Write;
use std::time::SystemTime;

use portreg_core::{Conflict, Entry, KillReport, State, Who};

/// "3d 4h", "2h 5m", "4m 10s", "12s".
pub fn format_age(since: &str) -> String {
    let Ok(t) = humantime::parse_rfc3339(since) else {
        return "-".into();
    };
    let secs = SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// Programs that hold a lease for the commands they start and never
/// listen themselves.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "busybox", "nu",
    "pwsh", "xonsh", "elvish",
];

/// True when the holder is a shell (as it runs now): a shell holding a
/// lease for a child it starts, which never listens itself.
fn held_by_shell(e: &Entry) -> bool {
    e.holder.as_ref().is_some_and(|h| {
        let exe = h.exe.rsplit('/').next().unwrap_or(&h.exe);
        SHELLS.contains(&exe.trim_start_matches('-'))
    })
}

/// `listening` for an active entry whose port some process listens on;
/// `not listening yet` for a server holding it that has not bound it;
/// `-` for a shell holding it (it never listens itself: whether what it
/// starts listens shows as `listening`), and for idle and reserved names.
pub fn listening_word(e: &Entry, listening: Option<bool>) -> &'static str {
    match (e.state, listening) {
        (State::Active, Some(true)) => "listening",
        (State::Active, _) if held_by_shell(e) => "-",
        (State::Active, _) => "not listening yet",
        _ => "-",
    }
}

/// `active, reserved` for a reserved name that is held; else the state.
pub fn state_word(e: &Entry) -> &'static str {
    match e.state {
        State::Active if e.reserved => "active, reserved",
        s => s.as_str(),
    }
}

pub fn print_entries(entries: &[Entry], hidden_idle: usize) {
    // One write for the whole table, not one per line (stdout flushes at
    // every newline): 1,000 rows were 1,001 system calls.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if entries.is_empty() {
        let _ = writeln!(out, "no names are held or reserved");
    } else {
        // Cells borrow what they can: a table of 1,000 rows is 7,000 cells.
        let rows: Vec<[Cow<str>; 7]> = entries
            .iter()
            .map(|e| {
                let l = &e.listening;
                [
                    Cow::Borrowed(e.name.as_str()),
                    Cow::Owned(e.port.to_string()),
                    Cow::Borrowed(state_word(e)),
                    Cow::Borrowed(listening_word(e, *l)),
                    e.holder
                        .as_ref()
                        .map_or(Cow::Borrowed("-"), |h| Cow::Owned(h.pid.to_string())),
                    e.holder
                        .as_ref()
                        .map_or(Cow::Borrowed("-"), |h| Cow::Owned(format_age(&h.since))),
                    e.description
                        .as_deref()
                        .map_or(Cow::Borrowed(""), terminal_safe),
                ]
            })
            .collect();
        let header = [
            "NAME",
            "PORT",
            "STATE",
            "SOCKET",
            "PID",
            "UPTIME",
            "DESCRIPTION",
        ];
        let mut w = header.map(str::len);
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(width(c));
            }
        }
        let mut line = |cells: [&str; 7]| {
            // The last cell is not padded: no trailing blanks.
            let last = cells.iter().rposition(|c| !c.is_empty()).unwrap_or(0);
            for (i, c) in cells.iter().enumerate().take(last + 1) {
                let c = if i == last { c.trim_end() } else { c };
                let pad = w[i].saturating_sub(width(c));
                // numbers right-aligned, words left-aligned
                let (before, after) = if matches!(i, 1 | 4 | 5) {
                    (pad, 0)
                } else if i < last {
                    (0, pad)
                } else {
                    (0, 0)
                };
                let gap = if i < last { 2 } else { 0 };
                blanks(&mut out, before);
                let _ = out.write_all(c.as_bytes());
                blanks(&mut out, after + gap);
            }
            let _ = out.write_all(b"\n");
        };
        line(header);
        for r in &rows {
            line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]]);
        }
    }
    if hidden_idle > 0 {
        let _ = writeln!(
            out,
            "({hidden_idle} idle name{} not shown; --all shows them)",
            if hidden_idle == 1 { "" } else { "s" }
        );
    }
    let _ = out.flush();
}

/// `n` spaces.
fn blanks(out: &mut impl Write, mut n: usize) {
    const SPACES: [u8; 64] = [b' '; 64];
    while n > 0 {
        let k = n.min(SPACES.len());
        let _ = out.write_all(&SPACES[..k]);
        n -= k;
    }
}

/// A cell's width in the table: its characters (bytes, for ASCII text).
fn width(c: &str) -> usize {
    if c.is_ascii() {
        c.len()
    } else {
        c.chars().count()
    }
}

pub fn print_who(who: &Who) {
    println!("port {}", who.port);
    if who.listeners.is_empty() {
        println!("  listening:  nobody (that you can see)");
    }
    for l in &who.listeners {
        println!(
            "  listening:  pid {} {} (user {}) on {}",
            l.pid,
            terminal_safe(&l.exe),
            if l.user.is_empty() {
                "?".into()
            } else {
                terminal_safe(&l.user)
            },
            l.addrs.join(", ")
        );
        if !l.cmdline.is_empty() {
            println!("              {}", show_cmdline(&l.cmdline));
        }
    }
    match &who.entry {
        None => println!("  registry:   no name claims this port"),
        Some(e) => {
            let by = match &e.holder {
                Some(h) => format!(
                    ", held by pid {} ({}) for {}",
                    h.pid,
                    terminal_safe(&h.exe),
                    format_age(&h.since)
                ),
                None => String::new(),
            };
            println!("  registry:   {} ({}{by})", e.name, state_word(e));
            if let Some(h) = e.holder.as_ref().filter(|h| !h.cmdline.is_empty()) {
                println!("              {}", show_cmdline(&h.cmdline));
            }
        }
    }
}

pub fn print_conflicts(conflicts: &[Conflict]) {
    for c in conflicts.iter().filter(|c| !c.listeners.is_empty()) {
        let e = &c.entry;
        let holder = match &e.holder {
            Some(h) => format!("held by pid {}", h.pid),
            None => e.state.as_str().to_string(),
        };
        println!(
            "port {}: {} ({holder}) but also listened on by:",
            e.port, e.name
        );
        for l in &c.listeners {
            println!(
                "  {}{}",
                terminal_safe(&l.summary()),
                if l.cmdline.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", show_cmdline(&l.cmdline))
                }
            );
        }
    }
}

pub fn kill_line(r: &KillReport) -> String {
    terminal_safe(&kill_words(r)).into_owned()
}

fn kill_words(r: &KillReport) -> String {
    let secs = r.waited_ms as f64 / 1000.0;
    match r.outcome.as_str() {
        "already gone" => format!("pid {} ({}) was already gone", r.pid, r.exe),
        "exited" => format!(
            "pid {} ({}): sent SIGTERM, exited after {secs:.1}s",
            r.pid, r.exe
        ),
        "killed" => format!(
            "pid {} ({}): sent SIGTERM, still running, sent SIGKILL; gone after {secs:.1}s",
            r.pid, r.exe
        ),
        _ => format!(
            "pid {} ({}): sent {}, still running after {secs:.1}s",
            r.pid,
            r.exe,
            r.signals.join(" then ")
        ),
    }
}

/// A command line on one line: arguments joined by spaces, control characters escaped.
pub fn show_cmdline(args: &[String]) -> String {
    terminal_safe(&args.join(" ")).into_owned()
}

/// Text from the registry or the process table made safe to print on a
/// terminal: every control character (C0, DEL, C1: ESC sequences, BEL,
/// line breaks) and every character that reorders the text around it
/// (bidirectional controls) is written as a Rust escape (`\u{1b}`);
/// everything else, quotes and non-ASCII letters included, is kept.
/// `s` with what a terminal would act on (control characters, bidi
/// overrides) escaped; borrowed when nothing needs escaping.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    let acts = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(acts) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if acts(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_safe_escapes_only_what_a_terminal_acts_on() {
        assert_eq!(
            terminal_safe("a\u{1b}[2J\u{7}\u{9b}\n\t\u{202e}b"),
            r"a\u{1b}[2J\u{7}\u{9b}\n\t\u{202e}b"
        );
        assert_eq!(
            terminal_safe("caf\u{e9} \"q\" 'x' \\"),
            "caf\u{e9} \"q\" 'x' \\"
        );
    }
}
