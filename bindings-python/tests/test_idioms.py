"""What Python users expect of a library: warning filters by category,
classes named where they are imported from, hashable records, a tidy
``dir()``, a ``with`` block mypy understands, and asyncio forms."""

from __future__ import annotations

import asyncio
import pathlib
import pickle
import signal
import subprocess
import sys
import time
import traceback
from typing import List

import pytest

import portreg
import portreg.aio

# A range that overlaps the kernel's ephemeral ports: leasing in it warns.
EPHEMERAL = "40000-40010"


def leased_port(name: str) -> int:
    """mypy --strict checks this file: with ``Lease.__exit__`` typed ``-> bool``
    it reported "Missing return statement" here."""
    with portreg.lease(name) as lease:
        return lease.port


def test_with_block_returns_and_releases() -> None:
    port = leased_port("typed")
    e = portreg.get("typed")
    assert e is not None and e.port == port and e.state == "idle"
    lease = portreg.lease("typed")
    result: object = type(lease).__exit__(lease, None, None, None)
    assert result is None


def test_w_error_turns_a_portreg_warning_into_an_error(tmp_path: pathlib.Path) -> None:
    code = f"import portreg; portreg.Registry({str(tmp_path / 'r')!r}).lease('x', range={EPHEMERAL!r})"
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    assert "PortregWarning" in plain.stderr
    for option in ["error::portreg.PortregWarning", "error:Range:portreg.PortregWarning"]:
        strict = subprocess.run([sys.executable, "-W", option, "-c", code], capture_output=True, text=True)
        assert strict.returncode == 1, (option, strict.stderr)
        assert "portreg.PortregWarning:" in strict.stderr, strict.stderr
    env_strict = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONWARNINGS": "error::portreg.PortregWarning"},
    )
    assert env_strict.returncode == 1, env_strict.stderr
    ignored = subprocess.run(
        [sys.executable, "-W", "ignore::portreg.PortregWarning", "-c", code], capture_output=True, text=True
    )
    assert ignored.returncode == 0 and "PortregWarning:" not in ignored.stderr.replace("Invalid -W", "")


def test_classes_are_named_portreg_x() -> None:
    for cls in [portreg.Lease, portreg.Entry, portreg.Registry, portreg.LeaseHeldError, portreg.PortregWarning]:
        assert cls.__module__ == "portreg", cls
    try:
        portreg.lease("bad name")
    except portreg.PortregError as e:
        text = "".join(traceback.format_exception_only(type(e), e))
        assert text.startswith("portreg.InvalidNameError: "), text
        again = pickle.loads(pickle.dumps(e))
        assert type(again) is portreg.InvalidNameError


def test_records_are_hashable_and_agree_with_eq() -> None:
    with portreg.lease("hashed"):
        a = portreg.get("hashed")
        b = portreg.get("hashed")
        assert a is not None and b is not None and a == b and a is not b
        assert hash(a) == hash(b)
        assert len({a, b}) == 1
        assert a.holder is not None and b.holder is not None and hash(a.holder) == hash(b.holder)
    idle = portreg.get("hashed")
    assert idle != a and len({a, idle}) == 2


def test_dir_shows_the_public_api() -> None:
    names = dir(portreg)
    assert set(names) == set(portreg.__all__) | {"aio"}
    assert not [n for n in names if n.startswith("_") and n != "__version__"]


def test_aio_leases_with_async_with_and_await() -> None:
    async def main() -> List[str]:
        async with portreg.aio.lease("async-web") as lease:
            e = await portreg.aio.get("async-web")
            assert e is not None and e.state == "active" and e.port == lease.port
            second = await portreg.aio.lease("async-web")
            assert second.existing and second.port == lease.port
        after = await portreg.aio.get("async-web")
        assert after is not None and after.state == "idle"
        return [e.name for e in await portreg.aio.list()]

    assert asyncio.run(main()) == ["async-web"]


def test_aio_lease_held_raises_in_the_coroutine(tmp_path: pathlib.Path) -> None:
    code = "import portreg, sys, time; portreg.lease('taken'); print('ok', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"

        async def main() -> None:
            with pytest.raises(portreg.LeaseHeldError) as e:
                async with portreg.aio.lease("taken"):
                    pass
            assert e.value.pid == holder.pid

        asyncio.run(main())
    finally:
        holder.kill()
        holder.wait()


def test_aio_kill_leaves_the_event_loop_running() -> None:
    # A holder that ignores SIGTERM: kill waits out its timeout, then SIGKILLs.
    code = (
        "import portreg, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "portreg.lease('stubborn'); print('ok', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"

        async def main() -> int:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.05)
                    ticks += 1

            t = asyncio.ensure_future(ticker())
            start = time.monotonic()
            reports = await portreg.aio.kill("stubborn", timeout=1.0)
            assert time.monotonic() - start >= 1.0
            t.cancel()
            assert [r.outcome for r in reports] == ["killed"]
            return ticks

        assert asyncio.run(main()) >= 10, "the loop ran other tasks while kill waited"
        assert holder.wait(10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
