#!/usr/bin/env bash
# Preflight's main job, in one command: starts a local AWS (moto server on loopback) and a fake DNS
# hierarchy (root and com servers on loopback addresses), seeds an account with the mistakes of
# docs/stories.md (stories 1 to 6), runs `preflight check` on it and shows the report; then does the
# same for the corrected account, which passes.
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
say "Python tools for the local AWS and DNS (.venv: moto, dnslib; installed once)"
PREFLIGHT_REQUIREMENTS=tests/requirements-demo.txt source scripts/python-env.sh
# The same build as the test command (scripts/test.sh): after it, nothing is rebuilt.
say "building Preflight (the first build of the AWS SDK crates takes minutes on 2 cores; later runs reuse it)"
cargo build --locked --workspace --all-targets
work=$(mktemp -d)
trap 'exec 4>&- 5>&- 2>/dev/null || true; rm -rf "$work"' EXIT

run() {
  local variant=$1
  mkfifo "$work/stdin-$variant"
  .venv/bin/python tests/support/aws_local.py < "$work/stdin-$variant" > "$work/moto-$variant" 2>/dev/null &
  exec 4> "$work/stdin-$variant"   # the launcher exits when this closes
  for _ in $(seq 100); do grep -q READY "$work/moto-$variant" 2>/dev/null && break; sleep 0.1; done
  local url; url=$(sed -n 's/^READY //p' "$work/moto-$variant")
  local spec="$work/spec-$variant.json"
  say "seeding the $variant account into the local AWS ($url)"
  .venv/bin/python tests/support/seed.py "$url" "$variant" "$spec"
  # Story 3's DNS: com delegates example.com to the registrar-created zone.
  mkfifo "$work/dns-stdin-$variant"
  .venv/bin/python tests/support/dns_local.py "$spec.dns.json" < "$work/dns-stdin-$variant" > "$work/dns-$variant" &
  exec 5> "$work/dns-stdin-$variant"
  for _ in $(seq 100); do grep -q READY "$work/dns-$variant" 2>/dev/null && break; sleep 0.1; done
  local port; port=$(sed -n 's/^READY //p' "$work/dns-$variant")
  .venv/bin/python - "$spec" "$port" <<'PY'
import json, sys
path, port = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec["Options"] = {"DnsRootServers": [f"127.0.0.10:{port}"]}
json.dump(spec, open(path, "w"), indent=2)
PY
  printf '\n\033[1m== the %s account (spec: the stories'"'"' bootstrap, keys, parameters, key policy and hosted zone)\033[0m\n\n' "$variant"
  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true \
    target/debug/preflight check --spec "$spec" --region us-east-1 --endpoint-url "$url" \
    && echo "(exit status 0: the deploy would go on)" || echo "(exit status $?: the deploy would stop here)"
  exec 4>&- 5>&-
}

run broken
run fixed
