// The TUI's state: the Model, its actions and options, and the empty
// starting values. Everything the screen shows is derived from a Model; the
// app only feeds actions in and draws what tui/views make of it.
import type { InterruptionClass, InterruptionRecord, IsolSource, IsolStateName, OutputRecord, StartRecord, SummaryRecord, TaskRef } from '../../src/types.js';
import { emptyTask, taskKey } from './ingest.js';

export type PanelId = 'cpus' | 'tasks' | 'causes' | 'events';
export const PANELS: readonly PanelId[] = ['cpus', 'tasks', 'causes', 'events'];

/** The remedy catalogue's lookup (src/remedies.ts remedyFor), injected so tests can stand in for it. */
export type { RemedyLookup } from '../../src/remedies.js';

export interface ModelOptions {
  /** Records come from a recording: time is taken from ts_ns only. */
  replay?: boolean;
  /**
   * Where the counts come from. 'aggregates' (a live session): the kernel's
   * aggregate records (exact), interruption records are samples shown in the
   * event log and the details. 'records' (a replay): every record counts.
   */
  countsFrom?: 'aggregates' | 'records';
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

export type ClassCounts = Partial<Record<InterruptionClass, number>>;

export interface SecondBucket {
  /** whole seconds since the session base */
  sec: number;
  count: number;
  stolenNs: number;
  byClass: ClassCounts;
  /** the hypervisor's steal in this second (live aggregate records' steal_ns): beside the interruptions, not in them */
  stealNs?: number;
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
  /** the hypervisor's steal since the start (absent: no steal clock, or none read yet) */
  stealNs?: number;
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


export interface CauseGroup {
  key: string;
  class: InterruptionClass;
  kind: string;
  func?: string;
  /** the sender as every report names it (src/verdict senderLabel): "noise/4242 on CPU 0", "softirq (timer) on CPU 1", "the task itself" */
  sender: string;
  /** the sender's context when it is not a task (src/verdict Sender.context): picks the remedy */
  senderContext?: string;
  selfCaused: boolean;
  /** a victim it hit (the first seen) */
  victim: TaskRef;
  /** sender thread ids seen (tid, or pid when the record has no tid), at most 8 */
  pids: number[];
  callsites: string[];
  victimCpus: number[];
  count: number;
  violations: number;
  stolenNs: number;
  maxNs: number;
  /** log2 duration buckets (src/verdict/rows.ts histBucket) */
  hist: number[];
  /** newest record of this group (its chain is shown in the detail view); none yet when only counted */
  sample?: InterruptionRecord;
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
  opts: Required<Omit<ModelOptions, 'cols' | 'rows' | 'nowNs' | 'enforcement' | 'notes' | 'declaredTasks' | 'countsFrom'>> & {
    countsFrom: 'aggregates' | 'records';
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

export const DEFAULTS = {
  replay: false,
  eventCapacity: 500,
  historySeconds: 120,
  rateWindowS: 5,
  maxCauses: 1000,
  maxTasks: 512,
};

export function emptyStats(t0Ns?: number): Stats {
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
      countsFrom: opts.countsFrom ?? 'records',
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

export function emptyCpu(cpu: number): CpuStats {
  return { cpu, total: 0, violations: 0, byClass: {}, stolenNs: 0, maxNs: 0, buckets: [] };
}
