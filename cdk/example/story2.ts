/**
 * Story 2 of docs/stories.md with Preflight added: a SecureString parameter under a self-made customer
 * managed key, read at deploy time by an `AwsCustomResource` (ssm:GetParameter WithDecryption) and
 * handed to an Aurora cluster (the slow part). Without Preflight the deploy fails late with
 * `Custom::AWS ... FAILED KMS:Decrypt is not permitted`; with it, the check fails first and says
 * which role cannot use which key, and nothing else has been created.
 *
 * Synthesizes offline:
 *   PREFLIGHT_BOOTSTRAP=path/to/bootstrap node dist/example/story2.js   (a prebuilt arm64 binary or zip)
 *   PREFLIGHT_BOOTSTRAP=../target/debug/preflight-lambda PREFLIGHT_ARCHITECTURE=x86_64 node dist/example/story2.js
 *     (a debug build is for this machine: PREFLIGHT_ARCHITECTURE, arm64 or x86_64, sets the function's
 *     architecture to match it; the default is Preflight's, arm64)
 *   PREFLIGHT_SERVICE_TOKEN=arn:aws:lambda:...  node dist/example/story2.js  (a deployed Preflight)
 * With neither, the function is built from this repository with cargo-lambda (cargo-lambda-cdk).
 * `PREFLIGHT_FIXED=1` adds the key grant that story 2's fix needed.
 */
import * as path from 'node:path';
import { App, SecretValue, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Preflight, PreflightCode } from '../lib';

export function story2(app: App, fixed: boolean): Stack {
  const stack = new Stack(app, fixed ? 'Story2Fixed' : 'Story2', {
    env: { account: '123456789012', region: 'us-east-1' },
  });
  // Made outside the stack: `aws ssm put-parameter --type SecureString --key-id alias/app-data`.
  const key = kms.Key.fromKeyArn(stack, 'AppData', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab');
  const password = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'DbPassword', {
    parameterName: '/app/db/password',
    encryptionKey: key,
  });
  const read = new cr.AwsCustomResource(stack, 'GetDbPassword', {
    onUpdate: {
      service: 'SSM',
      action: 'getParameter',
      parameters: { Name: password.parameterName, WithDecryption: true },
      physicalResourceId: cr.PhysicalResourceId.of('db-password'),
    },
    policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [password.parameterArn] }),
  });
  if (fixed) {
    // The fix: the reader may use the key through SSM.
    key.grantDecrypt(read);
  }

  const code = process.env.PREFLIGHT_SERVICE_TOKEN
    ? undefined
    : process.env.PREFLIGHT_BOOTSTRAP
      ? PreflightCode.fromBootstrap(process.env.PREFLIGHT_BOOTSTRAP)
      : PreflightCode.fromCargoLambda(path.join(__dirname, '..', '..', '..', 'Cargo.toml'));
  new Preflight(stack, 'Preflight', {
    code,
    architecture: architecture(process.env.PREFLIGHT_ARCHITECTURE),
    serviceToken: process.env.PREFLIGHT_SERVICE_TOKEN,
    parameters: [{ name: password, readers: [read] }],
    nonce: process.env.PREFLIGHT_NONCE ?? true,
  });

  // The expensive part, which must not start before the check has passed.
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  new rds.DatabaseCluster(stack, 'Db', {
    engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
    writer: rds.ClusterInstance.provisioned('writer'),
    vpc,
    credentials: rds.Credentials.fromPassword('app', SecretValue.unsafePlainText(read.getResponseField('Parameter.Value'))),
  });
  return stack;
}

/** The function's architecture from PREFLIGHT_ARCHITECTURE; unset, Preflight's default (arm64). */
function architecture(name: string | undefined): lambda.Architecture | undefined {
  switch (name) {
    case undefined:
    case '':
      return undefined;
    case 'arm64':
      return lambda.Architecture.ARM_64;
    case 'x86_64':
      return lambda.Architecture.X86_64;
    default:
      throw new Error(`PREFLIGHT_ARCHITECTURE: expected arm64 or x86_64, got \`${name}\``);
  }
}

if (require.main === module) {
  // Under the CDK CLI, CDK_OUTDIR is set; run directly, the template goes to ./cdk.out.
  const app = new App({ outdir: process.env.CDK_OUTDIR ?? 'cdk.out' });
  const stack = story2(app, process.env.PREFLIGHT_FIXED === '1');
  const assembly = app.synth();
  console.log(`synthesized ${stack.stackName} to ${path.join(assembly.directory, stack.templateFile)}`);
}
