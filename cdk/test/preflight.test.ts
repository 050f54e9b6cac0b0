/**
 * The Preflight construct, synthesized with aws-cdk-lib/assertions: the function, its
 * least-privilege role, the custom resource's properties (round-tripped through Preflight's own
 * spec parser, the Rust binary), run-first dependencies without a cycle, the serviceToken variant,
 * the story 2 example app and the README snippet.
 *
 * PREFLIGHT_BIN points at the `preflight` binary (default ../target/debug/preflight), which the
 * test command builds before it runs these tests.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { App, ArnFormat, AssetStaging, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Preflight, PreflightCode, PreflightProps } from '../lib';
import { story2 } from '../example/story2';
import {
  AARCH64, CDK, Json, LAMBDA_BIN, PREFLIGHT_BIN, REPO, X86_64, ZipEntry, fakeElf, lambdaBin, readElf, readJson, removeTempDirs, run, tempDir, zip,
} from './helpers';

const ENV = { account: '123456789012', region: 'us-east-1' };

after(removeTempDirs);

function synth(props: (stack: Stack) => PreflightProps): { stack: Stack; template: Template; json: Json; preflight: Preflight } {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: ENV });
  const preflight = new Preflight(stack, 'Preflight', props(stack));
  new ec2.CfnEIP(stack, 'SlowThing'); // something for the check to run before
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON(), preflight };
}

function logicalId(json: Json, type: string): string {
  const ids = Object.keys(json.Resources).filter((id) => json.Resources[id].Type === type);
  assert.equal(ids.length, 1, `one ${type} in ${ids}`);
  return ids[0];
}

/** Every action the function's role may take. */
function roleActions(json: Json): string[] {
  const actions: string[] = [];
  for (const r of Object.values<Json>(json.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy' || !JSON.stringify(r.Properties.Roles).includes('PreflightRole')) continue;
    for (const s of r.Properties.PolicyDocument.Statement) {
      assert.equal(s.Effect, 'Allow');
      actions.push(...[s.Action].flat());
    }
  }
  return actions.sort();
}

/** CloudFormation's resolution of the intrinsics in properties, for a deploy to `ENV`. */
function resolve(value: unknown, json: Json): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, json));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Json;
  const pseudo: Json = { 'AWS::Partition': 'aws', 'AWS::AccountId': ENV.account, 'AWS::Region': ENV.region, 'AWS::URLSuffix': 'amazonaws.com' };
  if ('Ref' in o) {
    if (o.Ref in pseudo) return pseudo[o.Ref];
    const r = json.Resources[o.Ref];
    if (r?.Type === 'AWS::IAM::Role') return o.Ref;
    if (r?.Type === 'AWS::KMS::Key') return '1234abcd-12ab-34cd-56ef-1234567890ab';
    if (r?.Type === 'AWS::SSM::Parameter') return r.Properties.Name ?? `/cfn/${o.Ref}`;
    if (r?.Type === 'AWS::Route53::HostedZone') return 'Z0123456789ABCDEFGHIJ';
    throw new Error(`cannot resolve Ref ${o.Ref}`);
  }
  if ('Fn::GetAtt' in o) {
    const [id, attr] = o['Fn::GetAtt'];
    const r = json.Resources[id];
    if (r?.Type === 'AWS::IAM::Role' && attr === 'Arn') return `arn:aws:iam::${ENV.account}:role/${id}`;
    if (r?.Type === 'AWS::KMS::Key' && attr === 'Arn') return `arn:aws:kms:${ENV.region}:${ENV.account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    if (r?.Type === 'AWS::Lambda::Function' && attr === 'Arn') return `arn:aws:lambda:${ENV.region}:${ENV.account}:function:${id}`;
    throw new Error(`cannot resolve GetAtt ${id}.${attr}`);
  }
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'];
    return (resolve(parts, json) as unknown[]).join(sep);
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolve(v, json)]));
}

/** The check's properties as CloudFormation would send them, parsed by `preflight validate`. */
function validate(json: Json): Json {
  const check = json.Resources[logicalId(json, 'Custom::Preflight')];
  const props = resolve(check.Properties, json);
  const file = path.join(tempDir('preflight-cdk-'), 'properties.json');
  fs.writeFileSync(file, JSON.stringify(props));
  const out = run(PREFLIGHT_BIN, ['validate', '--properties', '--spec', file]);
  assert.equal(out.status, 0, `preflight validate rejected the properties:\n${out.stderr}\n${JSON.stringify(props, null, 2)}`);
  return JSON.parse(out.stdout);
}

/** Topological order over Ref, GetAtt, Sub and DependsOn; throws on a cycle. */
function order(json: Json): string[] {
  const edges = new Map<string, Set<string>>();
  for (const [id, r] of Object.entries<Json>(json.Resources)) {
    const deps = new Set<string>([r.DependsOn ?? []].flat());
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v as Json)) {
          if (k === 'Ref' && typeof x === 'string' && x in json.Resources) deps.add(x);
          else if (k === 'Fn::GetAtt') deps.add(x[0]);
          else walk(x);
        }
      }
    };
    walk(r.Properties);
    edges.set(id, deps);
  }
  const done: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new Error(`dependency cycle: ${[...trail, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const d of edges.get(id) ?? []) visit(d, [...trail, id]);
    state.set(id, 'done');
    done.push(id);
  };
  for (const id of edges.keys()) visit(id, []);
  return done;
}

/** The architecture the preflight-lambda binary was built for, from its ELF header's e_machine
 * (a debug build is for the machine that built it, x86_64 or arm64). */
function debugBuildArchitecture(): 'x86_64' | 'arm64' {
  const { magic, machine } = readElf(lambdaBin());
  assert.equal(magic, '\x7fELF', `${LAMBDA_BIN} is not an ELF executable`);
  assert.ok(machine === X86_64 || machine === AARCH64, `${LAMBDA_BIN}: e_machine 0x${machine.toString(16)} is neither x86_64 nor aarch64`);
  return machine === X86_64 ? 'x86_64' : 'arm64';
}

/** The debug build of preflight-lambda and the function architecture it runs on. */
function debugBuild(): Pick<PreflightProps, 'code' | 'architecture'> {
  const architecture = debugBuildArchitecture() === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64;
  return { code: PreflightCode.fromBootstrap(lambdaBin()), architecture };
}

test('the function is the Rust bootstrap on provided.al2023, arm64 by default', () => {
  const { template } = synth(() => ({ code: PreflightCode.fromBootstrap(fakeElf(AARCH64)), parameters: [{ name: '/p', readers: [] }] }));
  template.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'provided.al2023',
    Handler: 'bootstrap',
    Architectures: ['arm64'],
    Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PreflightRole'), 'Arn'] },
    LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
  });
  template.resourceCountIs('AWS::Lambda::Function', 1);
});

/** The refusal of an x86_64 `bootstrap` (`file`) for an arm64 function. */
function x86_64ForArm64(file: string): string {
  return `PreflightCode.fromBootstrap: ${file} is an x86_64 executable, but the Preflight function is arm64 (the construct's \`architecture\`, ARM_64 unless set): ` +
    "Lambda could not start it (Runtime.InvalidEntrypoint, exec format error) and CloudFormation would wait out the check's ServiceTimeout. " +
    "Either build the bootstrap for arm64: `cargo lambda build --release --arm64 --bin preflight-lambda` (`pip install cargo-lambda` installs cargo-lambda and zig), " +
    "then PreflightCode.fromBootstrap('target/lambda/preflight-lambda/bootstrap'); or set `architecture: lambda.Architecture.X86_64` on the Preflight construct to match the binary.";
}

/** The refusal of an arm64 `bootstrap` (`file`) for an x86_64 function. */
function arm64ForX86_64(file: string): string {
  return `PreflightCode.fromBootstrap: ${file} is an arm64 executable, but the Preflight function is x86_64 (the construct's \`architecture\`, ARM_64 unless set): ` +
    "Lambda could not start it (Runtime.InvalidEntrypoint, exec format error) and CloudFormation would wait out the check's ServiceTimeout. " +
    "Either build the bootstrap for x86_64: `cargo lambda build --release --x86-64 --bin preflight-lambda` (`pip install cargo-lambda` installs cargo-lambda and zig), " +
    "then PreflightCode.fromBootstrap('target/lambda/preflight-lambda/bootstrap'); or set `architecture: lambda.Architecture.ARM_64` on the Preflight construct to match the binary.";
}

/** Asserts that synthesizing with `props` throws exactly `message`. */
function refused(props: PreflightProps, message: string): void {
  assert.throws(() => synth(() => props), (e: Error) => {
    assert.equal(e.message, message);
    return true;
  });
}

/** The `Architectures` of the function synthesized with `props` (which must be accepted). */
function architectures(props: PreflightProps): string[] {
  const { json } = synth(() => props);
  return json.Resources[logicalId(json, 'AWS::Lambda::Function')].Properties.Architectures;
}

/** A zip of `entries` (stored, or deflated as `cargo lambda build --output-format zip` does). */
function writeZip(entries: ZipEntry[]): string {
  const file = path.join(tempDir('preflight-zip-'), 'bootstrap.zip');
  fs.writeFileSync(file, zip(entries));
  return file;
}

test('the debug build, made for this machine, is refused for the other architecture with how to build the right one, and accepted for its own', () => {
  const arch = debugBuildArchitecture();
  if (arch === 'x86_64') {
    // The case: arm64 is the default, and nothing was said about the architecture.
    refused({ code: PreflightCode.fromBootstrap(lambdaBin()) }, x86_64ForArm64(LAMBDA_BIN));
    refused({ code: PreflightCode.fromBootstrap(lambdaBin()), architecture: lambda.Architecture.ARM_64 }, x86_64ForArm64(LAMBDA_BIN));
  } else {
    refused({ code: PreflightCode.fromBootstrap(lambdaBin()), architecture: lambda.Architecture.X86_64 }, arm64ForX86_64(LAMBDA_BIN));
  }
  assert.deepEqual(architectures(debugBuild()), [arch]);
});

test('an aarch64 bootstrap is accepted for arm64 and refused for x86_64, an x86_64 one the other way round: bare, in a directory, in a zip', () => {
  const bare = fakeElf(AARCH64);
  assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(bare) }), ['arm64']);
  assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(bare), architecture: lambda.Architecture.ARM_64 }), ['arm64']);
  refused({ code: PreflightCode.fromBootstrap(bare), architecture: lambda.Architecture.X86_64 }, arm64ForX86_64(bare));

  const dir = path.dirname(fakeElf(AARCH64));
  assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(dir) }), ['arm64']);
  refused({ code: PreflightCode.fromBootstrap(dir), architecture: lambda.Architecture.X86_64 }, arm64ForX86_64(path.join(dir, 'bootstrap')));

  const x86Dir = path.dirname(fakeElf(X86_64));
  refused({ code: PreflightCode.fromBootstrap(x86Dir) }, x86_64ForArm64(path.join(x86Dir, 'bootstrap')));
  assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(x86Dir), architecture: lambda.Architecture.X86_64 }), ['x86_64']);

  // Zips as cargo lambda writes them (deflated) and stored; the header is read from the entry.
  for (const deflate of [true, false]) {
    const pad = Buffer.alloc(100_000, 0x90);
    const arm = writeZip([{ name: 'bootstrap', data: Buffer.concat([fs.readFileSync(fakeElf(AARCH64)), pad]), deflate }]);
    assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(arm) }), ['arm64']);
    refused({ code: PreflightCode.fromBootstrap(arm), architecture: lambda.Architecture.X86_64 }, arm64ForX86_64(`${arm} (its bootstrap)`));
    const x86 = writeZip([
      { name: 'README', data: Buffer.from('not the entry point'), deflate },
      { name: 'bootstrap', data: Buffer.concat([fs.readFileSync(fakeElf(X86_64)), pad]), deflate },
    ]);
    refused({ code: PreflightCode.fromBootstrap(x86) }, x86_64ForArm64(`${x86} (its bootstrap)`));
    assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(x86), architecture: lambda.Architecture.X86_64 }), ['x86_64']);
  }
});

test('a bootstrap that is not ELF, a shell script, is not judged; a zip without a bootstrap is refused', () => {
  const script = path.join(tempDir('preflight-script-'), 'bootstrap');
  fs.writeFileSync(script, '#!/bin/sh\nexec "$LAMBDA_TASK_ROOT/preflight-lambda"\n', { mode: 0o755 });
  const zipped = writeZip([{ name: 'bootstrap', data: fs.readFileSync(script), deflate: true }]);
  for (const where of [script, path.dirname(script), zipped]) {
    assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(where) }), ['arm64'], where);
    assert.deepEqual(architectures({ code: PreflightCode.fromBootstrap(where), architecture: lambda.Architecture.X86_64 }), ['x86_64'], where);
  }
  const noBootstrap = writeZip([{ name: 'preflight-lambda', data: fs.readFileSync(fakeElf(AARCH64)), deflate: true }]);
  refused(
    { code: PreflightCode.fromBootstrap(noBootstrap) },
    `PreflightCode.fromBootstrap: ${noBootstrap} has no \`bootstrap\` at its root, which the provided.al2023 runtime runs`,
  );
});

test('a bare binary is staged once per content: a second synth of it reuses the staging directory and creates none', () => {
  // A binary of some size; os.tmpdir() is a directory of this test's own (TMPDIR), so no other
  // process's staging is counted.
  const bare = path.join(tempDir('preflight-bare-'), 'preflight-lambda');
  fs.writeFileSync(bare, Buffer.concat([fs.readFileSync(fakeElf(AARCH64)), crypto.randomBytes(3 << 20)]), { mode: 0o755 });
  const bytes = fs.readFileSync(bare);
  const tmp = tempDir('preflight-tmpdir-');
  const staged = (): string[] => fs.readdirSync(tmp).filter((n) => n.startsWith('preflight-bootstrap-')).sort();
  /** The staging directory of the function's code and its S3 key in the cloud assembly. */
  const stage = (): { sourcePath: string; s3Key: string } => {
    const { json, preflight } = synth(() => ({ code: PreflightCode.fromBootstrap(bare) }));
    const stagings = preflight.function!.node.findAll().filter((c): c is AssetStaging => c instanceof AssetStaging);
    assert.equal(stagings.length, 1);
    const fn = json.Resources[logicalId(json, 'AWS::Lambda::Function')];
    return { sourcePath: stagings[0].sourcePath, s3Key: JSON.stringify(fn.Properties.Code.S3Key) };
  };
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    assert.equal(os.tmpdir(), tmp);
    const first = stage();
    const digest = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    assert.equal(first.sourcePath, path.join(tmp, `preflight-bootstrap-${digest}`));
    assert.deepEqual(fs.readdirSync(first.sourcePath), ['bootstrap']);
    assert.ok(fs.readFileSync(path.join(first.sourcePath, 'bootstrap')).equals(bytes), 'the staged bootstrap is the binary');
    assert.equal(fs.statSync(path.join(first.sourcePath, 'bootstrap')).mode & 0o777, 0o755);
    const afterFirst = staged();
    assert.deepEqual(afterFirst, [`preflight-bootstrap-${digest}`]);
    const mtime = fs.statSync(path.join(first.sourcePath, 'bootstrap')).mtimeMs;

    const second = stage();
    assert.deepEqual(second, first, 'the second synth stages into the same directory, to the same asset');
    assert.deepEqual(staged(), afterFirst, 'no new preflight-bootstrap-* directory on the second synth');
    assert.equal(fs.statSync(path.join(second.sourcePath, 'bootstrap')).mtimeMs, mtime, 'the staged bootstrap was reused, not copied again');
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.endsWith('.partial')), [], 'no partial copy left behind');
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

test('the role may do exactly the reads the enabled checks make, nothing that decrypts or writes', () => {
  const params = roleActions(synth(() => ({ ...debugBuild(), parameters: [{ name: '/p', readers: [] }] })).json);
  assert.deepEqual(params, [
    'iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:GetRole', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies', 'iam:ListRolePolicies',
    'kms:DescribeKey', 'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ListGrants', 'kms:ListGrants',
    'logs:CreateLogStream', 'logs:PutLogEvents',
    'ssm:DescribeParameters',
  ]);
  const zone = roleActions(synth(() => ({ ...debugBuild(), hostedZone: { zone: 'Z0123456789ABCDEFGHIJ' } })).json);
  assert.deepEqual(zone, [
    'logs:CreateLogStream', 'logs:PutLogEvents',
    'route53:GetHostedZone', 'route53:ListHostedZonesByName', 'route53:ListResourceRecordSets', 'route53domains:GetDomainDetail',
  ]);
  const all = roleActions(synth(() => ({
    ...debugBuild(),
    bootstrap: {}, parameters: [{ name: '/p', readers: [] }], keys: [{ key: 'alias/k', sharedWithAccounts: ['222222222222'] }],
    keyPolicies: [{ policy: {}, administrators: [] }], hostedZone: { zone: 'Z1' },
  })).json);
  assert.deepEqual(all, [
    'cloudformation:DescribeStacks', 'iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:GetRole', 'iam:GetRolePolicy',
    'iam:ListAttachedRolePolicies', 'iam:ListRolePolicies', 'kms:DescribeKey', 'kms:DescribeKey', 'kms:GetKeyPolicy',
    'kms:ListGrants', 'kms:ListGrants', 'logs:CreateLogStream', 'logs:PutLogEvents', 'route53:GetHostedZone', 'route53:ListHostedZonesByName',
    'route53:ListResourceRecordSets', 'route53domains:GetDomainDetail', 's3:GetEncryptionConfiguration',
    'ssm:DescribeParameters', 'ssm:GetParameter',
  ]);
  // Every action is one template.yaml also allows, and a read.
  const samTemplate = fs.readFileSync(path.join(REPO, 'template.yaml'), 'utf8');
  for (const a of all) {
    assert.ok(samTemplate.includes(a), `${a} is not in template.yaml`);
    assert.match(a, /^(logs:(CreateLogStream|PutLogEvents)|[a-z0-9]+:(Describe|Get|List)[A-Za-z]*)$/, `${a} is not a read`);
    assert.doesNotMatch(a, /^(kms:(Decrypt|Encrypt|ReEncrypt|GenerateDataKey)|secretsmanager:)/);
  }
});

test('the secret check\'s statement: DescribeSecret and GetResourcePolicy on exactly the secrets given, never GetSecretValue', () => {
  const { json, stack } = synth((stack) => ({
    ...debugBuild(),
    secrets: [
      { secretId: 'app/db', readers: [] },
      // A complete ARN (the name ends in the 6 characters Secrets Manager appends), of another account and region.
      { secretId: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:shared/db-AbC12f', readers: [] },
      // A partial ARN: the name without its suffix.
      { secretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api', readers: [] },
      // An ARN with tokens (the partition) but its name written out.
      { secretId: stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: 'app/key', arnFormat: ArnFormat.COLON_RESOURCE_NAME }), readers: [] },
      { secretId: 'app/db', readers: ['arn:aws:iam::123456789012:role/other'] },
    ],
  }));
  assert.equal(stack.account, ENV.account);
  const policy = Object.values<Json>(json.Resources).find((r) => r.Type === 'AWS::IAM::Policy') as Json;
  const statements: Json[] = policy.Properties.PolicyDocument.Statement;
  const describe = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('secretsmanager:')));
  assert.equal(describe.length, 1, 'one statement for Secrets Manager');
  assert.equal(describe[0].Sid, 'DescribeSecrets');
  assert.deepEqual([describe[0].Action].flat().sort(), ['secretsmanager:DescribeSecret', 'secretsmanager:GetResourcePolicy']);
  assert.deepEqual(resolve([describe[0].Resource].flat(), json), [
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-??????',
    'arn:aws:secretsmanager:eu-west-1:222222222222:secret:shared/db-AbC12f',
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-??????',
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/key-??????',
  ]);
  assert.ok(!JSON.stringify(policy).includes('GetSecretValue'), 'never secretsmanager:GetSecretValue');
  // A secret is judged with its key and readers, as a parameter is: the same reads, and
  // DescribeSecrets for ssm:DescribeParameters.
  assert.deepEqual(roleActions(json), [
    'iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:GetRole', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies', 'iam:ListRolePolicies',
    'kms:DescribeKey', 'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ListGrants', 'kms:ListGrants',
    'logs:CreateLogStream', 'logs:PutLogEvents',
    'secretsmanager:DescribeSecret', 'secretsmanager:GetResourcePolicy',
  ]);
  const samTemplate = fs.readFileSync(path.join(REPO, 'template.yaml'), 'utf8');
  for (const a of ['secretsmanager:DescribeSecret', 'secretsmanager:GetResourcePolicy']) assert.ok(samTemplate.includes(a), `${a} is not in template.yaml`);
  // Without secrets, no Secrets Manager statement.
  assert.ok(!JSON.stringify(synth(() => ({ ...debugBuild(), secrets: [] })).json).includes('secretsmanager'));
});

test('secrets render to the Secrets property the Lambda parses (round trip through preflight validate)', () => {
  const { template, json } = synth((stack) => {
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    return {
      ...debugBuild(),
      secrets: [
        { secretId: 'prod/app/db', readers: [reader, 'arn:aws:sts::123456789012:assumed-role/ci/build'] },
        { secretId: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:shared/db-AbC12f', readers: [] },
      ],
    };
  });
  const reader = Object.keys(json.Resources).find((id) => id.startsWith('Reader')) as string;
  template.hasResourceProperties('Custom::Preflight', {
    Secrets: [
      { SecretId: 'prod/app/db', Readers: [{ 'Fn::GetAtt': [reader, 'Arn'] }, 'arn:aws:sts::123456789012:assumed-role/ci/build'] },
      { SecretId: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:shared/db-AbC12f', Readers: [] },
    ],
  });
  assert.deepEqual(validate(json).Secrets, [
    { SecretId: 'prod/app/db', Readers: [`arn:aws:iam::123456789012:role/${reader}`, 'arn:aws:sts::123456789012:assumed-role/ci/build'] },
    { SecretId: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:shared/db-AbC12f', Readers: [] },
  ]);
});

test('the custom resource has ServiceTimeout and a nonce that changes per synth, or none when turned off', () => {
  const a = synth(() => ({ ...debugBuild(), timeout: Duration.seconds(90) }));
  a.template.hasResourceProperties('Custom::Preflight', { ServiceTimeout: '150', Options: { OnUnknown: 'warn', Nonce: Match.stringLikeRegexp('^[0-9]{13}$') } });
  const fixedNonce = synth(() => ({ ...debugBuild(), nonce: false }));
  const options = fixedNonce.json.Resources[logicalId(fixedNonce.json, 'Custom::Preflight')].Properties.Options;
  assert.deepEqual(options, { OnUnknown: 'warn' });
  const n1 = validate(a.json).Options.Nonce;
  const later = Date.now() + 5;
  while (Date.now() < later) { /* the clock moves on */ }
  const n2 = validate(synth(() => ({ ...debugBuild() })).json).Options.Nonce;
  assert.ok(BigInt(n2) > BigInt(n1), `${n2} > ${n1}`);
});

test('CDK objects render to the properties the Lambda parses (round trip through preflight validate)', () => {
  const { json } = synth((stack) => {
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const key = new kms.Key(stack, 'AppKey');
    const param = new ssm.StringParameter(stack, 'Plain', { parameterName: '/app/name', stringValue: 'x' });
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    const imported = iam.Role.fromRoleArn(stack, 'Scheduler', 'arn:aws:iam::222222222222:role/scheduler');
    return {
      ...debugBuild(),
      bootstrap: { trustedAccounts: ['222222222222'], readers: [reader] },
      parameters: [{ name: param, readers: [reader] }, { name: '/app/db/password', readers: ['arn:aws:iam::123456789012:role/db'] }],
      keys: [{ key, principals: [imported], viaService: 'ec2.us-east-1.amazonaws.com', forAwsResources: true, encryptionContext: { app: 'a' } },
             { key: 'alias/aws/rds', sharedWithAccounts: ['222222222222'] }],
      keyPolicies: [{ policy: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ principals: [new iam.AccountRootPrincipal()], actions: ['kms:*'], resources: ['*'] })] }), administrators: [reader] }],
      hostedZone: { zone, recordNames: ['_X1.Example.com.'] },
      options: { onUnknown: 'fail', dnsRootServers: ['127.0.0.10:5300'] },
    };
  });
  const spec = validate(json);
  const reader = Object.keys(json.Resources).find((id) => id.startsWith('Reader'));
  const arn = `arn:aws:iam::123456789012:role/${reader}`;
  assert.deepEqual(spec.Bootstrap, { Qualifier: 'hnb659fds', ToolkitStackName: 'CDKToolkit', TrustedAccounts: ['222222222222'], Readers: [arn] });
  assert.deepEqual(spec.Parameters, [{ Name: '/app/name', Readers: [arn] }, { Name: '/app/db/password', Readers: ['arn:aws:iam::123456789012:role/db'] }]);
  assert.equal(spec.Keys[0].Key, 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab');
  assert.deepEqual(spec.Keys[0].Principals, ['arn:aws:iam::222222222222:role/scheduler']);
  assert.deepEqual(spec.Keys[0].Actions, ['kms:Decrypt']);
  assert.equal(spec.Keys[0].ForAwsResources, true);
  assert.deepEqual(spec.Keys[0].EncryptionContext, { app: 'a' });
  assert.deepEqual(spec.Keys[1].SharedWithAccounts, ['222222222222']);
  assert.deepEqual(spec.KeyPolicies[0].Administrators, [arn]);
  assert.equal(spec.KeyPolicies[0].Policy.Statement[0].Principal.AWS, 'arn:aws:iam::123456789012:root');
  assert.deepEqual(spec.HostedZone, { ZoneId: 'Z0123456789ABCDEFGHIJ', RecordNames: ['_x1.example.com'] });
  assert.equal(spec.Options.OnUnknown, 'fail');
  assert.deepEqual(spec.Options.DnsRootServers, ['127.0.0.10:5300']);
});

test('every other resource depends on the check, Preflight\'s own and what it inspects do not, and there is no cycle', () => {
  const { json } = synth((stack) => {
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    reader.addToPolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: ['*'] }));
    return { ...debugBuild(), parameters: [{ name: '/p', readers: [reader] }] };
  });
  const check = logicalId(json, 'Custom::Preflight');
  const dependsOn = (id: string): string[] => [json.Resources[id].DependsOn ?? []].flat();
  const own = Object.keys(json.Resources).filter((id) => id.startsWith('Preflight') && id !== check);
  assert.equal(own.length, 4, `function, role, policy, log group: ${own}`);
  for (const id of own) assert.ok(!dependsOn(id).includes(check), `${id} is Preflight's own`);
  const reader = Object.keys(json.Resources).find((id) => id.startsWith('Reader') && json.Resources[id].Type === 'AWS::IAM::Role') as string;
  const readerPolicy = Object.keys(json.Resources).find((id) => id.startsWith('ReaderDefaultPolicy')) as string;
  assert.ok(!dependsOn(reader).includes(check), 'the role the check judges exists before it');
  assert.ok(dependsOn(check).includes(readerPolicy), 'the check waits for the policy of the role it judges');
  assert.ok(dependsOn('SlowThing').includes(check), 'everything else waits for the check');
  const sequence = order(json);
  assert.ok(sequence.indexOf(check) < sequence.indexOf('SlowThing'));
});

test('the serviceToken variant creates no function and no role', () => {
  const { template, json } = synth(() => ({ serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:preflight', hostedZone: { zone: 'Z1' } }));
  template.resourceCountIs('AWS::Lambda::Function', 0);
  template.resourceCountIs('AWS::IAM::Role', 0);
  template.hasResourceProperties('Custom::Preflight', { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:preflight', ServiceTimeout: '300' });
  assert.deepEqual(validate(json).HostedZone, { ZoneId: 'Z1', RecordNames: [] });
});

test('bad input is an error naming the prop, never a silent default', () => {
  const build = debugBuild();
  assert.throws(() => synth(() => ({ ...build, keys: [{ key: 'alias/k', principals: ['arn:aws:iam::123456789012:role/r'], actions: ['s3:GetObject'] }] })), /keys\[0\]\.actions\[0\]: `s3:GetObject` matches no KMS action/);
  // The wildcards people copy from key policies are accepted and passed through for Preflight to expand.
  const wild = synth(() => ({ ...build, keys: [{ key: 'alias/k', principals: ['arn:aws:iam::123456789012:role/r'], actions: ['kms:ReEncrypt*', 'kms:GenerateDataKey*'] }] }));
  assert.deepEqual(
    Object.values(wild.template.findResources('Custom::Preflight')).map((r: any) => r.Properties.Keys[0].Actions),
    [['kms:ReEncrypt*', 'kms:GenerateDataKey*']],
  );
  assert.throws(() => synth(() => ({ ...build, keys: [{ key: 'alias/k' }] })), /keys\[0\]: nothing to check/);
  assert.throws(() => synth(() => ({ ...build, parameters: [{ name: '/p', readers: ['db-reader'] }] })), /parameters\[0\]\.readers\[0\]: expected an IAM role ARN/);
  assert.throws(() => synth(() => ({ ...build, bootstrap: { trustedAccounts: ['2222'] } })), /bootstrap\.trustedAccounts\[0\]: expected a 12-digit account id/);
  for (const bad of [
    '', 'prod db', 'x'.repeat(513), 'prod/*',
    'arn:aws:secretsmanager:us-east-1:1234:secret:db', 'arn:aws:ssm:us-east-1:123456789012:parameter/db',
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:*',
    'arn:aws:secretsmanager:useast1:123456789012:secret:db',
  ]) {
    assert.throws(
      () => synth(() => ({ ...build, secrets: [{ secretId: 'ok', readers: [] }, { secretId: bad, readers: [] }] })),
      (e: Error) => e.message === 'Preflight secrets[1].secretId: expected a secret name (1 to 512 characters of letters, digits and /_+=.@-) ' +
        `or a secret ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME), got \`${bad}\``,
      bad,
    );
  }
  synth(() => ({ ...build, secrets: [{ secretId: 'x'.repeat(512), readers: [] }, { secretId: 'a/b_c+d=e.f@g-h', readers: [] }] }));
  assert.throws(() => synth(() => ({ ...build, secrets: [{ secretId: 'db', readers: ['arn:aws:iam::123456789012:role/r', 'db-reader'] }] })), /secrets\[0\]\.readers\[1\]: expected an IAM role ARN, got `db-reader`/);
  assert.throws(() => synth(() => ({})), /`code` is required/);
  assert.throws(() => synth(() => ({ code: PreflightCode.fromBootstrap('/nonexistent/bootstrap') })), /no such file or directory/);
});

test('the story 2 example synthesizes offline, the check first and the reader judged with its policy', () => {
  process.env.PREFLIGHT_BOOTSTRAP = lambdaBin();
  process.env.PREFLIGHT_ARCHITECTURE = debugBuildArchitecture();
  for (const fixed of [false, true]) {
    const app = new App();
    const json = Template.fromStack(story2(app, fixed)).toJSON();
    const check = logicalId(json, 'Custom::Preflight');
    const aws = logicalId(json, 'Custom::AWS');
    const cluster = logicalId(json, 'AWS::RDS::DBCluster');
    const nat = logicalId(json, 'AWS::EC2::NatGateway');
    for (const id of [aws, cluster, nat]) assert.ok([json.Resources[id].DependsOn].flat().includes(check), `${id} waits for the check`);
    const sequence = order(json);
    assert.ok(sequence.indexOf(check) < sequence.indexOf(cluster));
    const spec = validate(json);
    assert.equal(spec.Parameters[0].Name, '/app/db/password');
    assert.match(spec.Parameters[0].Readers[0], /^arn:aws:iam::123456789012:role\/AWS679f53fac002430cb0da5b7982bd2287ServiceRole/);
    const policies = Object.values<Json>(json.Resources).filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes('AWS679f53fac002430cb0da5b7982bd2287ServiceRole'));
    const decrypt = JSON.stringify(policies).includes('kms:Decrypt');
    assert.equal(decrypt, fixed, 'the fixed variant grants kms:Decrypt to the reader');
  }
});

test('the example app synthesizes from the command line, as a new user runs it', () => {
  const out = tempDir('preflight-story2-');
  const printed = execFileSync(process.execPath, [path.join(CDK, 'dist', 'example', 'story2.js')], {
    env: { ...process.env, PREFLIGHT_BOOTSTRAP: lambdaBin(), PREFLIGHT_ARCHITECTURE: debugBuildArchitecture(), CDK_OUTDIR: out },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  assert.equal(printed.trim(), `synthesized Story2 to ${path.join(out, 'Story2.template.json')}`);
  const json = readJson(path.join(out, 'Story2.template.json'));
  assert.equal(Object.values<Json>(json.Resources).filter((r) => r.Type === 'Custom::Preflight').length, 1);
});

test('the README snippet compiles against this package', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const block = readme.match(/<!-- cdk-snippet -->\s*```ts\n([\s\S]*?)```/);
  assert.ok(block, 'README.md has a ```ts block after <!-- cdk-snippet -->');
  const dir = fs.mkdtempSync(path.join(CDK, '.snippet-'));
  try {
    fs.writeFileSync(path.join(dir, 'snippet.ts'), block[1]);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      extends: '../tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '..', baseUrl: '..', paths: { '@preflight/cdk': ['lib/index.ts'] }, noUnusedLocals: false },
      include: ['snippet.ts'],
    }));
    const tsc = run(process.execPath, [path.join(CDK, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir]);
    assert.equal(tsc.status, 0, `the README snippet does not compile:\n${tsc.stdout}${tsc.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
