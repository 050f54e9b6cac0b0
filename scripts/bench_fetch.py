"""Fetch benchmark: 200 SecureString parameters under 10 keys, each read by 20 roles (161 distinct reads).

Starts moto (tests/support/aws_local.py), seeds the account, puts a proxy in front of moto that
adds LATENCY seconds to every AWS call and counts them, then runs the release `preflight check`
through the proxy and directly. Prints the calls made, the distinct facts, and the number of
sequential round trips: (wall time through the proxy - wall time direct) / LATENCY.
Target: at most 5 round trips (the facts are 4 deep: identity, role, attached policy, its version). Run by scripts/bench.sh, or: .venv/bin/python scripts/bench_fetch.py [MS]

moto serves one request at a time (one Python process, a few ms each), so a wave of 60 concurrent
calls costs it more than 50 ms: with 50 ms of latency the estimate includes moto's own queueing.
A larger latency (500 ms) makes moto's share small and shows Preflight's round trips alone.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aws_proxy import Proxy  # noqa: E402  (the counting, delaying proxy shared with bench_stacks.py)

LATENCY = float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.050
ROOT = Path(__file__).resolve().parent.parent
A, R = "123456789012", "us-east-1"


def start_moto():
    p = subprocess.Popen([sys.executable, str(ROOT / "tests/support/aws_local.py")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    assert line.startswith("READY "), line
    return p, line.split(" ", 1)[1]


def seed(url):
    """The shape of issue 14: 200 SecureString parameters under 10 keys referenced by key id, read
    by 20 roles that each have two inline policies and two of five shared managed policies."""
    kw = dict(endpoint_url=url, region_name=R, aws_access_key_id="t", aws_secret_access_key="t")
    kms, ssm, iam = boto3.client("kms", **kw), boto3.client("ssm", **kw), boto3.client("iam", **kw)
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"}
    key_ids = [kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [root]}))["KeyMetadata"]["KeyId"]
               for _ in range(10)]
    managed = [iam.create_policy(PolicyName=f"BenchShared{m}", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": a, "Resource": "*"}]}))["Policy"]["Arn"]
        for m, a in enumerate(("kms:Decrypt", "ssm:Describe*", "logs:CreateLogStream", "s3:GetObject", "sqs:SendMessage"))]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    roles = []
    for r in range(20):
        name = f"bench-reader-{r:02d}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName="params", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"arn:aws:ssm:{R}:{A}:parameter/bench/*"}]}))
        iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}))
        for arn in (managed[r % 5], managed[(r + 1) % 5]):
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        roles.append(f"arn:aws:iam::{A}:role/{name}")
    for i in range(200):
        ssm.put_parameter(Name=f"/bench/p{i:03d}", Value="x", Type="SecureString", KeyId=key_ids[i % 10])
    return {"Parameters": [{"Name": f"/bench/p{i:03d}", "Readers": roles} for i in range(200)]}


def run(binary, spec, endpoint):
    env = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "PATH": "/usr/bin:/bin"}
    start = time.monotonic()
    out = subprocess.run([binary, "check", "--spec", spec, "--format", "json", "--region", R, "--endpoint-url", endpoint],
                         capture_output=True, text=True, env=env)
    return time.monotonic() - start, json.loads(out.stdout)


def main():
    # PREFLIGHT_BENCH_BIN picks another build (the debug one makes the same calls).
    binary = os.environ.get("PREFLIGHT_BENCH_BIN", str(ROOT / "target/release/preflight"))
    moto, url = start_moto()
    try:
        spec = seed(url)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(spec, f)
        proxy = Proxy(url, LATENCY).start()
        endpoint = proxy.url
        run(binary, f.name, url)  # warm-up
        direct, report = min((run(binary, f.name, url) for _ in range(3)), key=lambda r: r[0])
        proxy.calls = 0
        proxied, report2 = run(binary, f.name, endpoint)
        calls = proxy.calls
        assert report["summary"] == report2["summary"], (report["summary"], report2["summary"])
        # Distinct facts: identity, 200 parameters (in batches of 10), 10 keys (DescribeKey,
        # GetKeyPolicy, ListGrants), 20 roles (GetRole, ListRolePolicies, ListAttachedRolePolicies,
        # two inline policies), 5 managed policies (GetPolicy, GetPolicyVersion): 161.
        expected = 1 + 200 // 10 + 10 * 3 + 20 * 5 + 5 * 2
        print(f"spec: 200 parameters under 10 keys, each read by 20 roles ({report['summary']})")
        print(f"AWS calls through the proxy: {calls} (distinct facts need {expected})")
        print(f"wall time: {direct * 1000:.0f} ms direct, {proxied * 1000:.0f} ms with {LATENCY * 1000:.0f} ms added per call")
        print(f"sequential round trips: {(proxied - direct) / LATENCY:.1f} (target: at most 5; the facts are 4 deep)")
    finally:
        moto.stdin.close()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
