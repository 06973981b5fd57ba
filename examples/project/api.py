"""The `api` service: a JSON API on the standard library's http.server.

It listens on $PORT and reads the database through `psql` at $DATABASE_URL,
both given by portreg (portreg.toml). GET /health answers 200 when the
database answers; GET /products lists the products.
"""

import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

PORT = int(os.environ["PORT"])
DATABASE_URL = os.environ["DATABASE_URL"]


def query(sql: str) -> List[List[str]]:
    """Rows of `sql` as lists of strings (psql, unaligned, tab-separated)."""
    out = subprocess.run(
        ["psql", DATABASE_URL, "-X", "-qtA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout
    return [line.split("\t") for line in out.splitlines() if line]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            if self.path == "/health":
                query("select 1")
                self.reply(200, {"ok": True, "database": DATABASE_URL})
            elif self.path in ("/", "/products"):
                rows = query("select id, name, price_cents from products order by id")
                products = [{"id": int(i), "name": n, "price_cents": int(p)} for i, n, p in rows]
                self.reply(200, {"service": "api", "port": PORT, "products": products})
            else:
                self.reply(404, {"error": "not found"})
        except (subprocess.SubprocessError, OSError) as e:
            self.reply(503, {"error": "database: %s" % (getattr(e, "stderr", "") or e)})

    def reply(self, status: int, body: Dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except ConnectionError:
            # The client gave up (a health probe past its timeout): nobody to answer.
            sys.stderr.write("api: %s %s: the client went away before the answer\n" % (self.command, self.path))

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("api: %s\n" % (format % args))


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("api: serving http://127.0.0.1:%d/ with the database at %s" % (PORT, DATABASE_URL), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
