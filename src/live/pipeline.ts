// The live pipeline every tracing command shares: resolve CPUs, pin
// isolwatch to housekeeping CPUs, open the session, run the engine over
// drained records, and tear down on one path (SIGINT, SIGTERM, error, end).
import { arch, release } from 'node:os';
import { packageVersion } from '../paths.js';
import { Engine } from '../correlate/engine.js';
import type { RawRecord } from '../contract/decode.js';
import { EnvironmentError } from '../errors.js';
import type { Enforcer } from '../enforce/index.js';
import { detectPrIsol } from '../isol/detect.js';
import { IsolTracker } from '../isol/state.js';
import { IW } from '../contract/layout.generated.js';
import type { Policy } from '../policy/index.js';
import { pinSelfTo } from './pin.js';
import { DEFAULT_PROBES_TASK, DEFAULT_PROBES_WATCH, parseProbes } from './probes.js';
import { Session, type KernelCounts } from './session.js';
import { housekeepingCpus, readCpuTopology, type WatchedCpus } from '../system/cpus.js';
import { resolveCpus } from './cpus.js';
import { loadKallsyms, type KernelSymbols } from '../system/kallsyms.js';
import { KernelAskedSymbols } from '../system/ksyms.js';
import { assertCanTrace } from '../system/preflight.js';
import { detectFromKernelText, tlbFlushLabel, type TlbFlush } from '../system/tlb-flush.js';
import type { AggregateRecord, CpuRecord, InterruptionRecord, IsolRecord, RecordsAccount, StartRecord, SummaryRecord } from '../types.js';
import { CpuHotplug } from './hotplug.js';
import { openStealSource, rootFiles, StealMeter } from './steal.js';
import type { RawAggregate } from '../contract/aggregate.js';
import { AggregateDeltas, rowsOf, type RowContext } from '../correlate/aggregates.js';
import { summarize } from '../correlate/summary.js';
import type { AggregateRow, Phase } from '../verdict/rows.js';
import type { RecordMode } from './session.js';



/** How far before the previous read an interval looks again (an update that read copied half of). */
const READ_MARGIN_NS = 200e6;

/** Records handed to a pump's consumer at a time. */
const PUMP_CHUNK = 1024;

export interface LiveOptions {
  cpus?: number[];
  pids?: number[];
  probes?: string;
  /** probe defaults: 'task' (run, --pid) includes syscalls, 'watch' does not */
  probeDefaults: 'task' | 'watch';
  policy?: string;
  enforce?: boolean;
  obj?: string;
  /** kernel threads are victims too (--kthreads) */
  kthreads?: boolean;
  /** filter victims to --pid */
  filterToPids?: boolean;
  command?: string;
  /** which records reach user space (the counts never depend on it): sampled (default) or all */
  records?: RecordMode;
  /** sampled records: how many a second per key after its first (default 10; serve needs none) */
  exemplarsPerS?: number;
  /**
   * The phases the session goes through, in order (the kernel's epoch is the
   * index): run ['warmup', 'judged', 'after']; default ['judged'].
   */
  phases?: Phase[];
}

export interface Live {
  start: StartRecord;
  session: Session;
  engine: Engine;
  tracker: IsolTracker;
  symbols: KernelSymbols;
  /** how this kernel flushes remote TLBs (start.tlb_flush in words) */
  tlbFlush: TlbFlush;
  /** the watched CPUs' steal time (start.steal says how it is read) */
  steal: StealMeter;
  enforcer?: Enforcer;
  watched: WatchedCpus;
  warnings: string[];
  /** Drains and runs the engine; raw records go to onRaw too (record). */
  pump(onOut: (recs: (InterruptionRecord | IsolRecord)[]) => void, onRaw?: (raws: RawRecord[]) => void): number;
  /** Interruptions from now on belong to this phase (one of LiveOptions.phases). */
  enterPhase(phase: Phase): void;
  /** The kernel's aggregates as they are now. */
  aggregates(): RawAggregate[];
  /** Aggregates as rows (every interruption on the watched CPUs, exact). */
  rows(aggs?: RawAggregate[]): AggregateRow[];
  /** The rows that changed since the previous call, as an `aggregate` record of scope 'interval' (counts are the growth). */
  intervalRecord(): AggregateRecord;
  /** Every row since the start as an `aggregate` record of scope 'total'. */
  totalRecord(aggs?: RawAggregate[]): AggregateRecord;
  /** The summary from the kernel's aggregates and counters. */
  summary(durationS: number, aggs?: RawAggregate[], extra?: { outputDropped?: number }): SummaryRecord;
  counts(): KernelCounts;
  /** Runs of each probe the kernel skipped (a program already running on that CPU): see Session.probeMisses. */
  probeMisses(): Record<string, number>;
  /** Stops tracing (the maps stay): the last drain, the aggregates and the summary are then final and agree. */
  detach(): void;
  /** Watched CPUs that went offline or came back since the last call (CPU hotplug), as `cpu` records. */
  cpuChanges(): CpuRecord[];
  /** Watched CPUs offline now, and how long each was offline inside [from, to). */
  hotplug: CpuHotplug;
  close(): void;
}

export async function openLive(opts: LiveOptions): Promise<Live> {
  const pids = opts.pids ?? [];
  const warnings: string[] = [];
  const watched = resolveCpus(opts.cpus, pids, warnings); // a missing pid fails here
  const topo = readCpuTopology();
  // the policy parser, its schema and the enforcer are loaded only when a policy is given (start-up)
  const policy: Policy | undefined = opts.policy ? (await import('../policy/index.js')).loadPolicy(opts.policy) : undefined;
  const enforceMod = policy ? await import('../enforce/index.js') : undefined;
  const probes = parseProbes(opts.probes, opts.probeDefaults === 'task' ? DEFAULT_PROBES_TASK : DEFAULT_PROBES_WATCH);

  // what the machine lacks is said before anything acts (kallsyms would fail first, less plainly)
  assertCanTrace();
  const hk = housekeepingCpus(topo, watched.cpus);
  const pinWarning = pinSelfTo(hk);
  if (pinWarning) warnings.push(pinWarning);
  if (watched.reason === 'fallback-highest') {
    warnings.push(`no isolated or nohz_full CPUs on this machine: watching CPU ${watched.cpus.join(',')} (the highest); it cannot be quiet`);
  }

  // a policy judges records one by one: it gets every one (unless --records says otherwise)
  const recordMode: RecordMode = opts.records ?? (policy ? 'all' : 'sampled');
  const phases = opts.phases ?? ['judged'];
  // attach first: everything below (symbols, PR_ISOL, the TLB flush) asks the loaded object
  const session = Session.open({
    cpus: watched.cpus,
    probes,
    objPath: opts.obj,
    kthreadVictims: opts.kthreads,
    records: recordMode,
    exemplarsPerS: opts.exemplarsPerS,
    signals: policy !== undefined && opts.enforce === true,
  });
  // PR_ISOL: what CO-RE resolved in this kernel's BTF at load, and the prctl handlers' symbols, asked of the kernel
  const features = session.features();
  const detection = detectPrIsol({
    hasStructField: (st, f) => st === 'task_struct' && ((f === 'task_isol_info' && (features & IW.IW_FEAT_ISOL_V12) !== 0) || (f === 'isol_info' && (features & IW.IW_FEAT_ISOL_V5) !== 0)),
    hasSymbol: (n) => {
      const a = session.kernelAddress(n);
      return a === null ? undefined : a !== undefined;
    },
  });
  const prIsol = detection.supported ? 'kernel' : 'absent';
  // symbols come from the kernel one address at a time (src/system/ksyms.ts): no /proc/kallsyms at start
  const symbols: KernelSymbols = new KernelAskedSymbols(
    { symbol: (a) => session.kernelSymbol(a), address: (n) => session.kernelAddress(n) },
    () => loadKallsyms(),
  );
  const tlbFlush: TlbFlush =
    arch() === 'x64'
      ? detectFromKernelText({ symbol: (n) => symbols.find(n), read: (a, l) => session.readKernel(a, l) })
      : { mode: 'unknown', evidence: `the flush detection reads x86 code; this is ${arch()}` };
  const tracker = new IsolTracker({ prIsol });
  const nowNs = () => Number(process.hrtime.bigint());
  // what the hypervisor takes: its steal clock, found in the kernel's code and read from now on
  const stealSource = openStealSource(
    arch() === 'x64' ? { symbol: (n) => symbols.find(n), name: (a) => symbols.lookup(a), read: (a, l) => session.readKernel(a, l) } : undefined,
    watched.cpus,
    rootFiles(),
  );
  const steal = new StealMeter(stealSource.info, watched.cpus, stealSource.read, nowNs);
  for (const pid of pids) {
    tracker.declare({ pid }, { children: true, ts_ns: nowNs() });
    session.trackProcess(pid); // its forks/exits reach the tracker (declared children)
  }

  let enforcer: Enforcer | undefined;
  if (policy && enforceMod) {
    enforcer = new enforceMod.Enforcer(policy, {
      enforce: opts.enforce === true,
      signaller: { arm: (tid, arm) => session.armSignal(tid, arm), disarm: (tid) => session.disarmSignal(tid) },
      watchedCpus: watched.cpus,
      limitClock: 'wall',
    });
  }
  const pidSet = new Set(pids);
  // --pid shows its processes and what they fork (declared with them)
  const victimFilter = opts.filterToPids && pids.length ? (pid: number, tid: number) => pidSet.has(pid) || tracker.isDeclared(tid, pid) : undefined;
  const engine = new Engine({
    symbols,
    tracker,
    prIsol,
    arch: arch() === 'x64' ? 'x86_64' : arch(),
    victimFilter,
    policy: enforcer && enforceMod ? enforceMod.engineHook(enforcer) : undefined,
  });
  if (enforcer) for (const pid of pids) enforcer.updateProcess(pid, 'declared'); // every thread, for in-kernel signals

  const start: StartRecord = {
    type: 'start',
    version: packageVersion(),
    kernel: release(),
    arch: arch() === 'x64' ? 'x86_64' : arch(),
    watched_cpus: watched.cpus,
    isolated: topo.isolated,
    nohz_full: topo.nohzFull,
    watched_reason: watched.reason,
    pr_isol: prIsol,
    probes: { attached: [...new Set(session.attached)], missing: session.missing },
    tlb_flush: tlbFlushLabel(tlbFlush),
    steal: stealSource.info,
    ts_ns: nowNs(),
    ...(opts.command ? { command: opts.command } : {}),
  };

  const rowContext: RowContext = {
    symbols,
    tracker,
    phaseOf: (epoch) => phases[epoch] ?? phases[phases.length - 1],
    masksOf: (tid) => engine.kernelMasksOf(tid),
  };
  const hotplug = new CpuHotplug(watched.cpus, () => readCpuTopology().online, nowNs);
  const deltas = new AggregateDeltas();
  let lastReadNs = 0;
  // --pid: the aggregate records show its processes only, as the interruption records do
  const shown = (rows: AggregateRow[]) => (victimFilter ? rows.filter((r) => victimFilter(r.victim.pid, r.victim.tid)) : rows);
  let lastIntervalNs = start.ts_ns ?? nowNs();
  let closed = false;
  let lastSweepNs = nowNs();
  const live: Live = {
    start,
    session,
    engine,
    tracker,
    symbols,
    tlbFlush,
    steal,
    enforcer,
    watched,
    warnings,
    pump(onOut, onRaw) {
      if (enforcer && nowNs() - lastSweepNs > 1e9) {
        lastSweepNs = nowNs();
        enforcer.sweep(); // forget armed threads that are gone before their tids can be reused
      }
      // in-kernel signals follow isolation: a PR_ISOL prctl changed it, or a new thread of a declared process
      const follow = (r: RawRecord) => {
        if (enforcer && (r.rec === 'isol' || r.rec === 'fork')) {
          const state = tracker.isolInfoFor(r.tid, r.pid).state;
          if (r.rec === 'isol' || state !== 'none') enforcer.updateTask({ pid: r.pid, tid: r.tid, comm: r.comm }, state);
        }
      };
      const out: (InterruptionRecord | IsolRecord)[] = [];
      if (onRaw) {
        // a recording keeps the raw records: decode every one
        const n = session.drain((raws) => {
          onRaw(raws);
          for (const r of raws) {
            const o = engine.ingest(r);
            if (o) out.push(o);
            follow(r);
          }
        });
        if (out.length) onOut(out);
        return n;
      }
      // straight from the ring: one-entry records take the engine's fast path; handed over in
      // chunks, so a backlog of a million records is never held all at once
      let chunk: (InterruptionRecord | IsolRecord)[] = [];
      const n = session.drainRaw((dv, off, len) => {
        const o = engine.ingestRaw(dv, off, len, follow);
        if (!o) return;
        chunk.push(o);
        if (chunk.length >= PUMP_CHUNK) {
          onOut(chunk);
          chunk = [];
        }
      });
      if (chunk.length) onOut(chunk);
      return n;
    },
    counts: () => session.counts(),
    probeMisses: () => session.probeMisses(),
    detach: () => {
      session.detach();
      steal.freeze();
    },
    cpuChanges: () => hotplug.poll(),
    hotplug,
    enterPhase(phase) {
      const epoch = phases.indexOf(phase);
      if (epoch < 0) throw new Error(`phase ${phase} is not one of this session's (${phases.join(', ')})`);
      session.setEpoch(epoch);
      steal.mark(phase);
    },
    aggregates: () => session.aggregates(),
    rows: (aggs) => rowsOf(aggs ?? session.aggregates(), rowContext),
    intervalRecord() {
      // only the keys an interruption was counted under since shortly before the previous read
      // began (the clock is the kernel's: both are CLOCK_MONOTONIC): a key updated while that read
      // copied it is looked at again; its count says whether it changed
      const to = nowNs();
      const since = Math.max(0, lastReadNs - READ_MARGIN_NS);
      lastReadNs = to;
      const stealNs = steal.interval();
      const rec: AggregateRecord = {
        type: 'aggregate',
        scope: 'interval',
        from_ns: lastIntervalNs,
        to_ns: to,
        ...(stealNs ? { steal_ns: stealNs } : {}),
        rows: shown(rowsOf(deltas.next(session.aggregates(since)), rowContext)),
      };
      lastIntervalNs = to;
      return rec;
    },
    totalRecord(aggs) {
      const stealNs = steal.total();
      return { type: 'aggregate', scope: 'total', from_ns: start.ts_ns ?? 0, to_ns: nowNs(), ...(stealNs ? { steal_ns: stealNs } : {}), rows: shown(live.rows(aggs)) };
    },
    summary(durationS, aggs, extra) {
      const k = session.counts();
      const kernelCounts: SummaryRecord['kernel_counts'] = {};
      for (const c of watched.cpus) kernelCounts[String(c)] = k.byCpu[String(c)] ?? {};
      const records: RecordsAccount = { mode: recordMode, delivered: 0, sampled: 0, lost: 0, by_cpu: {} };
      for (const [cpu, classes] of Object.entries(k.accounts)) {
        for (const [cls, a] of Object.entries(classes)) {
          if (a.count + a.self_caused === 0) continue;
          records.delivered += a.delivered;
          records.sampled += a.sampled;
          records.lost += a.lost;
          (records.by_cpu[cpu] ??= {})[cls as keyof typeof classes] = {
            count: a.count, self_caused: a.self_caused, delivered: a.delivered, sampled: a.sampled, lost: a.lost,
          };
        }
      }
      const offline = hotplug.offlineNs(start.ts_ns);
      return {
        ...summarize({
          rows: live.rows(aggs),
          watchedCpus: watched.cpus,
          durationS,
          lost: k.lost,
          kernelCounts,
          records,
          outputDropped: extra?.outputDropped,
          probeMisses: session.probeMisses(),
          victimFilter,
          steal: { summary: steal.summary(), byCpu: steal.total() },
        }),
        ...(Object.keys(offline).length ? { offline_ns: offline } : {}),
      };
    },
    close() {
      if (closed) return;
      closed = true;
      enforcer?.close();
      session.close();
    },
  };
  return live;
}

/**
 * Runs until the duration passes, a signal arrives, or stop() is called;
 * then drains once more. The caller closes the Live in its finally block.
 */
/** The signals that end a tracing command on its normal path (final drain, summary, detach). */
export const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function untilStopped(durationS: number | undefined, extra?: (stop: () => void) => void): Promise<'duration' | 'signal' | 'stopped'> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (why: 'duration' | 'signal' | 'stopped') => {
      if (done) return;
      done = true;
      for (const sig of STOP_SIGNALS) process.off(sig, onSig);
      if (timer) clearTimeout(timer);
      resolve(why);
    };
    const onSig = () => finish('signal');
    for (const sig of STOP_SIGNALS) process.on(sig, onSig);
    const timer = durationS !== undefined ? setTimeout(() => finish('duration'), durationS * 1000) : undefined;
    extra?.(() => finish('stopped'));
  });
}
