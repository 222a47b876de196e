"""Deletes old jobs and uploads so a long-running (studio) worker's disk stays bounded.

Clients are expected to fetch results soon after a job ends; a job folder or an
upload older than ``--keep-hours`` is removed, including folders no running
worker knows (left by a killed one). Only names this service makes (32 hex
digits, and hidden ``.<id>.partial`` uploads) are ever touched, so nothing else
in the jobs folder is lost. Queued and running jobs and their uploads are kept.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
import time
from pathlib import Path

from .jobs import Job, JobQueue

_OURS = re.compile(r"^\.?[0-9a-f]{32}(\.partial)?$")


def delete_job(jobs: JobQueue, job: Job, uploads_dir: Path) -> None:
    """Forget a finished job, delete its folder and the uploads no live job still needs."""
    jobs.forget(job.id)
    shutil.rmtree(job.folder, ignore_errors=True)
    needed = {upload for other in jobs.all() if other.live for upload in other.uploads}
    for upload in job.uploads - needed:
        shutil.rmtree(uploads_dir / upload, ignore_errors=True)


def prune(jobs: JobQueue, jobs_dir: Path, max_age_s: float) -> int:
    """Remove finished jobs and stray job/upload folders older than ``max_age_s``; how many."""
    cutoff = time.time() - max_age_s
    uploads_dir = jobs_dir / "uploads"
    removed = 0
    for job in jobs.finished_before(cutoff):
        delete_job(jobs, job, uploads_dir)
        removed += 1
    live = {job.id for job in jobs.all() if job.live}
    live |= {upload for job in jobs.all() if job.live for upload in job.uploads}
    known = {job.id for job in jobs.all()}
    for folder in (*_entries(jobs_dir), *_entries(uploads_dir)):
        if folder.name in live or folder.name in known or not _OURS.match(folder.name):
            continue
        try:
            old = folder.stat().st_mtime < cutoff
        except OSError:
            continue  # removed meanwhile
        if old:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _entries(folder: Path) -> list[Path]:
    """The entries of ``folder``, none if it is gone."""
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def start_janitor(jobs: JobQueue, jobs_dir: Path, max_age_s: float) -> threading.Thread:
    """Prune now and then every ``max_age_s / 4`` (at most hourly) in a daemon thread."""
    period = min(3600.0, max(0.2, max_age_s / 4))

    def loop() -> None:
        while True:
            with contextlib.suppress(OSError):  # a disk problem now: try again later
                prune(jobs, jobs_dir, max_age_s)
            time.sleep(period)

    thread = threading.Thread(target=loop, name="restyle-janitor", daemon=True)
    thread.start()
    return thread
