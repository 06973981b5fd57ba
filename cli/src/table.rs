//! The human-readable table of `portreg list`.

use std::time::SystemTime;

use portreg_core::Entry;

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

pub fn print_entries(entries: &[Entry], hidden_idle: usize) {
    if entries.is_empty() {
        println!("no names are held or reserved");
    } else {
        let rows: Vec<[String; 6]> = entries
            .iter()
            .map(|e| {
                [
                    e.name.clone(),
                    e.port.to_string(),
                    e.state.as_str().to_string(),
                    e.holder
                        .as_ref()
                        .map(|h| h.pid.to_string())
                        .unwrap_or_else(|| "-".into()),
                    e.holder
                        .as_ref()
                        .map(|h| format_age(&h.since))
                        .unwrap_or_else(|| "-".into()),
                    e.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let header = ["NAME", "PORT", "STATE", "PID", "UPTIME", "DESCRIPTION"];
        let mut w = header.map(str::len);
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: [&str; 6]| {
            let s = format!(
                "{:<w0$}  {:>w1$}  {:<w2$}  {:>w3$}  {:>w4$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                cells[5],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3],
                w4 = w[4]
            );
            println!("{}", s.trim_end());
        };
        line(header);
        for r in &rows {
            line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
        }
    }
    if hidden_idle > 0 {
        println!(
            "({hidden_idle} idle name{} not shown; --all shows them)",
            if hidden_idle == 1 { "" } else { "s" }
        );
    }
}
