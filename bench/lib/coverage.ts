// Stall coverage: which of the gaps a spinner saw (ground truth) overlap an
// interruption record in time, and how much of the gap time the records
// cover. Pure; unit-tested in test/unit/bench-stats.test.ts.

export interface Interval {
  start: number;
  end: number;
}

export interface Coverage {
  buckets: { minNs: number; gaps: number; covered: number }[];
  totalNs: number;
  coveredNs: number;
}

/** Sorted, merged union of intervals. */
export function mergeIntervals(list: readonly Interval[]): Interval[] {
  const s = [...list].filter((i) => i.end >= i.start).sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of s) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

/**
 * For each gap: covered when some record overlaps it (touching counts: a
 * zero-length record inside a gap, such as a page fault without an exit
 * event, covers it); covered time = overlap with the union of the records.
 * Buckets count the gaps at least minNs long (cumulative, as "> 10 us").
 */
export function coverage(gaps: readonly Interval[], records: readonly Interval[], bucketMinNs: number[]): Coverage {
  const u = mergeIntervals(records);
  const starts = u.map((i) => i.start);
  const buckets = bucketMinNs.map((minNs) => ({ minNs, gaps: 0, covered: 0 }));
  let totalNs = 0;
  let coveredNs = 0;
  for (const g of gaps) {
    // first union interval that ends at or after the gap's start
    let lo = 0;
    let hi = u.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u[mid].end < g.start) lo = mid + 1;
      else hi = mid;
    }
    let overlap = 0;
    let hit = false;
    for (let i = lo; i < u.length && starts[i] <= g.end; i++) {
      hit = true;
      overlap += Math.min(g.end, u[i].end) - Math.max(g.start, u[i].start);
    }
    const len = g.end - g.start;
    totalNs += len;
    coveredNs += overlap;
    for (const b of buckets) {
      if (len < b.minNs) continue;
      b.gaps++;
      if (hit) b.covered++;
    }
  }
  return { buckets, totalNs, coveredNs };
}
