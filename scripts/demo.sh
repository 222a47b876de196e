#!/usr/bin/env bash
# The main job from the README: restyle the bundled demo with a bundled style into out/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
exec .venv/bin/python scripts/demo.py "$@"
