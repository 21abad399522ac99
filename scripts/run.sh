#!/usr/bin/env bash
# The system's main job on the embedded default: sets up .venv if needed, then runs `shuangshi up`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
exec "$root/.venv/bin/shuangshi" up "$@"
