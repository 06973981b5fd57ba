"""Frameworks' reloaders: the app module leases its name at import time, the
reloader's worker imports it again and gets the same lease (it is a
descendant of the holder), and a reload keeps serving on the same port.
Real Flask, Werkzeug and uvicorn processes; a file touched to reload."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Dict, Iterator, List, Optional

import pytest

import portreg

APP = '''
import os
import portreg

lease = portreg.lease("reloading")

def payload() -> dict:
    return {"pid": os.getpid(), "port": lease.port}
'''

FLASK_APP = APP + '''
from flask import Flask

app = Flask(__name__)

@app.get("/")
def hello() -> dict:
    return payload()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=lease.port, debug=True)
'''

ASGI_APP = APP + '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = __import__("json").dumps(payload()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})

if __name__ == "__main__":
    import uvicorn
    uvicorn.run("app:app", host="127.0.0.1", port=lease.port, reload=True, log_level="warning")
'''


class Server:
    """A server started in its own session; the whole group is stopped."""

    def __init__(self, argv: List[str], cwd: pathlib.Path) -> None:
        self.log = cwd / "server.log"
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(autouse=True)
def own_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ports of their own: the servers close connections first, which leaves
    their port in TIME_WAIT for a minute, where a plain bind() would fail."""
    monkeypatch.setenv("PORTREG_RANGE", "24850-24899")


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[List[Server]]:
    started: List[Server] = []
    yield started
    for s in started:
        s.stop()


def answer(port: int) -> Optional[Dict[str, int]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
            data: Dict[str, int] = json.loads(r.read())
            return data
    except (OSError, http.client.HTTPException):
        # Refused, or cut off by the reloader replacing its worker mid-answer.
        return None


def wait_answer(
    srv: Server, not_pid: int = 0, touch: Optional[pathlib.Path] = None, timeout: float = 60
) -> Dict[str, int]:
    """The app's answer on the leased port, from a worker other than `not_pid`;
    `touch` is given a newer mtime every 2 s meanwhile (a reloader that had not
    looked at the files yet when it was first touched sees a change later)."""
    deadline = time.monotonic() + timeout
    touched = 0.0
    while time.monotonic() < deadline:
        if touch is not None and time.monotonic() - touched > 2:
            touched = time.monotonic()
            stamp = time.time() + 10 + touched
            os.utime(touch, (stamp, stamp))
        e = portreg.get("reloading")
        got = answer(e.port) if e is not None else None
        if got is not None and got["pid"] != not_pid:
            return got
        assert srv.proc.poll() is None, f"the server exited:\n{srv.output()}"
        time.sleep(0.2)
    pytest.fail(f"no answer from a new worker within {timeout} s:\n{srv.output()}")


def reload_twice(srv: Server, app: pathlib.Path) -> None:
    """Serves, reloads twice on a touched file, keeps port and lease."""
    first = wait_answer(srv)
    entry = portreg.get("reloading")
    assert entry is not None and entry.state == "active" and entry.holder is not None
    holder = entry.holder.pid
    assert first["port"] == entry.port
    assert first["pid"] != holder, "the worker is the reloader's child, not the holder"
    seen = first
    for _ in range(2):
        seen = wait_answer(srv, not_pid=seen["pid"], touch=app)
        assert seen["port"] == first["port"], "the reloaded worker serves on the same port"
        entry = portreg.get("reloading")
        assert entry is not None and entry.port == first["port"]
        assert entry.holder is not None and entry.holder.pid == holder
    assert "LeaseHeldError" not in srv.output()


def write(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    app = tmp_path / "app.py"
    app.write_text(text)
    return app


def cli() -> List[str]:
    return [sys.executable, "-m", "portreg"]


def test_flask_app_run_debug(tmp_path: pathlib.Path, server: List[Server]) -> None:
    app = write(tmp_path, FLASK_APP)
    srv = Server([sys.executable, str(app)], tmp_path)
    server.append(srv)
    reload_twice(srv, app)
    srv.stop()
    assert portreg.get("reloading").state == "idle"  # type: ignore[union-attr]


def test_flask_run_debug_under_portreg_run(tmp_path: pathlib.Path, server: List[Server]) -> None:
    app = write(tmp_path, FLASK_APP)
    flask = [sys.executable, "-m", "flask", "--app", "app", "run", "--debug", "--port", "{port}"]
    srv = Server(cli() + ["run", "reloading", "--"] + flask, tmp_path)
    server.append(srv)
    reload_twice(srv, app)


def test_uvicorn_run_reload(tmp_path: pathlib.Path, server: List[Server]) -> None:
    app = write(tmp_path, ASGI_APP)
    srv = Server([sys.executable, str(app)], tmp_path)
    server.append(srv)
    reload_twice(srv, app)


def test_uvicorn_cli_reload_under_portreg_run(tmp_path: pathlib.Path, server: List[Server]) -> None:
    app = write(tmp_path, ASGI_APP)
    uvicorn = [sys.executable, "-m", "uvicorn", "app:app", "--reload", "--port", "{port}", "--log-level", "warning"]
    srv = Server(cli() + ["run", "reloading", "--"] + uvicorn, tmp_path)
    server.append(srv)
    reload_twice(srv, app)


def test_a_child_shares_its_parents_lease_and_leaves_it_held() -> None:
    """A child that leases its parent's name gets the same lease; its
    ``with`` block and its exit release nothing of the parent's."""
    lease = portreg.lease("reloading")
    code = """
import portreg
with portreg.lease("reloading") as mine:
    print(mine.port, mine.existing, mine.holder.pid, flush=True)
print(mine.release(), mine.released)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(lease.port), "True", str(os.getpid()), "False", "True"], out.stderr
    entry = portreg.get("reloading")
    assert entry is not None and entry.state == "active"
    assert entry.holder is not None and entry.holder.pid == os.getpid()
    assert lease.release() is True
