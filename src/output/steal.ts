// Steal time in words, one place for every reporter (text, markdown, the live
// view's CPU detail): what the start record says about the machine's steal
// clock, the summary's per-CPU steal, and the note a run gets when the
// hypervisor took a notable share of its judged window. Steal is said beside
// the interruptions, never counted with them or judged. Pure.
import { STEAL_NOTABLE_FRACTION, stealClockName } from '../system/steal.js';
import type { StealInfo, SummaryRecord, SummarySteal } from '../types.js';
import { formatDuration } from '../verdict/index.js';

export { STEAL_NOTABLE_FRACTION };

const pct = (f: number): string => {
  const x = f * 100;
  return `${x.toFixed(x >= 10 ? 1 : x >= 0.01 || x === 0 ? 2 : 3)}%`;
};

/** How the readings were made: "kvm_steal_clock, ns" or "/proc/stat, 10 ms ticks". */
export function stealSourceText(s: Pick<StealInfo, 'clock' | 'source' | 'resolution_ns'>): string {
  if (s.source === 'pv-clock') return `${s.clock}, read in ns`;
  if (s.source === 'proc-stat') return `${s.clock === 'unknown' ? '' : `${s.clock}, `}/proc/stat in ${formatDuration(s.resolution_ns)} ticks`;
  return 'not read';
}

/** Why there is no steal to show, in a sentence; undefined when there is. */
export function noStealText(s: Pick<StealInfo, 'clock' | 'vm' | 'source'>): string | undefined {
  if (s.source !== 'none') return undefined;
  if (s.vm === false) return 'no steal clock: not a virtual machine (no hypervisor takes time here)';
  if (s.vm === true) {
    return 'this virtual machine has no steal clock: time the host takes from its vCPUs is invisible, not even counted as steal';
  }
  return 'no steal clock found: time a hypervisor takes, if any, cannot be shown';
}

/**
 * The start header's line: which clock and how it is read, or plainly that
 * there is none. `level` is 'warning' for a VM that cannot show what its host takes.
 */
export function stealStartText(s: StealInfo | undefined): { level: 'note' | 'warning' | 'info'; text: string } | undefined {
  if (!s) return undefined;
  const none = noStealText(s);
  if (none) return { level: s.vm === true ? 'warning' : 'info', text: `steal: ${none}` };
  const what = 'time the host ran something else while a watched vCPU had work: no tracer sees it; shown beside the interruptions, never judged';
  if (s.clock === 'unknown') return { level: 'note', text: `steal: unknown whether this machine has a steal clock; /proc/stat's steal is read (${what})` };
  return { level: 'info', text: `steal: ${stealClockName(s.clock)}, ${s.source === 'pv-clock' ? 'read per CPU in ns' : `read from /proc/stat in ${formatDuration(s.resolution_ns)} ticks`}: ${what}` };
}

/** One CPU's steal over a span, with its share: "CPU 1 1.2ms (0.12%)". */
function cpuSteal(cpu: string, ns: number, spanNs: number): string {
  return `CPU ${cpu} ${formatDuration(ns)}${spanNs > 0 ? ` (${pct(ns / spanNs)})` : ''}`;
}

/**
 * The summary's steal in one line: "steal (the hypervisor's; not
 * interruptions, not judged): CPU 1 610us (0.02%) [kvm_steal_clock, read in
 * ns]", or why there is none. Empty for a summary without a steal block (an
 * older recording).
 */
export function stealSummaryLine(summary: Pick<SummaryRecord, 'cpus' | 'steal' | 'duration_s'>): string | undefined {
  const s = summary.steal;
  if (!s) return undefined;
  const none = noStealText(s);
  if (none) return `steal: ${none}`;
  const span = summary.duration_s * 1e9;
  const cpus = Object.keys(summary.cpus)
    .sort((a, b) => Number(a) - Number(b))
    .filter((k) => summary.cpus[k].steal_ns !== undefined)
    .map((k) => cpuSteal(k, summary.cpus[k].steal_ns!, span));
  const j = s.judged;
  const judged = j ? `; in the judged window: ${Object.entries(j.by_cpu).map(([k, ns]) => cpuSteal(k, ns, j.window_ns)).join(', ') || '-'}` : '';
  return `steal (the hypervisor's; not interruptions, not judged): ${cpus.join(', ') || '-'}${judged} [${stealSourceText(s)}]`;
}

export interface NotableSteal {
  cpu: string;
  steal_ns: number;
  window_ns: number;
  fraction: number;
}

/** The CPUs the hypervisor took at least STEAL_NOTABLE_FRACTION of the judged window from (run). */
export function notableSteal(steal: SummarySteal | undefined, fraction = STEAL_NOTABLE_FRACTION): NotableSteal[] {
  const j = steal?.judged;
  if (!j || j.window_ns <= 0) return [];
  return Object.entries(j.by_cpu)
    .map(([cpu, ns]) => ({ cpu, steal_ns: ns, window_ns: j.window_ns, fraction: ns / j.window_ns }))
    .filter((n) => n.fraction >= fraction && n.steal_ns > 0)
    .sort((a, b) => Number(a.cpu) - Number(b.cpu));
}

/** What a run's reports say about a notable share: what it was, that it was not judged, and what to do. */
export function notableStealText(n: NotableSteal): string {
  return (
    `the hypervisor took ${formatDuration(n.steal_ns)} (${pct(n.fraction)} of the ${formatDuration(n.window_ns)} judged window) from CPU ${n.cpu} ` +
    'as steal time: not an interruption isolwatch can see, and not judged; on the host: dedicated, pinned vCPUs, no overcommit (isolwatch doctor)'
  );
}
