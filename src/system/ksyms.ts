// Kernel symbols asked of the kernel itself, one address at a time: the
// "%pS" text of a BPF program (bpf_snprintf) for address -> name, and
// bpf_kallsyms_lookup_name for name -> address (src/live/session.ts
// kernelSymbol/kernelAddress). Nothing reads or indexes /proc/kallsyms
// (120k lines, ~110 ms of kernel time to generate and tens of MB as JS
// strings) unless the kernel cannot answer: then it is read once, lazily.
import type { KernelSymbols } from './kallsyms.js';

export interface SymbolSource {
  /** "%pS" text: "func+0x1c/0x80" or "func+0x1c/0x80 [module]"; "0x..." when unknown; undefined when it cannot say */
  symbol(addr: bigint): string | undefined;
  /** the address of a name; undefined when absent; null when this kernel cannot look names up */
  address(name: string): bigint | undefined | null;
}

/** "func+0x1c/0x80 [mod]" -> name, offset and size; undefined for "0x..." (no symbol there). */
export function parsePercentPS(text: string): { name: string; off: bigint; size: bigint } | undefined {
  const m = /^([^\s+]+)\+0x([0-9a-f]+)\/0x([0-9a-f]+)(?: \[[^\]]+\])?$/.exec(text.trim());
  if (!m) return undefined;
  return { name: m[1], off: BigInt(`0x${m[2]}`), size: BigInt(`0x${m[3]}`) };
}

export class KernelAskedSymbols implements KernelSymbols {
  private readonly cache = new Map<bigint, string>();
  private fallbackTable?: KernelSymbols | null;

  constructor(
    private readonly source: SymbolSource,
    /** the whole table, read only when the kernel cannot answer (throws when it cannot be read either) */
    private readonly fallback: () => KernelSymbols,
  ) {}

  private table(): KernelSymbols | undefined {
    if (this.fallbackTable === undefined) {
      try {
        this.fallbackTable = this.fallback();
      } catch {
        this.fallbackTable = null;
      }
    }
    return this.fallbackTable ?? undefined;
  }

  lookup(addr: bigint): string | undefined {
    if (addr === 0n) return undefined;
    const hit = this.cache.get(addr);
    if (hit !== undefined) return hit;
    const text = this.source.symbol(addr);
    let name: string;
    if (text === undefined) name = this.table()?.lookup(addr) ?? `0x${addr.toString(16)}`;
    else {
      const s = parsePercentPS(text);
      name = !s ? `0x${addr.toString(16)}` : s.off === 0n ? s.name : `${s.name}+0x${s.off.toString(16)}`;
    }
    this.cache.set(addr, name);
    return name;
  }

  find(name: string): { addr: bigint; size: number } | undefined {
    const addr = this.source.address(name);
    if (addr === null) return this.table()?.find(name);
    if (addr === undefined) return undefined;
    const text = this.source.symbol(addr);
    const s = text === undefined ? undefined : parsePercentPS(text);
    if (!s) return this.table()?.find(name);
    return { addr, size: Number(s.size - s.off) };
  }

  used(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [a, n] of this.cache) out[a.toString()] = n;
    return out;
  }
}
