"""A FastAPI app served by uvicorn that leases its port by name.

    python examples/python/fastapi_app.py [NAME]

Leases NAME (default "fastapi-demo") and prints "serving at http://127.0.0.1:PORT" once uvicorn listens; started while
it is already running, it says where and exits with status 1.

It can also take a socket that `portreg run --socket` bound for it (fd 3, the
systemd protocol), so no other process can take the port between lease and
listen:

    portreg run fastapi-demo --socket -- uvicorn fastapi_app:app --fd 3 --app-dir examples/python
    portreg run fastapi-demo --socket -- python examples/python/fastapi_app.py

With uvicorn's reloader, let portreg pick the port uvicorn is told:

    portreg run fastapi-demo -- uvicorn fastapi_app:app --reload --port {port} --app-dir examples/python
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator, Dict, Optional, Union

import uvicorn
from fastapi import FastAPI

import portreg

# `portreg run --socket` names the socket after the lease (LISTEN_FDNAMES).
name = os.environ.get("LISTEN_FDNAMES") or "fastapi-demo"
LISTEN_FD = 3
# `portreg run` says which port in $PORT; a lease of our own fills it in.
port: Optional[int] = int(os.environ["PORT"]) if "PORT" in os.environ else None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Print the URL once uvicorn is listening."""
    print(f"serving at http://127.0.0.1:{port}", flush=True)
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/")
def hello() -> Dict[str, Union[str, int]]:
    """Say which service answered, and from which process."""
    return {"service": name, "framework": "fastapi", "pid": os.getpid()}


def main() -> int:
    """Serve on the socket `portreg run --socket` handed over, else lease a port."""
    global name, port
    # uvicorn re-raises SIGTERM after a graceful shutdown; exiting through
    # SystemExit instead lets atexit release the lease.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if os.environ.get("LISTEN_FDS") == "1" and os.environ.get("LISTEN_PID") == str(os.getpid()):
        uvicorn.run(app, fd=LISTEN_FD, log_level="warning")
        return 0
    name = sys.argv[1] if len(sys.argv) > 1 else name
    try:
        lease = portreg.lease(name, description="FastAPI example (examples/python/fastapi_app.py)")
    except portreg.LeaseHeldError as e:
        print(f"already running at {e.url} (pid {e.pid})")
        return 1
    port = lease.port
    uvicorn.run(app, host="127.0.0.1", port=lease.port, log_level="warning")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down already
        sys.exit(0)
