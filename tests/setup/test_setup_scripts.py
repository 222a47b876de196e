"""The studio scripts: a hosted extension repository, and a wheel folder for offline seats."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_build_repo_makes_an_index_that_lists_the_zip(tmp_path):
    _run(str(ROOT / "scripts" / "build_repo.py"), "--out", str(tmp_path))
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    index = json.loads((tmp_path / "index.json").read_text())
    (entry,) = [e for e in index["data"] if e["id"] == "restyle"]
    archive = tmp_path / f"restyle-{manifest['version']}.zip"
    assert entry["archive_url"] == f"./{archive.name}" and archive.is_file()
    assert entry["archive_size"] == archive.stat().st_size
    assert entry["archive_hash"] == "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
    assert entry["version"] == manifest["version"]
    assert entry["permissions"] == manifest["permissions"]
    assert "restyle" in (tmp_path / "index.html").read_text()


@pytest.mark.parametrize("target", [[], ["--platform", "windows", "--python-version", "3.11"]])
def test_download_wheels_fills_a_folder_for_the_target(tmp_path, target):
    requirements = tmp_path / "tiny.txt"
    requirements.write_text("annotated-types==0.8.0\n")
    folder = tmp_path / "wheels"
    done = _run(str(ROOT / "scripts" / "download_wheels.py"), str(folder),
                "--requirements", str(requirements), *target)
    assert [p.name for p in folder.glob("*.whl")] == ["annotated_types-0.8.0-py3-none-any.whl"]
    assert "--only-binary=:all:" in done.stdout
    assert ("win_amd64" in done.stdout) == bool(target)
