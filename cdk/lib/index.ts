/**
 * Preflight for CDK: a `Custom::Preflight` resource that runs before everything else in the stack
 * and fails the deploy, with one sentence per problem, when a KMS key, SecureString parameter,
 * Secrets Manager secret, the CDK bootstrap bucket or the hosted zone the stack depends on will not
 * work.
 *
 * The props are the spec of ../docs/architecture.md in camelCase; CDK objects (keys, parameters, roles,
 * hosted zones) are accepted where users have them and rendered to the PascalCase properties the
 * Lambda function parses.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { expandKmsActions } from './kms-actions';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  Annotations,
  Aspects,
  CfnElement,
  CfnResource,
  CustomResource,
  Duration,
  IAspect,
  RemovalPolicy,
  Stack,
  Token,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';

/** An IAM role: a CDK role, anything whose grant principal is a role (an `AwsCustomResource`, a
 * `Function`), or a role ARN. */
export type RoleLike = string | iam.IRole | iam.IGrantable;

/** The CDK bootstrap environment of this account and region (story 1). */
export interface BootstrapCheck {
  /** @default 'hnb659fds' */
  readonly qualifier?: string;
  /** @default 'CDKToolkit' */
  readonly toolkitStackName?: string;
  /** Accounts that deploy into this one (`cdk bootstrap --trust`). */
  readonly trustedAccounts?: string[];
  /** Roles that read assets at run time. */
  readonly readers?: RoleLike[];
}

/** An SSM SecureString parameter and the roles that read it (story 2). */
export interface ParameterCheck {
  readonly name: string | ssm.IParameter;
  readonly readers: RoleLike[];
}

/**
 * A Secrets Manager secret and the roles that read its value (with secretsmanager:GetSecretValue,
 * which decrypts it through Secrets Manager). Preflight itself only describes it: DescribeSecret
 * and GetResourcePolicy, never GetSecretValue.
 */
export interface SecretCheck {
  /**
   * The secret's name (1 to 512 characters of letters, digits and `/_+=.@-`), looked up in this
   * stack's account and region, or its ARN (`arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`),
   * of any account and region. The role may describe exactly this secret: a name becomes
   * `arn:...:secret:NAME-??????` (Secrets Manager ends a secret's ARN with a hyphen and 6 random
   * characters); an ARN whose name ends in a hyphen and 6 letters or digits is taken as complete,
   * as Secrets Manager takes it, any other ARN as partial and completed the same way. A token
   * (`secret.secretArn`, an import) is not judged at synth and, unless it is an ARN whose name is
   * written out, leaves the role `arn:PARTITION:secretsmanager:*:*:secret:*`.
   */
  readonly secretId: string;
  readonly readers: RoleLike[];
}

/** A KMS key, who must use it and how (stories 4, 5, 6). */
export interface KeyCheck {
  /** A key, or a key id, key ARN, alias name or alias ARN. */
  readonly key: string | kms.IKey;
  readonly principals?: RoleLike[];
  /** @default ['kms:Decrypt'] */
  readonly actions?: string[];
  /** The service the principals use the key through, e.g. `ec2.us-east-1.amazonaws.com`. */
  readonly viaService?: string;
  readonly encryptionContext?: Record<string, string>;
  /** Also require CreateGrant with kms:GrantIsForAWSResource (EBS, RDS). */
  readonly forAwsResources?: boolean;
  /** Accounts that data under this key is shared with (snapshots). */
  readonly sharedWithAccounts?: string[];
}

/** A key policy the stack is about to apply: the lockout lint (story 4). */
export interface KeyPolicyCheck {
  readonly policy: iam.PolicyDocument | Record<string, unknown> | string;
  readonly administrators: RoleLike[];
}

/** The hosted zone the stack writes records to (story 3). */
export interface HostedZoneCheck {
  readonly zone: string | route53.IHostedZone;
  /** Names the stack writes (ACM validation records, aliases). */
  readonly recordNames?: string[];
}

/** Run options. */
export interface PreflightOptions {
  /** What an undecidable check does to the verdict. @default 'warn' */
  readonly onUnknown?: 'warn' | 'fail';
  /** `ip` or `ip:port` servers to start the delegation walk from. @default the IANA roots */
  readonly dnsRootServers?: string[];
}

/** Where the Preflight Lambda function's code comes from. */
export abstract class PreflightCode {
  /**
   * A prebuilt `bootstrap`: the `preflight-lambda` binary itself, a directory holding `bootstrap`,
   * or a zip of it (`cargo lambda build --release --arm64 --bin preflight-lambda --output-format zip`).
   *
   * It must be built for the function's `architecture` (ARM_64 unless set): an ELF executable for
   * the other one (a debug build for this machine, say) is an error at synth that says how to
   * build the right one. A `bootstrap` that is not ELF (a shell script) is not judged.
   */
  public static fromBootstrap(bootstrapPath: string): PreflightCode {
    return new BootstrapCode(bootstrapPath);
  }

  /**
   * Built from this repository with cargo-lambda at synth time, through cargo-lambda-cdk's
   * `RustFunction` (install `cargo-lambda-cdk` and `cargo-lambda`; without cargo-lambda it bundles
   * in Docker).
   */
  public static fromCargoLambda(manifestPath: string): PreflightCode {
    return new CargoLambdaCode(manifestPath);
  }

  /** @internal */
  public abstract _bind(scope: Construct, id: string, props: lambda.FunctionProps): lambda.IFunction;
}

class BootstrapCode extends PreflightCode {
  constructor(private readonly bootstrapPath: string) {
    super();
  }

  public _bind(scope: Construct, id: string, props: lambda.FunctionProps): lambda.IFunction {
    if (!fs.existsSync(this.bootstrapPath)) {
      throw new Error(`PreflightCode.fromBootstrap: no such file or directory: ${this.bootstrapPath}`);
    }
    let assetPath = this.bootstrapPath;
    const stat = fs.statSync(assetPath);
    // The architecture the function runs on: the construct always passes it (ARM_64 unless set);
    // lambda.Function's own default is X86_64. Compared by name, so an Architecture of another copy
    // of aws-cdk-lib (the app's) is recognised.
    const functionArch = props.architecture?.name ?? 'x86_64';
    if (stat.isFile() && assetPath.endsWith('.zip')) {
      const head = zipBootstrapHead(assetPath);
      if (head === null) {
        throw new Error(
          `PreflightCode.fromBootstrap: ${this.bootstrapPath} has no \`bootstrap\` at its root, which the provided.al2023 runtime runs`,
        );
      }
      // undefined: a zip this reader does not handle (zip64, encrypted, another compression
      // method) is not judged.
      if (head !== undefined) judgeArchitecture(`${this.bootstrapPath} (its bootstrap)`, head, functionArch);
    } else if (stat.isFile()) {
      judgeArchitecture(this.bootstrapPath, readHead(assetPath), functionArch);
      // A bare binary: stage it as `bootstrap` in a directory of its own (Lambda wants a zip).
      assetPath = stageBootstrap(assetPath, stat.size);
    } else if (stat.isDirectory()) {
      const bootstrap = path.join(assetPath, 'bootstrap');
      if (!fs.existsSync(bootstrap)) {
        throw new Error(`PreflightCode.fromBootstrap: directory ${this.bootstrapPath} has no \`bootstrap\``);
      }
      if (fs.statSync(bootstrap).isFile()) judgeArchitecture(bootstrap, readHead(bootstrap), functionArch);
    }
    return new lambda.Function(scope, id, { ...props, code: lambda.Code.fromAsset(assetPath) });
  }
}

/**
 * Stages a bare binary as `bootstrap` in `os.tmpdir()/preflight-bootstrap-<first 16 hex of the
 * SHA-256 of its bytes>`, one directory per binary content, reused by every later synth of the same
 * binary while it holds a `bootstrap` of the same size (a directory per synth filled /tmp with a
 * copy of a 66 MB binary each time). The copy is written next to the directory and renamed into
 * it, so a concurrent synth never sees a partial `bootstrap` and the directory, which is the
 * asset, never holds anything else. A directory of that name that is not this user's own, or that
 * others may write to, is not trusted: the binary is then staged in a new directory of its own.
 */
function stageBootstrap(file: string, size: number): string {
  const digest = sha256Hex(file).slice(0, 16);
  const dir = path.join(os.tmpdir(), `preflight-bootstrap-${digest}`);
  const bootstrap = path.join(dir, 'bootstrap');
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (!ownDirectory(dir)) {
    const own = fs.mkdtempSync(path.join(os.tmpdir(), 'preflight-bootstrap-'));
    fs.copyFileSync(file, path.join(own, 'bootstrap'));
    fs.chmodSync(path.join(own, 'bootstrap'), 0o755);
    return own;
  }
  const existing = fs.lstatSync(bootstrap, { throwIfNoEntry: false });
  if (existing?.isFile() && existing.size === size) return dir;
  const partial = path.join(os.tmpdir(), `.preflight-bootstrap-${digest}-${process.pid}-${Math.random().toString(36).slice(2)}.partial`);
  try {
    fs.copyFileSync(file, partial, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(partial, 0o755);
    fs.renameSync(partial, bootstrap);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  return dir;
}

/** The SHA-256 of a file's bytes, read in chunks (the binary is tens of megabytes). */
function sha256Hex(file: string): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let n = fs.readSync(fd, chunk, 0, chunk.length, null); n > 0; n = fs.readSync(fd, chunk, 0, chunk.length, null)) {
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Whether `dir` is a real directory (not a link) of this user that no one else may write to. */
function ownDirectory(dir: string): boolean {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) return false;
  if (typeof process.getuid !== 'function') return true; // Windows: no owners to compare
  return st.uid === process.getuid() && (st.mode & 0o022) === 0;
}

/** The machines Lambda runs, by the ELF header's e_machine, named as lambda.Architecture names them. */
const ELF_MACHINES: Record<number, string> = { 0x3e: 'x86_64', 0xb7: 'arm64' };

/** The first bytes of a file: enough for an ELF header's e_machine. */
function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(20);
    return head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Refuses an ELF executable built for the other architecture than the function's: Lambda could not
 * start it. What is not judged: a file that is not ELF (a shell script `bootstrap`, which
 * provided.al2023 runs as well), an ELF file for a machine other than x86_64 and aarch64, and a
 * function of a custom architecture.
 */
function judgeArchitecture(file: string, head: Buffer, functionArch: string): void {
  // e_ident: the magic 0x7F 'E' 'L' 'F', then EI_CLASS, EI_DATA (1 little-endian, 2 big-endian);
  // e_machine is the u16 at offset 18.
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return;
  const binaryArch = ELF_MACHINES[head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18)];
  if (binaryArch === undefined || !Object.values(ELF_MACHINES).includes(functionArch) || binaryArch === functionArch) return;
  const buildFlag = functionArch === 'arm64' ? '--arm64' : '--x86-64';
  const matchingProp = binaryArch === 'arm64' ? 'ARM_64' : 'X86_64';
  throw new Error(
    `PreflightCode.fromBootstrap: ${file} is an ${binaryArch} executable, but the Preflight function is ${functionArch} ` +
      "(the construct's `architecture`, ARM_64 unless set): Lambda could not start it (Runtime.InvalidEntrypoint, exec format error) " +
      "and CloudFormation would wait out the check's ServiceTimeout. Either build the bootstrap for " +
      `${functionArch}: \`cargo lambda build --release ${buildFlag} --bin preflight-lambda\` (\`pip install cargo-lambda\` ` +
      'installs cargo-lambda and zig), then PreflightCode.fromBootstrap(\'target/lambda/preflight-lambda/bootstrap\'); ' +
      `or set \`architecture: lambda.Architecture.${matchingProp}\` on the Preflight construct to match the binary.`,
  );
}

/**
 * The first bytes of the `bootstrap` at the root of a zip (Node's zlib, no dependency); `null`
 * when the zip has no such entry; `undefined` when this reader cannot tell (not a zip it
 * understands: zip64, an encrypted entry, a compression method other than stored and deflate).
 */
function zipBootstrapHead(file: string): Buffer | null | undefined {
  const fd = fs.openSync(file, 'r');
  const read = (length: number, position: number): Buffer => {
    const b = Buffer.alloc(length);
    return b.subarray(0, fs.readSync(fd, b, 0, length, position));
  };
  try {
    // The end of central directory record: 22 bytes and a comment of up to 65535, at the end.
    const size = fs.fstatSync(fd).size;
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = read(tailLength, size - tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i -= 1) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) return undefined;
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) return undefined; // zip64
    const cd = read(cdSize, cdOffset);
    let p = 0;
    for (let i = 0; i < entries; i += 1) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) return undefined;
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const compressedSize = cd.readUInt32LE(p + 20);
      const nameLength = cd.readUInt16LE(p + 28);
      const localHeader = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
      p += 46 + nameLength + cd.readUInt16LE(p + 30) + cd.readUInt16LE(p + 32);
      if (name !== 'bootstrap') continue;
      if ((flags & 1) !== 0 || compressedSize === 0xffffffff || localHeader === 0xffffffff) return undefined;
      const local = read(30, localHeader);
      if (local.length < 30 || local.readUInt32LE(0) !== 0x04034b50) return undefined;
      const data = read(Math.min(compressedSize, 16384), localHeader + 30 + local.readUInt16LE(26) + local.readUInt16LE(28));
      if (method === 0) return data.subarray(0, 20);
      if (method !== 8) return undefined;
      try {
        // The first 16 KiB of the deflate stream decode to far more than the header.
        return zlib.inflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, 20);
      } catch {
        return undefined;
      }
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

class CargoLambdaCode extends PreflightCode {
  constructor(private readonly manifestPath: string) {
    super();
  }

  public _bind(scope: Construct, id: string, props: lambda.FunctionProps): lambda.IFunction {
    let rust: { RustFunction: new (s: Construct, i: string, p: Record<string, unknown>) => lambda.IFunction };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      rust = require('cargo-lambda-cdk');
    } catch {
      throw new Error(
        'PreflightCode.fromCargoLambda needs the npm package cargo-lambda-cdk (npm install cargo-lambda-cdk); ' +
          'or build once with `cargo lambda build --release --arm64 --bin preflight-lambda` and use PreflightCode.fromBootstrap',
      );
    }
    const { code: _code, runtime: _runtime, handler: _handler, ...rest } = props;
    return new rust.RustFunction(scope, id, { ...rest, manifestPath: this.manifestPath, binaryName: 'preflight-lambda' });
  }
}

/** The Preflight function: its code, or an existing function's ARN. */
export interface PreflightFunctionProps {
  /** The code of a function created in this stack. Give either this or `serviceToken`. */
  readonly code?: PreflightCode;
  /** An existing Preflight function's ARN: one deployed Preflight serves many stacks; no
   * function or role is created here (that function's role must allow the reads). */
  readonly serviceToken?: string;
  /** @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** @default 256 */
  readonly memorySize?: number;
  /** The function's timeout; Preflight answers CloudFormation before it. @default 2 minutes */
  readonly timeout?: Duration;
}

export interface PreflightProps extends PreflightFunctionProps {
  readonly bootstrap?: BootstrapCheck;
  readonly parameters?: ParameterCheck[];
  readonly secrets?: SecretCheck[];
  readonly keys?: KeyCheck[];
  readonly keyPolicies?: KeyPolicyCheck[];
  readonly hostedZone?: HostedZoneCheck;
  readonly options?: PreflightOptions;
  /**
   * A deploy nonce that changes on every synth, so the checks run on every deploy and a rollback
   * (an older nonce) is recognised and let through. `false` leaves it out (reproducible snapshots;
   * the checks then run only when the properties change); a string sets it.
   * @default true (the synth time in milliseconds)
   */
  readonly nonce?: boolean | string;
  /** How long CloudFormation waits for the answer. @default the function's timeout plus one minute */
  readonly serviceTimeout?: Duration;
  /** Make every other resource of the stack depend on the check, so its failure stops the deploy
   * before anything else is created. @default true */
  readonly runFirst?: boolean;
}

const READ_KEYS = ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ListGrants'];
const READ_ROLES = ['iam:GetRole', 'iam:ListRolePolicies', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies'];
const READ_POLICIES = ['iam:GetPolicy', 'iam:GetPolicyVersion'];

/**
 * Proves before the rest of the stack is created that what it depends on will work:
 *
 * ```ts
 * new Preflight(this, 'Preflight', {
 *   code: PreflightCode.fromBootstrap('preflight/bootstrap.zip'),
 *   parameters: [{ name: '/app/db/password', readers: [dbPasswordReader] }],
 * });
 * ```
 */
export class Preflight extends Construct {
  /** The `Custom::Preflight` resource. */
  public readonly resource: CustomResource;
  /** The function, when this construct created it. */
  public readonly function?: lambda.IFunction;
  /** The function's role, when this construct created it. */
  public readonly role?: iam.Role;
  /** The properties sent to the function (PascalCase, as the Lambda parses them). */
  public readonly properties: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: PreflightProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.properties = render(props, stack);

    let serviceToken: string;
    if (props.serviceToken !== undefined) {
      if (props.code !== undefined) {
        throw new Error('Preflight: give either `code` or `serviceToken`, not both');
      }
      serviceToken = props.serviceToken;
    } else {
      if (props.code === undefined) {
        throw new Error(
          'Preflight: `code` is required (PreflightCode.fromBootstrap or PreflightCode.fromCargoLambda), or `serviceToken` to use a deployed Preflight',
        );
      }
      const timeout = props.timeout ?? Duration.minutes(2);
      const logGroup = new logs.LogGroup(this, 'Logs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      this.role = new iam.Role(this, 'Role', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: "Preflight's own role, read-only: what the checks inspect, nothing that decrypts or writes",
      });
      const reads = statements(props, stack, logGroup);
      const policy = new iam.Policy(this, 'ReadOnly', { statements: reads.map((r) => r.statement) });
      policy.attachToRole(this.role);
      suppressUnavoidableWildcards(policy, stack, reads);
      this.function = props.code._bind(this, 'Function', {
        runtime: lambda.Runtime.PROVIDED_AL2023,
        handler: 'bootstrap',
        code: lambda.Code.fromInline('unused'),
        architecture: props.architecture ?? lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? 256,
        timeout,
        role: this.role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        description: 'Preflight deploy-time guardrail (custom resource handler)',
      });
      // The function must not start before its policy exists.
      this.function.node.addDependency(policy);
      serviceToken = this.function.functionArn;
    }
    const functionTimeout = props.serviceToken === undefined ? (props.timeout ?? Duration.minutes(2)) : undefined;
    const serviceTimeout =
      props.serviceTimeout ?? (functionTimeout ? functionTimeout.plus(Duration.minutes(1)) : Duration.minutes(5));
    this.resource = new CustomResource(this, 'Check', {
      serviceToken,
      resourceType: 'Custom::Preflight',
      serviceTimeout,
      properties: this.properties,
    });
    if (props.runFirst ?? true) {
      Aspects.of(stack).add(new RunFirst(this));
    }
  }
}

/** The PascalCase properties for `props`, validated; errors name the prop path. */
function render(props: PreflightProps, stack: Stack): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (props.bootstrap) {
    const b = props.bootstrap;
    // As Preflight's spec parser (and CDK) requires; the qualifier is also part of the role's resources.
    if (b.qualifier !== undefined && !Token.isUnresolved(b.qualifier) && !/^[A-Za-z0-9]{1,10}$/.test(b.qualifier)) {
      throw new Error(`Preflight bootstrap.qualifier: expected an alphanumeric CDK qualifier of at most 10 characters, got \`${b.qualifier}\``);
    }
    out.Bootstrap = prune({
      Qualifier: b.qualifier,
      ToolkitStackName: b.toolkitStackName,
      TrustedAccounts: b.trustedAccounts?.map((a, i) => account(a, `bootstrap.trustedAccounts[${i}]`)),
      Readers: b.readers?.map((r, i) => roleArn(r, `bootstrap.readers[${i}]`)),
    });
  }
  if (props.parameters?.length) {
    out.Parameters = props.parameters.map((p, i) => ({
      Name: typeof p.name === 'string' ? p.name : p.name.parameterName,
      Readers: p.readers.map((r, j) => roleArn(r, `parameters[${i}].readers[${j}]`)),
    }));
  }
  if (props.secrets?.length) {
    out.Secrets = props.secrets.map((x, i) => ({
      SecretId: secretId(x.secretId, `secrets[${i}].secretId`),
      Readers: x.readers.map((r, j) => roleArn(r, `secrets[${i}].readers[${j}]`)),
    }));
  }
  if (props.keys?.length) {
    out.Keys = props.keys.map((k, i) => {
      if (!k.principals?.length && !k.sharedWithAccounts?.length) {
        throw new Error(`Preflight keys[${i}]: nothing to check: give principals (who must use the key) or sharedWithAccounts`);
      }
      k.actions?.forEach((a, j) => {
        // A pattern such as kms:ReEncrypt* stands for the KMS actions it matches, as in Preflight's spec.
        if (!Token.isUnresolved(a) && expandKmsActions(a).length === 0) {
          throw new Error(`Preflight keys[${i}].actions[${j}]: \`${a}\` matches no KMS action (expected e.g. kms:Decrypt, kms:GenerateDataKey*)`);
        }
      });
      return prune({
        Key: typeof k.key === 'string' ? k.key : k.key.keyArn,
        Principals: k.principals?.map((r, j) => roleArn(r, `keys[${i}].principals[${j}]`)),
        Actions: k.actions,
        ViaService: k.viaService,
        EncryptionContext: k.encryptionContext,
        ForAwsResources: k.forAwsResources === undefined ? undefined : String(k.forAwsResources),
        SharedWithAccounts: k.sharedWithAccounts?.map((a, j) => account(a, `keys[${i}].sharedWithAccounts[${j}]`)),
      });
    });
  }
  if (props.keyPolicies?.length) {
    out.KeyPolicies = props.keyPolicies.map((k, i) => ({
      // A PolicyDocument (of any copy of aws-cdk-lib) or an object renders through the stack; no instanceof.
      Policy: typeof k.policy === 'string' ? k.policy : stack.toJsonString(k.policy),
      Administrators: k.administrators.map((r, j) => roleArn(r, `keyPolicies[${i}].administrators[${j}]`)),
    }));
  }
  if (props.hostedZone) {
    const z = props.hostedZone;
    out.HostedZone = prune({
      ZoneId: typeof z.zone === 'string' ? z.zone : z.zone.hostedZoneId,
      RecordNames: z.recordNames,
    });
  }
  const o = props.options ?? {};
  if (o.onUnknown !== undefined && o.onUnknown !== 'warn' && o.onUnknown !== 'fail') {
    throw new Error(`Preflight options.onUnknown: expected warn or fail, got \`${String(o.onUnknown)}\``);
  }
  const nonce = props.nonce ?? true;
  out.Options = prune({
    OnUnknown: o.onUnknown ?? 'warn',
    Nonce: nonce === true ? String(Date.now()) : nonce === false ? undefined : nonce,
    DnsRootServers: o.dnsRootServers,
  });
  return out;
}

function prune(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function account(a: string, where: string): string {
  if (!Token.isUnresolved(a) && !/^\d{12}$/.test(a)) {
    throw new Error(`Preflight ${where}: expected a 12-digit account id, got \`${a}\``);
  }
  return a;
}

/** A secret name, as Secrets Manager allows it. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
/** A secret ARN; its name (group 1) of the characters of a name, so that it names secrets exactly
 * (no `*` or `?`) in the role's policy. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z]+(?:-[a-z]+)+-[0-9]+:\d{12}:secret:([A-Za-z0-9/_+=.@-]+)$/;
/** The end of a complete secret ARN: the hyphen and 6 random characters Secrets Manager appends to
 * the name. */
const SECRET_ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

/** A secret name or ARN, as Preflight's spec parser accepts it, except that an ARN's partition is
 * `aws` or `aws-...` and its name of a name's characters (it names the secret in the role's policy);
 * a token passes unjudged. */
function secretId(id: string, where: string): string {
  if (Token.isUnresolved(id) || (id.startsWith('arn:') ? SECRET_ARN.test(id) : SECRET_NAME.test(id))) {
    return id;
  }
  throw new Error(
    `Preflight ${where}: expected a secret name (1 to 512 characters of letters, digits and /_+=.@-) ` +
      `or a secret ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME), got \`${id}\``,
  );
}

/**
 * What IAM authorizes DescribeSecret and GetResourcePolicy of `id` against: the secret's complete
 * ARN, which ends in `-` and 6 random characters (`-??????` where they are unknown: a name, a
 * partial ARN); `undefined` when `id` is a token that may be a name or an ARN.
 */
function secretResource(id: string, partition: string, region: string, account: string): string | undefined {
  const complete = (arn: string, name: string): string => (SECRET_ARN_SUFFIX.test(name) ? arn : `${arn}-??????`);
  if (!Token.isUnresolved(id)) {
    const m = SECRET_ARN.exec(id);
    if (m) return complete(id, m[1]);
    return `arn:${partition}:secretsmanager:${region}:${account}:secret:${id}-??????`;
  }
  // An ARN written out but for tokens in its partition, region or account (Stack.formatArn).
  const at = id.lastIndexOf(':secret:');
  if (id.startsWith('arn:') && at >= 0) {
    const name = id.slice(at + ':secret:'.length);
    if (!Token.isUnresolved(name) && SECRET_NAME.test(name)) return complete(id, name);
  }
  return undefined;
}

/** The role ARN of a role, a grantable whose principal is a role, or an ARN. */
function roleArn(r: RoleLike, where: string): string {
  if (typeof r === 'string') {
    if (!Token.isUnresolved(r) && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(r)) {
      throw new Error(`Preflight ${where}: expected an IAM role ARN, got \`${r}\``);
    }
    return r;
  }
  const asRole = r as Partial<iam.IRole>;
  if (typeof asRole.roleArn === 'string') {
    return asRole.roleArn;
  }
  const principal = (r as iam.IGrantable).grantPrincipal as Partial<iam.IRole> | undefined;
  if (principal && typeof principal.roleArn === 'string') {
    return principal.roleArn;
  }
  throw new Error(`Preflight ${where}: expected an IAM role, a construct whose grant principal is a role, or a role ARN`);
}

/** A statement of the function's policy, and, where its resources keep a wildcard that cannot be
 * avoided, why: the reason of its cdk-nag suppression. */
interface Read {
  readonly statement: iam.PolicyStatement;
  readonly wildcard?: string;
}

/** The CDK bootstrap qualifier when none is given, as the Lambda defaults it. */
const DEFAULT_QUALIFIER = 'hnb659fds';

/**
 * Exactly the reads the enabled checks make (as template.yaml allows them all, or narrower): each
 * resource is named as far as it is known at synth; what stays a wildcard carries the reason.
 */
function statements(props: PreflightProps, stack: Stack, logGroup: logs.ILogGroup): Read[] {
  const p = stack.partition;
  const acct = stack.account;
  const region = stack.region;
  const out: Read[] = [
    // The function's own log group only (its ARN ends in :*, which covers its log streams); no
    // AWS managed AWSLambdaBasicExecutionRole, which allows CreateLogGroup and every log group.
    {
      statement: new iam.PolicyStatement({
        sid: 'OwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${logGroup.logGroupArn}`],
      }),
    },
  ];
  const bootstrap = props.bootstrap !== undefined;
  const secrets = props.secrets ?? [];
  // A secret is judged with its key and its readers, as a parameter is.
  const kmsReads = bootstrap || (props.parameters?.length ?? 0) > 0 || secrets.length > 0 || (props.keys?.length ?? 0) > 0;
  const roleReads = kmsReads || (props.keyPolicies?.length ?? 0) > 0;
  if (kmsReads) {
    out.push(
      {
        statement: new iam.PolicyStatement({ sid: 'ReadKeysOfThisAccount', actions: READ_KEYS, resources: [`arn:${p}:kms:*:${acct}:key/*`] }),
        wildcard:
          'The keys are known only at run time: a parameter\'s key is the KeyId DescribeParameters returns, the bootstrap ' +
          'bucket\'s key is in its encryption configuration, and a key given as an alias or key id is resolved by DescribeKey; ' +
          'a key ARN ends in the key id KMS generated. Reads only (DescribeKey, GetKeyPolicy, ListGrants), keys of this account only.',
      },
      {
        // GetKeyPolicy is never allowed across accounts (KMS API Reference); DescribeKey and
        // ListGrants are, where the other account's key policy allows them.
        statement: new iam.PolicyStatement({ sid: 'DescribeKeysOfOtherAccounts', actions: ['kms:DescribeKey', 'kms:ListGrants'], resources: [`arn:${p}:kms:*:*:key/*`] }),
        wildcard:
          'kms:DescribeKey and kms:ListGrants, on keys of other accounts that a parameter or a check names (shared keys), known only at run time; ' +
          'they return key metadata and grants, and the key policy of the other account must allow them too.',
      },
    );
  }
  if (roleReads) {
    out.push(
      {
        statement: new iam.PolicyStatement({ sid: 'ReadRolesAndTheirPolicies', actions: READ_ROLES, resources: [`arn:${p}:iam::${acct}:role/*`] }),
        wildcard:
          'The roles judged are the principals given (readers, key principals, administrators) and the bootstrap roles; a ' +
          'principal given as an assumed-role ARN (an SSO user, a CI session) does not hold the role\'s path, which is part of ' +
          'the role ARN IAM authorizes these reads against, so the roles cannot all be named exactly at synth. Reads of role ' +
          'metadata and policies only, roles of this account only.',
      },
      {
        statement: new iam.PolicyStatement({
          sid: 'ReadManagedPolicies',
          actions: READ_POLICIES,
          // A role can attach only managed policies of its own account and AWS managed policies.
          resources: [`arn:${p}:iam::${acct}:policy/*`, `arn:${p}:iam::aws:policy/*`],
        }),
        wildcard:
          'The managed policies (and permissions boundaries) attached to the roles judged are found at run time by ' +
          'ListAttachedRolePolicies and GetRole; a role can attach only policies of its own account and AWS managed ones. ' +
          'Reads only (GetPolicy, GetPolicyVersion).',
      },
    );
  }
  if ((props.parameters?.length ?? 0) > 0) {
    out.push({
      statement: new iam.PolicyStatement({ sid: 'DescribeParameters', actions: ['ssm:DescribeParameters'], resources: ['*'] }),
      wildcard:
        'ssm:DescribeParameters supports no resource-level permissions: the Service Authorization Reference lists no resource ' +
        'type for it, so a policy can allow it only on *. It returns parameter metadata (type, KeyId), never values.',
    });
  }
  if (secrets.length > 0) {
    const named = secrets.map((x) => secretResource(x.secretId, p, region, acct));
    const resources = [...new Set(named.map((r) => r ?? `arn:${p}:secretsmanager:*:*:secret:*`))];
    out.push({
      // A secret's metadata and resource policy, never its value (no secretsmanager:GetSecretValue).
      // `-??????` is not a wildcard to cdk-nag (AwsSolutions-IAM5 looks for `*`), and matches exactly
      // the 6 characters Secrets Manager appends; only a secret given as a token leaves `*`.
      statement: new iam.PolicyStatement({
        sid: 'DescribeSecrets',
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetResourcePolicy'],
        resources,
      }),
      wildcard: named.includes(undefined)
        ? 'A secret given as a token (an import, a parameter, another stack\'s secret ARN) is known only at deploy, as a ' +
          'name or an ARN of this account or another, so it cannot be named at synth. DescribeSecret and GetResourcePolicy ' +
          'only: the secret\'s metadata and resource policy, never its value (no GetSecretValue).'
        : undefined,
    });
  }
  if (bootstrap) {
    const qualifier = props.bootstrap?.qualifier ?? DEFAULT_QUALIFIER;
    const stackName = props.bootstrap?.toolkitStackName ?? 'CDKToolkit';
    out.push(
      {
        statement: new iam.PolicyStatement({
          sid: 'ReadCdkBootstrapVersion',
          actions: ['ssm:GetParameter'],
          resources: [`arn:${p}:ssm:${region}:${acct}:parameter/cdk-bootstrap/${qualifier}/version`],
        }),
      },
      {
        statement: new iam.PolicyStatement({
          sid: 'ReadBootstrapBucketEncryption',
          actions: ['s3:GetEncryptionConfiguration'],
          resources: [`arn:${p}:s3:::cdk-${qualifier}-assets-${acct}-${region}`],
        }),
      },
      {
        statement: new iam.PolicyStatement({
          sid: 'ReadBootstrapStack',
          actions: ['cloudformation:DescribeStacks'],
          resources: [`arn:${p}:cloudformation:${region}:${acct}:stack/${stackName}/*`],
        }),
        wildcard:
          'A stack ARN ends in the stack id CloudFormation generates when it creates the stack (stack/<name>/<id>), unknown ' +
          'at synth; the statement names the toolkit stack by name, in this account and region. DescribeStacks only.',
      },
    );
  }
  if (props.hostedZone) {
    out.push(
      {
        statement: new iam.PolicyStatement({
          sid: 'ReadHostedZones',
          actions: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
          resources: [`arn:${p}:route53:::hostedzone/*`],
        }),
        wildcard:
          'Besides the zone given, the delegation check reads the parent zones of this account, found at run time by ' +
          'ListHostedZonesByName, and their NS records. Reads only (GetHostedZone, ListResourceRecordSets).',
      },
      {
        statement: new iam.PolicyStatement({ sid: 'ListHostedZonesByName', actions: ['route53:ListHostedZonesByName'], resources: ['*'] }),
        wildcard:
          'route53:ListHostedZonesByName supports no resource-level permissions: the Service Authorization Reference lists no ' +
          'resource type for it, so a policy can allow it only on *.',
      },
      {
        statement: new iam.PolicyStatement({ sid: 'ReadRegisteredDomains', actions: ['route53domains:GetDomainDetail'], resources: ['*'] }),
        wildcard:
          'Route 53 Domains supports no resource-level permissions: the Service Authorization Reference lists no resource ' +
          'type for route53domains:GetDomainDetail, so a policy can allow it only on *. It reads the registration of a domain of this account.',
      },
    );
  }
  return out;
}

/**
 * Suppresses cdk-nag's AwsSolutions-IAM5 on `policy` for exactly the wildcard resources of the
 * statements that carry a reason, each finding by its own `appliesTo` (`Resource::...`, as cdk-nag
 * writes it) with the reasons of the statements it comes from. A wildcard of any other statement
 * (or in an action) stays a finding. Plain `cdk_nag` metadata, which cdk-nag reads: the construct
 * does not depend on cdk-nag.
 */
function suppressUnavoidableWildcards(policy: iam.Policy, stack: Stack, reads: Read[]): void {
  const reasons = new Map<string, string[]>();
  for (const { statement, wildcard } of reads) {
    if (wildcard === undefined) continue;
    const sid = statement.sid ?? 'statement';
    for (const resource of statement.resources) {
      const finding = `Resource::${flattenCfnReference(stack.resolve(resource))}`;
      if (!finding.includes('*')) continue;
      reasons.set(finding, [...(reasons.get(finding) ?? []), `${sid}: ${wildcard}`]);
    }
  }
  if (reasons.size === 0) return;
  // One suppression per reason, naming every finding it explains.
  const findings = new Map<string, string[]>();
  for (const [finding, why] of reasons) {
    const reason = why.join(' ');
    findings.set(reason, [...(findings.get(reason) ?? []), finding]);
  }
  const resource = policy.node.defaultChild as CfnResource;
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', {
    rules_to_suppress: [
      ...existing,
      ...[...findings].map(([reason, appliesTo]) => ({ id: 'AwsSolutions-IAM5', reason, applies_to: appliesTo })),
    ],
  });
}

/** A resolved CloudFormation value as cdk-nag names it in a finding: `Ref`s as `<Name>`, `Fn::GetAtt`
 * as `<Id.Attribute>`, `Fn::Join` joined, `${...}` of `Fn::Sub` as `<...>`. */
function flattenCfnReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/}/g, '>');
  const o = value as Record<string, unknown>;
  if (o['Fn::Join']) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return items.map(flattenCfnReference).join(delimiter);
  }
  if (o['Fn::Sub']) return flattenCfnReference(o['Fn::Sub']);
  if (o['Fn::GetAtt']) {
    const [id, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenCfnReference(id)}.${flattenCfnReference(attribute)}>`;
  }
  if (o['Fn::ImportValue']) return flattenCfnReference(o['Fn::ImportValue']);
  if (o.Ref) return `<${flattenCfnReference(o.Ref)}>`;
  return JSON.stringify(value);
}

/** The logical ids a resolved value refers to (Ref, Fn::GetAtt, Fn::Sub). */
function references(value: unknown, out: Set<string>): void {
  if (Array.isArray(value)) {
    value.forEach((v) => references(v, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === 'Ref' && typeof v === 'string' && !v.startsWith('AWS::')) {
        out.add(v);
      } else if (k === 'Fn::GetAtt' && Array.isArray(v) && typeof v[0] === 'string') {
        out.add(v[0]);
      } else if (k === 'Fn::GetAtt' && typeof v === 'string') {
        out.add(v.split('.')[0]);
      } else if (k === 'Fn::Sub') {
        const text = Array.isArray(v) ? v[0] : v;
        if (typeof text === 'string') {
          for (const m of text.matchAll(/\$\{([^!}.]+)[^}]*\}/g)) {
            if (!m[1].startsWith('AWS::')) out.add(m[1]);
          }
        }
        references(Array.isArray(v) ? v[1] : undefined, out);
      } else {
        references(v, out);
      }
    }
  }
}

/**
 * Makes every resource of the stack depend on the check, except Preflight's own resources and
 * what the check itself needs to exist first: the resources its properties refer to (a role it
 * judges, a key, a parameter), what those depend on, and the IAM policies attached to the roles
 * among them (the check judges the role with its policies). No cycle can form: nothing the check
 * depends on is made to depend on it.
 */
class RunFirst implements IAspect {
  private done = false;

  constructor(private readonly preflight: Preflight) {}

  public visit(node: IConstruct): void {
    if (this.done || node !== Stack.of(this.preflight)) {
      return;
    }
    this.done = true;
    const stack = node as Stack;
    const check = this.preflight.resource.node.defaultChild as CfnResource;
    // CfnResource.isCfnResource, not instanceof: an app may hold another copy of aws-cdk-lib (the
    // construct installed from a folder), whose classes instanceof does not recognise.
    const resources = stack.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && Stack.of(c) === stack);
    const byId = new Map<string, CfnResource>();
    for (const r of resources) {
      byId.set(stack.resolve((r as CfnElement).logicalId) as string, r);
    }
    const refsOf = (r: CfnResource): CfnResource[] => {
      const ids = new Set<string>();
      references(stack.resolve((r as unknown as { _toCloudFormation(): unknown })._toCloudFormation()), ids);
      const direct = [...ids].map((id) => byId.get(id)).filter((x): x is CfnResource => x !== undefined);
      const explicit = r.obtainDependencies().filter((x): x is CfnResource => CfnResource.isCfnResource(x));
      const constructDeps = [r, ...scopesOf(r, stack)].flatMap((c) =>
        c.node.dependencies.flatMap((d) =>
          d.node.findAll().filter((x): x is CfnResource => CfnResource.isCfnResource(x) && Stack.of(x) === stack),
        ),
      );
      return [...direct, ...explicit, ...constructDeps];
    };
    const own = new Set<CfnResource>(
      this.preflight.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c)),
    );
    // What the check needs first: its references, closed over theirs, plus policies of roles.
    const needed = new Set<CfnResource>();
    const queue = refsOf(check).filter((r) => !own.has(r));
    while (queue.length > 0) {
      const r = queue.pop() as CfnResource;
      if (needed.has(r) || own.has(r)) continue;
      needed.add(r);
      queue.push(...refsOf(r));
      if (r.cfnResourceType === 'AWS::IAM::Role') {
        const id = stack.resolve(r.logicalId) as string;
        for (const p of resources) {
          if (p.cfnResourceType !== 'AWS::IAM::Policy' && p.cfnResourceType !== 'AWS::IAM::ManagedPolicy') continue;
          const ids = new Set<string>();
          references(stack.resolve((p as unknown as { _toCloudFormation(): unknown })._toCloudFormation()), ids);
          if (ids.has(id)) {
            queue.push(p);
            check.addResourceDependency(p, 'Preflight judges this role with its policies');
          }
        }
      }
    }
    let added = 0;
    for (const r of resources) {
      if (own.has(r) || needed.has(r) || r === check) continue;
      if (r.cfnResourceType === 'AWS::CDK::Metadata') continue;
      r.addResourceDependency(check, 'Preflight runs before the rest of the stack');
      added += 1;
    }
    if (needed.size > 0) {
      Annotations.of(this.preflight).addInfo(
        `Preflight runs first; ${added} resources wait for it, ${needed.size} it inspects are created before it`,
      );
    }
  }
}

/** The constructs between `stack` and `c`, exclusive. */
function scopesOf(c: IConstruct, stack: Stack): IConstruct[] {
  const scopes = c.node.scopes;
  return scopes.slice(scopes.indexOf(stack) + 1, -1);
}
