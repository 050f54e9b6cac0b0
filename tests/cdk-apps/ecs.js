// An ECS task that reads a SecureString parameter as a container secret (aws/aws-cdk#4498). With
// `broken`, the parameter is imported without its key, so CDK grants the task execution role the
// SSM read but no kms:Decrypt on the customer managed key, and the task fails to start with
// "AccessDeniedException: The ciphertext refers to a customer master key that does not exist...".
// `fixed` imports it with its key, and CDK adds the decrypt grant.
//
// Usage: node ecs.js OUTDIR broken|fixed KEY_ARN
'use strict';
const cdk = require('aws-cdk-lib');
const ecs = require('aws-cdk-lib/aws-ecs');
const kms = require('aws-cdk-lib/aws-kms');
const ssm = require('aws-cdk-lib/aws-ssm');

const [outdir, variant, keyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !keyArn) {
  console.error('usage: node ecs.js OUTDIR broken|fixed KEY_ARN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Service', { env: { account: '123456789012', region: 'us-east-1' } });
const key = kms.Key.fromKeyArn(stack, 'AppData', keyArn);
const password = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'DbPassword', {
  parameterName: '/app/db/password',
  ...(variant === 'fixed' ? { encryptionKey: key } : {}),
});
const task = new ecs.FargateTaskDefinition(stack, 'Task');
task.addContainer('app', {
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest'),
  secrets: { DB_PASSWORD: ecs.Secret.fromSsmParameter(password) },
});
app.synth();
