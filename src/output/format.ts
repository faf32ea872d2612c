// Small text helpers shared by the reporters: fixed columns, chain wording,
// CPU warnings. Pure. Durations, senders and causes are named by the verdict
// module (src/verdict/), re-exported here for the reporters.
import { formatCpuList } from '../system/cpus.js';
import type { ChainEntry, InterruptionRecord, StartRecord } from '../types.js';
import { formatDuration } from '../verdict/index.js';

export { causeText, formatDuration, senderLabel, senderOf, symbolName, taskLabel, whatText } from '../verdict/index.js';

/** Pads or truncates to exactly `width` columns; a cut is marked with '~' (as in the TUI). */
export function col(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? text.slice(0, 1) : text.slice(0, width - 1) + '~';
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
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
 * What the kernel did not let isolwatch see (summary.probe_misses): one sentence for every
 * report, or undefined when nothing was skipped.
 */
export function probeMissesText(misses: Readonly<Record<string, number>> | undefined): string | undefined {
  const list = Object.entries(misses ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (!list.length) return undefined;
  const total = list.reduce((n, [, k]) => n + k, 0);
  return (
    `the kernel skipped ${plural(total, 'run')} of isolwatch's probes (${list.map(([p, n]) => `${p} ${n}`).join(', ')}): ` +
    'one of its programs was already running on that CPU, so what happened then was not seen and the counts may be short'
  );
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
