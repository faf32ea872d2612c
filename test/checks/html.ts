// Checks on the HTML report shared by the unit test (the document) and the
// browser test (what Chromium shows): what would make the page load anything,
// and the histogram bars a set of interruptions calls for, counted here
// independently of src/output/html.ts.
import type { InterruptionRecord } from '../../src/types.js';

/** What a page may not contain if it is to load nothing: no fetchable URL in any attribute, style or script. */
export function externalReferences(html: string): string[] {
  const found: string[] = [];
  const patterns = [
    /<link\b/gi,
    /<img\b/gi,
    /<iframe\b/gi,
    /<object\b/gi,
    /<embed\b/gi,
    /\bsrc\s*=/gi,
    /\bhref\s*=/gi,
    /@import/gi,
    /url\((?!#)/gi,
    /\bfetch\(/g,
    /XMLHttpRequest/g,
    /WebSocket/g,
    /\bimport\(/g,
    /https?:\/\//gi,
  ];
  for (const re of patterns) for (const m of html.matchAll(re)) found.push(m[0]);
  return found;
}

/** "class bucket" -> count: one histogram bar per class and 1-2-5 duration range that occurred. */
export function expectedBars(ints: readonly InterruptionRecord[]): Map<string, number> {
  const edges = [0];
  for (let p = 100; p <= 1e10; p *= 10) edges.push(p, 2 * p, 5 * p);
  const out = new Map<string, number>();
  for (const r of ints) {
    let b = edges.length - 1;
    while (edges[b] > r.duration_ns) b--;
    const k = `${r.class} ${b}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/** Text as the report escapes it (&, <, >, quotes as numeric references). */
export function escaped(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Text as a browser serializes it in the DOM (--dump-dom): &, <, > and no-break spaces as entities. */
export function domText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\u00a0/g, '&nbsp;');
}
