// Who caused an interruption, named one way everywhere: the text log, the
// live view, JUnit and markdown, policies' sender matches and the metrics'
// `sender` label all go through senderOf() and its labels.
import type { Cause, TaskRef } from '../types.js';

export interface Sender {
  /** a task sent it; an interrupt context queued it; the victim itself; isolwatch; nobody known */
  kind: 'task' | 'context' | 'self' | 'isolwatch' | 'unknown';
  comm?: string;
  pid?: number;
  tid?: number;
  /** the sender's CPU */
  cpu?: number;
  context?: 'hardirq' | 'softirq' | 'nmi' | 'timer_early';
  /** why an interrupt context queued it, from the callsite: "timer" for a delayed-work timer */
  why?: string;
}

/** "membarrier_private_expedited+0x8d" -> "membarrier_private_expedited". */
export function symbolName(sym: string): string {
  return sym.replace(/\+0x[0-9a-f]+(\/0x[0-9a-f]+)?$/i, '');
}

function contextReason(callsite: string | undefined): string | undefined {
  if (!callsite) return undefined;
  const fn = symbolName(callsite);
  return /timer|hrtimer|tick/.test(fn) ? 'timer' : fn;
}

/** The sender of an interruption's cause (the victim's own entries have kind 'self'). */
export function senderOf(cause: Cause): Sender {
  const cpu = cause.cpu !== undefined ? { cpu: cause.cpu } : {};
  if (cause.origin === 'isolwatch') return { kind: 'isolwatch', ...cpu };
  if (cause.self || cause.context === 'self') return { kind: 'self', comm: cause.comm, pid: cause.pid, tid: cause.tid, ...cpu };
  const ctx = cause.context;
  if (ctx === 'timer_early') return { kind: 'context', context: ctx, ...cpu };
  if (ctx === 'hardirq' || ctx === 'softirq' || ctx === 'nmi') {
    const why = contextReason(cause.callsite);
    return { kind: 'context', context: ctx, ...cpu, ...(why ? { why } : {}) };
  }
  if (cause.comm !== undefined || cause.tid !== undefined || cause.pid !== undefined) {
    return { kind: 'task', comm: cause.comm, pid: cause.pid, tid: cause.tid, ...cpu };
  }
  return { kind: 'unknown', ...cpu };
}

/** What top causes group by: the sender's comm (not its thread), context and CPU. */
export function senderKey(s: Sender): string {
  switch (s.kind) {
    case 'task':
      return `task|${s.comm ?? '?'}|${s.cpu ?? ''}`;
    case 'context':
      return `${s.context}|${s.why ?? ''}|${s.cpu ?? ''}`;
    case 'self':
      return 'self';
    default:
      return `${s.kind}|${s.cpu ?? ''}`;
  }
}

/**
 * The sender in words: "membarrier/4243 on CPU 0" (one thread; "comm/*" when
 * a group holds several), "softirq (timer) on CPU 1", "the task itself",
 * "isolwatch on CPU 0", "its timer device, fired early on CPU 3", "unknown sender".
 */
export function senderLabel(s: Sender, threads: 'one' | 'many' = 'one'): string {
  const on = s.cpu !== undefined ? ` on CPU ${s.cpu}` : '';
  switch (s.kind) {
    case 'self':
      return 'the task itself';
    case 'isolwatch':
      return `isolwatch${on}`;
    case 'context':
      if (s.context === 'timer_early') return `its timer device, fired early${on}`;
      return `${s.context}${s.why ? ` (${s.why})` : ''}${on}`;
    case 'task': {
      const id = threads === 'many' ? '*' : (s.tid ?? s.pid);
      return `${s.comm ?? '?'}${id !== undefined ? `/${id}` : ''}${on}`;
    }
    default:
      return `unknown sender${on}`;
  }
}

/** The sender as one word, for a metric label: the comm, the context, "self", "isolwatch" or "unknown". */
export function senderName(s: Sender): string {
  if (s.kind === 'task') return s.comm ?? 'unknown';
  if (s.kind === 'context') return s.context!;
  return s.kind;
}

/** "comm/tid" — the thread, which is what users find in top -H and /proc/PID/task. */
export function taskLabel(t: Partial<Pick<TaskRef, 'comm' | 'tid' | 'pid'>>): string {
  const comm = t.comm ?? '?';
  const id = t.tid ?? t.pid;
  return id === undefined ? comm : `${comm}/${id}`;
}

/** The sender and the kernel callsite that queued it: "membarrier/4243 on CPU 0 via membarrier_private_expedited+0x8d"; "self" for the task's own entries. */
export function causeText(cause: Cause): string {
  const s = senderOf(cause);
  if (s.kind === 'unknown' && s.cpu === undefined && !cause.callsite) return '';
  if (s.kind === 'self') return 'self'; // the log's CAUSE column: the task's own entry
  const label = senderLabel(s);
  // a context's reason already names its callsite's function
  const via = cause.callsite && !(s.kind === 'context' && s.why === symbolName(cause.callsite)) ? ` via ${cause.callsite}` : '';
  return label + via;
}
