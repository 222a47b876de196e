"""The HTTP worker: FastAPI app, one-at-a-time job queue, and the ``serve`` entry point.

Blender never runs torch in its own process; it talks to this service instead
(local and spawned by the add-on, or remote on a GPU box).
"""
