// Accounting under load: whatever reaches user space, the kernel counts every
// interruption, and for each CPU and class
//   count + self_caused = delivered + sampled + lost
// exactly, in the summary. Real BPF, a real syscall storm on CPU 1; the ring
// overflows for real: isolwatch is stopped (SIGSTOP) while the storm runs, so
// nothing drains the ring. The workload's own calls are counted exactly
// either way.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OutputRecord, SummaryRecord } from '../../src/types.js';
import type { AggregateRow } from '../../src/verdict/rows.js';
import { CLI, countOf, requireRoot, startWatch, startWorkload, totals } from './harness.js';

beforeAll(requireRoot);

async function storm(records: 'all' | 'sampled', pause: boolean, n: number) {
  const proc = spawn(process.execPath, [CLI, 'watch', '--json', '--cpus', '1', '--probes', 'default,+syscalls', '--records', records], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((res) => proc.on('exit', (c) => res(c)));
  try {
    for (let i = 0; !out.includes('"type":"start"'); i++) {
      if (proc.exitCode !== null || i > 600) throw new Error(`isolwatch did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const wl = await startWorkload('syscalls', ['--cpu', '1', '--count', String(n)]);
    if (pause) proc.kill('SIGSTOP'); // nobody drains: the 16 MiB ring fills and the kernel counts what it drops
    const done = await wl.go();
    if (pause) proc.kill('SIGCONT');
    await wl.finish();
    await new Promise((r) => setTimeout(r, 300));
    proc.kill('SIGINT');
    expect(await exited, err).toBe(0);
    const recs = out.trim().split('\n').map((l) => JSON.parse(l) as OutputRecord);
    return { recs, summary: recs.at(-1) as SummaryRecord, tid: Number(wl.ready.tid), calls: Number(done.calls) };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
    }
  }
}

/** count + self_caused = delivered + sampled + lost, for every CPU and class; and the totals agree with them. */
function expectBalanced(s: SummaryRecord): void {
  const acc = s.records!;
  let delivered = 0;
  let sampled = 0;
  let lost = 0;
  for (const [cpu, classes] of Object.entries(acc.by_cpu)) {
    for (const [cls, a] of Object.entries(classes)) {
      expect(a.count + a.self_caused, `CPU ${cpu} ${cls}`).toBe(a.delivered + a.sampled + a.lost);
      // the class counts of the summary are the kernel's
      if (s.kernel_counts?.[cpu]) expect(s.kernel_counts[cpu][cls as keyof (typeof s.kernel_counts)[string]] ?? 0, `CPU ${cpu} ${cls}`).toBe(a.count);
      delivered += a.delivered;
      sampled += a.sampled;
      lost += a.lost;
    }
  }
  expect([acc.delivered, acc.sampled, acc.lost]).toEqual([delivered, sampled, lost]);
}

describe('accounting under load (real ring, real storm)', () => {
  it('--records all, the ring overflowing: every record is delivered or counted lost; the task\'s calls are all counted', async () => {
    const n = 400_000; // ~72 B each: more than the 16 MiB ring holds
    const { recs, summary, tid, calls } = await storm('all', true, n);
    expect(calls).toBe(n);
    expect(summary.records!.mode).toBe('all');
    expect(summary.records!.lost, 'the ring never overflowed: the test did not test loss').toBeGreaterThan(0);
    expect(summary.records!.sampled).toBe(0);
    expectBalanced(summary);
    // exact, although records were lost: the warm-up call and the n of the window
    const mine = countOf(totals(recs), (r) => r.class === 'syscall' && r.kind === 'getppid' && r.victim.tid === tid);
    expect(mine).toBe(n + 1);
    // and what reached user space is what the kernel says it delivered: written, or left out of a
    // stdout that fell behind (the backlog after SIGCONT is far more than 16 MiB of NDJSON)
    expect(recs.filter((r) => r.type === 'interruption').length + (summary.output_dropped ?? 0)).toBe(summary.records!.delivered);
  }, 120_000);

  it('sampled (the default): the storm is a few records and one exact count', async () => {
    const n = 200_000;
    const { recs, summary, tid } = await storm('sampled', false, n);
    expect(summary.records!.mode).toBe('sampled');
    expect(summary.records!.sampled).toBeGreaterThan(n / 2);
    expectBalanced(summary);
    expect(countOf(totals(recs), (r) => r.class === 'syscall' && r.kind === 'getppid' && r.victim.tid === tid)).toBe(n + 1);
    const sampledOfMine = recs.filter((r) => r.type === 'interruption' && r.victim.tid === tid && r.kind === 'getppid').length;
    expect(sampledOfMine).toBeGreaterThan(0);
    expect(sampledOfMine).toBeLessThan(n / 100);
  }, 120_000);
});

describe('aggregate keys created by nested programs (real IPIs over real syscall exits)', () => {
  // A program counting a syscall at its exit runs with interrupts enabled; an
  // IPI that arrives while it creates a new key may create a key of its own.
  // Each must be created with its own comms: test/workloads/keychurn starts
  // short-lived threads on CPU 1 (each call of each thread a new key) while a
  // sender named kcsender IPIs CPU 1 with membarrier (each IPI over a new
  // thread a new key). Built in one shared slot, the syscall key took the
  // IPI's sender comm (1-4 such keys in each run of this size).
  it('every key names its own victim and cause', async () => {
    const threads = 500;
    const w = startWatch(['--cpus', '1', '--probes', 'default,+syscalls']);
    await w.ready;
    const wl = await startWorkload('keychurn', ['--cpu', '1', '--sender-cpu', '0', '--threads', String(threads)]);
    const done = await wl.go();
    await wl.finish();
    const { code, records, stderr } = await w.stop();
    expect(code, stderr).toBe(0);
    const pid = Number(wl.ready.pid);
    const sender = Number(wl.ready.sender_tid);
    const own = new Set([pid, Number(wl.ready.tid), sender]);
    const rows = totals(records).filter((r) => r.victim.pid === pid);
    const churned = (r: AggregateRow) => !own.has(r.victim.tid);
    // what the test caused, exactly: each thread's first getppid (and the others, one each)
    expect(Number(done.calls)).toBe(threads * Number(wl.ready.kinds));
    expect(countOf(rows, (r) => churned(r) && r.class === 'syscall' && r.kind === 'getppid')).toBe(threads);
    expect(countOf(rows, (r) => churned(r) && r.class === 'syscall' && r.kind === 'sched_getscheduler')).toBe(threads);
    // the race was there to lose: IPIs from the sender created keys over the short-lived threads
    const ipiKeys = rows.filter((r) => churned(r) && r.class === 'ipi' && r.cause.tid === sender);
    expect(ipiKeys.length, `membarrier calls: ${done.sent}`).toBeGreaterThan(threads / 4);
    const wrong = rows.filter(
      (r) =>
        (churned(r) && r.victim.comm !== 'keychurn') ||
        (r.cause.self && r.cause.comm !== r.victim.comm) ||
        (!r.cause.self && r.cause.tid === sender && r.cause.comm !== 'kcsender'),
    );
    expect(wrong.map((r) => JSON.stringify(r).slice(0, 240))).toEqual([]);
  }, 120_000);
});

describe('episodes opened with interrupts on (real work items under a real timer storm)', () => {
  // A work item starts in task context, interrupts enabled. An interrupt that
  // came between the check for a free episode slot and its claim used to open,
  // end and send its own episode in that slot, and the work item was appended
  // to it, never counted as a work item (0.6% of them with cyclictest's 50,000
  // timers a second on the CPU). Each write of vm.stat_refresh runs
  // refresh_vm_stats once on every online CPU: the test causes exactly N on CPU 1.
  it('every refresh_vm_stats the writer caused on CPU 1 is counted as a work item, named with the writer', async () => {
    const N = 5000;
    const w = startWatch(['--cpus', '1']);
    await w.ready;
    const timers = spawn('cyclictest', ['-a', '1', '-t', '1', '-i', '20', '-p', '50', '-q', '-D', '60'], { stdio: 'ignore' });
    const timersDone = new Promise<number | null>((res) => timers.on('exit', (c) => res(c)));
    try {
      const wl = await startWorkload('statrefresh', ['--cpu', '0', '--count', String(N)]);
      const done = await wl.go();
      await wl.finish();
      expect(Number(done.writes)).toBe(N);
      const { code, records, stderr } = await w.stop();
      expect(code, stderr).toBe(0);
      const writer = Number(wl.ready.tid);
      const rows = totals(records).filter((r) => r.cpu === 1 && r.func === 'refresh_vm_stats');
      expect(countOf(rows, (r) => r.class === 'workqueue' && r.cause.tid === writer)).toBe(N);
      // and the storm was there: cyclictest's timers hit CPU 1 all along
      expect(countOf(totals(records), (r) => r.cpu === 1 && r.class === 'timer')).toBeGreaterThan(N);
    } finally {
      timers.kill('SIGINT');
      await timersDone;
    }
  }, 120_000);
});
