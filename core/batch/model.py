"""The one style model of a batch: looked up by name, or trained once on every scene.

Whatever its source, the model's files travel to the nodes as bytes (Ray's object
store), so every scene on every node uses the identical weights; ``sha256`` (of
``model.safetensors``) is what batch.json records for each scene.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, UnknownModel, UsageError
from .settings import BatchSettings

#: gather(scenes, folder) -> the colour textures of every scene, exported into folder.
Gather = Callable[[list[Path], Path], list[Path]]


@dataclass
class BatchModel:
    """A model folder on the driver and the hash every node checks its copy against."""

    folder: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.folder.name

    def payload(self) -> dict:
        """What ``task.put_model`` writes on a node: file name -> bytes, plus the hash."""
        from ..store import META_FILE, WEIGHTS_FILE

        return {"sha256": self.sha256, "weights": WEIGHTS_FILE,
                "files": {name: (self.folder / name).read_bytes()
                          for name in (WEIGHTS_FILE, META_FILE)}}


def from_folder(folder: Path) -> BatchModel:
    from ..store import WEIGHTS_FILE

    return BatchModel(folder, hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest())


def named_model(style: str) -> BatchModel:
    """A shipped or cached style name, or a model folder (bad names are a usage error)."""
    from ..store import resolve_model_dir

    try:
        return from_folder(resolve_model_dir(style))
    except UnknownModel as error:
        raise UsageError(f"--style: {error}") from None


def trained_model(settings: BatchSettings, gather: Gather, progress=None) -> BatchModel:
    """Train (or take from the cache) one model on the style images and all scenes' textures.

    The cache key is the style and content bytes plus the settings, so a re-run of the
    same batch gets the same model back at once and its done scenes are skipped.
    """
    from ..training.trainer import TrainSettings, train_style

    with tempfile.TemporaryDirectory(prefix="restyle-batch-gather-") as tmp:
        content = gather(settings.scenes, Path(tmp))
        if not content:
            raise BadInput("No colour textures found in any scene to train --style-image on "
                           "(Image Texture nodes feeding a Principled BSDF Base Color); "
                           "use --style with a trained model instead.")
        train = TrainSettings(device=settings.device, **settings.train)
        folder = train_style(settings.style_images, content, None, train, progress=progress)
    return from_folder(Path(folder))
