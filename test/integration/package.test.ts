// The npm package runs on a machine without a compiler. `npm pack` (prepack builds)
// gives a tarball of what runs and nothing of the tests; it installs into an empty
// prefix without the registry and without a word from npm; and the installed
// isolwatch answers --version, audits, traces and runs its demo in a private mount
// namespace where clang, llc, gcc, cc and bpftool (every one PATH holds) are
// /bin/false and the checkout is hidden under an empty tmpfs.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IW } from '../../src/contract/layout.generated.js';
import { ROOT, requireRoot } from './harness.js';

const ARCH = process.arch;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const MASKED = ['clang', 'llc', 'gcc', 'cc', 'bpftool'];

let dir = '';
let files: string[] = [];
let install: SpawnSyncReturns<string>;
let prefix = '';
let installed = ''; // the package's directory in the prefix

/** This test's environment for npm: none of the npm test that runs us, a cache of its own (removed with it). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };
}

/** The installed isolwatch with the compilers masked and the checkout hidden. */
function isolwatch(args: string[]): SpawnSyncReturns<string> {
  const script = [
    'set -e',
    `for t in ${MASKED.join(' ')}; do`,
    '  for d in $(echo "$PATH" | tr ":" " "); do if [ -e "$d/$t" ]; then mount --bind /bin/false "$d/$t"; fi; done',
    'done',
    `for t in ${MASKED.join(' ')}; do`,
    '  if "$t" --version >/dev/null 2>&1; then echo "$t still runs" >&2; exit 99; fi',
    'done',
    'mount -t tmpfs -o mode=0755 none "$0"',
    'cd /',
    'exec "$@"',
  ].join('\n');
  const env = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, ROOT, join(prefix, 'bin', 'isolwatch'), ...args], {
    encoding: 'utf8',
    env,
    timeout: 60_000,
    maxBuffer: 1 << 30, // a busy CPU 1 gives megabytes of records in a second
  });
}

/** Whether an ELF executable asks for a dynamic loader (a PT_INTERP program header). */
function hasInterpreter(file: string): boolean {
  const b = readFileSync(file);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const size = b.readUInt16LE(0x36);
  const count = b.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) if (b.readUInt32LE(phoff + i * size) === 3) return true;
  return false;
}

beforeAll(() => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'iwt-package-'));
  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env: npmEnv(), encoding: 'utf8', timeout: 600_000 });
  if (pack.status !== 0) throw new Error(`npm pack failed (${pack.status ?? pack.signal}): ${pack.stderr}`);
  // the JSON report follows whatever prepack's build printed
  const report = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
  files = report[0].files.map((f) => f.path);
  prefix = join(dir, 'prefix');
  mkdirSync(prefix);
  install = spawnSync('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, join(dir, report[0].filename)], {
    cwd: dir,
    env: npmEnv(),
    encoding: 'utf8',
    timeout: 300_000,
  });
  installed = join(prefix, 'lib', 'node_modules', 'isolwatch');
}, 900_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds what runs', () => {
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/isolwatch',
      'dist/src/cli.js',
      'dist/tui/app.js',
      `build/${ARCH}/isolwatch.bpf.o`,
      `build/${ARCH}/chisol`,
      `build/${ARCH}/disturb`,
      'policies/strict.yaml',
      'policies/policy.schema.json',
      // what serve is deployed with (README, "Deploying")
      'deploy/isolwatch.service',
      'deploy/grafana-dashboard.json',
      // bundled, with koffi's prebuilt binary for this architecture
      'node_modules/koffi/package.json',
      `node_modules/@koromix/koffi-linux-${ARCH}/package.json`,
      'node_modules/yaml/package.json',
      'node_modules/blessed/package.json',
    ]) {
      expect(files, f).toContain(f);
    }
  });

  it('and nothing users do not need: no tests, fixtures, sources, source maps', () => {
    const own = files.filter((f) => !f.startsWith('node_modules/'));
    const unexpected = own.filter(
      (f) =>
        !['package.json', 'README.md', 'LICENSE'].includes(f) &&
        !/^(bin\/|dist\/src\/|dist\/tui\/|policies\/|deploy\/)/.test(f) &&
        !/^build\/[a-z0-9]+\/(isolwatch\.bpf\.o|chisol|disturb)$/.test(f),
    );
    expect(unexpected).toEqual([]);
    expect(own.filter((f) => /\.(ts|c|h|map)$/.test(f) || /(^|\/)(test|fixtures|workloads)\//.test(f))).toEqual([]);
  });

  it('its helpers are static executables (no dynamic loader, no glibc version to match)', () => {
    expect(hasInterpreter(join(installed, 'build', ARCH, 'chisol'))).toBe(false);
    expect(hasInterpreter(join(installed, 'build', ARCH, 'disturb'))).toBe(false);
    expect(hasInterpreter(process.execPath)).toBe(true); // the check sees one where there is one
  });
});

describe('installed into an empty prefix, without a compiler', () => {
  it('installs offline and npm says nothing', () => {
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).toBe('');
    expect(realpathSync(join(prefix, 'bin', 'isolwatch'))).toBe(join(realpathSync(installed), 'bin', 'isolwatch'));
  });

  it('--version: version, ABI of the installed object, the system libbpf', () => {
    const r = isolwatch(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    // the libbpf ldconfig lists, by its real file's name
    const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/sbin:/usr/sbin` } });
    const listed = /^\tlibbpf\.so\.1 \([^)]*x86-64[^)]*\) => (.+)$/m.exec(ldconfig.stdout);
    expect(listed, 'libbpf1 is not installed: run npm run setup').not.toBeNull();
    const lib = realpathSync(listed![1]);
    const libVersion = /^libbpf\.so\.(\d+\.\d+\.\d+)$/.exec(basename(lib))![1];
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      `isolwatch ${VERSION}`,
      `bpf object: ABI ${IW.IW_ABI_VERSION}, ${ARCH} (${join(realpathSync(installed), 'build', ARCH, 'isolwatch.bpf.o')})`,
      `libbpf: ${libVersion} (${lib})`,
    ]);
  });

  it('doctor --json audits (exit 0 or 1 by its findings)', () => {
    const r = isolwatch(['doctor', '--json']);
    expect([0, 1], r.stderr).toContain(r.status);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).type).toBe('doctor');
  });

  it('watch --cpus 1 --duration 1 --json traces: start record, summary record, exit 0', () => {
    const r = isolwatch(['watch', '--cpus', '1', '--duration', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; version?: string; watched_cpus?: number[]; probes?: { attached: string[] }; cpus?: Record<string, unknown> });
    expect(recs[0]).toMatchObject({ type: 'start', version: VERSION, watched_cpus: [1] });
    expect(recs[0].probes!.attached.length).toBeGreaterThan(0);
    expect(recs.at(-1)!.type).toBe('summary');
    expect(Object.keys(recs.at(-1)!.cpus!)).toEqual(['1']);
  });

  it('demo runs its prebuilt workload, which the records name', () => {
    const r = isolwatch(['demo', '--cpus', '1', '--duration', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const sum = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { type: string; tasks: { comm: string; interruptions: number }[] };
    expect(sum.type).toBe('summary');
    expect(sum.tasks.some((t) => t.comm === 'disturb' && t.interruptions > 0)).toBe(true);
  });

  it('serve attaches, listens and ends on its own (--duration)', () => {
    const r = isolwatch(['serve', '--cpus', '1', '--listen', '127.0.0.1:0', '--duration', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^isolwatch serve: watching CPU 1 .*metrics on http:\/\/127\.0\.0\.1:\d+\/metrics\nisolwatch serve: stopped \(duration over\): detached\n$/);
  });

  it('the PR_ISOL helper runs (usage error without arguments: no prctl issued)', () => {
    const r = spawnSync(join(installed, 'build', ARCH, 'chisol'), [], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^chisol: --quiesce MASK is required\nusage: chisol/);
  });
});
