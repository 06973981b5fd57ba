"""Soak worker in Python (the portreg package, or the CLI with --cli).
Usage: worker.py REGISTRY DEADLINE_UNIX POOL_SIZE [--cli PORTREG_BIN]"""
import errno
import os
import random
import socket
import subprocess
import sys
import time

reg_path, deadline, pool = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
cli = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--cli" else None
kind = "cli" if cli else "python"
leases = held = violations = other = 0

if cli:
    def lease(name):
        r = subprocess.run([cli, "--registry", reg_path, "lease", name, "--range", "27000-27099",
                            "--pid", str(os.getpid())], capture_output=True, text=True)
        if r.returncode == 3:
            raise LookupError
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        return int(r.stdout)

    def release(name):
        r = subprocess.run([cli, "--registry", reg_path, "release", name], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip())
else:
    import portreg
    reg = portreg.Registry(reg_path)

    def lease(name):
        try:
            return reg.lease(name, range="27000-27099").port
        except portreg.LeaseHeldError:
            raise LookupError

    def release(name):
        reg.release(name)

while time.time() < deadline:
    name = "svc-%d" % random.randrange(pool)
    try:
        port = lease(name)
    except LookupError:
        held += 1
        continue
    except Exception as e:
        print("ERROR %s lease %s: %s" % (kind, name, e), flush=True)
        other += 1
        continue
    leases += 1
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen()
    except OSError as e:
        print("VIOLATION %s %s port %d: %s" % (kind, name, port, errno.errorcode.get(e.errno, e)), flush=True)
        violations += 1
    time.sleep(random.uniform(0.002, 0.02))
    s.close()
    try:
        release(name)
    except Exception as e:
        print("ERROR %s release %s: %s" % (kind, name, e), flush=True)
        other += 1
print("DONE %s leases=%d held=%d violations=%d other=%d" % (kind, leases, held, violations, other), flush=True)
