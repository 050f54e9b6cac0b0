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
stamp=.venv/.requirements.sha256
wanted=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$wanted" > "$stamp"
fi
