"""The Flask and FastAPI examples: real servers on leased ports, a second
start that says where the first one runs, and a clean release on stop."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any, Callable, Dict

import pytest

import portreg
from conftest import REPO, Child, wait_until

EXAMPLES = REPO / "examples" / "python"
APPS = {"flask_app.py": "flask-demo", "fastapi_app.py": "fastapi-demo"}


def get_json(url: str, timeout: float = 15) -> Dict[str, Any]:
    """GET `url`, retrying while the server starts."""
    until = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                assert r.status == 200
                body: Dict[str, Any] = json.loads(r.read())
                return body
        except OSError:
            if time.monotonic() > until:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("script", sorted(APPS))
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_example_serves_refuses_a_second_copy_and_releases(
    script: str, stop: signal.Signals, spawn: Callable[..., Child]
) -> None:
    name = APPS[script]
    first = spawn([sys.executable, str(EXAMPLES / script)])
    line = first.readline()
    assert line.startswith("serving at http://127.0.0.1:"), line
    url = line.removeprefix("serving at ")
    port = int(url.rsplit(":", 1)[1])
    assert 24000 <= port <= 24999
    assert get_json(url + "/")["service"] == name

    entry = portreg.get(name)
    assert entry is not None and entry.state == "active" and entry.holder is not None
    assert entry.holder.pid == first.pid
    assert [li.pid for li in portreg.who(port).listeners] == [first.pid]

    second = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert second.stdout == f"already running at http://127.0.0.1:{port} (pid {first.pid})\n"
    assert "Traceback" not in second.stderr

    first.proc.send_signal(stop)
    assert first.proc.wait(15) == 0
    entry = portreg.get(name)
    assert entry is not None and entry.state == "idle" and entry.port == port
    assert portreg.clean() == [], "the app released its lease at exit"


@pytest.mark.parametrize("cli", ["rust", "python -m portreg"])
def test_fastapi_takes_the_socket_from_portreg_run(
    cli: str, portreg_bin: pathlib.Path, spawn: Callable[..., Child]
) -> None:
    if subprocess.run([str(portreg_bin), "run", "--help"], capture_output=True).returncode != 0:
        pytest.skip("this portreg has no `run` command yet")
    portreg_cmd = [str(portreg_bin)] if cli == "rust" else [sys.executable, "-m", "portreg"]
    uvicorn = pathlib.Path(sys.executable).parent / "uvicorn"
    runner = spawn([
        *portreg_cmd, "run", "fastapi-demo", "--socket", "--",
        str(uvicorn), "fastapi_app:app", "--fd", "3", "--app-dir", str(EXAMPLES),
    ])
    line = runner.readline()
    assert line.startswith("serving at http://127.0.0.1:"), line
    url = line.removeprefix("serving at ")
    port = int(url.rsplit(":", 1)[1])
    body = get_json(url + "/")
    assert body["service"] == "fastapi-demo"
    server_pid = body["pid"]
    assert server_pid != runner.pid, "uvicorn runs as portreg run's child"

    # the child is the holder, and it listens on the very socket portreg bound
    entry = portreg.get("fastapi-demo")
    assert entry is not None and entry.holder is not None and entry.holder.pid == server_pid
    assert [li.pid for li in portreg.who(port).listeners] == [server_pid]
    assert portreg.conflicts() == []

    second = subprocess.run([sys.executable, str(EXAMPLES / "fastapi_app.py")], capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert second.stdout == f"already running at http://127.0.0.1:{port} (pid {server_pid})\n"

    reports = portreg.kill("fastapi-demo", timeout=10)
    assert [r.pid for r in reports] == [server_pid]
    # uvicorn re-raises SIGTERM after its graceful shutdown; `portreg run`
    # reports a child killed by a signal the way a shell does
    assert runner.proc.wait(15) == 128 + signal.SIGTERM
    wait_until(lambda: portreg.get("fastapi-demo").state == "idle", what="fastapi-demo to turn idle")  # type: ignore[union-attr]
