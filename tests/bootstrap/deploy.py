"""Deploys the CDK CLI's own bootstrap template (the CDKToolkit stack) into a local AWS endpoint.

Usage: python deploy.py ENDPOINT [--trust ACCOUNT ...] [--trust-for-lookup ACCOUNT ...]
                        [--cloudformation-execution-policies ARN ...] [--kms-key-id ID]
                        [--qualifier Q] [--region R] [--stack-name NAME] [--deny-external-id true|false]
                        [--bucket-name NAME]
Prints the stack's outputs as JSON.

The template is the one shipped by the `aws-cdk` npm package (the CDK CLI) pinned in package.json
beside this file, read from node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml: run
`npm ci --no-audit --no-fund` in this folder first. Nothing is re-created by hand: CloudFormation
(moto's, in the tests) creates every resource from that template.

The parameters are those the CLI sends for a new environment (aws-cdk, Bootstrapper.modernBootstrap
and ParameterValues in lib/index.js), e.g. for
`cdk bootstrap --trust 222222222222 --cloudformation-execution-policies arn:aws:iam::aws:policy/AdministratorAccess`:

  FileAssetsBucketKmsKeyId         AWS_MANAGED_KEY (the CLI's default for a new stack; '' with
                                   --bootstrap-customer-key; the id with --bootstrap-kms-key-id)
  TrustedAccounts                  "222222222222" (comma-joined, '' when none)
  TrustedAccountsForLookup         '' (comma-joined --trust-for-lookup)
  CloudFormationExecutionPolicies  "arn:aws:iam::aws:policy/AdministratorAccess" ('' when none:
                                   the template then attaches AdministratorAccess itself, unless
                                   there are trusted accounts, which the CLI refuses)
  PublicAccessBlockConfiguration   "true"
  Qualifier                        only with --qualifier (template default hnb659fds)
  DenyExternalId                   only with --deny-external-id / --no-deny-external-id
                                   (template default 'true')
  FileAssetsBucketName             only with --bucket-name (--bootstrap-bucket-name)
  InputPermissionsBoundary, ApplyPermissionsBoundaryToAllRoles: not sent.

with Capabilities CAPABILITY_IAM, CAPABILITY_NAMED_IAM and CAPABILITY_AUTO_EXPAND. The CLI submits
them through a CREATE change set (CreateChangeSet with ImportExistingResources, then
ExecuteChangeSet); `deploy(..., via_change_set=True)` does the same, `False` (the default) uses
CreateStack, which creates the same resources. Standard library and boto3 only. Any correction of
moto belongs in tests/support/aws_local.py, never here.
"""

import argparse
import json
import re
import sys
import time
import uuid
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "node_modules" / "aws-cdk"
TEMPLATE = PACKAGE / "lib" / "api" / "bootstrap" / "bootstrap-template.yaml"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
DEFAULT_QUALIFIER = "hnb659fds"
AWS_MANAGED_KEY = "AWS_MANAGED_KEY"  # the CLI's USE_AWS_MANAGED_KEY
CREATE_NEW_KEY = ""  # the CLI's CREATE_NEW_KEY: the template creates FileAssetsBucketEncryptionKey
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def template_body() -> str:
    """The bootstrap template of the pinned CDK CLI, as shipped (YAML)."""
    if not TEMPLATE.is_file():
        raise FileNotFoundError(f"{TEMPLATE} is missing: run `npm ci --no-audit --no-fund` in {HERE}")
    return TEMPLATE.read_text()


def cli_version() -> str:
    """The version of the pinned `aws-cdk` package the template comes from."""
    return json.loads((PACKAGE / "package.json").read_text())["version"]


def bootstrap_version() -> str:
    """The template's bootstrap version: the value of its BootstrapVersion output."""
    match = re.search(r"^  BootstrapVersion:\n(?:    .*\n)*?    Value: '(\d+)'", template_body(), re.M)
    if not match:
        raise ValueError(f"no BootstrapVersion output in {TEMPLATE}")
    return match.group(1)


def cli_parameters(account_trust=(), trust_for_lookup=(), execution_policies=None,
                   kms_key_id=AWS_MANAGED_KEY, qualifier=DEFAULT_QUALIFIER, deny_external_id=None,
                   bucket_name=None) -> list:
    """The Parameters of the CLI's CreateChangeSet for a new CDKToolkit stack.

    execution_policies None means what `cdk bootstrap` would accept: AdministratorAccess when accounts
    are trusted (the CLI demands --cloudformation-execution-policies then), none otherwise.
    """
    if execution_policies is None:
        execution_policies = [ADMINISTRATOR_ACCESS] if account_trust else []
    if account_trust and not execution_policies:
        raise ValueError("the CDK CLI refuses --trust without --cloudformation-execution-policies")
    values = {
        "FileAssetsBucketKmsKeyId": kms_key_id,
        "TrustedAccounts": ",".join(account_trust),
        "TrustedAccountsForLookup": ",".join(trust_for_lookup),
        "CloudFormationExecutionPolicies": ",".join(execution_policies),
        "PublicAccessBlockConfiguration": "true",
    }
    if qualifier != DEFAULT_QUALIFIER:
        values["Qualifier"] = qualifier
    if deny_external_id is not None:
        values["DenyExternalId"] = "true" if deny_external_id else "false"
    if bucket_name is not None:
        values["FileAssetsBucketName"] = bucket_name
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _client(service, endpoint, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _wait(cfn, stack_name, timeout):
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stack_name} still {status} after {timeout}s")
        time.sleep(0.2)
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']} {e['ResourceStatus']}: {e.get('ResourceStatusReason', '')}"
                   for e in events if "FAILED" in e["ResourceStatus"]]
        raise RuntimeError(f"{stack_name} ended {status}: " + "; ".join(reasons))
    return stack


def deploy(endpoint, account_trust=(), kms_key_id=AWS_MANAGED_KEY, qualifier=DEFAULT_QUALIFIER,
           region="us-east-1", stack_name="CDKToolkit", trust_for_lookup=(), execution_policies=None,
           deny_external_id=None, via_change_set=False, timeout=60, bucket_name=None) -> dict:
    """Creates the bootstrap stack in `endpoint` as `cdk bootstrap` would; returns its outputs.

    account_trust: accounts of --trust; kms_key_id: AWS_MANAGED_KEY (default), '' for a key created
    by the template, or a key id/ARN. Waits for CREATE_COMPLETE and returns {OutputKey: OutputValue}.
    """
    cfn = _client("cloudformation", endpoint, region)
    common = dict(
        StackName=stack_name,
        TemplateBody=template_body(),
        Parameters=cli_parameters(list(account_trust), list(trust_for_lookup), execution_policies,
                                  kms_key_id, qualifier, deny_external_id, bucket_name),
        Capabilities=CAPABILITIES,
    )
    if via_change_set:
        run = uuid.uuid4()
        change_set = cfn.create_change_set(
            ChangeSetName=f"cdk-bootstrap-change-set-{run}", ChangeSetType="CREATE",
            Description=f"CDK Changeset for execution {run}", ClientToken=f"create{run}",
            ImportExistingResources=True, IncludeNestedStacks=True, **common)
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=change_set["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": timeout})
        cfn.execute_change_set(StackName=stack_name, ChangeSetName=change_set["Id"])
    else:
        cfn.create_stack(**common)
    stack = _wait(cfn, stack_name, timeout)
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("endpoint")
    parser.add_argument("--trust", action="append", default=[])
    parser.add_argument("--trust-for-lookup", action="append", default=[])
    parser.add_argument("--cloudformation-execution-policies", action="append", default=None)
    parser.add_argument("--kms-key-id", default=AWS_MANAGED_KEY)
    parser.add_argument("--qualifier", default=DEFAULT_QUALIFIER)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--stack-name", default="CDKToolkit")
    parser.add_argument("--deny-external-id", choices=["true", "false"], default=None)
    parser.add_argument("--via-change-set", action="store_true")
    parser.add_argument("--bucket-name", default=None)
    args = parser.parse_args(argv)
    outputs = deploy(
        args.endpoint, account_trust=args.trust, kms_key_id=args.kms_key_id, qualifier=args.qualifier,
        region=args.region, stack_name=args.stack_name, trust_for_lookup=args.trust_for_lookup,
        execution_policies=args.cloudformation_execution_policies,
        deny_external_id=None if args.deny_external_id is None else args.deny_external_id == "true",
        via_change_set=args.via_change_set, bucket_name=args.bucket_name)
    json.dump(outputs, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
