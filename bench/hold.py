"""Leases N names in a registry for this process, says "ready", and holds
them until its stdin closes: the live holder of the registries that
bench/report.py times `get` and `list` on.

Usage: hold.py REGISTRY N
"""
import sys

import portreg

reg = portreg.Registry(sys.argv[1])
for i in range(int(sys.argv[2])):
    reg.lease("svc-%04d" % i, range="12000-13999", description="service %d" % i)
print("ready", flush=True)
sys.stdin.read()
