// What the hypervisor takes: the paravirt steal clock, i.e. the time the host
// ran something else while a vCPU of this guest was runnable. No guest tracer
// sees that time (the vCPU is not running); the guest kernel learns it from
// the hypervisor and accounts it as steal (/proc/stat). Pure functions: which
// clock the kernel reads (from its own code, or without BPF from what the
// system shows), where KVM's per-CPU clock lives, and /proc/stat's column.
//
// How the kernel does it (arch/x86/kernel/kvm.c, kernel/sched/cputime.c):
// with KVM_FEATURE_STEAL_TIME the guest registers a per-CPU struct
// kvm_steal_time {u64 steal; u32 version; ...} that the host updates at every
// VM entry, and points the static call pv_steal_clock at kvm_steal_clock
// (Xen, VMware likewise at their own; bare metal keeps native_steal_clock,
// which returns 0). At each tick (and, on nohz_full CPUs, at kernel entries)
// the clock's growth is added to kcpustat's CPUTIME_STEAL, which /proc/stat
// prints in USER_HZ ticks. Reading the clock itself gives nanoseconds, current
// to the last VM entry, also on a CPU that does not enter the kernel.

import type { StealInfo } from '../types.js';

export type { StealInfo };
export type StealSource = StealInfo['source'];

/** A CPU's steal is worth saying out loud from this share of the time it was measured over (a run's judged window, doctor: since boot). */
export const STEAL_NOTABLE_FRACTION = 0.01;

/** USER_HZ: /proc/stat's unit, 100 on every architecture isolwatch runs on (x86-64, arm64). */
export const USER_HZ = 100;
export const NS_PER_USER_HZ_TICK = 1e9 / USER_HZ;

/** The implementations pv_steal_clock can point at, by hypervisor; native_steal_clock returns 0. */
export const STEAL_CLOCKS: Readonly<Record<string, string>> = {
  kvm_steal_clock: 'KVM',
  xen_steal_clock: 'Xen',
  vmware_steal_clock: 'VMware',
  para_steal_clock: 'arm64 pvtime',
  native_steal_clock: 'none',
};

/** The static call's trampoline: a jmp to the current implementation (x86, kernels >= 5.12). */
export const STEAL_TRAMPOLINE = '__SCT__pv_steal_clock';

/**
 * KVM's vcpu_is_preempted thunk, written in assembly in arch/x86/kernel/kvm.c:
 * `movq __per_cpu_offset(,%rdi,8), %rax; cmpb $0, KVM_STEAL_TIME_preempted+steal_time(%rax)`.
 * Its two displacements are where the per-CPU struct kvm_steal_time lives.
 */
export const KVM_PREEMPTED_THUNK = '__raw_callee_save___kvm_vcpu_is_preempted';

/** offsetof(struct kvm_steal_time, preempted): a hypervisor ABI (Documentation/virt/kvm/x86/msr.rst). */
const KVM_STEAL_TIME_PREEMPTED = 16n;

const MASK64 = (1n << 64n) - 1n;
const signExtend32 = (v: number): bigint => BigInt.asUintN(64, BigInt(v | 0));

export interface StealKernel {
  /** Address and size of a text symbol, or undefined. */
  symbol(name: string): { addr: bigint; size: number } | undefined;
  /** The symbol at an address ("func" or "func+0x10"), or undefined. */
  name(addr: bigint): string | undefined;
  /** Kernel memory, or undefined when it cannot be read. */
  read(addr: bigint, len: number): Uint8Array | undefined;
}

/**
 * The clock pv_steal_clock calls, from the kernel's own code: the static
 * call's trampoline jumps to it (`e9 rel32`). Undefined when the kernel has no
 * such trampoline or its bytes cannot be read (then the system's facts decide).
 */
export function stealClockFromText(k: StealKernel): { clock: string; evidence: string } | undefined {
  const t = k.symbol(STEAL_TRAMPOLINE);
  if (!t) return undefined;
  const code = k.read(t.addr, 5);
  if (!code || code.length < 5) return undefined;
  if (code[0] !== 0xe9) {
    // a NULL static call is a bare return: nothing to call, no steal
    if (code[0] === 0xc3) return { clock: 'none', evidence: `${STEAL_TRAMPOLINE} returns at once (no steal clock)` };
    return undefined;
  }
  const rel = new DataView(code.buffer, code.byteOffset, 5).getInt32(1, true);
  const target = (t.addr + 5n + BigInt(rel)) & MASK64;
  const name = k.name(target)?.replace(/\+0x0$/, '');
  if (!name || name.startsWith('0x') || name.includes('+')) return { clock: 'unknown', evidence: `${STEAL_TRAMPOLINE} jumps to 0x${target.toString(16)}, which has no symbol` };
  if (name === 'native_steal_clock') return { clock: 'none', evidence: `${STEAL_TRAMPOLINE} jumps to native_steal_clock (returns 0: no hypervisor steal clock)` };
  return { clock: name, evidence: `${STEAL_TRAMPOLINE} jumps to ${name}` };
}

/** Where KVM's per-CPU steal clocks are: the array of per-CPU offsets, and steal_time's address in the per-CPU area. */
export interface KvmStealLayout {
  /** &__per_cpu_offset[0]: per_cpu(steal_time, cpu) = __per_cpu_offset[cpu] + stealTime */
  perCpuOffsets: bigint;
  /** &steal_time (its offset in each CPU's area); struct kvm_steal_time starts with u64 steal (ns) */
  stealTime: bigint;
}

/** Decodes KVM_PREEMPTED_THUNK's first instructions (after an optional endbr64); undefined when they are not the expected ones. */
export function kvmStealLayout(code: Uint8Array): KvmStealLayout | undefined {
  let i = 0;
  if (code[0] === 0xf3 && code[1] === 0x0f && code[2] === 0x1e && code[3] === 0xfa) i = 4; // endbr64 (IBT)
  if (code.length < i + 15) return undefined;
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  // 48 8b 04 fd d32: mov d32(,%rdi,8),%rax
  if (code[i] !== 0x48 || code[i + 1] !== 0x8b || code[i + 2] !== 0x04 || code[i + 3] !== 0xfd) return undefined;
  const perCpuOffsets = signExtend32(dv.getInt32(i + 4, true));
  // 80 b8 d32 00: cmpb $0x0,d32(%rax)
  const j = i + 8;
  if (code[j] !== 0x80 || code[j + 1] !== 0xb8 || code[j + 6] !== 0x00) return undefined;
  const stealTime = (signExtend32(dv.getInt32(j + 2, true)) - KVM_STEAL_TIME_PREEMPTED) & MASK64;
  return { perCpuOffsets, stealTime };
}

/** /proc/stat's steal column (the 8th value of a cpuN line) per CPU, in USER_HZ ticks. */
export function parseProcStatSteal(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    if (v.length >= 8 && Number.isFinite(v[7])) out.set(Number(m[1]), v[7]);
  }
  return out;
}

/** Whether CPUID says this is a virtual machine: /proc/cpuinfo's `hypervisor` flag (x86); undefined without flags lines. */
export function cpuinfoSaysVm(cpuinfo: string | undefined): boolean | undefined {
  if (cpuinfo === undefined) return undefined;
  const flags = cpuinfo.split('\n').filter((l) => /^flags\s*:/.test(l));
  if (!flags.length) return undefined;
  return flags.some((l) => /\shypervisor(\s|$)/.test(l));
}

export interface StealSystemFacts {
  /** /proc/cpuinfo */
  cpuinfo?: string;
  /** /proc/stat */
  procStat?: string;
  /** the kernel log's messages (boot messages, where they are still in the buffer) */
  kernelLog: readonly string[];
  /** /proc/cmdline */
  cmdline?: string;
}

export interface StealClockGuess {
  /** as StealInfo.clock */
  clock: string;
  vm?: boolean;
  /** "KVM", "Xen", ... from the boot log's "Hypervisor detected" */
  hypervisor?: string;
  /** one line per fact, "where: what" */
  evidence: string[];
}

const CLOCK_OF_HYPERVISOR: Record<string, string> = { KVM: 'kvm_steal_clock', Xen: 'xen_steal_clock', VMware: 'vmware_steal_clock' };

/**
 * Whether this machine has a steal clock, from what can be read without BPF
 * (doctor): steal in /proc/stat proves one (only a paravirt clock makes it
 * grow), so do KVM's boot messages that need KVM_FEATURE_STEAL_TIME; no
 * hypervisor bit means bare metal. Anything else is "unknown": the column is
 * always there and may just have stayed 0 ('isolwatch watch' reads the
 * kernel's code and says for sure).
 */
export function stealClockFromSystem(f: StealSystemFacts): StealClockGuess {
  const evidence: string[] = [];
  let vm = cpuinfoSaysVm(f.cpuinfo);
  if (vm !== undefined) evidence.push(`/proc/cpuinfo: ${vm ? 'hypervisor flag set (a virtual machine)' : 'no hypervisor flag (bare metal)'}`);
  const detected = f.kernelLog.map((m) => /Hypervisor detected: (.+)$/.exec(m.trim())).find((m) => m);
  const hypervisor = detected ? detected[1].trim().split(/\s+/)[0] : undefined;
  if (detected) {
    vm = true;
    evidence.push(`/dev/kmsg: "${detected[0]}"`);
  }
  const vendorClock = (hypervisor && CLOCK_OF_HYPERVISOR[hypervisor]) || 'paravirt';
  const ticks = f.procStat !== undefined ? parseProcStatSteal(f.procStat) : undefined;
  const stolen = ticks ? [...ticks].filter(([, t]) => t > 0) : [];
  if (stolen.length) {
    const shown = stolen.slice(0, 4).map(([c, t]) => `CPU ${c} ${t}`).join(', ');
    evidence.push(`/proc/stat: steal ticks ${shown}${stolen.length > 4 ? ', ...' : ''} (USER_HZ): only a steal clock makes them grow`);
    return { clock: vendorClock, vm: true, hypervisor, evidence };
  }
  if (ticks) evidence.push('/proc/stat: steal 0 on every CPU (the column is always there: 0 proves nothing)');
  // KVM sets up its paravirt TLB flush and sched yield only with KVM_FEATURE_STEAL_TIME (pv_tlb_flush_supported(),
  // pv_sched_yield_supported()); older kernels also printed "kvm-stealtime: cpu N, msr ..." for each CPU
  const kvm = f.kernelLog.find((m) => /kvm-stealtime: cpu|stealtime: cpu \d+, msr|KVM setup pv remote TLB flush|setup PV sched yield/.test(m));
  if (kvm) {
    evidence.push(`/dev/kmsg: "${kvm.trim()}" (needs KVM's steal time feature)`);
    return { clock: 'kvm_steal_clock', vm: true, hypervisor: hypervisor ?? 'KVM', evidence };
  }
  if (vm === false) return { clock: 'none', vm, evidence };
  if (vm && f.cmdline !== undefined && /(^|\s)nopv(\s|$)/.test(f.cmdline)) {
    evidence.push('/proc/cmdline: nopv (the guest runs without paravirt features: no steal clock)');
    return { clock: 'none', vm, hypervisor, evidence };
  }
  return { clock: 'unknown', vm, hypervisor, evidence };
}

/** "kvm_steal_clock" -> "KVM's steal clock"; for words. */
export function stealClockName(clock: string): string {
  const who = STEAL_CLOCKS[clock];
  if (clock === 'none' || clock === 'unknown') return clock;
  return who && who !== 'none' ? `${who}'s steal clock (${clock})` : `the steal clock ${clock}`;
}
