#!/usr/bin/env bash
# Prints Preflight's performance figures (not a test: the machines are shared and noisy).
#   scripts/bench.sh            evaluator decisions and template inference (criterion), simulate batch, release binary size
# Figures: time per decision on realistic policies (target <= 2 us), `preflight simulate` over
# 10,000 JSON Lines scenarios on one core (target < 1 s wall), the AWS calls and sequential round
# trips of a 200-parameter check behind a latency proxy (target < 6), a 20-stack, 2,000-resource
# cloud assembly's inference time per 1,000 resources (target < 50 ms) and AWS calls (each distinct
# fact once), the time a run without
# credentials takes to say so when the metadata endpoint never answers, the Lambda's cold start
# against a do-nothing lambda_runtime function (target at most 1.5x), and the binary sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building release binaries (lto, codegen-units 1, strip) and the cold start yardstick"
cargo build --release --locked --bins --example lambda_noop 2>&1 | tail -1

echo "== evaluator: time per decision (criterion)"
cargo bench --locked -p preflight-core --bench evaluator -- --noplot 2>/dev/null | grep -E '^(decide|parse)|time:' | paste - - | sed -E 's/ +/ /g'

echo "== stack model: parse + resolve + infer a 1,000-resource template (criterion; target < 50 ms)"
cargo bench --locked -p preflight-core --bench inference -- --noplot 2>/dev/null | grep -E '^infer|time:' | paste - - | sed -E 's/ +/ /g'

echo "== preflight simulate: 10,000 scenarios as JSON Lines, one core"
batch=$(mktemp)
python3 - "$batch" <<'PY'
import json, glob, sys
cases = [c["scenario"] for f in sorted(glob.glob("crates/core/tests/scenarios/*.json")) for c in json.load(open(f))
         if "rejects" not in c]
with open(sys.argv[1], "w") as out:
    for i in range(10_000):
        out.write(json.dumps(cases[i % len(cases)]) + "\n")
PY
pin=""; command -v taskset >/dev/null && pin="taskset -c 0"
best=""
for run in 1 2 3 4 5; do
  start=$(date +%s%N)
  $pin target/release/preflight simulate --scenario "$batch" --format json > /dev/null
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  echo "run $run: ${ms} ms"
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
echo "simulate 10000 scenarios: best ${best} ms (target < 1000 ms)"

if [ -d tests/differential/node_modules/@cloud-copilot/iam-simulate ]; then
  echo "== the same batch through iam-simulate (one Node process, test-time oracle)"
  start=$(date +%s%N)
  $pin node tests/differential/oracle.js < "$batch" > /dev/null
  end=$(date +%s%N)
  node_ms=$(( (end - start) / 1000000 ))
  echo "iam-simulate 10000 scenarios: ${node_ms} ms; ratio $(( node_ms / (best > 0 ? best : 1) ))x"
else
  echo "(iam-simulate not installed: run scripts/test.sh first for the comparison)"
fi
rm -f "$batch"

echo "== fetch: 200 parameters under 10 keys read by 20 roles, latency added to every AWS call"
source scripts/python-env.sh
.venv/bin/python scripts/bench_fetch.py 50
.venv/bin/python scripts/bench_fetch.py 500

echo "== 20 stacks, 2,000 resources: inference per 1,000 resources, AWS calls, each distinct fact read once"
.venv/bin/python scripts/bench_stacks.py target/release/preflight || echo "(the run broke a bound: see above)"

echo "== no credentials, a metadata endpoint that never answers: time to exit 2 (target: a few seconds)"
hole_port=$(mktemp)
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(100)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True: held.append(s.accept()[0])
' "$hole_port" &
hole=$!
while [ ! -s "$hole_port" ]; do sleep 0.1; done
for run in 1 2 3; do
  start=$(date +%s%N)
  env -i PATH="$PATH" HOME=/nonexistent AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(cat "$hole_port")" \
    target/release/preflight check --spec tests/specs/example.yaml --region us-east-1 > /dev/null 2>&1 || true
  end=$(date +%s%N)
  echo "run $run: $(( (end - start) / 1000000 )) ms"
done
kill "$hole"; rm -f "$hole_port"

echo "== cold start: exec to the first poll of the Runtime API, against a do-nothing lambda_runtime function"
python3 scripts/cold_start.py release 21

echo "== binary sizes (host $(uname -m))"
ls -l target/release/preflight-lambda target/release/preflight | awk '{printf "%s: %.1f MiB (%d bytes)\n", $9, $5/1048576, $5}'
