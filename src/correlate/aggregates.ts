// Aggregates (the kernel's, or a recording's records aggregated the same
// way) into the rows every verdict, summary, top-cause list and rate is
// computed from (src/verdict/rows.ts). Names come from the symbols and the
// vocabulary, isolation from the key's flags and the tracker, the judgement
// from src/isol/judge.ts: as each of a key's records would be judged.
import { aggKeyId, type RawAggregate } from '../contract/aggregate.js';
import { IW } from '../contract/layout.generated.js';
import { className, kindName } from '../contract/vocabulary.js';
import { causeOf } from './cause.js';
import { judge } from '../isol/judge.js';
import type { IsolTracker, KernelIsolMasks } from '../isol/state.js';
import type { Symbolizer } from '../system/kallsyms.js';
import type { Cause, InterruptionClass, IsolInfo } from '../types.js';
import { RowTable, type AggregateRow, type Phase } from '../verdict/rows.js';

export interface RowContext {
  symbols: Symbolizer;
  tracker: IsolTracker;
  /** the phase of an epoch (map iw_epoch): run's warm-up 0, judged 1, after 2; watch: always judged */
  phaseOf: (epoch: number) => Phase;
  /** the kernel masks last seen on a record of this thread (PR_ISOL kernels), for what the flags do not say */
  masksOf?: (tid: number) => KernelIsolMasks | undefined;
}

/** The headline kind and function names of a key, as headline() in engine.ts names a record's. */
function names(cls: InterruptionClass, a: RawAggregate, sym: Symbolizer): { kind: string; func?: string } {
  const k = a.key;
  const func = k.func !== 0n && cls !== 'syscall' && cls !== 'page_fault' ? sym.lookup(k.func) : undefined;
  if (cls === 'workqueue') {
    const kind = func ?? kindName(cls, k.kind, a.value.name);
    return { kind, ...(func ? { func } : {}) };
  }
  return { kind: kindName(cls, k.kind, a.value.name), ...(func ? { func } : {}) };
}

/** The cause of a key, named as a record's (causeOf in engine.ts), no timestamp: a row stands for many. */
function causeOfKey(a: RawAggregate, sym: Symbolizer): Omit<Cause, 'ts_ns'> {
  const cause = causeOf(a.key, a.value.cause_comm, sym);
  if (a.key.flags & IW.IW_AGG_F_SELF_CAUSED) cause.origin = 'isolwatch';
  return cause;
}

function isolOf(a: RawAggregate, ctx: RowContext): IsolInfo {
  const k = a.key;
  const f = k.flags;
  if (f & IW.IW_AGG_F_ISOL_KERNEL) {
    const seen = ctx.masksOf?.(k.victim_tid);
    const active = f & IW.IW_AGG_F_ISOL_ACTIVE ? (seen?.active || 1n) : 0n;
    const conf = f & IW.IW_AGG_F_ISOL_CONF ? (seen?.conf || 1n) : 0n;
    return ctx.tracker.isolInfoFor(k.victim_tid, k.victim_pid, {
      conf,
      active,
      quiesce: active ? (seen?.quiesce ?? 0n) : 0n,
      oneshot: 0n,
      inherit: seen?.inherit ?? 0,
      fromKernel: true,
    });
  }
  if (f & IW.IW_AGG_F_DECLARED) {
    const info = ctx.tracker.isolInfoFor(k.victim_tid, k.victim_pid);
    return info.state === 'none' ? { state: 'declared', source: 'declared' } : info;
  }
  return ctx.tracker.isolInfoFor(k.victim_tid, k.victim_pid);
}

/**
 * Aggregates as rows, merged where they name the same thing: the kernel keys
 * by numbers (a preempting thread's tid, a callsite's address), rows by names.
 */
export function rowsOf(aggs: readonly RawAggregate[], ctx: RowContext): AggregateRow[] {
  const t = new RowTable();
  for (const a of aggs) t.addRow(rowOf(a, ctx));
  return t.rows();
}

/** One aggregate as a row. */
export function rowOf(a: RawAggregate, ctx: RowContext): AggregateRow {
  const k = a.key;
  const v = a.value;
  const cls = className(k.class);
  const { kind, func } = names(cls, a, ctx.symbols);
  const cause = causeOfKey(a, ctx.symbols);
  const isol = isolOf(a, ctx);
  const violation = cause.origin === 'isolwatch' ? false : judge(isol, { class: cls, kind, func, cause }).violation;
  const row: AggregateRow = {
    cpu: k.cpu,
    class: cls,
    kind,
    ...(func ? { func } : {}),
    victim: { pid: k.victim_pid, tid: k.victim_tid, comm: v.victim_comm },
    cause,
    isol: isol.state,
    phase: ctx.phaseOf(k.epoch),
    violation,
    count: v.count,
    stolen_ns: v.stolen_ns,
    max_ns: v.max_ns,
    hist: [...v.hist],
  };
  if (k.flags & IW.IW_AGG_F_OVERFLOW) row.overflow = true;
  return row;
}

/**
 * Successive reads of the kernel's aggregates: what changed since the last
 * read, per key (NDJSON `aggregate` records, the live view's rates).
 */
export class AggregateDeltas {
  /** per key: count, stolen_ns, then the HIST_BUCKETS histogram, as last read */
  private readonly last = new Map<string, Float64Array>();

  /** The aggregates whose count grew since the previous call, with the growth (max_ns is the key's, not the interval's). */
  next(all: readonly RawAggregate[]): RawAggregate[] {
    const out: RawAggregate[] = [];
    for (const a of all) {
      const id = aggKeyId(a.key);
      const prev = this.last.get(id);
      if (prev && prev[0] === a.value.count) continue;
      const now = new Float64Array(2 + a.value.hist.length);
      now[0] = a.value.count;
      now[1] = a.value.stolen_ns;
      now.set(a.value.hist, 2);
      this.last.set(id, now);
      if (!prev) {
        out.push(a);
        continue;
      }
      out.push({
        key: a.key,
        value: {
          ...a.value,
          count: a.value.count - prev[0],
          stolen_ns: a.value.stolen_ns - prev[1],
          hist: a.value.hist.map((n, i) => n - prev[2 + i]),
        },
      });
    }
    return out;
  }
}
