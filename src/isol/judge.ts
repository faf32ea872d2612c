// Judges one interruption against the victim's isolation state: is it a
// violation, and is there something specific to say (own syscall inside an
// active PR_ISOL window, a vmstat quiesce failure). Policies refine this.
import type { Cause, InterruptionClass, IsolInfo } from '../types.js';
import { ISOL_F_QUIESCE, ISOL_F_QUIESCE_VMSTATS } from './abi.js';

export interface InterruptionLike {
  class: InterruptionClass;
  kind?: string;
  func?: string;
  cause: Pick<Cause, 'self'>;
}

export interface Judgement {
  violation: boolean;
  note?: string;
  /** A named finding a reporter or doctor can act on. */
  finding?: 'quiesce_failure';
}

export const MLOCKALL_HINT = 'call mlockall(MCL_CURRENT|MCL_FUTURE) before activating: page faults dirty the vmstat counters again';

const maskHas = (hexMask: string | undefined, bit: bigint) => {
  if (hexMask === undefined) return false;
  try {
    return (BigInt(hexMask) & bit) !== 0n;
  } catch {
    return false;
  }
};

const isVmstatWork = (i: InterruptionLike) =>
  i.class === 'workqueue' && (i.kind === 'vmstat_update' || i.func === 'vmstat_update' || i.func === 'refresh_vm_stats');

export function judge(isol: IsolInfo, i: InterruptionLike): Judgement {
  if (isol.state !== 'active' && isol.state !== 'declared') return { violation: false };

  if (isol.state === 'active') {
    if (i.class === 'syscall' && i.cause.self) {
      return { violation: false, note: 'own syscall: the kernel quiesces on return by design' };
    }
    if (isVmstatWork(i) && maskHas(isol.active_mask, ISOL_F_QUIESCE) && maskHas(isol.quiesce_mask, ISOL_F_QUIESCE_VMSTATS)) {
      return {
        violation: true,
        finding: 'quiesce_failure',
        note: `quiesce failure: vmstat_update ran on a task with ISOL_F_QUIESCE_VMSTATS active; ${MLOCKALL_HINT}`,
      };
    }
  }
  if (i.class === 'page_fault' && i.cause.self) {
    return { violation: true, note: 'own page fault: lock memory with mlockall(MCL_CURRENT|MCL_FUTURE) and prefault before the isolated phase' };
  }
  if (i.class === 'syscall' && i.cause.self) {
    return { violation: true, note: 'own syscall while declared isolated (no PR_ISOL quiesce on return)' };
  }
  return { violation: true };
}
