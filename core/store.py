"""Style model files: safetensors weights + JSON metadata, shipped styles, cache, name lookup.

A model is a folder holding ``model.safetensors`` (tensors only, so loading can
never run pickled code) and ``model.json`` (architecture, settings, provenance).
Loading is memoised: the service asks for the same style for every texture.

The folders and file names here are the one home of where models live: the add-on
(which never imports torch) lists the shipped styles with them, so importing this
module must stay free of torch (the functions that need it import it).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import BadInput, UnknownModel

if TYPE_CHECKING:  # torch is imported by the functions that load or save weights, so
    import torch  # listing and resolving styles stays fast (the batch driver, the panel)

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
#: The shipped style models, one folder each.
SHIPPED_DIR = Path(__file__).resolve().parent / "styles"
#: The paintings the shipped styles were trained on (so a shipped style can be fitted).
PAINTINGS_DIR = Path(__file__).resolve().parent / "data" / "styles"
#: The base generator new styles are warm-started from (not a style: never listed).
BASE_DIR = Path(__file__).resolve().parent / "data" / "base_generator"


@dataclass
class StyleModel:
    """A loaded, ready-to-run style: the generator is in eval mode on its device."""

    name: str
    generator: torch.nn.Module
    meta: dict
    path: Path | None


def cache_dir() -> Path:
    """Where trained models and other reusable results live ($RESTYLE_CACHE overrides)."""
    env = os.environ.get("RESTYLE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "restyle"


def models_dir() -> Path:
    """The folder of cached (trained on this machine) models."""
    return cache_dir() / "models"


def _model_folders() -> list[tuple[str, Path]]:
    """(source, folder) for every shipped then cached model folder that has metadata."""
    found = []
    for source, root in (("shipped", SHIPPED_DIR), ("cache", models_dir())):
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / META_FILE).is_file() and (folder / WEIGHTS_FILE).is_file():
                    found.append((source, folder))
    return found


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(
            f"Model metadata {path} is unreadable ({exc}); retrain or re-copy it."
        ) from exc
    if not isinstance(meta, dict):
        raise BadInput(f"Model metadata {path} is not a JSON object; retrain or re-copy it.")
    return meta


def list_styles() -> list[dict]:
    """Every usable style: ``{"name", "source": "shipped"|"cache", "path", "description"}``."""
    styles = []
    for source, folder in _model_folders():
        try:
            meta = _read_meta(folder)
        except BadInput:
            continue  # a broken folder must not hide the good ones
        styles.append(
            {
                "name": folder.name,
                "source": source,
                "path": str(folder),
                "description": str(meta.get("description", "")),
            }
        )
    return styles


def resolve_model_dir(name_or_dir: str | os.PathLike) -> Path:
    """The folder for a style name (shipped first, then cache) or a model folder path."""
    text = str(name_or_dir)
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / META_FILE).is_file() and (path / WEIGHTS_FILE).is_file():
            return path.resolve()
        raise UnknownModel(
            f"Folder {path} is not a style model: it needs {META_FILE} and {WEIGHTS_FILE}."
        )
    for _source, folder in _model_folders():
        if folder.name == text:
            return folder.resolve()
    names = ", ".join(sorted({folder.name for _s, folder in _model_folders()})) or "none"
    raise UnknownModel(
        f"No style model named '{text}'. Available: {names}. "
        "Give a shipped or cached style name, or a folder made by 'python -m core train'."
    )


def save_model(generator: torch.nn.Module, meta: dict, out_dir: Path) -> Path:
    """Write ``out_dir`` atomically (temp folder + rename) and return it.

    Missing metadata fields are filled in (format version, architecture from
    ``generator.arch``, creation time, version) so every saved model loads.
    """
    out_dir = Path(out_dir).expanduser().resolve()
    full = dict(meta)
    full["format_version"] = FORMAT_VERSION
    full.setdefault("name", out_dir.name)
    full.setdefault("description", "")
    full.setdefault("architecture", dict(generator.arch))
    full.setdefault("train_settings", {})
    full.setdefault("style_images", [])
    full.setdefault("created", datetime.now(UTC).isoformat(timespec="seconds"))
    full.setdefault("restyle_version", __version__)
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in generator.state_dict().items()}

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "restyle"})
        (tmp / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True), "utf-8")
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


_memo: dict[tuple[str, int, str], StyleModel] = {}
_memo_lock = threading.Lock()


def load_model(name_or_dir: str, device: str = "auto") -> StyleModel:
    """Load a style by name or folder; memoised on (folder, weights mtime, device)."""
    from .device import resolve_device

    folder = resolve_model_dir(name_or_dir)
    dev = resolve_device(device)
    weights = folder / WEIGHTS_FILE
    key = (str(folder), weights.stat().st_mtime_ns, str(dev))
    with _memo_lock:
        model = _memo.get(key)
    if model is None:  # loaded outside the lock: one stuck read must not block every load
        model = _load_uncached(folder, dev)
        with _memo_lock:
            model = _memo.setdefault(key, model)
    return model


def _load_uncached(folder: Path, device: torch.device) -> StyleModel:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model.generator import build_generator

    meta = _read_meta(folder)
    if meta.get("format_version") != FORMAT_VERSION:
        raise BadInput(
            f"Model {folder} has format version {meta.get('format_version')!r}; this Restyle "
            f"reads version {FORMAT_VERSION}. Retrain it with this version."
        )
    arch = dict(meta.get("architecture") or {})
    try:
        generator = build_generator(**arch)
    except ValueError as exc:
        raise BadInput(f"Model {folder} cannot be loaded: {exc}; retrain it.") from exc
    try:
        state = load_file(str(folder / WEIGHTS_FILE), device="cpu")
        generator.load_state_dict(state, strict=True)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise BadInput(
            f"Model weights {folder / WEIGHTS_FILE} are corrupt or do not match "
            f"{META_FILE} ({str(exc).splitlines()[0]}); retrain or re-copy the model."
        ) from exc
    generator.to(device).eval()
    # The folder name is what list_styles shows and what resolves back to this model.
    return StyleModel(name=folder.name, generator=generator, meta=meta, path=folder)
