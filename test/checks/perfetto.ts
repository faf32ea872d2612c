// Structure checks on a Chrome/Perfetto JSON trace written by isolwatch, the
// way a trace reader takes it in: the document parses, events are in time
// order, slices on one track nest (never overlap partially), every flow has
// its start and its end, and each end binds to the slice a reader binds it to
// (the last slice on its track at its time: the sender's instant, the
// interruption). Used by the unit tests (fixtures) and the root test (a real
// membarrier run).
import type { InterruptionRecord } from '../../src/types.js';

export interface Ev {
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid?: number;
  name: string;
  cat?: string;
  id?: number;
  bp?: string;
  s?: string;
  args?: Record<string, any>;
}

export interface Flow {
  id: number;
  start: Ev;
  end: Ev;
  /** the slice each end binds to */
  from: Ev;
  to: Ev;
}

export interface Checked {
  events: Ev[];
  processName: Map<number, string>;
  /** "pid/tid" -> thread name */
  threadName: Map<string, string>;
  interruptionSlices: Ev[];
  flows: Flow[];
  /** interruption slice -> the flow that ends on it */
  flowInto: Map<Ev, Flow>;
  problems: string[];
}

const key = (e: Ev) => `${e.pid}/${e.tid}`;
const ns = (us: number) => Math.round(us * 1000);

export function checkPerfetto(text: string): Checked {
  const problems: string[] = [];
  const doc = JSON.parse(text) as { traceEvents: Ev[] };
  if (!Array.isArray(doc.traceEvents)) throw new Error('no traceEvents array');
  const events = doc.traceEvents;
  const processName = new Map<number, string>();
  const threadName = new Map<string, string>();
  for (const e of events) {
    if (!['X', 'i', 's', 'f', 'M'].includes(e.ph)) problems.push(`unexpected phase ${e.ph}`);
    if (typeof e.pid !== 'number') problems.push(`event without pid: ${JSON.stringify(e)}`);
    if (e.ph === 'M') {
      if (e.name === 'process_name') processName.set(e.pid, e.args!.name);
      if (e.name === 'thread_name') threadName.set(key(e), e.args!.name);
      continue;
    }
    if (typeof e.ts !== 'number' || typeof e.tid !== 'number') problems.push(`event without ts or tid: ${JSON.stringify(e)}`);
    if (e.ph === 'X' && !(typeof e.dur === 'number' && e.dur >= 0)) problems.push(`slice without a duration: ${JSON.stringify(e)}`);
  }
  const timed = events.filter((e) => e.ph !== 'M');
  for (let i = 1; i < timed.length; i++) if (timed[i].ts! < timed[i - 1].ts!) problems.push(`events out of time order at ${i}`);
  for (const e of timed) if (!threadName.has(key(e))) problems.push(`event on a track without a name: ${key(e)}`);

  // nesting per track, and what each flow event binds to (the last slice on its track)
  const stacks = new Map<string, Ev[]>();
  const last = new Map<string, Ev>();
  const starts = new Map<number, Ev[]>();
  const ends = new Map<number, Ev[]>();
  const boundTo = new Map<Ev, Ev>();
  for (const e of timed) {
    const k = key(e);
    if (e.ph === 'X' || e.ph === 'i') {
      const stack = stacks.get(k) ?? [];
      const t = ns(e.ts!);
      const end = t + ns(e.dur ?? 0);
      while (stack.length && ns(stack[stack.length - 1].ts!) + ns(stack[stack.length - 1].dur ?? 0) <= t) stack.pop();
      const parent = stack[stack.length - 1];
      if (parent && end > ns(parent.ts!) + ns(parent.dur ?? 0)) {
        problems.push(`slice '${e.name}' at ${e.ts} overlaps '${parent.name}' on ${threadName.get(k)} without nesting in it`);
      }
      stack.push(e);
      stacks.set(k, stack);
      last.set(k, e);
    } else if (e.ph === 's' || e.ph === 'f') {
      const b = last.get(k);
      if (!b || ns(b.ts!) !== ns(e.ts!)) problems.push(`flow ${e.ph} ${e.id} at ${e.ts} has no slice to bind to on ${threadName.get(k)}`);
      else boundTo.set(e, b);
      const m = e.ph === 's' ? starts : ends;
      m.set(e.id!, [...(m.get(e.id!) ?? []), e]);
      if (e.ph === 'f' && e.bp !== 'e') problems.push(`flow end ${e.id} does not bind to its enclosing slice`);
    }
  }
  const flows: Flow[] = [];
  const flowInto = new Map<Ev, Flow>();
  for (const id of new Set([...starts.keys(), ...ends.keys()])) {
    const s = starts.get(id) ?? [];
    const f = ends.get(id) ?? [];
    if (s.length !== 1 || f.length !== 1) {
      problems.push(`flow ${id}: ${s.length} starts and ${f.length} ends`);
      continue;
    }
    if (s[0].name !== f[0].name || s[0].cat !== f[0].cat) problems.push(`flow ${id}: start and end differ in name or category`);
    const from = boundTo.get(s[0]);
    const to = boundTo.get(f[0]);
    if (!from || !to) continue;
    if (from.cat !== 'sender') problems.push(`flow ${id} starts on '${from.name}' (${from.cat}), not on a sender's instant`);
    if (to.cat !== 'interruption') problems.push(`flow ${id} ends on '${to.name}' (${to.cat}), not on an interruption`);
    const flow = { id, start: s[0], end: f[0], from, to };
    flows.push(flow);
    flowInto.set(to, flow);
  }

  const interruptionSlices = timed.filter((e) => e.cat === 'interruption');
  for (const e of interruptionSlices) {
    if (e.ph !== 'X') problems.push(`interruption ${e.name} is not a slice`);
    const proc = processName.get(e.pid);
    if (proc !== `CPU ${e.args?.cpu} (watched)`) problems.push(`interruption on CPU ${e.args?.cpu} drawn in process '${proc}'`);
    if (!threadName.get(key(e))?.startsWith('interruptions')) problems.push(`interruption on track '${threadName.get(key(e))}', not a CPU's interruption track`);
  }
  return { events, processName, threadName, interruptionSlices, flows, flowInto, problems };
}

/** The interruptions as the slices should show them: start, CPU, duration, what (sorted). */
export function interruptionKeys(ints: readonly InterruptionRecord[]): string[] {
  return ints.map((r) => `${r.ts_ns} ${r.cpu} ${r.duration_ns} ${r.class} ${r.kind} ${r.func ?? ''}`).sort();
}

/** The same keys read back from the trace's interruption slices. */
export function sliceKeys(c: Checked): string[] {
  return c.interruptionSlices.map((e) => `${ns(e.ts!)} ${e.args!.cpu} ${e.args!.duration_ns} ${e.args!.class} ${e.args!.kind} ${e.args!.func ?? ''}`).sort();
}

/** Name of the track a trace event is on: "CPU 0 / sender membarrier/20210 (pid 20207)". */
export function trackOf(c: Checked, e: Ev): string {
  return `${c.processName.get(e.pid)} / ${c.threadName.get(key(e))}`;
}
