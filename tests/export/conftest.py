"""Fixture for the VR export tests: H4's test scene with stylized textures."""

from __future__ import annotations

import pytest
from export_helpers import stylize_images


@pytest.fixture
def stylized_scene(test_scene, bpy_module, tmp_path) -> dict:
    """H4's test scene with the top-level colour textures swapped for stylized files."""
    names = ["crate.jpg", "barrelS_D.jpg", "barrelRing.jpg", "rock01.jpg", "packed.png",
             "generated_grid"]
    stylized = stylize_images(bpy_module, names, tmp_path / "stylized")
    return {**test_scene, "stylized": stylized}
