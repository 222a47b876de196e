"""Export the scene (or the selection) for VR engines with Blender's own exporters.

``export_vr`` is the one entry point (the operator and scripts call it). It checks the
input, swaps budgeted texture copies (and unlit material copies) in, runs the glTF or
USD exporter with only the options this Blender version has, restores the scene, and
writes the report beside the file.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path

import bpy

from ...core.export_formats import FORMATS, Format
from ..errors import AddonError
from ..shading import has_geometry, material_nodes, object_materials
from .budget import Budget, budget_textures
from .report import build_report, reachable_images, report_path, write_report
from .unlit import unlit_materials

EXPORTER_LOGGERS = ("glTFImporter", "glTFImporter_errors")  # io_scene_gltf2's log names
DRACO_LIBRARY = {"win32": "extern_draco.dll", "darwin": "libextern_draco.dylib"}


class ExportError(AddonError):
    """Bad input for the export (shown to the user as is)."""


@dataclass
class ExportOptions:
    """Everything an export needs; the panel's settings map onto it one to one."""

    filepath: str
    file_format: str = "GLB"  # a key of ``export_formats.FORMATS``
    selected_only: bool = False
    unlit: bool = False
    draco: bool = False
    budget: Budget = field(default_factory=Budget)


def export_format(file_format: str) -> Format:
    """The ``Format`` record of ``file_format``; an error naming the known ones."""
    if file_format not in FORMATS:
        raise ExportError(f"Unknown export format '{file_format}'; use "
                          f"{', '.join(list(FORMATS)[:-1])} or {list(FORMATS)[-1]}")
    return FORMATS[file_format]


def output_path(filepath: str, fmt: Format) -> Path:
    """Absolute path (``//`` is the .blend's folder) with the format's suffix."""
    if not filepath:
        raise ExportError("No output file given; set the export file path")
    if filepath.startswith("//") and not bpy.data.filepath:
        raise ExportError(f"Output path '{filepath}' is relative to the .blend file, which is "
                          "not saved yet; save the .blend or choose an absolute path")
    path = Path(bpy.path.abspath(filepath))
    if path.is_dir() or filepath.endswith(("/", "\\")):
        raise ExportError(f"Output file '{path}' is a folder; add a file name such as "
                          f"'scene{fmt.suffix}'")
    if path.suffix.lower() != fmt.suffix:
        path = path.with_suffix(fmt.suffix)
    return path


def check_writable(path: Path) -> None:
    """Fail early with a clear message instead of an exporter traceback."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".restyle-write-test"):
            pass
    except OSError as exc:
        raise ExportError(f"Cannot write to output folder '{folder}' ({exc.strerror or exc}); "
                          "choose a folder you can write to") from exc


def export_objects(scene, view_layer, selected_only: bool) -> list:
    """The objects to export; an error if there is no geometry among them."""
    if selected_only:
        objects = [o for o in view_layer.objects if o.select_get(view_layer=view_layer)]
        where = f"selected in scene '{scene.name}'"
        hint = "select the objects to export or turn off 'Selected only'"
    else:
        objects = list(scene.objects)
        where = f"in scene '{scene.name}'"
        hint = "add mesh objects to the scene"
    if not any(has_geometry(o) for o in objects):
        raise ExportError(f"Nothing to export: no mesh objects {where}; {hint}")
    return objects


def draco_available() -> bool:
    """Whether the glTF add-on finds its Draco library (some builds do not ship it)."""
    for name in ("io_scene_gltf2.io.com.draco",  # Blender 4.3+
                 "io_scene_gltf2.io.com.gltf2_io_draco_compression_extension"):  # 4.2
        try:
            return bool(import_module(name).dll_exists(quiet=True))
        except (ImportError, AttributeError, TypeError):
            continue
    module = sys.modules.get("io_scene_gltf2")
    if module is None or not module.__file__:
        return False
    library = DRACO_LIBRARY.get(sys.platform, "libextern_draco.so")
    return (Path(module.__file__).parent / library).is_file()


def _operator_properties(op) -> set[str]:
    try:
        return {p.identifier for p in op.get_rna_type().properties}
    except (KeyError, RuntimeError, AttributeError):
        return set()


def _call(op, wanted: dict, fallbacks: dict, missing: str) -> None:
    """Run ``op`` with the options it has (4.2 and 5.0 differ); fallbacks: name -> alt."""
    known = _operator_properties(op)
    if not known:
        raise ExportError(missing)
    kwargs = {}
    for name, value in wanted.items():
        if name in known:
            kwargs[name] = value
        elif name in fallbacks and fallbacks[name][0] in known:
            kwargs[fallbacks[name][0]] = fallbacks[name][1]
    try:
        result = op(**kwargs)
    except (RuntimeError, OSError) as exc:
        raise ExportError(f"Blender's exporter failed writing '{kwargs.get('filepath')}': "
                          f"{exc}") from exc
    if "FINISHED" not in result:
        raise ExportError(f"Blender's exporter did not finish ({', '.join(result)})")


def needs_tangents(materials) -> bool:
    """Normal maps need tangents in the file; runtime-generated ones differ per engine."""
    return any(node.type == "NORMAL_MAP" for _mat, node in material_nodes(materials))


def _run_gltf(path: Path, options: ExportOptions, draco: bool, tangents: bool) -> None:
    image_format = "WEBP" if options.budget.image_format == "WEBP" else "AUTO"
    _call(bpy.ops.export_scene.gltf, {
        "filepath": str(path), "check_existing": False, "export_format": options.file_format,
        "use_selection": options.selected_only, "use_active_scene": True, "export_apply": True,
        "export_image_format": image_format, "export_image_quality": options.budget.quality,
        "export_jpeg_quality": options.budget.quality, "export_keep_originals": False,
        "export_materials": "EXPORT", "export_cameras": False, "export_lights": False,
        "export_draco_mesh_compression_enable": draco, "export_tangents": tangents,
    }, {}, "Blender's glTF exporter (io_scene_gltf2) is not enabled: enable it in "
           "Preferences > Add-ons")


def _run_usd(path: Path, options: ExportOptions) -> None:
    _call(bpy.ops.wm.usd_export, {
        "filepath": str(path), "check_existing": False,
        "selected_objects_only": options.selected_only, "export_materials": True,
        "generate_preview_surface": True, "export_textures_mode": "NEW",
        "overwrite_textures": True, "usdz_downscale_size": "KEEP", "export_cameras": False,
        "export_lights": False, "convert_world_material": False, "export_animation": False,
    }, {"export_textures_mode": ("export_textures", True)},
        "This Blender build has no USD exporter; export GLB instead")


class _Collect(logging.Handler):
    """Keeps the glTF exporter's own warnings (e.g. tangents, dropped nodes) for the report."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"glTF exporter: {record.getMessage()}")


@contextmanager
def exporter_log(messages: list[str]) -> Iterator[None]:
    """Collect io_scene_gltf2's warnings and errors (its loggers) into ``messages``."""
    handler = _Collect(messages)
    loggers = [logging.getLogger(name) for name in EXPORTER_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def export_vr(context, options: ExportOptions) -> dict:
    """Export for VR and return the report (also written as ``<name>.report.json``).

    The scene is left exactly as it was: texture and material copies only live inside
    the export. Raises ExportError with a message for the user on bad input.
    """
    fmt = export_format(options.file_format)
    path = output_path(options.filepath, fmt)
    check_writable(path)
    objects = export_objects(context.scene, context.view_layer, options.selected_only)
    materials = object_materials(objects)
    warnings: list[str] = []
    gltf = fmt.gltf
    if options.unlit and not gltf:
        warnings.append(f"Unlit is a glTF extension; {fmt.short} is exported with its lit "
                        "materials")
    draco = options.draco and gltf
    if draco and not draco_available():
        warnings.append("Draco compression is not available in this Blender build; "
                        "exported without it")
        draco = False
    if options.budget.image_format == "WEBP" and not gltf:
        warnings.append(f"{fmt.short} viewers expect PNG/JPEG; WebP textures may not display")
    started = time.perf_counter()
    with ExitStack() as stack:
        if options.unlit and gltf:
            stack.enter_context(unlit_materials(objects, warnings))
            export_materials = object_materials(objects)
        else:
            export_materials = materials
        expected = {mat.name: reachable_images(mat) for mat in export_materials}
        workdir = Path(tempfile.mkdtemp(prefix="restyle-export-"))
        copies = stack.enter_context(
            budget_textures(export_materials, options.budget, workdir, warnings))
        if gltf:
            stack.enter_context(exporter_log(warnings))
            _run_gltf(path, options, draco, needs_tangents(export_materials))
        else:
            _run_usd(path, options)
    seconds = time.perf_counter() - started
    settings = {**asdict(options), "draco": draco, "filepath": str(path)}
    report = build_report(path, fmt, objects, materials, expected, copies,
                          options.budget, settings, warnings, seconds)
    report["report_file"] = str(report_path(path))
    write_report(report, path)
    return report
