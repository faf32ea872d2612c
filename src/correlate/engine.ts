// The correlation engine: decoded BPF records + task/isolation state in,
// interruption / isol / summary records out. Pure: no I/O, no clock of its
// own (timestamps come from the records), every dependency injected, so it
// runs the same on a live stream and on a recording.
import { decodeRecord, type RawEntry, type RawInterruption, type RawIsolCall, type RawRecord, type RawTaskEvent } from '../contract/decode.js';
import { FastEntries } from './fast-entry.js';
import { causeOf } from './cause.js';
import { IW } from '../contract/layout.generated.js';
import { decodeIsolCall } from '../isol/decode.js';
import { judge } from '../isol/judge.js';
import type { IsolTracker, KernelIsolMasks } from '../isol/state.js';
import type { Symbolizer } from '../system/kallsyms.js';
import { className, CTX_NAMES, flagNames, kindName } from '../contract/vocabulary.js';
import type {
  ActionRecord,
  Cause,
  ChainEntry,
  InterruptionClass,
  InterruptionRecord,
  IsolRecord,
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

export class Engine {
  private filtered = 0;
  private firstTs?: number;
  private lastTs?: number;
  /** the kernel's PR_ISOL masks last seen on a record of each thread (what aggregate keys do not carry) */
  private readonly masks = new Map<number, KernelIsolMasks>();

  private fast?: FastEntries;

  constructor(private opts: EngineOptions) {
    // a policy acts on each record (and may change it): those go the full way
    if (!opts.policy) this.fast = new FastEntries({ tracker: opts.tracker, victimFilter: opts.victimFilter });
  }

  /**
   * One record straight from the ring (`len` bytes at `off` of `dv`, which
   * may be overwritten once this returns): a one-entry record takes the fast
   * path (src/correlate/fast-entry.ts); everything else is decoded and
   * ingested. The decoded record is handed to `onDecoded` when there is one
   * (isolation and task records drive enforcement).
   */
  ingestRaw(dv: DataView, off: number, len: number, onDecoded?: (raw: RawRecord) => void): InterruptionRecord | IsolRecord | null {
    if (this.fast && FastEntries.takes(dv, off)) {
      const rec = this.fast.ingest(dv, off);
      if (rec) this.seen(rec.ts_ns);
      return rec;
    }
    const raw = decodeRecord(new Uint8Array(dv.buffer, dv.byteOffset + off, len));
    onDecoded?.(raw);
    return this.ingest(raw);
  }

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
    this.seen(rec.ts_ns);
    return rec;
  }

  /** The kernel's isolation masks last seen on a record of this thread (PR_ISOL kernels). */
  kernelMasksOf(tid: number): KernelIsolMasks | undefined {
    return this.masks.get(tid);
  }

  /** When the first and last records were (ts_ns clock), for a replay's duration. */
  get span(): { firstNs?: number; lastNs?: number } {
    return { firstNs: this.firstTs, lastNs: this.lastTs };
  }

  /** Builds the contract record (DESIGN.md) from a raw one. */
  toInterruption(raw: RawInterruption): InterruptionRecord {
    const sym = this.opts.symbols;
    const chain: ChainEntry[] = raw.chain.map((e) => this.chainEntry(e));
    const { cls, kind, func } = headline(chain, raw.cause_func ? sym.lookup(raw.cause_func) : undefined);
    const flags = flagNames(raw.flags);

    const cause: Cause = causeOf(raw, raw.cause_comm, sym);
    const ctx = CTX_NAMES[raw.cause_ctx];
    if (raw.cause_ts_ns !== 0n && ctx === 'timer_early') cause.due_ns = Number(raw.cause_ts_ns); // the expiry the device was set for
    else if (raw.cause_ts_ns !== 0n && ctx !== 'self') cause.ts_ns = Number(raw.cause_ts_ns); // when the sender queued it
    if (raw.flags & IW.IW_F_SELF_CAUSED) cause.origin = 'isolwatch';

    const kernel = {
      conf: raw.isol_conf_mask,
      active: raw.isol_active_mask,
      quiesce: raw.isol_quiesce_mask,
      oneshot: raw.isol_oneshot_mask,
      inherit: raw.isol_inherit_mask,
      fromKernel: (raw.flags & IW.IW_F_ISOL_KERNEL) !== 0,
    };
    if (kernel.fromKernel) {
      if (this.masks.size > 65536) this.masks.clear(); // bounded: a long session with many short-lived threads
      this.masks.set(raw.victim_tid, kernel);
    }
    const isol = this.opts.tracker.isolInfoFor(raw.victim_tid, raw.victim_pid, kernel.fromKernel ? kernel : undefined, Number(raw.ts_ns));
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

  /** Interruptions not reported because of --pid. */
  get filteredCount(): number {
    return this.filtered + (this.fast?.filtered ?? 0);
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
