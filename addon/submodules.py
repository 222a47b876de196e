"""Register a package's submodules in order (and unregister them in reverse).

Kept free of ``bpy`` so ``addon`` itself imports outside Blender.
"""

from collections.abc import Sequence
from importlib import import_module
from types import ModuleType


def load(package: str, names: Sequence[str]) -> list[ModuleType]:
    """Import ``names`` (relative, like ``".ui"``) from ``package``."""
    return [import_module(name, package) for name in names]


def register_all(package: str, names: Sequence[str]) -> None:
    """Call each submodule's ``register()`` in order."""
    for module in load(package, names):
        module.register()


def unregister_all(package: str, names: Sequence[str]) -> None:
    """Call each submodule's ``unregister()`` in reverse order."""
    for module in reversed(load(package, names)):
        module.unregister()
