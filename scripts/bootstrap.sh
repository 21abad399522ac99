#!/usr/bin/env bash
# Creates .venv in the repository root and installs the project with its dev tools and the npm
# packages the tests use. Re-running is cheap: it reinstalls only when pyproject.toml or
# package-lock.json changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi

stamp=.venv/.shuangshi-installed
want="$(cat pyproject.toml package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  if [ -f package-lock.json ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "npm is needed for the FEEL and BPMN lint tooling: install Node.js 20 and npm" >&2
      exit 1
    fi
    npm ci --no-audit --no-fund --loglevel=error
  fi
  echo "$want" > "$stamp"
fi
