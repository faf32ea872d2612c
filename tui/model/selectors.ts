// Derived data, shared by the reducer for selection bounds and by the views.
import type { InterruptionClass, InterruptionRecord, StartRecord } from '../../src/types.js';
import { CauseGroup, ClassCounts, CpuStats, EventEntry, Model, PanelId, Snapshot, Stats, TaskStats, emptyCpu } from './state.js';
import { bump } from './ingest.js';

export function visible(model: Model): Snapshot {
  return model.paused ?? { stats: model.stats, nowNs: model.nowNs };
}

/** "Now" on the record clock. Replays: the newest record. Live: the live clock mapped onto the record clock. */
export function recordNowNs(stats: Stats, model: Model, nowNs: number): number | undefined {
  if (model.opts.replay || model.clockOffsetNs === undefined) return stats.lastTsNs ?? stats.t0Ns;
  return Math.max(stats.lastTsNs ?? 0, nowNs + model.clockOffsetNs);
}

export interface TimeView {
  /** shown in the header */
  elapsedNs: number;
  /** record time the rates end at */
  endNs?: number;
  /** length of the window rates are averaged over (ns); 0 when nothing to average */
  windowNs: number;
  /** bucket second that "now" falls in */
  nowSec?: number;
}

export function timeView(model: Model, snap: Snapshot = visible(model)): TimeView {
  const s = snap.stats;
  const end = recordNowNs(s, model, snap.nowNs);
  let elapsedNs: number;
  if (model.opts.replay) {
    const begin = model.start.ts_ns ?? s.firstTsNs;
    elapsedNs = end !== undefined && begin !== undefined ? end - begin : 0;
    if (s.summary) elapsedNs = Math.max(elapsedNs, s.summary.duration_s * 1e9);
  } else {
    elapsedNs = snap.nowNs - model.openNs;
  }
  const sinceT0 = end !== undefined && s.t0Ns !== undefined ? Math.max(0, end - s.t0Ns) : 0;
  const windowNs = model.opts.replay ? sinceT0 : Math.min(model.opts.rateWindowS * 1e9, sinceT0);
  const nowSec = end !== undefined && model.baseNs !== undefined ? Math.floor((end - model.baseNs) / 1e9) : undefined;
  return { elapsedNs: Math.max(0, elapsedNs), endNs: end, windowNs, nowSec };
}

export interface CpuRow {
  cpu: number;
  how: string;
  stats: CpuStats;
  /** per second, by class, sorted high to low */
  rates: { cls: InterruptionClass; perS: number }[];
  totalPerS: number;
  stolenFraction: number;
  /** the hypervisor's steal over the same window, as a share of it; undefined when no steal was read */
  stealFraction?: number;
}

/** How a CPU is isolated, from the start record. */
export function isolationOf(start: StartRecord, cpu: number): string {
  const parts: string[] = [];
  if (start.isolated.includes(cpu)) parts.push('isolated');
  if (start.nohz_full.includes(cpu)) parts.push('nohz_full');
  return parts.length ? parts.join('+') : 'housekeeping';
}

export function cpuRows(model: Model, snap: Snapshot = visible(model)): CpuRow[] {
  const tv = timeView(model, snap);
  const cpus = new Set<number>([...model.start.watched_cpus, ...Object.values(snap.stats.cpus).map((c) => c.cpu)]);
  return [...cpus]
    .sort((a, b) => a - b)
    .map((cpu) => {
      const st = snap.stats.cpus[cpu] ?? emptyCpu(cpu);
      let counts: ClassCounts;
      let stolen: number;
      let steal = st.stealNs;
      if (model.opts.replay || tv.nowSec === undefined) {
        counts = st.byClass;
        stolen = st.stolenNs;
      } else {
        // Live: the buckets of the last rateWindowS seconds.
        counts = {};
        stolen = 0;
        if (steal !== undefined) steal = 0;
        const from = tv.nowSec - Math.ceil(tv.windowNs / 1e9);
        for (const b of st.buckets) {
          if (b.sec <= from || b.sec > tv.nowSec) continue;
          stolen += b.stolenNs;
          if (steal !== undefined) steal += b.stealNs ?? 0;
          for (const [k, v] of Object.entries(b.byClass)) bump(counts, k as InterruptionClass, v);
        }
      }
      const secs = tv.windowNs / 1e9;
      const rates = Object.entries(counts)
        .map(([cls, n]) => ({ cls: cls as InterruptionClass, perS: secs > 0 ? (n ?? 0) / secs : 0 }))
        .filter((r) => r.perS > 0)
        .sort((a, b) => b.perS - a.perS || a.cls.localeCompare(b.cls));
      return {
        cpu,
        how: isolationOf(model.start, cpu),
        stats: st,
        rates,
        totalPerS: rates.reduce((a, r) => a + r.perS, 0),
        stolenFraction: tv.windowNs > 0 ? Math.min(1, stolen / tv.windowNs) : 0,
        ...(steal !== undefined ? { stealFraction: fractionOf(steal, stealSpanNs(model, snap, tv)) } : {}),
      };
    });
}

const fractionOf = (ns: number, spanNs: number): number => (spanNs > 0 ? Math.min(1, ns / spanNs) : 0);

/** What a CPU's steal is a share of: the rate window live; a replay's steal is its summary's, over the summary's duration. */
function stealSpanNs(model: Model, snap: Snapshot, tv: TimeView): number {
  const d = snap.stats.summary?.duration_s;
  return model.opts.replay && d !== undefined ? d * 1e9 : tv.windowNs;
}

/** Counts per second for the newest `n` seconds ending at "now", oldest first. */
export function cpuHistory(model: Model, cpu: number, n: number, snap: Snapshot = visible(model)): number[] {
  const tv = timeView(model, snap);
  const st = snap.stats.cpus[cpu];
  if (!st || tv.nowSec === undefined || n <= 0) return [];
  let first = tv.nowSec - n + 1;
  // A short replay shows only the seconds it has.
  if (snap.stats.t0Ns !== undefined && model.baseNs !== undefined) {
    first = Math.max(first, Math.floor((snap.stats.t0Ns - model.baseNs) / 1e9));
  }
  const out: number[] = [];
  for (let sec = first; sec <= tv.nowSec; sec++) out.push(st.buckets.find((b) => b.sec === sec)?.count ?? 0);
  return out;
}

export function taskRows(snap: Snapshot): TaskStats[] {
  return Object.values(snap.stats.tasks).sort(
    (a, b) => b.violations - a.violations || b.stolenNs - a.stolenNs || b.interruptions - a.interruptions || a.tid - b.tid,
  );
}

export function terms(filter: string): string[] {
  return filter.toLowerCase().split(/\s+/).filter(Boolean);
}

export function matches(haystack: (string | number | undefined)[], filter: string): boolean {
  const t = terms(filter);
  if (t.length === 0) return true;
  const hay = haystack
    .filter((x) => x !== undefined)
    .join(' ')
    .toLowerCase();
  return t.every((w) => hay.includes(w));
}

export function eventMatches(r: InterruptionRecord, filter: string): boolean {
  if (!filter) return true;
  return matches(
    [
      r.class,
      r.kind,
      r.func,
      r.victim.comm,
      r.cause.comm,
      r.cause.callsite,
      r.cause.context,
      ...r.chain.flatMap((c) => [c.class, c.kind, c.func, c.name]),
    ],
    filter,
  );
}

export function causeMatches(g: CauseGroup, filter: string): boolean {
  if (!filter) return true;
  return matches(
    [g.class, g.kind, g.func, g.sender, g.victim.comm, ...g.callsites, ...(g.sample?.chain ?? []).flatMap((c) => [c.kind, c.func])],
    filter,
  );
}

export function causeRows(snap: Snapshot, filter: string): CauseGroup[] {
  return Object.values(snap.stats.causes)
    .filter((g) => causeMatches(g, filter))
    .sort((a, b) => b.stolenNs - a.stolenNs || b.count - a.count || a.key.localeCompare(b.key));
}

export function eventRows(snap: Snapshot, filter: string): EventEntry[] {
  return filter ? snap.stats.events.filter((e) => eventMatches(e.rec, filter)) : snap.stats.events;
}

export function panelLength(model: Model, panel: PanelId): number {
  const snap = visible(model);
  switch (panel) {
    case 'cpus':
      return cpuRows(model, snap).length;
    case 'tasks':
      return taskRows(snap).length;
    case 'causes':
      return causeRows(snap, model.filter).length;
    case 'events':
      return eventRows(snap, model.filter).length;
  }
}
