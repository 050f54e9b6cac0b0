// A database instance under an existing key of the account, with its master password managed by
// RDS in Secrets Manager under the same key. RDS creates a grant on the key and describes it with
// the permissions of the identity that creates the instance, the stack's cfn-exec role, through
// RDS (RDS User Guide, Overview.Encryption.Keys; rds-secrets-manager for the password's key). The
// app is the same in both variants; `broken` and `fixed` are the seeds' (keys-broken: the key
// names only its administrator; keys-fixed: it delegates to IAM).
//
// Usage: node rds.js OUTDIR broken|fixed KEY_ARN
'use strict';
const cdk = require('aws-cdk-lib');
const rds = require('aws-cdk-lib/aws-rds');

const [outdir, variant, keyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !keyArn) {
  console.error('usage: node rds.js OUTDIR broken|fixed KEY_ARN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Data', { env: { account: '123456789012', region: 'us-east-1' } });
new rds.CfnDBInstance(stack, 'Orders', {
  engine: 'postgres',
  dbInstanceClass: 'db.t4g.micro',
  allocatedStorage: '20',
  masterUsername: 'orders',
  manageMasterUserPassword: true,
  masterUserSecret: { kmsKeyId: keyArn },
  storageEncrypted: true,
  kmsKeyId: keyArn,
});
app.synth();
console.log(outdir);
