"""Everything that runs inside Blender. Nothing here imports torch.

Submodules that need ``bpy`` are imported inside ``register`` so that pure
helpers (the worker client) stay importable and testable outside Blender.
"""

from importlib import import_module

#: Registered in this order, unregistered in reverse. Each has register()/unregister().
#: Other parts hook in by adding their package here (".export", ".render").
SUBMODULES = (
    ".preferences",
    ".properties",
    ".operators",
    ".ui",
    ".render",
    ".export",
)


def _modules() -> list:
    return [import_module(name, __package__) for name in SUBMODULES]


def register() -> None:
    """Register the add-on's classes and properties with Blender."""
    for module in _modules():
        module.register()


def unregister() -> None:
    """Undo ``register`` (also stops this Blender session's worker)."""
    for module in reversed(_modules()):
        module.unregister()
