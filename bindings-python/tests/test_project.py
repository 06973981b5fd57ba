"""portreg.project(): a project's ports read from Python without starting
anything, and `python -m portreg up/ps/down` behaving as the Rust binary."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import urllib.request

import pytest

import portreg

SERVER = textwrap.dedent(
    """
    import http.server, os
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(os.environ["DB_PORT"].encode())
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """
)

TOML = f"""
project = "shop"

[services.db]
command = ["{sys.executable}", "server.py"]
health = "tcp"

[services.api]
command = ["{sys.executable}", "server.py"]
depends_on = ["db"]
health = "/"

[services.seed]
command = "true"
port = false
"""


@pytest.fixture
def shop(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "shop"
    (root / "sub").mkdir(parents=True)
    (root / "portreg.toml").write_text(TOML)
    (root / "server.py").write_text(SERVER)
    return root


def cli(root: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portreg", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_reads_a_project_before_anything_runs(shop: pathlib.Path) -> None:
    p = portreg.project(shop / "sub")
    assert p.name == "shop"
    assert p.label is None
    assert p.root == shop
    assert [s.service for s in p.services] == ["db", "api", "seed"]
    assert [s.name for s in p.services] == ["db.shop", "api.shop", "seed.shop"]
    assert p.port("db") is None and p.url("api") is None
    assert portreg.list() == [], "reading leases nothing"
    with pytest.raises(portreg.NotFoundError):
        p.port("nope")


def test_ports_of_a_running_project(shop: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    up = cli(shop, "up", "-d")
    assert up.returncode == 0, up.stderr
    try:
        monkeypatch.chdir(shop / "sub")
        p = portreg.project()
        ps = json.loads(cli(shop, "ps", "--json").stdout)
        ports = {s["service"]: s["port"] for s in ps["services"]}
        assert p.port("api") == ports["api"] and p.port("db") == ports["db"]
        assert p.port("seed") is None
        api = next(s for s in p.services if s.service == "api")
        assert api.state == "active" and api.pid is not None
        # The API was told the database's port, and answers with it.
        url = p.url("api")
        assert url == f"http://127.0.0.1:{ports['api']}"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.read().decode() == str(ports["db"])
        # An explicit registry, as a Registry or a path, reads the same.
        home = pathlib.Path(os.environ["PORTREG_HOME"])
        assert portreg.project(shop, registry=portreg.Registry(home)).port("api") == ports["api"]
        assert portreg.project(shop / "portreg.toml", registry=home).port("api") == ports["api"]
    finally:
        down = cli(shop, "down")
        assert down.returncode == 0, down.stderr
    after = portreg.project(shop)
    assert after.port("api") == ports["api"], "the port stays remembered"
    assert next(s for s in after.services if s.service == "api").state == "idle"


def test_a_bad_file_is_invalid_config(shop: pathlib.Path, portreg_bin: pathlib.Path) -> None:
    (shop / "portreg.toml").write_text('[services.a]\ncommand = "x"\ndepends_on = ["b"]\n')
    with pytest.raises(portreg.InvalidConfigError) as e:
        portreg.project(shop)
    assert e.value.code == "INVALID_CONFIG"
    assert '"b"' in str(e.value)
    py = cli(shop, "up", "-d")
    rust = subprocess.run([str(portreg_bin), "up", "-d"], cwd=shop, capture_output=True, text=True)
    assert py.returncode == rust.returncode == 14
    assert py.stderr == rust.stderr
    assert py.stderr.rstrip().endswith("[INVALID_CONFIG]") and py.stderr.count("\n") == 1
