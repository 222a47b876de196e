"""The worker's log lines (stderr, which the add-on points at ``worker.log``).

A line that cannot be written (disk full, stderr closed) is dropped: the log is
for people, and a failed write must never stop a job or the server.
"""

from __future__ import annotations

import contextlib
import sys


def say(line: str) -> None:
    """Write one line to stderr, or nothing if it cannot be written."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)
