// What every doctor check works with: the audited system, the watched and
// housekeeping CPUs, the kernel config, the facts gathered so far and the
// findings list, plus the small readers the checks share.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { formatCpuList, parseCpuList } from '../../system/cpus.js';
import type { KernelConfig } from '../boot.js';
import { parseCpuMask } from '../masks.js';
import type { SysRoot } from '../read.js';
import type { AuditOptions, DoctorFacts, Finding } from '../types.js';

/** PF_KTHREAD in the flags field of /proc/PID/stat (include/linux/sched.h). */
export const PF_KTHREAD = 0x00200000;

/** Clocksources whose clock reads stay in the vDSO (no syscall). */
export const VDSO_CLOCKSOURCES = new Set(['tsc', 'kvm-clock', 'arch_sys_counter', 'hyperv_clocksource_tsc_page', 'xen', 'riscv_clocksource']);

/** How many items an aggregated finding lists as evidence; the title carries the full count. */
export const EVIDENCE_LIMIT = 12;

export interface Ctx {
  sys: SysRoot;
  cpus: number[];
  online: number[];
  housekeeping: number[];
  findings: Finding[];
  facts: DoctorFacts;
  config: KernelConfig;
  opts: AuditOptions;
}

export const list = (cpus: readonly number[]): string => (cpus.length ? formatCpuList(cpus) : '(none)');
export const shownValue = (v: string | undefined): string => (v === undefined ? 'missing' : v.trim() === '' ? '(empty)' : v.trim());

/** A hex mask for commands that take masks (workqueue cpumask, default_smp_affinity). */
export function toMask(cpus: readonly number[]): string {
  const groups: number[] = [];
  for (const c of cpus) {
    const g = Math.floor(c / 32);
    while (groups.length <= g) groups.push(0);
    groups[g] = (groups[g] | (1 << (c % 32))) >>> 0;
  }
  if (!groups.length) return '0';
  return groups
    .map((g, i) => (i === groups.length - 1 ? g.toString(16) : g.toString(16).padStart(8, '0')))
    .reverse()
    .join(',');
}

export function readList(sys: SysRoot, rel: string): number[] | undefined {
  const t = sys.text(rel);
  if (t === undefined) return undefined;
  const v = t.trim();
  // Kernels with an unallocated mask print "(null)".
  if (v === '' || v === '(null)') return [];
  try {
    return parseCpuList(v);
  } catch {
    return undefined;
  }
}

export function readMask(sys: SysRoot, rel: string): number[] | undefined {
  const t = sys.text(rel);
  if (t === undefined) return undefined;
  try {
    return parseCpuMask(t);
  } catch {
    return undefined;
  }
}


export function exists(root: string, rel: string): boolean {
  try {
    statSync(join(root, rel));
    return true;
  } catch {
    return false;
  }
}
