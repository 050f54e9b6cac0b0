#!/usr/bin/env bash
# Fuzzes parse + evaluate (fuzz/fuzz_targets/parse_and_evaluate.rs) for SECONDS (default 600),
# seeded with the scenario corpus. Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable
# toolchain is enough with RUSTC_BOOTSTRAP=1, which cargo-fuzz's sanitizer flags require.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
corpus=fuzz/corpus/parse_and_evaluate
mkdir -p "$corpus"
python3 - "$corpus" <<'PY'
import glob, json, sys
n = 0
for f in sorted(glob.glob("crates/core/tests/scenarios/*.json")):
    for c in json.load(open(f)):
        n += 1
        open(f"{sys.argv[1]}/scenario-{n:03d}.json", "w").write(json.dumps(c["scenario"]))
PY
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2; exit 2; }
RUSTC_BOOTSTRAP=1 cargo fuzz run parse_and_evaluate "$corpus" -- -max_total_time="$seconds" -max_len=16384 2>&1 | tail -25
