// Root, real kernel: the chisol exec helper (src/isol/chisol.c) must refuse on
// this stock kernel with exit 3 and an explanation, and must not issue a single
// prctl — checked with strace (falls back to bpftrace on sys_enter_prctl).
// A positive control proves the tracer does see prctls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectPrIsol } from '../../src/isol/detect.js';
import { parseIsolateSpec, planIsolate } from '../../src/isol/isolate.js';

const dir = mkdtempSync(join(tmpdir(), 'isolwatch-chisol-'));
const CHISOL = join(dir, 'chisol');
const PRCTLS = join(dir, 'isol-prctls');
const which = (t: string) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0;
const detection = detectPrIsol();

beforeAll(() => {
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', CHISOL, 'src/isol/chisol.c']);
  execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', PRCTLS, 'test/workloads/isol-prctls.c', '-lrt']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs argv under a prctl tracer; returns exit status, stderr and the prctl calls seen (by any process of the run). */
function traced(argv: string[]): { status: number | null; stderr: string; prctls: string[] } {
  // ISOL_TRACER=bpftrace forces the fallback (to check it).
  const tracer = process.env.ISOL_TRACER ?? (which('strace') ? 'strace' : 'bpftrace');
  if (tracer === 'strace') {
    const log = join(dir, `strace-${Date.now()}-${Math.random().toString(16).slice(2)}.log`);
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=prctl', '-o', log, ...argv], { encoding: 'utf8' });
    const prctls = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => /\bprctl\(/.test(l));
    return { status: r.status, stderr: r.stderr, prctls };
  }
  if (!which('bpftrace')) throw new Error('neither strace nor bpftrace is installed: apt-get install strace');
  // bpftrace: start CMD via -c (a wrapper shell that reports CMD's status); trace it and its children.
  const wrapper = join(dir, 'status-wrapper.sh');
  writeFileSync(wrapper, '#!/bin/sh\n"$@"\necho "__status=$?" >&2\n', { mode: 0o755 });
  const script = 'tracepoint:syscalls:sys_enter_prctl /pid == cpid || curtask->real_parent->tgid == cpid/ { printf("prctl(%d, 0x%lx)\\n", args->option, args->arg2); }';
  const r = spawnSync('bpftrace', ['-q', '-e', script, '-c', ['/bin/sh', wrapper, ...argv].join(' ')], { encoding: 'utf8' });
  const st = /__status=(\d+)/.exec(r.stderr);
  return { status: st ? Number(st[1]) : null, stderr: r.stderr, prctls: r.stdout.split('\n').filter((l) => l.startsWith('prctl(')) };
}

// strace names the options it knows (PR_SET_MDWE) and prints others in hex (0x41); bpftrace prints decimal.
const NAMED: Record<string, number> = { PR_SME_SET_VL: 63, PR_SME_GET_VL: 64, PR_SET_MDWE: 65, PR_GET_MDWE: 66, PR_SET_MEMORY_MERGE: 67, PR_GET_MEMORY_MERGE: 68 };
function optionOf(line: string): number {
  const m = /prctl\(([A-Z_]+|0x[0-9a-f]+|\d+)/.exec(line);
  if (!m) return -1;
  return NAMED[m[1]] ?? Number(m[1]);
}

describe.runIf(!detection.supported)('chisol on this stock kernel', () => {
  it('positive control: the tracer sees the workload\'s prctls', () => {
    const r = traced([PRCTLS]);
    expect(r.prctls.length).toBeGreaterThanOrEqual(16);
    expect(new Set(r.prctls.map(optionOf))).toEqual(new Set([63, 64, 65, 66, 67, 68]));
  });

  it('without --abi-confirmed: exit 3, explanation, no prctl issued', () => {
    const r = traced([CHISOL, '--quiesce', '0x1', '--inherit', 'active', '--', '/bin/true']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/refusing: the PR_ISOL task-isolation ABI was not confirmed/);
    expect(r.stderr).toMatch(/65 = PR_SET_MDWE/);
    expect(r.stderr).toMatch(/No prctl was issued/);
    expect(r.prctls).toEqual([]);
  });

  it('with --abi-confirmed but no PR_ISOL handler in kallsyms: still exit 3, no prctl', () => {
    const r = traced([CHISOL, '--abi-confirmed', '--via=test', '--quiesce', '0x1', '--', '/bin/true']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/\/proc\/kallsyms lists no\s+prctl_task_isol_\* handler/);
    expect(r.prctls).toEqual([]);
  });

  it('usage errors exit 2 before anything else', () => {
    const r = traced([CHISOL, '--quiesce', 'vmstat', '--', '/bin/true']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--quiesce 'vmstat' is not a number/);
    expect(r.prctls).toEqual([]);
  });

  it('planIsolate refuses here too, so isolwatch never starts chisol on this kernel', () => {
    const plan = planIsolate(parseIsolateSpec('quiesce=vmstat'), detection, ['/bin/true'], CHISOL);
    expect(plan).toMatchObject({ ok: false, exitCode: 3 });
    expect(existsSync(CHISOL)).toBe(true);
  });
});
