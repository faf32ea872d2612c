// The kernel prints cpumasks two ways: lists ("0-3,8", cpus.ts) and hex masks
// in 32-bit groups, most significant first ("ffffffff,0000000f").
export function parseCpuMask(text: string): number[] {
  const groups = text.trim().split(',');
  const out: number[] = [];
  for (let g = 0; g < groups.length; g++) {
    const hex = groups[groups.length - 1 - g].trim();
    if (!/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`bad CPU mask group '${hex}' in '${text.trim()}' (expected hex digits in comma-separated 32-bit groups)`);
    // Groups may be longer than 8 digits in user-written masks (irqbalance); walk nibbles from the right.
    for (let n = 0; n < hex.length; n++) {
      const nibble = parseInt(hex[hex.length - 1 - n], 16);
      for (let b = 0; b < 4; b++) if (nibble & (1 << b)) out.push(g * 32 + n * 4 + b);
    }
  }
  return out.sort((a, b) => a - b);
}

export function intersect(a: readonly number[], b: readonly number[]): number[] {
  const s = new Set(b);
  return a.filter((x) => s.has(x));
}

export function minus(a: readonly number[], b: readonly number[]): number[] {
  const s = new Set(b);
  return a.filter((x) => !s.has(x));
}
