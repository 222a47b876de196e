"""Setting up the worker from Blender: its own venv with the pinned worker requirements.

The pure parts (``env``, ``torch_builds``, ``pip_log``, ``installer``) import no ``bpy``, so
scripts and tests use them outside Blender; the operators and drawing code (``operators``,
``ui``, ``location``) are imported only by the add-on's ``register``.
"""
