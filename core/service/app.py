"""The FastAPI app: routes and error shapes (``intake.JobIntake`` makes the Jobs).

Every error body is ``{"detail": "<sentence naming the input at fault>"}`` so the
add-on can show it as is.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse

from .. import __version__
from .auth import GateConfig, RequestGate
from .intake import JobIntake
from .janitor import delete_job, start_janitor
from .jobs import Job, JobQueue, new_id
from .kinds import RESULTS, run_job
from .log import say
from .refs import RefError, RefResolver
from .schema import CreatedReply, HealthReply, JobRequest, JobStateReply
from .settings import SettingsError


@dataclass
class ServiceConfig:
    """What ``serve`` was told: where jobs live, what may be read, who may talk."""

    jobs_dir: Path
    device: str = "cpu"
    precision: str = "auto"  # for jobs whose settings do not name one
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))  # always one
    hosts: list[str] = field(default_factory=list)  # Host names besides loopback ones
    allowed_roots: list[Path] = field(default_factory=list)
    local_paths: bool = True  # False: every client must upload (behind a same-host proxy)
    max_upload_bytes: int = 512 * 1024 * 1024
    max_job_memory_bytes: int | None = None  # refuse jobs estimated to need more
    keep_s: float = 24 * 3600.0  # finished jobs and uploads older than this are deleted
    stall_timeout_s: float | None = 600.0  # fail a running job silent for this long
    client_timeout_s: float = 10.0  # longest pause in a request's headers or body


def create_app(config: ServiceConfig) -> FastAPI:
    """Build the app and its job queue (the runner thread starts with the app)."""
    import torch

    config.jobs_dir.mkdir(parents=True, exist_ok=True)
    uploads_dir = config.jobs_dir / "uploads"
    uploads_dir.mkdir(exist_ok=True)
    resolver = RefResolver(uploads_dir, config.allowed_roots, config.local_paths)
    jobs = JobQueue(run_job, config.stall_timeout_s)
    intake = JobIntake(config, resolver, jobs)
    gate = GateConfig(token=config.token, hosts=config.hosts,
                      max_upload_bytes=config.max_upload_bytes,
                      client_timeout_s=config.client_timeout_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        jobs.start()
        start_janitor(jobs, config.jobs_dir, config.keep_s)
        yield
        jobs.shutdown()

    app = FastAPI(title="Restyle worker", version=__version__, lifespan=lifespan)
    app.add_middleware(RequestGate, config=gate)
    _add_error_handlers(app)

    @app.get("/health", response_model=HealthReply)
    def health(request: Request) -> dict | JSONResponse:
        """Liveness for anyone; what the worker runs and holds only with the token."""
        if not jobs.alive:
            return JSONResponse({"status": "error", "detail": _RUNNER_DEAD}, status_code=503)
        if not gate.token_matches(request.headers.get("authorization")):
            return JSONResponse({"status": "ok"})  # no versions, ids or paths for strangers
        running = jobs.running
        return {
            "status": "ok",
            "version": __version__,
            "device": config.device,
            "torch": torch.__version__,
            "queue": jobs.waiting(),
            "running": running.id if running else None,
            "max_upload_bytes": config.max_upload_bytes,
        }

    @app.get("/styles")
    def styles() -> list[dict]:
        """The shipped and cached style models a job may name in ``model``."""
        from ..store import list_styles

        return list_styles()

    @app.post("/uploads", response_model=CreatedReply, status_code=201)
    async def upload(request: Request) -> dict:
        """Store the raw request body as a file; its id is a ref for later jobs."""
        return {"id": await _store_upload(request, uploads_dir)}

    @app.post("/jobs", response_model=CreatedReply, status_code=201)
    def submit(body: JobRequest, request: Request) -> dict:
        """Check every input now (4xx at once), then queue the job."""
        if not jobs.alive:
            raise HTTPException(503, _RUNNER_DEAD)
        job = intake.job(body, request.client.host if request.client else None)
        jobs.add(job)
        return {"id": job.id}

    @app.get("/jobs/{job_id}", response_model=JobStateReply)
    def job_state(job_id: str) -> dict:
        """State, progress, ETA and (when done) results of a job."""
        return _job(job_id).snapshot()

    @app.post("/jobs/{job_id}/cancel", response_model=JobStateReply)
    def cancel(job_id: str) -> dict:
        """Ask a job to stop; a finished job is left as it is."""
        job = _job(job_id)
        job.request_cancel()
        return job.snapshot()

    @app.delete("/jobs/{job_id}", status_code=204)
    def delete(job_id: str) -> None:
        """Forget a finished job, delete its results and its uploads no queued job still needs."""
        job = _job(job_id)
        if job.live:
            raise HTTPException(409, f"Job {job_id} is still {job.state}; cancel it first.")
        delete_job(jobs, job, uploads_dir)

    @app.get("/jobs/{job_id}/results/{name}")
    def result(job_id: str, name: str) -> FileResponse:
        """The bytes of one result of a finished job (for remote clients)."""
        job = _job(job_id)
        if name not in {r["name"] for r in job.snapshot()["results"]}:
            raise HTTPException(404, f"Job {job_id} has no result named '{name}'.")
        path = job.folder / RESULTS / name
        if not path.is_file():
            raise HTTPException(
                410, f"Result '{name}' of job {job_id} is gone from the worker's disk (its jobs "
                "folder was cleaned); run the job again.",
            )
        return FileResponse(path, filename=name)

    def _job(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"Unknown job id '{job_id}' (jobs do not survive a restart).")
        return job

    return app


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
#: Longest stored upload file name (file systems allow 255 bytes; leave room for the id).
MAX_NAME = 120
_RUNNER_DEAD = ("The worker's job runner has stopped, so no job would run; restart the "
                "worker (the add-on does this on its next run) and see its log.")


def upload_name(header: str) -> str:
    """A safe, bounded file name from ``X-Filename`` (percent-encoded by clients)."""
    name = _SAFE_NAME.sub("_", Path(unquote(header)).name).strip("._") or "upload.bin"
    if len(name) > MAX_NAME:
        _stem, dot, suffix = name.rpartition(".")
        keep = f".{suffix}" if dot and len(suffix) <= 10 else ""
        name = name[: MAX_NAME - len(keep)] + keep
    return name


async def _store_upload(request: Request, uploads_dir: Path) -> str:
    """Stream the body to ``uploads/<id>/<name>`` (the gate enforces size and pace)."""
    name = upload_name(request.headers.get("x-filename", ""))
    upload_id = new_id()
    partial = uploads_dir / f".{upload_id}.partial"
    try:
        partial.mkdir(parents=True)  # the uploads folder may have been deleted under us
        with (partial / name).open("wb") as handle:
            async for chunk in request.stream():
                handle.write(chunk)
        os.replace(partial, uploads_dir / upload_id)
    except OSError as error:
        status = 507 if error.errno in (errno.ENOSPC, errno.EDQUOT) else 500
        raise HTTPException(
            status, f"The worker cannot store the upload in {uploads_dir}: {error.strerror}.",
        ) from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return upload_id


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is ``{"detail": str}``; malformed JSON is 400, a bad field 422."""

    @app.exception_handler(RefError)
    async def ref_error(_request: Request, error: RefError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status)

    @app.exception_handler(SettingsError)
    async def settings_error(_request: Request, error: SettingsError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(problem["type"] == "json_invalid" for problem in problems):
            return JSONResponse(
                {"detail": "The request body is not valid JSON."}, status_code=400
            )
        # In a union (str | ImageSpec) the deepest error is the one that says what is wrong.
        worst = max(problems, key=lambda problem: len(problem["loc"]))
        parts = [str(p) for p in worst["loc"] if p not in ("body", "str", "ImageSpec")]
        if not parts and worst["type"] == "model_attributes_type":
            return JSONResponse(
                {"detail": "The body must be a JSON object (Content-Type: application/json)."},
                status_code=422,
            )
        message = worst["msg"].removeprefix("Value error, ")
        return JSONResponse(
            {"detail": f"Invalid '{'.'.join(parts) or 'body'}': {message}."}, status_code=422
        )

    @app.exception_handler(Exception)
    async def internal(_request: Request, error: Exception) -> JSONResponse:
        say("".join(traceback.format_exception(error)))
        return JSONResponse(
            {"detail": f"Internal error in the worker ({type(error).__name__}: {error})."},
            status_code=500,
        )
