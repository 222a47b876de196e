"""Everything that runs inside Blender. Nothing here imports torch.

Submodules that need ``bpy`` are imported inside ``register`` so that pure
helpers (the worker client) stay importable and testable outside Blender.
"""

def register() -> None:
    """Register the add-on's classes and properties with Blender."""


def unregister() -> None:
    """Undo ``register``."""
