// TUI model and views: the pure reducer and the text it turns into, driven by
// the recorded fixture. No terminal, no clock: time comes from records/actions.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { InterruptionRecord, OutputRecord, StartRecord, SummaryRecord } from '../../src/types.js';
import { lineText } from '../../tui/format.js';
import { MDWE_WARNING } from '../helpers/records.js';
import { keyToAction } from '../../tui/keys.js';
import type { Action, Model, ModelOptions } from '../../tui/model/index.js';
import {
  causeRows,
  cpuHistory,
  cpuRows,
  eventRows,
  initModel,
  panelLength,
  reduce,
  taskRows,
  timeView,
  visible,
} from '../../tui/model/index.js';
import { parseRecording } from '../../tui/recording.js';
import { describeEvent } from '../../tui/views/describe.js';
import { renderScreen, screenText } from '../../tui/views/screen.js';
import { toContent } from '../../tui/views/tags.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/recordings/tui-sample.ndjson', import.meta.url));
const { start, records } = parseRecording(readFileSync(FIXTURE, 'utf8'), FIXTURE);
const interruptions = records.filter((r): r is InterruptionRecord => r.type === 'interruption');
const summary = records.find((r): r is SummaryRecord => r.type === 'summary')!;
const lastTs = Math.max(...interruptions.map((r) => r.ts_ns));

function run(model: Model, ...actions: Action[]): Model {
  return actions.reduce(reduce, model);
}

function replayed(opts: ModelOptions = {}): Model {
  return reduce(initModel(start, { replay: true, cols: 100, rows: 30, ...opts }), { type: 'records', records, nowNs: 0 });
}

describe('tui model: aggregation', () => {
  it('counts every interruption per CPU and class, matching the recording summary', () => {
    const m = replayed();
    expect(m.stats.total).toBe(interruptions.length);
    expect(m.stats.violations).toBe(summary.violations);
    for (const [cpu, s] of Object.entries(summary.cpus)) {
      expect(m.stats.cpus[cpu].byClass).toEqual(s.by_class);
      expect(m.stats.cpus[cpu].stolenNs).toBe(s.stolen_ns);
      expect(m.stats.cpus[cpu].maxNs).toBe(s.max_ns);
    }
    expect(m.stats.cpus['1'].maxWhat).toBe('workqueue vmstat_update');
    expect(m.stats.cpus['1'].victim).toEqual({ pid: 5000, tid: 5000, comm: 'app' });
  });

  it('tracks tasks with isolation state and source, prctls included', () => {
    const m = replayed();
    const rows = taskRows(visible(m));
    expect(rows.map((t) => t.comm)).toEqual(['app', 'dpdk-rx']);
    const app = rows[0];
    expect([app.isol, app.source, app.violations, app.lastOp]).toEqual(['active', 'kernel', 49, 'PR_ISOL_ACTIVATE_SET']);
    expect([rows[1].isol, rows[1].source]).toEqual(['declared', 'declared']);
    expect(m.stats.summary?.lost_events).toBe(0);
  });

  it('does not mutate the model it is given', () => {
    const m0 = replayed();
    const before = JSON.stringify(m0);
    run(m0, { type: 'records', records, nowNs: 1 }, { type: 'clear' }, { type: 'pause' }, { type: 'focus-next' });
    expect(JSON.stringify(m0)).toBe(before);
  });

  it('keeps memory bounded: event ring, cause and task tables', () => {
    const m = replayed({ eventCapacity: 10, maxCauses: 3, maxTasks: 1 });
    expect(m.stats.events).toHaveLength(10);
    expect(m.stats.events[0].rec.ts_ns).toBe(lastTs); // newest first
    expect(Object.keys(m.stats.causes).length).toBeLessThanOrEqual(3);
    expect(Object.keys(m.stats.tasks).length).toBeLessThanOrEqual(1);
  });

  it('a stream of ever-new senders keeps the cause table bounded and the costliest causes', () => {
    const ipi = interruptions.find((r) => r.func === 'ipi_mb')!;
    const flood = Array.from({ length: 5000 }, (_, i) => ({
      ...ipi,
      ts_ns: ipi.ts_ns + i,
      duration_ns: 100,
      cause: { ...ipi.cause, comm: `spray${i}`, pid: 10_000 + i },
    }));
    let m = initModel(start, { replay: true, maxCauses: 50 });
    m = run(m, { type: 'records', records: interruptions, nowNs: 0 }, { type: 'records', records: flood, nowNs: 0 });
    const rows = causeRows(visible(m), '');
    expect(rows.length).toBeLessThanOrEqual(50);
    expect(rows[0].sender).toBe('noise/4242 on CPU 0'); // the real offender survives the flood
    expect(m.stats.total).toBe(interruptions.length + flood.length);
  });

  it('the selected event stays selected as newer ones arrive; row 0 follows the newest', () => {
    const half = 40;
    let m = initModel(start, { replay: true });
    m = run(m, { type: 'records', records: interruptions.slice(0, half), nowNs: 0 }, { type: 'focus', panel: 'events' });
    m = run(m, { type: 'select-down' }, { type: 'select-down' });
    const picked = eventRows(visible(m), '')[m.sel.events].id;
    m = reduce(m, { type: 'records', records: interruptions.slice(half, half + 7), nowNs: 0 });
    expect(eventRows(visible(m), '')[m.sel.events].id).toBe(picked);
    m = run(m, { type: 'select-home' }, { type: 'records', records: interruptions.slice(half + 7), nowNs: 0 });
    expect(m.sel.events).toBe(0);
  });
});

describe('tui model: time and rates', () => {
  it('replay: elapsed and rates come from record timestamps over the whole recording', () => {
    const m = replayed();
    const tv = timeView(m);
    expect(tv.elapsedNs).toBe(summary.duration_s * 1e9); // summary says 10 s; records end at ~9.8 s
    const secs = (lastTs - start.ts_ns!) / 1e9;
    const cpu1 = cpuRows(m).find((r) => r.cpu === 1)!;
    expect(cpu1.how).toBe('isolated+nohz_full');
    expect(cpu1.rates[0].cls).toBe('ipi');
    expect(cpu1.rates[0].perS).toBeCloseTo(34 / secs, 6);
    expect(cpu1.stolenFraction).toBeCloseTo(summary.cpus['1'].stolen_ns / (lastTs - start.ts_ns!), 9);
    expect(cpuRows(m).find((r) => r.cpu === 2)!.how).toBe('nohz_full');
    // one sparkline value per second of the recording, nothing before its start
    const hist = cpuHistory(m, 1, 60);
    expect(hist).toHaveLength(10);
    expect(hist.reduce((a, b) => a + b, 0)).toBe(49);
  });

  it('live: rates over the last window, with the record clock learned from the first batch', () => {
    const base = 7_000_000_000_000; // kernel clock
    const wall = 123_000_000_000; // our clock, unrelated epoch
    const mk = (sec: number, i: number): InterruptionRecord => ({
      ...interruptions.find((r) => r.func === 'ipi_mb')!,
      ts_ns: base + sec * 1e9 + i * 1e8,
    });
    let m = initModel({ ...start, ts_ns: base }, { nowNs: wall, cols: 100, rows: 30 });
    for (let sec = 0; sec < 20; sec++) {
      const n = sec < 10 ? 1 : 4; // 1/s, then 4/s
      const batch = Array.from({ length: n }, (_, i) => mk(sec, i));
      m = reduce(m, { type: 'records', records: batch, nowNs: wall + sec * 1e9 + 5e8 });
    }
    m = reduce(m, { type: 'tick', nowNs: wall + 20e9 });
    const cpu1 = cpuRows(m).find((r) => r.cpu === 1)!;
    expect(cpu1.rates[0].cls).toBe('ipi');
    expect(cpu1.rates[0].perS).toBeCloseTo(4, 0);
    expect(timeView(m).elapsedNs).toBe(20e9);
    // quiet for a minute: the live rate falls to zero, the totals stay
    m = reduce(m, { type: 'tick', nowNs: wall + 80e9 });
    expect(cpuRows(m).find((r) => r.cpu === 1)!.totalPerS).toBe(0);
    expect(m.stats.cpus['1'].total).toBe(50);
  });
});

describe('tui model: top causes', () => {
  it('groups by class, func-or-kind and sender, worst stolen time first', () => {
    const m = replayed();
    const rows = causeRows(visible(m), '');
    const top = rows[0];
    expect([top.class, top.kind, top.func, top.sender, top.count]).toEqual([
      'ipi',
      'call_function_single',
      'ipi_mb',
      'noise/4242 on CPU 0',
      30,
    ]);
    expect(top.callsites).toEqual(['membarrier_private_expedited+0x8d']);
    expect(top.hist.reduce((a, b) => a + b, 0)).toBe(30);
    // vmstat_update: the shepherd's first queueing and the self re-arming timer are different causes
    const vm = rows.filter((g) => g.kind === 'vmstat_update').map((g) => [g.sender, g.count]);
    expect(vm).toEqual(
      expect.arrayContaining([
        ['softirq (__queue_delayed_work) on CPU 1', 4],
        ['kworker/0:2/87 on CPU 0', 1],
      ]),
    );
    expect(rows.find((g) => g.func === 'flush_tlb_func')?.sender).toBe('app-gc/5003 on CPU 0'); // the thread, by tid
    expect(rows.find((g) => g.kind === 'write')?.selfCaused).toBe(true);
    for (let i = 1; i < rows.length; i++) expect(rows[i - 1].stolenNs).toBeGreaterThanOrEqual(rows[i].stolenNs);
  });

  it('describes an interruption in words, cause chain included', () => {
    const ipi = interruptions.find((r) => r.func === 'ipi_mb')!;
    expect(describeEvent({ ...ipi, duration_ns: 3100 })).toBe(
      'IPI call_function_single -> ipi_mb from noise/4242 on CPU 0 (membarrier_private_expedited) 3.1us',
    );
    const tick = interruptions.find((r) => r.kind === 'local_timer')!;
    expect(describeEvent(tick)).toMatch(/^timer local_timer -> softirq TIMER from hardirq on CPU \d/);
    expect(describeEvent(interruptions.find((r) => r.kind === 'write')!)).toMatch(/^syscall write \(self\) /);
    // as the live kernel reports it: the csd callback nested in its vector repeats the function
    const live: InterruptionRecord = {
      ...ipi,
      duration_ns: 3100,
      chain: [
        { class: 'ipi', kind: 'call_function_single', func: 'ipi_mb', duration_ns: 3100, depth: 0 },
        { class: 'ipi', kind: 'csd', func: 'ipi_mb', duration_ns: 700, depth: 1 },
        { class: 'softirq', kind: 'TIMER', duration_ns: 900, depth: 1 },
      ],
    };
    expect(describeEvent(live)).toBe(
      'IPI call_function_single -> ipi_mb -> softirq TIMER from noise/4242 on CPU 0 (membarrier_private_expedited) 3.1us',
    );
  });
});

describe('tui model: keys and actions', () => {
  it('filter narrows events and causes by text; Esc clears it', () => {
    let m = replayed();
    m = run(m, { type: 'filter-start' }, ...[...'IPI_MB'].map((ch) => ({ type: 'filter-input', text: ch }) as Action));
    expect(m.filterDraft).toBe('IPI_MB');
    m = run(m, { type: 'filter-backspace' }, { type: 'filter-input', text: 'B' }, { type: 'filter-commit' });
    expect([m.filter, m.filterDraft]).toEqual(['IPI_MB', null]);
    const ev = eventRows(visible(m), m.filter);
    expect(ev).toHaveLength(30);
    expect(ev.every((e) => e.rec.func === 'ipi_mb')).toBe(true);
    expect(causeRows(visible(m), m.filter)).toHaveLength(1);
    // several terms must all match: comm and class
    expect(eventRows(visible(m), 'dpdk syscall')).toHaveLength(20);
    expect(causeRows(visible(m), 'nothing-like-this')).toHaveLength(0);
    m = reduce(m, { type: 'back' });
    expect(m.filter).toBe('');
  });

  it('pause freezes what is shown while counting continues; resume shows it', () => {
    const half = Math.floor(records.length / 2);
    let m = initModel(start, { replay: true });
    m = run(m, { type: 'records', records: records.slice(0, half), nowNs: 0 }, { type: 'pause' });
    const shown = visible(m).stats.total;
    m = reduce(m, { type: 'records', records: records.slice(half), nowNs: 0 });
    expect(visible(m).stats.total).toBe(shown);
    expect(m.stats.total).toBe(interruptions.length);
    expect(m.pendingWhilePaused).toBe(records.length - half);
    expect(screenText(m)).toContain('PAUSED');
    m = reduce(m, { type: 'pause' });
    expect(visible(m).stats.total).toBe(interruptions.length);
  });

  it('clear resets counters, causes and the log but keeps the tasks known', () => {
    let m = run(replayed(), { type: 'focus', panel: 'causes' }, { type: 'select-down' }, { type: 'clear' });
    expect([m.stats.total, Object.keys(m.stats.causes).length, m.stats.events.length]).toEqual([0, 0, 0]);
    expect(taskRows(visible(m)).map((t) => [t.comm, t.isol, t.interruptions])).toEqual([
      ['app', 'active', 0],
      ['dpdk-rx', 'declared', 0],
    ]);
    expect(m.sel.causes).toBe(0);
    m = reduce(m, { type: 'records', records: interruptions.slice(0, 5), nowNs: 0 });
    expect(m.stats.total).toBe(5);
  });

  it('keeps selections in bounds and cycles focus across the four panels', () => {
    let m = replayed();
    expect(m.focus).toBe('cpus');
    m = run(m, { type: 'select-up' });
    expect(m.sel.cpus).toBe(0);
    m = run(m, ...Array.from({ length: 10 }, () => ({ type: 'select-down' }) as Action));
    expect(m.sel.cpus).toBe(1); // two CPUs
    const order = [m.focus];
    for (let i = 0; i < 4; i++) order.push((m = reduce(m, { type: 'focus-next' })).focus);
    expect(order).toEqual(['cpus', 'tasks', 'causes', 'events', 'cpus']);
    m = run(m, { type: 'focus-prev' });
    expect(m.focus).toBe('events');
    m = run(m, { type: 'select-end' });
    expect(m.sel.events).toBe(panelLength(m, 'events') - 1);
    m = run(m, { type: 'select-down', n: 10 }, { type: 'select-home' });
    expect(m.sel.events).toBe(0);
    // drill into the newest event, back out
    m = reduce(m, { type: 'drill' });
    expect(m.detail?.kind).toBe('event');
    expect(reduce(m, { type: 'focus-next' }).focus).toBe('events'); // focus does not move under a detail view
    m = reduce(m, { type: 'back' });
    expect(m.detail).toBeUndefined();
    // empty panel: selection stays 0
    const empty = run(initModel(start), { type: 'focus', panel: 'causes' }, { type: 'select-down' }, { type: 'drill' });
    expect([empty.sel.causes, empty.detail]).toEqual([0, undefined]);
  });

  it('maps keys to actions; filter typing takes letters that are otherwise commands', () => {
    const m = replayed();
    const k = (ch: string | undefined, name?: string, extra: object = {}) => keyToAction(m, ch, { name, ...extra });
    expect(k('q', 'q')).toEqual({ type: 'quit' });
    expect(k(undefined, 'c', { ctrl: true })).toEqual({ type: 'quit' });
    expect(k('p', 'p')).toEqual({ type: 'pause' });
    expect(k('\t', 'tab')).toEqual({ type: 'focus-next' });
    expect(k(undefined, 'tab', { shift: true })).toEqual({ type: 'focus-prev' });
    expect(k(undefined, 'down')).toEqual({ type: 'select-down' });
    expect(k('\r', 'enter')).toEqual({ type: 'drill' });
    expect(k(undefined, 'escape')).toEqual({ type: 'back' });
    expect(k('/', undefined)).toEqual({ type: 'filter-start' });
    expect(k('c', 'c')).toEqual({ type: 'clear' });
    expect(k('?', undefined)).toEqual({ type: 'help' });
    const typing = reduce(m, { type: 'filter-start' });
    expect(keyToAction(typing, 'q', { name: 'q' })).toEqual({ type: 'filter-input', text: 'q' });
    expect(keyToAction(typing, '\r', { name: 'enter' })).toEqual({ type: 'filter-commit' });
    expect(keyToAction(typing, undefined, { name: 'escape' })).toEqual({ type: 'filter-cancel' });
    expect(keyToAction(typing, undefined, { name: 'c', ctrl: true })).toEqual({ type: 'quit' });
    const help = reduce(m, { type: 'help' });
    expect(keyToAction(help, undefined, { name: 'escape' })).toEqual({ type: 'help' });
    expect(keyToAction(help, 'q', { name: 'q' })).toEqual({ type: 'quit' });
  });
});

describe('tui views: screen layout', () => {
  const sizes: [number, number][] = [
    [80, 24],
    [100, 30],
    [132, 43],
    [220, 60],
    [40, 10],
    [12, 4],
    [1, 1],
  ];
  for (const [cols, rows] of sizes) {
    it(`fills exactly ${cols}x${rows}`, () => {
      for (const m of [replayed(), run(replayed(), { type: 'focus', panel: 'causes' }, { type: 'drill' }), run(replayed(), { type: 'help' })]) {
        const lines = renderScreen(reduce(m, { type: 'resize', cols, rows }));
        expect(lines).toHaveLength(rows);
        for (const l of lines) expect(lineText(l)).toHaveLength(cols);
      }
    });
  }

  it('shows every panel with real content at 80x24', () => {
    const text = screenText(reduce(replayed(), { type: 'resize', cols: 80, rows: 24 }));
    for (const s of ['6.18.0-isol+', '1:isolated+nohz_full', '2:nohz_full', 'PR_ISOL supported', 'missing: user_exit', 'lost 0', 'enforcement off']) {
      expect(text).toContain(s);
    }
    for (const s of ['>> CPUs', 'Tasks (2)', 'Top causes (', 'Events (', 'app/5000', 'active (kernel PR_ISOL)', 'ipi_mb from noise/', 'q quit']) {
      expect(text).toContain(s);
    }
  });

  it('cause detail: chain, histogram and the remedy when the catalogue knows one', () => {
    const m = run(replayed(), { type: 'focus', panel: 'causes' }, { type: 'drill' });
    const remedyFor = (q: { class: string; kind: string; func?: string }) =>
      q.func === 'ipi_mb' ? { remedy: ['stop calling membarrier() from processes with isolated threads'], causes: 'membarrier()' } : undefined;
    const text = screenText(m, { remedyFor });
    expect(text).toContain('Top cause: IPI call_function_single -> ipi_mb from noise/4242 on CPU 0');
    expect(text).toContain('Durations');
    expect(text).toMatch(/< 4us \|#+ +\d+/);
    expect(text).toContain('- stop calling membarrier()');
    expect(screenText(m)).toContain('no remedy known for ipi/call_function_single/ipi_mb');
    // scrolls when taller than the screen
    const small = reduce(m, { type: 'resize', cols: 80, rows: 12 });
    expect(screenText(small)).toMatch(/more lines? \(Down to scroll\)/);
    expect(screenText(reduce(small, { type: 'select-down', n: 3 }))).not.toBe(screenText(small));
  });

  it('CPU and task details', () => {
    const cpu = run(replayed(), { type: 'drill' });
    expect(screenText(cpu)).toMatch(/CPU 1: isolated\+nohz_full[\s\S]*Top causes on this CPU[\s\S]*ipi_mb/);
    const task = run(replayed(), { type: 'focus', panel: 'tasks' }, { type: 'drill' });
    expect(screenText(task)).toMatch(/Task app pid 5000[\s\S]*active \(kernel PR_ISOL\)[\s\S]*PR_ISOL_ACTIVATE_SET/);
  });

  it('NO_COLOR: no tags at all; colour: tags, and user text escaped', () => {
    const m = replayed();
    const noColor = toContent(renderScreen(m), false);
    expect(noColor).not.toMatch(/\{\/?[a-z-]+\}/);
    expect(noColor).toContain('>> CPUs');
    const odd: OutputRecord = { ...interruptions[0], victim: { pid: 1, tid: 1, comm: '{bold}x' } };
    const colored = toContent(renderScreen(reduce(m, { type: 'records', records: [odd], nowNs: 0 })), true);
    expect(colored).toContain('{bold}');
    expect(colored).toContain('{open}bold{close}x');
  });

  it('live header: lost events from the session counter, notes and notices, enforcement mode', () => {
    const live = initModel(start, { nowNs: 1, cols: 100, rows: 30, enforcement: 'dry-run (strict.yaml)' });
    expect(screenText(live)).toContain('lost n/a'); // not polled yet
    let m = reduce(live, { type: 'status', lostEvents: 17, notices: [] });
    let text = screenText(m);
    expect(text).toContain('lost 17');
    expect(text).toContain('enforcement dry-run (strict.yaml)');
    // an unchanged status is the same model (no redraw)
    expect(reduce(m, { type: 'status', lostEvents: 17, notices: [] })).toBe(m);
    m = reduce(m, { type: 'status', notices: ['pid 42 exited: no more interruptions to show; q to quit'] });
    expect(m.session).toEqual({ lostEvents: 17, notices: ['pid 42 exited: no more interruptions to show; q to quit'] });
    text = screenText(m);
    expect(text.split('\n')[3]).toBe('! pid 42 exited: no more interruptions to show; q to quit');
    expect(text).toContain('>> CPUs');
    // a recording's summary wins over a stale live counter
    expect(screenText(reduce(m, { type: 'records', records: [summary], nowNs: 2 }))).toContain('lost 0');
  });

  it('notes take header rows (at most 3; 1 below 24 rows) and the screen still fits', () => {
    const notes = ['demo: spinner disturb/11 on CPU 1', '  membarrier -> IPI ipi_mb', '  munmap -> IPI flush_tlb_func', '  one too many'];
    for (const [cols, rows, shown] of [
      [100, 30, 3],
      [80, 24, 3],
      [80, 20, 1],
    ] as const) {
      const m = reduce(replayed({ notes }), { type: 'resize', cols, rows });
      const lines = renderScreen(m).map(lineText);
      expect(lines).toHaveLength(rows);
      expect(lines.slice(3, 3 + shown).map((l) => l.trimEnd())).toEqual(notes.slice(0, shown));
      expect(lines[3 + shown]).toMatch(/^>> CPUs/);
      expect(lines.join('\n')).toContain('Events (');
    }
    // a long note wraps under itself instead of being cut
    const long = 'warning: no isolated or nohz_full CPUs on this machine: watching CPU 1 (the highest); it cannot be quiet';
    const wrapped = renderScreen(reduce(replayed({ notes: [long] }), { type: 'resize', cols: 80, rows: 24 })).map(lineText);
    expect(wrapped.slice(3, 5).map((l) => l.trimEnd())).toEqual([
      'warning: no isolated or nohz_full CPUs on this machine: watching CPU 1 (the',
      '  highest); it cannot be quiet',
    ]);
    // no notes: the panels start right under the three header lines
    expect(lineText(renderScreen(replayed())[3])).toMatch(/^>> CPUs/);
  });

  it('declared tasks (--pid) are listed from the start, then counted like any other', () => {
    const m0 = initModel(start, { cols: 100, rows: 30, declaredTasks: [{ pid: 5000, tid: 5000, comm: 'app' }, { pid: 5000, tid: 5001, comm: 'app-rx' }] });
    expect(taskRows(visible(m0)).map((t) => [t.tid, t.isol, t.source, t.interruptions])).toEqual([
      [5000, 'declared', 'declared', 0],
      [5001, 'declared', 'declared', 0],
    ]);
    expect(screenText(m0)).toMatch(/5000 +app +declared/);
    const m = reduce(m0, { type: 'records', records, nowNs: 0 });
    const app = taskRows(visible(m)).find((t) => t.tid === 5000)!;
    expect([app.interruptions > 0, app.isol]).toEqual([true, 'active']); // the kernel's word wins once known
    expect(taskRows(visible(m)).find((t) => t.tid === 5001)!.interruptions).toBe(0);
  });

  it('says when no watched CPU is isolated, and why it watches the CPU it does', () => {
    const plainCpu: StartRecord = { ...start, watched_cpus: [1], isolated: [], nohz_full: [], watched_reason: 'user' };
    expect(screenText(initModel(plainCpu, { cols: 120 }))).toContain('CPU 1:housekeeping (not isolated: cannot be quiet)');
    // at 80 columns the version and arch give way, the isolation note stays
    const narrow = screenText(initModel({ ...plainCpu, kernel: '6.18.44-fc-v595' }, { cols: 80 })).split('\n')[0];
    expect(narrow).toBe('isolwatch  6.18.44-fc-v595  CPU 1:housekeeping (not isolated: cannot be quiet)');
    const fallback: StartRecord = { ...plainCpu, watched_reason: 'fallback-highest' };
    expect(screenText(initModel(fallback, { cols: 120 }))).toContain('CPU 1:housekeeping (no isolated CPUs: watching the highest)');
    expect(screenText(replayed())).not.toContain('cannot be quiet');
  });

  it('works from a bare start record (nothing received yet)', () => {
    const bare: StartRecord = { ...start, ts_ns: undefined, watched_cpus: [3], isolated: [], nohz_full: [], watched_reason: 'fallback-highest' };
    const text = screenText(initModel(bare, { cols: 80, rows: 24 }));
    expect(text).toContain('3:housekeeping');
    expect(text).toContain('no interruptions yet');
  });
});

describe('tui: PR_ISOL-numbered prctls that meant something else', () => {
  it('are said in the header, not only in JSON', () => {
    const m = run(replayed(), { type: 'records', records: [MDWE_WARNING], nowNs: 0 });
    expect(screenText(m)).toContain('! warning: rt-app/5001 PR_ISOL_CFG_SET: PR_SET_MDWE (stock kernel)');
  });
});
