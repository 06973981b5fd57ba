"""Threads: concurrent leases get distinct ports, and registry calls release
the GIL while they wait."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Dict, List

import portreg
from conftest import python_script


def test_many_threads_leasing_distinct_names_get_distinct_ports() -> None:
    n = 32
    barrier = threading.Barrier(n)
    ports: Dict[str, int] = {}
    errors: List[BaseException] = []
    shared = portreg.Registry()  # one object shared by every thread, plus module calls

    def work(i: int) -> None:
        try:
            barrier.wait()
            name = f"t{i}"
            lease = shared.lease(name) if i % 2 else portreg.lease(name)
            ports[name] = lease.port
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(ports) == n
    assert len(set(ports.values())) == n, "two threads got the same port"
    assert {e.name: e.port for e in portreg.list()} == ports


def test_a_call_waiting_on_the_registry_lock_lets_other_threads_run() -> None:
    # Hold registry.lock exclusively (flock, as another portreg process would),
    # call list() from a thread, and check the main thread still runs Python.
    # If the GIL were kept while waiting, the main thread would hang: the
    # subprocess timeout turns that into a failure.
    code = """
    import fcntl, os, threading, time, portreg
    reg = portreg.Registry()
    reg.list()
    fd = os.open(os.path.join(str(reg.path), "registry.lock"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done = threading.Event()
    t = threading.Thread(target=lambda: (reg.list(), done.set()))
    t.start()
    ticks = 0
    until = time.monotonic() + 0.5
    while time.monotonic() < until:
        ticks += 1
    assert not done.is_set(), "list() did not wait for the lock"
    fcntl.flock(fd, fcntl.LOCK_UN)
    t.join(10)
    assert done.is_set()
    print(ticks)
    """
    out = subprocess.run(python_script(code), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 1000, "the main thread barely ran while list() waited"


def test_leases_from_threads_are_released_at_exit() -> None:
    code = """
    import threading, portreg
    ts = [threading.Thread(target=portreg.lease, args=(f"th{i}",)) for i in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
    """
    subprocess.run(python_script(code), check=True, timeout=60)
    assert sorted(e.name for e in portreg.list()) == [f"th{i}" for i in range(8)]
    assert all(e.state == "idle" for e in portreg.list())
    assert portreg.clean() == [], "every lease was released at exit, none left to liveness"


def test_interpreter_runs_other_threads_during_kill_wait() -> None:
    # kill() waits up to `timeout` for the process to exit; that wait must not
    # hold the GIL either.
    code = """
    import signal, subprocess, sys, threading, time, portreg
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time, portreg; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "portreg.lease('stubborn'); print('ok', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    ticks = [0]
    stop = threading.Event()
    def spin():
        while not stop.is_set():
            ticks[0] += 1
    t = threading.Thread(target=spin)
    t.start()
    reports = portreg.kill("stubborn", timeout=0.6)
    stop.set(); t.join()
    child.wait()
    assert reports[0].outcome == "killed", reports
    print(ticks[0])
    """
    out = subprocess.run(python_script(code), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 1000
    assert sys.executable
