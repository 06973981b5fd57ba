//! portreg.toml: parsing, the errors a person sees (one line, with where and
//! the INVALID_CONFIG code), dependency order, substitutions, environments,
//! checkouts and their sticky labels, and reading a project's ports.

use std::fs;
use std::path::Path;

use portreg_core::project::{Command, Condition, Health, Ports, Restart};
use portreg_core::{ErrorCode, Instance, LeaseRequest, Project, Registry};

const SHOP: &str = r#"
project = "shop"

[services.db]
command = "postgres -D .pg -p {port} -k /tmp"
port = 5432
health = "tcp"

[services.migrate]
command = ["python", "manage.py", "migrate"]
port = false
depends_on = { db = "healthy" }

[services.api]
command = "uvicorn app:app --port {port}"
cwd = "backend"
depends_on = { db = "healthy", migrate = "completed" }
health = "/health"
env = { DATABASE_URL = "postgres://127.0.0.1:{db.port}/shop" }
restart = "on-failure"

[services.web]
command = "npx vite --port {port} --strictPort"
depends_on = ["api"]
"#;

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    fs::create_dir_all(dir).unwrap();
    let f = dir.join("portreg.toml");
    fs::write(&f, text).unwrap();
    f
}

fn err(text: &str) -> (ErrorCode, String) {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), text);
    let e = Project::load(&f).unwrap_err();
    (e.code(), e.to_string())
}

#[test]
fn the_example_of_the_readme_parses_with_defaults() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), SHOP);
    let p = Project::load(&f).unwrap();
    assert_eq!(p.name, "shop");
    let order: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["db", "migrate", "api", "web"]);
    let db = p.service("db").unwrap();
    assert_eq!(db.port, Some(5432));
    assert_eq!(db.health, Health::Tcp);
    assert_eq!(db.restart, Restart::No);
    assert_eq!(db.stop_timeout.as_secs(), 10);
    assert_eq!(db.health_timeout.as_secs(), 60);
    let migrate = p.service("migrate").unwrap();
    assert!(!migrate.has_port);
    assert_eq!(migrate.health, Health::None);
    assert_eq!(
        migrate.command,
        Command::Exec(vec!["python".into(), "manage.py".into(), "migrate".into()])
    );
    let api = p.service("api").unwrap();
    assert_eq!(api.cwd, d.path().join("backend"));
    assert_eq!(api.restart, Restart::OnFailure);
    assert_eq!(api.max_restarts, 5);
    // The list form waits for health where the dependency has a check.
    assert_eq!(
        p.service("web").unwrap().depends_on,
        vec![("api".to_string(), Condition::Healthy)]
    );
}

#[test]
fn the_project_name_defaults_to_the_folder() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        &d.path().join("my shop"),
        "[services.a]\ncommand = \"true\"\n",
    );
    assert_eq!(Project::load(&f).unwrap().name, "my-shop");
}

#[test]
fn the_file_is_found_from_a_subfolder() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), SHOP);
    let sub = d.path().join("backend/app");
    fs::create_dir_all(&sub).unwrap();
    assert_eq!(portreg_core::project::find(&sub).unwrap(), f);
    assert_eq!(Project::discover(&sub).unwrap().root, d.path());
    let none = tempfile::tempdir().unwrap();
    let e = Project::discover(none.path());
    // A temp dir may sit under a folder with a portreg.toml of its own; only
    // assert when it does not.
    if let Err(e) = e {
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(e.to_string().contains("no portreg.toml"), "{e}");
    }
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let (code, msg) = err("[services.a]\ncommand = \"x\"\nport = = 3\n");
    assert_eq!(code, ErrorCode::InvalidConfig);
    assert!(msg.contains("portreg.toml:3:"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn an_unknown_key_is_named_with_its_place() {
    let (code, msg) = err("[services.a]\ncommand = \"x\"\ncomand = \"y\"\n");
    assert_eq!(code, ErrorCode::InvalidConfig);
    assert!(msg.contains("portreg.toml:3:1"), "{msg}");
    assert!(msg.contains("comand"), "{msg}");
    let (_, msg) = err("projet = \"x\"\n[services.a]\ncommand = \"x\"\n");
    assert!(msg.contains("projet") && msg.contains(":1:1"), "{msg}");
}

#[test]
fn an_unknown_dependency_is_named() {
    let (code, msg) = err("[services.api]\ncommand = \"x\"\ndepends_on = [\"dbb\"]\n");
    assert_eq!(code, ErrorCode::InvalidConfig);
    assert!(msg.contains("\"dbb\"") && msg.contains("api"), "{msg}");
    assert!(msg.contains("portreg.toml:1:"), "{msg}");
}

#[test]
fn a_cycle_is_named_in_full() {
    let (code, msg) = err(r#"
[services.a]
command = "x"
depends_on = ["b"]
[services.b]
command = "x"
depends_on = ["c"]
[services.c]
command = "x"
depends_on = ["a"]
"#);
    assert_eq!(code, ErrorCode::InvalidConfig);
    assert!(msg.contains("a -> b -> c -> a"), "{msg}");
    let (_, msg) = err("[services.a]\ncommand = \"x\"\ndepends_on = [\"a\"]\n");
    assert!(msg.contains("a -> a"), "{msg}");
}

#[test]
fn bad_values_are_invalid_config() {
    for (text, needle) in [
        ("[services.a]\nport = 3\n", "no `command`"),
        ("[services.a]\ncommand = \"x\"\nport = 70000\n", "port"),
        ("[services.a]\ncommand = \"x\"\nrestart = \"sometimes\"\n", "sometimes"),
        ("[services.a]\ncommand = \"x\"\nhealth = \"ping\"\n", "health"),
        ("[services.a]\ncommand = \"x\"\nstop_signal = \"SIGFOO\"\n", "SIGFOO"),
        ("[services.a]\ncommand = \"x\"\nstop_timeout = \"soon\"\n", "stop_timeout"),
        ("[services.a]\ncommand = \"x\"\nport = false\nhealth = \"tcp\"\n", "port = false"),
        ("[services.a]\ncommand = \"x {b.port}\"\n", "no service \"b\""),
        ("[services.a]\ncommand = \"x {b.url}\"\n[services.b]\ncommand = \"y\"\nport = false\n", "port = false"),
        ("[services.a]\ncommand = \"x\"\ndepends_on = { b = \"healthy\" }\n[services.b]\ncommand = \"y\"\nport = false\n", "no health check"),
        ("[services.\"a.b\"]\ncommand = \"x\"\n", "service name"),
        ("project = \"\"\n[services.a]\ncommand = \"x\"\n", "project name"),
        ("project = \"p\"\n", "no services"),
    ] {
        let (code, msg) = err(text);
        assert_eq!(code, ErrorCode::InvalidConfig, "{text}: {msg}");
        assert!(msg.contains(needle), "{text}: {msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
}

#[test]
fn substitutions_and_environment() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), SHOP);
    let p = Project::load(&f).unwrap();
    let mut ports = Ports::new();
    ports.insert("db", 8101);
    ports.insert("api", 8102);
    ports.insert("web", 8103);
    let api = p.service("api").unwrap();
    assert_eq!(
        p.command_of(api, &ports),
        Command::Shell("uvicorn app:app --port 8102".into())
    );
    assert_eq!(
        p.health_of(api, &ports),
        Health::Http("http://127.0.0.1:8102/health".into())
    );
    let env: std::collections::BTreeMap<String, String> =
        p.env_of(api, &ports).into_iter().collect();
    assert_eq!(env["PORT"], "8102");
    assert_eq!(env["DB_PORT"], "8101");
    assert_eq!(env["WEB_URL"], "http://127.0.0.1:8103");
    assert_eq!(env["DATABASE_URL"], "postgres://127.0.0.1:8101/shop");
    assert_eq!(env["PORTREG_PROJECT"], "shop");
    assert_eq!(env["PORTREG_SERVICE"], "api");
    assert!(!env.contains_key("MIGRATE_PORT"));
    let migrate = p.service("migrate").unwrap();
    let env: std::collections::BTreeMap<String, String> =
        p.env_of(migrate, &ports).into_iter().collect();
    assert!(!env.contains_key("PORT"));
    assert_eq!(env["API_PORT"], "8102");
    // A shell's ${HOME} and unknown braces are left alone; {root} and {project} are filled.
    let q = Project::parse(
        "[services.a]\ncommand = \"echo ${HOME} {x} {root} {project} {url}\"\n",
        &d.path().join("portreg.toml"),
    )
    .unwrap();
    let mut ports = Ports::new();
    ports.insert("a", 9000);
    let root = d.path().display().to_string();
    let name = q.name.clone();
    assert_eq!(
        q.command_of(&q.services[0], &ports),
        Command::Shell(format!(
            "echo ${{HOME}} {{x}} {root} {name} http://127.0.0.1:9000"
        ))
    );
}

#[test]
fn closure_and_dependents() {
    let d = tempfile::tempdir().unwrap();
    let p = Project::load(&write(d.path(), SHOP)).unwrap();
    let names = |v: Vec<&portreg_core::project::Service>| -> Vec<String> {
        v.into_iter().map(|s| s.name.clone()).collect()
    };
    assert_eq!(
        names(p.closure(&["api".into()]).unwrap()),
        ["db", "migrate", "api"]
    );
    assert_eq!(
        names(p.dependents(&["migrate".into()]).unwrap()),
        ["migrate", "api", "web"]
    );
    assert_eq!(
        p.closure(&["nope".into()]).unwrap_err().code(),
        ErrorCode::NotFound
    );
}

#[test]
fn a_second_checkout_gets_a_sticky_label() {
    let reg = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let text = "project = \"shop\"\n[services.api]\ncommand = \"x\"\n";
    let main = Project::load(&write(&work.path().join("shop"), text)).unwrap();
    let copy = Project::load(&write(&work.path().join("shop-copy"), text)).unwrap();
    let branch_dir = work.path().join("wt");
    let branch = Project::load(&write(&branch_dir, text)).unwrap();
    // A git worktree: .git is a file naming the git dir, whose HEAD names the branch.
    let gitdir = work.path().join("gitdir");
    fs::create_dir_all(&gitdir).unwrap();
    fs::write(gitdir.join("HEAD"), "ref: refs/heads/feature/x\n").unwrap();
    fs::write(
        branch_dir.join(".git"),
        format!("gitdir: {}\n", gitdir.display()),
    )
    .unwrap();

    // A read before anything is recorded changes nothing.
    let peek = Instance::resolve(reg.path(), &copy, false).unwrap();
    assert_eq!(peek.label, None);
    let a = Instance::resolve(reg.path(), &main, true).unwrap();
    let b = Instance::resolve(reg.path(), &copy, true).unwrap();
    let c = Instance::resolve(reg.path(), &branch, true).unwrap();
    assert_eq!(a.registry_name("api"), "api.shop");
    assert_eq!(b.registry_name("api"), "api.shop-copy.shop");
    assert_eq!(c.registry_name("api"), "api.feature-x.shop");
    // Sticky, in whatever order they come back.
    assert_eq!(Instance::resolve(reg.path(), &branch, true).unwrap(), c);
    assert_eq!(Instance::resolve(reg.path(), &main, false).unwrap(), a);
    assert_eq!(Instance::resolve(reg.path(), &copy, false).unwrap(), b);
}

#[test]
fn lookup_reads_ports_without_leasing() {
    let reg_dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(reg_dir.path()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let p = Project::load(&write(work.path(), SHOP)).unwrap();
    let (inst, before) = p.lookup(&reg).unwrap();
    assert!(before.iter().all(|s| s.port.is_none()));
    assert!(reg.list().unwrap().is_empty(), "a lookup leases nothing");
    let lease = reg
        .lease(&LeaseRequest::new(inst.registry_name("api")))
        .unwrap();
    let (_, after) = p.lookup(&reg).unwrap();
    let api = after.iter().find(|s| s.service == "api").unwrap();
    assert_eq!(api.port, Some(lease.port));
    assert_eq!(api.name, "api.shop");
    assert_eq!(api.state.as_deref(), Some("active"));
    assert_eq!(api.pid, Some(std::process::id()));
    assert_eq!(Project::known_ports(&after).get("api"), Some(lease.port));
}
