#!/usr/bin/env python3
"""Stands in for CloudFormation's ResponseURL on a local invoke of preflight-lambda.

    python3 scripts/response-listener.py [--port 8787] [--once]

Listens on 127.0.0.1, prints each PUT body (the custom resource's answer) as one JSON line on
standard output, and answers 200 as S3 does. With --once it exits after the first answer. The
events in events/ send their answer to http://127.0.0.1:8787/...; start the function with
PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL=1 (README.md, "Local invokes").
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8787, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--once", action="store_true", help="exit after the first answer")
    args = parser.parse_args()
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 (the http.server naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            try:
                line = json.dumps(json.loads(body), sort_keys=True)
            except ValueError:
                line = json.dumps({"unparsable": body})
            print(line, flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if args.once:
                done.set()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/response", file=sys.stderr, flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
