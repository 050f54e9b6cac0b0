"""The DNS hierarchy of dns_local.py served by real NSD processes, one per server address.

Usage: python dns_nsd.py CONFIG.json [PORT]
Same CONFIG, command line and protocol as dns_local.py (read its docstring): every server of
CONFIG on its own loopback address, all on one port (UDP and TCP); prints `READY PORT` once every
server answers, and serves until its standard input closes.

Each server address gets its own NSD (`nsd -d`, in a temporary directory) authoritative for the
zones it is listed under, from zone files written per server: SOA, apex NS (the zone's servers,
unless `records` gives the apex NS), the zone's `records`, and for each delegation (plus the
server's `overrides`) the NS records at the cut and its glue. What NSD cannot hold, or holds
otherwise than the fake answers, is said on stderr:
- glue whose name is outside the zone is left out (NSD refuses out-of-zone data);
- glue inside the zone but not below the cut (a root's glue for `a.gtld.test`, a TLD's for
  `ns-1.awsdns-01.com`) is ordinary data of the zone: NSD answers it with AA=1 and adds it to
  every referral or answer naming that host;
- NSD answers from the topmost cut, where the fake takes the deepest (nested delegations).
NSD also answers as NSD does, with its defaults (no minimal-responses): positive authoritative
answers carry the zone's NS set in AUTHORITY, a CNAME is followed within the zone, SOA questions
get the SOA as the answer, a DS question at the apex of a child zone served alongside its parent
is answered from the parent, and UDP answers keep to 512 bytes (or the EDNS size, with an OPT
record): glue that does not fit is dropped (TC=0), a referral whose NS set does not fit comes
back empty with TC=1.
Behaviours: `silent` (this launcher binds the address, reads everything and never answers) and
`refused` (an NSD serving no zone, which refuses everything); the others (`servfail`,
`truncate`, `upward`) exist only in dns_local.py.

NSD never outlives the launcher: each NSD gets SIGTERM when the launcher dies, however it dies
(PR_SET_PDEATHSIG), and a janitor process removes the temporary directory (and any NSD still
running from it) once the launcher is gone, also after SIGKILL.
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # importing dns_local leaves no __pycache__ in the repository

from dnslib import QTYPE, DNSRecord  # noqa: E402

from dns_local import free_port, norm, within  # noqa: E402

# Debian puts nsd and its check tools in /usr/sbin, which a user's PATH may lack.
os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
if shutil.which("nsd") is None:
    sys.exit("dns_nsd: nsd is not installed: scripts/test.sh installs it (Debian package nsd)")

SUPPORTED = ("normal", "silent", "refused")
TYPES = ("A", "AAAA", "NS", "TXT", "CNAME")
READY_WITHIN = 10.0

# Run by a separate process: waits until the launcher is gone (its standard input, a pipe whose
# other end only the launcher holds, closes), gives the NSDs started from ROOT a moment to stop
# on their own, kills those that did not, and removes ROOT.
JANITOR = r"""
import os, shutil, signal, sys, time
root = sys.argv[1]
sys.stdin.buffer.read()

def running():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (root + "/").encode() in cmdline and int(pid) != os.getpid():
            found.append(int(pid))
    return found

until = time.time() + 5
while running() and time.time() < until:
    time.sleep(0.1)
for pid in running():
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
shutil.rmtree(root, ignore_errors=True)
"""


def note(text: str) -> None:
    print(f"dns_nsd: {text}", file=sys.stderr, flush=True)


REMARKS = {}  # what NSD serves otherwise than the fake -> the server addresses it concerns


def remark(ip: str, text: str) -> None:
    REMARKS.setdefault(text, []).append(ip)


def fail(text: str) -> None:
    note(text)
    raise SystemExit(1)


def fqdn(name: str) -> str:
    name = norm(name)
    return name + "." if name else "."


def txt(value: str) -> str:
    data = value.encode()
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    out = []
    for chunk in chunks:
        text = ""
        for b in chunk:
            c = chr(b)
            text += "\\" + c if c in '"\\' else c if 32 <= b < 127 else f"\\{b:03d}"
        out.append(f'"{text}"')
    return " ".join(out)


def rdata(kind: str, value: str) -> str:
    if kind in ("NS", "CNAME"):
        return fqdn(value)
    if kind == "TXT":
        return txt(value)
    return value


class Zone:
    """One zone file's RRsets, in insertion order; the first TTL given wins for an RRset."""

    def __init__(self, name: str):
        self.name = name
        self.rrsets = {}  # (owner, type) -> (ttl, [rdata])

    def add(self, owner: str, kind: str, ttl: int, value: str) -> None:
        _, values = self.rrsets.setdefault((fqdn(owner), kind), (ttl, []))
        data = rdata(kind, value)
        if data not in values:
            values.append(data)

    def text(self) -> str:
        lines = [f"$ORIGIN {fqdn(self.name)}", "$TTL 300"]
        for (owner, kind), (ttl, values) in self.rrsets.items():
            lines += [f"{owner}\t{ttl}\tIN\t{kind}\t{value}" for value in values]
        return "\n".join(lines) + "\n"


def zone_file(config_zone: dict, ip: str, overrides: dict) -> Zone:
    """The zone as the server at `ip` serves it (its `overrides` replace or add delegations)."""
    name = norm(config_zone["name"])
    servers = config_zone["servers"]
    label = name or "."
    zone = Zone(name)
    zone.add(name, "SOA", 900, f"{fqdn(servers[0]['name'])} hostmaster.{name or 'root'}. 1 7200 900 1209600 86400")

    delegations = {norm(k): v for k, v in config_zone.get("delegations", {}).items()}
    delegations.update({norm(k): v for k, v in overrides.get(ip, {}).items()})
    cuts = {}
    for cut, child in delegations.items():
        if cut == name or not within(cut, name):
            remark(ip, f"zone {label}: delegation {cut} is not below the zone: left out")
            continue
        cuts[cut] = child
    nested = [c for c in cuts if any(c != d and within(c, d) for d in cuts)]
    if nested:
        remark(ip, f"zone {label}: cuts below another cut, where NSD refers to the topmost (the fake to the "
                   f"deepest): {', '.join(nested)}")

    records = {norm(k): v for k, v in config_zone.get("records", {}).items()}
    apex = records.get(name, {})
    for server in [] if "NS" in apex else servers:
        zone.add(name, "NS", 300, server["name"])
    for owner, rrsets in records.items():
        if not within(owner, name):
            remark(ip, f"zone {label}: record {owner} is outside the zone: left out")
            continue
        for kind, values in rrsets.items():
            if kind not in TYPES:
                fail(f"zone {label}: record {owner} {kind}: only {', '.join(TYPES)} are supported")
            if kind == "NS" and owner in cuts:
                remark(ip, f"zone {label}: NS records at the cut {owner}: the delegation's are served")
                continue
            for value in values:
                zone.add(owner, kind, 300, value)

    outside, unglued = [], []
    for cut, child in cuts.items():
        for ns in child["ns"]:
            zone.add(cut, "NS", 172800, ns)
        for host, addresses in child.get("glue", {}).items():
            host = norm(host)
            if not within(host, name):
                outside.append(f"{host} ({cut})")
                continue
            if not any(within(host, c) for c in cuts):
                unglued.append(host)
            for address in addresses:
                zone.add(host, "AAAA" if ":" in address else "A", 172800, address)
    if outside:
        remark(ip, f"zone {label}: glue outside the zone, which NSD cannot serve, left out: {', '.join(outside)}")
    if unglued:
        remark(ip, f"zone {label}: glue not below a cut, served as zone data (AA=1 answers, added to every "
                   f"answer naming it): {', '.join(dict.fromkeys(unglued))}")
    return zone


def nsd_conf(folder: str, ip: str, port: int, zones: list) -> str:
    lines = [
        "server:",
        f"    ip-address: {ip}@{port}",
        f"    port: {port}",
        "    do-ip6: no",
        '    username: ""',
        '    chroot: ""',
        '    database: ""',
        "    server-count: 1",
        f'    zonesdir: "{folder}"',
        f'    pidfile: "{folder}/nsd.pid"',
        f'    zonelistfile: "{folder}/zone.list"',
        f'    xfrdfile: "{folder}/xfrd.state"',
        f'    xfrdir: "{folder}"',
        f'    logfile: "{folder}/nsd.log"',
        f'    cookie-secret-file: "{folder}/cookiesecrets.txt"',
        "    hide-version: yes",
        "    verbosity: 1",
        "remote-control:",
        "    control-enable: no",
    ]
    for zone, path in zones:
        lines += ["zone:", f'    name: "{fqdn(zone)}"', f'    zonefile: "{path}"']
    return "\n".join(lines) + "\n"


def check(command: list, path: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        with open(path) as f:
            content = f.read()
        fail(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}--- {path}:\n{content}")


class Nsd:
    """One NSD process serving `zones` (names) on ip@port."""

    def __init__(self, root: str, ip: str, port: int, zones: list, config_zones: dict, overrides: dict):
        self.ip, self.zones = ip, zones
        self.folder = os.path.join(root, ip)
        os.mkdir(self.folder)
        files = []
        for name in zones:
            path = os.path.join(self.folder, (name or "root") + ".zone")
            with open(path, "w") as f:
                f.write(zone_file(config_zones[name], ip, overrides).text())
            check(["nsd-checkzone", fqdn(name), path], path)
            files.append((name, path))
        self.conf = os.path.join(self.folder, "nsd.conf")
        with open(self.conf, "w") as f:
            f.write(nsd_conf(self.folder, ip, port, files))
        check(["nsd-checkconf", self.conf], self.conf)
        self.process = None

    def start(self) -> None:
        launcher = os.getpid()
        libc = ctypes.CDLL(None, use_errno=True)

        def die_with_launcher():
            # PR_SET_PDEATHSIG (1): SIGTERM when the launcher's thread that forked us ends.
            if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) != 0 or os.getppid() != launcher:
                os._exit(1)

        self.stderr = open(os.path.join(self.folder, "nsd.stderr"), "w")
        self.process = subprocess.Popen(
            ["nsd", "-d", "-c", self.conf],
            stdin=subprocess.DEVNULL,
            stdout=self.stderr,
            stderr=self.stderr,
            preexec_fn=die_with_launcher,
        )

    def log(self) -> str:
        out = []
        for name in ("nsd.log", "nsd.stderr"):
            try:
                with open(os.path.join(self.folder, name)) as f:
                    out.append(f"--- {self.ip}: {name}:\n{f.read()}")
            except OSError:
                pass
        return "".join(out)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def silent(ip: str, port: int) -> None:
    """Binds ip:port for UDP and TCP, reads everything, never answers."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind((ip, port))
    tcp.bind((ip, port))
    tcp.listen(16)

    def drain(conn):
        with conn:
            while conn.recv(65536):
                pass

    def udp_loop():
        while True:
            udp.recvfrom(65536)

    def tcp_loop():
        while True:
            conn, _ = tcp.accept()
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    for loop in (udp_loop, tcp_loop):
        threading.Thread(target=loop, daemon=True).start()


def wait_ready(nsds: list, port: int) -> None:
    pending = list(nsds)
    until = time.monotonic() + READY_WITHIN
    while pending:
        for nsd in list(pending):
            if nsd.process.poll() is not None:
                fail(f"NSD for {nsd.ip} exited ({nsd.process.returncode}) before answering\n{nsd.log()}")
            zone = nsd.zones[0] if nsd.zones else "refused.invalid"
            q = DNSRecord.question(fqdn(zone), "SOA")
            q.header.rd = 0
            try:
                reply = DNSRecord.parse(q.send(nsd.ip, port, timeout=0.2))
            except (socket.timeout, OSError):
                continue
            if not nsd.zones or (reply.header.aa and any(rr.rtype == QTYPE.SOA for rr in reply.rr)):
                pending.remove(nsd)
        if pending and time.monotonic() > until:
            fail(f"no answer within {READY_WITHIN:.0f} s from {', '.join(n.ip for n in pending)}\n"
                 + "".join(n.log() for n in pending))
        if pending:
            time.sleep(0.05)


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(0))
    with open(sys.argv[1]) as f:
        config = json.load(f)
    config_zones, servers = {}, {}  # zone name -> zone; ip -> [zone names]
    for z in config["zones"]:
        name = norm(z["name"])
        config_zones[name] = z
        for s in z["servers"]:
            if name not in servers.setdefault(s["ip"], []):
                servers[s["ip"]].append(name)
    behaviour = config.get("behaviour", {})
    overrides = config.get("overrides", {})
    for ip, kind in behaviour.items():
        if kind not in SUPPORTED:
            fail(f"behaviour {kind} (of {ip}) is only in the Python fake, dns_local.py")
    ips = sorted(servers)
    port = int(sys.argv[2]) if len(sys.argv) > 2 else free_port(ips)

    root = tempfile.mkdtemp(prefix="preflight-nsd-")
    janitor_in, janitor_out = os.pipe()
    subprocess.Popen(
        [sys.executable, "-c", JANITOR, root],
        stdin=janitor_in,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(janitor_in)  # janitor_out stays open, unshared, until this process ends
    nsds = []
    try:
        for ip in ips:
            kind = behaviour.get(ip, "normal")
            if kind != "silent":
                zones = servers[ip] if kind == "normal" else []
                nsds.append(Nsd(root, ip, port, zones, config_zones, overrides))
        for text, where in REMARKS.items():
            note(f"{text} [{', '.join(where)}]")
        # Every NSD starts before any thread does: preexec_fn is not safe once threads run.
        for nsd in nsds:
            nsd.start()
        for ip in ips:
            if behaviour.get(ip) == "silent":
                silent(ip, port)
        wait_ready(nsds, port)
        print(f"READY {port}", flush=True)
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    finally:
        for nsd in nsds:
            if nsd.process is not None and nsd.process.poll() is None:
                nsd.process.terminate()
        for nsd in nsds:
            nsd.stop()
        shutil.rmtree(root, ignore_errors=True)
        os.close(janitor_out)


if __name__ == "__main__":
    main()
