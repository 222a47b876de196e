"""Registration: every module's ``classes`` in one loop, the scene settings and the hooks."""

from blender_scene import ADDON_MODULE, venv_python

SCENE_SETTINGS = ("restyle", "restyle_render", "restyle_export")


def test_disable_removes_everything_and_enable_brings_it_back(restyle_addon, bpy_module):
    import addon_utils

    bpy = bpy_module
    classes = restyle_addon.addon.classes()
    assert classes and all(cls.is_registered for cls in classes)
    errors: list = []
    addon_utils.disable(ADDON_MODULE, handle_error=errors.append)
    try:
        assert errors == []
        assert not [cls.__name__ for cls in classes if cls.is_registered]
        assert not [name for name in SCENE_SETTINGS if hasattr(bpy.types.Scene, name)]
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=errors.append)
        prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
        prefs.worker_python = str(venv_python())  # as the restyle_addon fixture set it
    assert errors == []
    assert all(cls.is_registered for cls in restyle_addon.addon.classes())
    assert all(hasattr(bpy.types.Scene, name) for name in SCENE_SETTINGS)
