"""The "Restyle" sidebar tab in the 3D View and the Shader Editor, and the style-image list.

``RESTYLE_PT_main`` (3D View) is the parent other parts attach child panels to with
``bl_parent_id = "RESTYLE_PT_main"``.
"""


import bpy
import bpy.utils.previews
from bpy_extras.io_utils import ImportHelper

from . import runner
from .paths import shipped_styles, style_painting
from .preferences import get_prefs, resolved_python
from .setup.ui import draw_missing_worker

_previews = None


def _painting_icon(style_name: str) -> int:
    """Icon id of a shipped style's painting (loaded once into a preview collection)."""
    if _previews is None:
        return 0
    if style_name not in _previews:
        style = next((s for s in shipped_styles() if s["name"] == style_name), None)
        painting = style_painting(style) if style else None
        if painting is None:
            return 0
        _previews.load(style_name, str(painting), "IMAGE")
    return _previews[style_name].icon_id


def _eta_text(seconds: float) -> str:
    if seconds < 0:
        return ""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f", {minutes} min {secs:02d} s left" if minutes else f", {secs} s left"


class RESTYLE_UL_style_images(bpy.types.UIList):
    """One row per style image: pick any Blender image or one loaded from disk."""

    def draw_item(self, _context, layout, _data, item, _icon, _active_data, _active_prop,
                  _index=0, _flt_flag=0):
        layout.prop(item, "image", text="", icon="IMAGE_DATA")


class RESTYLE_OT_style_image_add(bpy.types.Operator, ImportHelper):
    """Load a painting or concept sheet from disk as a style image"""

    bl_idname = "restyle.style_image_add"
    bl_label = "Add Style Image"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: bpy.props.StringProperty(default="*.png;*.jpg;*.jpeg;*.tif;*.tiff;*.exr;"
                                          "*.webp;*.bmp", options={"HIDDEN"})

    def execute(self, context):
        settings = context.scene.restyle
        try:
            image = bpy.data.images.load(self.filepath, check_existing=True)
        except RuntimeError as exc:
            self.report({"ERROR"}, f"Cannot load style image '{self.filepath}': {exc}")
            return {"CANCELLED"}
        item = settings.style_images.add()
        item.image = image
        settings.style_index = len(settings.style_images) - 1
        settings.style_source = "IMAGES"
        return {"FINISHED"}


class RESTYLE_OT_style_image_remove(bpy.types.Operator):
    """Remove the active style image from the list (the image itself stays)"""

    bl_idname = "restyle.style_image_remove"
    bl_label = "Remove Style Image"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context) -> bool:
        return len(context.scene.restyle.style_images) > 0

    def execute(self, context):
        settings = context.scene.restyle
        settings.style_images.remove(settings.style_index)
        settings.style_index = max(0, min(settings.style_index, len(settings.style_images) - 1))
        return {"FINISHED"}


class _RestylePanel:
    """The panel body, shared by the 3D View and Shader Editor sidebars."""

    bl_region_type = "UI"
    bl_category = "Restyle"
    bl_label = "Restyle"

    def draw(self, context) -> None:
        layout = self.layout
        settings = context.scene.restyle
        run = runner.ACTIVE.get(context.scene.name)
        prefs = get_prefs(context)
        draw_missing_worker(layout, prefs, resolved_python(prefs))
        self._draw_style(layout, settings)
        col = layout.column(align=True)
        col.prop(settings, "strength")
        col.prop(settings, "keep_colors")
        col.prop(settings, "max_size")
        col.prop(settings, "seamless")
        if settings.style_source == "IMAGES" or settings.fit_to_scene:
            col = layout.column(align=True)
            col.prop(settings, "effort")
            col.prop(settings, "steps_override")
        col = layout.column(align=True)
        col.enabled = run is None
        col.scale_y = 1.3
        col.operator("restyle.stylize_selected", icon="RESTRICT_SELECT_OFF")
        col.operator("restyle.stylize_scene", icon="SCENE_DATA")
        row = layout.row(align=True)
        row.operator("restyle.revert", text="Revert Selected", icon="LOOP_BACK").scope = "SELECTED"
        row.operator("restyle.revert", text="Revert All").scope = "ALL"
        if run is not None:
            self._draw_progress(layout, settings)
        elif settings.last_report:
            box = layout.box()
            for line in settings.last_report.splitlines():
                box.label(text=line, icon="ERROR" if line.startswith("Failed") else "NONE")

    @staticmethod
    def _draw_style(layout, settings) -> None:
        layout.prop(settings, "style_source", expand=True)
        if settings.style_source == "SHIPPED":
            layout.prop(settings, "shipped_style", text="")
            icon = _painting_icon(settings.shipped_style)
            if icon:
                layout.template_icon(icon_value=icon, scale=6.0)
            layout.prop(settings, "fit_to_scene")
            return
        layout.template_list("RESTYLE_UL_style_images", "", settings, "style_images",
                             settings, "style_index", rows=2)
        row = layout.row(align=True)
        row.operator("restyle.style_image_add", text="Add", icon="FILE_IMAGE")
        row.operator("restyle.style_image_remove", text="Remove", icon="REMOVE")
        if 0 <= settings.style_index < len(settings.style_images):
            image = settings.style_images[settings.style_index].image
            preview = image.preview_ensure() if image is not None else None
            if preview is not None:
                layout.template_icon(icon_value=preview.icon_id, scale=6.0)

    @staticmethod
    def _draw_progress(layout, settings) -> None:
        text = f"{settings.job_phase}{_eta_text(settings.job_eta)}"
        if hasattr(layout, "progress"):  # UILayout.progress exists from Blender 4.0
            layout.progress(factor=settings.job_progress, type="BAR", text=text)
        else:
            layout.label(text=f"{settings.job_progress:.0%} {text}")
        layout.operator("restyle.cancel", icon="CANCEL")


class RESTYLE_PT_main(_RestylePanel, bpy.types.Panel):
    bl_space_type = "VIEW_3D"


class RestyleSubPanel:
    """Mixin for the collapsible sections other parts hang under ``RESTYLE_PT_main``."""

    bl_parent_id = "RESTYLE_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Restyle"
    bl_options = {"DEFAULT_CLOSED"}


class RESTYLE_PT_main_shader(_RestylePanel, bpy.types.Panel):
    bl_space_type = "NODE_EDITOR"

    @classmethod
    def poll(cls, context) -> bool:
        return getattr(context.space_data, "tree_type", "") == "ShaderNodeTree"


classes = (RESTYLE_UL_style_images, RESTYLE_OT_style_image_add, RESTYLE_OT_style_image_remove,
           RESTYLE_PT_main, RESTYLE_PT_main_shader)


def open_previews() -> None:
    """Make the preview collection the shipped styles' paintings load into."""
    global _previews
    _previews = bpy.utils.previews.new()


def close_previews() -> None:
    """Free the preview collection."""
    global _previews
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
