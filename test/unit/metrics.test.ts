// The Prometheus metrics (src/output/metrics.ts, exposition.ts,
// bounded-series.ts) from recorded rows and counters: the text format and its
// escaping, the contract's names and labels, exact sums (causes add up to the
// class totals, histograms to the counts), and series that stay counters over
// an exporter's life while the costliest causes change.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/commands/report.js';
import { BoundedSeries, type KeyTotal } from '../../src/output/bounded-series.js';
import { escapeLabelValue, formatValue, renderExposition } from '../../src/output/exposition.js';
import { metricsInputOf, reporters } from '../../src/output/index.js';
import { bucketLe, causeLabels, classesFromRows, HELP, METRIC_NAMES, metricFamilies, MetricsState, toMetrics, type MetricsInput } from '../../src/output/metrics.js';
import { CLASSES, type InterruptionClass, type StartRecord } from '../../src/types.js';
import { HIST_BUCKETS, type AggregateRow } from '../../src/verdict/rows.js';

const REC = fileURLToPath(new URL('../fixtures/recordings/host-membarrier.rec.ndjson', import.meta.url));

/** Parsed exposition lines: name, labels, value (HELP/TYPE lines apart). */
interface Line {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): { lines: Line[]; help: Map<string, string>; type: Map<string, string> } {
  const lines: Line[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const l of text.split('\n')) {
    if (l === '') continue;
    let m = /^# HELP (\S+) (.*)$/.exec(l);
    if (m) {
      help.set(m[1], m[2]);
      continue;
    }
    m = /^# TYPE (\S+) (\S+)$/.exec(l);
    if (m) {
      type.set(m[1], m[2]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
    if (!m) throw new Error(`not an exposition line: ${l}`);
    const labels: Record<string, string> = {};
    for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    lines.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { lines, help, type };
}

const sum = (ls: Line[]) => ls.reduce((n, l) => n + l.value, 0);

const START: MetricsInput['start'] = {
  version: '0.1.0',
  kernel: '6.18.0',
  pr_isol: 'absent',
  watched_cpus: [1, 3],
  isolated: [3],
  nohz_full: [],
  probes: { attached: ['sched_switch', 'irq_handler_entry', 'irq_handler_entry'], missing: ['threshold_apic_entry'] },
};

function row(o: Partial<AggregateRow> & Pick<AggregateRow, 'cpu' | 'class' | 'kind' | 'count' | 'stolen_ns'>): AggregateRow {
  const hist = new Array<number>(HIST_BUCKETS).fill(0);
  hist[12] = o.count;
  return {
    victim: { pid: 100, tid: 101, comm: 'spin' },
    cause: { self: false, context: 'unknown' },
    isol: 'none',
    phase: 'judged',
    violation: false,
    max_ns: 5000,
    hist,
    ...o,
  };
}

const mb = (n: number, sender = 'membarrier', cpu = 1) =>
  row({ cpu, class: 'ipi', kind: 'call_function_single', func: 'ipi_mb', count: n, stolen_ns: n * 3000, cause: { self: false, context: 'task', pid: 7, tid: 8, comm: sender, cpu: 0 } });

describe('the exposition format', () => {
  it('escapes label values and HELP, formats values as Go reads them', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(formatValue(3)).toBe('3');
    expect(formatValue(3.1e-7)).toBe('3.1e-7');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(NaN)).toBe('NaN');
    const text = renderExposition([{ name: 'x_total', help: 'one\\two\nthree', type: 'counter', samples: [{ labels: { task: 'we"ird\\n\name' }, value: 2 }] }]);
    expect(text).toBe('# HELP x_total one\\\\two\\nthree\n# TYPE x_total counter\nx_total{task="we\\"ird\\\\n\\name"} 2\n');
    expect(parse(text).lines[0].labels.task).toBe('we"ird\\n\name');
  });

  it('refuses names the format cannot carry, and a family given twice', () => {
    expect(() => renderExposition([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }])).toThrow(/not valid/);
    expect(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }])).toThrow(/label name/);
    expect(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { __reserved: 'x' }, value: 1 }] }])).toThrow(/label name/);
    const f = { name: 'ok', help: '', type: 'gauge' as const, samples: [] };
    expect(() => renderExposition([f, f])).toThrow(/twice/);
  });
});

describe('bounded series', () => {
  const key = (k: string, count: number, stolen = count * 10, bucket = 'b'): KeyTotal => ({ key: k, bucket, total: { count, stolen_ns: stolen } });

  it('once: the N costliest (stolen time, then count) get series, the rest one "other" per bucket', () => {
    const bs = new BoundedSeries(2);
    bs.update([key('a', 5), key('b', 50), key('c', 20), key('d', 1, 0, 'x'), key('e', 3, 0, 'x')]);
    const s = bs.series();
    expect(s.filter((x) => !x.other).map((x) => x.id).sort()).toEqual(['b', 'c']);
    expect(s.find((x) => x.other && x.id === 'b')!.value).toEqual({ count: 5, stolen_ns: 50 });
    expect(s.find((x) => x.other && x.id === 'x')!.value).toEqual({ count: 4, stolen_ns: 0 });
    expect(new BoundedSeries(0).limit).toBe(0);
    expect(() => new BoundedSeries(-1)).toThrow(RangeError);
  });

  it('a new costly cause takes a series without taking anything out of "other"; the one it replaced stays where it was', () => {
    const bs = new BoundedSeries(1, { swapFactor: 1.5, halfLifeMs: Infinity });
    bs.update([key('a', 10)]);
    expect(bs.series()).toEqual([{ id: 'a', other: false, value: { count: 10, stolen_ns: 100 } }]);
    // b appears, cheaper: counted in "other"
    bs.update([key('a', 12), key('b', 5)]);
    expect(bs.series()).toEqual([
      { id: 'a', other: false, value: { count: 12, stolen_ns: 120 } },
      { id: 'b', other: true, value: { count: 5, stolen_ns: 50 } },
    ]);
    // b grows past a, but not 1.5 times: no swap (no flapping)
    bs.update([key('a', 12), key('b', 15)]);
    expect(bs.series().find((x) => !x.other)!.id).toBe('a');
    // b is now more than 1.5x a: it gets the series from what "other" had not shown of it
    bs.update([key('a', 12), key('b', 40)]);
    const s = bs.series();
    expect(s).toContainEqual({ id: 'b', other: false, value: { count: 25, stolen_ns: 250 } });
    expect(s).toContainEqual({ id: 'b', other: true, value: { count: 15, stolen_ns: 150 } }); // what "other" showed of b stays
    expect(s.some((x) => x.id === 'a' && !x.other)).toBe(false);
    // a grows again: in "other" now; its series would resume at 12 if it came back
    bs.update([key('a', 20), key('b', 41)]);
    expect(bs.series()).toContainEqual({ id: 'b', other: true, value: { count: 23, stolen_ns: 230 } });
  });

  it('a cause that stopped makes room for one that started (cost decays with a half-life)', () => {
    const bs = new BoundedSeries(1, { halfLifeMs: 60_000 });
    bs.update([key('old', 1000)], 0);
    bs.update([key('old', 1000), key('new', 100)], 60_000); // old's cost of late: 500; new: 100
    expect(bs.series().find((x) => !x.other)!.id).toBe('old');
    bs.update([key('old', 1000), key('new', 400)], 180_000); // old: 125; new: 50 + 300
    expect(bs.series().find((x) => !x.other)!.id).toBe('new');
    // one update (a --metrics file): the totals rank
    const once = new BoundedSeries(1, { halfLifeMs: 1 });
    once.update([key('a', 10), key('b', 20)], 5);
    expect(once.series().find((x) => !x.other)!.id).toBe('b');
  });

  it('over a long life: every series a counter, at most N own series, and each bucket grows by exactly what its keys did', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const totals = new Map<string, { count: number; stolen_ns: number; bucket: string }>();
    const bs = new BoundedSeries(3, { halfLifeMs: 20_000 });
    let prev = new Map<string, number>();
    /** what each series last showed (count), kept while it is gone: it resumes from there */
    const lastShown = new Map<string, number>();
    const bucketTotal = (b: string) => [...totals.values()].filter((t) => t.bucket === b).reduce((n, t) => n + t.count, 0);
    let prevBucket = { cpu0: 0, cpu1: 0 };
    let swaps = 0;
    let owners = '';
    for (let step = 0; step < 300; step++) {
      // causes come and go; some burst
      for (let i = 0; i < 3; i++) {
        const k = `k${Math.floor(rnd() * 12)}`;
        const t = totals.get(k) ?? { count: 0, stolen_ns: 0, bucket: `cpu${Number(k.slice(1)) % 2}` };
        const n = rnd() < 0.05 ? 500 : Math.floor(rnd() * 5);
        t.count += n;
        t.stolen_ns += n * (1 + Math.floor(rnd() * 100));
        totals.set(k, t);
      }
      bs.update(
        [...totals].map(([k, t]) => ({ key: k, bucket: t.bucket, total: { count: t.count, stolen_ns: t.stolen_ns } })),
        step * 1000,
      );
      const s = bs.series();
      const nowOwners = s.filter((x) => !x.other).map((x) => x.id).sort().join(',');
      if (owners && nowOwners !== owners) swaps++;
      owners = nowOwners;
      expect(s.filter((x) => !x.other).length).toBeLessThanOrEqual(3);
      const now = new Map(s.map((x) => [`${x.other ? 'other:' : ''}${x.id}`, x.value.stolen_ns * 1e6 + x.value.count]));
      for (const [id, v] of now) if (prev.has(id)) expect(v, `series ${id} went down at step ${step}`).toBeGreaterThanOrEqual(prev.get(id)!);
      // a series that disappears (lost its place) and comes back resumes where it was
      for (const [id, v] of prev) if (!now.has(id)) now.set(id, v);
      prev = now;
      for (const b of ['cpu0', 'cpu1'] as const) {
        const mine = s.filter((x) => (x.other ? x.id === b : totals.get(x.id)!.bucket === b));
        const grew = mine.reduce((n, x) => n + x.value.count - (lastShown.get(`${x.other}:${x.id}`) ?? 0), 0);
        expect(grew, `bucket ${b} at step ${step}`).toBe(bucketTotal(b) - prevBucket[b]);
        for (const x of mine) lastShown.set(`${x.other}:${x.id}`, x.value.count);
      }
      prevBucket = { cpu0: bucketTotal('cpu0'), cpu1: bucketTotal('cpu1') };
    }
    expect(swaps, 'the run should exercise causes changing places').toBeGreaterThan(3);
  });
});

describe('metrics from rows and counters', () => {
  const rows: AggregateRow[] = [
    mb(100),
    mb(3, 'other-sender'),
    row({ cpu: 1, class: 'timer', kind: 'local_timer', func: 'tick_nohz_handler', count: 40, stolen_ns: 80_000, cause: { self: false, context: 'unknown' } }),
    row({ cpu: 1, class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update', count: 2, stolen_ns: 9000, cause: { self: false, context: 'softirq', cpu: 1, callsite: 'call_timer_fn+0x1' } }),
    row({ cpu: 3, class: 'syscall', kind: 'getppid', count: 7, stolen_ns: 700, cause: { self: true, context: 'self', pid: 100, tid: 101, comm: 'spin' }, violation: true, isol: 'declared' }),
    row({ cpu: 3, class: 'page_fault', kind: 'read_not_present', count: 1, stolen_ns: 100, violation: true, isol: 'declared', phase: 'warmup', cause: { self: true, context: 'self' } }),
    // isolwatch's own, and an unwatched CPU: never in the counts
    row({ cpu: 1, class: 'ipi', kind: 'reschedule', count: 4, stolen_ns: 400, cause: { self: false, context: 'task', pid: 9, tid: 9, comm: 'node', origin: 'isolwatch' } }),
    row({ cpu: 0, class: 'irq', kind: 'virtio0', count: 1000, stolen_ns: 1e6 }),
    // the kernel's table was full: no victim, cause or function kept
    row({ cpu: 1, class: 'ipi', kind: 'vector_0', count: 5, stolen_ns: 500, overflow: true, victim: { pid: 0, tid: 0, comm: '' } }),
  ];
  const input: MetricsInput = { start: START, classes: classesFromRows(rows), rows, selfCaused: 4, lost: 2 };

  it('every family of the contract, with its HELP and type; no pid or tid label anywhere', () => {
    const text = toMetrics(input);
    const p = parse(text);
    // the policy's actions only with a policy; steal only with a steal clock's readings (their test below)
    expect([...p.help.keys()]).toEqual(METRIC_NAMES.filter((n) => n !== 'isolwatch_policy_actions_total' && !n.startsWith('isolwatch_steal_')));
    for (const [name, help] of p.help) expect(help).toBe(HELP[name as keyof typeof HELP]);
    expect(p.type.get('isolwatch_interruption_duration_seconds')).toBe('histogram');
    expect(p.type.get('isolwatch_build_info')).toBe('gauge');
    for (const [name, t] of p.type) if (name.endsWith('_total')) expect(t, name).toBe('counter');
    const allowed = new Set(['cpu', 'class', 'func', 'sender', 'task', 'le', 'isolated', 'nohz_full', 'version', 'kernel', 'pr_isol', 'state']);
    for (const l of p.lines) for (const k of Object.keys(l.labels)) expect(allowed.has(k), `${l.name} label ${k}`).toBe(true);
  });

  it("steal: each watched CPU's in seconds beside the counts, the clock said; without a clock only the info", () => {
    const withSteal = parse(toMetrics({ ...input, steal: { clock: 'kvm_steal_clock', source: 'pv-clock', byCpu: { 1: 1_500_000, 0: 9e9 } } }));
    expect(withSteal.type.get('isolwatch_steal_seconds_total')).toBe('counter');
    expect(withSteal.help.get('isolwatch_steal_seconds_total')).toBe(HELP.isolwatch_steal_seconds_total);
    const steal = withSteal.lines.filter((l) => l.name === 'isolwatch_steal_seconds_total');
    expect(steal.map((l) => [l.labels, l.value])).toEqual([
      [{ cpu: '1' }, 0.0015],
      [{ cpu: '3' }, 0],
    ]);
    expect(withSteal.lines.filter((l) => l.name === 'isolwatch_steal_clock_info').map((l) => l.labels)).toEqual([{ clock: 'kvm_steal_clock', source: 'pv-clock' }]);
    const none = parse(toMetrics({ ...input, steal: { clock: 'none', source: 'none' } }));
    expect(none.lines.some((l) => l.name === 'isolwatch_steal_seconds_total')).toBe(false);
    expect(none.lines.find((l) => l.name === 'isolwatch_steal_clock_info')?.labels).toEqual({ clock: 'none', source: 'none' });
  });

  it('class counts per watched CPU, every class present (zeros too), in base units', () => {
    const p = parse(toMetrics(input));
    const total = p.lines.filter((l) => l.name === 'isolwatch_interruptions_total');
    expect(total).toHaveLength(2 * CLASSES.length);
    const v = (cpu: string, cls: InterruptionClass) => total.find((l) => l.labels.cpu === cpu && l.labels.class === cls)!.value;
    expect(v('1', 'ipi')).toBe(108); // 100 + 3 + 5 in the overflow, not isolwatch's 4
    expect(v('1', 'timer')).toBe(40);
    expect(v('3', 'syscall')).toBe(7);
    expect(v('1', 'nmi')).toBe(0);
    expect(total.some((l) => l.labels.cpu === '0')).toBe(false);
    const stolen = p.lines.find((l) => l.name === 'isolwatch_stolen_seconds_total' && l.labels.cpu === '1' && l.labels.class === 'timer')!;
    expect(stolen.value).toBeCloseTo(80e-6, 12);
    expect(p.lines.find((l) => l.name === 'isolwatch_self_interruptions_total')!.value).toBe(4);
    expect(p.lines.find((l) => l.name === 'isolwatch_lost_events_total')!.value).toBe(2);
  });

  it('histograms: log2 buckets in seconds, cumulative, +Inf is the count; only for classes that happened', () => {
    const p = parse(toMetrics(input));
    const b = p.lines.filter((l) => l.name === 'isolwatch_interruption_duration_seconds_bucket' && l.labels.cpu === '1' && l.labels.class === 'ipi');
    expect(b).toHaveLength(HIST_BUCKETS);
    expect(b.map((l) => l.labels.le)).toEqual([...Array.from({ length: HIST_BUCKETS - 1 }, (_, i) => String(bucketLe(i))), '+Inf']);
    expect(bucketLe(0)).toBe(2e-9);
    expect(bucketLe(9)).toBeCloseTo(1.024e-6, 15);
    for (let i = 1; i < b.length; i++) expect(b[i].value).toBeGreaterThanOrEqual(b[i - 1].value);
    expect(b[11].value).toBe(0); // every fixture interruption is in bucket 12: [4096, 8192) ns
    expect(b[12].value).toBe(108);
    expect(b.at(-1)!.value).toBe(108);
    const count = p.lines.find((l) => l.name === 'isolwatch_interruption_duration_seconds_count' && l.labels.cpu === '1' && l.labels.class === 'ipi')!;
    expect(count.value).toBe(108);
    const classes = new Set(p.lines.filter((l) => l.name === 'isolwatch_interruption_duration_seconds_count').map((l) => `${l.labels.cpu}/${l.labels.class}`));
    expect([...classes].sort()).toEqual(['1/ipi', '1/timer', '1/workqueue', '3/page_fault', '3/syscall']);
  });

  it('causes: what ran and who sent it, by name; the costliest N, the rest under other; they add up to the class totals', () => {
    const p = parse(toMetrics(input, new MetricsState(2)));
    const causes = p.lines.filter((l) => l.name === 'isolwatch_cause_interruptions_total');
    expect(causes.find((l) => l.labels.func === 'ipi_mb' && l.labels.sender === 'membarrier')).toEqual({
      name: 'isolwatch_cause_interruptions_total',
      labels: { cpu: '1', class: 'ipi', func: 'ipi_mb', sender: 'membarrier' },
      value: 100,
    });
    expect(causes.filter((l) => l.labels.func !== 'other')).toHaveLength(2);
    for (const cpu of ['1', '3']) {
      for (const cls of CLASSES) {
        const want = p.lines.find((l) => l.name === 'isolwatch_interruptions_total' && l.labels.cpu === cpu && l.labels.class === cls)!.value;
        expect(sum(causes.filter((l) => l.labels.cpu === cpu && l.labels.class === cls)), `${cpu}/${cls}`).toBe(want);
      }
    }
    // every cause with its own series (N large)
    const all = parse(toMetrics(input, new MetricsState(100))).lines.filter((l) => l.name === 'isolwatch_cause_interruptions_total');
    expect(all.map((l) => [l.labels.class, l.labels.func, l.labels.sender])).toEqual([
      ['timer', 'tick_nohz_handler', 'unknown'],
      ['ipi', 'ipi_mb', 'membarrier'],
      ['ipi', 'ipi_mb', 'other-sender'],
      ['ipi', 'overflow', 'unknown'],
      ['workqueue', 'vmstat_update', 'softirq'],
      ['syscall', 'getppid', 'self'],
      ['page_fault', 'read_not_present', 'self'],
    ]);
    expect(causeLabels(mb(1))).toEqual({ cpu: '1', class: 'ipi', func: 'ipi_mb', sender: 'membarrier' });
  });

  it('violations: judged-window interruptions of isolated tasks, by task comm', () => {
    const v = parse(toMetrics(input)).lines.filter((l) => l.name === 'isolwatch_violations_total');
    expect(v).toEqual([{ name: 'isolwatch_violations_total', labels: { cpu: '3', class: 'syscall', task: 'spin' }, value: 7 }]);
  });

  it('watched CPUs, build and probes as info gauges', () => {
    const p = parse(toMetrics(input));
    expect(p.lines.filter((l) => l.name === 'isolwatch_watched_cpu_info').map((l) => l.labels)).toEqual([
      { cpu: '1', isolated: 'false', nohz_full: 'false' },
      { cpu: '3', isolated: 'true', nohz_full: 'false' },
    ]);
    expect(p.lines.find((l) => l.name === 'isolwatch_build_info')!.labels).toEqual({ version: '0.1.0', kernel: '6.18.0', pr_isol: 'absent' });
    expect(p.lines.filter((l) => l.name === 'isolwatch_probes').map((l) => [l.labels.state, l.value])).toEqual([
      ['attached', 2],
      ['missing', 1],
    ]);
  });

  it("serve's scrapes: counters only grow, the series stay bounded, policy actions appear with a policy", () => {
    const state = new MetricsState(2);
    const first = parse(toMetrics(input, state));
    const more = rows.map((r) => (r.func === 'ipi_mb' && r.cause.comm === 'other-sender' ? { ...r, count: 500, stolen_ns: 500 * 3000 } : r));
    const actions = new Map([['r\u0000log\u0000logged', { rule: 'log-all', action: 'log', result: 'logged', count: 3 }]]);
    const second = parse(toMetrics({ ...input, rows: more, classes: classesFromRows(more), actions }, state));
    const id = (l: Line) => `${l.name}${JSON.stringify(l.labels)}`;
    const before = new Map(first.lines.map((l) => [id(l), l.value]));
    for (const l of second.lines) if (l.name.endsWith('_total') && before.has(id(l))) expect(l.value, id(l)).toBeGreaterThanOrEqual(before.get(id(l))!);
    expect(second.lines.find((l) => l.name === 'isolwatch_policy_actions_total')).toEqual({
      name: 'isolwatch_policy_actions_total',
      labels: { rule: 'log-all', action: 'log', result: 'logged' },
      value: 3,
    });
    expect(second.lines.filter((l) => l.name === 'isolwatch_cause_interruptions_total' && l.labels.func !== 'other')).toHaveLength(2);
  });
});

describe('--metrics FILE of a recording (report) and of a run', () => {
  const r = replay(readFileSync(REC, 'utf8'), REC);

  it('the rows of the recording: the same numbers the summary gives', () => {
    const text = reporters.metrics({ start: r.start, summary: r.summary, interruptions: [], rows: r.rows });
    const p = parse(text);
    for (const [cpu, c] of Object.entries(r.summary.cpus)) {
      for (const cls of CLASSES) {
        const l = p.lines.find((x) => x.name === 'isolwatch_interruptions_total' && x.labels.cpu === cpu && x.labels.class === cls)!;
        expect(l.value, `${cpu}/${cls}`).toBe(c.by_class[cls] ?? 0);
      }
    }
    const mbs = r.rows.filter((x) => x.func === 'ipi_mb' && x.cause.comm === 'membarrier').reduce((n, x) => n + x.count, 0);
    expect(mbs).toBeGreaterThan(0);
    expect(p.lines.find((l) => l.name === 'isolwatch_cause_interruptions_total' && l.labels.func === 'ipi_mb' && l.labels.sender === 'membarrier')!.value).toBe(mbs);
    expect(p.lines.find((l) => l.name === 'isolwatch_self_interruptions_total')!.value).toBe(r.summary.self_caused);
  });

  it("a live run's class totals come from the kernel's counters, its causes from the totals record", () => {
    const start = r.start as StartRecord;
    const accounts = { '1': { ipi: { count: 812, stolen_ns: 1e6, max_ns: 9000, hist: new Array<number>(HIST_BUCKETS).fill(0).map((_, i) => (i === 11 ? 812 : 0)), self_caused: 0, delivered: 0, sampled: 0, lost: 0 } } };
    const counters = { byCpu: { '1': { ipi: 812 } }, stolenByCpu: {}, maxByCpu: {}, accounts, selfCaused: 9, lost: 0, other: { delivered: 0, lost: 0 } };
    const totals = { type: 'aggregate' as const, scope: 'total' as const, from_ns: 0, to_ns: 1, rows: r.rows };
    const m = metricsInputOf({ start, summary: r.summary, interruptions: [], totals, counters });
    expect(m.classes['1'].ipi!.count).toBe(812);
    expect(m.selfCaused).toBe(9);
    expect(m.rows).toBe(r.rows);
    const fams = metricFamilies(m);
    expect(fams.find((f) => f.name === 'isolwatch_interruptions_total')!.samples.find((s) => s.labels.class === 'ipi')!.value).toBe(812);
  });
});
