// Interruptions in words: the phrasing shared by the event log, top causes and detail views.
import type { ChainEntry, InterruptionClass, InterruptionRecord } from '../../src/types.js';
import { formatDuration, symbolName } from '../format.js';
import { senderLabel, senderOf } from '../../src/verdict/index.js';

const LABEL: Partial<Record<InterruptionClass, string>> = { ipi: 'IPI', irq: 'IRQ', nmi: 'NMI' };

/** "IPI", "IRQ", "NMI", else the class name as is. */
export function classLabel(cls: InterruptionClass): string {
  return LABEL[cls] ?? cls;
}

const SHORT: Record<InterruptionClass, string> = {
  syscall: 'sys',
  page_fault: 'pf',
  exception: 'exc',
  irq: 'irq',
  timer: 'tmr',
  ipi: 'ipi',
  softirq: 'sirq',
  workqueue: 'wq',
  preempt: 'pre',
  nmi: 'nmi',
  kernel: 'krn',
};

/** Three-or-four letter class names for the dense CPU panel (legend in the help screen). */
export function classShort(cls: InterruptionClass): string {
  return SHORT[cls] ?? cls;
}

export function classLegend(): string {
  return Object.entries(SHORT)
    .map(([cls, s]) => `${s}=${cls}`)
    .join(' ');
}

/** "IPI call_function_single -> ipi_mb" */
export function whatLabel(cls: InterruptionClass, kind: string, func?: string): string {
  return func && func !== kind ? `${classLabel(cls)} ${kind} -> ${func}` : `${classLabel(cls)} ${kind}`;
}

/** Nested entries below the top one, e.g. " -> softirq TIMER". The top entry may or may not be in the chain. */
export function nestedChain(r: InterruptionRecord): ChainEntry[] {
  const c = r.chain ?? [];
  if (c.length === 0) return [];
  const first = c[0];
  const topIncluded = first.depth === 0 || (first.class === r.class && first.kind === r.kind);
  return topIncluded ? c.slice(1) : c;
}

function chainStep(e: ChainEntry): string {
  const what = e.func ?? e.name ?? e.kind;
  return `${classLabel(e.class)} ${what}`;
}

/** "from noise/4242 on CPU 0 (membarrier_private_expedited)", "(self)" */
export function causeWords(r: InterruptionRecord): string {
  const sender = senderOf(r.cause);
  if (sender.kind === 'self') return '(self)';
  const site = r.cause.callsite ? ` (${symbolName(r.cause.callsite)})` : '';
  return `from ${senderLabel(sender)}${site}`;
}

/**
 * One interruption in words, e.g.
 * "IPI call_function_single -> ipi_mb from noise/4242 on CPU 0 (membarrier_private_expedited) 3.1 us"
 */
export function describeEvent(r: InterruptionRecord, withDuration = true): string {
  const parts = [whatLabel(r.class, r.kind, r.func)];
  const top = `${classLabel(r.class)} ${r.func ?? r.kind}`;
  // A nested step that only repeats the top one (the csd callback inside its IPI vector) says
  // nothing new on one line; the detail view shows the whole chain.
  for (const e of nestedChain(r)) if (chainStep(e) !== top) parts.push(`-> ${chainStep(e)}`);
  parts.push(causeWords(r));
  if (withDuration) parts.push(formatDuration(r.duration_ns));
  return parts.join(' ');
}
