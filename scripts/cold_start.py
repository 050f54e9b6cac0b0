#!/usr/bin/env python3
"""Cold start of preflight-lambda: the time from exec to its first poll of the Runtime API
(`GET /2018-06-01/runtime/invocation/next`), against a do-nothing lambda_runtime function built
the same way (examples/lambda_noop.rs). Target: at most 1.5x the yardstick.

    python3 scripts/cold_start.py [PROFILE] [RUNS]     # PROFILE: release (default) or debug

Build first: cargo build --release --bin preflight-lambda --example lambda_noop (scripts/bench.sh
does). Each run starts the binary against a local Runtime API that answers nothing; the figure is
the median of RUNS (default 21) runs, alternating the two binaries. Not a test: the machines are
shared and noisy.
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = sys.argv[1] if len(sys.argv) > 1 else "release"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 21


class RuntimeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.first_poll = threading.Event()
        self.polled_at = 0.0
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path.endswith("/runtime/invocation/next") and not self.server.first_poll.is_set():
            self.server.polled_at = time.monotonic()
            self.server.first_poll.set()
        # Hold the poll open: the function waits, as between invocations.
        time.sleep(5)


def one(binary):
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}", "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_LAMBDA_FUNCTION_NAME": "preflight",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
           "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/preflight", "AWS_LAMBDA_LOG_STREAM_NAME": "s",
           "PATH": "/usr/bin:/bin"}
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not api.first_poll.wait(10):
            raise SystemExit(f"{binary} never polled the Runtime API")
        return (api.polled_at - start) * 1000
    finally:
        proc.kill()
        proc.wait()
        api.shutdown()


def main():
    target = ROOT / "target" / PROFILE
    preflight, noop = str(target / "preflight-lambda"), str(target / "examples" / "lambda_noop")
    for b in (preflight, noop):
        if not os.path.exists(b):
            raise SystemExit(f"{b} is missing: cargo build {'--release ' if PROFILE == 'release' else ''}--bin preflight-lambda --example lambda_noop")
    one(preflight), one(noop)  # warm the page cache
    a, b = [], []
    for _ in range(RUNS):
        a.append(one(preflight))
        b.append(one(noop))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"exec to first poll ({PROFILE}, median of {RUNS}): preflight-lambda {ma:.1f} ms "
          f"(min {min(a):.1f}, max {max(a):.1f}); lambda_noop {mb:.1f} ms (min {min(b):.1f}, max {max(b):.1f})")
    print(f"ratio: {ma / mb:.2f}x (target: at most 1.5x)")


if __name__ == "__main__":
    main()
