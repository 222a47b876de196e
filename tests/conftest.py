"""Shared fixtures for tests that need Blender (the ``bpy`` module).

``bpy`` can be imported only once per process and reads its user folders at import
time, so every test that touches Blender goes through the session fixtures here:
they point ``BLENDER_USER_RESOURCES`` at a temporary folder first (tests never touch
``~/.config/blender``), build the extension zip with Blender's own tool, and install
it the way a user would. Tests that do not ask for these fixtures never import bpy.
Outside Blender, tests import the add-on as ``restyle.addon`` (``extension_package``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import extension_package  # noqa: F401  (the checkout as package ``restyle``, for every test)
import pytest
from blender_scene import ADDON_MODULE, build_test_scene, venv_python


@pytest.fixture(scope="session")
def blender_user_dir(tmp_path_factory) -> Path:
    """A throw-away Blender user folder (config, extensions) for the whole session."""
    return tmp_path_factory.mktemp("blender_user")


@pytest.fixture(scope="session")
def bpy_module(blender_user_dir, tmp_path_factory):
    """The ``bpy`` module, imported once, with user resources in a temp folder.

    Also points the stylizer's model cache at a session temp folder so trained test
    models never land in ~/.cache/restyle (the worker subprocess inherits it).
    """
    if "bpy" in sys.modules and os.environ.get("BLENDER_USER_RESOURCES") != str(blender_user_dir):
        pytest.fail("bpy was imported before the bpy_module fixture; import it only through "
                    "tests/conftest.py fixtures so Blender uses a temporary user folder")
    os.environ["BLENDER_USER_RESOURCES"] = str(blender_user_dir)
    os.environ.setdefault("RESTYLE_CACHE", str(tmp_path_factory.mktemp("restyle_cache")))
    import bpy

    return bpy


@pytest.fixture(scope="session")
def extension_zip(bpy_module, tmp_path_factory) -> Path:
    """The extension zip built from the working tree by Blender's tool (once per session),
    validated first; built by the same function ``python -m core batch`` uses."""
    from core.batch.extension import build_extension
    from core.errors import BadInput

    try:
        return build_extension(tmp_path_factory.mktemp("ext_build"), validate=True)
    except BadInput as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def restyle_addon(bpy_module, extension_zip):
    """The installed, enabled extension's package (``bl_ext.user_default.restyle``).

    Its preferences point the worker at the repo's .venv Python. The worker client is
    stopped at the end of the session by disabling the extension.
    """
    bpy = bpy_module
    result = bpy.ops.extensions.package_install_files(
        filepath=str(extension_zip), repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result
    assert ADDON_MODULE in bpy.context.preferences.addons, "extension did not enable"
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    if prefs is not None and hasattr(prefs, "worker_python"):
        prefs.worker_python = str(venv_python())
    package = sys.modules[ADDON_MODULE]
    yield package
    import addon_utils

    addon_utils.disable(ADDON_MODULE)


@pytest.fixture
def clean_scene(restyle_addon, bpy_module):
    """An empty scene (no objects, materials or images); the extension stays enabled."""
    bpy = bpy_module
    bpy.ops.wm.read_homefile(use_empty=True)
    assert ADDON_MODULE in bpy.context.preferences.addons
    return bpy.context.scene


@pytest.fixture
def test_scene(clean_scene, bpy_module, tmp_path):
    """The standard test scene (see ``build_test_scene``) built from copies in tmp_path."""
    return build_test_scene(bpy_module, tmp_path / "assets")


_exit_status: list[int] = []


def pytest_sessionfinish(session, exitstatus) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    """Blender 4.2's bpy module crashes in interpreter teardown (after every test has run and
    been reported); leave before that teardown so the run's real status is the exit code."""
    bpy = sys.modules.get("bpy")
    if bpy is not None and bpy.app.version < (4, 3, 0) and _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
