"""Local AWS for Preflight's integration tests: moto server on loopback.

Usage: python aws_local.py [PORT]
Prints `READY http://127.0.0.1:PORT` once the server answers, then serves until its standard input
closes (so it never outlives the test process that started it) or it is killed.

This is the one place where moto is corrected to behave like AWS where that matters to Preflight.
Each correction is listed here with the AWS behaviour it restores and its source:

  1. AWS managed keys. moto creates `alias/aws/<service>` keys on first use as customer managed
     keys with a root-only policy. AWS reports `KeyManager: AWS` and a key policy that lets any
     principal of the account use the key only through that service (`kms:CallerAccount` and
     `kms:ViaService` conditions), plus direct read access for the account (docs/aws-facts.md 1.4; KMS
     Developer Guide, "AWS managed keys"). `aws/ebs` is used through ec2.
  2. Access-denied errors of JSON-protocol services. With IAM enforcement on (POST
     /moto-api/reset-auth), moto answers a denied KMS, SSM or STS-over-JSON call with an XML
     <ErrorResponse>, which the AWS SDKs cannot parse for these services. AWS answers JSON:
     {"__type": "AccessDeniedException", "message": ...} (KMS API Reference, "Common Errors").
     Requests carrying X-Amz-Target (the JSON protocol) get that form.
  3. Hosted zone name servers. moto gives every hosted zone the same four name servers. AWS gives
     each zone its own delegation set (four of its ns-N.awsdns-M.{com,net,org,co.uk} servers) and
     never the same set to two zones of the same name (Route 53 Developer Guide, "NS and SOA
     records that Amazon Route 53 creates for a public hosted zone"; docs/aws-facts.md 5). Each zone gets
     four names derived from its id, in its delegation set and in its apex NS and SOA records,
     none of them shared with a zone of the same name (derived from the id 1 in 128 times, a
     shared server made story 3's duplicate zone look partly delegated).
  4. Registration through Route 53 Domains. AWS creates the hosted zone with the comment
     `HostedZone created by Route53 Registrar` and registers the domain with that zone's name
     servers (Route 53 Developer Guide, "Registering a new domain"; docs/aws-facts.md 5). moto creates a
     zone without a comment, named without the trailing dot, and registers four unrelated names.
  5. ListHostedZonesByName. AWS lists every zone sorted by reversed labels, starting at DNSName
     (and HostedZoneId), MaxItems at a time, with IsTruncated, NextDNSName and NextHostedZoneId
     (Route 53 API Reference, ListHostedZonesByName). moto returns only the zones of exactly that
     name, unpaged, so a client's paging and exact-name filtering would go untested.
  6. AWS::NoValue in a list (CloudFormation). moto leaves a null where an `Fn::If` branch yields
     AWS::NoValue inside a list, so the CDK bootstrap roles' trust policies carry `null` statements.
     AWS removes that element (CloudFormation User Guide, "Pseudo parameters reference",
     AWS::NoValue; "Fn::If"). Lists drop such elements.
  7. KMS key policies set by CloudFormation. moto keeps an AWS::KMS::Key's KeyPolicy as a parsed
     object: GetKeyPolicy answers {"Policy": {...}} instead of a string and DescribeKey fails with
     500 (json.loads of a dict). AWS stores and returns the policy as JSON text (KMS API Reference,
     GetKeyPolicy: Policy is a String). The policy is stored as JSON text.
  8. IAM roles created by CloudFormation. moto ignores AWS::IAM::Role ManagedPolicyArns and keeps
     inline Policies as Python objects, so GetRolePolicy returns their Python repr. AWS attaches
     every ManagedPolicyArns entry and returns inline policies as URL-encoded JSON
     (CloudFormation User Guide, AWS::IAM::Role; IAM API Reference, GetRolePolicy). Inline policies
     are stored as JSON and the managed policies attached; AWS managed policies are loaded
     (MOTO_IAM_LOAD_MANAGED_POLICIES) so that arn:aws:iam::aws:policy/... ARNs resolve.
  9. Executing a change set. moto builds a stack's outputs before a CREATE change set is applied
     and never again, so the stack has no Outputs (nor exports). AWS gives the stack the outputs of
     the executed template (CloudFormation API Reference, ExecuteChangeSet; DescribeStacks).
     The CDK CLI bootstraps through a change set. Outputs are rebuilt after execution.

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
    """The shape of an AWS managed key's policy (docs/aws-facts.md 1.4)."""
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


def correct_json_access_denied() -> None:
    """Correction 2: JSON-protocol services answer AccessDeniedException as JSON, not XML."""
    import re
    from moto import server as moto_server

    dispatcher = moto_server.DomainDispatcherApplication
    original_call = dispatcher.__call__

    def call(self, environ, start_response):
        if "HTTP_X_AMZ_TARGET" not in environ:
            return original_call(self, environ, start_response)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(original_call(self, environ, capture))
        status, headers = captured["status"], captured["headers"]
        if status.startswith("403") and body.lstrip().startswith(b"<") and b"AccessDenied" in body:
            message = re.search(rb"<Message>(.*?)</Message>", body, re.S)
            body = json.dumps({"__type": "AccessDeniedException",
                               "message": message.group(1).decode() if message else "access denied"}).encode()
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")]
            headers += [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))]
            status = "400 Bad Request"
        start_response(status, headers)
        return [body]

    dispatcher.__call__ = call


def zone_name_servers(zone_id: str, salt: int = 0) -> list[str]:
    """Four name servers for a zone, derived from its id (and `salt`), in the shape of Route 53's."""
    import hashlib

    n = int.from_bytes(hashlib.sha256(f"{zone_id}/{salt}".encode() if salt else zone_id.encode()).digest()[:8], "big")
    out = []
    for i, tld in enumerate(["com", "net", "org", "co.uk"]):
        server = (n >> (11 * i)) % 512 * 4 + i
        out.append(f"ns-{server}.awsdns-{server // 32 % 64:02d}.{tld}")
    return out


def correct_zone_name_servers() -> None:
    """Correction 3: every hosted zone its own delegation set."""
    from moto.route53 import models as r53

    original = r53.Route53Backend.create_hosted_zone

    def create(self, name, private_zone, *args, **kwargs):
        if not name.endswith("."):
            name += "."
        zone = original(self, name, private_zone, *args, **kwargs)
        if kwargs.get("delegation_set_id"):
            return zone
        # Zones of one name share no name server (else a resolver could be sent to either zone),
        # so a derived set that meets another's is derived again.
        taken = {n for other in self.zones.values() if other.id != zone.id and other.name == zone.name
                 for n in other.delegation_set.name_servers}
        salt = 0
        servers = zone_name_servers(zone.id)
        while taken.intersection(servers):
            salt += 1
            servers = zone_name_servers(zone.id, salt)
        zone.delegation_set.name_servers = servers
        for rrset in zone.rrsets:
            if rrset.type == "NS" and rrset.name.rstrip(".") == name.rstrip("."):
                rrset.records = list(servers)
            if rrset.type == "SOA":
                rrset.records = [f"{servers[0]}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"]
        return zone

    r53.Route53Backend.create_hosted_zone = create


REGISTRAR_COMMENT = "HostedZone created by Route53 Registrar"


def correct_registration() -> None:
    """Correction 4: a registered domain's zone is the registrar's, and the domain uses its servers."""
    from moto.route53domains import models as domains
    from moto.route53domains.validators import NameServer

    original = domains.Route53DomainsBackend.register_domain

    def register(self, domain_name, *args, **kwargs):
        operation = original(self, domain_name, *args, **kwargs)
        route53 = self._Route53DomainsBackend__route53_backend
        zones = [z for z in route53.zones.values() if z.name.rstrip(".") == domain_name.rstrip(".")]
        zone = zones[-1]
        zone.comment = REGISTRAR_COMMENT
        domain = self._Route53DomainsBackend__domains[domain_name]
        domain.nameservers = [NameServer.validate(name=n) for n in zone.delegation_set.name_servers]
        return operation

    domains.Route53DomainsBackend.register_domain = register


def correct_list_by_name() -> None:
    """Correction 5: ListHostedZonesByName lists from DNSName on, sorted, paged."""
    from moto.core.responses import ActionResult
    from moto.route53 import responses

    def reversed_labels(name: str) -> str:
        return ".".join(reversed(name.rstrip(".").lower().split(".")))

    def list_by_name(self):
        dns_name = self._get_param("DNSName")
        zone_id = self._get_param("HostedZoneId")
        max_items = int(self._get_param("MaxItems") or 100)
        zones = sorted(self.backend.zones.values(), key=lambda z: (reversed_labels(z.name), z.resource_id))
        if dns_name:
            start = (reversed_labels(dns_name), (zone_id or "").split("/")[-1])
            zones = [z for z in zones if (reversed_labels(z.name), z.resource_id) >= start]
        page, rest = zones[:max_items], zones[max_items:]
        result = {"DNSName": dns_name, "HostedZoneId": zone_id, "HostedZones": page,
                  "IsTruncated": bool(rest), "MaxItems": str(max_items)}
        if rest:
            result["NextDNSName"] = rest[0].name
            result["NextHostedZoneId"] = rest[0].resource_id
        return ActionResult(result)

    responses.Route53.list_hosted_zones_by_name = list_by_name


def correct_cfn_no_value_in_lists() -> None:
    """Correction 6: `Fn::If` that yields AWS::NoValue inside a list removes that element."""
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, list):
            cleaned = [clean_json(v, resources_map) for v in resource_json]
            return [v for v in cleaned if v is not None]
        return original(resource_json, resources_map)

    # clean_json recurses through the module global, so every nested list goes through this too.
    parsing.clean_json = clean_json


def correct_cfn_kms_key_policy() -> None:
    """Correction 7: a key created by CloudFormation stores its KeyPolicy as JSON text."""
    from moto.kms import models as kms_models

    original = kms_models.Key.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json.get("Properties", {})
        if not isinstance(properties.get("KeyPolicy"), str):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    kms_models.Key.create_from_cloudformation_json = classmethod(create)


def correct_cfn_role_policies() -> None:
    """Correction 8: a role created by CloudFormation keeps inline policies as JSON and gets its ManagedPolicyArns."""
    import os

    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.iam import models as iam_models

    original = iam_models.Role.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        for policy in properties.get("Policies", []):
            if not isinstance(policy["PolicyDocument"], str):
                policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])
        role = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_models.iam_backends[account_id][iam_models.get_partition(region_name)]
        for arn in properties.get("ManagedPolicyArns", []):
            backend.attach_role_policy(arn, role.name)
        return role

    iam_models.Role.create_from_cloudformation_json = classmethod(create)


def correct_cfn_change_set_outputs() -> None:
    """Correction 9: executing a change set gives the stack the outputs of the change set's template."""
    from moto.cloudformation import models as cfn_models

    original = cfn_models.CloudFormationBackend.execute_change_set

    def execute(self, change_set_name, stack_name=None):
        original(self, change_set_name, stack_name)
        for stack in self.stacks.values():
            if stack.name == stack_name or stack.stack_id == stack_name or any(
                cs.stack is stack and change_set_name in (cs.change_set_id, cs.change_set_name)
                for cs in self.change_sets.values()
            ):
                stack._parse_template()
                stack.output_map = stack._create_output_map()

    cfn_models.CloudFormationBackend.execute_change_set = execute


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    correct_aws_managed_keys()
    correct_json_access_denied()
    correct_zone_name_servers()
    correct_registration()
    correct_list_by_name()
    correct_cfn_no_value_in_lists()
    correct_cfn_kms_key_policy()
    correct_cfn_role_policies()
    correct_cfn_change_set_outputs()
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
