// Text helpers shared by the TUI views: durations, rates, sparklines, fixed
// columns, and the styled-line type the views return. Pure, no blessed.

/** How a piece of text is drawn. The app maps styles to blessed tags, or to nothing under NO_COLOR. */
export type Style =
  | 'plain'
  | 'title'
  | 'title-focused'
  | 'header'
  | 'selected'
  | 'violation'
  | 'dim'
  | 'warn'
  | 'good'
  | 'key';

export interface Segment {
  text: string;
  style?: Style;
}

/** One screen line: segments whose total text never exceeds the width it was laid out for. */
export type Line = Segment[];

export function lineText(line: Line): string {
  return line.map((s) => s.text).join('');
}

export function plain(text: string, style?: Style): Line {
  return [{ text, style }];
}

/** Truncates a styled line to `width` columns, padding with spaces when `pad` is set. */
export function fitLine(line: Line, width: number, pad = true): Line {
  const out: Line = [];
  let used = 0;
  for (const seg of line) {
    if (used >= width) break;
    const room = width - used;
    const text = seg.text.length > room ? seg.text.slice(0, room) : seg.text;
    if (text.length === 0) continue;
    out.push({ text, style: seg.style });
    used += text.length;
  }
  if (pad && used < width) {
    const last = out[out.length - 1];
    // Keep selection/title highlight across the whole row.
    const fill = last && (last.style === 'selected' || last.style === 'title-focused' || last.style === 'title');
    out.push({ text: ' '.repeat(width - used), style: fill ? last.style : undefined });
  }
  return out;
}

/** Pads or truncates to exactly `width` columns; truncation marks the cut with '~'. */
export function col(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? text.slice(0, 1) : text.slice(0, width - 1) + '~';
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

/** Durations are written as every report writes them (src/verdict/durations.ts): "812ns", "3.1us". */
export { formatDuration } from '../src/verdict/durations.js';

/** Compact count/rate: 0, 7, 12.5, 1.2k, 34k, 1.1M */
export function fmtRate(v: number): string {
  if (!Number.isFinite(v) || v <= 0) return '0';
  if (v < 10) return v.toFixed(1).replace(/\.0$/, '');
  if (v < 1000) return String(Math.round(v));
  if (v < 100_000) return `${(v / 1000).toFixed(v < 10_000 ? 1 : 0)}k`;
  return `${(v / 1_000_000).toFixed(1)}M`;
}

export function fmtCount(n: number): string {
  return n < 100_000 ? String(n) : fmtRate(n);
}

export function fmtPercent(fraction: number): string {
  if (!Number.isFinite(fraction) || fraction <= 0) return '0%';
  const p = fraction * 100;
  if (p < 0.001) return '<.001%';
  if (p < 0.1) return `${p.toFixed(3)}%`;
  if (p < 10) return `${p.toFixed(2)}%`;
  return `${p.toFixed(1)}%`;
}

/** mm:ss.t, or h:mm:ss past an hour. */
export function fmtElapsed(ns: number): string {
  const totalS = Math.max(0, ns) / 1e9;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${String(Math.floor(s)).padStart(2, '0')}`;
  return `${String(m).padStart(2, '0')}:${s.toFixed(1).padStart(4, '0')}`;
}

/** Event timestamp relative to the session start: "+12.345s". */
export function fmtRelTs(ns: number): string {
  return `+${(Math.max(0, ns) / 1e9).toFixed(3)}s`;
}

const SPARK = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** One character per value; a quiet second shows as '.' so it is not mistaken for missing data. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values
    .map((v) => {
      if (v <= 0 || max <= 0) return '.';
      const i = Math.min(SPARK.length - 1, Math.floor((v / max) * (SPARK.length - 1) + 0.5));
      return SPARK[Math.max(0, i)];
    })
    .join('');
}

/** "CPU list" formatting: [0,1,2,5] -> "0-2,5". */
export function cpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(i === j ? String(s[i]) : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',') || '-';
}

/** Drops "+0x8d/0x120" offsets: the function name is what a reader needs. */
export function symbolName(callsite: string): string {
  return callsite.replace(/\+0x[0-9a-f]+(\/0x[0-9a-f]+)?$/i, '');
}

/** Joins whole items with spaces up to `width`; a trailing '+' says some did not fit. */
export function joinFit(items: readonly string[], width: number): string {
  let out = '';
  for (let i = 0; i < items.length; i++) {
    const next = out ? `${out} ${items[i]}` : items[i];
    const reserve = i < items.length - 1 ? 2 : 0;
    if (next.length + reserve > width) return out ? `${out} +` : items[i].slice(0, Math.max(0, width - 1)) + '~';
    out = next;
  }
  return out;
}

/** Word-wraps a styled line to `width`; continuation lines are indented by `indent` spaces. */
export function wrapLine(line: Line, width: number, indent = 4): Line[] {
  const text = lineText(line);
  if (text.length <= width || width <= indent + 8) return [line];
  const style = line.find((s) => s.text.trim() !== '')?.style;
  const lead = /^\s*/.exec(text)?.[0].length ?? 0;
  const out: Line[] = [];
  let rest = text;
  let first = true;
  while (rest.length > 0) {
    const prefix = first ? '' : ' '.repeat(lead + indent);
    const room = width - prefix.length;
    let cut = rest.length <= room ? rest.length : rest.lastIndexOf(' ', room);
    if (cut <= 0) cut = Math.min(room, rest.length);
    out.push([{ text: prefix + rest.slice(0, cut), style }]);
    rest = rest.slice(cut).replace(/^ +/, '');
    first = false;
  }
  return out;
}
