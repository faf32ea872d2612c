// The summary record from aggregate rows (and, live, the kernel's class
// counters): exact whatever reached user space one by one. The same function
// summarizes a live session and a replayed recording.
import type { InterruptionClass, CpuSummary, SummaryRecord, SummarySteal, TaskSummary, RecordsAccount } from '../types.js';
import type { AggregateRow } from '../verdict/rows.js';

export interface SummaryInput {
  rows: readonly AggregateRow[];
  watchedCpus: readonly number[];
  durationS: number;
  /** records the ring had no room for (all types) */
  lost: number;
  /** the kernel's per-CPU class counters: cpu -> class -> count (whole CPUs, every victim) */
  kernelCounts?: SummaryRecord['kernel_counts'];
  /** how records reached user space, with the per-CPU per-class account */
  records?: RecordsAccount;
  /** records correlated but not written (a reader of stdout that fell behind) */
  outputDropped?: number;
  /** probe -> runs the kernel skipped (a program already running on that CPU) */
  probeMisses?: Record<string, number>;
  /** only these victims are summarized (--pid); undefined: every victim */
  victimFilter?: (pid: number, tid: number) => boolean;
  /** steal time: how it was read, and per CPU over the session (no byCpu: no steal clock) */
  steal?: { summary: SummarySteal; byCpu?: Record<string, number> };
}

const RANK: Record<string, number> = { active: 3, declared: 2, inactive: 1, none: 0 };

export function summarize(input: SummaryInput): SummaryRecord {
  const cpus: Record<string, CpuSummary> = {};
  for (const cpu of input.watchedCpus) cpus[String(cpu)] = { by_class: {}, stolen_ns: 0, max_ns: 0 };
  const tasks = new Map<number, TaskSummary>();
  let violations = 0;
  let selfCaused = 0;
  for (const r of input.rows) {
    if (r.count === 0) continue;
    if (r.cause.origin === 'isolwatch') {
      selfCaused += r.count; // never in a CPU's or task's numbers
      continue;
    }
    if (input.victimFilter && !input.victimFilter(r.victim.pid, r.victim.tid)) continue;
    const c = (cpus[String(r.cpu)] ??= { by_class: {}, stolen_ns: 0, max_ns: 0 });
    c.by_class[r.class] = (c.by_class[r.class] ?? 0) + r.count;
    c.stolen_ns += r.stolen_ns;
    if (r.max_ns > c.max_ns) c.max_ns = r.max_ns;
    if (r.violation) violations += r.count;
    if (r.victim.tid === 0 && r.victim.pid === 0 && r.victim.comm === '') continue; // overflow rows name no victim
    let t = tasks.get(r.victim.tid);
    if (!t) {
      t = { pid: r.victim.pid, tid: r.victim.tid, comm: r.victim.comm, isol: r.isol, interruptions: 0, violations: 0, stolen_ns: 0 };
      tasks.set(r.victim.tid, t);
    }
    // the most isolated state it was seen in (a task that exited is forgotten by the tracker: 'none' says nothing)
    if (RANK[r.isol] > RANK[t.isol]) t.isol = r.isol;
    t.interruptions += r.count;
    if (r.violation) t.violations += r.count;
    t.stolen_ns += r.stolen_ns;
  }
  for (const t of tasks.values()) {
    if (t.isol === 'declared') t.source = 'declared';
  }
  // beside the interruptions, never in them: the vCPU was not running
  const stealNs = input.steal?.byCpu;
  if (stealNs) for (const cpu of input.watchedCpus) cpus[String(cpu)].steal_ns = stealNs[String(cpu)] ?? 0;
  const sortedTasks = [...tasks.values()].sort((a, b) => b.violations - a.violations || b.stolen_ns - a.stolen_ns || a.tid - b.tid);
  return {
    type: 'summary',
    duration_s: Math.round(input.durationS * 1000) / 1000,
    cpus,
    tasks: sortedTasks,
    violations,
    lost_events: input.lost,
    ...(input.outputDropped ? { output_dropped: input.outputDropped } : {}),
    ...(input.probeMisses && Object.keys(input.probeMisses).length ? { probe_misses: input.probeMisses } : {}),
    self_caused: selfCaused,
    ...(input.kernelCounts ? { kernel_counts: input.kernelCounts } : {}),
    ...(input.records ? { records: input.records } : {}),
    ...(input.steal ? { steal: input.steal.summary } : {}),
  };
}

/** The class counts of rows per CPU (kernel_counts of a replay without recorded counters). */
export function countsOfRows(rows: readonly AggregateRow[], cpus: readonly number[]): Record<string, Partial<Record<InterruptionClass, number>>> {
  const out: Record<string, Partial<Record<InterruptionClass, number>>> = {};
  for (const c of cpus) out[String(c)] = {};
  for (const r of rows) {
    if (r.cause.origin === 'isolwatch' || !cpus.includes(r.cpu)) continue;
    const c = (out[String(r.cpu)] ??= {});
    c[r.class] = (c[r.class] ?? 0) + r.count;
  }
  return out;
}
