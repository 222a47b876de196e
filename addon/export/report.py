"""The export report: what is really in the written file, and what to worry about.

Textures are read back from the file (sizes and bytes as the engine will see them);
geometry figures come from the evaluated meshes the exporter wrote (modifiers applied).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import bpy
import numpy as np

from ...core.export_formats import Format
from ..shading import every_input, has_geometry, material_output, upstream
from .budget import Budget, TextureCopy, is_pot
from .files import image_bytes, image_mime, image_size, read_gltf, usdz_textures

SUPPORTED_SHADERS = {"BSDF_PRINCIPLED", "EMISSION", "BACKGROUND", "MIX_SHADER",
                     "BSDF_TRANSPARENT"}


def report_path(path: Path) -> Path:
    """``scene.glb`` -> ``scene.report.json`` (beside the exported file)."""
    return path.with_name(path.stem + ".report.json")


def gpu_bytes(width: int, height: int) -> int:
    """Uncompressed RGBA8 with a full mip chain (4/3): what the headset has to hold."""
    return width * height * 4 * 4 // 3


def geometry_stats(objects, depsgraph) -> dict:
    """Triangles, materials and draw calls (one per mesh part per material)."""
    triangles = draw_calls = 0
    materials: set[str] = set()
    for obj in objects:
        if not has_geometry(obj):
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        try:
            if mesh is None or not mesh.polygons:
                continue
            mesh.calc_loop_triangles()
            triangles += len(mesh.loop_triangles)
            indices = np.empty(len(mesh.polygons), np.int32)
            mesh.polygons.foreach_get("material_index", indices)
            used = np.unique(indices)
            draw_calls += len(used)
            slots = evaluated.material_slots
            for index in used:
                mat = slots[index].material if index < len(slots) else None
                materials.add(mat.name if mat else "(default)")
        finally:
            evaluated.to_mesh_clear()
    return {"triangles": triangles, "materials": len(materials), "draw_calls": draw_calls}


def _match(name: str, copies: list[TextureCopy]) -> list[TextureCopy]:
    """The scene images behind a texture name (composed textures join names with '-')."""
    exact = [c for c in copies if c.stem == name]
    return exact or [c for c in copies if c.stem in name.split("-")]


def _texture_entry(name: str, data: bytes, copies: list[TextureCopy]) -> dict:
    width, height = image_size(data)
    sources = _match(name, copies)
    return {
        "name": name,
        "source_images": [c.source for c in sources],
        "source_size": list(sources[0].source_size) if sources else None,
        "mime_type": image_mime(data),
        "width": width,
        "height": height,
        "bytes": len(data),
        "gpu_bytes": gpu_bytes(width, height),
        "resized": any(c.resized for c in sources),
        "notes": [n for c in sources for n in c.notes],
    }


def gltf_textures(path: Path, copies: list[TextureCopy]) -> tuple[list[dict], dict]:
    """Texture entries of a .glb/.gltf and, per material name, the scene images it kept."""
    doc, binary = read_gltf(path)
    entries = []
    for index, image in enumerate(doc.get("images", [])):
        name = image.get("name") or Path(image.get("uri", f"image{index}")).stem
        entries.append(_texture_entry(name, image_bytes(doc, binary, index, path.parent), copies))
    kept: dict[str, set[str]] = {}
    for mat in doc.get("materials", []):
        images = {_texture_source(doc, i) for i in _texture_indices(mat)}
        kept[mat.get("name", "")] = {s for i in images if i is not None
                                     for s in entries[i]["source_images"]}
    return entries, kept


def _texture_indices(node) -> list[int]:
    """Indices of every textureInfo (``{"index": n, ...}`` under a ``*Texture`` key)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("Texture") and isinstance(value, dict) and "index" in value:
                found.append(value["index"])
            found += _texture_indices(value)
    elif isinstance(node, list):
        for value in node:
            found += _texture_indices(value)
    return found


def _texture_source(doc: dict, index: int) -> int | None:
    texture = doc["textures"][index]
    if "source" in texture:
        return texture["source"]
    for ext in texture.get("extensions", {}).values():
        if "source" in ext:
            return ext["source"]
    return None


def total_bytes(path: Path) -> int:
    """Bytes of everything the export wrote: a .gltf's .bin and texture files included."""
    size = path.stat().st_size
    if path.suffix.lower() != ".gltf":
        return size
    doc, _ = read_gltf(path)
    uris = {item["uri"] for key in ("buffers", "images") for item in doc.get(key, [])
            if "uri" in item and not item["uri"].startswith("data:")}
    return size + sum((path.parent / unquote(uri)).stat().st_size for uri in uris)


def usdz_texture_entries(path: Path, copies: list[TextureCopy]) -> list[dict]:
    """Texture entries for the images packed inside a .usdz."""
    return [_texture_entry(Path(name).stem, data, copies)
            for name, data in sorted(usdz_textures(path).items())]


def _active_output(mat):
    """The material's Material Output node, or None."""
    return material_output(mat.node_tree) if mat.node_tree is not None else None


def reachable_images(mat) -> set[str]:
    """Images whose nodes feed the active output (through links and node groups)."""
    output = _active_output(mat)
    starts = [(socket, ()) for socket in output.inputs] if output is not None else []
    return {node.image.name for node, _out in upstream(starts, every_input)
            if node.type == "TEX_IMAGE" and node.image is not None}


def material_warnings(materials, expected: dict[str, set[str]],
                      kept: dict[str, set[str]] | None,
                      copies: list[TextureCopy]) -> list[str]:
    """Material setups the exporter drops: unknown shaders and textures that did not arrive."""
    warnings = []
    exported = {c.source for c in copies}
    for mat in materials:
        if mat.node_tree is None:
            continue
        output = _active_output(mat)
        if output is not None and output.inputs["Surface"].is_linked:
            shader = output.inputs["Surface"].links[0].from_node
            if shader.type not in SUPPORTED_SHADERS:
                warnings.append(f"Material '{mat.name}' uses a '{shader.bl_label}' shader, which "
                                "the exporter cannot represent (it exports a plain colour); use "
                                "a Principled BSDF")
        if kept is None:
            continue
        used = expected.get(mat.name, set())
        for name in sorted((used & exported) - kept.get(mat.name, set())):
            warnings.append(f"Material '{mat.name}': texture '{name}' is not in the file: it "
                            "reaches the shader through nodes the exporter cannot convert "
                            "(colour adjustments, mixes, node groups); bake it into one image")
    return warnings


def budget_warnings(textures: list[dict], budget: Budget) -> list[str]:
    """Over-budget and non-power-of-two textures in the written file."""
    warnings = []
    for tex in textures:
        if max(tex["width"], tex["height"]) > budget.max_size:
            warnings.append(f"Texture '{tex['name']}' is {tex['width']}x{tex['height']}, over "
                            f"the {budget.max_size} px budget")
    npot = [t["name"] for t in textures if not (is_pot(t["width"]) and is_pot(t["height"]))]
    if npot:
        warnings.append(f"{len(npot)} texture(s) are not power-of-two sizes ({', '.join(npot)}); "
                        "some engines and older GPUs cannot mipmap them: enable 'Power of two'")
    if budget.image_format == "WEBP":
        warnings.append("WebP textures (EXT_texture_webp) are not read by Unity's glTFast; "
                        "use JPEG or PNG for Unity")
    return warnings


def build_report(path: Path, fmt: Format, objects, materials,
                 expected: dict[str, set[str]], copies: list[TextureCopy], budget: Budget,
                 settings: dict, warnings: list[str], seconds: float) -> dict:
    """The full report dict (also written as JSON beside the file)."""
    if fmt.gltf:
        textures, kept = gltf_textures(path, copies)
    else:
        textures, kept = usdz_texture_entries(path, copies), None
    stats = geometry_stats(objects, bpy.context.evaluated_depsgraph_get())
    all_warnings = (list(warnings) + material_warnings(materials, expected, kept, copies)
                    + budget_warnings(textures, budget))
    return {
        "file": str(path),
        "format": fmt.id,
        "file_bytes": path.stat().st_size,
        "total_bytes": total_bytes(path),
        "blender_version": bpy.app.version_string,
        "export_seconds": round(seconds, 3),
        "settings": settings,
        "objects": sum(1 for o in objects if has_geometry(o)),
        **stats,
        "textures": textures,
        "texture_bytes": sum(t["bytes"] for t in textures),
        "gpu_texture_bytes": sum(t["gpu_bytes"] for t in textures),
        "warnings": all_warnings,
    }


def write_report(report: dict, path: Path) -> Path:
    """Write ``report`` as ``<stem>.report.json`` beside the exported file."""
    target = report_path(path)
    target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return target
