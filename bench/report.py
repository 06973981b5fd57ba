"""Runs every benchmark and writes BENCHMARKS.md (called by scripts/bench.sh,
which sets up the peers, the release builds and the environment).

Each figure in the file is printed by a command this script ran, on this
machine, today; the commands are listed next to the figures.
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTREG = os.environ["PORTREG_BIN"]
PY = os.environ["PEERS_PYTHON"]
NODE_PKG = os.environ["PORTREG_NODE"]
CBENCH = os.environ["C_ROUNDTRIP"]


def run(cmd, **kw):
    print("$ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    sys.stdout.write(out.stdout)
    return out.stdout


def fresh_registry():
    d = tempfile.mkdtemp(prefix="portreg-bench-")
    os.chmod(d, 0o700)
    return os.path.join(d, "reg")


def machine():
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = subprocess.run(["df", "-T", ROOT], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    return "%d cores (%s), %.0f GiB, Linux %s, %s file system under the registry" % (
        os.cpu_count(), cpu, mem, platform.release(), fs)


def roundtrips():
    """Median lease+release of a known name, from each language, one registry each."""
    out = {}
    out["C (libportreg)"] = float(run([CBENCH, fresh_registry(), "3000"]).split()[1])
    py = """
import portreg, sys, time
reg = portreg.Registry(sys.argv[1])
reg.lease("bench-py", range="12000-12999").release()
t = []
for _ in range(3000):
    a = time.perf_counter(); reg.lease("bench-py", range="12000-12999").release(); t.append(time.perf_counter() - a)
t.sort(); print("python %.1f" % (t[len(t)//2] * 1e6))
"""
    out["Python"] = float(run([PY, "-c", py, fresh_registry()]).split()[1])
    js = """
const portreg = require(process.env.PORTREG_NODE);
const reg = new portreg.Registry(process.argv[1]);
reg.lease('bench-js', { range: '12000-12999' }).release();
const t = [];
for (let i = 0; i < 3000; i++) {
  const a = process.hrtime.bigint();
  reg.lease('bench-js', { range: '12000-12999' }).release();
  t.push(Number(process.hrtime.bigint() - a) / 1000);
}
t.sort((x, y) => x - y); console.log('node ' + t[t.length >> 1].toFixed(1));
"""
    out["Node"] = float(run(["node", "-e", js, fresh_registry()]).split()[1])
    return out


def whole_process():
    reg = fresh_registry()
    for i in range(100):
        subprocess.run([PORTREG, "--registry", reg, "lease", "svc-%03d" % i, "--range", "12000-12999",
                        "--pid", str(os.getpid())], check=True, capture_output=True)
    res = {}
    for label, args in [("portreg get NAME", ["get", "svc-050"]), ("portreg list (100 entries)", ["list"]),
                        ("portreg list --json (100 entries)", ["list", "--json"])]:
        t = []
        for _ in range(200):
            a = time.perf_counter()
            subprocess.run([PORTREG, "--registry", reg] + args, check=True, capture_output=True)
            t.append(time.perf_counter() - a)
        res[label] = statistics.median(t) * 1000
    # `list` tells which ports are listened on by reading the kernel's
    # socket tables once; measure that read alone so its share is visible.
    t = []
    for _ in range(100):
        a = time.perf_counter()
        for f in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(f, "rb") as fh:
                fh.read()
        t.append(time.perf_counter() - a)
    res["(reading /proc/net/tcp and tcp6 once, part of list)"] = statistics.median(t) * 1000
    return res


def startup(cmd_with, cmd_without, runs=100):
    def med(cmd):
        t = []
        for _ in range(runs):
            a = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            t.append(time.perf_counter() - a)
        return statistics.median(t) * 1000
    base, full = med(cmd_without), med(cmd_with)
    return base, full, full - base


def projects_at_scale():
    """The "Projects at scale" section: bench/project/bench.py (50 services,
    portreg up -d against an ideal launcher and honcho) prints it."""
    out = os.path.join(tempfile.mkdtemp(), "projects.md")
    run([sys.executable, os.path.join(ROOT, "bench/project/bench.py"), "--markdown", out], cwd=ROOT)
    return open(out).read()


def main():
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print("== cargo bench (registry)")
    cargo = run(["cargo", "bench", "-q", "-p", "portreg-core", "--bench", "registry"], cwd=ROOT)
    print("== cargo bench (host-wide claims)")
    host = run(["cargo", "bench", "-q", "-p", "portreg-core", "--bench", "host"], cwd=ROOT)
    print("== cargo bench (socket tables)")
    sockets = run(["cargo", "bench", "-q", "-p", "portreg-core", "--bench", "sockets"], cwd=ROOT)
    print("== per-language round trips")
    rt = roundtrips()
    print("== whole-process CLI")
    wp = whole_process()
    print("== import / require overhead")
    imp = startup([PY, "-c", "import portreg"], [PY, "-c", "pass"])
    req = startup(["node", "-e", "require(process.env.PORTREG_NODE)"], ["node", "-e", ""])
    print("== the race")
    race_json = os.path.join(tempfile.mkdtemp(), "race.json")
    race = run([sys.executable, os.path.join(ROOT, "bench/race/race.py"), "--json", race_json,
                "get-port", "portfinder", "detect-port", "portpicker", "port-for",
                "portreg-cli", "portreg-python", "portreg-node"])
    results = json.load(open(race_json))["results"]
    bad = [t for t in ("portreg-cli", "portreg-python", "portreg-node")
           if any(x["duplicates"] or x["bind_failures"] for x in results[t]["trials"])]

    md = []
    md.append("# Benchmarks\n")
    md.append("Every figure below was measured by `make bench` (scripts/bench.sh, which runs "
              "bench/report.py) on %s, on this machine: %s. Figures, not assertions: a noisy machine "
              "moves them, so no build fails on them. Rerun `make bench` to reproduce; it rewrites this file.\n"
              % (today, machine()))
    md.append("## The race the peers lose\n")
    md.append("`python3 bench/race/race.py --json OUT get-port portfinder detect-port portpicker port-for "
              "portreg-cli portreg-python portreg-node` (peers installed by scripts/bench.sh into "
              "bench/race/peers, never committed). Per trial, 20 processes wait on a barrier, ask the tool "
              "for a port at the same instant from the same base (19100), and bind it 500 ms later, holding "
              "it until all have tried. portpicker picks at random in the ephemeral range and has no base; "
              "port-for's `PortStore` keeps its assignments in a shared file.\n")
    md.append("```\n" + race.strip() + "\n```\n")
    if bad:
        md.append("**portreg showed duplicates or bind failures in: %s.**\n" % ", ".join(bad))
    else:
        md.append("portreg (CLI, Python, Node): zero duplicates and zero bind failures in every trial. "
                  "Its latency is the time to take the lock in turn; the peers' figures are the time to probe.\n")
    md.append("## Registry operations (Rust)\n")
    md.append("`cargo bench -p portreg-core --bench registry` (fsync floor = one temp-file write + fsync + "
              "rename + directory fsync of a registry-sized file on the registry's own disk):\n")
    md.append("```\n" + cargo.strip() + "\n```\n")
    md.append("How to read it: each new-name lease is timed right after one floor write of the same size, so "
              "both medians see the same disk (this virtual disk's fsync time drifts by 2x from minute to "
              "minute). The registry is kept open, as a long-running app keeps it: registry.json is re-read "
              "only when it changed, and only the new entry is encoded. portreg's own durable write makes "
              "the same promise as the floor's plain sequence with less disk work: its temp file is created "
              "unnamed (O_TMPFILE), fsynced, then linked and renamed, so the first fsync does not also write "
              "out a directory entry that the rename replaces (README, \"The registry on disk\").\n")
    md.append("The module-level line compares what every language's module functions cost "
              "(`portreg.lease(...)`, `portreg_lease_port`, ...): a registry opened for each call, as they "
              "did, against the one open registry per directory they share now (core/src/shared.rs).\n")
    md.append("## Host-wide claims (shared machines)\n")
    md.append("`cargo bench -p portreg-core --bench host`: what claiming each lease in the shared directory "
              "adds (README, \"Shared machines\"). Interleaved rounds on registries kept open, so every case "
              "sees the same machine; the claims directory on the same disk as `/tmp`, or on tmpfs as "
              "`/run/portreg` would be. \"Other users' claims\" are live claims of another uid on ports "
              "outside the range.\n")
    md.append("```\n" + host.strip() + "\n```\n")
    md.append("How to read it: on a host with no other users the check costs one fstat of the directory (it "
              "is read again only when it changed); the rest is the claim file itself, created and removed, "
              "plus one read of the directory after creating it, which is what makes two users racing for "
              "one port safe. That read grows with the directory.\n")
    md.append("## Listening sockets: sock_diag netlink against /proc/net/tcp\n")
    md.append("`cargo bench -p portreg-core --bench sockets` (what `list`, `get` and the dashboard read to "
              "say whether a port is listened on):\n")
    md.append("```\n" + sockets.strip() + "\n```\n")
    md.append("## Lease + release round trip of a known name, per language\n")
    md.append("Median of 3,000 on a registry kept open (bench/report.py; C: bench/roundtrip/roundtrip.c "
              "against libportreg.a). No fsync on this path: it writes only leases.json.\n")
    md.append("| language | median |\n|---|---|")
    for k, v in rt.items():
        md.append("| %s | %.0f µs |" % (k, v))
    md.append("")
    md.append("## Whole-process CLI\n")
    md.append("Median wall time of 200 runs of the release binary, registry of 100 entries:\n")
    md.append("| command | median |\n|---|---|")
    for k, v in wp.items():
        md.append(("| %s | %.2f ms |" if k.startswith("(") else "| `%s` | %.2f ms |") % (k, v))
    md.append("")
    md.append("## Start-up cost\n")
    md.append("Median of 100 runs each (bench/report.py):\n")
    md.append("| | without | with | added |\n|---|---|---|---|")
    md.append("| `python -c 'import portreg'` vs `python -c pass` | %.1f ms | %.1f ms | %.1f ms |" % imp)
    md.append("| `node -e \"require('portreg')\"` vs `node -e ''` | %.1f ms | %.1f ms | %.1f ms |" % req)
    md.append("")
    print("== projects at scale")
    md.append(projects_at_scale())
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(md))
    print("wrote BENCHMARKS.md")
    if bad:
        sys.exit("portreg lost the race: " + ", ".join(bad))


if __name__ == "__main__":
    main()
