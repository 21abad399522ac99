#!/usr/bin/env bash
# Runs the scenario tests the real-Zeebe target runs (`pytest -m zeebe`) against one long-lived
# gateway started apart from the tests: the embedded engine in its own process with a controlled
# clock. This exercises the shared-cluster path of tests/process (target selection by environment,
# clock through REST, cleanup between tests) on machines without Docker.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.venv/bin"
work="$(mktemp -d)"
engine_pid=""
cleanup() {
  if [ -n "$engine_pid" ]; then
    kill "$engine_pid" 2>/dev/null || true
    wait "$engine_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

SHUANGSHI_LOG_FORMAT=json "$bin/shuangshi" engine --grpc-address 127.0.0.1:0 --rest-address 127.0.0.1:0 \
  --clock controlled --data-dir "$work/engine" 2> "$work/engine.log" &
engine_pid=$!

ready=""
for _ in $(seq 1 300); do
  ready="$(grep -m1 '"engine.ready"' "$work/engine.log" || true)"
  [ -n "$ready" ] && break
  kill -0 "$engine_pid" 2>/dev/null || { cat "$work/engine.log" >&2; exit 1; }
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "the engine did not log engine.ready within 30 s" >&2
  cat "$work/engine.log" >&2
  exit 1
fi
read -r grpc rest < <(printf '%s' "$ready" | "$bin/python" -c \
  'import json, sys; r = json.load(sys.stdin); print(r["grpc_address"], r["rest_address"])')

SHUANGSHI_TEST_TARGET=zeebe ZEEBE_ADDRESS="$grpc" CAMUNDA_REST_ADDRESS="http://$rest" \
  "$bin/pytest" -q -m zeebe -p no:cacheprovider "$root/tests/process"
