"""Shared fixtures: every test gets its own registry (never ~/.portreg) and
allocates from 24000-24999, clear of the other language suites."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from typing import Callable, Iterator, List, Optional

import pytest

import portreg

REPO = pathlib.Path(__file__).resolve().parents[2]
RANGE = "24000-24999"

# The tests stop servers with Ctrl-C's signal and expect what a terminal
# gives: SIGINT raising KeyboardInterrupt. A suite started in the background
# by a non-interactive shell (`make test &`, nohup, some CI runners) inherits
# SIGINT ignored, and Python then leaves it ignored in every child, so a
# Flask server would never stop. A handler here is reset to the default in
# each child at exec, as an ignored signal is not.
signal.signal(signal.SIGINT, signal.default_int_handler)


def rust_binary() -> pathlib.Path:
    """The Rust `portreg` binary the Python CLI is compared against."""
    if os.environ.get("PORTREG_BIN"):
        return pathlib.Path(os.environ["PORTREG_BIN"])
    host = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    return REPO / "target" / host / "debug" / "portreg"


@pytest.fixture
def portreg_bin() -> pathlib.Path:
    path = rust_binary()
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with `cargo build -p portreg-cli` (scripts/test-python.sh does)")
    return path


@pytest.fixture(autouse=True)
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A fresh default registry for the test, in PORTREG_HOME."""
    path = tmp_path / "home"
    monkeypatch.setenv("PORTREG_HOME", str(path))
    monkeypatch.setenv("PORTREG_RANGE", RANGE)
    return path


@pytest.fixture
def reg(tmp_path: pathlib.Path) -> portreg.Registry:
    """A Registry opened on an explicit path (not the default one)."""
    return portreg.Registry(tmp_path / "explicit")


def python_script(code: str) -> List[str]:
    """argv running `code` in a fresh interpreter of this venv."""
    return [sys.executable, "-c", textwrap.dedent(code)]


class Child:
    """A real process, stopped (SIGKILL) and reaped when the test ends."""

    def __init__(self, argv: List[str], env: Optional[dict[str, str]] = None) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def readline(self, timeout: float = 20) -> str:
        """The next stdout line; fails the test if none comes in time."""
        assert self.proc.stdout is not None
        line = wait_for_line(self.proc, timeout)
        return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def wait_for_line(proc: "subprocess.Popen[str]", timeout: float) -> str:
    import selectors

    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            proc.kill()
            out, err = proc.communicate(timeout=10)
            pytest.fail(f"no output from pid {proc.pid} within {timeout}s; stdout={out!r} stderr={err!r}")
        line = proc.stdout.readline()
        if not line:
            out, err = proc.communicate(timeout=10)
            pytest.fail(f"pid {proc.pid} exited ({proc.returncode}) before printing; stderr={err!r}")
        return line.rstrip("\n")
    finally:
        sel.close()


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    children: List[Child] = []

    def start(argv: List[str], env: Optional[dict[str, str]] = None) -> Child:
        c = Child(argv, env)
        children.append(c)
        return c

    yield start
    for c in children:
        c.stop()


def wait_until(pred: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    """Polls `pred` until true; fails the test after `timeout` seconds."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if pred():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
