"""Python processes and `portreg` CLI processes (the Rust binary, and the CLI
run through Python) leasing at the same instant from one registry: every
name gets its own port, with no duplicates."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
from typing import Dict, List

import portreg

PY_LEASE = """
import os, sys, time, portreg
registry, name, go, rng = sys.argv[1:5]
reg = portreg.Registry(registry)
while not os.path.exists(go):
    time.sleep(0.002)
print(reg.lease(name, range=rng).port, flush=True)
"""

# exec keeps the CLI's parent (its lease holder) this pytest process
WAIT_THEN_EXEC = 'while [ ! -e "$0" ]; do sleep 0.002; done; exec "$@"'


def test_python_and_cli_processes_lease_concurrently_without_duplicates(
    portreg_bin: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    registry = tmp_path / "shared"
    go = tmp_path / "go"
    n_py, n_rust, n_pycli = 6, 6, 4
    n = n_py + n_rust + n_pycli
    # exactly as many ports as names: any port handed out twice leaves some
    # process with NO_FREE_PORT or a duplicate
    low = 24400
    rng = f"{low}-{low + n - 1}"
    portreg.Registry(registry)  # create it first so no one races on mkdir
    procs: Dict[str, subprocess.Popen[str]] = {}
    for i in range(n_py):
        name = f"py-{i}"
        procs[name] = subprocess.Popen(
            [sys.executable, "-c", PY_LEASE, str(registry), name, str(go), rng],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    clis: List[List[str]] = [[str(portreg_bin)]] * n_rust + [[sys.executable, "-m", "portreg"]] * n_pycli
    for i, prefix in enumerate(clis):
        name = f"{'rust' if i < n_rust else 'pycli'}-{i}"
        argv = prefix + ["--registry", str(registry), "lease", name, "--range", rng]
        procs[name] = subprocess.Popen(
            ["sh", "-c", WAIT_THEN_EXEC, str(go), *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    time.sleep(1.0)  # let every interpreter start and reach the barrier
    go.touch()
    printed: Dict[str, int] = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, f"{name} failed: {err}"
        printed[name] = int(out)
    assert len(set(printed.values())) == n, f"a port was handed out twice: {printed}"
    assert set(printed.values()) == set(range(low, low + n))

    entries = {e.name: e for e in portreg.Registry(registry).list()}
    assert {k: e.port for k, e in entries.items()} == printed
    # Python leasers released at exit; CLI leases are held by their parent, us
    for name, e in entries.items():
        if name.startswith("py-"):
            assert e.state == "idle", e
        else:
            assert e.state == "active" and e.holder is not None and e.holder.pid == os.getpid(), e
