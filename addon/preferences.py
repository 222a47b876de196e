"""Add-on preferences: where the worker runs, with which Python and device, and output folder."""


import bpy
from bpy.props import EnumProperty, StringProperty

from .setup.location import worker_env_dir
from .setup.torch_builds import BUILDS
from .worker.client import find_worker_python

#: The add-on's preferences key: the extension package (``bl_ext.<repo>.restyle``).
ADDON_ID = __package__.rpartition(".")[0]


class RestylePreferences(bpy.types.AddonPreferences):
    """Machine-level settings (shared by every .blend), unlike the per-scene style settings."""

    bl_idname = ADDON_ID

    worker_mode: EnumProperty(
        name="Worker",
        items=[
            ("LOCAL", "This Computer", "Start a stylizer worker on this machine when needed"),
            ("REMOTE", "Remote Server", "Use a stylizer service on another machine (GPU box)"),
        ],
        default="LOCAL",
    )
    remote_url: StringProperty(
        name="Server URL", description="Address of the remote worker, e.g. http://gpu-box:8765",
        default="",
    )
    remote_token: StringProperty(
        name="Token", description="Access token of the remote worker", default="",
        subtype="PASSWORD",
    )
    worker_python: StringProperty(
        name="Worker Python",
        description="Python interpreter with torch installed (the project's .venv). "
        "Empty: detect it automatically",
        default="", subtype="FILE_PATH",
    )
    device: EnumProperty(
        name="Device",
        items=[
            ("auto", "Auto", "Use a GPU when there is one, else the CPU"),
            ("cpu", "CPU", "Always the CPU"),
            ("cuda", "CUDA", "NVIDIA GPU"),
            ("mps", "Metal", "Apple GPU"),
        ],
        default="auto",
    )
    precision: EnumProperty(
        name="Precision",
        items=[
            ("auto", "Auto", "bf16 where this CPU runs it fast (AVX512-BF16, AMX), half "
             "precision on a GPU, else full precision"),
            ("fp32", "FP32", "Always full precision"),
            ("bf16", "BF16", "bfloat16 convolutions (slower on CPUs without bf16 hardware)"),
        ],
        default="auto",
    )
    output_dir: StringProperty(
        name="Output Folder",
        description="Folder for stylized textures. Empty: a 'restyle' folder next to the "
        "saved .blend (packed into the .blend while it is unsaved)",
        default="", subtype="DIR_PATH",
    )

    # -- worker set-up (addon/setup): which torch build "Set Up Local Worker" installs --
    worker_build: EnumProperty(
        name="Torch Build",
        description="Which torch the worker set-up installs",
        items=[(key, label, f"torch for {label}") for key, (label, _i, _p) in BUILDS.items()],
        default="CPU",
    )
    # -- end of worker set-up --

    def draw(self, context) -> None:
        layout = self.layout
        layout.prop(self, "worker_mode", expand=True)
        if self.worker_mode == "REMOTE":
            layout.prop(self, "remote_url")
            layout.prop(self, "remote_token")
        else:
            layout.prop(self, "worker_python")
            python = resolved_python(self)
            if python:
                layout.label(text=f"Using {python}", icon="CHECKMARK")
            else:
                layout.label(text="No Python with the stylizer found: set up the local worker "
                             "below (or set Worker Python)", icon="ERROR")
            from .setup.ui import draw_setup  # here: setup.ui imports this module

            draw_setup(layout, self)
        layout.prop(self, "device")
        layout.prop(self, "precision")
        layout.prop(self, "output_dir")


def get_prefs(context=None) -> RestylePreferences:
    """This add-on's preferences."""
    context = context or bpy.context
    return context.preferences.addons[ADDON_ID].preferences


def resolved_python(prefs: RestylePreferences) -> str:
    """The worker Python to use: the preference when set, else the detected one ('' if none)."""
    if prefs.worker_python.strip():
        return bpy.path.abspath(prefs.worker_python.strip())
    return find_worker_python(worker_env=worker_env_dir()) or ""


classes = (RestylePreferences,)
