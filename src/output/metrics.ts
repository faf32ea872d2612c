// The Prometheus metrics (DESIGN.md "Prometheus metrics"; README lists each
// with its HELP text): what `serve` answers /metrics with, and what
// `run|report --metrics FILE` write for node_exporter's textfile collector.
// Built from the kernel's class counters and aggregates, never from records:
// base units (seconds), `_total` counters, no pid or tid labels, and a bounded
// number of cause and task series (BoundedSeries: the costliest N, the rest
// under "other").
import { CLASSES, type InterruptionClass, type StartRecord } from '../types.js';
import { HIST_BUCKETS, type AggregateRow } from '../verdict/rows.js';
import { senderName, senderOf } from '../verdict/senders.js';
import { BoundedSeries, type KeyTotal, type Tally } from './bounded-series.js';
import { renderExposition, type MetricFamily, type Sample } from './exposition.js';

/** Cause (and violating task) series kept by default besides "other" (serve --top). */
export const DEFAULT_TOP = 20;

/** The label value of what was summed into a bucket's "other" series. */
export const OTHER = 'other';

/** One class on one CPU, as the kernel's counters keep it (map iw_counts). */
export interface ClassTotals {
  count: number;
  stolen_ns: number;
  /** HIST_BUCKETS counts: bucket i holds [2^i, 2^(i+1)) ns, the last one everything longer */
  hist: number[];
}

export interface MetricsInput {
  start: Pick<StartRecord, 'version' | 'kernel' | 'pr_isol' | 'watched_cpus' | 'isolated' | 'nohz_full' | 'probes'>;
  /** cpu -> class -> totals: the kernel's class counters (live) or the rows' sums (a recording) */
  classes: Record<string, Partial<Record<InterruptionClass, ClassTotals>>>;
  /** every interruption, aggregated (the kernel's aggregates as rows) */
  rows: readonly AggregateRow[];
  /** interruptions isolwatch caused itself */
  selfCaused: number;
  /** records the ring buffer had no room for */
  lost: number;
  /** probe -> runs the kernel skipped (summary.probe_misses); absent or empty: none */
  probeMisses?: Readonly<Record<string, number>>;
  /** serve --policy: actions the policy took or planned, by rule, action and result */
  actions?: ReadonlyMap<string, { rule: string; action: string; result: string; count: number }>;
  /** the steal clock (start.steal) and each watched CPU's steal in ns since the start (no byCpu: no steal clock) */
  steal?: { clock: string; source: string; byCpu?: Readonly<Record<string, number>> };
}

/** The HELP text of every metric: the contract README documents. */
export const HELP = {
  isolwatch_interruptions_total:
    'Kernel entries that interrupted a task on a watched CPU, by CPU and class (the kernel\'s own counters: exact, whatever reached user space; what isolwatch caused is not included).',
  isolwatch_stolen_seconds_total: 'Time those interruptions took from the interrupted tasks, by CPU and class (work nested in a preemption is counted once).',
  isolwatch_interruption_duration_seconds:
    "How long interruptions lasted, by CPU and class: the kernel's log2 histogram (bucket le=2^(i+1) ns counts those shorter than that); _sum is the stolen time.",
  isolwatch_cause_interruptions_total:
    "Interruptions by cause: func is what ran (the IPI, work or timer function, else the kind), sender who caused it (the sending task's comm, or hardirq, softirq, nmi, self, timer_early, unknown). The costliest causes have their own series, the rest are summed per CPU and class under func=\"other\",sender=\"other\".",
  isolwatch_cause_stolen_seconds_total: 'Time stolen by cause, with the same labels and series as isolwatch_cause_interruptions_total.',
  isolwatch_violations_total:
    'Interruptions of isolated tasks (PR_ISOL isolation active, or declared) that broke their isolation, by CPU, class and task comm; the tasks beyond the bounded number are summed per CPU and class under task="other".',
  isolwatch_lost_events_total: 'Records the ring buffer had no room for (every interruption is still counted in the kernel: the counts above include them).',
  isolwatch_probe_misses_total: "Runs of isolwatch's probes the kernel skipped because one of its programs was already running on that CPU (the kernel's recursion_misses): what happened then was not seen, so the counts may be short. 0 when every run was made.",
  isolwatch_self_interruptions_total: 'Interruptions isolwatch itself caused on the watched CPUs (never included in the other counts).',
  isolwatch_watched_cpu_info: 'A CPU isolwatch watches (value 1), whether the kernel isolates it (isolcpus) and whether it runs nohz_full.',
  isolwatch_build_info: "isolwatch's version, the running kernel, and whether the kernel has the PR_ISOL task-isolation ABI (value 1).",
  isolwatch_probes: "Tracepoints by state: attached, or missing (optional ones this kernel lacks; what isolwatch cannot see there is said in `isolwatch doctor`).",
  isolwatch_policy_actions_total: 'serve --policy: actions the policy took (or, without --enforce, would have taken), by rule, action and result.',
  isolwatch_steal_seconds_total:
    "Steal time of a watched CPU: time the hypervisor ran something else while this vCPU had work, from the paravirt steal clock the kernel accounts. No tracer sees it and it is in none of the interruption counts; absent when the machine has no steal clock (see isolwatch_steal_clock_info).",
  isolwatch_steal_clock_info:
    'The steal clock the kernel reads (clock: kvm_steal_clock, xen_steal_clock, ...; none on bare metal or in a guest without one; unknown) and how isolwatch reads it (source: pv-clock in ns, proc-stat in USER_HZ ticks, none) (value 1).',
} as const;

export type MetricName = keyof typeof HELP;
export const METRIC_NAMES = Object.keys(HELP) as MetricName[];
/** The histogram families (their series are NAME_bucket, NAME_sum, NAME_count). */
export const HISTOGRAMS: readonly MetricName[] = ['isolwatch_interruption_duration_seconds'];

/** The upper bound of histogram bucket i in seconds: 2^(i+1) ns. */
export const bucketLe = (i: number): number => 2 ** (i + 1) / 1e9;

const seconds = (ns: number): number => ns / 1e9;

/** What a row counts under in the cause series: CPU, class, what ran, who sent it. */
export function causeLabels(r: AggregateRow): { cpu: string; class: InterruptionClass; func: string; sender: string } {
  if (r.overflow) return { cpu: String(r.cpu), class: r.class, func: 'overflow', sender: 'unknown' };
  return { cpu: String(r.cpu), class: r.class, func: r.func || r.kind, sender: senderName(senderOf(r.cause)) };
}

/** Rows that count: on a watched CPU, not caused by isolwatch (its own are isolwatch_self_interruptions_total). */
function counted(rows: readonly AggregateRow[], watched: ReadonlySet<number>): AggregateRow[] {
  return rows.filter((r) => r.count > 0 && watched.has(r.cpu) && r.cause.origin !== 'isolwatch');
}

const SEP = '\u0000';
const keyOf = (labels: Record<string, string>): string => Object.values(labels).join(SEP);

/** Sums rows into key totals for a BoundedSeries. */
function totalsBy(rows: readonly AggregateRow[], labelsOf: (r: AggregateRow) => Record<string, string>, bucketOf: (r: AggregateRow) => string): KeyTotal[] {
  const m = new Map<string, KeyTotal>();
  for (const r of rows) {
    const key = keyOf(labelsOf(r));
    let t = m.get(key);
    if (!t) m.set(key, (t = { key, bucket: bucketOf(r), total: { count: 0, stolen_ns: 0 } }));
    t.total.count += r.count;
    t.total.stolen_ns += r.stolen_ns;
  }
  return [...m.values()];
}

/**
 * The state a series of metrics keeps between scrapes: which causes and
 * tasks have series of their own (a one-shot file uses a fresh one: the N
 * costliest, exactly).
 */
export class MetricsState {
  readonly causes: BoundedSeries;
  readonly violations: BoundedSeries;

  constructor(readonly top: number = DEFAULT_TOP) {
    this.causes = new BoundedSeries(top);
    this.violations = new BoundedSeries(top);
  }
}

const CAUSE_LABELS = ['cpu', 'class', 'func', 'sender'] as const;
const TASK_LABELS = ['cpu', 'class', 'task'] as const;

function seriesSamples(bs: BoundedSeries, names: readonly string[], otherLabels: (bucket: string) => Record<string, string>, field: keyof Tally): Sample[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const s of bs.series()) {
    const labels = s.other ? otherLabels(s.id) : Object.fromEntries(s.id.split(SEP).map((v, i) => [names[i], v]));
    out.push({ labels, value: field === 'stolen_ns' ? seconds(s.value.stolen_ns) : s.value.count });
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

/** CPU numerically, classes in their order, "other" last, the rest by name. */
function compareLabels(a: Record<string, string>, b: Record<string, string>): number {
  for (const k of Object.keys(a)) {
    const x = a[k];
    const y = b[k] ?? '';
    if (x === y) continue;
    if (k === 'cpu') return Number(x) - Number(y);
    if (k === 'class') return CLASSES.indexOf(x as InterruptionClass) - CLASSES.indexOf(y as InterruptionClass);
    if (x === OTHER) return 1;
    if (y === OTHER) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** The metric families, with `state` moved on to this moment's totals. */
export function metricFamilies(input: MetricsInput, state: MetricsState = new MetricsState()): MetricFamily[] {
  const watched = [...input.start.watched_cpus].sort((a, b) => a - b);
  const watchedSet = new Set(watched);
  const rows = counted(input.rows, watchedSet);

  const perClass = (field: 'count' | 'stolen_ns'): Sample[] =>
    watched.flatMap((cpu) =>
      CLASSES.map((cls) => {
        const t = input.classes[String(cpu)]?.[cls];
        const v = t?.[field] ?? 0;
        return { labels: { cpu: String(cpu), class: cls }, value: field === 'stolen_ns' ? seconds(v) : v };
      }),
    );

  // a histogram per class that happened on the CPU (11 classes x 34 series per CPU otherwise)
  const hist: Sample[] = [];
  for (const cpu of watched) {
    for (const cls of CLASSES) {
      const t = input.classes[String(cpu)]?.[cls];
      if (!t || t.count === 0) continue;
      const labels = { cpu: String(cpu), class: cls };
      let cum = 0;
      for (let i = 0; i < HIST_BUCKETS - 1; i++) {
        cum += t.hist[i] ?? 0;
        hist.push({ suffix: '_bucket', labels: { ...labels, le: String(bucketLe(i)) }, value: cum });
      }
      hist.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: t.count });
      hist.push({ suffix: '_sum', labels, value: seconds(t.stolen_ns) });
      hist.push({ suffix: '_count', labels, value: t.count });
    }
  }

  const bucketOfRow = (r: AggregateRow) => `${r.cpu}${SEP}${r.class}`;
  const otherBucket = (extra: Record<string, string>) => (bucket: string) => {
    const [cpu, cls] = bucket.split(SEP);
    return { cpu, class: cls, ...extra };
  };
  state.causes.update(totalsBy(rows, causeLabels, bucketOfRow));
  const violating = rows.filter((r) => r.violation && r.phase === 'judged');
  state.violations.update(totalsBy(violating, (r) => ({ cpu: String(r.cpu), class: r.class, task: r.victim.comm }), bucketOfRow));
  const causeOther = otherBucket({ func: OTHER, sender: OTHER });

  const families: MetricFamily[] = [
    { name: 'isolwatch_interruptions_total', type: 'counter', help: HELP.isolwatch_interruptions_total, samples: perClass('count') },
    { name: 'isolwatch_stolen_seconds_total', type: 'counter', help: HELP.isolwatch_stolen_seconds_total, samples: perClass('stolen_ns') },
    { name: 'isolwatch_interruption_duration_seconds', type: 'histogram', help: HELP.isolwatch_interruption_duration_seconds, samples: hist },
    {
      name: 'isolwatch_cause_interruptions_total',
      type: 'counter',
      help: HELP.isolwatch_cause_interruptions_total,
      samples: seriesSamples(state.causes, CAUSE_LABELS, causeOther, 'count'),
    },
    {
      name: 'isolwatch_cause_stolen_seconds_total',
      type: 'counter',
      help: HELP.isolwatch_cause_stolen_seconds_total,
      samples: seriesSamples(state.causes, CAUSE_LABELS, causeOther, 'stolen_ns'),
    },
    {
      name: 'isolwatch_violations_total',
      type: 'counter',
      help: HELP.isolwatch_violations_total,
      samples: seriesSamples(state.violations, TASK_LABELS, otherBucket({ task: OTHER }), 'count'),
    },
    { name: 'isolwatch_lost_events_total', type: 'counter', help: HELP.isolwatch_lost_events_total, samples: [{ labels: {}, value: input.lost }] },
    {
      name: 'isolwatch_probe_misses_total',
      type: 'counter',
      help: HELP.isolwatch_probe_misses_total,
      samples: [{ labels: {}, value: Object.values(input.probeMisses ?? {}).reduce((a, b) => a + b, 0) }],
    },
    { name: 'isolwatch_self_interruptions_total', type: 'counter', help: HELP.isolwatch_self_interruptions_total, samples: [{ labels: {}, value: input.selfCaused }] },
    {
      name: 'isolwatch_watched_cpu_info',
      type: 'gauge',
      help: HELP.isolwatch_watched_cpu_info,
      samples: watched.map((cpu) => ({
        labels: { cpu: String(cpu), isolated: String(input.start.isolated.includes(cpu)), nohz_full: String(input.start.nohz_full.includes(cpu)) },
        value: 1,
      })),
    },
    {
      name: 'isolwatch_build_info',
      type: 'gauge',
      help: HELP.isolwatch_build_info,
      samples: [{ labels: { version: input.start.version, kernel: input.start.kernel, pr_isol: input.start.pr_isol }, value: 1 }],
    },
    {
      name: 'isolwatch_probes',
      type: 'gauge',
      help: HELP.isolwatch_probes,
      samples: [
        { labels: { state: 'attached' }, value: new Set(input.start.probes.attached).size },
        { labels: { state: 'missing' }, value: new Set(input.start.probes.missing).size },
      ],
    },
  ];
  if (input.steal) {
    families.push({
      name: 'isolwatch_steal_clock_info',
      type: 'gauge',
      help: HELP.isolwatch_steal_clock_info,
      samples: [{ labels: { clock: input.steal.clock, source: input.steal.source }, value: 1 }],
    });
    const byCpu = input.steal.byCpu;
    if (byCpu) {
      families.push({
        name: 'isolwatch_steal_seconds_total',
        type: 'counter',
        help: HELP.isolwatch_steal_seconds_total,
        samples: watched.map((cpu) => ({ labels: { cpu: String(cpu) }, value: seconds(byCpu[String(cpu)] ?? 0) })),
      });
    }
  }
  if (input.actions) {
    const samples = [...input.actions.values()]
      .map((a) => ({ labels: { rule: a.rule, action: a.action, result: a.result }, value: a.count }))
      .sort((a, b) => compareLabels(a.labels, b.labels));
    families.push({ name: 'isolwatch_policy_actions_total', type: 'counter', help: HELP.isolwatch_policy_actions_total, samples });
  }
  return families;
}

/** The exposition text of the metrics (serve's /metrics, a --metrics file). */
export function toMetrics(input: MetricsInput, state?: MetricsState): string {
  return renderExposition(metricFamilies(input, state));
}

/** Class totals from rows (a recording without the kernel's per-class counters): the same sums the kernel keeps. */
export function classesFromRows(rows: readonly AggregateRow[]): MetricsInput['classes'] {
  const out: MetricsInput['classes'] = {};
  for (const r of rows) {
    if (r.count === 0 || r.cause.origin === 'isolwatch') continue;
    const c = (out[String(r.cpu)] ??= {});
    const t = (c[r.class] ??= { count: 0, stolen_ns: 0, hist: new Array<number>(HIST_BUCKETS).fill(0) });
    t.count += r.count;
    t.stolen_ns += r.stolen_ns;
    r.hist.forEach((n, i) => (t.hist[i] += n));
  }
  return out;
}

/** Class totals from the kernel's counters (src/live/session.ts KernelCounts.accounts). */
export function classesFromAccounts(accounts: Record<string, Partial<Record<InterruptionClass, ClassTotals>>>): MetricsInput['classes'] {
  const out: MetricsInput['classes'] = {};
  for (const [cpu, classes] of Object.entries(accounts)) {
    for (const [cls, a] of Object.entries(classes) as [InterruptionClass, ClassTotals][]) {
      (out[cpu] ??= {})[cls] = { count: a.count, stolen_ns: a.stolen_ns, hist: a.hist };
    }
  }
  return out;
}

/** The result label of an action: its kind of outcome, without the free text of a refusal ("refused:pid 1" -> "refused"). */
export function actionResult(result: string): string {
  const i = result.indexOf(':');
  return i < 0 ? result : result.slice(0, i);
}
