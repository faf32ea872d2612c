// Probe groups: the unit users switch on and off (`--probes`), and which
// group each program of the BPF object belongs to. The table names every
// program: test/unit/probes.test.ts fails when the built object holds one it
// does not, and the session refuses to load such an object.
import { UsageError } from '../errors.js';

export const PROBE_GROUPS: Record<string, { core?: boolean; about: string }> = {
  core: { core: true, about: 'device IRQs, softirqs, preemption (required)' },
  vectors: { about: 'x86 APIC vectors: local timer, IPIs, irq_work' },
  timers: { about: 'hrtimer and timer-list callbacks' },
  ipi: { about: 'cross-CPU calls and their senders (kprobes on kernels before 6.4)' },
  work: { about: 'work items and who queued them' },
  wakeup: { about: 'who woke the task that preempted the victim' },
  faults: { about: 'page faults (x86 exceptions tracepoints)' },
  nmi: { about: 'NMIs with their duration' },
  syscalls: { about: 'syscalls + PR_ISOL prctls; puts every task on the slow syscall path (see bench/)' },
  ctxtrack: { about: 'context tracking user_exit/enter: any kernel entry (nohz_full CPUs)' },
  tasks: { about: 'fork/exit of tracked tasks: PR_ISOL inheritance, declared children (two map lookups per fork/exit)' },
};

const VECTORS = ['local_timer', 'reschedule', 'call_function', 'call_function_single', 'irq_work', 'x86_platform_ipi', 'thermal_apic', 'threshold_apic', 'deferred_error_apic', 'error_apic', 'spurious_apic'];

/** Every attachable program of bpf/isolwatch.bpf.c and its group. */
export const PROGRAM_GROUPS: Readonly<Record<string, string>> = {
  handle_sched_switch: 'core',
  handle_cpuhp_enter: 'core',
  handle_irq_handler_entry: 'core',
  handle_irq_handler_exit: 'core',
  handle_softirq_entry: 'core',
  handle_softirq_exit: 'core',
  ...Object.fromEntries(VECTORS.flatMap((v) => [[`handle_vec_${v}_entry`, 'vectors'], [`handle_vec_${v}_exit`, 'vectors']])),
  handle_clockevents_program: 'vectors',
  handle_timer_hrtimer_entry: 'timers',
  handle_timer_hrtimer_exit: 'timers',
  handle_timer_list_entry: 'timers',
  handle_timer_list_exit: 'timers',
  handle_csd_queue_cpu: 'ipi',
  handle_csd_function_entry: 'ipi',
  handle_csd_function_exit: 'ipi',
  handle_ipi_send_cpu: 'ipi',
  handle_ipi_send_cpumask: 'ipi',
  handle_ipi_fallback_many: 'ipi',
  handle_ipi_fallback_single: 'ipi',
  handle_ipi_fallback_send_single: 'ipi',
  handle_ipi_fallback_resched: 'ipi',
  handle_workqueue_queue_work: 'work',
  handle_workqueue_execute_start: 'work',
  handle_workqueue_execute_end: 'work',
  handle_sched_waking: 'wakeup',
  handle_exc_page_fault_user: 'faults',
  handle_exc_page_fault_kernel: 'faults',
  handle_nmi_handler: 'nmi',
  handle_raw_syscalls_sys_enter: 'syscalls',
  handle_raw_syscalls_sys_exit: 'syscalls',
  handle_ct_user_exit: 'ctxtrack',
  handle_ct_user_enter: 'ctxtrack',
  handle_task_fork: 'tasks',
  handle_task_exit: 'tasks',
};

/**
 * The order programs are attached in (lowest first; detached in reverse):
 * 0. the exits of interrupt contexts: were an interrupt in flight while its
 *    entry is attached but not yet its exit, the CPU's hardirq/softirq nesting
 *    count would stay up until its next context switch, and every IPI sent
 *    there meanwhile (isolwatch's own text patching at attach included) would
 *    look sent from a hardirq;
 * 1. what names senders (IPI queueing and sending, work queueing, wake-ups,
 *    task birth and death, timer device programming): the first interruptions seen already have theirs,
 *    and at detach the text patching of the last programs is not seen without;
 * 2. the rest, the programs that see interruptions.
 */
export function attachRank(program: string): number {
  if (/_exit$/.test(program) && program !== 'handle_ct_user_exit') return 0; // ct user_exit is a kernel entry
  if (program === 'handle_ct_user_enter') return 0; // ... and user_enter its exit
  if (/^handle_(csd_queue_cpu|ipi_send_|ipi_fallback_|workqueue_queue_work|sched_waking|task_fork|task_exit|clockevents_program)/.test(program)) return 1;
  return 2;
}

/** Programs never attached: user space runs them with bpf_prog_test_run (kernel reads, symbols, features). */
export const ON_DEMAND_PROGRAMS = ['iw_kread', 'iw_ksym', 'iw_kaddr', 'iw_features'];

/** The group of an attachable program, undefined for one the table does not name. */
export function groupOf(program: string): string | undefined {
  return PROGRAM_GROUPS[program];
}

export const DEFAULT_PROBES_WATCH = Object.keys(PROBE_GROUPS).filter((g) => g !== 'syscalls');
export const DEFAULT_PROBES_TASK = Object.keys(PROBE_GROUPS);

/** "--probes all", "default,+syscalls", "-faults", "core,vectors". */
export function parseProbes(spec: string | undefined, defaults: string[]): Set<string> {
  const all = Object.keys(PROBE_GROUPS);
  if (spec === undefined) return new Set(defaults);
  let set = new Set<string>();
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length && (parts[0].startsWith('+') || parts[0].startsWith('-'))) set = new Set(defaults);
  for (const p of parts) {
    const op = p[0] === '+' || p[0] === '-' ? p[0] : '';
    const name = op ? p.slice(1) : p;
    const names = name === 'all' ? all : name === 'default' ? defaults : [name];
    for (const n of names) {
      if (!PROBE_GROUPS[n]) throw new UsageError(`--probes '${spec}': unknown group '${n}' (groups: ${all.join(', ')}, all, default)`);
      if (op === '-') set.delete(n);
      else set.add(n);
    }
  }
  set.add('core');
  return set;
}
