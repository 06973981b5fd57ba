"""Lease + release of a known name from Python, module-level and on a kept
Registry, against portpicker's pick_unused_port(), in alternating blocks of
100 in this one process (bench/report.py runs it; a script of its own, so
the lease's holder record carries the command line an application's would).

Usage: roundtrip.py SCRATCH_DIR
  -> "registry <median_us> module <median_us> portpicker <median_us>"
"""
import os, sys, time
d = sys.argv[1]
os.environ["PORTREG_HOME"] = os.path.join(d, "module")
os.environ["PORTREG_RANGE"] = "12000-12999"
import portreg, portpicker
reg = portreg.Registry(os.path.join(d, "kept"))
ways = {
    "registry": lambda: reg.lease("bench-py", range="12000-12999").release(),
    "module": lambda: portreg.lease("bench-py-module").release(),
    "portpicker": portpicker.pick_unused_port,
}
t = {k: [] for k in ways}
for f in ways.values():
    f()
for _ in range(30):  # alternating blocks: every way sees the same machine
    for k, f in ways.items():
        for _ in range(100):
            a = time.perf_counter(); f(); t[k].append(time.perf_counter() - a)
print(" ".join("%s %.1f" % (k, sorted(v)[len(v) // 2] * 1e6) for k, v in t.items()))
