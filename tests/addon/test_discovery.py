"""Texture discovery on the real test scene, inside the installed extension (no worker)."""

import importlib

import pytest


@pytest.fixture
def discovery(restyle_addon):
    return restyle_addon.addon.discovery


def _materials(discovery, objects) -> list:
    """The materials a run scans: ``shading.node_materials``, beside ``discovery``."""
    return importlib.import_module(f"{discovery.__package__}.shading").node_materials(objects)


def _scan(discovery, bpy):
    return discovery.discover(_materials(discovery, bpy.context.scene.objects))


def test_finds_every_colour_texture_once(test_scene, bpy_module, discovery):
    found = _scan(discovery, bpy_module)
    names = [use.image.name for use in found.textures]
    assert sorted(names) == sorted(test_scene["colour"])
    assert len(names) == len(set(names))


def test_shared_image_lists_both_materials(test_scene, bpy_module, discovery):
    found = _scan(discovery, bpy_module)
    shared = next(u for u in found.textures if u.image.name == test_scene["shared"])
    assert sorted(shared.materials) == ["Crate", "SharedCrate"]
    assert len(shared.nodes) == 2


def test_non_colour_images_never_listed(test_scene, bpy_module, discovery):
    found = _scan(discovery, bpy_module)
    listed = {u.image.name for u in found.textures} | set(found.skipped)
    for name in test_scene["non_colour"]:
        assert name not in listed


def test_non_color_space_skipped_even_on_base_color(test_scene, bpy_module, discovery):
    bpy = bpy_module
    bpy.data.images["rock01.jpg"].colorspace_settings.name = "Non-Color"
    found = _scan(discovery, bpy)
    assert "rock01.jpg" not in {u.image.name for u in found.textures}
    assert "Non-Color" in found.skipped["rock01.jpg"]


def test_missing_file_is_named_in_skipped(test_scene, bpy_module, discovery):
    found = _scan(discovery, bpy_module)
    assert "file not found" in found.skipped[test_scene["missing"]]
    assert "missing.png" in found.skipped[test_scene["missing"]]


def test_chain_of_colour_nodes_and_group_are_followed(test_scene, bpy_module, discovery):
    bpy = bpy_module
    chain = discovery.base_color_image_nodes(bpy.data.materials["Chain"])
    assert sorted(n.image.name for n in chain) == ["chain.png", "group_inner.png"]
    inner = next(n for n in chain if n.image.name == "group_inner.png")
    assert inner.id_data.name == "RestyleTestGroup"


def test_muted_link_and_non_colour_mix_input_are_not_followed(test_scene, bpy_module, discovery):
    bpy = bpy_module
    mat = bpy.data.materials["Crate"]
    link = mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].links[0]
    link.is_muted = True
    assert discovery.base_color_image_nodes(mat) == []


def test_selected_objects_only(test_scene, bpy_module, discovery):
    bpy = bpy_module
    found = discovery.discover(_materials(discovery, [bpy.data.objects["PackedPlane"]]))
    assert [u.image.name for u in found.textures] == ["packed.png"]


def test_principled_inside_a_group_is_followed_out_to_the_image(clean_scene, bpy_module,
                                                                 discovery, tmp_path):
    bpy = bpy_module
    image = bpy.data.images.new("outside.png", 8, 8)
    image.filepath_raw = str(tmp_path / "outside.png")
    image.file_format = "PNG"
    image.save()
    group = bpy.data.node_groups.new("StudioShader", "ShaderNodeTree")
    group.interface.new_socket("Albedo", in_out="INPUT", socket_type="NodeSocketColor")
    group.interface.new_socket("Shader", in_out="OUTPUT", socket_type="NodeSocketShader")
    g_in, g_out = group.nodes.new("NodeGroupInput"), group.nodes.new("NodeGroupOutput")
    bsdf = group.nodes.new("ShaderNodeBsdfPrincipled")
    group.links.new(g_in.outputs[0], bsdf.inputs["Base Color"])
    group.links.new(bsdf.outputs[0], g_out.inputs[0])
    mat = bpy.data.materials.new("Studio")
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    nodes = mat.node_tree.nodes
    nodes.remove(nodes["Principled BSDF"])
    tex, node = nodes.new("ShaderNodeTexImage"), nodes.new("ShaderNodeGroup")
    tex.image, node.node_tree = image, group
    mat.node_tree.links.new(tex.outputs["Color"], node.inputs[0])
    assert [n.image.name for n in discovery.base_color_image_nodes(mat)] == ["outside.png"]
