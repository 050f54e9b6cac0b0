// A function whose environment variables are encrypted with an existing key of the account
// (`environmentEncryption`). At create time Lambda creates a grant on the key with the permissions
// of the identity that creates the function, the stack's cfn-exec role (Lambda Developer Guide,
// configuration-envvars): the key's policy, seeded by the test, decides. The app is the same in
// both variants; `broken` and `fixed` are the seeds' (keys-broken: the key names only its
// administrator; keys-fixed: it delegates to IAM).
//
// Usage: node lambda.js OUTDIR broken|fixed KEY_ARN
'use strict';
const cdk = require('aws-cdk-lib');
const kms = require('aws-cdk-lib/aws-kms');
const lambda = require('aws-cdk-lib/aws-lambda');

const [outdir, variant, keyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !keyArn) {
  console.error('usage: node lambda.js OUTDIR broken|fixed KEY_ARN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Functions', { env: { account: '123456789012', region: 'us-east-1' } });
new lambda.Function(stack, 'Worker', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => ({});'),
  environment: { STAGE: 'prod' },
  environmentEncryption: kms.Key.fromKeyArn(stack, 'EnvKey', keyArn),
});
app.synth();
console.log(outdir);
