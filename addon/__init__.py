"""Everything that runs inside Blender. Nothing here imports torch.

Registration is the glTF-Blender-IO way: every module with Blender classes lists them
in one ``classes`` tuple, and ``register`` registers all of them in one loop (in
``MODULES`` order; ``unregister`` goes in reverse), then adds the scene settings and
the few hooks. The modules are imported inside ``register``, so the pure helpers (the
worker client, the worker set-up) stay importable outside Blender.
"""

from importlib import import_module

#: The modules with Blender classes, in registration order (child panels after
#: ``RESTYLE_PT_main`` in ``.ui``). A new module with classes is one more name here.
MODULES = (
    ".preferences",
    ".setup.operators",
    ".properties",
    ".operators",
    ".ui",
    ".render.properties",
    ".render.preview",
    ".render.ui",
    ".export.properties",
    ".export.operator",
    ".export.panel",
)


def classes() -> tuple:
    """Every class the add-on registers, in registration order."""
    return tuple(cls for name in MODULES for cls in import_module(name, __package__).classes)


def _scene_settings() -> dict:
    """``bpy.types.Scene`` attribute -> the settings group it points at."""
    from .export.properties import RestyleExportSettings
    from .properties import RestyleSettings
    from .render.properties import RestyleRenderSettings

    return {"restyle": RestyleSettings, "restyle_render": RestyleRenderSettings,
            "restyle_export": RestyleExportSettings}


def register() -> None:
    """Register the add-on's classes, its scene settings and its hooks with Blender."""
    import bpy

    from . import operators, ui
    from .setup import operators as setup_operators

    for cls in classes():
        bpy.utils.register_class(cls)
    for name, group in _scene_settings().items():
        setattr(bpy.types.Scene, name, bpy.props.PointerProperty(type=group))
    ui.open_previews()
    operators.add_handlers()
    setup_operators.add_exit_hook()


def unregister() -> None:
    """Undo ``register`` (also cancels a set-up or run and stops this session's worker)."""
    import bpy

    from . import operators, ui
    from .setup import operators as setup_operators

    setup_operators.remove_exit_hook()
    operators.remove_handlers()
    ui.close_previews()
    for name in reversed(_scene_settings()):
        delattr(bpy.types.Scene, name)
    for cls in reversed(classes()):
        bpy.utils.unregister_class(cls)
