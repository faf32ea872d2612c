// isolwatch's CI mode inside the quiet-CPU guest (Debian 6.1, CPUs 2-3
// isolated + nohz_full), on the generic and the PREEMPT_RT kernel: the object
// built on the host loads unchanged (CO-RE portability); a pure user-space
// spin on CPU 3 is judged quiet over 20 s (exit 0); membarrier IPIs, TLB
// shootdowns and stat_refresh work from CPU 0 fail the run (exit 1) and the
// JUnit and markdown reports name the sender task, its CPU, the function and
// the exact count; the task's own syscalls fail the run unless --allow-self.
// The cases are in guest-cases.sh (one boot per kernel). Never skipped.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

interface Boot {
  out: string;
  exits: Record<string, number>;
}

function boot(kernel: 'generic' | 'rt', cases: string[]): Promise<Boot> {
  const out = mkdtempSync(join(tmpdir(), `iw-guest-${kernel}-`));
  return new Promise((resolve, reject) => {
    const p = spawn(join(here, 'run'), ['--kernel', kernel, '--timeout', '900', '--out', out, '--', 'test/vm/guest-cases.sh', ...cases], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const exits = Object.fromEntries([...stdout.matchAll(/^(\S+) exit=(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
      if (code !== 0) reject(new Error(`${kernel} guest failed (${code}):\n${stdout}\n${stderr}`));
      else resolve({ out, exits });
    });
  });
}

const read = (b: Boot, f: string) => readFileSync(join(b.out, f), 'utf8');
const records = (b: Boot, name: string) =>
  read(b, `${name}.ndjson`)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
/** key=value fields of the workload's "ready"/"done" line */
function line(b: Boot, name: string, kind: 'ready' | 'done'): Record<string, string> {
  const l = read(b, `${name}.out`)
    .split('\n')
    .find((x) => x.startsWith(`${kind} `));
  if (!l) throw new Error(`${name}: no '${kind}' line in ${read(b, `${name}.out`)}\n${read(b, `${name}.err`)}`);
  return Object.fromEntries(l.split(' ').slice(1).map((f) => f.split('=') as [string, string]));
}
const verdict = (b: Boot, name: string) => records(b, name).at(-1).verdict as { pass: boolean; reasons: string[] };

/** Case 1: 20 s of pure user-space spin on CPU 3, judged after the warm-up. */
function expectQuiet(b: Boot) {
  expect(b.exits.quiet, read(b, 'quiet.err')).toBe(0);
  expect(line(b, 'quiet', 'done')).toMatchObject({ syscalls: '0', switches: '0' });
  expect(verdict(b, 'quiet')).toEqual(expect.objectContaining({ pass: true, reasons: [] }));
  expect(read(b, 'quiet.err')).toMatch(/judging CPU 3 for 20 s/);
  const junit = read(b, 'quiet.xml');
  expect(junit).toMatch(/failures="0"/);
  expect(junit).toContain('cpu3: quiet while isolated');
  expect(read(b, 'quiet.md').split('\n')[0]).toMatch(/PASS/);
}

/** Case 2: the reports name the sender task, its CPU, the function and the exact count. */
function expectCaught(b: Boot, name: string, cls: string, func: string, senderKey: string, count: number) {
  expect(b.exits[name], read(b, `${name}.err`)).toBe(1);
  const ready = line(b, name, 'ready');
  const sender = ready[senderKey];
  const comm = name === 'unmap' ? 'tlb' : name === 'stat_refresh' ? 'statrefresh' : name;
  expect(verdict(b, name).reasons.join('\n')).toContain(`budget ${cls}<=0 exceeded`);
  // every one of them counted in the judged window (the kernel's aggregate totals), attributed to the sender
  const all = records(b, name);
  const totals = all.find((r) => r.type === 'aggregate' && r.scope === 'total');
  const rows = totals.rows.filter((r: { cpu: number; class: string; func?: string; phase: string }) => r.phase === 'judged' && r.cpu === 3 && r.class === cls && r.func === func);
  expect(rows.reduce((n: number, r: { count: number }) => n + r.count, 0)).toBe(count);
  for (const r of rows) expect(r.cause).toMatchObject({ self: false, context: 'task', cpu: 0, tid: Number(sender), comm });
  // and the records, samples of them, in the judged window say the same of each one
  const { from_ns, to_ns } = all.at(-1).verdict.judged;
  const recs = all.filter(
    (r) => r.type === 'interruption' && r.ts_ns >= from_ns && r.ts_ns < (to_ns ?? Infinity) && r.cpu === 3 && r.class === cls && r.func === func,
  );
  expect(recs.length).toBeGreaterThan(0);
  expect(recs.length).toBeLessThanOrEqual(count);
  for (const r of recs) expect(r.cause).toMatchObject({ self: false, context: 'task', cpu: 0, tid: Number(sender), comm });
  // JUnit: "<class> <func> (<kind>) from <comm>/<tid> on CPU 0 via <callsite>, hit CPU 3: <count>x" (senders named as everywhere)
  const junit = read(b, `${name}.xml`);
  expect(junit).toMatch(/<failure /);
  expect(junit).toMatch(new RegExp(`${cls} ${func}(?: \\([^)]*\\))? from ${comm}/${sender} on CPU 0[^\\n]*hit CPU 3: ${count}x`));
  // markdown summary: a top-offender row "| <class> `<func>` (<kind>) | `<comm>/<tid> on CPU 0` via `<callsite>` | 3 | <count> |"
  const md = read(b, `${name}.md`);
  expect(md.split('\n')[0]).toMatch(/FAIL/);
  expect(md).toMatch(new RegExp(`\\| ${cls} \`${func}\`[^|]*\\| \`${comm}/${sender} on CPU 0\`[^|]*\\| 3 \\| ${count} \\|`));
}

/** Case 3: 1000 getppid by the task itself: the syscall class fails unless --allow-self. */
function expectSelf(b: Boot) {
  expect(b.exits.syscalls, read(b, 'syscalls.err')).toBe(1);
  expect(line(b, 'syscalls', 'done')).toMatchObject({ calls: '1000', switches: '0' });
  const v = verdict(b, 'syscalls');
  expect(v.reasons).toContain('budget syscall<=0 exceeded: 1000 while isolated; most: getppid by the task itself x1000');
  expect(read(b, 'syscalls.xml')).toContain('getppid by the task itself x1000');

  expect(b.exits['syscalls-allowed'], read(b, 'syscalls-allowed.err')).toBe(0);
  expect(verdict(b, 'syscalls-allowed').pass).toBe(true);
  expect(read(b, 'syscalls-allowed.err')).toMatch(/allowed \(--allow-self\): 10\d\d of the task's own syscalls\/faults/);
}

describe('isolwatch run in the quiet-CPU guest, 6.1 generic (CPU 3 nohz_full)', () => {
  let b: Boot;
  beforeAll(async () => {
    b = await boot('generic', ['quiet', 'syscalls', 'syscalls-allowed', 'membarrier', 'unmap', 'stat_refresh']);
  }, 960_000);

  it('loads the host-built CO-RE object; IPI senders come from the kprobe fallback on 6.1', () => {
    const start = records(b, 'quiet')[0];
    expect(start).toMatchObject({ type: 'start', nohz_full: [2, 3], isolated: [2, 3], watched_cpus: [3] });
    expect(start.kernel).toMatch(/^6\.1\..*amd64$/);
    expect(start.probes.attached).toEqual(
      expect.arrayContaining(['sched_switch', 'local_timer_entry', 'smp_call_function_many_cond', 'generic_exec_single', 'send_call_function_single_ipi']),
    );
    // 6.1 predates csd_* (6.5) and ipi_send_* (6.4): listed, not fatal
    expect(start.probes.missing).toEqual(expect.arrayContaining(['csd_queue_cpu', 'ipi_send_cpu']));
  });

  it('1. a pure user-space spin on CPU 3 for 20 s: zero interruptions, exit 0', () => expectQuiet(b));

  it('2a. membarrier from CPU 0: exit 1, 100 ipi_mb named with sender, CPU and count', () => {
    expect(line(b, 'membarrier', 'done')).toMatchObject({ sent: '100', spinner_switches: '0' });
    expectCaught(b, 'membarrier', 'ipi', 'ipi_mb', 'sender_tid', 100);
  });

  it('2b. munmap of shared memory from CPU 0: exit 1, 100 flush_tlb_func named with the unmapper', () => {
    expect(line(b, 'unmap', 'done')).toMatchObject({ unmaps: '100', spinner_switches: '0' });
    expectCaught(b, 'unmap', 'ipi', 'flush_tlb_func', 'unmapper_tid', 100);
  });

  it('2c. vm.stat_refresh written from CPU 0: exit 1, 5 refresh_vm_stats work items named with the writer', () => {
    expect(line(b, 'stat_refresh', 'done')).toMatchObject({ writes: '5' });
    expectCaught(b, 'stat_refresh', 'workqueue', 'refresh_vm_stats', 'tid', 5);
  });

  it('3. syscalls of its own: exit 1 on the syscall class, exit 0 with --allow-self', () => expectSelf(b));
});

describe('isolwatch run in the quiet-CPU guest, 6.1 PREEMPT_RT (CPU 3 nohz_full)', () => {
  let b: Boot;
  beforeAll(async () => {
    b = await boot('rt', ['quiet', 'membarrier']);
  }, 960_000);

  it('loads the same object on the RT kernel', () => {
    const start = records(b, 'quiet')[0];
    expect(start.kernel).toMatch(/^6\.1\..*-rt-amd64$/);
    expect(start.probes.attached).toEqual(expect.arrayContaining(['sched_switch', 'smp_call_function_many_cond']));
  });

  it('1. a pure user-space spin on CPU 3 for 20 s: zero interruptions, exit 0', () => expectQuiet(b));

  it('2. membarrier from CPU 0: exit 1, 100 ipi_mb named with sender, CPU and count', () => {
    expect(line(b, 'membarrier', 'done')).toMatchObject({ sent: '100', spinner_switches: '0' });
    expectCaught(b, 'membarrier', 'ipi', 'ipi_mb', 'sender_tid', 100);
  });
});
