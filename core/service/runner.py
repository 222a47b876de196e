"""What the job thread does for each kind: train, stylize, restyle (train then stylize).

Results are written into a hidden partial folder and renamed to ``results`` only
when every image succeeded, so a cancelled or failed job never leaves files a
client could mistake for a finished batch.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import BadInput
from ..progress import ProgressFn, check_cancel, scaled
from .jobs import Job

#: Share of a restyle job's progress bar spent training (stylizing is the rest).
TRAIN_SHARE = 0.85
RESULTS = "results"
PARTIAL = ".results-partial"


def run_job(job: Job) -> None:
    """Run one job to completion; raises core errors (Cancelled, BadInput, ...) on failure."""
    if job.kind == "train":
        job.model = str(_train(job, job.report))
        return
    model_name = _model_for(job)
    if model_name is None:
        job.model = str(_train(job, scaled(job.report, 0.0, TRAIN_SHARE)))
        model_name = job.model
        progress = scaled(job.report, TRAIN_SHARE, 1.0)
    else:
        job.model = model_name if job.kind == "restyle" else None
        progress = job.report
    _stylize_all(job, model_name, progress)


def _model_for(job: Job) -> str | None:
    """The model a stylize/restyle job should use; None means train one first."""
    ref = job.model_ref
    if isinstance(ref, Job):
        source = ref.snapshot()
        if source["state"] != "done" or not source["model"]:
            raise BadInput(
                f"Job {ref.id} that should provide the model is {source['state']}"
                f"{': ' + source['message'] if source['message'] else ''}; nothing to stylize with."
            )
        return source["model"]
    return ref


def _train(job: Job, progress: ProgressFn | None) -> Path:
    """Train (or fetch from the cache) the model for the job's styles and content."""
    from ..training.trainer import train_style

    content = job.content or [image.info.path for image in job.images]
    return Path(
        train_style(job.styles, content, None, job.train_settings, progress, job.cancel)
    )


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
