#!/usr/bin/env bash
# Install uv (the workspace's package manager) into ~/.cache/alliance/tools when it is not on PATH.
set -euo pipefail
UV_VERSION=0.13.8
TOOLS="$HOME/.cache/alliance/tools"
if command -v uv >/dev/null 2>&1 || [ -x "$TOOLS/bin/uv" ]; then exit 0; fi
PYTHON=$(command -v python3.11 || command -v python3)
"$PYTHON" -m venv "$TOOLS"
"$TOOLS/bin/pip" install --quiet "uv==$UV_VERSION"
echo "uv $UV_VERSION installed in $TOOLS/bin" >&2
