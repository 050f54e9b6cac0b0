"""Hostile inputs to the `preflight` CLI, with what each costs: exit status, bytes on stderr,
peak memory (the child's maximum resident set, from wait4).

Usage: python scripts/bounds.py [--json] [BINARY]
BINARY defaults to target/release/preflight, else target/debug/preflight. Prints one line per
input (or a JSON array with --json); exits 1 when an input breaks a bound: stderr over 64 KiB,
peak memory over 300 MiB (an upper bound: it includes the ~10 MiB of the Python that execs the
binary), a crash (a signal or exit status other than 0, 1, 2), or a run over 60 s. Nothing here
calls AWS: `validate`, `infer` and `simulate` read files only.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STDERR_LIMIT = 64 * 1024
RSS_LIMIT_MIB = 300
MIB = 1024 * 1024


def cases(tmp: Path) -> list:
    """(name, arguments) for each hostile input, written under `tmp`."""

    def write(name: str, text) -> str:
        path = tmp / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return str(path)

    arn = "arn:aws:iam::123456789012:role/r"
    deep = 100_000
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    readers = ["not-an-arn-" + "x" * 200 + str(i) for i in range(15_000)]
    resources = {
        f"Fn{i}": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Environment": {"Variables": {"P": f"{{{{resolve:ssm-secure:/app/p{i}}}}}"}}},
        }
        for i in range(5_000)
    }
    scenario = json.dumps({
        "request": {"principal": arn, "action": "kms:Decrypt", "resource": "arn:aws:kms:us-east-1:123456789012:key/k"},
        "keyPolicy": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "kms:*", "Resource": "*"}]},
    })
    big_scenarios = (scenario + "\n") * ((16 * MIB - 1) // (len(scenario) + 1))
    cdk_out = tmp / "cdk.out"
    cdk_out.mkdir(exist_ok=True)
    manifest = cdk_out / "manifest.json"
    if not manifest.exists():
        manifest.symlink_to("/dev/zero")
    return [
        ("spec /dev/zero", ["validate", "--spec", "/dev/zero"]),
        ("spec 4 MiB + 1 of spaces (JSON)", ["validate", "--spec", write("big.json", " " * (4 * MIB + 1))]),
        ("spec nested 100k deep (JSON)", ["validate", "--spec", write("deep.json", "[" * deep + "]" * deep)]),
        ("spec nested 100k deep (YAML)", ["validate", "--spec", write("deep.yaml", "[" * deep + "]" * deep)]),
        ("spec of aliases 10^9 wide (YAML)", ["validate", "--spec", write("laughs.yaml", laughs + "Keys: *i\n")]),
        (
            "spec 15k bad readers of 200 chars",
            ["validate", "--spec", write("flood.json", json.dumps({"Parameters": [{"Name": "/p", "Readers": readers}]}))],
        ),
        (
            "spec key of 1 MiB given twice",
            ["validate", "--spec", write("twice.json", '{"%s": 1, "%s": 2}' % ("k" * MIB, "k" * MIB))],
        ),
        ("spec not UTF-8", ["validate", "--spec", write("binary.yaml", bytes(range(256)) * 4096)]),
        (
            "spec key policy 1k statements",
            [
                "validate",
                "--spec",
                write(
                    "policy.json",
                    json.dumps({"KeyPolicies": [{"Policy": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": arn},
                                                                          "Action": "kms:*", "Resource": "*"}] * 1000},
                                                 "Administrators": [arn]}]}),
                ),
            ],
        ),
        ("template /dev/zero", ["infer", "--template", "/dev/zero"]),
        ("template nested 100k deep", ["infer", "--template", write("deep-template.json", "[" * deep + "]" * deep)]),
        ("template of aliases 10^9 wide (YAML)", ["infer", "--template", write("laughs-template.yaml", laughs + "Resources: *i\n")]),
        (
            "template 5k resolve:ssm-secure",
            ["infer", "--template", write("many.json", json.dumps({"Resources": resources}))],
        ),
        ("cdk-out manifest /dev/zero", ["infer", "--cdk-out", str(cdk_out)]),
        ("simulate /dev/zero", ["simulate", "--scenario", "/dev/zero"]),
        (
            "simulate 16 MiB of scenarios",
            ["simulate", "--scenario", write("scenarios-big.jsonl", big_scenarios)],
        ),
        ("simulate 20k bad lines", ["simulate", "--scenario", write("scenarios.jsonl", "{\"x\": 1}\n" * 20_000)]),
    ]


def measure(binary: str, args: list) -> dict:
    """Runs one input in a fresh `--measure` process: the kernel counts the memory a process had
    before exec in its peak, so the child of this process, which holds the inputs it generated,
    would be charged for them; a fresh interpreter adds about 10 MiB."""
    out = subprocess.run([sys.executable, __file__, "--measure", binary, *args], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def measure_here(binary: str, args: list) -> dict:
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except KeyboardInterrupt:
            child.kill()
            raise
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0, os.SEEK_END)
        stderr_bytes = err.tell()
        err.seek(0)
        first_line = err.readline(300).decode("utf-8", "replace").rstrip("\n")
    return {
        "exit": child.returncode,
        "stderr_bytes": stderr_bytes,
        "rss_mib": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(time.monotonic() - started, 2),
        "first_line": first_line,
    }


def main() -> int:
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure_here(sys.argv[2], sys.argv[3:])))
        return 0
    argv = [a for a in sys.argv[1:] if a != "--json"]
    as_json = "--json" in sys.argv[1:]
    root = Path(__file__).resolve().parent.parent
    binary = argv[0] if argv else next(
        (str(p) for p in (root / "target/release/preflight", root / "target/debug/preflight") if p.exists()), None
    )
    if binary is None:
        print("error: no preflight binary: build it (cargo build --release) or give its path", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="preflight-bounds-") as tmp:
        for name, args in cases(Path(tmp)):
            r = measure(binary, args)
            r["input"] = name
            broken = []
            if r["exit"] not in (0, 1, 2):
                broken.append(f"exit {r['exit']}")
            if r["stderr_bytes"] > STDERR_LIMIT:
                broken.append("stderr over 64 KiB")
            if r["rss_mib"] > RSS_LIMIT_MIB:
                broken.append(f"memory over {RSS_LIMIT_MIB} MiB")
            if r["seconds"] > 60:
                broken.append("over 60 s")
            r["broken"] = broken
            results.append(r)
    if as_json:
        print(json.dumps(results, indent=1))
    else:
        print(f"{binary}")
        print(f"{'input':40} {'exit':>4} {'stderr B':>9} {'peak MiB':>9} {'s':>6}  first line of stderr")
        for r in results:
            flag = "  BROKEN: " + ", ".join(r["broken"]) if r["broken"] else ""
            print(f"{r['input']:40} {r['exit']:>4} {r['stderr_bytes']:>9} {r['rss_mib']:>9} {r['seconds']:>6}  "
                  f"{r['first_line'][:100]}{flag}")
    return 1 if any(r["broken"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
