// How the kernel flushes remote TLBs, from synthetic x86 code and boot logs.
// The live detection on this machine's kernel is checked in
// test/integration/tracing.test.ts against what the kernel really sent.
import { describe, expect, it } from 'vitest';
import {
  detectFromKernelLog,
  detectFromKernelText,
  parseTlbFlushLabel,
  tlbFlushLabel,
  tlbFlushMeaning,
  x86CallTargets,
  type KernelReader,
} from '../../src/system/tlb-flush.js';

const CALLER = 0xffffffff8134b860n;
const KVM = 0xffffffff8133a8f0n;
const PVM = 0xffffffff8133c3e0n;
const NATIVE = 0xffffffff8134b6d0n;
const ONEACH = 0xffffffff81200000n;
const SLOT = 0xffffffff82000010n;

/** `e8 rel32` at `at` in a buffer placed at CALLER, calling `target`. */
function call(code: Uint8Array, at: number, target: bigint): void {
  code[at] = 0xe8;
  new DataView(code.buffer).setInt32(at + 1, Number(target - (CALLER + BigInt(at + 5))), true);
}

function kernel(code: Uint8Array, mem: Map<bigint, Uint8Array> = new Map()): KernelReader {
  const syms: Record<string, bigint> = { flush_tlb_mm_range: CALLER, kvm_flush_tlb_multi: KVM, pvm_flush_tlb_multi: PVM, native_flush_tlb_multi: NATIVE, on_each_cpu_cond_mask: ONEACH };
  return {
    symbol: (n) => (syms[n] === undefined ? undefined : { addr: syms[n], size: n === 'flush_tlb_mm_range' ? code.length : 64 }),
    read: (a, l) => (a === CALLER ? code.slice(0, l) : mem.get(a)?.slice(0, l)),
  };
}

describe('remote TLB flush from the kernel text', () => {
  it('finds direct calls (patched paravirt sites) and rip-relative slots', () => {
    const code = new Uint8Array(64).fill(0x90);
    call(code, 10, KVM);
    code.set([0xff, 0x15, 0x10, 0x00, 0x00, 0x00], 30);
    const t = x86CallTargets(code, CALLER);
    expect(t.direct).toContain(KVM);
    expect(t.slots).toContain(CALLER + 36n + 0x10n);
  });

  it('KVM: IPIs to running vCPUs only', () => {
    const code = new Uint8Array(128).fill(0x90);
    call(code, 40, KVM);
    const r = detectFromKernelText(kernel(code));
    expect(r).toEqual({ mode: 'pv-ipi', via: 'kvm_flush_tlb_multi', evidence: 'flush_tlb_mm_range calls kvm_flush_tlb_multi' });
    expect(tlbFlushLabel(r)).toBe('pv-ipi:kvm_flush_tlb_multi');
  });

  it('PVM: the hypervisor flushes, no IPI', () => {
    const code = new Uint8Array(128).fill(0x90);
    call(code, 7, PVM);
    const r = detectFromKernelText(kernel(code));
    expect(tlbFlushLabel(r)).toBe('hypervisor:pvm_flush_tlb_multi');
    expect(tlbFlushMeaning(r)).toMatch(/VM exits that no guest tracer sees/);
  });

  it('an unpatched site: the slot holds the implementation', () => {
    const code = new Uint8Array(64).fill(0x90);
    const disp = Number(SLOT - (CALLER + 6n));
    code.set([0xff, 0x15], 0);
    new DataView(code.buffer).setInt32(2, disp, true);
    const slot = new Uint8Array(8);
    new DataView(slot.buffer).setBigUint64(0, NATIVE, true);
    expect(tlbFlushLabel(detectFromKernelText(kernel(code, new Map([[SLOT, slot]]))))).toBe('ipi');
  });

  it('native flush inlined (no paravirt): the caller sends the IPIs itself', () => {
    const code = new Uint8Array(64).fill(0x90);
    call(code, 3, ONEACH);
    expect(detectFromKernelText(kernel(code)).mode).toBe('ipi');
  });

  it('unknown when nothing matches or the text cannot be read', () => {
    expect(detectFromKernelText(kernel(new Uint8Array(64).fill(0x90))).mode).toBe('unknown');
    const blind: KernelReader = { symbol: () => ({ addr: CALLER, size: 64 }), read: () => undefined };
    expect(detectFromKernelText(blind)).toEqual({ mode: 'unknown', evidence: 'the kernel text could not be read' });
  });
});

describe('remote TLB flush from the boot log (doctor, no BPF)', () => {
  const all = ['native_flush_tlb_multi', 'kvm_flush_tlb_multi', 'pvm_flush_tlb_multi'];
  it('reads the set-up lines the kernel prints', () => {
    expect(detectFromKernelLog(['kvm-guest: KVM setup pv remote TLB flush', 'pvm-pv: not detected, 0/52 sites patched'], all).via).toBe('kvm_flush_tlb_multi');
    expect(detectFromKernelLog(['pvm-pv: detected, 52/52 sites patched'], all).mode).toBe('hypervisor');
    expect(detectFromKernelLog(['Hyper-V: Using hypercall for remote TLB flush'], ['native_flush_tlb_multi', 'hyperv_flush_tlb_multi']).via).toBe('hyperv_flush_tlb_multi');
    expect(detectFromKernelLog(['Booting paravirtualized kernel on bare hardware'], all).mode).toBe('ipi');
  });
  it('a kernel without paravirt flushes can only send IPIs; otherwise the log must say', () => {
    expect(detectFromKernelLog([], ['native_flush_tlb_multi']).mode).toBe('ipi');
    const u = detectFromKernelLog([], all);
    expect(u.mode).toBe('unknown');
    expect(u.evidence).toMatch(/kvm_flush_tlb_multi, pvm_flush_tlb_multi/);
  });
  it('labels round-trip', () => {
    for (const l of ['ipi', 'unknown', 'pv-ipi:kvm_flush_tlb_multi', 'hypervisor:xen_flush_tlb_multi']) expect(tlbFlushLabel(parseTlbFlushLabel(l)!)).toBe(l);
    expect(parseTlbFlushLabel('nonsense')).toBeUndefined();
  });
});
