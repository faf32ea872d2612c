// What the pictures (Perfetto trace, HTML report) draw, decided once for
// both: their input, the judged window, what an interruption's duration
// measures, who sent it and whether an arrow can be drawn from the sender,
// and where a chain's nested entries go on the time axis. Pure.
import type { ChainEntry, InterruptionRecord, StartRecord, SummaryRecord } from '../types.js';
import type { RemedyLookup } from '../remedies.js';
import type { Judgement } from '../verdict/index.js';
import { taskLabel } from './format.js';
import { defaultJudgement } from './junit.js';

export interface PictureData {
  start: StartRecord;
  summary: SummaryRecord;
  /** when absent: judged with the default budget (every class <=0 while isolated) */
  judgement?: Judgement;
  interruptions: readonly InterruptionRecord[];
  remedyFor?: RemedyLookup;
  /**
   * The judged window on the ts_ns clock. Default: the summary's verdict.judged
   * (run writes it; report too, from the recording's first declare).
   */
  judged?: { from_ns?: number; to_ns?: number };
}

/** The judgement given, or the default one (every class <=0 while isolated). */
export function judgementOf(data: PictureData): Judgement {
  return data.judgement ?? defaultJudgement(data);
}

export interface TimeSpan {
  /** first instant drawn: the start record's time, or the first interruption */
  from_ns: number;
  /** last instant drawn: the end of the last interruption, or the judged window's end */
  to_ns: number;
}

/** The time the pictures cover, on the ts_ns clock. */
export function timeSpan(data: PictureData): TimeSpan {
  let from = data.start.ts_ns ?? Infinity;
  let to = -Infinity;
  for (const r of data.interruptions) {
    if (r.ts_ns < from) from = r.ts_ns;
    if (r.ts_ns + r.duration_ns > to) to = r.ts_ns + r.duration_ns;
  }
  const w = data.judged ?? data.summary.verdict?.judged;
  if (w?.to_ns !== undefined && w.to_ns > to) to = w.to_ns;
  if (!Number.isFinite(from)) from = Number.isFinite(to) ? to : 0;
  if (!Number.isFinite(to) || to < from) to = from;
  return { from_ns: from, to_ns: to };
}

export interface JudgedWindow {
  /** where judging began (absent: from the start) */
  from_ns?: number;
  /** where it ended (absent: until the end) */
  to_ns?: number;
}

/** The judged window given (data.judged) or written by run (summary.verdict.judged). */
export function judgedWindow(data: PictureData): JudgedWindow {
  const w = data.judged ?? data.summary.verdict?.judged;
  return { ...(w?.from_ns !== undefined ? { from_ns: w.from_ns } : {}), ...(w?.to_ns !== undefined ? { to_ns: w.to_ns } : {}) };
}

/** The verdict as people read it first: run's own, else the judgement's. */
export function verdictOf(data: PictureData, j: Judgement): { pass: boolean; reasons: string[] } {
  return data.summary.verdict ?? { pass: j.pass, reasons: j.reasons };
}

/** What an interruption's duration_ns measures, in words (the Perfetto slice args say it). */
export function durationMeasure(r: Pick<InterruptionRecord, 'class' | 'flags'>): string {
  const flags = r.flags ?? [];
  if (flags.includes('no_exit')) return 'none: this entry has no exit event, so its duration is 0';
  const open = flags.includes('open_end') ? '; open end: no matching exit was seen, so it ends where the record was cut' : '';
  switch (r.class) {
    case 'preempt':
      return `time the victim was off its CPU: from the switch to the preempting task until it ran again${open}`;
    case 'syscall':
      return `the victim's own syscall, entry to exit${open}`;
    case 'page_fault':
    case 'exception':
      return `the victim's own ${r.class === 'page_fault' ? 'page fault' : 'exception'}, entry to exit${open}`;
    default:
      return `stolen from the victim: from the root entry to the last exit of everything nested in it${open}`;
  }
}

/** Who sent an interruption, where an arrow can start. */
export interface Sender {
  cpu: number;
  /** when it queued the IPI, work item or wake-up (ts_ns clock) */
  ts_ns: number;
  /** a task, or the interrupt context it was queued from */
  context: 'task' | 'hardirq' | 'softirq' | 'nmi';
  pid?: number;
  tid?: number;
  comm?: string;
  callsite?: string;
  /** "membarrier/20210", "softirq context" */
  label: string;
  /** the arrow would point back in time: the record's cause time is after its start */
  late: boolean;
}

/**
 * The sender of an interruption, when the record names one with its CPU and
 * the time it queued the cause; undefined for the victim's own entries and
 * for causes nobody sent (the tick, a timer device that fired early, an unknown context).
 */
export function senderOf(r: InterruptionRecord): Sender | undefined {
  const c = r.cause;
  if (c.self || c.context === 'self' || c.context === 'unknown' || c.context === 'timer_early' || c.context === undefined) return undefined;
  if (c.cpu === undefined || c.ts_ns === undefined) return undefined;
  const context = c.context;
  const label = context === 'task' ? taskLabel({ comm: c.comm, tid: c.tid, pid: c.pid }) : `${context} context`;
  return {
    cpu: c.cpu,
    ts_ns: c.ts_ns,
    context,
    ...(context === 'task' ? { pid: c.pid, tid: c.tid, comm: c.comm } : {}),
    ...(c.callsite ? { callsite: c.callsite } : {}),
    label,
    late: c.ts_ns > r.ts_ns,
  };
}

/** What kind of cause an arrow stands for: "IPI", "work item", "wake-up", ... */
export function causeKind(r: Pick<InterruptionRecord, 'class'>): string {
  switch (r.class) {
    case 'ipi':
      return 'IPI';
    case 'workqueue':
      return 'work item';
    case 'preempt':
      return 'wake-up';
    case 'softirq':
      return 'softirq raise';
    case 'timer':
      return 'timer';
    default:
      return r.class;
  }
}

/** A chain entry placed on the time axis (the record gives durations and order, not start times). */
export interface PlacedEntry {
  entry: ChainEntry;
  /** nesting level below the interruption's own slice (1 = directly inside it) */
  level: number;
  start_ns: number;
  /** drawn duration: the entry's, cut to fit inside its parent */
  dur_ns: number;
}

/**
 * Nested slices for an interruption's chain. The chain lists entries in
 * order with their depth; each entry's parent is the nearest earlier entry
 * of smaller depth. A single root entry is the interruption itself (its
 * slice); several roots all nest inside it. Children are laid end to end from
 * their parent's start and cut where they would overflow it, so every slice
 * nests inside its parent: the durations are the record's, the start offsets
 * an assumption (the record has none).
 */
export function placeChain(r: Pick<InterruptionRecord, 'ts_ns' | 'duration_ns' | 'chain'>): PlacedEntry[] {
  const chain = r.chain ?? [];
  const roots = chain.filter((e) => e.depth === 0).length;
  const rootIsSelf = roots === 1 && chain[0]?.depth === 0;
  interface Frame {
    depth: number;
    level: number;
    end: number;
    cursor: number;
  }
  const top: Frame = { depth: -1, level: 0, end: r.ts_ns + r.duration_ns, cursor: r.ts_ns };
  const stack: Frame[] = [top];
  const out: PlacedEntry[] = [];
  chain.forEach((e, i) => {
    if (i === 0 && rootIsSelf) {
      stack.push({ depth: 0, level: 0, end: top.end, cursor: r.ts_ns });
      return;
    }
    while (stack.length > 1 && stack[stack.length - 1].depth >= e.depth) stack.pop();
    const parent = stack[stack.length - 1];
    const start = Math.min(parent.cursor, parent.end);
    const dur = Math.max(0, Math.min(e.duration_ns, parent.end - start));
    parent.cursor = start + dur;
    const level = parent.level + 1;
    out.push({ entry: e, level, start_ns: start, dur_ns: dur });
    stack.push({ depth: e.depth, level, end: start + dur, cursor: start });
  });
  return out;
}
