// An encrypted topic and queue with the AWS services a stack usually wires to them: a CloudWatch
// alarm and an S3 notification publishing to the topic, an EventBridge rule and the topic's SQS
// subscription delivering to the queue. aws-cdk-lib adds a key-policy statement for the
// EventBridge and SNS service principals (and S3's, to a queue) when the key is the stack's own,
// but none for CloudWatch when an alarm's action is a topic (`SnsAction`), and none for S3 to a
// topic unless the feature flag `@aws-cdk/s3-notifications:addS3TrustKeyPolicyForSnsSubscriptions`
// is on (`cdk init` sets it in cdk.json; an app without it does not). With `broken`, the alarm's
// notifications fail at run time ("CloudWatch Alarms does not have authorization to access the SNS
// topic encryption key", aws/aws-cdk#5991) and S3 refuses the notification configuration at
// deploy ("Unable to validate the following destination configurations"). `fixed` grants the
// CloudWatch service principal on the topic's key, as the SNS Developer Guide
// (sns-key-management) shows, and turns the feature flag on.
//
// Usage: node messaging.js OUTDIR broken|fixed
'use strict';
const cdk = require('aws-cdk-lib');
const cloudwatch = require('aws-cdk-lib/aws-cloudwatch');
const actions = require('aws-cdk-lib/aws-cloudwatch-actions');
const events = require('aws-cdk-lib/aws-events');
const targets = require('aws-cdk-lib/aws-events-targets');
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');
const s3 = require('aws-cdk-lib/aws-s3');
const s3n = require('aws-cdk-lib/aws-s3-notifications');
const sns = require('aws-cdk-lib/aws-sns');
const subscriptions = require('aws-cdk-lib/aws-sns-subscriptions');
const sqs = require('aws-cdk-lib/aws-sqs');

const [outdir, variant] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant)) {
  console.error('usage: node messaging.js OUTDIR broken|fixed');
  process.exit(2);
}
const context = variant === 'fixed' ? { '@aws-cdk/s3-notifications:addS3TrustKeyPolicyForSnsSubscriptions': true } : {};
const app = new cdk.App({ outdir, context });
const stack = new cdk.Stack(app, 'Messaging', { env: { account: '123456789012', region: 'us-east-1' } });
const topicKey = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
const topic = new sns.Topic(stack, 'Alerts', { masterKey: topicKey });
const queueKey = new kms.Key(stack, 'QueueKey', { enableKeyRotation: true });
const queue = new sqs.Queue(stack, 'Jobs', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: queueKey });
topic.addSubscription(new subscriptions.SqsSubscription(queue));
if (variant === 'fixed') {
  topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
}
const errors = new cloudwatch.Alarm(stack, 'Errors', {
  metric: new cloudwatch.Metric({ namespace: 'App', metricName: 'Errors' }),
  threshold: 1,
  evaluationPeriods: 1,
});
errors.addAlarmAction(new actions.SnsAction(topic));
new events.Rule(stack, 'Nightly', {
  schedule: events.Schedule.rate(cdk.Duration.days(1)),
  targets: [new targets.SqsQueue(queue)],
});
const uploads = new s3.Bucket(stack, 'Uploads', { enforceSSL: true });
uploads.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SnsDestination(topic));
app.synth();
console.log(outdir);
