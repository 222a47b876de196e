"""Restyle's stylizer: everything that imports torch. Nothing here imports bpy.

Runs as the worker process: ``python -m core <command>`` with the extension
root on ``PYTHONPATH``. Heavy modules are imported by the commands that need them.
"""

__version__ = "0.1.0"
