// The remedy catalogue: for every kind of interruption isolwatch can name
// (the interruption catalogue of the project's knowledge base), what causes it and how to stop it. One table
// serves `doctor` (findings link here by entry id), reports and the TUI
// (remedyFor() on an interruption record), so advice is written once.
import type { InterruptionClass } from './types.js';

/** One shape of interruption an entry answers for. Omitted fields match anything. */
export interface RemedyMatch {
  class?: InterruptionClass;
  /** record `kind`: IRQ name, softirq vector, `local_timer`, preempting comm, ... */
  kind?: string | RegExp;
  /** record `func` (IPI/work/timer function); work records may carry it only as `kind`. */
  func?: string | RegExp;
  /** record `cause.context`: "timer_early" tells a local timer interrupt with nothing due from the tick */
  context?: string;
}

export interface RemedyEntry {
  /** stable kebab-case id; doctor findings and reports refer to it */
  id: string;
  /** the source of interruptions this entry stands for (a row of the catalogue) */
  source: string;
  match: RemedyMatch;
  /** further shapes of the same source (e.g. the tick on x86, arm64 and generic hrtimer paths) */
  also?: RemedyMatch[];
  /** what makes the kernel do it, in one or two sentences */
  causes: string;
  /** exact parameters, sysctls or commands, most effective first */
  remedy: string[];
  /** ids of doctor findings that detect the set-up behind this interruption */
  doctorChecks?: string[];
}

/** The fields of an interruption record that select a remedy. */
export interface InterruptionKey {
  class: InterruptionClass | string;
  kind: string;
  func?: string;
  /** cause.context, where the caller has it */
  context?: string;
}

/** What a renderer needs of the catalogue: the TUI and the reporters take this (remedyFor below). */
export type RemedyLookup = (q: InterruptionKey) => (Pick<RemedyEntry, 'causes' | 'remedy'> & { id?: string }) | undefined;

/** The catalogue as a document (remediesMarkdown() below, kept current by a test); renderers print it next to entry ids. */
export const REMEDY_DOC = 'docs/remedies.md';

export const REMEDIES: readonly RemedyEntry[] = [
  // --- scheduler tick and timers -------------------------------------------
  {
    id: 'tick',
    source: 'scheduler tick',
    match: { class: 'timer', kind: 'local_timer' },
    also: [
      { class: 'irq', kind: 'arch_timer' },
      { class: 'timer', func: /^(tick_nohz_handler|tick_sched_timer)$/ },
    ],
    causes:
      'The periodic tick keeps running on a CPU that is not nohz_full, or on a nohz_full CPU with a tick ' +
      'dependency: more than one runnable task, POSIX CPU timers / RLIMIT_CPU, perf sampling, an unstable clock, RCU.',
    remedy: [
      'boot with nohz_full=<isolated CPUs> (needs CONFIG_NO_HZ_FULL=y)',
      'keep exactly one runnable task per isolated CPU',
      'no POSIX CPU timers, RLIMIT_CPU or perf sampling on the isolated task',
      'see timer:tick_stop(success=0) for the dependency that keeps the tick',
    ],
    doctorChecks: ['kernel-no-nohz-full', 'nohz-full-ignored', 'cpus-not-nohz-full'],
  },
  {
    id: 'nohz-full-kick',
    source: 'other cross-CPU calls (nohz_full_kick_func)',
    match: { class: 'ipi', func: 'nohz_full_kick_func' },
    causes: 'Another CPU set a tick dependency on this nohz_full CPU (POSIX CPU timer, perf event) and kicked it to restart the tick.',
    remedy: ['no POSIX CPU timers, RLIMIT_CPU or perf events on tasks of the isolated CPU'],
    doctorChecks: ['cpus-not-nohz-full'],
  },
  {
    id: 'timer-hrtimer-wakeup',
    source: 'kernel timers (hrtimer_wakeup)',
    match: { class: 'timer', func: 'hrtimer_wakeup' },
    causes: 'The task itself slept with a timeout (nanosleep, epoll_wait/poll/select with a timeout, futex wait).',
    remedy: ['busy-poll instead of sleeping in the hot loop'],
  },
  {
    id: 'timer-posix',
    source: 'kernel timers (posix_timer_fn, it_real_fn)',
    match: { class: 'timer', func: /^(posix_timer_fn|it_real_fn)$/ },
    causes: "The task's own POSIX timers (timer_create), setitimer(ITIMER_REAL) or alarm().",
    remedy: ['move timers to a thread on a housekeeping CPU', 'busy-poll a clock instead of arming timers'],
  },
  {
    id: 'timer-clocksource-watchdog',
    source: 'kernel timers (clocksource_watchdog)',
    match: { class: 'timer', func: 'clocksource_watchdog' },
    causes: 'The clocksource watchdog cross-checks the TSC against another clock and hops between CPUs.',
    remedy: ['boot with tsc=reliable (only where the TSC is known stable: constant_tsc, nonstop_tsc)'],
  },
  {
    id: 'timer-mce',
    source: 'kernel timers (mce_timer_fn)',
    match: { class: 'timer', func: 'mce_timer_fn' },
    causes: 'Machine-check polling timer on every CPU.',
    remedy: [
      'echo 0 > /sys/devices/system/machinecheck/machinecheck0/check_interval (one interval for every CPU; corrected errors are then found through CMCI where the CPU has it)',
      'or boot with mce=ignore_ce',
    ],
    doctorChecks: ['mce-poll'],
  },
  {
    id: 'timer-lockup-watchdog',
    source: 'kernel timers (watchdog_timer_fn)',
    match: { class: 'timer', func: 'watchdog_timer_fn' },
    causes: 'The soft-lockup detector hrtimer (and its migration/N stopper work) runs on every CPU in kernel.watchdog_cpumask.',
    remedy: ['sysctl -w kernel.watchdog_cpumask=<housekeeping CPUs>', 'or boot with nowatchdog'],
    doctorChecks: ['watchdog-on-isolated'],
  },
  {
    id: 'timer-other',
    source: 'kernel timers (incl. the task\'s own)',
    match: { class: 'timer' },
    causes: 'A kernel timer or hrtimer armed on this CPU, by the task itself or by kernel code running here; its callback names the subsystem.',
    remedy: [
      'find who armed it (timer_start / hrtimer_start: current at arming time) and move that work to a housekeeping CPU',
      'sysctl -w kernel.timer_migration=0 on kernels that can place idle-CPU timers on isolated CPUs',
    ],
    doctorChecks: ['timer-migration-on'],
  },
  // --- work items ----------------------------------------------------------
  {
    id: 'vmstat-update',
    source: 'vmstat_update',
    match: { class: 'workqueue', func: 'vmstat_update' },
    causes:
      'vmstat_shepherd queues it when the task dirtied per-CPU VM counters (page faults, syscalls, mlock); it then re-arms ' +
      'itself while the counters stay dirty.',
    remedy: [
      'kernels >= 6.5 skip isolated CPUs: boot with nohz_full= or isolcpus=domain,...',
      'sysctl -w vm.stat_interval=10 (or higher) on older kernels',
      'PR_ISOL quiesce (ISOL_F_QUIESCE_VMSTATS) + mlockall() where the kernel has the ABI',
    ],
    doctorChecks: ['vmstat-interval-low', 'cpus-not-isolated', 'pr-isol-absent'],
  },
  {
    id: 'refresh-vm-stats',
    source: '/proc/sys/vm/stat_refresh',
    match: { class: 'workqueue', func: 'refresh_vm_stats' },
    causes: 'A task wrote /proc/sys/vm/stat_refresh, which runs work on every CPU (schedule_on_each_cpu).',
    remedy: ['do not run tools that write /proc/sys/vm/stat_refresh (some monitoring agents do) during the run'],
  },
  {
    id: 'lru-drain',
    source: 'LRU drain (lru_add_drain_per_cpu)',
    match: { class: 'workqueue', func: 'lru_add_drain_per_cpu' },
    causes: 'A task elsewhere called migrate_pages/mbind/move_pages, allocated hugepages or CMA, or sealed a memfd: every CPU drains its LRU pagevecs.',
    remedy: [
      'prefault and mlockall(MCL_CURRENT|MCL_FUTURE) before the run',
      'no page migration, hugepage allocation or memfd sealing at run time',
    ],
  },
  {
    id: 'memcg-drain',
    source: 'memcg stock drain / stats flush',
    match: { class: 'workqueue', func: /^(drain_local_memcg_stock|drain_local_obj_stock|drain_local_stock|memcg_flush_stats|flush_memcg_stats_dwork)$/ },
    causes: 'Cgroup memory-limit reclaim or cgroup removal drains per-CPU memcg charge caches on all CPUs.',
    remedy: ['kernels >= 6.4 skip isolated CPUs: isolate them (isolcpus=domain or nohz_full)', 'leave headroom under the cgroup memory limit'],
    doctorChecks: ['cpus-not-isolated'],
  },
  {
    id: 'unbound-kworker',
    source: 'unbound kworkers',
    match: { class: 'preempt', kind: /^kworker\/u\d+/ },
    causes: 'Unbound work ran on this CPU because the unbound workqueue cpumask includes it.',
    remedy: [
      'echo <housekeeping mask> > /sys/devices/virtual/workqueue/cpumask',
      'boot with workqueue.unbound_cpus=<housekeeping CPUs>',
    ],
    doctorChecks: ['workqueue-unbound-on-isolated'],
  },
  {
    id: 'workqueue-other',
    source: 'per-CPU work items',
    match: { class: 'workqueue' },
    also: [{ class: 'preempt', kind: /^kworker\/\d+/ }],
    causes: 'Per-CPU work queued to this CPU; the work function and the queuing task (workqueue_queue_work) say by whom.',
    remedy: ['stop the queuing task or move it off CPUs that share state with the isolated one', 'isolate the CPU (isolcpus=domain, nohz_full) so subsystems that honour housekeeping skip it'],
    doctorChecks: ['cpus-not-isolated'],
  },
  // --- cross-CPU function calls (IPIs) ---------------------------------------
  {
    id: 'tlb-shootdown',
    source: 'TLB shootdown (flush_tlb_func)',
    match: { class: 'ipi', func: 'flush_tlb_func' },
    causes:
      'Another CPU changed mappings of an mm this CPU has loaded: munmap/mprotect/madvise in a sibling thread, ' +
      'NUMA balancing, KSM (ksmd), THP collapse (khugepaged), compaction, vfree purge.',
    remedy: [
      'do not unmap or mprotect in threads that share the isolated task\'s mm',
      'sysctl -w kernel.numa_balancing=0',
      'echo never > /sys/kernel/mm/transparent_hugepage/enabled (THP off)',
      'echo 0 > /sys/kernel/mm/ksm/run (KSM off)',
      'sysctl -w vm.compaction_proactiveness=0',
    ],
    doctorChecks: ['numa-balancing-on', 'thp-enabled', 'ksm-running', 'tlb-flush-hypervisor', 'tlb-flush-paravirt', 'tlb-flush-unknown'],
  },
  {
    id: 'code-patching',
    source: 'other cross-CPU calls (do_sync_core)',
    match: { class: 'ipi', func: 'do_sync_core' },
    causes: 'Kernel text was patched on another CPU: static keys, ftrace, kprobes, BPF program attach/detach (including tracing tools).',
    remedy: ['attach tracers and load BPF programs before the measurement window, not during it', 'avoid toggling static keys (e.g. enabling tracepoints) during the run'],
  },
  {
    id: 'membarrier',
    source: 'other cross-CPU calls (ipi_mb, ipi_sync_core, ipi_rseq)',
    match: { class: 'ipi', func: /^(ipi_mb|ipi_sync_core|ipi_rseq|ipi_sync_rq_state)$/ },
    causes: 'membarrier() from a process with threads on this CPU (JITs, userspace RCU, some runtimes) interrupts every CPU running that mm.',
    remedy: ['no membarrier() in processes that own isolated threads (configure the runtime/JIT not to use it)'],
  },
  {
    id: 'rcu-expedited',
    source: 'other cross-CPU calls (rcu_exp_handler)',
    match: { class: 'ipi', func: 'rcu_exp_handler' },
    causes: 'An expedited RCU grace period (synchronize_rcu_expedited, e.g. from network or module configuration) polls every CPU.',
    remedy: ['boot with rcupdate.rcu_normal=1 (no expedited grace periods after boot)', 'no network/module reconfiguration during the run'],
  },
  {
    id: 'perf-remote',
    source: 'other cross-CPU calls (remote_function)',
    match: { class: 'ipi', func: 'remote_function' },
    causes: 'A perf session (perf stat/record/top, a monitoring agent) enabled, disabled or read counters on this CPU.',
    remedy: ['stop perf sessions and PMU-polling agents covering the isolated CPUs'],
  },
  {
    id: 'msr-access',
    source: 'other cross-CPU calls (__rdmsr_on_cpu)',
    match: { class: 'ipi', func: /^__(rd|wr)msr_(safe_)?on_cpu$/ },
    causes: 'A tool read or wrote MSRs of this CPU through /dev/cpu/N/msr or a driver (turbostat, power/thermal daemons).',
    remedy: ['stop MSR pollers (turbostat, powertop, thermald, monitoring agents) or exclude the isolated CPUs'],
  },
  {
    id: 'ipi-other',
    source: 'other cross-CPU calls',
    match: { class: 'ipi' },
    causes: 'A cross-CPU function call; the function and the sender\'s callsite (csd_queue_cpu, ipi_send_cpu) say who.',
    remedy: ['find the sender (cause.callsite, cause.comm) and stop or move it'],
  },
  // --- scheduling --------------------------------------------------------------
  {
    id: 'reschedule',
    source: 'reschedule IPI',
    match: { class: 'ipi', kind: 'reschedule' },
    causes: 'Another CPU woke a task onto this CPU or asked it to preempt (wakeup_preempt, ttwu_queue_wakelist, signals).',
    remedy: [
      'keep other tasks off: isolcpus=domain,managed_irq,<CPUs>, a cpuset isolated partition, systemd CPUAffinity=<housekeeping>',
      'do not wake or signal the isolated task from other CPUs',
    ],
    doctorChecks: ['tasks-on-isolated', 'cpus-not-isolated', 'isolcpus-ignored'],
  },
  {
    id: 'lockup-watchdog-stopper',
    source: 'NMI / perf / lockup watchdogs (migration/N)',
    match: { class: 'preempt', kind: /^migration\/\d+$/ },
    causes: 'The soft-lockup detector (every 4 s) or a stop_machine() caller ran the migration/N stopper thread.',
    remedy: ['sysctl -w kernel.watchdog_cpumask=<housekeeping CPUs>', 'or boot with nowatchdog'],
    doctorChecks: ['watchdog-on-isolated'],
  },
  {
    id: 'rcu',
    source: 'RCU',
    match: { class: 'softirq', kind: 'RCU' },
    also: [{ class: 'preempt', kind: /^rcuc\/\d+$/ }, { class: 'preempt', kind: /^rcuo[gps]?\/\d+$/ }],
    causes: "RCU callbacks on this CPU, queued by the task's own syscalls, or grace-period processing.",
    remedy: ['boot with nohz_full=<CPUs> (implies rcu_nocbs) or rcu_nocbs=<CPUs>', 'boot with rcupdate.rcu_normal=1'],
    doctorChecks: ['rcu-nocbs-missing', 'nohz-full-ignored'],
  },
  {
    id: 'preemption',
    source: 'preemption / migration',
    match: { class: 'preempt' },
    causes: 'Another task ran on this CPU while the victim was runnable; the preempting comm says which.',
    remedy: [
      'keep other tasks off: isolcpus=domain,managed_irq,<CPUs>, a cpuset isolated partition, systemd CPUAffinity=<housekeeping>',
      'pin the remaining user tasks to housekeeping CPUs (taskset -pc <housekeeping> <pid>)',
      'for SCHED_FIFO busy loops: sysctl -w kernel.sched_rt_runtime_us=-1 (RT throttling forces the task off)',
    ],
    doctorChecks: ['tasks-on-isolated', 'kthreads-on-isolated', 'cpus-not-isolated', 'isolcpus-ignored', 'kernel-no-cpu-isolation', 'rt-throttling-on'],
  },
  // --- interrupts ------------------------------------------------------------
  {
    id: 'device-irq',
    source: 'device IRQ',
    match: { class: 'irq' },
    also: [{ class: 'preempt', kind: /^irq\/\d+-/ }],
    causes: "A device interrupt whose affinity (/proc/irq/N/effective_affinity_list) includes this CPU.",
    remedy: [
      'boot with irqaffinity=<housekeeping CPUs>',
      'echo <housekeeping CPUs> > /proc/irq/<N>/smp_affinity_list',
      'ban the CPUs in irqbalance (IRQBALANCE_BANNED_CPULIST=<CPUs> in /etc/default/irqbalance) or stop irqbalance',
      'isolcpus=managed_irq,... for managed (per-queue) IRQs that cannot be moved',
    ],
    doctorChecks: ['irq-on-isolated-cpu', 'irq-default-affinity', 'irqbalance-moves-irqs', 'isolcpus-no-managed-irq'],
  },
  {
    id: 'softirq-net',
    source: 'softirq (NET_RX, NET_TX)',
    match: { class: 'softirq', kind: /^NET_(RX|TX)$/ },
    causes: 'Network processing raised by a NIC IRQ on this CPU, RPS from another CPU, or the task\'s own socket calls.',
    remedy: [
      'move NIC IRQs to housekeeping CPUs (/proc/irq/<N>/smp_affinity_list)',
      'echo <housekeeping mask> > /sys/class/net/<dev>/queues/rx-<n>/rps_cpus (and tx-<n>/xps_cpus)',
      'echo 1 > /sys/class/net/<dev>/threaded (threaded NAPI) and pin the napi/ threads to housekeeping CPUs',
    ],
    doctorChecks: ['irq-on-isolated-cpu'],
  },
  {
    id: 'softirq-timer',
    source: 'softirq (TIMER, HRTIMER)',
    match: { class: 'softirq', kind: /^(TIMER|HRTIMER)$/ },
    causes: 'Timers expiring on this CPU (raised from the tick or the hrtimer interrupt).',
    remedy: ['boot with nohz_full=<CPUs>', 'find the armer of the timer (see the timer entries)'],
    doctorChecks: ['kernel-no-nohz-full', 'cpus-not-nohz-full', 'timer-migration-on'],
  },
  {
    id: 'softirq-block',
    source: 'softirq (BLOCK, IRQ_POLL)',
    match: { class: 'softirq', kind: /^(BLOCK|IRQ_POLL)$/ },
    causes: 'Block I/O completions handled on this CPU.',
    remedy: ['move storage IRQs to housekeeping CPUs', 'boot with isolcpus=managed_irq,... so NVMe queue IRQs avoid isolated CPUs'],
    doctorChecks: ['irq-on-isolated-cpu', 'isolcpus-no-managed-irq'],
  },
  {
    id: 'softirq-sched',
    source: 'softirq (SCHED)',
    match: { class: 'softirq', kind: 'SCHED' },
    causes: 'Scheduler load balancing on this CPU.',
    remedy: ['boot with isolcpus=domain,<CPUs> or use a cpuset isolated partition (no load balancing)'],
    doctorChecks: ['cpus-not-isolated'],
  },
  {
    id: 'softirq-tasklet',
    source: 'softirq (HI, TASKLET)',
    match: { class: 'softirq', kind: /^(HI|TASKLET)$/ },
    causes: 'A driver tasklet scheduled from an interrupt handled on this CPU.',
    remedy: ['move the device IRQ to housekeeping CPUs (/proc/irq/<N>/smp_affinity_list)'],
    doctorChecks: ['irq-on-isolated-cpu'],
  },
  {
    id: 'softirq-other',
    source: 'softirq',
    match: { class: 'softirq' },
    also: [{ class: 'preempt', kind: /^ksoftirqd\/\d+$/ }],
    causes: 'Softirq work raised on this CPU by an IRQ handler, the tick, another CPU (RPS) or the task\'s own calls.',
    remedy: ['move IRQs and RPS/XPS to housekeeping CPUs', 'boot with nohz_full=<CPUs>'],
    doctorChecks: ['irq-on-isolated-cpu'],
  },
  {
    id: 'irq-work-bpf-ringbuf',
    source: 'irq_work (bpf_ringbuf_notify)',
    match: { kind: 'irq_work', func: 'bpf_ringbuf_notify' },
    causes: 'A BPF program on this CPU submitted to a ring buffer with wakeups: every submit can raise a self-IPI to wake the reader.',
    remedy: ['submit with BPF_RB_NO_WAKEUP and poll the ring buffer from a housekeeping CPU', 'stop BPF tracing tools that wake up per event'],
  },
  {
    id: 'irq-work-printk',
    source: 'irq_work (wake_up_klogd_work_func) / printk',
    match: { kind: 'irq_work', func: 'wake_up_klogd_work_func' },
    causes: 'printk() on this CPU wakes klogd/the console through irq_work.',
    remedy: ['fix what prints (dmesg shows it)', 'lower the console log level: sysctl -w kernel.printk="3 4 1 3"'],
  },
  {
    id: 'irq-work-other',
    source: 'irq_work',
    match: { kind: 'irq_work' },
    causes: 'Deferred work raised from NMI/IRQ context on this CPU (perf, BPF, printk, RCU).',
    remedy: ['name the callback (func) and stop its producer; perf sessions and BPF tools are the usual ones'],
  },
  // --- the task's own entries -------------------------------------------------
  {
    id: 'page-fault',
    source: 'page fault',
    match: { class: 'page_fault' },
    causes: 'The task touched memory not yet mapped, write-protected (COW, KSM), or unmapped by NUMA balancing hinting.',
    remedy: [
      'prefault and mlockall(MCL_CURRENT|MCL_FUTURE) before the hot loop',
      'MAP_POPULATE on mmap, hugetlbfs for large buffers',
      'sysctl -w kernel.numa_balancing=0 (NUMA hinting faults)',
    ],
    doctorChecks: ['numa-balancing-on', 'thp-enabled', 'ksm-running'],
  },
  {
    id: 'syscall-clock',
    source: 'syscall (clock reads)',
    match: { class: 'syscall', kind: /^(clock_gettime|gettimeofday|time|clock_getres)$/ },
    causes: 'Clock reads go through the vDSO only with a vDSO-capable clocksource (tsc, kvm-clock, arch_sys_counter); otherwise each is a syscall.',
    remedy: [
      'echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource (or boot with clocksource=tsc tsc=reliable)',
      'read the TSC directly (rdtsc) in the hot loop',
    ],
    doctorChecks: ['clocksource-no-vdso'],
  },
  {
    id: 'syscall',
    source: 'syscall',
    match: { class: 'syscall' },
    causes: 'The task entered the kernel itself; the syscall may queue RCU callbacks, work or IPIs that follow it.',
    remedy: ['keep syscalls out of the hot loop', 'use vDSO clocks and user-space drivers (DPDK, io_uring SQPOLL on a housekeeping CPU)'],
    doctorChecks: ['clocksource-no-vdso'],
  },
  {
    id: 'nmi-watchdog',
    source: 'NMI / perf / lockup watchdogs (perf_event_nmi_handler)',
    match: { class: 'nmi', func: 'perf_event_nmi_handler' },
    causes: 'The hard-lockup detector (a perf NMI every few seconds on each CPU in watchdog_cpumask) or a perf sampling session.',
    remedy: ['sysctl -w kernel.nmi_watchdog=0 (or boot with nmi_watchdog=0)', 'sysctl -w kernel.watchdog_cpumask=<housekeeping CPUs>', 'stop perf record/top sessions'],
    doctorChecks: ['watchdog-on-isolated'],
  },
  {
    id: 'nmi-other',
    source: 'NMI',
    match: { class: 'nmi' },
    causes: 'A non-maskable interrupt: perf, lockup detector, backtrace requests (sysrq, RCU stall reports), machine checks.',
    remedy: ['sysctl -w kernel.nmi_watchdog=0', 'stop perf sessions; look for RCU stall or lockup messages in dmesg'],
    doctorChecks: ['watchdog-on-isolated'],
  },
  {
    id: 'printk',
    source: 'printk',
    match: { kind: /^(printk|console)$/ },
    causes: 'The kernel printed a message (console write) on this CPU.',
    remedy: ['fix the warnings dmesg shows', 'lower the console log level: sysctl -w kernel.printk="3 4 1 3"'],
  },
  {
    id: 'exception',
    source: 'exception',
    match: { class: 'exception' },
    causes: 'A CPU exception other than a page fault: breakpoints (uprobes, int3 patching), invalid opcode, FPU/alignment traps, machine checks.',
    remedy: ['remove uprobes/debuggers from the isolated task', 'check dmesg for machine checks'],
  },
  {
    id: 'hw-noise',
    source: 'hypervisor / SMI',
    match: { class: 'kernel', kind: /^(hw|hw_noise|gap|smi)$/i },
    causes:
      'Time lost with no kernel event: the host preempting the vCPU (the guest accounts it as steal time where it has a steal ' +
      'clock), exits the host handles on the vCPU (host interrupts, hypervisor TLB flushes: in no counter), or SMIs.',
    remedy: [
      'dedicated, pinned vCPUs (no overcommit): libvirt <vcpupin>, emulator and I/O threads elsewhere (<emulatorpin>, <iothreadpin>)',
      'isolate those physical CPUs on the host too (isolcpus=domain,managed_irq, nohz_full, irqaffinity= elsewhere)',
      "watch the steal: isolwatch reports each watched vCPU's (summary, live view, isolwatch_steal_seconds_total)",
      'BIOS: disable SMI sources (power management, USB legacy emulation)',
    ],
    doctorChecks: ['vm-steal-clock', 'vm-no-steal-clock', 'vm-steal-unknown'],
  },
  {
    id: 'timer-early',
    source: 'timer device re-armed before the next timer (max_delta)',
    match: { class: 'timer', kind: 'local_timer', context: 'timer_early' },
    causes:
      "A local timer interrupt with nothing due: the CPU's next timer is further away than its timer device can count " +
      '(the clockevent max_delta in /proc/timer_list: 600 s or more with TSC deadline, 34 s for the lapic timer in qemu), so ' +
      'the device fires at the end of its range and is re-armed, once per max_delta until that timer. cause.due_ns is the ' +
      'expiry it was set for. The usual far timer is the machine-check poll (mce_timer_fn, every 300 s on every CPU).',
    remedy: [
      'remove the far timer: the machine-check poll with check_interval 0 or mce=ignore_ce (see timer-mce); others by ' +
        "their function (tick_nohz_handler in the CPU's /proc/timer_list stands for its next timer-wheel timer)",
      'a timer device with a longer range: TSC deadline mode (the tsc_deadline_timer CPU flag; in a VM, a CPU model that has it)',
    ],
    doctorChecks: ['mce-poll', 'timer-device-range'],
  },
  {
    id: 'kernel-entry',
    source: 'generic kernel entry (context tracking)',
    match: { class: 'kernel' },
    causes: 'A kernel entry seen only by the generic detector (context_tracking user_exit); no specific event explained it.',
    remedy: ['run isolwatch with the missing probes available (see start.probes.missing) to name it'],
  },
];

function fieldMatches(pattern: string | RegExp | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (value === undefined) return false;
  return typeof pattern === 'string' ? pattern === value : pattern.test(value);
}

// A func pattern is the most telling (flush_tlb_func says more than "ipi"),
// then kind, then class; the score makes the most specific entry win.
function score(m: RemedyMatch, key: InterruptionKey): number {
  if (m.class !== undefined && m.class !== key.class) return -1;
  if (!fieldMatches(m.kind, key.kind)) return -1;
  if (!fieldMatches(m.func, key.func ?? key.kind)) return -1;
  if (m.context !== undefined && m.context !== key.context) return -1;
  return (m.context !== undefined ? 8 : 0) + (m.func !== undefined ? 4 : 0) + (m.kind !== undefined ? 2 : 0) + (m.class !== undefined ? 1 : 0);
}

/** The most specific catalogue entry for an interruption; ties go to the earlier entry. */
export function remedyFor(interruption: InterruptionKey): RemedyEntry | undefined {
  let best: RemedyEntry | undefined;
  let bestScore = -1;
  for (const entry of REMEDIES) {
    for (const m of [entry.match, ...(entry.also ?? [])]) {
      const s = score(m, interruption);
      if (s > bestScore) {
        best = entry;
        bestScore = s;
      }
    }
  }
  return best;
}

export function remedyById(id: string): RemedyEntry | undefined {
  return REMEDIES.find((e) => e.id === id);
}

function matchText(m: RemedyMatch): string {
  const parts: string[] = [];
  if (m.class) parts.push(`class \`${m.class}\``);
  if (m.kind) parts.push(`kind \`${m.kind}\``);
  if (m.func) parts.push(`func \`${m.func}\``);
  if (m.context) parts.push(`cause context \`${m.context}\``);
  return parts.join(', ') || 'any';
}

/** docs/remedies.md: every entry with its id (an anchor), what it matches, causes and remedies. */
export function remediesMarkdown(): string {
  const out = [
    '# What interrupts an isolated CPU, and the remedy',
    '',
    'Generated from `src/remedies.ts` (`npm run gen-remedies`); `doctor` findings, reports and the live view',
    'name these entries by id.',
    '',
  ];
  for (const e of REMEDIES) {
    out.push(`## ${e.id}`, '', `**${e.source}** — matches ${[e.match, ...(e.also ?? [])].map(matchText).join('; or ')}.`, '', e.causes, '');
    for (const r of e.remedy) out.push(`- ${r}`);
    if (e.doctorChecks?.length) out.push('', `doctor findings: ${e.doctorChecks.map((c) => `\`${c}\``).join(', ')}`);
    out.push('');
  }
  return out.join('\n');
}
