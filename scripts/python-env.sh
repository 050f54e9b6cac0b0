#!/usr/bin/env bash
# Creates or updates .venv with the pinned test tools (tests/requirements.txt): moto[server],
# cfn-lint, the SAM CLI. Sourced by scripts/test.sh and scripts/demo.sh; reinstalls only when the
# requirements change.
set -euo pipefail
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  # Debian's system Python ships venv/ensurepip separately.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "error: python3 has no venv module: install python3-venv" >&2; exit 1
  fi
fi
# PREFLIGHT_REQUIREMENTS picks a smaller set (the demo's); the default is everything the tests use.
requirements=${PREFLIGHT_REQUIREMENTS:-tests/requirements.txt}
stamp=.venv/.requirements.sha256
wanted=$(cat "$requirements" tests/requirements-demo.txt | sha256sum | cut -d' ' -f1)
full=$(cat tests/requirements.txt tests/requirements-demo.txt | sha256sum | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
# The full set includes the demo's: a venv made for the tests serves the demo as it is.
if [ ! -x .venv/bin/python ] || { [ "$have" != "$wanted" ] && [ "$have" != "$full" ]; }; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$wanted" > "$stamp"
fi
