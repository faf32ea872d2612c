// Kernel address -> symbol, from /proc/kallsyms (read once, binary search).
// Recordings carry the symbols they reference, so replays symbolize the same
// way on another machine: see Symbolizer.fromTable.
import { readFileSync } from 'node:fs';

export interface Symbolizer {
  /** "func" for an exact start address, "func+0x1c" inside it; hex when unknown or 0. */
  lookup(addr: bigint): string | undefined;
  /** Every address looked up so far with its answer (what a recording stores). */
  used(): Record<string, string>;
}

/** A symbolizer over this kernel's own symbol table, which can also look names up. */
export interface KernelSymbols extends Symbolizer {
  /** A function's address and size (up to the next symbol); undefined when absent. */
  find(name: string): { addr: bigint; size: number } | undefined;
}

class SortedSymbols implements KernelSymbols {
  private cache = new Map<bigint, string>();
  constructor(private addrs: BigUint64Array, private names: string[]) {}

  find(name: string): { addr: bigint; size: number } | undefined {
    const i = this.names.indexOf(name);
    if (i < 0) return undefined;
    let j = i + 1;
    while (j < this.addrs.length && this.addrs[j] === this.addrs[i]) j++;
    return { addr: this.addrs[i], size: j < this.addrs.length ? Number(this.addrs[j] - this.addrs[i]) : 0 };
  }

  get size(): number {
    return this.addrs.length;
  }

  lookup(addr: bigint): string | undefined {
    if (addr === 0n) return undefined;
    const hit = this.cache.get(addr);
    if (hit !== undefined) return hit;
    let lo = 0;
    let hi = this.addrs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.addrs[mid] <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let name: string;
    if (found < 0) name = `0x${addr.toString(16)}`;
    else {
      const off = addr - this.addrs[found];
      // beyond 1 MiB from the nearest symbol it is not inside that symbol
      name = off === 0n ? this.names[found] : off < 0x100000n ? `${this.names[found]}+0x${off.toString(16)}` : `0x${addr.toString(16)}`;
    }
    this.cache.set(addr, name);
    return name;
  }

  used(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [a, n] of this.cache) out[a.toString()] = n;
    return out;
  }
}

class TableSymbols implements Symbolizer {
  constructor(private table: Record<string, string>) {}
  lookup(addr: bigint): string | undefined {
    if (addr === 0n) return undefined;
    return this.table[addr.toString()] ?? `0x${addr.toString(16)}`;
  }
  used(): Record<string, string> {
    return { ...this.table };
  }
}

/** Symbol names present in a kallsyms text (names are visible even when addresses are hidden). */
export function kallsymsHas(text: string, names: readonly string[]): string[] {
  // Lines are "<addr> <type> <name>[\t[module]]": the name follows a space and ends
  // at a tab, newline or the end of the text (indexOf keeps a 120k-line file fast).
  return names.filter((name) => {
    const needle = ` ${name}`;
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      const end = text.charCodeAt(at + needle.length);
      const lineStart = text.lastIndexOf('\n', at) + 1;
      const fields = text.slice(lineStart, at).split(' ');
      if (fields.length === 2 && (Number.isNaN(end) || end === 10 || end === 9 || end === 32)) return true;
    }
    return false;
  });
}

export class KallsymsError extends Error {}

/** Parses kallsyms text; text-section symbols only (functions). */
export function parseKallsyms(text: string): KernelSymbols & { readonly size: number } {
  const entries: [bigint, string][] = [];
  for (const line of text.split('\n')) {
    // "ffffffff81000000 T _stext" (+ " [module]")
    const sp1 = line.indexOf(' ');
    if (sp1 <= 0) continue;
    const type = line[sp1 + 1];
    if (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W') continue;
    const rest = line.slice(sp1 + 3);
    const tab = rest.indexOf('\t');
    const name = tab >= 0 ? rest.slice(0, tab) : rest;
    const addr = BigInt('0x' + line.slice(0, sp1));
    if (addr === 0n) continue;
    entries.push([addr, name]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return new SortedSymbols(BigUint64Array.from(entries.map((e) => e[0])), entries.map((e) => e[1]));
}

export function loadKallsyms(path = '/proc/kallsyms'): KernelSymbols {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KallsymsError(`cannot read ${path}: ${(e as Error).message}; kernel addresses will not be symbolized`);
  }
  const s = parseKallsyms(text);
  // with kptr_restrict every address reads 0 and no function symbol survives parsing
  if (s.size === 0) {
    throw new KallsymsError(
      `${path} shows no function addresses to this process (kernel.kptr_restrict, kernel.perf_event_paranoid): ` +
        'run as root, or grant CAP_SYSLOG, or set kernel.kptr_restrict=0 and kernel.perf_event_paranoid=1',
    );
  }
  return s;
}

export function symbolsFromTable(table: Record<string, string>): Symbolizer {
  return new TableSymbols(table);
}
