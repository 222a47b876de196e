"""Model files: exact save/load round trip, no unpickling, memoised loads, name lookup."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from extension_package import heavy_imports
from tiny_models import tiny_generator

from core import store
from core.errors import BadInput, UnknownModel
from core.model.generator import ARCH_TYPE


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTYLE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_save_load_round_trips_weights_exactly(tmp_path):
    generator = tiny_generator(seed=3)
    folder = store.save_model(generator, {"description": "d"}, tmp_path / "m")
    meta = json.loads((folder / "model.json").read_text())
    assert meta["format_version"] == 1
    assert meta["architecture"]["type"] == ARCH_TYPE
    model = store.load_model(str(folder), "cpu")
    loaded = model.generator.state_dict()
    for name, tensor in generator.state_dict().items():
        assert torch.equal(loaded[name], tensor), name
    assert not model.generator.training
    assert model.name == "m" and model.path == folder.resolve()


def test_loading_never_unpickles(tmp_path, monkeypatch):
    folder = store.save_model(tiny_generator(), {}, tmp_path / "m")

    def refuse(*_args, **_kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert store.load_model(str(folder), "cpu").generator is not None
    header_size = int.from_bytes((folder / "model.safetensors").read_bytes()[:8], "little")
    header = json.loads((folder / "model.safetensors").read_bytes()[8 : 8 + header_size])
    assert "stem.0.weight" in header


def test_load_is_memoised_until_the_model_changes(tmp_path):
    folder = store.save_model(tiny_generator(seed=1), {}, tmp_path / "m")
    first = store.load_model(str(folder), "cpu")
    assert store.load_model(str(folder), "cpu") is first
    store.save_model(tiny_generator(seed=2), {}, folder)  # replaced atomically
    second = store.load_model(str(folder), "cpu")
    assert second is not first
    assert not torch.equal(second.generator.head.weight, first.generator.head.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp folders left


def test_cached_models_are_listed_and_found_by_name(cache):
    store.save_model(tiny_generator(), {"description": "cached one"}, cache / "models" / "mine")
    styles = {s["name"]: s for s in store.list_styles()}
    assert styles["mine"]["source"] == "cache"
    assert styles["mine"]["description"] == "cached one"
    assert store.load_model("mine", "cpu").name == "mine"


def test_unknown_model_lists_the_available_names(cache):
    store.save_model(tiny_generator(), {}, cache / "models" / "mine")
    with pytest.raises(UnknownModel, match=r"no_such_style.*mine"):
        store.load_model("no_such_style")


def test_not_a_model_folder_and_corrupt_weights(tmp_path):
    with pytest.raises(UnknownModel, match="is not a style model"):
        store.load_model(str(tmp_path))
    folder = store.save_model(tiny_generator(), {}, tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(BadInput, match=r"model\.safetensors"):
        store.load_model(str(folder), "cpu")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTYLE_CACHE", str(tmp_path))
    assert store.cache_dir() == tmp_path
    monkeypatch.delenv("RESTYLE_CACHE")
    assert store.cache_dir().name == "restyle"


def test_a_model_of_the_retired_generator_says_retrain(tmp_path):
    folder = store.save_model(tiny_generator(), {}, tmp_path / "old")
    meta = json.loads((folder / "model.json").read_text())
    meta["architecture"] = {"type": "restyle-gen", "width": 8, "deep_width": 16, "blocks": 1,
                            "detail": 8}
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BadInput, match=r"older Restyle.*retrain"):
        store.load_model(str(folder), "cpu")


def test_the_add_on_reads_the_shipped_styles_with_the_standard_library_only():
    """The add-on lists the shipped styles with ``core/store.py``'s folders and reads the
    export formats from ``core/export_formats.py``, in Blender's Python (no torch)."""
    assert heavy_imports("import restyle.addon.paths as paths; import restyle.core.export_formats; "
                         "assert paths.shipped_styles()") == []
