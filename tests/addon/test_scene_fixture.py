"""The shared test scene builds and the installed extension stays enabled across scenes."""

from blender_scene import ADDON_MODULE


def test_scene_builds_with_every_case(test_scene, bpy_module):
    bpy = bpy_module
    names = set(test_scene["images"])
    for name in [*test_scene["colour"], *test_scene["non_colour"], test_scene["missing"]]:
        assert name in names
    assert bpy.data.images["packed.png"].packed_file is not None
    assert bpy.data.images["generated_grid"].source == "GENERATED"
    missing = bpy.data.images["missing.png"]
    assert not (test_scene["assets"] / "missing.png").exists() and missing.source == "FILE"
    assert ADDON_MODULE in bpy.context.preferences.addons


def test_clean_scene_is_empty(clean_scene, bpy_module):
    bpy = bpy_module
    assert len(bpy.data.objects) == 0 and len(bpy.data.images) == 0
