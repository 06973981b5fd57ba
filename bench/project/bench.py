"""Projects at scale: a generated project of 50 services (chains and fan-out)
brought up healthy by `portreg up -d`, next to an ideal launcher (the same
order, no supervisor: start each service once its dependencies accept
connections) and honcho (a Procfile of the same 50 servers: no order, no
health checks). Prints the figures and a markdown section; with --markdown
FILE also writes that section to FILE.

    python3 bench/project/bench.py [--runs N] [--markdown OUT]

Needs PORTREG_BIN (the portreg binary; default target/*/release/portreg,
else debug) and, for honcho, HONCHO (default: `honcho` on PATH, else
skipped with the reason). Services are tiny Python servers (socket, accept,
answer "ok"), started as `python3 -S server.py PORT`: about 20-30 ms from
spawn to accepting on an idle machine.
"""
import argparse
import glob
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable  # the real interpreter, not a version manager's shim
BASE_PORT = 27300
SERVER = """import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
    c.close()
"""


def portreg_bin():
    if os.environ.get("PORTREG_BIN"):
        return os.environ["PORTREG_BIN"]
    for kind in ("release", "debug"):
        found = sorted(glob.glob(os.path.join(ROOT, "target", "*", kind, "portreg")))
        found += [p for p in [os.path.join(ROOT, "target", kind, "portreg")] if os.path.exists(p)]
        if found:
            return found[0]
    sys.exit("no portreg binary: cargo build --release -p portreg-cli, or set PORTREG_BIN")


def topology():
    """50 services: a hub; 4 chains of 6 hanging off it; 25 leaves on it.
    Returns [(name, [dependencies])] in dependency order; the longest
    chain is 7 services deep."""
    svcs = [("hub", [])]
    for c in range(4):
        prev = "hub"
        for i in range(6):
            name = "chain%d-%d" % (c, i)
            svcs.append((name, [prev]))
            prev = name
    for i in range(25):
        svcs.append(("leaf%02d" % i, ["hub"]))
    assert len(svcs) == 50
    return svcs


def write_project(root, svcs, interval):
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "server.py"), "w") as f:
        f.write(SERVER)
    lines = ['project = "scale"\n']
    for i, (name, deps) in enumerate(svcs):
        lines.append("[services.%s]" % name)
        lines.append('command = ["%s", "-S", "server.py", "{port}"]' % PY)
        lines.append("port = %d" % (BASE_PORT + i))
        lines.append("exact = true")
        lines.append('health = "listening"')
        if interval:
            lines.append('health_interval = "%s"' % interval)
        if deps:
            lines.append("depends_on = [%s]" % ", ".join('"%s"' % d for d in deps))
        lines.append("")
    with open(os.path.join(root, "portreg.toml"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(root, "Procfile"), "w") as f:
        for i, (name, _) in enumerate(svcs):
            f.write("%s: exec %s -S server.py %d\n" % (name, PY, BASE_PORT + i))


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_ports(ports, timeout=120):
    left = set(ports)
    until = time.monotonic() + timeout
    while left:
        left = {p for p in left if not accepts(p)}
        if left and time.monotonic() > until:
            raise RuntimeError("ports never accepted: %s" % sorted(left))
        if left:
            time.sleep(0.002)


def wait_free(ports, timeout=30):
    until = time.monotonic() + timeout
    while any(accepts(p) for p in ports):
        if time.monotonic() > until:
            raise RuntimeError("ports still in use")
        time.sleep(0.05)


def cpu_ms(pid):
    """User + system CPU time of a live process, in ms."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def by_hand_one(root, runs):
    """Spawn to accepting, one server alone (median ms)."""
    xs = []
    for i in range(runs):
        port = BASE_PORT + 60 + i % 10
        t = time.perf_counter()
        p = subprocess.Popen([PY, "-S", "server.py", str(port)], cwd=root)
        wait_ports([port])
        xs.append((time.perf_counter() - t) * 1000)
        p.kill()
        p.wait()
    return statistics.median(xs)


def ideal_launcher(root, svcs):
    """The same project started in order with no supervisor at all: each
    service is spawned as soon as every dependency accepts connections
    (polled every 2 ms). Returns the wall time in s."""
    port = {n: BASE_PORT + i for i, (n, _) in enumerate(svcs)}
    procs = {}
    up = set()
    t = time.perf_counter()
    while len(up) < len(svcs):
        for name, deps in svcs:
            if name not in procs and all(d in up for d in deps):
                procs[name] = subprocess.Popen([PY, "-S", "server.py", str(port[name])], cwd=root)
        for name in procs:
            if name not in up and accepts(port[name]):
                up.add(name)
        time.sleep(0.002)
    took = time.perf_counter() - t
    for p in procs.values():
        p.kill()
        p.wait()
    wait_free(port.values())
    return took


def portreg_up(root, reg, bin_):
    """`portreg up -d` until every service is healthy: wall time (s), the
    supervisor's CPU time during it (ms), and `down` (s)."""
    env = dict(os.environ, PORTREG_HOME=reg)
    env.pop("PORTREG_RANGE", None)
    t = time.perf_counter()
    out = subprocess.run([bin_, "up", "-d"], cwd=root, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError("portreg up -d failed: %s%s" % (out.stdout, out.stderr))
    ps = subprocess.run([bin_, "ps", "--json"], cwd=root, env=env, capture_output=True, text=True, check=True)
    import json
    st = json.loads(ps.stdout)
    healthy = sum(1 for s in st["services"] if s["state"] == "healthy")
    if healthy != len(st["services"]):
        raise RuntimeError("not all healthy: %s" % ps.stdout)
    sup_cpu = cpu_ms(st["supervisor"])
    t = time.perf_counter()
    subprocess.run([bin_, "down"], cwd=root, env=env, capture_output=True, check=True)
    down = time.perf_counter() - t
    return took, sup_cpu, down, healthy


def kill_leftovers(root):
    """Kills the project's servers still running (working directory `root`).
    honcho starts each in a session of its own and has been seen to leave
    one of the 50 listening after it stopped, which the next launcher then
    found on its port ("Address already in use")."""
    root = os.path.realpath(root)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                server = b"server.py" in f.read()
            if server and os.readlink("/proc/%s/cwd" % pid) == root:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def honcho_up(root, honcho, ports):
    """`honcho start` until all 50 ports accept (s), and its stop (s)."""
    t = time.perf_counter()
    p = subprocess.Popen([honcho, "start"], cwd=root, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ports(ports)
    took = time.perf_counter() - t
    t = time.perf_counter()
    p.send_signal(signal.SIGINT)
    p.wait(timeout=30)
    stop = time.perf_counter() - t
    kill_leftovers(root)
    wait_free(ports)
    return took, stop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    bin_ = portreg_bin()
    honcho = os.environ.get("HONCHO") or shutil.which("honcho")
    svcs = topology()
    ports = [BASE_PORT + i for i in range(len(svcs))]
    work = tempfile.mkdtemp(prefix="portreg-bench-project-")
    os.chmod(work, 0o700)
    try:
        root = os.path.join(work, "scale")
        write_project(root, svcs, None)
        one = by_hand_one(root, 20)
        print("one server alone, spawn to accepting: %.1f ms (median of 20)" % one, flush=True)
        ideal = [ideal_launcher(root, svcs) for _ in range(args.runs)]
        print("ideal launcher: %s s" % " ".join("%.2f" % x for x in ideal), flush=True)
        results = {}
        for label, interval in (("default health_interval (250 ms)", None), ('health_interval = "20ms"', "20ms")):
            write_project(root, svcs, interval)
            runs = []
            for i in range(args.runs):
                reg = os.path.join(work, "reg-%s-%d" % (interval or "default", i))
                runs.append(portreg_up(root, reg, bin_))
                wait_free(ports)
            results[label] = runs
            print("portreg up -d, %s: %s s; supervisor CPU %s ms; down %s s" % (
                label, " ".join("%.2f" % r[0] for r in runs),
                " ".join("%.0f" % r[1] for r in runs), " ".join("%.2f" % r[2] for r in runs)), flush=True)
        hon = None
        hon_why = "honcho not found (pip install honcho, or set HONCHO)"
        if honcho:
            hon = [honcho_up(root, honcho, ports) for _ in range(args.runs)]
            ver = subprocess.run([honcho, "--version"], capture_output=True, text=True).stdout.strip()
            hon_why = ver
            print("honcho start (%s): %s s; stop %s s" % (
                ver, " ".join("%.2f" % h[0] for h in hon), " ".join("%.2f" % h[1] for h in hon)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = statistics.median
    ideal_s = med(ideal)
    md = ["## Projects at scale\n"]
    md.append("`python3 bench/project/bench.py --runs %d` (`make bench-project`): a generated project of "
              "50 services, a hub, 4 chains of 6 hanging off it and 25 leaves on it (the longest chain is "
              "7 deep), each a tiny Python server (`python3 -S server.py {port}`: socket, accept, answer), "
              "with a preferred exact port and `health = \"listening\"`. Medians of %d runs; a fresh "
              "registry for each `up`. A server alone takes %.1f ms from spawn to accepting connections.\n"
              % (args.runs, args.runs, one))
    md.append("| launcher | all 50 up | vs ideal | per service | notes |\n|---|---|---|---|---|")
    md.append("| ideal launcher (bench script: spawn each once its dependencies accept, poll every 2 ms) "
              "| %.2f s | - | - | no supervisor, no registry, no health checks |" % ideal_s)
    for label, runs in results.items():
        t = med([r[0] for r in runs])
        md.append("| `portreg up -d`, %s | %.2f s | +%.2f s | +%.1f ms | every service `healthy`; "
                  "supervisor CPU %.0f ms (%.1f ms per service); `down` %.2f s |" % (
                      label, t, t - ideal_s, (t - ideal_s) * 1000 / len(svcs),
                      med([r[1] for r in runs]), med([r[1] for r in runs]) / len(svcs),
                      med([r[2] for r in runs])))
    if hon:
        t = med([h[0] for h in hon])
        md.append("| `honcho start` (%s), the same 50 servers in a Procfile | %.2f s | %+.2f s | %+.1f ms | "
                  "**no dependency order and no health checks**: all 50 at once; measured until every "
                  "port accepts; stop (SIGINT) %.2f s |" % (
                      hon_why, t, t - ideal_s, (t - ideal_s) * 1000 / len(svcs), med([h[1] for h in hon])))
    else:
        md.append("| honcho | - | - | - | %s |" % hon_why)
    md.append("")
    labels = list(results)
    t_default = med([r[0] for r in results[labels[0]]])
    t_fast = med([r[0] for r in results[labels[1]]])
    md.append("How to read it: \"vs ideal\" is portreg's own cost on top of what the servers need: the "
              "ideal launcher pays the same process start-up and CPU contention on this machine and none of "
              "portreg's work (leasing 50 ports before anything starts, handing each port over to its "
              "process in the registry, state.json and log writes, health probes, the supervisor's "
              "threads); per service is that difference over 50. Of it, %.2f s is the health check's "
              "polling (the default 250 ms interval against 20 ms: a dependent starts at the first probe "
              "after its dependency listens, and the chain is 7 deep); the remaining %.2f s (%.1f ms per "
              "service) is the supervisor's own work per start. honcho starts all 50 at once and checks "
              "nothing, so its figure is a floor for \"every process listening\", not a project started "
              "in order. The machine is shared and noisy: runs of the same launcher differ by up to 40%%.\n"
              % (t_default - t_fast, t_fast - ideal_s, (t_fast - ideal_s) * 1000 / len(svcs)))
    md.append("process-compose was not compared: it is a Go binary released on GitHub, and none of the "
              "registries this machine reaches has it (`apt-cache policy process-compose`, "
              "`pip download --no-deps process-compose`, `npm view process-compose version`, "
              "`cargo info process-compose`; see bench/project/README.md).\n")
    text = "\n".join(md)
    print()
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
