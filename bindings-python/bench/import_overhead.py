"""How much `import portreg` adds to interpreter start.

    python bindings-python/bench/import_overhead.py [RUNS]

Starts `python -c pass` and `python -c "import portreg"` alternately RUNS
times each (default 200) and prints the median wall-clock and CPU (user +
system) times and their differences, plus the cumulative time
`python -X importtime` attributes to portreg. CPU time is the steadier figure
on a busy machine.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from typing import List, Tuple


def once(code: str) -> Tuple[float, float]:
    """Wall-clock and CPU seconds of one interpreter running `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def importtime() -> float:
    """Microseconds `-X importtime` reports for portreg, its imports included."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import portreg"],
        capture_output=True, text=True, check=True,
    ).stderr
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "portreg":
            return float(parts[1])
    raise SystemExit("portreg not found in -X importtime output")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    once("import portreg")  # warm the page cache and __pycache__
    bare: List[Tuple[float, float]] = []
    imp: List[Tuple[float, float]] = []
    for _ in range(runs):
        bare.append(once("pass"))
        imp.append(once("import portreg"))
    ms = 1000.0
    for k, what in ((0, "wall"), (1, "cpu ")):
        b = statistics.median(x[k] for x in bare)
        i = statistics.median(x[k] for x in imp)
        print(
            f"{what}: python -c pass {b * ms:.1f} ms, python -c 'import portreg' {i * ms:.1f} ms,"
            f" added {(i - b) * ms:.1f} ms (medians of {runs} runs)"
        )
    it = statistics.median(importtime() for _ in range(20))
    print(f"-X importtime, portreg cumulative: {it / 1000:.1f} ms (median of 20 runs)")


if __name__ == "__main__":
    main()
