// Story 2's reader, shared by the apps that need it (tests/cdk-apps/story2.js, and
// cdk/test/fixtures/installed-app.js, which install.test.ts copies next to it): the SecureString
// `/app/db/password` under an existing customer managed key, and the AwsCustomResource that reads it
// with decryption. Each app passes its own aws-cdk-lib modules, so an app with a copy of its own
// builds with that copy.
'use strict';

function dbPasswordReader(stack, keyArn, { kms, ssm, cr }) {
  const key = kms.Key.fromKeyArn(stack, 'AppData', keyArn);
  const password = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'DbPassword', {
    parameterName: '/app/db/password',
    encryptionKey: key,
  });
  const read = new cr.AwsCustomResource(stack, 'GetDbPassword', {
    onUpdate: {
      service: 'SSM',
      action: 'getParameter',
      parameters: { Name: password.parameterName, WithDecryption: true },
      physicalResourceId: cr.PhysicalResourceId.of('db-password'),
    },
    policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [password.parameterArn] }),
    installLatestAwsSdk: false,
  });
  return { key, password, read };
}

module.exports = { dbPasswordReader };
