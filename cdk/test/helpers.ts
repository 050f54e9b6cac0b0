/**
 * What the tests of this folder share: where things are, temporary directories, fake bootstraps
 * (ELF headers, zips as cargo-lambda writes them), the architecture of an ELF file, the
 * environment for npm and running a command.
 *
 * No tests here, and nothing happens on import (no hook, no file, no process): `node --test
 * dist/test/` loads this file as it loads every .js of the folder, and finds nothing to run. Each
 * test file that makes temporary directories removes them with `after(removeTempDirs)`.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** This package's folder (cdk/), from dist/test/. */
export const CDK = path.join(__dirname, '..', '..');
export const REPO = path.join(CDK, '..');
export const PREFLIGHT_BIN = process.env.PREFLIGHT_BIN ?? path.join(REPO, 'target', 'debug', 'preflight');
export const LAMBDA_BIN = process.env.PREFLIGHT_LAMBDA_BIN ?? path.join(REPO, 'target', 'debug', 'preflight-lambda');

export function readJson(file: string): Json {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Temporary directories

/** Temporary directories of this process's tests, removed by `removeTempDirs`. */
const TEMP: string[] = [];

/** A new directory under os.tmpdir(), removed when the tests end (`after(removeTempDirs)`). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  TEMP.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of TEMP.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// ELF

/** e_machine of x86_64 and of aarch64. */
export const X86_64 = 0x3e;
export const AARCH64 = 0xb7;

/** A little-endian 64-bit ELF header for `machine`: what `cargo lambda build` makes, as far as the
 * construct looks. */
export function elfHeader(machine: number): Buffer {
  const header = Buffer.alloc(64);
  header.write('\x7fELF', 0, 'latin1');
  header[4] = 2; // ELFCLASS64
  header[5] = 1; // ELFDATA2LSB
  header[6] = 1; // EV_CURRENT
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(machine, 18);
  header.writeUInt32LE(1, 20);
  return header;
}

/** A file with an ELF header for `machine`, `bootstrap` in a new temporary directory of its own. */
export function fakeElf(machine: number, prefix = 'preflight-fake-elf-'): string {
  const file = path.join(tempDir(prefix), 'bootstrap');
  fs.writeFileSync(file, elfHeader(machine), { mode: 0o755 });
  return file;
}

/** The start of a file read as an ELF header: its magic (`\x7fELF` for ELF) and its e_machine. */
export function readElf(file: string): { magic: string; machine: number } {
  const head = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  return { magic: head.toString('latin1', 0, 4), machine: head.readUInt16LE(18) };
}

// ---------------------------------------------------------------------------------------------
// Zip

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k += 1) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipEntry {
  name: string;
  data: Buffer;
  /** Deflated, as `cargo lambda build --output-format zip` does, or stored. */
  deflate: boolean;
}

/** A zip of `entries`, each an executable file (-rwxr-xr-x, made on Unix). */
export function zip(entries: ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? zlib.deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    // The local header and the central directory's entry hold the same fields from version
    // needed on, the entry's two bytes later (after its "made by").
    const shared = (header: Buffer, at: number): Buffer => {
      header.writeUInt16LE(20, at); // version needed
      header.writeUInt16LE(e.deflate ? 8 : 0, at + 4); // method
      header.writeUInt32LE(crc32(e.data), at + 10);
      header.writeUInt32LE(body.length, at + 14);
      header.writeUInt32LE(e.data.length, at + 18);
      header.writeUInt16LE(name.length, at + 22);
      return header;
    };
    const local = shared(Buffer.alloc(30), 4);
    local.writeUInt32LE(0x04034b50, 0);
    const entry = shared(Buffer.alloc(46), 6);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE((3 << 8) | 20, 4); // made on Unix
    entry.writeUInt32LE((0o100755 << 16) >>> 0, 38); // -rwxr-xr-x
    entry.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(entry, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}

// ---------------------------------------------------------------------------------------------
// Commands

/** The environment for npm, npx, the CDK CLI and the apps: none of the npm_* settings of the `npm
 * test` that runs these tests (they name this folder as the project), no NODE_PATH, then `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_PATH' && k !== 'INIT_CWD')),
    ...extra,
  };
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Why it did not run or was stopped (not found, timed out), if so. */
  error?: Error;
}

/** Runs `cmd` with `args` and waits for it (for at most `timeout` ms, when given), its output read
 * as UTF-8; a non-zero exit is the caller's to judge. */
export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Ran {
  const out = spawnSync(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', timeout: options.timeout });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr, error: out.error };
}

/** The debug build of preflight-lambda, which the test command builds before these tests. */
export function lambdaBin(): string {
  assert.ok(fs.existsSync(LAMBDA_BIN), `${LAMBDA_BIN} is missing: build the crate first (scripts/test.sh does)`);
  return LAMBDA_BIN;
}
