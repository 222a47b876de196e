"""Unlit export: temporary material copies that Blender's glTF exporter writes as unlit.

io_scene_gltf2 emits ``KHR_materials_unlit`` when the active Material Output is fed by
``Mix Shader(Fac = Light Path.Is Camera Ray, Shader 2 = Emission(colour))``, optionally
behind ``Mix Shader(Fac = alpha, Transparent BSDF, ...)`` (see its
``detect_shadeless_material``). We build that on COPIES of the exported materials, give
each copy the original's name for the duration of the export (the material name in the
file is what engines key on) and restore names and slots in ``finally``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import bpy

from ..shading import material_output

SUFFIX = " (restyle export original)"


def _input_source(tree, socket, default_node: str):
    """What feeds ``socket``: its linked socket, or a new constant node with its value."""
    if socket.is_linked:
        return socket.links[0].from_socket
    node = tree.nodes.new(default_node)
    value = socket.default_value
    if default_node == "ShaderNodeRGB":
        node.outputs[0].default_value = tuple(value)
    else:
        node.outputs[0].default_value = value
    return node.outputs[0]


def make_unlit(mat: bpy.types.Material) -> bool:
    """Rewire ``mat`` (a copy) as an unlit colour; False if there is no colour to keep."""
    tree = mat.node_tree
    output = material_output(tree) if tree else None
    if output is None or not output.inputs["Surface"].is_linked:
        return False
    shader = output.inputs["Surface"].links[0].from_node
    colour_input = next((shader.inputs[k] for k in ("Base Color", "Color")
                         if k in shader.inputs), None)
    if colour_input is None:
        return False
    colour = _input_source(tree, colour_input, "ShaderNodeRGB")
    alpha = None
    if "Alpha" in shader.inputs and (shader.inputs["Alpha"].is_linked
                                     or shader.inputs["Alpha"].default_value < 1.0):
        alpha = _input_source(tree, shader.inputs["Alpha"], "ShaderNodeValue")
    links = tree.links
    emission = tree.nodes.new("ShaderNodeEmission")
    links.new(colour, emission.inputs["Color"])
    light_path = tree.nodes.new("ShaderNodeLightPath")
    camera_mix = tree.nodes.new("ShaderNodeMixShader")
    links.new(light_path.outputs["Is Camera Ray"], camera_mix.inputs[0])
    links.new(emission.outputs[0], camera_mix.inputs[2])
    result = camera_mix.outputs[0]
    if alpha is not None:
        alpha_mix = tree.nodes.new("ShaderNodeMixShader")
        links.new(alpha, alpha_mix.inputs[0])
        links.new(tree.nodes.new("ShaderNodeBsdfTransparent").outputs[0], alpha_mix.inputs[1])
        links.new(result, alpha_mix.inputs[2])
        result = alpha_mix.outputs[0]
    links.new(result, output.inputs["Surface"])
    return True


@contextmanager
def unlit_materials(objects, warnings: list[str]) -> Iterator[None]:
    """Give ``objects`` unlit copies of their materials for the ``with`` body."""
    slots = [(slot, slot.material) for obj in objects for slot in obj.material_slots
             if slot.material is not None]
    copies: dict[str, bpy.types.Material] = {}
    renamed: list[tuple[bpy.types.Material, str]] = []
    try:
        for _slot, mat in slots:
            if mat.name in copies or mat.node_tree is None:
                continue
            copy = mat.copy()
            copies[mat.name] = copy
            if not make_unlit(copy):
                warnings.append(f"Material '{mat.name}': no Base Color/Color to keep, "
                                "exported without KHR_materials_unlit")
        for slot, mat in slots:
            if mat.name in copies:
                slot.material = copies[mat.name]
        for name, copy in list(copies.items()):
            mat = bpy.data.materials[name]
            if mat.library is None:
                mat.name = name + SUFFIX
                renamed.append((mat, name))
                copy.name = name
        yield
    finally:
        for slot, mat in reversed(slots):
            slot.material = mat
        for copy in copies.values():
            bpy.data.materials.remove(copy)
        for mat, name in renamed:
            mat.name = name
