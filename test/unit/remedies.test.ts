// The remedy catalogue: every row of knowledge/interruptions.md is reachable
// from an interruption record, the advice names the right knobs, and the
// links with doctor findings hold in both directions.
import { describe, expect, it } from 'vitest';
import { FINDING_DEFS, FINDING_IDS } from '../../src/doctor/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REMEDIES, REMEDY_DOC, remediesMarkdown, remedyById, remedyFor, type InterruptionKey } from '../../src/remedies.js';

// One interruption per catalogue entry, shaped as the correlation engine emits them.
const SAMPLES: Array<[InterruptionKey, string]> = [
  [{ class: 'timer', kind: 'local_timer' }, 'tick'],
  [{ class: 'timer', kind: 'local_timer', context: 'timer_early' }, 'timer-early'],
  [{ class: 'irq', kind: 'arch_timer' }, 'tick'],
  [{ class: 'timer', kind: 'hrtimer', func: 'tick_nohz_handler' }, 'tick'],
  [{ class: 'timer', kind: 'hrtimer', func: 'tick_sched_timer' }, 'tick'],
  [{ class: 'ipi', kind: 'call_function_single', func: 'nohz_full_kick_func' }, 'nohz-full-kick'],
  [{ class: 'timer', kind: 'hrtimer', func: 'hrtimer_wakeup' }, 'timer-hrtimer-wakeup'],
  [{ class: 'timer', kind: 'hrtimer', func: 'posix_timer_fn' }, 'timer-posix'],
  [{ class: 'timer', kind: 'hrtimer', func: 'it_real_fn' }, 'timer-posix'],
  [{ class: 'timer', kind: 'timer', func: 'clocksource_watchdog' }, 'timer-clocksource-watchdog'],
  [{ class: 'timer', kind: 'timer', func: 'mce_timer_fn' }, 'timer-mce'],
  [{ class: 'timer', kind: 'hrtimer', func: 'watchdog_timer_fn' }, 'timer-lockup-watchdog'],
  [{ class: 'timer', kind: 'timer', func: 'delayed_work_timer_fn' }, 'timer-other'],
  [{ class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update' }, 'vmstat-update'],
  [{ class: 'workqueue', kind: 'vmstat_update' }, 'vmstat-update'],
  [{ class: 'workqueue', kind: 'refresh_vm_stats', func: 'refresh_vm_stats' }, 'refresh-vm-stats'],
  [{ class: 'workqueue', kind: 'lru_add_drain_per_cpu', func: 'lru_add_drain_per_cpu' }, 'lru-drain'],
  [{ class: 'workqueue', kind: 'drain_local_memcg_stock', func: 'drain_local_memcg_stock' }, 'memcg-drain'],
  [{ class: 'workqueue', kind: 'drain_local_obj_stock' }, 'memcg-drain'],
  [{ class: 'preempt', kind: 'kworker/u8:1' }, 'unbound-kworker'],
  [{ class: 'workqueue', kind: 'flush_to_ldisc', func: 'flush_to_ldisc' }, 'workqueue-other'],
  [{ class: 'preempt', kind: 'kworker/3:1' }, 'workqueue-other'],
  [{ class: 'ipi', kind: 'call_function_single', func: 'flush_tlb_func' }, 'tlb-shootdown'],
  [{ class: 'ipi', kind: 'call_function', func: 'flush_tlb_func' }, 'tlb-shootdown'],
  [{ class: 'ipi', kind: 'call_function', func: 'do_sync_core' }, 'code-patching'],
  [{ class: 'ipi', kind: 'call_function', func: 'ipi_mb' }, 'membarrier'],
  [{ class: 'ipi', kind: 'call_function', func: 'ipi_sync_core' }, 'membarrier'],
  [{ class: 'ipi', kind: 'call_function', func: 'ipi_rseq' }, 'membarrier'],
  [{ class: 'ipi', kind: 'call_function_single', func: 'rcu_exp_handler' }, 'rcu-expedited'],
  [{ class: 'ipi', kind: 'call_function_single', func: 'remote_function' }, 'perf-remote'],
  [{ class: 'ipi', kind: 'call_function_single', func: '__rdmsr_on_cpu' }, 'msr-access'],
  [{ class: 'ipi', kind: 'call_function_single', func: 'some_other_func' }, 'ipi-other'],
  [{ class: 'ipi', kind: 'reschedule' }, 'reschedule'],
  [{ class: 'preempt', kind: 'migration/3' }, 'lockup-watchdog-stopper'],
  [{ class: 'softirq', kind: 'RCU' }, 'rcu'],
  [{ class: 'preempt', kind: 'rcuc/3' }, 'rcu'],
  [{ class: 'preempt', kind: 'java' }, 'preemption'],
  [{ class: 'irq', kind: 'eth0-TxRx-3' }, 'device-irq'],
  [{ class: 'preempt', kind: 'irq/36-nvme0q3' }, 'device-irq'],
  [{ class: 'softirq', kind: 'NET_RX' }, 'softirq-net'],
  [{ class: 'softirq', kind: 'NET_TX' }, 'softirq-net'],
  [{ class: 'softirq', kind: 'TIMER' }, 'softirq-timer'],
  [{ class: 'softirq', kind: 'HRTIMER' }, 'softirq-timer'],
  [{ class: 'softirq', kind: 'BLOCK' }, 'softirq-block'],
  [{ class: 'softirq', kind: 'SCHED' }, 'softirq-sched'],
  [{ class: 'softirq', kind: 'TASKLET' }, 'softirq-tasklet'],
  [{ class: 'softirq', kind: 'HI' }, 'softirq-tasklet'],
  [{ class: 'preempt', kind: 'ksoftirqd/3' }, 'softirq-other'],
  [{ class: 'ipi', kind: 'irq_work', func: 'bpf_ringbuf_notify' }, 'irq-work-bpf-ringbuf'],
  [{ class: 'irq', kind: 'irq_work', func: 'bpf_ringbuf_notify' }, 'irq-work-bpf-ringbuf'],
  [{ class: 'ipi', kind: 'irq_work', func: 'wake_up_klogd_work_func' }, 'irq-work-printk'],
  [{ class: 'ipi', kind: 'irq_work', func: 'perf_pending_irq' }, 'irq-work-other'],
  [{ class: 'page_fault', kind: 'user' }, 'page-fault'],
  [{ class: 'syscall', kind: 'clock_gettime' }, 'syscall-clock'],
  [{ class: 'syscall', kind: 'read' }, 'syscall'],
  [{ class: 'nmi', kind: 'nmi', func: 'perf_event_nmi_handler' }, 'nmi-watchdog'],
  [{ class: 'nmi', kind: 'nmi', func: 'nmi_cpu_backtrace_handler' }, 'nmi-other'],
  [{ class: 'kernel', kind: 'printk' }, 'printk'],
  [{ class: 'exception', kind: 'int3' }, 'exception'],
  [{ class: 'kernel', kind: 'hw_noise' }, 'hw-noise'],
  [{ class: 'kernel', kind: 'user_exit' }, 'kernel-entry'],
];

describe('remedy catalogue', () => {
  it('has unique kebab-case ids and says what causes it and what to do', () => {
    const ids = REMEDIES.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of REMEDIES) {
      expect(e.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(e.source.length, e.id).toBeGreaterThan(0);
      expect(e.causes.length, e.id).toBeGreaterThan(20);
      expect(e.remedy.length, e.id).toBeGreaterThan(0);
    }
  });

  it.each(SAMPLES)('remedyFor(%o) is %s', (key, id) => {
    expect(remedyFor(key)?.id).toBe(id);
  });

  it('every entry is reachable from some interruption (no entry shadowed by another)', () => {
    const reached = new Set(SAMPLES.map(([key]) => remedyFor(key)?.id));
    expect(REMEDIES.map((e) => e.id).filter((id) => !reached.has(id))).toEqual([]);
  });

  it('covers every source named in the catalogue of knowledge/interruptions.md', () => {
    const sources = REMEDIES.map((e) => e.source).join('\n');
    for (const s of ['scheduler tick', 'kernel timers', 'vmstat_update', 'stat_refresh', 'LRU drain', 'memcg', 'unbound kworkers', 'TLB shootdown', 'other cross-CPU calls', 'reschedule IPI', 'RCU', 'device IRQ', 'softirq', 'irq_work', 'page fault', 'syscall', 'NMI', 'printk', 'hypervisor']) {
      expect(sources, s).toContain(s);
    }
  });

  it('a TLB shootdown names NUMA balancing, THP and KSM as the usual senders and their switches', () => {
    const e = remedyFor({ class: 'ipi', kind: 'call_function_single', func: 'flush_tlb_func' })!;
    const text = e.remedy.join('\n');
    expect(text).toContain('kernel.numa_balancing=0');
    expect(text).toContain('/sys/kernel/mm/transparent_hugepage/enabled');
    expect(text).toContain('/sys/kernel/mm/ksm/run');
    expect(e.doctorChecks).toEqual(expect.arrayContaining(['numa-balancing-on', 'thp-enabled', 'ksm-running']));
  });

  it('names the exact knob for the common ones', () => {
    const remedyText = (key: InterruptionKey): string => remedyFor(key)!.remedy.join('\n');
    expect(remedyText({ class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update' })).toContain('vm.stat_interval');
    expect(remedyText({ class: 'timer', kind: 'local_timer' })).toContain('nohz_full=');
    expect(remedyText({ class: 'ipi', kind: 'irq_work', func: 'bpf_ringbuf_notify' })).toContain('BPF_RB_NO_WAKEUP');
    expect(remedyText({ class: 'irq', kind: 'eth0' })).toContain('irqaffinity=');
    expect(remedyText({ class: 'preempt', kind: 'kworker/u8:2' })).toContain('/sys/devices/virtual/workqueue/cpumask');
    expect(remedyText({ class: 'nmi', kind: 'nmi', func: 'perf_event_nmi_handler' })).toContain('nmi_watchdog=0');
    expect(remedyText({ class: 'softirq', kind: 'RCU' })).toContain('rcu_nocbs');
    expect(remedyText({ class: 'page_fault', kind: 'user' })).toContain('mlockall');
    expect(remedyText({ class: 'ipi', kind: 'call_function', func: 'rcu_exp_handler' })).toContain('rcupdate.rcu_normal=1');
  });

  it('a specific function beats the generic entry of its class', () => {
    expect(remedyFor({ class: 'ipi', kind: 'call_function', func: 'ipi_mb' })?.id).toBe('membarrier');
    expect(remedyFor({ class: 'ipi', kind: 'call_function', func: 'unknown' })?.id).toBe('ipi-other');
  });

  it('returns undefined for something it has never heard of', () => {
    expect(remedyFor({ class: 'bogus', kind: 'nothing' })).toBeUndefined();
  });

  it('links with doctor findings hold both ways', () => {
    for (const e of REMEDIES) {
      for (const check of e.doctorChecks ?? []) {
        expect(FINDING_IDS, `${e.id} -> ${check}`).toContain(check);
        expect((FINDING_DEFS as Record<string, { remedies: string[] }>)[check].remedies, `${check} should point back to ${e.id}`).toContain(e.id);
      }
    }
    for (const [id, def] of Object.entries(FINDING_DEFS)) {
      for (const r of def.remedies) {
        expect(remedyById(r), `${id} -> ${r}`).toBeDefined();
        expect(remedyById(r)!.doctorChecks ?? [], `${r} should list ${id}`).toContain(id);
      }
    }
  });
});

describe('docs/remedies.md', () => {
  it('is the catalogue as it is (regenerate with npm run gen-remedies)', () => {
    expect(readFileSync(join(import.meta.dirname, '../../docs/remedies.md'), 'utf8')).toBe(remediesMarkdown());
    expect(REMEDY_DOC).toBe('docs/remedies.md');
  });
});
