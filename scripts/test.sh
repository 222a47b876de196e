#!/usr/bin/env bash
# The test command from the README: lint, then the whole suite on real bpy, torch and files.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
