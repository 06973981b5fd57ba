//! The human-readable table of `portreg list`.

use std::borrow::Cow;
use std::io::Write;
use std::time::SystemTime;

use portreg_core::{Conflict, Entry, KillReport, State, Who};

/// "3d 4h", "2h 5m", "4m 10s", "12s".
pub fn format_age(since: &str) -> String {
    let mut out = String::new();
    write_age(&mut out, since, SystemTime::now());
    out
}

/// [`format_age`] at `now`, appended to `out`; `-` for a time that does
/// not parse.
fn write_age(out: &mut String, since: &str, now: SystemTime) {
    use std::fmt::Write as _;
    let Ok(t) = humantime::parse_rfc3339(since) else {
        out.push('-');
        return;
    };
    let secs = now.duration_since(t).map(|d| d.as_secs()).unwrap_or(0);
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let _ = if d > 0 {
        write!(out, "{d}d {h}h")
    } else if h > 0 {
        write!(out, "{h}h {m}m")
    } else if m > 0 {
        write!(out, "{m}m {s}s")
    } else {
        write!(out, "{s}s")
    };
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
        // Cells borrow what they can, and the numbers and ages are written
        // into one text: a table of 1,000 rows is 7,000 cells, and a String
        // each was 3,000 allocations.
        let now = SystemTime::now();
        let mut made = String::with_capacity(entries.len() * 20);
        let mut last_age: Option<(&str, Cell)> = None;
        let rows: Vec<[Cell; 7]> = entries
            .iter()
            .map(|e| {
                let mut number = |n: u32| {
                    use std::fmt::Write as _;
                    let start = made.len();
                    let _ = write!(made, "{n}");
                    Cell::Made(start, made.len())
                };
                let port = number(u32::from(e.port));
                let pid = e
                    .holder
                    .as_ref()
                    .map_or(Cell::Text(Cow::Borrowed("-")), |h| number(h.pid));
                let age = match &e.holder {
                    None => Cell::Text(Cow::Borrowed("-")),
                    // The names one process leased at once share a time.
                    Some(h) => match &last_age {
                        Some((since, cell)) if *since == h.since => cell.clone(),
                        _ => {
                            let start = made.len();
                            write_age(&mut made, &h.since, now);
                            let cell = Cell::Made(start, made.len());
                            last_age = Some((&h.since, cell.clone()));
                            cell
                        }
                    },
                };
                [
                    Cell::Text(Cow::Borrowed(e.name.as_str())),
                    port,
                    Cell::Text(Cow::Borrowed(state_word(e))),
                    Cell::Text(Cow::Borrowed(listening_word(e, e.listening))),
                    pid,
                    age,
                    Cell::Text(
                        e.description
                            .as_deref()
                            .map_or(Cow::Borrowed(""), terminal_safe),
                    ),
                ]
            })
            .collect();
        let rows: Vec<[&str; 7]> = rows
            .iter()
            .map(|r| r.each_ref().map(|c| c.text(&made)))
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
            line(*r);
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

/// A cell of the table: a text, or a stretch of the text made for it.
#[derive(Clone)]
enum Cell<'a> {
    Text(Cow<'a, str>),
    Made(usize, usize),
}

impl Cell<'_> {
    fn text<'b>(&'b self, made: &'b str) -> &'b str {
        match self {
            Cell::Text(t) => t,
            Cell::Made(start, end) => &made[*start..*end],
        }
    }
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
