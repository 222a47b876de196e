"""What a batch leaves in DIR: ``batch.json``, per-scene done records, logs, summary lines.

A done record (``DIR/.restyle-batch/<stem>.json``) holds the scene's key (its .blend,
the model and the settings) and the sha256 of every file the scene read; a re-run skips
the scene only when the key matches, those files are unchanged and the outputs exist.
``batch.json`` is rewritten (atomically) after every scene, so it is current even when
the driver itself is stopped half-way.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..protocol import DONE
from .settings import STATE_DIR, BatchSettings

SUMMARY_FILE = "batch.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: dict) -> None:
    """Write ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def record_path(settings: BatchSettings, scene: Path) -> Path:
    return settings.out / STATE_DIR / f"{scene.stem}.json"


def previous_result(settings: BatchSettings, scene: Path, key: str) -> dict | None:
    """The entry of an earlier run of this scene with the same key, if still valid."""
    path = record_path(settings, scene)
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("key") != key:
        return None
    entry = record.get("entry") or {}
    outputs = [entry.get(name) for name in ("output", "report", "blend")]
    if not all(out and Path(out).is_file() for out in outputs):
        return None
    for name, digest in (record.get("inputs") or {}).items():
        if not Path(name).is_file() or sha256_file(Path(name)) != digest:
            return None
    return entry


def save_record(settings: BatchSettings, scene: Path, key: str, entry: dict,
                inputs: list[str]) -> None:
    """Remember a finished scene (key, the files it read and their hashes, its entry)."""
    hashes = {name: sha256_file(Path(name)) for name in inputs if Path(name).is_file()}
    write_json(record_path(settings, scene), {"key": key, "inputs": hashes, "entry": entry})


def summary_line(index: int, total: int, entry: dict) -> str:
    """One line per scene for stdout: state, name, time, and the output or the error."""
    name = Path(entry["scene"]).name
    state = "skipped" if entry.get("skipped") else entry["state"]
    done = entry["state"] == DONE
    tail = f"-> {entry['output']}" if done else entry["error"].splitlines()[0]
    retried = f" (attempt {entry['attempts']})" if entry.get("attempts", 1) > 1 else ""
    return f"[{index}/{total}] {state:<7} {name} {entry['seconds']:.1f} s{retried}  {tail}"
