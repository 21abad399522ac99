#!/usr/bin/env bash
# The full check: lint, format, types, layer contract, then every test. Fails on the first red step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/bootstrap.sh"
bin="$root/.venv/bin"

echo "== ruff check";   "$bin/ruff" check .
echo "== ruff format";  "$bin/ruff" format --check .
echo "== mypy";         "$bin/mypy"
echo "== import-linter"; "$bin/lint-imports"
echo "== models lint";  "$bin/shuangshi" lint   # bpmn/ and forms/: bpmnlint, form schema, FEEL, job types
echo "== 只减不增 audit"; "$bin/shuangshi" audit only-decrease >/dev/null || { "$bin/shuangshi" audit only-decrease; exit 1; }
echo "== pytest"
# pytest exits 5 when it collects no test: that is a failure here, like any other non-zero exit.
"$bin/pytest" "$@"
echo "== scenarios on a shared gateway (the real-Zeebe target's path, on a separate embedded engine)"
"$root/scripts/shared-gateway-scenarios.sh"
