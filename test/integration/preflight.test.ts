// What the machine lacks is said at start, one line each, exit 3 (src/system/preflight.ts),
// with real privilege changes: root with capabilities dropped from its bounding set (as in a
// container), an unprivileged user with and without CAP_BPF + CAP_PERFMON, and a kernel
// whose BTF is hidden (a tmpfs over /sys/kernel/btf in a private mount namespace).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, parseCapEff } from '../../src/system/preflight.js';
import { CLI, requireRoot, runAsUser } from './harness.js';

const WATCH = ['watch', '--cpus', '1', '--duration', '1', '--json'];
const bit = (c: number) => 1n << BigInt(c);

beforeAll(() => {
  requireRoot();
  if (spawnSync('setpriv', ['--version']).status !== 0) throw new Error('setpriv (util-linux) is missing');
});

/** The CLI as root, without the named capabilities in its bounding (hence effective) set; `prep` runs first in a private mount namespace. */
function rootWithout(caps: string[], args: string[], prep = 'true') {
  const drop = caps.map((c) => `-${c}`).join(',');
  return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${prep} && exec setpriv --bounding-set=${drop} -- "$@"`, 'sh', process.execPath, CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 1 << 30, // a busy CPU 1 gives megabytes of records in a second
  });
}

const stderrLines = (s: string) => s.trimEnd().split('\n');

describe('capabilities as the kernel reports them', () => {
  it("setpriv's bpf and perfmon are our CAP_BPF and CAP_PERFMON", () => {
    const r = runAsUser('nobody', () => ['cat', '/proc/self/status'], { caps: ['bpf', 'perfmon'] });
    expect(r.status, r.stderr).toBe(0);
    expect(parseCapEff(r.stdout)).toBe(bit(CAP_BPF) | bit(CAP_PERFMON));
    const c = spawnSync('setpriv', ['--bounding-set=-sys_admin', '--', 'cat', '/proc/self/status'], { encoding: 'utf8' });
    const eff = parseCapEff(c.stdout)!;
    expect(eff & bit(CAP_SYS_ADMIN)).toBe(0n);
    expect(eff & bit(CAP_BPF)).toBe(bit(CAP_BPF));
  });
});

describe('root without the capabilities (a container)', () => {
  it('exits 3 naming the missing ones, before anything is attached', () => {
    const r = rootWithout(['bpf', 'perfmon', 'sys_admin'], WATCH);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/^isolwatch: runs as root but without CAP_BPF and CAP_PERFMON in its effective capabilities/)]);
  });

  it('one missing: only that one is named', () => {
    const r = rootWithout(['perfmon', 'sys_admin'], WATCH);
    expect(r.status).toBe(3);
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/^isolwatch: runs as root but without CAP_PERFMON in/)]);
  });

  it('CAP_SYS_ADMIN stands in for both: it traces', () => {
    const r = rootWithout(['bpf', 'perfmon'], WATCH);
    expect(r.status, r.stderr).toBe(0);
    const types = r.stdout.trim().split('\n').map((l) => JSON.parse(l).type);
    expect(types[0]).toBe('start');
    expect(types.at(-1)).toBe('summary');
  });

  it('and no BTF either: one line each, BTF first', () => {
    const r = rootWithout(['bpf', 'perfmon', 'sys_admin'], WATCH, 'mount -t tmpfs none /sys/kernel/btf');
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toEqual([
      expect.stringMatching(/^isolwatch: this kernel has no BTF \(\/sys\/kernel\/btf\/vmlinux is missing\)/),
      expect.stringMatching(/^isolwatch: runs as root but without CAP_BPF and CAP_PERFMON/),
    ]);
  });
});

describe('an unprivileged user', () => {
  it('without capabilities: one line naming both, exit 3', () => {
    const r = runAsUser('nobody', (co) => [process.execPath, join(co, 'dist/src/cli.js'), ...WATCH]);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/^isolwatch: needs root, or CAP_BPF and CAP_PERFMON, .*lacks CAP_BPF and CAP_PERFMON/)]);
  });

  it('demo says so before it starts its workload', () => {
    const r = runAsUser('nobody', (co) => [process.execPath, join(co, 'dist/src/cli.js'), 'demo', '--cpus', '1', '--duration', '1', '--json']);
    expect(r.status).toBe(3);
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/^isolwatch: needs root, or CAP_BPF and CAP_PERFMON/)]);
  });

  it('with CAP_BPF + CAP_PERFMON: goes past the check', () => {
    // What comes next depends on the kernel's settings (kallsyms addresses need CAP_SYSLOG
    // when perf_event_paranoid > 1): only the privilege check must not stop it.
    const r = runAsUser('nobody', (co) => [process.execPath, join(co, 'dist/src/cli.js'), ...WATCH], { caps: ['bpf', 'perfmon'] });
    expect(r.stderr).not.toMatch(/lacks CAP_|without CAP_|needs root, or CAP_BPF/);
  });
});
