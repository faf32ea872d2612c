// Budgets (`isolwatch run --budget CLASS=N,stolen=DURATION`) and the judgement
// of a run against them. Pure: interruptions, budgets and the command's exit
// status in; pass/fail, reasons and the evidence (top causes) out. The
// reporters (text, JUnit, markdown) only render a Judgement.
//
// Rules:
// - Counted: interruptions on watched CPUs after warm-up whose victim was
//   isolated — `violation: true` (the correlation engine's verdict), or with
//   countBy 'isol_state', isol.state active/declared.
// - Every class has a budget of 0 unless given; `stolen` and `total` are
//   optional run-wide limits. Budgets are totals over all watched CPUs.
// - The task's own syscalls/faults (cause.self) count unless allowSelf.
// - Interruptions isolwatch itself caused (cause.origin) are reported, not judged.
// - Before warm-up end: reported separately, not judged.
// - A CMD that exits non-zero or dies by a signal fails the run unless
//   failOnCmdError is false.
import { CLASSES } from './types.js';
import type { InterruptionClass, InterruptionRecord } from './types.js';
import { formatDuration, senderLabel, whatText } from './output/format.js';

export interface Budgets {
  /** count limits per class; classes not named have limit 0 */
  classes: Partial<Record<InterruptionClass, number>>;
  /** limit on all counted interruptions together */
  total?: number;
  /** limit on time stolen from isolated tasks, summed over watched CPUs */
  stolen_ns?: number;
}

export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

const EXTRA_KEYS = ['stolen', 'total'] as const;
const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 };

/** Edit distance, for "did you mean" on mistyped class names. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

function suggestion(name: string): string {
  const all = [...CLASSES, ...EXTRA_KEYS];
  const lower = name.toLowerCase().replace(/-/g, '_');
  const best = all
    .map((c) => ({ c, d: c === lower ? 0 : distance(lower, c) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 2 ? `; did you mean '${best.c}'?` : '';
}

/**
 * Parses a duration: "50us", "1.5ms", "2s", "100ns" (also "µs"). Returns
 * nanoseconds, rounded; throws a plain Error saying what is wrong (the caller adds where).
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-zµ]*)$/i.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a duration (write e.g. 50us, 1.5ms, 2s, 100ns)`);
  if (m[2] === '') throw new Error(`'${text}' needs a unit: ns, us, ms or s (e.g. ${m[1]}us)`);
  const scale = DURATION_UNITS[m[2].toLowerCase()];
  if (scale === undefined) throw new Error(`unknown unit '${m[2]}' in '${text}' (use ns, us, ms or s)`);
  return Math.round(Number(m[1]) * scale);
}

/**
 * Parses a `--budget` value: "CLASS=N[,CLASS=N]", "stolen=DURATION", "total=N".
 * Errors quote the option and say what to write instead:
 * `--budget 'ipis=3': unknown class 'ipis' (expected syscall, page_fault, ...); did you mean 'ipi'?`
 */
export function parseBudget(spec: string): Budgets {
  const out: Budgets = { classes: {} };
  const where = `--budget '${spec}'`;
  const seen = new Set<string>();
  const parts = spec.split(',');
  if (spec.trim() === '') {
    throw new BudgetError(`${where}: empty budget (write CLASS=N[,CLASS=N], e.g. --budget ipi=0,syscall=10,stolen=50us)`);
  }
  parts.forEach((rawPart, i) => {
    const part = rawPart.trim();
    if (part === '') {
      throw new BudgetError(`${where}: empty entry at position ${i + 1} (remove the extra comma)`);
    }
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw new BudgetError(`${where}: '${part}' has no '=' (write CLASS=N or stolen=DURATION, e.g. ipi=0)`);
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (seen.has(key)) throw new BudgetError(`${where}: '${key}' is given twice (keep one)`);
    seen.add(key);
    if (value === '') throw new BudgetError(`${where}: '${key}' has no value (write ${key}=${key === 'stolen' ? '50us' : '0'})`);
    if (key === 'stolen') {
      try {
        out.stolen_ns = parseDuration(value);
      } catch (e) {
        throw new BudgetError(`${where}: stolen ${(e as Error).message}`);
      }
      return;
    }
    const isClass = (CLASSES as readonly string[]).includes(key);
    if (!isClass && key !== 'total') {
      throw new BudgetError(
        `${where}: unknown class '${key}' (expected ${[...CLASSES, ...EXTRA_KEYS].join(', ')})${suggestion(key)}`,
      );
    }
    if (!/^\d+$/.test(value)) {
      throw new BudgetError(`${where}: '${key}=${value}': the limit must be a whole number of interruptions >= 0 (e.g. ${key}=3)`);
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new BudgetError(`${where}: '${key}=${value}': limit too large`);
    if (key === 'total') out.total = n;
    else out.classes[key as InterruptionClass] = n;
  });
  return out;
}

/** Later budgets override earlier ones key by key (e.g. policy file, then command line). */
export function mergeBudgets(...budgets: Array<Budgets | undefined>): Budgets {
  const out: Budgets = { classes: {} };
  for (const b of budgets) {
    if (!b) continue;
    for (const c of CLASSES) if (b.classes[c] !== undefined) out.classes[c] = b.classes[c];
    if (b.total !== undefined) out.total = b.total;
    if (b.stolen_ns !== undefined) out.stolen_ns = b.stolen_ns;
  }
  return out;
}

/** "ipi<=0", "stolen<=50us", "total<=10" — how a budget is named in reports. */
export function budgetLabel(b: Pick<BudgetResult, 'name' | 'limit' | 'unit'>): string {
  return `${b.name}<=${b.unit === 'ns' ? formatDuration(b.limit) : b.limit}`;
}

/** Budgets back as a --budget value (only what differs from the default). */
export function formatBudgets(b: Budgets): string {
  const parts: string[] = [];
  for (const c of CLASSES) if (b.classes[c] !== undefined) parts.push(`${c}=${b.classes[c]}`);
  if (b.total !== undefined) parts.push(`total=${b.total}`);
  if (b.stolen_ns !== undefined) parts.push(`stolen=${formatDuration(b.stolen_ns)}`);
  return parts.join(',');
}

// ---------------------------------------------------------------------------
// Top causes

export interface TopCause {
  class: InterruptionClass;
  kind: string;
  func?: string;
  /** func || kind: what ran */
  what: string;
  /** "membarrier/4243", "self", "softirq (timer)", "isolwatch", "unknown" */
  sender: string;
  sender_cpu?: number;
  sender_comm?: string;
  sender_tid?: number;
  sender_pid?: number;
  context?: string;
  self: boolean;
  /** first callsite seen for this group */
  callsite?: string;
  /** victim CPUs it hit */
  cpus: number[];
  count: number;
  stolen_ns: number;
  max_ns: number;
}

function causeKey(r: InterruptionRecord): string {
  const s = senderLabel(r.cause) ?? 'unknown';
  return [r.class, r.func || r.kind, s, r.cause.cpu ?? ''].join('\u0000');
}

/**
 * Groups interruptions by (class, func||kind, sender, sender CPU), most
 * frequent first, then most stolen time; ties in a stable name order.
 */
export function topCauses(interruptions: readonly InterruptionRecord[], limit = Infinity): TopCause[] {
  const groups = new Map<string, TopCause>();
  for (const r of interruptions) {
    const key = causeKey(r);
    let g = groups.get(key);
    if (!g) {
      const c = r.cause;
      const task = !c.self && c.origin !== 'isolwatch' && (c.context === undefined || c.context === 'task');
      g = {
        class: r.class,
        kind: r.kind,
        func: r.func || undefined,
        what: r.func || r.kind,
        sender: senderLabel(c) ?? 'unknown',
        sender_cpu: c.cpu,
        sender_comm: task ? c.comm : undefined,
        sender_tid: task ? c.tid : undefined,
        sender_pid: task ? c.pid : undefined,
        context: c.context ?? (c.self ? 'self' : undefined),
        self: c.self,
        callsite: c.callsite,
        cpus: [],
        count: 0,
        stolen_ns: 0,
        max_ns: 0,
      };
      groups.set(key, g);
    }
    g.count++;
    g.stolen_ns += r.duration_ns;
    g.max_ns = Math.max(g.max_ns, r.duration_ns);
    if (!g.cpus.includes(r.cpu)) g.cpus.push(r.cpu);
  }
  const out = [...groups.entries()]
    .sort(([ka, a], [kb, b]) => b.count - a.count || b.stolen_ns - a.stolen_ns || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .map(([, g]) => ({ ...g, cpus: g.cpus.sort((x, y) => x - y) }));
  return out.slice(0, limit);
}

/** "from membarrier/4243@cpu0", "by the task itself", "from softirq (timer)@cpu1" */
export function fromText(t: Pick<TopCause, 'sender' | 'sender_cpu'>): string {
  if (t.sender === 'self') return 'by the task itself';
  return `from ${t.sender}${t.sender_cpu !== undefined ? `@cpu${t.sender_cpu}` : ''}`;
}

/** "ipi ipi_mb (call_function_single) from membarrier/4243@cpu0 on cpu1: 100x, 310us stolen (max 3.3us)" */
export function topCauseText(t: TopCause): string {
  return `${whatText(t)} ${fromText(t)} on cpu${t.cpus.join(',')}: ${t.count}x, ${formatDuration(t.stolen_ns)} stolen (max ${formatDuration(t.max_ns)})`;
}

// ---------------------------------------------------------------------------
// Judgement

export interface JudgeInput {
  interruptions: readonly InterruptionRecord[];
  budgets?: Budgets;
  /** the task's own syscalls and faults do not count */
  allowSelf?: boolean;
  /** interruptions before this timestamp (same clock as ts_ns) are reported, not judged */
  warmupEndNs?: number;
  /** interruptions from this timestamp on (the end of the judged window) are reported, not judged */
  windowEndNs?: number;
  watchedCpus: readonly number[];
  /** CMD's exit status; null when it was killed by a signal; undefined when there was no CMD */
  exit_status?: number | null;
  /** signal that killed CMD, e.g. "SIGKILL" */
  signal?: string | null;
  /** a failed CMD fails the run (default true) */
  failOnCmdError?: boolean;
  /** 'violation' (default): the correlation engine's flag; 'isol_state': victim isol.state active/declared */
  countBy?: 'violation' | 'isol_state';
  /** how many top causes to keep per budget/CPU (default 5) */
  topN?: number;
}

export interface ClassTally {
  count: number;
  by_class: Partial<Record<InterruptionClass, number>>;
  stolen_ns: number;
  max_ns: number;
}

export interface CpuJudgement extends ClassTally {
  cpu: number;
  /** no counted interruption that contributed to a failed budget */
  pass: boolean;
  topCauses: TopCause[];
}

export interface BudgetResult {
  /** class name, "total" or "stolen" */
  name: string;
  unit: 'count' | 'ns';
  limit: number;
  observed: number;
  /** limit given by the user (false: the default of 0) */
  explicit: boolean;
  pass: boolean;
  topCauses: TopCause[];
}

export interface Judgement {
  pass: boolean;
  /** why it failed, one sentence each; empty when it passed */
  reasons: string[];
  perCpu: Record<string, CpuJudgement>;
  perBudget: BudgetResult[];
  /** counted interruptions (after warm-up, isolated, judged) */
  counted: ClassTally;
  /** top causes over all counted interruptions (at least 10) */
  topCauses: TopCause[];
  /** before warm-up end on watched CPUs: reported, not judged */
  warmup: ClassTally & { topCauses: TopCause[] };
  /** after the judged window (run --duration) on watched CPUs: reported, not judged */
  after: ClassTally & { topCauses: TopCause[] };
  /** the task's own syscalls/faults not counted because of allowSelf */
  allowedSelf: number;
  /** interruptions isolwatch itself caused (not judged) */
  toolCaused: number;
  /** interruptions while the victim was not isolated (not judged) */
  notIsolated: number;
  /** true when every budget is the default 0 ("quiet" rather than "within budget") */
  quietRequired: boolean;
  command?: { exit_status: number | null; signal?: string | null; failed: boolean; judged: boolean };
}

function emptyTally(): ClassTally {
  return { count: 0, by_class: {}, stolen_ns: 0, max_ns: 0 };
}

function add(t: ClassTally, r: InterruptionRecord): void {
  t.count++;
  t.by_class[r.class] = (t.by_class[r.class] ?? 0) + 1;
  t.stolen_ns += r.duration_ns;
  t.max_ns = Math.max(t.max_ns, r.duration_ns);
}

function isCounted(r: InterruptionRecord, countBy: 'violation' | 'isol_state'): boolean {
  if (countBy === 'violation') return r.violation === true;
  return r.violation === true || r.isol?.state === 'active' || r.isol?.state === 'declared';
}

/** Judges a run. Pure; see the rules at the top of this file. */
export function judgeRun(input: JudgeInput): Judgement {
  const budgets = input.budgets ?? { classes: {} };
  const countBy = input.countBy ?? 'violation';
  const topN = input.topN ?? 5;
  const watched = new Set(input.watchedCpus);
  const counted: InterruptionRecord[] = [];
  const warm: InterruptionRecord[] = [];
  const late: InterruptionRecord[] = [];
  let allowedSelf = 0;
  let toolCaused = 0;
  let notIsolated = 0;

  for (const r of input.interruptions) {
    if (!watched.has(r.cpu)) continue;
    if (input.warmupEndNs !== undefined && r.ts_ns < input.warmupEndNs) {
      warm.push(r);
      continue;
    }
    if (input.windowEndNs !== undefined && r.ts_ns >= input.windowEndNs) {
      late.push(r);
      continue;
    }
    if (r.cause?.origin === 'isolwatch') {
      toolCaused++;
      continue;
    }
    if (!isCounted(r, countBy)) {
      notIsolated++;
      continue;
    }
    if (input.allowSelf && r.cause?.self) {
      allowedSelf++;
      continue;
    }
    counted.push(r);
  }

  const total = emptyTally();
  for (const r of counted) add(total, r);

  const perBudget: BudgetResult[] = [];
  const failedClasses = new Set<InterruptionClass>();
  let anyRunWideFailed = false;
  for (const c of CLASSES) {
    const limit = budgets.classes[c] ?? 0;
    const mine = counted.filter((r) => r.class === c);
    const pass = mine.length <= limit;
    if (!pass) failedClasses.add(c);
    perBudget.push({
      name: c,
      unit: 'count',
      limit,
      observed: mine.length,
      explicit: budgets.classes[c] !== undefined,
      pass,
      topCauses: topCauses(mine, topN),
    });
  }
  if (budgets.total !== undefined) {
    const pass = counted.length <= budgets.total;
    if (!pass) anyRunWideFailed = true;
    perBudget.push({ name: 'total', unit: 'count', limit: budgets.total, observed: counted.length, explicit: true, pass, topCauses: topCauses(counted, topN) });
  }
  if (budgets.stolen_ns !== undefined) {
    const pass = total.stolen_ns <= budgets.stolen_ns;
    if (!pass) anyRunWideFailed = true;
    const byTime = topCauses(counted).sort((a, b) => b.stolen_ns - a.stolen_ns || b.count - a.count);
    perBudget.push({ name: 'stolen', unit: 'ns', limit: budgets.stolen_ns, observed: total.stolen_ns, explicit: true, pass, topCauses: byTime.slice(0, topN) });
  }

  const perCpu: Record<string, CpuJudgement> = {};
  for (const cpu of [...watched].sort((a, b) => a - b)) {
    const mine = counted.filter((r) => r.cpu === cpu);
    const t = emptyTally();
    for (const r of mine) add(t, r);
    const pass = !mine.some((r) => failedClasses.has(r.class)) && !(anyRunWideFailed && mine.length > 0);
    perCpu[String(cpu)] = { cpu, ...t, pass, topCauses: topCauses(mine, topN) };
  }

  const warmTally = emptyTally();
  for (const r of warm) add(warmTally, r);
  const lateTally = emptyTally();
  for (const r of late) add(lateTally, r);

  const reasons: string[] = [];
  for (const b of perBudget) {
    if (b.pass) continue;
    const observed = b.unit === 'ns' ? `${formatDuration(b.observed)} stolen` : `${b.observed} while isolated`;
    const top = b.topCauses[0];
    const lead = top ? `; most: ${top.what} ${fromText(top)} x${top.count}` : '';
    reasons.push(`budget ${budgetLabel(b)} exceeded: ${observed}${lead}`);
  }

  let command: Judgement['command'];
  if (input.exit_status !== undefined || input.signal) {
    const failed = (input.exit_status !== undefined && input.exit_status !== 0) || !!input.signal;
    const judged = input.failOnCmdError !== false;
    command = { exit_status: input.exit_status ?? null, signal: input.signal ?? undefined, failed, judged };
    if (failed && judged) {
      reasons.push(
        input.signal
          ? `command was killed by ${input.signal}`
          : `command exited with status ${input.exit_status}`,
      );
    }
  }

  const quietRequired =
    CLASSES.every((c) => (budgets.classes[c] ?? 0) === 0) && (budgets.total ?? 0) === 0 && (budgets.stolen_ns ?? 0) === 0;

  return {
    pass: reasons.length === 0,
    reasons,
    perCpu,
    perBudget,
    counted: total,
    topCauses: topCauses(counted, Math.max(topN, 10)),
    warmup: { ...warmTally, topCauses: topCauses(warm, topN) },
    after: { ...lateTally, topCauses: topCauses(late, topN) },
    allowedSelf,
    toolCaused,
    notIsolated,
    quietRequired,
    command,
  };
}
