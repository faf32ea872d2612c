// Per-task isolation state, fed by decoded PR_ISOL prctls (IsolRecord), task
// fork/exit events, user declarations (--pid, run) and, per interruption, the
// masks the BPF side read from task_struct on ABI kernels. Pure: no I/O, the
// clock is injected. isolInfoFor() picks one source by priority:
// kernel > prctl > declared > none.
import type { IsolInfo, IsolRecord, IsolSource, IsolStateName } from '../types.js';
import { ISOL_F_QUIESCE, ISOL_INHERIT_ACTIVE, ISOL_INHERIT_CONF, hex } from './abi.js';

export interface ForkEvent {
  type: 'fork';
  parent_tid: number;
  /** tgid of the parent; looked up from earlier records when omitted. */
  parent_pid?: number;
  child_tid: number;
  /** tgid of the child: equal to the parent's for a new thread (clone with CLONE_THREAD). */
  child_pid: number;
  ts_ns?: number;
}

export interface ExitEvent {
  type: 'exit';
  tid: number;
  pid?: number;
  /** The last thread of the process exited (IW_TASK_GROUP_DEAD): its declaration ends too. */
  group_dead?: boolean;
  ts_ns?: number;
}

export type TaskEvent = ForkEvent | ExitEvent;

/** Masks the BPF side read from task_struct->(task_)isol_info at an interruption (iw_interruption.isol_*). */
export interface KernelIsolMasks {
  conf: bigint;
  active: bigint;
  quiesce: bigint;
  oneshot: bigint;
  inherit: number;
  /** IW_F_ISOL_KERNEL: the masks were really read from the kernel (false = fields are zero filler). */
  fromKernel: boolean;
}

/** configured: CFG_SET done, never activated; active; inactive: was active, deactivated. */
export type IsolPhase = 'configured' | 'active' | 'inactive';

export interface TaskIsolState {
  pid: number;
  tid: number;
  phase: IsolPhase;
  conf_mask: bigint;
  active_mask: bigint;
  quiesce_mask: bigint;
  inherit_mask: number;
  /** The one-shot mask of the last ACTIVATE_SET: it applied on return from that call only. */
  last_oneshot?: { mask: bigint; ts_ns: number };
  since_ns: number;
  /** 'prctl' = the task's own calls; 'inherited' = copied from its parent at fork. */
  via: 'prctl' | 'inherited';
}

export interface Declaration {
  since_ns: number;
  /** Follow new processes forked by the declared process (run's CMD). */
  children: boolean;
}

export interface TrackerOptions {
  /** start.pr_isol. On 'absent' kernels prctl records never change state (they were SME/MDWE/KSM calls). */
  prIsol: 'kernel' | 'absent';
  /** Clock for declarations and events without a timestamp (ns). */
  now?: () => number;
}

const big = (v: string | number | undefined): bigint | undefined => {
  if (v === undefined) return undefined;
  try {
    return BigInt(v);
  } catch {
    return undefined;
  }
};

export class IsolTracker {
  private readonly tasks = new Map<number, TaskIsolState>();
  private readonly pidOf = new Map<number, number>();
  private readonly declaredPids = new Map<number, Declaration>();
  private readonly declaredTids = new Map<number, Declaration>();
  /** child tgid -> parent tgid for processes seen forking (so a later declaration can cover them). */
  private readonly parentPid = new Map<number, number>();
  private readonly prIsol: 'kernel' | 'absent';
  private readonly now: () => number;
  private gen = 0;

  /** Moves on whenever any task's state or any declaration may have changed (caches of isolInfoFor key on it). */
  get generation(): number {
    return this.gen;
  }

  constructor(opts: TrackerOptions) {
    this.prIsol = opts.prIsol;
    this.now = opts.now ?? (() => 0);
  }

  /** Applies one decoded prctl. Returns true when the task's state changed. */
  apply(rec: IsolRecord): boolean {
    this.gen++;
    this.pidOf.set(rec.tid, rec.pid);
    // Only successful calls on a kernel that has the ABI did anything PR_ISOL-like.
    if (this.prIsol !== 'kernel' || rec.args.kernel !== 'pr_isol' || rec.result !== 0) return false;
    const a = rec.args;
    const st = () => this.taskFor(rec.pid, rec.tid, rec.ts_ns);
    switch (rec.op) {
      case 'PR_ISOL_CFG_SET': {
        if (a.what === 'I_CFG_FEAT') {
          const q = big(a.quiesce_mask);
          if (a.feature === 'ISOL_F_QUIESCE' && q !== undefined) {
            const s = st();
            s.conf_mask |= ISOL_F_QUIESCE;
            s.quiesce_mask = q;
            return true;
          }
          const f = big(a.feature_mask);
          if (f !== undefined) {
            const s = st();
            s.conf_mask = f;
            return true;
          }
        } else if (a.what === 'I_CFG_INHERIT') {
          const m = big(a.inherit_mask);
          if (m !== undefined) {
            st().inherit_mask = Number(m);
            return true;
          }
        }
        return false;
      }
      case 'PR_ISOL_ACTIVATE_SET': {
        const m = big(a.active_mask);
        if (m === undefined) return false;
        const s = st();
        this.setActive(s, m, rec.ts_ns);
        const os = big(a.oneshot_mask);
        if (os !== undefined && os !== 0n) s.last_oneshot = { mask: os, ts_ns: rec.ts_ns };
        return true;
      }
      case 'PR_ISOL_ACTIVATE_GET': {
        // The kernel told the task its active mask: resynchronise if we disagree.
        const m = big(a.active_mask);
        const s = this.tasks.get(rec.tid);
        if (m === undefined || (s === undefined && m === 0n) || s?.active_mask === m) return false;
        this.setActive(st(), m, rec.ts_ns);
        return true;
      }
      case 'PR_ISOL_CFG_GET': {
        const s = this.tasks.get(rec.tid);
        if (a.what === 'I_CFG_FEAT' && a.feature === 'ISOL_F_QUIESCE') {
          const q = big(a.quiesce_mask);
          if (q !== undefined && s && s.quiesce_mask !== q) {
            s.quiesce_mask = q;
            return true;
          }
        }
        return false;
      }
    }
    return false;
  }

  private setActive(s: TaskIsolState, mask: bigint, ts: number): void {
    const was = s.phase;
    s.active_mask = mask;
    if (mask !== 0n) s.phase = 'active';
    else if (was === 'active') s.phase = 'inactive';
    if (s.phase !== was) s.since_ns = ts;
  }

  private taskFor(pid: number, tid: number, ts: number): TaskIsolState {
    let s = this.tasks.get(tid);
    if (!s) {
      s = { pid, tid, phase: 'configured', conf_mask: 0n, active_mask: 0n, quiesce_mask: 0n, inherit_mask: 0, since_ns: ts, via: 'prctl' };
      this.tasks.set(tid, s);
    }
    return s;
  }

  /** fork/clone/exit as the caller observes them (sched_process_fork / exit, or /proc scans). */
  onTaskEvent(ev: TaskEvent): void {
    this.gen++;
    const ts = ev.ts_ns ?? this.now();
    if (ev.type === 'exit') {
      this.tasks.delete(ev.tid);
      this.declaredTids.delete(ev.tid);
      this.pidOf.delete(ev.tid);
      if (ev.group_dead && ev.pid !== undefined) {
        // the process is gone: its pid may be reused by an unrelated process
        this.declaredPids.delete(ev.pid);
        this.parentPid.delete(ev.pid);
      }
      return;
    }
    const parentPid = ev.parent_pid ?? this.pidOf.get(ev.parent_tid) ?? ev.parent_tid;
    this.pidOf.set(ev.parent_tid, parentPid);
    this.pidOf.set(ev.child_tid, ev.child_pid);
    if (ev.child_pid !== parentPid) this.parentPid.set(ev.child_pid, parentPid);
    const p = this.tasks.get(ev.parent_tid);
    // ISOL_INHERIT_ACTIVE is only meaningful together with ISOL_INHERIT_CONF.
    if (p && p.inherit_mask & ISOL_INHERIT_CONF) {
      const withActive = (p.inherit_mask & ISOL_INHERIT_ACTIVE) !== 0 && p.active_mask !== 0n;
      this.tasks.set(ev.child_tid, {
        pid: ev.child_pid,
        tid: ev.child_tid,
        phase: withActive ? 'active' : 'configured',
        conf_mask: p.conf_mask,
        active_mask: withActive ? p.active_mask : 0n,
        quiesce_mask: p.quiesce_mask,
        inherit_mask: p.inherit_mask,
        since_ns: ts,
        via: 'inherited',
      });
    }
    const d = this.declaredPids.get(parentPid);
    if (d?.children && ev.child_pid !== parentPid && !this.declaredPids.has(ev.child_pid)) {
      this.declaredPids.set(ev.child_pid, { since_ns: ts, children: true });
    }
  }

  /** `--pid` / `run`: the user says this process (all its threads) or this thread is isolated. */
  declare(target: { pid: number } | { tid: number }, opts: { children?: boolean; ts_ns?: number } = {}): void {
    this.gen++;
    const d: Declaration = { since_ns: opts.ts_ns ?? this.now(), children: opts.children ?? false };
    if ('pid' in target) {
      this.declaredPids.set(target.pid, d);
      // processes it forked before the declaration (e.g. during run's warm-up) are its children too
      if (d.children) for (const child of this.descendantsOf(target.pid)) if (!this.declaredPids.has(child)) this.declaredPids.set(child, { ...d });
    } else this.declaredTids.set(target.tid, d);
  }

  /** Live processes forked (transitively) by pid, as far as fork events told. */
  private descendantsOf(pid: number): number[] {
    const out: number[] = [];
    const seen = new Set([pid]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [child, parent] of this.parentPid) {
        if (seen.has(parent) && !seen.has(child)) {
          seen.add(child);
          out.push(child);
          grew = true;
        }
      }
    }
    return out;
  }

  undeclare(target: { pid: number } | { tid: number }): void {
    this.gen++;
    if ('pid' in target) this.declaredPids.delete(target.pid);
    else this.declaredTids.delete(target.tid);
  }

  isDeclared(tid: number, pid: number): boolean {
    return this.declaredTids.has(tid) || this.declaredPids.has(pid);
  }

  /** The declaration that covers (tid, pid): a thread's own first, then its process's. */
  declarationFor(tid: number, pid: number): Declaration | undefined {
    const d = this.declaredTids.get(tid) ?? this.declaredPids.get(pid);
    return d && { ...d };
  }

  /** When the thread's observed PR_ISOL state began, or undefined (no copy: the fast path asks per record). */
  stateSince(tid: number): number | undefined {
    return this.tasks.get(tid)?.since_ns;
  }

  stateOf(tid: number): TaskIsolState | undefined {
    const s = this.tasks.get(tid);
    return s && { ...s };
  }

  /** For decodeIsolCall's context: the configured quiesce bits of a task. */
  quiesceMaskFor(_pid: number, tid: number): bigint | undefined {
    const s = this.tasks.get(tid);
    return s && s.conf_mask & ISOL_F_QUIESCE ? s.quiesce_mask : undefined;
  }

  /** The isolation state to put on an interruption of (tid, pid). */
  /**
   * With `atNs`, the state at that time (an interruption's): a declaration or
   * an observed prctl state that began later does not apply to it (records
   * reach the tracker after the fact: a task's start-up syscalls are judged
   * after run's warm-up has declared it).
   */
  isolInfoFor(tid: number, pid: number, kernel?: KernelIsolMasks, atNs?: number): IsolInfo {
    const declared = this.declaredAt(tid, pid, atNs);
    if (kernel?.fromKernel) {
      if (kernel.conf !== 0n || kernel.active !== 0n) {
        return info(kernel.active !== 0n ? 'active' : 'inactive', 'kernel', kernel.active, kernel.quiesce, kernel.conf);
      }
      // The kernel is authoritative about PR_ISOL: no state there means observed prctls are stale.
      if (declared) return { state: 'declared', source: 'declared' };
      return { state: 'none', source: 'kernel' };
    }
    const s = this.tasks.get(tid);
    if (s && (atNs === undefined || s.since_ns <= atNs)) return info(s.phase === 'active' ? 'active' : 'inactive', 'prctl', s.active_mask, s.quiesce_mask, s.conf_mask);
    if (declared) return { state: 'declared', source: 'declared' };
    return { state: 'none', source: 'none' };
  }

  /** Declared (at `atNs`, when given: the declaration began at or before it). */
  private declaredAt(tid: number, pid: number, atNs?: number): boolean {
    const d = this.declaredTids.get(tid) ?? this.declaredPids.get(pid);
    return d !== undefined && (atNs === undefined || d.since_ns <= atNs);
  }

  /** When the declaration covering (tid, pid) began, or undefined. */
  declaredSince(tid: number, pid: number): number | undefined {
    return (this.declaredTids.get(tid) ?? this.declaredPids.get(pid))?.since_ns;
  }
}

function info(state: IsolStateName, source: IsolSource, active: bigint, quiesce: bigint, conf: bigint): IsolInfo {
  return { state, source, active_mask: hex(active), quiesce_mask: hex(quiesce), conf_mask: hex(conf) };
}
