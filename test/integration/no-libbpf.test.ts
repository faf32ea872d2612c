// Commands that do not trace never load libbpf: with libbpf.so.1 hidden (a
// bind mount of /dev/null over it, in a private mount namespace) --help,
// --version (which says libbpf is not there), doctor and report work with
// their usual exit codes, and a tracing command exits 3 with one line naming
// the package to install.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IW } from '../../src/contract/layout.generated.js';
import { CLI, ROOT, requireRoot } from './harness.js';

const REC = join(ROOT, 'test/fixtures/recordings/host-membarrier.rec.ndjson');
let libbpf = '';

beforeAll(() => {
  requireRoot();
  libbpf = realpathSync('/usr/lib/x86_64-linux-gnu/libbpf.so.1');
});

/** The CLI with libbpf.so.1 unreadable as a library. */
function withoutLibbpf(args: string[]) {
  return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', libbpf, process.execPath, CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('without libbpf.so.1', () => {
  it('--help and --version', () => {
    const h = withoutLibbpf(['--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^isolwatch /);
    const v = withoutLibbpf(['--version']);
    expect(v.status).toBe(0);
    expect(v.stderr).toBe('');
    const [version, object, lib] = v.stdout.trimEnd().split('\n');
    expect(version).toMatch(/^isolwatch \d+\.\d+\.\d+$/);
    expect(object).toMatch(new RegExp(`^bpf object: ABI ${IW.IW_ABI_VERSION}, ${process.arch} \\(/`));
    // the file is there, but it is no library: found by its name, passed over by its content
    expect(lib).toMatch(/^libbpf: not found \(searched \/etc\/ld\.so\.cache, .*; passed over \S+libbpf\.so\.1\.\d+\.\d+: not an ELF file\): install the system libbpf/);
  });

  it('doctor audits (exit 0 or 1 by its findings, never 3)', () => {
    const d = withoutLibbpf(['doctor', '--cpus', '1', '--json']);
    expect([0, 1]).toContain(d.status);
    expect(JSON.parse(d.stdout).type).toBe('doctor');
    expect(d.stderr).toBe('');
  });

  it('report replays a recording', () => {
    const r = withoutLibbpf(['report', REC, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).type)).toContain('summary');
  });

  it('a tracing command exits 3 with one line naming the package', () => {
    const w = withoutLibbpf(['watch', '--cpus', '1', '--duration', '1']);
    expect(w.status).toBe(3);
    expect(w.stderr.trim().split('\n')).toHaveLength(1);
    expect(w.stderr).toMatch(/cannot load libbpf\.so\.1.*apt-get install libbpf1.*dnf install libbpf/);
  });
});
