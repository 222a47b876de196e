"""Per-scene settings (``scene.restyle``): the style, how strongly, and the running job's state."""


import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..core.training.options import EFFORT  # torch-free: beside the training settings
from .paths import shipped_styles
from .run_states import IDLE, RUN_STATES, label

_style_items_cache: list = []


def _shipped_style_items(_self, _context) -> list:
    """Enum items for the shipped styles, read from disk (Blender needs a kept reference)."""
    items = [(s["name"], s["name"].replace("_", " ").title(), s["description"] or s["name"])
             for s in shipped_styles()]
    if not items:
        items = [("NONE", "No Shipped Style", "This build has no shipped style models")]
    _style_items_cache[:] = items
    return _style_items_cache


class RestyleStyleImage(bpy.types.PropertyGroup):
    """One custom style image: a Blender image (loaded from disk or already in the file)."""

    image: PointerProperty(name="Style Image", type=bpy.types.Image)


class RestyleSettings(bpy.types.PropertyGroup):
    """What the artist chose in the Restyle panel, plus the job state the panel draws."""

    style_source: EnumProperty(
        name="Style",
        items=[
            ("SHIPPED", "Shipped Style", "A bundled style model: applied at once, no training"),
            ("IMAGES", "Style Images", "Train a model on your own style images (cached)"),
        ],
        default="SHIPPED",
    )
    shipped_style: EnumProperty(name="Shipped Style", items=_shipped_style_items)
    style_images: CollectionProperty(type=RestyleStyleImage)
    model_path: StringProperty(
        name="Model Folder",
        description="A trained style model folder (model.json + model.safetensors) applied "
        "as is, instead of the style above; for scripts and 'python -m core batch'",
        default="", subtype="DIR_PATH",
    )
    style_index: IntProperty(name="Active Style Image", default=0)
    fit_to_scene: BoolProperty(
        name="Fit to This Scene",
        description="Fine-tune the shipped style on this scene's textures before applying "
        "it (trains; the result is cached)",
        default=False,
    )
    strength: FloatProperty(
        name="Strength", description="0 keeps the texture, 1 is the full style",
        default=1.0, min=0.0, max=1.0, subtype="FACTOR",
    )
    keep_colors: BoolProperty(
        name="Keep Original Colors",
        description="Take the brush strokes from the style but keep each texture's colours",
        default=False,
    )
    effort: EnumProperty(
        name="Training Effort",
        items=[
            (key, key.title(), "{} steps on {} px crops".format(*EFFORT[key][:2]))
            for key in ("QUICK", "BALANCED", "BEST")
        ],
        default="BALANCED",
    )
    steps_override: IntProperty(
        name="Training Steps",
        description="Exact number of training steps (0: from the training effort)",
        default=0, min=0, max=100000,
    )
    max_size: IntProperty(
        name="Max Texture Size",
        description="Textures larger than this are stylized at this size and scaled back "
        "to their own size",
        default=2048, min=16, max=16384,
    )
    seamless: EnumProperty(
        name="Seamless",
        items=[
            ("auto", "Auto", "Wrap around the edges of textures that tile"),
            ("on", "On", "Always treat textures as tileable"),
            ("off", "Off", "Never wrap around the edges"),
        ],
        default="auto",
    )

    # -- job state, written by the running operator, drawn by the panel
    job_state: EnumProperty(
        name="Job State",
        items=[(state, label(state), "") for state in RUN_STATES],
        default=IDLE,
    )
    job_progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0,
                                subtype="FACTOR")
    job_phase: StringProperty(name="Phase", default="")
    job_eta: FloatProperty(name="ETA (s)", default=-1.0)
    last_report: StringProperty(name="Last Report", default="")


classes = (RestyleStyleImage, RestyleSettings)
