// The aggregate path (bpf/aggregate.bpf.h in TypeScript: src/contract/aggregate.ts,
// src/correlate/aggregates.ts, src/correlate/summary.ts) against the record path,
// on a real recording (host-membarrier: membarrier IPIs, ticks, preemptions, faults):
// keys computed from records and turned into rows must give exactly the rows the
// engine's records give, so a live run (kernel aggregates) and a replay (records)
// judge alike. Plus the key/value decoding through the BTF layout, interval deltas,
// and the summary's numbers.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/commands/report.js';
import {
  aggKeyId,
  AGG_KEY_SIZE,
  AGG_VALUE_SIZE,
  decodeAggKey,
  decodeAggValue,
  keyOfRecord,
  RecordAggregator,
  type RawAggregate,
} from '../../src/contract/aggregate.js';
import type { RawInterruption, RawRecord } from '../../src/contract/decode.js';
import { IW, LAYOUT } from '../../src/contract/layout.generated.js';
import { parseRecording } from '../../src/contract/recording.js';
import { AggregateDeltas, rowsOf } from '../../src/correlate/aggregates.js';
import { Engine } from '../../src/correlate/engine.js';
import { summarize } from '../../src/correlate/summary.js';
import { IsolTracker } from '../../src/isol/state.js';
import { symbolsFromTable } from '../../src/system/kallsyms.js';
import type { InterruptionRecord } from '../../src/types.js';
import { rowKey, rowsFromRecords, type AggregateRow } from '../../src/verdict/rows.js';

const REC = fileURLToPath(new URL('../fixtures/recordings/host-membarrier.rec.ndjson', import.meta.url));

function load() {
  const { header, raws, end } = parseRecording(readFileSync(REC, 'utf8'), REC);
  const symbols = symbolsFromTable(end?.symbols ?? {});
  const tracker = new IsolTracker({ prIsol: header.start.pr_isol });
  for (const pid of header.declared_pids) tracker.declare({ pid }, { children: true, ts_ns: 0 });
  const engine = new Engine({ symbols, tracker, prIsol: header.start.pr_isol, arch: header.arch });
  const records: InterruptionRecord[] = [];
  const interruptions: RawInterruption[] = [];
  for (const r of raws) {
    if ('type' in r) continue;
    const out = engine.ingest(r as RawRecord);
    if ((r as RawRecord).rec === 'interruption') interruptions.push(r as RawInterruption);
    if (out?.type === 'interruption') records.push(out);
  }
  return { header, symbols, tracker, engine, records, interruptions };
}

const byKey = (rows: AggregateRow[]) => new Map(rows.map((r) => [rowKey(r), r]));

describe('aggregates from records, as the kernel keys them', () => {
  it('give the same rows as the records, field for field (one verdict for live runs and replays)', () => {
    const { header, symbols, tracker, engine, records, interruptions } = load();
    expect(interruptions.length).toBeGreaterThan(100);
    const agg = new RecordAggregator();
    for (const r of interruptions) agg.add(r, tracker.isDeclared(r.victim_tid, r.victim_pid), 0);
    const ctx = { symbols, tracker, phaseOf: () => 'judged' as const, masksOf: (tid: number) => engine.kernelMasksOf(tid) };
    const fromKeys = rowsOf(agg.aggregates(), ctx);
    const fromRecords = rowsFromRecords(records);
    const a = byKey(fromKeys);
    const b = byKey(fromRecords);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [k, row] of a) expect(row, k).toEqual(b.get(k));
    expect(fromKeys.reduce((n, r) => n + r.count, 0)).toBe(records.length);
    // and the summary over either is the same
    const s1 = summarize({ rows: fromKeys, watchedCpus: header.start.watched_cpus, durationS: 1, lost: 0 });
    const s2 = summarize({ rows: fromRecords, watchedCpus: header.start.watched_cpus, durationS: 1, lost: 0 });
    expect(s1).toEqual(s2);
  });

  it('key the membarrier IPIs by their function and sender callsite', () => {
    const { interruptions, symbols } = load();
    const mb = interruptions.filter((r) => r.chain.some((e) => e.class === IW.IW_CLASS_IPI && symbols.lookup(e.func) === 'ipi_mb'));
    expect(mb.length).toBeGreaterThan(10);
    const keys = new Set(mb.map((r) => aggKeyId(keyOfRecord(r, false, 0))));
    for (const r of mb) {
      const k = keyOfRecord(r, false, 0);
      expect(k.class).toBe(IW.IW_CLASS_IPI);
      expect(symbols.lookup(k.func)).toBe('ipi_mb');
      expect(symbols.lookup(k.callsite)).toMatch(/^membarrier/);
    }
    // one sender thread, one callsite, one victim: a handful of keys for many IPIs
    expect(keys.size).toBeLessThan(mb.length);
  });

  it('set the flags the kernel sets: self-caused, in a preemption, the kernel isolation state', () => {
    const base = load().interruptions[0];
    const k = keyOfRecord(
      { ...base, flags: IW.IW_F_SELF_CAUSED | IW.IW_F_IN_PREEMPT | IW.IW_F_ISOL_KERNEL, isol_active_mask: 1n, isol_conf_mask: 1n },
      true,
      2,
    );
    expect(k.flags).toBe(IW.IW_AGG_F_SELF_CAUSED | IW.IW_AGG_F_IN_PREEMPT | IW.IW_AGG_F_ISOL_KERNEL | IW.IW_AGG_F_ISOL_ACTIVE | IW.IW_AGG_F_ISOL_CONF | IW.IW_AGG_F_DECLARED);
    expect(k.epoch).toBe(2);
  });
});

describe('aggregate keys and values through the BTF layout', () => {
  it('decode every field at its generated offset', () => {
    const K = LAYOUT.iw_agg_key.fields;
    const V = LAYOUT.iw_agg_value.fields;
    const buf = new Uint8Array(8 + AGG_KEY_SIZE + AGG_VALUE_SIZE);
    const dv = new DataView(buf.buffer);
    const k = 8;
    dv.setBigUint64(k + K.func.offset, 0xffffffff81000010n, true);
    dv.setBigUint64(k + K.callsite.offset, 0xffffffff81000020n, true);
    dv.setUint32(k + K.cpu.offset, 7, true);
    dv.setUint32(k + K.kind.offset, 110, true);
    dv.setUint32(k + K.victim_pid.offset, 100, true);
    dv.setUint32(k + K.victim_tid.offset, 101, true);
    dv.setUint32(k + K.cause_pid.offset, 200, true);
    dv.setUint32(k + K.cause_tid.offset, 201, true);
    dv.setUint32(k + K.cause_cpu.offset, 3, true);
    dv.setUint16(k + K.class.offset, IW.IW_CLASS_SYSCALL, true);
    dv.setUint16(k + K.cause_ctx.offset, IW.IW_CTX_SELF, true);
    dv.setUint16(k + K.flags.offset, IW.IW_AGG_F_DECLARED, true);
    dv.setUint16(k + K.epoch.offset, 1, true);
    const v = k + AGG_KEY_SIZE;
    dv.setBigUint64(v + V.count.offset, 2n ** 40n, true);
    dv.setBigUint64(v + V.stolen_ns.offset, 123456789n, true);
    dv.setBigUint64(v + V.max_ns.offset, 999n, true);
    dv.setBigUint64(v + V.last_ns.offset, 5n, true);
    dv.setUint32(v + V.records.offset, 11, true);
    dv.setUint32(v + V.hist.offset + 4 * 9, 17, true);
    buf.set(new TextEncoder().encode('app'), v + V.victim_comm.offset);
    buf.set(new TextEncoder().encode('noise'), v + V.cause_comm.offset);
    buf.set(new TextEncoder().encode('mm_percpu_wq'), v + V.name.offset);
    expect(decodeAggKey(buf, k)).toEqual({
      func: 0xffffffff81000010n, callsite: 0xffffffff81000020n, cpu: 7, kind: 110, victim_pid: 100, victim_tid: 101,
      cause_pid: 200, cause_tid: 201, cause_cpu: 3, class: IW.IW_CLASS_SYSCALL, cause_ctx: IW.IW_CTX_SELF, flags: IW.IW_AGG_F_DECLARED, epoch: 1,
    });
    const val = decodeAggValue(buf, v);
    expect(val).toMatchObject({ count: 2 ** 40, stolen_ns: 123456789, max_ns: 999, last_ns: 5, records: 11, victim_comm: 'app', cause_comm: 'noise', name: 'mm_percpu_wq' });
    expect(val.hist[9]).toBe(17);
    expect(val.hist.reduce((a, b) => a + b, 0)).toBe(17);
  });
});

describe('AggregateDeltas', () => {
  it('give what each key gained since the previous read; their sum is the total', () => {
    const { interruptions, tracker } = load();
    const agg = new RecordAggregator();
    const deltas = new AggregateDeltas();
    const seen = new Map<string, number>();
    const take = (as: RawAggregate[]) => {
      for (const a of as) seen.set(aggKeyId(a.key), (seen.get(aggKeyId(a.key)) ?? 0) + a.value.count);
    };
    const copy = () => agg.aggregates().map((a) => ({ key: a.key, value: { ...a.value, hist: [...a.value.hist] } }));
    interruptions.forEach((r, i) => {
      agg.add(r, tracker.isDeclared(r.victim_tid, r.victim_pid), 0);
      if (i % 37 === 0) take(deltas.next(copy()));
    });
    take(deltas.next(copy()));
    expect(deltas.next(copy())).toEqual([]); // nothing new
    for (const a of agg.aggregates()) expect(seen.get(aggKeyId(a.key))).toBe(a.value.count);
  });
});

describe('summarize', () => {
  const row = (o: Partial<AggregateRow>): AggregateRow => ({
    cpu: 1, class: 'ipi', kind: 'call_function_single', victim: { pid: 10, tid: 10, comm: 'app' }, cause: { self: false, context: 'task', pid: 20, tid: 20, comm: 'noise', cpu: 0 },
    isol: 'declared', phase: 'judged', violation: true, count: 3, stolen_ns: 300, max_ns: 150, hist: new Array(32).fill(0), ...o,
  });

  it('counts per CPU and task; leaves out what isolwatch caused and, with a filter, other victims', () => {
    const rows = [
      row({}),
      row({ class: 'timer', kind: 'local_timer', count: 5, stolen_ns: 50, max_ns: 20, violation: true }),
      row({ victim: { pid: 11, tid: 12, comm: 'other' }, isol: 'none', violation: false, count: 7, stolen_ns: 70, max_ns: 10 }),
      row({ cause: { self: false, context: 'task', pid: 99, tid: 99, comm: 'node', cpu: 0, origin: 'isolwatch' }, count: 4 }),
      row({ cpu: 0, count: 2 }),
    ];
    const s = summarize({ rows, watchedCpus: [1], durationS: 2.5, lost: 6 });
    expect(s.cpus['1']).toEqual({ by_class: { ipi: 10, timer: 5 }, stolen_ns: 420, max_ns: 150 });
    expect(s.cpus['0'].by_class).toEqual({ ipi: 2 });
    expect(s.self_caused).toBe(4);
    expect(s.violations).toBe(3 + 5 + 2);
    expect(s.lost_events).toBe(6);
    expect(s.tasks.map((t) => [t.tid, t.interruptions, t.violations])).toEqual([
      [10, 10, 10],
      [12, 7, 0],
    ]);
    const only = summarize({ rows, watchedCpus: [1], durationS: 1, lost: 0, victimFilter: (pid) => pid === 10 });
    expect(only.tasks.map((t) => t.tid)).toEqual([10]);
    expect(only.cpus['1'].by_class).toEqual({ ipi: 3, timer: 5 });
  });
});

describe('replay of an ABI 1 recording', () => {
  it('still reads it (records decoded to the same shape) and judges from its records', () => {
    const r = replay(readFileSync(REC, 'utf8'), REC);
    const n = r.records.filter((x) => x.type === 'interruption').length;
    expect(r.rows.reduce((a, x) => a + x.count, 0)).toBe(n);
    expect(Object.values(r.summary.cpus['1'].by_class).reduce((a, b) => a + (b ?? 0), 0)).toBeLessThanOrEqual(n);
  });
});
