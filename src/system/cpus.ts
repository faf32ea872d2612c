// CPU lists: parsing/formatting the kernel's "0-3,8,10-11" syntax and reading
// the isolation masks from sysfs. Every read takes a root path so tests can
// point it at fixture trees.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export class CpuListError extends Error {}

/** Parses "0-3,8" into [0,1,2,3,8]. Throws CpuListError naming the bad part. */
export function parseCpuList(text: string): number[] {
  const out = new Set<number>();
  const trimmed = text.trim();
  if (trimmed === '') return [];
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new CpuListError(`bad CPU list element '${part}' in '${text}' (expected N or N-M, comma separated)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new CpuListError(`bad CPU range '${part}' in '${text}' (end before start)`);
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** Formats [0,1,2,3,8] as "0-3,8". */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function readList(root: string, rel: string): number[] {
  try {
    return parseCpuList(readFileSync(join(root, rel), 'utf8'));
  } catch {
    return [];
  }
}

export interface CpuTopology {
  online: number[];
  possible: number[];
  isolated: number[];
  nohzFull: number[];
}

export function readCpuTopology(root = '/'): CpuTopology {
  return {
    online: readList(root, 'sys/devices/system/cpu/online'),
    possible: readList(root, 'sys/devices/system/cpu/possible'),
    isolated: readList(root, 'sys/devices/system/cpu/isolated'),
    nohzFull: readList(root, 'sys/devices/system/cpu/nohz_full'),
  };
}

export interface WatchedCpus {
  cpus: number[];
  /** 'user': --cpus; 'pid': where the --pid tasks may run */
  reason: 'user' | 'pid' | 'isolated' | 'nohz_full' | 'isolated+nohz_full' | 'fallback-highest';
}

/**
 * The default watched set (DESIGN.md): isolated ∪ nohz_full; on a machine
 * with neither, the highest-numbered online CPU (said plainly by callers).
 */
export function defaultWatchedCpus(topo: CpuTopology): WatchedCpus {
  const iso = new Set(topo.isolated);
  const nohz = new Set(topo.nohzFull);
  const union = [...new Set([...iso, ...nohz])].sort((a, b) => a - b);
  if (union.length > 0) {
    const reason = iso.size && nohz.size ? 'isolated+nohz_full' : iso.size ? 'isolated' : 'nohz_full';
    return { cpus: union, reason };
  }
  const highest = topo.online.length ? Math.max(...topo.online) : 0;
  return { cpus: [highest], reason: 'fallback-highest' };
}

/** Online CPUs that are not watched: where isolwatch's own threads run. */
export function housekeepingCpus(topo: CpuTopology, watched: readonly number[]): number[] {
  const w = new Set(watched);
  return topo.online.filter((c) => !w.has(c));
}
