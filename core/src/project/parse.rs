//! `portreg.toml` text to [`Service`]s: TOML syntax and unknown keys are
//! reported by the TOML reader with their position; the values that take
//! several forms (command, port, depends_on, health, durations) are read
//! here so that their errors point at them too.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::{Command, Condition, Health, Restart, Service};
use crate::error::{Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    project: Option<Spanned<String>>,
    #[serde(default)]
    services: BTreeMap<Spanned<String>, RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    command: Option<Spanned<Value>>,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<Value>>,
    port: Option<Spanned<Value>>,
    exact: Option<bool>,
    socket: Option<bool>,
    depends_on: Option<Spanned<Value>>,
    health: Option<Spanned<Value>>,
    health_interval: Option<Spanned<Value>>,
    health_timeout: Option<Spanned<Value>>,
    restart: Option<Spanned<String>>,
    max_restarts: Option<Spanned<i64>>,
    stop_signal: Option<Spanned<String>>,
    stop_timeout: Option<Spanned<Value>>,
    description: Option<String>,
}

/// `FILE:LINE:COLUMN` of a byte offset of `text`.
pub(crate) fn at(text: &str, file: &Path, offset: usize) -> String {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{}:{line}:{col}", file.display())
}

/// An `INVALID_CONFIG` error pointing at `span` of `text`.
pub(crate) fn bad(text: &str, file: &Path, span: Range<usize>, msg: impl AsRef<str>) -> Error {
    Error::InvalidConfig(format!("{}: {}", at(text, file, span.start), msg.as_ref()))
}

/// A name usable inside a registry name: letters, digits, `_`, `-`.
pub(crate) fn name_ok(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A folder name turned into a project name (`My App` -> `My-App`).
pub(crate) fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(['-', '_']) {
        out.remove(0);
    }
    out.truncate(40);
    if out.is_empty() {
        out.push_str("project");
    }
    out
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a Path,
}

impl Ctx<'_> {
    fn bad(&self, span: Range<usize>, msg: impl AsRef<str>) -> Error {
        bad(self.text, self.file, span, msg)
    }

    fn duration(&self, v: &Spanned<Value>, key: &str) -> Result<Duration> {
        let d = match v.get_ref() {
            Value::Integer(n) if *n >= 0 => Some(Duration::from_secs(*n as u64)),
            Value::Float(f) => Duration::try_from_secs_f64(*f).ok(),
            Value::String(s) => humantime::parse_duration(s).ok(),
            _ => None,
        };
        d.ok_or_else(|| {
            self.bad(
                v.span(),
                format!(
                    "`{key}` must be seconds (a number) or a duration such as \"500ms\" or \"10s\""
                ),
            )
        })
    }
}

/// The project name and the services, in file order of their names.
pub(crate) fn parse(text: &str, file: &Path, root: &Path) -> Result<(String, Vec<Service>)> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().replace('\n', " ");
        bad(
            text,
            file,
            span,
            format!("{msg} (see the Projects section of the README for the format)"),
        )
    })?;
    let cx = Ctx { text, file };
    let name = match &raw.project {
        Some(p) => {
            if !name_ok(p.get_ref()) {
                return Err(cx.bad(
                    p.span(),
                    format!("project name {:?} must be letters, digits, '_' or '-', starting with a letter or digit", p.get_ref()),
                ));
            }
            p.get_ref().clone()
        }
        None => sanitize(
            &root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    if raw.services.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "{}: no services; add a [services.NAME] table with a `command`",
            file.display()
        )));
    }
    let mut services = Vec::new();
    for (key, rs) in &raw.services {
        services.push(service(&cx, key, rs, root, &name)?);
    }
    // The list form of depends_on means "healthy" where the dependency has a
    // health check, else "started"; a dependency that is not a service is
    // reported by the graph check.
    let has_health: BTreeMap<String, bool> = services
        .iter()
        .map(|s| (s.name.to_ascii_lowercase(), s.health != Health::None))
        .collect();
    for ((_, rs), s) in raw.services.iter().zip(services.iter_mut()) {
        let listed = matches!(
            rs.depends_on.as_ref().map(|d| d.get_ref()),
            Some(Value::Array(_))
        );
        for (dep, cond) in &mut s.depends_on {
            let checked = has_health.get(&dep.to_ascii_lowercase()).copied();
            if listed {
                *cond = if checked == Some(false) {
                    Condition::Started
                } else {
                    Condition::Healthy
                };
            } else if *cond == Condition::Healthy && checked == Some(false) {
                let span = rs.depends_on.as_ref().map_or(0..0, |d| d.span());
                return Err(cx.bad(span, format!("{} waits for {dep} to be healthy, but {dep} has no health check (no port, no `health`); use \"started\" or \"completed\", or give {dep} a health check", s.name)));
            }
        }
    }
    Ok((name, services))
}

fn service(
    cx: &Ctx,
    key: &Spanned<String>,
    rs: &RawService,
    root: &Path,
    project: &str,
) -> Result<Service> {
    let name = key.get_ref().clone();
    if !name_ok(&name) {
        return Err(cx.bad(
            key.span(),
            format!("service name {name:?} must be letters, digits, '_' or '-', starting with a letter or digit ('.' separates the service from the project)"),
        ));
    }
    crate::entry::validate_name(&format!("{name}.{project}"))
        .map_err(|e| cx.bad(key.span(), format!("service {name}: {e}")))?;
    let command = match &rs.command {
        None => {
            return Err(cx.bad(key.span(), format!("service {name} has no `command`; add command = \"...\" (run by sh -c) or command = [\"prog\", \"arg\"]")))
        }
        Some(c) => match c.get_ref() {
            Value::String(s) if !s.trim().is_empty() => Command::Shell(s.clone()),
            Value::Array(items) if !items.is_empty() => {
                let mut argv = Vec::new();
                for i in items {
                    match i {
                        Value::String(s) => argv.push(s.clone()),
                        Value::Integer(n) => argv.push(n.to_string()),
                        _ => return Err(cx.bad(c.span(), "every item of a `command` array must be a string")),
                    }
                }
                Command::Exec(argv)
            }
            _ => return Err(cx.bad(c.span(), "`command` must be a non-empty string (run by sh -c) or array (executed directly)")),
        },
    };
    let cwd = match &rs.cwd {
        Some(c) => root.join(c),
        None => root.to_path_buf(),
    };
    let mut env = BTreeMap::new();
    for (k, v) in &rs.env {
        let s = match v.get_ref() {
            Value::String(s) => s.clone(),
            Value::Integer(n) => n.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(cx.bad(
                    v.span(),
                    format!("env {k} must be a string, number or boolean"),
                ))
            }
        };
        env.insert(k.clone(), s);
    }
    let (has_port, port) = match &rs.port {
        None => (true, None),
        Some(p) => match p.get_ref() {
            Value::Boolean(b) => (*b, None),
            Value::Integer(n) if (1..=65535).contains(n) => (true, Some(*n as u16)),
            _ => return Err(cx.bad(p.span(), "`port` must be a port number (1-65535), true (any port) or false (no port: a task or worker)")),
        },
    };
    let exact = rs.exact.unwrap_or(false);
    if exact && port.is_none() {
        return Err(cx.bad(
            key.span(),
            format!("service {name}: `exact = true` needs a `port` number"),
        ));
    }
    let depends_on = match &rs.depends_on {
        None => Vec::new(),
        Some(d) => depends(cx, d)?,
    };
    let health = match &rs.health {
        None if has_port => Health::Listening,
        None => Health::None,
        Some(h) => health(cx, h)?,
    };
    if !has_port && matches!(health, Health::Listening | Health::Tcp) {
        return Err(cx.bad(rs.health.as_ref().map_or(key.span(), |h| h.span()), format!("service {name} has `port = false`, so it cannot be checked by its port; use health = {{ exec = \"...\" }} or an http:// URL")));
    }
    if !has_port {
        if let Health::Http(u) = &health {
            if u.starts_with('/') {
                return Err(cx.bad(
                    key.span(),
                    format!("service {name} has no port, so health {u:?} needs a full http:// URL"),
                ));
            }
        }
    }
    let restart = match &rs.restart {
        None => Restart::No,
        Some(r) => match r.get_ref().as_str() {
            "no" => Restart::No,
            "on-failure" => Restart::OnFailure,
            "always" | "unless-stopped" => Restart::Always,
            other => {
                return Err(cx.bad(
                    r.span(),
                    format!("restart {other:?} is not one of \"no\", \"on-failure\", \"always\""),
                ))
            }
        },
    };
    let max_restarts = match &rs.max_restarts {
        None => 5,
        Some(m) if (0..=1_000_000).contains(m.get_ref()) => *m.get_ref() as u32,
        Some(m) => return Err(cx.bad(m.span(), "`max_restarts` must be 0 or more")),
    };
    let stop_signal = match &rs.stop_signal {
        None => nix::sys::signal::Signal::SIGTERM as i32,
        Some(s) => signal(s.get_ref()).ok_or_else(|| cx.bad(s.span(), format!("stop_signal {:?} is not a signal name such as \"SIGTERM\", \"SIGINT\" or \"SIGQUIT\"", s.get_ref())))?,
    };
    let dur = |v: &Option<Spanned<Value>>, k: &str, d: Duration| {
        v.as_ref().map_or(Ok(d), |v| cx.duration(v, k))
    };
    Ok(Service {
        at: key.span().start,
        name,
        command,
        cwd: normalize(cwd),
        env,
        has_port,
        port,
        exact,
        socket: rs.socket.unwrap_or(false),
        depends_on,
        health,
        health_interval: dur(
            &rs.health_interval,
            "health_interval",
            Duration::from_millis(250),
        )?,
        health_timeout: dur(
            &rs.health_timeout,
            "health_timeout",
            Duration::from_secs(60),
        )?,
        restart,
        max_restarts,
        stop_signal,
        stop_timeout: dur(&rs.stop_timeout, "stop_timeout", Duration::from_secs(10))?,
        description: rs.description.clone(),
    })
}

fn normalize(p: PathBuf) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok().map(|s| s as i32);
    }
    let up = s.to_ascii_uppercase();
    let full = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    nix::sys::signal::Signal::from_str(&full)
        .ok()
        .map(|s| s as i32)
}

fn condition(cx: &Ctx, v: &Value, span: Range<usize>) -> Result<Condition> {
    match v.as_str() {
        Some("started" | "service_started") => Ok(Condition::Started),
        Some("healthy" | "service_healthy") => Ok(Condition::Healthy),
        Some("completed" | "service_completed_successfully" | "process_completed_successfully") => {
            Ok(Condition::Completed)
        }
        _ => Err(cx.bad(
            span,
            "a depends_on condition must be \"started\", \"healthy\" or \"completed\"",
        )),
    }
}

/// Dependencies; a list entry gets `Healthy` for now and is settled once
/// every service is known ([`super::graph`]): healthy where the dependency
/// has a health check, else started.
fn depends(cx: &Ctx, d: &Spanned<Value>) -> Result<Vec<(String, Condition)>> {
    match d.get_ref() {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok((s.clone(), Condition::Healthy)),
                _ => Err(cx.bad(d.span(), "depends_on must list service names, e.g. [\"db\", \"api\"]")),
            })
            .collect(),
        Value::Table(t) => t
            .iter()
            .map(|(k, v)| {
                let c = match v {
                    Value::Table(inner) => match inner.get("condition") {
                        Some(c) if inner.len() == 1 => condition(cx, c, d.span())?,
                        _ => return Err(cx.bad(d.span(), format!("depends_on.{k} must be \"started\", \"healthy\" or \"completed\""))),
                    },
                    other => condition(cx, other, d.span())?,
                };
                Ok((k.clone(), c))
            })
            .collect(),
        _ => Err(cx.bad(d.span(), "depends_on must be a list of names or a table NAME = \"started\" | \"healthy\" | \"completed\"")),
    }
}

fn health(cx: &Ctx, h: &Spanned<Value>) -> Result<Health> {
    let bad = || {
        cx.bad(h.span(), "health must be \"listening\", \"tcp\", \"none\", a \"/path\" or http:// URL, or { exec = \"command\" }")
    };
    match h.get_ref() {
        Value::String(s) => match s.as_str() {
            "listening" => Ok(Health::Listening),
            "tcp" => Ok(Health::Tcp),
            "none" => Ok(Health::None),
            p if p.starts_with('/') || p.starts_with("http://") => Ok(Health::Http(p.to_string())),
            p if p.starts_with("https://") => Err(cx.bad(
                h.span(),
                "https health checks are not supported; use an http:// URL or \"tcp\"",
            )),
            _ => Err(bad()),
        },
        Value::Table(t) => match (t.get("exec"), t.len()) {
            (Some(Value::String(c)), 1) => Ok(Health::Exec(c.clone())),
            (Some(Value::Array(a)), 1) if a.iter().all(Value::is_str) => Ok(Health::Exec(
                a.iter()
                    .filter_map(Value::as_str)
                    .map(shell_word)
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
