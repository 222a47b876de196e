"""The states of a run the add-on drives (a Stylize run, the worker set-up), in one place.

They are the values of ``scene.restyle.job_state`` (Blender enum ids, so upper case),
which the panels draw and scripts read. A job on the worker has states of its own
(``core/protocol.py``: queued, running, done, ...); a run maps the job's end onto its
own. Standard library only: the worker set-up uses them outside Blender too.
"""

from __future__ import annotations

IDLE = "IDLE"  # no run yet
STARTING = "STARTING"  # preparing: exporting textures, rendering
RUNNING = "RUNNING"
DONE = "DONE"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
RUN_STATES = (IDLE, STARTING, RUNNING, DONE, FAILED, CANCELLED)


def label(state: str) -> str:
    """What the panel and the progress line call ``state`` ("Done", "Failed", ...)."""
    return state.title()
