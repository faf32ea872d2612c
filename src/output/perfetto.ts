// The recording as a timeline for Perfetto's UI and chrome://tracing: the
// Chrome JSON trace format (traceEvents). Pure: report data in, the document
// out. Layout:
// - a process per CPU ("CPU 1 (watched)", "CPU 0"); on a watched CPU a track
//   with a slice per interruption (plus a track per level of overlap, when
//   interruptions overlap: those inside a preemption), its nested chain as
//   nested slices; a track per victim task with the time stolen from it;
// - a track per sender (task, or interrupt context) on its CPU with an
//   instant at the callsite when it queued the IPI, work item or wake-up, and
//   a flow arrow from that instant to the interruption;
// - an "isolwatch" process with the judged window and the verdict.
// Timestamps are the recording's clock (CLOCK_MONOTONIC) in microseconds.
import type { InterruptionRecord } from '../types.js';
import { causeText, chainText, formatDuration, plural, taskLabel, whatText } from './format.js';
import {
  causeKind,
  durationMeasure,
  judgedWindow,
  judgementOf,
  placeChain,
  senderOf,
  timeSpan,
  verdictOf,
  type PictureData,
  type Sender,
} from './picture-data.js';

/** One trace event; keys in the order they are written ("ph" and "ts" first, as some readers scan for ts). */
export interface TraceEvent {
  ph: 'X' | 'i' | 's' | 'f' | 'M';
  ts?: number;
  dur?: number;
  pid: number;
  tid?: number;
  name: string;
  cat?: string;
  id?: number;
  bp?: 'e';
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

/** Synthetic process ids: CPU n is process CPU_PID_BASE + n; isolwatch's own process is VERDICT_PID. */
export const CPU_PID_BASE = 1000;
export const VERDICT_PID = 999;
/** Synthetic thread ids of the tracks start here. */
export const TRACK_TID_BASE = 1_000_000;

/** Slice categories, so a reader (or a test) can tell what a slice stands for. */
export const CAT = { interruption: 'interruption', chain: 'chain', victim: 'victim', sender: 'sender', flow: 'cause', verdict: 'verdict' } as const;

/** Said on every nested slice: the record gives nested entries durations and order, not start times. */
const NESTED_START = 'not recorded: laid end to end from its parent\'s start';

/** Nanoseconds on the ts_ns clock -> the format's microseconds (fractions keep the nanoseconds). */
const us = (ns: number): number => ns / 1000;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f]/g;

/**
 * JSON.stringify replacer for text the trace readers take as is: characters
 * below 0x20 (a task may name itself anything) would be written as \u
 * escapes, which one reader's tokenizer refuses, so they become \xNN.
 */
function cleanStrings(_key: string, v: unknown): unknown {
  if (typeof v !== 'string' || !CONTROL.test(v)) return v;
  return v.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

interface Track {
  pid: number;
  tid: number;
  name: string;
}

/**
 * Tracks are numbered in the order they should be shown within their process
 * (interruption lanes, victims, senders), from TRACK_TID_BASE so that no track
 * is taken for a process's main thread (tid == pid).
 */
class Tracks {
  private byKey = new Map<string, Track>();
  readonly processes = new Map<number, string>();
  private next = TRACK_TID_BASE;

  process(cpu: number, watched: boolean): number {
    const pid = CPU_PID_BASE + cpu;
    if (!this.processes.has(pid)) this.processes.set(pid, watched ? `CPU ${cpu} (watched)` : `CPU ${cpu}`);
    return pid;
  }

  get(key: string, pid: number, name: string): Track {
    let t = this.byKey.get(key);
    if (!t) {
      t = { pid, tid: this.next++, name };
      this.byKey.set(key, t);
    }
    return t;
  }

  /** A track made earlier (by the layout pass). */
  of(key: string): Track {
    const t = this.byKey.get(key);
    if (!t) throw new Error(`perfetto: no track ${key}`);
    return t;
  }

  all(): Track[] {
    return [...this.byKey.values()];
  }
}

/**
 * Lanes of one CPU: each interruption goes to the first lane whose last
 * interruption has ended, so slices on one track never overlap (a trace
 * reader nests or drops overlapping slices). Interruptions that ran inside a
 * preemption land on lane 1, just below it.
 */
function assignLanes(recs: readonly InterruptionRecord[]): number[] {
  const ends: number[] = [];
  return recs.map((r) => {
    const end = r.ts_ns + r.duration_ns;
    let lane = ends.findIndex((e) => e <= r.ts_ns);
    if (lane < 0) lane = ends.push(end) - 1;
    else ends[lane] = end;
    return lane;
  });
}

function victimLabel(r: InterruptionRecord): string {
  const v = r.victim;
  return v.tid === 0 ? 'idle' : `${taskLabel(v)}${v.pid !== v.tid ? ` (pid ${v.pid})` : ''}`;
}

function senderKey(s: Sender): string {
  return `sender:${s.cpu}:${s.context === 'task' ? `task:${s.tid}` : s.context}`;
}

function senderTrackName(s: Sender): string {
  if (s.context !== 'task') return `${s.context} context`;
  return `sender ${s.label}${s.pid !== undefined && s.pid !== s.tid ? ` (pid ${s.pid})` : ''}`;
}

function interruptionArgs(r: InterruptionRecord): Record<string, unknown> {
  const sender = senderOf(r);
  return {
    what: whatText(r),
    class: r.class,
    kind: r.kind,
    ...(r.func ? { func: r.func } : {}),
    cpu: r.cpu,
    duration: formatDuration(r.duration_ns),
    duration_ns: r.duration_ns,
    duration_measures: durationMeasure(r),
    victim: { pid: r.victim.pid, tid: r.victim.tid, comm: r.victim.comm },
    cause: { text: causeText(r.cause) || 'unknown', ...r.cause },
    ...(sender && !sender.late ? { queued_to_entry: formatDuration(r.ts_ns - sender.ts_ns) } : {}),
    isolation: r.isol.state,
    violation: r.violation,
    ...(r.flags?.length ? { flags: r.flags.join(',') } : {}),
    ...(r.note ? { note: r.note } : {}),
    ...(r.action ? { action: `${r.action.kind}${r.action.signal ? ` ${r.action.signal}` : ''}: ${r.action.result}` } : {}),
    chain: chainText(r) || whatText(r),
  };
}

const KEY_ORDER = ['ph', 'ts', 'dur', 'pid', 'tid', 'name', 'cat', 'id', 'bp', 's', 'args'] as const;

/** The event with its keys in the order of KEY_ORDER ("ts" early: one reader scans each event for it). */
function ordered(e: TraceEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of KEY_ORDER) if (e[k] !== undefined) out[k] = e[k];
  return out;
}

/** The Perfetto / chrome://tracing document (JSON, trailing newline). */
export function toPerfetto(data: PictureData): string {
  const j = judgementOf(data);
  const watched = new Set(data.start.watched_cpus);
  const recs = [...data.interruptions].sort((a, b) => a.ts_ns - b.ts_ns || b.duration_ns - a.duration_ns);
  const tracks = new Tracks();
  const events: TraceEvent[] = [];

  // Tracks first, so their numbers follow the display order.
  const cpus = [...new Set([...data.start.watched_cpus, ...recs.map((r) => r.cpu)])].sort((a, b) => a - b);
  const laneOf = new Map<InterruptionRecord, number>();
  for (const cpu of cpus) {
    const pid = tracks.process(cpu, watched.has(cpu));
    const mine = recs.filter((r) => r.cpu === cpu);
    const lanes = assignLanes(mine);
    mine.forEach((r, i) => laneOf.set(r, lanes[i]));
    const maxLane = Math.max(0, ...lanes);
    for (let l = 0; l <= maxLane; l++) tracks.get(`lane:${cpu}:${l}`, pid, l === 0 ? 'interruptions' : `interruptions (overlapping, ${l})`);
    for (const r of mine) tracks.get(`victim:${cpu}:${r.victim.tid}`, pid, `victim ${victimLabel(r)}`);
  }
  for (const r of recs) {
    const s = senderOf(r);
    if (!s) continue;
    const pid = tracks.process(s.cpu, watched.has(s.cpu));
    tracks.get(senderKey(s), pid, senderTrackName(s));
  }
  const verdictTrack = tracks.get('verdict', VERDICT_PID, 'judged window');

  // Interruptions, their chains, the senders' instants and the arrows between them.
  let flowId = 0;
  for (const r of recs) {
    const lane = tracks.of(`lane:${r.cpu}:${laneOf.get(r)}`);
    const name = whatText(r);
    events.push({ ph: 'X', ts: us(r.ts_ns), dur: us(r.duration_ns), pid: lane.pid, tid: lane.tid, name, cat: CAT.interruption, args: interruptionArgs(r) });
    const s = senderOf(r);
    let flow: TraceEvent | undefined;
    if (s && !s.late) {
      const id = ++flowId;
      const fname = `${causeKind(r)} from ${s.label}`;
      // bound to the slice just above (same track and time): the interruption, not a nested entry
      events.push({ ph: 'f', ts: us(r.ts_ns), pid: lane.pid, tid: lane.tid, name: fname, cat: CAT.flow, id, bp: 'e' });
      flow = { ph: 's', pid: 0, name: fname, cat: CAT.flow, id };
    }
    for (const p of placeChain(r)) {
      const e = p.entry;
      events.push({
        ph: 'X',
        ts: us(p.start_ns),
        dur: us(p.dur_ns),
        pid: lane.pid,
        tid: lane.tid,
        name: whatText(e),
        cat: CAT.chain,
        args: {
          ...e,
          duration: formatDuration(e.duration_ns),
          ...(p.dur_ns < e.duration_ns ? { drawn_ns: p.dur_ns, cut: 'drawn shorter than recorded to fit inside its parent' } : {}),
          start: NESTED_START,
        },
      });
    }
    if (s) {
      const t = tracks.of(senderKey(s));
      events.push({
        ph: 'i',
        ts: us(s.ts_ns),
        pid: t.pid,
        tid: t.tid,
        s: 't',
        name: s.callsite ?? `queued ${causeKind(r)}`,
        cat: CAT.sender,
        args: {
          queued: `${causeKind(r)}: ${whatText(r)} on CPU ${r.cpu}`,
          sender: s.label,
          context: s.context,
          cpu: s.cpu,
          ...(s.callsite ? { callsite: s.callsite } : {}),
          victim: victimLabel(r),
          ...(s.late
            ? { arrow: 'not drawn: the record says it was queued after the interruption began' }
            : { queued_to_entry: formatDuration(r.ts_ns - s.ts_ns) }),
        },
      });
      // bound to the instant just above (same track and time)
      if (flow) events.push({ ...flow, ts: us(s.ts_ns), pid: t.pid, tid: t.tid });
    }
  }

  // The victims' stolen time: a span per run of interruptions of the same task, the stolen pieces inside.
  for (const cpu of cpus) {
    // what ran inside a preemption is already part of that preemption's time
    const mine = recs.filter((r) => r.cpu === cpu && !r.flags?.includes('in_preempt'));
    interface Run {
      tid: number;
      from: number;
      to: number;
      recs: InterruptionRecord[];
    }
    const runs: Run[] = [];
    const lastRun = new Map<number, Run>();
    let prev: number | undefined;
    for (const r of mine) {
      const end = r.ts_ns + r.duration_ns;
      const last = lastRun.get(r.victim.tid);
      if (last && (prev === r.victim.tid || r.ts_ns < last.to)) {
        if (r.ts_ns < last.to && end > last.to) continue; // overlaps the previous piece: not drawn twice
        last.to = Math.max(last.to, end);
        last.recs.push(r);
      } else {
        const run = { tid: r.victim.tid, from: r.ts_ns, to: end, recs: [r] };
        runs.push(run);
        lastRun.set(r.victim.tid, run);
      }
      prev = r.victim.tid;
    }
    for (const run of runs) {
      const first = run.recs[0];
      const t = tracks.of(`victim:${cpu}:${run.tid}`);
      const stolen = run.recs.reduce((n, r) => n + r.duration_ns, 0);
      events.push({
        ph: 'X',
        ts: us(run.from),
        dur: us(run.to - run.from),
        pid: t.pid,
        tid: t.tid,
        name: victimLabel(first),
        cat: CAT.victim,
        args: {
          victim: { pid: first.victim.pid, tid: first.victim.tid, comm: first.victim.comm },
          interruptions: run.recs.length,
          stolen: formatDuration(stolen),
          stolen_ns: stolen,
          span: 'from its first to the end of its last interruption in a row on this CPU: it may have run before and after',
        },
      });
      for (const r of run.recs) {
        events.push({
          ph: 'X',
          ts: us(r.ts_ns),
          dur: us(r.duration_ns),
          pid: t.pid,
          tid: t.tid,
          name: `stolen: ${whatText(r)}`,
          cat: CAT.victim,
          args: { duration: formatDuration(r.duration_ns), cause: causeText(r.cause) || 'unknown', violation: r.violation },
        });
      }
    }
  }

  // The judged window and the verdict, on isolwatch's own track.
  const span = timeSpan(data);
  const w = judgedWindow(data);
  const v = verdictOf(data, j);
  const from = w.from_ns ?? span.from_ns;
  const to = w.to_ns ?? span.to_ns;
  const verdictName = `judged: ${v.pass ? 'PASS' : 'FAIL'}, ${plural(j.counted.count, 'interruption')} while isolated`;
  if (from > span.from_ns) {
    events.push({ ph: 'X', ts: us(span.from_ns), dur: us(from - span.from_ns), pid: VERDICT_PID, tid: verdictTrack.tid, name: 'warm-up (not judged)', cat: CAT.verdict, args: { interruptions: j.warmup.count } });
  }
  events.push({
    ph: 'X',
    ts: us(from),
    dur: us(Math.max(0, to - from)),
    pid: VERDICT_PID,
    tid: verdictTrack.tid,
    name: verdictName,
    cat: CAT.verdict,
    args: { pass: v.pass, reasons: v.reasons, counted: j.counted.count, stolen: formatDuration(j.counted.stolen_ns) },
  });
  if (to < span.to_ns) {
    events.push({ ph: 'X', ts: us(to), dur: us(span.to_ns - to), pid: VERDICT_PID, tid: verdictTrack.tid, name: 'after the judged window (not judged)', cat: CAT.verdict, args: { interruptions: j.after.count } });
  }

  // Stable sort by time: events at the same time keep their order, which binds each flow end to its slice.
  events.sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));

  const meta: TraceEvent[] = [];
  meta.push({ ph: 'M', pid: VERDICT_PID, name: 'process_name', args: { name: 'isolwatch' } });
  meta.push({ ph: 'M', pid: VERDICT_PID, name: 'process_sort_index', args: { sort_index: -1 } });
  for (const [pid, name] of tracks.processes) {
    meta.push({ ph: 'M', pid, name: 'process_name', args: { name } });
    meta.push({ ph: 'M', pid, name: 'process_sort_index', args: { sort_index: pid - CPU_PID_BASE } });
  }
  for (const t of tracks.all()) {
    meta.push({ ph: 'M', pid: t.pid, tid: t.tid, name: 'thread_name', args: { name: t.name } });
    meta.push({ ph: 'M', pid: t.pid, tid: t.tid, name: 'thread_sort_index', args: { sort_index: t.tid - TRACK_TID_BASE } });
  }

  const otherData = {
    source: `isolwatch ${data.start.version}`,
    kernel: `${data.start.kernel} ${data.start.arch}`,
    watched_cpus: data.start.watched_cpus.join(','),
    ...(data.start.command ? { command: data.start.command } : {}),
    interruptions: recs.length,
    clock: 'CLOCK_MONOTONIC, microseconds',
    nested_slices: 'interruption records give nested entries their durations and order but no start times: they are laid end to end from the start of their parent and cut to fit inside it',
    verdict: v.pass ? 'PASS' : 'FAIL',
  };
  const lines = [...meta, ...events].map((e) => JSON.stringify(ordered(e), cleanStrings));
  return `{"traceEvents":[\n${lines.join(',\n')}\n],\n"otherData":${JSON.stringify(otherData, cleanStrings)}}\n`;
}
