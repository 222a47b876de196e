"""The add-on's side of the worker: a standard-library client (no bpy, no torch)."""

from .client import WorkerClient, WorkerDied, WorkerError, find_worker_python

__all__ = ["WorkerClient", "WorkerDied", "WorkerError", "find_worker_python"]
