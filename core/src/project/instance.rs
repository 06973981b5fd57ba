//! Which checkout of a project this is. The first folder to bring a project
//! up owns the plain names (`api.shop`); every other folder with the same
//! project name gets an instance label (its git branch, else its folder
//! name) and the names `api.LABEL.shop`. The choice is recorded in
//! `projects/checkouts.json` under the registry directory, so the same
//! folder gets the same names, and thus the same ports, next time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::parse::sanitize;
use super::Project;
use crate::error::{Error, Result};

/// The folder under the registry directory that projects keep their
/// records, logs and supervisor state in.
pub const PROJECTS_DIR: &str = "projects";
/// The record of checkouts and their labels, inside [`PROJECTS_DIR`].
pub const CHECKOUTS_FILE: &str = "checkouts.json";
const LOCK_FILE: &str = "checkouts.lock";

#[derive(Serialize, Deserialize, Default)]
struct Checkouts {
    version: u32,
    checkouts: Vec<Checkout>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Checkout {
    root: PathBuf,
    project: String,
    label: Option<String>,
}

/// One checkout of a project: its name, its label (None for the first
/// checkout), and its root folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub project: String,
    pub label: Option<String>,
    pub root: PathBuf,
}

impl Instance {
    /// The instance of `project` in the registry at `registry_dir`. With
    /// `record`, a folder seen for the first time is written down (what
    /// `up` does); without, the label it would get is only computed (what
    /// a read such as `ps` or `portreg.project()` does).
    pub fn resolve(registry_dir: &Path, project: &Project, record: bool) -> Result<Instance> {
        let dir = registry_dir.join(PROJECTS_DIR);
        if record {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        } else if !dir.is_dir() {
            return Ok(choose(&Checkouts::default(), project).0);
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&lock_path);
        let lock_file = match lock_file {
            Ok(f) => f,
            // A read-only look need not be able to create the lock.
            Err(_) if !record => return Ok(choose(&read(&dir), project).0),
            Err(e) => return Err(Error::io(format!("cannot open {}", lock_path.display()), e)),
        };
        let mut lock = fd_lock::RwLock::new(lock_file);
        let _guard = lock
            .write()
            .map_err(|e| Error::io(format!("cannot lock {}", lock_path.display()), e))?;
        let mut book = read(&dir);
        let (inst, new) = choose(&book, project);
        if record && new {
            // Folders that no longer hold a portreg.toml give their names back.
            book.checkouts
                .retain(|c| c.root.join(super::PROJECT_FILE).is_file());
            book.checkouts.push(Checkout {
                root: inst.root.clone(),
                project: inst.project.clone(),
                label: inst.label.clone(),
            });
            book.version = 1;
            write(&dir, &book)?;
        }
        Ok(inst)
    }

    /// The registry name of `service` in this checkout: `SERVICE.PROJECT`
    /// or `SERVICE.LABEL.PROJECT`.
    pub fn registry_name(&self, service: &str) -> String {
        match &self.label {
            Some(l) => format!("{service}.{l}.{}", self.project),
            None => format!("{service}.{}", self.project),
        }
    }

    /// `PROJECT` or `LABEL.PROJECT`: how this checkout is named in folders
    /// and messages.
    pub fn key(&self) -> String {
        match &self.label {
            Some(l) => format!("{l}.{}", self.project),
            None => self.project.clone(),
        }
    }

    /// The folder of this checkout's logs and supervisor state.
    pub fn state_dir(&self, registry_dir: &Path) -> PathBuf {
        registry_dir.join(PROJECTS_DIR).join(self.key())
    }
}

fn read(dir: &Path) -> Checkouts {
    fs::read(dir.join(CHECKOUTS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write(dir: &Path, book: &Checkouts) -> Result<()> {
    let path = dir.join(CHECKOUTS_FILE);
    let tmp = dir.join(format!(".{CHECKOUTS_FILE}.{}", std::process::id()));
    let text = serde_json::to_vec_pretty(book).map_err(|e| Error::Internal(e.to_string()))?;
    let res = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&text).and_then(|_| f.write_all(b"\n")))
        .and_then(|_| fs::rename(&tmp, &path));
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(format!("cannot write {}", path.display()), e)
    })
}

fn same_project(c: &Checkout, project: &str) -> bool {
    c.project.eq_ignore_ascii_case(project)
}

/// The instance for `project` given the record, and whether it is new.
fn choose(book: &Checkouts, project: &Project) -> (Instance, bool) {
    let root = project.root.clone();
    if let Some(c) = book
        .checkouts
        .iter()
        .find(|c| c.root == root && same_project(c, &project.name))
    {
        return (
            Instance {
                project: project.name.clone(),
                label: c.label.clone(),
                root,
            },
            false,
        );
    }
    let others: Vec<&Checkout> = book
        .checkouts
        .iter()
        .filter(|c| same_project(c, &project.name) && c.root.join(super::PROJECT_FILE).is_file())
        .collect();
    let label = if others.iter().any(|c| c.label.is_none()) {
        let taken = |l: &str| {
            others.iter().any(|c| {
                c.label
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(l))
            })
        };
        let folder = root
            .file_name()
            .map(|n| sanitize(&n.to_string_lossy()))
            .unwrap_or_else(|| "copy".into());
        let mut candidates: Vec<String> =
            git_branch(&root).map(|b| shorten(&b)).into_iter().collect();
        candidates.push(shorten(&folder));
        let mut label = candidates.iter().find(|l| !taken(l)).cloned();
        let mut n = 2;
        while label.is_none() {
            let l = format!("{}-{n}", shorten(&folder));
            if !taken(&l) {
                label = Some(l);
            }
            n += 1;
        }
        label
    } else {
        None
    };
    (
        Instance {
            project: project.name.clone(),
            label,
            root,
        },
        true,
    )
}

/// A label short enough that `SERVICE.LABEL.PROJECT` stays a valid name.
fn shorten(s: &str) -> String {
    let mut l = sanitize(s);
    l.truncate(20);
    while l.ends_with(['-', '_']) {
        l.pop();
    }
    if l.is_empty() {
        l.push_str("copy");
    }
    l
}

/// The git branch checked out at `dir` (or the nearest parent that is a
/// git work tree), read from HEAD; None when detached or not in git.
pub fn git_branch(dir: &Path) -> Option<String> {
    let mut d = Some(dir);
    while let Some(cur) = d {
        let dot = cur.join(".git");
        if dot.is_dir() {
            return branch_of(&dot.join("HEAD"));
        }
        if dot.is_file() {
            // A worktree or submodule: "gitdir: PATH".
            let text = fs::read_to_string(&dot).ok()?;
            let gitdir = text.trim().strip_prefix("gitdir:")?.trim();
            let gitdir = cur.join(gitdir);
            return branch_of(&gitdir.join("HEAD"));
        }
        d = cur.parent();
    }
    None
}

fn branch_of(head: &Path) -> Option<String> {
    let text = fs::read_to_string(head).ok()?;
    let r = text.trim().strip_prefix("ref:")?.trim();
    let b = r.strip_prefix("refs/heads/").unwrap_or(r);
    Some(b.replace('/', "-"))
}
