// Names for the numbers the BPF records carry: classes, x86 vectors, softirq
// vectors, syscalls, contexts, flags.
import { IW } from './layout.generated.js';
import { CLASSES, type Cause, type InterruptionClass } from '../types.js';
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';

export function className(n: number): InterruptionClass {
  return CLASSES[n] ?? 'kernel';
}

export const SOFTIRQ_NAMES = ['HI', 'TIMER', 'NET_TX', 'NET_RX', 'BLOCK', 'IRQ_POLL', 'TASKLET', 'SCHED', 'HRTIMER', 'RCU'];

const VECTOR_KINDS: Record<number, string> = {
  [IW.IW_VEC_LOCAL_TIMER]: 'local_timer',
  [IW.IW_VEC_RESCHEDULE]: 'reschedule',
  [IW.IW_VEC_CALL_FUNCTION]: 'call_function',
  [IW.IW_VEC_CALL_FUNCTION_SINGLE]: 'call_function_single',
  [IW.IW_VEC_IRQ_WORK]: 'irq_work',
  [IW.IW_VEC_X86_PLATFORM_IPI]: 'x86_platform_ipi',
  [IW.IW_VEC_THERMAL_APIC]: 'thermal_apic',
  [IW.IW_VEC_THRESHOLD_APIC]: 'threshold_apic',
  [IW.IW_VEC_DEFERRED_ERROR_APIC]: 'deferred_error_apic',
  [IW.IW_VEC_ERROR_APIC]: 'error_apic',
  [IW.IW_VEC_SPURIOUS_APIC]: 'spurious_apic',
  [IW.IW_VEC_HRTIMER]: 'hrtimer',
  [IW.IW_VEC_TIMER_LIST]: 'timer',
  [IW.IW_VEC_CSD]: 'csd',
};

export function syscallName(nr: number): string {
  return SYSCALLS_X86_64[nr] ?? `syscall_${nr}`;
}

/** Human kind for a chain entry, from its class and raw kind number. */
export function kindName(cls: InterruptionClass, kind: number, name: string): string {
  switch (cls) {
    case 'syscall':
      return syscallName(kind);
    case 'softirq':
      return SOFTIRQ_NAMES[kind] ?? `softirq_${kind}`;
    case 'irq':
      return VECTOR_KINDS[kind] && kind >= IW.IW_VEC_THERMAL_APIC && kind <= IW.IW_VEC_SPURIOUS_APIC && !name
        ? VECTOR_KINDS[kind]
        : name || `irq_${kind}`;
    case 'ipi':
    case 'timer':
      return VECTOR_KINDS[kind] ?? `vector_${kind}`;
    case 'page_fault': {
      // x86 page fault error code: bit0 present, bit1 write, bit2 user, bit4 instruction fetch
      const parts = [kind & 2 ? 'write' : kind & 16 ? 'exec' : 'read', kind & 1 ? 'protection' : 'not_present'];
      return parts.join('_');
    }
    case 'workqueue':
      return name || 'work';
    case 'preempt':
      return name || `tid_${kind}`;
    case 'nmi':
      return kind ? 'handled' : 'unhandled';
    default:
      return name || 'entry';
  }
}

export const CTX_NAMES: Record<number, NonNullable<Cause['context']>> = {
  [IW.IW_CTX_NONE]: 'unknown',
  [IW.IW_CTX_TASK]: 'task',
  [IW.IW_CTX_HARDIRQ]: 'hardirq',
  [IW.IW_CTX_SOFTIRQ]: 'softirq',
  [IW.IW_CTX_NMI]: 'nmi',
  [IW.IW_CTX_SELF]: 'self',
  [IW.IW_CTX_TIMER_EARLY]: 'timer_early',
};

const FLAG_NAMES: [number, string][] = [
  [IW.IW_F_IN_SYSCALL, 'in_syscall'],
  [IW.IW_F_NO_EXIT, 'no_exit'],
  [IW.IW_F_CHAIN_TRUNC, 'chain_truncated'],
  [IW.IW_F_ISOL_KERNEL, 'isol_from_kernel'],
  [IW.IW_F_OPEN_END, 'open_end'],
  [IW.IW_F_FROM_USER, 'from_user'],
  [IW.IW_F_SELF_CAUSED, 'isolwatch'],
  [IW.IW_F_SIGNAL_SENT, 'signal_sent'],
  [IW.IW_F_SIGNAL_FAILED, 'signal_failed'],
  [IW.IW_F_KERNEL_MODE, 'kernel_mode'],
  [IW.IW_F_IN_PREEMPT, 'in_preempt'],
  [IW.IW_F_SIGNAL_HELD, 'signal_held'],
  [IW.IW_F_HOTPLUG, 'hotplug'],
];

export function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
}
