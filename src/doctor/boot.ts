// Kernel command line and kernel config: what the user asked the kernel for,
// and whether this kernel was built able to do it.
import { parseCpuList } from '../system/cpus.js';
import type { SysRoot } from './read.js';
import type { BootParams, KernelConfigFacts } from './types.js';

const ISOLCPUS_FLAGS = new Set(['nohz', 'domain', 'managed_irq']);

/** Splits a command line into parameters, honouring double quotes; stops at "--" (init's arguments). */
export function splitCmdline(raw: string): string[] {
  const out: string[] = [];
  for (const m of raw.trim().matchAll(/(?:[^\s"]+|"[^"]*")+/g)) {
    if (m[0] === '--') break;
    out.push(m[0].replace(/"/g, ''));
  }
  return out;
}

/**
 * The kernel's boot-time CPU list syntax (bitmap_parselist): what parseCpuList
 * reads, plus groups "0-15:2/4" (the first 2 of every 4) and "N" for the last
 * CPU, which boot parameters may use. Throws on anything else.
 */
export function parseBootCpuList(text: string, lastCpu?: number): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+|N)(?:-(\d+|N)(?::(\d+)\/(\d+))?)?$/.exec(part.trim());
    if (!m || ((m[1] === 'N' || m[2] === 'N') && lastCpu === undefined)) {
      // Let parseCpuList produce its usual message naming the bad element.
      return parseCpuList(text);
    }
    const num = (v: string): number => (v === 'N' ? lastCpu! : Number(v));
    const lo = num(m[1]);
    const hi = m[2] === undefined ? lo : num(m[2]);
    const used = m[3] === undefined ? 1 : Number(m[3]);
    const group = m[4] === undefined ? 1 : Number(m[4]);
    if (hi < lo || group === 0 || used > group) return parseCpuList(text);
    for (let c = lo; c <= hi; c++) if ((c - lo) % group < used) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

export function parseBootParams(raw: string, lastCpu?: number): BootParams {
  const params: BootParams = { raw: raw.trim(), unparsed: [] };
  // The kernel takes the last occurrence of a repeated parameter; so do we.
  for (const p of splitCmdline(raw)) {
    const eq = p.indexOf('=');
    const name = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? undefined : p.slice(eq + 1);
    try {
      switch (name) {
        case 'isolcpus': {
          if (value === undefined) break;
          // isolcpus=[flag,...,]cpulist; no flag means "domain" (the historical meaning).
          const items = value.split(',');
          const flags: string[] = [];
          while (items.length && ISOLCPUS_FLAGS.has(items[0])) flags.push(items.shift()!);
          params.isolcpus = { cpus: parseBootCpuList(items.join(','), lastCpu), flags: flags.length ? flags : ['domain'], text: p };
          break;
        }
        case 'nohz_full':
          if (value !== undefined) params.nohz_full = { cpus: parseBootCpuList(value, lastCpu), text: p };
          break;
        case 'rcu_nocbs':
          // A bare rcu_nocbs (or "all") offloads every CPU on recent kernels.
          params.rcu_nocbs = value === undefined || value === 'all' ? { cpus: 'all', text: p } : { cpus: parseBootCpuList(value, lastCpu), text: p };
          break;
        case 'irqaffinity':
          if (value !== undefined) params.irqaffinity = { cpus: parseBootCpuList(value, lastCpu), text: p };
          break;
      }
    } catch {
      // A typo the kernel would reject too; report it rather than guess.
      params.unparsed.push(p);
    }
  }
  return params;
}

const CONFIG_KEYS = ['NO_HZ_FULL', 'CPU_ISOLATION', 'DEBUG_INFO_BTF', 'BPF', 'BPF_SYSCALL', 'RCU_NOCB_CPU'] as const;

export interface KernelConfig {
  facts: KernelConfigFacts;
  /** the line each key came from, for evidence ("# CONFIG_NO_HZ_FULL is not set") */
  lines: Record<string, string>;
}

/** /proc/config.gz first (it is the running kernel's), then /boot/config-<release>. */
export function readKernelConfig(sys: SysRoot, release: string | null): KernelConfig {
  let text = sys.gunzip('proc/config.gz');
  let source: string | null = text === undefined ? null : sys.shown('proc/config.gz');
  if (text === undefined && release) {
    const rel = `boot/config-${release}`;
    text = sys.text(rel);
    if (text !== undefined) source = sys.shown(rel);
  }
  const facts: KernelConfigFacts = { source, NO_HZ_FULL: null, CPU_ISOLATION: null, DEBUG_INFO_BTF: null, BPF: null, BPF_SYSCALL: null, RCU_NOCB_CPU: null };
  const lines: Record<string, string> = {};
  if (text === undefined) return { facts, lines };
  const found = new Map<string, { value: string; line: string }>();
  for (const line of text.split('\n')) {
    let m = /^CONFIG_([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) found.set(m[1], { value: m[2].replace(/"/g, ''), line });
    m = /^# CONFIG_([A-Z0-9_]+) is not set$/.exec(line);
    if (m) found.set(m[1], { value: 'n', line });
  }
  for (const key of CONFIG_KEYS) {
    const f = found.get(key);
    // A readable config that does not mention an option means the option does not exist in that kernel: 'n'.
    facts[key] = f ? f.value : 'n';
    lines[key] = f ? f.line : `CONFIG_${key} absent`;
  }
  return { facts, lines };
}
