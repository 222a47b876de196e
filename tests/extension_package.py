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
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
NAME = "restyle"
#: What Blender's Python does not have: the add-on's modules must import none of them.
HEAVY = ("bpy", "torch", "numpy", "PIL", "safetensors", "fastapi", "pydantic")


def load() -> ModuleType:
    """The ``restyle`` package of this checkout (loaded once per process)."""
    if NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            NAME, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = package
        spec.loader.exec_module(package)
    return sys.modules[NAME]


def heavy_imports(code: str) -> list[str]:
    """The ``HEAVY`` packages that running ``code`` (after importing this package) imports,
    in a Python whose site-packages are hidden (-S) as Blender's are from the add-on."""
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"import extension_package\n{code}\n"
              f"print(*sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    done = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split() if done.stdout.strip() else []


load()
