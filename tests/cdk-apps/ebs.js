// Encrypted EBS volumes, two ways (story 5): a volume under an existing key of the account,
// created by the stack's cfn-exec role through EC2 (the key's policy, seeded by the test, decides:
// keys-broken names only its administrator, keys-fixed delegates to IAM); and an Auto Scaling
// group whose launch template's volume is under a key the stack creates, used by the group's
// service-linked role AWSServiceRoleForAutoScaling, which only the key policy can allow (EC2 Auto
// Scaling User Guide, key-policy-requirements-EBS-encryption). aws-cdk-lib adds nothing for the
// service-linked role, so `broken` is the app as usually written: its instances fail to launch with
// Client.InternalError. `fixed` adds the two statements the guide gives.
//
// Usage: node ebs.js OUTDIR broken|fixed KEY_ARN
'use strict';
const cdk = require('aws-cdk-lib');
const autoscaling = require('aws-cdk-lib/aws-autoscaling');
const ec2 = require('aws-cdk-lib/aws-ec2');
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');

const [outdir, variant, keyArn] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !keyArn) {
  console.error('usage: node ebs.js OUTDIR broken|fixed KEY_ARN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const env = { account: '123456789012', region: 'us-east-1' };
const stack = new cdk.Stack(app, 'Fleet', { env });
new ec2.Volume(stack, 'Data', {
  availabilityZone: 'us-east-1a',
  size: cdk.Size.gibibytes(10),
  encrypted: true,
  encryptionKey: kms.Key.fromKeyArn(stack, 'DataKey', keyArn),
});
const key = new kms.Key(stack, 'FleetKey', { enableKeyRotation: true });
if (variant === 'fixed') {
  const slr = new iam.ArnPrincipal(
    `arn:aws:iam::${env.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`);
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [slr],
    actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
    resources: ['*'],
  }));
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [slr],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: { Bool: { 'kms:GrantIsForAWSResource': true } },
  }));
}
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
const template = new ec2.LaunchTemplate(stack, 'Template', {
  machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
  instanceType: new ec2.InstanceType('t3.micro'),
  blockDevices: [{
    deviceName: '/dev/xvda',
    volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, kmsKey: key }),
  }],
});
new autoscaling.AutoScalingGroup(stack, 'Workers', {
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
  launchTemplate: template,
  minCapacity: 1,
  maxCapacity: 2,
});
app.synth();
console.log(outdir);
