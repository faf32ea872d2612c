// Enforcer: carries out the actions a policy planned, safely. Dry-run unless
// constructed with enforce: true. Never signals PID 1, kernel threads,
// isolwatch itself, or tasks outside the policy's scope; applies rate limits
// and cooldowns (src/enforce/limit.ts); returns an ActionRecord for every
// action, taken or not.
//
// Two delivery paths:
// - in-kernel: the Enforcer arms a thread (InKernelSignaller, implemented by
//   the BPF session); the kernel side sends the signal with
//   bpf_send_signal_thread from that thread's own syscall entries / user page
//   faults, so it is handled before the entry returns to user space, and keeps
//   the cooldown and rate limit itself. Records say what it did (flags
//   signal_sent, signal_held, signal_failed).
// - user: kill(2) on the process (process.kill on the tgid) after the record
//   arrives: process-directed, any thread that does not block the signal takes
//   it. Thread-directed tgkill would need a native call, which only src/libbpf
//   may make. Used for user-mode actions, and for in-kernel actions the kernel
//   side did not carry out (external causes, a thread not armed yet, failure).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionRecord, InterruptionRecord, IsolStateName, TaskRef } from '../types.js';
import { createPolicyState, evaluate, inKernelSignalFor, inProcessScope, type Evaluation, type PlannedAction, type PolicyState } from '../policy/evaluate.js';
import type { Policy } from '../policy/types.js';
import { allows, charge, newLimitState, tryTake, type LimitSpec, type LimitState } from './limit.js';
import { readProcFacts, sharedSignalPending, type ProcFacts } from './proc.js';

/** What the kernel side is asked to do for one armed thread. */
export interface InKernelArm {
  signo: number;
  /** signal at the thread's syscall entries */
  onSyscall: boolean;
  /** signal at its user-mode page faults */
  onFault: boolean;
  cooldownNs?: number;
  rateLimit?: { count: number; windowNs: number };
}

/**
 * Implemented by the BPF session: while a tid is armed, the kernel side sends
 * the signal with bpf_send_signal_thread() from that thread's own kernel
 * entries, before the entry returns to user space.
 */
export interface InKernelSignaller {
  arm(tid: number, arm: InKernelArm): void;
  disarm(tid: number): void;
}

/**
 * Interruption flags the kernel side sets on an armed thread's entries
 * (InterruptionRecord.flags): sent, held back by the cooldown / rate limit, or
 * refused by the kernel (then the Enforcer delivers from user space).
 */
export const IN_KERNEL_SIGNAL_SENT = 'signal_sent';
export const IN_KERNEL_SIGNAL_HELD = 'signal_held';
export const IN_KERNEL_SIGNAL_FAILED = 'signal_failed';

/** A rule whose `fail` action fired: the run (or watch) fails. */
export interface PolicyFailure {
  rule: string;
  message?: string;
  count: number;
  /** the reason of the first violation that failed it */
  firstReason: string;
}

/** A signal that was delivered (in-kernel or from user space), for reports. */
export interface SignalSent {
  pid: number;
  signal: string;
  mode: 'in-kernel' | 'user';
  rule: string;
  reason: string;
}

/** An ActionRecord plus the human reason (rule, entry, budget) it was planned for. */
export type EnforcedAction = ActionRecord & { reason: string };

export interface EnforcerOptions {
  /** Actually send signals; default false (dry-run). */
  enforce?: boolean;
  signaller?: InKernelSignaller;
  /** Clock in ns for rate limits when callers pass none; default process.hrtime. */
  now?: () => number;
  /** isolwatch's own pid; default process.pid. */
  selfPid?: number;
  procRoot?: string;
  /** Signal sender; default process.kill. Tests inject spies. */
  kill?: (pid: number, signal: string) => void;
  /**
   * The CPUs being watched. With scope.cpus in the policy, threads are armed
   * in-kernel only when every watched CPU is in scope (the kernel side does
   * not check CPUs against the scope).
   */
  watchedCpus?: number[];
  /**
   * The clock cooldowns and rate limits of user-space signals run on:
   * 'record' (default) the time handle() is given (replays, tests), 'wall'
   * now(). Live sessions use 'wall': records arrive in batches every drain
   * period, and a cooldown judged on their timestamps would let a whole batch
   * of signals out at once (and standard signals coalesce).
   */
  limitClock?: 'record' | 'wall';
}

export class Enforcer {
  readonly enforce: boolean;
  readonly state: PolicyState;
  private readonly now: () => number;
  private readonly selfPid: number;
  private readonly procRoot: string;
  private readonly kill: (pid: number, signal: string) => void;
  private readonly limiters = new Map<string, LimitState>();
  private readonly failures = new Map<string, PolicyFailure>();
  /** the first delivered signal per process and per process+signal (bounded: one entry each) */
  private readonly signalled = new Map<string, SignalSent>();
  /** tid -> what it is armed with (JSON of the InKernelArm), and its signal number */
  private readonly armed = new Map<number, { key: string; signo: number }>();
  /** tids updateTask has decided for: records of other threads arm them lazily */
  private readonly considered = new Set<number>();

  constructor(
    readonly policy: Policy,
    private readonly opts: EnforcerOptions = {},
  ) {
    this.enforce = opts.enforce === true;
    this.now = opts.now ?? (() => Number(process.hrtime.bigint()));
    this.selfPid = opts.selfPid ?? process.pid;
    this.procRoot = opts.procRoot ?? '/proc';
    this.kill = opts.kill ?? ((pid, sig) => void process.kill(pid, sig as NodeJS.Signals));
    this.state = createPolicyState({ cgroupOf: (pid) => readProcFacts(pid, this.procRoot).cgroup });
  }

  /** Evaluates one interruption and carries out what the policy planned. */
  handle(rec: InterruptionRecord, nowNs: number = this.now()): { evaluation: Evaluation; records: EnforcedAction[] } {
    const evaluation = evaluate(this.policy, rec, this.state, nowNs);
    return { evaluation, records: this.execute(evaluation.actions, nowNs, rec) };
  }

  execute(actions: readonly PlannedAction[], nowNs: number = this.now(), rec?: InterruptionRecord): EnforcedAction[] {
    // Budgets are judged on the record's time; signals are limited on the time they go out.
    const sendNs = this.opts.limitClock === 'wall' ? this.now() : nowNs;
    return actions.map((a) => this.executeOne(a, sendNs, rec, nowNs));
  }

  private executeOne(a: PlannedAction, nowNs: number, rec?: InterruptionRecord, recordNs = nowNs): EnforcedAction {
    if (a.kind === 'fail') {
      const f = this.failures.get(a.rule);
      if (f) f.count++;
      else this.failures.set(a.rule, { rule: a.rule, message: a.message, count: 1, firstReason: a.reason });
    }
    if (a.kind !== 'signal') return { kind: a.kind, result: 'delivered', rule: a.rule, reason: a.reason };
    const out = (result: string, mode = a.mode): EnforcedAction => ({
      kind: 'signal',
      signal: a.signal,
      target: a.target,
      ...(a.pid !== undefined ? { pid: a.pid } : {}),
      mode,
      result,
      rule: a.rule,
      reason: a.reason,
    });
    const spec: LimitSpec = { cooldownNs: a.cooldownNs, rateLimit: a.rateLimit };
    const flags = rec?.flags ?? [];
    if (a.mode === 'in-kernel' && this.enforce && a.pid !== undefined) {
      // The kernel side already acted on this entry of a thread this session armed (safety was checked
      // when arming; only this Enforcer writes the session's map): report it even if the thread is gone
      // by now (SIGKILL, or an exit after which sweep() disarmed it).
      if (flags.includes(IN_KERNEL_SIGNAL_SENT)) {
        charge(this.limiter(a, a.pid), spec, nowNs); // so user-space fallbacks see the kernel's sends
        this.noteSignal({ pid: a.pid, signal: a.signal as string, mode: 'in-kernel', rule: a.rule, reason: a.reason });
        return out('delivered', 'in-kernel');
      }
      if (flags.includes(IN_KERNEL_SIGNAL_HELD)) return out('rate-limited', 'in-kernel');
    }
    // not carried out by the kernel side: what follows is the user-space path (recorded as mode user when enforcing)
    const refusal = this.refusal(a.pid, a.comm);
    if (refusal) return out(refusal, this.enforce ? 'user' : a.mode);
    const pid = a.pid as number;
    const limiter = this.limiter(a, pid);
    // A thread not decided for yet (e.g. a new thread of a declared process): arm it for its next entries.
    if (a.mode === 'in-kernel' && this.enforce && rec && rec.victim.tid === a.tid && !this.considered.has(a.tid)) this.updateTask(rec.victim, rec.isol.state);
    // Not signalled in the kernel (user mode, external cause, not armed yet, kernel refused): from user space.
    if (!this.enforce) {
      // In the mode the policy asked for. The task's own entries would be limited by the kernel side, on its clock.
      const kernelSide = a.mode === 'in-kernel' && rec?.cause.self === true && (rec.class === 'syscall' || rec.class === 'page_fault');
      return out(tryTake(limiter, spec, kernelSide ? recordNs : nowNs) ? 'dry-run' : 'rate-limited');
    }
    if (!allows(limiter, spec, nowNs)) return out('rate-limited', 'user');
    // The same standard signal still pending: another kill(2) would merge with it, not reach the handler again.
    if (a.signo !== undefined && a.signo < 32 && a.signo !== 9 && sharedSignalPending(pid, a.signo, this.procRoot)) return out('pending', 'user');
    // A SIGKILL already sent: the process is on its way out (a drained batch holds many of its records).
    if (a.signo === 9 && this.firstSignalTo(pid, 'SIGKILL')) return out('pending', 'user');
    tryTake(limiter, spec, nowNs);
    try {
      this.kill(pid, a.signal as string);
      this.noteSignal({ pid, signal: a.signal as string, mode: 'user', rule: a.rule, reason: a.reason });
      return out('delivered', 'user');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return out(code === 'EPERM' || code === 'ESRCH' ? code : `refused:${code ?? 'error'}`, 'user');
    }
  }

  /** Why a pid must not be signalled, as "refused:<why>" or "ESRCH"; undefined when it may be. */
  private refusal(pid: number | undefined, comm: string | undefined): string | undefined {
    if (pid === undefined) return 'refused:no-task'; // the cause was not a task (timer, IRQ, softirq context)
    if (!Number.isInteger(pid) || pid <= 0) return 'refused:bad-pid'; // kill(0|-N) would hit process groups
    if (pid === 1) return 'refused:pid-1';
    if (pid === this.selfPid) return 'refused:isolwatch-itself';
    const facts: ProcFacts = readProcFacts(pid, this.procRoot);
    if (!facts.exists) return 'ESRCH';
    if (facts.kthread) return 'refused:kernel-thread';
    if (!inProcessScope(this.policy.scope, { pid, comm: facts.comm ?? comm, cgroup: facts.cgroup })) return 'refused:out-of-scope';
    return undefined;
  }

  /** The limiter of one action for one process (rule, action, pid). */
  private limiter(a: PlannedAction, pid: number): LimitState {
    const key = `${a.rule}\u0000${a.actionIndex}\u0000${pid}`;
    let l = this.limiters.get(key);
    if (!l) this.limiters.set(key, (l = newLimitState()));
    return l;
  }

  /**
   * Keeps the in-kernel signaller in step with a thread's isolation state:
   * arms the tid when the policy wants in-kernel signals for its own entries
   * (see inKernelSignalFor), disarms otherwise. Does nothing in dry-run or
   * without a signaller. An empty comm is read from /proc.
   */
  updateTask(task: TaskRef, isol: IsolStateName): { armed: boolean; signal?: string; rule?: string; refused?: string } {
    const sig = this.opts.signaller;
    const facts = readProcFacts(task.pid, this.procRoot);
    const comm = task.comm || facts.comm;
    this.considered.add(task.tid);
    const plan = inKernelSignalFor(this.policy, { pid: task.pid, comm, cgroup: facts.cgroup }, isol);
    const refused = plan ? this.refusal(task.pid, comm) : undefined;
    const scopeCpus = this.policy.scope.cpus;
    const cpusOk = !scopeCpus || (this.opts.watchedCpus !== undefined && this.opts.watchedCpus.every((c) => scopeCpus.includes(c)));
    if (!sig || !this.enforce || !plan || refused || !cpusOk) {
      if (sig && this.armed.has(task.tid)) {
        sig.disarm(task.tid);
        this.armed.delete(task.tid);
      }
      return { armed: false, refused };
    }
    const arm: InKernelArm = {
      signo: plan.signo,
      onSyscall: plan.onSyscall,
      onFault: plan.onFault,
      ...(plan.cooldownNs !== undefined ? { cooldownNs: plan.cooldownNs } : {}),
      ...(plan.rateLimit ? { rateLimit: plan.rateLimit } : {}),
    };
    const key = JSON.stringify(arm);
    if (this.armed.get(task.tid)?.key !== key) {
      sig.arm(task.tid, arm);
      this.armed.set(task.tid, { key, signo: plan.signo });
    }
    return { armed: true, signal: plan.signal, rule: plan.rule };
  }

  /** updateTask for every thread of a process (/proc/PID/task); returns how many were armed. */
  updateProcess(pid: number, isol: IsolStateName): number {
    let tids: number[];
    try {
      tids = readdirSync(join(this.procRoot, String(pid), 'task')).map(Number).filter((t) => Number.isInteger(t) && t > 0);
    } catch {
      tids = [pid];
    }
    let armed = 0;
    for (const tid of tids) if (this.updateTask({ pid, tid, comm: '' }, isol).armed) armed++;
    return armed;
  }

  /**
   * Disarms threads that are gone (e.g. killed in-kernel), so a reused tid is
   * never signalled. Call it periodically; returns the tids disarmed.
   */
  sweep(): number[] {
    const gone: number[] = [];
    for (const tid of this.armed.keys()) {
      if (existsSync(join(this.procRoot, String(tid)))) continue; // /proc/TID resolves threads too
      this.opts.signaller?.disarm(tid);
      this.armed.delete(tid);
      gone.push(tid);
    }
    return gone;
  }

  /** Rules whose fail action fired, in the order they first did. */
  policyFailures(): PolicyFailure[] {
    return [...this.failures.values()];
  }

  private noteSignal(s: SignalSent): void {
    for (const key of [`${s.pid}`, `${s.pid}/${s.signal}`]) if (!this.signalled.has(key)) this.signalled.set(key, s);
  }

  /** The first signal delivered to a process (of that name, if given), for saying why a command died. */
  firstSignalTo(pid: number, signal?: string): SignalSent | undefined {
    return this.signalled.get(signal === undefined ? `${pid}` : `${pid}/${signal}`);
  }

  /** Tids currently armed for in-kernel signals, with their signal numbers. */
  armedTasks(): ReadonlyMap<number, number> {
    return new Map([...this.armed].map(([tid, a]) => [tid, a.signo]));
  }

  /** Disarms every in-kernel signal this Enforcer armed. Safe to call twice. */
  close(): void {
    for (const tid of [...this.armed.keys()]) {
      this.opts.signaller?.disarm(tid);
      this.armed.delete(tid);
    }
  }
}
