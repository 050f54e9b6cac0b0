/**
 * The README's commands and snippets, extracted from README.md and run, so that they cannot drift
 * from what the code does (issue 15, item 4). Nothing here is a copy of the README: every command,
 * snippet, version and expected output is read from it.
 *
 * - The CDK snippet (the ```ts block after `<!-- cdk-snippet -->`) is written verbatim as app.ts of
 *   a new app, which is made by the lines of the `<!-- cdk-app -->` block, run one by one: `npm
 *   install` is done offline by linking the named packages (their versions checked against the
 *   pins) from the repository, and the placeholder `/path/to/preflight` is a stand-in clone whose
 *   cdk/ is this folder and whose cargo-lambda zip is an aarch64 ELF header; every other line runs
 *   in a shell as written (`npx tsc ...` with cdk/node_modules/typescript, `npx cdk synth` with the
 *   CDK CLI pinned in tests/bootstrap). The synthesized template must hold the check and have the
 *   stack's other resources wait for it.
 * - The `preflight ...` lines of the README: those that need no AWS are run (in the app above, or
 *   from the repository root), the others have their subcommand and flags checked against `--help`.
 * - Shown runs (```` ``` ```` blocks of `$ preflight ...` lines and their output) print what the
 *   README shows, with the exit status it states; report excerpts are lines of their golden file.
 * - The construct's install is spelled out; where the README builds for Lambda it says how to get
 *   cargo-lambda and zig; links and repository paths in the documentation resolve inside the
 *   repository; `--help` names only documents that exist.
 *
 * PREFLIGHT_BIN points at the `preflight` binary (default ../target/debug/preflight) and
 * PREFLIGHT_LAMBDA_BIN at `preflight-lambda`, which the test command builds before these tests;
 * the CDK CLI is tests/bootstrap's, which the test command installs (npm ci) before them too.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import {
  AARCH64, CDK, Json, LAMBDA_BIN, PREFLIGHT_BIN, REPO, Ran, cleanEnv, elfHeader, lambdaBin, readElf, readJson, removeTempDirs, run, tempDir, zip,
} from './helpers';

const README = path.join(REPO, 'README.md');
/** Where the README's commands take the clone of this repository to be. */
const CLONE_PLACEHOLDER = '/path/to/preflight';

after(removeTempDirs);

/** The environment for npm, npx and the CDK CLI: cleanEnv's (none of the npm_* settings of the
 * `npm test` that runs these tests), offline, no telemetry. */
function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------
// Reading markdown

interface Block {
  kind: 'fenced' | 'indented';
  lang: string;
  lines: string[];
  /** 1-based line of the block's first line in the file. */
  line: number;
  /** The HTML comment on the last non-blank line before the block, e.g. `cdk-snippet`. */
  marker: string | null;
  /** The nearest heading above the block. */
  section: string;
  /** The paragraph just before the block (its non-blank lines up to the previous blank one). */
  before: string;
}

interface Markdown {
  file: string;
  text: string;
  blocks: Block[];
  /** The text outside code blocks, with inline code spans blanked. */
  prose: string;
  /** Inline code spans outside code blocks. */
  spans: string[];
  headings: string[];
}

function parseMarkdown(file: string): Markdown {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const proseLines: string[] = [];
  const headings: string[] = [];
  let section = '';
  const context = (i: number): { marker: string | null; before: string } => {
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === '') j -= 1;
    const marker = j >= 0 ? /^<!--\s*(.*?)\s*-->$/.exec(lines[j].trim())?.[1] ?? null : null;
    if (marker !== null) j -= 1;
    while (j >= 0 && lines[j].trim() === '') j -= 1;
    const para: string[] = [];
    while (j >= 0 && lines[j].trim() !== '' && !/^(```|~~~)/.test(lines[j])) para.unshift(lines[j--]);
    return { marker, before: para.join('\n') };
  };
  for (let i = 0; i < lines.length; i += 1) {
    const fence = /^(```|~~~)\s*(\S*)\s*$/.exec(lines[i]);
    if (fence) {
      const start = i;
      const body: string[] = [];
      for (i += 1; i < lines.length && !lines[i].startsWith(fence[1]); i += 1) body.push(lines[i]);
      blocks.push({ kind: 'fenced', lang: fence[2], lines: body, line: start + 2, section, ...context(start) });
      proseLines.push('');
      continue;
    }
    if (/^ {4}/.test(lines[i]) && (i === 0 || lines[i - 1].trim() === '') && !/^\s*([-*+]|\d+\.)\s/.test(lines[i - 2] ?? '')) {
      const start = i;
      const body: string[] = [];
      while (i < lines.length && (/^ {4}/.test(lines[i]) || (lines[i].trim() === '' && /^ {4}/.test(lines[i + 1] ?? '')))) {
        body.push(lines[i].slice(4));
        i += 1;
      }
      i -= 1;
      blocks.push({ kind: 'indented', lang: '', lines: body, line: start + 1, section, ...context(start) });
      proseLines.push('');
      continue;
    }
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[i]);
    if (heading) {
      section = heading[1];
      headings.push(heading[1]);
    }
    proseLines.push(lines[i]);
  }
  const spans: string[] = [];
  const prose = proseLines.join('\n').replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_m, _ticks, code: string) => {
    spans.push(code.trim().replace(/\s+/g, ' '));
    return ' '.repeat(code.length);
  });
  return { file, text, blocks, prose, spans, headings };
}

/** The one block carrying `<!-- marker -->`. */
function markedBlock(md: Markdown, marker: string): Block {
  const found = md.blocks.filter((b) => b.marker === marker);
  assert.equal(found.length, 1, `${md.file} has one code block after <!-- ${marker} -->`);
  return found[0];
}

/** A command line without its trailing comment; '' for a comment line. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i).trim();
    }
  }
  return line.trim();
}

/** The comment of a command line, '' when it has none. */
function comment(line: string): string {
  const code = stripComment(line);
  return line.trim().slice(code.length).replace(/^\s*#\s*/, '');
}

/** The simple commands of a block's line: split at `&&`. */
function segments(line: string): string[] {
  const code = stripComment(line);
  return code === '' ? [] : code.split('&&').map((s) => s.trim());
}

/** Shell words of a simple command without quoting beyond '...' and "...". */
function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

// ---------------------------------------------------------------------------------------------
// The preflight binary and its help

function preflight(args: string[], cwd = REPO): Ran {
  assert.ok(fs.existsSync(PREFLIGHT_BIN), `${PREFLIGHT_BIN} is missing: build the crate first (scripts/test.sh does)`);
  const out = run(PREFLIGHT_BIN, args, { cwd, timeout: 60_000 });
  if (out.error) throw out.error;
  return out;
}

const HELP = new Map<string, string>();

/** `preflight [SUB] --help`, which must succeed. */
function help(sub: string | null): string {
  const key = sub ?? '';
  if (!HELP.has(key)) {
    const out = preflight(sub ? [sub, '--help'] : ['--help']);
    assert.equal(out.status, 0, `preflight ${key} --help exits 0:\n${out.stderr}`);
    HELP.set(key, out.stdout);
  }
  return HELP.get(key) as string;
}

/** The subcommands `preflight --help` lists, less `help`. */
function subcommands(): string[] {
  const text = help(null);
  const list = /\nCommands:\n([\s\S]*?)\n\n/.exec(text);
  assert.ok(list, `preflight --help lists its commands:\n${text}`);
  return [...list[1].matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
}

/** The long options of `preflight [SUB] --help`. */
function options(sub: string | null): Set<string> {
  return new Set([...help(sub).matchAll(/^\s+(?:-\w, )?(--[a-z][\w-]*)/gm)].map((m) => m[1]));
}

/** A `preflight` command found in the documentation: its subcommand (null for none) and flags. */
interface PreflightLine {
  where: string;
  text: string;
  sub: string | null;
  flags: string[];
  args: string[];
}

/** Parses `preflight ...`, `$ preflight ...` and `cargo run ... --bin preflight -- ...`. */
function preflightLine(command: string, where: string): PreflightLine | null {
  const m = /^(?:\$\s+)?(?:preflight|cargo run(?:\s+--\S+)*\s+--bin preflight\s+--)(?:\s+(.*))?$/.exec(command.trim());
  if (!m) return null;
  const args = words(m[1] ?? '');
  const sub = args.length > 0 && !args[0].startsWith('-') ? args[0] : null;
  const flags = [...(m[1] ?? '').matchAll(/(?<![\w-])(--[a-z][\w-]*)/g)].map((f) => f[1]);
  return { where, text: command.trim(), sub, flags, args };
}

/** Every `preflight` command in a markdown file: code block lines and inline code spans. */
function preflightLines(md: Markdown): PreflightLine[] {
  const rel = path.relative(REPO, md.file);
  const found: PreflightLine[] = [];
  for (const b of md.blocks) {
    b.lines.forEach((line, i) => {
      for (const seg of segments(line)) {
        const p = preflightLine(seg, `${rel}:${b.line + i}`);
        if (p) found.push(p);
      }
    });
  }
  for (const span of md.spans) {
    for (const alt of span.split('|')) {
      const p = preflightLine(alt, `${rel}: \`${span}\``);
      if (p) found.push(p);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Fakes

/** The stand-in for `/path/to/preflight`: cdk/ is this folder, and the zip cargo-lambda would
 * build (`target/lambda/preflight-lambda/bootstrap.zip`) holds an aarch64 `bootstrap`. */
function fakeClone(): string {
  const clone = tempDir('preflight-clone-');
  fs.symlinkSync(CDK, path.join(clone, 'cdk'));
  const zipDir = path.join(clone, 'target', 'lambda', 'preflight-lambda');
  fs.mkdirSync(zipDir, { recursive: true });
  fs.writeFileSync(path.join(zipDir, 'bootstrap.zip'), zip([{ name: 'bootstrap', data: elfHeader(AARCH64), deflate: true }]));
  return clone;
}

// ---------------------------------------------------------------------------------------------
// The README's CDK app

/** Where each package the README installs by name comes from, and the version pinned for it. */
function pinnedPackages(): Map<string, { dir: string; pinned: string }> {
  const cdkPins = readJson(path.join(CDK, 'package.json')).devDependencies as Record<string, string>;
  const cliPins = readJson(path.join(REPO, 'tests', 'bootstrap', 'package.json')).dependencies as Record<string, string>;
  const packages = new Map<string, { dir: string; pinned: string }>();
  for (const name of ['aws-cdk-lib', 'constructs', 'typescript']) {
    packages.set(name, { dir: path.join(CDK, 'node_modules', name), pinned: cdkPins[name] });
  }
  packages.set('aws-cdk', { dir: path.join(REPO, 'tests', 'bootstrap', 'node_modules', 'aws-cdk'), pinned: cliPins['aws-cdk'] });
  return packages;
}

/** `npm install` of the README, offline: each named package linked into node_modules (with its
 * bins), as npm does for a folder; a `name@version` must be the version the tests pin and use. */
function linkInstall(app: string, args: string[], clone: string, where: string): void {
  const packages = pinnedPackages();
  assert.ok(args.length > 0, `${where}: npm install names what it installs`);
  for (const arg of args) {
    assert.ok(!arg.startsWith('-'), `${where}: npm install ${arg}: no flags expected`);
    let name: string;
    let dir: string;
    if (arg.startsWith('/') || arg.startsWith('.')) {
      dir = arg.startsWith(CLONE_PLACEHOLDER) ? clone + arg.slice(CLONE_PLACEHOLDER.length) : path.resolve(app, arg);
      assert.ok(fs.existsSync(path.join(dir, 'package.json')), `${where}: npm install ${arg}: not a package folder`);
      name = readJson(path.join(dir, 'package.json')).name;
    } else {
      const m = /^(@?[^@]+)@(.+)$/.exec(arg);
      assert.ok(m, `${where}: npm install ${arg}: the README pins a version (name@version)`);
      name = m[1];
      const source = packages.get(name);
      assert.ok(source, `${where}: ${name} is not one of the packages the tests pin (${[...packages.keys()].join(', ')})`);
      assert.equal(m[2], source.pinned, `${where}: ${name}@${m[2]}, but the tests pin ${source.pinned}`);
      assert.ok(fs.existsSync(source.dir), `${source.dir} is missing: npm ci in its folder first (scripts/test.sh does)`);
      assert.equal(readJson(path.join(source.dir, 'package.json')).version, m[2], `${source.dir} is not ${name}@${m[2]}: npm ci there`);
      dir = source.dir;
    }
    const target = path.join(app, 'node_modules', name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(dir, target);
    const bin = readJson(path.join(dir, 'package.json')).bin ?? {};
    const bins: Record<string, string> = typeof bin === 'string' ? { [name.split('/').pop() as string]: bin } : bin;
    for (const [command, file] of Object.entries(bins)) {
      fs.mkdirSync(path.join(app, 'node_modules', '.bin'), { recursive: true });
      fs.symlinkSync(path.join(dir, file), path.join(app, 'node_modules', '.bin', command));
    }
  }
}

interface ShopApp {
  dir: string;
  /** The README's comment on its `cdk synth` line. */
  synthComment: string;
  /** What `npx cdk synth` printed: the stack's template as YAML. */
  synthOutput: string;
}

let shop: ShopApp | Error | undefined;

/** Runs the README's `<!-- cdk-app -->` block with its snippet as app.ts, once. */
function shopApp(): ShopApp {
  if (shop === undefined) {
    try {
      shop = makeShopApp();
    } catch (e) {
      shop = e as Error;
    }
  }
  if (shop instanceof Error) throw shop;
  return shop;
}

function makeShopApp(): ShopApp {
  const md = parseMarkdown(README);
  const snippet = markedBlock(md, 'cdk-snippet');
  assert.equal(snippet.lang, 'ts', 'the CDK snippet is a ```ts block');
  const block = markedBlock(md, 'cdk-app');
  const clone = fakeClone();
  const parent = tempDir('preflight-readme-app-');
  let cwd = parent;
  let app: string | null = null;
  let synthComment = '';
  let synthOutput = '';
  block.lines.forEach((line, i) => {
    const where = `README.md:${block.line + i}`;
    for (const seg of segments(line)) {
      const argv = words(seg);
      if (argv[0] === 'cd') {
        assert.equal(argv.length, 2, `${where}: cd DIR`);
        cwd = path.resolve(cwd, argv[1]);
      } else if (argv[0] === 'npm' && argv[1] === 'install') {
        linkInstall(cwd, argv.slice(2), clone, where);
      } else {
        const out = run('sh', ['-c', seg.split(CLONE_PLACEHOLDER).join(clone)], { cwd, env: npmEnv(), timeout: 120_000 });
        assert.equal(out.status, 0, `${where}: \`${seg}\` failed in ${cwd} (${out.error ?? `exit ${out.status}`}):\n${out.stdout}\n${out.stderr}`);
        if (/^npx cdk synth\b/.test(seg)) {
          synthComment = comment(line);
          synthOutput = out.stdout;
        }
      }
    }
    // The app's folder is where the block first changes into: the snippet is its app.ts.
    if (app === null && cwd !== parent) {
      app = cwd;
      fs.writeFileSync(path.join(app, 'app.ts'), snippet.lines.join('\n') + '\n');
    }
  });
  assert.ok(app, 'the cdk-app block makes the app\'s folder and changes into it');
  assert.equal(cwd, app, 'the cdk-app block ends in the app\'s folder');
  assert.ok(synthOutput !== '', 'the cdk-app block runs `npx cdk synth`');
  return { dir: app, synthComment, synthOutput };
}

/** The template the README's `cdk synth` comment names, e.g. cdk.out/Shop.template.json. */
function shopTemplate(app: ShopApp): { file: string; json: Json } {
  const named = /\b(cdk\.out\/[\w.-]+\.template\.json)\b/.exec(app.synthComment);
  assert.ok(named, `the README's cdk synth line says which template it writes: \`${app.synthComment}\``);
  const file = path.join(app.dir, named[1]);
  assert.ok(fs.existsSync(file), `${named[1]} was not synthesized; cdk.out holds ${fs.readdirSync(path.dirname(file))}`);
  return { file, json: readJson(file) };
}

// ---------------------------------------------------------------------------------------------
// Tests

test('the README\'s CDK snippet, as app.ts of the app the README makes, compiles with the pinned TypeScript and synthesizes with Custom::Preflight before the stack\'s other resources', () => {
  const app = shopApp();
  assert.ok(fs.existsSync(path.join(app.dir, 'app.js')), 'npx tsc compiled app.ts to app.js');
  // A whole app: without the CDK CLI (no CDK_OUTDIR) `node app.js` synthesizes into a temporary
  // cdk.out folder, which only its own app.synth() fills and which aws-cdk-lib removes at exit, so
  // a preloaded probe lists it first.
  const tmp = tempDir('preflight-readme-tmp-');
  const probe = path.join(tmp, 'probe.js');
  fs.writeFileSync(probe, `
    const fs = require('node:fs'), os = require('node:os'), path = require('node:path');
    process.on('exit', () => {
      const dirs = fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('cdk.out'));
      process.stdout.write(JSON.stringify(dirs.map((d) => fs.readdirSync(path.join(os.tmpdir(), d)))));
    });
  `);
  const env = npmEnv({ TMPDIR: tmp });
  delete env.CDK_OUTDIR;
  const direct = run(process.execPath, ['-r', probe, 'app.js'], { cwd: app.dir, env, timeout: 60_000 });
  assert.equal(direct.status, 0, `node app.js:\n${direct.stderr}`);
  const outdirs: string[][] = JSON.parse(direct.stdout);
  assert.equal(outdirs.length, 1, `node app.js makes one cdk.out folder: ${direct.stdout}`);
  assert.ok(outdirs[0].includes(path.basename(shopTemplate(app).file)), `node app.js synthesizes the stack (app.synth()): ${outdirs[0]}`);
  const { json } = shopTemplate(app);
  const resources = json.Resources as Record<string, Json>;
  const pathOf = (id: string): string => resources[id].Metadata?.['aws:cdk:path'] ?? '';
  const dependsOn = (id: string): string[] => [resources[id].DependsOn ?? []].flat();
  const checks = Object.keys(resources).filter((id) => resources[id].Type === 'Custom::Preflight');
  assert.equal(checks.length, 1, `one Custom::Preflight in ${Object.keys(resources)}`);
  const check = checks[0];
  const stackName = pathOf(check).split('/')[0];
  assert.ok(pathOf(check).startsWith(`${stackName}/Preflight/`), `the check is the snippet's Preflight: ${pathOf(check)}`);
  // The snippet's function is arm64 (the default), as the stand-in bootstrap is.
  const fn = Object.keys(resources).find((id) => resources[id].Type === 'AWS::Lambda::Function' && pathOf(id).startsWith(`${stackName}/Preflight/`));
  assert.ok(fn, 'the check has its own function');
  assert.deepEqual(resources[fn].Properties.Architectures, ['arm64']);
  assert.deepEqual(resources[check].Properties.Parameters?.map((p: Json) => p.Name), ['/app/db/password']);
  // Everything the snippet adds waits for the check, except what the check inspects (the reader's
  // role and its policy), which the check refers to or waits for.
  const referenced = [...JSON.stringify(resources[check].Properties).matchAll(/\{"Ref":"(\w+)"\}|\{"Fn::GetAtt":\["(\w+)"/g)].map((m) => m[1] ?? m[2]);
  const inspected = new Set<string>([...dependsOn(check), ...referenced]);
  // (CDKMetadata, which the CDK CLI adds for its version reporting, is not the snippet's.)
  const others = Object.keys(resources).filter((id) => !pathOf(id).startsWith(`${stackName}/Preflight/`) && resources[id].Type !== 'AWS::CDK::Metadata');
  assert.ok(others.length > 0, 'the snippet has resources besides the check');
  const waiting = others.filter((id) => dependsOn(id).includes(check));
  const notWaiting = others.filter((id) => !waiting.includes(id));
  assert.deepEqual(notWaiting.filter((id) => !inspected.has(id)), [], 'every other resource of the snippet depends on the check, or is what it inspects');
  const reader = others.find((id) => resources[id].Type === 'Custom::AWS');
  assert.ok(reader && waiting.includes(reader), `the custom resource that reads the password (${reader}) depends on the check`);
});

test('the README\'s "Checks found in your template" lines run on the app the README makes: infer reads its cloud assembly and its template without AWS; check uses flags it has', () => {
  const md = parseMarkdown(README);
  const block = md.blocks.find((b) => b.kind === 'indented' && b.lines.some((l) => /^preflight infer\b/.test(stripComment(l))));
  assert.ok(block, 'README.md shows `preflight infer` in a command block');
  const app = shopApp();
  const stackName = Object.values<Json>(shopTemplate(app).json.Resources)
    .map((r) => r.Metadata?.['aws:cdk:path'] as string | undefined)
    .find((p) => p)?.split('/')[0] as string;
  let infers = 0;
  block.lines.forEach((line, i) => {
    const where = `README.md:${block.line + i}`;
    for (const seg of segments(line)) {
      const synth = /^cdk synth(?:\s+(\S+))?(?:\s*>\s*(\S+))?$/.exec(seg);
      if (synth) {
        // `cdk synth` is what the app's block ran (`npx cdk synth`); `cdk synth STACK > FILE` is
        // its output for the one stack (the README's placeholder MyStack is the snippet's stack).
        if (synth[2]) fs.writeFileSync(path.join(app.dir, synth[2]), app.synthOutput);
        continue;
      }
      const p = preflightLine(seg, where);
      assert.ok(p, `${where}: \`${seg}\` is cdk synth or preflight`);
      if (p.sub === 'check') continue; // needs AWS: its flags are checked in the next test
      assert.equal(p.sub, 'infer', `${where}: ${p.text}`);
      const out = preflight(p.args, app.dir);
      assert.equal(out.status, 0, `${where}: \`${p.text}\` in the README's app exits 0 (the template was read):\n${out.stderr}`);
      // What it found: the snippet's SecureString, read by the custom resource's role.
      assert.match(out.stdout, /check: parameter\n\s+subject: \/app\/db\/password\n/, `${where}: ${p.text}:\n${out.stdout}`);
      if (p.args.includes('--cdk-out')) assert.match(out.stdout, new RegExp(`- stack: ${stackName}\\n`));
      infers += 1;
    }
  });
  assert.ok(infers >= 2, 'the block runs infer on the cloud assembly and on a template');
  assert.ok(fs.existsSync(path.join(app.dir, 'template.yaml')), 'the block writes template.yaml before infer reads it');
});

test('every preflight command in README.md and the docs uses a subcommand and flags its --help lists', () => {
  const subs = subcommands();
  for (const expected of ['check', 'infer', 'validate', 'simulate']) assert.ok(subs.includes(expected), `preflight --help lists ${expected}: ${subs}`);
  const files = [README, path.join(CDK, 'README.md'), path.join(REPO, 'events', 'README.md'), ...docs()];
  const lines = files.flatMap((f) => preflightLines(parseMarkdown(f)));
  const readme = lines.filter((l) => l.where.startsWith('README.md'));
  // The README shows check with a spec, a template and a cloud assembly; they must all be seen here.
  for (const flag of ['--spec', '--template', '--cdk-out', '--stack-name']) {
    assert.ok(readme.some((l) => l.sub === 'check' && l.flags.includes(flag)), `README.md shows preflight check ${flag}`);
  }
  const wrong: string[] = [];
  for (const l of lines) {
    // A placeholder in capitals (`preflight SUBCOMMAND --help`) stands for each subcommand.
    const placeholder = l.sub !== null && /^[A-Z_]+$/.test(l.sub);
    if (l.sub !== null && !placeholder && !subs.includes(l.sub)) {
      wrong.push(`${l.where}: \`${l.text}\`: no subcommand ${l.sub} (preflight --help lists ${subs.join(', ')})`);
      continue;
    }
    for (const sub of placeholder ? subs : [l.sub]) {
      const known = options(sub);
      for (const flag of l.flags) {
        if (!known.has(flag)) wrong.push(`${l.where}: \`${l.text}\`: preflight ${sub ?? ''} --help has no ${flag}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

test('the README\'s shown runs of preflight print what it shows, with the exit status it states', () => {
  const md = parseMarkdown(README);
  const shown = md.blocks.filter((b) => b.kind === 'fenced' && b.lang === '' && b.lines.some((l) => l.startsWith('$ preflight ')));
  assert.ok(shown.length >= 2, 'README.md shows runs of preflight simulate and of a bad spec');
  const scratch = tempDir('preflight-readme-runs-');
  for (const block of shown) {
    // Each `$ ` line and the output that follows it, up to the blank line before the next `$ `.
    const runs: Array<{ command: string; line: number; output: string[] }> = [];
    block.lines.forEach((l, i) => {
      if (l.startsWith('$ ')) runs.push({ command: l.slice(2), line: block.line + i, output: [] });
      else {
        assert.ok(runs.length > 0, `README.md:${block.line}: a shown run starts with its \`$ \` line`);
        runs[runs.length - 1].output.push(l);
      }
    });
    // The exit status the paragraph before states ("exits 2"); else 0.
    const stated = /\bexits (\d)\b/.exec(block.before);
    const expected = stated ? Number(stated[1]) : 0;
    for (const r of runs) {
      const where = `README.md:${r.line}`;
      const p = preflightLine(r.command, where);
      assert.ok(p && p.sub, `${where}: \`${r.command}\` is a preflight command`);
      // A scenario file that is not in the repository is the ```json block shown just before.
      const args = p.args.map((a, i) => {
        if (p.args[i - 1] !== '--scenario' || a === '-' || fs.existsSync(path.join(REPO, a))) return a;
        const json = md.blocks.filter((b) => b.lang === 'json' && b.line < block.line).pop();
        assert.ok(json, `${where}: ${a} is the README's JSON scenario above`);
        const file = path.join(scratch, a);
        fs.writeFileSync(file, json.lines.join('\n') + '\n');
        return file;
      });
      const out = preflight(args);
      assert.equal(out.status, expected, `${where}: \`${r.command}\` exits ${expected}:\n${out.stdout}${out.stderr}`);
      const printed = (out.stdout + out.stderr).replace(/\s+$/, '').split('\n');
      const shownLines = r.output.join('\n').replace(/\s+$/, '').split('\n');
      assert.equal(printed.length, shownLines.length, `${where}: \`${r.command}\` prints ${printed.length} lines, the README shows ${shownLines.length}:\n${printed.join('\n')}`);
      shownLines.forEach((s, i) => {
        // `...` in the README stands for what it leaves out.
        const pattern = new RegExp(`^${s.split('...').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
        assert.match(printed[i], pattern, `${where}: \`${r.command}\`, line ${i + 1} of its output differs from the README`);
      });
    }
  }
});

test('the report excerpts in README.md are lines of their golden files, in order', () => {
  const md = parseMarkdown(README);
  const excerpts = md.blocks.filter((b) => b.marker?.startsWith('excerpt:'));
  assert.ok(excerpts.length >= 1, 'README.md marks its report excerpts with <!-- excerpt: FILE -->');
  for (const b of excerpts) {
    const file = (b.marker as string).slice('excerpt:'.length).trim();
    const golden = fs.readFileSync(path.join(REPO, file), 'utf8').split('\n');
    let at = 0;
    b.lines.forEach((line, i) => {
      while (at < golden.length && golden[at] !== line) at += 1;
      assert.ok(at < golden.length, `README.md:${b.line + i} is not in ${file} (after the excerpt's previous line):\n${line}`);
      at += 1;
    });
  }
});

test('the README spells out the install of the construct: the commands cdk/test/install.test.ts runs, from the folder and from the npm pack tarball', () => {
  const md = parseMarkdown(README);
  const manifest = readJson(path.join(CDK, 'package.json'));
  const tarball = `${(manifest.name as string).replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`;
  const folder = `${CLONE_PLACEHOLDER}/cdk`;
  const commands = markedBlock(md, 'cdk-install').lines.flatMap(segments);
  const index = (command: string): number => {
    const i = commands.indexOf(command);
    assert.ok(i >= 0, `the README's install block has \`${command}\`: ${JSON.stringify(commands)}`);
    return i;
  };
  // From the folder: built first (npm links the folder, dist/ and all).
  assert.ok(index('npm run build') < index(`npm install ${folder}`), 'the folder is built before it is installed');
  assert.ok(commands.lastIndexOf('npm ci', index('npm run build')) >= 0, 'the construct\'s dependencies are installed before its build');
  // From the tarball npm pack makes in the folder (its prepack compiles it).
  assert.ok(commands.indexOf(`cd ${folder}`) < index('npm pack'));
  assert.ok(index('npm pack') < index(`npm install ${folder}/${tarball}`), `npm pack makes ${tarball}, then it is installed`);
  // The new app installs it the same way.
  const app = markedBlock(md, 'cdk-app').lines.flatMap(segments);
  assert.ok(app.includes(`npm install ${folder}`), 'the new app installs the construct from the folder, as the install block says');
});

test('where the README builds for Lambda, it says how to install cargo-lambda and zig: pip install cargo-lambda', () => {
  const text = fs.readFileSync(README, 'utf8');
  const sections = text.split(/\n(?=#{2,3} )/);
  const building = sections.filter((s) => /cargo lambda (build|watch|invoke)|\bsam build\b/.test(s));
  assert.ok(building.length >= 2, 'the README builds for Lambda (the construct, SAM)');
  for (const s of building) {
    const title = s.split('\n')[0];
    assert.ok(s.includes('pip install cargo-lambda'), `${title}: says \`pip install cargo-lambda\``);
    assert.match(s, /pip install cargo-?\s*lambda`?[^.]*\bzig\b|\bzig\b[^.]*pip install cargo-lambda/, `${title}: says that pip install cargo-lambda brings zig`);
  }
});

test('the README\'s story 2 example line synthesizes as shown, for the architecture of the debug build', () => {
  const md = parseMarkdown(README);
  const block = md.blocks.find((b) => b.lines.some((l) => /node dist\/example\/story2\.js/.test(l)));
  assert.ok(block, 'README.md shows how to synthesize cdk/example/story2.ts');
  let cwd = REPO;
  let ran = 0;
  block.lines.forEach((line, i) => {
    const where = `README.md:${block.line + i}`;
    for (const seg of segments(line)) {
      const argv = words(seg);
      if (argv[0] === 'cd') {
        cwd = path.resolve(cwd, argv[1]);
      } else if (argv[0] === 'cargo') {
        // Built by the test command before these tests (no cargo here): the binary is there.
        lambdaBin();
      } else if (argv[0] === 'npm') {
        // `npm ci && npm run build`: what `npm test` has just done.
        assert.ok(['ci', 'run'].includes(argv[1]) && cwd === CDK, `${where}: ${seg} in cdk/`);
      } else {
        // The placeholder: PREFLIGHT_ARCHITECTURE is the debug build's ("x86_64 or arm64").
        const arch = readElf(LAMBDA_BIN).machine === AARCH64 ? 'arm64' : 'x86_64';
        const command = seg.replace(/PREFLIGHT_ARCHITECTURE=\S+/, `PREFLIGHT_ARCHITECTURE=${arch}`);
        // Run as shown, it writes cdk/cdk.out (ignored by git), as it does for a user.
        const env = npmEnv();
        delete env.CDK_OUTDIR;
        const res = run('sh', ['-c', command], { cwd, env, timeout: 60_000 });
        assert.equal(res.status, 0, `${where}: \`${command}\` in ${cwd}:\n${res.stdout}${res.stderr}`);
        // The next line's comment says what it prints.
        const said = /synthesized \S+ to [^\s;]+/.exec(block.lines[i + 1] ?? '');
        assert.ok(said, `${where}: the line after says what it prints`);
        assert.equal(res.stdout.trim(), said[0]);
        const template = readJson(path.join(cwd, said[0].split(' to ')[1]));
        assert.equal(Object.values<Json>(template.Resources).filter((r) => r.Type === 'Custom::Preflight').length, 1);
        ran += 1;
      }
    }
  });
  assert.equal(ran, 1);
});

// ---------------------------------------------------------------------------------------------
// Links, paths and --help

function docs(): string[] {
  return fs.readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join(REPO, 'docs', f)).sort();
}

/** GitHub's anchors of a markdown file's headings. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of parseMarkdown(file).headings) {
    const base = h.toLowerCase().replace(/<[^>]*>/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').trim().replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Inside the repository, and part of it (not a build output). */
function inRepository(target: string): boolean {
  const rel = path.relative(REPO, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel) && !/^(target|\.git)(\/|$)|(^|\/)(node_modules|dist)(\/|$)/.test(rel));
}

const DOCUMENTS = (): string[] => [README, path.join(CDK, 'README.md'), path.join(REPO, 'events', 'README.md'), ...docs()];

test('every link in README.md, cdk/README.md, events/README.md and docs/*.md resolves inside the repository, anchors included', () => {
  const wrong: string[] = [];
  let links = 0;
  for (const file of DOCUMENTS()) {
    const md = parseMarkdown(file);
    const rel = path.relative(REPO, file);
    const targets = [
      ...[...md.prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
      ...[...md.prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
      ...[...md.prose.matchAll(/<((?:https?|ftp|mailto):[^>\s]+)>/g)].map((m) => m[1]),
      ...[...md.prose.matchAll(/\b(?:href|src)\s*=\s*"([^"]*)"/g)].map((m) => m[1]),
    ];
    for (const link of targets) {
      links += 1;
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
        wrong.push(`${rel}: ${link} points outside the repository`);
        continue;
      }
      const [target, anchor] = link.split('#');
      const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
      if (!inRepository(resolved)) wrong.push(`${rel}: ${link} points outside the repository (${path.relative(REPO, resolved)})`);
      else if (!fs.existsSync(resolved)) wrong.push(`${rel}: ${link}: ${path.relative(REPO, resolved)} does not exist`);
      else if (anchor && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) {
        wrong.push(`${rel}: ${link}: no heading #${anchor} in ${path.relative(REPO, resolved)}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(links > 0, 'the documents have links to check');
});

test('every repository path the documents name exists, the README\'s layout included', () => {
  // The repository's top folders (.ci, but no other hidden or build folder).
  const tops = fs.readdirSync(REPO).filter((f) => fs.statSync(path.join(REPO, f)).isDirectory() && inRepository(path.join(REPO, f)) && (f === '.ci' || !f.startsWith('.')));
  const named = new RegExp(`(?<![\\w./-])((?:${tops.map((t) => t.replace('.', '\\.')).join('|')})/[\\w./-]*[\\w/]|[\\w./-]*[\\w-]+\\.md)(?![\\w/-])`, 'g');
  const wrong: string[] = [];
  for (const file of DOCUMENTS()) {
    const md = parseMarkdown(file);
    const rel = path.relative(REPO, file);
    // The layout block is a tree: its paths are relative to the entry above them.
    const layout = file === README ? md.blocks.find((b) => b.section === 'Layout') : undefined;
    const text = layout ? md.text.split('\n').filter((_l, i) => i + 1 < layout.line || i + 1 >= layout.line + layout.lines.length).join('\n') : md.text;
    for (const m of text.matchAll(named)) {
      const p = m[1];
      if (!(fs.existsSync(path.join(path.dirname(file), p)) || fs.existsSync(path.join(REPO, p)))) wrong.push(`${rel}: ${p} does not exist`);
    }
    if (layout) {
      const stack: Array<{ indent: number; dir: string }> = [];
      layout.lines.forEach((line, i) => {
        const m = /^(\s*)(\S+)/.exec(line);
        if (!m) return;
        const indent = m[1].length;
        while (stack.length > 0 && stack[stack.length - 1].indent >= indent) stack.pop();
        const full = path.join(stack.length > 0 ? stack[stack.length - 1].dir : '', m[2]);
        if (!fs.existsSync(path.join(REPO, full)) || !inRepository(path.join(REPO, full))) wrong.push(`README.md:${layout.line + i}: layout entry ${m[2]} (${full}) does not exist`);
        if (m[2].endsWith('/')) stack.push({ indent, dir: full });
      });
      assert.ok(layout.lines.length > 10, 'README.md has its layout');
    }
  }
  assert.deepEqual(wrong, []);
});

test('preflight --help and every subcommand\'s --help name only documents that exist in the repository', () => {
  const wrong: string[] = [];
  for (const sub of [null, ...subcommands()]) {
    const text = help(sub);
    for (const m of text.matchAll(/(?<![\w/.-])((?:docs|tests|crates|events|scripts|cdk)\/[\w./-]*\w|[\w./-]+\.(?:md|ya?ml|json))(?![\w/-])/g)) {
      if (!fs.existsSync(path.join(REPO, m[1]))) wrong.push(`preflight ${sub ?? ''} --help names ${m[1]}, which is not in the repository`);
    }
  }
  assert.deepEqual(wrong, []);
});
