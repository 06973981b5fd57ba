"""``python -m portreg`` and the ``portreg`` console script: the Rust CLI itself.

Same commands, output and exit codes as the ``portreg`` binary; ``lease``
makes the process that ran this command (the shell or script) the holder.
"""

from __future__ import annotations

import signal
import sys

from ._native import run_cli

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the portreg CLI on ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    args = sys.argv[1:] if argv is None else [str(a) for a in argv]
    # The CLI writes to file descriptors 1 and 2 directly.
    sys.stdout.flush()
    sys.stderr.flush()
    # Ctrl-C must stop a long-running command (`run`, `dashboard`) as it stops
    # the binary: Python's own handler only sets a flag the Rust code never reads.
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        return run_cli(["portreg", *args])
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
