"""The checkout loaded as the one package Blender imports the extension as, outside Blender.

In Blender, ``addon`` and ``core`` are subpackages of the extension's package
(``bl_ext.<repo>.restyle``), and the add-on reaches the shared ``core/protocol.py`` with
a relative import (``...core.protocol``). Importing this module registers the checkout
as package ``restyle`` so plain Python has the same layout: tests (and bench scripts)
import ``restyle.addon.worker.client``. The root ``__init__`` imports no ``bpy``, so
this never starts Blender.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
NAME = "restyle"


def load() -> ModuleType:
    """The ``restyle`` package of this checkout (loaded once per process)."""
    if NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            NAME, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = package
        spec.loader.exec_module(package)
    return sys.modules[NAME]


load()
