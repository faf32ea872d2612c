// Pure statistics for the benchmarks: medians and spreads over interleaved
// rounds. No I/O, unit-tested in test/unit/bench-stats.test.ts.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles (linear interpolation) */
  p25: number;
  p75: number;
}

/** Quantile q in [0, 1] of the values, linear interpolation between order statistics. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  if (q < 0 || q > 1) throw new RangeError(`quantile ${q} is outside [0, 1]`);
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN, p25: NaN, p75: NaN };
  return {
    n: values.length,
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
  };
}

/**
 * Paired differences: element i of `with` minus element i of `base`, for
 * rounds measured back to back (A B A B ...), so slow phases of a noisy
 * machine hit both sides of a pair alike.
 */
export function pairedDiffs(withValues: readonly number[], base: readonly number[]): number[] {
  if (withValues.length !== base.length) throw new RangeError(`paired series differ in length (${withValues.length} vs ${base.length})`);
  return withValues.map((v, i) => v - base[i]);
}

/** "123 (110–140)": median with the interquartile range, `digits` decimals. */
export function fmtSpread(s: Summary, digits = 0): string {
  if (s.n === 0) return 'n/a';
  const f = (v: number) => v.toFixed(digits);
  return s.n < 3 ? `${f(s.median)}` : `${f(s.median)} (${f(s.p25)}–${f(s.p75)})`;
}

/** Percent change of a over b, e.g. +4.2%. */
export function pct(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  const v = ((a - b) / b) * 100;
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
}

/** Markdown table from a header row and rows of cells. */
export function mdTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c)).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
