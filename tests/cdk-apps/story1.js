// Story 1 as CDK will deploy it: a function whose code is a file asset, published to the
// environment's assets bucket by the bootstrap's file-publishing role. The environment is the
// test's: bootstrapped with a self-made key (`cdk bootstrap --bootstrap-kms-key-id`), or with
// another bucket name (`--bootstrap-bucket-name`). With `custom-bucket`, the app's synthesizer
// names that bucket (`fileAssetsBucketName`), as an environment bootstrapped so needs; `default`
// keeps the default synthesizer.
//
// Usage: node story1.js OUTDIR default|custom-bucket [BUCKET]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');

const [outdir, variant, bucket] = process.argv.slice(2);
if (!outdir || !['default', 'custom-bucket'].includes(variant) || (variant === 'custom-bucket' && !bucket)) {
  console.error('usage: node story1.js OUTDIR default|custom-bucket [BUCKET]');
  process.exit(2);
}
const code = fs.mkdtempSync(path.join(os.tmpdir(), 'story1-code-'));
fs.writeFileSync(path.join(code, 'index.js'), 'exports.handler = async () => ({ ok: true });\n');
const app = new cdk.App({ outdir });
const synthesizer = variant === 'custom-bucket'
  ? new cdk.DefaultStackSynthesizer({ fileAssetsBucketName: bucket })
  : new cdk.DefaultStackSynthesizer();
const stack = new cdk.Stack(app, 'Shop', { env: { account: '123456789012', region: 'us-east-1' }, synthesizer });
new lambda.Function(stack, 'Checkout', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromAsset(code),
});
app.synth();
console.log(outdir);
