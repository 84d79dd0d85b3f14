#!/usr/bin/env bash
# Run a command with the backend and the action server up; both stop when it ends.
# The action server needs ACTIONS_TOKEN in the environment (make shell loads var/secrets.env).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
.venv/bin/python -m bot serve > var/backend.log 2>&1 &
backend=$!
.venv/bin/python scripts/action_server.py --actions actions --port 5055 > var/actions.log 2>&1 &
actions=$!
trap 'kill $backend $actions 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  if curl -sf http://127.0.0.1:5055/health >/dev/null && curl -sf http://127.0.0.1:${BOT_PORT:-8000}/api/health >/dev/null; then
    break
  fi
  sleep 1
done
"$@"
