// @ts-check
// The analysis half of test/vm/osnoise-compare.sh: the kernel's osnoise tracer and isolwatch
// on the same CPUs and the same window, class by class, and record by record for IRQs.
// Pure functions over the raw files (importable by test/vm/osnoise.test.ts); run as a script,
//   node test/vm/osnoise-compare.mjs DIR
// it reads DIR/{events.txt,samples.txt,rtla.txt,isolwatch.ndjson,disturb.txt,meta.txt}, prints the table,
// writes DIR/comparison.json and exits 0 when the two agree within the tolerances below, 1 when
// they do not, 3 when a file is missing or unreadable. Method, class mapping and tolerances:
// docs/osnoise-comparison.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * @typedef {{ cpu: number, ts_ns: number, task: string, pid: number, name: string, body: string }} TraceEvent
 * @typedef {{ irq: number, softirq: number, thread: number, nmi: number }} ClassCounts
 * @typedef {{ samples: number, hw: number, nmi: number, irq: number, softirq: number, thread: number }} RtlaCounts
 */

/** Classes isolwatch records whose root runs in hard-interrupt context (osnoise: IRQ). */
export const IRQ_ROOTS = ['irq', 'timer', 'ipi'];
/**
 * How many tasks one isolwatch preemption record names (bpf/isolwatch.bpf.c, handle_sched_switch:
 * the root and at most two more; a further task that runs before the victim is back is not named,
 * and the record does not say so). osnoise counts each run.
 */
export const PREEMPT_NAMES = 3;
/**
 * Tolerances (docs/osnoise-comparison.md, "Tolerance"). Everything is compared in osnoise's
 * sampled time only (see sampledTime()): what happened between two samples is listed, not compared.
 * - unpairedOsnoise: osnoise IRQs without an isolwatch record of the same kind (0 seen in 9 runs).
 * - extraIsolwatch: IRQs isolwatch saw in sampled time that osnoise did not count, per CPU. A
 *   sample begins a few instructions after the thread's interface_lock unlock this analysis
 *   uses as its start: an interrupt that arrives in between is isolwatch's only (none seen;
 *   one inside the tracer's callback on the unlock, which preempted the thread before the
 *   sample began, moves the start instead: see sampledTime()).
 * - sampleEndGapNs: at a sample's end, the gaps between what isolwatch recorded after osnoise
 *   stopped sampling and before its record (seen: 38 and 81 us; see compare()).
 * - rtlaSlack: rtla's summary may not exceed the tracer's own event stream by more than this
 *   (rtla can miss samples under load: it reads its instance once a second; it cannot add any).
 * - noisyMin: a CPU is noisy when it took at least this many hard interruptions (IRQ + NMI) in
 *   the window: half of what the disturbance alone causes (80). The quiet CPU took 0-37 per
 *   window, the disturbed one 84-211. rtla's summary covers the whole run (up to 195 s, the
 *   quiet CPU then up to 157), so it is judged against osnoise's events over the same span.
 * - matchSlackNs: how far an osnoise irq_noise event (written at the IRQ's exit) may lie outside
 *   the isolwatch record [ts, ts + duration] it is paired with.
 * - lateNs: an irq_noise event that osnoise ends much later than the IRQ's exit tracepoint
 *   (seen: up to 222 ms; see compare()) is paired with an isolwatch record of the same kind that
 *   began at most this long before it.
 */
export const TOLERANCE = { unpairedOsnoise: 0, extraIsolwatch: 1, rtlaSlack: 2, noisyMin: 40, matchSlackNs: 2_000_000, lateNs: 1_000_000_000, sampleEndGapNs: 1_000_000 };

/** The process name of test/vm/osnoise-disturb (its comm). */
export const DISTURBER = 'osnoise-disturb';

// "TASK-PID [CPU] flags SECONDS.FRACTION: event: body" (trace events) or
// "TASK-PID [CPU] flags SECONDS.FRACTION: function <-parent" (function tracer)
const TRACE_LINE = /^\s*(.*?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+(?:([\w]+):\s?(.*)|([\w.]+) <-(\S+))\s*$/;

/** tracefs `trace` text (trace_clock=mono: the clock of bpf_ktime_get_ns) -> events. */
export function parseTrace(text) {
  /** @type {TraceEvent[]} */
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = TRACE_LINE.exec(line);
    if (!m) continue;
    const frac = m[5].padEnd(9, '0').slice(0, 9);
    const [name, body] = m[6] !== undefined ? [m[6], m[7]] : ['function', `${m[8]} <-${m[9]}`];
    out.push({ task: m[1], pid: Number(m[2]), cpu: Number(m[3]), ts_ns: Number(m[4]) * 1e9 + Number(frac), name, body });
  }
  return out;
}

const SAMPLE_LINE = /^\s*(.*?)-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/;

/**
 * The osnoise tracer's own per-sample records (samples.txt, trace_clock=mono): when each sample
 * ended on each CPU, and what it counted (runtime and noise in osnoise's clock, microseconds).
 */
export function parseSamples(text) {
  /** @type {{ cpu: number, ts_ns: number, runtime_us: number, noise_us: number, hw: number, nmi: number, irq: number, softirq: number, thread: number }[]} */
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) continue;
    const n = m.slice(6).map(Number);
    out.push({
      cpu: Number(m[3]),
      ts_ns: Number(m[4]) * 1e9 + Number(m[5].padEnd(9, '0').slice(0, 9)),
      runtime_us: n[0],
      noise_us: n[1],
      hw: n[4],
      nmi: n[5],
      irq: n[6],
      softirq: n[7],
      thread: n[8],
    });
  }
  return out;
}

/** `key=value` fields of a sched_switch line. */
function fields(body) {
  /** @type {Record<string, string>} */
  const f = {};
  for (const m of body.matchAll(/(\w+)=(\S+)/g)) f[m[1]] = m[2];
  return f;
}

/** rtla osnoise top's final table -> per-CPU counts (HW, NMI, IRQ, Softirq, Thread). */
export function parseRtla(text) {
  /** @type {Record<string, RtlaCounts>} */
  const cpus = {};
  const clean = text.replace(/\x1b\[[0-9;]*m/g, '');
  for (const line of clean.split('\n')) {
    const m = /^\s*(\d+)\s+#(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (!m) continue;
    cpus[m[1]] = { samples: Number(m[2]), hw: Number(m[8]), nmi: Number(m[9]), irq: Number(m[10]), softirq: Number(m[11]), thread: Number(m[12]) };
  }
  return cpus;
}

export function parseNdjson(text) {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** `key=val` pairs of the disturber's ready/done lines and of meta.txt. */
export function parseKv(text) {
  /** @type {Record<string, string>} */
  const kv = {};
  for (const m of text.matchAll(/([\w]+)=(\S+)/g)) kv[m[1]] = m[2];
  return kv;
}

/**
 * Per CPU: when osnoise's workload thread osnoise/C existed (first switch to it .. its exit),
 * and the runs of every other thread meanwhile, from the instance's sched_switch events.
 */
export function windows(events, cpus) {
  /** @type {Record<string, { start: number, end: number, pid: number, segments: { pid: number, comm: string, from: number, to: number }[] }>} */
  const w = {};
  for (const cpu of cpus) {
    const sw = events.filter((e) => e.cpu === cpu && e.name === 'sched_switch').map((e) => ({ ts: e.ts_ns, ...fields(e.body) }));
    const own = `osnoise/${cpu}`;
    const first = sw.find((s) => s.next_comm === own);
    const last = [...sw].reverse().find((s) => s.prev_comm === own);
    if (!first || !last) continue;
    const segments = [];
    let cur = /** @type {{ pid: number, comm: string, from: number } | undefined} */ (undefined);
    for (const s of sw) {
      if (s.ts < first.ts || s.ts > last.ts) continue;
      if (cur) segments.push({ ...cur, to: s.ts });
      cur = { pid: Number(s.next_pid), comm: s.next_comm, from: s.ts };
    }
    w[String(cpu)] = { start: first.ts, end: last.ts, pid: Number(first.next_pid), segments: segments.filter((g) => g.comm !== own) };
  }
  return w;
}

/**
 * osnoise's sampled time on one CPU. Its workload thread loops: sample (sampling flag on: every
 * IRQ, softirq, NMI and run of another thread is counted and traced), flag off, write the sample
 * record, notify a new maximum (an irq_work on this CPU), osnoise_sleep(): lock and unlock
 * interface_lock, sleep when a period is to be skipped (6.12: while no instance traces, e.g.
 * the first second) or longer than the runtime, next sample. Between two samples nothing is
 * counted: the notification's irq_work, the irq_work/N thread it wakes, and whatever runs or
 * interrupts meanwhile (vCPU stalls of the emulator stretch this to 100-300 ms at times). A
 * sample is thus [the thread's mutex_unlock from osnoise_sleep (6.1: inlined in osnoise_main),
 * or its return to the CPU when it slept after that, its record]; the workload's first sample
 * on 6.1 begins with the thread. Samples whose record was not collected (before the sample
 * instance joined) are left out.
 * One more way a sample begins later than its unlock: the function tracer's callback that
 * writes the unlock event runs with preemption disabled (ftrace_test_recursion_trylock) and
 * its end (preempt_enable_notrace) is a preemption point, before run_osnoise() sets the
 * sampling flag. An interrupt that arrives inside that callback and sets need-resched (a
 * reschedule IPI of a wake-up) gets osnoise/N switched out (R+) there, and what then runs is
 * not counted: the sample begins when the thread is back. Measured (run with 80 vs 81
 * disturber runs): isolwatch's reschedule IPI entered at 245.524115070, the unlock event is
 * stamped 245.524218 with no need-resched in its flags (taken before the IPI, its timestamp
 * after), osnoise/2 switched to the disturber at 245.524299 and back at 245.524561, and no
 * irq_noise or thread_noise came of either; the sample's record counted the 3 later runs. So,
 * when the first switch after an unlock is a preemption of osnoise/N with no osnoise event
 * since the unlock, and the last hard interrupt isolwatch saw on the CPU before that switch
 * began between the previous record and the unlock (the reschedule was pending at the
 * unlock; any interrupt inside a sample is an irq_noise before the switch it causes), the
 * sample begins at the thread's return. Trace timestamps print microseconds, cut: the
 * interrupt must be before the unlock's printed microsecond, not merely in it.
 * records: isolwatch's records (for that interrupt); without them the rule is not applied.
 * Returns the samples in order, with problems of the model (a record without one start), and
 * the samples whose start this rule moved (preempted_at_start).
 */
export function sampledTime(events, samples, cpu, win, records = []) {
  const own = `osnoise/${cpu}`;
  const ends = samples.filter((s) => s.cpu === cpu && s.ts_ns >= win.start && s.ts_ns <= win.end).sort((a, b) => a.ts_ns - b.ts_ns);
  const unlocks = events
    .filter((e) => e.cpu === cpu && e.name === 'function' && /^mutex_unlock <-osnoise_(main|sleep)$/.test(e.body) && e.task === own)
    .map((e) => e.ts_ns);
  const switches = events.filter((e) => e.cpu === cpu && e.name === 'sched_switch').map((e) => ({ ts: e.ts_ns, ...fields(e.body) }));
  const noise = events.filter((e) => e.cpu === cpu && ['irq_noise', 'softirq_noise', 'thread_noise', 'nmi_noise'].includes(e.name)).map((e) => e.ts_ns);
  const hardIrqs = records.filter((r) => r.type === 'interruption' && r.cpu === cpu && IRQ_ROOTS.includes(r.class));
  const problems = [];
  /** @type {{ from: number, to: number, rec: (typeof samples)[number] }[]} */
  const out = [];
  /** @type {{ unlock_ns: number, irq_ns: number, irq: string, switch_ns: number, next: string, from_ns: number }[]} */
  const preemptedAtStart = [];
  let prevEnd = win.start;
  ends.forEach((rec, k) => {
    const starts = unlocks.filter((u) => u > prevEnd && u < rec.ts_ns);
    let from = starts.at(-1);
    if (from === undefined) {
      if (unlocks.some((u) => u < rec.ts_ns)) problems.push(`CPU ${cpu}: no interface_lock unlock between sample records ${k} and ${k + 1}`);
      else from = win.start;
    } else if (k > 0 && starts.length > 1) problems.push(`CPU ${cpu}: ${starts.length} unlocks between two sample records (a sample without a record?)`);
    if (starts.length > 0) {
      // preempted at the end of the tracer's callback on the unlock, before sampling began (see above)
      const unlock = from;
      const first = switches.find((x) => x.ts >= unlock && x.ts < rec.ts_ns);
      if (first && first.prev_comm === own && first.prev_state.startsWith('R') && !noise.some((t) => t >= unlock && t <= first.ts)) {
        const irq = hardIrqs.filter((r) => r.ts_ns < first.ts).at(-1);
        if (irq && irq.ts_ns > prevEnd && irq.ts_ns < unlock) {
          const back = switches.find((x) => x.next_comm === own && x.ts > first.ts)?.ts ?? rec.ts_ns;
          preemptedAtStart.push({ unlock_ns: unlock, irq_ns: irq.ts_ns, irq: `${irq.class} ${irq.kind}`, switch_ns: first.ts, next: first.next_comm, from_ns: back });
          from = back;
        }
      }
    }
    if (from !== undefined) {
      // slept after the unlock: the sample begins when the thread is back
      const slept = switches.filter((x) => x.prev_comm === own && !x.prev_state.startsWith('R') && x.ts > from && x.ts < rec.ts_ns).at(-1);
      if (slept) from = switches.find((x) => x.next_comm === own && x.ts > slept.ts)?.ts ?? rec.ts_ns;
      out.push({ from, to: rec.ts_ns, rec });
    }
    prevEnd = rec.ts_ns;
  });
  return { samples: out, problems, preemptedAtStart };
}

/** osnoise's irq_noise description ("local_timer", "reschedule", an IRQ action name) and isolwatch's root kind. */
function sameKind(osnoiseDesc, rec) {
  return osnoiseDesc === rec.kind || osnoiseDesc === rec.chain?.[0]?.name;
}

/**
 * Every osnoise IRQ against the isolwatch hard-interrupt record it ended with, in three passes:
 * 1. same kind, the event within [ts - slack, ts + duration + slack], the nearest end first;
 * 2. osnoise sometimes ends an IRQ much later than its exit tracepoint (an irq_work or
 *    call_function_single: 25 us in isolwatch, the irq_noise event 14-222 ms later, right
 *    before the next interrupt's entry): the latest unpaired record of the same kind that began
 *    before the event, within tolerance.lateNs, in the same sample;
 * 3. another kind within the slack (listed as a kind mismatch).
 */
function pairIrqs(oIrq, iIrq, sampleOf, tolerance) {
  const slack = tolerance.matchSlackNs;
  const used = new Set();
  const paired = new Map(); // osnoise event -> record index
  const late = [];
  const kindMismatch = [];
  const near = (e, sameOnly) => {
    let best = -1;
    let bestD = Infinity;
    iIrq.forEach((r, i) => {
      if (used.has(i) || (sameOnly && !sameKind(e.desc, r))) return;
      const end = r.ts_ns + r.duration_ns;
      if (e.ts_ns < r.ts_ns - slack || e.ts_ns > end + slack) return;
      const d = Math.abs(e.ts_ns - end);
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    });
    return best;
  };
  for (const e of oIrq) {
    const i = near(e, true);
    if (i >= 0) {
      used.add(i);
      paired.set(e, i);
    }
  }
  for (const e of oIrq.filter((x) => !paired.has(x))) {
    let best = -1;
    iIrq.forEach((r, i) => {
      if (used.has(i) || !sameKind(e.desc, r) || r.ts_ns > e.ts_ns || e.ts_ns - r.ts_ns > tolerance.lateNs) return;
      if (sampleOf(r.ts_ns) !== sampleOf(e.ts_ns)) return;
      if (best < 0 || r.ts_ns > iIrq[best].ts_ns) best = i;
    });
    if (best >= 0) {
      used.add(best);
      paired.set(e, best);
      late.push({ ts_ns: e.ts_ns, desc: e.desc, isolwatch_end_ns: iIrq[best].ts_ns + iIrq[best].duration_ns });
    }
  }
  for (const e of oIrq.filter((x) => !paired.has(x))) {
    const i = near(e, false);
    if (i >= 0) {
      used.add(i);
      paired.set(e, i);
      kindMismatch.push({ ts_ns: e.ts_ns, osnoise: e.desc, isolwatch: iIrq[i].kind });
    }
  }
  const unmatchedOsnoise = oIrq.filter((e) => !paired.has(e)).map((e) => ({ ts_ns: e.ts_ns, desc: e.desc, body: e.body }));
  return { used, late, kindMismatch, unmatchedOsnoise };
}

const irqDesc = (e) => e.body.split(/[: ]/)[0];
const taskOf = (e) => e.body.trim().replace(/:\d+\s.*$/, '');

/**
 * The comparison. events: parseTrace(events.txt); samples: parseSamples(samples.txt); rtla:
 * parseRtla(rtla.txt); records: isolwatch NDJSON; cpus: the measured CPUs; disturbCpu: the one
 * that was disturbed.
 */
export function compare({ events, samples, rtla, records, cpus, disturbCpu, tolerance = TOLERANCE }) {
  const win = windows(events, cpus);
  const problems = [];
  const start = records.find((r) => r.type === 'start');
  const summary = records.find((r) => r.type === 'summary');
  if (!start) problems.push('isolwatch wrote no start record');
  if (!summary) problems.push('isolwatch wrote no summary record (did it stop cleanly?)');
  if (summary?.lost_events) problems.push(`isolwatch lost ${summary.lost_events} records (ring buffer full)`);
  const ints = records.filter((r) => r.type === 'interruption');
  const slack = tolerance.matchSlackNs;
  /** @type {Record<string, any>} */
  const perCpu = {};
  for (const cpu of cpus) {
    const w = win[String(cpu)];
    if (!w) {
      problems.push(`CPU ${cpu}: no osnoise/${cpu} workload thread in the trace (did rtla run on it?)`);
      continue;
    }
    const st = sampledTime(events, samples, cpu, w, records);
    problems.push(...st.problems);
    if (st.samples.length === 0) {
      problems.push(`CPU ${cpu}: no osnoise sample records in the window (samples.txt)`);
      continue;
    }
    const sam = st.samples;
    const from = sam[0].from;
    const to = sam.at(-1).to;
    const inCmp = (ts) => ts >= from && ts <= to;
    const evAll = events.filter((e) => e.cpu === cpu && ['irq_noise', 'softirq_noise', 'thread_noise', 'nmi_noise'].includes(e.name));
    const ev = evAll.filter((e) => inCmp(e.ts_ns));
    const recs = ints.filter((r) => r.cpu === cpu && inCmp(r.ts_ns));
    // The end of a sample: the thread clears its sampling flag a few instructions before it
    // writes the record; an interrupt there, and the preemption it causes, are not counted
    // (seen: a reschedule IPI and the disturber's run, 0.3 ms before the record). What isolwatch
    // recorded after osnoise's last event of a sample, chained up to the record (each within
    // tolerance.sampleEndGapNs of the next), ends that sample's sampled time early.
    const atEnd = [];
    for (const s of sam) {
      const last = ev.filter((e) => e.ts_ns >= s.from && e.ts_ns <= s.to).reduce((t, e) => Math.max(t, e.ts_ns), s.from);
      const tail = recs.filter((r) => r.ts_ns > last && r.ts_ns <= s.to).sort((a, b) => b.ts_ns + b.duration_ns - (a.ts_ns + a.duration_ns));
      s.sampledTo = s.to;
      for (const r of tail) {
        if (r.ts_ns + r.duration_ns < s.sampledTo - tolerance.sampleEndGapNs || r.ts_ns >= s.sampledTo) continue;
        s.sampledTo = r.ts_ns;
        atEnd.push({ ts_ns: r.ts_ns, class: r.class, kind: r.kind, victim: r.victim.comm, before_record_ns: s.to - r.ts_ns });
      }
    }
    /** index of the sample holding ts in its sampled time, -1 between samples (or outside [from, to]) */
    const sampleOf = (ts) => sam.findIndex((s) => ts >= s.from && ts < s.sampledTo + (s.sampledTo === s.to ? 1 : 0));
    const sampled = (ts) => sampleOf(ts) >= 0;

    const evBetween = ev.filter((e) => !sampled(e.ts_ns));
    const oIrq = ev.filter((e) => e.name === 'irq_noise' && sampled(e.ts_ns)).map((e) => ({ ...e, desc: irqDesc(e) }));
    const oThread = ev.filter((e) => e.name === 'thread_noise' && sampled(e.ts_ns));
    /** @type {ClassCounts} */
    const osnoise = {
      irq: oIrq.length,
      softirq: ev.filter((e) => e.name === 'softirq_noise').length,
      thread: oThread.length,
      nmi: ev.filter((e) => e.name === 'nmi_noise').length,
    };
    // the tracer against itself: each sample's counters equal its events (checks the sample bounds)
    const sampleMismatch = [];
    sam.forEach((s, k) => {
      const mine = ev.filter((e) => sampleOf(e.ts_ns) === k);
      const n = (name) => mine.filter((e) => e.name === name).length;
      const got = { irq: n('irq_noise'), thread: n('thread_noise'), nmi: n('nmi_noise'), softirq: n('softirq_noise') };
      if (got.irq !== s.rec.irq || got.thread !== s.rec.thread || got.nmi !== s.rec.nmi || got.softirq !== s.rec.softirq) {
        sampleMismatch.push({ from_ns: s.from, to_ns: s.to, record: { irq: s.rec.irq, thread: s.rec.thread, nmi: s.rec.nmi, softirq: s.rec.softirq }, events: got });
      }
    });

    const iIrqAll = recs.filter((r) => IRQ_ROOTS.includes(r.class));
    const iIrq = iIrqAll.filter((r) => sampled(r.ts_ns));
    const between = recs.filter((r) => !sampled(r.ts_ns)).map((r) => ({ ts_ns: r.ts_ns, class: r.class, kind: r.kind, victim: r.victim.comm }));
    const preempts = recs.filter((r) => r.class === 'preempt');
    // osnoise's thread noise: the runs of other tasks while its own thread is off the CPU (with
    // --kthreads isolwatch also records preemptions of other victims, e.g. of the disturber when
    // RT throttling switches it out for the osnoise thread)
    const sPreempts = preempts.filter((r) => r.victim.tid === w.pid && sampled(r.ts_ns));
    const names = (r) => r.chain.filter((e) => e.class === 'preempt');
    /** @type {ClassCounts} */
    const isolwatch = {
      irq: iIrq.length,
      softirq: recs.filter((r) => r.class === 'softirq' && sampled(r.ts_ns)).length,
      thread: sPreempts.reduce((n, r) => n + names(r).length, 0),
      nmi: recs.filter((r) => r.class === 'nmi' && sampled(r.ts_ns)).length,
    };
    const byClass = {};
    for (const r of recs) byClass[r.class] = (byClass[r.class] ?? 0) + 1;

    const pairing = pairIrqs(oIrq, iIrq, sampleOf, tolerance);
    const unmatchedIsolwatch = iIrq
      .filter((_, i) => !pairing.used.has(i))
      .map((r) => ({ ts_ns: r.ts_ns, class: r.class, kind: r.kind, victim: r.victim.comm, duration_ns: r.duration_ns }));

    // Preemptions, against the kernel's switches (the instance's sched_switch events). isolwatch
    // takes its timestamps in the first callback of a tracepoint; the trace events and osnoise's
    // hooks run after it, so they can be late by a stall of the emulator that lands in between
    // (seen: 14-222 ms). Hence by order, not by time: a record's episode is the first switch away
    // from its victim at or after its ts, up to the switch back. osnoise writes a thread's
    // thread_noise at the switch away from that thread, right after that switch's event.
    const switches = events.filter((e) => e.cpu === cpu && e.name === 'sched_switch').map((e) => ({ ts: e.ts_ns, ...fields(e.body) }));
    const switchBefore = (ts) => {
      let lo = 0;
      let hi = switches.length - 1;
      let k = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (switches[mid].ts <= ts) (k = mid), (lo = mid + 1);
        else hi = mid - 1;
      }
      return k;
    };
    const threadAt = new Map(); // switch index -> its thread_noise events
    for (const e of oThread) {
      const k = switchBefore(e.ts_ns);
      threadAt.set(k, [...(threadAt.get(k) ?? []), e]);
    }
    const usedThread = new Set();
    const threadMismatch = [];
    const namesVsKernel = [];
    let beyondNames = 0;
    let disturberBeyondNames = 0;
    for (const r of preempts) {
      // (the trace prints microseconds: an event can look up to 1 us older than it is)
      let i = switchBefore(r.ts_ns - 1000) + 1;
      while (i < switches.length && Number(switches[i].prev_pid) !== r.victim.tid) i++;
      let back = i;
      while (back < switches.length && Number(switches[back].next_pid) !== r.victim.tid) back++;
      if (i >= switches.length || back >= switches.length) {
        namesVsKernel.push({ ts_ns: r.ts_ns, isolwatch: names(r).map((e) => e.name), kernel: null });
        continue;
      }
      const ran = switches.slice(i, back).map((x) => x.next_comm);
      disturberBeyondNames += ran.slice(PREEMPT_NAMES).filter((c) => c === DISTURBER).length;
      const named = names(r).map((e) => e.name);
      if (named.join(',') !== ran.slice(0, PREEMPT_NAMES).join(',')) namesVsKernel.push({ ts_ns: r.ts_ns, isolwatch: named, kernel: ran });
      if (!sPreempts.includes(r)) continue;
      // osnoise: one thread_noise per run of another task while its thread is off the CPU;
      // isolwatch names up to PREEMPT_NAMES of them
      const mine = [];
      for (let j = i + 1; j <= back; j++) mine.push(...(threadAt.get(j) ?? []));
      mine.forEach((e) => usedThread.add(e));
      beyondNames += Math.max(0, mine.length - PREEMPT_NAMES);
      if (named.length !== Math.min(mine.length, PREEMPT_NAMES)) threadMismatch.push({ ts_ns: r.ts_ns, isolwatch: named, osnoise: mine.map(taskOf) });
    }
    const threadOnlyOsnoise = oThread.filter((e) => !usedThread.has(e)).map((e) => ({ ts_ns: e.ts_ns, task: taskOf(e) }));

    // softirqs run in threads on PREEMPT_RT: each isolwatch softirq record must lie in a run of its victim thread
    const softirqOutsideThread = recs
      .filter((r) => r.class === 'softirq')
      .filter((r) => !w.segments.some((g) => g.pid === r.victim.tid && r.ts_ns >= g.from - slack && r.ts_ns <= g.to + slack))
      .map((r) => ({ ts_ns: r.ts_ns, kind: r.kind, victim: r.victim.comm }));

    const irqKinds = {};
    for (const e of oIrq) (irqKinds[e.desc] ??= { osnoise: 0, isolwatch: 0 }).osnoise++;
    for (const r of iIrq) (irqKinds[r.kind] ??= { osnoise: 0, isolwatch: 0 }).isolwatch++;
    const threads = {};
    for (const e of oThread) (threads[taskOf(e)] ??= { osnoise: 0, isolwatch: 0 }).osnoise++;
    for (const r of sPreempts) for (const e of names(r)) (threads[e.name ?? e.kind] ??= { osnoise: 0, isolwatch: 0 }).isolwatch++;
    const betweenKinds = {};
    for (const b of between) betweenKinds[`${b.class} ${b.kind}`] = (betweenKinds[`${b.class} ${b.kind}`] ?? 0) + 1;

    // what the disturber caused, seen by the kernel (its runs: sched_switch), by osnoise (thread
    // noise with its name, sampled time only) and isolwatch (the tasks its preemption records
    // name; the local-timer interrupts whose chain ran hrtimer_wakeup; reschedule IPIs)
    const kernelRuns = events.filter((e) => e.cpu === cpu && e.name === 'sched_switch' && inCmp(e.ts_ns) && fields(e.body).next_comm === DISTURBER);
    // its wake-ups: runs that begin after it slept (S: its timer, its futex). Other runs are
    // resumptions: after RT throttling switched it out while runnable (R), or after it waited
    // for a lock that PREEMPT_RT turns into a sleeping one (D); one each seen in 16 runs
    let state = 'S';
    const kernelRunsAfter = { S: 0, R: 0, D: 0 };
    for (const x of switches) {
      if (x.prev_comm === DISTURBER) state = x.prev_state[0];
      if (x.next_comm === DISTURBER && inCmp(x.ts)) kernelRunsAfter[state === 'S' || state === 'R' ? state : 'D']++;
    }
    const dNamed = (rs) => rs.reduce((k, r) => k + names(r).filter((e) => e.name === DISTURBER).length, 0);
    const caused = {
      kernel_disturber_wakeups: kernelRunsAfter.S,
      // resumed after it waited for a lock: its holder wakes it (a reschedule IPI from a
      // disturber thread that is not one of the test's wake-ups)
      kernel_disturber_lock_resumes: kernelRunsAfter.D,
      kernel_disturber_runs: kernelRuns.length,
      kernel_disturber_runs_sampled: kernelRuns.filter((e) => sampled(e.ts_ns)).length,
      osnoise_disturber_runs: oThread.filter((e) => taskOf(e) === DISTURBER).length,
      isolwatch_disturber_runs: dNamed(preempts),
      // runs after the first PREEMPT_NAMES tasks of a preemption: the record does not name them
      disturber_runs_beyond_names: disturberBeyondNames,
      isolwatch_disturber_runs_sampled: dNamed(sPreempts),
      isolwatch_hrtimer_wakeup: iIrqAll.filter((r) => r.kind === 'local_timer' && r.chain.some((e) => e.func === 'hrtimer_wakeup')).length,
      // its sleep timer fired while it still ran (a vCPU stall between arming it and blocking):
      // the sleep ends without a switch, one wake-up without a run of its own (seen once in 20 runs)
      disturber_timer_wakes_while_running: iIrqAll.filter((r) => r.kind === 'local_timer' && r.victim.comm === DISTURBER && r.chain.some((e) => e.func === 'hrtimer_wakeup')).length,
      osnoise_reschedule: oIrq.filter((e) => e.desc === 'reschedule').length,
      isolwatch_reschedule: iIrq.filter((r) => r.kind === 'reschedule').length,
      // sender attribution (probe group ipi; kprobes on 6.1): the disturber's threads on other CPUs
      isolwatch_reschedule_from_disturber: iIrqAll.filter((r) => r.kind === 'reschedule' && r.cause?.comm === DISTURBER && r.cause?.cpu !== cpu).length,
    };
    const total = (c) => c.irq + c.nmi;
    const noisy = (n) => n >= tolerance.noisyMin;
    const rt = rtla[String(cpu)];
    const evThread = (name) => evAll.filter((e) => e.name === name).length;
    perCpu[String(cpu)] = {
      window_s: (to - from) / 1e9,
      window: { start_ns: from, end_ns: to },
      thread_window: { start_ns: w.start, end_ns: w.end },
      samples: sam.length,
      sampled_s: sam.reduce((t, s) => t + s.sampledTo - s.from, 0) / 1e9,
      // each sample's sampled time (what the counts compare), in the trace clock
      sampled: sam.map((s) => ({ start_ns: s.from, end_ns: s.sampledTo })),
      rtla: rt ?? null,
      // the whole event stream while the workload ran: what rtla's summary counts too
      osnoise_all: { irq: evThread('irq_noise'), thread: evThread('thread_noise'), nmi: evThread('nmi_noise'), softirq: evThread('softirq_noise') },
      osnoise,
      isolwatch,
      isolwatch_by_class: byClass,
      irq_kinds: irqKinds,
      threads,
      caused,
      matched_irqs: pairing.used.size,
      matched_late: pairing.late,
      unmatched_osnoise: pairing.unmatchedOsnoise,
      unmatched_isolwatch: unmatchedIsolwatch,
      kind_mismatch: pairing.kindMismatch,
      thread_mismatch: threadMismatch,
      thread_only_osnoise: threadOnlyOsnoise,
      thread_runs_beyond_names: beyondNames,
      preempt_names_vs_kernel: namesVsKernel,
      between_samples: between,
      between_samples_kinds: betweenKinds,
      at_sample_end: atEnd,
      preempted_at_start: st.preemptedAtStart,
      osnoise_events_between_samples: evBetween.map((e) => ({ ts_ns: e.ts_ns, name: e.name, body: e.body })),
      sample_mismatch: sampleMismatch,
      softirq_outside_thread: softirqOutsideThread,
      // each tool's own counts, by the same rule: osnoise and isolwatch in the window, rtla over
      // the workload's whole life, which is judged against osnoise's events over the same span
      noisy: {
        osnoise: noisy(total(osnoise)),
        isolwatch: noisy(iIrqAll.length + recs.filter((r) => r.class === 'nmi').length),
        rtla: rt ? noisy(total(rt)) : null,
        osnoise_whole_run: noisy(evAll.filter((e) => e.name === 'irq_noise' || e.name === 'nmi_noise').length),
      },
    };
  }

  // the verdicts: which differences are within tolerance
  /** @type {{ cpu: number, check: string, ok: boolean, detail: string }[]} */
  const checks = [];
  for (const [cpu, c] of Object.entries(perCpu)) {
    const n = Number(cpu);
    checks.push({
      cpu: n,
      check: 'samples',
      ok: c.sample_mismatch.length === 0 && c.osnoise_events_between_samples.length === 0,
      detail: `${c.samples} samples (${c.sampled_s.toFixed(1)} s of ${c.window_s.toFixed(1)} s): ${c.sample_mismatch.length} whose counters differ from their events, ${c.osnoise_events_between_samples.length} osnoise events between samples`,
    });
    checks.push({
      cpu: n,
      check: 'irq',
      ok: c.unmatched_osnoise.length <= tolerance.unpairedOsnoise && c.unmatched_isolwatch.length <= tolerance.extraIsolwatch,
      detail: `osnoise ${c.osnoise.irq} isolwatch ${c.isolwatch.irq}: ${c.unmatched_osnoise.length} osnoise IRQs unpaired (max ${tolerance.unpairedOsnoise}), ${c.unmatched_isolwatch.length} only in isolwatch (max ${tolerance.extraIsolwatch})`,
    });
    checks.push({ cpu: n, check: 'irq kinds', ok: c.kind_mismatch.length === 0, detail: `${c.kind_mismatch.length} paired IRQs of another kind` });
    checks.push({ cpu: n, check: 'nmi', ok: c.osnoise.nmi === c.isolwatch.nmi, detail: `osnoise ${c.osnoise.nmi} isolwatch ${c.isolwatch.nmi}` });
    checks.push({
      cpu: n,
      check: 'thread',
      ok: c.thread_mismatch.length === 0 && c.thread_only_osnoise.length === 0,
      detail: `osnoise ${c.osnoise.thread} isolwatch ${c.isolwatch.thread} (${c.thread_runs_beyond_names} beyond the ${PREEMPT_NAMES} tasks a record names): ${c.thread_mismatch.length} preemptions named differently, ${c.thread_only_osnoise.length} osnoise runs in no isolwatch preemption`,
    });
    checks.push({
      cpu: n,
      check: 'preempt names',
      ok: c.preempt_names_vs_kernel.length === 0,
      detail: `${c.preempt_names_vs_kernel.length} preemption records naming other tasks than the kernel switched to (the first ${PREEMPT_NAMES})`,
    });
    checks.push({ cpu: n, check: 'softirq in threads', ok: c.softirq_outside_thread.length === 0, detail: `${c.isolwatch.softirq} isolwatch softirq records, ${c.softirq_outside_thread.length} outside a run of their thread` });
    checks.push({
      cpu: n,
      check: 'noisy verdict',
      ok: c.noisy.osnoise === c.noisy.isolwatch && (c.noisy.rtla === null || c.noisy.rtla === c.noisy.osnoise_whole_run),
      detail: `in the window osnoise ${c.noisy.osnoise ? 'noisy' : 'quiet'}, isolwatch ${c.noisy.isolwatch ? 'noisy' : 'quiet'}; over the whole run rtla ${c.noisy.rtla === null ? '-' : c.noisy.rtla ? 'noisy' : 'quiet'}, osnoise ${c.noisy.osnoise_whole_run ? 'noisy' : 'quiet'}`,
    });
    if (c.rtla) {
      const a = c.osnoise_all;
      checks.push({
        cpu: n,
        check: 'rtla vs events',
        ok: c.rtla.irq <= a.irq + tolerance.rtlaSlack && c.rtla.thread <= a.thread + tolerance.rtlaSlack && c.rtla.nmi === a.nmi,
        detail: `rtla IRQ ${c.rtla.irq} / events ${a.irq}, rtla Thread ${c.rtla.thread} / events ${a.thread} (the workload's whole life)`,
      });
    }
  }
  for (const p of problems) checks.push({ cpu: -1, check: 'input', ok: false, detail: p });
  if (disturbCpu !== undefined && perCpu[String(disturbCpu)] && !perCpu[String(disturbCpu)].noisy.osnoise) {
    checks.push({ cpu: disturbCpu, check: 'disturbance seen', ok: false, detail: 'osnoise did not find the disturbed CPU noisy' });
  }
  return { cpus: perCpu, checks, agree: checks.every((c) => c.ok), kernel: start?.kernel, probes: start?.probes, tolerance };
}

/** The table the script prints (80 columns). */
export function formatTable(result) {
  const lines = [];
  const pad = (s, n) => String(s).padStart(n);
  lines.push(`osnoise vs isolwatch on ${result.kernel ?? '?'} (counts in osnoise's sampled time)`);
  lines.push('');
  lines.push('CPU  class     rtla   osnoise  isolwatch  isolwatch classes');
  for (const [cpu, c] of Object.entries(result.cpus)) {
    const r = c.rtla;
    const row = (name, rt, o, i, what) => lines.push(`${pad(cpu, 3)}  ${name.padEnd(8)}${pad(rt ?? '-', 6)}${pad(o, 10)}${pad(i, 11)}  ${what}`);
    row('irq', r?.irq, c.osnoise.irq, c.isolwatch.irq, 'irq+timer+ipi roots, sampled time');
    row('softirq', r?.softirq, c.osnoise.softirq, c.isolwatch.softirq, 'softirq roots (RT: inside threads)');
    row('thread', r?.thread, c.osnoise.thread, c.isolwatch.thread, 'tasks named by preempt records');
    row('nmi', r?.nmi, c.osnoise.nmi, c.isolwatch.nmi, 'nmi');
    const v = (b) => (b === null ? '-' : b ? 'noisy' : 'quiet');
    lines.push(`${pad(cpu, 3)}  verdict ${pad(v(c.noisy.rtla), 6)}${pad(v(c.noisy.osnoise), 10)}${pad(v(c.noisy.isolwatch), 11)}  HW noise (rtla) ${r?.hw ?? '-'}`);
    lines.push(`     window ${c.window_s.toFixed(1)} s: ${c.samples} samples, ${c.sampled_s.toFixed(1)} s sampled (rtla: whole run)`);
    const kinds = Object.entries(c.irq_kinds)
      .map(([k, n]) => `${k} ${n.osnoise}/${n.isolwatch}`)
      .join(', ');
    lines.push(`     irq kinds (osnoise/isolwatch): ${kinds || 'none'}`);
    const th = Object.entries(c.threads)
      .map(([k, n]) => `${k} ${n.osnoise}/${n.isolwatch}`)
      .join(', ');
    lines.push(`     threads (osnoise/isolwatch): ${th || 'none'}`);
    lines.push(
      `     record by record: ${c.matched_irqs} IRQs paired (${c.matched_late.length} ended later in osnoise), ${c.unmatched_osnoise.length} only in osnoise, ${c.unmatched_isolwatch.length} only in isolwatch`,
    );
    const gap = Object.entries(c.between_samples_kinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    const end = c.at_sample_end.length ? ` (${c.at_sample_end.length} of them at a sample's end, before its record)` : '';
    const late = c.preempted_at_start.length ? ` (${c.preempted_at_start.length} sample(s) begun when osnoise/${cpu} was back: preempted at the unlock)` : '';
    lines.push(`     between samples (isolwatch only, not compared): ${gap || 'none'}${end}${late}`);
  }
  lines.push('');
  for (const k of result.checks) lines.push(`${k.ok ? 'ok  ' : 'FAIL'} ${k.cpu >= 0 ? `CPU ${k.cpu} ` : ''}${k.check}: ${k.detail}`);
  lines.push(result.agree ? 'agree: yes' : 'agree: NO');
  return lines.join('\n');
}

/** Reads a run directory written by osnoise-compare.sh. */
export function loadRun(dir) {
  const read = (f) => readFileSync(join(dir, f), 'utf8');
  const meta = parseKv(read('meta.txt'));
  const cpus = meta.cpus.split(',').map(Number);
  return {
    meta,
    disturb: parseKv(read('disturb.txt')),
    events: parseTrace(read('events.txt')),
    samples: parseSamples(read('samples.txt')),
    rtla: parseRtla(read('rtla.txt')),
    records: parseNdjson(read('isolwatch.ndjson')),
    cpus,
    disturbCpu: Number(meta.disturb_cpu),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node test/vm/osnoise-compare.mjs DIR (a directory written by test/vm/osnoise-compare.sh)\n');
    process.exit(2);
  }
  let run;
  try {
    run = loadRun(dir);
  } catch (e) {
    process.stderr.write(`osnoise-compare: cannot read the run in ${dir}: ${/** @type {Error} */ (e).message}\n`);
    process.exit(3);
  }
  const result = compare(run);
  writeFileSync(join(dir, 'comparison.json'), JSON.stringify({ meta: run.meta, disturb: run.disturb, ...result }, null, 1) + '\n');
  process.stdout.write(formatTable(result) + '\n');
  process.exit(result.agree ? 0 : 1);
}
