"""Error classes: the shared table of cases, the hierarchy, and each code
raised for real."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import socket
import warnings
from typing import Any, Dict

import pytest

import portreg
from conftest import REPO

# A row naming its surfaces applies to those only.
CASES = [
    c
    for c in json.loads((REPO / "tests" / "error-cases.json").read_text())["cases"]
    if "python" in c.get("surfaces", ["python"])
]

CODES = {
    "INVALID_NAME": portreg.InvalidNameError,
    "INVALID_PORT": portreg.InvalidPortError,
    "INVALID_RANGE": portreg.InvalidRangeError,
    "NOT_FOUND": portreg.NotFoundError,
    "LEASE_HELD": portreg.LeaseHeldError,
    "PORT_TAKEN": portreg.PortTakenError,
    "PORT_BUSY": portreg.PortBusyError,
    "NO_FREE_PORT": portreg.NoFreePortError,
    "NOT_HOLDER": portreg.NotHolderError,
    "REGISTRY_CORRUPT": portreg.RegistryCorruptError,
    "REGISTRY_VERSION": portreg.RegistryVersionError,
    "PERMISSION": portreg.PortregPermissionError,
    "IO": portreg.PortregIOError,
    "PROCESS": portreg.ProcessError,
    "INTERNAL": portreg.InternalError,
    "INVALID_CONFIG": portreg.InvalidConfigError,
    "INVALID_TEXT": portreg.InvalidTextError,
    "REGISTRY_FULL": portreg.RegistryFullError,
    "LOCK_TIMEOUT": portreg.LockTimeoutError,
}


def call(reg: portreg.Registry, case: Dict[str, Any], tmp: pathlib.Path) -> object:
    op = case["op"]
    if op == "project":
        # The file is the portreg.toml of a fresh folder, read from there.
        folder = tmp / "project"
        folder.mkdir(exist_ok=True)
        (folder / "portreg.toml").write_text(case["file"])
        return portreg.project(folder, reg if isinstance(reg, portreg.Registry) else None)
    if op == "lease":
        return reg.lease(
            case["name"],
            port=case.get("port"),
            exact=case.get("exact", False),
            range=case.get("range"),
            description=case.get("description"),
            meta=case.get("meta"),
        )
    if op == "get":
        return reg.get(case["name"])
    if op == "reserve":
        return reg.reserve(case["name"], case["port"], description=case.get("description"))
    if op == "find_free":
        return reg.find_free(case.get("range"))
    if op == "release":
        return reg.release(case["name"])
    if op == "forget":
        return reg.forget(case["name"])
    if op == "rename":
        return reg.rename(case["name"], case["new"])
    raise AssertionError(f"the Python suite does not know op {op!r}: add it here")


@pytest.mark.parametrize("case", CASES, ids=[f"{c['op']}-{c.get('name', c.get('range'))}-{c['code']}" for c in CASES])
def test_shared_error_cases(case: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    reg = portreg.Registry(tmp_path / "fresh")
    with pytest.raises(portreg.PortregError) as e:
        call(reg, case, tmp_path)
    assert e.value.code == case["code"]
    assert type(e.value) is CODES[case["code"]]
    assert str(e.value), "every error has a message"
    # the same case as a module function on the default registry
    with pytest.raises(CODES[case["code"]]):
        call(portreg, case, tmp_path)  # type: ignore[arg-type]


RELEASES = json.loads((REPO / "tests" / "error-cases.json").read_text())["releases"]["cases"]


@pytest.mark.parametrize("case", RELEASES, ids=[c["name"] for c in RELEASES])
def test_shared_release_rule(case: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    reg = portreg.Registry(tmp_path / "fresh")
    name = case["name"]

    def then(lease: portreg.Lease) -> None:
        if case["then"] == "release":
            assert lease.release() is True
        else:
            reg.forget(name)

    lease = reg.lease(name)
    then(lease)
    assert lease.release() is case["lease_release"]
    assert lease.released, "a lease answers false once, and stays released"

    lease = reg.lease(name)
    then(lease)
    if isinstance(case["name_release"], bool):
        assert reg.release(name) is case["name_release"]
    else:
        with pytest.raises(CODES[case["name_release"]]):
            reg.release(name)


def test_the_table_covers_every_op_the_suite_knows() -> None:
    assert {c["op"] for c in CASES} <= {"lease", "get", "reserve", "find_free", "release", "forget", "rename", "project"}
    assert len(CASES) >= 17


def test_one_class_per_code_with_builtin_bases() -> None:
    assert set(CODES) == set(portreg._errors.ERRORS_BY_CODE)
    for code, cls in CODES.items():
        assert issubclass(cls, portreg.PortregError)
        assert cls.code == code
        assert cls.__doc__
        assert getattr(portreg, cls.__name__) is cls
    assert issubclass(portreg.PortregPermissionError, PermissionError)
    assert issubclass(portreg.PortregIOError, OSError)
    assert not issubclass(portreg.LeaseHeldError, OSError)


def test_permission_error_is_a_builtin_permission_error(home: pathlib.Path) -> None:
    portreg.list()
    os.chmod(home, 0o777)
    try:
        with pytest.raises(PermissionError) as e:
            portreg.list()
    finally:
        os.chmod(home, 0o700)
    assert isinstance(e.value, portreg.PortregPermissionError)
    assert e.value.code == "PERMISSION"
    assert "chmod 700" in str(e.value), "the message says how to fix it"


def test_io_error_is_an_oserror_with_errno(tmp_path: pathlib.Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("")
    with pytest.raises(OSError) as e:
        portreg.Registry(afile / "reg")
    assert isinstance(e.value, portreg.PortregIOError)
    assert e.value.code == "IO"
    assert e.value.errno == 20  # ENOTDIR


def test_port_busy_names_the_listener() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(portreg.PortBusyError) as e:
            portreg.lease("busy", port=port, exact=True)
        assert f"pid {os.getpid()}" in str(e.value)
        # without exact, the preference just moves
        assert portreg.lease("busy", port=port).port != port


def test_port_busy_on_ipv6_loopback_only() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::1", 24650))
    except OSError as err:
        pytest.skip(f"cannot listen on [::1]: {err}")
    with s:
        s.listen()
        with pytest.raises(portreg.PortBusyError):
            portreg.lease("v6", port=24650, exact=True)
        assert portreg.lease("v6b", range="24650-24651").port == 24651


def test_port_taken_and_no_free_port() -> None:
    portreg.reserve("pinned", 24010)
    with pytest.raises(portreg.PortTakenError) as e:
        portreg.lease("wants-it", port=24010, exact=True)
    assert "pinned" in str(e.value)
    portreg.lease("a", range="24020-24021")
    portreg.lease("b", range="24020-24021")
    with pytest.raises(portreg.NoFreePortError) as e2:
        portreg.lease("c", range="24020-24021")
    assert "24020-24021" in str(e2.value)


def test_registry_version_is_read_never_written(home: pathlib.Path) -> None:
    home.mkdir(mode=0o700)
    (home / "registry.json").write_text(json.dumps({"version": 2, "entries": []}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert portreg.list() == []
    assert any(issubclass(w.category, portreg.PortregWarning) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(portreg.RegistryVersionError):
            portreg.lease("x")
    assert json.loads((home / "registry.json").read_text())["version"] == 2


def test_warnings_can_be_turned_into_errors(home: pathlib.Path) -> None:
    home.mkdir(mode=0o700)
    (home / "registry.json").write_text(json.dumps({"version": 2, "entries": []}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", portreg.PortregWarning)
        with pytest.raises(portreg.PortregWarning):
            portreg.list()


def test_kill_refuses_this_process_and_bad_timeouts() -> None:
    portreg.lease("me")
    with pytest.raises(portreg.ProcessError) as e:
        portreg.kill("me")
    assert e.value.code == "PROCESS"
    with pytest.raises(portreg.ProcessError):
        portreg.kill("me", any_user=True)
    # A bad timeout is PROCESS in every language (core's rule: 0 to 3600 s).
    for bad in (-1, 3601, float("nan")):
        with pytest.raises(portreg.ProcessError) as e:
            portreg.kill("me", timeout=bad)
        assert "0 to 3600" in str(e.value)
    with pytest.raises(portreg.InvalidPortError):
        portreg.kill(":0")
    with pytest.raises(portreg.InvalidNameError):
        portreg.kill("bad name")


def test_lease_held_error_pickles_with_its_fields() -> None:
    e = portreg.LeaseHeldError("held", "web", 42, 24001, "2026-01-01T00:00:00Z")
    back = pickle.loads(pickle.dumps(e))
    assert (back.name, back.pid, back.port, back.since, str(back)) == ("web", 42, 24001, "2026-01-01T00:00:00Z", "held")
    assert back.url == "http://127.0.0.1:24001"


def test_an_oversized_description_leaves_the_registry_readable(tmp_path: pathlib.Path) -> None:
    reg = portreg.Registry(str(tmp_path / "reg"))
    reg.reserve("keep", 23990, description="a reservation")
    with pytest.raises(portreg.InvalidTextError) as e:
        reg.lease("huge", description="x" * (65 << 20))
    assert "1024" in e.value.message and len(e.value.message) < 400
    again = portreg.Registry(str(tmp_path / "reg"))
    assert [x.name for x in again.list()] == ["keep"]
    assert not [p for p in (tmp_path / "reg").iterdir() if "corrupt" in p.name]


@pytest.mark.parametrize("text", ["nul\0", "esc\x1b[2J", "bel\x07", "two\nlines"])
def test_control_characters_are_refused(text: str, tmp_path: pathlib.Path) -> None:
    reg = portreg.Registry(str(tmp_path / "reg"))
    with pytest.raises(portreg.InvalidTextError):
        reg.lease("web", description=text)
    with pytest.raises(portreg.InvalidTextError):
        reg.reserve("web", 23991, description=text)
    with pytest.raises(portreg.InvalidTextError):
        reg.lease("web", meta={f"k{text}": "v"})
    with pytest.raises(portreg.InvalidTextError):
        reg.lease("web", meta={"k": "a\0b"})
    assert reg.get("web") is None
