// Small text helpers shared by the reporters: durations, fixed columns,
// sender and chain wording. Pure; the text, JUnit and markdown reporters must
// describe an interruption with the same words, so the words live here.
import { formatCpuList } from '../system/cpus.js';
import type { Cause, ChainEntry, InterruptionRecord, StartRecord, TaskRef } from '../types.js';

/**
 * Human duration with at most three significant digits and the unit glued on,
 * the same spelling `--budget stolen=` accepts: "850ns", "3.1us", "250us", "1.25ms", "2s".
 */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns) || ns < 0) return '-';
  if (ns < 1_000) return `${Math.round(ns)}ns`;
  const units: Array<[string, number]> = [
    ['us', 1e3],
    ['ms', 1e6],
    ['s', 1e9],
  ];
  for (let i = 0; i < units.length; i++) {
    const [unit, scale] = units[i];
    const v = ns / scale;
    const text = threeDigits(v);
    // 999.7us rounds to "1000": move up a unit instead of printing four digits.
    if (Number(text) < 1000 || i === units.length - 1) return `${text}${unit}`;
  }
  /* c8 ignore next */
  return `${ns}ns`;
}

function threeDigits(v: number): string {
  if (v >= 1000) return String(Math.round(v));
  const s = v.toPrecision(3);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** Pads or truncates to exactly `width` columns; a cut is marked with '~' (as in the TUI). */
export function col(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? text.slice(0, 1) : text.slice(0, width - 1) + '~';
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

/** "comm/tid" — tid, not pid: the thread is what users find in top -H and /proc/PID/task. */
export function taskLabel(t: Pick<TaskRef, 'comm' | 'tid'> | { comm?: string; tid?: number; pid?: number }): string {
  const comm = t.comm ?? '?';
  const id = t.tid ?? ('pid' in t ? t.pid : undefined);
  return id === undefined ? comm : `${comm}/${id}`;
}

/** Drops the "+0x8d" offset: "membarrier_private_expedited+0x8d" -> "membarrier_private_expedited". */
export function symbolName(sym: string): string {
  return sym.replace(/\+0x[0-9a-f]+(\/0x[0-9a-f]+)?$/i, '');
}

/** Why an interrupt context queued the cause, from its callsite: "timer" for delayed-work timers etc. */
function contextReason(cause: Cause): string | undefined {
  if (!cause.callsite) return undefined;
  const fn = symbolName(cause.callsite);
  if (/timer|hrtimer|tick/.test(fn)) return 'timer';
  return fn;
}

/**
 * Who caused an interruption, in words, without the CPU:
 * "membarrier/4243", "self", "softirq (timer)", "hardirq", "isolwatch", or undefined when unknown.
 */
export function senderLabel(cause: Cause): string | undefined {
  if (cause.origin === 'isolwatch') return 'isolwatch';
  if (cause.self || cause.context === 'self') return 'self';
  const ctx = cause.context;
  if (ctx === 'hardirq' || ctx === 'softirq' || ctx === 'nmi') {
    const why = contextReason(cause);
    return why ? `${ctx} (${why})` : ctx;
  }
  if (cause.comm !== undefined || cause.tid !== undefined || cause.pid !== undefined) return taskLabel(cause);
  if (ctx === 'unknown') return 'unknown';
  return undefined;
}

/** "membarrier/4243@cpu0 membarrier_private_expedited+0x8d", "self", "softirq (timer)@cpu1", or "" */
export function causeText(cause: Cause): string {
  const who = senderLabel(cause);
  if (who === undefined && cause.cpu === undefined && !cause.callsite) return '';
  if (who === 'self' || who === 'isolwatch') return who;
  let s = who ?? '?';
  if (cause.cpu !== undefined) s += `@cpu${cause.cpu}`;
  if (cause.callsite && !(cause.context && cause.context !== 'task' && contextReason(cause) === symbolName(cause.callsite))) {
    s += ` ${cause.callsite}`;
  }
  return s;
}

/** One chain element as people name it: the tick, the softirq vector, the work/IPI function. */
export function chainLabel(e: Pick<ChainEntry, 'class' | 'kind' | 'func' | 'name'>): string {
  if (e.class === 'timer' && e.kind === 'local_timer') return 'tick';
  if (e.class === 'workqueue' || e.class === 'ipi') return e.func ?? e.kind;
  if (e.class === 'timer') return e.func ?? e.name ?? e.kind;
  return e.name ?? e.kind;
}

/** "tick > TIMER > vmstat_update"; empty when the interruption had no nesting. */
export function chainText(rec: Pick<InterruptionRecord, 'chain'>): string {
  if (!rec.chain || rec.chain.length < 2) return '';
  return [...rec.chain].sort((a, b) => a.depth - b.depth).map(chainLabel).join(' > ');
}

/** What ran: "ipi ipi_mb (call_function_single)", "syscall getppid", "workqueue vmstat_update". */
export function whatText(x: { class: string; kind: string; func?: string }): string {
  if (x.func && x.func !== x.kind) return `${x.class} ${x.func} (${x.kind})`;
  return `${x.class} ${x.kind}`;
}

/**
 * What was judged, in one line (the markdown heading and the HTML verdict):
 * "3 interruptions while isolated on CPU 1, 9.2us stolen", "no interruptions
 * while isolated on CPU 1 (12 while not isolated, not judged)".
 */
export function judgedHeadline(cpus: string, counted: { count: number; stolen_ns: number }, notIsolated: number): string {
  if (counted.count > 0) return `${plural(counted.count, 'interruption')} while isolated on CPU ${cpus}, ${formatDuration(counted.stolen_ns)} stolen`;
  return `no interruptions while isolated on CPU ${cpus}${notIsolated > 0 ? ` (${notIsolated} while not isolated, not judged)` : ''}`;
}

/** Count with its noun: "1 interruption", "3 interruptions". */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/**
 * Plain warnings for watched CPUs that cannot be quiet: neither isolated nor
 * nohz_full (scheduler, timers and kernel work run there), or isolated
 * without nohz_full (the tick still runs). Shared by the text header and the
 * markdown summary so both say the same thing.
 */
export function cpuWarnings(start: Pick<StartRecord, 'watched_cpus' | 'isolated' | 'nohz_full'>): string[] {
  const iso = new Set(start.isolated);
  const nohz = new Set(start.nohz_full);
  const neither = start.watched_cpus.filter((c) => !iso.has(c) && !nohz.has(c));
  const tickOnly = start.watched_cpus.filter((c) => iso.has(c) && !nohz.has(c));
  const out: string[] = [];
  if (neither.length > 0) {
    const l = formatCpuList(neither);
    out.push(
      `CPU ${l} ${neither.length === 1 ? 'is' : 'are'} neither isolated nor nohz_full: the scheduler, its tick, ` +
        `timers and kernel work run there, so such a CPU cannot be quiet ` +
        `(boot with isolcpus=domain,managed_irq,${l} nohz_full=${l} to measure a quiet CPU)`,
    );
  }
  if (tickOnly.length > 0) {
    const l = formatCpuList(tickOnly);
    out.push(`CPU ${l} ${tickOnly.length === 1 ? 'is' : 'are'} isolated but not nohz_full: expect the scheduler tick (boot with nohz_full=${l})`);
  }
  return out;
}

/** Why these CPUs are watched, in words. */
export function watchedReasonText(start: Pick<StartRecord, 'watched_reason'>): string | undefined {
  switch (start.watched_reason) {
    case 'isolated':
      return 'the isolated CPUs';
    case 'nohz_full':
      return 'the nohz_full CPUs';
    case 'user':
      return 'chosen with --cpus';
    case 'pid':
      return "where --pid's threads may run";
    case 'fallback-highest':
      return 'the highest-numbered CPU (none is isolated or nohz_full)';
    default:
      return start.watched_reason;
  }
}
