#!/usr/bin/env bash
# Preflight's main job, in one command: starts a local AWS (moto server on loopback), seeds an
# account with the mistakes of STORIES.md (stories 2, 4, 5, 6), runs `preflight check` on it and
# shows the report; then does the same for the corrected account, which passes.
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
cargo build --quiet --locked --bin preflight
work=$(mktemp -d)
trap 'exec 4>&- 2>/dev/null || true; rm -rf "$work"' EXIT

run() {
  local variant=$1
  mkfifo "$work/stdin-$variant"
  .venv/bin/python tests/support/aws_local.py < "$work/stdin-$variant" > "$work/moto-$variant" 2>/dev/null &
  exec 4> "$work/stdin-$variant"   # the launcher exits when this closes
  for _ in $(seq 100); do grep -q READY "$work/moto-$variant" 2>/dev/null && break; sleep 0.1; done
  local url; url=$(sed -n 's/^READY //p' "$work/moto-$variant")
  .venv/bin/python tests/support/seed.py "$url" "$variant" "$work/spec-$variant.json"
  printf '\n\033[1m== the %s account (spec: the stories'"'"' keys, parameters and key policy)\033[0m\n\n' "$variant"
  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true \
    target/debug/preflight check --spec "$work/spec-$variant.json" --region us-east-1 --endpoint-url "$url" \
    && echo "(exit status 0: the deploy would go on)" || echo "(exit status $?: the deploy would stop here)"
  exec 4>&-
}

run broken
run fixed
