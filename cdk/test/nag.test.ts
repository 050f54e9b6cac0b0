/**
 * cdk-nag's AwsSolutions pack on the Preflight construct: no error and no warning in its main
 * configurations, the only suppressions those of wildcards that cannot be avoided, each naming its
 * exact finding with a reason. The construct carries them as plain `cdk_nag` metadata (it does
 * not depend on cdk-nag, a devDependency of these tests); the tests show cdk-nag honours it.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { App, Aspects, CfnResource, Fn, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { Preflight, PreflightCode, PreflightProps } from '../lib';
import { CDK, Json, readJson, removeTempDirs, tempDir } from './helpers';

const ENV = { account: '123456789012', region: 'us-east-1' };

after(removeTempDirs);

/** A directory holding a `bootstrap` shell script: code for the function, which nag does not run
 * (a script is not judged for its architecture, so the tests need no Rust build). */
function bootstrap(): PreflightCode {
  const dir = tempDir('preflight-nag-');
  fs.writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return PreflightCode.fromBootstrap(dir);
}

/** Every check enabled, everything given as strings (ARNs, names, ids). */
const EVERY_CHECK: PreflightProps = {
  bootstrap: { qualifier: 'abc123', trustedAccounts: ['222222222222'], readers: ['arn:aws:iam::123456789012:role/asset-reader'] },
  parameters: [{ name: '/app/db/password', readers: ['arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_0123/alice'] }],
  secrets: [
    { secretId: 'app/api-key', readers: ['arn:aws:iam::123456789012:role/app'] },
    { secretId: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:shared/db-AbC12f', readers: [] },
  ],
  keys: [
    { key: 'alias/app', principals: ['arn:aws:iam::123456789012:role/app'], viaService: 'ec2.us-east-1.amazonaws.com', forAwsResources: true },
    { key: 'alias/aws/rds', sharedWithAccounts: ['222222222222'] },
  ],
  keyPolicies: [{ policy: { Version: '2012-10-17', Statement: [] }, administrators: ['arn:aws:iam::123456789012:role/admin'] }],
  hostedZone: { zone: 'Z0123456789ABCDEFGHIJ', recordNames: ['_x1.example.com'] },
};

interface Nagged {
  stack: Stack;
  preflight: Preflight;
  /** The `AwsSolutions-...` errors and warnings, each `<path> <rule>[<finding>]`. */
  findings: string[];
}

/** Synthesizes a stack holding a Preflight with `props` under the AwsSolutions pack. */
function nag(props: (stack: Stack) => PreflightProps, opts: { env?: boolean; context?: Record<string, unknown>; before?: (p: Preflight) => void } = {}): Nagged {
  const app = new App({ outdir: tempDir('preflight-nag-'), context: opts.context });
  const stack = new Stack(app, 'Nag', opts.env === false ? {} : { env: ENV });
  const preflight = new Preflight(stack, 'Preflight', props(stack));
  opts.before?.(preflight);
  // reports: false: no CSV report in the app's output directory.
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, reports: false }));
  const annotations = Annotations.fromStack(stack);
  const rule = Match.stringLikeRegexp('AwsSolutions-.*');
  // A message starts `AwsSolutions-IAM5[Resource::arn:...]: ` (findings hold `::` and `:`, never `: `).
  const findings = [...annotations.findError('*', rule), ...annotations.findWarning('*', rule)].map(
    (m) => `${m.id} ${String(m.entry.data).split(': ')[0]}`,
  );
  return { stack, preflight, findings };
}

/** The `cdk_nag` metadata of the construct's policy, as synthesized. */
function suppressions(stack: Stack): Json[] {
  const json = Template.fromStack(stack).toJSON();
  const policies = Object.entries<Json>(json.Resources).filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('PreflightReadOnly'));
  assert.equal(policies.length, 1);
  return policies[0][1].Metadata?.cdk_nag?.rules_to_suppress ?? [];
}

/** The findings each suppression names, sorted. */
function suppressed(stack: Stack): string[] {
  return suppressions(stack).flatMap((s) => s.applies_to).sort();
}

/** The wildcard findings the role keeps when every check is enabled, for `account` and `region` as cdk-nag writes them. */
function unavoidable(account: string, region: string): string[] {
  return [
    'Resource::*',
    `Resource::arn:<AWS::Partition>:cloudformation:${region}:${account}:stack/CDKToolkit/*`,
    `Resource::arn:<AWS::Partition>:iam::${account}:policy/*`,
    `Resource::arn:<AWS::Partition>:iam::${account}:role/*`,
    'Resource::arn:<AWS::Partition>:iam::aws:policy/*',
    'Resource::arn:<AWS::Partition>:kms:*:*:key/*',
    `Resource::arn:<AWS::Partition>:kms:*:${account}:key/*`,
    'Resource::arn:<AWS::Partition>:route53:::hostedzone/*',
  ].sort();
}

test('cdk-nag AwsSolutions: no error or warning with every check enabled (bootstrap, parameters, secrets, keys, keyPolicies, hostedZone)', () => {
  const { stack, findings } = nag(() => ({ code: bootstrap(), ...EVERY_CHECK }));
  assert.deepEqual(findings, []);
  assert.deepEqual(suppressed(stack), unavoidable(ENV.account, ENV.region));
});

test('cdk-nag AwsSolutions: no error or warning with every check enabled from CDK objects, in an environment-agnostic stack', () => {
  const { stack, findings } = nag(
    (s) => {
      // Fixtures kept clean for the pack themselves (a role with no policy, a key with rotation).
      const reader = new iam.Role(s, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      const key = new kms.Key(s, 'AppKey', { enableKeyRotation: true });
      const param = new ssm.StringParameter(s, 'Plain', { parameterName: '/app/name', stringValue: 'x' });
      const zone = route53.HostedZone.fromHostedZoneAttributes(s, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
      return {
        code: bootstrap(),
        bootstrap: { readers: [reader] },
        parameters: [{ name: param, readers: [reader] }],
        secrets: [{ secretId: 'app/api-key', readers: [reader] }],
        keys: [{ key, principals: [reader] }],
        keyPolicies: [{ policy: new iam.PolicyDocument({ statements: [] }), administrators: [reader] }],
        hostedZone: { zone, recordNames: ['_x1.example.com'] },
      };
    },
    { env: false },
  );
  assert.deepEqual(findings, []);
  // The account and region are the stack's pseudo parameters here; the suppressions follow them.
  assert.deepEqual(suppressed(stack), unavoidable('<AWS::AccountId>', '<AWS::Region>'));
});

test('cdk-nag AwsSolutions: no error or warning for the minimal construct (the function and its logs only)', () => {
  const { stack, findings } = nag(() => ({ code: bootstrap() }));
  assert.deepEqual(findings, []);
  assert.deepEqual(suppressions(stack), [], 'no wildcard, so no suppression');
});

test('cdk-nag AwsSolutions: no error or warning for each check alone, and each suppresses only its own wildcards', () => {
  const only: Array<[PreflightProps, string[]]> = [
    [{ bootstrap: {} }, [
      `Resource::arn:<AWS::Partition>:cloudformation:${ENV.region}:${ENV.account}:stack/CDKToolkit/*`,
      `Resource::arn:<AWS::Partition>:iam::${ENV.account}:policy/*`, `Resource::arn:<AWS::Partition>:iam::${ENV.account}:role/*`,
      'Resource::arn:<AWS::Partition>:iam::aws:policy/*', 'Resource::arn:<AWS::Partition>:kms:*:*:key/*',
      `Resource::arn:<AWS::Partition>:kms:*:${ENV.account}:key/*`,
    ]],
    [{ parameters: [{ name: '/p', readers: [] }] }, [
      'Resource::*', `Resource::arn:<AWS::Partition>:iam::${ENV.account}:policy/*`, `Resource::arn:<AWS::Partition>:iam::${ENV.account}:role/*`,
      'Resource::arn:<AWS::Partition>:iam::aws:policy/*', 'Resource::arn:<AWS::Partition>:kms:*:*:key/*',
      `Resource::arn:<AWS::Partition>:kms:*:${ENV.account}:key/*`,
    ]],
    // A secret's ARN ends in -?????? (the 6 characters Secrets Manager appends), which is no `*`.
    [{ secrets: [{ secretId: 'app/api-key', readers: [] }] }, [
      `Resource::arn:<AWS::Partition>:iam::${ENV.account}:policy/*`, `Resource::arn:<AWS::Partition>:iam::${ENV.account}:role/*`,
      'Resource::arn:<AWS::Partition>:iam::aws:policy/*', 'Resource::arn:<AWS::Partition>:kms:*:*:key/*',
      `Resource::arn:<AWS::Partition>:kms:*:${ENV.account}:key/*`,
    ]],
    [{ keyPolicies: [{ policy: {}, administrators: [] }] }, [
      `Resource::arn:<AWS::Partition>:iam::${ENV.account}:policy/*`, `Resource::arn:<AWS::Partition>:iam::${ENV.account}:role/*`,
      'Resource::arn:<AWS::Partition>:iam::aws:policy/*',
    ]],
    [{ hostedZone: { zone: 'Z1' } }, ['Resource::*', 'Resource::arn:<AWS::Partition>:route53:::hostedzone/*']],
  ];
  for (const [props, expected] of only) {
    const { stack, findings } = nag(() => ({ code: bootstrap(), ...props }));
    assert.deepEqual(findings, [], JSON.stringify(props));
    assert.deepEqual(suppressed(stack), expected.sort(), JSON.stringify(props));
  }
});

test('cdk-nag AwsSolutions: a secret given as a token leaves secret:* with its reason; secrets named at synth stay exact, with no suppression', () => {
  const { stack, findings } = nag(() => ({
    code: bootstrap(),
    secrets: [{ secretId: Fn.importValue('SharedSecretArn'), readers: [] }, { secretId: 'app/api-key', readers: [] }],
  }));
  assert.deepEqual(findings, []);
  const secretRules = suppressions(stack).filter((r) => r.applies_to.some((f: string) => f.includes('secretsmanager')));
  assert.equal(secretRules.length, 1);
  assert.deepEqual(secretRules[0].applies_to, ['Resource::arn:<AWS::Partition>:secretsmanager:*:*:secret:*']);
  assert.match(secretRules[0].reason, /^DescribeSecrets: A secret given as a token .* never its value \(no GetSecretValue\)\.$/);
  assert.match(secretRules[0].reason, /^[\x20-\x7e]+$/);
  const policy = Object.values<Json>(Template.fromStack(stack).toJSON().Resources).find((r) => r.Type === 'AWS::IAM::Policy') as Json;
  const statement = policy.Properties.PolicyDocument.Statement.find((s: Json) => s.Sid === 'DescribeSecrets');
  const arn = (v: Json | string): string => (typeof v === 'string' ? v : v['Fn::Join'][1].map((x: Json | string) => (typeof x === 'string' ? x : `<${x.Ref}>`)).join(''));
  assert.deepEqual(statement.Resource.map(arn), [
    'arn:<AWS::Partition>:secretsmanager:*:*:secret:*',
    `arn:<AWS::Partition>:secretsmanager:${ENV.region}:${ENV.account}:secret:app/api-key-??????`,
  ]);
  // With every secret named at synth, the statement has no wildcard and no suppression.
  const named = nag(() => ({ code: bootstrap(), ...EVERY_CHECK }));
  assert.ok(!suppressed(named.stack).some((f) => f.includes('secretsmanager')));
});

test('cdk-nag AwsSolutions: no error or warning with minimizePolicies, as `cdk init` turns it on', () => {
  const { findings } = nag(() => ({ code: bootstrap(), ...EVERY_CHECK }), { context: { '@aws-cdk/aws-iam:minimizePolicies': true } });
  assert.deepEqual(findings, []);
});

test('cdk-nag AwsSolutions: the serviceToken variant creates no function, no role and no finding', () => {
  const { stack, findings } = nag(() => ({ serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:preflight', ...EVERY_CHECK }));
  assert.deepEqual(findings, []);
  const template = Template.fromStack(stack);
  template.resourceCountIs('AWS::Lambda::Function', 0);
  template.resourceCountIs('AWS::IAM::Role', 0);
  template.resourceCountIs('AWS::IAM::Policy', 0);
});

test('the suppressions are specific: AwsSolutions-IAM5 only, each naming its findings with its reason; Resource::* covers only actions without resource-level permissions', () => {
  const { stack } = nag(() => ({ code: bootstrap(), ...EVERY_CHECK }));
  const rules = suppressions(stack);
  assert.ok(rules.length > 0);
  for (const r of rules) {
    assert.equal(r.id, 'AwsSolutions-IAM5', 'only the wildcard rule is suppressed');
    assert.ok(Array.isArray(r.applies_to) && r.applies_to.length > 0, `${JSON.stringify(r)} names its findings (no blanket suppression)`);
    for (const f of r.applies_to) assert.equal(typeof f, 'string', 'findings named exactly, not by a pattern');
    assert.ok(r.reason.length >= 80, `a reason, not a placeholder: ${r.reason}`);
    assert.match(r.reason, /^[\x20-\x7e]+$/, 'plain ASCII (cdk-nag would base64 other text)');
  }
  const star = rules.find((r) => r.applies_to.includes('Resource::*'));
  assert.ok(star);
  assert.deepEqual(star.applies_to, ['Resource::*']);
  for (const action of ['ssm:DescribeParameters', 'route53:ListHostedZonesByName', 'route53domains:GetDomainDetail']) {
    assert.ok(star.reason.includes(action), `the reason for Resource::* names ${action}`);
  }
  // The statements on Resource "*" are exactly those three actions.
  const json = Template.fromStack(stack).toJSON();
  const policy = Object.values<Json>(json.Resources).find((r) => r.Type === 'AWS::IAM::Policy') as Json;
  const onStar = policy.Properties.PolicyDocument.Statement.filter((s: Json) => [s.Resource].flat().includes('*')).flatMap((s: Json) => [s.Action].flat());
  assert.deepEqual(onStar.sort(), ['route53:ListHostedZonesByName', 'route53domains:GetDomainDetail', 'ssm:DescribeParameters']);
  // sts:GetCallerIdentity needs no permission, so the role does not list it.
  assert.ok(!JSON.stringify(policy).includes('sts:'), 'no sts action');
  // No action wildcard, and no managed policy (AwsSolutions-IAM4).
  for (const s of policy.Properties.PolicyDocument.Statement) for (const a of [s.Action].flat()) assert.ok(!a.includes('*'), a);
  const role = Object.values<Json>(json.Resources).find((r) => r.Type === 'AWS::IAM::Role') as Json;
  assert.equal(role.Properties.ManagedPolicyArns, undefined);
});

test('cdk-nag honours the construct\'s cdk_nag metadata: without it each suppressed finding is an error, and it has the shape NagSuppressions writes', () => {
  const { findings } = nag(() => ({ code: bootstrap(), ...EVERY_CHECK }), {
    before: (p) => (p.node.findChild('ReadOnly').node.defaultChild as CfnResource).addMetadata('cdk_nag', { rules_to_suppress: [] }),
  });
  assert.deepEqual(findings.sort(), unavoidable(ENV.account, ENV.region).map((u) => `/Nag/Preflight/ReadOnly/Resource AwsSolutions-IAM5[${u}]`));
  // NagSuppressions, given the same suppressions, writes the same metadata.
  const { stack } = nag(() => ({ code: bootstrap(), ...EVERY_CHECK }));
  const ours = suppressions(stack);
  const other = new Stack(new App(), 'Other');
  const resource = new CfnResource(other, 'R', { type: 'AWS::IAM::Policy' });
  NagSuppressions.addResourceSuppressions(resource, ours.map((r) => ({ id: r.id, reason: r.reason, appliesTo: r.applies_to })));
  assert.deepEqual(resource.getMetadata('cdk_nag'), { rules_to_suppress: ours });
});

test('a wildcard the construct gives no reason for is still a finding: the suppressions are not blanket', () => {
  const { findings } = nag(() => ({ code: bootstrap(), ...EVERY_CHECK }), {
    before: (p) => (p.node.findChild('ReadOnly') as iam.Policy).addStatements(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::some-bucket/*'] }),
      new iam.PolicyStatement({ actions: ['ssm:GetParameter*'], resources: ['arn:aws:ssm:us-east-1:123456789012:parameter/app'] }),
    ),
  });
  assert.deepEqual(findings.sort(), [
    '/Nag/Preflight/ReadOnly/Resource AwsSolutions-IAM5[Action::ssm:GetParameter*]',
    '/Nag/Preflight/ReadOnly/Resource AwsSolutions-IAM5[Resource::arn:aws:s3:::some-bucket/*]',
  ]);
});

test('the bootstrap reads are named for the qualifier, no wildcard: its version parameter and its assets bucket; a qualifier that could widen them is refused', () => {
  for (const [bootstrapProps, qualifier] of [[{}, 'hnb659fds'], [{ qualifier: 'abc123' }, 'abc123']] as const) {
    const { stack, findings } = nag(() => ({ code: bootstrap(), bootstrap: bootstrapProps }));
    assert.deepEqual(findings, []);
    const policy = Object.values<Json>(Template.fromStack(stack).toJSON().Resources).find((r) => r.Type === 'AWS::IAM::Policy') as Json;
    const resource = (sid: string): Json | string => policy.Properties.PolicyDocument.Statement.find((s: Json) => s.Sid === sid).Resource;
    // The template's Fn::Join of the ARN, its pseudo parameters written <AWS::...>.
    const arn = (v: Json | string): string => (typeof v === 'string' ? v : v['Fn::Join'][1].map((x: Json | string) => (typeof x === 'string' ? x : `<${x.Ref}>`)).join(''));
    assert.equal(arn(resource('ReadCdkBootstrapVersion')), `arn:<AWS::Partition>:ssm:us-east-1:123456789012:parameter/cdk-bootstrap/${qualifier}/version`);
    assert.equal(arn(resource('ReadBootstrapBucketEncryption')), `arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-123456789012-us-east-1`);
  }
  assert.throws(
    () => nag(() => ({ code: bootstrap(), bootstrap: { qualifier: 'ab*' } })),
    (e: Error) => e.message === 'Preflight bootstrap.qualifier: expected an alphanumeric CDK qualifier of at most 10 characters, got `ab*`',
  );
});

test('cdk-nag is a devDependency only: the construct does not load it', () => {
  const pkg = readJson(path.join(CDK, 'package.json'));
  assert.match(pkg.devDependencies['cdk-nag'], /^\d+\.\d+\.\d+$/, 'pinned to an exact version');
  assert.equal(pkg.dependencies?.['cdk-nag'], undefined);
  assert.equal(pkg.peerDependencies?.['cdk-nag'], undefined);
  for (const file of fs.readdirSync(path.join(CDK, 'lib')).filter((f) => f.endsWith('.ts'))) {
    assert.doesNotMatch(fs.readFileSync(path.join(CDK, 'lib', file), 'utf8'), /from 'cdk-nag'|require\('cdk-nag'\)/, file);
  }
});
