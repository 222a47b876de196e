"""The job kinds (train, stylize, restyle): what each needs, makes and does, in one registry.

``KINDS`` is the one place a kind is described: the request schema checks a body's
inputs with ``JobKind.missing``, the intake asks whether a job can provide a model,
the memory estimate whether it trains, and ``run_job`` (the job thread) runs it from
the same flags. A new kind is one more entry here (and its name in ``core/protocol``).

Results are written into a hidden partial folder and renamed to ``results`` only
when every image succeeded, so a cancelled or failed job never leaves files a
client could mistake for a finished batch.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import protocol
from ..errors import BadInput
from ..progress import ProgressFn, check_cancel, scaled
from .jobs import Job

#: Share of a restyle job's progress bar spent training (stylizing is the rest).
TRAIN_SHARE = 0.85
RESULTS = "results"
PARTIAL = ".results-partial"


@dataclass(frozen=True)
class Need:
    """At least one of ``fields`` of the request must be given (a list or name, not empty)."""

    fields: tuple[str, ...]
    what: str  # completes "a <kind> job needs ..."


@dataclass(frozen=True)
class JobKind:
    """What one kind of job needs at submission and what it does when it runs."""

    name: str
    needs: tuple[Need, ...]
    takes_model: bool  # uses ``model`` (a style name, model folder or train job) when given
    trains: bool  # trains a model on ``styles`` + content when it has no model to use
    stylizes: bool  # stylizes ``images``; its results come in their order
    makes_model: bool  # its state names the model it made or used; other jobs may use it

    def missing(self, request: Any) -> str | None:
        """What ``request`` (a body with ``styles``, ``content``, ``images``, ``model``) lacks."""
        for need in self.needs:
            if not any(getattr(request, name) for name in need.fields):
                return f"a {self.name} job needs {need.what}"
        return None

    def will_train(self, has_model: bool) -> bool:
        """True when a job of this kind trains (given whether its request names a model)."""
        return self.trains and not (self.takes_model and has_model)


_IMAGES = Need(("images",), "at least one image in 'images'")
KINDS: dict[str, JobKind] = {kind.name: kind for kind in (
    JobKind(protocol.TRAIN,
            needs=(Need(("styles",), "at least one image in 'styles'"),
                   Need(("content",), "at least one image in 'content'")),
            takes_model=False, trains=True, stylizes=False, makes_model=True),
    JobKind(protocol.STYLIZE,
            needs=(_IMAGES, Need(("model",), "'model' (a style name, folder or train job id)")),
            takes_model=True, trains=False, stylizes=True, makes_model=False),
    JobKind(protocol.RESTYLE,
            needs=(_IMAGES, Need(("model", "styles"), "'styles' to train on, or a 'model' to use")),
            takes_model=True, trains=True, stylizes=True, makes_model=True),
)}


def run_job(job: Job) -> None:
    """Run one job to completion; raises core errors (Cancelled, BadInput, ...) on failure."""
    kind = KINDS[job.kind]
    model_name = _model_for(job) if kind.takes_model else None
    progress = job.report
    if model_name is None and kind.trains:
        train_part = scaled(job.report, 0.0, TRAIN_SHARE) if kind.stylizes else job.report
        model_name = str(_train(job, train_part))
        progress = scaled(job.report, TRAIN_SHARE, 1.0)
    if kind.makes_model:
        job.model = model_name
    if kind.stylizes:
        _stylize_all(job, model_name, progress)


def _model_for(job: Job) -> str | None:
    """The model a job that takes one should use; None means train one first."""
    ref = job.model_ref
    if isinstance(ref, Job):
        source = ref.snapshot()
        if source["state"] != protocol.DONE or not source["model"]:
            raise BadInput(
                f"Job {ref.id} that should provide the model is {source['state']}"
                f"{': ' + source['message'] if source['message'] else ''}; nothing to stylize with."
            )
        return source["model"]
    return ref


def _train(job: Job, progress: ProgressFn | None) -> Path:
    """Train (or fetch from the cache) the model for the job's styles and content."""
    from ..training.trainer import train_style

    return Path(train_style(job.styles, training_images(job), None, job.train_settings,
                            progress, job.cancel))


def training_images(job: Job) -> list[Path]:
    """What a job trains on besides its paintings: its content, else the images it stylizes."""
    return job.content or [image.info.path for image in job.images]


def _stylize_all(job: Job, model_name: str, progress: ProgressFn | None) -> None:
    """Stylize every image into the partial folder, then publish it atomically."""
    from ..inference.stylize import stylize_file
    from ..store import load_model

    model = load_model(model_name, job.device)
    partial, final = job.folder / PARTIAL, job.folder / RESULTS
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        names = _result_names(job)
        total = sum(image.info.width * image.info.height for image in job.images)
        done, results = 0, []
        for image, name in zip(job.images, names, strict=True):
            check_cancel(job.cancel)
            pixels = image.info.width * image.info.height
            step = scaled(progress, done / total, (done + pixels) / total)
            stylize_file(model, image.info.path, partial / name, image.settings, step, job.cancel,
                         intermediate=True)  # the add-on reloads it; its own save compresses
            done += pixels
            results.append(
                {
                    "input": image.info.ref,
                    "name": name,
                    "path": str(final / name),
                    "width": image.info.width,
                    "height": image.info.height,
                }
            )
        check_cancel(job.cancel)
        os.replace(partial, final)
        job.results = results
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _result_names(job: Job) -> list[str]:
    """One file name per image: the input's name, made unique within the job."""
    names: list[str] = []
    for index, image in enumerate(job.images):
        name = image.info.path.name
        if name in names:
            name = f"{image.info.path.stem}-{index}{image.info.path.suffix}"
        names.append(name)
    return names
