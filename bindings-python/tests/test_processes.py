"""Leases across real processes: held while the holder lives, released at
normal exit, idle after SIGKILL, stoppable with kill()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable

import pytest

import portreg
from conftest import Child, python_script, wait_until

HOLD = """
import sys, time, portreg
lease = portreg.lease(sys.argv[1], range="24200-24299")
print(lease.port, flush=True)
time.sleep(120)
"""


def hold(spawn: Callable[..., Child], name: str) -> tuple[Child, int]:
    child = spawn([sys.executable, "-c", HOLD, name])
    return child, int(child.readline())


def test_a_name_held_by_another_process_raises_lease_held(spawn: Callable[..., Child]) -> None:
    child, port = hold(spawn, "held")
    with pytest.raises(portreg.LeaseHeldError) as e:
        portreg.lease("held")
    err = e.value
    assert (err.name, err.pid, err.port) == ("held", child.pid, port)
    assert err.since.endswith("Z")
    assert err.url == f"http://127.0.0.1:{port}"
    assert f"pid {child.pid}" in str(err)
    entry = portreg.get("held")
    assert entry is not None and entry.state == "active" and entry.holder is not None
    assert entry.holder.pid == child.pid
    assert entry.holder.cmdline[:2] == [sys.executable, "-c"]

    # SIGKILL: no atexit runs, and liveness turns the name idle
    os.kill(child.pid, signal.SIGKILL)
    child.proc.wait(10)
    entry = portreg.get("held")
    assert entry is not None and entry.state == "idle" and entry.holder is None
    again = portreg.lease("held")
    assert again.port == port, "the name keeps its port for next time"
    assert again.holder.pid == os.getpid()


def test_normal_exit_releases_at_exit_but_os_exit_does_not() -> None:
    # clean() reports leases whose holder died without releasing: none after
    # a normal exit (atexit released it), one after os._exit (atexit skipped).
    code = "import portreg, sys; portreg.lease(sys.argv[1]); portreg.lease(sys.argv[1] + '-2')"
    subprocess.run([sys.executable, "-c", code, "normal"], check=True)
    assert portreg.get("normal").state == "idle"  # type: ignore[union-attr]
    assert portreg.clean() == []

    code_crash = "import os, portreg, sys; portreg.lease(sys.argv[1]); os._exit(0)"
    subprocess.run([sys.executable, "-c", code_crash, "crashed"], check=True)
    assert portreg.get("crashed").state == "idle"  # type: ignore[union-attr]
    assert [c.name for c in portreg.clean()] == ["crashed"]


def test_atexit_releases_only_what_is_still_held() -> None:
    code = """
    import portreg, sys
    a = portreg.lease("kept")
    b = portreg.lease("released-early")
    b.release()
    with portreg.lease("ctx"):
        pass
    print(portreg._native.release_at_exit())
    """
    out = subprocess.run(python_script(code), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    assert portreg.clean() == []
    assert {e.name: e.state for e in portreg.list()} == {"kept": "idle", "released-early": "idle", "ctx": "idle"}


def test_a_forked_child_does_not_release_its_parents_leases() -> None:
    lease = portreg.lease("parent-owned")
    pid = os.fork()
    if pid == 0:  # the child exits normally, running atexit handlers
        try:
            import portreg as p

            p._native.release_at_exit()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    entry = portreg.get("parent-owned")
    assert entry is not None and entry.state == "active" and entry.holder is not None
    assert entry.holder.pid == os.getpid()
    assert lease.release() is True


def test_release_by_a_non_holder_needs_force(spawn: Callable[..., Child]) -> None:
    child, port = hold(spawn, "theirs")
    with pytest.raises(portreg.NotHolderError) as e:
        portreg.release("theirs")
    assert str(child.pid) in str(e.value)
    with pytest.raises(portreg.LeaseHeldError):
        portreg.forget("theirs")
    assert portreg.release("theirs", force=True) is True
    assert portreg.get("theirs").state == "idle"  # type: ignore[union-attr]
    assert portreg.lease("theirs").port == port


def test_kill_stops_the_holder_of_a_name(spawn: Callable[..., Child]) -> None:
    child, port = hold(spawn, "victim")
    reports = portreg.kill("victim", timeout=5)
    assert [(r.pid, r.signals, r.outcome) for r in reports] == [(child.pid, ["SIGTERM"], "exited")]
    assert child.proc.wait(10) == -signal.SIGTERM
    assert portreg.get("victim").state == "idle"  # type: ignore[union-attr]
    assert portreg.kill("victim") == [], "nothing left to stop"


def test_kill_escalates_to_sigkill_after_the_timeout(spawn: Callable[..., Child]) -> None:
    stubborn = """
    import signal, socket, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
    print(s.getsockname()[1], flush=True)
    time.sleep(120)
    """
    child = spawn(python_script(stubborn))
    port = int(child.readline())
    started = time.monotonic()
    reports = portreg.kill(port, timeout=0.5)
    assert [(r.pid, r.signals, r.outcome) for r in reports] == [(child.pid, ["SIGTERM", "SIGKILL"], "killed")]
    assert time.monotonic() - started >= 0.5
    assert child.proc.wait(10) == -signal.SIGKILL
    wait_until(lambda: portreg.who(port).listeners == [], what="the port to be free")


def test_kill_a_port_given_as_colon_string(spawn: Callable[..., Child]) -> None:
    server = """
    import socket, time
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
    print(s.getsockname()[1], flush=True)
    time.sleep(120)
    """
    child = spawn(python_script(server))
    port = int(child.readline())
    who = portreg.who(port)
    assert [li.pid for li in who.listeners] == [child.pid]
    assert who.entry is None
    reports = portreg.kill(f":{port}", timeout=5)
    assert [r.pid for r in reports] == [child.pid]
    assert child.proc.wait(10) == -signal.SIGTERM
