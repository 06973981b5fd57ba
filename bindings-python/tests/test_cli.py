"""`python -m portreg` and the `portreg` console script are the Rust CLI:
same stdout, stderr and exit code as the binary, command by command."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Dict, List, Tuple

import pytest

import portreg

Result = Tuple[int, str, str]


def surfaces(portreg_bin: pathlib.Path) -> Dict[str, List[str]]:
    script = pathlib.Path(sys.executable).parent / "portreg"
    assert script.exists(), f"the console script {script} is not installed"
    return {
        "rust": [str(portreg_bin)],
        "python -m": [sys.executable, "-m", "portreg"],
        "console script": [str(script)],
    }


def run(prefix: List[str], args: List[str], registry: pathlib.Path) -> Result:
    env = {k: v for k, v in os.environ.items() if k not in ("PORTREG_HOME", "PORTREG_RANGE")}
    env["PORTREG_HOME"] = str(registry)
    out = subprocess.run(prefix + args, capture_output=True, text=True, env=env, timeout=60)
    return out.returncode, out.stdout, out.stderr


def same_everywhere(portreg_bin: pathlib.Path, args: List[str], registry: pathlib.Path) -> Result:
    results = {name: run(prefix, args, registry) for name, prefix in surfaces(portreg_bin).items()}
    rust = results["rust"]
    for name, got in results.items():
        assert got == rust, f"`portreg {' '.join(args)}` differs between rust and {name}"
    return rust


# Commands whose second run gives the same output as the first (reads, and
# leases that return the lease the same holder already has), run by all
# three surfaces in turn on one registry. The holder of a CLI lease is the
# CLI's parent: this pytest process, for all three.
SHARED: List[Tuple[List[str], int]] = [
    (["--version"], 0),
    (["--help"], 0),
    (["lease", "--help"], 0),
    (["list"], 0),
    (["list", "--json"], 0),
    (["get", "missing"], 1),
    (["get", "missing", "--json"], 1),
    (["get", "bad name"], 2),
    (["lease", "bad/name"], 2),
    (["lease", "x", "--port", "0"], 2),
    (["lease", "x", "--range", "9000-8000"], 2),
    (["lease", "x", "--exact"], 2),
    (["no-such-command"], 2),
    (["lease"], 2),
    (["lease", "web", "--range", "24100-24199", "-d", "the web app"], 0),
    (["lease", "web", "--json"], 0),
    (["lease", "Web"], 0),
    (["get", "web"], 0),
    (["get", "WEB", "--json"], 0),
    (["list", "--all", "--json"], 0),
    (["reserve", "db", "24500", "-d", "postgres"], 0),
    (["reserve", "db", "24500", "--json"], 0),
    (["reserve", "db2", "24500"], 4),
    (["lease", "other", "--port", "24500", "--exact"], 4),
    # One port: with more, find picks at random among the free ones.
    (["find", "--range", "24300-24300"], 0),
    (["find", "--range", "80-90"], 2),
    (["who", "db"], 0),
    (["who", "db", "--json"], 0),
    (["who", "never-seen"], 1),
    (["env"], 0),
    (["env", "--format", "json"], 0),
    (["env", "--format", "dotenv", "db"], 0),
    (["conflicts"], 0),
    (["release", "never-seen"], 1),
    (["forget", "never-seen"], 1),
    (["kill", "db"], 1),
    (["clean"], 0),
]


def test_cli_outputs_match_the_rust_binary(portreg_bin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    registry = tmp_path / "shared"
    for args, code in SHARED:
        got, out, err = same_everywhere(portreg_bin, args, registry)
        assert got == code, f"`portreg {' '.join(args)}` exited {got}, not {code}: {err}"
    # the lease is held by this process (the CLI's parent), as documented
    entry = portreg.Registry(registry).get("web")
    assert entry is not None and entry.holder is not None
    assert entry.holder.pid == os.getpid()
    assert 24100 <= entry.port <= 24199
    assert entry.description == "the web app"
    # the table of `list` shows no uptime once nothing is active, so it is stable
    portreg.Registry(registry).release("web")
    same_everywhere(portreg_bin, ["list", "--all"], registry)
    same_everywhere(portreg_bin, ["list"], registry)


def test_cli_mutations_match_the_rust_binary(portreg_bin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    # Each surface runs the same sequence on its own fresh registry.
    steps: List[List[str]] = [
        ["lease", "web", "--range", "24100-24199", "--meta", "project=/src/web"],
        ["release", "web"],
        ["release", "web"],
        ["lease", "api", "--range", "24100-24199"],
        ["release", "api", "--json"],
        ["forget", "api"],
        ["forget", "api"],
        ["reserve", "db", "24510"],
        ["forget", "db"],
        ["list", "--all"],
    ]
    outputs: Dict[str, List[Result]] = {}
    for name, prefix in surfaces(portreg_bin).items():
        registry = tmp_path / name.replace(" ", "-")
        outputs[name] = [run(prefix, s, registry) for s in steps]
    for name, got in outputs.items():
        for step, a, b in zip(steps, outputs["rust"], got):
            assert b == a, f"`portreg {' '.join(step)}` differs between rust and {name}"
    codes = [r[0] for r in outputs["rust"]]
    assert codes == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0]


def test_cli_json_is_parseable_and_uses_the_registry_field_names(portreg_bin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    registry = tmp_path / "json"
    code, out, _ = run([sys.executable, "-m", "portreg"], ["lease", "j", "--json"], registry)
    assert code == 0
    entry = json.loads(out)
    assert list(entry) == ["name", "port", "state", "holder", "reserved", "description", "meta", "created", "changed", "listening"]
    assert entry["holder"]["pid"] == os.getpid()
    assert portreg.Registry(registry).get("j").to_dict() == entry  # type: ignore[union-attr]


def test_main_flushes_python_output_before_the_cli_writes(tmp_path: pathlib.Path) -> None:
    code = (
        "import sys, portreg.__main__ as m\n"
        "print('before', flush=False)\n"
        "rc = m.main(['get', 'nothing'])\n"
        "print('after', rc)\n"
    )
    env = dict(os.environ, PORTREG_HOME=str(tmp_path / "r"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout == "before\nafter 1\n"
    assert "is not in the registry" in out.stderr


@pytest.mark.parametrize("args", [["--version"], ["list"]])
def test_main_returns_the_exit_code_in_process(args: List[str], capfd: pytest.CaptureFixture[str]) -> None:
    from portreg.__main__ import main

    assert main(args) == 0
    out = capfd.readouterr().out
    assert out.startswith("portreg ") or out.strip() == "no names are held or reserved"
