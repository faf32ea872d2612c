// The Perfetto / chrome://tracing export on recordings: the document is valid
// JSON a trace reader takes without dropping anything (time order, slices
// nest on every track, both ends of every flow bound), a slice per
// interruption on its CPU's track, and an arrow from the sending thread to
// each membarrier IPI it caused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeRecords as judgeRun } from '../helpers/judge-records.js';
import { replay } from '../../src/commands/report.js';
import { parseNdjson, splitRecords } from '../../src/output/ndjson.js';
import { toPerfetto } from '../../src/output/perfetto.js';
import { placeChain, senderOf, type PictureData } from '../../src/output/picture-data.js';
import type { InterruptionRecord, StartRecord, SummaryRecord } from '../../src/types.js';
import { checkPerfetto, interruptionKeys, sliceKeys, trackOf } from '../checks/perfetto.js';

const ROOT = join(import.meta.dirname, '../..');
const REC = join(ROOT, 'test/fixtures/recordings');

function fromRecording(): PictureData {
  const file = join(REC, 'host-membarrier.rec.ndjson');
  const r = replay(readFileSync(file, 'utf8'), file);
  const interruptions = r.records.filter((x): x is InterruptionRecord => x.type === 'interruption');
  return { start: r.start, summary: r.summary, interruptions, judged: { from_ns: r.warmupEndNs } };
}

function fromRunReport(name: string): PictureData {
  const s = splitRecords(parseNdjson(readFileSync(join(REC, `out-${name}.ndjson`), 'utf8'), name));
  const judgement = judgeRun({ interruptions: s.interruptions, watchedCpus: s.start!.watched_cpus, warmupEndNs: s.start!.ts_ns! + 1e9 });
  return { start: s.start!, summary: s.summary!, interruptions: s.interruptions, judgement, judged: { from_ns: s.start!.ts_ns! + 1e9 } };
}

describe('Perfetto trace of a host recording (membarrier x20 from CPU 0)', () => {
  const data = fromRecording();
  const c = checkPerfetto(toPerfetto(data));

  it('is a trace a reader takes whole: time order, nesting, every flow bound at both ends', () => {
    expect(c.problems).toEqual([]);
  });

  it('has one slice per interruption, on its CPU track, with the same start, duration and name', () => {
    expect(c.interruptionSlices).toHaveLength(data.interruptions.length);
    expect(sliceKeys(c)).toEqual(interruptionKeys(data.interruptions));
  });

  it('draws an arrow from the membarrier thread on CPU 0 to every ipi_mb IPI, from its callsite', () => {
    const mb = c.interruptionSlices.filter((e) => e.args!.func === 'ipi_mb');
    expect(mb).toHaveLength(20);
    for (const e of mb) {
      const flow = c.flowInto.get(e);
      expect(flow, `no arrow into ipi_mb at ${e.ts}`).toBeDefined();
      expect(trackOf(c, flow!.from)).toBe(`CPU 0 / sender membarrier/${e.args!.cause.tid} (pid ${e.args!.cause.pid})`);
      expect(flow!.from.name).toMatch(/^membarrier_private_expedited\+0x/);
      expect(flow!.from.ts).toBe(e.args!.cause.ts_ns / 1000);
      expect(e.args!.victim.comm).toBe('membarrier');
    }
  });

  it('draws an arrow for every interruption whose sender and send time are known, and only for those', () => {
    const expected = data.interruptions.filter((r) => {
      const s = senderOf(r);
      return s !== undefined && !s.late;
    }).length;
    expect(expected).toBeGreaterThan(20);
    expect(c.flows).toHaveLength(expected);
  });

  it('says what each duration measures, and nests the chain below the interruption', () => {
    const e = c.interruptionSlices.find((x) => x.args!.func === 'ipi_mb')!;
    expect(e.args!.duration_measures).toMatch(/stolen from the victim/);
    const inner = c.events.filter((x) => x.cat === 'chain' && x.pid === e.pid && x.tid === e.tid && x.ts === e.ts);
    expect(inner.map((x) => x.name)).toEqual(['ipi ipi_mb (csd)']);
    expect(inner[0].dur!).toBeLessThanOrEqual(e.dur!);
  });

  it('gives the victims their own tracks with the time stolen from them', () => {
    const stolen = c.events.filter((x) => x.cat === 'victim' && x.name.startsWith('stolen: '));
    expect(stolen.length).toBe(data.interruptions.filter((r) => !r.flags?.includes('in_preempt')).length);
    const spinner = c.events.find((x) => x.cat === 'victim' && x.name.startsWith('stolen: ipi ipi_mb'))!;
    expect(trackOf(c, spinner)).toMatch(/^CPU 1 \(watched\) \/ victim membarrier\/\d+ \(pid \d+\)$/);
  });

  it('names the processes after CPUs and keeps the recording clock in microseconds', () => {
    expect([...c.processName.values()]).toEqual(expect.arrayContaining(['isolwatch', 'CPU 0', 'CPU 1 (watched)']));
    const first = [...data.interruptions].sort((a, b) => a.ts_ns - b.ts_ns)[0];
    expect(c.interruptionSlices[0].ts).toBe(first.ts_ns / 1000);
  });
});

describe('Perfetto trace of run reports', () => {
  for (const name of ['noisy', 'quiet', 'not-isolated']) {
    it(`${name}: a slice per interruption, every flow bound, the judged window and verdict drawn`, () => {
      const data = fromRunReport(name);
      const c = checkPerfetto(toPerfetto(data));
      expect(c.problems).toEqual([]);
      expect(sliceKeys(c)).toEqual(interruptionKeys(data.interruptions));
      const verdict = c.events.filter((e) => e.cat === 'verdict');
      expect(verdict.map((e) => e.name)).toContain('warm-up (not judged)');
      const judged = verdict.find((e) => e.name.startsWith('judged: '))!;
      expect(judged.name).toBe(`judged: ${data.judgement!.pass ? 'PASS' : 'FAIL'}, ${data.judgement!.counted.count} interruption${data.judgement!.counted.count === 1 ? '' : 's'} while isolated`);
      expect(judged.ts).toBe((data.start.ts_ns! + 1e9) / 1000);
    });
  }
});

const start: StartRecord = {
  type: 'start',
  version: '0.1.0',
  kernel: 'k',
  arch: 'x86_64',
  watched_cpus: [1],
  isolated: [1],
  nohz_full: [1],
  pr_isol: 'absent',
  probes: { attached: [], missing: [] },
  ts_ns: 1_000_000,
};
const summary: SummaryRecord = { type: 'summary', duration_s: 1, cpus: {}, tasks: [], violations: 0, lost_events: 0, self_caused: 0 };

function rec(ts: number, dur: number, over: Partial<InterruptionRecord> = {}): InterruptionRecord {
  return {
    type: 'interruption',
    ts_ns: ts,
    cpu: 1,
    duration_ns: dur,
    class: 'timer',
    kind: 'local_timer',
    victim: { pid: 10, tid: 10, comm: 'spin' },
    cause: { self: false, context: 'unknown' },
    isol: { state: 'declared' },
    violation: true,
    chain: [{ class: 'timer', kind: 'local_timer', duration_ns: dur, depth: 0 }],
    ...over,
  };
}

describe('Perfetto layout rules', () => {
  it('puts interruptions that overlap (inside a preemption, or crossing) on further tracks of the CPU', () => {
    const ints = [
      rec(2_000_000, 100_000, { class: 'preempt', kind: 'kworker/1:1', chain: [{ class: 'preempt', kind: 'kworker/1:1', duration_ns: 100_000, depth: 0 }] }),
      rec(2_010_000, 5_000, { flags: ['in_preempt'] }),
      rec(2_090_000, 50_000),
    ];
    const c = checkPerfetto(toPerfetto({ start, summary, interruptions: ints }));
    expect(c.problems).toEqual([]);
    expect(new Set(c.interruptionSlices.map((e) => c.threadName.get(`${e.pid}/${e.tid}`)))).toEqual(new Set(['interruptions', 'interruptions (overlapping, 1)']));
  });

  it('keeps hostile task names out of the JSON escapes a reader refuses', () => {
    const evil = 'a\u0001b"<\\';
    const ints = [rec(2_000_000, 1_000, { victim: { pid: 10, tid: 10, comm: evil }, cause: { self: false, context: 'task', cpu: 0, pid: 20, tid: 21, comm: evil, ts_ns: 1_999_000, callsite: 'x+0x1' } })];
    const text = toPerfetto({ start, summary, interruptions: ints });
    expect(text).not.toMatch(/\\u00[01]/);
    const c = checkPerfetto(text);
    expect(c.problems).toEqual([]);
    expect(c.interruptionSlices[0].args!.victim.comm).toBe('a\\x01b"<\\');
    expect(c.flows).toHaveLength(1);
  });

  it('draws no arrow back in time (a cause time after the start), but still the sender', () => {
    const ints = [rec(2_000_000, 1_000, { class: 'ipi', kind: 'call_function_single', func: 'f', cause: { self: false, context: 'task', cpu: 0, pid: 20, tid: 21, comm: 's', ts_ns: 2_500_000 } })];
    const c = checkPerfetto(toPerfetto({ start, summary, interruptions: ints }));
    expect(c.problems).toEqual([]);
    expect(c.flows).toHaveLength(0);
    expect(c.events.filter((e) => e.cat === 'sender')).toHaveLength(1);
  });
});

describe('placeChain', () => {
  it('lays children end to end inside their parent and cuts what would overflow it', () => {
    const r = {
      ts_ns: 1000,
      duration_ns: 100,
      chain: [
        { class: 'timer' as const, kind: 'local_timer', duration_ns: 100, depth: 0 },
        { class: 'timer' as const, kind: 'hrtimer', duration_ns: 30, depth: 1 },
        { class: 'softirq' as const, kind: 'TIMER', duration_ns: 60, depth: 1 },
        { class: 'timer' as const, kind: 'timer', duration_ns: 20, depth: 2 },
        { class: 'workqueue' as const, kind: 'w', duration_ns: 50, depth: 1 },
      ],
    };
    expect(placeChain(r).map((p) => [p.entry.kind, p.level, p.start_ns, p.dur_ns])).toEqual([
      ['hrtimer', 1, 1000, 30],
      ['TIMER', 1, 1030, 60],
      ['timer', 2, 1030, 20],
      ['w', 1, 1090, 10],
    ]);
  });

  it('nests several roots inside the interruption', () => {
    const r = { ts_ns: 0, duration_ns: 10, chain: [{ class: 'ipi' as const, kind: 'a', duration_ns: 4, depth: 0 }, { class: 'ipi' as const, kind: 'b', duration_ns: 4, depth: 0 }] };
    expect(placeChain(r).map((p) => [p.entry.kind, p.level, p.start_ns])).toEqual([
      ['a', 1, 0],
      ['b', 1, 4],
    ]);
  });
});

describe('the trace checker itself', () => {
  const text = toPerfetto(fromRecording());
  const mutate = (f: (events: Array<Record<string, any>>) => void): string[] => {
    const doc = JSON.parse(text);
    f(doc.traceEvents);
    return checkPerfetto(JSON.stringify(doc)).problems;
  };

  it('finds a flow without its end, an end that binds to nothing, and a slice that overflows its parent', () => {
    expect(mutate((ev) => ev.splice(ev.findIndex((e) => e.ph === 'f'), 1))).toEqual([expect.stringMatching(/flow \d+: 1 starts and 0 ends/)]);
    expect(mutate((ev) => (ev.find((e) => e.ph === 's')!.ts += 0.001))).toEqual(expect.arrayContaining([expect.stringMatching(/flow s \d+ .* has no slice to bind to/)]));
    expect(mutate((ev) => (ev.find((e) => e.name === 'ipi ipi_mb (csd)')!.dur += 1000))).toEqual(expect.arrayContaining([expect.stringMatching(/overlaps .* without nesting/)]));
  });
});
