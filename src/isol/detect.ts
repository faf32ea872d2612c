// Detects whether the running kernel carries the (never merged) PR_ISOL ABI.
// Positive evidence only: BTF says task_struct has the isolation pointer, or
// kallsyms lists the prctl handlers. Anything else means options 63..67 are the
// upstream SME/MDWE/KSM options and must never be issued (DESIGN.md, rules).
// The BTF query is injected so tests and callers without libbpf can use this.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kallsymsHas } from '../system/kallsyms.js';

export type PrIsolVia = 'btf:task_isol_info' | 'btf:isol_info' | 'kallsyms' | null;

export interface PrIsolDetection {
  supported: boolean;
  via: PrIsolVia;
  /** v12's /proc/<pid>/task_isolation exists (checked as <root>/proc/self/task_isolation). */
  procTaskIsolation: boolean;
  /** One line per check made, for `doctor` and the start record's explanation. */
  evidence: string[];
}

export interface DetectOptions {
  /** Filesystem root holding proc/ (fixture trees in tests). Default '/'. */
  root?: string;
  /** vmlinuxBtf().hasStructField from src/libbpf/btf.ts; omitted = BTF not consulted. */
  hasStructField?: (struct: string, field: string) => boolean;
  /**
   * Whether the kernel has a symbol (asked of the kernel: Session.kernelAddress);
   * undefined = it cannot say, and <root>/proc/kallsyms is read instead.
   */
  hasSymbol?: (name: string) => boolean | undefined;
}

/** Handlers every PR_ISOL revision (v4 onward) adds; any one of them is enough. */
export const PR_ISOL_KALLSYMS = [
  'prctl_task_isol_feat_get',
  'prctl_task_isol_cfg_get',
  'prctl_task_isol_cfg_set',
  'prctl_task_isol_activate_get',
  'prctl_task_isol_activate_set',
] as const;

export function detectPrIsol(opts: DetectOptions = {}): PrIsolDetection {
  const root = opts.root ?? '/';
  const evidence: string[] = [];
  const procTaskIsolation = existsSync(join(root, 'proc/self/task_isolation'));
  evidence.push(`${join(root, 'proc/self/task_isolation')}: ${procTaskIsolation ? 'present' : 'absent'}`);

  let via: PrIsolVia = null;
  if (opts.hasStructField) {
    for (const [field, tag] of [
      ['task_isol_info', 'btf:task_isol_info'],
      ['isol_info', 'btf:isol_info'],
    ] as const) {
      let has = false;
      try {
        has = opts.hasStructField('task_struct', field);
      } catch (e) {
        evidence.push(`BTF task_struct.${field}: could not check (${(e as Error).message})`);
        continue;
      }
      evidence.push(`BTF task_struct.${field}: ${has ? 'present' : 'absent'}`);
      if (has && via === null) via = tag;
    }
  } else {
    evidence.push('BTF: not consulted');
  }

  const asked = opts.hasSymbol ? PR_ISOL_KALLSYMS.map((n) => [n, opts.hasSymbol!(n)] as const) : [];
  if (asked.length && asked.every(([, has]) => has !== undefined)) {
    const found = asked.filter(([, has]) => has).map(([n]) => n);
    evidence.push(`kernel symbols: ${found.length ? found.join(', ') : 'no prctl_task_isol_* symbols'}`);
    if (found.length && via === null) via = 'kallsyms';
    return { supported: via !== null, via, procTaskIsolation, evidence };
  }
  const kallsymsPath = join(root, 'proc/kallsyms');
  let text: string | undefined;
  try {
    text = readFileSync(kallsymsPath, 'utf8');
  } catch (e) {
    evidence.push(`${kallsymsPath}: unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (text !== undefined) {
    const found = kallsymsHas(text, PR_ISOL_KALLSYMS);
    evidence.push(`${kallsymsPath}: ${found.length ? found.join(', ') : 'no prctl_task_isol_* symbols'}`);
    if (found.length && via === null) via = 'kallsyms';
  }
  return { supported: via !== null, via, procTaskIsolation, evidence };
}

/** The start record's `pr_isol` field. */
export function prIsolField(d: Pick<PrIsolDetection, 'supported'>): 'kernel' | 'absent' {
  return d.supported ? 'kernel' : 'absent';
}
