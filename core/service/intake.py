"""How a checked request body becomes a Job: refs resolved, settings parsed, model found.

``JobIntake`` is what ``POST /jobs`` calls; it needs no HTTP, so tests drive it
directly. Everything it refuses is a ``RefError`` or ``SettingsError`` naming the
input at fault, which the app answers as a 4xx.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..protocol import CANCELLED, FAILED
from .jobs import ImageInput, Job, JobQueue, new_id
from .kinds import KINDS
from .limits import check_job
from .refs import RefError, RefResolver, is_upload_id
from .schema import ImageSpec, JobRequest
from .settings import parse_settings, with_overrides

if TYPE_CHECKING:
    from .app import ServiceConfig


class JobIntake:
    """Turns ``JobRequest`` bodies into Jobs ready to queue, for one service's config."""

    def __init__(self, config: ServiceConfig, resolver: RefResolver, jobs: JobQueue) -> None:
        self.config = config
        self.resolver = resolver
        self.jobs = jobs  # earlier jobs, which a ``model`` ref may name

    def job(self, body: JobRequest, host: str | None) -> Job:
        """Check every input of ``body`` (sent from ``host``) and build its Job."""
        config, resolver = self.config, self.resolver
        train_settings, stylize_settings = parse_settings(body.settings, config.device,
                                                          config.precision)
        images = []
        for spec in body.images:
            if isinstance(spec, str):
                spec = ImageSpec(ref=spec)
            settings = with_overrides(stylize_settings, scale=spec.scale, seamless=spec.seamless)
            images.append(ImageInput(resolver.image(spec.ref, host), settings))
        styles = [resolver.image(ref, host) for ref in body.styles]
        content = [resolver.image(ref, host) for ref in body.content]
        refs = [*styles, *content, *(image.info for image in images)]
        if train_settings.init_from:  # a model ref like ``model``: same checks
            start = self.model_ref(train_settings.init_from, host)
            if isinstance(start, Job):
                raise RefError(422, "Setting 'init_from' takes a style name or model folder.")
            train_settings = dataclasses.replace(train_settings, init_from=start)
        job_id = new_id()
        job = Job(
            id=job_id,
            kind=body.kind,
            folder=config.jobs_dir / job_id,
            styles=[info.path for info in styles],
            content=[info.path for info in content],
            images=images,
            model_ref=self.model_ref(body.model, host) if body.model else None,
            uploads=frozenset(info.ref for info in refs if is_upload_id(info.ref)),
            train_settings=train_settings,
            device=stylize_settings.device,
        )
        check_job(job, refs, config.max_job_memory_bytes)
        return job

    def model_ref(self, ref: str, host: str | None) -> str | Job:
        """A job id, a known style name, or a model folder; 422 naming it otherwise."""
        from ..errors import UnknownModel
        from ..store import SHIPPED_DIR, list_styles, models_dir, resolve_model_dir

        source = self.jobs.get(ref)
        if source is not None:
            if not KINDS[source.kind].makes_model or source.state in (FAILED, CANCELLED):
                raise RefError(422, f"Job {ref} ({source.kind}, {source.state}) has no model.")
            return source
        if ref in {style["name"] for style in list_styles()}:
            return ref
        if not os.path.isabs(ref):
            raise RefError(422, _unknown_model(ref))
        real = Path(os.path.realpath(ref))
        own = (SHIPPED_DIR, models_dir())  # the worker's own models: fine for any client
        if not any(real.is_relative_to(os.path.realpath(root)) for root in own):
            real = self.resolver.local_path(ref, host)
        try:
            return str(resolve_model_dir(real))
        except UnknownModel as error:
            raise RefError(422, str(error)) from None


def _unknown_model(ref: str) -> str:
    from ..store import list_styles

    names = ", ".join(sorted(style["name"] for style in list_styles())) or "none"
    return f"Unknown model '{ref}': not a style name ({names}), model folder or train job id."
