// Drill-down views: a top cause (chain, duration histogram, remedy), one event,
// one CPU, one task. Returns all lines; the screen view scrolls them.
import type { InterruptionClass, InterruptionRecord } from '../../src/types.js';
import type { Line } from '../format.js';
import { fmtCount, formatDuration, fmtPercent, fmtRate, fmtRelTs, plain, symbolName } from '../format.js';
import type { CauseGroup, DetailTarget, EventEntry, Model, RemedyLookup, Snapshot } from '../model/index.js';
import { causeRows, cpuRows, isolationOf } from '../model/index.js';
import { causeSender } from './causes.js';
import { classLabel, describeEvent, whatLabel } from './describe.js';
import { isolLabel } from './tasks.js';
import { noStealText, stealSourceText } from '../../src/output/steal.js';

const H = (text: string): Line => plain(text, 'title');
const T = (text: string, style?: Line[number]['style']): Line => plain(`  ${text}`, style);

export function detailTitle(d: DetailTarget): string {
  switch (d.kind) {
    case 'cause':
      return 'Top cause';
    case 'event':
      return 'Interruption';
    case 'cpu':
      return `CPU ${d.cpu}`;
    case 'task':
      return `Task ${d.tid}`;
  }
}

export function detailLines(model: Model, snap: Snapshot, d: DetailTarget, width: number, remedyFor?: RemedyLookup): Line[] {
  switch (d.kind) {
    case 'cause': {
      const g = snap.stats.causes[d.key];
      if (!g) return [H('Top cause'), T('no longer tracked (cleared or evicted)', 'dim')];
      return causeDetail(g, width, remedyFor);
    }
    case 'event':
      return eventDetail(model, d.entry, remedyFor);
    case 'cpu':
      return cpuDetail(model, snap, d.cpu);
    case 'task':
      return taskDetail(model, snap, d.tid);
  }
}

function chainLines(r: InterruptionRecord): Line[] {
  const out: Line[] = [T(`${whatLabel(r.class, r.kind, r.func)}`.padEnd(48) + formatDuration(r.duration_ns).padStart(10))];
  for (const e of r.chain ?? []) {
    if (e.depth === 0 && e.class === r.class && e.kind === r.kind) continue;
    const indent = '  '.repeat(Math.max(1, e.depth));
    const name = e.name ? ` (${e.name})` : '';
    out.push(T(`${indent}-> ${whatLabel(e.class, e.kind, e.func)}${name}`.padEnd(48) + formatDuration(e.duration_ns).padStart(10)));
  }
  return out;
}

export function histogramLines(hist: readonly number[], width: number): Line[] {
  const first = hist.findIndex((n) => n > 0);
  if (first < 0) return [T('(empty)', 'dim')];
  let last = hist.length - 1;
  while (last > first && hist[last] === 0) last--;
  const max = Math.max(...hist);
  const barW = Math.max(5, Math.min(40, width - 30));
  const out: Line[] = [];
  for (let i = first; i <= last; i++) {
    // log2 buckets: [2^i, 2^(i+1)) ns, the last one open
    const label = i < hist.length - 1 ? `< ${formatDuration(2 ** (i + 1))}` : `>= ${formatDuration(2 ** i)}`;
    const n = hist[i];
    const bar = '#'.repeat(n > 0 ? Math.max(1, Math.round((n / max) * barW)) : 0);
    out.push(T(`${label.padStart(10)} |${bar.padEnd(barW)} ${n}`));
  }
  return out;
}

function remedyLines(q: { class: InterruptionClass; kind: string; func?: string; context?: string }, remedyFor?: RemedyLookup): Line[] {
  const out: Line[] = [H('Remedy')];
  let found: ReturnType<RemedyLookup>;
  try {
    found = remedyFor?.(q);
  } catch {
    found = undefined; // a broken catalogue entry must not take the UI down
  }
  if (!found) {
    const what = [q.class, q.kind, q.func].filter(Boolean).join('/');
    out.push(T(`no remedy known for ${what}${remedyFor ? '' : ' (remedy catalogue not loaded)'}`, 'dim'));
    return out;
  }
  if (found.causes) out.push(T(`Why: ${found.causes}`));
  for (const r of found.remedy) out.push(T(`- ${r}`, 'good'));
  if (found.id) out.push(T(`(remedy catalogue: ${found.id})`, 'dim'));
  return out;
}

function causeDetail(g: CauseGroup, width: number, remedyFor?: RemedyLookup): Line[] {
  const avg = g.count ? g.stolenNs / g.count : 0;
  return [
    H(`Top cause: ${whatLabel(g.class, g.kind, g.func)} ${causeSender(g)}`),
    T(
      `${fmtCount(g.count)} interruptions, ${fmtCount(g.violations)} violations, stolen ${formatDuration(g.stolenNs)}, ` +
        `avg ${formatDuration(avg)}, max ${formatDuration(g.maxNs)}, on CPU ${g.victimCpus.join(',')}`,
    ),
    T(`victim: ${g.victim.comm}/${g.victim.tid}   sender: ${g.sender}${g.pids.length > 1 ? ` (threads ${g.pids.join(',')})` : ''}`),
    ...(g.callsites.length ? [T(`callsite${g.callsites.length > 1 ? 's' : ''}: ${g.callsites.join(', ')}`)] : []),
    plain(''),
    H('Chain (newest)'),
    ...(g.sample ? chainLines(g.sample) : [T('no record of it yet (counted in the kernel; records are sampled)', 'dim')]),
    plain(''),
    H('Durations'),
    ...histogramLines(g.hist, width),
    plain(''),
    ...remedyLines({ class: g.class, kind: g.kind, func: g.func, context: g.senderContext }, remedyFor),
  ];
}

function eventDetail(model: Model, e: EventEntry, remedyFor?: RemedyLookup): Line[] {
  const r = e.rec;
  const t0 = model.start.ts_ns ?? 0;
  const c = r.cause;
  const who = c.self
    ? 'the victim itself'
    : [c.comm !== undefined ? `${c.comm}/${c.pid ?? '?'}${c.tid !== undefined && c.tid !== c.pid ? ` tid ${c.tid}` : ''}` : undefined,
       c.cpu !== undefined ? `on CPU ${c.cpu}` : undefined,
       c.context ? `in ${c.context} context` : undefined,
       c.origin ? `(origin: ${c.origin})` : undefined]
        .filter(Boolean)
        .join(' ') || 'unknown';
  const out: Line[] = [
    H(`Interruption at ${fmtRelTs(r.ts_ns - t0)} on CPU ${r.cpu}`),
    T(describeEvent(r)),
    plain(''),
    T(`victim:    ${r.victim.comm} pid ${r.victim.pid} tid ${r.victim.tid}`),
    T(`isolation: ${isolLabel({ isol: r.isol.state, source: r.isol.source })}${r.isol.active_mask ? ` active_mask ${r.isol.active_mask}` : ''}${r.isol.quiesce_mask ? ` quiesce_mask ${r.isol.quiesce_mask}` : ''}`),
    T(`violation: ${r.violation ? 'yes' : 'no'}`, r.violation ? 'violation' : undefined),
    T(`caused by: ${who}`),
  ];
  if (c.callsite) out.push(T(`callsite:  ${c.callsite} (${symbolName(c.callsite)})`));
  if (r.flags?.length) out.push(T(`flags:     ${r.flags.join(' ')}`));
  if (r.note) out.push(T(`note:      ${r.note}`));
  if (r.action) {
    const a = r.action;
    out.push(T(`action:    ${a.kind}${a.signal ? ` ${a.signal}` : ''}${a.target ? ` -> ${a.target}` : ''}${a.pid !== undefined ? ` ${a.pid}` : ''}: ${a.result}${a.rule ? ` (rule ${a.rule})` : ''}`));
  }
  out.push(plain(''), H('Chain'), ...chainLines(r), plain(''));
  out.push(...remedyLines({ class: r.class, kind: r.kind, func: r.func, context: r.cause?.context }, remedyFor));
  return out;
}

/** The hypervisor's steal on the CPU (src/output/steal.ts words), or why there is none to show. */
function stealLine(model: Model, stealNs: number | undefined, fraction: number | undefined): Line {
  const s = model.start.steal;
  if (!s) return T('steal: not known (a recording without it)', 'dim');
  const none = noStealText(s);
  if (none) return T(`steal: ${none}`, s.vm ? 'warn' : 'dim');
  if (stealNs === undefined) return T(`steal: none read yet [${stealSourceText(s)}]`, 'dim');
  return T(`steal (the hypervisor's, not an interruption): ${formatDuration(stealNs)}${fraction !== undefined ? ` (${fmtPercent(fraction)} of the rate window)` : ''} [${stealSourceText(s)}]`);
}

function cpuDetail(model: Model, snap: Snapshot, cpu: number): Line[] {
  const row = cpuRows(model, snap).find((r) => r.cpu === cpu);
  if (!row) return [H(`CPU ${cpu}`), T('not watched', 'dim')];
  const st = row.stats;
  const out: Line[] = [
    H(`CPU ${cpu}: ${isolationOf(model.start, cpu)}`),
    T(`victim now: ${st.victim ? `${st.victim.comm}/${st.victim.tid}` : '-'}`),
    T(`${st.total} interruptions, ${st.violations} violations, stolen ${formatDuration(st.stolenNs)} (${fmtPercent(row.stolenFraction)} of the rate window), longest ${formatDuration(st.maxNs)}${st.maxWhat ? ` (${st.maxWhat})` : ''}`),
    stealLine(model, st.stealNs, row.stealFraction),
    plain(''),
    H('By class              count      per s'),
  ];
  const rate = new Map(row.rates.map((r) => [r.cls, r.perS]));
  for (const [cls, n] of Object.entries(st.byClass).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))) {
    out.push(T(`${classLabel(cls as InterruptionClass).padEnd(18)} ${String(n).padStart(7)} ${fmtRate(rate.get(cls as InterruptionClass) ?? 0).padStart(10)}`));
  }
  out.push(plain(''), H('Top causes on this CPU'));
  const causes = causeRows(snap, '').filter((g) => g.victimCpus.includes(cpu)).slice(0, 10);
  for (const g of causes) out.push(T(`${String(g.count).padStart(6)} ${formatDuration(g.stolenNs).padStart(9)}  ${whatLabel(g.class, g.kind, g.func)} ${causeSender(g)}`));
  if (causes.length === 0) out.push(T('none', 'dim'));
  out.push(plain(''), H('Recent on this CPU'));
  const t0 = model.start.ts_ns ?? 0;
  for (const e of snap.stats.events.filter((x) => x.rec.cpu === cpu).slice(0, 10)) {
    out.push(T(`${fmtRelTs(e.rec.ts_ns - t0).padStart(9)} ${e.rec.violation ? '!' : ' '} ${describeEvent(e.rec)}`, e.rec.violation ? 'violation' : undefined));
  }
  return out;
}

function taskDetail(model: Model, snap: Snapshot, tid: number): Line[] {
  const t = snap.stats.tasks[String(tid)];
  if (!t) return [H(`Task ${tid}`), T('no longer tracked (cleared or evicted)', 'dim')];
  const out: Line[] = [
    H(`Task ${t.comm} pid ${t.pid} tid ${t.tid}${t.lastCpu !== undefined ? ` (last on CPU ${t.lastCpu})` : ''}`),
    T(`isolation: ${isolLabel(t)}`),
    T(`${t.interruptions} interruptions, ${t.violations} violations, stolen ${formatDuration(t.stolenNs)}, longest ${formatDuration(t.maxNs)}`),
  ];
  if (t.lastOp) out.push(T(`last PR_ISOL prctl: ${t.lastOp}: ${t.lastOpMeaning ?? ''}`, t.lastOpWarning ? 'warn' : undefined));
  out.push(plain(''), H('By class'));
  for (const [cls, n] of Object.entries(t.byClass).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))) {
    out.push(T(`${classLabel(cls as InterruptionClass).padEnd(18)} ${String(n).padStart(7)}`));
  }
  out.push(plain(''), H('Recent interruptions of this task'));
  const t0 = model.start.ts_ns ?? 0;
  const recent = snap.stats.events.filter((x) => x.rec.victim.tid === tid).slice(0, 12);
  for (const e of recent) {
    out.push(T(`${fmtRelTs(e.rec.ts_ns - t0).padStart(9)} CPU ${e.rec.cpu} ${e.rec.violation ? '!' : ' '} ${describeEvent(e.rec)}`, e.rec.violation ? 'violation' : undefined));
  }
  if (recent.length === 0) out.push(T('none in the event log', 'dim'));
  return out;
}
