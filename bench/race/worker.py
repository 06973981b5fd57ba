"""One racer: asks a tool for a port when told "go", binds it 500 ms later.

Usage: worker.py TOOL INDEX BASE SCRATCH. Prints "ready", waits for a line
"go" on stdin, then prints one JSON line: port, latency_ms, bind (bool).
Tools: portpicker, port-for, portreg-python, portreg-cli.
"""
import json
import os
import socket
import subprocess
import sys
import time

tool, index, base, scratch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
name = "race-%d" % index
high = base + 199

if tool == "portpicker":
    import portpicker

    def ask():
        return portpicker.pick_unused_port()
elif tool == "port-for":
    import port_for

    store = port_for.PortStore(os.path.join(scratch, "port-for.conf"))

    def ask():
        return store.bind_port(name)
elif tool == "portreg-python":
    import portreg

    reg = portreg.Registry(os.path.join(scratch, "registry"))

    def ask():
        return reg.lease(name, range=(base, high)).port
elif tool == "portreg-cli":
    exe = os.environ["PORTREG_BIN"]

    def ask():
        out = subprocess.run(
            [exe, "--registry", os.path.join(scratch, "registry"), "lease", name,
             "--range", "%d-%d" % (base, high), "--pid", str(os.getpid())],
            check=True, capture_output=True, text=True)
        return int(out.stdout)
else:
    sys.exit("unknown tool " + tool)

print("ready", flush=True)
sys.stdin.readline()
t0 = time.perf_counter()
try:
    port, error = ask(), None
except Exception as e:  # a tool that fails to answer is reported, not hidden
    port, error = None, "%s: %s" % (type(e).__name__, e)
latency = (time.perf_counter() - t0) * 1000
time.sleep(max(0.0, 0.5 - (time.perf_counter() - t0)))
ok = False
if port:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen()
        ok = True
    except OSError:
        pass
print(json.dumps({"port": port, "latency_ms": latency, "bind": ok, "error": error}), flush=True)
sys.stdin.readline()  # hold the port until every racer has tried
