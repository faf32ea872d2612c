// The output contract (DESIGN.md "NDJSON records") as TypeScript types.
// Every consumer — text/JSON/JUnit/markdown reporters, the TUI, policies,
// enforcement — works on these objects, never on raw BPF records.
import type { AggregateRow } from './verdict/rows.js';

export const CLASSES = [
  'syscall',
  'page_fault',
  'exception',
  'irq',
  'timer',
  'ipi',
  'softirq',
  'workqueue',
  'preempt',
  'nmi',
  'kernel',
] as const;
export type InterruptionClass = (typeof CLASSES)[number];

export type IsolStateName = 'active' | 'inactive' | 'declared' | 'none';

/** Where a task's isolation state came from. */
export type IsolSource = 'kernel' | 'prctl' | 'declared' | 'none';

export interface TaskRef {
  pid: number;
  tid: number;
  comm: string;
}

export interface Cause {
  /** true when the victim caused it itself (syscall, page fault). */
  self: boolean;
  cpu?: number;
  pid?: number;
  tid?: number;
  comm?: string;
  /** symbolized kernel function that queued the IPI / work, e.g. "membarrier_private_expedited+0x8d" */
  callsite?: string;
  /** when the sender queued the IPI / work / wake-up (the ts_ns clock) */
  ts_ns?: number;
  /**
   * timer_early: the expiry the CPU's timer device had been set for (the ts_ns clock), later
   * than the interruption: the device cannot wait that long and fired to be re-armed
   */
  due_ns?: number;
  /**
   * The context the sender was in when it queued the cause:
   * "task" (pid/tid/comm are the sender), "hardirq", "softirq" (e.g. a delayed-work timer),
   * "nmi", "self"; "timer_early": nobody, the CPU's own timer device fired before the expiry it
   * was set for (due_ns), because it cannot count that far (its max_delta) and must be re-armed.
   * When not "task", pid/tid/comm are omitted: the interrupted task did not cause it.
   */
  context?: 'task' | 'hardirq' | 'softirq' | 'nmi' | 'self' | 'timer_early' | 'unknown';
  /** 'isolwatch' when the interruption was caused by isolwatch itself. */
  origin?: 'isolwatch';
}

export interface IsolInfo {
  state: IsolStateName;
  source?: IsolSource;
  active_mask?: string; // hex, e.g. "0x1"
  quiesce_mask?: string;
  conf_mask?: string;
}

export interface ChainEntry {
  class: InterruptionClass;
  kind: string;
  /** the kernel function that ran (IRQ handler, timer callback, work function, cross-CPU call) */
  func?: string;
  /** page_fault: the faulting address, hex */
  address?: string;
  /** syscall: its return value (negative: -errno) */
  ret?: number;
  name?: string;
  duration_ns: number;
  depth: number;
}

export interface StartRecord {
  type: 'start';
  version: string;
  kernel: string;
  arch: string;
  watched_cpus: number[];
  isolated: number[];
  nohz_full: number[];
  /** Why these CPUs: "isolated", "nohz_full", "user", "fallback-highest" */
  watched_reason?: string;
  pr_isol: 'kernel' | 'absent';
  probes: { attached: string[]; missing: string[] };
  /**
   * How the kernel flushes other CPUs' TLBs: "ipi" (flush_tlb_func IPIs),
   * "pv-ipi:kvm_flush_tlb_multi" (IPIs to running vCPUs only),
   * "hypervisor:pvm_flush_tlb_multi" (no IPI reaches the guest), "unknown"
   */
  tlb_flush?: string;
  /** the hypervisor's steal clock and how isolwatch reads it (src/system/steal.ts) */
  steal?: StealInfo;
  ts_ns?: number;
  command?: string;
}

/**
 * Steal time: what the hypervisor ran instead of a vCPU that had work, as the
 * guest kernel accounts it. Not an interruption isolwatch sees (the vCPU was
 * not running): reported beside the interruptions, never judged.
 */
export interface StealInfo {
  /** the steal clock the kernel reads: "kvm_steal_clock", "xen_steal_clock", ...; "none" (bare metal, or a guest without one); "unknown" */
  clock: string;
  /** a virtual machine (CPUID's hypervisor bit), when known */
  vm?: boolean;
  /** how isolwatch reads it: "pv-clock" (the clock's per-CPU memory, ns), "proc-stat" (/proc/stat, USER_HZ ticks), "none" */
  source: 'pv-clock' | 'proc-stat' | 'none';
  /** the step of the readings, ns (0: none) */
  resolution_ns: number;
  /** how that was found out */
  evidence?: string;
}

/** The summary's `steal`: how it was read, and for `run` the steal of the judged window per CPU. */
export interface SummarySteal extends Omit<StealInfo, 'evidence'> {
  judged?: { window_ns: number; by_cpu: Record<string, number> };
}

export interface InterruptionRecord {
  type: 'interruption';
  ts_ns: number;
  cpu: number;
  duration_ns: number;
  class: InterruptionClass;
  kind: string;
  func?: string;
  victim: TaskRef;
  cause: Cause;
  isol: IsolInfo;
  violation: boolean;
  /** e.g. "in_syscall", "no_exit", "open_end", "chain_truncated" */
  flags?: string[];
  action?: ActionRecord;
  /** Every action the policy planned for this interruption (log, signal, fail), taken or would-be, with its result. */
  actions?: ActionRecord[];
  /** What the judgement has to say, e.g. "own syscall: the kernel quiesces on return by design". */
  note?: string;
  chain: ChainEntry[];
}

export interface ActionRecord {
  kind: 'log' | 'signal' | 'fail';
  signal?: string;
  target?: 'victim' | 'cause';
  pid?: number;
  mode?: 'in-kernel' | 'user';
  /** delivered | dry-run | EPERM | ESRCH | rate-limited | pending (the same signal still pending: it would merge) | refused:<why> */
  result: string;
  rule?: string;
  /** Why: the rule, what hit whom, which budget was exceeded. */
  reason?: string;
}

export interface IsolRecord {
  type: 'isol';
  ts_ns: number;
  pid: number;
  tid: number;
  comm: string;
  op: string; // e.g. PR_ISOL_ACTIVATE_SET
  args: Record<string, string | number>;
  result: number;
  /** What the call meant on this kernel, e.g. "PR_SET_MDWE (stock kernel): ..." */
  meaning: string;
  warning?: boolean;
}

export interface CpuSummary {
  by_class: Partial<Record<InterruptionClass, number>>;
  stolen_ns: number;
  max_ns: number;
  /** steal time over the session (absent without a steal clock): not in stolen_ns, not judged */
  steal_ns?: number;
}

export interface TaskSummary {
  pid: number;
  tid: number;
  comm: string;
  isol: IsolStateName;
  source?: IsolSource;
  interruptions: number;
  violations: number;
  stolen_ns: number;
}

/** One class on one CPU: count + self_caused = delivered + sampled + lost, exactly. */
export interface RecordsClassAccount {
  count: number;
  self_caused: number;
  delivered: number;
  sampled: number;
  lost: number;
}

/** How interruption records reached user space (the counts themselves never depend on it). */
export interface RecordsAccount {
  /** 'sampled': the first record of each aggregate key and a few a second; 'all': every one that fits the ring */
  mode: 'sampled' | 'all';
  /** interruption records put on the ring */
  delivered: number;
  /** not sent (sampled mode) */
  sampled: number;
  /** the ring had no room for them */
  lost: number;
  /** cpu -> class -> its account */
  by_cpu: Record<string, Partial<Record<InterruptionClass, RecordsClassAccount>>>;
}

/**
 * The in-kernel aggregates as rows (src/verdict/rows.ts AggregateRow):
 * scope 'interval' carries what changed since the previous aggregate record
 * (counts, stolen time and histograms are the growth; max_ns is the key's
 * longest so far), 'total' everything since the start (written once, at the end).
 */
export interface AggregateRecord {
  type: 'aggregate';
  scope: 'interval' | 'total';
  /** the interval (ts_ns clock); a total's from_ns is the start */
  from_ns: number;
  to_ns: number;
  /** steal time per watched CPU in the same span (absent without a steal clock): not an interruption, no row */
  steal_ns?: Record<string, number>;
  rows: AggregateRow[];
}

export interface SummaryRecord {
  type: 'summary';
  duration_s: number;
  cpus: Record<string, CpuSummary>;
  tasks: TaskSummary[];
  violations: number;
  lost_events: number;
  /**
   * watch: records correlated (and counted above) but not written, because the
   * reader of stdout fell more than STDOUT_BACKLOG_BYTES behind; absent when 0
   */
  output_dropped?: number;
  /**
   * probe (tracepoint or kprobe) -> runs of it the kernel skipped because one of isolwatch's
   * programs was already running on that CPU: what happened then was not seen, so the counts may
   * be short; absent when none was skipped
   */
  probe_misses?: Record<string, number>;
  /** interruptions on watched CPUs caused by isolwatch itself */
  self_caused: number;
  /** authoritative per-CPU per-class kernel counters (survive ring-buffer loss) */
  kernel_counts?: Record<string, Partial<Record<InterruptionClass, number>>>;
  /** how interruption records reached user space: delivered, sampled away, lost, per CPU and class */
  records?: RecordsAccount;
  /** watched CPUs that were offline (CPU hotplug) for some of the session: cpu -> ns offline */
  offline_ns?: Record<string, number>;
  /** the steal clock, how it was read, and (run) the judged window's steal; per-CPU totals are in cpus[].steal_ns */
  steal?: SummarySteal;
  /** set by `run` */
  verdict?: {
    pass: boolean;
    reasons: string[];
    exit_status?: number | null;
    signal?: string | null;
    /** run: the judged window (same clock as ts_ns); to_ns absent when it lasted until the command exited */
    judged?: { from_ns: number; to_ns?: number };
  };
}

/** A watched CPU went offline or came back (CPU hotplug): nothing can be seen on it while it is offline. */
export interface CpuRecord {
  type: 'cpu';
  /** when isolwatch noticed (polled once a second; ts_ns clock) */
  ts_ns: number;
  cpu: number;
  online: boolean;
}

export type OutputRecord = StartRecord | InterruptionRecord | IsolRecord | CpuRecord | AggregateRecord | SummaryRecord;
