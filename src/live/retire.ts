// Aggregates of tasks that have exited, moved out of the kernel's table into
// user space (serve). A key names its victim and its sender by thread, so a
// long-lived session on a busy CPU fills iw_agg with keys that can count no
// more (a short-lived process leaves dozens), and every key after that is
// counted only under an overflow key that keeps no cause and no function.
// Such keys are taken out (read and removed in one step: nothing is lost),
// turned into rows while the names are at hand, and kept as rows without
// thread ids, merged by name: the totals stay exact, and what is kept is
// bounded by what the metrics name, not by the tasks that came and went.
import { existsSync } from 'node:fs';
import type { RawAggKey, RawAggregate } from '../contract/aggregate.js';
import { IW } from '../contract/layout.generated.js';
import { RowTable, type AggregateRow } from '../verdict/rows.js';

/** What a sweep needs of a live session. */
export interface RetireSource {
  aggregates(): RawAggregate[];
  /** read and remove these keys (session.takeAggregates) */
  take(keys: readonly RawAggKey[]): RawAggregate[];
  /** aggregates as rows (names, isolation, verdict) */
  rows(aggs: RawAggregate[]): AggregateRow[];
}

/** /proc/TID exists for a thread id too. */
export const threadAlive = (tid: number): boolean => existsSync(`/proc/${tid}`);

/** A row as it is kept once its tasks are gone: named, without pid or tid. */
export function withoutIds(r: AggregateRow): AggregateRow {
  const { pid: _p, tid: _t, ...cause } = r.cause;
  return { ...r, victim: { pid: 0, tid: 0, comm: r.victim.comm }, cause };
}

export class RetiredAggregates {
  private readonly table = new RowTable();
  /** keys taken out so far */
  taken = 0;

  constructor(private readonly alive: (tid: number) => boolean = threadAlive) {}

  /**
   * The keys whose victim or sender's task has exited: they cannot count any more. A sender in
   * interrupt context (hardirq, softirq, NMI) is keyed by the task it interrupted too, so its
   * keys freeze when that task exits, whoever the victim is.
   */
  frozen(aggs: readonly RawAggregate[]): RawAggKey[] {
    const seen = new Map<number, boolean>();
    const gone = (tid: number) => {
      if (tid === 0) return false;
      let a = seen.get(tid);
      if (a === undefined) seen.set(tid, (a = this.alive(tid)));
      return !a;
    };
    return aggs
      .filter((a) => {
        const k = a.key;
        if (k.flags & IW.IW_AGG_F_OVERFLOW) return false;
        return gone(k.victim_tid) || gone(k.cause_tid);
      })
      .map((a) => a.key);
  }

  /** Moves the frozen keys out of the kernel's table; returns how many were taken. */
  sweep(src: RetireSource, aggs: RawAggregate[] = src.aggregates()): number {
    const keys = this.frozen(aggs);
    if (keys.length === 0) return 0;
    const taken = src.take(keys);
    for (const r of src.rows(taken)) this.table.addRow(withoutIds(r));
    this.taken += taken.length;
    return taken.length;
  }

  /** What the taken keys counted, as rows. */
  rows(): AggregateRow[] {
    return this.table.rows();
  }

  get size(): number {
    return this.table.size;
  }
}
