// Aggregates of exited tasks moved out of the kernel's table (src/live/retire.ts,
// used by serve): which keys are frozen, that taking them keeps every count
// (live + retired = before), and that what is kept is merged by name.
import { describe, expect, it } from 'vitest';
import { AGG_KEY_SIZE, decodeAggKey, encodeAggKey, aggKeyId, type RawAggKey, type RawAggregate } from '../../src/contract/aggregate.js';
import { IW } from '../../src/contract/layout.generated.js';
import { RetiredAggregates, withoutIds } from '../../src/live/retire.js';
import { HIST_BUCKETS, type AggregateRow } from '../../src/verdict/rows.js';

function agg(k: Partial<RawAggKey>, count: number, comm = 'spin', causeComm = ''): RawAggregate {
  const key: RawAggKey = {
    func: 0n, callsite: 0n, cpu: 1, kind: 0, victim_pid: 0, victim_tid: 0, cause_pid: 0, cause_tid: 0, cause_cpu: 0,
    class: IW.IW_CLASS_IPI, cause_ctx: IW.IW_CTX_NONE, flags: 0, epoch: 0, ...k,
  };
  const hist = new Array<number>(HIST_BUCKETS).fill(0);
  hist[10] = count;
  return { key, value: { count, stolen_ns: count * 1000, max_ns: 1500, last_ns: 0, records: 1, hist, victim_comm: comm, cause_comm: causeComm, name: '' } };
}

/** A stand-in kernel table and the rows a session would make of it (names from the key's comms). */
function fakeSession(aggs: RawAggregate[]) {
  const table = new Map(aggs.map((a) => [aggKeyId(a.key), a]));
  return {
    table,
    aggregates: () => [...table.values()],
    take: (keys: readonly RawAggKey[]) =>
      keys.flatMap((k) => {
        const a = table.get(aggKeyId(k));
        table.delete(aggKeyId(k));
        return a ? [a] : [];
      }),
    rows: (as: RawAggregate[]): AggregateRow[] =>
      as.map((a) => ({
        cpu: a.key.cpu,
        class: 'ipi',
        kind: 'call_function_single',
        func: 'ipi_mb',
        victim: { pid: a.key.victim_pid, tid: a.key.victim_tid, comm: a.value.victim_comm },
        cause: a.key.cause_ctx === IW.IW_CTX_TASK ? { self: false, context: 'task', pid: a.key.cause_pid, tid: a.key.cause_tid, comm: a.value.cause_comm, cpu: 0 } : { self: false, context: 'unknown' },
        isol: 'none',
        phase: 'judged',
        violation: false,
        count: a.value.count,
        stolen_ns: a.value.stolen_ns,
        max_ns: a.value.max_ns,
        hist: a.value.hist,
      })),
  };
}

describe('the aggregate key as map bytes', () => {
  it('encodes to what decodes back, padding zero', () => {
    const k: RawAggKey = { func: 0xffffffff81234567n, callsite: 0xffffffff8100aaaan, cpu: 3, kind: 251, victim_pid: 4242, victim_tid: 4243, cause_pid: 77, cause_tid: 78, cause_cpu: 0, class: 5, cause_ctx: 1, flags: 0x50, epoch: 1 };
    const b = encodeAggKey(k);
    expect(b.length).toBe(AGG_KEY_SIZE);
    expect(decodeAggKey(b)).toEqual(k);
    expect([...b.slice(52)]).toEqual([0, 0, 0, 0]);
  });
});

describe('retired aggregates', () => {
  const alive = new Set([100, 500]);
  const live = agg({ victim_pid: 100, victim_tid: 100, cause_ctx: IW.IW_CTX_TASK, cause_pid: 500, cause_tid: 500 }, 10, 'spin', 'membarrier');
  const deadSender = agg({ victim_pid: 100, victim_tid: 100, cause_ctx: IW.IW_CTX_TASK, cause_pid: 600, cause_tid: 601 }, 5, 'spin', 'membarrier');
  const deadSender2 = agg({ victim_pid: 100, victim_tid: 100, cause_ctx: IW.IW_CTX_TASK, cause_pid: 700, cause_tid: 700 }, 7, 'spin', 'membarrier');
  const deadVictim = agg({ victim_pid: 200, victim_tid: 201, cause_ctx: IW.IW_CTX_NONE }, 3, 'short-lived');
  const noTask = agg({ victim_pid: 0, victim_tid: 0, cause_ctx: IW.IW_CTX_NONE }, 2, 'swapper/1');
  const overflow = agg({ flags: IW.IW_AGG_F_OVERFLOW }, 9, '');
  // an IPI sent from softirq context on CPU 0 is keyed by the task the softirq interrupted there
  // (seen in CI: an RCU/timer softirq ran over the membarrier sender, which then exited, while the
  // victim lived on; the key stayed in the kernel's table)
  const softirqOverDead = agg({ victim_pid: 100, victim_tid: 100, cause_ctx: IW.IW_CTX_SOFTIRQ, cause_pid: 800, cause_tid: 802 }, 1, 'spin', 'membarrier');
  const hardirqOverLive = agg({ victim_pid: 100, victim_tid: 100, cause_ctx: IW.IW_CTX_HARDIRQ, cause_pid: 500, cause_tid: 500 }, 1, 'spin', 'membarrier');
  const softirqOverIdle = agg({ victim_pid: 100, victim_tid: 100, cause_ctx: IW.IW_CTX_SOFTIRQ, cause_pid: 0, cause_tid: 0 }, 4, 'spin', 'swapper/0');

  it('takes the keys whose victim or sending task has exited; never an overflow key, never task 0', () => {
    const r = new RetiredAggregates((tid) => alive.has(tid));
    const frozen = r.frozen([live, deadSender, deadSender2, deadVictim, noTask, overflow]).map(aggKeyId);
    expect(frozen.sort()).toEqual([deadSender, deadSender2, deadVictim].map((a) => aggKeyId(a.key)).sort());
  });

  it('a sender in interrupt context: its key freezes when the task it interrupted has exited', () => {
    const r = new RetiredAggregates((tid) => alive.has(tid));
    const frozen = r.frozen([live, softirqOverDead, hardirqOverLive, softirqOverIdle]).map(aggKeyId);
    expect(frozen).toEqual([aggKeyId(softirqOverDead.key)]);
  });

  it('keeps every count: live + retired is what the table held; merged by name, without ids', () => {
    const s = fakeSession([live, deadSender, deadSender2, deadVictim, overflow]);
    const sum = (rows: AggregateRow[]) => rows.reduce((n, x) => n + x.count, 0);
    const before = sum(s.rows(s.aggregates()));
    const r = new RetiredAggregates((tid) => alive.has(tid));
    expect(r.sweep(s)).toBe(3);
    expect(s.table.size).toBe(2);
    expect(sum(s.rows(s.aggregates())) + sum(r.rows())).toBe(before);
    // the two dead membarrier senders are one row now: named, no thread
    const mb = r.rows().filter((x) => x.cause.comm === 'membarrier');
    expect(mb).toHaveLength(1);
    expect(mb[0]).toMatchObject({ count: 12, stolen_ns: 12_000, victim: { pid: 0, tid: 0, comm: 'spin' }, cause: { context: 'task', comm: 'membarrier' } });
    expect(mb[0].cause.pid).toBeUndefined();
    expect(mb[0].hist[10]).toBe(12);
    // a second sweep finds nothing more; the kept rows stay
    expect(r.sweep(s)).toBe(0);
    expect(r.taken).toBe(3);
    expect(sum(r.rows())).toBe(15);
  });

  it('withoutIds keeps the names and the verdict', () => {
    const row = fakeSession([deadSender]).rows([deadSender])[0];
    expect(withoutIds({ ...row, violation: true, isol: 'active' })).toMatchObject({ victim: { pid: 0, tid: 0, comm: 'spin' }, violation: true, isol: 'active', cause: { comm: 'membarrier', cpu: 0 } });
  });
});
