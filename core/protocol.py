"""What the worker and the add-on must agree on, in one module that imports nothing heavy.

The worker (``core/service``) imports it as ``..protocol``; the add-on, which ships
beside ``core`` in the extension zip (in Blender both are subpackages of
``bl_ext.<repo>.restyle``), as ``...core.protocol``. So it may import only the
standard library: never torch, bpy, numpy or pydantic. What each job kind needs and
does is ``core/service/kinds.py``; its names are here because clients send them.
"""

from __future__ import annotations

from pathlib import Path

#: The extension's root folder: ``core`` and ``addon`` live side by side in it, and the
#: worker runs as ``python -m core serve`` with it on ``PYTHONPATH``.
EXTENSION_ROOT = Path(__file__).resolve().parent.parent

#: ``serve`` prints this, then a JSON object (port, pid, version[, token]), once it is ready.
READY_PREFIX = "RESTYLE_READY "
#: The environment variable a local worker reads its token from (argv is visible to all).
TOKEN_ENV = "RESTYLE_TOKEN"

#: Number formats the generator may run in (``--precision``, the ``precision`` setting).
PRECISION_CHOICES = ("auto", "fp32", "bf16")

# -- job kinds (``"kind"`` of ``POST /jobs``) ---------------------------------------------
TRAIN = "train"  # styles + content -> a model
STYLIZE = "stylize"  # a model + images -> stylized images
RESTYLE = "restyle"  # a model, or styles to train one on, + images -> stylized images
KINDS = (TRAIN, STYLIZE, RESTYLE)

# -- job states (``"state"`` of ``GET /jobs/{id}``; a batch scene's in batch.json: done or
# failed). A run in the add-on has its own, Blender-side states: ``addon/run_states.py``.
QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
#: Still to run or running: the job's inputs are needed and it may yet change.
LIVE_STATES = (QUEUED, RUNNING)
#: Over: the state never changes again.
FINAL_STATES = (DONE, FAILED, CANCELLED)
