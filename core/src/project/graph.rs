//! The `depends_on` graph: every dependency must be a service, there must be
//! no cycle (named when there is one), and services are put in an order
//! where each comes after everything it depends on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::parse::bad;
use super::{Project, Service};
use crate::error::{Error, Result};

fn key(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Checks the graph and returns the services in dependency order.
pub(crate) fn order(services: Vec<Service>, text: &str, file: &Path) -> Result<Vec<Service>> {
    let index: BTreeMap<String, usize> = services
        .iter()
        .enumerate()
        .map(|(i, s)| (key(&s.name), i))
        .collect();
    for s in &services {
        for (dep, _) in &s.depends_on {
            if !index.contains_key(&key(dep)) {
                let known: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
                return Err(bad(
                    text,
                    file,
                    s.at..s.at,
                    format!(
                        "{} depends on {dep:?}, which is not a service of this project (services: {})",
                        s.name,
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&services, &index) {
        let first = &services[index[&key(&cycle[0])]];
        return Err(bad(
            text,
            file,
            first.at..first.at,
            format!(
                "depends_on has a cycle: {}; remove one of these dependencies",
                cycle.join(" -> ")
            ),
        ));
    }
    // Kahn's algorithm, taking the ready service with the smallest name first.
    let mut waiting: Vec<usize> = services.iter().map(|s| s.depends_on.len()).collect();
    let mut ready: BTreeSet<(String, usize)> = services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.depends_on.is_empty())
        .map(|(i, s)| (key(&s.name), i))
        .collect();
    let mut out = Vec::with_capacity(services.len());
    while let Some(next) = ready.pop_first() {
        let (_, i) = next;
        out.push(i);
        let name = key(&services[i].name);
        for (j, s) in services.iter().enumerate() {
            let n = s.depends_on.iter().filter(|(d, _)| key(d) == name).count();
            if n > 0 {
                waiting[j] -= n;
                if waiting[j] == 0 {
                    ready.insert((key(&s.name), j));
                }
            }
        }
    }
    if out.len() != services.len() {
        return Err(Error::Internal("dependency order left services out".into()));
    }
    let mut slots: Vec<Option<Service>> = services.into_iter().map(Some).collect();
    Ok(out.into_iter().filter_map(|i| slots[i].take()).collect())
}

fn find_cycle(services: &[Service], index: &BTreeMap<String, usize>) -> Option<Vec<String>> {
    // 0 unvisited, 1 on the current path, 2 done.
    let mut color = vec![0u8; services.len()];
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        services: &[Service],
        index: &BTreeMap<String, usize>,
        color: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<String>> {
        color[i] = 1;
        path.push(i);
        for (dep, _) in &services[i].depends_on {
            let j = index[&key(dep)];
            if color[j] == 1 {
                let start = path.iter().position(|&p| p == j).unwrap_or(0);
                let mut names: Vec<String> = path[start..]
                    .iter()
                    .map(|&p| services[p].name.clone())
                    .collect();
                names.push(services[j].name.clone());
                return Some(names);
            }
            if color[j] == 0 {
                if let Some(c) = visit(j, services, index, color, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        color[i] = 2;
        None
    }
    for i in 0..services.len() {
        if color[i] == 0 {
            if let Some(c) = visit(i, services, index, &mut color, &mut path) {
                return Some(c);
            }
        }
    }
    None
}

fn unknown(project: &Project, name: &str) -> Error {
    let known: Vec<&str> = project.services.iter().map(|s| s.name.as_str()).collect();
    Error::NotFound {
        what: "service",
        name: format!(
            "{name} (services of {}: {})",
            project.name,
            known.join(", ")
        ),
    }
}

fn pick<'a>(
    project: &'a Project,
    names: &[String],
    follow: impl Fn(&Service, &BTreeSet<String>) -> bool,
) -> Result<Vec<&'a Service>> {
    if names.is_empty() {
        return Ok(project.services.iter().collect());
    }
    let mut want: BTreeSet<String> = BTreeSet::new();
    for n in names {
        let s = project.service(n).ok_or_else(|| unknown(project, n))?;
        want.insert(key(&s.name));
    }
    // Repeat until nothing is added: the graph is small.
    loop {
        let before = want.len();
        for s in &project.services {
            if follow(s, &want) {
                want.insert(key(&s.name));
            }
        }
        if want.len() == before {
            break;
        }
    }
    Ok(project
        .services
        .iter()
        .filter(|s| want.contains(&key(&s.name)))
        .collect())
}

/// `names` plus everything they depend on, in dependency order.
pub(crate) fn closure<'a>(project: &'a Project, names: &[String]) -> Result<Vec<&'a Service>> {
    let mut want: BTreeSet<String> = BTreeSet::new();
    if names.is_empty() {
        return Ok(project.services.iter().collect());
    }
    for n in names {
        let s = project.service(n).ok_or_else(|| unknown(project, n))?;
        want.insert(key(&s.name));
    }
    // Services are in dependency order, so walking backwards sees every
    // dependent before its dependencies.
    for s in project.services.iter().rev() {
        if want.contains(&key(&s.name)) {
            for (d, _) in &s.depends_on {
                want.insert(key(d));
            }
        }
    }
    Ok(project
        .services
        .iter()
        .filter(|s| want.contains(&key(&s.name)))
        .collect())
}

/// `names` plus everything that depends on them, in dependency order.
pub(crate) fn dependents<'a>(project: &'a Project, names: &[String]) -> Result<Vec<&'a Service>> {
    pick(project, names, |s, want| {
        s.depends_on.iter().any(|(d, _)| want.contains(&key(d)))
    })
}
