"""The race the peers lose: N processes ask a tool for a port at the same
instant, starting from the same base, and each binds it 500 ms later.

Usage: race.py [--n 20] [--trials 5] [--base 19100] [--json OUT] TOOL...
Prints, per tool: duplicate ports per trial, bind failures, and the per-call
latency; port-for also shows how many of the N entries its shared file kept.
Environment: PEERS_DIR (node_modules of the peers), PEERS_PYTHON (a python
with portpicker, port-for and portreg), PORTREG_BIN, PORTREG_NODE.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_TOOLS = {"get-port", "portfinder", "detect-port", "portreg-node"}


def trial(tool, n, base):
    scratch = tempfile.mkdtemp(prefix="race-")
    os.chmod(scratch, 0o700)
    if tool in NODE_TOOLS:
        cmd = ["node", os.path.join(HERE, "worker.mjs")]
    else:
        cmd = [os.environ.get("PEERS_PYTHON", sys.executable), os.path.join(HERE, "worker.py")]
    procs = [
        subprocess.Popen(cmd + [tool, str(i), str(base), scratch],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for i in range(n)
    ]
    for p in procs:  # everyone loaded and waiting
        line = p.stdout.readline().strip()
        if line != "ready":
            raise SystemExit("%s worker did not start: %r" % (tool, line))
    for p in procs:  # the same instant, as near as one process can make it
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.stdout.readline()) for p in procs]
    for p in procs:
        p.stdin.write("done\n")
        p.stdin.close()
        p.wait()
    kept = None
    conf = os.path.join(scratch, "port-for.conf")
    if os.path.exists(conf):
        import configparser
        c = configparser.ConfigParser()
        c.read(conf)
        kept = len(c.defaults())  # PortStore keeps apps in [DEFAULT]
    ports = [r["port"] for r in results if r["port"]]
    return {
        "duplicates": len(ports) - len(set(ports)),
        "bind_failures": sum(1 for r in results if not r["bind"]),
        "errors": [r["error"] for r in results if r["error"]],
        "latencies_ms": [r["latency_ms"] for r in results if r["port"]],
        "kept": kept,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--base", type=int, default=19100)
    ap.add_argument("--json")
    ap.add_argument("tools", nargs="+")
    a = ap.parse_args()
    out = {}
    print("%d processes per trial ask at the same instant from base %d and bind 500 ms later; %d trials"
          % (a.n, a.base, a.trials))
    print()
    print("%-15s %-22s %-14s %-22s %s" % ("tool", "duplicates per trial", "bind failures",
                                          "latency median / p95", "notes"))
    for tool in a.tools:
        trials = [trial(tool, a.n, a.base) for _ in range(a.trials)]
        lat = sorted(x for t in trials for x in t["latencies_ms"])
        med = statistics.median(lat) if lat else float("nan")
        p95 = lat[int(len(lat) * 0.95) - 1] if lat else float("nan")
        notes = []
        if any(t["kept"] is not None for t in trials):
            notes.append("shared file kept %s of %d entries" % ("/".join(str(t["kept"]) for t in trials), a.n))
        errs = sum(len(t["errors"]) for t in trials)
        if errs:
            notes.append("%d calls failed (%s)" % (errs, trials[0]["errors"][:1] or next(t["errors"][:1] for t in trials if t["errors"])))
        print("%-15s %-22s %-14s %-22s %s" % (
            tool, " ".join(str(t["duplicates"]) for t in trials),
            "%d of %d" % (sum(t["bind_failures"] for t in trials), a.n * a.trials),
            "%.2f / %.2f ms" % (med, p95), "; ".join(notes)))
        sys.stdout.flush()
        out[tool] = {"trials": trials, "latency_median_ms": med, "latency_p95_ms": p95}
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"n": a.n, "base": a.base, "results": out}, f, indent=1)


if __name__ == "__main__":
    main()
