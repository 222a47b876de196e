"""What one job may ask of a worker: its pixels in total, and an estimate of its memory.

A single request must not be able to exhaust a shared worker; the caps on single
settings (tile, generator size, batch x size^2) are in ``settings``. Here the
job's images together must stay under MAX_JOB_PIXELS, and with
``--max-job-memory-mb`` its estimated peak memory must fit the budget (422s
naming the limit). The estimate is rough
(``bench/job_memory.py`` prints it next to measured peaks) and errs high.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from .jobs import Job
from .kinds import KINDS, training_images
from .refs import CheckedImage
from .settings import SettingsError

#: Largest sum of width * height over every image of one job (four 16K or sixteen 8K).
MAX_JOB_PIXELS = 2**30

# Bytes per pixel, measured on CPU with the default generator (bench/job_memory.py),
# rounded up: a training step (generator, loss features, gradients), one stylized tile,
# and the whole image held as arrays while it is stylized.
_TRAIN_BYTES_PER_PIXEL = 3_000
_TILE_BYTES_PER_PIXEL = 400
_IMAGE_BYTES_PER_PIXEL = 60
# A training run holds every painting and content image whole as float32 RGB (12), and
# a decode's copy of the one being read.
_TRAINING_IMAGE_BYTES_PER_PIXEL = 16
_BASE_BYTES = 250 * 2**20  # loss network, critic and buffers besides the generator


def check_pixels(total: int) -> None:
    """The job's images together within MAX_JOB_PIXELS."""
    if total > MAX_JOB_PIXELS:
        raise SettingsError(
            f"The job's images hold {total:,} pixels together, over this worker's limit of "
            f"{MAX_JOB_PIXELS:,} per job; split them over several jobs."
        )


@functools.lru_cache(maxsize=64)
def _parameters(arch_json: str) -> int:
    """Parameter count of a generator, built on the meta device (no memory, no time)."""
    import torch

    from ..model.generator import build_generator

    with torch.device("meta"):
        generator = build_generator(**json.loads(arch_json))
    return sum(parameter.numel() for parameter in generator.parameters())


def _width_factor(arch: dict[str, Any]) -> tuple[int, float]:
    """(parameters, activation scale vs the default generator) of ``arch``."""
    params = _parameters(json.dumps(arch, sort_keys=True))
    return params, (params / _parameters("{}")) ** 0.5


def train_memory(arch: dict[str, Any], size: int, batch: int, image_pixels: int = 0) -> int:
    """Estimated peak bytes of training: weights + Adam state + a step's activations + the
    images it crops from (``image_pixels`` in all)."""
    params, scale = _width_factor(arch)
    return int(_BASE_BYTES + 16 * params + _TRAIN_BYTES_PER_PIXEL * scale * batch * size * size
               + _TRAINING_IMAGE_BYTES_PER_PIXEL * image_pixels)


def stylize_memory(arch: dict[str, Any], width: int, height: int, tile: int) -> int:
    """Estimated peak bytes of stylizing one image with tiles of ``tile`` px."""
    params, scale = _width_factor(arch)
    core = min(tile, max(width, height)) + 2 * 64  # a tile and its context margin
    return int(_BASE_BYTES + 4 * params + _TILE_BYTES_PER_PIXEL * scale * core * core
               + _IMAGE_BYTES_PER_PIXEL * width * height)


def check_memory(estimate: int, budget_bytes: int | None) -> None:
    """422 when the job's estimated peak is over ``--max-job-memory-mb``."""
    if budget_bytes is not None and estimate > budget_bytes:
        raise SettingsError(
            f"This job needs about {estimate / 2**20:,.0f} MB, over this worker's "
            f"--max-job-memory-mb of {budget_bytes / 2**20:,.0f} MB; use smaller images, "
            "'tile', 'size' or 'batch'."
        )


def job_memory(job: Job, inputs: Sequence[CheckedImage]) -> int:
    """Estimated peak bytes of a job (its ``inputs`` give the images' sizes): its training
    or its largest image, whichever is more."""
    train = job.train_settings
    arch = dict(train.arch) if train else {}
    needs = []
    if KINDS[job.kind].will_train(job.model_ref is not None):
        pixels = {image.path: image.width * image.height for image in inputs}
        held = sum(pixels[path] for path in [*job.styles, *training_images(job)])
        needs.append(train_memory(arch, train.size, train.batch, held))
    needs += [stylize_memory(arch, image.info.width, image.info.height, image.settings.tile)
              for image in job.images]
    return max(needs, default=0)


def check_job(job: Job, inputs: Sequence[CheckedImage], budget_bytes: int | None) -> None:
    """Refuse a job over MAX_JOB_PIXELS (all its ``inputs``) or over the memory budget."""
    check_pixels(sum(image.width * image.height for image in inputs))
    check_memory(job_memory(job, inputs), budget_bytes)
