"""A counting proxy in front of a local AWS (moto), shared by the benchmarks (bench_fetch.py,
bench_stacks.py).

Every request is forwarded to the target unchanged, after `latency` seconds. The proxy counts the
calls and, when asked (`record=True`), keeps one record per call: the service (from the SigV4
credential scope), the operation (X-Amz-Target for the JSON protocol, Action for the query
protocol, method and query for S3), a text that identifies the request apart from its signature
and dates (method, host, path, target, body), the response status and the response body. Two calls
with the same identity are the same request made twice.
"""

import http.client
import http.server
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlparse


@dataclass
class Call:
    service: str
    operation: str
    identity: str  # the request without its signature: equal for the same request made twice
    target: str  # what the request asks about, for people to read
    status: int
    response: bytes


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog (5) drops bursts of connections, and the kernel retries them a
    # second later: that would be the proxy's delay, not Preflight's.
    request_queue_size = 256

    def __init__(self, target, latency=0.0, record=False):
        self.target = urlparse(target)
        self.latency = latency
        self.record = record
        self.calls = 0
        self.log: list[Call] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def reset(self):
        with self.lock:
            self.calls = 0
            self.log = []


def describe(method, path, headers, body):
    """(service, operation, identity, target) of one request."""
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", headers.get("Authorization", ""))
    service = scope.group(1) if scope else "?"
    host = headers.get("Host", "")
    amz_target = headers.get("X-Amz-Target", "")
    text = body.decode("utf-8", "replace")
    if amz_target:  # JSON protocol (KMS, SSM, Secrets Manager): the body names the target
        operation = amz_target.split(".")[-1]
        target = text
    elif method == "POST" and "Action=" in text:  # query protocol (STS, IAM, CloudFormation)
        params = dict(parse_qsl(text, keep_blank_values=True))
        operation = params.pop("Action", "?")
        params.pop("Version", None)
        target = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    else:  # REST (S3): the method, the bucket (host or path) and the sub-resource
        url = urlparse(path)
        sub = "".join(k for k, _ in parse_qsl(url.query, keep_blank_values=True) if k != "x-id")
        operation = f"{method} ?{sub}" if sub else method
        target = f"{host.split(':')[0]}{url.path}?{url.query}"
    identity = "\n".join((service, method, host, path, amz_target, text))
    return service, operation, identity, target


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.forward()

    def do_GET(self):
        self.forward()

    def do_PUT(self):
        self.forward()

    def do_DELETE(self):
        self.forward()

    def do_HEAD(self):
        self.forward()

    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        with self.server.lock:
            self.server.calls += 1
        time.sleep(self.server.latency)
        conn = http.client.HTTPConnection(self.server.target.hostname, self.server.target.port, timeout=30)
        conn.request(self.command, self.path, body, dict(self.headers))
        resp = conn.getresponse()
        data = resp.read()
        if self.server.record:
            service, operation, identity, target = describe(self.command, self.path, self.headers, body)
            with self.server.lock:
                self.server.log.append(Call(service, operation, identity, target, resp.status, data))
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
