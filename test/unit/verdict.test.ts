// The verdict module: durations, budgets and the rule for which limits hold,
// the judgement of run/report/watch, top causes and sender names.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  BudgetError,
  didYouMean,
  formatBudgets,
  formatDuration,
  limitLabel,
  limitsText,
  mergeBudgets,
  parseBudget,
  parseDuration,
  rowsFromRecords,
  topCauses,
} from '../../src/verdict/index.js';
import { judgeRecords } from '../helpers/judge-records.js';
import { parseNdjson, splitRecords } from '../../src/output/ndjson.js';
import type { Cause, InterruptionClass, InterruptionRecord } from '../../src/types.js';

function rec(over: Partial<InterruptionRecord> & { cause?: Cause } = {}): InterruptionRecord {
  return {
    type: 'interruption',
    ts_ns: 2_000,
    cpu: 1,
    duration_ns: 1_000,
    class: 'ipi',
    kind: 'call_function_single',
    func: 'ipi_mb',
    victim: { pid: 10, tid: 10, comm: 'app' },
    cause: { self: false, context: 'task', cpu: 0, pid: 10, tid: 11, comm: 'helper' },
    isol: { state: 'declared' },
    violation: true,
    chain: [],
    ...over,
  };
}

const judgeRun = judgeRecords;

function self(klass: InterruptionClass, kind: string, over: Partial<InterruptionRecord> = {}): InterruptionRecord {
  return rec({ class: klass, kind, func: undefined, cause: { self: true, context: 'self' }, duration_ns: 300, ...over });
}

describe('parseDuration', () => {
  it.each([
    ['50us', 50_000],
    ['1.5ms', 1_500_000],
    ['2s', 2_000_000_000],
    ['100ns', 100],
    ['0ns', 0],
    ['.5us', 500],
    ['3µs', 3_000],
    ['10 us', 10_000],
    ['1.0005us', 1_001],
    ['2m', 120_000_000_000],
    ['1h', 3_600_000_000_000],
  ])('%s = %d ns', (text, ns) => {
    expect(parseDuration(text)).toBe(ns);
  });

  it('a bare number is seconds only where the caller says so (CLI time flags)', () => {
    expect(parseDuration('10', 's')).toBe(10e9);
    expect(parseDuration('0.5', 's')).toBe(5e8);
    expect(parseDuration('2m', 's')).toBe(120e9);
  });

  it('formats with three significant digits and reads its own output back', () => {
    for (const ns of [850, 3_100, 250_000, 1_250_000, 2e9, 999_700]) expect(parseDuration(formatDuration(ns))).toBeCloseTo(ns, -Math.floor(Math.log10(ns)) + 2);
    expect(formatDuration(999_700)).toBe('1ms');
  });

  it.each([
    ['50', /'50' needs a unit \(e\.g\. 50us; units: ns, us, µs, ms, s, m, h\)/],
    ['50x', /unknown unit 'x'/],
    ['fast', /not a duration/],
    ['-1us', /not a duration/],
    ['', /not a duration/],
  ])('%j is rejected', (text, msg) => {
    expect(() => parseDuration(text)).toThrow(msg);
  });
});

describe('parseBudget', () => {
  it('reads classes, stolen and total', () => {
    expect(parseBudget('ipi=3, syscall=0,stolen=1.5ms,total=10')).toEqual({
      classes: { ipi: 3, syscall: 0 },
      stolen_ns: 1_500_000,
      total: 10,
    });
  });

  it('names the option, the bad part and what is expected', () => {
    expect(() => parseBudget('ipis=3')).toThrow(
      "--budget 'ipis=3': unknown class 'ipis' (expected syscall, page_fault, exception, irq, timer, ipi, softirq, workqueue, preempt, nmi, kernel, stolen, total); did you mean 'ipi'?",
    );
    expect(() => parseBudget('pagefault=1')).toThrow(/did you mean 'page_fault'\?/);
    expect(() => parseBudget('zzzzzz=1')).not.toThrow(/did you mean/);
  });

  it.each([
    ['', /empty budget \(write CLASS=N/],
    ['   ', /empty budget/],
    ['ipi=1,,syscall=2', /empty entry at position 2 \(remove the extra comma\)/],
    ['ipi=1,', /empty entry at position 2/],
    ['ipi', /'ipi' has no '=' \(write CLASS=N or stolen=DURATION/],
    ['ipi=', /'ipi' has no value \(write ipi=0\)/],
    ['stolen=', /'stolen' has no value \(write stolen=50us\)/],
    ['ipi=-1', /'ipi=-1': the limit must be a whole number of interruptions >= 0 \(e\.g\. ipi=3\)/],
    ['ipi=1.5', /whole number/],
    ['ipi=three', /whole number/],
    ['ipi=1,ipi=2', /'ipi' is given twice \(keep one\)/],
    ['stolen=50', /--budget 'stolen=50': stolen '50' needs a unit/],
    ['stolen=3', /needs a unit/],
    ['ipi=99999999999999999999', /limit too large/],
  ])('%j -> error', (spec, msg) => {
    expect(() => parseBudget(spec)).toThrow(BudgetError);
    expect(() => parseBudget(spec)).toThrow(msg);
  });

  it('round-trips through formatBudgets', () => {
    const b = parseBudget('syscall=5,ipi=0,stolen=50us');
    expect(formatBudgets(b)).toBe('syscall=5,ipi=0,stolen=50us');
    expect(parseBudget(formatBudgets(b))).toEqual(b);
  });
});

describe('mergeBudgets', () => {
  it('lets later budgets override earlier ones key by key', () => {
    const policy = parseBudget('ipi=2,syscall=5,stolen=1ms');
    const cli = parseBudget('ipi=0,total=3');
    expect(mergeBudgets(policy, undefined, cli)).toEqual({
      classes: { ipi: 0, syscall: 5 },
      stolen_ns: 1_000_000,
      total: 3,
    });
    expect(mergeBudgets()).toBeUndefined();
  });

  it('does not modify its inputs', () => {
    const a = parseBudget('ipi=2');
    mergeBudgets(a, parseBudget('ipi=5'));
    expect(a).toEqual({ classes: { ipi: 2 } });
  });
});

describe('limitLabel', () => {
  it('spells counts and durations', () => {
    expect(limitLabel({ name: 'ipi', limit: 0, unit: 'count' })).toBe('ipi<=0');
    expect(limitLabel({ name: 'stolen', limit: 50_000, unit: 'ns' })).toBe('stolen<=50us');
  });
});

describe('which limits hold (README: the budget rule)', () => {
  const tick = () => rec({ class: 'timer', kind: 'local_timer', func: 'tick_nohz_handler', cause: { self: false, context: 'unknown' } });
  const noisy = [tick(), tick(), tick(), rec()];
  it('no --budget, no policy: every class is held to zero', () => {
    const j = judgeRun({ interruptions: noisy, watchedCpus: [1] });
    expect(j.quietRequired).toBe(true);
    expect(j.reasons.map((r) => r.split(' ')[1])).toEqual(['timer<=0', 'ipi<=0']);
    expect(limitsText(j)).toBe('none given: every class <=0 while isolated');
  });
  it('only stolen= or total=: those limits alone (a machine with a tick can pass)', () => {
    expect(judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('stolen=1s') }).pass).toBe(true);
    expect(judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('total=100000') }).pass).toBe(true);
    const over = judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('total=3') });
    expect(over.reasons).toEqual(['budget total<=3 exceeded: 4 while isolated; most: tick_nohz_handler from unknown sender x3']);
    expect(limitsText(over)).toBe('total<=3');
    const both = judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('total=10,stolen=3us') });
    expect(both.reasons).toEqual(['budget stolen<=3us exceeded: 4us stolen; most: tick_nohz_handler from unknown sender x3']);
  });
  it('classes named: those limits, every other class at zero, run-wide limits beside them', () => {
    const j = judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('timer=3') });
    expect(j.reasons).toEqual(['budget ipi<=0 exceeded: 1 while isolated; most: ipi_mb from helper/11 on CPU 0 x1']);
    expect(limitsText(j)).toBe('timer<=3; every other class <=0');
    expect(judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('timer=3,ipi=1') }).pass).toBe(true);
    expect(judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('timer=3,ipi=1,total=3') }).pass).toBe(false);
  });
  it('a policy and no --budget: the policy alone judges', () => {
    const quiet = judgeRun({ interruptions: noisy, watchedCpus: [1], policy: { name: 'observe', failures: [], notes: [] } });
    expect(quiet.pass).toBe(true);
    expect(quiet.perBudget).toEqual([]);
    expect(limitsText(quiet)).toBe('none: the policy judges');
    const failed = judgeRun({ interruptions: noisy, watchedCpus: [1], policy: { name: 'strict', failures: ["policy 'strict' rule 'any' failed the run"], notes: [] } });
    expect(failed.reasons).toEqual(["policy 'strict' rule 'any' failed the run"]);
    expect(failed.failures[0].kind).toBe('policy');
  });
  it('a policy and --budget: both judge', () => {
    const j = judgeRun({ interruptions: noisy, watchedCpus: [1], budgets: parseBudget('total=1'), policy: { name: 'p', failures: ['policy failed'], notes: [] } });
    expect(j.failures.map((f) => f.kind)).toEqual(['budget', 'policy']);
    expect(limitsText(j)).toBe('total<=1; and the policy');
  });
});

describe('did you mean', () => {
  it('suggests the nearest known word for typos and prefixes only', () => {
    expect(didYouMean('ipis', ['ipi', 'irq'])).toBe("; did you mean 'ipi'?");
    expect(didYouMean('--durtion', ['--duration', '--json'])).toBe("; did you mean '--duration'?");
    expect(didYouMean('zzzzzz', ['ipi', 'irq'])).toBe('');
  });
});

describe('judgeRun', () => {
  it('passes a quiet run and fails nothing', () => {
    const j = judgeRun({ interruptions: [], watchedCpus: [2, 3], exit_status: 0 });
    expect(j.pass).toBe(true);
    expect(j.reasons).toEqual([]);
    expect(Object.keys(j.perCpu)).toEqual(['2', '3']);
    expect(j.perCpu['2']).toMatchObject({ cpu: 2, count: 0, pass: true });
    expect(j.perBudget).toHaveLength(11);
    expect(j.perBudget.every((b) => b.pass && b.limit === 0 && !b.explicit)).toBe(true);
    expect(j.quietRequired).toBe(true);
    expect(j.command).toEqual({ exit_status: 0, signal: null, failed: false, judged: true });
  });

  it('default budget: zero interruptions while isolated', () => {
    const j = judgeRun({ interruptions: [rec()], watchedCpus: [1] });
    expect(j.pass).toBe(false);
    expect(j.reasons).toEqual(['budget ipi<=0 exceeded: 1 while isolated; most: ipi_mb from helper/11 on CPU 0 x1']);
    expect(j.perCpu['1'].pass).toBe(false);
    expect(j.perBudget.find((b) => b.name === 'ipi')).toMatchObject({ limit: 0, observed: 1, pass: false });
  });

  it('does not count interruptions while the victim was not isolated', () => {
    const j = judgeRun({
      interruptions: [rec({ violation: false, isol: { state: 'inactive' } }), rec({ violation: false, isol: { state: 'none' } })],
      watchedCpus: [1],
    });
    expect(j.pass).toBe(true);
    expect(j.notIsolated).toBe(2);
  });

  it("respects the engine's (or the policy's) violation flag", () => {
    // a policy allowed this one: violation false although the task was isolated
    const allowed = rec({ violation: false, isol: { state: 'active' } });
    expect(judgeRun({ interruptions: [allowed], watchedCpus: [1] }).pass).toBe(true);
  });

  it("counts the task's own syscalls and faults against their classes unless allowSelf", () => {
    const recs = [self('syscall', 'getppid'), self('syscall', 'getppid'), self('page_fault', 'user')];
    const strict = judgeRun({ interruptions: recs, watchedCpus: [1] });
    expect(strict.pass).toBe(false);
    expect(strict.perBudget.find((b) => b.name === 'syscall')?.observed).toBe(2);
    expect(strict.perBudget.find((b) => b.name === 'page_fault')?.observed).toBe(1);
    expect(strict.reasons[0]).toBe('budget syscall<=0 exceeded: 2 while isolated; most: getppid by the task itself x2');

    const lenient = judgeRun({ interruptions: [...recs, rec()], watchedCpus: [1], allowSelf: true });
    expect(lenient.allowedSelf).toBe(3);
    expect(lenient.perBudget.find((b) => b.name === 'syscall')?.observed).toBe(0);
    // allowSelf is about the task's own entries only: the IPI still fails the run
    expect(lenient.pass).toBe(false);
    expect(lenient.reasons).toHaveLength(1);
  });

  it('reports what happened before warm-up end separately and does not judge it', () => {
    const early = [self('page_fault', 'user', { ts_ns: 10, violation: false, isol: { state: 'inactive' } }), rec({ ts_ns: 999 })];
    const j = judgeRun({ interruptions: [...early, rec({ ts_ns: 1_000, class: 'timer', kind: 'local_timer', func: undefined, violation: false, isol: { state: 'none' } })], watchedCpus: [1], warmupEndNs: 1_000 });
    expect(j.pass).toBe(true);
    expect(j.warmup).toMatchObject({ count: 2, by_class: { page_fault: 1, ipi: 1 }, stolen_ns: 1_300, max_ns: 1_000 });
    expect(j.warmup.topCauses.map((t) => t.what)).toEqual(['ipi_mb', 'user']); // costliest first
    // ts == warm-up end is after warm-up
    expect(j.notIsolated).toBe(1);
  });

  it('judges only the window [warm-up end, window end); what follows is reported as after', () => {
    const recs = [
      rec({ ts_ns: 500 }), // warm-up
      rec({ ts_ns: 1_000, duration_ns: 10 }), // judged
      rec({ ts_ns: 1_999, duration_ns: 20 }), // judged (last ns of the window)
      self('syscall', 'exit', { ts_ns: 2_000, duration_ns: 40 }), // the command's exit path
      rec({ ts_ns: 2_500, duration_ns: 80 }),
    ];
    const j = judgeRun({ interruptions: recs, watchedCpus: [1], warmupEndNs: 1_000, windowEndNs: 2_000 });
    expect(j.counted).toMatchObject({ count: 2, stolen_ns: 30 });
    expect(j.warmup.count).toBe(1);
    expect(j.after).toMatchObject({ count: 2, by_class: { syscall: 1, ipi: 1 }, stolen_ns: 120, max_ns: 80 });
    expect(j.after.topCauses.map((t) => t.what)).toEqual(['ipi_mb', 'exit']); // 80ns before 40ns
    // without a window end, the same exit path is judged
    const open = judgeRun({ interruptions: recs, watchedCpus: [1], warmupEndNs: 1_000 });
    expect(open.counted.count).toBe(4);
    expect(open.after.count).toBe(0);
  });

  it('judges per-class limits and the stolen budget over all watched CPUs', () => {
    const recs = [rec({ cpu: 1, duration_ns: 30_000 }), rec({ cpu: 2, duration_ns: 30_000 }), rec({ cpu: 2, duration_ns: 1_000 })];
    const ok = judgeRun({ interruptions: recs, watchedCpus: [1, 2], budgets: parseBudget('ipi=3,stolen=61us') });
    expect(ok.pass).toBe(true);
    expect(ok.quietRequired).toBe(false);
    expect(ok.perCpu['2']).toMatchObject({ count: 2, pass: true, stolen_ns: 31_000, max_ns: 30_000 });

    const over = judgeRun({ interruptions: recs, watchedCpus: [1, 2], budgets: parseBudget('ipi=3,stolen=50us') });
    expect(over.pass).toBe(false);
    expect(over.reasons).toEqual(['budget stolen<=50us exceeded: 61us stolen; most: ipi_mb from helper/11 on CPU 0 x3']);
    const stolen = over.perBudget.find((b) => b.name === 'stolen');
    expect(stolen).toMatchObject({ unit: 'ns', limit: 50_000, observed: 61_000, pass: false, explicit: true });
    // both CPUs contributed to the failed run-wide budget
    expect(over.perCpu['1'].pass).toBe(false);
    expect(over.perCpu['2'].pass).toBe(false);
  });

  it('marks only the CPUs that contributed to a failed class budget', () => {
    const recs = [rec({ cpu: 1 }), self('syscall', 'read', { cpu: 2 })];
    const j = judgeRun({ interruptions: recs, watchedCpus: [1, 2, 3], budgets: parseBudget('syscall=5') });
    expect(j.perCpu['1'].pass).toBe(false);
    expect(j.perCpu['2'].pass).toBe(true);
    expect(j.perCpu['3']).toMatchObject({ pass: true, count: 0 });
  });

  it('applies a total budget across classes', () => {
    const recs = [rec(), self('syscall', 'read')];
    expect(judgeRun({ interruptions: recs, watchedCpus: [1], budgets: parseBudget('ipi=5,syscall=5,total=1') }).reasons).toEqual([
      'budget total<=1 exceeded: 2 while isolated; most: ipi_mb from helper/11 on CPU 0 x1',
    ]);
  });

  it('fails a run whose command failed, unless told otherwise', () => {
    expect(judgeRun({ interruptions: [], watchedCpus: [1], exit_status: 3 })).toMatchObject({
      pass: false,
      reasons: ['command exited with status 3'],
      command: { exit_status: 3, failed: true, judged: true },
    });
    expect(judgeRun({ interruptions: [], watchedCpus: [1], exit_status: null, signal: 'SIGKILL' }).reasons).toEqual(['command was killed by SIGKILL']);
    const told = judgeRun({ interruptions: [], watchedCpus: [1], exit_status: 3, failOnCmdError: false });
    expect(told.pass).toBe(true);
    expect(told.command).toMatchObject({ failed: true, judged: false });
    expect(judgeRun({ interruptions: [], watchedCpus: [1] }).command).toBeUndefined();
    // why the policy killed it comes right after, and does not fail the run a second time
    const killed = judgeRun({ interruptions: [], watchedCpus: [1], exit_status: null, signal: 'SIGKILL', policy: { name: 'strict', failures: [], notes: ['isolwatch sent SIGKILL'] } });
    expect(killed.reasons).toEqual(['command was killed by SIGKILL', 'isolwatch sent SIGKILL']);
  });

  it('does not judge interruptions isolwatch caused itself (in any phase) or CPUs it does not watch', () => {
    const mine = (ts_ns: number) => rec({ ts_ns, duration_ns: 422_000_000, cause: { self: false, origin: 'isolwatch', context: 'task', comm: 'isolwatch', tid: 1, cpu: 0 } });
    const j = judgeRun({ interruptions: [mine(5_000), mine(10), rec({ cpu: 5 })], watchedCpus: [1], warmupEndNs: 1_000 });
    expect(j.pass).toBe(true);
    expect(j.toolCaused).toBe(2);
    expect(j.warmup.count).toBe(0);
    expect(j.counted.max_ns).toBe(0);
    expect(j.perCpu['5']).toBeUndefined();
  });

  it('judges the noisy recording: IPIs, work and own syscalls fail; warm-up is separate', () => {
    const recs = splitRecords(parseNdjson(readFileSync('test/fixtures/recordings/out-noisy.ndjson', 'utf8')));
    const start = recs.start!;
    const j = judgeRun({ interruptions: recs.interruptions, watchedCpus: start.watched_cpus, warmupEndNs: start.ts_ns! + 1e9, exit_status: 0 });
    expect(j.pass).toBe(false);
    expect(j.counted).toMatchObject({ count: 118, by_class: { ipi: 105, workqueue: 3, syscall: 10 } });
    expect(j.warmup).toMatchObject({ count: 6, by_class: { page_fault: 3, syscall: 2, timer: 1 } });
    expect(j.reasons).toEqual(recs.summary!.verdict!.reasons);
    const allowSelf = judgeRun({ interruptions: recs.interruptions, watchedCpus: [1], warmupEndNs: start.ts_ns! + 1e9, allowSelf: true, budgets: parseBudget('ipi=105,workqueue=3') });
    expect(allowSelf.pass).toBe(true);
    expect(allowSelf.allowedSelf).toBe(10);
  });
});

describe('topCauses', () => {
  it('groups by class, func||kind, sender comm/context and CPU; costliest first', () => {
    const recs = [
      rec({ duration_ns: 5 }),
      rec({ duration_ns: 7 }),
      rec({ duration_ns: 100, cause: { self: false, context: 'task', cpu: 2, pid: 10, tid: 11, comm: 'helper' } }),
      rec({ duration_ns: 50, func: 'flush_tlb_func', cause: { self: false, context: 'task', cpu: 0, pid: 10, tid: 12, comm: 'unmap' } }),
      rec({ class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update', duration_ns: 9, cause: { self: false, context: 'softirq', cpu: 1, callsite: 'delayed_work_timer_fn+0x1d' } }),
      rec({ class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update', duration_ns: 9, cause: { self: false, context: 'softirq', cpu: 1, callsite: 'delayed_work_timer_fn+0x1d' } }),
    ];
    const t = topCauses(rowsFromRecords(recs));
    expect(t.map((x) => [x.what, x.senderLabel, x.count, x.stolen_ns, x.max_ns])).toEqual([
      ['ipi_mb', 'helper/11 on CPU 2', 1, 100, 100],
      ['flush_tlb_func', 'unmap/12 on CPU 0', 1, 50, 50],
      ['vmstat_update', 'softirq (timer) on CPU 1', 2, 18, 9],
      ['ipi_mb', 'helper/11 on CPU 0', 2, 12, 7],
    ]);
    expect(t[2].sender).toMatchObject({ kind: 'context', context: 'softirq', why: 'timer', cpu: 1 });
    expect(t[3]).toMatchObject({ sender: { kind: 'task', comm: 'helper', tid: 11, pid: 10, cpu: 0 }, cpus: [1] });
    expect(topCauses(rowsFromRecords(recs), 1)).toHaveLength(1);
  });

  it('names the comm when several of its threads sent the same thing', () => {
    const a = rec({ cause: { self: false, context: 'task', cpu: 0, pid: 10, tid: 11, comm: 'helper' } });
    const b = rec({ cause: { self: false, context: 'task', cpu: 0, pid: 10, tid: 12, comm: 'helper' } });
    const t = topCauses(rowsFromRecords([a, b]));
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ senderLabel: 'helper/* on CPU 0', senderIds: [11, 12], count: 2 });
  });

  it('falls back to kind when there is no func', () => {
    const t = topCauses(rowsFromRecords([self('syscall', 'getppid'), self('syscall', 'getppid', { cpu: 3 })]));
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ what: 'getppid', senderLabel: 'the task itself', cpus: [1, 3], count: 2 });
  });
});
