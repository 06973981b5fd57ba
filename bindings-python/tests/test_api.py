"""The module functions and Registry methods as a user sees them."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import warnings

import pytest

import portreg


def test_lease_gives_a_port_in_range_held_by_this_process() -> None:
    lease = portreg.lease("web")
    assert 24000 <= lease.port <= 24999
    assert lease.name == "web"
    assert lease.url == f"http://127.0.0.1:{lease.port}"
    assert lease.holder.pid == os.getpid()
    assert lease.existing is False
    entry = portreg.get("web")
    assert entry is not None
    assert entry.state == "active"
    assert entry.port == lease.port
    assert entry.holder is not None and entry.holder.pid == os.getpid()
    assert entry.url == lease.url


def test_the_leased_port_can_really_be_bound() -> None:
    lease = portreg.lease("bindable")
    with socket.socket() as s:
        # as servers do, so a connection of an earlier test in TIME_WAIT does not count
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", lease.port))
        s.listen()


def test_an_active_entry_says_whether_its_port_is_listened_on() -> None:
    lease = portreg.lease("listens")
    entry = portreg.get("listens")
    assert entry is not None and entry.listening is False
    with socket.socket() as s:
        # as servers do: a port left in TIME_WAIT by an earlier test is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", lease.port))
        s.listen()
        entry = portreg.get("listens")
        assert entry is not None and entry.listening is True
        assert [e.listening for e in portreg.list() if e.name == "listens"] == [True]
        assert entry.to_dict()["listening"] is True
    lease.release()
    entry = portreg.get("listens")
    assert entry is not None and entry.state == "idle" and entry.listening is None


def test_distinct_names_get_distinct_ports_and_a_name_keeps_its_port() -> None:
    ports = {portreg.lease(f"svc{i}").port for i in range(10)}
    assert len(ports) == 10
    first = portreg.lease("sticky")
    assert first.release() is True
    assert portreg.get("sticky").state == "idle"  # type: ignore[union-attr]
    assert portreg.lease("sticky").port == first.port


def test_leasing_again_from_the_same_process_returns_the_same_lease() -> None:
    a = portreg.lease("again")
    b = portreg.lease("AGAIN")
    assert b.port == a.port
    assert b.existing is True
    assert b.name == "again", "a name keeps the spelling it was first given"


def test_preferred_and_exact_ports() -> None:
    assert portreg.lease("pref", port=24321).port == 24321
    # a preference moves when the port is taken, exact does not
    assert portreg.lease("other", port=24321).port != 24321
    with pytest.raises(portreg.PortTakenError) as e:
        portreg.lease("third", port=24321, exact=True)
    assert "pref" in str(e.value)


def test_several_ranges_are_tried_in_order() -> None:
    ranges = "24130-24130,24140-24149"
    assert portreg.lease("listed-1", range=ranges).port == 24130
    assert portreg.lease("listed-2", range=ranges).port == 24140
    assert 24141 <= portreg.find_free(ranges) <= 24149
    with pytest.raises(portreg.InvalidRangeError):
        portreg.lease("listed-3", range="24130-24130,x")


def test_range_as_string_and_as_tuple() -> None:
    assert 24100 <= portreg.lease("s", range="24100-24109").port <= 24109
    assert 24110 <= portreg.lease("t", range=(24110, 24119)).port <= 24119
    assert 24120 <= portreg.find_free((24120, 24121)) <= 24121
    with pytest.raises(TypeError):
        portreg.lease("u", range=(24110,))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        portreg.lease("u", range=24110)  # type: ignore[arg-type]


def test_ports_of_any_int_size_are_checked_by_value() -> None:
    for bad in (-1, 0, 65536, 2**64, -(2**70)):
        with pytest.raises(portreg.InvalidPortError) as e:
            portreg.lease("p", port=bad)
        assert str(bad) in str(e.value)
    with pytest.raises(TypeError):
        portreg.lease("p", port="8080")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        portreg.reserve("p", True)


def test_description_and_meta_are_stored() -> None:
    portreg.lease("meta", description="the API", meta={"project": "/src/app", "env": "dev"})
    e = portreg.get("meta")
    assert e is not None
    assert e.description == "the API"
    assert e.meta == {"project": "/src/app", "env": "dev"}
    assert e.created and e.changed and e.created.endswith("Z")
    with pytest.raises(TypeError):
        portreg.lease("meta2", meta={"n": 1})  # type: ignore[dict-item]


def test_context_manager_releases_on_exit_even_on_error() -> None:
    with portreg.lease("ctx") as lease:
        assert portreg.get("ctx").state == "active"  # type: ignore[union-attr]
    assert lease.released
    assert portreg.get("ctx").state == "idle"  # type: ignore[union-attr]
    with pytest.raises(RuntimeError):
        with portreg.lease("ctx2"):
            raise RuntimeError("boom")
    assert portreg.get("ctx2").state == "idle"  # type: ignore[union-attr]
    assert lease.release() is False, "a second release has nothing to do"


def test_rename_keeps_the_port_and_this_process_as_holder() -> None:
    lease = portreg.lease("old-name", description="front")
    e = portreg.rename("old-name", "new-name")
    assert (e.name, e.port, e.state, e.description) == ("new-name", lease.port, "active", "front")
    assert portreg.get("old-name") is None
    holder = portreg.get("new-name").holder  # type: ignore[union-attr]
    assert holder is not None and holder.pid == os.getpid()
    # The Lease object keeps the name it was taken under: nothing to release
    # there; the new name is released by name.
    assert lease.release() is False
    assert portreg.release("new-name") is True
    with pytest.raises(portreg.NotFoundError):
        portreg.rename("old-name", "x")
    portreg.reserve("taken", 25990)
    with pytest.raises(portreg.InvalidNameError):
        portreg.rename("new-name", "taken")


def test_release_forget_reserve() -> None:
    lease = portreg.lease("r")
    assert portreg.release("r") is True
    assert portreg.release("r") is False
    assert lease.release() is False
    e = portreg.reserve("db", 24555, description="postgres")
    assert (e.state, e.port, e.reserved, e.description) == ("reserved", 24555, True, "postgres")
    assert portreg.reserve("db", 24555) == portreg.get("db"), "the same reservation twice is fine"
    # leasing a reserved name takes its reserved port
    assert portreg.lease("db").port == 24555
    gone = portreg.forget("r")
    assert gone.name == "r"
    assert portreg.get("r") is None
    with pytest.raises(portreg.NotFoundError):
        portreg.forget("r")


def test_list_is_sorted_by_port_with_every_state() -> None:
    portreg.reserve("z-reserved", 24900)
    portreg.lease("a-active", port=24800)
    portreg.lease("m-idle", port=24850).release()
    entries = portreg.list()
    assert [(e.name, e.state) for e in entries] == [
        ("a-active", "active"),
        ("m-idle", "idle"),
        ("z-reserved", "reserved"),
    ]


def test_find_free_leases_nothing() -> None:
    port = portreg.find_free()
    assert 24000 <= port <= 24999
    assert portreg.list() == []


def test_registry_object_on_an_explicit_path(reg: portreg.Registry, home: pathlib.Path) -> None:
    lease = reg.lease("explicit")
    assert reg.get("explicit") is not None
    assert portreg.get("explicit") is None, "the default registry is another one"
    assert reg.path.name == "explicit"
    assert (reg.path / "registry.json").exists()
    assert not (home / "registry.json").exists()
    assert reg.default_range == (24000, 24999)
    assert [e.name for e in reg.list()] == ["explicit"]
    assert lease.release() is True
    assert reg.get("explicit").state == "idle"  # type: ignore[union-attr]


def test_to_dict_is_the_cli_json(portreg_bin: pathlib.Path, home: pathlib.Path) -> None:
    portreg.lease("j", description="d", meta={"k": "v"})
    portreg.reserve("pinned", 24600)
    for entry in portreg.list():
        out = subprocess.run([str(portreg_bin), "get", entry.name, "--json"], capture_output=True, check=True)
        assert json.loads(out.stdout) == entry.to_dict()
        assert list(json.loads(out.stdout)) == list(entry.to_dict()), "same keys in the same order"
    # `list --json` rows are the same entries, `listening` included
    out = subprocess.run([str(portreg_bin), "list", "--all", "--json"], capture_output=True, check=True)
    rows = json.loads(out.stdout)
    assert rows == [e.to_dict() for e in portreg.list()]
    assert [r["listening"] for r in rows if r["name"] == "j"] == [False]
    assert [r["listening"] for r in rows if r["name"] == "pinned"] == [None]
    holder = portreg.get("j").holder  # type: ignore[union-attr]
    assert holder is not None
    assert list(holder.to_dict()) == [
        "pid", "start_time", "start_ticks", "boot_id", "pid_ns", "lock",
        "exe", "cmdline", "user", "cwd", "since",
    ]
    # a lease of this process is identified by start ticks and boot, and
    # proved alive by a lock it keeps
    assert holder.start_ticks and holder.pid_ns and holder.lock
    with open("/proc/sys/kernel/random/boot_id") as f:
        assert holder.boot_id == f.read().strip()
    assert holder.cmdline and holder.user and holder.cwd == os.getcwd()


def test_entries_compare_by_value_and_repr_reads_like_python() -> None:
    portreg.reserve("cmp", 24444)
    assert portreg.get("cmp") == portreg.get("cmp")
    assert repr(portreg.get("cmp")) == "Entry(name='cmp', port=24444, state='reserved')"
    lease = portreg.lease("rep", port=24445)
    assert repr(lease) == "Lease(name='rep', port=24445, url='http://127.0.0.1:24445')"


def test_clean_drops_dead_holders(tmp_path: pathlib.Path) -> None:
    import sys

    code = "import os, portreg; portreg.lease('dead', port=24777); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert portreg.get("dead").state == "idle"  # type: ignore[union-attr]
    cleaned = portreg.clean()
    assert [(c.name, c.port) for c in cleaned] == [("dead", 24777)]
    assert portreg.clean() == []


def test_corrupt_registry_warns_and_keeps_the_bytes(home: pathlib.Path) -> None:
    portreg.lease("before")
    (home / "registry.json").write_text("{ not json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lease = portreg.lease("after")
    assert lease.port >= 24000
    msgs = [str(w.message) for w in caught if issubclass(w.category, portreg.PortregWarning)]
    assert len(msgs) == 1 and "corrupt" in msgs[0], msgs
    kept = list(home.glob("registry.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{ not json"
    assert kept[0].name in msgs[0]


def test_env_who_conflicts() -> None:
    portreg.reserve("my-db", 24501)
    portreg.lease("web.front", port=24502)
    portreg.lease("idle", port=24503).release()
    assert portreg.env() == {
        "MY_DB_PORT": "24501",
        "MY_DB_URL": "http://127.0.0.1:24501",
        "WEB_FRONT_PORT": "24502",
        "WEB_FRONT_URL": "http://127.0.0.1:24502",
    }
    assert portreg.env(["idle"]) == {"IDLE_PORT": "24503", "IDLE_URL": "http://127.0.0.1:24503"}
    with pytest.raises(portreg.NotFoundError):
        portreg.env(["nope"])

    # a listener nobody leased, on the reserved port: who names it, and it is a conflict
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 24501))
        s.listen()
        who = portreg.who(24501)
        assert who.port == 24501
        assert [li.pid for li in who.listeners] == [os.getpid()]
        assert who.listeners[0].addrs == ["127.0.0.1"]
        assert who.entry is not None and who.entry.name == "my-db"
        assert portreg.who("my-db").listeners == who.listeners
        found = portreg.conflicts()
        assert [(c.entry.name, [li.pid for li in c.listeners]) for c in found] == [("my-db", [os.getpid()])]
    assert portreg.who(24501).listeners == []
    assert portreg.conflicts() == []
    with pytest.raises(portreg.NotFoundError):
        portreg.who("never-seen")


def test_import_loads_nothing_heavy() -> None:
    # `import portreg` must stay cheap (BENCHMARKS-python.md): no typing,
    # json, pathlib... at import time, only the package and its native module.
    import sys

    probe = "import sys; before = set(sys.modules); import portreg; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    added = set(json.loads(out.stdout.replace("'", '"')))
    assert added <= {"portreg", "portreg._errors", "portreg._native", "__future__", "atexit"}, added


def test_every_public_name_is_documented() -> None:
    import inspect

    undocumented = []
    for name in portreg.__all__:
        obj = getattr(portreg, name)
        if name == "__version__":
            continue
        if not (obj.__doc__ or "").strip():
            undocumented.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and not (getattr(member, "__doc__", None) or "").strip():
                    undocumented.append(f"{name}.{attr}")
    assert undocumented == []
    public = {n for n in dir(portreg) if not n.startswith("_")} - {"TYPE_CHECKING", "annotations"}
    # and the asyncio forms, a submodule imported on first use
    assert set(portreg.__all__) - {"__version__"} | {"aio"} == public


def test_env_names_must_be_a_sequence_not_a_string() -> None:
    portreg.reserve("web", 24520)
    assert portreg.env(("web",)) == {"WEB_PORT": "24520", "WEB_URL": "http://127.0.0.1:24520"}
    with pytest.raises(TypeError):
        portreg.env("web")


def test_a_temporary_lease_forgets_its_name_on_release(tmp_path: pathlib.Path) -> None:
    reg = portreg.Registry(str(tmp_path / "reg"))
    tmp = reg.lease("fixture", range="24500-24599", temporary=True)
    entry = reg.get("fixture")
    assert entry is not None and entry.meta["portreg.temporary"] == "1"
    kept = reg.lease("kept", range="24500-24599")
    tmp.release()
    kept.release()
    assert reg.get("fixture") is None
    kept_entry = reg.get("kept")
    assert kept_entry is not None and kept_entry.state == "idle"


def test_lease_held_names_the_holders_directory_and_url(tmp_path: pathlib.Path) -> None:
    reg_dir = str(tmp_path / "reg")
    where = tmp_path / "checkout"
    where.mkdir()
    code = (
        "import portreg, sys; l = portreg.Registry(sys.argv[1]).lease('held', range='24600-24699');"
        " print(l.port, flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, reg_dir], cwd=where, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        with pytest.raises(portreg.LeaseHeldError) as e:
            portreg.Registry(reg_dir).lease("held", range="24600-24699")
        assert e.value.url == f"http://127.0.0.1:{port}"
        assert f"pid {child.pid} on port {port}" in str(e.value)
        assert f"http://127.0.0.1:{port}/ in {where.resolve()})" in str(e.value)
    finally:
        child.kill()
        child.wait()
