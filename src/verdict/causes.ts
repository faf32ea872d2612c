// Top causes: rows grouped by what ran and who sent it (class, function or
// kind, sender comm/context and CPU), costliest first. The live view, the
// text summary, JUnit, markdown and the metrics all group and name causes
// through this file.
import type { InterruptionClass, TaskRef } from '../types.js';
import { formatDuration } from './durations.js';
import type { AggregateRow } from './rows.js';
import { HIST_BUCKETS } from './rows.js';
import { senderKey, senderLabel, senderOf, type Sender } from './senders.js';

export interface TopCause {
  key: string;
  class: InterruptionClass;
  kind: string;
  func?: string;
  /** func || kind: what ran */
  what: string;
  sender: Sender;
  /** sender threads seen (tid, or pid), at most 8 */
  senderIds: number[];
  /** "membarrier/4243 on CPU 0", "membarrier/* on CPU 0" for several threads */
  senderLabel: string;
  /** kernel callsites that queued it, at most 4 */
  callsites: string[];
  /** victim CPUs it hit */
  cpus: number[];
  /** a victim it hit (the first) */
  victim: TaskRef;
  count: number;
  violations: number;
  stolen_ns: number;
  max_ns: number;
  hist: number[];
}

/** The grouping key of a row or record: class, what ran, sender. */
export function causeKeyOf(r: Pick<AggregateRow, 'class' | 'kind' | 'func' | 'cause'>): string {
  return `${r.class}|${r.func || r.kind}|${senderKey(senderOf(r.cause))}`;
}

/** Adds a row (or a record seen as a row of one) to its group, creating it. */
export function addToCause(groups: Map<string, TopCause>, r: Pick<AggregateRow, 'cpu' | 'class' | 'kind' | 'func' | 'cause' | 'victim' | 'violation' | 'count' | 'stolen_ns' | 'max_ns' | 'hist'>): TopCause {
  const key = causeKeyOf(r);
  let g = groups.get(key);
  const sender = senderOf(r.cause);
  if (!g) {
    g = {
      key,
      class: r.class,
      kind: r.kind,
      ...(r.func ? { func: r.func } : {}),
      what: r.func || r.kind,
      sender,
      senderIds: [],
      senderLabel: senderLabel(sender),
      callsites: [],
      cpus: [],
      victim: r.victim,
      count: 0,
      violations: 0,
      stolen_ns: 0,
      max_ns: 0,
      hist: new Array<number>(HIST_BUCKETS).fill(0),
    };
    groups.set(key, g);
  }
  g.count += r.count;
  if (r.violation) g.violations += r.count;
  g.stolen_ns += r.stolen_ns;
  g.max_ns = Math.max(g.max_ns, r.max_ns);
  r.hist.forEach((n, i) => (g!.hist[i] += n));
  const id = r.cause.tid ?? r.cause.pid;
  if (sender.kind === 'task' && id !== undefined && !g.senderIds.includes(id)) {
    if (g.senderIds.length < 8) g.senderIds.push(id);
    // the same comm in several threads or processes: name the comm
    if (g.senderIds.length > 1) g.senderLabel = senderLabel(sender, 'many');
  }
  if (r.cause.callsite && !g.callsites.includes(r.cause.callsite) && g.callsites.length < 4) g.callsites.push(r.cause.callsite);
  if (!g.cpus.includes(r.cpu)) g.cpus.push(r.cpu);
  return g;
}

/** Costliest first: stolen time, then count, then a stable name order. */
export function byCost(a: TopCause, b: TopCause): number {
  return b.stolen_ns - a.stolen_ns || b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** The rows grouped into causes, costliest first. */
export function topCauses(rows: readonly AggregateRow[], limit = Infinity): TopCause[] {
  const groups = new Map<string, TopCause>();
  for (const r of rows) if (r.count > 0) addToCause(groups, r);
  const out = [...groups.values()].sort(byCost);
  for (const g of out) g.cpus.sort((x, y) => x - y);
  return out.slice(0, limit);
}

/** What ran: "ipi ipi_mb (call_function_single)", "syscall getppid", "workqueue vmstat_update". */
export function whatText(x: { class: string; kind: string; func?: string }): string {
  if (x.func && x.func !== x.kind) return `${x.class} ${x.func} (${x.kind})`;
  return `${x.class} ${x.kind}`;
}

/** "ipi ipi_mb (call_function_single) from membarrier/4243 on CPU 0 via membarrier_private_expedited+0x8d, hit CPU 1: 100x, 310us stolen (max 3.3us)" */
export function topCauseText(t: TopCause): string {
  const from = t.sender.kind === 'self' ? 'by the task itself' : `from ${t.senderLabel}`;
  const via = t.callsites.length === 1 ? ` via ${t.callsites[0]}` : t.callsites.length > 1 ? ` (${t.callsites.length} callsites)` : '';
  return `${whatText(t)} ${from}${via}, hit CPU ${t.cpus.join(',')}: ${t.count}x, ${formatDuration(t.stolen_ns)} stolen (max ${formatDuration(t.max_ns)})`;
}
