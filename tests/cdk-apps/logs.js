// Two encrypted log groups: one under a key the stack creates, one under an existing key of the
// account (its ARN given). CloudWatch Logs uses a log group's key as the regional service principal
// logs.REGION.amazonaws.com, which only the key policy can allow, and aws-cdk-lib adds nothing to
// the key policy for it (LogGroup passes `encryptionKey` on as KmsKeyId only): `broken` is the app
// as usually written, and its deploy fails at CreateLogGroup ("The specified KMS key does not exist
// or is not allowed to be used with Arn ...", aws/aws-cdk#28304). `fixed` adds the statement AWS
// documents (CloudWatch Logs User Guide, encrypt-log-data-kms) to the stack's key; the existing
// key's policy is the test's to seed (broken or fixed alike).
//
// Usage: node logs.js OUTDIR broken|fixed SHARED_KEY_ARN
'use strict';
const cdk = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');
const logs = require('aws-cdk-lib/aws-logs');

const [outdir, variant, sharedKeyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !sharedKeyArn) {
  console.error('usage: node logs.js OUTDIR broken|fixed SHARED_KEY_ARN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const env = { account: '123456789012', region: 'us-east-1' };
const stack = new cdk.Stack(app, 'Audit', { env });
const key = new kms.Key(stack, 'LogsKey', { enableKeyRotation: true });
if (variant === 'fixed') {
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal(`logs.${env.region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${env.region}:${env.account}:*` } },
  }));
}
new logs.LogGroup(stack, 'Trail', {
  logGroupName: '/audit/trail',
  encryptionKey: key,
  retention: logs.RetentionDays.ONE_MONTH,
});
new logs.LogGroup(stack, 'Access', {
  logGroupName: '/audit/access',
  encryptionKey: kms.Key.fromKeyArn(stack, 'SharedKey', sharedKeyArn),
  retention: logs.RetentionDays.ONE_MONTH,
});
app.synth();
console.log(outdir);
