// doctor: what a virtual machine can and cannot show. Remote TLB flushes:
// IPIs (seen) or the hypervisor (unseen); the host's own time: steal (where
// the guest has a steal clock) or nothing.
import { formatCpuList } from '../../system/cpus.js';
import { kallsymsHas } from '../../system/kallsyms.js';
import { NS_PER_USER_HZ_TICK, parseProcStatSteal, STEAL_NOTABLE_FRACTION, stealClockFromSystem } from '../../system/steal.js';
import { FLUSH_IMPLEMENTATIONS, detectFromKernelLog, parseTlbFlushLabel, tlbFlushLabel } from '../../system/tlb-flush.js';
import { formatDuration } from '../../verdict/index.js';
import { makeFinding } from '../findings.js';
import type { SysRoot } from '../read.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

/** The kernel log read once per audit (both checks here need it; reading /dev/kmsg costs). */
const logs = new WeakMap<SysRoot, string[]>();
const kernelLog = (sys: SysRoot): string[] => {
  let l = logs.get(sys);
  if (!l) logs.set(sys, (l = sys.kernelLog()));
  return l;
};

export function checkTlbFlush(ctx: Ctx): void {
  const { sys } = ctx;
  const kallsyms = sys.text('proc/kallsyms');
  if (kallsyms === undefined) return;
  const present = kallsymsHas(kallsyms, Object.keys(FLUSH_IMPLEMENTATIONS));
  if (!present.length) return; // not x86: no such functions
  const t = detectFromKernelLog(kernelLog(sys), present);
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
          'on the host: dedicated, pinned vCPUs; watch the steal time of the isolated vCPUs (isolwatch_steal_seconds_total; the vm-* finding)',
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

/** "path: value" lines of the steal clock's evidence as Evidence. */
function asEvidence(lines: readonly string[]): Evidence[] {
  return lines.map((l) => {
    const i = l.indexOf(': ');
    return i > 0 ? { path: l.slice(0, i), value: l.slice(i + 2) } : { path: '(steal)', value: l };
  });
}

/**
 * A virtual machine: what it can show (steal time, where it has a steal
 * clock) and what it cannot (the host's exits on a vCPU, hypervisor TLB
 * flushes), with the remedy for each. Nothing on bare metal or where the
 * doctor cannot tell it is a VM.
 */
export function checkVm(ctx: Ctx): void {
  const { sys } = ctx;
  const guess = stealClockFromSystem({
    cpuinfo: sys.text('proc/cpuinfo'),
    procStat: sys.text('proc/stat'),
    kernelLog: kernelLog(sys),
    cmdline: sys.line('proc/cmdline'),
  });
  const tlb = parseTlbFlushLabel(ctx.facts.tlbFlush.label);
  const pvFlush = tlb?.mode === 'pv-ipi' || tlb?.mode === 'hypervisor';
  const vm = guess.vm ?? (pvFlush ? true : undefined);
  ctx.facts.steal = { clock: guess.clock, ...(vm !== undefined ? { vm } : {}), ...(guess.hypervisor ? { hypervisor: guess.hypervisor } : {}), evidence: guess.evidence };
  if (vm !== true) return;

  const evidence = asEvidence(guess.evidence);
  if (guess.vm === undefined && pvFlush) evidence.push({ path: sys.shown('dev/kmsg'), value: `remote TLB flushes go through ${tlb?.via ?? 'the hypervisor'}: a virtual machine` });
  // what the host took from each watched vCPU since boot, as the kernel accounted it
  const ticks = parseProcStatSteal(sys.text('proc/stat') ?? '');
  const upS = Number(sys.text('proc/uptime')?.split(/\s+/)[0]);
  let notable = false;
  if (guess.clock !== 'none') {
    for (const cpu of ctx.cpus) {
      const t = ticks.get(cpu);
      if (t === undefined) continue;
      const ns = t * NS_PER_USER_HZ_TICK;
      const share = Number.isFinite(upS) && upS > 0 ? ns / (upS * 1e9) : undefined;
      if (share !== undefined && share >= STEAL_NOTABLE_FRACTION) notable = true;
      evidence.push({
        path: sys.shown('proc/stat'),
        value: `steal on CPU ${cpu}: ${t} ticks = ${formatDuration(ns)} since boot${share !== undefined ? ` (${(share * 100).toFixed(2)}% of ${formatDuration(upS * 1e9)} up)` : ''}`,
      });
    }
  }
  const list = formatCpuList(ctx.cpus);
  const hv = guess.hypervisor ?? 'virtual machine';
  const dedicated =
    "a vCPU preempted by the host (seen only as steal): give each isolated vCPU its own physical CPU: pin it (libvirt <vcpupin>), keep the emulator and I/O threads elsewhere (<emulatorpin>, <iothreadpin>), no overcommit";
  const hostExits =
    "host interrupts and exits handled on the vCPU's thread (seen nowhere, not even as steal): isolate those physical CPUs on the host too (isolcpus=domain,managed_irq, nohz_full, irqaffinity= elsewhere)";
  const flush =
    tlb?.mode === 'hypervisor'
      ? "remote TLB flushes through the hypervisor (seen nowhere): no munmap/mprotect/madvise in threads sharing the isolated task's mm; THP, KSM and NUMA balancing off"
      : tlb?.mode === 'pv-ipi'
        ? "a preempted vCPU's TLB flush is left to the host at its next entry (seen nowhere): with dedicated vCPUs, QEMU -cpu ...,kvm-hint-dedicated=on (KVM_HINTS_REALTIME) makes the guest send plain flush IPIs, which isolwatch sees and attributes"
        : undefined;
  if (guess.clock === 'none') {
    ctx.findings.push(
      makeFinding('vm-no-steal-clock', {
        title: `${hv === 'virtual machine' ? 'A virtual machine' : `${hv} guest`} without a steal clock: what the host takes from CPU ${list} is invisible to every guest tool`,
        evidence,
        remedy: [
          'give the guest a steal clock: KVM steal time (QEMU -cpu ...,kvm-steal-time=on, the default with KVM); no nopv on the kernel command line',
          dedicated,
          hostExits,
          ...(flush ? [flush] : []),
        ],
      }),
    );
    return;
  }
  const known = guess.clock !== 'unknown';
  ctx.findings.push(
    makeFinding(known ? 'vm-steal-clock' : 'vm-steal-unknown', {
      title: known
        ? `${hv} guest: what the host takes from CPU ${list} shows only as steal time (${guess.clock}); hypervisor TLB flushes and host exits show nowhere`
        : `${hv} guest: whether it has a steal clock could not be told here; what the host takes from CPU ${list} shows at most as steal time`,
      evidence,
      remedy: [
        known
          ? "watch the steal: isolwatch reports each watched CPU's (summary, live view, isolwatch_steal_seconds_total); a run's report says when it was large"
          : "run 'isolwatch watch' once: its start record says whether there is a steal clock and how it is read (start.steal)",
        dedicated,
        hostExits,
        ...(flush ? [flush] : []),
      ],
      // the host took a notable share of a watched vCPU since boot: more than informational
      ...(notable ? { severity: 'warning' as const } : {}),
    }),
  );
}
