// A static site deployed into an SSE-KMS bucket by CDK's BucketDeployment, and a function that
// reads the bucket: both use the bucket's key through S3, as their own roles (S3 User Guide,
// UsingKMSEncryption: uploads need kms:GenerateDataKey, downloads kms:Decrypt). The bucket's key
// is an existing key of the account (its ARN given): aws-cdk-lib grants the roles the key in their
// own policies, and the key's policy, seeded by the test, decides (keys-broken names only its
// administrator, as in aws/aws-cdk#25100's reports; keys-fixed delegates to IAM). The app is the
// same in both variants.
//
// Usage: node site.js OUTDIR broken|fixed KEY_ARN
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const cdk = require('aws-cdk-lib');
const kms = require('aws-cdk-lib/aws-kms');
const lambda = require('aws-cdk-lib/aws-lambda');
const s3 = require('aws-cdk-lib/aws-s3');
const deployment = require('aws-cdk-lib/aws-s3-deployment');

const [outdir, variant, keyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !keyArn) {
  console.error('usage: node site.js OUTDIR broken|fixed KEY_ARN');
  process.exit(2);
}
const content = fs.mkdtempSync(path.join(os.tmpdir(), 'site-content-'));
fs.writeFileSync(path.join(content, 'index.html'), '<h1>shop</h1>\n');
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Site', { env: { account: '123456789012', region: 'us-east-1' } });
const bucket = new s3.Bucket(stack, 'Pages', {
  encryption: s3.BucketEncryption.KMS,
  encryptionKey: kms.Key.fromKeyArn(stack, 'PagesKey', keyArn),
  bucketKeyEnabled: true,
  enforceSSL: true,
});
new deployment.BucketDeployment(stack, 'Publish', {
  sources: [deployment.Source.asset(content)],
  destinationBucket: bucket,
});
const reader = new lambda.Function(stack, 'Render', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => ({});'),
});
bucket.grantRead(reader);
app.synth();
console.log(outdir);
