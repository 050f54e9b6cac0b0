"""A fake DNS hierarchy on loopback for Preflight's delegation tests and demo.

Usage: python dns_local.py CONFIG.json [PORT]
Serves every server of CONFIG on its own loopback address, all on one port (UDP and TCP), prints
`READY PORT` once they listen, and serves until its standard input closes.

CONFIG:
  {"zones": [{"name": ".", "servers": [{"name": "a.root.test", "ip": "127.0.0.10"}, ...],
              "delegations": {"com": {"ns": ["a.gtld.test"], "glue": {"a.gtld.test": ["127.0.0.20"]}}},
              "records": {"host.example.com": {"A": ["127.0.0.30"]}}}, ...],
   "behaviour": {"127.0.0.11": "silent"},
   "overrides": {"127.0.0.21": {"example.com": {"ns": [...]}}}}

Each server answers like the real thing, not like a recursive resolver:
- a question below one of its zone's delegations gets a referral: AA=0, empty ANSWER, the child's
  NS records in AUTHORITY, glue in ADDITIONAL (as TLD servers answer, RFC 1034 4.3.2);
- a question inside its zone gets an authoritative answer (AA=1), NODATA or NXDOMAIN with the
  zone's SOA in AUTHORITY;
- a question outside every zone it serves gets REFUSED.
Behaviours per server address: `silent` (never answers), `refused`, `servfail`, `truncate` (UDP
answers carry TC=1 and no records; TCP answers are whole), `upward` (a lame server's upward
referral to the root). `overrides` gives one server its own delegations (parent servers that
disagree).
"""

import json
import socket
import socketserver
import struct
import sys
import threading

from dnslib import AAAA, NS, QTYPE, RCODE, RR, SOA, A, DNSHeader, DNSRecord, TXT, CNAME


def norm(name: str) -> str:
    return name.rstrip(".").lower()


def within(name: str, zone: str) -> bool:
    return zone == "" or name == zone or name.endswith("." + zone)


class Hierarchy:
    def __init__(self, config: dict):
        self.zones = {}
        self.servers = {}  # ip -> [zone names]
        for z in config["zones"]:
            name = norm(z["name"])
            self.zones[name] = z
            for s in z["servers"]:
                self.servers.setdefault(s["ip"], []).append(name)
        self.behaviour = config.get("behaviour", {})
        self.overrides = config.get("overrides", {})

    def answer(self, ip: str, request: DNSRecord, tcp: bool) -> DNSRecord | None:
        behaviour = self.behaviour.get(ip, "normal")
        if behaviour == "silent":
            return None
        reply = DNSRecord(DNSHeader(id=request.header.id, qr=1, rd=request.header.rd, ra=0), q=request.q)
        if behaviour in ("refused", "servfail"):
            reply.header.rcode = RCODE.REFUSED if behaviour == "refused" else RCODE.SERVFAIL
            return reply
        if behaviour == "upward":
            reply.add_auth(RR("", QTYPE.NS, rdata=NS("a.root.test."), ttl=518400))
            return reply
        if behaviour == "truncate" and not tcp:
            reply.header.tc = 1
            return reply
        qname, qtype = norm(str(request.q.qname)), QTYPE[request.q.qtype]
        served = [z for z in self.servers.get(ip, []) if within(qname, z)]
        if not served:
            reply.header.rcode = RCODE.REFUSED
            return reply
        zone_name = max(served, key=len)
        zone = self.zones[zone_name]
        delegations = {norm(k): v for k, v in zone.get("delegations", {}).items()}
        delegations.update({norm(k): v for k, v in self.overrides.get(ip, {}).items()})
        cuts = [d for d in delegations if d != zone_name and within(qname, d) and within(d, zone_name)]
        if cuts and qtype != "DS":
            cut = max(cuts, key=len)
            child = delegations[cut]
            for ns in child["ns"]:
                reply.add_auth(RR(cut + ".", QTYPE.NS, rdata=NS(ns + "."), ttl=172800))
            for host, ips in child.get("glue", {}).items():
                for address in ips:
                    kind = AAAA if ":" in address else A
                    reply.add_ar(RR(host + ".", getattr(QTYPE, kind.__name__), rdata=kind(address), ttl=172800))
            return reply
        reply.header.aa = 1
        records = {norm(k): v for k, v in zone.get("records", {}).items()}
        own = dict(records.get(qname, {}))
        if qname == zone_name:
            own.setdefault("NS", [s["name"] for s in zone["servers"]])
        soa = RR(zone_name + ".", QTYPE.SOA, ttl=900, rdata=SOA(
            zone["servers"][0]["name"] + ".", "hostmaster." + (zone_name or "root") + ".", (1, 7200, 900, 1209600, 86400)))
        if qtype in own:
            for value in own[qtype]:
                rdata = {"A": A, "AAAA": AAAA, "NS": lambda v: NS(v + "."), "TXT": TXT,
                         "CNAME": lambda v: CNAME(v + ".")}[qtype](value)
                reply.add_answer(RR(qname + ".", getattr(QTYPE, qtype), rdata=rdata, ttl=300))
            return reply
        if "CNAME" in own:
            reply.add_answer(RR(qname + ".", QTYPE.CNAME, rdata=CNAME(own["CNAME"][0] + "."), ttl=300))
            return reply
        exists = own or any(within(n, qname) for n in list(records) + list(delegations))
        if not exists:
            reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(soa)
        return reply


def serve(hierarchy: Hierarchy, port: int) -> list:
    servers = []

    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            ip = self.server.server_address[0]
            try:
                reply = hierarchy.answer(ip, DNSRecord.parse(data), tcp=False)
            except Exception as e:  # a malformed question: no answer, as a real server may do
                print(f"dns_local: {ip}: {e}", file=sys.stderr)
                return
            if reply is not None:
                sock.sendto(reply.pack(), self.client_address)

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            ip = self.server.server_address[0]
            head = self.request.recv(2)
            if len(head) < 2:
                return
            (length,) = struct.unpack("!H", head)
            data = b""
            while len(data) < length:
                chunk = self.request.recv(length - len(data))
                if not chunk:
                    return
                data += chunk
            reply = hierarchy.answer(ip, DNSRecord.parse(data), tcp=True)
            if reply is not None:
                packed = reply.pack()
                self.request.sendall(struct.pack("!H", len(packed)) + packed)

    class ThreadedUdp(socketserver.ThreadingMixIn, socketserver.UDPServer):
        daemon_threads = True
        allow_reuse_address = True

    class ThreadedTcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    for ip in sorted(hierarchy.servers):
        for cls, handler in ((ThreadedUdp, Udp), (ThreadedTcp, Tcp)):
            server = cls((ip, port), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
    return servers


def free_port(ips) -> int:
    """A port free on every address, for UDP and TCP."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((ips[0], 0))
            port = probe.getsockname()[1]
        try:
            held = []
            for ip in ips:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    held.append(s)
                    s.bind((ip, port))
            for s in held:
                s.close()
            return port
        except OSError:
            for s in held:
                s.close()
    raise SystemExit("no free port on every address")


def main() -> None:
    with open(sys.argv[1]) as f:
        hierarchy = Hierarchy(json.load(f))
    ips = sorted(hierarchy.servers)
    port = int(sys.argv[2]) if len(sys.argv) > 2 else free_port(ips)
    serve(hierarchy, port)
    print(f"READY {port}", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
