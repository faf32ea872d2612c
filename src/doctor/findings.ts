// Every finding the doctor can report: its stable id, default severity, and
// why it matters, i.e. which interruptions it leads to and which remedy
// catalogue entries (src/remedies.ts) explain them. Checks supply the
// observation (title, evidence, exact remedy); the reasoning lives here, once.
import { REMEDY_DOC } from '../remedies.js';
import type { Evidence, Finding, Severity, Why } from './types.js';

interface FindingDef {
  severity: Severity;
  why: string;
  interruptions: Why['interruptions'];
  remedies: string[];
}

export const FINDING_DEFS = {
  'kernel-config-unreadable': {
    severity: 'info',
    why: 'Without the kernel config the doctor cannot tell whether nohz_full= and isolcpus= can work on this kernel; the checks below rely on sysfs alone.',
    interruptions: [],
    remedies: [],
  },
  'kernel-no-btf': {
    severity: 'error',
    why: 'isolwatch attaches CO-RE BPF programs to tp_btf tracepoints; without kernel BTF it cannot watch anything (exit code 3).',
    interruptions: [],
    remedies: [],
  },
  'kernel-no-bpf': {
    severity: 'error',
    why: 'isolwatch needs the bpf() syscall to load its programs; without it it cannot watch anything (exit code 3).',
    interruptions: [],
    remedies: [],
  },
  'pr-isol-absent': {
    severity: 'info',
    why:
      'Without the PR_ISOL ABI nothing quiesces per-CPU kernel work (vmstat) on return to user space, and prctl options 63-67 ' +
      'are other options here (65 PR_SET_MDWE, 67 PR_SET_MEMORY_MERGE): isolwatch never issues them and reports what observed calls meant.',
    interruptions: [{ class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update' }],
    remedies: ['vmstat-update'],
  },
  'pr-isol-present': {
    severity: 'info',
    why: "The kernel carries the PR_ISOL task isolation ABI: isolwatch reads tasks' isolation state from the kernel.",
    interruptions: [],
    remedies: [],
  },
  'cpus-not-online': {
    severity: 'error',
    why: 'An offline CPU runs nothing; watching it measures nothing.',
    interruptions: [],
    remedies: [],
  },
  'cmdline-unparsed': {
    severity: 'info',
    why: 'The doctor could not read these CPU lists, so it cannot compare them with what took effect.',
    interruptions: [],
    remedies: [],
  },
  'kernel-no-nohz-full': {
    severity: 'warning',
    why: 'This kernel cannot stop the scheduler tick on any CPU: every CPU takes a local timer interrupt (and RCU/timer softirqs) HZ times a second.',
    interruptions: [
      { class: 'timer', kind: 'local_timer' },
      { class: 'softirq', kind: 'TIMER' },
    ],
    remedies: ['tick', 'softirq-timer'],
  },
  'nohz-full-ignored': {
    severity: 'error',
    why: 'The tick was meant to stop on these CPUs and does not: local timer interrupts, timer and RCU softirqs keep coming.',
    interruptions: [
      { class: 'timer', kind: 'local_timer' },
      { class: 'softirq', kind: 'RCU' },
    ],
    remedies: ['tick', 'rcu'],
  },
  'cpus-not-nohz-full': {
    severity: 'warning',
    why: 'The tick runs on these CPUs even with a single task: a local timer interrupt HZ times a second, plus the timer softirq.',
    interruptions: [
      { class: 'timer', kind: 'local_timer' },
      { class: 'softirq', kind: 'TIMER' },
    ],
    remedies: ['tick', 'softirq-timer', 'nohz-full-kick'],
  },
  'kernel-no-cpu-isolation': {
    severity: 'warning',
    why: 'Built without CONFIG_CPU_ISOLATION the kernel has no housekeeping masks: isolcpus= is not honoured and kernel work is spread over all CPUs.',
    interruptions: [{ class: 'preempt', kind: '<other task>' }],
    remedies: ['preemption'],
  },
  'isolcpus-ignored': {
    severity: 'error',
    why: 'These CPUs were meant to be out of the scheduler domains and are not: other tasks are balanced onto them and preempt the isolated task.',
    interruptions: [
      { class: 'preempt', kind: '<other task>' },
      { class: 'ipi', kind: 'reschedule' },
    ],
    remedies: ['preemption', 'reschedule'],
  },
  'cpus-not-isolated': {
    severity: 'warning',
    why:
      'Not isolated (isolcpus=domain or a cpuset isolated partition), these CPUs take load-balanced tasks, and kernel work that ' +
      'skips isolated CPUs (vmstat, memcg drains, SCHED softirq) still runs on them.',
    interruptions: [
      { class: 'preempt', kind: '<other task>' },
      { class: 'ipi', kind: 'reschedule' },
      { class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update' },
      { class: 'softirq', kind: 'SCHED' },
    ],
    remedies: ['preemption', 'reschedule', 'vmstat-update', 'memcg-drain', 'softirq-sched', 'workqueue-other'],
  },
  'isolcpus-no-managed-irq': {
    severity: 'warning',
    why: 'Without isolcpus=managed_irq the kernel spreads managed IRQs (NVMe and multi-queue NIC queues) over the isolated CPUs, and their affinity cannot be changed afterwards.',
    interruptions: [
      { class: 'irq', kind: '<device>' },
      { class: 'softirq', kind: 'BLOCK' },
    ],
    remedies: ['device-irq', 'softirq-block'],
  },
  'rcu-nocbs-missing': {
    severity: 'warning',
    why: 'RCU callbacks queued on these CPUs are invoked there (RCU softirq or rcuc/N) unless the CPUs are offloaded (rcu_nocbs=, implied by nohz_full=).',
    interruptions: [{ class: 'softirq', kind: 'RCU' }],
    remedies: ['rcu'],
  },
  'irq-default-affinity': {
    severity: 'warning',
    why: 'Newly requested IRQs start with this affinity: drivers loaded later (or re-probed devices) deliver interrupts to the watched CPUs.',
    interruptions: [{ class: 'irq', kind: '<device>' }],
    remedies: ['device-irq'],
  },
  'irq-on-isolated-cpu': {
    severity: 'warning',
    why: 'Each of these device IRQs may be delivered to a watched CPU, with the softirq work (NET_RX, BLOCK, tasklets) it raises.',
    interruptions: [
      { class: 'irq', kind: '<device>' },
      { class: 'softirq', kind: 'NET_RX' },
    ],
    remedies: ['device-irq', 'softirq-net', 'softirq-block', 'softirq-tasklet', 'softirq-other'],
  },
  'irqbalance-moves-irqs': {
    severity: 'warning',
    why: 'irqbalance rewrites IRQ affinities every 10 s: IRQs moved off the watched CPUs by hand come back unless the CPUs are banned.',
    interruptions: [{ class: 'irq', kind: '<device>' }],
    remedies: ['device-irq'],
  },
  'workqueue-unbound-on-isolated': {
    severity: 'warning',
    why: 'Unbound work (writeback, crypto, network teardown, ...) is run by kworker/u* threads on any CPU in this mask, preempting the isolated task.',
    interruptions: [{ class: 'preempt', kind: 'kworker/u*' }],
    remedies: ['unbound-kworker'],
  },
  'watchdog-on-isolated': {
    severity: 'warning',
    why:
      'The lockup detectors run on every CPU in watchdog_cpumask: an hrtimer and the migration/N stopper every 4 s (soft lockup) ' +
      'and, with nmi_watchdog=1, a perf NMI (hard lockup).',
    interruptions: [
      { class: 'timer', kind: 'hrtimer', func: 'watchdog_timer_fn' },
      { class: 'preempt', kind: 'migration/N' },
      { class: 'nmi', kind: 'nmi', func: 'perf_event_nmi_handler' },
    ],
    remedies: ['timer-lockup-watchdog', 'lockup-watchdog-stopper', 'nmi-watchdog', 'nmi-other'],
  },
  'vmstat-interval-low': {
    severity: 'warning',
    why: 'vmstat_update work is queued to a CPU whose VM counters the task dirtied, every vm.stat_interval seconds (kernels >= 6.5 skip isolated CPUs).',
    interruptions: [{ class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update' }],
    remedies: ['vmstat-update'],
  },
  'numa-balancing-on': {
    severity: 'warning',
    why: 'NUMA balancing unmaps pages of running tasks to sample their accesses: hinting page faults in the task and TLB shootdown IPIs to its CPUs.',
    interruptions: [
      { class: 'page_fault', kind: 'user' },
      { class: 'ipi', kind: 'call_function', func: 'flush_tlb_func' },
    ],
    remedies: ['page-fault', 'tlb-shootdown'],
  },
  'thp-enabled': {
    severity: 'warning',
    why: 'khugepaged collapses and splits huge pages behind the task: TLB shootdown IPIs to its CPUs and page faults.',
    interruptions: [
      { class: 'ipi', kind: 'call_function', func: 'flush_tlb_func' },
      { class: 'page_fault', kind: 'user' },
    ],
    remedies: ['tlb-shootdown', 'page-fault'],
  },
  'ksm-running': {
    severity: 'warning',
    why: 'ksmd merges pages write-protected: TLB shootdown IPIs when it merges and copy-on-write faults when the task writes.',
    interruptions: [
      { class: 'ipi', kind: 'call_function', func: 'flush_tlb_func' },
      { class: 'page_fault', kind: 'user' },
    ],
    remedies: ['tlb-shootdown', 'page-fault'],
  },
  'timer-migration-on': {
    severity: 'info',
    why: 'With timer migration on, timers of idle CPUs are handed to other CPUs; on kernels whose migration hierarchy includes isolated CPUs, an idle isolated CPU can be chosen to expire them.',
    interruptions: [
      { class: 'timer', kind: 'timer' },
      { class: 'softirq', kind: 'TIMER' },
    ],
    remedies: ['timer-other', 'softirq-timer'],
  },
  'rt-throttling-on': {
    severity: 'info',
    why: 'RT throttling takes the CPU away from a SCHED_FIFO/RR task that runs for longer than sched_rt_runtime_us per sched_rt_period_us: a busy-polling RT task is forced off every second.',
    interruptions: [{ class: 'preempt', kind: '<other task>' }],
    remedies: ['preemption'],
  },
  'mce-poll': {
    severity: 'warning',
    why:
      'The machine-check poll runs a timer (mce_timer_fn) on every CPU each check_interval seconds; a nohz_full CPU whose next ' +
      'timer is that far away also takes early local timer interrupts from its timer device (timer-device-range).',
    interruptions: [
      { class: 'timer', kind: 'timer', func: 'mce_timer_fn' },
      { class: 'timer', kind: 'local_timer' },
    ],
    remedies: ['timer-mce', 'timer-early'],
  },
  'timer-device-range': {
    severity: 'warning',
    why:
      "A timer device cannot be set further ahead than its max_delta: a CPU whose next timer is further away takes a local timer " +
      'interrupt that runs nothing every max_delta until then (isolwatch names its cause timer_early).',
    interruptions: [{ class: 'timer', kind: 'local_timer' }],
    remedies: ['timer-early'],
  },
  'clocksource-no-vdso': {
    severity: 'warning',
    why: 'With this clocksource clock_gettime()/gettimeofday() cannot use the vDSO: every clock read is a syscall.',
    interruptions: [{ class: 'syscall', kind: 'clock_gettime' }],
    remedies: ['syscall-clock', 'syscall'],
  },
  'tlb-flush-hypervisor': {
    severity: 'warning',
    why:
      'Shootdowns reach isolated vCPUs as VM exits that no guest tracer sees (isolwatch, perf, bpftrace, osnoise): ' +
      'there is no flush_tlb_func IPI to attribute, and their cost shows only as stolen time.',
    interruptions: [{ class: 'ipi', kind: 'call_function', func: 'flush_tlb_func' }],
    remedies: ['tlb-shootdown'],
  },
  'tlb-flush-paravirt': {
    severity: 'info',
    why:
      'Running vCPUs get flush_tlb_func IPIs as usual (isolwatch attributes them); a preempted vCPU is flushed by the ' +
      'hypervisor at its next entry instead, which no guest tracer sees.',
    interruptions: [{ class: 'ipi', kind: 'call_function', func: 'flush_tlb_func' }],
    remedies: ['tlb-shootdown'],
  },
  'tlb-flush-unknown': {
    severity: 'info',
    why: 'Whether TLB shootdowns arrive as flush_tlb_func IPIs (seen and attributed) or through the hypervisor (unseen) could not be told.',
    interruptions: [{ class: 'ipi', kind: 'call_function', func: 'flush_tlb_func' }],
    remedies: ['tlb-shootdown'],
  },
  'vm-steal-clock': {
    severity: 'info',
    why:
      'In a virtual machine no guest tool sees the time the host takes (isolwatch, perf, bpftrace, osnoise): the vCPU is not running. ' +
      'With a steal clock the kernel accounts the part where the host ran something else while a vCPU had work (the vCPU was ' +
      'preempted) as steal; isolwatch reports it per CPU beside the interruptions (summary, live view, ' +
      'isolwatch_steal_seconds_total), never judging it. Remote TLB flushes done by the hypervisor and the exits the host handles ' +
      "on the vCPU's own thread (host interrupts, timer and MMIO exits) show nowhere, not even as steal.",
    interruptions: [{ class: 'kernel', kind: 'hw_noise' }],
    remedies: ['hw-noise'],
  },
  'vm-no-steal-clock': {
    severity: 'warning',
    why:
      'This virtual machine has no steal clock: when the host preempts a vCPU, or handles exits on its thread, the guest only ' +
      'sees its clock jump. No guest tool can show or attribute that time, not even as steal, and isolwatch reports none.',
    interruptions: [{ class: 'kernel', kind: 'hw_noise' }],
    remedies: ['hw-noise'],
  },
  'vm-steal-unknown': {
    severity: 'info',
    why:
      'A virtual machine whose steal clock could not be told from what the doctor reads (its /proc/stat steal is 0 and the boot ' +
      "messages that would say are gone): what the host takes shows at most as steal. 'isolwatch watch' reads the kernel's own " +
      'code and says it in its start record (start.steal).',
    interruptions: [{ class: 'kernel', kind: 'hw_noise' }],
    remedies: ['hw-noise'],
  },
  'tasks-on-isolated': {
    severity: 'warning',
    why: 'The scheduler may run these tasks on the watched CPUs: they preempt the isolated task and send reschedule IPIs when woken.',
    interruptions: [
      { class: 'preempt', kind: '<task comm>' },
      { class: 'ipi', kind: 'reschedule' },
    ],
    remedies: ['preemption', 'reschedule'],
  },
  'kthreads-on-isolated': {
    severity: 'info',
    why: 'Unbound kernel threads allowed on the watched CPUs may be placed there; per-CPU kernel threads (one allowed CPU) are expected and not listed.',
    interruptions: [{ class: 'preempt', kind: '<kthread comm>' }],
    remedies: ['preemption'],
  },
} satisfies Record<string, FindingDef>;

export type FindingId = keyof typeof FINDING_DEFS;
export const FINDING_IDS = Object.keys(FINDING_DEFS) as FindingId[];

export interface FindingInput {
  title: string;
  evidence: Evidence[];
  remedy: string[];
  /** overrides the default when the same condition is worse or milder here */
  severity?: Severity;
  /** replaces the default why text when the check knows more */
  why?: string;
}

export function makeFinding(id: FindingId, input: FindingInput): Finding {
  const def: FindingDef = FINDING_DEFS[id];
  return {
    id,
    severity: input.severity ?? def.severity,
    title: input.title,
    evidence: input.evidence,
    remedy: input.remedy,
    why: { text: input.why ?? def.why, interruptions: def.interruptions, remedies: def.remedies, doc: REMEDY_DOC },
  };
}
