// How this kernel flushes other CPUs' TLBs (x86): with IPIs that run
// flush_tlb_func on each target (what isolwatch sees and attributes), or
// through the hypervisor, where a shootdown reaches an isolated vCPU as a VM
// exit that no guest tracer sees. The paravirt slot pv_ops.mmu.flush_tlb_multi
// is patched into direct calls at boot, so the kernel's own code says which
// function it calls: the callers' bytes (read with BPF, see live/session) are
// scanned for calls to the known implementations. Without BPF (doctor), the
// boot log says it where it is still in the ring buffer. Pure functions.

export type TlbFlushMode = 'ipi' | 'pv-ipi' | 'hypervisor' | 'unknown';

export interface TlbFlush {
  mode: TlbFlushMode;
  /** the kernel function the flush goes through, e.g. "kvm_flush_tlb_multi" */
  via?: string;
  /** how it was found out, e.g. "flush_tlb_mm_range calls kvm_flush_tlb_multi" */
  evidence: string;
}

/** The implementations of pv_ops.mmu.flush_tlb_multi, by what they do to a remote CPU. */
export const FLUSH_IMPLEMENTATIONS: Readonly<Record<string, { mode: TlbFlushMode; who: string }>> = {
  native_flush_tlb_multi: { mode: 'ipi', who: 'native' },
  kvm_flush_tlb_multi: { mode: 'pv-ipi', who: 'KVM' },
  pvm_flush_tlb_multi: { mode: 'hypervisor', who: 'PVM' },
  hyperv_flush_tlb_multi: { mode: 'hypervisor', who: 'Hyper-V' },
  xen_flush_tlb_multi: { mode: 'hypervisor', who: 'Xen' },
};

/** Where native_flush_tlb_multi sends its IPIs from, when it is inlined into a caller (kernels without paravirt). */
const IPI_SENDERS = ['on_each_cpu_cond_mask', 'smp_call_function_many_cond'];

/** The kernel functions whose code calls the remote flush: scanned in this order. */
export const FLUSH_CALLERS = ['flush_tlb_mm_range', 'arch_tlbbatch_flush'];

/** Every symbol the text scan needs addresses for. */
export const TLB_FLUSH_SYMBOLS = [...FLUSH_CALLERS, ...Object.keys(FLUSH_IMPLEMENTATIONS), ...IPI_SENDERS];

const MASK64 = (1n << 64n) - 1n;

/**
 * x86-64 call targets in a function's bytes: `e8 rel32` (direct) and
 * `ff 15 disp32` (call *disp32(%rip): the slot address). Every offset is
 * tried; a stray match would have to land exactly on a known function's
 * first byte to count, which the caller checks.
 */
export function x86CallTargets(code: Uint8Array, base: bigint): { direct: bigint[]; slots: bigint[] } {
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const direct: bigint[] = [];
  const slots: bigint[] = [];
  for (let i = 0; i + 5 <= code.length; i++) {
    if (code[i] === 0xe8) direct.push((base + BigInt(i + 5) + BigInt(dv.getInt32(i + 1, true))) & MASK64);
    else if (code[i] === 0xff && code[i + 1] === 0x15 && i + 6 <= code.length) slots.push((base + BigInt(i + 6) + BigInt(dv.getInt32(i + 2, true))) & MASK64);
  }
  return { direct, slots };
}

export interface KernelReader {
  /** Address and size of a text symbol (size: up to the next symbol), or undefined. */
  symbol(name: string): { addr: bigint; size: number } | undefined;
  /** Kernel memory, or undefined when it cannot be read. */
  read(addr: bigint, len: number): Uint8Array | undefined;
}

/** The flush implementation the kernel's code calls, from its callers' bytes. */
export function detectFromKernelText(k: KernelReader, maxBytes = 4095): TlbFlush {
  const known = new Map<bigint, string>();
  for (const name of [...Object.keys(FLUSH_IMPLEMENTATIONS), ...IPI_SENDERS]) {
    const s = k.symbol(name);
    if (s) known.set(s.addr, name);
  }
  let readAny = false;
  for (const caller of FLUSH_CALLERS) {
    const c = k.symbol(caller);
    if (!c) continue;
    const code = k.read(c.addr, Math.min(c.size, maxBytes));
    if (!code) continue;
    readAny = true;
    const { direct, slots } = x86CallTargets(code, c.addr);
    const targets = direct.map((a) => known.get(a)).filter((n): n is string => n !== undefined);
    // an unpatched paravirt site: the slot holds the implementation's address
    for (const slot of slots) {
      const p = k.read(slot, 8);
      if (p?.length === 8) {
        const name = known.get(new DataView(p.buffer, p.byteOffset, 8).getBigUint64(0, true));
        if (name) targets.push(name);
      }
    }
    const impl = targets.find((n) => n in FLUSH_IMPLEMENTATIONS);
    if (impl) return { mode: FLUSH_IMPLEMENTATIONS[impl].mode, via: impl, evidence: `${caller} calls ${impl}` };
    const ipi = targets.find((n) => IPI_SENDERS.includes(n));
    if (ipi) return { mode: 'ipi', via: 'native_flush_tlb_multi', evidence: `${caller} sends the flush IPIs itself (calls ${ipi})` };
  }
  return { mode: 'unknown', evidence: readAny ? `no known flush function is called from ${FLUSH_CALLERS.join(' or ')}` : 'the kernel text could not be read' };
}

/**
 * From the kernel log (boot messages) and the flush implementations present
 * in kallsyms: what doctor can tell without loading BPF. Undecided when the
 * boot messages have left the log buffer.
 */
export function detectFromKernelLog(messages: readonly string[], present: readonly string[]): TlbFlush {
  const has = (re: RegExp) => messages.find((m) => re.test(m));
  const pvm = has(/pvm-pv: detected/i);
  if (pvm && present.includes('pvm_flush_tlb_multi')) return { mode: 'hypervisor', via: 'pvm_flush_tlb_multi', evidence: `kernel log: "${pvm.trim()}"` };
  const hv = has(/Hyper-V: Using hypercall for remote TLB flush/i);
  if (hv) return { mode: 'hypervisor', via: 'hyperv_flush_tlb_multi', evidence: `kernel log: "${hv.trim()}"` };
  const kvm = has(/KVM setup pv remote TLB flush/i);
  if (kvm) return { mode: 'pv-ipi', via: 'kvm_flush_tlb_multi', evidence: `kernel log: "${kvm.trim()}"` };
  const xen = has(/Booting paravirtualized kernel on Xen PV/i);
  if (xen) return { mode: 'hypervisor', via: 'xen_flush_tlb_multi', evidence: `kernel log: "${xen.trim()}"` };
  const boot = has(/Booting paravirtualized kernel on (KVM|bare hardware)/i);
  if (boot) return { mode: 'ipi', via: 'native_flush_tlb_multi', evidence: `kernel log: "${boot.trim()}" and no paravirt TLB flush set up` };
  const pv = present.filter((n) => FLUSH_IMPLEMENTATIONS[n]?.mode !== 'ipi');
  if (present.length && !pv.length) return { mode: 'ipi', via: 'native_flush_tlb_multi', evidence: 'kallsyms has no paravirt flush implementation' };
  return {
    mode: 'unknown',
    evidence: pv.length
      ? `kallsyms has ${pv.join(', ')} and the boot messages that say which is used have left the kernel log`
      : 'kallsyms names no flush implementation',
  };
}

/** The start record's spelling: "ipi", "pv-ipi:kvm_flush_tlb_multi", "hypervisor:pvm_flush_tlb_multi", "unknown". */
export function tlbFlushLabel(t: Pick<TlbFlush, 'mode' | 'via'>): string {
  if (t.mode === 'ipi' || t.mode === 'unknown' || !t.via) return t.mode;
  return `${t.mode}:${t.via}`;
}

/** Back from the start record's spelling. */
export function parseTlbFlushLabel(label: string | undefined): Pick<TlbFlush, 'mode' | 'via'> | undefined {
  if (!label) return undefined;
  const [mode, via] = label.split(':');
  if (mode !== 'ipi' && mode !== 'pv-ipi' && mode !== 'hypervisor' && mode !== 'unknown') return undefined;
  return { mode, ...(via ? { via } : {}) };
}

/** What the mode means for an isolated CPU, in one or two sentences. */
export function tlbFlushMeaning(t: Pick<TlbFlush, 'mode' | 'via'>): string {
  const who = t.via ? FLUSH_IMPLEMENTATIONS[t.via]?.who : undefined;
  switch (t.mode) {
    case 'ipi':
      return 'TLB shootdowns are IPIs: each target CPU runs flush_tlb_func, which isolwatch sees and attributes to the unmapping task';
    case 'pv-ipi':
      return (
        `${who ?? 'paravirt'} TLB flush: running vCPUs get flush_tlb_func IPIs as usual; a preempted vCPU is flushed by the ` +
        'hypervisor at its next entry instead (no IPI inside the guest: that cost shows only as stolen time)'
      );
    case 'hypervisor':
      return (
        `remote TLB flushes go through the hypervisor (${t.via ?? 'a hypercall'}): shootdowns reach isolated vCPUs as VM exits ` +
        'that no guest tracer sees (isolwatch, perf, bpftrace, osnoise); their cost shows only as stolen time'
      );
    default:
      return 'how this kernel flushes remote TLBs is unknown: shootdowns may or may not show as flush_tlb_func IPIs';
  }
}
