#!/usr/bin/env bash
# `rasa data validate --fail-on-warnings`, made strict: Rasa 3.6 prints "utterance not used"
# warnings without failing, and prints one for every response that only an action chooses by
# name (most of ours: thin actions pick responses, see tests/test_domain.py, which checks each
# is really used). Those are allowed; any other warning fails.
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
.venv/bin/rasa data validate --fail-on-warnings --max-history 5 >"$log" 2>&1 || { cat "$log"; exit 1; }
others=$(grep "UserWarning" "$log" | grep -v "is not used in any story or rule" || true)
if [ -n "$others" ]; then
  echo "$others"
  exit 1
fi
echo "rasa data validate: no other warnings ($(grep -c 'is not used in any story or rule' "$log") responses are chosen by actions only)"
