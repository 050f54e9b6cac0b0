"""Local AWS for Preflight's integration tests: moto server on loopback.

Usage: python aws_local.py [PORT]
Prints `READY http://127.0.0.1:PORT` once the server answers, then serves until its standard input
closes (so it never outlives the test process that started it) or it is killed.

This is the one place where moto is corrected to behave like AWS where that matters to Preflight.
Each correction is listed here with the AWS behaviour it restores and its source:

  1. AWS managed keys. moto creates `alias/aws/<service>` keys on first use as customer managed
     keys with a root-only policy. AWS reports `KeyManager: AWS` and a key policy that lets any
     principal of the account use the key only through that service (`kms:CallerAccount` and
     `kms:ViaService` conditions), plus direct read access for the account (AWS-FACTS 1.4; KMS
     Developer Guide, "AWS managed keys"). `aws/ebs` is used through ec2.

Preflight itself is never bent to moto: a difference goes here or into a documented test divergence.
"""

import json
import logging
import socket
import sys
import threading
import time
import urllib.request

from moto.server import ThreadedMotoServer


def aws_managed_key_policy(account: str, region: str, service: str) -> dict:
    """The shape of an AWS managed key's policy (AWS-FACTS 1.4)."""
    return {
        "Version": "2012-10-17",
        "Id": f"auto-{service}",
        "Statement": [
            {
                "Sid": f"Allow access through {service} for all principals in the account that are authorized to use it",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"{service}.{region}.amazonaws.com"}},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }


def correct_aws_managed_keys() -> None:
    """Correction 1: alias/aws/* keys are AWS managed, with the service-conditioned policy."""
    from moto.kms import models as kms_models

    original = kms_models.KmsBackend._generate_default_keys

    def generate(self, alias_name):
        key_id = original(self, alias_name)
        if key_id:
            key = self.keys[key_id]
            service = alias_name.split("/")[-1]
            via = {"ebs": "ec2"}.get(service, service)
            key.key_manager = "AWS"
            key.policy = json.dumps(aws_managed_key_policy(self.account_id, self.region_name, via))
        return key_id

    kms_models.KmsBackend._generate_default_keys = generate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    correct_aws_managed_keys()
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
