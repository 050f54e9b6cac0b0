// A CDK app the tests synthesize with aws-cdk-lib (the version pinned in cdk/package-lock.json):
// an Aurora cluster whose master password is an ssm-secure reference, and a KMS key the stack
// creates. `broken` gives the key a policy that keeps no administrator (story 4's lockout);
// `fixed` keeps CDK's default key policy. Nothing is written into the app about which role reads
// what: Preflight finds it in the cloud assembly.
//
// Usage: node database.js OUTDIR broken|fixed
'use strict';
const cdk = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');
const rds = require('aws-cdk-lib/aws-rds');

const [outdir, variant] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant)) {
  console.error('usage: node database.js OUTDIR broken|fixed');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Database', { env: { account: '123456789012', region: 'us-east-1' } });
const keyProps = variant === 'broken'
  ? {
      policy: new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({
          principals: [new iam.ArnPrincipal(`arn:${cdk.Aws.PARTITION}:iam::${cdk.Aws.ACCOUNT_ID}:role/app`)],
          actions: ['kms:Decrypt', 'kms:Encrypt'],
          resources: ['*'],
        })],
      }),
    }
  : {};
const key = new kms.Key(stack, 'DataKey', keyProps);
new rds.CfnDBCluster(stack, 'Db', {
  engine: 'aurora-postgresql',
  masterUsername: 'dbadmin',
  masterUserPassword: cdk.SecretValue.ssmSecure('/app/db/password', '1').unsafeUnwrap(),
  storageEncrypted: true,
  kmsKeyId: key.keyArn,
});
app.synth();
console.log(outdir);
