// The verdict: one judgement for run, report, watch and the live view, from
// aggregate rows (never by counting records), the budgets, the policy's fail
// actions and the command's exit status. Reasons are structured; their
// texts are what every reporter prints.
import { CLASSES, type InterruptionClass } from '../types.js';
import { limitLabel, limitsFor, type Budgets, type Limit } from './budgets.js';
import { topCauses, type TopCause } from './causes.js';
import { formatDuration } from './durations.js';
import type { AggregateRow } from './rows.js';

export interface VerdictInput {
  rows: readonly AggregateRow[];
  watchedCpus: readonly number[];
  /** --budget values, merged; undefined when none was given */
  budgets?: Budgets;
  /** the policy's say (src/enforce policyVerdict): rules whose fail action fired, and who it killed */
  policy?: { name: string; failures: string[]; notes: string[] };
  /** the task's own syscalls and faults do not count */
  allowSelf?: boolean;
  /** run: the command's end; a failure fails the run unless failOnError is false */
  command?: { exit_status: number | null; signal?: string | null; failOnError: boolean };
  /** why nothing could be judged (run: the command ended before the warm-up) */
  unjudged?: string;
  /** watched CPUs offline (CPU hotplug) during the judged window: cpu -> ns; nothing could be seen there then */
  offlineNs?: Record<string, number>;
  /** top causes kept per limit and CPU (default 5; at least 10 overall) */
  topN?: number;
}

export type ReasonKind = 'budget' | 'policy' | 'command' | 'killed' | 'unjudged';

export interface Reason {
  kind: ReasonKind;
  text: string;
  /** budget reasons: the limit, e.g. "ipi<=0" */
  limit?: string;
}

export interface Tally {
  count: number;
  by_class: Partial<Record<InterruptionClass, number>>;
  stolen_ns: number;
  max_ns: number;
}

export interface CpuJudgement extends Tally {
  cpu: number;
  /** no counted interruption of it took part in a failed limit */
  pass: boolean;
  topCauses: TopCause[];
}

export interface BudgetResult extends Limit {
  observed: number;
  pass: boolean;
  topCauses: TopCause[];
}

export interface Judgement {
  pass: boolean;
  /** why it failed, one sentence each (the texts of `failures`, in order); empty when it passed */
  reasons: string[];
  failures: Reason[];
  perCpu: Record<string, CpuJudgement>;
  /** every limit that held (limitsFor) */
  perBudget: BudgetResult[];
  /** counted: judged window, watched CPU, a violation, not caused by isolwatch, not allowed */
  counted: Tally;
  /** top causes over everything counted (at least 10) */
  topCauses: TopCause[];
  warmup: Tally & { topCauses: TopCause[] };
  after: Tally & { topCauses: TopCause[] };
  /** the task's own syscalls and faults not counted (allowSelf) */
  allowedSelf: number;
  /** caused by isolwatch itself: never judged */
  toolCaused: number;
  /** in the judged window but not violations (the victim was not isolated) */
  notIsolated: number;
  /** every class is held to zero (a quiet run is required) */
  quietRequired: boolean;
  /** a policy judged (its fail actions count) */
  policyJudged: boolean;
  command?: { exit_status: number | null; signal?: string | null; failed: boolean; judged: boolean };
}

const emptyTally = (): Tally => ({ count: 0, by_class: {}, stolen_ns: 0, max_ns: 0 });

function add(t: Tally, r: AggregateRow): void {
  t.count += r.count;
  t.by_class[r.class] = (t.by_class[r.class] ?? 0) + r.count;
  t.stolen_ns += r.stolen_ns;
  t.max_ns = Math.max(t.max_ns, r.max_ns);
}

function tally(rows: readonly AggregateRow[]): Tally {
  const t = emptyTally();
  for (const r of rows) add(t, r);
  return t;
}

/** "ipi<=0 exceeded: 100 while isolated; most: ipi_mb from membarrier/4243 on CPU 0 x100" */
function budgetReason(b: BudgetResult): string {
  const observed = b.unit === 'ns' ? `${formatDuration(b.observed)} stolen` : `${b.observed} while isolated`;
  const top = b.topCauses[0];
  const lead = top ? `; most: ${top.what} ${top.sender.kind === 'self' ? 'by the task itself' : `from ${top.senderLabel}`} x${top.count}` : '';
  return `budget ${limitLabel(b)} exceeded: ${observed}${lead}`;
}

/** Judges. Pure: rows, limits and the command's end in, the judgement out. */
export function judge(input: VerdictInput): Judgement {
  const topN = input.topN ?? 5;
  const watched = new Set(input.watchedCpus);
  const counted: AggregateRow[] = [];
  const warm: AggregateRow[] = [];
  const late: AggregateRow[] = [];
  let allowedSelf = 0;
  let toolCaused = 0;
  let notIsolated = 0;
  for (const r of input.rows) {
    if (!watched.has(r.cpu) || r.count === 0) continue;
    if (r.cause.origin === 'isolwatch') {
      toolCaused += r.count; // isolwatch's own doing is never judged, in any phase
      continue;
    }
    if (r.phase === 'warmup') warm.push(r);
    else if (r.phase === 'after') late.push(r);
    else if (!r.violation) notIsolated += r.count;
    else if (input.allowSelf && r.cause.self) allowedSelf += r.count;
    else counted.push(r);
  }

  const limits = limitsFor(input.budgets, input.policy !== undefined);
  const failedClasses = new Set<InterruptionClass>();
  let runWideFailed = false;
  const total = tally(counted);
  const perBudget: BudgetResult[] = limits.map((l) => {
    const mine = l.name === 'total' || l.name === 'stolen' ? counted : counted.filter((r) => r.class === l.name);
    const observed = l.unit === 'ns' ? total.stolen_ns : mine.reduce((n, r) => n + r.count, 0);
    const pass = observed <= l.limit;
    if (!pass && l.name !== 'total' && l.name !== 'stolen') failedClasses.add(l.name);
    if (!pass && (l.name === 'total' || l.name === 'stolen')) runWideFailed = true;
    return { ...l, observed, pass, topCauses: topCauses(mine, topN) };
  });

  const perCpu: Record<string, CpuJudgement> = {};
  for (const cpu of [...watched].sort((a, b) => a - b)) {
    const mine = counted.filter((r) => r.cpu === cpu);
    const t = tally(mine);
    const pass = !mine.some((r) => failedClasses.has(r.class)) && !(runWideFailed && t.count > 0);
    perCpu[String(cpu)] = { cpu, ...t, pass, topCauses: topCauses(mine, topN) };
  }

  const failures: Reason[] = [];
  if (input.unjudged) failures.push({ kind: 'unjudged', text: input.unjudged });
  for (const [cpu, ns] of Object.entries(input.offlineNs ?? {})) {
    failures.push({ kind: 'unjudged', text: `CPU ${cpu} was offline (CPU hotplug) for ${formatDuration(ns)} of the judged window: nothing could be seen on it then` });
  }
  for (const b of perBudget) if (!b.pass) failures.push({ kind: 'budget', text: budgetReason(b), limit: limitLabel(b) });
  let command: Judgement['command'];
  if (input.command) {
    const c = input.command;
    const failed = (c.exit_status !== null && c.exit_status !== 0) || !!c.signal;
    command = { exit_status: c.exit_status, signal: c.signal ?? null, failed, judged: c.failOnError };
    if (failed && c.failOnError) failures.push({ kind: 'command', text: c.signal ? `command was killed by ${c.signal}` : `command exited with status ${c.exit_status}` });
  }
  // why the command died, when isolwatch's policy killed it: right after the command's reason
  for (const n of input.policy?.notes ?? []) failures.push({ kind: 'killed', text: n });
  for (const f of input.policy?.failures ?? []) failures.push({ kind: 'policy', text: f });
  const pass = !failures.some((f) => f.kind !== 'killed');

  return {
    pass,
    reasons: failures.map((f) => f.text),
    failures,
    perCpu,
    perBudget,
    counted: total,
    topCauses: topCauses(counted, Math.max(topN, 10)),
    warmup: { ...tally(warm), topCauses: topCauses(warm, topN) },
    after: { ...tally(late), topCauses: topCauses(late, topN) },
    allowedSelf,
    toolCaused,
    notIsolated,
    quietRequired: limits.length > 0 && limits.every((l) => l.limit === 0) && CLASSES.every((c) => limits.some((l) => l.name === c)),
    policyJudged: input.policy !== undefined,
    command,
  };
}

/** The summary record's verdict block from a judgement. */
export function verdictBlock(j: Judgement, judged?: { from_ns: number; to_ns?: number }) {
  return {
    pass: j.pass,
    reasons: j.reasons,
    ...(j.command ? { exit_status: j.command.exit_status, signal: j.command.signal ?? null } : {}),
    ...(judged ? { judged } : {}),
  };
}

/** The limits that held, in words: "none given: every class <=0 while isolated", "ipi<=2; every other class <=0", "stolen<=50us". */
export function limitsText(j: Pick<Judgement, 'perBudget' | 'quietRequired' | 'policyJudged'>): string {
  if (j.quietRequired && !j.perBudget.some((b) => b.explicit)) return 'none given: every class <=0 while isolated';
  const set = j.perBudget.filter((b) => b.explicit).map(limitLabel);
  const zeros = j.perBudget.some((b) => !b.explicit);
  if (!set.length) return j.policyJudged ? 'none: the policy judges' : 'none';
  return `${set.join(', ')}${zeros ? '; every other class <=0' : ''}${j.policyJudged ? '; and the policy' : ''}`;
}
