"""Cross-language soak: C, Python, Node and CLI workers lease, bind, release
and get SIGKILLed in a mixed loop against one registry, for about a minute.

Every worker binds the port it leased; a bind failure would mean two live
processes held one port (a VIOLATION). Any other failed call a worker
reports (an ERROR line, e.g. a release answered NOT_HOLDER) and any worker
that exits on its own with a non-zero status or no DONE line is a failure
too. At the end the registry files parse,
`portreg clean` leaves only live holders, and every language made leases.
Usage: soak.py SECONDS  (env: PORTREG_BIN, PORTREG_NODE, C_WORKER, PY)
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

secs = float(sys.argv[1]) if len(sys.argv) > 1 else 60
here = os.path.dirname(os.path.abspath(__file__))
cli, c_worker, py = os.environ["PORTREG_BIN"], os.environ["C_WORKER"], os.environ["PY"]
tmp = tempfile.mkdtemp(prefix="portreg-soak-")
os.chmod(tmp, 0o700)
reg = os.path.join(tmp, "reg")
pool = 10
deadline = time.time() + secs
kinds = ["c", "python", "node", "cli"]


def cmd(kind):
    args = [reg, str(deadline), str(pool)]
    return {
        "c": [c_worker] + args,
        "python": [py, os.path.join(here, "worker.py")] + args,
        "cli": [py, os.path.join(here, "worker.py")] + args + ["--cli", cli],
        "node": ["node", os.path.join(here, "worker.js")] + args,
    }[kind]


lines, lock = [], threading.Lock()


def start(kind):
    p = subprocess.Popen(cmd(kind), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def pump():
        for line in p.stdout:
            with lock:
                lines.append(line.strip())
    threading.Thread(target=pump, daemon=True).start()
    return p


crashes = []


def ended(kind, p):
    """A worker that exited on its own must have exited 0."""
    if p.returncode != 0:
        crashes.append("%s worker exited %d: %s" % (kind, p.returncode, p.stderr.read().strip()[-300:]))


workers = [(k, start(k)) for k in kinds for _ in range(3)]
killed = 0
checks = 0
rnd = random.Random(42)
while time.time() < deadline - 1:
    time.sleep(rnd.uniform(0.3, 0.9))
    i = rnd.randrange(len(workers))
    kind, p = workers[i]
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed += 1
    else:
        ended(kind, p)
    workers[i] = (kind, start(kind))
    # mid-run: the registry is always readable
    out = subprocess.run([cli, "--registry", reg, "list", "--all", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)
    checks += 1
for kind, p in workers:
    p.wait()
    ended(kind, p)
time.sleep(0.2)

violations = [l for l in lines if l.startswith("VIOLATION")]
errors = [l for l in lines if l.startswith("ERROR")]
done = [l.split() for l in lines if l.startswith("DONE")]
per_kind = {k: 0 for k in kinds}
for d in done:
    per_kind[d[1]] += int(d[2].split("=")[1])
for f in ("registry.json", "leases.json"):
    json.load(open(os.path.join(reg, f)))  # both parse
clean = subprocess.run([cli, "--registry", reg, "clean"], capture_output=True, text=True)
entries = json.loads(subprocess.run([cli, "--registry", reg, "list", "--all", "--json"],
                                    capture_output=True, text=True, check=True).stdout)
live_after = [e for e in entries if e["state"] == "active"]
corrupt = [f for f in os.listdir(reg) if "corrupt" in f]

print("soak: %.0f s, %d workers at a time (C, Python, Node, CLI), %d SIGKILLed, %d registry checks"
      % (secs, len(workers), killed, checks))
print("leases by workers that finished: " + ", ".join("%s %d" % kv for kv in per_kind.items()))
print("violations: %d; entries still active after clean: %d; quarantined files: %d"
      % (len(violations), len(live_after), len(corrupt)))
print("unexpected worker errors: %d; workers that crashed: %d" % (len(errors), len(crashes)))
for v in violations[:10] + errors[:10] + crashes[:10]:
    print("  " + v)
ok = not violations and not errors and not crashes and not live_after and not corrupt and killed > 10 and all(per_kind.values())
print("soak: %d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
sys.exit(0 if ok else 1)
