// doctor: Remote TLB flushes: IPIs (seen) or the hypervisor (unseen).
import { kallsymsHas } from '../../system/kallsyms.js';
import { FLUSH_IMPLEMENTATIONS, detectFromKernelLog, tlbFlushLabel } from '../../system/tlb-flush.js';
import { makeFinding } from '../findings.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

export function checkTlbFlush(ctx: Ctx): void {
  const { sys } = ctx;
  const kallsyms = sys.text('proc/kallsyms');
  if (kallsyms === undefined) return;
  const present = kallsymsHas(kallsyms, Object.keys(FLUSH_IMPLEMENTATIONS));
  if (!present.length) return; // not x86: no such functions
  const t = detectFromKernelLog(sys.kernelLog(), present);
  ctx.facts.tlbFlush = { label: tlbFlushLabel(t), evidence: t.evidence };
  if (t.mode === 'ipi') return;
  const evidence: Evidence[] = [
    { path: sys.shown('proc/kallsyms'), value: present.join(', ') },
    { path: sys.shown('dev/kmsg'), value: t.evidence },
  ];
  const live = "'isolwatch watch' names the mechanism from the kernel's own code in its start record (tlb_flush)";
  if (t.mode === 'hypervisor') {
    ctx.findings.push(
      makeFinding('tlb-flush-hypervisor', {
        title: `Remote TLB flushes go through the hypervisor (${t.via}): shootdowns cannot be seen in this guest`,
        evidence,
        remedy: [
          "keep shootdowns away from the isolated task's mm: no munmap/mprotect/madvise in threads that share it during the run",
          'transparent_hugepage=never, KSM off and kernel.numa_balancing=0 (their flushes too)',
          'on the host: dedicated, pinned vCPUs; watch the steal time of the isolated vCPUs',
        ],
      }),
    );
  } else if (t.mode === 'pv-ipi') {
    ctx.findings.push(
      makeFinding('tlb-flush-paravirt', {
        title: `Paravirtual TLB flush (${t.via}): IPIs to running vCPUs only`,
        evidence,
        remedy: ["keep shootdowns away from the isolated task's mm: no munmap/mprotect/madvise in threads that share it during the run"],
      }),
    );
  } else {
    ctx.findings.push(makeFinding('tlb-flush-unknown', { title: 'How remote TLB flushes are done here is unknown', evidence, remedy: [live] }));
  }
}
