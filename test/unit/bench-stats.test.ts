// Pure helpers of the benchmarks (bench/lib): statistics over interleaved
// rounds, the RESULTS.md section writer, and stall coverage.
import { describe, expect, it } from 'vitest';
import { coverage, mergeIntervals } from '../../bench/lib/coverage.js';
import { replaceSection } from '../../bench/lib/results.js';
import { fmtSpread, median, mdTable, pairedDiffs, pct, quantile, summarize } from '../../bench/lib/stats.js';

describe('bench statistics', () => {
  it('quantiles interpolate between order statistics, whatever the input order', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.25)).toBe(20);
    expect(quantile([1, 2], 0.75)).toBe(1.75);
    expect(Number.isNaN(median([]))).toBe(true);
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
  });

  it('summarizes and formats a median with its interquartile range', () => {
    const s = summarize([100, 110, 120, 130, 500]);
    expect(s).toEqual({ n: 5, median: 120, min: 100, max: 500, p25: 110, p75: 130 });
    expect(fmtSpread(s)).toBe('120 (110–130)');
    expect(fmtSpread(summarize([1.234]), 2)).toBe('1.23');
    expect(fmtSpread(summarize([]))).toBe('n/a');
  });

  it('pairs rounds measured back to back', () => {
    expect(pairedDiffs([210, 190, 400], [170, 160, 380])).toEqual([40, 30, 20]);
    expect(() => pairedDiffs([1], [1, 2])).toThrow(RangeError);
  });

  it('percent change and markdown tables', () => {
    expect(pct(105, 100)).toBe('+5.0%');
    expect(pct(90, 100)).toBe('-10.0%');
    expect(pct(1, 0)).toBe('n/a');
    expect(mdTable(['a', 'b'], [[1, 'x']])).toBe('| a | b |\n| --- | --- |\n| 1 | x |');
  });
});

describe('RESULTS.md sections', () => {
  const doc = '# Results\n\nintro\n\n## Start-up\n\nold start-up\n\n## Memory\n\nold memory\n';

  it('replaces only its own section', () => {
    const out = replaceSection(doc, 'Start-up', 'new start-up\n| a |');
    expect(out).toBe('# Results\n\nintro\n\n## Start-up\n\nnew start-up\n| a |\n\n## Memory\n\nold memory\n');
  });

  it('replaces the last section and appends a missing one', () => {
    expect(replaceSection(doc, 'Memory', 'new memory')).toBe('# Results\n\nintro\n\n## Start-up\n\nold start-up\n\n## Memory\n\nnew memory\n');
    expect(replaceSection(doc, 'Observer effect', 'zero')).toBe(`${doc}\n## Observer effect\n\nzero\n`);
  });
});

describe('stall coverage', () => {
  it('merges overlapping and touching intervals', () => {
    expect(mergeIntervals([{ start: 5, end: 7 }, { start: 1, end: 3 }, { start: 3, end: 4 }, { start: 6, end: 9 }])).toEqual([
      { start: 1, end: 4 },
      { start: 5, end: 9 },
    ]);
  });

  it('counts covered gaps per length bucket and the covered time', () => {
    const gaps = [
      { start: 100, end: 110 }, // 10 ns, fully inside a record
      { start: 200, end: 300 }, // 100 ns, half covered by two records
      { start: 1000, end: 2000 }, // 1000 ns, no record
      { start: 5000, end: 5004 }, // 4 ns, a zero-length record inside
    ];
    const recs = [
      { start: 90, end: 120 },
      { start: 180, end: 220 },
      { start: 270, end: 300 },
      { start: 5002, end: 5002 },
    ];
    const c = coverage(gaps, recs, [0, 50, 500]);
    expect(c.buckets).toEqual([
      { minNs: 0, gaps: 4, covered: 3 },
      { minNs: 50, gaps: 2, covered: 1 },
      { minNs: 500, gaps: 1, covered: 0 },
    ]);
    expect(c.totalNs).toBe(1114);
    expect(c.coveredNs).toBe(10 + 20 + 30);
  });
});
