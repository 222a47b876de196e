"""Deletes old finished jobs and uploads so a long-running (studio) worker's disk stays bounded.

Clients are expected to fetch results soon after a job ends; a job folder or an
upload older than ``--keep-hours`` is removed. Queued and running jobs are never
touched.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from .jobs import JobQueue


def prune(jobs: JobQueue, uploads_dir: Path, max_age_s: float) -> int:
    """Remove finished jobs and uploads older than ``max_age_s``; returns how many went."""
    cutoff = time.time() - max_age_s
    removed = 0
    for job in jobs.finished_before(cutoff):
        jobs.forget(job.id)
        shutil.rmtree(job.folder, ignore_errors=True)
        removed += 1
    for folder in uploads_dir.iterdir() if uploads_dir.is_dir() else ():
        try:
            old = folder.stat().st_mtime < cutoff
        except OSError:
            continue  # removed meanwhile
        if old:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def start_janitor(jobs: JobQueue, uploads_dir: Path, max_age_s: float) -> threading.Thread:
    """Prune now and then every ``max_age_s / 4`` (at most hourly) in a daemon thread."""
    period = min(3600.0, max(0.2, max_age_s / 4))

    def loop() -> None:
        while True:
            prune(jobs, uploads_dir, max_age_s)
            time.sleep(period)

    thread = threading.Thread(target=loop, name="restyle-janitor", daemon=True)
    thread.start()
    return thread
