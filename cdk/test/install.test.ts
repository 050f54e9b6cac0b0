/**
 * The construct behaves the same however it is installed. Each test makes a CDK app in a temporary
 * directory with its own copy of aws-cdk-lib and constructs (copied, not linked: Node tells modules
 * apart by their real path), installs @preflight/cdk into it with npm, offline, and synthesizes
 * test/fixtures/installed-app.js (a reader of a SecureString parameter, something slow, the check):
 *
 * - from its folder: npm links node_modules/@preflight/cdk to this folder, so the construct's own
 *   `require('aws-cdk-lib')` resolves cdk/node_modules/aws-cdk-lib, a second copy next to the
 *   app's, whose classes `instanceof` does not recognise;
 * - from its `npm pack` tarball: the construct is unpacked into the app and uses the app's
 *   aws-cdk-lib, its peer dependency, the one copy.
 *
 * Either way the run-first Aspect must find the stack's resources and make them wait for the check.
 * The construct's dist/ is the one `npm test` has just compiled.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { AARCH64, CDK, Json, REPO, cleanEnv, fakeElf, readJson, removeTempDirs, tempDir } from './helpers';

const FIXTURE = path.join(CDK, 'test', 'fixtures', 'installed-app.js');
/** Story 2's reader, which the fixture shares with tests/cdk-apps/story2.js. */
const READER = path.join(REPO, 'tests', 'cdk-apps', 'story2-reader.js');

after(removeTempDirs);

function npm(cwd: string, args: string[]): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--offline', '--loglevel=error'], {
    cwd,
    env: cleanEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The packages of cdk/node_modules that `roots` need at run time: their dependencies, closed,
 * less what they bundle. */
function runtimeClosure(roots: string[]): string[] {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    const manifest = readJson(path.join(CDK, 'node_modules', name, 'package.json'));
    const bundled = new Set<string>(manifest.bundleDependencies ?? manifest.bundledDependencies ?? []);
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      if (!bundled.has(dep) && fs.existsSync(path.join(CDK, 'node_modules', dep))) queue.push(dep);
    }
  }
  return [...seen].sort();
}

/** A new app: package.json, app.js, and its own copy of aws-cdk-lib and constructs. */
function newApp(): string {
  const dir = tempDir('preflight-installed-');
  const version = (name: string): string => readJson(path.join(CDK, 'node_modules', name, 'package.json')).version;
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'installed-app', version: '1.0.0', private: true, dependencies: { 'aws-cdk-lib': version('aws-cdk-lib'), constructs: version('constructs') } }),
  );
  for (const name of runtimeClosure(['aws-cdk-lib', 'constructs'])) {
    fs.cpSync(path.join(CDK, 'node_modules', name), path.join(dir, 'node_modules', name), { recursive: true, verbatimSymlinks: true });
  }
  fs.copyFileSync(FIXTURE, path.join(dir, 'app.js'));
  fs.copyFileSync(READER, path.join(dir, 'story2-reader.js'));
  return dir;
}

/** A file with an aarch64 ELF header: a bootstrap for the default arm64 function. */
function aarch64Bootstrap(): string {
  return fakeElf(AARCH64, 'preflight-installed-bootstrap-');
}

interface Run {
  template: Json;
  awsCdkLibCopies: string[];
  construct: string;
  refused: string | null;
}

function synthesize(app: string, bootstrap: string): Run {
  const out = execFileSync(process.execPath, ['app.js', path.join(app, 'cdk.out'), bootstrap], {
    cwd: app,
    env: cleanEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const run = JSON.parse(out);
  return { ...run, template: readJson(run.template) };
}

/** Run first, as in the in-tree test: everything waits for the check except Preflight's own
 * resources and what the check judges (the reader's role, and its policy, which the check waits for). */
function assertRunsFirst(run: Run, bootstrap: string): void {
  const resources = run.template.Resources as Record<string, Json>;
  const dependsOn = (id: string): string[] => [resources[id].DependsOn ?? []].flat();
  const checks = Object.keys(resources).filter((id) => resources[id].Type === 'Custom::Preflight');
  assert.deepEqual(checks, ['PreflightCheck204820B2']);
  const waiting = Object.keys(resources).filter((id) => dependsOn(id).includes('PreflightCheck204820B2')).sort();
  assert.deepEqual(waiting, ['AWS679f53fac002430cb0da5b7982bd22872D164C4C', 'GetDbPasswordA772F39B', 'SlowThing']);
  const notWaiting = Object.keys(resources).filter((id) => !waiting.includes(id)).sort();
  assert.deepEqual(notWaiting, [
    'AWS679f53fac002430cb0da5b7982bd2287ServiceRoleC1EA0FF2', // the reader the check judges
    'GetDbPasswordCustomResourcePolicyE9A2365B', // its policy
    'PreflightCheck204820B2',
    'PreflightFunction7D71E9A1',
    'PreflightLogs795715B4',
    'PreflightReadOnlyF8EDEC0F',
    'PreflightRole868DD5F1',
  ]);
  assert.deepEqual(dependsOn('PreflightCheck204820B2'), ['GetDbPasswordCustomResourcePolicyE9A2365B']);
  assert.deepEqual(resources.PreflightCheck204820B2.Properties.Parameters, [
    { Name: '/app/db/password', Readers: [{ 'Fn::GetAtt': ['AWS679f53fac002430cb0da5b7982bd2287ServiceRoleC1EA0FF2', 'Arn'] }] },
  ]);
  // The app's lambda.Architecture, of its own copy, is recognised by name: the function is arm64,
  // and x86_64 is refused for the aarch64 bootstrap.
  assert.deepEqual(resources.PreflightFunction7D71E9A1.Properties.Architectures, ['arm64']);
  assert.ok(
    run.refused?.startsWith(`PreflightCode.fromBootstrap: ${bootstrap} is an arm64 executable, but the Preflight function is x86_64 `),
    `refused: ${run.refused}`,
  );
}

test('installed from its folder, with a second copy of aws-cdk-lib in the process, the check still runs first', () => {
  const app = newApp();
  npm(app, ['install', CDK]);
  const installed = path.join(app, 'node_modules', '@preflight', 'cdk');
  assert.ok(fs.lstatSync(installed).isSymbolicLink(), 'npm links a folder install');
  assert.equal(fs.realpathSync(installed), fs.realpathSync(CDK));
  const bootstrap = aarch64Bootstrap();
  const run = synthesize(app, bootstrap);
  assert.equal(run.construct, path.join(fs.realpathSync(CDK), 'dist', 'lib', 'index.js'));
  // Two copies: the app's, and the construct's own from cdk/node_modules.
  assert.deepEqual(run.awsCdkLibCopies, [
    path.join(fs.realpathSync(app), 'node_modules', 'aws-cdk-lib', 'index.js'),
    path.join(fs.realpathSync(CDK), 'node_modules', 'aws-cdk-lib', 'index.js'),
  ].sort());
  assertRunsFirst(run, bootstrap);
});

test('installed from its npm pack tarball, using the app\'s aws-cdk-lib, the check runs first', () => {
  const app = newApp();
  const packed = tempDir('preflight-pack-');
  // --ignore-scripts: prepack is `tsc`, which `npm test` has just run.
  npm(CDK, ['pack', '--ignore-scripts', '--pack-destination', packed]);
  const tarballs = fs.readdirSync(packed);
  assert.deepEqual(tarballs, ['preflight-cdk-0.1.0.tgz']);
  // --legacy-peer-deps: offline, npm cannot fetch the registry's aws-cdk-lib manifest to check the
  // peer range; the app's copy is there, and below the construct is shown to use it.
  npm(app, ['install', '--legacy-peer-deps', path.join(packed, tarballs[0])]);
  const installed = path.join(app, 'node_modules', '@preflight', 'cdk');
  assert.ok(fs.lstatSync(installed).isDirectory(), 'npm unpacks a tarball');
  assert.deepEqual(fs.readdirSync(installed).sort(), ['README.md', 'dist', 'package.json']);
  const bootstrap = aarch64Bootstrap();
  const run = synthesize(app, bootstrap);
  assert.equal(run.construct, path.join(fs.realpathSync(installed), 'dist', 'lib', 'index.js'));
  assert.deepEqual(run.awsCdkLibCopies, [path.join(fs.realpathSync(app), 'node_modules', 'aws-cdk-lib', 'index.js')]);
  assertRunsFirst(run, bootstrap);
});
