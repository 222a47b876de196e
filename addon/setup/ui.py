"""Drawing the worker set-up: the box in Preferences and the offer in the sidebar panel."""

from __future__ import annotations

import textwrap

from ..run_states import DONE, FAILED
from . import env, installer, torch_builds
from .location import worker_env_dir
from .operators import OFFLINE_MESSAGE, current_job, downloads_forbidden

_WRAP = 90


def _lines(layout, text: str, icon: str = "NONE") -> None:
    """A long message as several labels (Blender labels do not wrap)."""
    for i, line in enumerate(textwrap.wrap(text, _WRAP)):
        layout.label(text=line, icon=icon if i == 0 else "BLANK1")


def _progress(layout, job: installer.SetupJob) -> None:
    text = f"{job.step}: {job.message}" if job.message else job.step
    if hasattr(layout, "progress"):  # UILayout.progress exists from Blender 4.0
        layout.progress(factor=job.fraction, type="BAR", text=text[:_WRAP])
    else:
        layout.label(text=f"{job.fraction:.0%} {text}")
    row = layout.row()
    row.operator("restyle.setup_worker", text="Cancel", icon="CANCEL").mode = "CANCEL"
    row.operator("restyle.open_setup_log", icon="TEXT")


def draw_setup(layout, prefs) -> None:
    """The 'Local Worker Set-up' box: status line, build choice, Install/Repair/Remove."""
    box = layout.box()
    box.label(text="Local Worker Set-up", icon="SETTINGS")
    job = current_job()
    if job is not None and job.running:
        _progress(box, job)
        return
    folder = worker_env_dir()
    stamp = env.read_stamp(folder)
    if job is not None and job.state != DONE:
        _lines(box, job.message, "ERROR" if job.state == FAILED else "INFO")
    if stamp is not None:
        box.label(text=env.status_text(stamp), icon="CHECKMARK")
        if stamp.get("requirements_sha256") != env.requirements_digest():
            box.label(text="Set up for another Restyle version: press Repair", icon="ERROR")
    elif folder.is_dir():
        box.label(text="A set-up did not finish: set up again, or Remove it", icon="ERROR")
    else:
        box.label(text="No local worker yet: the set-up downloads torch and the stylizer's "
                  "packages (about 0.8 GB on disk for CPU)", icon="INFO")
    if downloads_forbidden():
        _lines(box, OFFLINE_MESSAGE, "INTERNET_OFFLINE")
    row = box.row(align=True)
    row.label(text="Torch build:")
    for build in torch_builds.available_builds():
        row.prop_enum(prefs, "worker_build", build, text=torch_builds.build_label(build))
    row = box.row()
    if stamp is None:
        row.operator("restyle.setup_worker", icon="IMPORT").mode = "INSTALL"
    else:
        row.operator("restyle.setup_worker", text="Repair", icon="TOOL_SETTINGS").mode = "REPAIR"
    if folder.exists():
        row.operator("restyle.setup_worker", text="Remove", icon="TRASH").mode = "REMOVE"
    row = box.row()
    wheels = row.operator("restyle.setup_worker", text="Install from Wheel Folder…",
                          icon="FILE_FOLDER")
    wheels.mode, wheels.browse = "INSTALL", True
    row.operator("restyle.open_setup_log", icon="TEXT")


def draw_missing_worker(layout, prefs, python: str) -> None:
    """In the sidebar: when there is no worker Python yet, offer the set-up right there."""
    if prefs.worker_mode != "LOCAL" or python:
        return
    box = layout.box()
    job = current_job()
    if job is not None and job.running:
        box.label(text="Setting up the local worker", icon="SORTTIME")
        _progress(box, job)
        return
    box.label(text="No stylizer worker set up yet", icon="ERROR")
    if job is not None and job.state == FAILED:
        _lines(box, job.message)
    box.operator("restyle.setup_worker", icon="IMPORT").mode = "INSTALL"
