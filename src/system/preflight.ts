// What a tracing command needs from this machine besides libbpf.so.1 (which
// src/libbpf/ffi.ts reports when it cannot be loaded): a kernel with BTF, and the
// privilege to load and attach BPF tracing programs. Checked before anything is
// started or attached; each missing thing is one line of one EnvironmentError
// (exit 3). The kernel checks capabilities, not uid 0: root in a container may
// lack them, and a non-root process that holds them may go on.
import { existsSync, readFileSync } from 'node:fs';
import { EnvironmentError } from '../errors.js';

// include/uapi/linux/capability.h
export const CAP_SYS_ADMIN = 21;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/** The effective capability set from /proc/PID/status text ("CapEff:\t000001ffffffffff"); undefined when absent. */
export function parseCapEff(status: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

const has = (set: bigint, cap: number): boolean => ((set >> BigInt(cap)) & 1n) === 1n;

/**
 * The capabilities that loading tracing programs needs and `capEff` lacks. CAP_SYS_ADMIN
 * stands in for both, as the kernel allows (bpf_capable(), perfmon_capable(); before 5.8
 * it was the only way).
 */
export function missingCapabilities(capEff: bigint): string[] {
  if (has(capEff, CAP_SYS_ADMIN)) return [];
  const missing: string[] = [];
  if (!has(capEff, CAP_BPF)) missing.push('CAP_BPF');
  if (!has(capEff, CAP_PERFMON)) missing.push('CAP_PERFMON');
  return missing;
}

export interface HostFacts {
  euid: number;
  /** undefined: /proc/self/status unreadable or without CapEff */
  capEff: bigint | undefined;
  btf: boolean;
}

/** One line per thing the machine lacks for tracing; empty when it can trace. */
export function tracingProblems(f: HostFacts): string[] {
  const out: string[] = [];
  if (!f.btf) out.push(`this kernel has no BTF (${VMLINUX_BTF} is missing): isolwatch's CO-RE programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y`);
  if (f.capEff === undefined) {
    if (f.euid !== 0) out.push(`needs root (uid ${f.euid}, and its capabilities are unreadable in /proc/self/status) to load its BPF programs: run it as root (sudo)`);
    return out;
  }
  const missing = missingCapabilities(f.capEff);
  if (missing.length === 0) return out;
  const names = missing.join(' and ');
  const capEff = f.capEff.toString(16).padStart(16, '0');
  if (f.euid === 0) {
    out.push(
      `runs as root but without ${names} in its effective capabilities (CapEff ${capEff}: a container or a dropped bounding set): ` +
        `grant ${missing.length > 1 ? 'them' : 'it'} (or CAP_SYS_ADMIN) to load and attach BPF programs`,
    );
  } else {
    out.push(`needs root, or CAP_BPF and CAP_PERFMON, to load its BPF programs: uid ${f.euid} lacks ${names}: run it as root (sudo), or grant ${missing.length > 1 ? 'both' : 'it'}`);
  }
  return out;
}

/** This process's facts. */
export function hostFacts(): HostFacts {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    /* no /proc: capEff stays unknown */
  }
  return { euid: process.geteuid?.() ?? -1, capEff: parseCapEff(status), btf: existsSync(VMLINUX_BTF) };
}

/** Throws one EnvironmentError (exit 3) naming everything the machine lacks for tracing. */
export function assertCanTrace(facts: HostFacts = hostFacts()): void {
  const problems = tracingProblems(facts);
  if (problems.length) throw new EnvironmentError(problems.map((p) => `isolwatch: ${p}`).join('\n'));
}
