"""Build the worker's virtual environment in a background thread, step by step.

Each step is a subprocess (``venv``, ``ensurepip``, ``pip``, a torch import, the worker
itself) whose output goes to one log file, so Blender never waits on it and the user can
read what happened. Only after the new environment imported torch and answered
``/health`` is it stamped ready; a cancel deletes the half-made environment, a failure
leaves it unstamped (never taken for ready) with a message saying what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..run_states import CANCELLED, DONE, FAILED, RUNNING
from ..worker.client import WorkerClient, WorkerError
from . import env, pip_log, torch_builds

WORKER_START_TIMEOUT_S = 180.0
WORKER_STOP_GRACE_S = 15.0
#: Prints what torch sees in the new environment (the first half of the health check).
_TORCH_CHECK = (
    "import json, platform, torch\n"
    "cuda = torch.cuda.is_available()\n"
    "print(json.dumps({'torch': torch.__version__, 'python': platform.python_version(),\n"
    "                  'gpu': torch.cuda.get_device_name(0) if cuda else None}))\n"
)


class SetupCancelled(Exception):
    """The user pressed Cancel."""


class SetupFailed(Exception):
    """A step failed; the message says what and what to do."""


@dataclass
class SetupPlan:
    """What to set up: where, from which Python, which torch build, from where."""

    env_dir: Path
    log_path: Path
    base_python: str = sys.executable
    build: str = "CPU"
    wheel_dir: Path | None = None
    repair: bool = False
    requirements: Path = env.REQUIREMENTS
    platform: str = sys.platform


@dataclass
class _Step:
    label: str
    start: float  # share of the whole set-up done when this step starts
    end: float
    run: Callable[[], None]


@dataclass
class SetupJob:
    """One set-up run; ``start()`` returns at once, the UI reads the fields as it goes."""

    plan: SetupPlan
    state: str = RUNNING
    fraction: float = 0.0
    step: str = "Starting"
    message: str = ""  # the current detail, then the outcome (failures: what to do, the log)
    stamp: dict = field(default_factory=dict)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _proc: subprocess.Popen | None = None
    _log: IO[str] | None = None
    _thread: threading.Thread | None = None
    _sources_have_build: bool = True
    _step_range: tuple[float, float] = (0.0, 0.0)

    # -- control ------------------------------------------------------------------------

    def start(self) -> SetupJob:
        """Run the set-up in a daemon thread."""
        self._thread = threading.Thread(target=self._main, name="restyle-setup", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def cancel(self) -> None:
        """Stop at once: the running subprocess is terminated, the environment deleted."""
        self._cancel.set()
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()

    def wait(self, timeout: float | None = None) -> str:
        """Block until the set-up ends (headless scripts); its final state."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state

    # -- the steps ------------------------------------------------------------------------

    def _steps(self) -> list[_Step]:
        steps = [_Step("Creating the environment", 0.0, 0.04, self._create_venv),
                 _Step("Installing pip", 0.04, 0.08, self._ensure_pip)]
        if self.plan.wheel_dir is None:
            steps.append(_Step("Choosing the torch build", 0.08, 0.10, self._probe_torch))
        steps += [_Step("Installing packages", 0.10, 0.85, self._pip_install),
                  _Step("Checking torch", 0.85, 0.90, self._check_torch),
                  _Step("Starting the worker once", 0.90, 1.0, self._check_worker)]
        return steps

    def _main(self) -> None:
        plan = self.plan
        try:
            plan.log_path.parent.mkdir(parents=True, exist_ok=True)
            with plan.log_path.open("w", encoding="utf-8") as self._log:
                self._write(f"Restyle worker set-up {time.ctime()}: {plan}\n")
                try:
                    for step in self._steps():
                        self._enter(step)
                        step.run()
                    env.write_stamp(plan.env_dir, self.stamp)
                    self._finish(DONE, env.status_text(self.stamp))
                except SetupCancelled:
                    self._remove_env()
                    self._finish(CANCELLED, "Set-up cancelled; the unfinished environment was "
                                 "removed.")
                except SetupFailed as exc:
                    self._finish(FAILED, f"{self.step} failed: {exc}")
                except OSError as exc:  # a file or folder of the environment, or its stamp
                    self._finish(FAILED, f"{self.step} failed: {exc!r}")
                except BaseException as exc:
                    # A bug: the set-up still ends (the UI waits for that), with the
                    # traceback in the log, then it surfaces as this thread's traceback.
                    self._write(traceback.format_exc())
                    self._finish(FAILED, f"{self.step} failed: {exc!r}")
                    raise
        except OSError as exc:
            self._finish(FAILED, f"Cannot write the set-up log {plan.log_path}: {exc.strerror}")
        finally:
            self._log = None

    def _create_venv(self) -> None:
        plan = self.plan
        env.clear_stamp(plan.env_dir)
        if plan.repair and self._runs(env.venv_python(plan.env_dir)):
            self._write("Reusing the existing environment.\n")
            return
        if not env.is_ours(plan.env_dir):
            raise SetupFailed(f"{plan.env_dir} holds files Restyle did not make; move them away "
                              "and try again.")
        for folder in (plan.env_dir, *plan.env_dir.parent.glob(
                f"{plan.env_dir.name}{env.TRASH_SUFFIX}*")):  # and what a Remove left behind
            shutil.rmtree(folder, ignore_errors=True)
        plan.env_dir.mkdir(parents=True, exist_ok=True)
        (plan.env_dir / env.MARKER_NAME).write_text("Made by Restyle's worker set-up.\n")
        self._run([plan.base_python, "-m", "venv", "--without-pip", str(plan.env_dir)])

    def _ensure_pip(self) -> None:
        python = str(env.venv_python(self.plan.env_dir))
        if self._runs(python, "-m", "pip", "--version"):
            return
        self._run([python, "-m", "ensurepip", "--upgrade", "--default-pip"])

    def _probe_torch(self) -> None:
        """Ask pip which torch its own sources (index, mirror, cache) would install."""
        build, pin = self.plan.build, env.torch_pin(self.plan.requirements)
        if pin is None:  # nothing to pick a build of
            return
        if build != "CPU" or self.plan.platform != "linux":
            self._sources_have_build = torch_builds.offers_build("", build, self.plan.platform)
            return
        with tempfile.TemporaryDirectory(prefix="restyle-probe-") as tmp:
            report = Path(tmp) / "report.json"
            try:
                self._run([self._pip_python(), "-m", "pip",
                           *torch_builds.probe_args(pin, report)])
                text = report.read_text(encoding="utf-8")
            except (SetupFailed, OSError):
                text = ""  # the install step reports connection problems properly
        self._sources_have_build = torch_builds.offers_build(text, build, self.plan.platform)

    def _pip_install(self) -> None:
        plan = self.plan
        args = [self._pip_python(), "-m", "pip", "install", "--disable-pip-version-check",
                "--no-input", "--progress-bar", "off", "--no-compile",  # .pyc on first use:
                "-r", str(plan.requirements)]  # 6000 torch files never imported cost 170 MB
        if plan.wheel_dir is not None:
            args += ["--isolated", "--no-index", "--find-links", str(plan.wheel_dir)]
        else:
            args += torch_builds.index_args(plan.build, self._sources_have_build)
        progress = pip_log.PipProgress()

        def on_line(line: str) -> None:
            if progress.feed(line):
                self._advance(progress.fraction, progress.message)

        self._run(args, on_line)

    def _check_torch(self) -> None:
        out = self._run([self._pip_python(), "-c", _TORCH_CHECK])
        try:
            self.stamp = json.loads(out.strip().splitlines()[-1])
        except (IndexError, ValueError):  # nothing printed, or something after the report
            raise SetupFailed(f"torch printed no version report (its output ends "
                              f"{out.strip()[-200:]!r}); press Repair.") from None

    def _check_worker(self) -> None:
        python = self._pip_python()
        with tempfile.TemporaryDirectory(prefix="restyle-setup-",
                                         ignore_cleanup_errors=True) as tmp:
            client = WorkerClient(python, jobs_dir=tmp, log_path=Path(tmp, "worker.log"))
            try:
                client.start()
                deadline = time.monotonic() + WORKER_START_TIMEOUT_S
                while not client.poll():
                    self._check_cancel()
                    if time.monotonic() > deadline:
                        raise SetupFailed(f"the worker did not start within "
                                          f"{WORKER_START_TIMEOUT_S:.0f} s; press Repair.")
                    time.sleep(0.1)
                health = client.health()
            except WorkerError as exc:
                raise SetupFailed(f"the worker does not start in the new environment: {exc}"
                                  ) from exc
            finally:  # a worker slow to exit (a busy machine) does not fail the set-up
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    client.stop(grace=WORKER_STOP_GRACE_S)
                with contextlib.suppress(OSError):
                    self._write(Path(tmp, "worker.log").read_text("utf-8", "replace"))
        self._write(f"/health: {json.dumps(health)}\n")
        self.stamp.update(device=health.get("device", "cpu"), version=health.get("version"),
                          build=self.plan.build, created=time.strftime("%Y-%m-%dT%H:%M:%S"),
                          requirements_sha256=env.requirements_digest(self.plan.requirements))

    # -- helpers ----------------------------------------------------------------------------

    def _pip_python(self) -> str:
        return str(env.venv_python(self.plan.env_dir))

    def _environ(self) -> dict[str, str]:
        """The subprocesses' environment: no Blender Python paths; for a wheel folder no
        pip configuration either, so exactly that folder is used."""
        skip = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP",  # Blender's Python paths
                "PIP_USER", "PIP_TARGET", "PIP_PREFIX")  # installs that would miss the venv
        wheels = self.plan.wheel_dir is not None
        environ = {k: v for k, v in os.environ.items()
                   if k not in skip and not (wheels and k.startswith("PIP_"))}
        if wheels:
            environ["PIP_CONFIG_FILE"] = os.devnull
        environ["PYTHONUNBUFFERED"] = "1"
        return environ

    def _runs(self, *args: str | os.PathLike) -> bool:
        """True when a quick command succeeds (is this interpreter / pip usable?)."""
        try:
            return subprocess.run([str(a) for a in args], capture_output=True, timeout=60,
                                  env=self._environ(), stdin=subprocess.DEVNULL,
                                  creationflags=_NO_WINDOW).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _run(self, args: list[str], on_line: Callable[[str], None] | None = None) -> str:
        """Run one command, copying its output to the log; SetupFailed with a diagnosis."""
        self._check_cancel()
        self._write(f"$ {subprocess.list2cmdline(args)}\n")
        lines: list[str] = []
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self._environ(), text=True,
                                    encoding="utf-8", errors="replace", creationflags=_NO_WINDOW)
        except OSError as exc:
            raise SetupFailed(f"cannot run {args[0]}: {exc.strerror}.") from exc
        with self._lock:
            self._proc = proc
        if self._cancel.is_set():
            proc.terminate()
        for line in proc.stdout:
            self._write(line)
            lines.append(line)
            if on_line is not None:
                on_line(line)
        code = proc.wait()
        with self._lock:
            self._proc = None
        self._check_cancel()
        if code != 0:
            self._write(f"(exit code {code})\n")
            plan = self.plan
            need = f"{torch_builds.NEEDED_BYTES[plan.build] / 2**30:.0f} GB"
            python = ".".join(map(str, sys.version_info[:2]))
            raise SetupFailed(pip_log.explain(
                "".join(lines), str(plan.wheel_dir) if plan.wheel_dir else None,
                str(plan.env_dir), need, python, plan.platform))
        return "".join(lines)

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise SetupCancelled

    def _enter(self, step: _Step) -> None:
        self._step_range = (step.start, step.end)
        with self._lock:
            self.step, self.message, self.fraction = step.label, "", step.start
        self._write(f"--- {step.label}\n")

    def _advance(self, within: float, message: str) -> None:
        start, end = self._step_range
        with self._lock:
            self.fraction = start + (end - start) * within
            self.message = message

    def _write(self, text: str) -> None:
        if self._log is not None:
            self._log.write(text)
            self._log.flush()

    def _remove_env(self) -> None:
        """Delete the unfinished environment (only a folder this set-up made)."""
        if env.is_ours(self.plan.env_dir):
            shutil.rmtree(self.plan.env_dir, ignore_errors=True)
        env.clear_stamp(self.plan.env_dir)

    def _finish(self, state: str, message: str) -> None:
        if state == FAILED:
            message += f" Log: {self.plan.log_path}"
        self._write(f"=== {state}: {message}\n")
        with self._lock:
            self.state, self.message = state, message
            self.fraction = 1.0 if state == DONE else self.fraction


_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)
