"""Seeds a local AWS (moto) with the accounts of docs/stories.md (stories 1 to 6) and writes the spec
that checks them.

Usage: python seed.py ENDPOINT_URL broken|fixed SPEC_OUT

`broken` reproduces each story's mistake; `fixed` is the same account corrected, which must pass
with no false alarm. Account 123456789012 (moto's), region us-east-1; account 222222222222 is the
"other" account (staging, the SaaS scheduler), whose IAM policies cannot be read from here.
"""

import json
import sys

import boto3

A = "123456789012"
B = "222222222222"
R = "us-east-1"


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=R,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ROOT = {"Sid": "EnableIAMUserPermissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
        "Action": "kms:*", "Resource": "*"}
TRUST_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def key(kms, alias, key_policy, description):
    k = kms.create_key(Policy=key_policy, Description=description)["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=k["KeyId"])
    return k


def role(iam, name, inline=None, managed=()):
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    for pname, doc in (inline or {}).items():
        iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=doc)
    for arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return f"arn:aws:iam::{A}:role/{name}"


def seed(endpoint, fixed, out):
    kms, ssm, iam = client("kms", endpoint), client("ssm", endpoint), client("iam", endpoint)

    # Story 2: a SecureString under a self-made CMK, read by the AwsCustomResource's Lambda role.
    app = key(kms, "alias/app-data", policy(ROOT), "story 2: self-made CMK")
    ssm.put_parameter(Name="/app/db/password", Value="not-read-by-preflight", Type="SecureString", KeyId="alias/app-data")
    ssm.put_parameter(Name="/app/db/username", Value="admin", Type="SecureString")  # alias/aws/ssm
    param_arn = f"arn:aws:ssm:{R}:{A}:parameter/app/db/*"
    reader_statements = [{"Sid": "ReadParameters", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": param_arn}]
    if fixed:
        reader_statements.append({"Sid": "DecryptThroughSsm", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": app["Arn"],
                                  "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{R}.amazonaws.com"}}})
    reader = role(iam, "DbAuroraGetDbPasswordRole", {"read-db-secret": policy(*reader_statements)})

    # Story 6: a CMK whose key policy names only the test role and does not delegate to IAM.
    key_users = {"Sid": "KeyUsers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/test-role"},
                 "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}
    api = key(kms, "alias/api-key", policy(key_users, ROOT) if fixed else policy(key_users), "story 6: encrypt/decrypt API key")
    power = iam.create_policy(PolicyName="KmsPowerUser", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))["Policy"]["Arn"]
    test_role = role(iam, "test-role", managed=[power])
    prod_role = role(iam, "prod-api", managed=[power])

    # Story 5: a CMK on EBS used by a SaaS scheduler's role in another account.
    scheduler = f"arn:aws:iam::{B}:role/scheduler"
    ebs_statements = [ROOT, {"Sid": "SchedulerUse", "Effect": "Allow", "Principal": {"AWS": scheduler},
                             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                             "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{R}.amazonaws.com"}}}]
    if fixed:
        ebs_statements.append({"Sid": "SchedulerGrants", "Effect": "Allow", "Principal": {"AWS": scheduler},
                               "Action": "kms:CreateGrant", "Resource": "*",
                               "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
    key(kms, "alias/ebs-key", policy(*ebs_statements), "story 5: EBS volumes")

    # Story 4: a snapshot shared with staging; the new key policy that must not lock anyone out.
    staging = f"arn:aws:iam::{B}:root"
    key(kms, "alias/snapshot-key", policy(ROOT, {
        "Sid": "StagingRestore", "Effect": "Allow", "Principal": {"AWS": staging},
        "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*", "kms:GenerateDataKey*"], "Resource": "*"}),
        "story 4: migration key")
    admin = role(iam, "key-admin", managed=[power])
    new_policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "StagingRestore", "Effect": "Allow", "Principal": {"AWS": staging},
         "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"], "Resource": "*"}]}
    if fixed:
        new_policy["Statement"].insert(0, json.loads(json.dumps(ROOT)))

    bootstrap = seed_bootstrap(endpoint, fixed, power)

    spec = {
        "Bootstrap": bootstrap,
        "Parameters": [
            {"Name": "/app/db/password", "Readers": [reader]},
            {"Name": "/app/db/username", "Readers": [reader]},
        ],
        "Keys": [
            {"Key": "alias/api-key", "Principals": [test_role, prod_role], "Actions": ["kms:Encrypt", "kms:Decrypt"]},
            {"Key": "alias/ebs-key", "Principals": [scheduler], "Actions": ["kms:Decrypt"],
             "ViaService": f"ec2.{R}.amazonaws.com", "ForAwsResources": True},
            {"Key": "alias/snapshot-key" if fixed else "alias/aws/rds", "SharedWithAccounts": [B]},
        ],
        "KeyPolicies": [{"Policy": new_policy, "Administrators": [admin]}],
        "HostedZone": seed_story_3(endpoint, fixed, out),
    }
    return spec


def seed_bootstrap(endpoint, fixed, admin_policy):
    """Story 1: the CDK bootstrap bucket under a self-made CMK that the deploy roles cannot use."""
    kms, iam, s3, cfn = (client(s, endpoint) for s in ("kms", "iam", "s3", "cloudformation"))
    q = "hnb659fds"
    role_name = lambda kind: f"cdk-{q}-{kind}-{A}-{R}"
    publishing = f"arn:aws:iam::{A}:role/{role_name('file-publishing-role')}"
    if fixed:
        # The key policy CDK's bootstrap template gives the key it creates (docs/aws-facts.md 2).
        key_policy = policy(
            {"Sid": "KeyManagement", "Effect": "Allow", "Principal": {"AWS": A}, "Resource": "*",
             "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
                        "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                        "kms:GenerateDataKey", "kms:TagResource", "kms:UntagResource"]},
            {"Sid": "AllowS3Use", "Effect": "Allow", "Principal": {"AWS": "*"}, "Resource": "*",
             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
             "Condition": {"StringEquals": {"kms:CallerAccount": A, "kms:ViaService": f"s3.{R}.amazonaws.com"}}},
            {"Sid": "AllowFilePublishing", "Effect": "Allow", "Principal": {"AWS": publishing}, "Resource": "*",
             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]})
    else:
        # The beginner's CMK: only its creator may use it.
        key_policy = policy({"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:user/beginner"},
                             "Action": "kms:*", "Resource": "*"})
    k = key(kms, f"alias/cdk-{q}-assets-key" if fixed else "alias/my-cdk-key", key_policy, "story 1: bootstrap bucket key")
    bucket = f"cdk-{q}-assets-{A}-{R}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": k["Arn"]}}]})
    trusted = [A, B] if fixed else [A]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{t}:root" for t in trusted]}, "Action": "sts:AssumeRole"}]})
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{R}.amazonaws.com"}}
    for kind, statements in [
        ("file-publishing-role", [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"], "Resource": k["Arn"]}]),
        ("deploy-role", [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"], "Resource": "*", "Condition": via_s3}]),
        ("cfn-exec-role", None),
    ]:
        iam.create_role(RoleName=role_name(kind), AssumeRolePolicyDocument=trust)
        if statements:
            iam.put_role_policy(RoleName=role_name(kind), PolicyName="default", PolicyDocument=policy(*statements))
        else:
            iam.attach_role_policy(RoleName=role_name(kind), PolicyArn=admin_policy)
    reader = role(iam, "site-deployment-handler", {"assets": policy(
        {"Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"], "Resource": "*"})})
    template = {
        "Parameters": {"FileAssetsBucketKmsKeyId": {"Type": "String"}},
        "Resources": {"CdkBootstrapVersion": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": f"/cdk-bootstrap/{q}/version", "Type": "String", "Value": "27"}}},
        "Outputs": {"BucketName": {"Value": bucket}},
    }
    # --bootstrap-kms-key-id given a key ARN (aws-cdk-cli#921) in the broken account.
    cfn.create_stack(StackName="CDKToolkit", TemplateBody=json.dumps(template),
                     Parameters=[{"ParameterKey": "FileAssetsBucketKmsKeyId", "ParameterValue": "" if fixed else k["Arn"]}])
    return {"TrustedAccounts": [B], "Readers": [reader]}


DNS_ROOT, COM = "127.0.0.10", ["127.0.0.20", "127.0.0.21"]


def seed_story_3(endpoint, fixed, out):
    """Story 3: example.com registered through Route 53 Domains (its registrar-created zone), and a
    second zone of the same name made by hand. The domain is delegated to the registrar's zone.

    Writes OUT.dns.json, the DNS hierarchy (root -> com) that publishes that delegation, for
    tests/support/dns_local.py; the caller starts it and sets Options.DnsRootServers to
    127.0.0.10:PORT. Writes OUT.zones.json with the zones' ids and name servers."""
    from route53 import CONTACT
    route53, domains = client("route53", endpoint), client("route53domains", endpoint)
    domains.register_domain(DomainName="example.com", DurationInYears=2, AdminContact=CONTACT,
                            RegistrantContact=CONTACT, TechContact=CONTACT)
    registrar = next(z for z in route53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"]
                     if z["Name"] == "example.com.")
    duplicate = route53.create_hosted_zone(Name="example.com", CallerReference="story-3-second-zone",
                                           HostedZoneConfig={"Comment": "made by hand for the new site"})
    zones = {}
    for label, zone_id in (("registrar", registrar["Id"]), ("duplicate", duplicate["HostedZone"]["Id"])):
        z = route53.get_hosted_zone(Id=zone_id)
        zones[label] = {"id": zone_id.split("/")[-1], "ns": z["DelegationSet"]["NameServers"]}
    hierarchy = {"zones": [
        {"name": ".", "servers": [{"name": "a.root-servers.test", "ip": DNS_ROOT}],
         "delegations": {"com": {"ns": ["a.gtld-servers.test", "b.gtld-servers.test"],
                                 "glue": {"a.gtld-servers.test": [COM[0]], "b.gtld-servers.test": [COM[1]]}}}},
        {"name": "com", "servers": [{"name": "a.gtld-servers.test", "ip": COM[0]},
                                    {"name": "b.gtld-servers.test", "ip": COM[1]}],
         "delegations": {"example.com": {"ns": zones["registrar"]["ns"]}}},
    ]}
    with open(out + ".dns.json", "w") as f:
        json.dump(hierarchy, f, indent=2)
    with open(out + ".zones.json", "w") as f:
        json.dump(zones, f, indent=2)
    # The CDK app wrote the ACM validation record into the zone it was given.
    target = zones["registrar" if fixed else "duplicate"]["id"]
    return {"ZoneId": target, "RecordNames": ["_3f1e6a.example.com"]}


def seed_edge_cases(endpoint):
    """A disabled key, a key pending deletion, a String parameter and a missing one."""
    kms, ssm, iam = client("kms", endpoint), client("ssm", endpoint), client("iam", endpoint)
    reader = role(iam, "edge-reader", {"all": policy({"Effect": "Allow", "Action": ["kms:*", "ssm:GetParameter"], "Resource": "*"})})
    disabled = key(kms, "alias/disabled-key", policy(ROOT), "disabled")
    kms.disable_key(KeyId=disabled["KeyId"])
    doomed = key(kms, "alias/doomed-key", policy(ROOT), "pending deletion")
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    ssm.put_parameter(Name="/edge/under-disabled", Value="x", Type="SecureString", KeyId="alias/disabled-key")
    ssm.put_parameter(Name="/edge/plain", Value="x", Type="String")
    return {
        "Parameters": [
            {"Name": "/edge/under-disabled", "Readers": [reader]},
            {"Name": "/edge/plain", "Readers": [reader]},
            {"Name": "/edge/missing", "Readers": [reader]},
        ],
        "Keys": [
            {"Key": "alias/doomed-key", "Principals": [reader]},
            {"Key": "alias/no-such-key", "Principals": [reader]},
        ],
    }


def seed_denied(endpoint, out):
    """The edge cases, read by a Preflight whose own permissions deny kms:GetKeyPolicy.

    Creates the user `preflight-limited`, writes its keys to OUT.credentials (KEY=VALUE lines),
    then turns on moto's IAM enforcement (POST /moto-api/reset-auth): from then on every call is
    authorized against the caller's IAM policies, as AWS does."""
    import urllib.request
    spec = seed_edge_cases(endpoint)
    iam = client("iam", endpoint)
    iam.create_user(UserName="preflight-limited")
    iam.put_user_policy(UserName="preflight-limited", PolicyName="reads", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:GetKeyPolicy", "Resource": "*"}))
    k = iam.create_access_key(UserName="preflight-limited")["AccessKey"]
    with open(out + ".credentials", "w") as f:
        f.write(f"AWS_ACCESS_KEY_ID={k['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={k['SecretAccessKey']}\n")
    request = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    return spec


def main():
    endpoint, variant, out = sys.argv[1], sys.argv[2], sys.argv[3]
    if variant not in ("broken", "fixed", "edge", "denied"):
        sys.exit("variant must be broken, fixed, edge or denied")
    if variant == "denied":
        spec = seed_denied(endpoint, out)
    elif variant == "edge":
        spec = seed_edge_cases(endpoint)
    else:
        spec = seed(endpoint, variant == "fixed", out)
    with open(out, "w") as f:
        json.dump(spec, f, indent=2)


if __name__ == "__main__":
    main()
