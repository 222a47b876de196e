#!/usr/bin/env bash
# The test command from the README: lint, then the whole suite on real bpy, torch and files.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh" --lts
cd "$root"
.venv/bin/ruff check .
# The add-on suites again on Blender 4.2 LTS (the oldest we support); the worker they
# start still runs from .venv. Skipped when pytest arguments pick particular tests.
if [ $# -eq 0 ]; then
  echo "[test] add-on, export and render tests on Blender 4.2 LTS (bpy 4.2.0)"
  .venv/blender42/bin/python -m pytest -q -p no:cacheprovider tests/addon tests/export tests/render
  echo "[test] the whole suite on Blender 5.0 (bpy 5.0.1)"
fi
exec .venv/bin/python -m pytest -q "$@"
