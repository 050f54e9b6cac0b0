"""Seeds a local AWS (moto) for `preflight check --template`: a SecureString parameter under a
customer managed key whose policy delegates to IAM, and the role CloudFormation executes the stack
as. `broken`: the role's IAM policy allows ssm:GetParameter but not kms:Decrypt; `fixed`: both, and
kms:PutKeyPolicy for the key policy the template applies.

Usage: python seed_template.py ENDPOINT_URL broken|fixed|cdk-broken|cdk-fixed|story2|secrets-broken|secrets-fixed|secrets-cdk|logs-broken|logs-fixed|keys-broken|keys-fixed
Prints the execution role's ARN. The `cdk-` variants seed only the parameter and its key: the CDK
bootstrap template, deployed by the test, brings the execution role. `cdk-broken` puts the
parameter under a key whose policy names an administrator only (no delegation to IAM). `story2`
seeds the parameter under a key that delegates to IAM and prints the key's ARN.
"""

import json
import sys

import boto3

A = "123456789012"
R = "us-east-1"


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=R,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def main():
    endpoint, variant = sys.argv[1], sys.argv[2]
    kms, ssm, iam = client("kms", endpoint), client("ssm", endpoint), client("iam", endpoint)
    root = {"Sid": "EnableIAMUserPermissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
            "Action": "kms:*", "Resource": "*"}
    admin_only = {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/key-admin"},
                  "Action": "kms:*", "Resource": "*"}
    statement = admin_only if variant == "cdk-broken" else root
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))["KeyMetadata"]
    kms.create_alias(AliasName="alias/app-data", TargetKeyId=key["KeyId"])
    ssm.put_parameter(Name="/app/db/password", Type="SecureString", Value="never-read", KeyId="alias/app-data")
    if variant == "story2":
        print(key["Arn"])
        return
    if variant.startswith("keys-"):
        # An existing key for the service apps (lambda.js, ebs.js, rds.js): `keys-fixed` delegates to
        # the account's IAM (the bootstrap's cfn-exec role, AdministratorAccess, may then use it);
        # `keys-broken` names only its administrator, as in story 5.
        statement = root if variant == "keys-fixed" else admin_only
        made = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))["KeyMetadata"]
        print(made["Arn"])
        return
    if variant.startswith("logs-"):
        # The CDK logs app's shared key, an existing key for a log group: `logs-fixed` allows the
        # regional CloudWatch Logs service principal for the account's log groups, as the CloudWatch
        # Logs User Guide's encrypt-log-data-kms shows; `logs-broken` delegates to IAM only.
        statements = [root]
        if variant == "logs-fixed":
            statements.append({"Sid": "CloudWatchLogs", "Effect": "Allow",
                               "Principal": {"Service": f"logs.{R}.amazonaws.com"},
                               "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                          "kms:Describe*"],
                               "Resource": "*",
                               "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{R}:{A}:*"}}})
        shared = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))["KeyMetadata"]
        print(shared["Arn"])
        return
    if variant == "secrets-cdk":
        # The CDK secrets app: both secrets under the key above (which delegates to IAM); the CDK
        # bootstrap template, deployed by the test, brings the execution role.
        sm = client("secretsmanager", endpoint)
        token = sm.create_secret(Name="prod/app/token", KmsKeyId=key["Arn"], SecretString="never-read")["ARN"]
        sm.create_secret(Name="prod/app/db", KmsKeyId=key["Arn"], SecretString=json.dumps({"password": "never-read"}))
        print(f"{token}\t{key['Arn']}")
        return
    if variant.startswith("secrets-"):
        seed_secrets(variant, endpoint, kms, iam, root)
        return
    if variant.startswith("cdk-"):
        print(f"arn:aws:iam::{A}:role/cdk-hnb659fds-cfn-exec-role-{A}-{R}")
        return
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="stack-exec", AssumeRolePolicyDocument=json.dumps(trust))
    actions = ["ssm:GetParameter", "ssm:GetParameters"]
    if variant == "fixed":
        # Decrypt for the ssm-secure password, PutKeyPolicy and CreateKey for the key, CreateGrant
        # and DescribeKey for RDS to encrypt the cluster with it (RDS User Guide,
        # Overview.Encryption.Keys).
        actions += ["kms:Decrypt", "kms:PutKeyPolicy", "kms:CreateKey", "kms:CreateGrant", "kms:DescribeKey"]
    iam.put_role_policy(RoleName="stack-exec", PolicyName="deploy", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    print(f"arn:aws:iam::{A}:role/stack-exec")


def seed_secrets(variant, endpoint, kms, iam, root):
    """`secrets-broken`: the database password under a customer managed key that names an
    administrator only, the API token under a key that delegates to IAM but is not allowed to the
    task's role; `secrets-fixed`: the password's key delegates to IAM and the stack role may
    decrypt, the token is under aws/secretsmanager. Prints the stack role's ARN and the token's
    ARN, tab-separated."""
    sm = client("secretsmanager", endpoint)
    admin_only = {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/key-admin"},
                  "Action": "kms:*", "Resource": "*"}
    fixed = variant == "secrets-fixed"
    db_key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [root if fixed else admin_only]}))
    sm.create_secret(Name="prod/app/db", KmsKeyId=db_key["KeyMetadata"]["Arn"],
                     SecretString=json.dumps({"password": "never-read"}))
    token_args = {"Name": "prod/app/token", "SecretString": "never-read"}
    if not fixed:
        token_key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [root]}))
        token_args["KmsKeyId"] = token_key["KeyMetadata"]["KeyId"]
    token = sm.create_secret(**token_args)["ARN"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="stack-exec", AssumeRolePolicyDocument=json.dumps(trust))
    actions = ["secretsmanager:GetSecretValue"] + (["kms:Decrypt"] if fixed else [])
    iam.put_role_policy(RoleName="stack-exec", PolicyName="deploy", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    print(f"arn:aws:iam::{A}:role/stack-exec\t{token}")


if __name__ == "__main__":
    main()
