"""Scale benchmark (issue 11, item 5): a CDK cloud assembly of 20 stacks with 2,000 resources,
inferred and checked, with each distinct fact read once across all stacks.

What it builds:
  * A local AWS (moto, through tests/support/aws_local.py) holding what the stacks depend on:
    5 customer managed KMS keys whose policies delegate to the account; 50 SecureString parameters
    (/bench/p00 .. /bench/p49) under those keys (KeyId: the key id); 10 Secrets Manager secrets
    (bench/s0 .. bench/s9) under the same keys (KmsKeyId: the key ARN, as CDK writes it); an existing
    ECS task execution role shared by every stack; and the CDK bootstrap, deployed from the CDK
    CLI's own template through a change set (tests/bootstrap/deploy.py), as
    `cdk bootstrap --cloudformation-execution-policies ARN` would, with a managed policy that lets
    the cfn-exec role do what the checks ask of it (read the parameters and secrets, decrypt with
    their keys, put key policies).
  * A cloud assembly shaped like `cdk synth`'s output (manifest.json version 55.0.0, one
    aws:cloudformation:stack artifact and one cdk:asset-manifest per stack, tree.json), 20 stacks in
    aws://123456789012/us-east-1 with the default qualifier's (hnb659fds) roles, 100 resources
    each: `{{resolve:ssm-secure:...}}` passwords of RDS instances and clusters, Redshift clusters and
    ElastiCache replication groups; `{{resolve:secretsmanager:...}}` in RDS passwords and Lambda
    environments; ECS task definitions whose secrets name parameters and secrets by ARN, read by a
    task execution role the stack creates or by the shared existing one; KMS keys with key
    policies; CDKMetadata; and SQS queues, SNS topics and S3 buckets to make up the 100.
    The stacks share their dependencies: each parameter is referenced from 4 to 12 stacks (by name
    in dynamic references, by ARN in task secrets), each secret from 8 (by name and by ARN), each
    key by many parameters and secrets, the roles by every stack. A correct run reads each of them
    once; a run that read them per stack would make about 20 times the calls. Like aws-cdk-lib,
    which names resources by their path inside the stack, the same construct in two stacks has
    the same logical id (e.g. each stack's task execution role).

What it measures:
  * Inference: `preflight infer --cdk-out DIR --format json` (no AWS), best of --runs, as
    milliseconds per 1,000 resources. Target: under 50 ms per 1,000 resources (release build).
  * The check: `preflight check --cdk-out DIR --format json` through a proxy (scripts/aws_proxy.py)
    that records every AWS call. It prints the calls by operation, the distinct requests, every
    request made more than once (the same operation on the same target: a fact read twice), the
    distinct facts read (a key read as DescribeKey of its id and of its ARN is one key), the facts
    a correct run needs (computed from the assembly and the seeded account), the wall time and the
    report's summary. Target: each distinct fact read once, whatever the number of stacks that
    need it, so AWS calls == facts needed and no request is repeated.
  * The findings: counts by check, those that did not pass grouped by principal, and how they
    name their stacks and sources (identical findings; a finding whose source is a reference
    another principal reads).

Usage: .venv/bin/python scripts/bench_stacks.py [--json] [--runs N] [--keep] PREFLIGHT_BINARY
  --json  one JSON object with the figures instead of lines (for a test to assert on)
  --keep  keep the generated assembly, the report (report.json) and the calls made (calls.jsonl)
          in a folder whose path is printed on stderr
Exits 1 when an identical request was made twice (other than an SDK retry of a failed call) or
when the check exits 2 (it could not run); 0 otherwise, whatever the findings.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "bootstrap"))
from aws_proxy import Proxy  # noqa: E402  (the counting proxy shared with bench_fetch.py)

A, R, P = "123456789012", "us-east-1", "aws"
QUALIFIER = "hnb659fds"
STACKS, RESOURCES_PER_STACK = 20, 100
N_KEYS, N_PARAMETERS, N_SECRETS = 5, 50, 10
SHARED_TASK_ROLE = "bench-task-execution"
EXEC_POLICY = "BenchCfnExecution"
ECS_MANAGED = f"arn:{P}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
LAMBDA_MANAGED = f"arn:{P}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
PARAMETERS_PER_CALL = 10  # src/aws/mod.rs, PARAMETERS_PER_CALL: DescribeParameters batches
BOOTSTRAP_ROLES = ("file-publishing-role", "deploy-role", "cfn-exec-role")  # crates/core/src/facts/mod.rs

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def role_arn(kind):
    return f"arn:{P}:iam::{A}:role/cdk-{QUALIFIER}-{kind}-{A}-{R}"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


# ---------------------------------------------------------------------------------------------
# The local AWS


def start_moto(log):
    """tests/support/aws_local.py, its warnings (moto's unsupported CloudFormation resources of the
    bootstrap template) into `log`."""
    p = subprocess.Popen([sys.executable, str(ROOT / "tests/support/aws_local.py")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("READY "):
        log.seek(0)
        raise RuntimeError(f"tests/support/aws_local.py did not start: {line!r} {log.read()}")
    return p, line.split(" ", 1)[1]


def seed(url):
    """The account the stacks deploy into. Returns what the assembly needs to name: key ARNs and
    secret ARNs (Secrets Manager adds a random suffix)."""
    kw = dict(endpoint_url=url, region_name=R, **CREDENTIALS)
    kms, ssm, sm, iam = (boto3.client(s, **kw) for s in ("kms", "ssm", "secretsmanager", "iam"))
    root = {"Sid": "EnableIAMUserPermissions", "Effect": "Allow", "Principal": {"AWS": f"arn:{P}:iam::{A}:root"},
            "Action": "kms:*", "Resource": "*"}
    keys = [kms.create_key(Policy=json.dumps(doc(root)), Description=f"bench key {k}")["KeyMetadata"]
            for k in range(N_KEYS)]
    for i in range(N_PARAMETERS):
        ssm.put_parameter(Name=f"/bench/p{i:02d}", Value="never-read", Type="SecureString",
                          KeyId=keys[i % N_KEYS]["KeyId"])
    secrets = [sm.create_secret(Name=f"bench/s{i}", KmsKeyId=keys[i % N_KEYS]["Arn"],
                                SecretString=json.dumps({"password": "never-read", "token": "never-read"}))["ARN"]
               for i in range(N_SECRETS)]
    key_arns = [k["Arn"] for k in keys]
    # The ECS task execution role every stack's shared task definitions use (created outside the app).
    trust = doc({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=SHARED_TASK_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=SHARED_TASK_ROLE, PolicyName="secrets", PolicyDocument=json.dumps(doc(
        allow(["ssm:GetParameters", "ssm:GetParameter"], f"arn:{P}:ssm:{R}:{A}:parameter/bench/*"),
        allow("secretsmanager:GetSecretValue", f"arn:{P}:secretsmanager:{R}:{A}:secret:bench/*"),
        allow("kms:Decrypt", key_arns))))
    iam.attach_role_policy(RoleName=SHARED_TASK_ROLE, PolicyArn=ECS_MANAGED)
    # What the cfn-exec role may do: the policy given to `cdk bootstrap --cloudformation-execution-policies`.
    exec_policy = iam.create_policy(PolicyName=EXEC_POLICY, PolicyDocument=json.dumps(doc(
        allow(["ssm:GetParameter", "ssm:GetParameters"], f"arn:{P}:ssm:{R}:{A}:parameter/bench/*"),
        allow("secretsmanager:GetSecretValue", f"arn:{P}:secretsmanager:{R}:{A}:secret:bench/*"),
        allow(["kms:Decrypt", "kms:DescribeKey", "kms:CreateKey", "kms:PutKeyPolicy", "kms:TagResource"], "*"),
        allow(["rds:*", "redshift:*", "elasticache:*", "lambda:*", "ecs:*", "sqs:*", "sns:*", "s3:*",
               "iam:*", "ssm:GetParameters"], "*"))))["Policy"]["Arn"]
    import deploy  # tests/bootstrap/deploy.py: the CDK CLI's bootstrap template, via a change set

    deploy.deploy(url, execution_policies=[exec_policy], via_change_set=True)
    return {"keys": key_arns, "secrets": secrets}


# ---------------------------------------------------------------------------------------------
# The cloud assembly


def logical_id(path):
    """A CDK-style logical id: the path's parts and 8 hex digits of its hash."""
    return "".join(path) + hashlib.sha256("/".join(path).encode()).hexdigest()[:8].upper()


def parameter_arn(name):
    # What aws-cdk-lib writes for an imported parameter's ARN.
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":ssm:{R}:{A}:parameter{name}"]]}


def pname(i):
    return f"/bench/p{i % N_PARAMETERS:02d}"


def stack_template(s, seeded):
    """The template of stack `s`: exactly RESOURCES_PER_STACK resources."""
    name = f"BenchStack{s:02d}"
    res = {}

    def add(path, rtype, props, **extra):
        lid = logical_id(path)
        res[lid] = {"Type": rtype, "Properties": props, **extra,
                    "Metadata": {"aws:cdk:path": f"{name}/{'/'.join(path)}/Resource"}}
        return lid

    key_of_param = lambda i: seeded["keys"][(i % N_PARAMETERS) % N_KEYS]  # noqa: E731
    key_of_secret = lambda k: seeded["keys"][(k % N_SECRETS) % N_KEYS]  # noqa: E731
    secret_arn = lambda k: seeded["secrets"][k % N_SECRETS]  # noqa: E731

    # 10 ssm-secure references, where CloudFormation supports them: this stack's 10 parameters.
    mine = [10 * s + j for j in range(10)]
    for j, i in enumerate(mine[:4]):
        add(["Db", str(j)], "AWS::RDS::DBInstance", {
            "Engine": "postgres", "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20",
            "MasterUsername": "app", "MasterUserPassword": f"{{{{resolve:ssm-secure:{pname(i)}}}}}"},
            DeletionPolicy="Snapshot", UpdateReplacePolicy="Snapshot")
    for j, i in enumerate(mine[4:6]):
        add(["Cluster", str(j)], "AWS::RDS::DBCluster", {
            "Engine": "aurora-postgresql", "MasterUsername": "dbadmin", "StorageEncrypted": True,
            "MasterUserPassword": f"{{{{resolve:ssm-secure:{pname(i)}:1}}}}"},
            DeletionPolicy="Snapshot", UpdateReplacePolicy="Snapshot")
    for j, i in enumerate(mine[6:8]):
        add(["Warehouse", str(j)], "AWS::Redshift::Cluster", {
            "ClusterType": "single-node", "NodeType": "ra3.xlplus", "DBName": "dev", "MasterUsername": "admin",
            "MasterUserPassword": {"Fn::Join": ["", ["{{resolve:ssm-secure:", pname(i), "}}"]]}})
    for j, i in enumerate(mine[8:10]):
        add(["Cache", str(j)], "AWS::ElastiCache::ReplicationGroup", {
            "ReplicationGroupDescription": "cache", "Engine": "redis", "CacheNodeType": "cache.t4g.micro",
            "NumCacheClusters": 1, "TransitEncryptionEnabled": True,
            "AuthToken": {"Fn::Sub": f"{{{{resolve:ssm-secure:{pname(i)}}}}}"}})

    # Secrets by name: two secrets of this stack, in RDS passwords and Lambda environments.
    names = [f"bench/s{s % N_SECRETS}", f"bench/s{(s + 1) % N_SECRETS}"]
    for j, n in enumerate(names):
        add(["SecretDb", str(j)], "AWS::RDS::DBInstance", {
            "Engine": "mysql", "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20", "MasterUsername": "app",
            "MasterUserPassword": f"{{{{resolve:secretsmanager:{n}:SecretString:password}}}}"},
            DeletionPolicy="Snapshot", UpdateReplacePolicy="Snapshot")
    lambda_role = add(["FnRole"], "AWS::IAM::Role", {
        "AssumeRolePolicyDocument": doc({"Action": "sts:AssumeRole", "Effect": "Allow",
                                         "Principal": {"Service": "lambda.amazonaws.com"}}),
        "ManagedPolicyArns": [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                 ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}]})
    for j in range(4):
        add(["Fn", str(j)], "AWS::Lambda::Function", {
            "Code": {"ZipFile": "exports.handler = async () => ({ ok: true });"},
            "Handler": "index.handler", "Runtime": "nodejs20.x",
            "Role": {"Fn::GetAtt": [lambda_role, "Arn"]},
            "Environment": {"Variables": {
                "API_TOKEN": f"{{{{resolve:secretsmanager:{names[j % 2]}:SecretString:token}}}}"}}},
            DependsOn=[lambda_role])

    # ECS: two task definitions read by a task execution role the stack creates (with a policy
    # that grants what they read), two by the shared existing role. Secrets by ARN, the parameters
    # of other stacks.
    planned_params = [pname(10 * s + 10 + j) for j in range(3)]
    planned_secret = (s + 2) % N_SECRETS
    exec_role = add(["Task", "ExecutionRole"], "AWS::IAM::Role", {
        "AssumeRolePolicyDocument": doc({"Action": "sts:AssumeRole", "Effect": "Allow",
                                         "Principal": {"Service": "ecs-tasks.amazonaws.com"}}),
        "ManagedPolicyArns": [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                 ":iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]]}]})
    decrypt = sorted({key_of_param(10 * s + 10 + j) for j in range(3)} | {key_of_secret(planned_secret)})
    add(["Task", "ExecutionRole", "DefaultPolicy"], "AWS::IAM::Policy", {
        "PolicyName": logical_id(["Task", "ExecutionRole", "DefaultPolicy"]),
        "Roles": [{"Ref": exec_role}],
        "PolicyDocument": doc(
            allow("kms:Decrypt", decrypt),
            allow(["ssm:DescribeParameters", "ssm:GetParameters", "ssm:GetParameter", "ssm:GetParameterHistory"],
                  [parameter_arn(n) for n in planned_params]),
            allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], secret_arn(planned_secret)))})
    shared_params = [pname(10 * s + 20 + j) for j in range(2)]
    shared_secret = (s + 3) % N_SECRETS
    for j in range(4):
        planned = j < 2
        secrets = ([{"Name": f"P{k}", "ValueFrom": parameter_arn(n)} for k, n in enumerate(planned_params)]
                   + [{"Name": "DB", "ValueFrom": f"{secret_arn(planned_secret)}:password::"}]) if planned else \
            ([{"Name": f"P{k}", "ValueFrom": parameter_arn(n)} for k, n in enumerate(shared_params)]
             + [{"Name": "TOKEN", "ValueFrom": f"{secret_arn(shared_secret)}:token::"}])
        add(["Task", str(j)], "AWS::ECS::TaskDefinition", {
            "ContainerDefinitions": [{"Essential": True, "Image": "public.ecr.aws/docker/library/busybox:latest",
                                      "Name": "app", "Secrets": secrets}],
            "Cpu": "256", "Memory": "512", "NetworkMode": "awsvpc", "RequiresCompatibilities": ["FARGATE"],
            "Family": f"{name}Task{j}",
            "ExecutionRoleArn": {"Fn::GetAtt": [exec_role, "Arn"]} if planned else
            f"arn:{P}:iam::{A}:role/{SHARED_TASK_ROLE}"})

    # Keys the stack creates, with aws-cdk-lib's default key policy.
    for j in range(2):
        add(["DataKey", str(j)], "AWS::KMS::Key", {"KeyPolicy": doc({
            "Action": "kms:*", "Effect": "Allow", "Resource": "*",
            "Principal": {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{A}:root"]]}}})},
            DeletionPolicy="Retain", UpdateReplacePolicy="Retain")

    res["CDKMetadata"] = {"Type": "AWS::CDK::Metadata",
                          "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA/zPSMzfWM1BMLC/WTU7J1s3JTNKrDi5JTM7WcU7LC0otzi8tSk4FsZ3z81IySzLz82p1AkqLc/J1Ekuh2ggAhNcmjzkAAAA="},
                          "Metadata": {"aws:cdk:path": f"{name}/CDKMetadata/Default"}}
    filler = RESOURCES_PER_STACK - len(res)
    for j in range(filler):
        kind = j % 3
        if kind == 0:
            add(["Queue", str(j)], "AWS::SQS::Queue", {"VisibilityTimeout": 300, "SqsManagedSseEnabled": True},
                DeletionPolicy="Delete", UpdateReplacePolicy="Delete")
        elif kind == 1:
            add(["Topic", str(j)], "AWS::SNS::Topic", {"DisplayName": f"{name} topic {j}"})
        else:
            add(["Bucket", str(j)], "AWS::S3::Bucket", {
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                   "IgnorePublicAcls": True, "RestrictPublicBuckets": True}},
                DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    assert len(res) == RESOURCES_PER_STACK, len(res)
    # Every stack aws-cdk-lib synthesizes with the default synthesizer carries these two.
    return {
        "Resources": res,
        "Parameters": {"BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>", "Default": f"/cdk-bootstrap/{QUALIFIER}/version",
            "Description": "Version of the CDK Bootstrap resources in this environment, automatically retrieved from SSM Parameter Store. [cdk:skip]"}},
        "Rules": {"CheckBootstrapVersion": {"Assertions": [{
            "Assert": {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]},
            "AssertDescription": "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' with a recent version of the CDK CLI."}]}},
    }


def write_assembly(out, seeded):
    """The cloud assembly, as aws-cdk-lib writes it (manifest schema 55.0.0): per stack its template,
    its asset manifest and its artifacts; the tree. Returns the templates by stack name."""
    out.mkdir(parents=True, exist_ok=True)
    artifacts, templates, tree = {}, {}, {}
    bootstrap_param = f"/cdk-bootstrap/{QUALIFIER}/version"
    for s in range(STACKS):
        name = f"BenchStack{s:02d}"
        template = stack_template(s, seeded)
        templates[name] = template
        text = json.dumps(template, indent=1)
        (out / f"{name}.template.json").write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        (out / f"{name}.assets.json").write_text(json.dumps({"version": "55.0.0", "files": {digest: {
            "displayName": f"{name} Template",
            "source": {"path": f"{name}.template.json", "packaging": "file"},
            "destinations": {f"{A}-{R}-{digest[:8]}": {
                "bucketName": f"cdk-{QUALIFIER}-assets-{A}-{R}", "objectKey": f"{digest}.json", "region": R,
                "assumeRoleArn": f"arn:${{AWS::Partition}}:iam::{A}:role/cdk-{QUALIFIER}-file-publishing-role-{A}-{R}"}}}},
            "dockerImages": {}}, indent=1))
        (out / f"{name}.metadata.json").write_text(json.dumps({f"/{name}/BootstrapVersion": [
            {"type": "aws:cdk:logicalId", "data": "BootstrapVersion"}]}))
        artifacts[f"{name}.assets"] = {"type": "cdk:asset-manifest", "properties": {
            "file": f"{name}.assets.json", "requiresBootstrapStackVersion": 6,
            "bootstrapStackVersionSsmParameter": bootstrap_param}}
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://{A}/{R}",
            "properties": {
                "templateFile": f"{name}.template.json",
                "terminationProtection": False,
                "validateOnSynth": False,
                "assumeRoleArn": f"arn:${{AWS::Partition}}:iam::{A}:role/cdk-{QUALIFIER}-deploy-role-{A}-{R}",
                "cloudFormationExecutionRoleArn":
                    f"arn:${{AWS::Partition}}:iam::{A}:role/cdk-{QUALIFIER}-cfn-exec-role-{A}-{R}",
                "stackTemplateAssetObjectUrl": f"s3://cdk-{QUALIFIER}-assets-{A}-{R}/{digest}.json",
                "requiresBootstrapStackVersion": 6,
                "bootstrapStackVersionSsmParameter": bootstrap_param,
                "additionalDependencies": [f"{name}.assets"],
                "lookupRole": {
                    "arn": f"arn:${{AWS::Partition}}:iam::{A}:role/cdk-{QUALIFIER}-lookup-role-{A}-{R}",
                    "requiresBootstrapStackVersion": 8,
                    "bootstrapStackVersionSsmParameter": bootstrap_param},
            },
            "dependencies": [f"{name}.assets"],
            "additionalMetadataFile": f"{name}.metadata.json",
            "displayName": name,
        }
        tree[name] = {"id": name, "path": name, "constructInfo": {"fqn": "aws-cdk-lib.Stack", "version": "2.220.0"}}
    artifacts["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    (out / "manifest.json").write_text(json.dumps(
        {"version": "55.0.0", "artifacts": artifacts, "minimumCliVersion": "2.1148.2"}, indent=1))
    (out / "tree.json").write_text(json.dumps({"version": "tree-0.1", "tree": {
        "id": "App", "path": "", "children": tree,
        "constructInfo": {"fqn": "aws-cdk-lib.App", "version": "2.220.0"}}}))
    (out / "cdk.out").write_text(json.dumps({"version": "55.0.0"}))
    return templates


# ---------------------------------------------------------------------------------------------
# What a correct run reads


def expected_facts(url, templates, seeded):
    """The facts the check needs, each once, by operation: from the assembly (which parameters,
    secrets, roles and managed policies it names) and the seeded account (the roles' policies, the
    keys behind parameters and secrets, the assets bucket's key)."""
    text = json.dumps(templates)
    parameters = {f"/bench/p{i:02d}" for i in range(N_PARAMETERS) if f"/bench/p{i:02d}" in text}
    secrets = {f"bench/s{i}" for i in range(N_SECRETS) if f"bench/s{i}" in text}
    kw = dict(endpoint_url=url, region_name=R, **CREDENTIALS)
    iam = boto3.client("iam", **kw)
    keys = set(seeded["keys"])  # every parameter and secret is under one of the five
    keys.add("alias/aws/s3")  # the assets bucket (FileAssetsBucketKmsKeyId AWS_MANAGED_KEY): S3's AWS managed key
    roles = [f"cdk-{QUALIFIER}-{k}-{A}-{R}" for k in BOOTSTRAP_ROLES] + [SHARED_TASK_ROLE]
    inline, managed = 0, {LAMBDA_MANAGED, ECS_MANAGED}  # planned roles' ManagedPolicyArns, read by ARN
    for r in roles:
        inline += len(iam.list_role_policies(RoleName=r)["PolicyNames"])
        managed |= {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]}
    facts = {
        "sts:GetCallerIdentity": 1,
        "ssm:DescribeParameters": math.ceil(len(parameters) / PARAMETERS_PER_CALL),
        "ssm:GetParameter": 1,  # the bootstrap version
        "cloudformation:DescribeStacks": 1,  # CDKToolkit
        "s3:GetBucketEncryption": 1,  # the assets bucket
        "kms:DescribeKey": len(keys), "kms:GetKeyPolicy": len(keys), "kms:ListGrants": len(keys),
        "secretsmanager:DescribeSecret": len(secrets), "secretsmanager:GetResourcePolicy": len(secrets),
        "iam:GetRole": len(roles), "iam:ListRolePolicies": len(roles), "iam:ListAttachedRolePolicies": len(roles),
        "iam:GetRolePolicy": inline, "iam:GetPolicy": len(managed), "iam:GetPolicyVersion": len(managed),
    }
    return facts, {"parameters": len(parameters), "secrets": len(secrets), "keys": len(keys), "roles": len(roles),
                   "managed_policies": len(managed)}


# ---------------------------------------------------------------------------------------------
# Runs and analysis


def clean_env(extra=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
           "AWS_CONFIG_FILE": "/nonexistent/x", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/x",
           "AWS_EC2_METADATA_DISABLED": "true"}
    env.update(extra or {})
    return env


def time_start(binary, runs):
    """The best time of `preflight --version`: what any run costs before it reads anything."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([binary, "--version"], capture_output=True, env=clean_env(), check=True)
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def time_infer(binary, cdk_out, runs):
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([binary, "infer", "--cdk-out", str(cdk_out), "--format", "json"],
                             capture_output=True, text=True, env=clean_env())
        times.append((time.perf_counter() - start) * 1000)
        if out.returncode != 0:
            raise RuntimeError(f"preflight infer exited {out.returncode}: {out.stderr}")
        value = value or json.loads(out.stdout)
    return min(times), value


def operation_name(call):
    op = call.operation
    if call.service == "s3":
        op = {"GET ?encryption": "GetBucketEncryption"}.get(op, op)
    return f"{call.service}:{op}"


def fact_of(call):
    """The fact a call reads: its target, except that a key or a secret is one fact whatever name
    (id, ARN, alias) it is asked by: the ARN in the answer."""
    try:
        body = json.loads(call.response)
    except ValueError:
        body = {}
    if call.operation == "DescribeKey" and isinstance(body, dict) and "KeyMetadata" in body:
        return (operation_name(call), body["KeyMetadata"]["Arn"])
    if call.operation == "DescribeSecret" and isinstance(body, dict) and "ARN" in body:
        return (operation_name(call), body["ARN"])
    return (operation_name(call), call.target)


def analyse(log):
    by_op = Counter(operation_name(c) for c in log)
    seen = defaultdict(list)
    for c in log:
        seen[c.identity].append(c)
    repeated, retries = [], []
    for calls in seen.values():
        if len(calls) < 2:
            continue
        # An SDK retry repeats a call that failed with a retryable status; anything else is the
        # same request made twice.
        failed_before = all(c.status >= 500 or c.status == 429 for c in calls[:-1])
        entry = {"operation": operation_name(calls[0]), "target": calls[0].target, "times": len(calls),
                 "statuses": [c.status for c in calls]}
        (retries if failed_before else repeated).append(entry)
    facts = defaultdict(set)
    for c in log:
        facts[fact_of(c)].add(c.target)
    other_names = [{"operation": op, "fact": fact, "asked_as": sorted(targets)}
                   for (op, fact), targets in facts.items() if len(targets) > 1]
    errors = Counter(f"{operation_name(c)} {c.status}" for c in log if c.status >= 400)
    return {"by_op": dict(sorted(by_op.items())), "distinct_requests": len(seen), "repeated": repeated,
            "retries": retries, "distinct_facts": len(facts), "other_names": other_names, "errors": dict(errors)}


def run_check(binary, cdk_out, endpoint):
    env = clean_env({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": R,
                     "AWS_ENDPOINT_URL": endpoint})
    start = time.perf_counter()
    out = subprocess.run([binary, "check", "--cdk-out", str(cdk_out), "--format", "json"],
                         capture_output=True, text=True, env=env)
    wall = (time.perf_counter() - start) * 1000
    try:
        report = json.loads(out.stdout)
    except ValueError:
        report = None
    return out.returncode, wall, report, out.stderr


def summarise_findings(report):
    """Counts by (status, check); the findings that did not pass, grouped by status, check and
    principal, with their subjects and one message."""
    findings = report.get("findings", [])
    counts = Counter((f["status"], f["check"]) for f in findings)
    groups = {}
    for f in findings:
        if f["status"] == "pass":
            continue
        g = groups.setdefault((f["status"], f["check"], f.get("principal") or ""),
                              {"count": 0, "subjects": set(), "stacks": set(), "example": f.get("message", "")})
        g["count"] += 1
        g["subjects"].add(f.get("subject", ""))
        g["stacks"].add(f.get("stack") or "")
    not_passed = [{"status": s, "check": c, "principal": p, "count": g["count"], "subjects": sorted(g["subjects"]),
                   "stacks": len(g["stacks"]), "example": g["example"]} for (s, c, p), g in sorted(groups.items())]
    # How the findings name their stacks and sources. In this assembly a task secret
    # (ContainerDefinitions) is read by a task execution role and every other reference by the
    # cfn-exec role, so a finding whose source is the other kind names the wrong reference.
    exec_role = role_arn("cfn-exec-role")
    reads = [f for f in findings if f["check"] in ("parameter", "secret") and f.get("source")]
    wrong_source = [f for f in reads if (f.get("principal") == exec_role)
                    == ("ContainerDefinitions" in f["source"].get("property", ""))]
    attribution = {
        "findings": len(findings),
        "distinct_findings": len({json.dumps(f, sort_keys=True) for f in findings}),
        "stacks_named_by_read_findings": len({f.get("stack") for f in reads}),
        "read_findings_sourced_from_another_readers_reference": len(wrong_source),
    }
    return counts, not_passed, attribution


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", help="the preflight binary (e.g. target/release/preflight)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=5, help="inference runs (best is kept)")
    parser.add_argument("--keep", action="store_true", help="keep the generated cloud assembly")
    args = parser.parse_args()
    binary = str(Path(args.binary).resolve())
    work = Path(tempfile.mkdtemp(prefix="preflight-bench-stacks-"))
    cdk_out = work / "cdk.out"
    moto_log = tempfile.TemporaryFile("w+")
    moto, url = start_moto(moto_log)
    try:
        seeded = seed(url)
        templates = write_assembly(cdk_out, seeded)
        resources = sum(len(t["Resources"]) for t in templates.values())
        expected, shape = expected_facts(url, templates, seeded)

        start_ms = time_start(binary, args.runs)
        infer_best, inferred = time_infer(binary, cdk_out, args.runs)
        per_1000 = infer_best * 1000 / resources
        items = sum(len(s.get("inferred", [])) for s in inferred["stacks"])
        not_checked = sum(len(s.get("notChecked", [])) for s in inferred["stacks"])

        proxy = Proxy(url, record=True).start()
        code, wall, report, stderr = run_check(binary, cdk_out, proxy.url)
        log = list(proxy.log)
        proxy.shutdown()
        a = analyse(log)
        if args.keep:
            (work / "report.json").write_text(json.dumps(report, indent=1))
            (work / "calls.jsonl").write_text("".join(json.dumps(
                {"operation": operation_name(c), "target": c.target, "status": c.status}) + "\n" for c in log))
        needed = sum(expected.values())
        counts, not_passed, attribution = summarise_findings(report or {})
        summary = (report or {}).get("summary", f"no report (exit {code}): {stderr.strip()[:500]}")
        calls_vs_needed = {k: {"calls": a["by_op"].get(k, 0), "needed": expected.get(k, 0)}
                           for k in sorted(set(expected) | set(a["by_op"]))
                           if a["by_op"].get(k, 0) != expected.get(k, 0)}

        result = {
            "stacks": len(templates), "resources": resources,
            "shared": shape,
            "infer": {"runs": args.runs, "best_ms": round(infer_best, 1), "process_start_ms": round(start_ms, 1),
                      "ms_per_1000_resources": round(per_1000, 1), "target_ms_per_1000_resources": 50,
                      "inferred_items": items, "not_checked": not_checked},
            "check": {"exit": code, "wall_ms": round(wall), "summary": summary,
                      "aws_calls": len(log), "calls_by_operation": a["by_op"],
                      "distinct_requests": a["distinct_requests"], "repeated_requests": a["repeated"],
                      "sdk_retries": a["retries"], "distinct_facts_read": a["distinct_facts"],
                      "facts_needed": needed, "facts_needed_by_operation": expected,
                      "calls_not_matching_facts_needed": calls_vs_needed,
                      "facts_read_under_several_names": a["other_names"],
                      "error_responses": a["errors"]},
            "findings": {f"{s} {c}": n for (s, c), n in sorted(counts.items())},
            "not_passed": not_passed,
            "attribution": attribution,
        }
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print(f"stacks {len(templates)}, resources {resources} (shared by the stacks: {shape['parameters']} "
                  f"parameters, {shape['secrets']} secrets, {shape['keys']} keys, {shape['roles']} existing roles, "
                  f"{shape['managed_policies']} managed policies)")
            print(f"infer: best {infer_best:.0f} ms of {args.runs} for {resources} resources = {per_1000:.1f} ms per 1,000 "
                  f"(target < 50; process start alone {start_ms:.0f} ms); {items} items inferred, "
                  f"{not_checked} not checked")
            ops = ", ".join(f"{k} {v}" for k, v in a["by_op"].items())
            print(f"check: {len(log)} AWS calls (by operation: {ops})")
            print(f"check: {a['distinct_requests']} distinct requests, {len(a['repeated'])} repeated; "
                  f"{a['distinct_facts']} distinct facts read, {needed} needed (target: {needed} calls)")
            for k, v in calls_vs_needed.items():
                print(f"  {k}: {v['calls']} calls for {v['needed']} facts")
            for r in a["repeated"]:
                print(f"  repeated {r['times']}x: {r['operation']} {r['target'] or '(no parameters)'}")
            for r in a["retries"]:
                print(f"  SDK retry {r['times']}x after {r['statuses'][:-1]}: {r['operation']} {r['target']}")
            by_op = defaultdict(list)
            for o in a["other_names"]:
                by_op[o["operation"]].append(o)
            for op, facts in sorted(by_op.items()):
                print(f"  {op}: {len(facts)} facts each asked under several names, e.g. {facts[0]['fact']} as "
                      + " and ".join(facts[0]["asked_as"]))
            if a["errors"]:
                print(f"  error responses: {a['errors']}")
            print(f"check: exit {code}, wall {wall:.0f} ms; findings: {summary}")
            print("findings by check: " + ", ".join(f"{s} {c} {n}" for (s, c), n in sorted(counts.items())))
            for g in not_passed:
                subjects = ", ".join(g["subjects"][:6]) + (f", ... ({len(g['subjects'])})" if len(g["subjects"]) > 6 else "")
                print(f"  {g['count']}x {g['status']} {g['check']} (the report names {g['stacks']} stacks), {g['principal'] or '-'}: "
                      f"{subjects}; e.g. {g['example'][:240]}")
            print(f"findings: {attribution['findings']}, {attribution['distinct_findings']} distinct; parameter and "
                  f"secret findings name {attribution['stacks_named_by_read_findings']} of {len(templates)} stacks, "
                  f"{attribution['read_findings_sourced_from_another_readers_reference']} of them a source that "
                  f"another principal reads")
            if stderr.strip():
                print("stderr: " + " | ".join(sorted(set(stderr.strip().splitlines())))[:1000])
        bad = bool(a["repeated"]) or code == 2 or report is None
        return 1 if bad else 0
    finally:
        moto.stdin.close()
        moto.wait(timeout=10)
        moto_log.close()
        if args.keep:
            print(f"cloud assembly, report and calls kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
