"""Local AWS for Preflight's integration tests: moto server on loopback.

Usage: python aws_local.py [PORT]
Prints `READY http://127.0.0.1:PORT` once the server answers, then serves until its standard input
closes (so it never outlives the test process that started it) or it is killed.

This is the one place where moto is corrected to behave like AWS where that matters to Preflight.
Each correction is listed here with the AWS behaviour it restores and its source:

  (none yet: the foundation only calls sts:GetCallerIdentity, which moto answers as AWS does,
   with the fixed account 123456789012)

Preflight itself is never bent to moto: a difference goes here or into a documented test divergence.
"""

import logging
import socket
import sys
import threading
import time
import urllib.request

from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
            break
        except Exception:
            time.sleep(0.05)
    else:
        print("moto server did not start", file=sys.stderr)
        sys.exit(1)
    print(f"READY {url}", flush=True)

    def watch_stdin() -> None:
        sys.stdin.read()
        server.stop()
        # Exit the whole process, server threads included.
        import os
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
