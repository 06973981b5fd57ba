//! Model-based test: random sequences of lease / release / reserve / forget /
//! rename / kill-holder, each issued either from this process or from a separate
//! worker process (see common::worker), with real holder processes killed
//! by a real SIGKILL, checked after every step against a simple in-memory
//! model: no two active or reserved entries share a port, holders are right,
//! nothing completed is lost, and every error is the one the rules predict.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command};

use portreg_core::{Actor, ErrorCode, LeaseRequest, PortRange, Registry, Released, State};
use proptest::prelude::*;

/// Entry point of the worker processes these tests start (see common::worker).
#[test]
#[ignore = "run by the tests themselves, as a separate process"]
fn worker() {
    common::worker::main();
}

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const LOW: u16 = 21400;
const HIGH: u16 = 21405;
const SLOTS: usize = 3; // sleeper processes; slot 3 is this test process

#[derive(Debug, Clone)]
enum Op {
    Lease {
        name: usize,
        holder: usize,
        pref: Option<u16>,
        cli: bool,
    },
    Release {
        name: usize,
        holder: usize,
        cli: bool,
    },
    Reserve {
        name: usize,
        port: u16,
        cli: bool,
    },
    Forget {
        name: usize,
        cli: bool,
    },
    Rename {
        from: usize,
        to: usize,
        cli: bool,
    },
    KillHolder {
        slot: usize,
    },
}

/// Runs a worker process on the test's registry: the port it printed,
/// the code at the end of its error line, and its exit status.
fn cli_run(reg: &Registry, args: &[String]) -> (Option<u16>, Option<ErrorCode>, i32) {
    let out = common::worker()
        .arg("--registry")
        .arg(reg.path())
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = stderr
        .trim_end()
        .rsplit_once('[')
        .and_then(|(_, c)| c.strip_suffix(']'))
        .and_then(ErrorCode::from_name);
    let port = common::stdout(&out).trim().parse().ok();
    (port, code, out.status.code().unwrap_or(-1))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..NAMES.len(), 0..=SLOTS, prop::option::of(LOW..=HIGH + 2), any::<bool>())
            .prop_map(|(name, holder, pref, cli)| Op::Lease { name, holder, pref, cli }),
        2 => (0..NAMES.len(), 0..=SLOTS, any::<bool>()).prop_map(|(name, holder, cli)| Op::Release { name, holder, cli }),
        1 => (0..NAMES.len(), LOW..=HIGH + 2, any::<bool>()).prop_map(|(name, port, cli)| Op::Reserve { name, port, cli }),
        1 => (0..NAMES.len(), any::<bool>()).prop_map(|(name, cli)| Op::Forget { name, cli }),
        1 => (0..NAMES.len(), 0..NAMES.len(), any::<bool>()).prop_map(|(from, to, cli)| Op::Rename { from, to, cli }),
        1 => (0..SLOTS).prop_map(|slot| Op::KillHolder { slot }),
    ]
}

/// A holder: slot and generation (a replaced process is another holder).
type Who = (usize, u32);

#[derive(Debug, Clone)]
struct M {
    port: u16,
    reserved: bool,
    holder: Option<Who>,
}

struct World {
    _dir: tempfile::TempDir,
    reg: Registry,
    procs: Vec<Child>,
    gens: Vec<u32>,
    model: BTreeMap<usize, M>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path().join("reg")).unwrap();
        reg.set_print_warnings(false);
        let procs = (0..SLOTS).map(|_| sleeper()).collect();
        World {
            _dir: dir,
            reg,
            procs,
            gens: vec![0; SLOTS + 1],
            model: BTreeMap::new(),
        }
    }

    fn pid(&self, slot: usize) -> u32 {
        if slot == SLOTS {
            std::process::id()
        } else {
            self.procs[slot].id()
        }
    }

    fn who(&self, slot: usize) -> Who {
        (slot, self.gens[slot])
    }

    /// A port another name holds or reserves.
    fn taken(&self, port: u16, except: usize) -> bool {
        self.model
            .iter()
            .any(|(&n, m)| n != except && m.port == port && (m.holder.is_some() || m.reserved))
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let range = PortRange::new(LOW, HIGH).unwrap();
        match *op {
            Op::Lease {
                name,
                holder,
                pref,
                cli,
            } => {
                let got: Result<u16, ErrorCode> = if cli {
                    let mut args: Vec<String> = vec![
                        "lease".into(),
                        NAMES[name].into(),
                        "--range".into(),
                        format!("{LOW}-{HIGH}"),
                        "--pid".into(),
                        self.pid(holder).to_string(),
                    ];
                    if let Some(p) = pref {
                        args.extend(["--port".into(), p.to_string()]);
                    }
                    match cli_run(&self.reg, &args) {
                        (Some(port), _, 0) => Ok(port),
                        (_, Some(code), _) => Err(code),
                        other => return Err(TestCaseError::fail(format!("{op:?}: {other:?}"))),
                    }
                } else {
                    let mut req = LeaseRequest::new(NAMES[name])
                        .range(range)
                        .pid(self.pid(holder));
                    req.port = pref;
                    self.reg.lease(&req).map(|l| l.port).map_err(|e| e.code())
                };
                let me = self.who(holder);
                let cur = self.model.get(&name).cloned();
                // The sleepers are this process's children: a lease one of
                // them asks for while this process holds the name is shared.
                let shares = |h: Who| h == me || (h.0 == SLOTS && holder != SLOTS);
                match cur.as_ref().and_then(|m| m.holder) {
                    Some(h) if !shares(h) => {
                        prop_assert_eq!(got, Err(ErrorCode::LeaseHeld));
                        return self.check();
                    }
                    Some(_) => {
                        prop_assert_eq!(got, Ok(cur.unwrap().port), "the same lease again");
                        return self.check();
                    }
                    None => {}
                }
                // which port the rules call for
                let expect: Result<Option<u16>, ErrorCode> = match &cur {
                    Some(m) if m.reserved => Ok(Some(m.port)),
                    Some(m) if !self.taken(m.port, name) => Ok(Some(m.port)),
                    _ => match pref.filter(|&p| !self.taken(p, name)) {
                        Some(p) => Ok(Some(p)),
                        None => {
                            let fresh = (LOW..=HIGH).find(|p| {
                                !self.model.iter().any(|(&n, m)| n != name && m.port == *p)
                            });
                            match fresh {
                                Some(p) => Ok(Some(p)),
                                // falls back to an idle name's port: any such, not taken
                                None => {
                                    let any = self.model.iter().any(|(&n, m)| {
                                        n != name
                                            && !m.reserved
                                            && m.holder.is_none()
                                            && (LOW..=HIGH).contains(&m.port)
                                            && !self.taken(m.port, name)
                                    });
                                    if any {
                                        Ok(None)
                                    } else {
                                        Err(ErrorCode::NoFreePort)
                                    }
                                }
                            }
                        }
                    },
                };
                match (expect, got) {
                    (Ok(want), Ok(port)) => {
                        if let Some(p) = want {
                            prop_assert_eq!(port, p, "lease {} {:?}", NAMES[name], op);
                        }
                        prop_assert!(!self.taken(port, name), "port {} handed out twice", port);
                        let reserved = cur.map(|m| m.reserved).unwrap_or(false);
                        self.model.insert(
                            name,
                            M {
                                port,
                                reserved,
                                holder: Some(me),
                            },
                        );
                    }
                    (Err(code), Err(got)) => prop_assert_eq!(got, code),
                    (want, got) => {
                        prop_assert!(false, "{:?}: expected {:?}, got {:?}", op, want, got)
                    }
                }
            }
            Op::Release { name, holder, cli } if cli => {
                // A worker acts as the CLI does, for the person: it releases whichever process
                // of this user holds the name.
                let (_, code, exit) = cli_run(&self.reg, &["release".into(), NAMES[name].into()]);
                match self.model.get_mut(&name) {
                    None => prop_assert_eq!((exit, code), (1, Some(ErrorCode::NotFound))),
                    Some(m) if m.holder.is_none() => prop_assert_eq!((exit, code), (1, None)),
                    Some(m) => {
                        prop_assert_eq!(exit, 0, "{:?}", op);
                        m.holder = None;
                    }
                }
                let _ = holder;
            }
            Op::Release { name, holder, .. } => {
                let got = self.reg.release(NAMES[name], Actor::Pid(self.pid(holder)));
                let me = self.who(holder);
                match self.model.get_mut(&name) {
                    None => prop_assert_eq!(got.unwrap_err().code(), ErrorCode::NotFound),
                    Some(m) => match m.holder {
                        None => prop_assert_eq!(got.unwrap(), Released::NotHeld),
                        Some(h) if h != me => {
                            prop_assert_eq!(got.unwrap_err().code(), ErrorCode::NotHolder)
                        }
                        Some(_) => {
                            let released = matches!(got.unwrap(), Released::Released { port, .. } if port == m.port);
                            prop_assert!(released, "release of a held name returns its port");
                            m.holder = None;
                        }
                    },
                }
            }
            Op::Reserve { name, port, cli } => {
                let got: Result<u16, ErrorCode> = if cli {
                    match cli_run(
                        &self.reg,
                        &["reserve".into(), NAMES[name].into(), port.to_string()],
                    ) {
                        (_, _, 0) => Ok(port),
                        (_, Some(code), _) => Err(code),
                        other => return Err(TestCaseError::fail(format!("{op:?}: {other:?}"))),
                    }
                } else {
                    self.reg
                        .reserve(NAMES[name], port, None)
                        .map(|e| e.port)
                        .map_err(|e| e.code())
                };
                let held_elsewhere = self
                    .model
                    .get(&name)
                    .is_some_and(|m| m.holder.is_some() && m.port != port);
                if self.taken(port, name) {
                    prop_assert_eq!(got, Err(ErrorCode::PortTaken));
                } else if held_elsewhere {
                    prop_assert_eq!(got, Err(ErrorCode::LeaseHeld));
                } else {
                    prop_assert_eq!(got, Ok(port));
                    let holder = self.model.get(&name).and_then(|m| m.holder);
                    self.model.insert(
                        name,
                        M {
                            port,
                            reserved: true,
                            holder,
                        },
                    );
                }
            }
            Op::Forget { name, cli } => {
                let got: Result<(), ErrorCode> = if cli {
                    match cli_run(&self.reg, &["forget".into(), NAMES[name].into()]) {
                        (_, _, 0) => Ok(()),
                        (_, Some(code), _) => Err(code),
                        other => return Err(TestCaseError::fail(format!("{op:?}: {other:?}"))),
                    }
                } else {
                    self.reg
                        .forget(NAMES[name], false)
                        .map(|_| ())
                        .map_err(|e| e.code())
                };
                // Without --force only the holder itself may forget a held
                // name: this test process from the API, never a worker.
                let caller_holds = |h: Who| !cli && h.0 == SLOTS;
                match self.model.get(&name) {
                    None => prop_assert_eq!(got, Err(ErrorCode::NotFound)),
                    Some(m) if m.holder.is_some_and(|h| !caller_holds(h)) => {
                        prop_assert_eq!(got, Err(ErrorCode::LeaseHeld))
                    }
                    Some(_) => {
                        prop_assert_eq!(got, Ok(()));
                        self.model.remove(&name);
                    }
                }
            }
            Op::Rename { from, to, cli } => {
                let got: Result<(), ErrorCode> = if cli {
                    let args = ["rename".into(), NAMES[from].into(), NAMES[to].into()];
                    match cli_run(&self.reg, &args) {
                        (_, _, 0) => Ok(()),
                        (_, Some(code), _) => Err(code),
                        other => return Err(TestCaseError::fail(format!("{op:?}: {other:?}"))),
                    }
                } else {
                    self.reg
                        .rename(NAMES[from], NAMES[to], false)
                        .map(|_| ())
                        .map_err(|e| e.code())
                };
                // As forget: without force only the holder itself may rename.
                let caller_holds = |h: Who| !cli && h.0 == SLOTS;
                match self.model.get(&from) {
                    None => prop_assert_eq!(got, Err(ErrorCode::NotFound)),
                    Some(_) if from != to && self.model.contains_key(&to) => {
                        prop_assert_eq!(got, Err(ErrorCode::InvalidName))
                    }
                    Some(m) if m.holder.is_some_and(|h| !caller_holds(h)) => {
                        prop_assert_eq!(got, Err(ErrorCode::LeaseHeld))
                    }
                    Some(_) => {
                        prop_assert_eq!(got, Ok(()));
                        let m = self.model.remove(&from).unwrap();
                        self.model.insert(to, m);
                    }
                }
            }
            Op::KillHolder { slot } => {
                self.procs[slot].kill().unwrap(); // SIGKILL
                self.procs[slot].wait().unwrap();
                self.procs[slot] = sleeper();
                let dead = self.who(slot);
                self.gens[slot] += 1;
                for m in self.model.values_mut() {
                    if m.holder == Some(dead) {
                        m.holder = None;
                    }
                }
            }
        }
        self.check()
    }

    /// The registry, read back, is exactly the model.
    fn check(&self) -> Result<(), TestCaseError> {
        let list = self.reg.list().unwrap();
        prop_assert_eq!(
            list.len(),
            self.model.len(),
            "{:?} vs {:?}",
            list,
            self.model
        );
        let mut claimed = std::collections::HashSet::new();
        for e in &list {
            let n = NAMES.iter().position(|x| *x == e.name).unwrap();
            let m = &self.model[&n];
            prop_assert_eq!(e.port, m.port, "{}", e.name);
            prop_assert_eq!(e.reserved, m.reserved);
            let want_state = match (m.holder, m.reserved) {
                (Some(_), _) => State::Active,
                (None, true) => State::Reserved,
                (None, false) => State::Idle,
            };
            prop_assert_eq!(e.state, want_state, "{}", e.name);
            prop_assert_eq!(
                e.holder.as_ref().map(|h| h.pid),
                m.holder.map(|(s, _)| self.pid(s))
            );
            if e.state != State::Idle {
                prop_assert!(
                    claimed.insert(e.port),
                    "two active/reserved entries on port {}",
                    e.port
                );
            }
        }
        Ok(())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn sleeper() -> Child {
    Command::new("sleep").arg("600").spawn().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn registry_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut w = World::new();
        for op in &ops {
            w.step(op)?;
        }
    }
}
