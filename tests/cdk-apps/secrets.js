// An ECS task that reads a Secrets Manager secret under a customer managed key as a container
// secret, and a database whose password is a secretsmanager reference. CDK grants the task
// execution role secretsmanager:GetSecretValue on the imported secret but no kms:Decrypt on its
// key (the Secrets Manager side of aws/aws-cdk#4498 and #17156): with the aws-cdk-lib pinned in
// cdk/, not even when the import names the key (`encryptionKey`), as synthesizing this app shows.
// So `broken` is the app as most people write it, and the task fails to start; `fixed` grants the
// role kms:Decrypt on the key itself. The database password is resolved by the stack's execution
// role (the bootstrap's cfn-exec role) in both.
//
// Usage: node secrets.js OUTDIR broken|fixed SECRET_ARN KEY_ARN
'use strict';
const cdk = require('aws-cdk-lib');
const ecs = require('aws-cdk-lib/aws-ecs');
const kms = require('aws-cdk-lib/aws-kms');
const rds = require('aws-cdk-lib/aws-rds');
const secretsmanager = require('aws-cdk-lib/aws-secretsmanager');

const [outdir, variant, secretArn, keyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !secretArn || !keyArn) {
  console.error('usage: node secrets.js OUTDIR broken|fixed SECRET_ARN KEY_ARN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Api', { env: { account: '123456789012', region: 'us-east-1' } });
const key = kms.Key.fromKeyArn(stack, 'TokenKey', keyArn);
const token = secretsmanager.Secret.fromSecretAttributes(stack, 'Token', { secretCompleteArn: secretArn, encryptionKey: key });
const task = new ecs.FargateTaskDefinition(stack, 'Task');
if (variant === 'fixed') {
  key.grantDecrypt(task.obtainExecutionRole());
}
task.addContainer('app', {
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest'),
  secrets: { API_TOKEN: ecs.Secret.fromSecretsManager(token) },
});
new rds.CfnDBInstance(stack, 'Db', {
  engine: 'postgres',
  dbInstanceClass: 'db.t4g.micro',
  allocatedStorage: '20',
  masterUsername: 'app',
  masterUserPassword: cdk.SecretValue.secretsManager('prod/app/db', { jsonField: 'password' }).unsafeUnwrap(),
  storageEncrypted: true,
});
app.synth();
console.log(outdir);
