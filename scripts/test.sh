#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine that has the Rust
# toolchain, Python 3 and Node, then runs every test. Exits non-zero on any failure.
#
#   scripts/test.sh
#
# What it installs: a Python virtual environment in .venv with moto[server] (the local AWS),
# cfn-lint and the AWS SAM CLI (template checks), pinned in tests/requirements.txt; and the
# differential test's oracle, @cloud-copilot/iam-simulate, pinned in tests/differential; NSD from
# Debian's archive (apt-get, as root or through sudo), the real DNS server beside the fake; and the CDK
# construct's dependencies (aws-cdk-lib, constructs, TypeScript), pinned in cdk. The tests start
# what they need themselves, on loopback: moto server, a Lambda Runtime API, a CloudFormation
# response receiver. No Docker engine is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
started=$(date +%s)

step "checking the toolchain"
for tool in cargo python3 node npm; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required and not installed" >&2; exit 1; }
done
cargo --version >&2
python3 --version >&2
echo "node $(node --version), npm $(npm --version 2>/dev/null)" >&2

step "NSD, the authoritative DNS server the delegation walk is also tested against (Debian package nsd)"
if ! PATH="$PATH:/usr/sbin" command -v nsd >/dev/null; then
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get install -y --no-install-recommends nsd >/dev/null \
    || { "${as_root[@]}" apt-get update >/dev/null && "${as_root[@]}" apt-get install -y --no-install-recommends nsd >/dev/null; }
fi
# The first line of `nsd -v` (read whole: `head -1` would end nsd with SIGPIPE, fatal under pipefail).
nsd_version=$(PATH="$PATH:/usr/sbin" nsd -v 2>&1 || true)
echo "${nsd_version%%$'\n'*}" >&2

step "Python tools for the tests (.venv, tests/requirements.txt)"
source scripts/python-env.sh
.venv/bin/python -c 'import moto; print("moto", moto.__version__)' >&2

# npm ci in a folder, only when its lockfile changed since the last install there.
npm_ci_once() {
  local stamp="$1/node_modules/.preflight-lock.sha256" wanted
  wanted=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$wanted" > "$stamp"
  fi
}

step "test-time oracle for the differential test (tests/differential, npm ci)"
# @cloud-copilot/iam-simulate is AGPL: installed here for the tests only, never linked or shipped.
npm_ci_once tests/differential

step "the CDK CLI's bootstrap template (tests/bootstrap, npm ci)"
npm_ci_once tests/bootstrap

step "the CDK construct's dependencies (cdk/, npm ci): aws-cdk-lib synthesizes the tests' CDK apps"
npm_ci_once cdk

step "formatting"
cargo fmt --all -- --check

step "building once: library, binaries, unit and integration tests"
cargo build --locked --workspace --all-targets
# `cargo lambda watch` (tests/cargo_lambda.rs, the README's local loop) runs `cargo run --bin
# preflight-lambda`: without the tests' dev-dependency features, so its dependencies are a second
# build. Made here, where its time shows, rather than inside the test.
step "the build cargo lambda watch runs (the function alone)"
cargo build --locked --bin preflight-lambda

step "running every test"
cargo test --locked --workspace --all-targets --no-fail-fast 2>&1 | tee target/test-output.txt
# Doc tests run separately from --all-targets.
cargo test --locked --workspace --doc

step "CDK construct (cdk/: tsc, node --test against the binaries just built)"
(cd cdk && npm test) 2>&1 | tee target/cdk-test-output.txt

step "lints (clippy, warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "done in $(( $(date +%s) - started ))s"
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "%d passed, %d failed\n", p, f }' target/test-output.txt target/cdk-test-output.txt
