// The one "did you mean": budgets, policies, CLI options and probe groups
// suggest the nearest known word the same way.

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/**
 * The nearest of `options` to `word` when it is close enough to be a typo
 * (a third of the word's length, at least two edits; a prefix of one option
 * counts too), else undefined.
 */
export function nearest(word: string, options: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(w, o.toLowerCase());
    if (d < bestD) [best, bestD] = [o, d];
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3))) return best;
  const prefixed = w.length >= 3 ? options.filter((o) => o.toLowerCase().startsWith(w)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** "; did you mean 'ipi'?" or "". */
export function didYouMean(word: string, options: readonly string[]): string {
  const n = nearest(word, options);
  return n === undefined ? '' : `; did you mean '${n}'?`;
}
