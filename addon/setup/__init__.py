"""Setting up the worker from Blender: its own venv with the pinned worker requirements.

The pure parts (``env``, ``torch_builds``, ``pip_log``, ``installer``) import no ``bpy``, so
scripts and tests use them outside Blender; the operators and drawing code are imported
only by ``register``.
"""

from ..submodules import register_all, unregister_all

SUBMODULES = (".operators",)


def register() -> None:
    """Register the set-up operators."""
    register_all(__package__, SUBMODULES)


def unregister() -> None:
    """Cancel a running set-up and unregister its operators."""
    unregister_all(__package__, SUBMODULES)
