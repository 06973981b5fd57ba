"""A Flask app that leases its port by name.

    python examples/python/flask_app.py [NAME]

Prints "serving at http://127.0.0.1:PORT"; the port is remembered for the
name (default "flask-demo"), so the next start gets the same one. Started
while it is already running, it says where and exits with status 1.

With Flask's reloader the worker it restarts shares this lease (same port);
from Flask's own CLI, let portreg pick the port:

    portreg run flask-demo -- flask --app examples/python/flask_app.py run --debug --port {port}
"""

from __future__ import annotations

import signal
import sys

from flask import Flask

import portreg

name = "flask-demo"
app = Flask(__name__)


@app.get("/")
def hello() -> dict[str, str]:
    """Say which service answered."""
    return {"service": name, "framework": "flask"}


def main() -> int:
    """Lease the port, then serve on it until stopped."""
    global name
    name = sys.argv[1] if len(sys.argv) > 1 else name
    try:
        lease = portreg.lease(name, description="Flask example (examples/python/flask_app.py)")
    except portreg.LeaseHeldError as e:
        print(f"already running at {e.url} (pid {e.pid})")
        return 1
    # SIGTERM (`kill`, `portreg kill flask-demo`) exits like Ctrl-C, so the
    # lease is released at exit instead of being left to liveness.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serving at {lease.url}", flush=True)
    app.run(host="127.0.0.1", port=lease.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
