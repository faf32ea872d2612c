// The human log: durations, one-line interruptions, the header's warnings,
// the summary table, and the whole log for each recording against golden files
// (exact). UPDATE_GOLDEN=1 rewrites the golden files; review the diff.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { formatDuration, causeText, chainText } from '../../src/output/format.js';
import { MDWE_WARNING } from '../helpers/records.js';
import { formatInterruption, formatIsol, formatStart, formatSummary, formatText, interruptionHeader } from '../../src/output/text.js';
import { parseNdjson, splitRecords } from '../../src/output/ndjson.js';
import { judgeRecords as judgeRun } from '../helpers/judge-records.js';
import type { InterruptionRecord, StartRecord } from '../../src/types.js';

const REC = 'test/fixtures/recordings';
const GOLDEN = 'test/fixtures/golden';
// 2025-11-21 15:46:40 UTC at ts_ns 5000 s, so the noisy run prints wall-clock times.
const REALTIME_OFFSET = 1_763_740_000_000_000_000n - 5_000_000_000_000n;

function expectGolden(actual: string, file: string): void {
  const path = `${GOLDEN}/${file}`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing: run UPDATE_GOLDEN=1 npx vitest run test/unit/output-text.test.ts and review it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

function load(name: string) {
  const s = splitRecords(parseNdjson(readFileSync(`${REC}/out-${name}.ndjson`, 'utf8'), `out-${name}.ndjson`));
  return { start: s.start!, summary: s.summary!, interruptions: s.interruptions };
}

const ipi: InterruptionRecord = {
  type: 'interruption',
  ts_ns: 5_001_123_456_789,
  cpu: 1,
  duration_ns: 3_100,
  class: 'ipi',
  kind: 'call_function_single',
  func: 'ipi_mb',
  victim: { pid: 4242, tid: 4242, comm: 'noise' },
  cause: { self: false, context: 'task', cpu: 0, pid: 4242, tid: 4243, comm: 'membarrier', callsite: 'membarrier_private_expedited+0x8d' },
  isol: { state: 'declared' },
  violation: true,
  chain: [{ class: 'ipi', kind: 'call_function_single', func: 'ipi_mb', duration_ns: 3_100, depth: 0 }],
};

describe('formatDuration', () => {
  it.each([
    [0, '0ns'],
    [100, '100ns'],
    [999, '999ns'],
    [1_000, '1us'],
    [3_100, '3.1us'],
    [3_140, '3.14us'],
    [12_345, '12.3us'],
    [250_000, '250us'],
    [999_700, '1ms'],
    [1_500_000, '1.5ms'],
    [1_234_567, '1.23ms'],
    [2_000_000_000, '2s'],
    [3_600_000_000_000, '3600s'],
    [-1, '-'],
    [Number.NaN, '-'],
  ])('%d ns -> %s', (ns, text) => {
    expect(formatDuration(ns)).toBe(text);
  });
});

describe('cause wording', () => {
  it('names the sender task, its CPU and callsite', () => {
    expect(causeText(ipi.cause)).toBe('membarrier/4243 on CPU 0 via membarrier_private_expedited+0x8d');
  });
  it('names contexts instead of the interrupted task', () => {
    expect(causeText({ self: false, context: 'softirq', cpu: 1, callsite: 'delayed_work_timer_fn+0x1d' })).toBe('softirq (timer) on CPU 1 via delayed_work_timer_fn+0x1d');
    expect(causeText({ self: false, context: 'hardirq', cpu: 3, callsite: 'nvme_irq+0x10' })).toBe('hardirq (nvme_irq) on CPU 3');
    expect(causeText({ self: false, context: 'hardirq' })).toBe('hardirq');
    expect(causeText({ self: true, context: 'self' })).toBe('self');
    expect(causeText({ self: false, origin: 'isolwatch', context: 'task', comm: 'isolwatch', tid: 7 })).toBe('isolwatch');
    expect(causeText({ self: false })).toBe('');
    expect(causeText({ self: false, cpu: 0 })).toBe('unknown sender on CPU 0');
  });
  it('shows the chain compactly', () => {
    expect(
      chainText({
        chain: [
          { class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update', duration_ns: 6, depth: 2 },
          { class: 'timer', kind: 'local_timer', duration_ns: 1, depth: 0 },
          { class: 'softirq', kind: 'TIMER', duration_ns: 2, depth: 1 },
        ],
      }),
    ).toBe('tick > TIMER > vmstat_update');
    expect(chainText(ipi)).toBe('');
  });
});

describe('formatInterruption', () => {
  it('writes one line in fixed columns under the header', () => {
    const line = formatInterruption(ipi, { realtimeOffsetNs: REALTIME_OFFSET });
    expect(line).toBe(
      '15:46:41.123456   1* ipi        call_function_single ipi_mb              3.1us  noise/4242 <- membarrier/4243 on CPU 0 via membarrier_private_expedited+0x8d',
    );
    const header = interruptionHeader();
    expect(header.indexOf('CLASS')).toBe(line.indexOf('ipi'));
    expect(header.indexOf('KIND')).toBe(line.indexOf('call_function_single'));
    expect(header.indexOf('FUNC')).toBe(line.indexOf('ipi_mb'));
    expect(header.indexOf('TASK')).toBe(line.indexOf('noise/'));
    // the fixed columns fit 80; the task and its cause trail after them
    expect(header.indexOf('TASK')).toBeLessThanOrEqual(80);
  });

  it('prints seconds since a time zero without a wall clock, and marks non-violations plainly', () => {
    const line = formatInterruption({ ...ipi, violation: false, cause: { self: true, context: 'self' }, class: 'syscall', kind: 'getppid', func: undefined, duration_ns: 310 }, { timeZeroNs: 5_000_000_000_000 });
    expect(line).toBe('       1.123457   1  syscall    getppid              -                   310ns  noise/4242 <- self');
  });

  it('truncates long kinds with ~ and adds chain, flags and action', () => {
    const line = formatInterruption(
      {
        ...ipi,
        class: 'workqueue',
        kind: 'drain_local_memcg_stock_long_name',
        func: 'drain_local_memcg_stock',
        cause: { self: false, context: 'task', cpu: 0, pid: 77, tid: 78, comm: 'kubelet' },
        chain: [
          { class: 'preempt', kind: 'kworker/1:2', duration_ns: 1, depth: 0 },
          { class: 'workqueue', kind: 'drain', func: 'drain_local_memcg_stock', duration_ns: 1, depth: 1 },
        ],
        flags: ['open_end'],
        action: { kind: 'signal', signal: 'SIGUSR1', target: 'victim', pid: 4242, result: 'delivered' },
      },
      { timeZeroNs: 5_001_000_000_000 },
    );
    expect(line).toBe(
      '       0.123457   1* workqueue  drain_local_memcg_s~ drain_local_memc~   3.1us  noise/4242 <- kubelet/78 on CPU 0 [kworker/1:2 > drain_local_memcg_stock] (open_end) => SIGUSR1 to victim 4242: delivered',
    );
  });
});

describe('formatStart', () => {
  const base: StartRecord = {
    type: 'start',
    version: '0.1.0',
    kernel: '6.18.0',
    arch: 'x86_64',
    watched_cpus: [1, 2, 3],
    isolated: [1, 2],
    nohz_full: [2],
    watched_reason: 'user',
    pr_isol: 'kernel',
    probes: { attached: ['a', 'b'], missing: [] },
  };
  it('says plainly when a watched CPU cannot be quiet', () => {
    const lines = formatStart(base).split('\n');
    for (const l of lines.slice(0, -1)) expect(l.length).toBeLessThanOrEqual(80); // all but the column header
    const text = lines.join('\n').replace(/\n  /g, ' ');
    expect(text).toContain('watching CPU 1-3: chosen with --cpus');
    expect(text).toContain('warning: CPU 3 is neither isolated nor nohz_full: the scheduler, its tick, timers and kernel work run there, so such a CPU cannot be quiet');
    expect(text).toContain('warning: CPU 1 is isolated but not nohz_full: expect the scheduler tick (boot with nohz_full=1)');
    expect(text).toContain('probes: 2 attached, none missing');
  });
  it('has no warning when every watched CPU is isolated and nohz_full', () => {
    expect(formatStart({ ...base, watched_cpus: [2] })).not.toContain('warning');
  });
  it('wraps long lists of missing probes at 80 columns', () => {
    const missing = Array.from({ length: 12 }, (_, i) => `irq_vectors:some_long_probe_${i}_entry`);
    const lines = formatStart({ ...base, probes: { attached: [], missing } }).split('\n');
    expect(lines.some((l) => l.includes('12 missing (skipped):'))).toBe(true);
    for (const l of lines.filter((x) => x.startsWith('  irq_vectors'))) expect(l.length).toBeLessThanOrEqual(80);
  });
});

describe('formatSummary', () => {
  it('says "no interruptions" for a quiet run and keeps the table', () => {
    const { summary } = load('quiet');
    const text = formatSummary(summary);
    expect(text.split('\n').slice(0, 4)).toEqual([
      'summary: 30.2s on CPU 2-3: no interruptions',
      'CPU  total  stolen  max',
      '2        0     0ns  0ns',
      '3        0     0ns  0ns',
    ]);
    expect(text).toContain('verdict: PASS');
  });

  it('notes interruptions the kernel counted but the ring buffer lost', () => {
    const { summary } = load('noisy');
    const lossy = { ...summary, lost_events: 3, kernel_counts: { '1': { ...summary.kernel_counts!['1'], ipi: 108 } } };
    const text = formatSummary(lossy);
    expect(text).toContain('note: kernel counters saw 3 more interruptions on CPU 1 than were recorded (lost events)');
    expect(text).toContain('lost events: 3');
    const late = formatSummary({ ...lossy, lost_events: 0 });
    expect(late).toContain('note: kernel counters saw 3 more interruptions on CPU 1 than were recorded (in flight when the counters were read)');
  });

  it('with the kernel\'s records account: says how many were shown of how many, and that the counts are exact', () => {
    const { summary } = load('noisy');
    const records = { mode: 'sampled' as const, delivered: 40, sampled: 9960, lost: 5, by_cpu: {} };
    const text = formatSummary({ ...summary, lost_events: 5, records, kernel_counts: { '1': { ipi: 99999 } } });
    expect(text).toContain('records: 40 of 10005 interruptions shown one by one (sampled: the first of each kind and a few a second; every count above is exact; --records all for every one)');
    expect(text).toContain('note: 5 records lost (ring buffer full): the record list is incomplete; every count above is exact (counted in the kernel)');
    // the counts come from the kernel's aggregates: no "kernel counters saw more" note
    expect(text).not.toContain('kernel counters saw');
    expect(formatSummary({ ...summary, records: { ...records, mode: 'all', sampled: 0 } })).not.toContain('shown one by one');
  });

  it('lists every isolated task and the busiest others, up to 10, then says how many more', () => {
    const { summary } = load('noisy');
    const task = (i: number, isol: 'none' | 'declared') => ({ pid: 100 + i, tid: 100 + i, comm: `t${i}`, isol, source: isol, interruptions: 50 - i, violations: isol === 'none' ? 0 : 3, stolen_ns: 1000 });
    const tasks = [...Array.from({ length: 15 }, (_, i) => task(i, 'none')), task(20, 'declared'), task(21, 'declared')];
    const text = formatSummary({ ...summary, tasks: tasks as never });
    expect(text).toMatch(/t20\/120 +declared/);
    expect(text).toMatch(/t21\/121 +declared/);
    expect(text).toMatch(/t7\/107 +none/);
    expect(text).not.toMatch(/t8\/108/);
    expect(text).toContain('  ... and 7 other tasks that were not isolated (all of them: --json)');
    expect(formatSummary({ ...summary, tasks: tasks.slice(0, 10) as never })).not.toContain('... and');
  });

  it('takes the verdict from the judgement when the summary has none', () => {
    const { summary, interruptions, start } = load('noisy');
    const j = judgeRun({ interruptions, watchedCpus: start.watched_cpus, exit_status: 2 });
    const text = formatSummary({ ...summary, verdict: undefined }, j);
    expect(text).toContain('verdict: FAIL\n');
    expect(text).toContain('  - command exited with status 2');
  });
});

describe('text log golden files', () => {
  it('out-noisy (wall-clock times, judged with 1 s warm-up)', () => {
    const r = load('noisy');
    const judgement = judgeRun({ interruptions: r.interruptions, watchedCpus: r.start.watched_cpus, warmupEndNs: r.start.ts_ns! + 1e9, exit_status: 0 });
    expectGolden(formatText({ ...r, judgement, options: { realtimeOffsetNs: REALTIME_OFFSET } }), 'out-noisy.txt');
  });
  it('out-quiet', () => {
    const r = load('quiet');
    const judgement = judgeRun({ interruptions: r.interruptions, watchedCpus: r.start.watched_cpus, exit_status: 0 });
    expectGolden(formatText({ ...r, judgement }), 'out-quiet.txt');
  });
  it('out-not-isolated (seconds since start)', () => {
    const r = load('not-isolated');
    expectGolden(formatText(r), 'out-not-isolated.txt');
  });
});

describe('PR_ISOL-numbered prctls in the text log', () => {
  it('are lines of their own, loud when the number meant something else on this kernel', () => {
    expect(formatIsol(MDWE_WARNING, { timeZeroNs: 5_000_000_000_000 })).toBe(
      '       0.100000 warning: rt-app/5001 PR_ISOL_CFG_SET = 0: PR_SET_MDWE (stock kernel): memory-deny-write-execute turned on, irreversibly',
    );
    expect(formatText({ interruptions: [], isol: [MDWE_WARNING] })).toContain('warning: rt-app/5001 PR_ISOL_CFG_SET');
  });
});
