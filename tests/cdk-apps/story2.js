// Story 2 of docs/stories.md as a CDK app with no Preflight spec: an AwsCustomResource reads a
// SecureString parameter (ssm:GetParameter WithDecryption) under an existing customer managed key
// whose policy delegates to IAM. `broken` gives the custom resource's role no kms:Decrypt (the
// story's failure); `fixed` adds the key grant that was the fix. Preflight must find the reader
// (the custom resource's own role, which the stack creates) in the template.
//
// Usage: node story2.js OUTDIR broken|fixed KEY_ARN
'use strict';
const cdk = require('aws-cdk-lib');
const kms = require('aws-cdk-lib/aws-kms');
const ssm = require('aws-cdk-lib/aws-ssm');
const cr = require('aws-cdk-lib/custom-resources');
const { dbPasswordReader } = require('./story2-reader');

const [outdir, variant, keyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !keyArn) {
  console.error('usage: node story2.js OUTDIR broken|fixed KEY_ARN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Story2', { env: { account: '123456789012', region: 'us-east-1' } });
const { key, read } = dbPasswordReader(stack, keyArn, { kms, ssm, cr });
if (variant === 'fixed') {
  key.grantDecrypt(read);
}
new cdk.CfnOutput(stack, 'Password', { value: read.getResponseField('Parameter.Value') });
app.synth();
