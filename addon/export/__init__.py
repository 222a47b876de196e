"""Export for VR: GLB/glTF/USDZ with the stylized textures, a texture budget and a report.

Scripts call ``bpy.ops.restyle.export_vr(filepath=...)`` (settings from
``scene.restyle_export``) or ``vr_export.export_vr(context, ExportOptions(...))``.
"""

from __future__ import annotations

import bpy

from . import operator, panel, properties

classes = (*properties.classes, *operator.classes, *panel.classes)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.restyle_export = bpy.props.PointerProperty(
        type=properties.RestyleExportSettings)


def unregister() -> None:
    del bpy.types.Scene.restyle_export
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
