// The correlation engine: decoded BPF records + task/isolation state in,
// interruption / isol / summary records out. Pure: no I/O, no clock of its
// own (timestamps come from the records), every dependency injected, so it
// runs the same on a live stream and on a recording.
import type { RawEntry, RawInterruption, RawIsolCall, RawRecord, RawTaskEvent } from '../contract/decode.js';
import { IW } from '../contract/layout.generated.js';
import { decodeIsolCall } from '../isol/decode.js';
import { judge } from '../isol/judge.js';
import type { IsolTracker } from '../isol/state.js';
import type { Symbolizer } from '../system/kallsyms.js';
import { className, CTX_NAMES, flagNames, kindName } from '../contract/vocabulary.js';
import type {
  ActionRecord,
  Cause,
  ChainEntry,
  CpuSummary,
  InterruptionClass,
  InterruptionRecord,
  IsolRecord,
  SummaryRecord,
  TaskSummary,
} from '../types.js';

export interface EngineOptions {
  symbols: Symbolizer;
  tracker: IsolTracker;
  prIsol: 'kernel' | 'absent';
  arch: string;
  /** Only these victims are reported (--pid); undefined = every victim. */
  victimFilter?: (pid: number, tid: number) => boolean;
  /**
   * Policy hook: refines the default judgement and plans actions. Returns
   * the violation verdict and at most one action record to attach.
   */
  policy?: (rec: InterruptionRecord) => { violation: boolean; action?: ActionRecord } | undefined;
}

const NS_PER_S = 1e9;

export class Engine {
  private cpus = new Map<number, CpuSummary>();
  private tasks = new Map<number, TaskSummary>();
  private violations = 0;
  private selfCaused = 0;
  private filtered = 0;
  private firstTs?: number;
  private lastTs?: number;

  constructor(private opts: EngineOptions) {}

  /** One decoded record in; the output record it yields (null when filtered out, or for fork/exit: state only). */
  ingest(raw: RawRecord): InterruptionRecord | IsolRecord | null {
    switch (raw.rec) {
      case 'isol':
        return this.ingestIsol(raw);
      case 'fork':
      case 'exit':
        return this.ingestTask(raw);
      default:
        return this.ingestInterruption(raw);
    }
  }

  /** Fork/clone and exit of tracked tasks: PR_ISOL inheritance and declared children (IsolTracker). */
  private ingestTask(raw: RawTaskEvent): null {
    const ts_ns = Number(raw.ts_ns);
    if (raw.rec === 'fork') {
      this.opts.tracker.onTaskEvent({ type: 'fork', parent_tid: raw.parent_tid, parent_pid: raw.parent_pid, child_tid: raw.tid, child_pid: raw.pid, ts_ns });
    } else {
      this.opts.tracker.onTaskEvent({ type: 'exit', tid: raw.tid, pid: raw.pid, group_dead: (raw.flags & IW.IW_TASK_GROUP_DEAD) !== 0, ts_ns });
    }
    return null;
  }

  private ingestIsol(raw: RawIsolCall): IsolRecord {
    const rec = decodeIsolCall(raw, {
      prIsol: this.opts.prIsol,
      arch: this.opts.arch,
      quiesceMaskFor: (pid, tid) => this.opts.tracker.quiesceMaskFor(pid, tid),
    });
    this.opts.tracker.apply(rec);
    this.seen(Number(raw.ts_ns));
    return rec;
  }

  private ingestInterruption(raw: RawInterruption): InterruptionRecord | null {
    if (this.opts.victimFilter && !this.opts.victimFilter(raw.victim_pid, raw.victim_tid)) {
      this.filtered++;
      return null;
    }
    const rec = this.toInterruption(raw);
    // isolwatch's own doing is neither judged nor acted on
    const policy = rec.cause.origin === 'isolwatch' ? undefined : this.opts.policy?.(rec);
    if (policy) {
      rec.violation = policy.violation;
      if (policy.action) rec.action = policy.action;
    }
    this.account(rec);
    return rec;
  }

  /** Builds the contract record (DESIGN.md) from a raw one. */
  toInterruption(raw: RawInterruption): InterruptionRecord {
    const sym = this.opts.symbols;
    const chain: ChainEntry[] = raw.chain.map((e) => this.chainEntry(e));
    const { cls, kind, func } = headline(chain, raw.cause_func ? sym.lookup(raw.cause_func) : undefined);
    const flags = flagNames(raw.flags);

    const ctx = CTX_NAMES[raw.cause_ctx] ?? 'unknown';
    const cause: Cause = { self: false, context: ctx };
    if (ctx === 'self' || (ctx === 'task' && raw.cause_tid !== 0 && raw.cause_tid === raw.victim_tid)) {
      cause.self = true;
      cause.context = 'self';
    }
    if (ctx === 'task' || ctx === 'self') {
      cause.pid = raw.cause_pid;
      cause.tid = raw.cause_tid;
      cause.comm = raw.cause_comm;
    }
    if (ctx !== 'unknown') cause.cpu = raw.cause_cpu;
    const callsite = sym.lookup(raw.cause_callsite);
    if (callsite) cause.callsite = callsite;
    if (raw.cause_ts_ns !== 0n && ctx !== 'self') cause.ts_ns = Number(raw.cause_ts_ns); // when the sender queued it
    if (raw.flags & IW.IW_F_SELF_CAUSED) cause.origin = 'isolwatch';

    const kernel = {
      conf: raw.isol_conf_mask,
      active: raw.isol_active_mask,
      quiesce: raw.isol_quiesce_mask,
      oneshot: raw.isol_oneshot_mask,
      inherit: raw.isol_inherit_mask,
      fromKernel: (raw.flags & IW.IW_F_ISOL_KERNEL) !== 0,
    };
    const isol = this.opts.tracker.isolInfoFor(raw.victim_tid, raw.victim_pid, kernel.fromKernel ? kernel : undefined);
    const rec: InterruptionRecord = {
      type: 'interruption',
      ts_ns: Number(raw.ts_ns),
      cpu: raw.cpu,
      duration_ns: Number(raw.duration_ns),
      class: cls,
      kind,
      ...(func ? { func } : {}),
      victim: { pid: raw.victim_pid, tid: raw.victim_tid, comm: raw.victim_comm },
      cause,
      isol,
      violation: false,
      ...(flags.length ? { flags } : {}),
      chain,
    };
    if (cause.origin === 'isolwatch') {
      // what isolwatch caused itself never counts: not a violation, not in stolen/max (summary.self_caused)
      rec.note = 'caused by isolwatch itself: not judged';
      return rec;
    }
    const j = judge(isol, rec);
    rec.violation = j.violation;
    if (j.note) rec.note = j.note;
    return rec;
  }

  private chainEntry(e: RawEntry): ChainEntry {
    const cls = className(e.class);
    const out: ChainEntry = { class: cls, kind: kindName(cls, e.kind, e.name), duration_ns: e.duration_ns, depth: e.depth };
    // iw_entry.func holds one thing per class (bpf/events.h): the faulting address, the return value, or the function
    if (cls === 'page_fault') {
      out.address = `0x${e.func.toString(16)}`;
    } else if (cls === 'syscall') {
      out.ret = Number(BigInt.asIntN(64, e.func));
    } else if (cls !== 'preempt' && e.func !== 0n) {
      const f = this.opts.symbols.lookup(e.func);
      if (f) out.func = f;
    }
    if (e.name) out.name = e.name;
    return out;
  }

  private seen(ts: number): void {
    if (this.firstTs === undefined || ts < this.firstTs) this.firstTs = ts;
    if (this.lastTs === undefined || ts > this.lastTs) this.lastTs = ts;
  }

  private account(rec: InterruptionRecord): void {
    this.seen(rec.ts_ns);
    if (rec.cause.origin === 'isolwatch') {
      this.selfCaused++; // counted here only: never in a CPU's or task's numbers
      return;
    }
    let c = this.cpus.get(rec.cpu);
    if (!c) {
      c = { by_class: {}, stolen_ns: 0, max_ns: 0 };
      this.cpus.set(rec.cpu, c);
    }
    c.by_class[rec.class] = (c.by_class[rec.class] ?? 0) + 1;
    c.stolen_ns += rec.duration_ns;
    if (rec.duration_ns > c.max_ns) c.max_ns = rec.duration_ns;
    if (rec.violation) this.violations++;

    let t = this.tasks.get(rec.victim.tid);
    if (!t) {
      const info = rec.isol;
      t = {
        pid: rec.victim.pid,
        tid: rec.victim.tid,
        comm: rec.victim.comm,
        isol: info.state,
        ...(info.source ? { source: info.source } : {}),
        interruptions: 0,
        violations: 0,
        stolen_ns: 0,
      };
      this.tasks.set(rec.victim.tid, t);
    }
    // a task that exited is forgotten by the tracker: its last records say 'none', which is not what it was
    if (rec.isol.state !== 'none' || t.isol === 'none') {
      t.isol = rec.isol.state;
      if (rec.isol.source) t.source = rec.isol.source;
    }
    t.comm = rec.victim.comm;
    t.interruptions++;
    if (rec.violation) t.violations++;
    t.stolen_ns += rec.duration_ns;
  }

  /** Interruptions not reported because of --pid. */
  get filteredCount(): number {
    return this.filtered;
  }

  summary(input: {
    durationS?: number;
    lost: number;
    kernelCounts?: SummaryRecord['kernel_counts'];
    watchedCpus: number[];
  }): SummaryRecord {
    const cpus: Record<string, CpuSummary> = {};
    for (const cpu of input.watchedCpus) cpus[String(cpu)] = this.cpus.get(cpu) ?? { by_class: {}, stolen_ns: 0, max_ns: 0 };
    for (const [cpu, c] of this.cpus) cpus[String(cpu)] ??= c;
    const durationS =
      input.durationS ?? (this.firstTs !== undefined && this.lastTs !== undefined ? (this.lastTs - this.firstTs) / NS_PER_S : 0);
    const tasks = [...this.tasks.values()].sort((a, b) => b.violations - a.violations || b.stolen_ns - a.stolen_ns);
    return {
      type: 'summary',
      duration_s: Math.round(durationS * 1000) / 1000,
      cpus,
      tasks,
      violations: this.violations,
      lost_events: input.lost,
      self_caused: this.selfCaused,
      ...(input.kernelCounts ? { kernel_counts: input.kernelCounts } : {}),
    };
  }
}

/**
 * The class/kind/func a reader sees first. The class is the root entry's,
 * as in the kernel counters (emit() in isolwatch.bpf.c), so both agree; a
 * preemption's func names the first work item it ran; an IPI's func is the
 * cross-CPU function that ran (csd), not the vector, or else the function
 * its sender queued (causeFunc).
 */
export function headline(chain: ChainEntry[], causeFunc?: string): { cls: InterruptionClass; kind: string; func?: string } {
  const root = chain[0];
  if (!root) return { cls: 'kernel', kind: 'entry' };
  if (root.class === 'preempt') {
    // the work items that ran are also records of their own (flag in_preempt)
    const work = chain.find((e) => e.class === 'workqueue');
    return { cls: 'preempt', kind: root.kind, ...(work?.func ? { func: work.func } : {}) };
  }
  if (root.class === 'workqueue') return { cls: 'workqueue', kind: root.func ?? root.kind, func: root.func };
  if (root.class === 'ipi') {
    const csd = chain.find((e) => e.class === 'ipi' && e.kind === 'csd');
    // without csd_* tracepoints (kernels before 6.5) the function is the one the sender queued
    return { cls: 'ipi', kind: root.kind, func: csd?.func ?? (root.kind.startsWith('call_function') ? causeFunc : undefined) };
  }
  if (root.class === 'timer') {
    const t = chain.find((e) => e.class === 'timer' && (e.kind === 'hrtimer' || e.kind === 'timer'));
    return { cls: 'timer', kind: root.kind, func: t?.func };
  }
  if (root.class === 'irq' || root.class === 'nmi') return { cls: root.class, kind: root.kind, func: root.func };
  return { cls: root.class, kind: root.kind };
}
