// The TUI's state and its pure reducer. Everything the screen shows is
// derived from a Model; the app (tui/app.ts) only feeds actions in and draws
// what tui/views/* make of it. No I/O, no clocks: time arrives in actions.
//
// Memory is bounded: a ring of the newest events, per-second buckets for a
// fixed history, and capped task / cause tables (smallest evicted first).
import { causeKeyOf, senderLabel, senderOf } from '../src/verdict/index.js';
import type {
  InterruptionClass,
  InterruptionRecord,
  IsolRecord,
  IsolSource,
  IsolStateName,
  OutputRecord,
  StartRecord,
  SummaryRecord,
  TaskRef,
} from '../src/types.js';

export type PanelId = 'cpus' | 'tasks' | 'causes' | 'events';
export const PANELS: readonly PanelId[] = ['cpus', 'tasks', 'causes', 'events'];

/** The remedy catalogue's lookup (src/remedies.ts remedyFor), injected so tests can stand in for it. */
export type { RemedyLookup } from '../src/remedies.js';

export interface ModelOptions {
  /** Records come from a recording: time is taken from ts_ns only. */
  replay?: boolean;
  /** Shown in the header, e.g. "off", "log", "signal (dry-run)". */
  enforcement?: string;
  /** Fixed lines for the header's note row, e.g. what `isolwatch demo` started, set-up warnings. */
  notes?: string[];
  /** Tasks declared isolated when the session began (--pid): listed before any interruption hits them. */
  declaredTasks?: TaskRef[];
  /** Live clock (any monotonic ns clock) when the UI opened. */
  nowNs?: number;
  cols?: number;
  rows?: number;
  /** Newest interruptions kept for the event log. */
  eventCapacity?: number;
  /** Seconds of per-CPU history kept for the sparkline and live rates. */
  historySeconds?: number;
  /** Live rates are averaged over this many seconds. */
  rateWindowS?: number;
  maxCauses?: number;
  maxTasks?: number;
}

type ClassCounts = Partial<Record<InterruptionClass, number>>;

export interface SecondBucket {
  /** whole seconds since the session base */
  sec: number;
  count: number;
  stolenNs: number;
  byClass: ClassCounts;
}

export interface CpuStats {
  cpu: number;
  total: number;
  violations: number;
  byClass: ClassCounts;
  stolenNs: number;
  maxNs: number;
  /** what the longest stall was, e.g. "workqueue vmstat_update" */
  maxWhat?: string;
  victim?: TaskRef;
  /** ascending by sec, at most historySeconds long */
  buckets: SecondBucket[];
}

export interface TaskStats {
  pid: number;
  tid: number;
  comm: string;
  isol: IsolStateName;
  source?: IsolSource;
  interruptions: number;
  violations: number;
  stolenNs: number;
  maxNs: number;
  byClass: ClassCounts;
  lastCpu?: number;
  /** last PR_ISOL prctl seen for this task and what it meant */
  lastOp?: string;
  lastOpMeaning?: string;
  lastOpWarning?: boolean;
}

/** Duration histogram bucket upper bounds (ns); one more bucket holds everything above. */
export const HIST_BOUNDS_NS: readonly number[] = [
  500, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 50_000, 100_000, 200_000,
  500_000, 1_000_000,
];

export interface CauseGroup {
  key: string;
  class: InterruptionClass;
  kind: string;
  func?: string;
  /** the sender as every report names it (src/verdict senderLabel): "noise/4242 on CPU 0", "softirq (timer) on CPU 1", "the task itself" */
  sender: string;
  selfCaused: boolean;
  /** sender thread ids seen (tid, or pid when the record has no tid), at most 8 */
  pids: number[];
  callsites: string[];
  victimCpus: number[];
  count: number;
  violations: number;
  stolenNs: number;
  maxNs: number;
  hist: number[];
  /** newest interruption of this group: its chain is shown in the detail view */
  sample: InterruptionRecord;
  lastTsNs: number;
}

export interface EventEntry {
  id: number;
  rec: InterruptionRecord;
}

/** Everything aggregated from records. Replaced (never mutated) on each batch. */
export interface Stats {
  /** record time the counters start from (session start or last clear) */
  t0Ns?: number;
  firstTsNs?: number;
  lastTsNs?: number;
  cpus: Record<string, CpuStats>;
  tasks: Record<string, TaskStats>;
  causes: Record<string, CauseGroup>;
  /** newest first */
  events: EventEntry[];
  nextEventId: number;
  /** number of keys in causes (kept to avoid counting on every record) */
  causeCount: number;
  total: number;
  violations: number;
  isolOps: number;
  /** the newest PR_ISOL-numbered prctls that meant something else on this kernel (warning), at most 3 */
  isolWarnings: string[];
  summary?: SummaryRecord;
}

export type DetailTarget =
  | { kind: 'cause'; key: string }
  | { kind: 'event'; entry: EventEntry }
  | { kind: 'cpu'; cpu: number }
  | { kind: 'task'; tid: number };

/** What the views draw from: live stats, or the frozen copy while paused. */
export interface Snapshot {
  stats: Stats;
  nowNs: number;
}

/** Live session state that is not a record: the kernel's counters and things that happened. */
export interface SessionStatus {
  /** ring-buffer records the kernel could not deliver (the session's lost counter) */
  lostEvents?: number;
  /** e.g. "pid 4242 exited" */
  notices: string[];
}

export interface Model {
  start: StartRecord;
  opts: Required<Omit<ModelOptions, 'cols' | 'rows' | 'nowNs' | 'enforcement' | 'notes' | 'declaredTasks'>> & {
    enforcement: string;
    notes: string[];
  };
  /** latest live session status (none in a replay) */
  session?: SessionStatus;
  cols: number;
  rows: number;
  /** live clock when opened, and at the last tick */
  openNs: number;
  nowNs: number;
  /** record clock minus live clock, learned from the first live batch */
  clockOffsetNs?: number;
  /** session base for per-second buckets (record time) */
  baseNs?: number;
  stats: Stats;
  paused?: Snapshot;
  /** records that arrived while paused */
  pendingWhilePaused: number;
  focus: PanelId;
  sel: Record<PanelId, number>;
  detail?: DetailTarget;
  detailScroll: number;
  help: boolean;
  filter: string;
  /** non-null while the user is typing a filter */
  filterDraft: string | null;
  quit: boolean;
}

export type Action =
  | { type: 'records'; records: readonly OutputRecord[]; nowNs: number }
  | { type: 'tick'; nowNs: number }
  | { type: 'status'; lostEvents?: number; notices?: string[] }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'focus-next' }
  | { type: 'focus-prev' }
  | { type: 'focus'; panel: PanelId }
  | { type: 'select-up'; n?: number }
  | { type: 'select-down'; n?: number }
  | { type: 'select-home' }
  | { type: 'select-end' }
  | { type: 'drill' }
  | { type: 'back' }
  | { type: 'pause' }
  | { type: 'clear' }
  | { type: 'filter'; text: string }
  | { type: 'filter-start' }
  | { type: 'filter-input'; text: string }
  | { type: 'filter-backspace' }
  | { type: 'filter-commit' }
  | { type: 'filter-cancel' }
  | { type: 'help' }
  | { type: 'quit' };

const DEFAULTS = {
  replay: false,
  eventCapacity: 500,
  historySeconds: 120,
  rateWindowS: 5,
  maxCauses: 1000,
  maxTasks: 512,
};

function emptyStats(t0Ns?: number): Stats {
  return {
    t0Ns,
    cpus: {},
    tasks: {},
    causes: {},
    events: [],
    nextEventId: 1,
    causeCount: 0,
    total: 0,
    violations: 0,
    isolOps: 0,
    isolWarnings: [],
  };
}

export function initModel(start: StartRecord, opts: ModelOptions = {}): Model {
  const nowNs = opts.nowNs ?? 0;
  const stats = emptyStats(start.ts_ns);
  for (const cpu of start.watched_cpus) stats.cpus[cpu] = emptyCpu(cpu);
  for (const t of (opts.declaredTasks ?? []).slice(0, opts.maxTasks ?? DEFAULTS.maxTasks)) {
    stats.tasks[taskKey(t.tid)] = { ...emptyTask(t), isol: 'declared', source: 'declared' };
  }
  return {
    start,
    opts: {
      replay: opts.replay ?? DEFAULTS.replay,
      enforcement: opts.enforcement ?? 'off',
      notes: (opts.notes ?? []).filter((n) => n.trim() !== ''),
      eventCapacity: opts.eventCapacity ?? DEFAULTS.eventCapacity,
      historySeconds: opts.historySeconds ?? DEFAULTS.historySeconds,
      rateWindowS: opts.rateWindowS ?? DEFAULTS.rateWindowS,
      maxCauses: opts.maxCauses ?? DEFAULTS.maxCauses,
      maxTasks: opts.maxTasks ?? DEFAULTS.maxTasks,
    },
    cols: opts.cols ?? 80,
    rows: opts.rows ?? 24,
    openNs: nowNs,
    nowNs,
    baseNs: start.ts_ns,
    stats,
    pendingWhilePaused: 0,
    focus: 'cpus',
    sel: { cpus: 0, tasks: 0, causes: 0, events: 0 },
    detailScroll: 0,
    help: false,
    filter: '',
    filterDraft: null,
    quit: false,
  };
}

function emptyCpu(cpu: number): CpuStats {
  return { cpu, total: 0, violations: 0, byClass: {}, stolenNs: 0, maxNs: 0, buckets: [] };
}

// ---------------------------------------------------------------------------
// Reducer

export function reduce(model: Model, action: Action): Model {
  switch (action.type) {
    case 'records':
      return ingest(model, action.records, action.nowNs);
    case 'tick':
      return action.nowNs === model.nowNs ? model : { ...model, nowNs: action.nowNs };
    case 'status': {
      const prev = model.session;
      const lostEvents = action.lostEvents ?? prev?.lostEvents;
      const notices = action.notices ?? prev?.notices ?? [];
      const same =
        prev !== undefined && prev.lostEvents === lostEvents && prev.notices.length === notices.length && prev.notices.every((n, i) => n === notices[i]);
      return same ? model : { ...model, session: { lostEvents, notices: [...notices] } };
    }
    case 'resize':
      return { ...model, cols: Math.max(1, action.cols), rows: Math.max(1, action.rows) };
    case 'focus-next':
    case 'focus-prev': {
      if (model.detail || model.help) return model;
      const i = PANELS.indexOf(model.focus);
      const d = action.type === 'focus-next' ? 1 : PANELS.length - 1;
      return { ...model, focus: PANELS[(i + d) % PANELS.length] };
    }
    case 'focus':
      return { ...model, focus: action.panel };
    case 'select-up':
    case 'select-down':
    case 'select-home':
    case 'select-end':
      return select(model, action);
    case 'drill':
      return drill(model);
    case 'back':
      if (model.help) return { ...model, help: false };
      if (model.detail) return { ...model, detail: undefined, detailScroll: 0 };
      if (model.filter) return { ...model, filter: '', sel: { ...model.sel, causes: 0, events: 0 } };
      return model;
    case 'pause':
      if (model.paused) return { ...model, paused: undefined, pendingWhilePaused: 0 };
      return { ...model, paused: { stats: model.stats, nowNs: model.nowNs }, pendingWhilePaused: 0 };
    case 'clear': {
      const t0 = recordNowNs(model.stats, model, model.nowNs);
      const stats = emptyStats(t0);
      stats.summary = model.stats.summary;
      for (const cpu of model.start.watched_cpus) stats.cpus[cpu] = emptyCpu(cpu);
      for (const [k, t] of Object.entries(model.stats.tasks)) {
        stats.tasks[k] = { ...t, interruptions: 0, violations: 0, stolenNs: 0, maxNs: 0, byClass: {} };
      }
      stats.firstTsNs = model.stats.firstTsNs;
      stats.lastTsNs = model.stats.lastTsNs;
      return {
        ...model,
        stats,
        paused: model.paused ? { stats, nowNs: model.nowNs } : undefined,
        detail: undefined,
        detailScroll: 0,
        sel: { ...model.sel, causes: 0, events: 0 },
      };
    }
    case 'filter':
      return { ...model, filter: action.text.trim(), filterDraft: null, sel: { ...model.sel, causes: 0, events: 0 } };
    case 'filter-start':
      return { ...model, filterDraft: model.filter, help: false };
    case 'filter-input':
      return model.filterDraft === null ? model : { ...model, filterDraft: (model.filterDraft + action.text).slice(0, 200) };
    case 'filter-backspace':
      return model.filterDraft === null ? model : { ...model, filterDraft: model.filterDraft.slice(0, -1) };
    case 'filter-commit':
      return model.filterDraft === null ? model : reduce(model, { type: 'filter', text: model.filterDraft });
    case 'filter-cancel':
      return { ...model, filterDraft: null };
    case 'help':
      return { ...model, help: !model.help, detailScroll: model.help ? model.detailScroll : 0 };
    case 'quit':
      return { ...model, quit: true };
  }
}

function select(
  model: Model,
  action: { type: 'select-up' | 'select-down' | 'select-home' | 'select-end'; n?: number },
): Model {
  if (model.help || model.detail) {
    const n = action.n ?? 1;
    const next =
      action.type === 'select-up'
        ? model.detailScroll - n
        : action.type === 'select-down'
          ? model.detailScroll + n
          : action.type === 'select-home'
            ? 0
            : Number.MAX_SAFE_INTEGER;
    // The detail view clamps against its own length when drawing.
    return { ...model, detailScroll: Math.max(0, Math.min(next, 10_000)) };
  }
  const len = panelLength(model, model.focus);
  const cur = Math.min(model.sel[model.focus], Math.max(0, len - 1));
  const n = action.n ?? 1;
  let next = cur;
  if (action.type === 'select-up') next = cur - n;
  else if (action.type === 'select-down') next = cur + n;
  else if (action.type === 'select-home') next = 0;
  else next = len - 1;
  next = Math.max(0, Math.min(next, len - 1));
  return { ...model, sel: { ...model.sel, [model.focus]: next } };
}

function drill(model: Model): Model {
  if (model.help || model.detail) return model;
  const snap = visible(model);
  const i = model.sel[model.focus];
  let detail: DetailTarget | undefined;
  if (model.focus === 'cpus') {
    const row = cpuRows(model, snap)[i];
    if (row) detail = { kind: 'cpu', cpu: row.cpu };
  } else if (model.focus === 'tasks') {
    const row = taskRows(snap)[i];
    if (row) detail = { kind: 'task', tid: row.tid };
  } else if (model.focus === 'causes') {
    const row = causeRows(snap, model.filter)[i];
    if (row) detail = { kind: 'cause', key: row.key };
  } else {
    const row = eventRows(snap, model.filter)[i];
    if (row) detail = { kind: 'event', entry: row };
  }
  return detail ? { ...model, detail, detailScroll: 0 } : model;
}

// ---------------------------------------------------------------------------
// Aggregation

// Copy-on-write: a batch copies the containers once and each CPU, task, cause
// or bucket only when it first changes it, so the previous model (e.g. the
// frozen one shown while paused) is never mutated and a batch costs what it touches.
interface Batch {
  s: Stats;
  /** objects created by this batch, safe to mutate */
  owned: WeakSet<object>;
}

function beginBatch(prev: Stats): Batch {
  const s: Stats = { ...prev, cpus: { ...prev.cpus }, tasks: { ...prev.tasks }, causes: { ...prev.causes } };
  return { s, owned: new WeakSet() };
}

function ownCpu(w: Batch, cpuNum: number): CpuStats {
  let c = w.s.cpus[cpuNum];
  if (c && w.owned.has(c)) return c;
  c = c ? { ...c, byClass: { ...c.byClass }, buckets: [...c.buckets] } : emptyCpu(cpuNum);
  w.owned.add(c);
  w.s.cpus[cpuNum] = c;
  return c;
}

function ownBucket(w: Batch, cpu: CpuStats, i: number): SecondBucket {
  let b = cpu.buckets[i];
  if (w.owned.has(b)) return b;
  b = { ...b, byClass: { ...b.byClass } };
  w.owned.add(b);
  cpu.buckets[i] = b;
  return b;
}

function ownTask(w: Batch, key: string): TaskStats | undefined {
  let t = w.s.tasks[key];
  if (!t || w.owned.has(t)) return t;
  t = { ...t, byClass: { ...t.byClass } };
  w.owned.add(t);
  w.s.tasks[key] = t;
  return t;
}

function ownCause(w: Batch, key: string): CauseGroup | undefined {
  let g = w.s.causes[key];
  if (!g || w.owned.has(g)) return g;
  g = { ...g, pids: [...g.pids], callsites: [...g.callsites], victimCpus: [...g.victimCpus], hist: [...g.hist] };
  w.owned.add(g);
  w.s.causes[key] = g;
  return g;
}

function ingest(model: Model, records: readonly OutputRecord[], nowNs: number): Model {
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
        addInterruption(w, r, baseNs, model.opts);
        newEvents.push({ id: s.nextEventId++, rec: r });
        if (newEvents.length >= 2 * model.opts.eventCapacity) newEvents.splice(0, newEvents.length - model.opts.eventCapacity);
        break;
      }
      case 'isol':
        maxTs = maxTs === undefined ? r.ts_ns : Math.max(maxTs, r.ts_ns);
        addIsol(w, r, model.opts.maxTasks);
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

function taskKey(tid: number): string {
  return String(tid);
}

function getTask(w: Batch, ref: TaskRef, maxTasks: number): TaskStats {
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

function emptyTask(ref: TaskRef): TaskStats {
  return { pid: ref.pid, tid: ref.tid, comm: ref.comm, isol: 'none', interruptions: 0, violations: 0, stolenNs: 0, maxNs: 0, byClass: {} };
}

function bump(counts: ClassCounts, cls: InterruptionClass, n = 1): void {
  counts[cls] = (counts[cls] ?? 0) + n;
}

export function histIndex(ns: number): number {
  let i = 0;
  while (i < HIST_BOUNDS_NS.length && ns >= HIST_BOUNDS_NS[i]) i++;
  return i;
}

function addInterruption(w: Batch, r: InterruptionRecord, baseNs: number, opts: Model['opts']): void {
  const s = w.s;
  s.total++;
  if (r.violation) s.violations++;
  const d = Math.max(0, r.duration_ns);

  const cpu = ownCpu(w, r.cpu);
  cpu.total++;
  if (r.violation) cpu.violations++;
  bump(cpu.byClass, r.class);
  cpu.stolenNs += d;
  if (d > cpu.maxNs) {
    cpu.maxNs = d;
    cpu.maxWhat = `${r.class} ${r.func ?? r.kind}`;
  }
  cpu.victim = r.victim;
  const sec = Math.floor((r.ts_ns - baseNs) / 1e9);
  let bi = cpu.buckets.length - 1;
  if (bi < 0 || cpu.buckets[bi].sec !== sec) bi = cpu.buckets.findIndex((x) => x.sec === sec);
  let b: SecondBucket;
  if (bi >= 0) {
    b = ownBucket(w, cpu, bi);
  } else {
    b = { sec, count: 0, stolenNs: 0, byClass: {} };
    w.owned.add(b);
    cpu.buckets.push(b);
    if (cpu.buckets.length > 1 && cpu.buckets[cpu.buckets.length - 2].sec > sec) cpu.buckets.sort((x, y) => x.sec - y.sec);
    const newest = cpu.buckets[cpu.buckets.length - 1].sec;
    while (cpu.buckets.length > 0 && cpu.buckets[0].sec <= newest - opts.historySeconds) cpu.buckets.shift();
  }
  b.count++;
  b.stolenNs += d;
  bump(b.byClass, r.class);

  const t = getTask(w, r.victim, opts.maxTasks);
  t.interruptions++;
  if (r.violation) t.violations++;
  t.stolenNs += d;
  t.maxNs = Math.max(t.maxNs, d);
  bump(t.byClass, r.class);
  t.lastCpu = r.cpu;
  if (r.isol.state !== 'none' || t.isol === 'none') {
    t.isol = r.isol.state;
    t.source = r.isol.source ?? (r.isol.state === 'declared' ? 'declared' : t.source);
  }

  const g = causeGroupFor(w, r, opts.maxCauses);
  g.count++;
  if (r.violation) g.violations++;
  g.stolenNs += d;
  g.maxNs = Math.max(g.maxNs, d);
  g.hist[histIndex(d)]++;
  g.sample = r;
  g.lastTsNs = r.ts_ns;
  const senderId = r.cause.tid ?? r.cause.pid;
  if (senderId !== undefined && !g.pids.includes(senderId) && g.pids.length < 8) g.pids.push(senderId);
  if (r.cause.callsite && !g.callsites.includes(r.cause.callsite) && g.callsites.length < 4) g.callsites.push(r.cause.callsite);
  if (!g.victimCpus.includes(r.cpu)) g.victimCpus.push(r.cpu);
}

function causeGroupFor(w: Batch, r: InterruptionRecord, maxCauses: number): CauseGroup {
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
      selfCaused: sender.kind === 'self',
      pids: [],
      callsites: [],
      victimCpus: [],
      count: 0,
      violations: 0,
      stolenNs: 0,
      maxNs: 0,
      hist: new Array(HIST_BOUNDS_NS.length + 1).fill(0),
      sample: r,
      lastTsNs: r.ts_ns,
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
function evictCauses(s: Stats, maxCauses: number): void {
  const keep = Math.max(0, maxCauses - Math.max(1, Math.ceil(maxCauses / 10)));
  const sorted = Object.values(s.causes).sort((a, b) => b.stolenNs - a.stolenNs || b.lastTsNs - a.lastTsNs);
  const causes: Record<string, CauseGroup> = {};
  for (const g of sorted.slice(0, keep)) causes[g.key] = g;
  s.causes = causes;
  s.causeCount = Math.min(sorted.length, keep);
}

function addIsol(w: Batch, r: IsolRecord, maxTasks: number): void {
  w.s.isolOps++;
  const t = getTask(w, { pid: r.pid, tid: r.tid, comm: r.comm }, maxTasks);
  t.lastOp = r.op;
  t.lastOpMeaning = r.meaning;
  t.lastOpWarning = r.warning;
  if (t.source === undefined || t.source === 'none') t.source = 'prctl';
  // a PR_ISOL-numbered prctl that meant something else here: said in the header, not only in JSON
  if (r.warning) w.s.isolWarnings = [`${r.comm}/${r.tid} ${r.op}: ${r.meaning}`, ...w.s.isolWarnings].slice(0, 3);
}

function addSummary(w: Batch, r: SummaryRecord, maxTasks: number): void {
  w.s.summary = r;
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

// ---------------------------------------------------------------------------
// Derived data (shared by the reducer for selection bounds and by the views)

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
      if (model.opts.replay || tv.nowSec === undefined) {
        counts = st.byClass;
        stolen = st.stolenNs;
      } else {
        // Live: the buckets of the last rateWindowS seconds.
        counts = {};
        stolen = 0;
        const from = tv.nowSec - Math.ceil(tv.windowNs / 1e9);
        for (const b of st.buckets) {
          if (b.sec <= from || b.sec > tv.nowSec) continue;
          stolen += b.stolenNs;
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
      };
    });
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

function terms(filter: string): string[] {
  return filter.toLowerCase().split(/\s+/).filter(Boolean);
}

function matches(haystack: (string | number | undefined)[], filter: string): boolean {
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
    [g.class, g.kind, g.func, g.sender, g.sample.victim.comm, ...g.callsites, ...g.sample.chain.flatMap((c) => [c.kind, c.func])],
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
