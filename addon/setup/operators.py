"""``restyle.setup_worker`` (install, repair, remove, cancel) and ``restyle.open_setup_log``.

With a UI the set-up runs in a background thread and a timer redraws the progress in
Preferences and the sidebar; headless (``blender -b``, the bpy module) the operator waits
for it, so studios can script it. Downloads happen only when Blender may go online
(``downloads_forbidden``); a wheel folder needs no network.
"""

from __future__ import annotations

import atexit
import os
import shutil
import threading
from pathlib import Path

import bpy

from .. import session
from ..preferences import get_prefs
from ..run_states import DONE, FAILED
from . import env, installer, torch_builds
from .location import setup_log_path, worker_env_dir

_TICK_S = 0.25
#: Set to 1 to forbid downloads in headless runs too (like blender --offline-mode).
OFFLINE_ENV = "RESTYLE_OFFLINE"
OFFLINE_MESSAGE = (
    "Blender is set to work offline, so Restyle does not download the worker's packages. "
    "Allow it in Edit > Preferences > System > Network > Allow Online Access (in scripts: "
    "bpy.context.preferences.system.use_online_access = True; headless runs are offline "
    f"only with --offline-mode or {OFFLINE_ENV}=1), or use Install from Wheel "
    "Folder with a folder made by scripts/download_wheels.py on a machine with internet."
)


def downloads_forbidden() -> bool:
    """Whether the set-up may not download packages.

    With a UI, Blender's Allow Online Access decides. Headless (``blender -b``, the bpy
    module) there is no first-start prompt to answer, so a script that asks for the set-up
    has consented, unless Blender was started with ``--offline-mode`` or RESTYLE_OFFLINE=1.
    """
    if os.environ.get(OFFLINE_ENV) == "1":
        return True
    if bpy.app.background and not bpy.app.online_access_override:
        return False
    return not bpy.app.online_access

_job: installer.SetupJob | None = None


def current_job() -> installer.SetupJob | None:
    """The running set-up, or the last finished one (its message stays on show)."""
    return _job


def _redraw_all() -> None:
    """Show the new progress wherever it is drawn (Preferences, the Restyle sidebar)."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in {"PREFERENCES", "VIEW_3D", "NODE_EDITOR"}:
                area.tag_redraw()


def _tick() -> float | None:
    """Timer while a set-up runs with a UI: redraw, and stop once it has ended."""
    _redraw_all()
    if _job is not None and _job.running:
        return _TICK_S
    if _job is not None:
        print(f"Restyle: {_job.message}")
    return None


def _preflight(prefs, wheel_dir: Path | None, repair: bool) -> str:
    """Why a set-up cannot start now ('' when it can)."""
    try:
        torch_builds.check_build(prefs.worker_build)
    except ValueError as exc:
        return str(exc)
    if wheel_dir is not None:
        if not wheel_dir.is_dir() or not any(wheel_dir.glob("*.whl")):
            return (f"No .whl files in '{wheel_dir}': make a wheel folder with "
                    "scripts/download_wheels.py (see README) and pick that folder.")
    elif downloads_forbidden():
        return OFFLINE_MESSAGE
    folder = worker_env_dir()
    if not env.is_ours(folder):
        return f"'{folder}' holds files Restyle did not make; move them away and try again."
    existing = folder if folder.exists() else next(p for p in folder.parents if p.exists())
    need = torch_builds.NEEDED_BYTES[prefs.worker_build]
    free = shutil.disk_usage(existing).free
    if free < need and not (repair and env.venv_python(folder).is_file()):
        return (f"Not enough free disk space for the worker: {free / 2**30:.1f} GB free on the "
                f"drive of '{existing}', about {need / 2**30:.0f} GB needed.")
    return ""


class RESTYLE_OT_setup_worker(bpy.types.Operator):
    """Set up the stylizer worker: its own Python environment with torch, in the extension's user folder"""  # noqa: E501

    bl_idname = "restyle.setup_worker"
    bl_label = "Set Up Local Worker"

    mode: bpy.props.EnumProperty(
        name="Mode",
        items=[("INSTALL", "Install", "Make a fresh worker environment"),
               ("REPAIR", "Repair", "Re-run the set-up on the existing environment"),
               ("REMOVE", "Remove", "Delete the worker environment"),
               ("CANCEL", "Cancel", "Stop the running set-up")],
        default="INSTALL",
    )
    directory: bpy.props.StringProperty(
        name="Wheel Folder", subtype="DIR_PATH", default="",
        description="Install offline from this folder of wheels (scripts/download_wheels.py "
        "makes one); empty: download from the package index",
    )
    browse: bpy.props.BoolProperty(
        name="Browse", default=False, options={"HIDDEN", "SKIP_SAVE"},
        description="Pick the wheel folder in a file browser first",
    )

    @classmethod
    def description(cls, _context, props) -> str:
        if props.browse:
            return "Install offline from a folder of wheels made by scripts/download_wheels.py"
        return {"REPAIR": "Re-run the set-up on the existing worker environment",
                "REMOVE": "Delete the worker environment from disk",
                "CANCEL": "Stop the running set-up (the unfinished environment is removed)",
                }.get(props.mode, cls.__doc__)

    def invoke(self, context, _event):
        if self.browse:
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}
        return self.execute(context)

    def execute(self, context):
        global _job
        running = _job is not None and _job.running
        if self.mode == "CANCEL":
            if not running:
                self.report({"WARNING"}, "No worker set-up is running.")
                return {"CANCELLED"}
            _job.cancel()
            return {"FINISHED"}
        if running:
            self.report({"ERROR"}, "A worker set-up is already running: wait or cancel it.")
            return {"CANCELLED"}
        session.drop_client()  # the worker may run from the environment about to change
        if self.mode == "REMOVE":
            return self._remove()
        prefs = get_prefs(context)
        wheel_dir = Path(bpy.path.abspath(self.directory)) if self.directory.strip() else None
        repair = self.mode == "REPAIR"
        problem = _preflight(prefs, wheel_dir, repair)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        plan = installer.SetupPlan(env_dir=worker_env_dir(), log_path=setup_log_path(),
                                   build=prefs.worker_build, wheel_dir=wheel_dir, repair=repair)
        _job = installer.SetupJob(plan).start()
        if not (bpy.app.background or context.window is None):
            bpy.app.timers.register(_tick, first_interval=_TICK_S)
            self.report({"INFO"}, "Setting up the Restyle worker in the background…")
            return {"FINISHED"}
        _job.wait()
        if _job.state == DONE:
            self.report({"INFO"}, _job.message)
            return {"FINISHED"}
        self.report({"ERROR"} if _job.state == FAILED else {"WARNING"}, _job.message)
        return {"CANCELLED"}

    def _remove(self) -> set:
        global _job
        folder = worker_env_dir()
        if not folder.exists():
            self.report({"INFO"}, "There is no worker environment to remove.")
            return {"FINISHED"}
        if not env.is_ours(folder):
            self.report({"ERROR"}, f"'{folder}' holds files Restyle did not make; not removed.")
            return {"CANCELLED"}
        env.clear_stamp(folder)
        trash = folder.with_name(f"{folder.name}{env.TRASH_SUFFIX}{os.getpid()}")
        try:
            folder.rename(trash)  # gone at once; deleting ~1 GB of files may take a while
        except OSError as exc:
            self.report({"ERROR"}, f"Could not remove '{folder}' ({exc.strerror}; files in "
                        "use?): restart Blender and press Remove again.")
            return {"CANCELLED"}
        _job = None
        deleting = threading.Thread(target=shutil.rmtree, args=(trash, True), daemon=True)
        deleting.start()
        if bpy.app.background:
            deleting.join()
        self.report({"INFO"}, f"Removed the worker environment '{folder}'.")
        return {"FINISHED"}


class RESTYLE_OT_open_setup_log(bpy.types.Operator):
    """Open the log of the last worker set-up (every command and its output)"""

    bl_idname = "restyle.open_setup_log"
    bl_label = "Open Log"

    @classmethod
    def poll(cls, _context) -> bool:
        return setup_log_path().is_file()

    def execute(self, _context):
        bpy.ops.wm.path_open(filepath=str(setup_log_path()))
        return {"FINISHED"}


classes = (RESTYLE_OT_setup_worker, RESTYLE_OT_open_setup_log)


def _cancel_at_exit() -> None:
    """Quitting Blender mid-set-up stops pip (the environment stays unstamped: not ready)."""
    if _job is not None and _job.running:
        _job.cancel()


def add_exit_hook() -> None:
    """Stop a running set-up when Blender quits (called by the add-on's ``register``)."""
    atexit.register(_cancel_at_exit)


def remove_exit_hook() -> None:
    """Undo ``add_exit_hook`` and cancel a running set-up (waiting up to 30 s for it)."""
    global _job
    atexit.unregister(_cancel_at_exit)
    if _job is not None and _job.running:
        _job.cancel()
        _job.wait(30)
    _job = None
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
