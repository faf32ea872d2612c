// Aggregate rows: every interruption counted under the key users group by
// (CPU, class, kind/func, victim, cause, isolation state, judged phase) with
// its count, stolen time, longest one and a log2 histogram of durations.
// Verdicts, summaries and top causes are computed from rows, never from
// counting records one by one; rows come from the kernel's aggregates on a
// live run and from the records of a recording.
import type { Cause, InterruptionClass, InterruptionRecord, IsolStateName, TaskRef } from '../types.js';

/** Buckets of the duration histograms: bucket i holds [2^i, 2^(i+1)) ns, the last one everything longer. */
export const HIST_BUCKETS = 32;

export function histBucket(ns: number): number {
  if (!(ns >= 2)) return 0;
  return Math.min(HIST_BUCKETS - 1, Math.floor(Math.log2(ns)));
}

/** The lower bound of a histogram bucket, in ns. */
export const bucketFloorNs = (i: number): number => (i === 0 ? 0 : 2 ** i);

/** Where an interruption fell in a judged run: before the warm-up ended, in the judged window, after it. */
export type Phase = 'warmup' | 'judged' | 'after';

export interface JudgedWindow {
  /** interruptions before this (ts_ns clock) are warm-up */
  warmupEndNs?: number;
  /** interruptions from this on are after the judged window */
  windowEndNs?: number;
}

export function phaseOf(tsNs: number, w: JudgedWindow): Phase {
  if (w.warmupEndNs !== undefined && tsNs < w.warmupEndNs) return 'warmup';
  if (w.windowEndNs !== undefined && tsNs >= w.windowEndNs) return 'after';
  return 'judged';
}

export interface AggregateRow {
  cpu: number;
  class: InterruptionClass;
  kind: string;
  func?: string;
  victim: TaskRef;
  /** who caused it (no timestamp: a row stands for many) */
  cause: Omit<Cause, 'ts_ns'>;
  /** the victim's isolation state when it happened */
  isol: IsolStateName;
  phase: Phase;
  /** the interruptions of this row are violations (the engine's or the policy's verdict) */
  violation: boolean;
  count: number;
  stolen_ns: number;
  max_ns: number;
  /** HIST_BUCKETS counts (histBucket) */
  hist: number[];
}

/** Rows are merged when every key field is equal. */
export function rowKey(r: Pick<AggregateRow, 'cpu' | 'class' | 'kind' | 'func' | 'victim' | 'cause' | 'isol' | 'phase' | 'violation'>): string {
  const c = r.cause;
  return [
    r.cpu, r.class, r.kind, r.func ?? '', r.victim.pid, r.victim.tid, r.victim.comm,
    c.self ? 1 : 0, c.context ?? '', c.cpu ?? '', c.pid ?? '', c.tid ?? '', c.comm ?? '', c.callsite ?? '', c.origin ?? '',
    r.isol, r.phase, r.violation ? 1 : 0,
  ].join('\u0000');
}

/** Accumulates rows; merging is exact (sums, max, histogram). */
export class RowTable {
  private readonly map = new Map<string, AggregateRow>();

  /** One interruption record in the given phase. */
  addRecord(r: InterruptionRecord, phase: Phase): void {
    const { ts_ns: _ts, ...cause } = r.cause;
    const key = { cpu: r.cpu, class: r.class, kind: r.kind, func: r.func, victim: r.victim, cause, isol: r.isol.state, phase, violation: r.violation };
    const k = rowKey(key);
    let row = this.map.get(k);
    if (!row) {
      row = { ...key, victim: { ...r.victim }, count: 0, stolen_ns: 0, max_ns: 0, hist: new Array<number>(HIST_BUCKETS).fill(0) };
      if (row.func === undefined) delete row.func;
      this.map.set(k, row);
    }
    row.count++;
    row.stolen_ns += r.duration_ns;
    if (r.duration_ns > row.max_ns) row.max_ns = r.duration_ns;
    row.hist[histBucket(r.duration_ns)]++;
  }

  /** A row from elsewhere (the kernel's aggregates), merged into one of the same key. */
  addRow(r: AggregateRow): void {
    const k = rowKey(r);
    const row = this.map.get(k);
    if (!row) {
      this.map.set(k, { ...r, hist: [...r.hist] });
      return;
    }
    row.count += r.count;
    row.stolen_ns += r.stolen_ns;
    row.max_ns = Math.max(row.max_ns, r.max_ns);
    r.hist.forEach((n, i) => (row.hist[i] += n));
  }

  rows(): AggregateRow[] {
    return [...this.map.values()];
  }

  get size(): number {
    return this.map.size;
  }
}

/** The rows of a recording's (or a run's) interruption records. */
export function rowsFromRecords(interruptions: readonly InterruptionRecord[], window: JudgedWindow = {}): AggregateRow[] {
  const t = new RowTable();
  for (const r of interruptions) t.addRecord(r, phaseOf(r.ts_ns, window));
  return t.rows();
}
