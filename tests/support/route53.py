"""Route 53 and Route 53 Domains actions against a local AWS, for the hosted-zone tests.

Usage: python route53.py ENDPOINT_URL < ACTIONS.json
ACTIONS is a JSON list; each action's answer is printed, in order, as one JSON list:
  {"register": "example.com"}                      -> {"id", "ns"} of the registrar's zone
  {"zone": "example.com", "private": false}        -> {"id", "ns"} (ns empty for a private zone)
  {"record": {"zone": ID, "name": N, "type": T, "values": [...]}} -> {}
"""

import json
import sys

import boto3

CONTACT = {"FirstName": "Pat", "LastName": "Doe", "ContactType": "PERSON", "AddressLine1": "1 Main St",
           "City": "Seattle", "State": "WA", "CountryCode": "US", "ZipCode": "98101",
           "PhoneNumber": "+1.5555550100", "Email": "pat@example.org"}


def main() -> None:
    endpoint = sys.argv[1]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    route53, domains = boto3.client("route53", **kw), boto3.client("route53domains", **kw)
    out = []
    for i, action in enumerate(json.load(sys.stdin)):
        if "register" in action:
            name = action["register"]
            domains.register_domain(DomainName=name, DurationInYears=2, AdminContact=CONTACT,
                                    RegistrantContact=CONTACT, TechContact=CONTACT)
            ns = [n["Name"] for n in domains.get_domain_detail(DomainName=name)["Nameservers"]]
            zones = route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
            zone = next(z for z in zones if z.get("Config", {}).get("Comment") == "HostedZone created by Route53 Registrar"
                        and z["Name"].rstrip(".") == name)
            out.append({"id": zone["Id"].split("/")[-1], "ns": ns})
        elif "zone" in action:
            args = dict(Name=action["zone"], CallerReference=f"{action['zone']}-{i}-{id(action)}")
            if action.get("private"):
                args["VPC"] = {"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"}
                args["HostedZoneConfig"] = {"PrivateZone": True, "Comment": "private"}
            zone = route53.create_hosted_zone(**args)
            ns = zone.get("DelegationSet", {}).get("NameServers", []) if not action.get("private") else []
            out.append({"id": zone["HostedZone"]["Id"].split("/")[-1], "ns": ns})
        elif "record" in action:
            r = action["record"]
            route53.change_resource_record_sets(HostedZoneId=r["zone"], ChangeBatch={"Changes": [{
                "Action": "UPSERT", "ResourceRecordSet": {"Name": r["name"], "Type": r["type"], "TTL": 300,
                                                          "ResourceRecords": [{"Value": v} for v in r["values"]]}}]})
            out.append({})
        else:
            raise SystemExit(f"unknown action {action}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
