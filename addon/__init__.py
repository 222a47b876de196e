"""Everything that runs inside Blender. Nothing here imports torch.

Submodules that need ``bpy`` are imported inside ``register`` so that pure
helpers (the worker client) stay importable and testable outside Blender.
"""

from .submodules import register_all, unregister_all

#: Registered in this order, unregistered in reverse. Each has register()/unregister().
#: Other parts hook in by adding their package here (".export", ".render").
SUBMODULES = (
    ".preferences",
    ".setup",
    ".properties",
    ".operators",
    ".ui",
    ".render",
    ".export",
)


def register() -> None:
    """Register the add-on's classes and properties with Blender."""
    register_all(__package__, SUBMODULES)


def unregister() -> None:
    """Undo ``register`` (also stops this Blender session's worker)."""
    unregister_all(__package__, SUBMODULES)
