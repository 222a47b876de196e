"""Fixtures for the render tests.

Pure functions (views, texel density, EXR reading) are imported from the source tree
(``addon.render``) on top of the shared ``bpy_module`` fixture, so they are tested even
without the whole add-on registered; operators go through the installed extension.
"""

from __future__ import annotations

import importlib

import pytest


@pytest.fixture
def render_modules(bpy_module):
    """``addon.render`` submodules from the source tree, in an empty scene."""
    bpy_module.ops.wm.read_homefile(use_empty=True)
    names = ("exr", "views", "uv_density", "content")
    return {n: importlib.import_module(f"addon.render.{n}") for n in names}
