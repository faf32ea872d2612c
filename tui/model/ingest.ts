// Aggregation of record batches into the Model's stats, copy-on-write.
// Memory is bounded: a ring of the newest events, per-second buckets for a
// fixed history, and capped task / cause tables (smallest evicted first).
import { causeKeyOf, histBucket, HIST_BUCKETS, senderLabel, senderOf, type AggregateRow } from '../../src/verdict/index.js';
import type { AggregateRecord, InterruptionClass, InterruptionRecord, IsolRecord, OutputRecord, SummaryRecord, TaskRef } from '../../src/types.js';
import { CauseGroup, ClassCounts, CpuStats, EventEntry, Model, SecondBucket, Stats, TaskStats, emptyCpu } from './state.js';
import { eventMatches } from './selectors.js';

// Copy-on-write: a batch copies the containers once and each CPU, task, cause
// or bucket only when it first changes it, so the previous model (e.g. the
// frozen one shown while paused) is never mutated and a batch costs what it touches.
export interface Batch {
  s: Stats;
  /** objects created by this batch, safe to mutate */
  owned: WeakSet<object>;
}

export function beginBatch(prev: Stats): Batch {
  const s: Stats = { ...prev, cpus: { ...prev.cpus }, tasks: { ...prev.tasks }, causes: { ...prev.causes } };
  return { s, owned: new WeakSet() };
}

export function ownCpu(w: Batch, cpuNum: number): CpuStats {
  let c = w.s.cpus[cpuNum];
  if (c && w.owned.has(c)) return c;
  c = c ? { ...c, byClass: { ...c.byClass }, buckets: [...c.buckets] } : emptyCpu(cpuNum);
  w.owned.add(c);
  w.s.cpus[cpuNum] = c;
  return c;
}

export function ownBucket(w: Batch, cpu: CpuStats, i: number): SecondBucket {
  let b = cpu.buckets[i];
  if (w.owned.has(b)) return b;
  b = { ...b, byClass: { ...b.byClass } };
  w.owned.add(b);
  cpu.buckets[i] = b;
  return b;
}

export function ownTask(w: Batch, key: string): TaskStats | undefined {
  let t = w.s.tasks[key];
  if (!t || w.owned.has(t)) return t;
  t = { ...t, byClass: { ...t.byClass } };
  w.owned.add(t);
  w.s.tasks[key] = t;
  return t;
}

export function ownCause(w: Batch, key: string): CauseGroup | undefined {
  let g = w.s.causes[key];
  if (!g || w.owned.has(g)) return g;
  g = { ...g, pids: [...g.pids], callsites: [...g.callsites], victimCpus: [...g.victimCpus], hist: [...g.hist] };
  w.owned.add(g);
  w.s.causes[key] = g;
  return g;
}

export function ingest(model: Model, records: readonly OutputRecord[], nowNs: number): Model {
  if (records.length === 0) return { ...model, nowNs };
  const w = beginBatch(model.stats);
  const s = w.s;
  let baseNs = model.baseNs;
  let maxTs: number | undefined;
  const newEvents: EventEntry[] = [];
  for (const r of records) {
    switch (r.type) {
      case 'interruption': {
        if (baseNs === undefined) baseNs = r.ts_ns;
        if (s.t0Ns === undefined) s.t0Ns = r.ts_ns;
        if (s.firstTsNs === undefined || r.ts_ns < s.firstTsNs) s.firstTsNs = r.ts_ns;
        maxTs = maxTs === undefined ? r.ts_ns : Math.max(maxTs, r.ts_ns);
        if (model.opts.countsFrom === 'records') addInterruption(w, r, baseNs, model.opts);
        else addSample(w, r, model.opts);
        newEvents.push({ id: s.nextEventId++, rec: r });
        if (newEvents.length >= 2 * model.opts.eventCapacity) newEvents.splice(0, newEvents.length - model.opts.eventCapacity);
        break;
      }
      case 'isol':
        maxTs = maxTs === undefined ? r.ts_ns : Math.max(maxTs, r.ts_ns);
        addIsol(w, r, model.opts.maxTasks);
        break;
      case 'aggregate':
        if (model.opts.countsFrom !== 'aggregates' || r.scope !== 'interval') break;
        if (baseNs === undefined) baseNs = r.from_ns;
        if (s.t0Ns === undefined) s.t0Ns = r.from_ns;
        maxTs = maxTs === undefined ? r.to_ns : Math.max(maxTs, r.to_ns);
        addAggregate(w, r, baseNs, model.opts);
        if (r.steal_ns) addSteal(w, r, baseNs, model.opts);
        break;
      case 'summary':
        addSummary(w, r, model.opts.maxTasks);
        break;
      case 'start':
        // A second start record (e.g. concatenated recordings) is ignored: the header describes the first.
        break;
    }
  }
  if (maxTs !== undefined) s.lastTsNs = Math.max(s.lastTsNs ?? maxTs, maxTs);
  if (newEvents.length > 0) {
    const cap = model.opts.eventCapacity;
    const fresh = newEvents.length > cap ? newEvents.slice(newEvents.length - cap) : newEvents;
    s.events = fresh.reverse().concat(s.events).slice(0, cap);
  }
  // Learn the record clock from the first live batch: ts_ns (kernel clock) and nowNs (our clock)
  // need not share an epoch.
  let clockOffsetNs = model.clockOffsetNs;
  if (clockOffsetNs === undefined && maxTs !== undefined && !model.opts.replay) clockOffsetNs = maxTs - nowNs;
  // Keep the selected event selected as newer ones are prepended (row 0 = follow the newest).
  let sel = model.sel;
  if (!model.paused && sel.events > 0 && newEvents.length > 0) {
    const shift = model.filter ? newEvents.filter((e) => eventMatches(e.rec, model.filter)).length : newEvents.length;
    sel = { ...sel, events: Math.min(sel.events + shift, Math.max(0, s.events.length - 1)) };
  }
  return {
    ...model,
    stats: s,
    sel,
    nowNs,
    baseNs,
    clockOffsetNs,
    pendingWhilePaused: model.paused ? model.pendingWhilePaused + records.length : 0,
  };
}

export function taskKey(tid: number): string {
  return String(tid);
}

export function getTask(w: Batch, ref: TaskRef, maxTasks: number): TaskStats {
  const s = w.s;
  const key = taskKey(ref.tid);
  let t = ownTask(w, key);
  if (!t) {
    const keys = Object.keys(s.tasks);
    if (keys.length >= maxTasks) {
      // Evict the least interesting task: fewest violations, then least stolen time.
      let worst = keys[0];
      for (const k of keys) {
        const a = s.tasks[k];
        const b = s.tasks[worst];
        if (a.violations < b.violations || (a.violations === b.violations && a.stolenNs < b.stolenNs)) worst = k;
      }
      delete s.tasks[worst];
    }
    t = emptyTask(ref);
    w.owned.add(t);
    s.tasks[key] = t;
  }
  if (ref.comm) t.comm = ref.comm;
  return t;
}

export function emptyTask(ref: TaskRef): TaskStats {
  return { pid: ref.pid, tid: ref.tid, comm: ref.comm, isol: 'none', interruptions: 0, violations: 0, stolenNs: 0, maxNs: 0, byClass: {} };
}

export function bump(counts: ClassCounts, cls: InterruptionClass, n = 1): void {
  counts[cls] = (counts[cls] ?? 0) + n;
}

/** Counts of one interruption record, or of an aggregate row (count of them). */
interface Counted {
  cpu: number;
  class: InterruptionClass;
  kind: string;
  func?: string;
  victim: TaskRef;
  violation: boolean;
  isol: { state: InterruptionRecord['isol']['state']; source?: InterruptionRecord['isol']['source'] };
  cause: InterruptionRecord['cause'] | AggregateRow['cause'];
  count: number;
  stolenNs: number;
  maxNs: number;
  hist: readonly number[];
}

export function addInterruption(w: Batch, r: InterruptionRecord, baseNs: number, opts: Model['opts']): void {
  const d = Math.max(0, r.duration_ns);
  const hist = new Array<number>(HIST_BUCKETS).fill(0);
  hist[histBucket(d)] = 1;
  const g = addCounted(
    w,
    { cpu: r.cpu, class: r.class, kind: r.kind, func: r.func, victim: r.victim, violation: r.violation, isol: r.isol, cause: r.cause, count: 1, stolenNs: d, maxNs: d, hist },
    Math.floor((r.ts_ns - baseNs) / 1e9),
    opts,
  );
  g.sample = r;
  g.lastTsNs = r.ts_ns;
}

/** What changed in an interval, from the kernel's aggregates: counted in the second the interval ended in. */
export function addAggregate(w: Batch, a: AggregateRecord, baseNs: number, opts: Model['opts']): void {
  const sec = Math.floor((Math.max(a.from_ns, a.to_ns - 1) - baseNs) / 1e9);
  for (const row of a.rows) {
    if (row.count <= 0) continue;
    const g = addCounted(
      w,
      { ...row, isol: { state: row.isol, ...(row.isol === 'declared' ? { source: 'declared' as const } : {}) }, stolenNs: row.stolen_ns, maxNs: row.max_ns },
      sec,
      opts,
    );
    g.lastTsNs = Math.max(g.lastTsNs, a.to_ns);
  }
}

/** A sampled record of a live session: the event log and its group's newest chain; the counts come from aggregates. */
export function addSample(w: Batch, r: InterruptionRecord, opts: Model['opts']): void {
  const g = causeGroupFor(w, r, opts.maxCauses);
  g.sample = r;
  g.lastTsNs = Math.max(g.lastTsNs, r.ts_ns);
  const senderId = r.cause.tid ?? r.cause.pid;
  if (senderId !== undefined && !g.pids.includes(senderId) && g.pids.length < 8) g.pids.push(senderId);
  if (r.cause.callsite && !g.callsites.includes(r.cause.callsite) && g.callsites.length < 4) g.callsites.push(r.cause.callsite);
  const t = w.s.tasks[taskKey(r.victim.tid)];
  if (t && r.isol.state !== 'none') {
    const own = ownTask(w, taskKey(r.victim.tid))!;
    own.isol = r.isol.state;
    if (r.isol.source) own.source = r.isol.source;
  }
}

/** The CPU's bucket of second `sec`, owned by the batch (made when missing; history beyond historySeconds dropped). */
function bucketAt(w: Batch, cpu: CpuStats, sec: number, opts: Model['opts']): SecondBucket {
  let bi = cpu.buckets.length - 1;
  if (bi < 0 || cpu.buckets[bi].sec !== sec) bi = cpu.buckets.findIndex((x) => x.sec === sec);
  if (bi >= 0) return ownBucket(w, cpu, bi);
  const b: SecondBucket = { sec, count: 0, stolenNs: 0, byClass: {} };
  w.owned.add(b);
  cpu.buckets.push(b);
  if (cpu.buckets.length > 1 && cpu.buckets[cpu.buckets.length - 2].sec > sec) cpu.buckets.sort((x, y) => x.sec - y.sec);
  const newest = cpu.buckets[cpu.buckets.length - 1].sec;
  while (cpu.buckets.length > 0 && cpu.buckets[0].sec <= newest - opts.historySeconds) cpu.buckets.shift();
  return b;
}

/** The hypervisor's steal in an interval (its steal_ns), in the second the interval ended in, as its counts are. */
export function addSteal(w: Batch, a: AggregateRecord, baseNs: number, opts: Model['opts']): void {
  const sec = Math.floor((Math.max(a.from_ns, a.to_ns - 1) - baseNs) / 1e9);
  for (const [k, ns] of Object.entries(a.steal_ns ?? {})) {
    const cpu = ownCpu(w, Number(k));
    cpu.stealNs = (cpu.stealNs ?? 0) + ns;
    const b = bucketAt(w, cpu, sec, opts);
    b.stealNs = (b.stealNs ?? 0) + ns;
  }
}

function addCounted(w: Batch, r: Counted, sec: number, opts: Model['opts']): CauseGroup {
  const s = w.s;
  const n = r.count;
  s.total += n;
  if (r.violation) s.violations += n;
  const d = Math.max(0, r.stolenNs);

  const cpu = ownCpu(w, r.cpu);
  cpu.total += n;
  if (r.violation) cpu.violations += n;
  bump(cpu.byClass, r.class, n);
  cpu.stolenNs += d;
  if (r.maxNs > cpu.maxNs) {
    cpu.maxNs = r.maxNs;
    cpu.maxWhat = `${r.class} ${r.func ?? r.kind}`;
  }
  if (r.victim.tid !== 0 || r.victim.comm) cpu.victim = r.victim;
  const b = bucketAt(w, cpu, sec, opts);
  b.count += n;
  b.stolenNs += d;
  bump(b.byClass, r.class, n);

  if (r.victim.tid !== 0 || r.victim.comm) {
    const t = getTask(w, r.victim, opts.maxTasks);
    t.interruptions += n;
    if (r.violation) t.violations += n;
    t.stolenNs += d;
    t.maxNs = Math.max(t.maxNs, r.maxNs);
    bump(t.byClass, r.class, n);
    t.lastCpu = r.cpu;
    if (r.isol.state !== 'none' || t.isol === 'none') {
      t.isol = r.isol.state;
      t.source = r.isol.source ?? (r.isol.state === 'declared' ? 'declared' : t.source);
    }
  }

  const g = causeGroupFor(w, r, opts.maxCauses);
  g.count += n;
  if (r.violation) g.violations += n;
  g.stolenNs += d;
  g.maxNs = Math.max(g.maxNs, r.maxNs);
  r.hist.forEach((x, i) => (g.hist[i] += x));
  const senderId = r.cause.tid ?? r.cause.pid;
  if (senderId !== undefined && !g.pids.includes(senderId) && g.pids.length < 8) g.pids.push(senderId);
  if (r.cause.callsite && !g.callsites.includes(r.cause.callsite) && g.callsites.length < 4) g.callsites.push(r.cause.callsite);
  if (!g.victimCpus.includes(r.cpu)) g.victimCpus.push(r.cpu);
  return g;
}

export function causeGroupFor(w: Batch, r: Pick<Counted, 'class' | 'kind' | 'func' | 'cause' | 'victim'> & { ts_ns?: number }, maxCauses: number): CauseGroup {
  const s = w.s;
  // grouped and named as every report does (src/verdict/causes.ts)
  const key = causeKeyOf(r);
  const sender = senderOf(r.cause);
  let g = ownCause(w, key);
  if (!g) {
    if (s.causeCount >= maxCauses) evictCauses(s, maxCauses);
    s.causeCount++;
    g = {
      key,
      class: r.class,
      kind: r.kind,
      func: r.func,
      sender: senderLabel(sender),
      ...(sender.context ? { senderContext: sender.context } : {}),
      selfCaused: sender.kind === 'self',
      victim: r.victim,
      pids: [],
      callsites: [],
      victimCpus: [],
      count: 0,
      violations: 0,
      stolenNs: 0,
      maxNs: 0,
      hist: new Array(HIST_BUCKETS).fill(0),
      lastTsNs: r.ts_ns ?? 0,
    };
    w.owned.add(g);
    s.causes[key] = g;
  } else if (sender.kind === 'task' && g.pids.length > 0 && (r.cause.tid ?? r.cause.pid) !== undefined && !g.pids.includes((r.cause.tid ?? r.cause.pid)!)) {
    // same comm, several threads or processes: name the comm
    g.sender = senderLabel(sender, 'many');
  }
  return g;
}

/** Drops the least costly tenth of the cause groups at once, so a stream of new senders costs O(1) amortized. */
export function evictCauses(s: Stats, maxCauses: number): void {
  const keep = Math.max(0, maxCauses - Math.max(1, Math.ceil(maxCauses / 10)));
  const sorted = Object.values(s.causes).sort((a, b) => b.stolenNs - a.stolenNs || b.lastTsNs - a.lastTsNs);
  const causes: Record<string, CauseGroup> = {};
  for (const g of sorted.slice(0, keep)) causes[g.key] = g;
  s.causes = causes;
  s.causeCount = Math.min(sorted.length, keep);
}

export function addIsol(w: Batch, r: IsolRecord, maxTasks: number): void {
  w.s.isolOps++;
  const t = getTask(w, { pid: r.pid, tid: r.tid, comm: r.comm }, maxTasks);
  t.lastOp = r.op;
  t.lastOpMeaning = r.meaning;
  t.lastOpWarning = r.warning;
  if (t.source === undefined || t.source === 'none') t.source = 'prctl';
  // a PR_ISOL-numbered prctl that meant something else here: said in the header, not only in JSON
  if (r.warning) w.s.isolWarnings = [`${r.comm}/${r.tid} ${r.op}: ${r.meaning}`, ...w.s.isolWarnings].slice(0, 3);
}

export function addSummary(w: Batch, r: SummaryRecord, maxTasks: number): void {
  w.s.summary = r;
  // a replay's steal is the summary's (its interval records are not counted)
  for (const [k, c] of Object.entries(r.cpus)) if (c.steal_ns !== undefined) ownCpu(w, Number(k)).stealNs = c.steal_ns;
  for (const ts of r.tasks) {
    const known = ownTask(w, taskKey(ts.tid));
    if (known) {
      known.isol = ts.isol;
      if (ts.source) known.source = ts.source;
    } else {
      const t = getTask(w, { pid: ts.pid, tid: ts.tid, comm: ts.comm }, maxTasks);
      Object.assign(t, {
        isol: ts.isol,
        source: ts.source,
        interruptions: ts.interruptions,
        violations: ts.violations,
        stolenNs: ts.stolen_ns,
      });
    }
  }
}
