#!/usr/bin/env bash
# Creates .venv with the pinned requirements and the glTF validator, once.
# Idempotent: a second run only checks stamps and returns in well under a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

pick_python() {
  for cand in python3.11 python3 python; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$cand"; return 0
    fi
  done
  echo "Restyle needs Python 3.11 (the bpy 5.0.1 wheel is built for it); none found on PATH." >&2
  exit 1
}

if [ ! -x "$venv/bin/python" ]; then
  echo "[bootstrap] creating $venv"
  "$(pick_python)" -m venv "$venv"
fi

# install_requirements VENV FILE: pip-install FILE into VENV unless its stamp says it's done.
# The stamp covers the worker pins too: FILE includes them (-r / -c).
install_requirements() {
  local target="$1" file="$2" stamp want
  stamp="$target/.$(basename "$file").sha256"
  want="$(cat "$file" "$root/core/requirements-worker.txt" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "[bootstrap] installing $(basename "$file") into $target"
    "$target/bin/python" -m pip install --quiet --disable-pip-version-check -r "$file"
    echo "$want" > "$stamp"
  fi
}

install_requirements "$venv" "$root/requirements.txt"

# --lts: also a venv with Blender 4.2 LTS (bpy 4.2.0) for the add-on tests on the oldest
# Blender we support.
if [ "${1:-}" = "--lts" ]; then
  lts="$venv/blender42"
  [ -x "$lts/bin/python" ] || "$(pick_python)" -m venv "$lts"
  install_requirements "$lts" "$root/requirements-blender42.txt"
fi

validator="$venv/node/node_modules/gltf-validator"
if [ ! -d "$validator" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "[bootstrap] installing the Khronos glTF validator (npm gltf-validator)"
    npm install --silent --no-audit --no-fund --prefix "$venv/node" gltf-validator@2.0.0-dev.3.10 >/dev/null
  else
    echo "[bootstrap] npm not found: glTF validation will be skipped (install Node.js 18+ to enable it)" >&2
  fi
fi
