//! The foreground stream: every line of every service, prefixed by its
//! name, coloured when stdout is a terminal.

use std::io::{IsTerminal, Write};

const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Prints prefixed lines to stdout, one whole line at a time.
pub struct Echo {
    width: usize,
    colour: bool,
    names: Vec<String>,
}

impl Echo {
    pub fn new(services: &[String]) -> Echo {
        Echo {
            width: services.iter().map(String::len).max().unwrap_or(0).max(7),
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            names: services.to_vec(),
        }
    }

    pub fn line(&self, who: &str, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.colour {
            let i = self.names.iter().position(|n| n == who);
            let c = i.map_or("1", |i| COLOURS[i % COLOURS.len()]);
            let _ = writeln!(out, "\x1b[{c}m{who:<w$} |\x1b[0m {text}", w = self.width);
        } else {
            let _ = writeln!(out, "{who:<w$} | {text}", w = self.width);
        }
        let _ = out.flush();
    }
}
