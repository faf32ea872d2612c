// Enforcer: carries out the actions a policy planned, safely. Dry-run unless
// constructed with enforce: true. Never signals PID 1, kernel threads,
// isolwatch itself, or tasks outside the policy's scope; applies rate limits
// and cooldowns; returns an ActionRecord for every action, taken or not.
//
// User-space delivery is process-directed (kill(2) on the tgid via
// process.kill): the kernel picks any thread of the process that does not
// block the signal. Thread-directed delivery (tgkill) would need a native
// call, which only src/libbpf may make; in-kernel mode (bpf_send_signal from
// the victim's own context) is the thread-precise path.
import type { ActionRecord, InterruptionRecord, IsolStateName, TaskRef } from '../types.js';
import { createPolicyState, evaluate, inKernelSignalFor, inProcessScope, type Evaluation, type PlannedAction, type PolicyState } from '../policy/evaluate.js';
import type { Policy } from '../policy/types.js';
import { readProcFacts, type ProcFacts } from './proc.js';

/**
 * Implemented by the BPF loader: while a tid is armed, the kernel side sends
 * `signo` with bpf_send_signal() from that task's own kernel entries, before
 * the entry returns to user space.
 */
export interface InKernelSignaller {
  arm(tid: number, signo: number): void;
  disarm(tid: number): void;
}

/**
 * Interruption flags the kernel side sets when it acted on an armed tid
 * (InterruptionRecord.flags). Without IN_KERNEL_SIGNAL_SENT the Enforcer falls
 * back to user-space delivery so the signal is not lost.
 */
export const IN_KERNEL_SIGNAL_SENT = 'signal_sent';
export const IN_KERNEL_SIGNAL_FAILED = 'signal_failed';

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
}

interface Limiter {
  sent: number[];
  last?: number;
}

export class Enforcer {
  readonly enforce: boolean;
  readonly state: PolicyState;
  private readonly now: () => number;
  private readonly selfPid: number;
  private readonly procRoot: string;
  private readonly kill: (pid: number, signal: string) => void;
  private readonly limiters = new Map<string, Limiter>();
  private readonly armed = new Map<number, number>();

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
    return actions.map((a) => this.executeOne(a, nowNs, rec));
  }

  private executeOne(a: PlannedAction, nowNs: number, rec?: InterruptionRecord): EnforcedAction {
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
    const refusal = this.refusal(a.pid, a.comm);
    if (refusal) return out(refusal);
    const pid = a.pid as number;

    if (a.mode === 'in-kernel') {
      const flags = rec?.flags ?? [];
      // Arm for the next entries even if this one was missed.
      if (this.enforce && this.opts.signaller && a.tid !== undefined && a.signo !== undefined && this.armed.get(a.tid) !== a.signo) {
        this.opts.signaller.arm(a.tid, a.signo);
        this.armed.set(a.tid, a.signo);
      }
      if (this.enforce && flags.includes(IN_KERNEL_SIGNAL_SENT)) {
        this.limit(a, pid, nowNs);
        return out('delivered', 'in-kernel');
      }
      // Not signalled in the kernel (not armed yet, no BPF signaller, or it failed): deliver from user space.
    }
    if (this.limit(a, pid, nowNs)) return out('rate-limited', 'user');
    if (!this.enforce) return out('dry-run'); // the mode the policy asked for
    try {
      this.kill(pid, a.signal as string);
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

  /** Applies cooldown and rate limit; true when this delivery must be suppressed. */
  private limit(a: PlannedAction, pid: number, nowNs: number): boolean {
    if (!a.rateLimit && a.cooldownNs === undefined) return false;
    const key = `${a.rule}\u0000${a.actionIndex}\u0000${pid}`;
    let l = this.limiters.get(key);
    if (!l) this.limiters.set(key, (l = { sent: [] }));
    if (a.cooldownNs !== undefined && l.last !== undefined && nowNs - l.last < a.cooldownNs) return true;
    if (a.rateLimit) {
      const horizon = nowNs - a.rateLimit.windowNs;
      l.sent = l.sent.filter((t) => t > horizon);
      if (l.sent.length >= a.rateLimit.count) return true;
      l.sent.push(nowNs);
    }
    l.last = nowNs;
    return false;
  }

  /**
   * Keeps the in-kernel signaller in step with a task's isolation state: arms
   * the tid when the policy wants in-kernel signals for it, disarms otherwise.
   * Does nothing in dry-run or without a signaller. Returns the armed signal.
   */
  updateTask(task: TaskRef, isol: IsolStateName): { armed: boolean; signal?: string; rule?: string; refused?: string } {
    const sig = this.opts.signaller;
    const want = inKernelSignalFor(this.policy, { pid: task.pid, comm: task.comm, cgroup: readProcFacts(task.pid, this.procRoot).cgroup }, isol);
    const refused = want ? this.refusal(task.pid, task.comm) : undefined;
    if (!sig || !this.enforce || !want || refused) {
      if (sig && this.armed.has(task.tid)) {
        sig.disarm(task.tid);
        this.armed.delete(task.tid);
      }
      return { armed: false, refused };
    }
    if (this.armed.get(task.tid) !== want.signo) {
      sig.arm(task.tid, want.signo);
      this.armed.set(task.tid, want.signo);
    }
    return { armed: true, signal: want.signal, rule: want.rule };
  }

  /** Tids currently armed for in-kernel signals, with their signal numbers. */
  armedTasks(): ReadonlyMap<number, number> {
    return this.armed;
  }

  /** Disarms every in-kernel signal this Enforcer armed. Safe to call twice. */
  close(): void {
    for (const tid of [...this.armed.keys()]) {
      this.opts.signaller?.disarm(tid);
      this.armed.delete(tid);
    }
  }
}
