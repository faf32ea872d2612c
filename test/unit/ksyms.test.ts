// Kernel symbols asked of the kernel (src/system/ksyms.ts): the "%pS" text
// parsed as the kallsyms symbolizer names things, names looked up with their
// size, the whole table read only when the kernel cannot answer.
import { describe, expect, it } from 'vitest';
import { parseKallsyms } from '../../src/system/kallsyms.js';
import { KernelAskedSymbols, parsePercentPS, type SymbolSource } from '../../src/system/ksyms.js';

const TABLE = ['ffffffff81000000 T _stext', 'ffffffff8134afc0 t flush_tlb_func', 'ffffffff8134b320 T flush_tlb_mm_range', 'ffffffffc0001000 t vring_interrupt\t[virtio_ring]'].join('\n');

/** A kernel that answers like bpf_snprintf("%pS") and bpf_kallsyms_lookup_name over TABLE. */
function kernel(opts: { names?: boolean; symbols?: boolean } = {}): SymbolSource & { asked: number } {
  const t = parseKallsyms(TABLE);
  const src = {
    asked: 0,
    symbol(addr: bigint) {
      src.asked++;
      if (opts.symbols === false) return undefined;
      const name = t.lookup(addr)!;
      if (name.startsWith('0x')) return name;
      const [fn, off = '0x0'] = name.split('+');
      const size = t.find(fn)!.size || 0x80;
      return `${fn}+${off}/0x${size.toString(16)}${fn === 'vring_interrupt' ? ' [virtio_ring]' : ''}`;
    },
    address(name: string) {
      if (opts.names === false) return null;
      return t.find(name)?.addr;
    },
  };
  return src;
}

describe('parsePercentPS', () => {
  it('reads name, offset and size, with or without a module', () => {
    expect(parsePercentPS('flush_tlb_func+0x1c/0x360')).toEqual({ name: 'flush_tlb_func', off: 0x1cn, size: 0x360n });
    expect(parsePercentPS('vring_interrupt+0x0/0x80 [virtio_ring]')).toEqual({ name: 'vring_interrupt', off: 0n, size: 0x80n });
    expect(parsePercentPS('0xffffffff00001234')).toBeUndefined();
  });
});

describe('KernelAskedSymbols', () => {
  it('names an address as the kallsyms table does: exact start, +offset, hex where nothing is', () => {
    const k = kernel();
    const s = new KernelAskedSymbols(k, () => {
      throw new Error('must not read the table');
    });
    const t = parseKallsyms(TABLE);
    for (const a of [0xffffffff8134afc0n, 0xffffffff8134afdcn, 0xffffffffc0001000n, 0x1234n]) expect(s.lookup(a)).toBe(t.lookup(a));
    expect(s.lookup(0n)).toBeUndefined();
    // asked once per address, then cached; used() is what a recording keeps
    s.lookup(0xffffffff8134afdcn);
    expect(k.asked).toBe(4);
    expect(s.used()).toEqual({ '18446744071582298048': 'flush_tlb_func', '18446744071582298076': 'flush_tlb_func+0x1c', '18446744072635813888': 'vring_interrupt', '4660': '0x1234' });
  });

  it('finds a name with its size (up to the next symbol), without the table', () => {
    const s = new KernelAskedSymbols(kernel(), () => {
      throw new Error('must not read the table');
    });
    expect(s.find('flush_tlb_func')).toEqual({ addr: 0xffffffff8134afc0n, size: 0x360 });
    expect(s.find('no_such_function')).toBeUndefined();
  });

  it('reads the whole table once, only when the kernel cannot answer', () => {
    let reads = 0;
    const s = new KernelAskedSymbols(kernel({ names: false, symbols: false }), () => {
      reads++;
      return parseKallsyms(TABLE);
    });
    expect(s.find('flush_tlb_mm_range')?.addr).toBe(0xffffffff8134b320n);
    expect(s.lookup(0xffffffff8134afc4n)).toBe('flush_tlb_func+0x4');
    expect(reads).toBe(1);
    // a table that cannot be read: hex, never a throw
    const none = new KernelAskedSymbols(kernel({ names: false, symbols: false }), () => {
      throw new Error('kptr_restrict');
    });
    expect(none.lookup(0xffffffff8134afc4n)).toBe('0xffffffff8134afc4');
    expect(none.find('flush_tlb_func')).toBeUndefined();
  });
});
